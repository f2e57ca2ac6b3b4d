"""A real Prometheus and Pushgateway (Debian's packages, fetched by scripts/get-prometheus.sh) on loopback.

Each is started by PID on a free port and stopped by that PID. Prometheus scrapes the gateway every 0.5 s
with ``honor_labels`` (as Prometheus' documentation says to for a Pushgateway).
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
FETCH_SCRIPT = ROOT / "scripts" / "get-prometheus.sh"


class ToolsMissing(RuntimeError):
    pass


def tools() -> Path:
    """The cache directory holding bin/prometheus, bin/promtool, bin/pushgateway (fetched once)."""
    proc = subprocess.run(["bash", str(FETCH_SCRIPT)], capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise ToolsMissing(proc.stderr.strip()[-2000:])
    return Path(proc.stdout.strip().splitlines()[-1]) / "bin"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str, timeout: float = 5) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as resp:  # loopback only
        return resp.read()


class Server:
    def __init__(self, argv: list[str], url: str, ready_path: str, log: Path) -> None:
        self.argv, self.url, self.ready_path, self.log = argv, url, ready_path, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30) -> None:
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.argv[0]} exited {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            try:
                get(self.url + self.ready_path, timeout=1)
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.argv[0]} not ready after {timeout} s: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def pushgateway(bin_dir: Path, workdir: Path) -> Server:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    return Server([str(bin_dir / "pushgateway"), f"--web.listen-address=127.0.0.1:{port}", "--web.enable-admin-api",
                   "--log.level=warn"], url, "/-/ready", workdir / "pushgateway.log")


def prometheus(bin_dir: Path, workdir: Path, gateway_url: str, rules: list[Path] | None = None) -> Server:
    port = free_port()
    target = urllib.parse.urlsplit(gateway_url).netloc
    config = {
        "global": {"scrape_interval": "500ms", "evaluation_interval": "500ms"},
        "rule_files": [str(r) for r in rules or ()],
        "scrape_configs": [{"job_name": "pushgateway", "honor_labels": True,
                            "static_configs": [{"targets": [target]}]}],
    }
    cfg = workdir / "prometheus.yml"
    cfg.write_text(json.dumps(config))  # JSON is YAML
    return Server([str(bin_dir / "prometheus"), f"--config.file={cfg}", f"--storage.tsdb.path={workdir / 'data'}",
                   f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
                  f"http://127.0.0.1:{port}", "/-/ready", workdir / "prometheus.log")


def query(prom_url: str, expr: str, at: float | None = None) -> list[dict[str, Any]]:
    """An instant query's result vector (raises on an error answer)."""
    params = {"query": expr, **({"time": str(at)} if at is not None else {})}
    body = json.loads(get(f"{prom_url}/api/v1/query?{urllib.parse.urlencode(params)}"))
    assert body["status"] == "success", body
    result = body["data"]["result"]
    return result if isinstance(result, list) else [{"metric": {}, "value": result}]


def wait_query(prom_url: str, expr: str, predicate: Any, timeout: float = 15) -> list[dict[str, Any]]:
    """Poll ``expr`` until ``predicate(result)`` holds (a scrape has seen the push)."""
    deadline = time.monotonic() + timeout
    result: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        result = query(prom_url, expr)
        if predicate(result):
            return result
        time.sleep(0.2)
    raise AssertionError(f"{expr}: still {result} after {timeout} s")


def wipe(gateway_url: str) -> None:
    req = urllib.request.Request(f"{gateway_url}/api/v1/admin/wipe", method="PUT")
    with urllib.request.urlopen(req, timeout=5):
        pass
