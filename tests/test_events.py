"""acr_refresh.events' pure part: which Events a run's outcomes call for, their bodies, the series patch and
when an existing Event may take a repeat. No network (publishing is tested in tests/integration)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from acr_refresh import events
from acr_refresh.events import Outcome

NOW = datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)


def outcome(status: str, reason: str = "", expires: datetime | None = None, uid: str = "u1") -> Outcome:
    return Outcome("default", "team-a", "pull", status, reason, expires, uid)


def test_each_status_calls_for_its_events() -> None:
    held = NOW + timedelta(minutes=40)
    kinds = {s: [(o.reason, o.type) for o in events.occurrences([outcome(s, "forbidden", held)], NOW)]
             for s in ("written", "fresh", "skipped", "expired", "failed", "not-attempted")}
    assert kinds == {
        "written": [("Refreshed", "Normal")], "fresh": [], "skipped": [], "expired": [],
        "failed": [("RefreshFailed", "Warning"), ("LapseImminent", "Warning")],
        "not-attempted": [("LapseImminent", "Warning")],
    }


def test_lapse_notes_follow_the_readme_rule() -> None:
    def note(expires: datetime | None) -> str:
        (lapse,) = [o for o in events.occurrences([outcome("not-attempted", "deadline", expires)], NOW)]
        return lapse.note

    assert note(NOW + timedelta(hours=1)) == ("Not refreshed; the credential this Secret holds expires at "
                                              "2026-03-04T06:06:07Z")
    assert note(NOW - timedelta(seconds=1)) == ("Not refreshed; the credential this Secret holds EXPIRED at "
                                                "2026-03-04T05:06:06Z")
    assert "unknown" in note(None)


def test_only_closed_vocabulary_reaches_a_note() -> None:
    (failed, _) = events.occurrences([outcome("failed", "client 0f6c2e54 said no")], NOW)
    assert failed.note == ("acr-refresh could not refresh this Secret (reason: write-failed); it keeps its "
                           "previous value")


def test_body_series_and_isomorphism() -> None:
    (occ,) = events.occurrences([outcome("written")], NOW)
    body = events.event_body(occ, NOW)
    assert body["metadata"] == {"name": "pull.acr-refresh.refreshed", "namespace": "team-a"}
    assert body["eventTime"] == "2026-03-04T05:06:07.890123Z" and "series" not in body
    assert body["regarding"] == {"apiVersion": "v1", "kind": "Secret", "namespace": "team-a", "name": "pull",
                                 "uid": "u1"}
    stored = {**body, "metadata": {**body["metadata"], "resourceVersion": "7"}}
    assert events.same_series(stored, body)
    later = NOW + timedelta(minutes=30)
    patch = events.series_patch(stored, later)
    assert patch == {"metadata": {"resourceVersion": "7"},
                     "series": {"count": 2, "lastObservedTime": "2026-03-04T05:36:07.890123Z"}}
    assert events.series_patch({**stored, "series": {"count": 5}}, later)["series"]["count"] == 6
    # Another note, another uid (a recreated Secret), or someone else's Event: not a repeat.
    assert not events.same_series({**stored, "note": "other"}, body)
    assert not events.same_series({**stored, "regarding": {**body["regarding"], "uid": "u2"}}, body)
    assert not events.same_series({**stored, "reportingController": "someone-else"}, body)
    # Without a uid (a Secret that does not exist) the reference has none.
    assert "uid" not in events.event_body(occ.with_uid(""), NOW)["regarding"]


def test_names_are_deterministic_and_valid() -> None:
    assert events.event_name("pull", "LapseImminent") == "pull.acr-refresh.lapseimminent"
    long = "a" * 240 + ".b-" + "c" * 10
    name = events.event_name(long, "RefreshFailed")
    assert len(name) <= 253 and name == events.event_name(long, "RefreshFailed")
    assert name.endswith(".acr-refresh.refreshfailed") and name != events.event_name(long[:-1] + "d", "RefreshFailed")
