"""OTLP and Azure Monitor delivery, decoded at local receivers; and metrics are off unless switched on.

The OTLP receiver decodes what the SDK's exporter sends with the OpenTelemetry protobuf definitions
(opentelemetry-proto). The Azure Monitor receiver is a local ingestion endpoint (the connection string's
IngestionEndpoint) that decodes the envelopes the distro sends: metrics only, no log record, trace or
exception, and no credential anywhere.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from acr_refresh.emulator import Emulator
from acr_refresh.metrics.series import METRICS, TARGET_LABELS
from tests.conftest import SP_SECRET, acr_generator, write_config

ROOT = Path(__file__).resolve().parents[2]
IKEY = "4b0c7a1e-5d2f-4e3a-9b8c-7d6e5f4a3b2c"


class Receiver:
    """An HTTP server on 127.0.0.1 that records every request body (decompressed) and answers ``answer``."""

    def __init__(self, answer: int = 200, reply: bytes = b"") -> None:
        self.bodies: list[tuple[str, bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding") == "gzip" or raw[:2] == b"\x1f\x8b":
                    raw = gzip.decompress(raw)
                outer.bodies.append((self.path, raw))
                self.send_response(answer)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def cfg(em: Emulator, tmp_path: Path) -> Path:
    return write_config(tmp_path, acr_generator("g"),
                        "apiVersion: acr-refresh/v1alpha1\nkind: KubernetesSecret\nmetadata: {name: pull}\n"
                        "spec:\n  generatorRef: {name: g}\n  namespaces: [default]\n")


def cli(cfg: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any], str]:
    proc = subprocess.run([sys.executable, "-m", "acr_refresh", "run", "--config", str(cfg), "--output", "json", *args],
                          capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=120)
    return proc.returncode, json.loads(proc.stdout), proc.stderr


def delivered_credentials(em: Emulator) -> list[str]:
    import base64

    obj = em.get_object("secrets", "default", "pull") or {}
    values = [base64.b64decode(v).decode() for v in obj.get("data", {}).values()]
    found = [SP_SECRET, *values]
    for text in values:
        try:
            for auth in json.loads(text).get("auths", {}).values():
                found.extend(v for v in auth.values() if isinstance(v, str))
        except (ValueError, AttributeError):
            pass
    return [f for f in found if len(f) >= 12]


# ------------------------------------------------------------------------------------------------ OTLP


def test_otlp_export_decoded_with_the_protobuf_definitions(em: Emulator, cfg: Path, receiver: Receiver) -> None:
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

    code, report, err = cli(cfg, "--metrics", "otlp", env={"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
                                                           "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=test"})
    assert code == 0 and not report["warnings"], (report["warnings"], err)
    assert [path for path, _ in receiver.bodies] == ["/v1/metrics"]
    request = ExportMetricsServiceRequest()
    request.ParseFromString(receiver.bodies[0][1])
    (resource_metrics,) = request.resource_metrics
    resource = {a.key: a.value.string_value for a in resource_metrics.resource.attributes}
    assert resource["service.name"] == "acr-refresh" and resource["deployment.environment"] == "test"
    points: dict[str, list[tuple[dict[str, str], float]]] = {}
    for scope in resource_metrics.scope_metrics:
        assert scope.scope.name == "acr_refresh"
        for metric in scope.metrics:
            assert metric.WhichOneof("data") == "gauge"
            points[metric.name] = [({a.key: a.value.string_value for a in p.attributes}, p.as_double)
                                   for p in metric.gauge.data_points]
    assert set(points) == {m.name for m in METRICS}
    ((labels, expiry),) = points["acr_refresh_credential_expiry_timestamp_seconds"]
    assert set(labels) == {*TARGET_LABELS, "shard"}
    assert labels["name"] == "pull" and labels["vault"] == "" and labels["reason"] == "missing"
    stamp = report["generators"][0]["targets"][0]["expiresAt"]
    assert time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(expiry))) == stamp
    assert dict(((lab["service"], lab["outcome"]), v) for lab, v in points["acr_refresh_requests"])[("acr", "ok")] == 1
    raw = receiver.bodies[0][1]
    for secret in delivered_credentials(em):
        assert secret.encode() not in raw


def test_otlp_backend_down_warns_and_keeps_the_exit_status(em: Emulator, cfg: Path) -> None:
    dead = Receiver(answer=503)
    try:
        t0 = time.monotonic()
        code, report, _ = cli(cfg, "--metrics", "otlp", env={"OTEL_EXPORTER_OTLP_ENDPOINT": dead.url})
        took = time.monotonic() - t0
    finally:
        dead.close()
    assert code == 0
    (warning,) = [w for w in report["warnings"] if w.startswith("metrics:")]
    assert "OTLP" in warning and "exit status is unchanged" in warning
    assert took < report["durationSeconds"] + 5 + 5


# ----------------------------------------------------------------------------------------- Azure Monitor


FUNCTIONS_RUN = ("import json, logging, sys; from acr_refresh import functions; "
                 "logging.getLogger('acr_refresh').warning('a log line that must not be shipped'); "
                 "import time; t0 = time.monotonic(); answer = functions.refresh(b'{}'); took = time.monotonic() - t0; "
                 "heavy = sorted({m.split('.')[0] + ('.monitor' if m.startswith('azure.monitor') else '') "
                 "for m in sys.modules if m.startswith(('opentelemetry', 'azure.monitor', 'prometheus_client'))}); "
                 "print(json.dumps({'status': answer.status, 'warnings': answer.body.get('warnings'), "
                 "'heavy': heavy, 'took': took, 'duration': answer.body.get('durationSeconds')}), flush=True); "
                 # the SDK's exit hook would export once more (the Functions host exits rarely): not measured
                 "import os; os._exit(0)")


def functions_run(cfg: Path, env: dict[str, str]) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-c", FUNCTIONS_RUN], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "ACR_REFRESH_CONFIG": str(cfg), **env}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def envelopes(receiver: Receiver) -> list[dict[str, Any]]:
    out = []
    for _path, raw in receiver.bodies:
        text = raw.decode()
        try:
            parsed = json.loads(text)
            out.extend(parsed if isinstance(parsed, list) else [parsed])
        except ValueError:
            out.extend(json.loads(line) for line in text.splitlines() if line.strip())
    return out


def test_azure_monitor_sends_metrics_only(em: Emulator, cfg: Path) -> None:
    ingestion = Receiver(reply=json.dumps({"itemsReceived": 0, "itemsAccepted": 0, "errors": []}).encode())
    try:
        connection = f"InstrumentationKey={IKEY};IngestionEndpoint={ingestion.url}/"
        result = functions_run(cfg, {"ACR_REFRESH_METRICS": "azure-monitor",
                                     "APPLICATIONINSIGHTS_CONNECTION_STRING": connection})
    finally:
        ingestion.close()
    assert result["status"] == 200 and not result["warnings"], result
    assert {path for path, _ in ingestion.bodies} == {"/v2.1/track"}
    sent = envelopes(ingestion)
    assert sent
    kinds = {e["data"]["baseType"] for e in sent}
    assert kinds == {"MetricData"}, kinds  # no MessageData (logs), RequestData/RemoteDependencyData, ExceptionData
    assert all(e["iKey"] == IKEY for e in sent)
    names = {m["name"] for e in sent for m in e["data"]["baseData"]["metrics"]}
    assert names == {m.name for m in METRICS}
    expiry = [e["data"]["baseData"] for e in sent
              if e["data"]["baseData"]["metrics"][0]["name"] == "acr_refresh_credential_expiry_timestamp_seconds"]
    assert {*TARGET_LABELS, "shard"} <= set(expiry[0]["properties"])
    everything = "".join(raw.decode() for _, raw in ingestion.bodies)
    assert "must not be shipped" not in everything
    for secret in delivered_credentials(em):
        assert secret not in everything


def test_a_connection_string_alone_turns_nothing_on(em: Emulator, cfg: Path) -> None:
    ingestion = Receiver()
    try:
        result = functions_run(cfg, {"APPLICATIONINSIGHTS_CONNECTION_STRING":
                                     f"InstrumentationKey={IKEY};IngestionEndpoint={ingestion.url}/",
                                     "OTEL_EXPORTER_OTLP_ENDPOINT": ingestion.url})
        time.sleep(0.3)
    finally:
        ingestion.close()
    assert result["status"] == 200
    assert ingestion.bodies == []
    assert result["heavy"] == []  # no metrics client library was even imported


def test_the_cli_imports_no_metrics_library_unless_enabled(em: Emulator, cfg: Path) -> None:
    code = ("import sys; from acr_refresh.cli import main; rc = main(['run', '--config', sys.argv[1], '--output', "
            "'json']); print(sorted(m for m in sys.modules if m.startswith(('opentelemetry', 'azure.monitor', "
            "'prometheus_client'))), file=sys.stderr); sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code, str(cfg)], capture_output=True, text=True,
                          env=dict(os.environ), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == "[]"


def test_azure_monitor_down_warns_within_the_budget(em: Emulator, cfg: Path) -> None:
    down = Receiver(answer=503)
    try:
        result = functions_run(cfg, {"ACR_REFRESH_METRICS": "azure-monitor",
                                     "APPLICATIONINSIGHTS_CONNECTION_STRING":
                                     f"InstrumentationKey={IKEY};IngestionEndpoint={down.url}/"})
    finally:
        down.close()
    assert result["status"] == 200  # the run's answer is the run's, whatever the backend did
    (warning,) = [w for w in result["warnings"] if w.startswith("metrics:")]
    assert "Azure Monitor" in warning
    assert result["took"] < result["duration"] + 5 + 0.5  # the run, then at most the budget
