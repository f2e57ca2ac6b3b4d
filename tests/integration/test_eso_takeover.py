"""Recognising External Secrets Operator's Secrets and taking them over cleanly, on both Kubernetes tiers.

Each of ESO's three marks alone makes a Secret ESO's: refused in live state (reason ``eso-managed``, exit 1)
unless ``--take-over`` names it. A take-over removes exactly ESO's marks (its ExternalSecret ownerReference,
its ``reconcile.external-secrets.io/`` labels and annotations, its managed-fields entries; ESO v2.9.0 sets
no others on a Secret, see tests/eso_writer.py) and keeps everyone else's, so the next run needs none.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from acr_refresh.config import load_config
from acr_refresh.emulator import Emulator
from acr_refresh.render import TARGET_ANNOTATION
from acr_refresh.run import RunOptions, run
from acr_refresh.sinks.kubernetes import FIELD_MANAGER
from tests.conftest import acr_generator, fast_services, write_config
from tests.eso_writer import DATA_HASH, MANAGED_LABEL, ExternalSecretController
from tests.integration.test_migration import eso_marks_left

pytestmark = pytest.mark.kube

NS = "apps"
ES_OWNER = {"apiVersion": "external-secrets.io/v1beta1", "kind": "ExternalSecret", "name": "pull",
            "uid": "7a1d3c2e-0000-4000-8000-000000000001", "controller": True, "blockOwnerDeletion": True}
OTHER_OWNER = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "name": "apps",
               "uid": "7a1d3c2e-0000-4000-8000-000000000002"}
DOCKER = {".dockerconfigjson": '{"auths":{}}'}

# Each mark alone, seeded beside a label, an annotation and (real tier) a managed-fields entry of Helm's.
SIGNALS: dict[str, dict[str, Any]] = {
    "owner-reference": {"owner_references": [ES_OWNER, OTHER_OWNER], "managed_by": "helm"},
    "field-manager": {"owner_references": [OTHER_OWNER], "managed_by": "externalsecrets.external-secrets.io/pull"},
    "old-field-manager": {"owner_references": [OTHER_OWNER], "managed_by": "external-secrets"},
    "label": {"owner_references": [OTHER_OWNER], "managed_by": "helm", "labels": {MANAGED_LABEL: "true"}},
    # Taken over by an earlier version, which left ESO's marks: ours and ESO's.
    "ours-and-eso": {"owner_references": [OTHER_OWNER], "managed_by": "externalsecrets.external-secrets.io/pull",
                     "annotations": {TARGET_ANNOTATION: "KubernetesSecret/pull", DATA_HASH: "h"}},
}
MARK_TEXT = {"owner-reference": "ownerReference to ExternalSecret pull",
             "field-manager": "field manager externalsecrets.external-secrets.io/pull",
             "old-field-manager": "field manager external-secrets",
             "label": f"label {MANAGED_LABEL}=true",
             "ours-and-eso": "field manager externalsecrets.external-secrets.io/pull"}


def kube_secret() -> str:
    return ("apiVersion: acr-refresh/v1alpha1\nkind: KubernetesSecret\nmetadata: {name: pull}\nspec:\n"
            f"  generatorRef: {{name: gen}}\n  namespaces: [{NS}]\n")


def go(tmp_path: Path, **options: Any) -> tuple[int, dict[str, Any]]:
    config = load_config(write_config(tmp_path, acr_generator(), kube_secret()))
    result = run(config, RunOptions(**options), services=fast_services())
    (target,) = [t for g in result.to_dict()["generators"] for t in g["targets"]]
    return (0 if result.ok else 1), target


def live(em: Emulator) -> dict[str, Any]:
    obj = em.get_object("secrets", NS, "pull")
    assert obj is not None
    return obj


def seed(em: Emulator, signal: str) -> dict[str, Any]:
    em.add_namespace(NS)
    spec = dict(SIGNALS[signal])
    labels = {"app": "web", **spec.pop("labels", {})}
    annotations = {"team": "a", **spec.pop("annotations", {})}
    em.add_secret(NS, "pull", DOCKER, type="kubernetes.io/dockerconfigjson", labels=labels,
                  annotations=annotations, **spec)
    return live(em)


@pytest.mark.parametrize("signal", sorted(SIGNALS))
def test_each_eso_mark_refuses_until_taken_over(em: Emulator, tmp_path: Path, signal: str) -> None:
    before = seed(em, signal)
    code, target = go(tmp_path)
    assert (code, target["status"], target["reason"]) == (1, "failed", "eso-managed")
    assert "External Secrets Operator" in target["error"] and MARK_TEXT[signal] in target["error"]
    assert "--take-over apps/pull" in target["error"] and "refused in live state" in target["error"]
    assert live(em)["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]

    code, target = go(tmp_path, take_over=frozenset({"apps/pull"}))
    assert (code, target["status"]) == (0, "written"), target
    obj = live(em)
    assert eso_marks_left(obj) == []
    meta = obj["metadata"]
    # Everyone else's stays: the other owner, the label and annotation, Helm's entry (as seeded per tier).
    assert meta["ownerReferences"] == [OTHER_OWNER]
    assert meta["labels"] == {"app": "web"} and meta["annotations"]["team"] == "a"
    managers = [e["manager"] for e in meta["managedFields"]]
    assert FIELD_MANAGER in managers and not any("external-secrets" in m for m in managers)
    if SIGNALS[signal]["managed_by"] == "helm":
        assert "helm" in managers

    code, target = go(tmp_path)  # no --take-over needed any more
    assert (code, target["status"]) == (0, "fresh"), target


def test_orphan_eso_secret_is_refused(em: Emulator, tmp_path: Path) -> None:
    """creationPolicy Orphan: no ownerReference, only ESO's entry and label (the migration guide's step 1)."""
    eso = ExternalSecretController(em, NS, "pull", secret_type="kubernetes.io/dockerconfigjson", policy="Orphan")
    eso.reconcile({".dockerconfigjson": b'{"auths":{}}'})
    assert not live(em)["metadata"].get("ownerReferences")
    code, target = go(tmp_path)
    assert (code, target["reason"]) == (1, "eso-managed")
    assert f"field manager {eso.manager}" in target["error"] and MANAGED_LABEL in target["error"]


def test_owner_era_secret_taken_over_loses_its_owner_reference(em: Emulator, tmp_path: Path) -> None:
    """ESO never let go (creationPolicy Owner still, or its Orphan sync failed): the take-over itself removes
    the controller reference, so deleting the ExternalSecret cannot garbage-collect the Secret."""
    eso = ExternalSecretController(em, NS, "pull", secret_type="kubernetes.io/dockerconfigjson")
    eso.reconcile({".dockerconfigjson": b'{"auths":{}}'})
    assert live(em)["metadata"]["ownerReferences"][0]["controller"] is True
    code, target = go(tmp_path, take_over=frozenset({"apps/pull"}))
    assert (code, target["status"]) == (0, "written"), target
    assert eso_marks_left(live(em)) == [] and not live(em)["metadata"].get("ownerReferences")


def test_a_secret_changed_since_the_guard_read_it_is_left_alone(em: Emulator, tmp_path: Path) -> None:
    before = seed(em, "field-manager")
    em.fail("kube.secret.apply", status=409)  # what a changed resourceVersion answers
    code, target = go(tmp_path, take_over=frozenset({"apps/pull"}))
    assert (code, target["reason"]) == (1, "conflict") and "left as it is" in target["error"]
    assert live(em)["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


def test_dropping_esos_marks_retries_a_conflict_then_says_what_is_left(em: Emulator, tmp_path: Path) -> None:
    seed(em, "field-manager")
    em.fail("kube.secret.patch", status=409)  # changed between our apply and our patch: read again, retry
    code, target = go(tmp_path, take_over=frozenset({"apps/pull"}))
    assert (code, target["status"]) == (0, "written") and eso_marks_left(live(em)) == []

    seed(em, "field-manager")
    em.fail("kube.secret.patch", status=409, count=None)
    code, target = go(tmp_path, take_over=frozenset({"apps/pull"}))
    em.clear_faults()
    assert (code, target["reason"]) == (1, "conflict") and "credential is written" in target["error"]
    assert not [t for t in em.issued_secrets() if t in repr(target)]  # names and reasons only, no token
    assert eso_marks_left(live(em)) == ["manager externalsecrets.external-secrets.io/pull"]
    assert go(tmp_path)[1]["reason"] == "eso-managed"  # still ESO's by its marks: the next run says so
    assert go(tmp_path, take_over=frozenset({"apps/pull"}))[1]["status"] == "written"
    assert eso_marks_left(live(em)) == []
