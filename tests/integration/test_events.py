"""Kubernetes Events (``--events``) end to end, on both tiers: what a tenant sees on its Secret after each
run, the series across runs, lapse warnings, an Event failure that changes nothing but a warning, and
nothing of anyone else in a tenant's namespace. Events are read back as events.k8s.io/v1 objects over HTTP,
as any client would read them."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from acr_refresh.cli import main
from acr_refresh.config import load_config
from acr_refresh.emulator import Emulator
from acr_refresh.run import RunOptions, run
from tests.conftest import REGISTRY, SP_CLIENT, SP_SECRET, TENANT, acr_generator, fast_services, write_config
from tests.integration import test_rbac_deployed as deployed_rbac
from tests.integration.test_rbac_deployed import install, without
from tests.kubeserver import JOB_USER

pytestmark = pytest.mark.kube

ROOT = Path(__file__).resolve().parents[2]
RBAC_EVENTS = ROOT / "deploy" / "kubernetes" / "rbac-events.yaml"
RBAC = "/apis/rbac.authorization.k8s.io/v1"
deployed = deployed_rbac.deployed  # the cluster as the README's install leaves it (a fixture)
NAMESPACES = ("team-a", "team-b")


def target(name: str, namespace: str, generator: str) -> str:
    return (f"apiVersion: acr-refresh/v1alpha1\nkind: KubernetesSecret\nmetadata: {{name: {name}}}\nspec:\n"
            f"  generatorRef: {{name: {generator}}}\n  namespaces: [{namespace}]\n")


def events_role() -> dict[str, Any]:
    (role,) = [d for d in yaml.safe_load_all(RBAC_EVENTS.read_text()) if d and d["kind"] == "ClusterRole"]
    role["metadata"]["labels"] = {"acr-refresh-test": "true"}  # removed by the tier's reset
    return dict(role)


def grant_events(em: Emulator, tier: str, namespace: str, grant: bool = True) -> None:
    """Let the job record Events in ``namespace`` (real tier: deploy/kubernetes/rbac-events.yaml's
    ClusterRole bound to the job's user), or deny them (403)."""
    if tier != "real":
        em.forbid_events(namespace, not grant)
        return
    server = em.server  # type: ignore[attr-defined]
    path = f"{RBAC}/namespaces/{namespace}/rolebindings"
    server.request("DELETE", f"{path}/acr-refresh-test-events")
    if grant:
        server.json("POST", path, {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": "acr-refresh-test-events", "namespace": namespace},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "acr-refresh-events"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": JOB_USER}]})


def list_events(em: Emulator, tier: str, namespace: str) -> list[dict[str, Any]]:
    """Every events.k8s.io/v1 Event in ``namespace``, as an administrator reads them."""
    if tier == "real":
        path = f"/apis/events.k8s.io/v1/namespaces/{namespace}/events"
        return list(em.server.json("GET", path)["items"])  # type: ignore[attr-defined]
    return [{k: v for k, v in e.items() if k not in ("kind", "apiVersion")}  # as list items are
            for e in em.list_objects("events", namespace)]


def clear_events(em: Emulator, tier: str) -> None:
    # The real tier's reset keeps no Events of ours: a namespace finalized without a controller-manager
    # would otherwise leave its Events in etcd for the next test that makes a namespace of the same name.
    if tier == "real":
        for ns in (*NAMESPACES, "default"):
            em.server.request("DELETE", f"/apis/events.k8s.io/v1/namespaces/{ns}/events")  # type: ignore[attr-defined]


def by_reason(items: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(e["regarding"]["name"], e["reason"]): e for e in items}


def count(event: dict[str, Any]) -> int:
    return int((event.get("series") or {}).get("count") or 1)


@pytest.fixture
def setup(em: Emulator, tier: str, tmp_path: Path) -> Iterator[Path]:
    """Two tenants' namespaces with Events granted, and a config writing one Secret into each."""
    for ns in NAMESPACES:
        em.add_namespace(ns)
    if tier == "real":
        em.server.apply_object(events_role())  # type: ignore[attr-defined]
    clear_events(em, tier)
    for ns in NAMESPACES:
        grant_events(em, tier, ns)
    yield write_config(tmp_path, acr_generator("gen-a7f3"), acr_generator("gen-b9d1"),
                       target("pull-a", "team-a", "gen-a7f3"), target("pull-b", "team-b", "gen-b9d1"))
    clear_events(em, tier)


def go(config: Path, **options: Any) -> dict[str, Any]:
    return run(load_config(config), RunOptions(events=True, **options), services=fast_services()).to_dict()


def secret_uid(em: Emulator, namespace: str, name: str) -> str:
    obj = em.get_object("secrets", namespace, name)
    assert obj is not None
    return str(obj["metadata"]["uid"])


def test_a_written_secret_gets_refreshed_and_a_fresh_one_gets_nothing(em: Emulator, tier: str, setup: Path) -> None:
    first = go(setup)
    assert first["ok"] and not first["warnings"], first
    (event,) = list_events(em, tier, "team-a")
    assert event["metadata"]["name"] == "pull-a.acr-refresh.refreshed"
    assert (event["reason"], event["type"], event["action"]) == ("Refreshed", "Normal", "Refresh")
    assert event["reportingController"] == "acr-refresh" and not event.get("series")
    assert event["regarding"] == {"apiVersion": "v1", "kind": "Secret", "namespace": "team-a", "name": "pull-a",
                                  "uid": secret_uid(em, "team-a", "pull-a")}
    # A second run finds the Secret fresh: nothing happened to it, so no Event changes.
    second = go(setup)
    assert [t["status"] for g in second["generators"] for t in g["targets"]] == ["fresh", "fresh"]
    assert list_events(em, tier, "team-a") == [event]
    # A forced rewrite is the same Event again: its series counts it.
    go(setup, force=True)
    (again,) = list_events(em, tier, "team-a")
    assert again["metadata"]["name"] == event["metadata"]["name"] and again["eventTime"] == event["eventTime"]
    assert again["series"]["count"] == 2 and again["series"]["lastObservedTime"] >= event["eventTime"]


def test_failures_are_a_series_and_announce_the_lapse(em: Emulator, tier: str, setup: Path) -> None:
    first = go(setup)
    expires = first["generators"][0]["targets"][0]["expiresAt"]
    em.forbid_namespace("team-a", ["patch"])  # the Secret can no longer be written
    for runs in (1, 2, 3):
        report = go(setup, force=True)
        assert report["generators"][0]["targets"][0]["status"] == "failed"
        seen = by_reason(list_events(em, tier, "team-a"))
        failed, lapse = seen[("pull-a", "RefreshFailed")], seen[("pull-a", "LapseImminent")]
        assert count(failed) == count(lapse) == runs
    assert failed["type"] == lapse["type"] == "Warning"
    assert failed["metadata"]["name"] == "pull-a.acr-refresh.refreshfailed"
    assert failed["note"] == ("acr-refresh could not refresh this Secret (reason: forbidden); it keeps its "
                              "previous value")
    # The README's lapse-warning rule: when the credential it still holds expires.
    assert lapse["note"] == f"Not refreshed; the credential this Secret holds expires at {expires}"
    assert count(seen[("pull-a", "Refreshed")]) == 1
    # The other tenant's Secret was refreshed every time; its namespace has only that.
    assert {(e["reason"], count(e)) for e in list_events(em, tier, "team-b")} == {("Refreshed", 4)}
    # Fixed: the next run writes it; its failure Events stay as history, Refreshed counts on.
    em.allow_namespace("team-a")
    assert go(setup, force=True)["ok"]
    assert count(by_reason(list_events(em, tier, "team-a"))[("pull-a", "Refreshed")]) == 2


def test_a_changed_note_replaces_our_event(em: Emulator, tier: str, setup: Path) -> None:
    """The API server makes a note immutable: another failure reason starts a new Event of the same name."""
    go(setup)
    em.forbid_namespace("team-a", ["patch"])
    go(setup, force=True)
    go(setup, force=True)
    em.allow_namespace("team-a")
    em.fail("acr.exchange", status=401, count=None)  # now the generator cannot mint
    report = go(setup, force=True)
    assert report["generators"][0]["targets"][0]["reason"] == "mint-failed"
    failed = by_reason(list_events(em, tier, "team-a"))[("pull-a", "RefreshFailed")]
    assert "(reason: mint-failed)" in failed["note"] and count(failed) == 1


def test_an_event_failure_is_only_a_warning(em: Emulator, tier: str, setup: Path) -> None:
    grant_events(em, tier, "team-a", grant=False)
    report = go(setup)
    assert report["ok"], report
    assert [t["status"] for g in report["generators"] for t in g["targets"]] == ["written", "written"]
    (warning,) = [w for w in report["warnings"] if w.startswith("events:")]
    assert "1 of 2 Events not recorded in cluster default" in warning and "403" in warning, warning
    assert list_events(em, tier, "team-a") == []
    assert {e["reason"] for e in list_events(em, tier, "team-b")} == {"Refreshed"}
    # The API server down for Events (every attempt answered 503): the same, and the exit status stays 0.
    grant_events(em, tier, "team-a")
    em.fail("kube.event.get", status=503, count=None)
    out = Path(str(setup) + ".out")
    with out.open("w") as stdout:
        code = main(["run", "--config", str(setup), "--events", "--force", "--output", "json"], stdout=stdout)
    result = json.loads(out.read_text())
    assert code == 0 and result["ok"], result
    assert any(w.startswith("events: 2 of 2 Events not recorded") and "503" in w for w in result["warnings"])


def test_events_carry_nothing_of_anyone_else(em: Emulator, tier: str, setup: Path) -> None:
    go(setup)
    em.forbid_namespace("team-a", ["patch"])
    go(setup, force=True)
    items = list_events(em, tier, "team-a")
    assert {e["reason"] for e in items} == {"Refreshed", "RefreshFailed", "LapseImminent"}
    text = json.dumps(items)
    forbidden = {SP_SECRET, SP_CLIENT, TENANT, REGISTRY, "pull-b", "team-b", "gen-a7f3", "gen-b9d1", JOB_USER,
                 "forbidden:", "User ", *em.issued_secrets()}
    leaked = {t for t in forbidden if t and t in text}
    assert not leaked, leaked
    # Only the fields we set (and the server's own metadata) exist.
    for e in items:
        ours = {"apiVersion", "kind", "metadata", "eventTime", "series", "reportingController", "reportingInstance",
                "action", "reason", "type", "note", "regarding"}
        assert {k for k, v in e.items() if v} <= ours, e  # the real server adds empty deprecated* fields
        assert set(e["regarding"]) == {"apiVersion", "kind", "namespace", "name", "uid"}


def test_no_events_on_a_dry_run_or_without_the_switch(em: Emulator, tier: str, setup: Path) -> None:
    go(setup, dry_run=True)
    run(load_config(setup), RunOptions(), services=fast_services())
    assert list_events(em, tier, "team-a") == list_events(em, tier, "team-b") == []


def test_env_switch(em: Emulator, tier: str, setup: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = Path(str(setup) + ".out")
    with out.open("w") as stdout:
        assert main(["run", "--config", str(setup), "--output", "json"], stdout=stdout,
                    environ={"ACR_REFRESH_EVENTS": "true"}) == 0
    assert {e["reason"] for e in list_events(em, tier, "team-a")} == {"Refreshed"}


@pytest.mark.real_only
def test_kubectl_shows_a_tenant_the_series(em: Emulator, tier: str, setup: Path, tmp_path: Path) -> None:
    """What a tenant sees with ``kubectl events --for secret/NAME`` (the core/v1 view of the same Events).
    ``kubectl describe secret`` prints no Events at all (kubectl's Secret describer never lists them)."""
    go(setup)
    em.forbid_namespace("team-a", ["patch"])
    go(setup, force=True)
    go(setup, force=True)
    kubeconfig = em.server.write_kubeconfig(tmp_path / "admin-kubeconfig")  # type: ignore[attr-defined]
    kubectl = ["kubectl", "--kubeconfig", kubeconfig, "-n", "team-a"]
    done = subprocess.run([*kubectl, "events", "--for", "secret/pull-a"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    lines = {line.split("Secret/pull-a")[0].split()[-1]: line for line in done.stdout.splitlines()[1:]
             if "Secret/pull-a" in line}
    assert set(lines) == {"Refreshed", "RefreshFailed", "LapseImminent"}, done.stdout
    assert "(x2 over" in lines["RefreshFailed"] and "reason: forbidden" in lines["RefreshFailed"], done.stdout
    assert "Warning" in lines["LapseImminent"] and "Normal" in lines["Refreshed"], done.stdout
    described = subprocess.run([*kubectl, "describe", "secret", "pull-a"], capture_output=True, text=True,
                               timeout=60)
    assert described.returncode == 0 and "Events:" not in described.stdout, described.stdout


# ----------------------------------------------------------------- as deployed: the ServiceAccount's RBAC


def events_docs() -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(RBAC_EVENTS.read_text()) if d]


@pytest.mark.real_only
def test_events_need_their_own_rbac_file(em: Emulator, deployed: Path) -> None:
    """As the ``acr-refresh`` ServiceAccount with rbac.yaml alone, --events only warns; with rbac-events.yaml
    every Event is recorded."""
    clear_events(em, "real")
    report = run(load_config(deployed), RunOptions(events=True), services=fast_services()).to_dict()
    assert report["ok"], report
    (warning,) = [w for w in report["warnings"] if w.startswith("events:")]
    assert "2 of 2 Events not recorded" in warning and "403" in warning, warning
    install(em, events_docs())
    report = run(load_config(deployed), RunOptions(events=True, force=True), services=fast_services()).to_dict()
    assert report["ok"] and not [w for w in report["warnings"] if w.startswith("events:")], report
    assert {(e["regarding"]["name"], e["reason"]) for ns in NAMESPACES for e in list_events(em, "real", ns)} == {
        ("pull-a", "Refreshed"), ("pull-b", "Refreshed")}
    clear_events(em, "real")


@pytest.mark.real_only
@pytest.mark.parametrize("verb", ["get", "create", "patch"])
def test_each_events_verb_is_needed(em: Emulator, deployed: Path, verb: str) -> None:
    clear_events(em, "real")
    install(em, events_docs())
    if verb == "patch":  # a repeat patches the series
        run(load_config(deployed), RunOptions(events=True), services=fast_services())
    install(em, without(events_docs(), "ClusterRole", None, "events", verb))
    report = run(load_config(deployed), RunOptions(events=True, force=True), services=fast_services()).to_dict()
    assert report["ok"], report
    (warning,) = [w for w in report["warnings"] if w.startswith("events:")]
    assert "403" in warning and f"cannot {verb}" in warning, warning
    clear_events(em, "real")
