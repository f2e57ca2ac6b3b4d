"""The series as OpenTelemetry observable gauges (shared by the OTLP and Azure Monitor backends).

Each gauge's callback reads the newest run's series from a :class:`Latest` holder, so a long-lived meter
provider (the Azure Functions app) always exports the last run, and a per-run provider exports just one.
Every point carries the family's labels as attributes ('' where they do not apply) plus ``shard``; the
job is the resource's ``service.name``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from opentelemetry.metrics import CallbackOptions, Meter, Observation

from . import MetricsError
from .series import METRICS, RunSeries

SCOPE = "acr_refresh"


class Latest:
    """The series the gauges report: the newest run's."""

    def __init__(self) -> None:
        self.series: RunSeries | None = None
        self._lock = threading.Lock()

    def set(self, series: RunSeries) -> None:
        with self._lock:
            self.series = series

    def observations(self, name: str) -> list[Observation]:
        with self._lock:
            series = self.series
        if series is None:
            return []
        labels = {m.name: m.labels for m in METRICS}[name]
        shard = str(series.shard[0])
        out = []
        for sample in series.by_name(name):
            found = dict(sample.labels)
            attributes = {k: found.get(k, "") for k in labels}
            attributes["shard"] = shard
            out.append(Observation(sample.value, attributes))
        return out


def register(meter: Meter, latest: Latest) -> None:
    """One observable gauge per metric family of the catalogue."""
    for metric in METRICS:
        def callback(_options: CallbackOptions, name: str = metric.name) -> Iterable[Observation]:
            return latest.observations(name)

        meter.create_observable_gauge(metric.name, callbacks=[callback], description=metric.help)


def bounded(what: Callable[[], Any], timeout: float) -> Any:
    """Run ``what`` in a daemon thread for at most ``timeout`` seconds: an exporter stuck on a dead backend
    must not hold the run. Raises :class:`MetricsError` on timeout or when ``what`` raised."""
    result: list[Any] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            result.append(what())
        except BaseException as exc:  # noqa: BLE001 - reported to the caller
            error.append(exc)

    thread = threading.Thread(target=target, name="acr-refresh-metrics", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise MetricsError(f"timed out after {timeout:g} s")
    if error:
        raise MetricsError(f"{type(error[0]).__name__}") from error[0]
    return result[0] if result else None


class Outcomes:
    """Records what an exporter's ``export`` returned (the SDK's readers ignore it)."""

    def __init__(self) -> None:
        self.results: list[Any] = []

    def wrap(self, exporter: Any) -> None:
        inner = exporter.export

        def export(*args: Any, **kwargs: Any) -> Any:
            result = inner(*args, **kwargs)
            self.results.append(result)
            return result

        exporter.export = export

    def check(self, since: int = 0) -> None:
        from opentelemetry.sdk.metrics.export import MetricExportResult

        got = self.results[since:]
        if not got:
            raise MetricsError("nothing was exported")
        if any(r != MetricExportResult.SUCCESS for r in got):
            raise MetricsError("the exporter reported a failure")
