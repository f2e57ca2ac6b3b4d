"""Field checks every kind shares: the :class:`Doc` getter, names, durations, selectors, templates, hosts."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from ..clouds import Cloud, CloudError, cloud_for
from ..durations import parse_duration
from ..errors import ConfigError, Location
from .model import DEFAULT_NAMESPACE, SCOPE_ACTIONS, TEMPLATE_KEYS, LabelSelector

# DNS-1123 subdomain (object names) and label (namespaces), as Kubernetes validates them.
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Docker distribution repository names: lowercase path components joined by '/'.
_REPO_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
_REPOSITORY = re.compile(rf"^{_REPO_COMPONENT}(?:/{_REPO_COMPONENT})*$")

_KV_SECRET_NAME = re.compile(r"^[0-9A-Za-z-]{1,127}$")
_KV_VAULT_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,22}[a-z0-9]$")
_FINALIZER = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
                        r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_SELECTOR_OPS = ("In", "NotIn", "Exists", "DoesNotExist")

class Doc:
    """One document being validated: typed getters that raise ConfigErrors naming the field."""

    def __init__(self, body: Mapping[str, Any], location: Location, warnings: list[str]) -> None:
        self.body = body
        self.location = location
        self.warnings = warnings
        self.schema_checked = False
        """True once :func:`.fates.check_document` has named every unknown field (ESO kinds)."""

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
        """Warn about fields this build does not know (Kubernetes would prune them; a typo is likelier),
        naming the closest known one."""
        node = self.mapping(field_path) if field_path else self.body
        if self.schema_checked:
            return
        allowed_list = list(allowed)
        for key in node:
            if key not in allowed_list:
                where = f"{field_path}.{key}" if field_path else str(key)
                close = difflib.get_close_matches(str(key), allowed_list, n=1, cutoff=0.6)
                hint = f" (did you mean {close[0]}?)" if close else ""
                self.warn(f"unknown field {where} is ignored{hint}")


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


def _cloud(doc: Doc, path: str, environ: Mapping[str, str]) -> Cloud:
    """The cloud an ``environmentType`` field (at ``path``) names; default: the public cloud."""
    try:
        return cloud_for(doc.string(path) or None, environ=dict(environ))
    except CloudError as exc:
        raise doc.error(path, str(exc)) from exc


def _check_template(doc: Doc, path: str, source: str, keys: tuple[str, ...] = TEMPLATE_KEYS) -> None:
    """Parse a template and check its top-level keys now, so typos fail before any token is minted."""
    from ..gotemplate import TemplateError, parse

    try:
        parse(source, name=path.rsplit(".", 1)[-1] or path).check(keys)
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


def _selector(doc: Doc, path: str) -> LabelSelector | None:
    given = doc.get(path, dict)
    if given is None:
        return None
    doc.known_fields(path, ("matchLabels", "matchExpressions"))
    if given and not ({"matchLabels", "matchExpressions"} & set(given)):
        # What is left of a selector whose every field is a typo would select every namespace.
        raise doc.error(path, f"has no matchLabels or matchExpressions (only {', '.join(map(str, given))}): it "
                              "would select every namespace; write {} to mean that")
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

