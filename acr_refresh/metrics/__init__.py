"""Metrics of a run (``docs/operations.md``): the series, and their delivery to one backend.

Off unless ``--metrics pushgateway|otlp|azure-monitor`` (``ACR_REFRESH_METRICS``) says which backend, or
``--metrics-file`` asks for the exposition text in a file: an ``APPLICATIONINSIGHTS_CONNECTION_STRING`` or an
``OTEL_*`` variable alone turns nothing on. This module is light; each backend's module (and its client
library) is imported only when that backend is enabled, so cold start stays as it is.

Modules, one job each: :mod:`.series` (the series from a report; pure), :mod:`.prometheus` (text
exposition), :mod:`.pushgateway`, :mod:`.otlp`, :mod:`.azure_monitor` (delivery), :mod:`.otel` (the series
as OpenTelemetry gauges).

A backend that fails or does not answer costs at most :data:`BUDGET_SECONDS`, adds a warning to the report
and never changes the exit status.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

BACKENDS = ("pushgateway", "otlp", "azure-monitor")
BUDGET_SECONDS = 5.0
"""The most one delivery may take, all its requests together."""


class MetricsError(Exception):
    """A backend refused, failed or did not answer in time. The text names no URL userinfo and no secret."""


@dataclass(frozen=True)
class MetricsSettings:
    """Where a run's metrics go."""

    backend: str = ""
    """One of :data:`BACKENDS`, or '' (off)."""
    pushgateway_url: str = ""
    """The Pushgateway's base URL (``--pushgateway-url``), for the ``pushgateway`` backend."""
    file: str = ""
    """Also write the text exposition here (``--metrics-file``; node_exporter's textfile collector reads it)."""
    budget_seconds: float = BUDGET_SECONDS
    """The most one delivery may take."""

    @property
    def enabled(self) -> bool:
        return bool(self.backend or self.file)


def where(url: str) -> str:
    """A URL for messages: scheme, host and port, never userinfo, path or query."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{parts.scheme}://{parts.hostname or ''}" + (f":{port}" if port else "")


def problem(settings: MetricsSettings, environ: Mapping[str, str]) -> str | None:
    """What makes ``settings`` unusable (a usage error before anything runs), or None."""
    if settings.backend and settings.backend not in BACKENDS:
        return f"--metrics: expected one of {', '.join(BACKENDS)}, got {settings.backend!r}"
    if settings.backend == "pushgateway" and not settings.pushgateway_url:
        return "--metrics pushgateway needs --pushgateway-url URL (or ACR_REFRESH_PUSHGATEWAY_URL)"
    if settings.pushgateway_url and not settings.pushgateway_url.startswith(("http://", "https://")):
        return "--pushgateway-url: expected an http:// or https:// URL"
    if settings.backend == "azure-monitor" and not environ.get("APPLICATIONINSIGHTS_CONNECTION_STRING", "").strip():
        return "--metrics azure-monitor needs APPLICATIONINSIGHTS_CONNECTION_STRING"
    return None


def deliver(report: Any, settings: MetricsSettings, *, counts: Any = None, shard: tuple[int, int] | None = None,
            selected: bool = False, environ: Mapping[str, str] | None = None, final: bool = False) -> list[str]:
    """Build the run's series and deliver them; returns the warnings, which are also added to ``report``.
    Never raises for a backend's failure. ``final``: the process ends after this run (the CLI)."""
    if not settings.enabled:
        return []
    import os

    from ..redact import scrub
    from .series import from_report

    env = os.environ if environ is None else environ
    series = from_report(report, counts, shard=shard, selected=selected)
    warnings: list[str] = []

    def attempt(what: str, fn: Any) -> None:
        try:
            fn()
        except MetricsError as exc:
            warnings.append(f"metrics: {what}: {exc}; not delivered (the exit status is unchanged)")
        except ImportError as exc:
            warnings.append(f"metrics: {what} needs {exc.name or 'its client library'} "
                            "(pip install 'acr-refresh[metrics]'); not delivered")
        except Exception as exc:  # noqa: BLE001 - metrics never change a run's outcome
            warnings.append(f"metrics: {what}: unexpected {type(exc).__name__}; not delivered")

    if settings.file:
        def to_file() -> None:
            from .prometheus import write_file

            try:
                write_file(settings.file, series.samples)
            except OSError as exc:
                raise MetricsError(f"cannot write ({exc.strerror or type(exc).__name__})") from exc

        attempt(f"file {settings.file}", to_file)
    if settings.backend == "pushgateway":
        def to_gateway() -> None:
            from .pushgateway import push

            kept = push(settings.pushgateway_url, series, timeout=settings.budget_seconds)
            log.info("metrics pushed", extra={"pushgateway": where(settings.pushgateway_url), "carriedOver": kept})

        attempt(f"Pushgateway {where(settings.pushgateway_url)}", to_gateway)
    elif settings.backend == "otlp":
        def to_otlp() -> None:
            from .otlp import export

            export(series, timeout=settings.budget_seconds)

        attempt("OTLP exporter", to_otlp)
    elif settings.backend == "azure-monitor":
        def to_azure() -> None:
            from .azure_monitor import export

            export(series, connection_string=env.get("APPLICATIONINSIGHTS_CONNECTION_STRING", "").strip(),
                   timeout=settings.budget_seconds, final=final)

        attempt("Azure Monitor", to_azure)
    warnings = [scrub(w) for w in warnings]
    for w in warnings:
        log.warning(w)
    report.warnings.extend(warnings)
    return warnings
