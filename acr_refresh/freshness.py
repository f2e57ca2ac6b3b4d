"""The freshness rule: is a delivered credential still good enough to leave alone? Pure.

A target is *fresh* when its inputs hash is unchanged and its token still has more than half of its
lifetime left (or more than ``min_remaining`` when one is set), and, for an ExternalSecret, it is younger
than ``refreshInterval`` (``0``: create once, never refresh). Refresh tokens live about 3 hours and access
tokens about 75 minutes, so with a schedule every 15-30 minutes a token is replaced at least one run
before a consumer could hold an expired one. Every time compared here is on the job's own clock
(:func:`anchor`), never a server's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

MAX_LIFETIME = timedelta(hours=24)
"""The longest credible token lifetime (Entra ID tokens live up to about 24 h, ACR's 3 h): a longer claimed
life is treated as this, so a 100-year ``exp`` cannot keep a target fresh forever."""
MAX_SKEW = timedelta(minutes=5)
"""A token issued further than this from the job's clock (by its ``iat``) is reported as clock skew."""


@dataclass(frozen=True)
class Anchored:
    """A token's life on the job's own clock: ``issued_at`` is when the job received it."""

    issued_at: datetime
    expires_at: datetime
    warnings: tuple[str, ...] = ()


def anchor(iat: datetime | None, exp: datetime | None, received: datetime, what: str) -> Anchored | None:
    """Anchor a token's life to the job's clock at receipt: expiry = ``received`` + (``exp`` - ``iat``);
    without ``iat``, the life left is ``exp`` - ``received``. None when the token states no ``exp``.

    The server's clock never enters a verdict this way: a server ahead of the job cannot make the job
    believe a token lives longer than it does, and one behind cannot make every run rewrite. Warns (in
    ``warnings``, naming ``what``) when ``iat`` is more than :data:`MAX_SKEW` from ``received`` and when the
    life exceeds :data:`MAX_LIFETIME` (then capped to it).
    """
    if exp is None:
        return None
    warnings: list[str] = []
    if iat is not None:
        life = exp - iat
        skew = iat - received
        if abs(skew) > MAX_SKEW:
            side = "ahead of" if skew > timedelta(0) else "behind"
            warnings.append(f"{what}: the issuer's clock is about {_minutes(abs(skew))} min {side} this job's "
                            "(by the token's iat); its expiry is counted from the time it was received")
    else:
        life = exp - received
    if life > MAX_LIFETIME:
        warnings.append(f"{what}: the token claims a lifetime of {_minutes(life)} min; treated as "
                        f"{_minutes(MAX_LIFETIME)} min")
        life = MAX_LIFETIME
    if life < timedelta(0):
        warnings.append(f"{what}: the token expires before it was issued or received; treated as expired")
        life = timedelta(0)
    return Anchored(received, received + life, tuple(warnings))


def _minutes(delta: timedelta) -> int:
    return round(delta.total_seconds() / 60)


@dataclass(frozen=True)
class Stored:
    """What a target holds now, read from annotations (Kubernetes) or attributes and tags (Key Vault)."""

    issued_at: datetime | None
    expires_at: datetime | None
    inputs_hash: str
    drifted: bool = False
    """Its data (Kubernetes) or current version (Key Vault) is not what acr-refresh wrote."""


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
    if stored.drifted:
        return False, "drifted"
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
