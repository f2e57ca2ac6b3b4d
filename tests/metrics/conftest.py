"""One real Pushgateway and one real Prometheus per test module (started by PID on free loopback ports)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.metrics import servers

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "acr-refresh.rules.yml"


@dataclass
class Stack:
    bin: Path
    gateway: str
    prometheus: str


@pytest.fixture(scope="session")
def prom_bin() -> Path:
    try:
        return servers.tools()
    except servers.ToolsMissing as exc:
        pytest.fail(f"Debian's prometheus/prometheus-pushgateway cannot be fetched here: {exc}", pytrace=False)


@pytest.fixture(scope="module")
def stack(prom_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("prometheus")
    gateway = servers.pushgateway(prom_bin, work)
    gateway.start()
    try:
        prometheus = servers.prometheus(prom_bin, work, gateway.url, rules=[RULES])
        prometheus.start()
        try:
            yield Stack(prom_bin, gateway.url, prometheus.url)
        finally:
            prometheus.stop()
    finally:
        gateway.stop()
