"""Deadline and SIGTERM/SIGINT: stop starting new work, finish what is in flight, report, exit 143/130/1."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from acr_refresh.emulator import Emulator
from tests.conftest import TENANT, acr_generator, write_config


def three_registries(em: Emulator, tmp_path: Path) -> Path:
    docs = []
    for i in range(3):
        host = f"reg{i}slow.azurecr.io"
        em.add_registry(host, tenant=TENANT)
        docs.append(acr_generator(f"g{i}", registry=host))
    return write_config(tmp_path, *docs)


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


def test_sigterm_finishes_in_flight_work_reports_and_exits_143(em: Emulator, tmp_path: Path) -> None:
    config = three_registries(em, tmp_path)
    em.fail("acr.exchange", status=None, delay=2.0, count=1)
    proc = start(config)
    deadline = time.monotonic() + 20
    while em.counts["acr.exchange"] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
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
    deadline = time.monotonic() + 20
    while em.counts["acr.exchange"] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
