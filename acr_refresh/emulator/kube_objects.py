"""Rules the emulated Kubernetes API server applies to objects: label and field selectors, the patch formats
(JSON merge patch, JSON patch) and the validation of Secrets and ServiceAccounts.

Validation follows ``k8s.io/kubernetes/pkg/apis/core/validation`` for the parts acr-refresh can trip over:
object names (DNS-1123 subdomains), label keys/values and annotation keys, Secret data keys, the 1 MiB data
limit, the keys each built-in Secret type requires (``.dockerconfigjson`` holding JSON, ...), the immutable
``type`` and ``immutable: true``. Messages use the API server's ``field.Error`` wording.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import re
from dataclasses import dataclass
from typing import Any

DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
MAX_SECRET_SIZE = 1024 * 1024

_DNS1123_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
_QUALIFIED_NAME_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used "
    "for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
_CONFIG_KEY_MSG = (
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or "
    "'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
)


# ----- selectors -----------------------------------------------------------------------------------------


class SelectorError(ValueError):
    """A label or field selector the API server would refuse (400 BadRequest)."""


@dataclass(frozen=True)
class Requirement:
    """One label-selector requirement: ``op`` is ``=``, ``!=``, ``in``, ``notin``, ``exists`` or ``!``."""

    key: str
    op: str
    values: frozenset[str] = frozenset()

    def matches(self, labels: dict[str, str]) -> bool:
        present = self.key in labels
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        if self.op in ("=", "in"):
            return present and labels[self.key] in self.values
        # "!=" and "notin" also match objects without the label, as in Kubernetes
        return not present or labels[self.key] not in self.values


_REQ_SET = re.compile(r"^\s*(?P<key>[^\s!=(),]+)\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)\s*$")
_REQ_EQ = re.compile(r"^\s*(?P<key>[^\s!=(),]+)\s*(?P<op>==|=|!=)\s*(?P<value>[^\s!=(),]*)\s*$")
_REQ_EXISTS = re.compile(r"^\s*(?P<neg>!?)\s*(?P<key>[^\s!=(),]+)\s*$")


def _split_top_level(text: str) -> list[str]:
    """Split on commas outside parentheses (``a in (x,y),b`` -> two requirements)."""
    parts, depth, current = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return parts


def _check_label_key(key: str) -> None:
    if _label_key_errors(key):
        raise SelectorError(f"unable to parse requirement: invalid label key {key!r}: {_QUALIFIED_NAME_MSG}")


def _check_label_value(value: str) -> None:
    if len(value) > 63 or not _LABEL_VALUE.match(value):
        raise SelectorError(f"unable to parse requirement: invalid label value: {value!r}: {_LABEL_VALUE_MSG}")


def parse_label_selector(text: str) -> list[Requirement]:
    """Parse ``k=v,k!=v,k in (a,b),k notin (a,b),k,!k`` (empty: matches everything)."""
    if not text.strip():
        return []
    reqs: list[Requirement] = []
    for part in _split_top_level(text):
        if not part.strip():
            raise SelectorError(f"unable to parse requirement: found '', expected: identifier in {text!r}")
        m = _REQ_SET.match(part)
        if m:
            values = [v.strip() for v in m.group("values").split(",") if v.strip()]
            if not values:
                raise SelectorError(f"for 'in', 'notin' operators, values set can't be empty: {part.strip()!r}")
            _check_label_key(m.group("key"))
            for v in values:
                _check_label_value(v)
            reqs.append(Requirement(m.group("key"), m.group("op"), frozenset(values)))
            continue
        m = _REQ_EQ.match(part)
        if m:
            op = "=" if m.group("op") in ("=", "==") else "!="
            _check_label_key(m.group("key"))
            _check_label_value(m.group("value"))
            reqs.append(Requirement(m.group("key"), op, frozenset({m.group("value")})))
            continue
        m = _REQ_EXISTS.match(part)
        if m:
            _check_label_key(m.group("key"))
            reqs.append(Requirement(m.group("key"), "!" if m.group("neg") else "exists"))
            continue
        raise SelectorError(f"unable to parse requirement: {part.strip()!r}")
    return reqs


def labels_match(reqs: list[Requirement], labels: dict[str, str] | None) -> bool:
    return all(r.matches(labels or {}) for r in reqs)


def parse_field_selector(text: str, supported: frozenset[str]) -> list[tuple[str, bool, str]]:
    """Parse ``f=v,f!=v`` into ``(field, equal, value)``; fields outside ``supported`` are refused."""
    result: list[tuple[str, bool, str]] = []
    if not text.strip():
        return result
    for part in text.split(","):
        m = re.match(r"^\s*([^!=\s]+)\s*(==|=|!=)\s*(.*?)\s*$", part)
        if not m:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{part}'")
        if m.group(1) not in supported:
            raise SelectorError(f'field label not supported: {m.group(1)}')
        result.append((m.group(1), m.group(2) != "!=", m.group(3)))
    return result


def fields_match(reqs: list[tuple[str, bool, str]], obj: dict[str, Any]) -> bool:
    for name, equal, value in reqs:
        node: Any = obj
        for part in name.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        actual = "" if node is None else str(node)
        if (actual == value) != equal:
            return False
    return True


# ----- patches -------------------------------------------------------------------------------------------


class PatchError(ValueError):
    """A patch that cannot be applied (the API server answers 422 or 400)."""


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: objects merge recursively, ``null`` deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"JSON pointer {path!r} must start with '/'")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: Any, parts: list[str]) -> Any:
    node = doc
    for part in parts[:-1]:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise PatchError(f"doc is missing path: /{'/'.join(parts)}")
    return node


def json_patch(doc: Any, ops: Any) -> Any:
    """RFC 6902 JSON patch (``add``, ``remove``, ``replace``, ``move``, ``copy``, ``test``)."""
    if not isinstance(ops, list):
        raise PatchError("a JSON patch must be a list of operations")
    doc = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise PatchError(f"invalid JSON patch operation: {op!r}")
        kind, parts = op["op"], _pointer(str(op["path"]))
        if kind in ("move", "copy"):
            src = _pointer(str(op.get("from", "")))
            value = _get_at(doc, src)
            if kind == "move":
                doc = _remove_at(doc, src)
            doc = _add_at(doc, parts, copy.deepcopy(value))
        elif kind == "add":
            doc = _add_at(doc, parts, copy.deepcopy(op.get("value")))
        elif kind == "remove":
            doc = _remove_at(doc, parts)
        elif kind == "replace":
            doc = _remove_at(doc, parts)
            doc = _add_at(doc, parts, copy.deepcopy(op.get("value")))
        elif kind == "test":
            if _get_at(doc, parts) != op.get("value"):
                raise PatchError(f"testing value {op['path']} failed")
        else:
            raise PatchError(f"Unexpected kind: {kind}")
    return doc


def _get_at(doc: Any, parts: list[str]) -> Any:
    if not parts:
        return doc
    parent, last = _parent(doc, parts), parts[-1]
    if isinstance(parent, dict) and last in parent:
        return parent[last]
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        return parent[int(last)]
    raise PatchError(f"doc is missing path: /{'/'.join(parts)}")


def _add_at(doc: Any, parts: list[str], value: Any) -> Any:
    if not parts:
        return value
    parent, last = _parent(doc, parts), parts[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list) and last == "-":
        parent.append(value)
    elif isinstance(parent, list) and last.isdigit() and int(last) <= len(parent):
        parent.insert(int(last), value)
    else:
        raise PatchError(f"doc is missing path: /{'/'.join(parts)}")
    return doc


def _remove_at(doc: Any, parts: list[str]) -> Any:
    if not parts:
        return None
    parent, last = _parent(doc, parts), parts[-1]
    if isinstance(parent, dict) and last in parent:
        del parent[last]
    elif isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        del parent[int(last)]
    else:
        raise PatchError(f"doc is missing path: /{'/'.join(parts)}")
    return doc


# ----- validation ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldError:
    """One validation error, as ``k8s.io/apimachinery/pkg/util/validation/field.Error``."""

    field: str
    type: str  # "Required", "Invalid", "Forbidden", "TooLong"
    detail: str = ""
    value: Any = None

    def body(self) -> str:
        """``Invalid value: "x": detail`` (the field.Error text without the field path)."""
        if self.type == "Invalid":
            text = f"Invalid value: {json.dumps(self.value)}"
        else:
            text = {"Required": "Required value", "Forbidden": "Forbidden", "TooLong": "Too long"}[self.type]
        return f"{text}: {self.detail}" if self.detail else text

    def message(self) -> str:
        return f"{self.field}: {self.body()}"

    @property
    def reason(self) -> str:
        return {
            "Required": "FieldValueRequired",
            "Invalid": "FieldValueInvalid",
            "Forbidden": "FieldValueForbidden",
            "TooLong": "FieldValueTooLong",
        }[self.type]


def _label_key_errors(key: str) -> bool:
    """True when ``key`` is not a qualified name (``[prefix/]name``)."""
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or len(prefix) > 253 or not DNS1123_SUBDOMAIN.match(prefix)):
        return True
    return not name or len(name) > 63 or not _QUALIFIED_NAME.match(name)


def validate_name(name: Any, kind: str) -> list[FieldError]:
    if not name:
        return [FieldError("metadata.name", "Required", "name or generateName is required")]
    if not isinstance(name, str) or len(name) > 253 or not DNS1123_SUBDOMAIN.match(name):
        return [FieldError("metadata.name", "Invalid", _DNS1123_SUBDOMAIN_MSG, name)]
    return []


def validate_metadata(meta: dict[str, Any], kind: str) -> list[FieldError]:
    """Name, labels and annotation keys."""
    errors = validate_name(meta.get("name"), kind)
    labels = meta.get("labels") or {}
    if not isinstance(labels, dict):
        return [*errors, FieldError("metadata.labels", "Invalid", "must be a map of strings", labels)]
    for key, value in labels.items():
        if _label_key_errors(key):
            errors.append(FieldError("metadata.labels", "Invalid", _QUALIFIED_NAME_MSG, key))
        if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.match(value):
            errors.append(FieldError("metadata.labels", "Invalid", _LABEL_VALUE_MSG, value))
    annotations = meta.get("annotations") or {}
    if not isinstance(annotations, dict):
        return [*errors, FieldError("metadata.annotations", "Invalid", "must be a map of strings", annotations)]
    for key, value in annotations.items():
        if _label_key_errors(key):
            errors.append(FieldError("metadata.annotations", "Invalid", _QUALIFIED_NAME_MSG, key))
        if not isinstance(value, str):
            errors.append(FieldError(f"metadata.annotations[{key}]", "Invalid", "must be a string", value))
    size = sum(len(k) + len(v) for k, v in annotations.items() if isinstance(v, str))
    if size > 256 * 1024:
        errors.append(FieldError("metadata.annotations", "TooLong", "must have at most 262144 bytes"))
    return errors


def decode_data(data: Any) -> dict[str, bytes]:
    """Decode a Secret's ``data`` (base64 strings) like the API server's JSON decoder; ``ValueError`` if not."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError("json: cannot unmarshal into Go struct field Secret.data of type map[string][]uint8")
    decoded = {}
    for key, value in data.items():
        if value is None:
            decoded[key] = b""
            continue
        if not isinstance(value, str):
            raise ValueError(
                f"json: cannot unmarshal {type(value).__name__} into Go struct field Secret.data of type []uint8"
            )
        try:
            decoded[key] = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            bad = next((i for i, c in enumerate(value) if c not in _B64_ALPHABET), len(value) // 4 * 4)
            raise ValueError(f"illegal base64 data at input byte {bad}") from None
    return decoded


_B64_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")

_REQUIRED_KEYS = {
    "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
    "kubernetes.io/dockercfg": (".dockercfg",),
    "kubernetes.io/ssh-auth": ("ssh-privatekey",),
    "kubernetes.io/tls": ("tls.crt", "tls.key"),
}


def validate_secret(obj: dict[str, Any]) -> list[FieldError]:
    """``ValidateSecret``: metadata, data keys and size, and the keys the Secret's type requires."""
    errors = validate_metadata(obj.get("metadata") or {}, "Secret")
    data = decode_data(obj.get("data"))
    total = 0
    for key, value in data.items():
        if not key or len(key) > 253 or not _CONFIG_KEY.match(key):
            errors.append(FieldError(f"data[{key}]", "Invalid", _CONFIG_KEY_MSG, key))
        elif key in (".", ".."):
            errors.append(FieldError(f"data[{key}]", "Invalid", f"must not be '{key}'", key))
        total += len(value)
    if total > MAX_SECRET_SIZE:
        errors.append(FieldError("data", "TooLong", f"must have at most {MAX_SECRET_SIZE} bytes"))
    type_ = obj.get("type") or "Opaque"
    for key in _REQUIRED_KEYS.get(type_, ()):
        if key not in data:
            errors.append(FieldError(f"data[{key}]", "Required"))
    if type_ in ("kubernetes.io/dockerconfigjson", "kubernetes.io/dockercfg"):
        key = _REQUIRED_KEYS[type_][0]
        if key in data:
            try:
                json.loads(data[key])
            except ValueError as exc:
                errors.append(FieldError(f"data[{key}]", "Invalid", _json_error(exc), "<secret contents redacted>"))
    if type_ == "kubernetes.io/basic-auth" and "username" not in data and "password" not in data:
        errors += [FieldError("data[username]", "Required"), FieldError("data[password]", "Required")]
    if type_ == "kubernetes.io/service-account-token":
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        if not annotations.get("kubernetes.io/service-account.name"):
            errors.append(FieldError("metadata.annotations[kubernetes.io/service-account.name]", "Required"))
    return errors


def _json_error(exc: ValueError) -> str:
    """A Go-like ``encoding/json`` message for a JSON syntax error."""
    if isinstance(exc, json.JSONDecodeError):
        if exc.msg == "Expecting value":
            return f"invalid character looking for beginning of value (offset {exc.pos})"
        return f"{exc.msg[0].lower()}{exc.msg[1:]} (offset {exc.pos})"
    return str(exc)


def validate_secret_update(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    """``ValidateSecretUpdate``: the new object is valid, ``type`` unchanged, ``immutable`` Secrets frozen."""
    errors = validate_secret(new)
    new_type, old_type = new.get("type") or "Opaque", old.get("type") or "Opaque"
    if new_type != old_type:
        errors.append(FieldError("type", "Invalid", "field is immutable", new_type))
    if old.get("immutable"):
        if not new.get("immutable"):
            errors.append(FieldError("immutable", "Forbidden", "field is immutable when `immutable` is set"))
        if new.get("data") != old.get("data"):
            errors.append(FieldError("data", "Forbidden", "field is immutable when `immutable` is set"))
    return errors


def validate_service_account(obj: dict[str, Any]) -> list[FieldError]:
    """``ValidateServiceAccount``: metadata only (``imagePullSecrets`` entries are not checked)."""
    errors = validate_metadata(obj.get("metadata") or {}, "ServiceAccount")
    pulls = obj.get("imagePullSecrets")
    if pulls is not None and not isinstance(pulls, list):
        errors.append(FieldError("imagePullSecrets", "Invalid", "must be a list", pulls))
    return errors


# ----- events.k8s.io/v1 Events ---------------------------------------------------------------------------


def validate_event(obj: dict[str, Any], *, update: bool = False) -> list[FieldError]:
    """An events.k8s.io/v1 request's validation as kube-apiserver v1.20 applies it (the differential tests
    hold the two together): on create, the strict v1 rules (``eventTime``, ``reportingController`` (a
    qualified name), ``reportingInstance``, ``action``, ``reason``, ``type`` Normal or Warning, ``series.count``
    at least 2, the ``deprecated*`` fields unset); on update, the required fields only. v1.20 checks neither
    ``regarding``'s namespace nor, on update, immutable fields (later releases make ``note``, ``reason``,
    ``type``, ``regarding``, ... immutable: acr-refresh never changes them, it replaces its Event)."""
    errors = validate_metadata(obj.get("metadata") or {}, "Event")
    controller = obj.get("reportingController") or ""
    if not controller:
        errors.append(FieldError("reportingController", "Required"))
    elif _label_key_errors(controller):
        errors.append(FieldError("reportingController", "Invalid", _QUALIFIED_NAME_MSG, controller))
    for field, limit in (("reportingInstance", 128), ("action", 128), ("reason", 128)):
        value = obj.get(field) or ""
        if not value:
            errors.append(FieldError(field, "Required"))
        elif len(value) > limit:
            errors.append(FieldError(field, "Invalid", f"can have at most {limit} characters", ""))
    if len(obj.get("note") or "") > 1024:
        errors.append(FieldError("note", "Invalid", "can have at most 1024 characters", ""))
    if update:
        return errors
    series = obj.get("series")
    if series:
        if not isinstance(series.get("count"), int) or series["count"] < 2:
            errors.append(FieldError("series.count", "Invalid", "should be at least 2", ""))
        if not series.get("lastObservedTime"):
            errors.append(FieldError("series.lastObservedTime", "Required"))
    if not obj.get("eventTime"):
        errors.append(FieldError("eventTime", "Required"))
    if obj.get("type") not in ("Normal", "Warning"):
        errors.append(FieldError("type", "Invalid", f"has invalid value: {obj.get('type') or ''}", ""))
    for field in ("deprecatedFirstTimestamp", "deprecatedLastTimestamp"):
        if obj.get(field):
            errors.append(FieldError(field, "Invalid", "needs to be unset", ""))
    if obj.get("deprecatedCount"):
        errors.append(FieldError("deprecatedCount", "Invalid", "needs to be unset", ""))
    if any((obj.get("deprecatedSource") or {}).values()):
        errors.append(FieldError("deprecatedSource", "Invalid", "needs to be unset", ""))
    return errors
