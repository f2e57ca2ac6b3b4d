"""Two targets, one Secret: refused in config for fixed namespaces, failed at expansion for selectors;
only Merge/CreateOrMerge targets with disjoint data keys may share (issue: a Secret that flipped between two
registries' tokens on every run)."""

from __future__ import annotations

from pathlib import Path

import pytest

from acr_refresh.config import ConfigError, load_config
from acr_refresh.emulator import Emulator
from acr_refresh.run import RunOptions, run
from tests.conftest import TENANT, acr_generator, fast_services, write_config


def target(name: str, generator: str, where: str, extra: str = "") -> str:
    return (f"apiVersion: acr-refresh/v1alpha1\nkind: KubernetesSecret\nmetadata: {{name: {name}}}\nspec:\n"
            f"  generatorRef: {{name: {generator}}}\n  name: shared\n{where}{extra}")


def merge_es(name: str, key: str) -> str:
    return (f"apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {{name: {name}}}\nspec:\n"
            f"  target:\n    name: shared\n    creationPolicy: Merge\n    template:\n      mergePolicy: Replace\n"
            f"      data: {{{key}: '{{{{ .password }}}}'}}\n  dataFrom:\n    - sourceRef:\n        generatorRef:\n"
            f"          apiVersion: generators.external-secrets.io/v1alpha1\n          kind: ACRAccessToken\n"
            f"          name: gen\n")


def test_two_targets_with_fixed_namespaces_are_refused_in_config(tmp_path: Path) -> None:
    docs = (acr_generator("one"), acr_generator("two", registry="other.azurecr.io"),
            target("a", "one", "  namespaces: [default]\n"), target("b", "two", "  namespaces: [default]\n"))
    with pytest.raises(ConfigError) as err:
        load_config(write_config(tmp_path, *docs))
    assert "document 4" in str(err.value) and "spec.name" in str(err.value) and "KubernetesSecret/" in str(err.value)


def test_merge_targets_with_disjoint_keys_may_share(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, acr_generator(), merge_es("x", "a"), merge_es("y", "b")))
    assert len(config.kube_targets) == 2
    with pytest.raises(ConfigError):
        load_config(write_config(tmp_path, acr_generator(), merge_es("x", "a"), merge_es("y", "a")))


@pytest.mark.kube
def test_selector_targets_that_meet_fail_there_and_leave_the_secret(em: Emulator, tmp_path: Path) -> None:
    em.add_namespace("team-a", labels={"pull": "yes"})
    em.add_namespace("team-b")
    em.add_registry("other.azurecr.io", tenant=TENANT)
    docs = (acr_generator("one"), acr_generator("two", registry="other.azurecr.io"),
            target("a", "one", "  namespaces: [team-a, team-b]\n"),
            target("b", "two", "  namespaceSelector: {matchLabels: {pull: 'yes'}}\n"))
    report = run(load_config(write_config(tmp_path, *docs)), RunOptions(), services=fast_services()).to_dict()
    places = {(t["namespace"], g["name"]): t for g in report["generators"] for t in g["targets"]}
    assert places[("team-b", "one")]["status"] == "written"
    for key, other in ((("team-a", "one"), "KubernetesSecret/default/b"),
                       (("team-a", "two"), "KubernetesSecret/default/a")):
        assert places[key]["status"] == "failed" and places[key]["reason"] == "conflict", places[key]
        assert other in places[key]["error"]
    assert em.get_object("secrets", "team-a", "shared") is None


@pytest.mark.kube
def test_two_merge_targets_sharing_a_secret_settle(em: Emulator, tmp_path: Path) -> None:
    """Two Merge targets with disjoint keys in one Secret: written once each, then fresh; neither's record
    makes the other stale (no rewrite loop)."""
    em.add_secret("default", "shared", {"app": "keep"})
    config = load_config(write_config(tmp_path, acr_generator(), merge_es("x", "a"), merge_es("y", "b")))
    first = run(config, RunOptions(), services=fast_services()).to_dict()
    assert sorted(t["status"] for g in first["generators"] for t in g["targets"]) == ["written", "written"], first
    for _ in range(2):
        again = run(config, RunOptions(), services=fast_services()).to_dict()
        got = sorted((t["status"], t["reason"]) for g in again["generators"] for t in g["targets"])
        assert got == [("fresh", "valid"), ("fresh", "valid")], again


@pytest.mark.kube
def test_a_sharer_removed_gives_up_only_its_own_keys(em: Emulator, tmp_path: Path) -> None:
    """With --prune, a Merge target gone from the config removes its key and record from the Secret it shared;
    the other target's key, its record and the application's key stay, and the other stays fresh."""
    import base64

    em.add_secret("default", "shared", {"app": "keep"})
    both = load_config(write_config(tmp_path, acr_generator(), merge_es("x", "a"), merge_es("y", "b")))
    assert run(both, RunOptions(), services=fast_services()).to_dict()["ok"]
    one = load_config(write_config(tmp_path, acr_generator(), merge_es("x", "a"), name="one.yaml"))
    report = run(one, RunOptions(prune=True), services=fast_services()).to_dict()
    assert [(p["name"], p["status"]) for p in report["pruned"]] == [("shared", "deleted")], report
    obj = em.get_object("secrets", "default", "shared")
    assert obj is not None
    assert sorted(obj["data"]) == ["a", "app"] and base64.b64decode(obj["data"]["app"]) == b"keep"
    notes = obj["metadata"]["annotations"]
    assert [v for k, v in notes.items() if k.startswith("acr-refresh/target")] == ["ExternalSecret/default/x"]
    again = run(one, RunOptions(), services=fast_services()).to_dict()
    assert [t["status"] for g in again["generators"] for t in g["targets"]] == ["fresh"], again
