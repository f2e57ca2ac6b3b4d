"""Series in Prometheus' text exposition format, through the official client (prometheus-client).

Imported only when a Prometheus backend (the Pushgateway, ``--metrics-file``) is enabled.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector, CollectorRegistry

from .series import METRICS, Sample

CONTENT_TYPE = CONTENT_TYPE_LATEST


class _Samples(Collector):
    def __init__(self, samples: Iterable[Sample]) -> None:
        self.samples = list(samples)

    def collect(self) -> Iterator[Any]:
        for metric in METRICS:
            mine = [s for s in self.samples if s.name == metric.name]
            if not mine:
                continue
            family = GaugeMetricFamily(metric.name, metric.help, labels=list(metric.labels))
            for s in mine:
                values = dict(s.labels)
                family.add_metric([values.get(k, "") for k in metric.labels], s.value)
            yield family


def exposition(samples: Iterable[Sample]) -> bytes:
    """The text exposition (format 0.0.4) of ``samples``, families in the catalogue's order."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Samples(samples))
    return generate_latest(registry)


def write_file(path: str, samples: Iterable[Sample]) -> None:
    """Write the exposition to ``path`` atomically (rename), as node_exporter's textfile collector expects."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=".acr-refresh-", suffix=".prom.tmp", dir=target.parent or ".")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(exposition(samples))
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
