"""The alert rules and the dashboard, with the real promtool and Prometheus.

``promtool check rules`` on the rules file and on the PrometheusRule's groups (kept identical),
``promtool test rules`` for each alert (it fires when it should, not before, and stays silent through a run
cut short), and every PromQL expression of the Grafana dashboard answered by the test Prometheus after real
runs pushed to the gateway.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from acr_refresh.emulator import Emulator
from tests.conftest import TENANT, acr_generator, write_config
from tests.metrics import servers
from tests.metrics.conftest import Stack

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "prometheus"
RULES = DEPLOY / "acr-refresh.rules.yml"
RULE_TESTS = sorted((Path(__file__).parent / "rules").glob("*.test.yml"))
ALERTS = [r["alert"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]


def promtool(bin_dir: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(bin_dir / "promtool"), *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def test_promtool_checks_the_rules_file_and_the_prometheus_rule(prom_bin: Path, tmp_path: Path) -> None:
    done = promtool(prom_bin, "check", "rules", str(RULES))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(ALERTS)} rules found" in done.stdout
    crd = yaml.safe_load((DEPLOY / "prometheusrule.yaml").read_text())
    assert crd["apiVersion"] == "monitoring.coreos.com/v1" and crd["kind"] == "PrometheusRule"
    assert crd["spec"] == yaml.safe_load(RULES.read_text())
    extracted = tmp_path / "from-crd.yml"
    extracted.write_text(yaml.safe_dump(crd["spec"]))
    done = promtool(prom_bin, "check", "rules", str(extracted))
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("case", RULE_TESTS, ids=lambda p: p.stem)
def test_promtool_unit_tests_of_each_alert(prom_bin: Path, case: Path) -> None:
    done = promtool(prom_bin, "test", "rules", case.name, cwd=case.parent)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_has_unit_tests_that_fire_it_and_keep_it_silent() -> None:
    fired: set[str] = set()
    silent: set[str] = set()
    for case in RULE_TESTS:
        for test in yaml.safe_load(case.read_text())["tests"]:
            for check in test.get("alert_rule_test", ()):
                (fired if check.get("exp_alerts") else silent).add(check["alertname"])
    assert fired == set(ALERTS)
    assert silent == set(ALERTS)
    cut_short = [case for case in RULE_TESTS if "acr_refresh_run_cut_short" in case.read_text()]
    assert len(cut_short) == len(RULE_TESTS)  # each file has a scenario with a run cut short


def dashboard_exprs() -> list[str]:
    dash = json.loads((DEPLOY / "grafana-dashboard.json").read_text())
    return [t["expr"] for p in dash["panels"] for t in p.get("targets", ())]


def test_every_dashboard_expression_runs_against_prometheus(em: Emulator, tmp_path: Path, stack: Stack) -> None:
    servers.wipe(stack.gateway)
    em.add_registry("dash.azurecr.io", tenant=TENANT)
    em.add_registry("dashfail.azurecr.io", tenant=TENANT)
    cfg = write_config(
        tmp_path, acr_generator("ok", registry="dash.azurecr.io"), acr_generator("bad", registry="dashfail.azurecr.io"),
        "apiVersion: acr-refresh/v1alpha1\nkind: KubernetesSecret\nmetadata: {name: ok}\n"
        "spec:\n  generatorRef: {name: ok}\n  namespaces: [default]\n",
        "apiVersion: acr-refresh/v1alpha1\nkind: KubernetesSecret\nmetadata: {name: bad}\n"
        "spec:\n  generatorRef: {name: bad}\n  namespaces: [default]\n")
    argv = [sys.executable, "-m", "acr_refresh", "run", "--config", str(cfg), "--output", "json",
            "--metrics", "pushgateway", "--pushgateway-url", stack.gateway]
    assert subprocess.run(argv, capture_output=True, env=dict(os.environ), timeout=120).returncode == 0
    em.fail("acr.exchange", status=401, count=None)  # from now on every mint fails
    assert subprocess.run([*argv, "--force", "--generator", "default/bad"], capture_output=True,
                          env=dict(os.environ), timeout=120).returncode == 1
    servers.wait_query(stack.prometheus, "acr_refresh_target_last_failure == 1", bool)
    exprs = dashboard_exprs()
    assert len(exprs) >= 10
    for expr in exprs:
        result = servers.query(stack.prometheus, expr)  # raises unless Prometheus accepts it
        assert result, f"{expr}: no data after a clean and a failed run"
