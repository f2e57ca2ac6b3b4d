"""The Azure Functions triggers' logic (``function_app.py`` only declares the bindings and calls in here).

- Timer: load ``ACR_REFRESH_CONFIG``, run, log one line per generator and target, and raise after
  everything was attempted when anything failed, so the invocation fails and Azure Monitor alerts fire.
- ``POST /api/refresh``: optional JSON body ``{"generators": [...], "dryRun": bool, "force": bool}``;
  answers the JSON report (never a token): 200 ok, 502 something failed, 400 bad body, 503 invalid config,
  409 while another run is in progress in this instance.
- ``GET /api/plan``: the validated plan, templates trial-rendered as ``validate`` does (503 when one fails).

Runs in one instance never overlap (a non-blocking lock). The :class:`~acr_refresh.run.Services` object is
kept between invocations of a warm instance, so credentials are reused from memory.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

APP_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = "config"
# Azure's front end cuts an HTTP request at 230 s; stay well under it.
HTTP_DEADLINE_SECONDS = 200.0
# host.json's functionTimeout is 10 minutes; the timer's own deadline leaves time to report.
TIMER_DEADLINE_SECONDS = 540.0
MAX_BODY_BYTES = 16 * 1024
BODY_FIELDS = {"generators", "dryRun", "force"}

_run_lock = threading.Lock()
_services: Any = None
_services_lock = threading.Lock()


class BadRequest(ValueError):
    """A request body the HTTP trigger refuses with 400."""


@dataclass(frozen=True)
class Answer:
    """An HTTP answer before it becomes a ``func.HttpResponse``."""

    status: int
    body: dict[str, Any]


def config_path(environ: Mapping[str, str] | None = None) -> str:
    """``ACR_REFRESH_CONFIG`` (absolute, or relative to the app root), default ``config/`` in the app."""
    env = os.environ if environ is None else environ
    raw = env.get("ACR_REFRESH_CONFIG", "").strip() or DEFAULT_CONFIG
    path = Path(raw)
    return str(path if path.is_absolute() else APP_ROOT / path)


def _deadline(environ: Mapping[str, str], default: float) -> float:
    """``ACR_REFRESH_DEADLINE`` capped at ``default``. Raises ValueError naming the setting."""
    raw = environ.get("ACR_REFRESH_DEADLINE", "").strip()
    if not raw:
        return default
    from .durations import parse_duration

    try:
        return min(parse_duration(raw).total_seconds(), default)
    except ValueError as exc:
        raise ValueError(f"ACR_REFRESH_DEADLINE: {exc}") from exc


def _shared_services(config: Any, environ: Mapping[str, str]) -> Any:
    """One Services per warm instance (the config's clusters are registered at each run)."""
    global _services
    from .run import Services

    with _services_lock:
        if _services is None:
            raw = environ.get("ACR_REFRESH_CONCURRENCY", "16") or "16"
            concurrency = int(raw) if raw.strip().isdigit() else 16
            _services = Services(pool_size=concurrency, clusters=config.clusters)
        return _services


def parse_body(raw: bytes) -> dict[str, Any]:
    """Validate the HTTP trigger's body: at most 16 KiB of a JSON object with only known fields."""
    if len(raw) > MAX_BODY_BYTES:
        raise BadRequest(f"body larger than {MAX_BODY_BYTES} bytes")
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"body is not valid JSON: {exc}") from exc
    except RecursionError as exc:  # 16 KiB of '[' is deeper than the parser's recursion limit
        raise BadRequest("body is nested too deeply (a JSON object of flat fields is expected)") from exc
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object")
    unknown = sorted(set(body) - BODY_FIELDS)
    if unknown:
        raise BadRequest(f"unknown field(s): {', '.join(unknown)}; allowed: {', '.join(sorted(BODY_FIELDS))}")
    gens = body.get("generators", [])
    if not isinstance(gens, list) or not all(isinstance(g, str) and g for g in gens):
        raise BadRequest("generators must be a list of 'namespace/name' strings")
    for key in ("dryRun", "force"):
        if key in body and not isinstance(body[key], bool):
            raise BadRequest(f"{key} must be true or false")
    return body


def _options(environ: Mapping[str, str], deadline: float, body: Mapping[str, Any] | None = None) -> Any:
    """Run options from app settings and the request body. Raises ValueError naming a bad setting."""
    from .run import RunOptions

    body = body or {}
    raw = environ.get("ACR_REFRESH_CONCURRENCY", "16") or "16"
    if not raw.strip().isdigit() or not 1 <= int(raw) <= 1024:
        raise ValueError(f"ACR_REFRESH_CONCURRENCY must be a whole number from 1 to 1024, got {raw!r}")
    return RunOptions(
        generators=tuple(body.get("generators", ())),
        dry_run=bool(body.get("dryRun", False)),
        force=bool(body.get("force", False)),
        concurrency=int(environ.get("ACR_REFRESH_CONCURRENCY", "16") or 16),
        deadline_seconds=deadline,
    )


def refresh(raw_body: bytes, environ: Mapping[str, str] | None = None) -> Answer:
    """The HTTP trigger: run (or refuse) and answer with the report."""
    from .config import load_config
    from .errors import ConfigError, UsageError
    from .redact import scrub
    from .run import run

    env = os.environ if environ is None else environ
    try:
        body = parse_body(raw_body)
    except BadRequest as exc:
        return Answer(400, {"ok": False, "error": scrub(str(exc))})
    if not _run_lock.acquire(blocking=False):
        return Answer(409, {"ok": False, "error": "a run is already in progress in this instance; retry later"})
    try:
        try:
            config = load_config(config_path(env), strict=_strict(env), environ=env)
        except ConfigError as exc:
            return Answer(503, {"ok": False, "error": scrub(f"invalid config: {exc}")})
        try:
            metrics = _metrics_settings(env)
            options = _reserve(_options(env, _deadline(env, HTTP_DEADLINE_SECONDS), body), metrics)
        except ValueError as exc:
            return Answer(503, {"ok": False, "error": scrub(f"invalid app setting: {exc}")})
        before = _counts()
        try:
            report = run(config, options, services=_shared_services(config, env))
        except UsageError as exc:
            return Answer(400, {"ok": False, "error": scrub(str(exc))})
        _deliver(report, metrics, before, options, env)
        _log_summary(report)
        return Answer(200 if report.ok else 502, report.to_dict())
    finally:
        _run_lock.release()


def plan(environ: Mapping[str, str] | None = None) -> Answer:
    """``GET /api/plan``: the validated plan, or 503 with the config error."""
    from .config import load_config
    from .errors import ConfigError
    from .plan import plan_dict
    from .redact import scrub
    from .trial import trial_config

    env = os.environ if environ is None else environ
    try:
        config = trial_config(load_config(config_path(env), strict=_strict(env), environ=env), strict=_strict(env))
    except ConfigError as exc:
        return Answer(503, {"ok": False, "error": scrub(f"invalid config: {exc}")})
    return Answer(200, plan_dict(config))


class RunFailed(RuntimeError):
    """Raised by the timer after a run in which something failed, so the invocation counts as failed."""


def timer(past_due: bool = False, environ: Mapping[str, str] | None = None) -> Any:
    """The timer trigger. Skips (with a log line) while another run is in progress in this instance."""
    from .config import load_config
    from .run import run

    env = os.environ if environ is None else environ
    if past_due:
        log.warning("timer is past due; running now")
    if not _run_lock.acquire(blocking=False):
        log.warning("previous run still in progress in this instance; skipping this schedule")
        return None
    try:
        config = load_config(config_path(env), strict=_strict(env), environ=env)
        for warning in config.warnings:
            log.warning(warning)
        metrics = _metrics_settings(env)
        options = _reserve(_options(env, _deadline(env, TIMER_DEADLINE_SECONDS)), metrics)
        before = _counts()
        report = run(config, options, services=_shared_services(config, env))
        _deliver(report, metrics, before, options, env)
    finally:
        _run_lock.release()
    _log_summary(report)
    if not report.ok:
        failures = report.failures()
        raise RunFailed(f"{len(failures)} failure(s): " + "; ".join(failures[:5]))
    return report


def _metrics_settings(environ: Mapping[str, str]) -> Any:
    """``ACR_REFRESH_METRICS`` (pushgateway, otlp, azure-monitor; off when unset: an
    APPLICATIONINSIGHTS_CONNECTION_STRING alone turns nothing on), ``ACR_REFRESH_PUSHGATEWAY_URL``,
    ``ACR_REFRESH_METRICS_FILE``. Raises ValueError naming the setting."""
    from .metrics import MetricsSettings, problem

    settings = MetricsSettings(backend=environ.get("ACR_REFRESH_METRICS", "").strip().lower(),
                               pushgateway_url=environ.get("ACR_REFRESH_PUSHGATEWAY_URL", "").strip(),
                               file=environ.get("ACR_REFRESH_METRICS_FILE", "").strip())
    trouble = problem(settings, environ) if settings.enabled else None
    if trouble:
        raise ValueError(f"ACR_REFRESH_METRICS: {trouble}")
    return settings


def _reserve(options: Any, metrics: Any) -> Any:
    """With metrics on, the run's own work stops earlier, so that delivery fits inside the deadline."""
    import dataclasses

    if not metrics.enabled or options.deadline_seconds is None:
        return options
    deadline = options.deadline_seconds
    return dataclasses.replace(options, deadline_seconds=deadline - min(metrics.budget_seconds, deadline / 2))


def _counts() -> Any:
    from . import telemetry

    return telemetry.snapshot()


def _deliver(report: Any, metrics: Any, before: Any, options: Any, environ: Mapping[str, str]) -> None:
    """Deliver the run's metrics (only when enabled; a failure is a warning in the report)."""
    if not metrics.enabled:
        return
    from . import telemetry
    from .metrics import deliver

    deliver(report, metrics, counts=telemetry.snapshot() - before, shard=options.shard,
            selected=bool(options.generators), environ=environ)


def _strict(environ: Mapping[str, str]) -> bool:
    return environ.get("ACR_REFRESH_STRICT", "").strip().lower() in ("1", "true", "yes", "on")


def _log_summary(report: Any) -> None:
    """One line per generator and per target, for the Functions host's logs and Application Insights."""
    for g in report.generators:
        level = logging.INFO if g.status in ("ok", "fresh") else logging.ERROR
        log.log(level, "generator %s %s", g.key, g.status,
                extra={"generator": g.key, "status": g.status, "error": g.error})
        for t in g.targets:
            where = (f"{t.vault}/{t.secret_name}" if t.kind == "KeyVaultSecret"
                     else f"{t.cluster}/{t.namespace}/{t.name}")
            level = logging.INFO if t.status in ("written", "fresh", "skipped") else logging.ERROR
            log.log(level, "target %s %s %s", t.kind, where, t.status,
                    extra={"generator": g.key, "status": t.status, "error": t.error})
