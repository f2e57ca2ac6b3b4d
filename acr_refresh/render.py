"""Rendering: minted credentials + a target's template → the Secret or Key Vault value to write. Pure.

Also computes the *inputs hash*: a digest of everything besides the token that shapes a target (template,
metadata, registry, scope, identity, names). A target whose stored hash differs is stale even if its token
has life left, so config changes land on the next run.

Rendered output is bounded, because templates come from config and a few kilobytes of nested ``range`` can
ask for gigabytes: a Secret's data at most :data:`MAX_SECRET_DATA` (Kubernetes' own 1 MiB limit), checked
after every key while the Secret is rendered; a Key Vault value at most :data:`MAX_VAULT_VALUE` (Key Vault's
limit); a run at most :data:`RUN_OUTPUT_BUDGET` in all (:class:`RenderBudget`); and at most
:data:`RENDER_SLOTS` templates execute at once in a process (rendering holds the GIL, so more would only
multiply the memory of intermediate values, never the speed). Each execution is bounded by the engine itself
(1 MiB of output and of any intermediate string, 100,000 steps).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from . import redact
from .config import DOCKERCONFIGJSON, Generator, KeyVaultTarget, KubernetesTarget
from .config.model import TemplateFrom
from .errors import AcrRefreshError
from .report import rfc3339

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "acr-refresh"
ANNOTATION_PREFIX = "acr-refresh/"
GENERATOR_ANNOTATION = "acr-refresh/generator"
TARGET_ANNOTATION = "acr-refresh/target"
ISSUED_ANNOTATION = "acr-refresh/issued-at"
EXPIRES_ANNOTATION = "acr-refresh/expires-at"
HASH_ANNOTATION = "acr-refresh/inputs-hash"
# Key Vault tag names (tags allow hyphens; no '/').
GENERATOR_TAG = "acr-refresh-generator"
REGISTRY_TAG = "acr-refresh-registry"
HASH_TAG = "acr-refresh-inputs-hash"


MAX_SECRET_DATA = 1024 * 1024
"""Bytes of a Secret's data (keys and values, before base64), Kubernetes' own limit."""
_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
RESERVED_PREFIXES = ("acr-refresh/", "reconcile.external-secrets.io/")
"""Label and annotation keys a ``templateFrom`` source may not write."""
MAX_TEMPLATE_SOURCE = 64 * 1024
"""Bytes of one template read from a ConfigMap or Secret (``templateFrom``): tenants' input, bounded."""
MAX_VAULT_VALUE = 25 * 1024
"""Bytes of a Key Vault secret value, Key Vault's own limit."""
RUN_OUTPUT_BUDGET = 64 * 1024 * 1024
"""Bytes rendered in one run, all targets together (a fleet of 10,000 pull secrets renders about 30 MB)."""
RENDER_SLOTS = 2
_slots = threading.BoundedSemaphore(RENDER_SLOTS)


class RenderError(AcrRefreshError, ValueError):
    """A template failed at run time (names the object and the key; never a value)."""


class RenderBudget:
    """What one run may still render, shared by its threads. ``total`` in bytes."""

    def __init__(self, total: int = RUN_OUTPUT_BUDGET) -> None:
        self.total = total
        self.used = 0
        self._lock = threading.Lock()

    def charge(self, size: int, where: str) -> None:
        """Count ``size`` bytes; raise :class:`RenderError` once the run's budget is spent."""
        with self._lock:
            self.used += size
            over = self.used > self.total
        if over:
            raise RenderError(f"{where}: refused: this run has rendered more than its budget of "
                              f"{self.total // (1024 * 1024)} MiB (RUN_OUTPUT_BUDGET)")


@dataclass(frozen=True)
class DesiredSecret:
    """A Kubernetes Secret as acr-refresh wants it. ``data`` holds plain strings; ``repr`` hides it."""

    namespace: str
    name: str
    type: str
    labels: dict[str, str]
    annotations: dict[str, str]
    data: dict[str, str] = field(repr=False)
    finalizers: tuple[str, ...] = ()
    immutable: bool = False

    def manifest(self, *, labels: dict[str, str] | None = None,
                 annotations: dict[str, str] | None = None) -> dict[str, Any]:
        """The object sent (data base64-encoded, as the API expects); ``labels``/``annotations`` replace
        this Secret's own (the write guard decides which of our fields a write may carry)."""
        body: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "labels": self.labels if labels is None else labels,
                "annotations": self.annotations if annotations is None else annotations,
            },
            "type": self.type,
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in self.data.items()},
        }
        if self.finalizers:
            body["metadata"]["finalizers"] = list(self.finalizers)
        if self.immutable:
            body["immutable"] = True
        return body


def dockerconfigjson(registry: str, username: str, password: str) -> str:
    """A ``.dockerconfigjson`` document with one registry entry (``auth`` is base64 of user:password)."""
    auth = base64.b64encode(f"{username}:{password}".encode()).decode()
    return json.dumps({"auths": {registry: {"username": username, "password": password, "auth": auth}}},
                      separators=(",", ":"))


def inputs_hash(target: KubernetesTarget | KeyVaultTarget, gen: Generator) -> str:
    """A short, stable digest of everything that shapes a target besides the token itself."""
    t = asdict(target)
    t.pop("location", None)
    t.pop("min_remaining", None)
    t.pop("refresh_interval", None)
    g = {"registry": gen.registry, "scope": gen.scope, "audience": gen.audience, "auth": asdict(gen.auth)
         if hasattr(gen.auth, "__dataclass_fields__") else str(gen.auth), "tenant": gen.tenant_id,
         "cloud": gen.cloud.name}
    raw = json.dumps({"target": t, "generator": g}, sort_keys=True, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def _render(source: str, data: dict[str, Any], where: str, key: str, budget: RenderBudget | None = None) -> str:
    from .gotemplate import StringMap, TemplateError, parse

    with _slots:
        try:  # ESO's template data is a map[string]string (so `hasKey .` fails there as it does in ESO)
            out = parse(source, name=key).execute(StringMap({k: str(v) for k, v in data.items()}))
        except TemplateError as exc:
            raise RenderError(f"{where}: {_quiet(str(exc))}") from exc
    if budget is not None:
        budget.charge(_size(out), where)
    return out


_CALL_FAILED = re.compile(r"(error calling [A-Za-z0-9_]+): .*", re.DOTALL)


def _quiet(message: str) -> str:
    """A run-time template error without what a function said: a function's message is made from its
    arguments (``fail``'s text, ``atoi``'s input), which are the credentials themselves, transformed past
    what redaction recognises (``upper``, ``replace``). Kept: the template, position, function and reason."""
    return _CALL_FAILED.sub(r"\1 (its message is not shown: it is made from the template's data)", message)


def _size(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode())


def _render_data(items: tuple[tuple[str, str], ...], outputs: dict[str, Any], where: str,
                 budget: RenderBudget | None) -> dict[str, str]:
    """Render a Secret's data key by key, refusing as soon as the total passes :data:`MAX_SECRET_DATA`."""
    data: dict[str, str] = {}
    total = 0
    for key, source in items:
        value = _render(source, outputs, where, f"data.{key}", budget)
        total += _size(key) + _size(value)
        if total > MAX_SECRET_DATA:
            raise RenderError(f"{where}: data.{key}: refused: the Secret's data would exceed "
                              f"{MAX_SECRET_DATA // 1024} KiB (Kubernetes' limit for a Secret)")
        data[key] = value
    return data


Sources = Mapping[tuple[str, str], Mapping[str, str | None]]
"""``templateFrom`` objects a run read in the target's namespace: ``("configMap"|"secret", name) → data`` (None:
a Secret value that is not text)."""


def render_secret(
    target: KubernetesTarget, gen: Generator, namespace: str, outputs: dict[str, Any],
    issued_at: datetime | None, expires_at: datetime | None, budget: RenderBudget | None = None,
    sources: Sources | None = None,
) -> DesiredSecret:
    """The Secret for ``target`` in ``namespace`` from the generator's ``outputs`` (username, password, …).
    ``budget`` is the run's :class:`RenderBudget` (None: only the per-Secret bound applies); ``sources`` the
    ``templateFrom`` ConfigMaps and Secrets read for it.

    The order is ESO's ``ApplyTemplate``: the generator's keys (with no template data, or ``mergePolicy:
    Merge``), then each ``templateFrom`` source in order, then ``template.data``, which wins; labels and
    annotations likewise."""
    tpl = target.template
    where = f"{target.source_kind} {target.namespace}/{target.name}"
    secret_type = tpl.type or "Opaque"
    # dataFrom[].rewrite renames the generator's keys before templating, as ESO does (names worked out in config).
    generated = {new: outputs[key] for key, new in target.key_names}
    outputs = {**{k: v for k, v in outputs.items() if k not in ("username", "password")}, **generated}
    # With no template, ESO copies the ExternalSecret's own labels and annotations, as they are.
    labels = dict(tpl.copied_labels)
    annotations = dict(tpl.copied_annotations)
    if not tpl.data and not tpl.template_from:  # ESO: len(Data) == 0 and len(TemplateFrom) == 0
        if secret_type == DOCKERCONFIGJSON and not target.rewrites:
            data = {".dockerconfigjson": dockerconfigjson(gen.registry, outputs["username"], outputs["password"])}
        else:
            data = dict(generated)
    else:
        data = dict(generated) if tpl.merge_policy == "Merge" else {}
        places = {"Data": data, "Labels": labels, "Annotations": annotations}
        for index, source in enumerate(tpl.template_from):
            for key, value in _template_from(source, index, sources or {}, outputs, where, budget):
                if source.target != "Data" and key.startswith(RESERVED_PREFIXES):
                    # A tenant's template must not forge our records (acr-refresh/created would make a Secret
                    # prunable) nor ESO's marks (the target would be refused as ESO's ever after).
                    raise RenderError(f"{where}: templateFrom[{index}]: {source.target.lower()[:-1]} {key} is "
                                      "reserved (acr-refresh/ and reconcile.external-secrets.io/ keys are not "
                                      "written from templates)")
                places[source.target][key] = value
        if tpl.data:
            data.update(_render_data(tpl.data, outputs, where, budget))
        total = sum(_size(k) + _size(v) for k, v in data.items())
        if total > MAX_SECRET_DATA:
            raise RenderError(f"{where}: refused: the Secret's data would exceed {MAX_SECRET_DATA // 1024} KiB "
                              "(Kubernetes' limit for a Secret)")
    for value in data.values():  # as the API server may echo it back: base64, whole
        redact.register_encoded(value)
    labels.update({k: _render(v, outputs, where, f"labels.{k}", budget) for k, v in tpl.labels})
    labels[MANAGED_BY_LABEL] = MANAGED_BY
    annotations.update({k: _render(v, outputs, where, f"annotations.{k}", budget) for k, v in tpl.annotations})
    annotations.update({
        GENERATOR_ANNOTATION: gen.key,
        TARGET_ANNOTATION: target.key,
        ISSUED_ANNOTATION: rfc3339(issued_at) or "",
        EXPIRES_ANNOTATION: rfc3339(expires_at) or "",
        HASH_ANNOTATION: inputs_hash(target, gen),
    })
    return DesiredSecret(namespace, target.secret_name, secret_type, labels, annotations, data,
                         finalizers=tpl.finalizers, immutable=target.immutable)


def _template_from(source: TemplateFrom, index: int, sources: Sources, outputs: dict[str, Any], where: str,
                   budget: RenderBudget | None) -> list[tuple[str, str]]:
    """The ``(key, value)`` pairs one ``templateFrom`` source gives (ESO's ``Parser.MergeConfigMap``,
    ``MergeSecret``, ``MergeLiteral`` with engine v2's ``Execute``). A ConfigMap or Secret is a tenant's:
    what it holds is never echoed, only its name and the key."""
    field_name = f"templateFrom[{index}]"
    if source.source == "literal":
        return _key_values(_render(source.literal, outputs, where, f"{field_name}.literal", budget), source,
                           where, f"{field_name}.literal")
    kind = "configmap" if source.source == "configMap" else "secret"
    held = sources.get((source.source, source.name))
    if held is None:
        raise RenderError(f"{where}: {field_name}: {kind} {source.name} was not read")
    out: list[tuple[str, str]] = []
    for key, scope in source.items:
        if key not in held:
            raise RenderError(f"{where}: {field_name}: error in {kind} {source.name}: missing key {key}")
        text = held[key]
        if text is None:
            raise RenderError(f"{where}: {field_name}: {kind} {source.name} key {key} is not UTF-8 text, so not a "
                              "template")
        if kind == "secret" and redact.can_redact(text):
            redact.register(text)  # what a Secret holds is secret, its template too
        if len(text.encode()) > MAX_TEMPLATE_SOURCE:
            raise RenderError(f"{where}: {field_name}: {kind} {source.name} key {key} is larger than "
                              f"{MAX_TEMPLATE_SOURCE // 1024} KiB (the most a template from a cluster may hold)")
        try:
            rendered = _render(text, outputs, where, f"{field_name}.{key}", budget)
        except RenderError as exc:
            if kind != "secret":
                raise
            # A Secret's template is secret: its own error text (a `fail` message, a quoted token) is not shown.
            raise RenderError(f"{where}: {field_name}: the template in secret {source.name} key {key} failed "
                              "(its message is not shown: it may hold what the Secret holds)") from exc.__cause__
        if scope == "Values":
            out.append((key, _decode(source.decoding, rendered, where, f"{field_name}.{key}")))
        else:
            out.extend(_key_values(rendered, source, where, f"{field_name}.{key}"))
    return out


def literal_pairs(source: TemplateFrom, outputs: Mapping[str, Any], where: str) -> list[tuple[str, str]]:
    """What a ``templateFrom`` literal gives with ``outputs`` (the trial render runs it with placeholders, so
    ``validate`` finds a literal that renders no YAML map or an undecodable value). Raises RenderError."""
    pairs = _key_values(_render(source.literal, dict(outputs), where, "templateFrom.literal"), source, where,
                        "templateFrom.literal")
    if source.target == "Data":
        bad = [k for k, _ in pairs if not _SECRET_KEY.fullmatch(k)]
        if bad:
            raise RenderError(f"{where}: templateFrom.literal: {bad[0]!r} is not a valid Secret data key")
    return pairs


def _key_values(rendered: str, source: TemplateFrom, where: str, field_name: str) -> list[tuple[str, str]]:
    """A rendered ``KeysAndValues`` template: a YAML map read as sigs.k8s.io/yaml reads it into a
    ``map[string]string`` (yaml.v2's YAML 1.1; numbers and booleans become their Go text; a list or a map as a
    value, or YAML that does not parse, is ESO's "could not unmarshal" error)."""
    import yaml

    from .gotemplate.funcs.eso import yaml_v2_loader

    refused = RenderError(f"{where}: {field_name}: could not unmarshal template to 'map[string][]byte' (a YAML "
                          "map of keys and scalar values)")
    with _slots:
        try:
            parsed = next(iter(yaml.load_all(rendered, Loader=yaml_v2_loader())), None)
        except (yaml.YAMLError, RecursionError) as exc:
            raise refused from exc
    if parsed is None:
        return []
    if not isinstance(parsed, dict):
        raise refused
    out = []
    for k, v in parsed.items():
        key, value = _go_scalar(k), "" if v is None else _go_scalar(v)
        if key is None or value is None:
            raise refused
        out.append((key, _decode(source.decoding, value, where, field_name)))
    return out


def _go_scalar(v: Any) -> str | None:
    """A YAML scalar as sigs.k8s.io/yaml writes it into a Go string (``convertToJSONableObject``): ints in base
    10, floats as ``strconv.FormatFloat(f, 'g', -1, 32)``, booleans ``true``/``false``; None for anything else."""
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return _go_float32_g(v)
    return None


def _go_float32_g(f: float) -> str | None:
    """Go's ``FormatFloat(f, 'g', -1, 32)``: the shortest digits that read back as the same float32, in ``%e``
    form when the exponent is below -4 or at least 6 (strconv's rule for the shortest form)."""
    import math
    import struct

    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    try:
        f32 = struct.unpack("f", struct.pack("f", f))[0]
    except OverflowError:
        return "+Inf" if f > 0 else "-Inf"
    if f32 == 0:
        return "-0" if math.copysign(1, f32) < 0 else "0"
    for digits in range(1, 10):
        text = f"{f32:.{digits - 1}e}"
        if struct.unpack("f", struct.pack("f", float(text)))[0] == f32:
            break
    mantissa, _, exp_text = text.partition("e")
    exp = int(exp_text)
    sign = "-" if mantissa.startswith("-") else ""
    figures = mantissa.lstrip("-").replace(".", "").rstrip("0") or "0"
    if exp < -4 or exp >= 6:
        body = figures[0] + ("." + figures[1:] if len(figures) > 1 else "")
        return f"{sign}{body}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if exp < 0:
        return f"{sign}0.{'0' * (-exp - 1)}{figures}"
    whole, frac = figures[:exp + 1].ljust(exp + 1, "0"), figures[exp + 1:]
    return f"{sign}{whole}{'.' + frac if frac else ''}"


_ALPHABETS = {"Base64": ("+/",), "Base64URL": ("-_",), "Auto": ("+/", "-_")}
"""The base64 alphabets (their two last characters) each ``valuesDecodingStrategy`` tries, in order."""


def _decode(strategy: str, value: str, where: str, field_name: str) -> str:
    """``valuesDecodingStrategy`` (ESO's ``decoding.Decode``): None, Base64, Base64URL (padded, as Go's
    ``StdEncoding``/``URLEncoding``), or Auto (either, else the value as it is). Decoded bytes must be UTF-8
    text: acr-refresh writes text."""
    if strategy in ("None", ""):
        return value
    raw = value.replace("\r", "").replace("\n", "")  # Go's base64 decoder skips line breaks
    for alt in _ALPHABETS[strategy]:
        other = "-_" if alt == "+/" else "+/"
        if any(c in raw for c in other):
            continue
        try:
            out = base64.b64decode(raw.translate(str.maketrans(alt, "+/")), validate=True)
        except ValueError:
            continue
        try:
            return out.decode()
        except UnicodeDecodeError as exc:
            raise RenderError(f"{where}: {field_name}: the decoded value is not UTF-8 text") from exc
    if strategy == "Auto":
        return value
    raise RenderError(f"{where}: {field_name}: the rendered value is not valid {strategy}")


def render_vault_value(target: KeyVaultTarget, outputs: dict[str, Any], budget: RenderBudget | None = None) -> str:
    """The Key Vault secret value for ``target`` (its ``value`` template, default the password)."""
    where = f"KeyVaultSecret {target.namespace}/{target.name}"
    value = _render(target.value, outputs, where, "value", budget)
    if _size(value) > MAX_VAULT_VALUE:
        raise RenderError(f"{where}: value: refused: larger than {MAX_VAULT_VALUE // 1024} KiB (Key Vault's limit "
                          "for a secret value)")
    return value


def vault_tags(target: KeyVaultTarget, gen: Generator) -> dict[str, str]:
    """The user's tags plus ours: generator, registry and inputs hash."""
    tags = dict(target.tags)
    tags.update({GENERATOR_TAG: gen.key, REGISTRY_TAG: gen.registry, HASH_TAG: inputs_hash(target, gen)})
    return tags
