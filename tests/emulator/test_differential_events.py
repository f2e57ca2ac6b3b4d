"""Differential tests for events.k8s.io/v1 Events: the emulated API server against a real kube-apiserver
v1.20 on what ``acr_refresh.events`` depends on (status codes and Status reasons of create, read, the series
patch, the immutable note, validation and delete preconditions; the fields read back)."""

from __future__ import annotations

import copy
from typing import Any

from tests.emulator.test_differential import MERGE, Side, both, sides  # noqa: F401 - `sides` is a fixture

NS = "diff-events"
PATH = f"/apis/events.k8s.io/v1/namespaces/{NS}/events"
EVENT = {
    "apiVersion": "events.k8s.io/v1", "kind": "Event",
    "metadata": {"name": "pull.acr-refresh.refreshed"},
    "eventTime": "2026-01-02T03:04:05.000006Z",
    "reportingController": "acr-refresh", "reportingInstance": "acr-refresh", "action": "Refresh",
    "reason": "Refreshed", "type": "Normal", "note": "acr-refresh wrote a new registry credential",
    "regarding": {"apiVersion": "v1", "kind": "Secret", "namespace": NS, "name": "pull", "uid": "u-1"},
}
FIELDS = ("eventTime", "reportingController", "reportingInstance", "action", "reason", "type", "note",
          "regarding", "series")


def view(answer: tuple[int, dict[str, Any]]) -> tuple[Any, ...]:
    status, obj = answer
    if obj.get("kind") == "Status":
        return status, obj.get("reason")
    return (status, obj.get("kind"), obj.get("apiVersion"), *(obj.get(f) for f in FIELDS))


def variant(**changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(EVENT)
    for key, value in changes.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return body


def test_create_series_patch_and_immutable_note(sides: list[Side]) -> None:  # noqa: F811
    def run(s: Side) -> list[Any]:
        s.setup_namespace(NS)
        out = [view(s("POST", PATH, EVENT)), view(s("POST", PATH, EVENT))]  # 201, then 409 AlreadyExists
        name = f"{PATH}/{EVENT['metadata']['name']}"
        status, got = s("GET", name)
        out.append(view((status, got)))
        rv = got["metadata"]["resourceVersion"]
        series = {"count": 2, "lastObservedTime": "2026-01-02T04:00:00.000000Z"}
        out.append(view(s("PATCH", name, {"metadata": {"resourceVersion": "1"}, "series": series}, MERGE)))
        out.append(view(s("PATCH", name, {"metadata": {"resourceVersion": rv}, "series": series}, MERGE)))
        out.append(view(s("PATCH", name, {"series": {"count": 1, "lastObservedTime": series["lastObservedTime"]}},
                          MERGE)))
        out.append(view(s("PATCH", name, {"note": "another note"}, MERGE)))
        out.append(view(s("PATCH", name, {"reason": "RefreshFailed"}, MERGE)))
        status, got = s("GET", name)
        uid, rv = got["metadata"]["uid"], got["metadata"]["resourceVersion"]
        stale = {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": {"uid": uid, "resourceVersion": "1"}}
        out.append(s("DELETE", name, stale)[0])
        fresh = {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": {"uid": uid, "resourceVersion": rv}}
        out.append(s("DELETE", name, fresh)[0])
        out.append(view(s("GET", name)))
        return out

    both(sides, run)


def test_what_a_v1_event_must_carry(sides: list[Side]) -> None:  # noqa: F811
    bad = [
        variant(eventTime=None), variant(reportingController=None), variant(reportingInstance=None),
        variant(action=None), variant(reason=None), variant(type="Info"),
        variant(series={"count": 1, "lastObservedTime": "2026-01-02T04:00:00.000000Z"}),
        variant(deprecatedCount=3), variant(regarding={**EVENT["regarding"], "namespace": "elsewhere"}),
        variant(metadata={"name": "Not_A_Name"}),
    ]

    def run(s: Side) -> list[Any]:
        s.setup_namespace(NS)
        return [view(s("POST", PATH, body)) for body in bad]

    both(sides, run)
