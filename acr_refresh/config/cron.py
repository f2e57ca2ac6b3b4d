"""Checking ``syncWindows`` schedules as ESO's CRD and robfig/cron accept them. Pure.

ESO's pattern (``ExternalSecretSyncWindowEntry.Schedule``) admits a descriptor (``@daily`` ...), ``@every <Go
duration>`` or five fields; robfig/cron's standard parser (minute, hour, day of month, month, day of week)
must then parse it. Five-field expressions are checked with croniter, imported only when a config has one.
"""

from __future__ import annotations

import re

from ..durations import parse_duration

DESCRIPTORS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_PATTERN = re.compile(r"^(@(annually|yearly|monthly|weekly|daily|midnight|hourly)|@every [^\s]+.*|[^\s]+( [^\s]+){4})$")


def schedule_problem(schedule: str) -> str | None:
    """Why ``schedule`` is not a schedule ESO would use, or None."""
    if not _PATTERN.fullmatch(schedule):
        return ("must be a 5-field cron expression (minute hour day-of-month month day-of-week, UTC), "
                f"{', '.join(DESCRIPTORS)} or '@every <duration>'")
    if schedule in DESCRIPTORS:
        return None
    if schedule.startswith("@every "):
        try:
            every = parse_duration(schedule[len("@every "):].strip())
        except ValueError as exc:
            return f"@every: {exc}"
        if every.total_seconds() < 1:
            return "@every needs at least 1s (robfig/cron rounds shorter intervals up to a second)"
        return None
    if schedule.startswith("@"):
        return f"unknown descriptor {schedule.split()[0]!r}"
    from croniter import croniter

    if not croniter.is_valid(schedule):
        return f"{schedule!r} is not a valid 5-field cron expression"
    return None
