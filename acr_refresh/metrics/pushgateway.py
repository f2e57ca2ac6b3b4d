"""Delivery to a Prometheus Pushgateway, grouped by ``job="acr-refresh"`` and ``shard``.

The method is chosen so that no run erases what only an earlier run could know (``docs/operations.md``):

- **POST**, never PUT: a POST replaces only the metric families it carries, so a run that failed pushes no
  ``last_success_timestamp_seconds`` and the gateway keeps the last successful run's value. (PUT would
  replace the whole group and erase it.)
- Within a family, a POST replaces every series of the group. So before pushing, the group is read back
  (``GET /api/v1/metrics``) and each per-target series this run cannot replace is pushed again with its last
  known value: targets the run did not read (deadline, SIGTERM, a failed read) keep their expiry, targets it
  did not attempt keep their failure state, and a partial run (cut short, or ``--generator``) keeps the
  targets it never saw. Targets gone from the config disappear with the next complete run. The same read
  gives each failing target's consecutive-failure count its previous value.
- If the group cannot be read, nothing is pushed (a warning says so): pushing blind could erase last known
  expiries.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import requests

from . import MetricsError
from .prometheus import CONTENT_TYPE, exposition
from .series import CONSECUTIVE, EXPIRY, LAST_FAILURE, TARGET_LABELS, RunSeries, Sample

JOB = "acr-refresh"


def group_url(url: str, shard: int) -> str:
    return f"{url.rstrip('/')}/metrics/job/{quote(JOB, safe='')}/shard/{shard}"


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0.05:
        raise MetricsError("no time left")
    return left


def previous_group(session: requests.Session, url: str, shard: int, deadline: float) -> dict[str, Any]:
    """The gateway's current metric families of our group (empty when the group does not exist yet)."""
    resp = session.get(f"{url.rstrip('/')}/api/v1/metrics", timeout=_left(deadline))
    if resp.status_code != 200:
        raise MetricsError(f"reading the current group answered HTTP {resp.status_code}")
    try:
        groups = resp.json()["data"]
    except (ValueError, KeyError, TypeError) as exc:
        raise MetricsError("reading the current group: the answer is not the Pushgateway API") from exc
    for group in groups or ():
        labels = group.get("labels") or {}
        if labels.get("job") == JOB and labels.get("shard") == str(shard) and len(labels) == 2:
            return dict(group)
    return {}


def samples(group: dict[str, Any]) -> list[Sample]:
    """The group's per-target samples."""
    out: list[Sample] = []
    for name in (EXPIRY, LAST_FAILURE, CONSECUTIVE):
        for metric in (group.get(name) or {}).get("metrics") or ():
            found = metric.get("labels") or {}
            try:
                value = float(metric.get("value"))
            except (TypeError, ValueError):
                continue
            out.append(Sample(name, tuple((k, str(found.get(k, ""))) for k in TARGET_LABELS), value))
    return out


def push(url: str, series: RunSeries, *, timeout: float) -> int:
    """Push ``series`` to the gateway at ``url`` within ``timeout`` seconds in all; returns how many per-target
    series were carried over from the group. Raises :class:`MetricsError`."""
    deadline = time.monotonic() + timeout
    session = requests.Session()
    try:
        try:
            group = previous_group(session, url, series.shard[0], deadline)
            kept = series.merge(samples(group))
            body = exposition(series.samples)
            resp = session.post(group_url(url, series.shard[0]), data=body,
                                headers={"Content-Type": CONTENT_TYPE}, timeout=_left(deadline))
        except requests.exceptions.Timeout as exc:
            raise MetricsError(f"timed out after {timeout:g} s") from exc
        except requests.exceptions.RequestException as exc:
            raise MetricsError(f"connection failed ({type(exc).__name__})") from exc
        if resp.status_code not in (200, 202):
            raise MetricsError(f"push answered HTTP {resp.status_code}")
        return kept
    finally:
        session.close()
