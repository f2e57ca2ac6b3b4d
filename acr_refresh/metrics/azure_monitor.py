"""Delivery to Azure Monitor (Application Insights) through Microsoft's OpenTelemetry distro, metrics only.

``configure_azure_monitor`` is called once per process with log and trace collection off and every
instrumentation off: the distro's logging handler would ship our log records (and exceptions) around our
redaction, and its HTTP instrumentations would record URLs. Statsbeat, SDK stats, the OneSettings control
plane and live metrics are off too, so nothing goes anywhere but the connection string's ingestion
endpoint; offline storage (retrying failed exports from a temp directory later) is off, so a failed export
is a warning of this run, not a file. A test decodes what reaches a local ingestion endpoint.

The meter provider lives as long as the process (the Functions app keeps it between invocations): its
gauges report the newest run's series; :func:`export` flushes after each run. The CLI passes ``final``,
which shuts the provider down instead (one export, and nothing left to export at exit).
"""

from __future__ import annotations

import os
import threading
from typing import Any

from . import MetricsError
from .otel import SCOPE, Latest, Outcomes, bounded, register
from .series import RunSeries

QUIET = {
    "APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL": "true",
    "APPLICATIONINSIGHTS_SDKSTATS_DISABLED": "true",
    "APPLICATIONINSIGHTS_CONTROLPLANE_DISABLED": "true",
}
DEFAULT_SERVICE_NAME = "acr-refresh"

_lock = threading.Lock()
_latest = Latest()
_state: dict[str, Any] = {}


def _configure(connection_string: str, timeout: float) -> dict[str, Any]:
    for key, value in QUIET.items():
        os.environ.setdefault(key, value)
    os.environ.setdefault("OTEL_SERVICE_NAME", DEFAULT_SERVICE_NAME)
    from azure.monitor.opentelemetry import configure_azure_monitor
    from azure.monitor.opentelemetry._constants import _ALL_SUPPORTED_INSTRUMENTED_LIBRARIES
    from opentelemetry import metrics

    configure_azure_monitor(
        connection_string=connection_string,
        disable_logging=True,
        disable_tracing=True,
        disable_metrics=False,
        enable_live_metrics=False,
        enable_performance_counters=False,
        disable_offline_storage=True,
        instrumentation_options={name: {"enabled": False} for name in _ALL_SUPPORTED_INSTRUMENTED_LIBRARIES},
        timeout=timeout,
    )
    provider = metrics.get_meter_provider()
    outcomes = Outcomes()
    for reader in getattr(provider, "_metric_readers", ()):  # the SDK's readers ignore export results
        exporter = getattr(reader, "_exporter", None)
        if exporter is not None:
            outcomes.wrap(exporter)
    register(provider.get_meter(SCOPE), _latest)
    return {"provider": provider, "outcomes": outcomes, "connection_string": connection_string}


def export(series: RunSeries, *, connection_string: str, timeout: float, final: bool = False) -> None:
    """Report ``series`` and export it within ``timeout`` seconds. Raises :class:`MetricsError`."""
    if not connection_string:
        raise MetricsError("APPLICATIONINSIGHTS_CONNECTION_STRING is not set")
    with _lock:
        if not _state:
            _state.update(_configure(connection_string, timeout))
        elif _state["connection_string"] != connection_string:
            raise MetricsError("the connection string changed; restart the process to use the new one")
        if _latest.series is not None:  # a warm process knows the last run's per-target values
            series.merge(_latest.series.samples)
        _latest.set(series)
        provider, outcomes = _state["provider"], _state["outcomes"]
        since = len(outcomes.results)
        if final:
            bounded(lambda: provider.shutdown(timeout_millis=timeout * 1000), timeout)
            _state["closed"] = True
        else:
            bounded(lambda: provider.force_flush(timeout_millis=timeout * 1000), timeout)
        outcomes.check(since)
