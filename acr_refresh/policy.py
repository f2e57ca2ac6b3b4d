"""ESO's ``refreshPolicy`` and ``syncWindows`` applied to the freshness rule's verdict. Pure.

As ESO v2.9.0's ``shouldRefresh`` (``pkg/controllers/externalsecret/externalsecret_controller.go``), which only
matters once the Secret is valid (``isSecretValid``: it exists and its record is intact):

- ``CreatedOnce``: written when the Secret is missing (or not ours) or its record is unusable; never after,
  not even when the definition changes.
- ``OnChange``: also written when the definition changed (our inputs hash differs); never on a schedule.
- ``Periodic``: the freshness rule (:func:`acr_refresh.freshness.verdict`); a missing Secret, a changed
  definition or an unusable record is written at any time, but a periodic refresh (age, expiry, half-life,
  ``min_remaining``) only while ``syncWindows`` allow it (:func:`acr_refresh.schedule.allowed`), as ESO checks
  windows only in ``shouldRefreshPeriodic`` after its other reasons.

A target left alone although its token runs out keeps what it holds: ``fresh`` while that is valid (reason
``created-once``, ``unchanged`` or ``refresh-withheld``), ``expired`` with ``refresh-withheld`` once it has
lapsed. :attr:`Decision.lapse` says, before then, that the token will lapse before the next refresh the
policy or the windows allow, so the report can warn in time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from . import schedule
from .config.model import KubernetesTarget, SyncWindows
from .freshness import Stored
from .report import rfc3339

WRITE_ANY_TIME = ("missing", "drifted", "no-record", "forced")
"""Verdicts written whatever the policy: ESO rewrites a Secret that is not valid (``isSecretValid``: its
``data-hash`` annotation no longer matches its data is ``drifted`` here), whatever refreshPolicy and syncWindows
say."""
PERIODIC = ("expired", "max-age", "half-life", "min-remaining")
"""Verdicts that are a periodic refresh: the ones ``syncWindows`` can withhold."""


@dataclass(frozen=True)
class Decision:
    """What to do with one target after the freshness rule spoke."""

    stale: bool
    """Write it this run."""
    status: str = ""
    """For a target left alone: ``fresh`` or ``expired`` (empty when stale)."""
    reason: str = ""
    """The report's reason (:mod:`acr_refresh.reasons`)."""
    withheld: str = ""
    """Why a refresh is withheld (for the report's error and warnings); empty when none is."""
    lapse: bool = False
    """The token it holds lapses before the next refresh the policy or windows allow (or has lapsed)."""


def decide(target: KubernetesTarget, stored: Stored | None, reason: str, *, now: datetime,
           min_remaining: timedelta | None) -> Decision:
    """Apply ``target``'s refresh policy and sync windows to the freshness verdict ``reason`` (in the report's
    vocabulary: ``missing``, ``inputs-changed``, ``no-record``, ``expired``, ``max-age``, ``half-life``,
    ``min-remaining``, ``valid``, ``created-once``, ``forced``) for what it holds, ``stored``."""
    if reason in WRITE_ANY_TIME or stored is None or stored.expires_at is None or stored.issued_at is None:
        return Decision(True, reason=reason)
    policy = target.refresh_policy
    if policy == "CreatedOnce":
        return _held(stored, now, "created-once", "refreshPolicy CreatedOnce never refreshes it")
    if reason == "inputs-changed":
        return Decision(True, reason=reason)
    if policy == "OnChange":
        return _held(stored, now, "unchanged", "refreshPolicy OnChange refreshes it only when its definition changes")
    if reason == "created-once":  # Periodic with refreshInterval 0
        return _held(stored, now, "created-once", "refreshInterval 0 (create once) never refreshes it")
    windows = target.sync_windows
    if reason in PERIODIC:
        if schedule.allowed(windows, now):
            return Decision(True, reason=reason)
        assert windows is not None
        next_ok = schedule.next_allowed(windows, now, stored.expires_at)
        why = _windows_why(windows, next_ok)
        return _held(stored, now, "refresh-withheld", why, lapse=next_ok is None or next_ok >= stored.expires_at)
    # Fresh now: will the windows let its refresh through before it lapses?
    if windows is None or not windows.windows:
        return Decision(False, "fresh", reason)
    needed = min_remaining if min_remaining is not None else (stored.expires_at - stored.issued_at) / 2
    due = stored.expires_at - needed
    if target.refresh_interval:
        due = min(due, stored.issued_at + target.refresh_interval)
    next_ok = schedule.next_allowed(windows, max(now, due), stored.expires_at)
    if next_ok is None or next_ok >= stored.expires_at:
        return Decision(False, "fresh", reason, withheld=_windows_why(windows, None), lapse=True)
    return Decision(False, "fresh", reason)


def _held(stored: Stored, now: datetime, reason: str, why: str, *, lapse: bool = True) -> Decision:
    assert stored.expires_at is not None
    if stored.expires_at <= now:
        return Decision(False, "expired", "refresh-withheld", withheld=why, lapse=True)
    return Decision(False, "fresh", reason, withheld=why, lapse=lapse)


def _windows_why(windows: SyncWindows, next_ok: datetime | None) -> str:
    kind = "no allow window is open" if windows.kind == "allow" else "a deny window is open"
    if next_ok is None:
        return f"syncWindows ({windows.kind}) withhold its refresh ({kind}) until after the token it holds expires"
    return f"syncWindows ({windows.kind}) withhold its refresh ({kind}) until {rfc3339(next_ok)}"
