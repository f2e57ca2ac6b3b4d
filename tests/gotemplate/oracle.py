"""Real Go as the oracle: Go 1.19's text/template with Sprig 3.2.3, rendering as ESO does.

``scripts/build-go-oracle.sh`` builds ``oracle/main.go`` once into ``$XDG_CACHE_HOME/acr-refresh/`` (installing
Go and Sprig from Debian packages when missing); :class:`Oracle` runs it as one long-lived process that
answers JSON lines, and stops it by PID. A machine that cannot build it fails the tests with the reason.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = ROOT / "scripts" / "build-go-oracle.sh"


class OracleError(RuntimeError):
    """The Go oracle could not be built or did not answer."""


@dataclass(frozen=True)
class GoResult:
    ok: bool
    out: bytes = b""
    phase: str = ""   # parse | exec (when not ok)
    error: str = ""


def build() -> Path:
    """Build (or reuse) the oracle; return the binary's path."""
    try:
        done = subprocess.run(["bash", str(BUILD_SCRIPT)], capture_output=True, text=True, timeout=1800)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise OracleError(f"could not run {BUILD_SCRIPT}: {exc}") from exc
    if done.returncode != 0:
        tail = "\n".join(done.stderr.splitlines()[-20:])
        raise OracleError(f"{BUILD_SCRIPT.name} failed (exit {done.returncode}); the Go oracle (Debian "
                          f"golang-1.19-go, golang-1.19-src, golang-github-masterminds-sprig-dev) is required:\n{tail}")
    return Path(done.stdout.strip().splitlines()[-1])


class Oracle:
    """One running oracle process. Use as a context manager, or :meth:`start` / :meth:`stop`."""

    def __init__(self, binary: Path | None = None) -> None:
        self.binary = binary or build()
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Oracle:
        self._proc = subprocess.Popen([str(self.binary)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.DEVNULL, env={"PATH": os.environ.get("PATH", "")})
        return self

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()

    def __enter__(self) -> Oracle:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def render(self, template: str, data: Any, *, strmap: bool = True, missingkey: str = "error") -> GoResult:
        """Render ``template`` with ``data`` (JSON-shaped; a map[string]string when ``strmap``)."""
        proc = self._proc
        if proc is None or proc.stdin is None or proc.stdout is None:
            raise OracleError("the oracle is not running")
        req = {"template": template, "data": data, "strmap": strmap, "missingkey": missingkey}
        line = json.dumps(req, ensure_ascii=True).encode("utf-8", "surrogatepass")
        # lone surrogates (our raw bytes) cannot cross JSON: callers keep data and templates valid UTF-8
        proc.stdin.write(line + b"\n")
        proc.stdin.flush()
        answer = proc.stdout.readline()
        if not answer:
            raise OracleError("the oracle exited")
        rep = json.loads(answer)
        if rep.get("ok"):
            return GoResult(True, base64.b64decode(rep.get("out", "")))
        return GoResult(False, phase=rep.get("phase", ""), error=rep.get("error", ""))
