"""Prune and ownership, on both Kubernetes tiers: delete only what we created, never what is wanted, never
on a broken config (README "Prune"; docs/reliability.md). Each case here deleted or overwrote something
before the created marker and the prune guards existed."""

from __future__ import annotations

import base64
import textwrap
from pathlib import Path

import pytest

from acr_refresh.config import load_config
from acr_refresh.emulator import Emulator
from acr_refresh.run import RunOptions, run
from acr_refresh.sinks.kubernetes import CREATED_ANNOTATION, SA_PULL_SECRETS_ANNOTATION
from tests.conftest import acr_generator, fast_services, write_config

pytestmark = pytest.mark.kube


def go(tmp_path: Path, *docs: str, **options: object) -> dict:
    config = load_config(write_config(tmp_path, *docs))
    return run(config, RunOptions(**options), services=fast_services()).to_dict()  # type: ignore[arg-type]


def kube_secret(name: str, namespaces: str, generator: str = "gen", extra: str = "") -> str:
    return (f"apiVersion: acr-refresh/v1alpha1\nkind: KubernetesSecret\nmetadata: {{name: {name}}}\nspec:\n"
            f"  generatorRef: {{name: {generator}}}\n  namespaces: [{namespaces}]\n{extra}")


def external_secret(name: str, policy: str, target: str | None = None, template: str = "") -> str:
    return textwrap.dedent(f"""\
        apiVersion: external-secrets.io/v1
        kind: ExternalSecret
        metadata: {{name: {name}}}
        spec:
          refreshInterval: 1h
          target:
            name: {target or name}
            creationPolicy: {policy}
        {textwrap.indent(template, "    ")}
          dataFrom:
            - sourceRef:
                generatorRef: {{apiVersion: generators.external-secrets.io/v1alpha1, kind: ACRAccessToken, name: gen}}
        """)


def pruned(report: dict) -> list[tuple[str, str, str | None]]:
    return sorted((f"{p['namespace']}/{p['name']}" if p.get("name") else p["cluster"], p["status"],
                   p.get("reason")) for p in report["pruned"])


def data(em: Emulator, ns: str, name: str) -> dict[str, str]:
    obj = em.get_object("secrets", ns, name)
    assert obj is not None
    return {k: base64.b64decode(v).decode() for k, v in (obj.get("data") or {}).items()}


@pytest.fixture
def two(em: Emulator, tmp_path: Path) -> tuple[str, str, str]:
    """A generator with two targets in team-a and team-b, written once."""
    for ns in ("team-a", "team-b"):
        em.add_namespace(ns)
    gen, a, b = acr_generator(), kube_secret("pull-a", "team-a"), kube_secret("pull-b", "team-b")
    assert go(tmp_path, gen, a, b)["ok"]
    return gen, a, b


def test_created_marker_is_set_by_the_create_only(em: Emulator, tmp_path: Path, two: tuple[str, str, str]) -> None:
    obj = em.get_object("secrets", "team-a", "pull-a")
    assert obj is not None and CREATED_ANNOTATION in obj["metadata"]["annotations"]
    em.add_secret("team-a", "preexisting", {"k": "v"}, annotations={CREATED_ANNOTATION: "forged"})
    gen, a, b = two
    adopt = kube_secret("preexisting", "team-a", extra="  template: {type: Opaque}\n")
    report = go(tmp_path, gen, a, b, adopt, take_over=frozenset({"team-a/preexisting"}))
    assert report["ok"], report
    # Removed from the config: a forged marker (not owned by our field manager) does not make it ours.
    report = go(tmp_path, gen, a, b, prune=True)
    assert ("team-a/preexisting", "kept", "not-created") in pruned(report)
    assert em.get_object("secrets", "team-a", "preexisting") is not None


@pytest.mark.parametrize("config", ["", "# only a comment\n"], ids=["empty", "comments-only"])
def test_an_empty_config_prunes_nothing(em: Emulator, tmp_path: Path, two: tuple[str, str, str],
                                        config: str) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text(config)
    report = run(load_config(path), RunOptions(prune=True), services=fast_services()).to_dict()
    assert pruned(report) == [("default", "refused", "guard-empty-config")]
    assert em.get_object("secrets", "team-a", "pull-a") is not None
    assert em.get_object("secrets", "team-b", "pull-b") is not None
    allowed = run(load_config(path), RunOptions(prune=True, prune_allow_empty=True, dry_run=True),
                  services=fast_services()).to_dict()
    assert [(p, s) for p, s, _ in pruned(allowed)] == [("team-a/pull-a", "skipped"), ("team-b/pull-b", "skipped")]


def test_a_removed_target_is_deleted_and_unlinked_only_from_what_we_linked(
        em: Emulator, tmp_path: Path) -> None:
    for ns in ("team-a", "team-b"):
        em.add_namespace(ns)
    em.add_service_account("team-b", "default")
    em.add_service_account("team-b", "other", image_pull_secrets=["pull-b"])  # linked by someone else
    gen = acr_generator()
    a = kube_secret("pull-a", "team-a")
    b = kube_secret("pull-b", "team-b", extra="  serviceAccounts: [default]\n")
    assert go(tmp_path, gen, a, b)["ok"]
    sa = em.get_object("serviceaccounts", "team-b", "default")
    assert sa is not None and sa["metadata"]["annotations"][SA_PULL_SECRETS_ANNOTATION] == "pull-b"
    report = go(tmp_path, gen, a, prune=True)
    assert pruned(report) == [("team-b/pull-b", "deleted", "unwanted")]
    assert em.get_object("secrets", "team-b", "pull-b") is None
    default = em.get_object("serviceaccounts", "team-b", "default")
    other = em.get_object("serviceaccounts", "team-b", "other")
    assert default is not None and not default.get("imagePullSecrets")
    assert other is not None and other["imagePullSecrets"] == [{"name": "pull-b"}]


def test_merge_keeps_the_owners_labels_and_a_removed_merge_target_takes_only_its_keys(
        em: Emulator, tmp_path: Path) -> None:
    em.add_namespace("default")
    em.add_secret("default", "helm-app", {"db-password": "app-owned"},
                  labels={"app.kubernetes.io/managed-by": "Helm"}, managed_by="helm")
    gen = acr_generator()
    merge = external_secret("es-merge", "Merge", target="helm-app")
    report = go(tmp_path, gen, merge)
    assert report["ok"], report
    obj = em.get_object("secrets", "default", "helm-app")
    assert obj is not None and obj["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "Helm"}
    assert set(data(em, "default", "helm-app")) == {"db-password", "username", "password"}
    keep = kube_secret("other", "default")  # the config still writes into this cluster
    report = go(tmp_path, gen, keep, prune=True)
    assert pruned(report) == [("default/helm-app", "deleted", "unwanted")]
    obj = em.get_object("secrets", "default", "helm-app")
    assert obj is not None, "a Merge target's Secret is never deleted"
    assert data(em, "default", "helm-app") == {"db-password": "app-owned"}
    assert not any(k.startswith("acr-refresh/") for k in (obj["metadata"].get("annotations") or {}))
    assert obj["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "Helm"}


def test_orphan_and_adopted_secrets_are_never_deleted(em: Emulator, tmp_path: Path) -> None:
    em.add_namespace("default")
    em.add_secret("default", "adopted", {"x": "y"})
    gen = acr_generator()
    orphan = external_secret("es-orphan", "Orphan")
    owner = external_secret("es-owner", "Owner", target="adopted")
    assert go(tmp_path, gen, orphan)["ok"]
    refused = go(tmp_path, gen, owner)
    (target,) = refused["generators"][0]["targets"]
    assert target["status"] == "failed" and "--take-over default/adopted" in target["error"]
    assert go(tmp_path, gen, owner, take_over=frozenset({"default/adopted"}))["ok"]
    report = go(tmp_path, gen, kube_secret("still", "default"), prune=True)
    assert ("default/es-orphan", "kept", "policy-keeps") in pruned(report)
    assert ("default/adopted", "kept", "not-created") in pruned(report)
    assert em.get_object("secrets", "default", "es-orphan") is not None
    assert em.get_object("secrets", "default", "adopted") is not None


def test_a_wanted_secret_whose_write_failed_is_not_deleted(em: Emulator, tmp_path: Path,
                                                           two: tuple[str, str, str]) -> None:
    em.fail("kube.secret.apply", status=503, count=None)
    report = go(tmp_path, *two, prune=True, force=True)
    em.clear_faults()
    assert report["ok"] is False
    assert pruned(report) == []
    assert em.get_object("secrets", "team-a", "pull-a") is not None


def test_a_target_not_selected_this_run_is_still_wanted(em: Emulator, tmp_path: Path) -> None:
    for ns in ("team-a", "team-b"):
        em.add_namespace(ns)
    docs = (acr_generator("one"), acr_generator("two"), kube_secret("pull-a", "team-a", "one"),
            kube_secret("pull-b", "team-b", "two"))
    assert go(tmp_path, *docs)["ok"]
    report = go(tmp_path, *docs, prune=True, generators=("default/one",))
    assert pruned(report) == []
    assert em.get_object("secrets", "team-b", "pull-b") is not None


def test_a_failed_namespace_listing_prunes_nothing_in_that_cluster(em: Emulator, tmp_path: Path) -> None:
    em.add_namespace("team-a", labels={"pull": "yes"})
    gen = acr_generator()
    selected = kube_secret("pull-sel", "x", extra="  namespaceSelector: {matchLabels: {pull: 'yes'}}\n")
    selected = selected.replace("  namespaces: [x]\n", "")
    gone = kube_secret("pull-gone", "team-a")
    assert go(tmp_path, gen, selected, gone)["ok"]
    em.fail("kube.namespace.list", status=503, count=None)
    report = go(tmp_path, gen, selected, prune=True)
    em.clear_faults()
    assert ("team-a/pull-gone", "refused", "guard-expansion-failed") in pruned(report)
    assert ("team-a/pull-sel", "refused", "guard-expansion-failed") in pruned(report)
    assert em.get_object("secrets", "team-a", "pull-gone") is not None
    assert em.get_object("secrets", "team-a", "pull-sel") is not None


def test_more_than_max_delete_is_refused_whole(em: Emulator, tmp_path: Path) -> None:
    namespaces = [f"ns-{i}" for i in range(4)]
    for ns in namespaces:
        em.add_namespace(ns)
    gen = acr_generator()
    docs = [kube_secret(f"s{i}", ns) for i, ns in enumerate(namespaces)]
    assert go(tmp_path, gen, *docs)["ok"]
    report = go(tmp_path, gen, docs[0], prune=True, prune_max_delete=2)
    assert report["ok"] is False
    assert {(s, r) for _, s, r in pruned(report)} == {("refused", "guard-max-delete")}
    assert len(pruned(report)) == 3
    assert any("--prune-max-delete" in w for w in report["warnings"])
    assert all(em.get_object("secrets", ns, f"s{i}") is not None for i, ns in enumerate(namespaces))
    report = go(tmp_path, gen, docs[0], prune=True, prune_max_delete=3)
    assert [s for _, s, _ in pruned(report)] == ["deleted"] * 3


def test_legacy_secrets_are_kept(em: Emulator, tmp_path: Path) -> None:
    em.add_namespace("default")
    em.add_secret("default", "old", {"username": "u", "password": "p"},
                  labels={"app.kubernetes.io/managed-by": "acr-refresh"},
                  annotations={"acr-refresh/target": "KubernetesSecret/default/old"})
    report = go(tmp_path, acr_generator(), kube_secret("new", "default"), prune=True)
    assert ("default/old", "kept", "legacy") in pruned(report)
    assert em.get_object("secrets", "default", "old") is not None


def test_prune_stops_at_the_deadline(em: Emulator, tmp_path: Path, two: tuple[str, str, str]) -> None:
    gen, a, _ = two
    report = go(tmp_path, gen, a, prune=True, deadline_seconds=0)
    assert all(s == "not-attempted" for _, s, _ in pruned(report))
    assert em.get_object("secrets", "team-b", "pull-b") is not None


def test_a_secret_eso_writes_into_now_is_kept(em: Emulator, tmp_path: Path, two: tuple[str, str, str]) -> None:
    """A Secret we created that ESO later merges into (its managed label and field manager, as ESO v2.9.0's
    controller writes them: tests/eso_writer.py) is not ours alone: prune keeps it, naming ESO."""
    from tests.eso_writer import MANAGED_LABEL, request

    path = "/api/v1/namespaces/team-b/secrets/pull-b?fieldManager=" + "externalsecrets.external-secrets.io%2Fpull-b"
    request(em, "PATCH", path, {"metadata": {"labels": {MANAGED_LABEL: "true"}}}, "application/merge-patch+json")
    gen, a, _ = two
    report = go(tmp_path, gen, a, prune=True)
    assert ("team-b/pull-b", "kept", "eso-managed") in pruned(report), report
    assert em.get_object("secrets", "team-b", "pull-b") is not None
