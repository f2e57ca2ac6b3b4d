"""ESO's cluster-scoped kinds, read unchanged: ``ClusterGenerator`` (``spec.kind: ACRAccessToken``) and
``ClusterExternalSecret``; and ``ExternalSecret``s whose generatorRef names a ``ClusterGenerator``.

Each is read by the namespaced parser it wraps (:func:`.eso.parse_acr_access_token`,
:func:`.eso.parse_external_secret`) on a synthetic document, as ESO itself turns them into namespaced objects:
a ClusterGenerator into a "virtual" ACRAccessToken in the consuming ExternalSecret's namespace
(``runtime/esutils/resolvers/generator.go``, ``clusterGeneratorToVirtual``), a ClusterExternalSecret into one
ExternalSecret per selected namespace (``pkg/controllers/clusterexternalsecret/clusterexternalsecret_controller.go``,
``createOrUpdateExternalSecret``). Errors and warnings name the field of the document the user wrote
(``spec.externalSecretSpec.target.name``, ``spec.generator.acrAccessTokenSpec.registry``).

A ClusterExternalSecret becomes one :class:`KubernetesTarget` fanned out like our ``KubernetesSecret``: its
``namespaces`` become selectors on ``kubernetes.io/metadata.name`` and join ``namespaceSelector`` and
``namespaceSelectors``, all ORed, exactly as ESO's ``esutils.GetTargetNamespaces`` does (so a listed namespace
that does not exist is skipped, not failed). Its generator is resolved in each namespace at run time.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from ..errors import ConfigError, Location
from .eso import check_fields, parse_acr_access_token, parse_external_secret
from .fields import _LABEL, _SUBDOMAIN, Doc, _duration, _metadata, _selector, _string_list, _string_map
from .model import (
    ACR_KIND,
    CLUSTER_GENERATOR_KIND,
    ESO_GENERATOR_GROUP,
    ClusterGenerator,
    Config,
    Generator,
    KubernetesTarget,
    LabelSelector,
    cluster_generator_key,
)

PLACEHOLDER_NAMESPACE = "default"
"""The namespace the wrapped parsers see; replaced by each consuming namespace."""
NAME_LABEL = "kubernetes.io/metadata.name"
"""The label every namespace carries with its own name: how ESO selects a ClusterExternalSecret's ``namespaces``."""
CES_KIND = "ClusterExternalSecret"
CES_FIELDS = ("externalSecretSpec", "externalSecretName", "externalSecretMetadata", "namespaceSelector",
              "namespaceSelectors", "namespaces", "refreshTime")
GENERATOR_SPECS = (
    "acrAccessTokenSpec", "beyondtrustWorkloadCredentialsDynamicSecretSpec", "cloudsmithAccessTokenSpec",
    "ecrAuthorizationTokenSpec", "fakeSpec", "gcrAccessTokenSpec", "githubAccessTokenSpec", "gitlabDeployTokenSpec",
    "quayAccessTokenSpec", "passwordSpec", "sshKeySpec", "stsSessionTokenSpec", "uuidSpec", "vaultDynamicSecretSpec",
    "webhookSpec", "grafanaSpec", "mfaSpec",
)
"""``GeneratorSpec``'s fields (``apis/generators/v1alpha1/types_cluster.go``)."""
_CONTROL_PREFIX = "acr-refresh/"


def _wrapped(doc: Doc, body: dict[str, Any], warnings: list[str]) -> Doc:
    sub = Doc(body, doc.location, warnings)
    if hasattr(doc, "schema_checked"):  # unknown fields already named against the CRD's schema
        sub.schema_checked = doc.schema_checked  # type: ignore[attr-defined]
    return sub


_SPEC = re.compile(r"(?<![\w./-])spec(?=[.\s\[]|$)")
"""A field path's leading ``spec`` (in a field or a message), to be moved under the wrapping document's."""


def _map_messages(doc: Doc, sub_warnings: list[str], synthetic: list[Location], prefix: str) -> None:
    """Move the wrapped parser's warnings to ``doc``: its location, and field paths under ``prefix``."""
    for w in sub_warnings:
        for loc in synthetic:
            w = w.replace(str(loc), str(doc.location))
        head, sep, message = w.partition(f"{doc.location}: ")
        doc.warnings.append(head + sep + _SPEC.sub(prefix, message) if sep else _SPEC.sub(prefix, w))


# ------------------------------------------------------------------------------------- ClusterGenerator


def parse_cluster_generator(doc: Doc, environ: Mapping[str, str]) -> ClusterGenerator | str:
    """A ``ClusterGenerator`` of kind ACRAccessToken, or the kind it has (not handled, like other kinds)."""
    _, name = _metadata(doc, namespaced=False)
    doc.location = Location(doc.location.file, doc.location.document, CLUSTER_GENERATOR_KIND, "", name)
    if doc.mapping("spec").get("kind") == ACR_KIND:  # ours: every field has its fate (another kind is ESO's)
        check_fields(doc, CLUSTER_GENERATOR_KIND, skip="spec.generator.acrAccessTokenSpec")
    doc.known_fields("spec", ("kind", "generator"))
    kind = doc.string("spec.kind", required=True)
    specs = doc.mapping("spec.generator", required=True)
    present = [k for k in specs if specs[k] is not None]
    doc.known_fields("spec.generator", GENERATOR_SPECS)
    if len(present) > 1:  # GeneratorSpec: +kubebuilder:validation:MaxProperties=1
        raise doc.error("spec.generator", f"must hold exactly one generator spec, got {', '.join(present)}")
    if kind != ACR_KIND:
        return kind
    if "acrAccessTokenSpec" not in present:
        raise doc.error("spec.generator.acrAccessTokenSpec", "is required with spec.kind ACRAccessToken (as in "
                                                             "ESO's clusterGeneratorToVirtual)")
    spec = copy.deepcopy(dict(doc.mapping("spec.generator.acrAccessTokenSpec")))
    _drop_ref_namespaces(doc, spec)
    meta = doc.mapping("metadata")
    body = {"apiVersion": f"{ESO_GENERATOR_GROUP}/v1alpha1", "kind": ACR_KIND,
            "metadata": {"name": name, "namespace": PLACEHOLDER_NAMESPACE,
                         **({"annotations": meta["annotations"]} if "annotations" in meta else {})},
            "spec": spec}
    warnings: list[str] = []
    sub = _wrapped(doc, body, warnings)
    prefix = "spec.generator.acrAccessTokenSpec"
    synthetic = [Location(doc.location.file, doc.location.document, ACR_KIND, PLACEHOLDER_NAMESPACE, name)]
    try:
        template = parse_acr_access_token(sub, environ)
    except ConfigError as exc:
        field = _SPEC.sub(prefix, exc.field or "") or None
        raise ConfigError(_SPEC.sub(prefix, exc.reason), location=doc.location, field=field) from exc
    finally:
        _map_messages(doc, warnings, synthetic, prefix)
    return ClusterGenerator(name=name, template=replace(template, location=doc.location), location=doc.location)


def _drop_ref_namespaces(doc: Doc, spec: dict[str, Any]) -> None:
    """ESO resolves a ClusterGenerator's secretRefs and ServiceAccount in the consuming ExternalSecret's
    namespace and ignores any ``namespace`` given (``generators/v1/acr/acr.go``: ``secretKeyRef`` and
    ``accessTokenForWorkloadIdentity`` take the ExternalSecret's namespace): so do we, with a warning."""
    auth = spec.get("auth")
    if not isinstance(auth, dict):
        return
    base = "spec.generator.acrAccessTokenSpec.auth"
    refs: list[tuple[str, Any]] = []
    sp = auth.get("servicePrincipal")
    if isinstance(sp, dict) and isinstance(sp.get("secretRef"), dict):
        refs += [(f"{base}.servicePrincipal.secretRef.{k}", v) for k, v in sp["secretRef"].items()]
    wi = auth.get("workloadIdentity")
    if isinstance(wi, dict):
        refs.append((f"{base}.workloadIdentity.serviceAccountRef", wi.get("serviceAccountRef")))
    for path, ref in refs:
        if isinstance(ref, dict) and ref.get("namespace") not in (None, ""):
            doc.warn(f"{path}.namespace is ignored: a ClusterGenerator's references are resolved in each "
                     "consuming ExternalSecret's namespace, as ESO does")
            del ref["namespace"]


# --------------------------------------------------------------------- ExternalSecret → ClusterGenerator


def _cluster_refs(spec: Any) -> tuple[Any, list[str]]:
    """``spec`` (deep-copied) with every ``dataFrom[].sourceRef.generatorRef`` of kind ClusterGenerator
    made an ACRAccessToken ref, for the wrapped parser, and the ClusterGenerator names so rewritten."""
    names: list[str] = []
    if not isinstance(spec, dict) or not isinstance(spec.get("dataFrom"), list):
        return spec, names
    out = copy.deepcopy(spec)
    for item in out["dataFrom"]:
        source = item.get("sourceRef") if isinstance(item, dict) else None
        ref = source.get("generatorRef") if isinstance(source, dict) else None
        if isinstance(ref, dict) and ref.get("kind") == CLUSTER_GENERATOR_KIND:
            ref["kind"] = ACR_KIND
            names.append(str(ref.get("name") or "").strip())
    return out, names


def parse_external_secret_any(doc: Doc) -> KubernetesTarget | None:
    """:func:`.eso.parse_external_secret`, also for an ExternalSecret fed by a ``ClusterGenerator``: its
    generator is that ClusterGenerator instantiated in the ExternalSecret's namespace
    (``ClusterGenerator/<name>@<namespace>``)."""
    spec, names = _cluster_refs(doc.body.get("spec"))
    if not names:
        return parse_external_secret(doc)
    sub = _wrapped(doc, {**doc.body, "spec": spec}, doc.warnings)
    try:
        target = parse_external_secret(sub)
    finally:
        doc.location = sub.location
    if target is None:
        return None
    return replace(target, generator=cluster_generator_key(names[0], target.namespace),
                   generator_ref_kind=CLUSTER_GENERATOR_KIND, generator_name=names[0])


# ---------------------------------------------------------------------------------- ClusterExternalSecret


def _selector_item(doc: Doc, path: str, item: Any) -> LabelSelector:
    if not isinstance(item, dict):
        raise doc.error(path, "must be a label selector (matchLabels and/or matchExpressions)")
    warnings: list[str] = []
    sub = Doc({"s": item}, doc.location, warnings)
    sub.schema_checked = doc.schema_checked  # its unknown fields are named once, by the fates
    try:
        selector = _selector(sub, "s")
    except ConfigError as exc:
        raise doc.error(re.sub(r"^s(?=\.|$)", path, exc.field or ""), exc.reason) from exc
    finally:
        doc.warnings.extend(w.replace(" s.", f" {path}.") for w in warnings)
    return selector or LabelSelector()


def parse_selectors(doc: Doc, single: str, many: str) -> tuple[LabelSelector, ...]:
    """``single`` (one selector) and ``many`` (a list of them), ORed: the one first, as ESO lists them."""
    out = []
    one = _selector(doc, single)
    if one is not None:
        out.append(one)
    for i, item in enumerate(doc.get(many, list) or []):
        out.append(_selector_item(doc, f"{many}[{i}]", item))
    return tuple(dict.fromkeys(out))


def _fed_by_our_generator(spec: Any) -> bool:
    """Whether an ExternalSecret spec names an ACRAccessToken or a ClusterGenerator in its dataFrom."""
    items = spec.get("dataFrom") if isinstance(spec, dict) else None
    for item in items if isinstance(items, list) else ():
        source = item.get("sourceRef") if isinstance(item, dict) else None
        ref = source.get("generatorRef") if isinstance(source, dict) else None
        if isinstance(ref, dict) and ref.get("kind") in (ACR_KIND, CLUSTER_GENERATOR_KIND):
            return True
    return False


def parse_cluster_external_secret(doc: Doc) -> KubernetesTarget | None:
    """A ``ClusterExternalSecret`` whose ExternalSecret is fed by an ACRAccessToken or a ClusterGenerator, as
    one fanned-out target; None when it is fed by a SecretStore or another generator (not handled)."""
    _, name = _metadata(doc, namespaced=False)
    doc.location = loc = Location(doc.location.file, doc.location.document, CES_KIND, "", name)
    if _fed_by_our_generator(doc.mapping("spec").get("externalSecretSpec")):
        check_fields(doc, CES_KIND, skip="spec.externalSecretSpec")  # ours: every field has its fate
    doc.known_fields("spec", CES_FIELDS)
    es_name = doc.string("spec.externalSecretName") or name
    if len(es_name) > 253 or not _SUBDOMAIN.fullmatch(es_name):
        raise doc.error("spec.externalSecretName", f"{es_name!r} is not a valid ExternalSecret name")
    doc.known_fields("spec.externalSecretMetadata", ("labels", "annotations"))
    labels = dict(_string_map(doc, "spec.externalSecretMetadata.labels"))
    annotations = dict(_string_map(doc, "spec.externalSecretMetadata.annotations"))
    # Our control annotations (cluster, min-remaining, audience) may sit on the ClusterExternalSecret itself.
    own = {k: v for k, v in _string_map(doc, "metadata.annotations") if k.startswith(_CONTROL_PREFIX)}
    namespaces = _string_list(doc, "spec.namespaces")
    for i, ns in enumerate(namespaces):
        if len(ns) > 63 or not _LABEL.fullmatch(ns):
            raise doc.error(f"spec.namespaces[{i}]", f"{ns!r} is not a valid namespace name")
    selectors = tuple(dict.fromkeys(
        [LabelSelector(match_labels=((NAME_LABEL, ns),)) for ns in namespaces]
        + list(parse_selectors(doc, "spec.namespaceSelector", "spec.namespaceSelectors"))))
    _duration(doc, "spec.refreshTime", doc.mapping("spec").get("refreshTime"))  # each run re-selects: honoured
    es_spec = doc.mapping("spec.externalSecretSpec", required=True)
    spec, names = _cluster_refs(dict(es_spec))
    body = {"apiVersion": doc.body.get("apiVersion"), "kind": "ExternalSecret",
            "metadata": {"name": es_name, "namespace": PLACEHOLDER_NAMESPACE, "labels": labels,
                         "annotations": {**annotations, **own}},
            "spec": spec}
    warnings: list[str] = []
    sub = _wrapped(doc, body, warnings)
    synthetic = [Location(loc.file, loc.document, "ExternalSecret", PLACEHOLDER_NAMESPACE, es_name)]

    def where(field: str) -> str:
        field = _SPEC.sub("spec.externalSecretSpec", field)
        if field == "metadata.name":
            return "spec.externalSecretName"
        if field.startswith("metadata.labels"):
            return "spec.externalSecretMetadata" + field[len("metadata"):]
        if field.startswith("metadata.annotations."):
            return field if field[len("metadata.annotations."):] in own else "spec.externalSecretMetadata" + \
                field[len("metadata"):]
        return field

    try:
        target = parse_external_secret(sub)
    except ConfigError as exc:
        raise ConfigError(_SPEC.sub("spec.externalSecretSpec", exc.reason), location=loc,
                          field=where(exc.field or "") or None) from exc
    finally:
        _map_messages(doc, warnings, synthetic, "spec.externalSecretSpec")
        doc.location = loc
    if target is None:
        return None
    gen_name = names[0] if names else target.generator.partition("/")[2]
    if not selectors:
        doc.warn("selects no namespace (no namespaces, namespaceSelector or namespaceSelectors): it writes nothing, "
                 "as in ESO")
    return replace(target, source_kind=CES_KIND, namespace="", name=name, generator="",
                   generator_ref_kind=CLUSTER_GENERATOR_KIND if names else ACR_KIND, generator_name=gen_name,
                   namespaces=(), selectors=selectors, location=loc)


def representatives(config: Config) -> dict[str, Generator]:
    """For each target resolved per namespace, keyed by the target's key, one generator it may use (the
    ClusterGenerator's, or an ACRAccessToken of that name in any namespace): what a trial render needs."""
    out: dict[str, Generator] = {}
    cluster_gens = {c.name: c for c in config.cluster_generators}
    for kt in config.kube_targets:
        if not kt.per_namespace:
            continue
        if kt.generator_ref_kind == CLUSTER_GENERATOR_KIND:
            out[kt.key] = cluster_gens[kt.generator_name].template
        else:
            same = [g for g in config.generators if g.name == kt.generator_name]
            if same:
                out[kt.key] = same[0]
    return out
