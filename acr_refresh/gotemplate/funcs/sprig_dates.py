"""Sprig's date functions on a Go ``time.Time`` value, with Go's layout strings ("2006-01-02 15:04:05").

``now`` is read at each render (ESO re-evaluates templates at each refresh; so does every write here).
"Local" is UTC: ESO runs in a container whose local zone is UTC. Zone names come from the IANA database
(Python's zoneinfo, with tzdata); an unknown zone falls back to UTC, as Sprig's does.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..errors import FuncError
from ..values import Int64
from . import Func, Soft

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class GoTime:
    """A Go ``time.Time``: an instant (Unix nanoseconds) shown in a zone."""

    ns: int
    tz: tzinfo = UTC
    zero: bool = False

    go_type = "time.Time"
    go_kind = "struct"

    @property
    def dt(self) -> datetime:
        return (_EPOCH + timedelta(microseconds=self.ns // 1000)).astimezone(self.tz)

    def go_string(self) -> str:
        return go_format(self, "2006-01-02 15:04:05.999999999 -0700 MST")

    def go_json(self) -> str:
        return go_format(self, "2006-01-02T15:04:05.999999999Z07:00")


def now() -> GoTime:
    return GoTime(time.time_ns())


def zero_time() -> GoTime:
    return GoTime(-62135596800 * 10**9, zero=True)


def _zone(name: str) -> tzinfo:
    if name in ("UTC", "", "Local"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


_TOKENS = re.compile(r"January|Jan|Monday|Mon|MST|2006|002|__2|_2|06|01|02|15|03|04|05|Z070000|Z07:00:00|Z0700|"
                     r"Z07:00|Z07|-070000|-07:00:00|-0700|-07:00|-07|PM|pm|[.,](?:0+|9+)(?!\d)|1|2|3|4|5")


def _offset(dt: datetime, tok: str) -> str:
    off = dt.utcoffset() or timedelta()
    secs = int(off.total_seconds())
    if tok.startswith("Z") and secs == 0:
        return "Z"
    sign, secs = ("-" if secs < 0 else "+"), abs(secs)
    h, m, s = secs // 3600, secs // 60 % 60, secs % 60
    body = tok.lstrip("Z-")
    if body == "07":
        return f"{sign}{h:02d}"
    if body == "0700":
        return f"{sign}{h:02d}{m:02d}"
    if body == "07:00":
        return f"{sign}{h:02d}:{m:02d}"
    if body == "070000":
        return f"{sign}{h:02d}{m:02d}{s:02d}"
    return f"{sign}{h:02d}:{m:02d}:{s:02d}"


def go_format(t: GoTime, layout: str) -> str:
    dt, frac_ns = t.dt, t.ns % 10**9

    def tok(m: re.Match[str]) -> str:
        k = m.group()
        if k[0] in ".," and len(k) > 1:
            digits = f"{frac_ns:09d}"[:len(k) - 1]
            if k[1] == "9":
                digits = digits.rstrip("0")
                return k[0] + digits if digits else ""
            return k[0] + digits
        table = {
            "January": dt.strftime("%B"), "Jan": dt.strftime("%b"), "Monday": dt.strftime("%A"),
            "Mon": dt.strftime("%a"), "2006": f"{dt.year:04d}", "06": f"{dt.year % 100:02d}",
            "01": f"{dt.month:02d}", "1": str(dt.month), "02": f"{dt.day:02d}", "2": str(dt.day),
            "_2": f"{dt.day:2d}", "002": f"{dt.timetuple().tm_yday:03d}", "__2": f"{dt.timetuple().tm_yday:3d}",
            "15": f"{dt.hour:02d}", "03": f"{(dt.hour % 12) or 12:02d}", "3": str((dt.hour % 12) or 12),
            "04": f"{dt.minute:02d}", "4": str(dt.minute), "05": f"{dt.second:02d}", "5": str(dt.second),
            "PM": "PM" if dt.hour >= 12 else "AM", "pm": "pm" if dt.hour >= 12 else "am",
        }
        if k == "MST":
            name = dt.tzname() or ""
            return name if name and name[0] not in "+-" else _offset(dt, "-07")
        if k.startswith(("Z0", "-0")):
            return _offset(dt, k)
        return table[k]

    return _TOKENS.sub(tok, layout)


_PARSE = {"2006": r"(?P<Y>\d{4})", "01": r"(?P<m>\d{2})", "1": r"(?P<m>\d{1,2})", "02": r"(?P<d>\d{2})",
          "2": r"(?P<d>\d{1,2})", "_2": r"\s?(?P<d>\d{1,2})", "15": r"(?P<H>\d{2})", "03": r"(?P<I>\d{2})",
          "3": r"(?P<I>\d{1,2})", "04": r"(?P<M>\d{2})", "4": r"(?P<M>\d{1,2})", "05": r"(?P<S>\d{2})",
          "5": r"(?P<S>\d{1,2})", "06": r"(?P<y>\d{2})", "PM": r"(?P<p>AM|PM)", "pm": r"(?P<p>am|pm)",
          "Jan": r"(?P<b>[A-Za-z]{3})", "January": r"(?P<B>[A-Za-z]+)", "Mon": r"[A-Za-z]{3}", "Monday": r"[A-Za-z]+",
          "MST": r"(?P<Z>[A-Z]{3,5}|[+-]\d+)", "-0700": r"(?P<o>[+-]\d{4})", "-07:00": r"(?P<o>[+-]\d{2}:\d{2})",
          "-07": r"(?P<o>[+-]\d{2})", "Z0700": r"(?P<o>Z|[+-]\d{4})", "Z07:00": r"(?P<o>Z|[+-]\d{2}:\d{2})",
          "Z07": r"(?P<o>Z|[+-]\d{2})"}


def go_parse(layout: str, value: str) -> GoTime:
    """time.ParseInLocation(layout, value, UTC) for the common layout elements."""
    parts, pos, seen = [], 0, set()
    for m in _TOKENS.finditer(layout):
        parts.append(re.escape(layout[pos:m.start()]))
        k = m.group()
        if k[0] in ".," and len(k) > 1:
            parts.append(r"(?:[.,](?P<f>\d+))?" if k[1] == "9" else rf"[.,](?P<f>\d{{{len(k) - 1}}})")
        elif k in _PARSE:
            group = re.match(r"\\s\?\(\?P<(\w)>|\(\?P<(\w)>", _PARSE[k])
            name = (group.group(1) or group.group(2)) if group else None
            parts.append(_PARSE[k] if name is None or name not in seen else re.sub(r"\?P<\w>", "", _PARSE[k]))
            if name:
                seen.add(name)
        else:
            raise FuncError(f"parsing time: layout element {k!r} is not supported here")
        pos = m.end()
    parts.append(re.escape(layout[pos:]))
    if layout[pos:] == "" and re.search(r"[.,]\d", value[-10:] or "") and "(?P<f>" not in "".join(parts):
        parts.append(r"(?:[.,](?P<f>\d+))?")  # Go accepts fractional seconds after seconds even if not in layout
    full = re.fullmatch("".join(parts), value)
    if not full:
        raise FuncError("parsing time: cannot parse value as the layout")
    g = {k: v for k, v in full.groupdict().items() if v is not None}
    months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    year = int(g["Y"]) if "Y" in g else (int(g["y"]) + (1900 if int(g["y"]) >= 69 else 2000) if "y" in g else 0)
    month = int(g["m"]) if "m" in g else months.index((g.get("b") or g.get("B", "jan"))[:3].lower()) + 1
    hour = int(g.get("H", 0))
    if "I" in g:
        hour = int(g["I"]) % 12 + (12 if g.get("p", "").upper() == "PM" else 0)
    tz: tzinfo = UTC
    o = g.get("o")
    if o and o != "Z":
        sign = -1 if o[0] == "-" else 1
        digits = o[1:].replace(":", "")
        tz = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0)))
    try:
        dt = datetime(max(year, 1), month, int(g.get("d", 1)), hour, int(g.get("M", 0)), int(g.get("S", 0)), tzinfo=tz)
    except ValueError:
        raise FuncError("parsing time: value out of range") from None
    frac = g.get("f", "")
    ns = int((frac + "000000000")[:9]) if frac else 0
    return GoTime((int((dt - _EPOCH).total_seconds()) * 10**9) + ns, tz)


_UNITS = {"ns": 1, "us": 10**3, "µs": 10**3, "μs": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}


def parse_duration(s: str) -> int:
    """time.ParseDuration, in nanoseconds."""
    m = re.fullmatch(r"([+-]?)((?:\d*\.?\d+(?:ns|us|µs|μs|ms|s|m|h))+|0)", s)
    if not m or s in ("", "+", "-"):
        raise FuncError(f"time: invalid duration {s!r}")
    total = 0.0
    for num, unit in re.findall(r"(\d*\.?\d+)(ns|us|µs|μs|ms|s|m|h)", m.group(2)):
        total += float(num) * _UNITS[unit]
    return int(-total if m.group(1) == "-" else total)


def fmt_duration(ns: int) -> str:
    """time.Duration.String()."""
    if ns == 0:
        return "0s"
    neg, u = ns < 0, abs(ns)
    if u < 10**9:
        for unit, div in (("ns", 1), ("µs", 10**3), ("ms", 10**6)):
            if u < div * 1000:
                whole, frac = divmod(u, div)
                f = f"{frac:0{len(str(div)) - 1}d}".rstrip("0") if div > 1 else ""
                return ("-" if neg else "") + str(whole) + ("." + f if f else "") + unit
    secs, frac = divmod(u, 10**9)
    f = f"{frac:09d}".rstrip("0")
    h, rem = divmod(secs, 3600)
    mnt, sec = divmod(rem, 60)
    out = (f"{h}h" if h else "") + (f"{mnt}m" if h or mnt else "") + f"{sec}" + ("." + f if f else "") + "s"
    return ("-" if neg else "") + out


def _as_time(v: Any, allow_int32: bool = True) -> GoTime:
    if isinstance(v, GoTime):
        return v
    if isinstance(v, int) and not isinstance(v, bool):
        return GoTime(int(v) * 10**9)
    return now()


def date_in_zone(layout: str, v: Any, zone: str) -> str:
    t = _as_time(v)
    return go_format(GoTime(t.ns, _zone(zone)), layout)


def _need_time(v: Any) -> GoTime:
    if not isinstance(v, GoTime):
        raise FuncError("wrong type for value; expected time.Time")
    return v


def date_modify(spec: str, v: Any, must: bool) -> Any:
    t = _need_time(v)
    try:
        return GoTime(t.ns + parse_duration(spec), t.tz)
    except FuncError:
        if must:
            raise
        return Soft(t, "invalid duration")


def duration(v: Any) -> str:
    if isinstance(v, str):
        n = int(v) if re.fullmatch(r"[+-]?\d+", v) else 0
    elif isinstance(v, Int64):
        n = int(v)
    else:
        n = 0
    return fmt_duration(n * 10**9)


def duration_round(v: Any) -> str:
    if isinstance(v, str):
        try:
            d = parse_duration(v)
        except FuncError:
            d = 0
    elif isinstance(v, Int64):
        d = int(v)
    elif isinstance(v, GoTime):
        d = time.time_ns() - v.ns
    else:
        d = 0
    u = abs(d)
    hour = 3600 * 10**9
    for size, unit in ((hour * 24 * 365, "y"), (hour * 24 * 30, "mo"), (hour * 24, "d"), (hour, "h"),
                       (60 * 10**9, "m"), (10**9, "s")):
        if u > size:
            return f"{u // size}{unit}"
    return "0s"


def to_date(layout: str, value: str, must: bool) -> Any:
    try:
        return go_parse(layout, value)
    except FuncError:
        if must:
            raise
        return Soft(zero_time(), "value does not match the layout")


def ago(v: Any) -> str:
    t = _as_time(v)
    d = time.time_ns() - t.ns
    return fmt_duration(round(d / 10**9) * 10**9)


FUNCS: dict[str, Func] = {
    "ago": Func("a", lambda a: ago(a[0])),
    "date": Func("sa", lambda a: date_in_zone(a[0], a[1], "Local")),
    "date_in_zone": Func("sas", lambda a: date_in_zone(a[0], a[1], a[2])),
    "dateInZone": Func("sas", lambda a: date_in_zone(a[0], a[1], a[2])),
    "date_modify": Func("sa", lambda a: date_modify(a[0], a[1], False)),
    "dateModify": Func("sa", lambda a: date_modify(a[0], a[1], False)),
    "must_date_modify": Func("sa", lambda a: date_modify(a[0], a[1], True)),
    "mustDateModify": Func("sa", lambda a: date_modify(a[0], a[1], True)),
    "duration": Func("a", lambda a: duration(a[0])),
    "durationRound": Func("a", lambda a: duration_round(a[0])),
    "htmlDate": Func("a", lambda a: date_in_zone("2006-01-02", a[0], "Local")),
    "htmlDateInZone": Func("as", lambda a: date_in_zone("2006-01-02", a[0], a[1])),
    "mustToDate": Func("ss", lambda a: to_date(a[0], a[1], True)),
    "toDate": Func("ss", lambda a: to_date(a[0], a[1], False)),
    "now": Func("", lambda a: now()),
    "unixEpoch": Func("a", lambda a: str(_need_time(a[0]).ns // 10**9)),
}
