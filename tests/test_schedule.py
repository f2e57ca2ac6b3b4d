"""acr_refresh.schedule against the tables of the code it mirrors.

- robfig/cron v3.0.1 (the version ESO v2.9.0's go.mod pins): ``spec_test.go`` (TestActivation, and the rows of
  TestNext whose seconds field is 0 and that use no time zone, with that field dropped), ``parser_test.go``
  (TestRange, TestField, TestParseScheduleErrors, TestStandardSpecSchedule), ``constantdelay_test.go``
  (TestConstantDelayNext, the rows whose delay is whole microseconds).
- ESO v2.9.0 ``pkg/controllers/externalsecret/syncwindow_test.go`` (TestIsWithinSyncWindow,
  TestIsPeriodicRefreshAllowedByWindows), for ``isWithinSyncWindow`` and ``isPeriodicRefreshAllowedByWindows``
  in ``externalsecret_controller.go``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from acr_refresh import schedule
from acr_refresh.config.model import SyncWindow, SyncWindows


def when(text: str) -> datetime:
    """robfig's getTime for its UTC rows: ``Mon Jul 9 14:45 2012`` or with seconds (and fractions)."""
    for fmt in ("%a %b %d %H:%M %Y", "%a %b %d %H:%M:%S %Y", "%a %b %d %H:%M:%S.%f %Y"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise ValueError(text)


# spec_test.go TestActivation: Next(t - 1s) == t exactly when the schedule fires at t.
ACTIVATION = [
    ("Mon Jul 9 15:00 2012", "0/15 * * * *", True),
    ("Mon Jul 9 15:45 2012", "0/15 * * * *", True),
    ("Mon Jul 9 15:40 2012", "0/15 * * * *", False),
    ("Mon Jul 9 15:05 2012", "5/15 * * * *", True),
    ("Mon Jul 9 15:20 2012", "5/15 * * * *", True),
    ("Mon Jul 9 15:50 2012", "5/15 * * * *", True),
    ("Sun Jul 15 15:00 2012", "0/15 * * Jul *", True),
    ("Sun Jul 15 15:00 2012", "0/15 * * Jun *", False),
    ("Sun Jul 15 08:30 2012", "30 08 ? Jul Sun", True),
    ("Sun Jul 15 08:30 2012", "30 08 15 Jul ?", True),
    ("Mon Jul 16 08:30 2012", "30 08 ? Jul Sun", False),
    ("Mon Jul 16 08:30 2012", "30 08 15 Jul ?", False),
    ("Mon Jul 9 15:00 2012", "@hourly", True),
    ("Mon Jul 9 15:04 2012", "@hourly", False),
    ("Mon Jul 9 15:00 2012", "@daily", False),
    ("Mon Jul 9 00:00 2012", "@daily", True),
    ("Mon Jul 9 00:00 2012", "@weekly", False),
    ("Sun Jul 8 00:00 2012", "@weekly", True),
    ("Sun Jul 8 01:00 2012", "@weekly", False),
    ("Sun Jul 8 00:00 2012", "@monthly", False),
    ("Sun Jul 1 00:00 2012", "@monthly", True),
    # Both day fields restricted: either matches.
    ("Sun Jul 15 00:00 2012", "* * 1,15 * Sun", True),
    ("Fri Jun 15 00:00 2012", "* * 1,15 * Sun", True),
    ("Wed Aug 1 00:00 2012", "* * 1,15 * Sun", True),
    ("Sun Jul 15 00:00 2012", "* * */10 * Sun", True),  # robfig #70
    # One has a star: both must match.
    ("Sun Jul 15 00:00 2012", "* * * * Mon", False),
    ("Mon Jul 9 00:00 2012", "* * 1,15 * *", False),
    ("Sun Jul 15 00:00 2012", "* * 1,15 * *", True),
    ("Sun Jul 15 00:00 2012", "* * */2 * Sun", True),
]


@pytest.mark.parametrize(("at", "spec", "fires"), ACTIVATION)
def test_activation(at: str, spec: str, fires: bool) -> None:
    t = when(at)
    assert (schedule.parse(spec).next(t - timedelta(seconds=1)) == t) is fires


# spec_test.go TestNext, rows with seconds 0 and no TZ (seconds field dropped); "" is robfig's zero time.
NEXT = [
    ("Mon Jul 9 14:45 2012", "0/15 * * * *", "Mon Jul 9 15:00 2012"),
    ("Mon Jul 9 14:59 2012", "0/15 * * * *", "Mon Jul 9 15:00 2012"),
    ("Mon Jul 9 14:59:59 2012", "0/15 * * * *", "Mon Jul 9 15:00 2012"),
    ("Mon Jul 9 15:45 2012", "20-35/15 * * * *", "Mon Jul 9 16:20 2012"),
    ("Mon Jul 9 23:46 2012", "*/15 * * * *", "Tue Jul 10 00:00 2012"),
    ("Mon Jul 9 23:45 2012", "20-35/15 * * * *", "Tue Jul 10 00:20 2012"),
    ("Mon Jul 9 23:35 2012", "0 0 9 Apr-Oct ?", "Thu Aug 9 00:00 2012"),
    ("Mon Jul 9 23:35 2012", "0 0 */5 Apr,Aug,Oct Mon", "Tue Aug 1 00:00 2012"),
    ("Mon Jul 9 23:35 2012", "0 0 */5 Oct Mon", "Mon Oct 1 00:00 2012"),
    ("Mon Jul 9 23:35 2012", "0 0 * Feb Mon", "Mon Feb 4 00:00 2013"),
    ("Mon Jul 9 23:35 2012", "0 0 * Feb Mon/2", "Fri Feb 1 00:00 2013"),
    ("Mon Dec 31 23:59:45 2012", "* * * * *", "Tue Jan 1 00:00:00 2013"),
    ("Mon Jul 9 23:35 2012", "0 0 29 Feb ?", "Mon Feb 29 00:00 2016"),
    ("Mon Jul 9 23:35 2012", "0 0 30 Feb ?", ""),
    ("Mon Jul 9 23:35 2012", "0 0 31 Apr ?", ""),
]


@pytest.mark.parametrize(("at", "spec", "expected"), NEXT)
def test_next(at: str, spec: str, expected: str) -> None:
    assert schedule.parse(spec).next(when(at)) == (when(expected) if expected else None)


# constantdelay_test.go TestConstantDelayNext (delays robfig rounds to whole seconds; ns rows shown in µs).
CONSTANT_DELAY = [
    ("Mon Jul 9 14:59 2012", "15m", "Mon Jul 9 15:14 2012"),
    ("Mon Jul 9 14:59:59 2012", "15m", "Mon Jul 9 15:14:59 2012"),
    ("Mon Jul 9 15:45 2012", "35m", "Mon Jul 9 16:20 2012"),
    ("Mon Jul 9 23:46 2012", "14m", "Tue Jul 10 00:00 2012"),
    ("Mon Jul 9 23:45 2012", "35m", "Tue Jul 10 00:20 2012"),
    ("Mon Jul 9 23:35:51 2012", "44m24s", "Tue Jul 10 00:20:15 2012"),
    ("Mon Jul 9 23:35:51 2012", "25h44m24s", "Thu Jul 11 01:20:15 2012"),
    ("Mon Jul 9 23:35 2012", "2184h25m", "Thu Oct 9 00:00 2012"),
    ("Mon Dec 31 23:59:45 2012", "15s", "Tue Jan 1 00:00:00 2013"),
    ("Mon Jul 9 14:45 2012", "15m50ns", "Mon Jul 9 15:00 2012"),  # the delay is rounded down to the second
    ("Mon Jul 9 14:45:00 2012", "15ms", "Mon Jul 9 14:45:01 2012"),  # ... and up to 1 s when shorter
    ("Mon Jul 9 14:45:00.005 2012", "15m", "Mon Jul 9 15:00 2012"),  # the start too
    ("Mon Jul 9 14:45:00.005 2012", "15m50ns", "Mon Jul 9 15:00 2012"),
]


@pytest.mark.parametrize(("at", "every", "expected"), CONSTANT_DELAY)
def test_constant_delay_next(at: str, every: str, expected: str) -> None:
    assert schedule.parse(f"@every {every}").next(when(at)) == when(expected)


# parser_test.go TestRange: (expr, min, max, values, star bit, error fragment).
RANGES = [
    ("5", 0, 7, {5}, False, ""),
    ("0", 0, 7, {0}, False, ""),
    ("7", 0, 7, {7}, False, ""),
    ("5-5", 0, 7, {5}, False, ""),
    ("5-6", 0, 7, {5, 6}, False, ""),
    ("5-7", 0, 7, {5, 6, 7}, False, ""),
    ("5-6/2", 0, 7, {5}, False, ""),
    ("5-7/2", 0, 7, {5, 7}, False, ""),
    ("5-7/1", 0, 7, {5, 6, 7}, False, ""),
    ("*", 1, 3, {1, 2, 3}, True, ""),
    ("*/2", 1, 3, {1, 3}, False, ""),
    ("5--5", 0, 0, set(), False, "too many hyphens"),
    ("jan-x", 0, 0, set(), False, "failed to parse int from"),
    ("2-x", 1, 5, set(), False, "failed to parse int from"),
    ("*/-12", 0, 0, set(), False, "negative number"),
    ("*//2", 0, 0, set(), False, "too many slashes"),
    ("1", 3, 5, set(), False, "below minimum"),
    ("6", 3, 5, set(), False, "above maximum"),
    ("5-3", 3, 5, set(), False, "beyond end of range"),
    ("*/0", 0, 0, set(), False, "should be a positive number"),
]


@pytest.mark.parametrize(("expr", "lo", "hi", "values", "star", "error"), RANGES)
def test_range(expr: str, lo: int, hi: int, values: set[int], star: bool, error: str) -> None:
    if error:
        with pytest.raises(schedule.ScheduleError, match=error):
            schedule._range(expr, lo, hi, None, "field")
        return
    assert schedule._range(expr, lo, hi, None, "field") == (values, star)


@pytest.mark.parametrize(("expr", "values"), [  # parser_test.go TestField (bounds 1-7; day of month here)
    ("5", {5}), ("5,6", {5, 6}), ("5,6,7", {5, 6, 7}), ("1,5-7/2,3", {1, 5, 7, 3}),
])
def test_field(expr: str, values: set[int]) -> None:
    assert schedule.parse(f"0 0 {expr} * *").fields[2] == frozenset(values)


@pytest.mark.parametrize(("spec", "error"), [  # TestParseScheduleErrors, TestStandardSpecSchedule
    ("5 j * * *", "failed to parse int from"),
    ("@every Xm", "failed to parse duration"),
    ("@unrecognized", "unrecognized descriptor"),
    ("* * * *", "expected exactly 5 fields"),
    ("", "empty spec string"),
    ("0 0 * * 7", "above maximum"),  # robfig's day of week is 0-6 (croniter would take 7 as Sunday)
    ("0 0 L * *", "failed to parse int from"),  # no croniter extensions: L, W, #
    ("0 0 * * 1#2", "failed to parse int from"),
    ("0 0 0 * * *", "expected exactly 5 fields"),  # no seconds field in ESO's parser
    ("CRON_TZ=UTC 0 22 * * *", "time zone"),
])
def test_parse_errors(spec: str, error: str) -> None:
    with pytest.raises(schedule.ScheduleError, match=error):
        schedule.parse(spec)
    assert schedule.problem(spec)


def test_standard_spec_and_descriptors() -> None:
    s = schedule.parse("5 * * * *")
    assert s.fields == (frozenset({5}), frozenset(range(24)), frozenset(range(1, 32)), frozenset(range(1, 13)),
                        frozenset(range(7)))
    assert s.dom_star and s.dow_star
    assert schedule.parse("@every 5m").delay == timedelta(minutes=5)
    for name, same in schedule.DESCRIPTORS.items():
        assert schedule.parse(name).fields == schedule.parse(same).fields
    assert schedule.problem("0 22 * * *") is None


# ESO syncwindow_test.go TestIsWithinSyncWindow: "0 22 * * *" for 2h, opening 2026-06-01 22:00 UTC.
OPEN = datetime(2026, 6, 1, 22, tzinfo=UTC)
WITHIN = [
    ("at window open (inclusive)", OPEN, True),
    ("inside window", OPEN + timedelta(minutes=30), True),
    ("at window close (inclusive)", OPEN + timedelta(hours=2), True),
    ("one second past window close", OPEN + timedelta(hours=2, seconds=1), False),
    ("one hour before window opens", OPEN - timedelta(hours=1), False),
    ("between two consecutive occurrences", OPEN + timedelta(hours=5), False),
    ("inside the second occurrence (next day)", OPEN + timedelta(hours=24, minutes=30), True),
]


@pytest.mark.parametrize(("name", "at", "want"), WITHIN, ids=[w[0] for w in WITHIN])
def test_is_within_sync_window(name: str, at: datetime, want: bool) -> None:
    assert schedule.within(schedule.parse("0 22 * * *"), timedelta(hours=2), at) is want


VALID = SyncWindow("0 22 * * *", timedelta(hours=2))
INVALID = SyncWindow("not-a-cron", timedelta(hours=2))
IN_WINDOW = datetime(2026, 6, 1, 23, tzinfo=UTC)
OUT_WINDOW = datetime(2026, 6, 1, 20, tzinfo=UTC)
ALLOWED = [  # TestIsPeriodicRefreshAllowedByWindows
    ("nil SyncWindows always permits", None, IN_WINDOW, True),
    ("empty Windows list always permits", SyncWindows("allow", ()), IN_WINDOW, True),
    ("allow: at inside window -- permit", SyncWindows("allow", (VALID,)), IN_WINDOW, True),
    ("allow: at outside window -- block", SyncWindows("allow", (VALID,)), OUT_WINDOW, False),
    ("deny: at inside window -- block", SyncWindows("deny", (VALID,)), IN_WINDOW, False),
    ("deny: at outside window -- permit", SyncWindows("deny", (VALID,)), OUT_WINDOW, True),
    ("allow: only invalid schedule -- block", SyncWindows("allow", (INVALID,)), IN_WINDOW, False),
    ("deny: only invalid schedule -- permit", SyncWindows("deny", (INVALID,)), IN_WINDOW, True),
    ("allow: one invalid + one valid active window -- permit", SyncWindows("allow", (INVALID, VALID)), IN_WINDOW,
     True),
    ("unknown kind -- always permit", SyncWindows("unknown", (VALID,)), IN_WINDOW, True),
]


@pytest.mark.parametrize(("name", "windows", "at", "want"), ALLOWED, ids=[a[0] for a in ALLOWED])
def test_is_periodic_refresh_allowed_by_windows(name: str, windows: SyncWindows | None, at: datetime,
                                                want: bool) -> None:
    assert schedule.allowed(windows, at) is want


@pytest.mark.parametrize(("every", "duration", "active"), [
    ("1h", timedelta(hours=1), True),
    ("1h", timedelta(minutes=59, seconds=59), True),  # d <= duration + 1s
    ("1h", timedelta(minutes=59, seconds=58), False),
    ("30m", timedelta(hours=2), True),
    ("3h", timedelta(hours=2), False),
])
def test_every_window_is_always_or_never_active(every: str, duration: timedelta, active: bool) -> None:
    s = schedule.parse(f"@every {every}")
    for minute in range(0, 24 * 60, 7):
        assert schedule.within(s, duration, OPEN + timedelta(minutes=minute)) is active


def test_next_allowed() -> None:
    allow = SyncWindows("allow", (SyncWindow("0 22 * * *", timedelta(hours=8)),))
    deny = SyncWindows("deny", (SyncWindow("0 22 * * *", timedelta(hours=8)),))
    ten = datetime(2026, 6, 1, 10, tzinfo=UTC)
    horizon = ten + timedelta(days=2)
    assert schedule.next_allowed(allow, ten, horizon) == datetime(2026, 6, 1, 22, tzinfo=UTC)
    assert schedule.next_allowed(allow, OPEN + timedelta(hours=1), horizon) == OPEN + timedelta(hours=1)
    assert schedule.next_allowed(allow, ten, ten + timedelta(hours=3)) is None
    # Denied until just past 06:00 (ESO's window includes its closing instant).
    assert schedule.next_allowed(deny, OPEN + timedelta(hours=1), horizon) == datetime(2026, 6, 2, 6, 0, 1, tzinfo=UTC)
    assert schedule.next_allowed(deny, ten, horizon) == ten
    # Two overlapping deny windows: past the end of both.
    both = SyncWindows("deny", (SyncWindow("0 22 * * *", timedelta(hours=8)), SyncWindow("0 5 * * *",
                                                                                         timedelta(hours=2))))
    assert schedule.next_allowed(both, OPEN + timedelta(hours=1), horizon) == datetime(2026, 6, 2, 7, 0, 1,
                                                                                        tzinfo=UTC)
    always = SyncWindows("deny", (SyncWindow("@every 1m", timedelta(hours=1)),))
    assert schedule.next_allowed(always, ten, ten + timedelta(hours=3)) is None
    never = SyncWindows("allow", (SyncWindow("0 0 30 2 *", timedelta(hours=1)),))
    assert schedule.next_allowed(never, ten, horizon) is None


def test_window_warnings() -> None:
    life = timedelta(hours=3)
    nightly_allow = SyncWindows("allow", (SyncWindow("0 22 * * *", timedelta(hours=8)),))
    [warning] = schedule.window_warnings(nightly_allow, token_lifetime=life)
    assert "syncWindows (allow)" in warning and "16h00m" in warning and "lapse" in warning
    [warning] = schedule.window_warnings(SyncWindows("deny", (SyncWindow("0 22 * * *", timedelta(hours=8)),)))
    assert "syncWindows (deny)" in warning and "8h00m" in warning
    # Hourly half-hour windows never withhold a refresh for longer than the 1h30m a token has left when due.
    assert schedule.window_warnings(SyncWindows("allow", (SyncWindow("0 * * * *", timedelta(minutes=30)),))) == []
    assert schedule.window_warnings(SyncWindows("deny", (SyncWindow("0 9 * * 1-5", timedelta(hours=1)),))) == []
    # ... but 2 h of denial can: a token due at 1h30m left may be written just before the window opens.
    [warning] = schedule.window_warnings(SyncWindows("deny", (SyncWindow("0 9 * * 1-5", timedelta(hours=2)),)))
    assert "2h00m" in warning
    # Unless it becomes due sooner (refreshInterval 30m: 2h30m of slack).
    assert schedule.window_warnings(SyncWindows("deny", (SyncWindow("0 9 * * 1-5", timedelta(hours=2)),)),
                                    due_after=timedelta(minutes=30)) == []
    # A window opening late at night also covers the early morning of the next day.
    assert schedule.window_warnings(SyncWindows("allow", (SyncWindow("0 0,3,6,9,12,15,18,21 * * *",
                                                                     timedelta(hours=2)),))) == []
    # Weekday-only allow windows leave the weekend closed.
    [warning] = schedule.window_warnings(SyncWindows("allow", (SyncWindow("* * * * 1-5", timedelta(minutes=1)),)))
    assert "2d0h00m" in warning
    [warning] = schedule.window_warnings(SyncWindows("deny", (SyncWindow("@every 1m", timedelta(hours=1)),)))
    assert "at all times" in warning
    [warning] = schedule.window_warnings(SyncWindows("allow", (SyncWindow("0 0 30 2 *", timedelta(hours=1)),)))
    assert "no window ever opens" in warning
    assert schedule.window_warnings(None) == [] and schedule.window_warnings(SyncWindows("allow", ())) == []
