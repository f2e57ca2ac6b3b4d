"""Documents → a :class:`Config`: dispatch by kind, duplicates, cross-references, ``--strict``."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError, Location
from ..kinds import near_miss
from .cluster import (
    CES_KIND,
    parse_cluster_external_secret,
    parse_cluster_generator,
    parse_external_secret_any,
)
from .eso import parse_acr_access_token
from .fields import Doc
from .model import (
    ACR_KIND,
    CLUSTER_ANNOTATION,
    CLUSTER_GENERATOR_KIND,
    ESO_GENERATOR_GROUP,
    ESO_GROUP,
    OUR_API_VERSION,
    ClusterConfig,
    ClusterGenerator,
    Config,
    Generator,
    KeyVaultTarget,
    KubernetesTarget,
    Unhandled,
)
from .ours import parse_cluster, parse_key_vault_secret, parse_kubernetes_secret
from .reading import config_files, read_documents


@dataclass
class _Builder:
    generators: dict[str, Generator] = field(default_factory=dict)
    kube_targets: dict[str, KubernetesTarget] = field(default_factory=dict)
    vault_targets: dict[str, KeyVaultTarget] = field(default_factory=dict)
    clusters: dict[str, ClusterConfig] = field(default_factory=dict)
    cluster_generators: dict[str, ClusterGenerator] = field(default_factory=dict)
    other_cluster_generators: dict[str, tuple[str, Location]] = field(default_factory=dict)
    """ClusterGenerators of kinds acr-refresh does not handle: name -> (spec.kind, where)."""
    api_versions: dict[str, str] = field(default_factory=dict)
    """Target key -> the apiVersion of its document (to list it as not handled after all)."""
    unhandled: list[Unhandled] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


def load_config(
    path: str | os.PathLike[str], *, strict: bool = False, environ: Mapping[str, str] | None = None
) -> Config:
    """Read, parse and validate a config file or directory into a :class:`Config`.

    ``environ`` (default ``os.environ``) supplies ``AZURE_ENVIRONMENT_FILEPATH`` for Azure Stack.
    Cross-references (generatorRef, cluster names) are checked once everything is read.
    With ``strict``, the first warning is raised as a :class:`ConfigError` instead.
    """
    files = config_files(path)
    documents = ((file, index, body) for file in files for index, body in read_documents(file))
    return build_config(documents, files=[str(f) for f in files], strict=strict, environ=environ)


def build_config(
    documents: Iterable[tuple[Path, int, Any]], *, files: Iterable[str] = (), strict: bool = False,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Validate already-parsed documents, ``(file, 1-based index, body)`` each, into a :class:`Config`.

    What :func:`load_config` does once the files are read; bodies are what the YAML safe loader builds.
    """
    env = os.environ if environ is None else environ
    b = _Builder(files=list(files))
    for file, index, body in documents:
        _add_document(b, file, index, body, env)
    _resolve_cluster_generators(b)
    targets: list[KubernetesTarget | KeyVaultTarget] = [*b.kube_targets.values(), *b.vault_targets.values()]
    for target in targets:
        loc = target.location
        if isinstance(target, KubernetesTarget) and target.per_namespace:
            pass  # resolved in each namespace it expands to (a ClusterExternalSecret); see run.py
        elif target.generator not in b.generators:
            raise ConfigError(f"no ACRAccessToken {target.generator} in the config", location=loc,
                              field="spec.generatorRef.name" if target.key.startswith(("Kube", "KeyV"))
                              else "spec.dataFrom.sourceRef.generatorRef.name")
        if isinstance(target, KubernetesTarget):
            for cluster in target.clusters:
                if cluster != "default" and cluster not in b.clusters:
                    field_name = ("spec.clusters" if target.source_kind == "KubernetesSecret"
                                  else f"metadata.annotations.{CLUSTER_ANNOTATION}")
                    raise ConfigError(f"no Cluster named {cluster!r} in the config", location=loc, field=field_name)
    from ..overlap import check_static  # (overlap reads config's types)

    check_static(b.kube_targets.values())  # two targets, one Secret: refused unless they may share it
    if strict and b.warnings:
        raise ConfigError(f"{b.warnings[0]} (--strict turns warnings into errors)")
    return Config(
        generators=tuple(b.generators.values()),
        kube_targets=tuple(b.kube_targets.values()),
        vault_targets=tuple(b.vault_targets.values()),
        clusters=tuple(b.clusters.values()),
        cluster_generators=tuple(b.cluster_generators.values()),
        unhandled=tuple(b.unhandled),
        warnings=tuple(b.warnings),
        files=tuple(b.files),
    )


def _resolve_cluster_generators(b: _Builder) -> None:
    """Targets fed by a ClusterGenerator: an ExternalSecret's instance (``ClusterGenerator/<name>@<ns>``) joins
    the generators; one fed by a ClusterGenerator of another kind is not handled; a missing one is an error.
    A ClusterExternalSecret whose ACRAccessToken exists in no namespace of the config is warned about."""
    by_name = {g.name for g in b.generators.values()}
    for key, target in list(b.kube_targets.items()):
        ces = target.source_kind == CES_KIND
        ref = "spec.externalSecretSpec.dataFrom" if ces else "spec.dataFrom"
        if target.generator_ref_kind != CLUSTER_GENERATOR_KIND:
            if ces and target.generator_name not in by_name:
                b.warnings.append(f"{target.location}: no ACRAccessToken named {target.generator_name} in any "
                                  "namespace of the config: every namespace it selects will fail")
            continue
        name = target.generator_name
        if name in b.other_cluster_generators:
            del b.kube_targets[key]
            assert target.location is not None
            b.unhandled.append(Unhandled(target.location, b.api_versions.get(key, ""), target.source_kind,
                                         f"fed by ClusterGenerator {name} of kind "
                                         f"{b.other_cluster_generators[name][0]}, not an ACRAccessToken"))
            continue
        cg = b.cluster_generators.get(name)
        if cg is None:
            raise ConfigError(f"no ClusterGenerator {name} in the config", location=target.location,
                              field=f"{ref}.sourceRef.generatorRef.name")
        if not target.per_namespace:
            b.generators.setdefault(target.generator, cg.instantiate(target.namespace))


def _add_once(store: dict[str, Any], key: str, item: Any, doc: Doc, what: str) -> None:
    if key in store:
        raise doc.error("metadata.name", f"duplicate {what} (first defined at {store[key].location})")
    store[key] = item


def _add_document(b: _Builder, file: Path, index: int, body: Any, env: Mapping[str, str]) -> None:
    loc = Location(str(file), index)
    if not isinstance(body, dict):
        raise ConfigError(f"expected a mapping (a Kubernetes-style object), got {type(body).__name__}", location=loc)
    doc = Doc(body, loc, b.warnings)
    api_version = doc.string("apiVersion", required=True)
    kind = doc.string("kind", required=True)
    meta: dict[str, Any] = body["metadata"] if isinstance(body.get("metadata"), dict) else {}
    doc.location = Location(str(file), index, kind, str(meta.get("namespace") or ""), str(meta.get("name") or ""))
    group, _, version = api_version.rpartition("/")
    if api_version == f"{ESO_GENERATOR_GROUP}/v1alpha1" and kind == ACR_KIND:
        gen = parse_acr_access_token(doc, env)
        _add_once(b.generators, gen.key, gen, doc, f"{ACR_KIND} {gen.key}")
        return
    if api_version == f"{ESO_GENERATOR_GROUP}/v1alpha1" and kind == CLUSTER_GENERATOR_KIND:
        cg = parse_cluster_generator(doc, env)
        name = doc.location.name
        first = b.cluster_generators[name].location if name in b.cluster_generators else \
            b.other_cluster_generators[name][1] if name in b.other_cluster_generators else None
        if first is not None:
            raise doc.error("metadata.name", f"duplicate {kind} {name} (first defined at {first})")
        if isinstance(cg, str):
            b.other_cluster_generators[name] = (cg, doc.location)
            b.unhandled.append(Unhandled(doc.location, api_version, kind,
                                         f"ClusterGenerator of kind {cg} is not handled by acr-refresh"))
        else:
            b.cluster_generators[name] = cg
        return
    if group == ESO_GROUP and version in ("v1beta1", "v1") and kind in (CES_KIND, "ExternalSecret"):
        target = parse_cluster_external_secret(doc) if kind == CES_KIND else parse_external_secret_any(doc)
        if target is not None:
            what = f"{kind} {target.name}" if kind == CES_KIND else f"{kind} {target.namespace}/{target.name}"
            _add_once(b.kube_targets, target.key, target, doc, what)
            b.api_versions[target.key] = api_version
            return
        b.unhandled.append(Unhandled(doc.location, api_version, kind, "fed by a SecretStore or another generator, "
                                                                      "not an ACRAccessToken"))
        return
    if group == OUR_API_VERSION.split("/")[0]:
        if api_version != OUR_API_VERSION:
            raise doc.error("apiVersion", f"unknown version {api_version!r}; expected {OUR_API_VERSION}")
        if kind == "KubernetesSecret":
            kt = parse_kubernetes_secret(doc)
            _add_once(b.kube_targets, kt.key, kt, doc, f"KubernetesSecret {kt.namespace}/{kt.name}")
        elif kind == "KeyVaultSecret":
            vt = parse_key_vault_secret(doc, env)
            _add_once(b.vault_targets, vt.key, vt, doc, f"KeyVaultSecret {vt.namespace}/{vt.name}")
        elif kind == "Cluster":
            cl = parse_cluster(doc, env)
            _add_once(b.clusters, cl.name, cl, doc, f"Cluster {cl.name}")
        else:
            raise doc.error("kind", f"unknown kind {kind!r} in {OUR_API_VERSION} "
                                    "(known: Cluster, KeyVaultSecret, KubernetesSecret)")
        return
    miss = near_miss(api_version, kind)  # a typo in a group, version or kind must not drop a document
    if miss is not None:
        raise doc.error(*miss)
    reason = "not an acr-refresh or ACRAccessToken kind"
    if group == ESO_GENERATOR_GROUP:
        reason = f"generator kind {kind} is not handled by acr-refresh"
    elif group == ESO_GROUP:
        reason = f"{kind} is not handled by acr-refresh"
    b.unhandled.append(Unhandled(doc.location, api_version, kind, reason))
