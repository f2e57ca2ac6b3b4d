"""The trial render: every template of every target executed once, before any token is minted. Pure.

The static check (:meth:`~acr_refresh.gotemplate.Template.check`) finds syntax errors, unknown keys and
calls that fail whenever they run. Some errors show only with data: ``index (split "." .password) 5`` out of
range, ``.expiresAt.Unix`` on a string, ``toDate`` given a layout the value does not match. So each
template also runs once with placeholder outputs of the real shapes:

- ``username``: the null GUID ACR expects beside a token;
- ``password``: a JWT-shaped string (three base64url segments, with the claims ACR's tokens carry);
- ``registry`` and ``tokenType``: the generator's own;
- ``expiresAt``: RFC 3339 UTC with a ``Z``, as a real run renders it.

``validate`` and ``GET /api/plan`` run it (:func:`trial_config`): a template that fails is refused there
(exit 2 / 503 naming file, document and field), where a real run would fail that target after minting.
Where the engine reports a soft failure (a Sprig function that returns an error text or an empty value
instead of failing, by design), it becomes a warning naming the key and the function, which ``--strict``
turns into an error. Rendered sizes are held to the limits a run enforces.

``run`` does not trial-render: a run renders real outputs moments later, each target inside its own error
boundary, so a template that fails there fails its target only. Refusing a whole fleet's run over a
placeholder's verdict would let one template stop every other target.
"""

from __future__ import annotations

import base64
import hashlib
import inspect
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from .errors import ConfigError

if TYPE_CHECKING:
    from .config import Config, Generator, KeyVaultTarget, KubernetesTarget

PLACEHOLDER_USERNAME = "00000000-0000-0000-0000-000000000000"
"""ACR's fixed user name beside a token (``acr.ACR_USERNAME``; not imported, to keep requests off this path)."""
# About what ACR issues: a refresh token lives ~3 h, an access token ~75 min.
_LIFETIMES = {"refresh": timedelta(hours=3), "access": timedelta(minutes=75)}
# The sizes a run enforces (render.MAX_SECRET_DATA, render.MAX_VAULT_VALUE), repeated to keep render's
# imports off validate's path; tests hold them equal.
MAX_SECRET_DATA = 1024 * 1024
MAX_VAULT_VALUE = 25 * 1024


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def placeholder_password(registry: str, token_type: str, now: datetime) -> str:
    """A JWT-shaped stand-in for a registry token: header, ACR's claims, a 256-byte RS256-sized signature."""
    header = {"alg": "RS256", "typ": "JWT", "kid": "TRIAL:RENDER:ACR:REFRESH:0000:0000:0000:0000:0000:0000"}
    iat = int(now.timestamp())
    claims = {
        "jti": "00000000-0000-0000-0000-000000000001", "sub": "trial-render@acr-refresh", "nbf": iat, "iat": iat,
        "exp": iat + int(_LIFETIMES.get(token_type, _LIFETIMES["refresh"]).total_seconds()),
        "iss": "Azure Container Registry", "aud": registry, "version": "1.0",
        "grant_type": "refresh_token" if token_type == "refresh" else "access_token",
        "tenant": "00000000-0000-0000-0000-000000000000", "permissions": {"actions": ["read"]},
    }
    signature = b"".join(hashlib.sha256(f"{registry}:{i}".encode()).digest() for i in range(8))
    return ".".join((_b64url(json.dumps(header, separators=(",", ":")).encode()),
                     _b64url(json.dumps(claims, separators=(",", ":")).encode()), _b64url(signature)))


def placeholder_outputs(gen: Generator, now: datetime | None = None) -> dict[str, str]:
    """The template data a run would give ``gen``'s targets, with placeholder credentials."""
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    expires = now + _LIFETIMES.get(gen.token_type, _LIFETIMES["refresh"])
    return {
        "username": PLACEHOLDER_USERNAME,
        "password": placeholder_password(gen.registry, gen.token_type, now),
        "registry": gen.registry,
        "tokenType": gen.token_type,
        "expiresAt": expires.astimezone(UTC).isoformat().replace("+00:00", "Z"),
    }


@dataclass(frozen=True)
class _Outcome:
    """One template's trial: its output size, the error it raised, the soft failures it reported."""

    size: int = 0
    error: str = ""
    soft: tuple[str, ...] = ()


def _soft_failure_hook() -> str | None:
    """The keyword of ``Template.execute`` that collects soft failures, if the engine offers one.

    The engine may report Sprig's by-design soft failures (``b64dec``/``fromJson`` returning an error text or
    an empty value) through a list passed as ``soft_failures=`` (or ``warnings=``); each entry a message
    naming the function. Without such a keyword there is nothing to report, and rendering is unchanged.
    """
    from .gotemplate import Template

    params = inspect.signature(Template.execute).parameters
    return next((name for name in ("soft_failures", "warnings") if name in params), None)


class _Trial:
    """Runs templates once per (source, data) and remembers the outcome: fan-out targets share templates."""

    def __init__(self, now: datetime | None) -> None:
        self.now = now
        self.hook = _soft_failure_hook()
        self._outputs: dict[tuple[str, str], dict[str, str]] = {}
        self._memo: dict[tuple[str, str, tuple[tuple[str, str], ...]], _Outcome] = {}

    def outputs(self, gen: Generator) -> dict[str, str]:
        key = (gen.registry, gen.token_type)
        if key not in self._outputs:
            self._outputs[key] = placeholder_outputs(gen, self.now)
        return self._outputs[key]

    def run(self, name: str, source: str, data: Mapping[str, str]) -> _Outcome:
        memo_key = (name, source, tuple(sorted(data.items())))
        if memo_key not in self._memo:
            self._memo[memo_key] = self._execute(name, source, data)
        return self._memo[memo_key]

    def _execute(self, name: str, source: str, data: Mapping[str, str]) -> _Outcome:
        from .gotemplate import StringMap, TemplateError, parse

        soft: list[Any] = []
        kwargs: dict[str, Any] = {self.hook: soft} if self.hook else {}
        try:
            out = parse(source, name=name).execute(StringMap(dict(data)), **kwargs)
        except TemplateError as exc:
            return _Outcome(error=str(exc))
        size = len(out) if out.isascii() else len(out.encode())
        return _Outcome(size=size, soft=tuple(str(s) for s in soft))


def _template_path(target: KubernetesTarget) -> str:
    return "spec.target.template" if target.source_kind == "ExternalSecret" else "spec.template"


def trial_render(generators: Mapping[str, Generator], kube_targets: Iterable[KubernetesTarget],
                 vault_targets: Iterable[KeyVaultTarget], *, now: datetime | None = None) -> list[str]:
    """Render every target's templates once with :func:`placeholder_outputs` of its generator.

    Returns warnings (soft failures, each naming the object, the key and the function); raises
    :class:`ConfigError` naming the object and the field for a template that fails or output too large.
    """
    trial = _Trial(now)
    warnings: list[str] = []

    def check(target: Any, field_path: str, outcome: _Outcome) -> None:
        if outcome.error:
            raise ConfigError(f"{outcome.error} (trial render with placeholder credentials; a run would fail "
                              "here after minting)", location=target.location, field=field_path)
        for soft in outcome.soft:
            warnings.append(f"{target.location}: {field_path}: {soft} (trial render with placeholder "
                            "credentials; a run writes it as ESO would)")

    for kt in kube_targets:
        gen = generators.get(kt.generator) or generators.get(kt.key)  # per namespace: a representative
        if gen is None:  # its generator exists in no namespace: each namespace fails at run time, named
            continue
        data = trial.outputs(gen)
        if any(k != n for k, n in kt.key_names):  # dataFrom[].rewrite: templates see the renamed keys
            renamed = {n: data[k] for k, n in kt.key_names}
            data = {**{k: v for k, v in data.items() if k not in ("username", "password")}, **renamed}
        base = _template_path(kt)
        tpl = kt.template
        for i, origin in enumerate(tpl.template_from):  # cluster sources are read, and rendered, by a run
            if origin.source == "literal":
                field_path = f"{base}.templateFrom[{i}].literal"
                check(kt, field_path, trial.run(f"templateFrom[{i}]", origin.literal, data))
                from .render import RenderError, literal_pairs  # only for a config with a literal

                try:
                    literal_pairs(origin, data, f"{kt.source_kind} {kt.namespace}/{kt.name}")
                except RenderError as exc:
                    raise ConfigError(f"{exc} (trial render with placeholder credentials; a run would fail "
                                      "here after minting)", location=kt.location, field=field_path) from exc
        total = 0
        for key, source in tpl.data or ():
            outcome = trial.run(f"data.{key}", source, data)
            check(kt, f"{base}.data.{key}", outcome)
            total += len(key) + outcome.size
            if total > MAX_SECRET_DATA:
                raise ConfigError(f"the Secret's data would exceed {MAX_SECRET_DATA // 1024} KiB (Kubernetes' "
                                  "limit for a Secret) (trial render with placeholder credentials)",
                                  location=kt.location, field=f"{base}.data.{key}")
        for section, items in (("labels", tpl.labels), ("annotations", tpl.annotations)):
            for key, source in items:
                check(kt, f"{base}.metadata.{section}.{key}", trial.run(f"{section}.{key}", source, data))
    for vt in vault_targets:
        outcome = trial.run("value", vt.value, trial.outputs(generators[vt.generator]))
        check(vt, "spec.value", outcome)
        if outcome.size > MAX_VAULT_VALUE:
            raise ConfigError(f"larger than {MAX_VAULT_VALUE // 1024} KiB (Key Vault's limit for a secret value) "
                              "(trial render with placeholder credentials)", location=vt.location,
                              field="spec.value")
    return warnings


def trial_config(config: Config, *, strict: bool = False, now: datetime | None = None) -> Config:
    """``config`` with the trial render's warnings added (the plan shows them), or :class:`ConfigError` for a
    template that fails, and with ``strict`` for the first warning."""
    from .config.cluster import representatives

    generators = {g.key: g for g in config.generators} | representatives(config)
    found = trial_render(generators, config.kube_targets, config.vault_targets, now=now)
    if strict and found:
        raise ConfigError(f"{found[0]} (--strict turns warnings into errors)")
    return replace(config, warnings=(*config.warnings, *found)) if found else config
