"""Sync windows as ESO v2.9.0 evaluates them, and what they mean for a token's life. Pure: no I/O.

ESO (``pkg/controllers/externalsecret/externalsecret_controller.go``) parses each ``syncWindows`` schedule with
robfig/cron v3's standard parser (minute, hour, day of month, month, day of week, and descriptors), then asks
``isWithinSyncWindow``: ``prev := sched.Next(at - duration - 1s)``; active iff ``prev`` is not zero,
``prev <= at`` and ``at <= prev + duration``. An ``allow`` set permits a periodic refresh only while one of its
windows is active, a ``deny`` set only while none is; a schedule robfig cannot parse is skipped (inactive),
and an unknown kind permits.

robfig's grammar is ported here (:func:`parse`: ``getField``/``getRange``, its day-of-month/day-of-week rule
and its descriptors); the iteration over calendar times is croniter's, given only explicit value lists so
the two libraries' dialects never meet. robfig specifics kept: ``Next(t)`` is the first match at or after
``t`` truncated to the second plus one second, within five years (else zero, here None); day of month and
day of week are ORed when neither field starts with ``*``/``?`` (``*/2`` does not count: a step above one
drops robfig's star bit), else ANDed; ``@every d`` is robfig's ``ConstantDelaySchedule``: ``Next(t) = t + d``
with ``d`` rounded down to the second (at least 1 s) and ``t`` truncated to the second, so such a window is
active at every whole second iff ``d <= duration + 1s``, and never otherwise. Times are UTC (ESO's controller
runs in UTC; robfig reads a schedule without ``CRON_TZ`` in the process's zone).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from .durations import parse_duration

if TYPE_CHECKING:  # not imported at run time: config may call window_warnings without a cycle
    from .config.model import SyncWindow, SyncWindows

ONE_SECOND = timedelta(seconds=1)
YEAR_LIMIT = 5
"""robfig gives up (zero time) once its search passes the end of the year five years after the start."""
DESCRIPTORS = {  # robfig's parseDescriptor, as five fields (its seconds field is always 0)
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
}
EVERY = "@every "
_BOUNDS = ((0, 59, None), (0, 23, None), (1, 31, None),
           (1, 12, {n: i + 1 for i, n in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug",
                                                     "sep", "oct", "nov", "dec"))}),
           (0, 6, {n: i for i, n in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}))
_FIELD_NAMES = ("minute", "hour", "day of month", "month", "day of week")
_ATOI = re.compile(r"[+-]?[0-9]+")  # Go's strconv.Atoi
MAX_STEPS = 20_000
"""The most candidate instants :func:`next_allowed` tries before it answers None (not found)."""


class ScheduleError(ValueError):
    """robfig/cron would refuse this schedule (the message is robfig's, where it has one)."""


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule: calendar fields (sets of values) or a constant delay (``@every``)."""

    text: str
    fields: tuple[frozenset[int], ...] = ()
    """minute, hour, day of month, month, day of week."""
    dom_star: bool = False
    dow_star: bool = False
    delay: timedelta | None = None

    def next(self, t: datetime) -> datetime | None:
        """robfig's ``Next(t)``: the first activation strictly after ``t`` (at whole seconds), or None."""
        t = _utc(t)
        base = t.replace(microsecond=0)
        if self.delay is not None:
            return base + self.delay
        if any(not f for f in self.fields):
            return None
        found = [n for n in (_croniter_next(e, base) for e in self._expressions()) if n is not None]
        if not found:
            return None
        first = min(found)
        return first if first.year <= (base + ONE_SECOND).year + YEAR_LIMIT else None

    def _expressions(self) -> list[str]:
        minute, hour, dom, month, dow = (_join(f, lo, hi) for f, (lo, hi, _) in zip(self.fields, _BOUNDS,
                                                                                     strict=True))
        if self.dom_star or self.dow_star:  # robfig: AND (a starred field matches every day anyway)
            return [f"{minute} {hour} {'*' if self.dom_star else dom} {month} {'*' if self.dow_star else dow}"]
        return [f"{minute} {hour} {dom} {month} *", f"{minute} {hour} * {month} {dow}"]  # robfig: OR

    def day_matches(self, day: datetime) -> bool:
        """robfig's ``dayMatches`` (with the month): is ``day`` a day this schedule fires on?"""
        _, _, dom, month, dow = self.fields
        if day.month not in month:
            return False
        dom_ok, dow_ok = day.day in dom, (day.weekday() + 1) % 7 in dow
        return dom_ok and dow_ok if self.dom_star or self.dow_star else dom_ok or dow_ok


def _join(values: frozenset[int], lo: int, hi: int) -> str:
    return "*" if values == frozenset(range(lo, hi + 1)) else ",".join(str(v) for v in sorted(values))


def _croniter_next(expr: str, base: datetime) -> datetime | None:
    from croniter import CroniterBadDateError, croniter  # lazy: only configs with windows pay for it

    try:
        return _utc(croniter(expr, base, max_years_between_matches=YEAR_LIMIT + 1).get_next(datetime))
    except CroniterBadDateError:
        return None


def _utc(t: datetime) -> datetime:
    return t.astimezone(UTC) if t.tzinfo is not None else t.replace(tzinfo=UTC)


def parse(text: str) -> Schedule:
    """Parse ``text`` as robfig/cron v3's standard parser does (``Minute | Hour | Dom | Month | Dow |
    Descriptor``); raise :class:`ScheduleError` where robfig returns an error."""
    if not text:
        raise ScheduleError("empty spec string")
    if text.startswith(("TZ=", "CRON_TZ=")):
        raise ScheduleError("a time zone prefix is not accepted (ESO's schedule pattern refuses it; times are UTC)")
    if text.startswith("@"):
        if text.startswith(EVERY):
            try:
                every = parse_duration(text[len(EVERY):])
            except ValueError as exc:
                raise ScheduleError(f"failed to parse duration {text}: {exc}") from exc
            every = max(every, ONE_SECOND)
            return Schedule(text, delay=timedelta(seconds=int(every.total_seconds())))
        if text not in DESCRIPTORS:
            raise ScheduleError(f"unrecognized descriptor: {text}")
        parsed = parse(DESCRIPTORS[text])
        return Schedule(text, parsed.fields, parsed.dom_star, parsed.dow_star)
    parts = text.split()
    if len(parts) != 5:
        raise ScheduleError(f"expected exactly 5 fields, found {len(parts)}: {parts}")
    fields, stars = [], []
    for part, (lo, hi, names), what in zip(parts, _BOUNDS, _FIELD_NAMES, strict=True):
        values: set[int] = set()
        star = False
        for expr in (e for e in part.split(",") if e):  # strings.FieldsFunc drops empty parts
            got, got_star = _range(expr, lo, hi, names, what)
            values |= got
            star = star or got_star
        fields.append(frozenset(values))
        stars.append(star)
    return Schedule(text, tuple(fields), dom_star=stars[2], dow_star=stars[4])


def _range(expr: str, lo: int, hi: int, names: dict[str, int] | None, what: str) -> tuple[set[int], bool]:
    """robfig's ``getRange``: the values of one comma-separated part, and whether it sets the star bit."""
    range_and_step = expr.split("/")
    low_and_high = range_and_step[0].split("-")
    star = False
    if low_and_high[0] in ("*", "?"):
        start, end, star = lo, hi, True
    else:
        start = _int_or_name(low_and_high[0], names, what)
        if len(low_and_high) == 1:
            end = start
        elif len(low_and_high) == 2:
            end = _int_or_name(low_and_high[1], names, what)
        else:
            raise ScheduleError(f"too many hyphens: {expr}")
    if len(range_and_step) == 1:
        step = 1
    elif len(range_and_step) == 2:
        step = _atoi(range_and_step[1], what)
        if len(low_and_high) == 1:  # "N/step" means "N-max/step"
            end = hi
        if step > 1:
            star = False
    else:
        raise ScheduleError(f"too many slashes: {expr}")
    if start < lo:
        raise ScheduleError(f"beginning of range ({start}) below minimum ({lo}): {expr} ({what})")
    if end > hi:
        raise ScheduleError(f"end of range ({end}) above maximum ({hi}): {expr} ({what})")
    if start > end:
        raise ScheduleError(f"beginning of range ({start}) beyond end of range ({end}): {expr} ({what})")
    if step == 0:
        raise ScheduleError(f"step of range should be a positive number: {expr} ({what})")
    return set(range(start, end + 1, step)), star


def _int_or_name(text: str, names: dict[str, int] | None, what: str) -> int:
    if names is not None and text.lower() in names:
        return names[text.lower()]
    return _atoi(text, what)


def _atoi(text: str, what: str) -> int:
    if not _ATOI.fullmatch(text):
        raise ScheduleError(f"failed to parse int from {text} ({what})")
    num = int(text)
    if num < 0:
        raise ScheduleError(f"negative number ({num}) not allowed: {text} ({what})")
    return num


def problem(text: str) -> str | None:
    """Why robfig/cron would refuse ``text`` (so ESO would ignore the window), or None."""
    try:
        parse(text)
    except ScheduleError as exc:
        return str(exc)
    return None


# ----------------------------------------------------------------------------------------- windows


def within(schedule: Schedule, duration: timedelta, at: datetime) -> bool:
    """ESO's ``isWithinSyncWindow``: is ``at`` inside the window that opened at the latest firing?"""
    at = _utc(at)
    prev = schedule.next(at - duration - ONE_SECOND)
    return prev is not None and prev <= at <= prev + duration


def _parsed(windows: Iterable[SyncWindow]) -> list[tuple[Schedule, timedelta]]:
    out = []
    for w in windows:
        try:
            out.append((parse(w.schedule), w.duration))
        except ScheduleError:
            continue  # ESO skips a schedule it cannot parse (treated as inactive)
    return out


def allowed(sync_windows: SyncWindows | None, at: datetime) -> bool:
    """ESO's ``isPeriodicRefreshAllowedByWindows``: may a periodic refresh happen at ``at``?"""
    if sync_windows is None or not sync_windows.windows:
        return True
    active = any(within(s, d, at) for s, d in _parsed(sync_windows.windows))
    if sync_windows.kind == "deny":
        return not active
    if sync_windows.kind == "allow":
        return active
    return True


def next_allowed(sync_windows: SyncWindows | None, at: datetime, until: datetime) -> datetime | None:
    """The first instant from ``at`` to ``until`` at which :func:`allowed` permits a periodic refresh: ``at``
    itself, else a whole second (a run never lands on a sub-second gap on purpose); None if there is none
    (or none found in :data:`MAX_STEPS` candidates)."""
    at, until = _utc(at), _utc(until)
    if allowed(sync_windows, at):
        return at
    assert sync_windows is not None
    parsed = _parsed(sync_windows.windows)
    t = at.replace(microsecond=0) + ONE_SECOND
    for _ in range(MAX_STEPS):
        if t > until:
            return None
        if allowed(sync_windows, t):
            return t
        if sync_windows.kind == "allow":  # closed: jump to the next opening of any window
            openings = [o for o in (s.next(t) for s, _ in parsed) if o is not None]
            if not openings:
                return None
            t = min(openings)
        else:  # inside deny windows: jump past the end of the latest one active now
            ends = [prev + d for s, d in parsed
                    if (prev := s.next(t - d - ONE_SECOND)) is not None and prev <= t <= prev + d]
            t = max(max(ends).replace(microsecond=0) + ONE_SECOND, t + ONE_SECOND)
    return None


# ------------------------------------------------------------------------------- config warnings

REFERENCE = datetime(2024, 1, 1, tzinfo=UTC)
"""Where :func:`window_warnings` starts looking: a fixed Monday of a leap year, so its answer is the same
every day (a window on 29 February is seen)."""
HORIZON_DAYS = 400
MAX_INTERVALS = 100_000


def _intervals(schedule: Schedule, duration: timedelta, start: datetime, days: int,
               join: timedelta) -> list[tuple[datetime, datetime]]:
    """The windows ``schedule`` opens from ``start`` for ``days`` days, as ``(open, close)``, those closer
    than ``join`` merged. An ``@every`` window is always active (``d <= duration + 1s``) or never."""
    end = start + timedelta(days=days)
    if schedule.delay is not None:
        return [(start, end)] if schedule.delay <= duration + ONE_SECOND else []
    minutes, hours = sorted(schedule.fields[0]), sorted(schedule.fields[1])
    in_day = [timedelta(hours=h, minutes=m) for h in hours for m in minutes]
    out: list[tuple[datetime, datetime]] = []
    for n in range(days):
        day = start + timedelta(days=n)
        if schedule.day_matches(day):
            out.extend((day + s, day + s + duration) for s in in_day)
    return _merge(out, join)


def _merge(intervals: list[tuple[datetime, datetime]], join: timedelta) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for lo, hi in sorted(intervals):
        if merged and lo - merged[-1][1] <= join:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def _span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    text = f"{rest // 60}h{rest % 60:02d}m"
    return f"{days}d{text}" if days else text


def window_warnings(sync_windows: SyncWindows | None, token_lifetime: timedelta = timedelta(hours=3),
                    due_after: timedelta | None = None) -> list[str]:
    """Warnings for a ``syncWindows`` set that can keep a due refresh from happening before the token
    lapses: a token becomes due ``due_after`` after it was written (default: half its life, the freshness
    rule's margin; pass ``min(refreshInterval, life - minRemaining)`` when those are set), so it lapses
    when refreshes are withheld for longer than ``token_lifetime - due_after`` in one stretch: the longest
    gap between ``allow`` windows, or the longest continuous ``deny``. Looked for over
    :data:`HORIZON_DAYS` days from :data:`REFERENCE` (fewer for schedules that fire every few minutes);
    schedules robfig refuses are ignored, as ESO ignores them."""
    if sync_windows is None or not sync_windows.windows or sync_windows.kind not in ("allow", "deny"):
        return []
    due = due_after if due_after is not None else token_lifetime / 2
    slack = token_lifetime - min(due, token_lifetime)
    parsed = _parsed(sync_windows.windows)
    per_day = max([len(s.fields[0]) * len(s.fields[1]) for s, _ in parsed if s.delay is None] or [1])
    days = max(8, min(HORIZON_DAYS, MAX_INTERVALS // per_day))
    start, end = REFERENCE, REFERENCE + timedelta(days=days)
    # Start earlier by the longest window, so one that opened before `start` is seen covering it.
    lead = max([d for _, d in parsed] or [timedelta(0)])
    lead_days = int(lead / timedelta(days=1)) + 1
    life = f"a token lives {_span(token_lifetime)} and is due for refresh {_span(due)} after it is written"
    # Windows closer than `join` are joined: for allow, gaps shorter than the slack never matter (cheaper).
    join = slack if sync_windows.kind == "allow" else timedelta(0)
    union = _merge([i for s, d in parsed for i in _intervals(s, d, start - timedelta(days=lead_days),
                                                              days + lead_days, join)], join)
    union = [(max(lo, start), min(hi, end)) for lo, hi in union if hi > start and lo < end]
    if sync_windows.kind == "allow":
        if not union:
            return [f"syncWindows (allow): no window ever opens, so no periodic refresh ever happens; {life}, "
                    "so every token lapses (only a changed definition or a missing Secret is written)"]
        stretches = [(lo, hi) for lo, hi in zip([start] + [c for _, c in union], [o for o, _ in union] + [end],
                                                strict=True) if hi > lo]
        what = "no window is open"
    else:
        stretches, what = union, "refreshes are denied"
    if not stretches:
        return []
    lo, hi = max(stretches, key=lambda g: g[1] - g[0])
    if hi - lo <= slack:
        return []
    stretch = ("at all times" if (lo, hi) == (start, end)
               else f"for {_span(hi - lo)} at a stretch (e.g. from {_when(lo)} to {_when(hi)})")
    return [f"syncWindows ({sync_windows.kind}): {what} {stretch}; {life}, so a token can lapse before the next "
            "allowed refresh"]


def _when(t: datetime) -> str:
    return t.strftime("%a %d %b %H:%M UTC")
