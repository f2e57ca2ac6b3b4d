"""ESO's kinds, read unchanged: ``ACRAccessToken`` and ``ExternalSecret``."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from ..errors import Location
from ..schedule import problem as schedule_problem
from ..schedule import window_warnings
from . import fates
from .auth import parse_auth
from .fields import (
    _FINALIZER,
    _GUID,
    _SECRET_KEY,
    _SUBDOMAIN,
    Doc,
    _check_template,
    _cloud,
    _duration,
    _metadata,
    _string_list,
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
    DECODING_STRATEGIES,
    DELETION_POLICIES,
    ESO_GENERATOR_GROUP,
    MERGE_POLICIES,
    MIN_REMAINING_ANNOTATION,
    OUR_ANNOTATION_PREFIX,
    REFRESH_POLICIES,
    TEMPLATE_KEYS,
    TEMPLATE_TARGETS,
    TOKEN_AUDIENCE_ANNOTATION,
    Generator,
    KubernetesTarget,
    Rewrite,
    SecretTemplate,
    ServicePrincipal,
    SyncWindow,
    SyncWindows,
    TemplateFrom,
)
from .rewrite import compile_go_regexp, rename


def parse_acr_access_token(doc: Doc, environ: Mapping[str, str]) -> Generator:
    """Validate an ESO ``ACRAccessToken`` document into a :class:`Generator`."""
    namespace, name = _metadata(doc, namespaced=True)
    doc.location = Location(doc.location.file, doc.location.document, ACR_KIND, namespace, name)
    if not doc.mapping("spec"):
        raise doc.error("spec", "is required (registry and auth at least)")
    check_fields(doc, ACR_KIND)
    cloud = _cloud(doc, "spec.environmentType", environ)
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
    sa = getattr(auth, "service_account", None)
    if sa is not None and sa.namespace != namespace:
        # ESO's generators/v1/acr/acr.go reads the ServiceAccount, and asks for its token, in the generator's
        # namespace whatever serviceAccountRef.namespace says; a token of another namespace's account is refused.
        raise doc.error("spec.auth.workloadIdentity.serviceAccountRef.namespace",
                        f"must be the generator's own namespace {namespace!r} or empty (ESO uses the generator's "
                        "namespace)")
    annotations = doc.mapping("metadata.annotations")
    audience = str(annotations.get(AUDIENCE_ANNOTATION, "acr")).strip().lower()
    if audience not in ("acr", "arm"):
        raise doc.error(f"metadata.annotations.{AUDIENCE_ANNOTATION}", "must be 'acr' or 'arm'")
    token_audience = str(annotations.get(TOKEN_AUDIENCE_ANNOTATION, "eso")).strip().lower()
    if token_audience not in ("eso", "cloud"):
        raise doc.error(f"metadata.annotations.{TOKEN_AUDIENCE_ANNOTATION}",
                        "must be 'eso' (api://AzureADTokenExchange "
                        "in every cloud) or 'cloud'")
    return Generator(
        namespace=namespace,
        name=name,
        registry=registry,
        auth=auth,
        cloud=cloud,
        tenant_id=tenant,
        scope=scope,
        audience=audience,
        token_audience=token_audience,
        location=doc.location,
    )


def _template(doc: Doc, path: str, keys: tuple[str, ...] = TEMPLATE_KEYS) -> SecretTemplate | None:
    """ESO's ``target.template``; its templates may use ``keys`` (the generator's, after any rewrite)."""
    if doc.get(path, dict) is None:
        return None
    doc.known_fields(path, ("type", "metadata", "data", "mergePolicy", "engineVersion", "templateFrom"))
    template_from = _template_from(doc, f"{path}.templateFrom", keys)
    engine = doc.string(f"{path}.engineVersion") or "v2"
    if engine != "v2":
        raise doc.error(f"{path}.engineVersion", "only engine v2 is supported (v1 is deprecated in ESO)")
    merge = doc.string(f"{path}.mergePolicy") or "Replace"
    if merge not in MERGE_POLICIES:
        raise doc.error(f"{path}.mergePolicy", f"must be one of {', '.join(MERGE_POLICIES)}")
    doc.known_fields(f"{path}.metadata", ("labels", "annotations", "finalizers"))
    labels = _string_map(doc, f"{path}.metadata.labels")
    annotations = _string_map(doc, f"{path}.metadata.annotations")
    finalizers = _string_list(doc, f"{path}.metadata.finalizers") if _in_version(
        doc, "ExternalSecret", "spec.target.template.metadata.finalizers") else ()
    for i, fin in enumerate(finalizers):
        if not _FINALIZER.fullmatch(fin):
            raise doc.error(f"{path}.metadata.finalizers[{i}]", f"{fin!r} is not a valid finalizer name "
                                                                "(a qualified name such as example.com/cleanup)")
    data = _string_map(doc, f"{path}.data") if doc.get(f"{path}.data", dict) is not None else None
    for section, items in (("metadata.labels", labels), ("metadata.annotations", annotations), ("data", data or ())):
        for k, v in items:
            if section == "data" and not _SECRET_KEY.fullmatch(k):
                raise doc.error(f"{path}.data.{k}", "is not a valid Secret data key")
            _check_template(doc, f"{path}.{section}.{k}", v, keys)
    secret_type = doc.string(f"{path}.type")
    if secret_type == "bootstrap.kubernetes.io/token":  # ESO's validatePrivilegedTemplate
        raise doc.error(f"{path}.type", f"template.type={secret_type!r} is not allowed (as in ESO)")
    if secret_type == "kubernetes.io/service-account-token" and any(t.target == "Annotations" for t in template_from):
        raise doc.error(f"{path}.templateFrom", "template.type='kubernetes.io/service-account-token' with "
                                                "templateFrom target='Annotations' is not allowed (as in ESO)")
    if secret_type == "kubernetes.io/service-account-token" and "kubernetes.io/service-account.name" in dict(
            annotations):
        raise doc.error(f"{path}.metadata.annotations", "template.type='kubernetes.io/service-account-token' with "
                                                        "annotation 'kubernetes.io/service-account.name' is not "
                                                        "allowed (as in ESO)")
    return SecretTemplate(type=secret_type, labels=labels, annotations=annotations, data=data,
                          merge_policy=merge, finalizers=finalizers, template_from=template_from)


MAX_LITERAL = 64 * 1024
"""Bytes of one ``templateFrom[].literal`` (ConfigMap and Secret sources are bounded at run time alike)."""


def _template_from(doc: Doc, path: str, keys: tuple[str, ...]) -> tuple[TemplateFrom, ...]:
    """``template.templateFrom``: sources as ESO's ``TemplateFrom``; a literal is parsed and checked now, a
    ConfigMap's or Secret's templates when a run reads them (in the target's namespace)."""
    items = doc.get(path, list) or []
    out = []
    for i, item in enumerate(items):
        ipath = f"{path}[{i}]"
        if not isinstance(item, dict):
            raise doc.error(ipath, "must be a mapping with configMap, secret or literal")
        sources = [k for k in ("configMap", "secret", "literal") if item.get(k) is not None]
        if len(sources) != 1:
            # ESO applies each of configMap, secret and literal an item has; one per item keeps the order plain.
            raise doc.error(ipath, "needs exactly one of configMap, secret or literal (give each its own item)")
        target = item.get("target") or "Data"
        if not isinstance(target, str) or target.lower() not in (t.lower() for t in TEMPLATE_TARGETS):
            # ESO's ValidateSecretTemplateFromTargets, for a Secret target
            raise doc.error(f"{ipath}.target", f"templateFrom target={target!r} is not allowed when targeting a "
                                               "Secret, must be one of \"Data\", \"Annotations\" or \"Labels\"")
        target = next(t for t in TEMPLATE_TARGETS if t.lower() == target.lower())
        decoding = item.get("valuesDecodingStrategy") or "None"
        if decoding not in DECODING_STRATEGIES:
            raise doc.error(f"{ipath}.valuesDecodingStrategy", f"must be one of {', '.join(DECODING_STRATEGIES)}")
        source = sources[0]
        if source == "literal":
            literal = item["literal"]
            if not isinstance(literal, str):
                raise doc.error(f"{ipath}.literal", "must be a string (a template rendering a YAML map)")
            if len(literal.encode()) > MAX_LITERAL:
                raise doc.error(f"{ipath}.literal", f"is larger than {MAX_LITERAL // 1024} KiB")
            _check_template(doc, f"{ipath}.literal", literal, keys)
            out.append(TemplateFrom("literal", literal=literal, target=target, decoding=decoding))
            continue
        ref = item[source]
        rpath = f"{ipath}.{source}"
        if not isinstance(ref, dict):
            raise doc.error(rpath, "must be a mapping with name and items")
        name = ref.get("name")
        if not isinstance(name, str) or not _SUBDOMAIN.fullmatch(name) or len(name) > 253:
            raise doc.error(f"{rpath}.name", "must be the name of a " + ("ConfigMap" if source == "configMap"
                                                                         else "Secret") + " (DNS subdomain)")
        refs = ref.get("items")
        if not isinstance(refs, list) or not refs:
            raise doc.error(f"{rpath}.items", "needs at least one item (key and templateAs)")
        pairs = []
        for j, entry in enumerate(refs):
            epath = f"{rpath}.items[{j}]"
            key = entry.get("key") if isinstance(entry, dict) else None
            if not isinstance(key, str) or not _SECRET_KEY.fullmatch(key) or len(key) > 253:
                raise doc.error(f"{epath}.key", "must be a key of the object (letters, digits, '-', '_', '.')")
            scope = entry.get("templateAs") or "Values"
            if scope not in ("Values", "KeysAndValues"):
                raise doc.error(f"{epath}.templateAs", "must be Values or KeysAndValues")
            pairs.append((key, str(scope)))
        out.append(TemplateFrom(source, name=name, items=tuple(pairs), target=target, decoding=decoding))
    return tuple(out)


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
    """An ESO ``ExternalSecret`` fed by an ACRAccessToken generator, or None (fed by a SecretStore).

    Every field has its fate (``eso_fates.yaml``, ``docs/eso-compatibility.md``): honoured here as ESO's
    controller does, or refused with the reason."""
    namespace, name = _metadata(doc, namespaced=True)
    doc.location = Location(doc.location.file, doc.location.document, "ExternalSecret", namespace, name)
    data_from = doc.get("spec.dataFrom", list) or []
    gens = []
    for i, item in enumerate(data_from):
        ref = _generator_ref(doc, f"spec.dataFrom[{i}]", item)
        if ref is not None:
            gens.append((i, ref))
    for i, ref in gens:  # ESO's API server refuses any other kind: a typo must not make it "not handled"
        kind = ref.get("kind")
        if not isinstance(kind, str) or kind not in GENERATOR_KINDS:
            field_path = f"spec.dataFrom[{i}].sourceRef.generatorRef.kind"
            close = difflib.get_close_matches(str(kind or ""), sorted(GENERATOR_KINDS), n=1, cutoff=0.6)
            extra = [k for k in ref if k not in ("apiVersion", "kind", "name")]
            if kind is None or kind == "":
                hint = f" (the reference has {', '.join(map(str, extra))}: a typo of kind?)" if extra else ""
                raise doc.error(field_path, f"is required: the generator's kind, e.g. {ACR_KIND}{hint}")
            hint = f"; did you mean {close[0]}?" if close else ""
            raise doc.error(field_path, f"{kind!r} is not a generator kind of ESO{hint}")
    acr = [(i, r) for i, r in gens if r.get("kind") == ACR_KIND]
    if not acr:
        return None
    check_fields(doc, "ExternalSecret")
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
    rewrites, key_names = _rewrites(doc, f"spec.dataFrom[{i}].rewrite", data_from[i].get("rewrite"))
    policy = doc.string("spec.target.creationPolicy") or "Owner"
    if policy not in CREATION_POLICIES:
        raise doc.error("spec.target.creationPolicy", f"must be one of {', '.join(CREATION_POLICIES)}")
    deletion = doc.string("spec.target.deletionPolicy") or "Retain"
    if deletion not in DELETION_POLICIES:
        raise doc.error("spec.target.deletionPolicy", f"must be one of {', '.join(DELETION_POLICIES)}")
    # ESO's validatePolicies (apis/externalsecrets/v1/externalsecret_validator.go), word for word.
    if deletion == "Delete" and policy in ("Merge", "None", "CreateOrMerge"):
        raise doc.error("spec.target.deletionPolicy", "deletionPolicy=Delete must not be used when the controller "
                                                      "doesn't own the secret. Please set creationPolicy=Owner")
    if deletion == "Merge" and policy == "None":
        raise doc.error("spec.target.deletionPolicy", "deletionPolicy=Merge must not be used with "
                                                      "creationPolicy=None. There is no Secret to merge with")
    annotations = doc.mapping("metadata.annotations")
    cluster = str(annotations.get(CLUSTER_ANNOTATION, "") or "default").strip()
    refresh = _duration(doc, "spec.refreshInterval", doc.mapping("spec").get("refreshInterval"))
    min_remaining = _duration(doc, f"metadata.annotations.{MIN_REMAINING_ANNOTATION}",
                              annotations.get(MIN_REMAINING_ANNOTATION))
    refresh_policy = doc.string("spec.refreshPolicy") or "Periodic"
    if refresh_policy not in REFRESH_POLICIES:
        raise doc.error("spec.refreshPolicy", f"must be one of {', '.join(REFRESH_POLICIES)}")
    # A field its version lacks was warned about as unknown (ESO's API server drops it): not honoured either.
    windows = _sync_windows(doc, "spec.syncWindows") if _in_version(doc, "ExternalSecret", "spec.syncWindows") else None
    if windows is not None and refresh_policy != "Periodic":
        doc.warn(f"spec.syncWindows applies to the Periodic refresh policy only (as in ESO); with {refresh_policy} "
                 "it has no effect")
    create_once = refresh_policy == "CreatedOnce" or refresh == timedelta(0)
    immutable = doc.get("spec.target.immutable", bool) is True
    if immutable and not create_once:
        raise doc.error("spec.target.immutable", "a rotating credential cannot live in an immutable Secret (ESO "
                                                 "stops refreshing it and the token lapses); use it only with "
                                                 "refreshPolicy: CreatedOnce or refreshInterval: 0")
    secret_name = doc.string("spec.target.name") or name
    if not _SUBDOMAIN.fullmatch(secret_name):
        raise doc.error("spec.target.name", f"{secret_name!r} is not a valid Secret name")
    keys = tuple(n for _, n in key_names) + tuple(k for k in TEMPLATE_KEYS if k not in ("username", "password"))
    template = _template(doc, "spec.target.template", keys)
    if template is not None and policy in ("Merge", "CreateOrMerge") and (
            template.labels or any(t.target == "Labels" for t in template.template_from)):
        doc.warn(f"spec.target.template: labels are not written with creationPolicy {policy} (a merging write "
                 "carries only its data keys and annotations, so an application's labels stay as they are)")
    if template is None:
        # ESO's setMetadata: with no template, the ExternalSecret's own labels and annotations go to the Secret.
        template = SecretTemplate(
            copied_labels=_string_map(doc, "metadata.labels"),
            copied_annotations=tuple((k, v) for k, v in _string_map(doc, "metadata.annotations")
                                     if not k.startswith(OUR_ANNOTATION_PREFIX)))
    return KubernetesTarget(
        source_kind="ExternalSecret",
        namespace=namespace,
        name=name,
        generator=f"{namespace}/{gen_name}",
        secret_name=secret_name,
        template=template,
        clusters=(cluster,),
        namespaces=(namespace,),
        creation_policy=policy,
        refresh_interval=refresh,
        min_remaining=min_remaining,
        rewrites=rewrites,
        key_names=key_names,
        refresh_policy=refresh_policy,
        sync_windows=windows,
        deletion_policy=deletion,
        immutable=immutable,
        location=doc.location,
    )


def check_fields(doc: Doc, kind: str, *, skip: str = "") -> None:
    """Apply the field fates to the whole document: unknown and ignored fields are warnings naming them (with
    the closest known field), refused ones an error with the reason. Then the parsers need not warn again.
    ``skip``: a subtree checked through the document it stands for (a ClusterExternalSecret's spec)."""
    version = str(doc.body.get("apiVersion", "")).rpartition("/")[2]
    for finding in fates.check_document(kind, version, doc.body, skip=skip):
        if finding.fate == "refused":
            raise doc.error(finding.path, finding.message)
        doc.warn(finding.message if finding.fate == "unknown" else f"{finding.path} {finding.message}")
    doc.schema_checked = True


GENERATOR_KINDS = frozenset((
    "ACRAccessToken", "BeyondtrustWorkloadCredentialsDynamicSecret", "ClusterGenerator", "CloudsmithAccessToken",
    "ECRAuthorizationToken", "Fake", "GCRAccessToken", "GithubAccessToken", "GitlabDeployToken", "QuayAccessToken",
    "Password", "SSHKey", "STSSessionToken", "UUID", "VaultDynamicSecret", "Webhook", "Grafana", "MFA"))
"""The kinds an ExternalSecret's ``generatorRef`` may name: ESO v2.9.0's ``GeneratorRef.Kind`` enum
(apis/externalsecrets/v1/externalsecret_types.go); its API server refuses any other."""


def _in_version(doc: Doc, kind: str, path: str) -> bool:
    """Whether the document's apiVersion of ``kind`` has ``path`` (v1beta1 lacks some of v1's fields)."""
    version = str(doc.body.get("apiVersion", "")).rpartition("/")[2]
    return version not in fates.crd_paths()[kind] or path in fates.known_paths(kind, version)


def _rewrites(doc: Doc, path: str, items: Any) -> tuple[tuple[Rewrite, ...], tuple[tuple[str, str], ...]]:
    """``dataFrom[i].rewrite`` (``items``) and the generator's key names after it."""
    if items is None:
        items = []
    if not isinstance(items, list):
        raise doc.error(path, f"must be a list, got {_type_word(type(items).__name__)}")
    out = []
    for i, item in enumerate(items):
        ipath = f"{path}[{i}]"
        if not isinstance(item, dict) or len([k for k in ("regexp", "transform", "merge") if item.get(k)]) != 1:
            raise doc.error(ipath, "needs exactly one of regexp or transform (as ESO's MinProperties=1, "
                                   "MaxProperties=1)")
        if item.get("regexp"):
            regexp = item["regexp"]
            source, target = (regexp.get("source"), regexp.get("target")) if isinstance(regexp, dict) else (None, None)
            if not isinstance(source, str) or not source:
                raise doc.error(f"{ipath}.regexp.source", "is required (a string)")
            if not isinstance(target, str):
                raise doc.error(f"{ipath}.regexp.target", "is required (a string; empty removes the match)")
            try:
                compile_go_regexp(source)
            except ValueError as exc:
                raise doc.error(f"{ipath}.regexp.source", str(exc)) from exc
            out.append(Rewrite(regexp_source=source, regexp_target=target))
        else:
            transform = item["transform"]
            template = transform.get("template") if isinstance(transform, dict) else None
            if not isinstance(template, str) or not template:
                raise doc.error(f"{ipath}.transform.template", "is required (a string)")
            from ..gotemplate import TemplateError, parse

            try:
                parse(template, name="transform")
            except TemplateError as exc:
                raise doc.error(f"{ipath}.transform.template", str(exc)) from exc
            out.append(Rewrite(transform=template))
    try:
        names = rename(out, ("username", "password"))
    except ValueError as exc:
        raise doc.error(path, str(exc)) from exc
    return tuple(out), tuple(names)


def _sync_windows(doc: Doc, path: str) -> SyncWindows | None:
    if doc.get(path, dict) is None:
        return None
    kind = doc.string(f"{path}.kind", required=True)
    if kind not in ("allow", "deny"):
        raise doc.error(f"{path}.kind", "must be allow or deny")
    items = doc.get(f"{path}.windows", list, required=True)
    if not items:
        raise doc.error(f"{path}.windows", "needs at least one window")
    windows = []
    for i, item in enumerate(items):
        ipath = f"{path}.windows[{i}]"
        if not isinstance(item, dict):
            raise doc.error(ipath, "must be a mapping with schedule and duration")
        schedule = item.get("schedule")
        if not isinstance(schedule, str) or not schedule.strip():
            raise doc.error(f"{ipath}.schedule", "is required (a string)")
        schedule = schedule.strip()
        problem = schedule_problem(schedule)
        if problem:
            raise doc.error(f"{ipath}.schedule", problem)
        duration = _duration(doc, f"{ipath}.duration", item.get("duration"))
        if duration is None:
            raise doc.error(f"{ipath}.duration", "is required")
        windows.append(SyncWindow(schedule, duration))
    result = SyncWindows(kind, tuple(windows))
    for warning in window_warnings(result):
        doc.warn(f"{path}: {warning}")
    return result


