"""Go/Kubernetes duration syntax (``90s``, ``30m``, ``1h30m``, ``1.5h``), as ESO's ``refreshInterval`` uses.

Parsed exactly (integer nanoseconds, never floats) and bounded as Go bounds them: a Go duration is an int64
of nanoseconds, so nothing above :data:`MAX_DURATION` (about 292 years) is a duration. Go's
``time.ParseDuration`` refuses more with ``invalid duration``; so do we, with a message that says so. The
bound also keeps every date computed from a duration (now ± 292 years) inside ``datetime``'s range.
"""

from __future__ import annotations

import re
from datetime import timedelta

_UNIT_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "μs": 1_000,  # Go accepts both the micro sign U+00B5 and Greek mu U+03BC
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3600 * 1_000_000_000,
}
MAX_NANOSECONDS = 2**63 - 1
MAX_DURATION = timedelta(microseconds=MAX_NANOSECONDS // 1000)
"""The largest Go duration, ``2562047h47m16.854775807s``, to the microsecond ``timedelta`` keeps."""
MAX_TEXT = "2562047h47m16.854775807s"
_PART = re.compile(r"(\d*)(?:\.(\d*))?(ns|us|µs|μs|ms|s|m|h)")
# More digits than this in a whole part is above the bound whatever the unit (int64 has 19 digits).
_MAX_DIGITS = 20


def _too_large(text: str) -> ValueError:
    return ValueError(f"duration {text!r} is too large; the largest Go duration is {MAX_TEXT} (about 292 years)")


def parse_duration(text: str) -> timedelta:
    """Parse a Go duration string into a ``timedelta``.

    ``"0"`` is accepted alone, as in Go. Negative, empty and too large durations (above
    :data:`MAX_DURATION`) raise ``ValueError`` whose message quotes the input (durations are never secret).
    """
    if not isinstance(text, str):
        raise ValueError(f"duration must be a string like '30m', got {type(text).__name__}")
    s = text.strip()
    if s == "0":
        return timedelta(0)
    if not s:
        raise ValueError("duration is empty; use Go syntax such as '90s', '30m' or '1h30m'")
    shown = text if len(text) <= 64 else text[:61] + "..."
    pos = 0
    total = 0
    while pos < len(s):
        m = _PART.match(s, pos)
        whole, frac, unit = (m.group(1), m.group(2) or "", m.group(3)) if m else ("", "", "")
        if not m or not (whole or frac):
            raise ValueError(f"invalid duration {shown!r}; use Go syntax such as '90s', '30m' or '1h30m'")
        whole = whole.lstrip("0")
        if len(whole) > _MAX_DIGITS:
            raise _too_large(shown)
        scale = _UNIT_NS[unit]
        frac = frac[:_MAX_DIGITS]  # digits past a nanosecond of an hour change nothing
        total += int(whole or "0") * scale + (int(frac) * scale // 10 ** len(frac) if frac else 0)
        if total > MAX_NANOSECONDS:
            raise _too_large(shown)
        pos = m.end()
    return timedelta(microseconds=total // 1000)


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
