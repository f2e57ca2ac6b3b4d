"""Delivery by OTLP over HTTP (protobuf) with the OpenTelemetry SDK, configured by the standard variables.

``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_METRICS_ENDPOINT``, ``..._HEADERS``,
``..._CERTIFICATE``, ``..._COMPRESSION``, ``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES`` are read by
the SDK itself. One meter provider per run, which exports once and is shut down: nothing stays behind.
"""

from __future__ import annotations

import math
import os

from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import SERVICE_NAME, Resource

from .otel import SCOPE, Latest, Outcomes, bounded, register
from .series import RunSeries

DEFAULT_SERVICE_NAME = "acr-refresh"


def export(series: RunSeries, *, timeout: float) -> None:
    """Export ``series`` once, within ``timeout`` seconds. Raises :class:`~acr_refresh.metrics.MetricsError`."""
    exporter = OTLPMetricExporter(timeout=timeout)
    outcomes = Outcomes()
    outcomes.wrap(exporter)
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=math.inf,
                                           export_timeout_millis=timeout * 1000)
    name = os.environ.get("OTEL_SERVICE_NAME") or DEFAULT_SERVICE_NAME
    provider = MeterProvider(resource=Resource.create({SERVICE_NAME: name}), metric_readers=[reader],
                             shutdown_on_exit=False)
    latest = Latest()
    latest.set(series)
    register(provider.get_meter(SCOPE), latest)
    try:
        bounded(lambda: provider.force_flush(timeout_millis=timeout * 1000), timeout)
        outcomes.check()
    finally:
        provider.shutdown(timeout_millis=500)
