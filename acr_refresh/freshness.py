"""The freshness rule: is a delivered credential still good enough to leave alone? Pure.

A target is *fresh* when its inputs hash is unchanged and its token still has more than half of its
lifetime left (or more than ``min_remaining`` when one is set), and, for an ExternalSecret, it is younger
than ``refreshInterval`` (``0``: create once, never refresh). Refresh tokens live about 3 hours and access
tokens about 75 minutes, so with a schedule every 15-30 minutes a token is replaced at least one run
before a consumer could hold an expired one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Stored:
    """What a target holds now, read from annotations (Kubernetes) or attributes and tags (Key Vault)."""

    issued_at: datetime | None
    expires_at: datetime | None
    inputs_hash: str


def verdict(
    stored: Stored | None,
    *,
    now: datetime,
    wanted_hash: str,
    min_remaining: timedelta | None = None,
    refresh_interval: timedelta | None = None,
) -> tuple[bool, str]:
    """``(fresh, reason)`` for a target. ``stored`` None means the target does not exist (or is not ours)."""
    if stored is None:
        return False, "missing"
    if stored.inputs_hash != wanted_hash:
        return False, "inputs changed"
    if refresh_interval is not None and refresh_interval == timedelta(0):
        return True, "refreshInterval 0: created once"
    if stored.expires_at is None or stored.issued_at is None:
        return False, "no recorded expiry"
    remaining = stored.expires_at - now
    if remaining <= timedelta(0):
        return False, "expired"
    if refresh_interval is not None and now - stored.issued_at >= refresh_interval:
        return False, "older than refreshInterval"
    needed = min_remaining if min_remaining is not None else (stored.expires_at - stored.issued_at) / 2
    if remaining <= needed:
        return False, "less than the required lifetime left"
    return True, "fresh"
