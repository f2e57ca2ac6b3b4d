"""Deadline and SIGTERM/SIGINT: stop starting new work, finish what is in flight, report, exit 143/130/1."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from acr_refresh.acr import RetryPolicy, jwt_times
from acr_refresh.config import load_config
from acr_refresh.emulator import Emulator
from acr_refresh.run import RunOptions, Services, run
from tests.conftest import TENANT, acr_generator, write_config


def three_registries(em: Emulator, tmp_path: Path) -> Path:
    docs = []
    for i in range(3):
        host = f"reg{i}slow.azurecr.io"
        em.add_registry(host, tenant=TENANT)
        docs.append(acr_generator(f"g{i}", registry=host))
    return write_config(tmp_path, *docs)


def wait_for(em: Emulator, endpoint: str, count: int, timeout: float = 20) -> None:
    """Block until the emulator has received ``count`` requests to ``endpoint`` (the work is in flight)."""
    deadline = time.monotonic() + timeout
    while em.counts[endpoint] < count and time.monotonic() < deadline:
        time.sleep(0.02)


def start(config: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "acr_refresh", "run", "--config", str(config), "--output", "json",
         "--concurrency", "1", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ),
    )


def test_deadline_reports_not_attempted_and_exits_1(em: Emulator, tmp_path: Path) -> None:
    config = three_registries(em, tmp_path)
    em.fail("acr.exchange", status=None, delay=1.5, count=1)
    proc = start(config, "--deadline", "1s")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    statuses = [g["status"] for g in json.loads(out)["generators"]]
    assert statuses[0] == "ok"  # in flight when the deadline passed: allowed to finish
    assert statuses[1:] == ["not-attempted", "not-attempted"]
    assert "deadline" in json.loads(out)["generators"][1]["error"]

@pytest.mark.kube
def test_sigterm_finishes_in_flight_work_reports_and_exits_143(em: Emulator, tmp_path: Path) -> None:
    config = three_registries(em, tmp_path)
    em.fail("acr.exchange", status=None, delay=2.0, count=1)
    proc = start(config)
    wait_for(em, "acr.exchange", 1)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    report = json.loads(out)
    assert [g["status"] for g in report["generators"]] == ["ok", "not-attempted", "not-attempted"]
    assert "shutdown" in report["generators"][1]["error"]
    assert em.counts["acr.exchange"] == 1


def test_sigint_exits_130(em: Emulator, tmp_path: Path) -> None:
    config = three_registries(em, tmp_path)
    em.fail("acr.exchange", status=None, delay=1.0, count=1)
    proc = start(config)
    wait_for(em, "acr.exchange", 1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err


# ----------------------------------------------------------------------- under faults (the matrix's)




def fanout(em: Emulator, tmp_path: Path, namespaces: int) -> Path:
    for i in range(namespaces):
        em.add_namespace(f"ns-{i}")
    vault = "stallvault.vault.azure.net"
    em.add_vault(vault, tenant=TENANT)
    names = ", ".join(f"ns-{i}" for i in range(namespaces))
    return write_config(
        tmp_path, acr_generator(),
        f"apiVersion: acr-refresh/v1alpha1\nkind: KubernetesSecret\nmetadata: {{name: pull}}\nspec:\n"
        f"  generatorRef: {{name: gen}}\n  namespaces: [{names}]\n",
        textwrap.dedent(f"""\
            apiVersion: acr-refresh/v1alpha1
            kind: KeyVaultSecret
            metadata: {{name: kv}}
            spec:
              generatorRef: {{name: gen}}
              vaultUrl: https://{vault}/
              secretName: pw
              tenantId: {TENANT}
              auth:
                servicePrincipal:
                  secretRef: {{clientId: {{env: SP_ID}}, clientSecret: {{env: SP_SECRET}}}}
            """))


@pytest.mark.kube
@pytest.mark.parametrize("endpoint", ["entra.token", "acr.exchange", "kube.secret.apply", "kv.secret.set",
                                      "kube.secret.get"])
def test_a_stalled_service_never_holds_a_run_past_its_deadline(em: Emulator, tmp_path: Path, endpoint: str) -> None:
    config = load_config(fanout(em, tmp_path, 3))
    em.fail(endpoint, status=None, delay=30, count=None)
    if endpoint == "kube.secret.apply":  # a missing Secret is created, not applied: stall both writes
        em.fail("kube.secret.create", status=None, delay=30, count=None)
    # Production timeouts (20 s reads): the deadline, not the timeout, must bound the run.
    services = Services(retry=RetryPolicy(attempts=3, backoff=0.01), credential_options={"retry_total": 0},
                        vault_options={"retry_total": 0})
    start = time.monotonic()
    report = run(config, RunOptions(deadline_seconds=2, concurrency=4), services=services)
    elapsed = time.monotonic() - start
    services.close()
    em.clear_faults()
    assert elapsed < 2 + 1 + 2.5, elapsed  # deadline, the one-second grace of in-flight calls, slack
    assert report.ok is False
    statuses = {t.status for g in report.generators for t in g.targets} | {g.status for g in report.generators}
    assert statuses & {"failed", "not-attempted"}


def held(em: Emulator, ns: str) -> tuple[str, str] | None:
    obj = em.get_object("secrets", ns, "pull")
    if obj is None:
        return None
    doc = json.loads(base64.b64decode(obj["data"][".dockerconfigjson"]))
    token = next(iter(doc["auths"].values()))["password"]
    return token, obj["metadata"]["annotations"]["acr-refresh/expires-at"]

@pytest.mark.kube
def test_sigterm_mid_write_leaves_every_target_old_or_new(em: Emulator, tmp_path: Path) -> None:
    config = fanout(em, tmp_path, 8)
    first = start(config, "--concurrency", "4")
    assert first.wait(timeout=60) == 0
    before = {f"ns-{i}": held(em, f"ns-{i}") for i in range(8)}
    em.fail("kube.secret.apply", status=None, delay=0.7, count=None)
    em.reset_counts()
    proc = start(config, "--concurrency", "2", "--force")
    wait_for(em, "kube.secret.apply", 2)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    em.clear_faults()
    assert proc.returncode == 143, err
    report = json.loads(out)
    statuses = {t["namespace"]: t["status"] for g in report["generators"] for t in g["targets"] if "namespace" in t}
    assert "written" in statuses.values() and "not-attempted" in statuses.values()
    for ns, old in before.items():
        now = held(em, ns)
        assert now is not None and old is not None
        if statuses.get(ns) == "written":
            assert now != old
        else:
            assert now == old, f"{ns} changed although not written"
        token, expires_at = now
        exp = jwt_times(token)[1]
        assert exp is not None and exp.strftime("%Y-%m-%dT%H:%M:%SZ") == expires_at  # data and metadata agree


@pytest.mark.kube
@pytest.mark.parametrize("endpoint", ["kube.secret.create", "kv.secret.set", "acr.exchange"])
def test_sigterm_during_a_stalled_request_exits_promptly_whatever_the_timeouts(em: Emulator, tmp_path: Path,
                                                                               endpoint: str) -> None:
    """A request stalled past the stop grace is given up: the report is printed and the job exits 143 in a
    few seconds, not after the request's read timeout (20-30 s)."""
    config = fanout(em, tmp_path, 2)
    em.fail(endpoint, status=None, delay=40, count=None)
    proc = start(config, "--deadline", "10m")
    wait_for(em, endpoint, 1)
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    elapsed = time.monotonic() - sent
    em.clear_faults()
    assert proc.returncode == 143, err
    assert elapsed < 6, elapsed  # the 2 s grace, the report, interpreter start-up slack
    report = json.loads(out)
    assert report["ok"] is False
