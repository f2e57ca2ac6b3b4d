"""Go/Kubernetes duration syntax (``90s``, ``30m``, ``1h30m``, ``1.5h``), as ESO's ``refreshInterval`` uses."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")


def parse_duration(text: str) -> timedelta:
    """Parse a Go duration string into a ``timedelta``.

    ``"0"`` is accepted alone, as in Go. Negative durations and empty strings raise ``ValueError`` whose
    message quotes the input (durations are never secret).
    """
    if not isinstance(text, str):
        raise ValueError(f"duration must be a string like '30m', got {type(text).__name__}")
    s = text.strip()
    if s == "0":
        return timedelta(0)
    if not s:
        raise ValueError("duration is empty; use Go syntax such as '90s', '30m' or '1h30m'")
    pos = 0
    total = 0.0
    while pos < len(s):
        m = _PART.match(s, pos)
        if not m:
            raise ValueError(f"invalid duration {text!r}; use Go syntax such as '90s', '30m' or '1h30m'")
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    return timedelta(seconds=total)


def format_duration(delta: timedelta) -> str:
    """Format a ``timedelta`` in Go syntax, to whole seconds (``1h30m0s`` style shortened to ``1h30m``)."""
    seconds = round(delta.total_seconds())
    if seconds == 0:
        return "0s"
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    parts = [f"{h}h" if h else "", f"{m}m" if m else "", f"{s}s" if s else ""]
    return sign + "".join(parts)
