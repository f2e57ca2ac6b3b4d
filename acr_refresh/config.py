"""Configuration files → typed, validated objects. No network: everything here is checked up front.

A configuration is a YAML or JSON file (possibly multi-document, or a ``kind: List``) or a directory of
``*.yaml``, ``*.yml`` and ``*.json`` files read in sorted order. Documents are Kubernetes-style objects:

- ``generators.external-secrets.io/v1alpha1`` ``ACRAccessToken``: ESO's generator, read unchanged;
- ``acr-refresh/v1alpha1``: our own kinds (an unknown kind there is an error: a typo must not do nothing);
- anything else is listed as *not handled* and does not fail the run.

Every error is a :class:`~acr_refresh.errors.ConfigError` naming the file, the document and the field.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from .clouds import PUBLIC, Cloud, CloudError, aks_server_problem, cloud_for
from .durations import parse_duration
from .errors import ConfigError, Location
from .kinds import near_miss
from .yamldocs import MAX_DEPTH, DuplicateKey, load_documents

ESO_GENERATOR_GROUP = "generators.external-secrets.io"
ESO_GROUP = "external-secrets.io"
OUR_API_VERSION = "acr-refresh/v1alpha1"
ACR_KIND = "ACRAccessToken"
AUDIENCE_ANNOTATION = "acr-refresh/entra-audience"
DEFAULT_NAMESPACE = "default"

MAX_FILE_BYTES = 4 * 1024 * 1024
CONFIG_SUFFIXES = (".yaml", ".yml", ".json")

# DNS-1123 subdomain (object names) and label (namespaces), as Kubernetes validates them.
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Docker distribution repository names: lowercase path components joined by '/'.
_REPO_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
_REPOSITORY = re.compile(rf"^{_REPO_COMPONENT}(?:/{_REPO_COMPONENT})*$")
SCOPE_ACTIONS = ("pull", "push", "delete", "metadata_read", "metadata_write")


# --------------------------------------------------------------------------------------------- model


@dataclass(frozen=True)
class SecretRef:
    """Where a credential input comes from: a key of a Kubernetes Secret, or an environment variable."""

    namespace: str = ""
    name: str = ""
    key: str = ""
    env: str = ""

    def describe(self) -> str:
        """A human description that names the source, never the value."""
        if self.env:
            return f"env {self.env}"
        return f"secret {self.namespace}/{self.name} key {self.key}"


@dataclass(frozen=True)
class ServicePrincipal:
    """``auth.servicePrincipal``: a client ID and secret, each read from a :class:`SecretRef`."""

    client_id: SecretRef
    client_secret: SecretRef
    kind: str = "servicePrincipal"


@dataclass(frozen=True)
class ManagedIdentity:
    """``auth.managedIdentity``: ``identity_id`` empty (system-assigned), a client ID, or a resource ID."""

    identity_id: str = ""
    kind: str = "managedIdentity"

    @property
    def client_id(self) -> str:
        """The user-assigned identity's client ID, or empty."""
        return self.identity_id if self.identity_id and "/" not in self.identity_id else ""

    @property
    def resource_id(self) -> str:
        """The user-assigned identity's ARM resource ID, or empty."""
        return self.identity_id if "/" in self.identity_id else ""


@dataclass(frozen=True)
class ServiceAccountRef:
    """A Kubernetes ServiceAccount whose token is exchanged (workload identity federation)."""

    namespace: str
    name: str
    audiences: tuple[str, ...] = ()


@dataclass(frozen=True)
class WorkloadIdentity:
    """``auth.workloadIdentity``: a ServiceAccount's token, or the ambient ``AZURE_FEDERATED_TOKEN_FILE``."""

    service_account: ServiceAccountRef | None = None
    kind: str = "workloadIdentity"


Auth = ServicePrincipal | ManagedIdentity | WorkloadIdentity


@dataclass(frozen=True)
class Generator:
    """One ``ACRAccessToken``: what to mint, for which registry, with which identity."""

    namespace: str
    name: str
    registry: str
    auth: Auth
    cloud: Cloud
    tenant_id: str = ""
    scope: str = ""
    audience: str = "acr"
    """``acr`` (the registry's own Entra audience, default) or ``arm`` (Resource Manager, as ESO)."""
    location: Location | None = field(default=None, compare=False)

    @property
    def key(self) -> str:
        """``namespace/name``: how the CLI, the report and the HTTP trigger name this generator."""
        return f"{self.namespace}/{self.name}"

    @property
    def token_type(self) -> str:
        """``access`` with a scope, else ``refresh``."""
        return "access" if self.scope else "refresh"

    @property
    def entra_scope(self) -> str:
        """The Entra ID scope requested for this generator's audience."""
        return self.cloud.arm_scope if self.audience == "arm" else self.cloud.acr_scope


@dataclass(frozen=True)
class Unhandled:
    """A document this build reads but does not act on, listed in the plan."""

    location: Location
    api_version: str
    kind: str
    reason: str


@dataclass(frozen=True)
class Config:
    """A whole validated configuration."""

    generators: tuple[Generator, ...] = ()
    kube_targets: tuple[KubernetesTarget, ...] = ()
    vault_targets: tuple[KeyVaultTarget, ...] = ()
    clusters: tuple[ClusterConfig, ...] = ()
    unhandled: tuple[Unhandled, ...] = ()
    warnings: tuple[str, ...] = ()
    files: tuple[str, ...] = ()

    def generator(self, key: str) -> Generator | None:
        """Look a generator up by ``namespace/name`` (a bare name means the ``default`` namespace)."""
        ns, _, name = key.rpartition("/")
        ns = ns or DEFAULT_NAMESPACE
        for g in self.generators:
            if g.namespace == ns and g.name == name:
                return g
        return None


# ------------------------------------------------------------------------------------------- reading


def config_files(path: str | os.PathLike[str]) -> list[Path]:
    """The files a ``--config`` path stands for: itself, or a directory's config files in sorted order."""
    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in CONFIG_SUFFIXES)
        if not files:
            raise ConfigError(f"{p}: directory holds no *.yaml, *.yml or *.json files")
        return files
    if not p.exists():
        raise ConfigError(f"{p}: no such file or directory")
    return [p]


def read_documents(path: Path) -> Iterator[tuple[int, Any]]:
    """Yield ``(1-based index, document)`` for each document of one file. ``kind: List`` is flattened."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if len(raw) > MAX_FILE_BYTES:
        raise ConfigError(f"{path}: file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not valid UTF-8 (byte offset {exc.start})") from exc
    docs: list[Any]
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text, object_pairs_hook=_unique_keys)
        except ValueError as exc:
            raise ConfigError(f"{path}: invalid JSON: {exc}") from exc
        except RecursionError as exc:
            raise ConfigError(f"{path}: invalid JSON: nesting too deep") from exc
        if _depth(data) > MAX_DEPTH:
            raise ConfigError(f"{path}: invalid JSON: nesting deeper than {MAX_DEPTH} levels")
        docs = data if isinstance(data, list) else [data]
    else:
        try:
            docs = load_documents(text)
        except DuplicateKey as exc:
            raise ConfigError(f"{exc} (a key may appear once in a mapping, as kubectl requires)",
                              location=Location(str(path), exc.document), field=exc.field) from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: invalid YAML: {_yaml_problem(exc)}") from exc
        except RecursionError as exc:
            raise ConfigError(f"{path}: invalid YAML: nesting too deep") from exc
    index = 0
    for doc in docs:
        if doc is None:  # an empty document between '---' separators
            continue
        index += 1
        if isinstance(doc, dict) and doc.get("kind") == "List" and isinstance(doc.get("items"), list):
            for item in doc["items"]:
                yield index, item
        else:
            yield index, doc


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object's members, refusing a repeated name (json's "the last one wins" hides the first)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r} in one object (a key may appear once, as kubectl requires)")
        out[key] = value
    return out


def _depth(value: Any, limit: int = MAX_DEPTH + 1) -> int:
    """Nesting depth of JSON data, counting no further than ``limit``."""
    stack = [(value, 1)]
    deepest = 0
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        if level > limit:
            break
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        stack.extend((c, level + 1) for c in children)
    return deepest


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if mark is not None:
        return f"{problem} (line {mark.line + 1}, column {mark.column + 1})"
    return str(problem)


# ---------------------------------------------------------------------------------------- validation


class Doc:
    """One document being validated: typed getters that raise ConfigErrors naming the field."""

    def __init__(self, body: Mapping[str, Any], location: Location, warnings: list[str]) -> None:
        self.body = body
        self.location = location
        self.warnings = warnings

    def error(self, field_path: str, message: str) -> ConfigError:
        return ConfigError(message, location=self.location, field=field_path)

    def warn(self, message: str) -> None:
        self.warnings.append(f"{self.location}: {message}")

    def get(self, field_path: str, kind: type | tuple[type, ...], *, required: bool = False) -> Any:
        """Read a dotted path. Missing → None (or an error when required); wrong type → error."""
        node: Any = self.body
        for part in field_path.split("."):
            if not isinstance(node, Mapping) or part not in node or node[part] is None:
                if required:
                    raise self.error(field_path, "is required")
                return None
            node = node[part]
        if not isinstance(node, kind) or (isinstance(node, bool) and kind in (int, float)):
            names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise self.error(field_path, f"must be a {_type_word(names)}, got {_type_word(type(node).__name__)}")
        return node

    def string(self, field_path: str, *, required: bool = False) -> str:
        value = self.get(field_path, str, required=required)
        return value.strip() if value is not None else ""

    def mapping(self, field_path: str, *, required: bool = False) -> Mapping[str, Any]:
        value = self.get(field_path, dict, required=required)
        return value if value is not None else {}

    def known_fields(self, field_path: str, allowed: Iterable[str]) -> None:
        """Warn about fields this build does not know (Kubernetes would prune them; a typo is likelier)."""
        node = self.mapping(field_path) if field_path else self.body
        allowed_set = set(allowed)
        for key in node:
            if key not in allowed_set:
                where = f"{field_path}.{key}" if field_path else str(key)
                self.warn(f"unknown field {where} is ignored")


def _type_word(name: str) -> str:
    return {"str": "string", "dict": "mapping", "list": "list", "int": "integer", "bool": "boolean"}.get(
        name, name
    ).replace("NoneType", "null")


def check_registry(host: str, cloud: Cloud) -> str | None:
    """Why ``host`` is not a login server of ``cloud``'s registries, or None when it is.

    The registry host is where the Entra ID token is sent, so anything but a plain lowercase DNS name under
    the cloud's suffix is refused: URLs, paths, ports, userinfo, IP literals, trailing dots, uppercase,
    non-ASCII look-alikes, and the ``.data.`` blob endpoints.
    """
    if any(c.isspace() or not c.isprintable() for c in host):
        return "must not contain whitespace or control characters"
    if "://" in host:
        return "must be a bare login-server host such as myregistry.azurecr.io, not a URL"
    if "@" in host:
        return "must not contain userinfo ('@')"
    if "/" in host:
        return "must be a bare host without a path"
    if ":" in host:
        return "must not contain a port"
    if not host.isascii():
        return "must be plain ASCII DNS (non-ASCII look-alike characters are refused)"
    if host != host.lower():
        return "must be lowercase"
    if host.endswith("."):
        return "must not end with a dot"
    if len(host) > 253 or not all(_DNS_LABEL.fullmatch(label) for label in host.split(".")):
        return "is not a valid DNS name"
    suffix = "." + cloud.registry_suffix
    if not host.endswith(suffix):
        return f"must end in {suffix} for environmentType {cloud.name}"
    labels = host[: -len(suffix)].split(".")
    if "data" in labels:
        return "is a registry data (blob) endpoint; use the login server instead"
    if len(labels) == 1 or (len(labels) == 3 and labels[2] == "geo"):
        return None
    return f"must be <name>{suffix} or a regional <name>.<region>.geo{suffix} endpoint"


def check_scope(scope: str) -> str | None:
    """Why ``scope`` is not one repository scope ``repository:<name>:<actions>``, or None when it is."""
    if any(c.isspace() for c in scope):
        return "must name exactly one repository scope (no spaces)"
    if "*" in scope:
        return "wildcard scopes are not allowed; name one repository"
    parts = scope.split(":")
    if len(parts) != 3:
        return "must look like repository:<name>:<actions>, e.g. repository:team/app:pull"
    resource, name, actions = parts
    if resource != "repository":
        return f"resource type must be 'repository', got {resource!r}"
    if not _REPOSITORY.fullmatch(name) or len(name) > 255:
        return f"repository name {name!r} must be lowercase path components (a-z, 0-9, '.', '_', '-', '/')"
    acts = actions.split(",")
    bad = [a for a in acts if a not in SCOPE_ACTIONS]
    if not actions or bad:
        return f"actions must be a comma-separated subset of {', '.join(SCOPE_ACTIONS)}"
    if len(set(acts)) != len(acts):
        return "actions must not repeat"
    return None


def _metadata(doc: Doc, *, namespaced: bool) -> tuple[str, str]:
    name = doc.string("metadata.name", required=True)
    if len(name) > 253 or not _SUBDOMAIN.fullmatch(name):
        raise doc.error("metadata.name", f"{name!r} is not a valid Kubernetes name (lowercase DNS subdomain)")
    ns = doc.string("metadata.namespace")
    if not namespaced:
        if ns:
            raise doc.error("metadata.namespace", "this kind is cluster-scoped and takes no namespace")
        return "", name
    ns = ns or DEFAULT_NAMESPACE
    if len(ns) > 63 or not _LABEL.fullmatch(ns):
        raise doc.error("metadata.namespace", f"{ns!r} is not a valid namespace name")
    return ns, name


def _secret_ref(doc: Doc, path: str, namespace: str) -> SecretRef:
    ref = doc.mapping(path, required=True)
    doc.known_fields(path, ("name", "key", "namespace", "env"))
    env = doc.string(f"{path}.env")
    if env:
        if not _ENV_NAME.fullmatch(env):
            raise doc.error(f"{path}.env", f"{env!r} is not a valid environment variable name")
        if ref.get("name") or ref.get("key"):
            raise doc.error(path, "give either env or name/key, not both")
        return SecretRef(env=env)
    name = doc.string(f"{path}.name", required=True)
    key = doc.string(f"{path}.key", required=True)
    ref_ns = doc.string(f"{path}.namespace")
    if ref_ns and ref_ns != namespace:
        # ESO refuses cross-namespace references from namespaced objects; so do we.
        raise doc.error(f"{path}.namespace", f"must be the generator's own namespace {namespace!r} or empty")
    return SecretRef(namespace=namespace, name=name, key=key)


def parse_auth(doc: Doc, path: str, namespace: str) -> Auth:
    """Parse an ESO ``auth`` block. With several blocks the first of servicePrincipal, managedIdentity,
    workloadIdentity wins, as in ESO, and a warning names the ignored ones."""
    auth = doc.mapping(path, required=True)
    order = ("servicePrincipal", "managedIdentity", "workloadIdentity")
    present = [k for k in order if k in auth and auth[k] is not None]
    unknown = [k for k in auth if k not in order]
    if unknown:
        raise doc.error(f"{path}.{unknown[0]}", f"unknown auth block; expected one of {', '.join(order)}")
    if not present:
        raise doc.error(path, f"needs one of {', '.join(order)}")
    chosen = present[0]
    if len(present) > 1:
        doc.warn(f"{path} has {', '.join(present)}; using {chosen} as ESO does, ignoring {', '.join(present[1:])}")
    base = f"{path}.{chosen}"
    doc.mapping(base)  # type check: each block is a mapping (an empty one is allowed for workloadIdentity)
    if chosen == "servicePrincipal":
        doc.known_fields(base, ("secretRef",))
        doc.known_fields(f"{base}.secretRef", ("clientId", "clientSecret"))
        return ServicePrincipal(
            client_id=_secret_ref(doc, f"{base}.secretRef.clientId", namespace),
            client_secret=_secret_ref(doc, f"{base}.secretRef.clientSecret", namespace),
        )
    if chosen == "managedIdentity":
        doc.known_fields(base, ("identityId",))
        identity_id = doc.string(f"{base}.identityId")
        if identity_id and "/" not in identity_id and not _GUID.fullmatch(identity_id):
            raise doc.error(f"{base}.identityId", "must be empty, a client ID (GUID) or a resource ID")
        if "/" in identity_id and not identity_id.lower().startswith("/subscriptions/"):
            raise doc.error(f"{base}.identityId", "a resource ID must start with /subscriptions/")
        return ManagedIdentity(identity_id=identity_id)
    doc.known_fields(base, ("serviceAccountRef",))
    sa = doc.mapping(f"{base}.serviceAccountRef")
    if not sa:
        return WorkloadIdentity()
    sa_path = f"{base}.serviceAccountRef"
    doc.known_fields(sa_path, ("name", "namespace", "audiences"))
    sa_name = doc.string(f"{sa_path}.name", required=True)
    if not _SUBDOMAIN.fullmatch(sa_name):
        raise doc.error(f"{sa_path}.name", f"{sa_name!r} is not a valid ServiceAccount name")
    sa_ns = doc.string(f"{sa_path}.namespace") or namespace
    audiences = doc.get(f"{sa_path}.audiences", list) or []
    if not all(isinstance(a, str) and a.strip() for a in audiences):
        raise doc.error(f"{sa_path}.audiences", "must be a list of non-empty strings")
    return WorkloadIdentity(ServiceAccountRef(sa_ns, sa_name, tuple(a.strip() for a in audiences)))


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


# ------------------------------------------------------------------------------------ delivery kinds

TEMPLATE_KEYS = ("username", "password", "registry", "tokenType", "expiresAt")
CREATION_POLICIES = ("Owner", "Orphan", "Merge", "None")
MERGING_CREATION_POLICIES = ("Merge", "CreateOrMerge")
"""Policies that write into a Secret they share: only their own keys, never labels, never deleted."""
MERGE_POLICIES = ("Replace", "Merge")
CLUSTER_ANNOTATION = "acr-refresh/cluster"
MIN_REMAINING_ANNOTATION = "acr-refresh/min-remaining"
DOCKERCONFIGJSON = "kubernetes.io/dockerconfigjson"
_KV_SECRET_NAME = re.compile(r"^[0-9A-Za-z-]{1,127}$")
_KV_VAULT_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,22}[a-z0-9]$")
_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_SELECTOR_OPS = ("In", "NotIn", "Exists", "DoesNotExist")


@dataclass(frozen=True)
class LabelSelector:
    """A Kubernetes label selector (``matchLabels`` and ``matchExpressions``)."""

    match_labels: tuple[tuple[str, str], ...] = ()
    match_expressions: tuple[tuple[str, str, tuple[str, ...]], ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """True when ``labels`` satisfy every requirement."""
        for key, value in self.match_labels:
            if labels.get(key) != value:
                return False
        for key, op, values in self.match_expressions:
            present = key in labels
            if op == "In" and (not present or labels[key] not in values):
                return False
            if op == "NotIn" and present and labels[key] in values:
                return False
            if op == "Exists" and not present:
                return False
            if op == "DoesNotExist" and present:
                return False
        return True

    def to_query(self) -> str:
        """The ``labelSelector`` query string the API server understands."""
        parts = [f"{k}={v}" for k, v in self.match_labels]
        for key, op, values in self.match_expressions:
            if op in ("In", "NotIn"):
                parts.append(f"{key} {op.lower()} ({','.join(values)})")
            elif op == "Exists":
                parts.append(key)
            else:
                parts.append(f"!{key}")
        return ",".join(parts)


@dataclass(frozen=True)
class SecretTemplate:
    """ESO's ``target.template`` (engine v2): Secret type, templated metadata and data."""

    type: str = ""
    labels: tuple[tuple[str, str], ...] = ()
    annotations: tuple[tuple[str, str], ...] = ()
    data: tuple[tuple[str, str], ...] | None = None
    """Templated data keys; None means the generator's ``username`` and ``password`` (or, for the
    dockerconfigjson type, a ``.dockerconfigjson`` for the registry)."""
    merge_policy: str = "Replace"


@dataclass(frozen=True)
class KubernetesTarget:
    """Where Kubernetes Secrets go: from an ESO ``ExternalSecret`` or our ``KubernetesSecret``."""

    source_kind: str
    """``ExternalSecret`` or ``KubernetesSecret``: the config object this came from."""
    namespace: str
    name: str
    generator: str
    """The generator's ``namespace/name``."""
    secret_name: str
    template: SecretTemplate
    clusters: tuple[str, ...] = ("default",)
    namespaces: tuple[str, ...] = ()
    selector: LabelSelector | None = None
    exclude_namespaces: tuple[str, ...] = ()
    creation_policy: str = "Owner"
    refresh_interval: timedelta | None = None
    """ESO's ``refreshInterval`` as a maximum age; ``timedelta(0)`` means create once, never refresh."""
    min_remaining: timedelta | None = None
    service_accounts: tuple[str, ...] = ()
    location: Location | None = field(default=None, compare=False)

    @property
    def key(self) -> str:
        return f"{self.source_kind}/{self.namespace}/{self.name}"


@dataclass(frozen=True)
class KeyVaultTarget:
    """Our ``KeyVaultSecret``: one Key Vault secret fed by a generator."""

    namespace: str
    name: str
    generator: str
    vault_url: str
    secret_name: str
    value: str = "{{ .password }}"
    content_type: str = ""
    tags: tuple[tuple[str, str], ...] = ()
    tenant_id: str = ""
    cloud: Cloud = PUBLIC
    auth: Auth | None = None
    """None: the ambient identity (managed identity on Azure, workload identity in AKS, developer login)."""
    min_remaining: timedelta | None = None
    location: Location | None = field(default=None, compare=False)

    @property
    def key(self) -> str:
        return f"KeyVaultSecret/{self.namespace}/{self.name}"

    @property
    def vault_host(self) -> str:
        return self.vault_url.split("://", 1)[-1].rstrip("/")


@dataclass(frozen=True)
class AksAccess:
    """``Cluster.spec.aks``: an AKS API server reached with an Entra ID token for the AKS server app."""

    server: str
    certificate_authority_data: str = field(repr=False)
    tenant_id: str
    cloud: Cloud
    auth: Auth
    allow_custom_server: bool = False
    """``spec.aks.allowCustomServer``: the server may be any https URL, not only the cloud's AKS domains."""


@dataclass(frozen=True)
class ClusterConfig:
    """Our cluster-scoped ``Cluster``: a named connection to a Kubernetes API."""

    name: str
    in_cluster: bool = False
    kubeconfig: str = ""
    context: str = ""
    aks: AksAccess | None = None
    location: Location | None = field(default=None, compare=False)


def _string_map(doc: Doc, path: str) -> tuple[tuple[str, str], ...]:
    m = doc.mapping(path)
    out = []
    for k, v in m.items():
        if not isinstance(v, str | int | float | bool):
            raise doc.error(f"{path}.{k}", "must be a string")
        out.append((str(k), v if isinstance(v, str) else json.dumps(v)))
    return tuple(out)


def _string_list(doc: Doc, path: str) -> tuple[str, ...]:
    value = doc.get(path, list) or []
    if not all(isinstance(v, str) and v.strip() for v in value):
        raise doc.error(path, "must be a list of non-empty strings")
    return tuple(v.strip() for v in value)


def _check_template(doc: Doc, path: str, source: str) -> None:
    """Parse a template and check its top-level keys now, so typos fail before any token is minted."""
    from .gotemplate import TemplateError, parse

    try:
        parse(source, name=path.rsplit(".", 1)[-1] or path).check(TEMPLATE_KEYS)
    except TemplateError as exc:
        raise doc.error(path, str(exc)) from exc


def _duration(doc: Doc, path: str, value: Any) -> timedelta | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):  # a bare 0 is as good as "0"
        raise doc.error(path, f"must be a duration string such as '1h', got {_type_word(type(value).__name__)}")
    try:
        return parse_duration(str(value))
    except ValueError as exc:
        raise doc.error(path, str(exc)) from exc


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


def _selector(doc: Doc, path: str) -> LabelSelector | None:
    if doc.get(path, dict) is None:
        return None
    doc.known_fields(path, ("matchLabels", "matchExpressions"))
    labels = _string_map(doc, f"{path}.matchLabels")
    exprs = []
    for i, e in enumerate(doc.get(f"{path}.matchExpressions", list) or []):
        epath = f"{path}.matchExpressions[{i}]"
        if not isinstance(e, dict) or not isinstance(e.get("key"), str):
            raise doc.error(epath, "needs key, operator and (for In/NotIn) values")
        op = e.get("operator")
        if op not in _SELECTOR_OPS:
            raise doc.error(f"{epath}.operator", f"must be one of {', '.join(_SELECTOR_OPS)}")
        values = e.get("values") or []
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise doc.error(f"{epath}.values", "must be a list of strings")
        if op in ("In", "NotIn") and not values:
            raise doc.error(f"{epath}.values", f"must not be empty with operator {op}")
        if op in ("Exists", "DoesNotExist") and values:
            raise doc.error(f"{epath}.values", f"must be empty with operator {op}")
        exprs.append((e["key"], str(op), tuple(values)))
    return LabelSelector(labels, tuple(exprs))


def _refresh_policy(doc: Doc) -> timedelta | None:
    doc.known_fields("spec.refreshPolicy", ("minRemaining",))
    return _duration(doc, "spec.refreshPolicy.minRemaining", doc.mapping("spec.refreshPolicy").get("minRemaining"))


def parse_kubernetes_secret(doc: Doc) -> KubernetesTarget:
    """Our ``KubernetesSecret``: one generator fanned out to many namespaces and clusters."""
    namespace, name = _metadata(doc, namespaced=True)
    doc.location = Location(doc.location.file, doc.location.document, "KubernetesSecret", namespace, name)
    doc.known_fields("spec", ("generatorRef", "clusters", "namespaces", "namespaceSelector", "excludeNamespaces",
                              "name", "template", "serviceAccounts", "refreshPolicy"))
    gen_name = _generator_ref_name(doc, "spec.generatorRef")
    namespaces = _string_list(doc, "spec.namespaces")
    for i, ns in enumerate(namespaces):
        if not _LABEL.fullmatch(ns):
            raise doc.error(f"spec.namespaces[{i}]", f"{ns!r} is not a valid namespace name")
    selector = _selector(doc, "spec.namespaceSelector")
    if not namespaces and selector is None:
        namespaces = (namespace,)
    secret_name = doc.string("spec.name") or name
    if not _SUBDOMAIN.fullmatch(secret_name):
        raise doc.error("spec.name", f"{secret_name!r} is not a valid Secret name")
    template = _template(doc, "spec.template") or SecretTemplate()
    if not template.type:
        template = SecretTemplate(DOCKERCONFIGJSON, template.labels, template.annotations, template.data,
                                  template.merge_policy)
    accounts = _string_list(doc, "spec.serviceAccounts")
    if "*" in accounts and len(accounts) > 1:
        raise doc.error("spec.serviceAccounts", "'*' stands alone")
    return KubernetesTarget(
        source_kind="KubernetesSecret",
        namespace=namespace,
        name=name,
        generator=f"{namespace}/{gen_name}",
        secret_name=secret_name,
        template=template,
        clusters=_string_list(doc, "spec.clusters") or ("default",),
        namespaces=namespaces,
        selector=selector,
        exclude_namespaces=_string_list(doc, "spec.excludeNamespaces"),
        min_remaining=_refresh_policy(doc),
        service_accounts=accounts,
        location=doc.location,
    )


def parse_key_vault_secret(doc: Doc, environ: Mapping[str, str]) -> KeyVaultTarget:
    """Our ``KeyVaultSecret``: a generator's token as a Key Vault secret."""
    namespace, name = _metadata(doc, namespaced=True)
    doc.location = Location(doc.location.file, doc.location.document, "KeyVaultSecret", namespace, name)
    doc.known_fields("spec", ("generatorRef", "vaultUrl", "secretName", "value", "contentType", "tags",
                              "tenantId", "environmentType", "auth", "refreshPolicy"))
    gen_name = _generator_ref_name(doc, "spec.generatorRef")
    try:
        cloud = cloud_for(doc.string("spec.environmentType") or None, environ=dict(environ))
    except CloudError as exc:
        raise doc.error("spec.environmentType", str(exc)) from exc
    url = doc.string("spec.vaultUrl", required=True)
    problem = check_vault_url(url, cloud)
    if problem:
        raise doc.error("spec.vaultUrl", f"{url!r} {problem}")
    secret_name = doc.string("spec.secretName", required=True)
    if not _KV_SECRET_NAME.fullmatch(secret_name):
        raise doc.error("spec.secretName", f"{secret_name!r}: Key Vault secret names are 1-127 letters, digits "
                                           "and hyphens")
    value = doc.get("spec.value", str)
    value = "{{ .password }}" if value is None else value
    _check_template(doc, "spec.value", value)
    tags = _string_map(doc, "spec.tags")
    if len(tags) > 12:
        raise doc.error("spec.tags", "at most 12 tags (Key Vault allows 15; acr-refresh adds 3)")
    auth = parse_auth(doc, "spec.auth", namespace) if doc.get("spec.auth", dict) is not None else None
    tenant = doc.string("spec.tenantId")
    if isinstance(auth, ServicePrincipal) and not tenant:
        raise doc.error("spec.tenantId", "is required with auth.servicePrincipal")
    return KeyVaultTarget(
        namespace=namespace,
        name=name,
        generator=f"{namespace}/{gen_name}",
        vault_url="https://" + url.split("://", 1)[-1].rstrip("/") + "/",
        secret_name=secret_name,
        value=value,
        content_type=doc.string("spec.contentType"),
        tags=tags,
        tenant_id=tenant,
        cloud=cloud,
        auth=auth,
        min_remaining=_refresh_policy(doc),
        location=doc.location,
    )


def check_vault_url(url: str, cloud: Cloud) -> str | None:
    """Why ``url`` is not a Key Vault URL of ``cloud``, or None. The Entra token is sent there too."""
    if not url.startswith("https://"):
        return "must be an https:// Key Vault URL such as https://myvault.vault.azure.net/"
    host = url[len("https://"):].rstrip("/")
    if not cloud.vault_suffix:
        return f"environmentType {cloud.name} has no Key Vault DNS suffix (keyVaultDNSSuffix)"
    if "/" in host or "@" in host or ":" in host or "?" in host or "#" in host:
        return "must be the vault's base URL with no path, port, userinfo or query"
    suffix = "." + cloud.vault_suffix
    if not host.isascii() or host != host.lower() or not host.endswith(suffix):
        return f"host must be <vault>{suffix} (lowercase) for environmentType {cloud.name}"
    vault = host[: -len(suffix)]
    if not _KV_VAULT_NAME.fullmatch(vault) or "--" in vault:
        return "vault name must be 3-24 lowercase letters, digits and single hyphens"
    return None


def parse_cluster(doc: Doc, environ: Mapping[str, str]) -> ClusterConfig:
    """Our cluster-scoped ``Cluster``: ``inCluster``, ``kubeconfig`` or ``aks``, exactly one."""
    _, name = _metadata(doc, namespaced=False)
    doc.location = Location(doc.location.file, doc.location.document, "Cluster", "", name)
    doc.known_fields("spec", ("inCluster", "kubeconfig", "aks"))
    spec = doc.mapping("spec")  # a missing or empty spec gets the same clear error as a spec with none of them
    chosen = [k for k in ("inCluster", "kubeconfig", "aks") if spec.get(k) not in (None, False)]
    if len(chosen) != 1:
        raise doc.error("spec", "needs exactly one of inCluster: true, kubeconfig or aks")
    if chosen[0] == "inCluster":
        if doc.get("spec.inCluster", bool) is not True:
            raise doc.error("spec.inCluster", "must be true")
        return ClusterConfig(name=name, in_cluster=True, location=doc.location)
    if chosen[0] == "kubeconfig":
        doc.known_fields("spec.kubeconfig", ("path", "context"))
        return ClusterConfig(name=name, kubeconfig=doc.string("spec.kubeconfig.path", required=True),
                             context=doc.string("spec.kubeconfig.context"), location=doc.location)
    doc.known_fields("spec.aks", ("server", "certificateAuthorityData", "tenantId", "environmentType", "auth",
                                  "allowCustomServer"))
    server = doc.string("spec.aks.server", required=True)
    ca = doc.string("spec.aks.certificateAuthorityData", required=True)
    try:
        cloud = cloud_for(doc.string("spec.aks.environmentType") or None, environ=dict(environ))
    except CloudError as exc:
        raise doc.error("spec.aks.environmentType", str(exc)) from exc
    # The AKS Entra token opens every Entra-integrated cluster the identity can reach: check the host as
    # registry and vault hosts are checked, unless this Cluster opts in to a custom server.
    allow_custom = doc.get("spec.aks.allowCustomServer", bool) is True
    problem = aks_server_problem(server, cloud, allow_custom=allow_custom)
    if problem:
        raise doc.error("spec.aks.server", problem)  # not echoed: userinfo could hold a password
    tenant = doc.string("spec.aks.tenantId")
    auth = parse_auth(doc, "spec.aks.auth", DEFAULT_NAMESPACE)
    if isinstance(auth, ServicePrincipal) and not tenant:
        raise doc.error("spec.aks.tenantId", "is required with auth.servicePrincipal")
    return ClusterConfig(name=name, aks=AksAccess(server, ca, tenant, cloud, auth, allow_custom),
                         location=doc.location)


@dataclass
class _Builder:
    generators: dict[str, Generator] = field(default_factory=dict)
    kube_targets: dict[str, KubernetesTarget] = field(default_factory=dict)
    vault_targets: dict[str, KeyVaultTarget] = field(default_factory=dict)
    clusters: dict[str, ClusterConfig] = field(default_factory=dict)
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
    targets: list[KubernetesTarget | KeyVaultTarget] = [*b.kube_targets.values(), *b.vault_targets.values()]
    for target in targets:
        loc = target.location
        if target.generator not in b.generators:
            raise ConfigError(f"no ACRAccessToken {target.generator} in the config", location=loc,
                              field="spec.generatorRef.name" if target.key.startswith(("Kube", "KeyV"))
                              else "spec.dataFrom.sourceRef.generatorRef.name")
        if isinstance(target, KubernetesTarget):
            for cluster in target.clusters:
                if cluster != "default" and cluster not in b.clusters:
                    field_name = ("spec.clusters" if target.source_kind == "KubernetesSecret"
                                  else f"metadata.annotations.{CLUSTER_ANNOTATION}")
                    raise ConfigError(f"no Cluster named {cluster!r} in the config", location=loc, field=field_name)
    from .overlap import check_static  # (overlap reads config's types)

    check_static(b.kube_targets.values())  # two targets, one Secret: refused unless they may share it
    if strict and b.warnings:
        raise ConfigError(f"{b.warnings[0]} (--strict turns warnings into errors)")
    return Config(
        generators=tuple(b.generators.values()),
        kube_targets=tuple(b.kube_targets.values()),
        vault_targets=tuple(b.vault_targets.values()),
        clusters=tuple(b.clusters.values()),
        unhandled=tuple(b.unhandled),
        warnings=tuple(b.warnings),
        files=tuple(b.files),
    )


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
    if group == ESO_GROUP and version in ("v1beta1", "v1") and kind == "ExternalSecret":
        target = parse_external_secret(doc)
        if target is not None:
            _add_once(b.kube_targets, target.key, target, doc, f"ExternalSecret {target.namespace}/{target.name}")
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
