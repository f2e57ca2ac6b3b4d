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
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .clouds import Cloud, CloudError, cloud_for
from .errors import ConfigError, Location

ESO_GENERATOR_GROUP = "generators.external-secrets.io"
ESO_GROUP = "external-secrets.io"
OUR_API_VERSION = "acr-refresh/v1alpha1"
ACR_KIND = "ACRAccessToken"
AUDIENCE_ANNOTATION = "acr-refresh/entra-audience"
DEFAULT_NAMESPACE = "default"

MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_ALIASES = 100
MAX_DEPTH = 64
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


class _BoundedLoader(yaml.SafeLoader):
    """A safe loader that refuses alias bombs and absurd nesting before they cost memory."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._aliases = 0
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:  # type: ignore[override]
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise yaml.YAMLError(f"more than {MAX_ALIASES} YAML aliases (refused as a possible alias bomb)")
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise yaml.YAMLError(f"nesting deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


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
            data = json.loads(text)
        except ValueError as exc:
            raise ConfigError(f"{path}: invalid JSON: {exc}") from exc
        docs = data if isinstance(data, list) else [data]
    else:
        try:
            docs = list(yaml.load_all(text, Loader=_BoundedLoader))
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
    if len(host) > 253 or not all(_DNS_LABEL.match(label) for label in host.split(".")):
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
    if not _REPOSITORY.match(name) or len(name) > 255:
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
    if len(name) > 253 or not _SUBDOMAIN.match(name):
        raise doc.error("metadata.name", f"{name!r} is not a valid Kubernetes name (lowercase DNS subdomain)")
    ns = doc.string("metadata.namespace")
    if not namespaced:
        if ns:
            raise doc.error("metadata.namespace", "this kind is cluster-scoped and takes no namespace")
        return "", name
    ns = ns or DEFAULT_NAMESPACE
    if len(ns) > 63 or not _LABEL.match(ns):
        raise doc.error("metadata.namespace", f"{ns!r} is not a valid namespace name")
    return ns, name


def _secret_ref(doc: Doc, path: str, namespace: str) -> SecretRef:
    ref = doc.mapping(path, required=True)
    doc.known_fields(path, ("name", "key", "namespace", "env"))
    env = doc.string(f"{path}.env")
    if env:
        if not _ENV_NAME.match(env):
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
        if identity_id and "/" not in identity_id and not _GUID.match(identity_id):
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
    if not _SUBDOMAIN.match(sa_name):
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
    if tenant and not _GUID.match(tenant) and not re.match(r"^[a-z0-9.-]+$", tenant):
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


# Our own kinds: name → parser. Later capabilities register theirs here; an unknown kind is an error.
OwnKindParser = Callable[[Doc, Mapping[str, str]], Any]
OWN_KINDS: dict[str, OwnKindParser] = {}


@dataclass
class _Builder:
    generators: dict[str, Generator] = field(default_factory=dict)
    unhandled: list[Unhandled] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


def load_config(
    path: str | os.PathLike[str], *, strict: bool = False, environ: Mapping[str, str] | None = None
) -> Config:
    """Read, parse and validate a config file or directory into a :class:`Config`.

    ``environ`` (default ``os.environ``) supplies ``AZURE_ENVIRONMENT_FILEPATH`` for Azure Stack.
    With ``strict``, the first warning is raised as a :class:`ConfigError` instead.
    """
    env = os.environ if environ is None else environ
    b = _Builder()
    for file in config_files(path):
        b.files.append(str(file))
        for index, body in read_documents(file):
            _add_document(b, file, index, body, env)
    if strict and b.warnings:
        raise ConfigError(f"{b.warnings[0]} (--strict turns warnings into errors)")
    return Config(
        generators=tuple(b.generators.values()),
        unhandled=tuple(b.unhandled),
        warnings=tuple(b.warnings),
        files=tuple(b.files),
    )


def _add_document(b: _Builder, file: Path, index: int, body: Any, env: Mapping[str, str]) -> None:
    loc = Location(str(file), index)
    if not isinstance(body, dict):
        raise ConfigError(f"expected a mapping (a Kubernetes-style object), got {type(body).__name__}", location=loc)
    doc = Doc(body, loc, b.warnings)
    api_version = doc.string("apiVersion", required=True)
    kind = doc.string("kind", required=True)
    meta_name = body.get("metadata", {}).get("name", "") if isinstance(body.get("metadata"), dict) else ""
    meta_ns = body.get("metadata", {}).get("namespace", "") if isinstance(body.get("metadata"), dict) else ""
    doc.location = Location(str(file), index, kind, str(meta_ns or ""), str(meta_name or ""))
    group = api_version.split("/")[0] if "/" in api_version else ""
    if api_version == f"{ESO_GENERATOR_GROUP}/v1alpha1" and kind == ACR_KIND:
        gen = parse_acr_access_token(doc, env)
        if gen.key in b.generators:
            first = b.generators[gen.key].location
            raise doc.error("metadata.name", f"duplicate {ACR_KIND} {gen.key} (first defined at {first})")
        b.generators[gen.key] = gen
        return
    if api_version == OUR_API_VERSION or group == OUR_API_VERSION.split("/")[0]:
        if api_version != OUR_API_VERSION:
            raise doc.error("apiVersion", f"unknown version {api_version!r}; expected {OUR_API_VERSION}")
        parser = OWN_KINDS.get(kind)
        if parser is None:
            known = ", ".join(sorted(OWN_KINDS)) or "none in this build"
            raise doc.error("kind", f"unknown kind {kind!r} in {OUR_API_VERSION} (known: {known})")
        parser(doc, env)
        return
    reason = "not an acr-refresh or ACRAccessToken kind"
    if group == ESO_GENERATOR_GROUP:
        reason = f"generator kind {kind} is not handled by acr-refresh"
    elif group == ESO_GROUP:
        reason = f"{kind} is not handled by this build"
    b.unhandled.append(Unhandled(doc.location, api_version, kind, reason))
