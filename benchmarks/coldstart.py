"""Cold start: what ``import function_app`` adds to ``import azure.functions``, and ``acr-refresh --help``,
each in fresh processes, median of several runs."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _time(code: str) -> float:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return float(out.stdout.strip())


def import_cost(runs: int = 9) -> tuple[float, float]:
    """Median seconds of ``import azure.functions`` and of ``import function_app`` after it."""
    base, extra = [], []
    for _ in range(runs):
        t = _time("import time; t=time.perf_counter(); import azure.functions; print(time.perf_counter()-t)")
        base.append(t)
        t = _time("import time, azure.functions; t=time.perf_counter(); import function_app; "
                  "print(time.perf_counter()-t)")
        extra.append(t)
    return statistics.median(base), statistics.median(extra)


def help_time(runs: int = 7) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "acr_refresh", "--help"], capture_output=True, check=True, cwd=ROOT)
        times.append(time.perf_counter() - start)
    return statistics.median(times)
