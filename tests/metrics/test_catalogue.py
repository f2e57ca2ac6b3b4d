"""docs/operations.md lists every metric and alert: its table, the code's catalogue and a real run's export agree."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml
from prometheus_client.parser import text_string_to_metric_families

from acr_refresh.emulator import Emulator
from acr_refresh.metrics.series import METRICS, TARGET_LABELS
from tests.conftest import acr_generator, write_config

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "operations.md").read_text()
ROW = re.compile(r"^\| `(acr_refresh_[a-z_]+)` \| (\w+) \| ([^|]+) \|", re.M)


def documented() -> dict[str, tuple[str, tuple[str, ...]]]:
    out = {}
    for name, kind, labels in ROW.findall(DOC):
        text = labels.strip()
        out[name] = (kind, TARGET_LABELS if text == "per target" else () if text == "none"
                     else tuple(re.findall(r"`([a-z_]+)`", text)))
    return out


def test_the_docs_table_is_the_catalogue() -> None:
    assert documented() == {m.name: (m.type, m.labels) for m in METRICS}


def test_every_alert_is_documented() -> None:
    rules = yaml.safe_load((ROOT / "deploy" / "prometheus" / "acr-refresh.rules.yml").read_text())
    alerts = {r["alert"] for g in rules["groups"] for r in g["rules"]}
    assert set(re.findall(r"^\| `(AcrRefresh\w+)` \|", DOC, re.M)) == alerts


def test_a_real_run_exports_exactly_the_documented_names_and_labels(em: Emulator, tmp_path: Path) -> None:
    cfg = write_config(tmp_path, acr_generator("g"),
                       "apiVersion: acr-refresh/v1alpha1\nkind: KubernetesSecret\nmetadata: {name: pull}\n"
                       "spec:\n  generatorRef: {name: g}\n  namespaces: [default]\n")
    out = tmp_path / "run.prom"
    proc = subprocess.run([sys.executable, "-m", "acr_refresh", "run", "--config", str(cfg), "--metrics-file",
                           str(out)], capture_output=True, text=True, env=dict(os.environ), timeout=120)
    assert proc.returncode == 0, proc.stderr
    exported = {}
    for family in text_string_to_metric_families(out.read_text()):
        labels = {frozenset(s.labels) for s in family.samples}
        assert len(labels) == 1, (family.name, labels)  # every label on every series
        exported[family.name] = (family.type, frozenset(next(iter(labels))))
    assert exported == {name: (kind, frozenset(labels)) for name, (kind, labels) in documented().items()}
