"""Real runs against the emulator push to a real Pushgateway; a real Prometheus scrapes it and answers queries.

Includes a run cut short by SIGTERM (unread targets keep their last known expiry), a failed run (the last
success stays), a gateway that is down or silent (a warning, at most the budget, the exit status unchanged),
and a search of everything pushed for the credentials the runs handled.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from acr_refresh.emulator import Emulator
from tests.conftest import SP_SECRET, TENANT, acr_generator, write_config
from tests.metrics import servers
from tests.metrics.conftest import Stack

VAULT = "metricsvault.vault.azure.net"
EXPIRY = "acr_refresh_credential_expiry_timestamp_seconds"


def config(em: Emulator, tmp_path: Path) -> Path:
    em.add_vault(VAULT, tenant=TENANT)
    docs = []
    for i in range(3):
        host = f"metrics{i}.azurecr.io"
        em.add_registry(host, tenant=TENANT)
        docs.append(acr_generator(f"g{i}", registry=host))
        docs.append(f"apiVersion: acr-refresh/v1alpha1\nkind: KubernetesSecret\nmetadata: {{name: s{i}}}\n"
                    f"spec:\n  generatorRef: {{name: g{i}}}\n  namespaces: [default]\n")
    docs.append("apiVersion: acr-refresh/v1alpha1\nkind: KeyVaultSecret\nmetadata: {name: kv}\nspec:\n"
                f"  generatorRef: {{name: g0}}\n  vaultUrl: https://{VAULT}/\n  tenantId: {TENANT}\n"
                "  secretName: pull-password\n  auth:\n    servicePrincipal:\n      secretRef:\n"
                "        clientId: {env: SP_ID}\n        clientSecret: {env: SP_SECRET}\n")
    return write_config(tmp_path, *docs)


def start(cfg: Path, gateway: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "acr_refresh", "run", "--config", str(cfg), "--output", "json",
         "--metrics", "pushgateway", "--pushgateway-url", gateway, *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))


def run(cfg: Path, gateway: str, *args: str) -> tuple[int, dict[str, Any], float]:
    t0 = time.monotonic()
    proc = start(cfg, gateway, *args)
    out, err = proc.communicate(timeout=120)
    assert out, err
    return proc.returncode, json.loads(out), time.monotonic() - t0


def group(gateway: str) -> dict[str, Any]:
    """Our group in the gateway: {metric name: [(labels, value)]}."""
    data = json.loads(servers.get(f"{gateway}/api/v1/metrics"))["data"]
    mine = [g for g in data if g["labels"].get("job") == "acr-refresh"]
    assert len(mine) == 1, [g["labels"] for g in data]
    return {name: [(m["labels"], float(m["value"])) for m in fam["metrics"]]
            for name, fam in mine[0].items() if isinstance(fam, dict) and "metrics" in fam}


def scraped(stack: Stack) -> None:
    """Wait until Prometheus has scraped the gateway's current group."""
    start_value = group(stack.gateway)["acr_refresh_run_start_timestamp_seconds"][0][1]
    servers.wait_query(stack.prometheus, "acr_refresh_run_start_timestamp_seconds",
                       lambda r: bool(r) and abs(float(r[0]["value"][1]) - start_value) < 1e-3)


def value(stack: Stack, expr: str) -> float:
    (only,) = servers.query(stack.prometheus, expr)
    return float(only["value"][1])


def expiries(stack: Stack) -> dict[str, float]:
    return {r["metric"].get("name") or r["metric"]["secret"]: float(r["value"][1])
            for r in servers.query(stack.prometheus, EXPIRY)}


def credentials(em: Emulator) -> list[str]:
    """Every credential the runs delivered, decoded (and the service principal's secret)."""
    found = [SP_SECRET]
    for i in range(3):
        obj = em.get_object("secrets", "default", f"s{i}") or {}
        for raw in obj.get("data", {}).values():
            text = base64.b64decode(raw).decode()
            found.append(text)
            try:
                for auth in json.loads(text).get("auths", {}).values():
                    found.extend(v for v in auth.values() if isinstance(v, str))
            except (ValueError, AttributeError):
                pass
    kv = em.vault_secret(VAULT, "pull-password")
    if kv:
        found.append(kv["value"])
    return [f for f in found if len(f) >= 12]


@pytest.fixture
def cfg(em: Emulator, tmp_path: Path, stack: Stack) -> Path:
    servers.wipe(stack.gateway)
    return config(em, tmp_path)


def test_a_run_is_pushed_scraped_and_queried_back(em: Emulator, cfg: Path, stack: Stack) -> None:
    code, report, _ = run(cfg, stack.gateway)
    assert code == 0, report
    scraped(stack)
    by_target = {t.get("name") or t["secretName"]: t for g in report["generators"] for t in g["targets"]}
    got = expiries(stack)
    assert set(got) == {"s0", "s1", "s2", "pull-password"}
    for name, when in got.items():
        stamp = by_target[name]["expiresAt"]
        assert time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(when))) == stamp
    row = servers.query(stack.prometheus, f'{EXPIRY}{{secret="pull-password"}}')[0]["metric"]
    assert row["kind"] == "KeyVaultSecret" and row["vault"] == f"https://{VAULT}" and row["generator"] == "default/g0"
    assert row["registry"] == "metrics0.azurecr.io" and row["reason"] == "missing" and row["shard"] == "0"
    assert "cluster" not in row and "namespace" not in row  # '' is no label in Prometheus
    assert value(stack, "sum(acr_refresh_target_last_failure)") == 0
    assert value(stack, 'acr_refresh_targets{status="written"}') == 4
    assert value(stack, 'acr_refresh_tokens_minted{type="refresh"}') == 3
    assert value(stack, 'acr_refresh_requests{service="acr",outcome="ok"}') == 3
    assert value(stack, 'acr_refresh_requests{service="keyvault",outcome="ok"}') >= 2
    # 3 reads (answered 404: absent, as expected) and 3 writes
    assert value(stack, 'acr_refresh_requests{service="kubernetes",outcome="ok"}') == 6
    # Key Vault's first request is unauthenticated and answered 401 with the challenge (its protocol).
    assert value(stack, 'acr_refresh_requests{service="keyvault",outcome="client-error"}') == 1
    assert value(stack, 'sum(acr_refresh_requests{outcome!="ok"})') == 1
    assert value(stack, "acr_refresh_shards_expected") == 1
    assert value(stack, "acr_refresh_run_cut_short") == 0
    started = value(stack, "acr_refresh_run_start_timestamp_seconds")
    assert started < value(stack, "acr_refresh_last_success_timestamp_seconds") < started + 60
    # Nothing pushed or stored holds a credential.
    bodies = servers.get(f"{stack.gateway}/metrics").decode() + json.dumps(
        servers.query(stack.prometheus, '{job="acr-refresh"}'))
    secrets = credentials(em)
    assert len(secrets) >= 5
    for secret in secrets:
        assert secret not in bodies


def test_retries_are_counted(em: Emulator, cfg: Path, stack: Stack) -> None:
    em.fail("acr.exchange", status=503, count=1)
    code, report, _ = run(cfg, stack.gateway, "--generator", "default/g1")
    assert code == 0, report
    scraped(stack)
    assert value(stack, 'acr_refresh_requests{service="acr",outcome="server-error"}') == 1
    assert value(stack, 'acr_refresh_requests{service="acr",outcome="ok"}') == 1


def test_a_run_cut_short_keeps_the_last_known_expiry_of_targets_it_did_not_read(
        em: Emulator, cfg: Path, stack: Stack) -> None:
    code, _, _ = run(cfg, stack.gateway)
    assert code == 0
    scraped(stack)
    before = expiries(stack)
    success = value(stack, "acr_refresh_last_success_timestamp_seconds")
    em.reset_counts()
    em.fail("kube.secret.get", status=None, delay=4.0, count=1)  # the first read stalls; SIGTERM comes
    proc = start(cfg, stack.gateway, "--concurrency", "1", "--force")
    deadline = time.monotonic() + 20
    while em.counts["kube.secret.get"] < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    report = json.loads(out)
    unread = {t.get("name") or t["secretName"] for g in report["generators"] for t in g["targets"]
              if t["status"] == "not-attempted"}
    assert {"s1", "s2"} <= unread
    scraped(stack)
    assert value(stack, "acr_refresh_run_cut_short") == 1
    after = expiries(stack)
    for name in unread:
        assert after[name] == before[name]  # carried over from the gateway's group, not erased
    assert value(stack, "acr_refresh_last_success_timestamp_seconds") == success
    assert value(stack, "sum(acr_refresh_target_last_failure)") == 0  # not attempted is not a failure


def test_a_failed_run_keeps_the_last_success(em: Emulator, cfg: Path, stack: Stack) -> None:
    code, _, _ = run(cfg, stack.gateway)
    assert code == 0
    scraped(stack)
    success = value(stack, "acr_refresh_last_success_timestamp_seconds")
    before = expiries(stack)
    em.fail("acr.exchange", status=401, count=None)
    code, report, _ = run(cfg, stack.gateway, "--force")
    assert code == 1 and not [w for w in report["warnings"] if w.startswith("metrics:")], report["warnings"]
    scraped(stack)
    assert value(stack, "acr_refresh_last_success_timestamp_seconds") == success
    failing = servers.query(stack.prometheus, "acr_refresh_target_last_failure == 1")
    assert {r["metric"].get("name") or r["metric"]["secret"] for r in failing} == set(before)
    assert {r["metric"]["reason"] for r in failing} == {"mint-failed"}
    assert expiries(stack) == before  # what they hold (read this run) still expires then
    assert value(stack, 'acr_refresh_targets{status="failed"}') == 4
    assert value(stack, "max(acr_refresh_target_consecutive_failures)") == 1
    code, _, _ = run(cfg, stack.gateway, "--force")  # fails again: the count goes on from the gateway's
    assert code == 1
    scraped(stack)
    assert value(stack, "min(acr_refresh_target_consecutive_failures)") == 2
    assert value(stack, "acr_refresh_last_success_timestamp_seconds") == success


def silent_server() -> tuple[socket.socket, str]:
    """A port that accepts connections and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    held: list[socket.socket] = []
    threading.Thread(target=lambda: [held.append(sock.accept()[0]) for _ in range(16)], daemon=True).start()
    return sock, f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_a_gateway_down_or_silent_costs_at_most_the_budget_and_only_warns(em: Emulator, cfg: Path) -> None:
    code, report, _ = run(cfg, f"http://127.0.0.1:{servers.free_port()}")
    assert code == 0
    (warning,) = [w for w in report["warnings"] if w.startswith("metrics:")]
    assert "connection failed" in warning and "exit status is unchanged" in warning
    sock, url = silent_server()
    try:
        t0 = time.monotonic()
        code, report, _ = run(cfg, url)
    finally:
        sock.close()
    assert code == 0
    (warning,) = [w for w in report["warnings"] if w.startswith("metrics:")]
    assert "timed out" in warning
    assert time.monotonic() - t0 < report["durationSeconds"] + 5 + 4  # the budget, plus interpreter start-up


def test_the_pushgateway_needs_a_url(em: Emulator, cfg: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "acr_refresh", "run", "--config", str(cfg), "--metrics",
                           "pushgateway"], capture_output=True, text=True, env=dict(os.environ), timeout=60)
    assert proc.returncode == 2 and "--pushgateway-url" in proc.stderr
