"""ESO's kinds, read unchanged: ``ACRAccessToken`` and ``ExternalSecret``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..clouds import CloudError, cloud_for
from ..errors import Location
from .auth import parse_auth
from .fields import (
    _GUID,
    _SECRET_KEY,
    _SUBDOMAIN,
    Doc,
    _check_template,
    _duration,
    _metadata,
    _string_map,
    _type_word,
    check_registry,
    check_scope,
)
from .model import (
    ACR_KIND,
    AUDIENCE_ANNOTATION,
    CLUSTER_ANNOTATION,
    CREATION_POLICIES,
    ESO_GENERATOR_GROUP,
    MERGE_POLICIES,
    MIN_REMAINING_ANNOTATION,
    Generator,
    KubernetesTarget,
    SecretTemplate,
    ServicePrincipal,
)


def parse_acr_access_token(doc: Doc, environ: Mapping[str, str]) -> Generator:
    """Validate an ESO ``ACRAccessToken`` document into a :class:`Generator`."""
    namespace, name = _metadata(doc, namespaced=True)
    doc.location = Location(doc.location.file, doc.location.document, ACR_KIND, namespace, name)
    if not doc.mapping("spec"):
        raise doc.error("spec", "is required (registry and auth at least)")
    doc.known_fields("spec", ("registry", "tenantId", "scope", "environmentType", "auth"))
    try:
        cloud = cloud_for(doc.string("spec.environmentType") or None, environ=dict(environ))
    except CloudError as exc:
        raise doc.error("spec.environmentType", str(exc)) from exc
    registry = doc.string("spec.registry", required=True)
    problem = check_registry(registry, cloud)
    if problem:
        raise doc.error("spec.registry", f"{registry!r} {problem}")
    scope = doc.string("spec.scope")
    if scope:
        problem = check_scope(scope)
        if problem:
            raise doc.error("spec.scope", f"{scope!r}: {problem}")
    tenant = doc.string("spec.tenantId")
    if tenant and not _GUID.fullmatch(tenant) and not re.fullmatch(r"[a-z0-9.-]+", tenant):
        raise doc.error("spec.tenantId", "must be a tenant GUID or a verified domain name")
    auth = parse_auth(doc, "spec.auth", namespace)
    if isinstance(auth, ServicePrincipal) and not tenant:
        raise doc.error("spec.tenantId", "is required with auth.servicePrincipal")
    annotations = doc.mapping("metadata.annotations")
    audience = str(annotations.get(AUDIENCE_ANNOTATION, "acr")).strip().lower()
    if audience not in ("acr", "arm"):
        raise doc.error(f"metadata.annotations.{AUDIENCE_ANNOTATION}", "must be 'acr' or 'arm'")
    return Generator(
        namespace=namespace,
        name=name,
        registry=registry,
        auth=auth,
        cloud=cloud,
        tenant_id=tenant,
        scope=scope,
        audience=audience,
        location=doc.location,
    )


def _template(doc: Doc, path: str) -> SecretTemplate | None:
    if doc.get(path, dict) is None:
        return None
    doc.known_fields(path, ("type", "metadata", "data", "mergePolicy", "engineVersion", "templateFrom"))
    if doc.get(f"{path}.templateFrom", list):
        raise doc.error(f"{path}.templateFrom", "is not supported (templates from ConfigMaps/Secrets); inline data")
    engine = doc.string(f"{path}.engineVersion") or "v2"
    if engine != "v2":
        raise doc.error(f"{path}.engineVersion", "only engine v2 is supported (v1 is deprecated in ESO)")
    merge = doc.string(f"{path}.mergePolicy") or "Replace"
    if merge not in MERGE_POLICIES:
        raise doc.error(f"{path}.mergePolicy", f"must be one of {', '.join(MERGE_POLICIES)}")
    doc.known_fields(f"{path}.metadata", ("labels", "annotations"))
    labels = _string_map(doc, f"{path}.metadata.labels")
    annotations = _string_map(doc, f"{path}.metadata.annotations")
    data = _string_map(doc, f"{path}.data") if doc.get(f"{path}.data", dict) is not None else None
    for section, items in (("metadata.labels", labels), ("metadata.annotations", annotations), ("data", data or ())):
        for k, v in items:
            if section == "data" and not _SECRET_KEY.fullmatch(k):
                raise doc.error(f"{path}.data.{k}", "is not a valid Secret data key")
            _check_template(doc, f"{path}.{section}.{k}", v)
    return SecretTemplate(type=doc.string(f"{path}.type"), labels=labels, annotations=annotations, data=data,
                          merge_policy=merge)


def _generator_ref_name(doc: Doc, path: str) -> str:
    name = doc.string(f"{path}.name", required=True)
    if not _SUBDOMAIN.fullmatch(name):
        raise doc.error(f"{path}.name", f"{name!r} is not a valid name")
    return name


def _generator_ref(doc: Doc, path: str, item: Any) -> Mapping[str, Any] | None:
    """The ``sourceRef.generatorRef`` of one ``dataFrom`` item, or None when the item names none.

    A present but empty or mistyped ``sourceRef`` (or ``generatorRef``) is an error, not "no generator": the
    ExternalSecret would otherwise be listed as not handled and its Secret silently never written."""
    if not isinstance(item, dict):
        raise doc.error(path, f"must be a mapping, got {_type_word(type(item).__name__)}")
    if "sourceRef" not in item:
        return None
    source = item["sourceRef"]
    if not isinstance(source, dict) or not source:
        what = "is empty" if source in (None, {}) else f"must be a mapping, got {_type_word(type(source).__name__)}"
        raise doc.error(f"{path}.sourceRef", f"{what}; give generatorRef (kind ACRAccessToken) or storeRef")
    if "generatorRef" not in source:
        return None
    ref = source["generatorRef"]
    if not isinstance(ref, dict) or not ref:
        what = "is empty" if ref in (None, {}) else f"must be a mapping, got {_type_word(type(ref).__name__)}"
        raise doc.error(f"{path}.sourceRef.generatorRef", f"{what}; give apiVersion, kind and name")
    return ref


def parse_external_secret(doc: Doc) -> KubernetesTarget | None:
    """An ESO ``ExternalSecret`` fed by an ACRAccessToken generator, or None (fed by a SecretStore)."""
    namespace, name = _metadata(doc, namespaced=True)
    doc.location = Location(doc.location.file, doc.location.document, "ExternalSecret", namespace, name)
    data_from = doc.get("spec.dataFrom", list) or []
    gens = []
    for i, item in enumerate(data_from):
        ref = _generator_ref(doc, f"spec.dataFrom[{i}]", item)
        if ref is not None:
            gens.append((i, ref))
    acr = [(i, r) for i, r in gens if r.get("kind") == ACR_KIND]
    if not acr:
        return None
    if len(acr) > 1 or doc.get("spec.data", list) or len(data_from) > 1:
        raise doc.error("spec.dataFrom", "acr-refresh handles an ExternalSecret fed by exactly one ACRAccessToken "
                                         "generatorRef and nothing else")
    i, ref = acr[0]
    ref_path = f"spec.dataFrom[{i}].sourceRef.generatorRef"
    api = str(ref.get("apiVersion", ""))
    if api and api != f"{ESO_GENERATOR_GROUP}/v1alpha1":
        raise doc.error(f"{ref_path}.apiVersion", f"expected {ESO_GENERATOR_GROUP}/v1alpha1")
    gen_name = str(ref.get("name") or "").strip()
    if not gen_name:
        raise doc.error(f"{ref_path}.name", "is required")
    policy = doc.string("spec.target.creationPolicy") or "Owner"
    if policy not in CREATION_POLICIES:
        raise doc.error("spec.target.creationPolicy", f"must be one of {', '.join(CREATION_POLICIES)}")
    annotations = doc.mapping("metadata.annotations")
    cluster = str(annotations.get(CLUSTER_ANNOTATION, "") or "default").strip()
    refresh = _duration(doc, "spec.refreshInterval", doc.mapping("spec").get("refreshInterval"))
    min_remaining = _duration(doc, f"metadata.annotations.{MIN_REMAINING_ANNOTATION}",
                              annotations.get(MIN_REMAINING_ANNOTATION))
    secret_name = doc.string("spec.target.name") or name
    if not _SUBDOMAIN.fullmatch(secret_name):
        raise doc.error("spec.target.name", f"{secret_name!r} is not a valid Secret name")
    return KubernetesTarget(
        source_kind="ExternalSecret",
        namespace=namespace,
        name=name,
        generator=f"{namespace}/{gen_name}",
        secret_name=secret_name,
        template=_template(doc, "spec.target.template") or SecretTemplate(),
        clusters=(cluster,),
        namespaces=(namespace,),
        creation_policy=policy,
        refresh_interval=refresh,
        min_remaining=min_remaining,
        location=doc.location,
    )

