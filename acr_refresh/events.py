"""Kubernetes Events (events.k8s.io/v1) on the Secrets a run wrote or failed to write (opt-in: ``--events``).

Events live in tenants' namespaces, where whoever can read Events reads them: an Event carries the Secret
it is about (``regarding``), its reason, its times, and a note built only from fixed words, the report's
closed reason vocabulary (:mod:`acr_refresh.reasons`) and a timestamp. Never a client or tenant id, a
registry, a generator, another target, or any text from a server's answer.

Reasons (see ``docs/operations.md``, "Events"):

- ``Refreshed`` (Normal): the run wrote a new credential into the Secret;
- ``RefreshFailed`` (Warning): the run failed to refresh it (the note gives the report's reason word);
- ``LapseImminent`` (Warning): the README's lapse-warning rule (``_Run.lapse_warnings``): the Secret was
  left unrefreshed (``failed`` or ``not-attempted``), and the note says when the credential it still holds
  expires (or that it has, or that its expiry is unknown).

Each Event is named deterministically per Secret and reason (:func:`event_name`) and kept as a series across
runs, as client-go's events recorder (``k8s.io/client-go/tools/events``) does for a repeated, isomorphic
Event: the first occurrence is created without ``series``; a repeat patches ``series.count`` (2, then 3, ...)
and ``series.lastObservedTime``, leaving ``eventTime`` at the first one. Current API servers make an Event's
note, type, reason, action, regarding and reporting fields immutable, so a changed note (another failure
reason, another expiry) or a recreated Secret (another uid) replaces our Event: deleted with preconditions,
only if it is ours (our ``reportingController``), then created anew.

This module is pure except :func:`publish`, which uses :class:`~acr_refresh.kube.KubeClients`.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .errors import truncate
from .redact import scrub
from .report import rfc3339

log = logging.getLogger(__name__)

REFRESHED = "Refreshed"
REFRESH_FAILED = "RefreshFailed"
LAPSE_IMMINENT = "LapseImminent"
REASONS = (REFRESHED, REFRESH_FAILED, LAPSE_IMMINENT)
CONTROLLER = "acr-refresh"
"""``reportingController`` (a qualified name, as the API server requires) and ``reportingInstance``: the
same for every run and shard, so repeats from any of them stay one series."""
ACTION = "Refresh"
MAX_NAME = 253


@dataclass(frozen=True)
class Outcome:
    """What a run did to one Kubernetes Secret target: the only input Events are built from."""

    cluster: str
    namespace: str
    secret: str
    status: str
    """The target's report status (``written``, ``failed``, ``not-attempted``, ...)."""
    reason: str
    """The target's report reason (a word of :data:`acr_refresh.reasons.REASONS`)."""
    held_expires_at: datetime | None = None
    """When the credential the Secret holds before this run expires (its record), if known."""
    uid: str = ""
    """The Secret's uid when the run read it ("" when it did not exist)."""


@dataclass(frozen=True)
class Occurrence:
    """One Event to record (or to add to its series) on one Secret."""

    cluster: str
    namespace: str
    secret: str
    reason: str
    type: str
    note: str
    uid: str = ""

    @property
    def name(self) -> str:
        return event_name(self.secret, self.reason)

    def with_uid(self, uid: str) -> Occurrence:
        return Occurrence(self.cluster, self.namespace, self.secret, self.reason, self.type, self.note, uid)


def event_name(secret: str, reason: str) -> str:
    """``<secret>.acr-refresh.<reason>`` lowercased; a name too long for the API is cut and given a hash of
    the whole, so it stays unique and deterministic."""
    suffix = f".{CONTROLLER}.{reason.lower()}"
    name = secret + suffix
    if len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha256(secret.encode()).hexdigest()[:10]
    head = secret[: MAX_NAME - len(suffix) - len(digest) - 1].rstrip(".-")
    return f"{head}-{digest}{suffix}"


def _lapse_note(expires: datetime | None, now: datetime) -> str:
    # The README's lapse-warning rule, in the same words as the report's warning, minus the target's key.
    if expires is None:
        return "Not refreshed, and the expiry of the credential this Secret holds is unknown"
    if expires <= now:
        return f"Not refreshed; the credential this Secret holds EXPIRED at {rfc3339(expires)}"
    return f"Not refreshed; the credential this Secret holds expires at {rfc3339(expires)}"


def occurrences(outcomes: Iterable[Outcome], now: datetime) -> list[Occurrence]:
    """The Events a run's outcomes call for, in order. Pure.

    ``written`` -> ``Refreshed``; ``failed`` -> ``RefreshFailed``; ``failed`` or ``not-attempted`` ->
    ``LapseImminent`` (the lapse-warning rule). ``fresh``, ``skipped`` and ``expired`` record nothing: the run
    did nothing to the Secret (a fresh Secret's last ``Refreshed`` series stays as it is)."""
    out: list[Occurrence] = []
    for o in outcomes:
        where = (o.cluster, o.namespace, o.secret)
        if o.status == "written":
            out.append(Occurrence(*where, REFRESHED, "Normal", "acr-refresh wrote a new registry credential "
                                  "into this Secret", o.uid))
        if o.status == "failed":
            out.append(Occurrence(*where, REFRESH_FAILED, "Warning", "acr-refresh could not refresh this Secret "
                                  f"(reason: {_word(o.reason)}); it keeps its previous value", o.uid))
        if o.status in ("failed", "not-attempted"):
            out.append(Occurrence(*where, LAPSE_IMMINENT, "Warning", _lapse_note(o.held_expires_at, now), o.uid))
    return out


def _word(reason: str) -> str:
    """Only a word of the closed vocabulary reaches a tenant's namespace."""
    from .reasons import REASONS as WORDS

    return reason if reason in WORDS else "write-failed"


def _micro(when: datetime) -> str:
    """A ``MicroTime``: RFC 3339 with microseconds."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_body(occ: Occurrence, now: datetime) -> dict[str, Any]:
    """A new events.k8s.io/v1 Event for ``occ`` (first of its series: no ``series``). Pure."""
    regarding: dict[str, Any] = {"apiVersion": "v1", "kind": "Secret", "namespace": occ.namespace,
                                 "name": occ.secret}
    if occ.uid:
        regarding["uid"] = occ.uid  # kubectl finds an object's Events by kind, name and uid
    return {
        "apiVersion": "events.k8s.io/v1", "kind": "Event",
        "metadata": {"name": occ.name, "namespace": occ.namespace},
        "eventTime": _micro(now),
        "reportingController": CONTROLLER, "reportingInstance": CONTROLLER,
        "action": ACTION, "reason": occ.reason, "type": occ.type, "note": occ.note,
        "regarding": regarding,
    }


def same_series(existing: dict[str, Any], body: dict[str, Any]) -> bool:
    """``existing`` is ours and ``body`` would be an isomorphic repeat of it (client-go's test: every field but
    the times), so it may be added to its series."""
    keys = ("reportingController", "reportingInstance", "action", "reason", "type", "note")
    if any(existing.get(k) != body.get(k) for k in keys):
        return False
    had, want = existing.get("regarding") or {}, body["regarding"]
    return all((had.get(k) or "") == (want.get(k) or "") for k in ("kind", "namespace", "name", "uid"))


def series_patch(existing: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A merge patch adding one occurrence to ``existing``'s series (count 2 on the first repeat, as client-go
    does), guarded by its resourceVersion. Pure."""
    series = existing.get("series") or {}
    count = series.get("count")
    count = count if isinstance(count, int) and count > 1 else 1
    return {"metadata": {"resourceVersion": (existing.get("metadata") or {}).get("resourceVersion")},
            "series": {"count": count + 1, "lastObservedTime": _micro(now)}}


# ------------------------------------------------------------------------------------------ publishing


def outcomes_of(items: Iterable[Any]) -> list[Outcome]:
    """:class:`Outcome` of each Kubernetes item of a run (``acr_refresh.run._Item``)."""
    out = []
    for item in items:
        if not item.cluster or not hasattr(item.target, "secret_name"):
            continue  # Key Vault targets have no Kubernetes object to attach an Event to
        existing = item.existing
        out.append(Outcome(item.cluster, item.namespace, item.target.secret_name, item.report.status,
                           item.report.reason or "", item.stored.expires_at if item.stored else None,
                           getattr(existing, "uid", "") or ""))
    return out


@dataclass
class _Tally:
    recorded: int = 0
    failed: int = 0
    first_error: str = ""
    down: bool = False


def publish(kube: Any, occs: Sequence[Occurrence], now: datetime, *,
            each: Callable[[Callable[[Occurrence], None], Iterable[Occurrence]], None] | None = None,
            out_of_time: Callable[[], str | None] = lambda: None) -> list[str]:
    """Record ``occs`` through ``kube`` (:class:`~acr_refresh.kube.KubeClients`); return the report's
    warnings, one per cluster where some Event could not be recorded. Never raises for an Event: Events are
    best effort and change no target's status.

    Per Event: read ours by name; absent -> create; an isomorphic repeat -> patch its series; else replace it
    (delete with uid and resourceVersion preconditions, then create). A Secret written by a create is read
    once for its uid. After a cluster answers 5xx or cannot be reached, its remaining Events are skipped, and
    after a 403 in a namespace, that namespace's; no request starts after ``out_of_time()`` says so.
    ``each(fn, items)`` may run them concurrently."""
    tallies: dict[str, _Tally] = {o.cluster: _Tally() for o in occs}
    uids: dict[tuple[str, str, str], str] = {}
    denied: set[tuple[str, str]] = set()  # (cluster, namespace) where Events were forbidden (403)
    lock = threading.Lock()  # `each` may run `one` on several threads

    def one(occ: Occurrence) -> None:
        tally = tallies[occ.cluster]
        late = out_of_time()
        if tally.down or late or (occ.cluster, occ.namespace) in denied:
            with lock:
                tally.failed += 1
                tally.first_error = tally.first_error or late or "skipped after an earlier failure"
            return
        try:
            client = kube.get(occ.cluster)
            if not occ.uid:
                key = (occ.cluster, occ.namespace, occ.secret)
                if key not in uids:
                    secret = client.read_secret(occ.namespace, occ.secret)
                    uids[key] = str(((secret or {}).get("metadata") or {}).get("uid") or "")
                occ = occ.with_uid(uids[key])
            _record(client, occ, now)
            with lock:
                tally.recorded += 1
        except Exception as exc:  # noqa: BLE001 - an Event never fails the run
            status = getattr(exc, "status", None)
            text = truncate(scrub(str(exc)), 300)
            with lock:
                tally.failed += 1
                tally.down = tally.down or status is None or status >= 500
                if status == 403:
                    denied.add((occ.cluster, occ.namespace))
                tally.first_error = tally.first_error or text
            log.warning("event not recorded", extra={"cluster": occ.cluster, "namespace": occ.namespace,
                                                     "secret": occ.secret, "reason": occ.reason, "error": text})

    (each or _sequential)(one, list(occs))
    return [f"events: {t.failed} of {t.failed + t.recorded} Events not recorded in cluster {cluster} "
            f"(first: {t.first_error})" for cluster, t in tallies.items() if t.failed]


def _sequential(fn: Callable[[Occurrence], None], items: Iterable[Occurrence]) -> None:
    for item in items:
        fn(item)


def _record(client: Any, occ: Occurrence, now: datetime) -> None:
    body = event_body(occ, now)
    existing = client.read_event(occ.namespace, occ.name)
    if existing is None:
        client.create_event(occ.namespace, body)
        return
    if same_series(existing, body):
        client.patch_event(occ.namespace, occ.name, series_patch(existing, now))
        return
    meta = existing.get("metadata") or {}
    if existing.get("reportingController") != CONTROLLER:
        from .errors import DeliveryError

        raise DeliveryError(f"cluster {client.name}: Event {occ.namespace}/{occ.name} exists and is not "
                            "acr-refresh's: left as it is", status=409)
    client.delete_event(occ.namespace, occ.name, uid=meta.get("uid"), resource_version=meta.get("resourceVersion"))
    client.create_event(occ.namespace, body)
