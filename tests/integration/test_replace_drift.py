"""Replace and drift, on both Kubernetes tiers: the Secret we write holds what ESO's controller would write, and
stays so.

What ESO does is read from its controller, v2.9.0 (tests/eso_writer.py writes as it does):
- pkg/controllers/externalsecret/externalsecret_controller_template.go, ApplyTemplate: ``secret.Data`` is
  cleared unless creationPolicy is Merge or CreateOrMerge (Replace: keys the template does not produce are
  gone), and ``if Template.Type != "" { secret.Type = ... }`` (no template type: the existing type stays);
- pkg/controllers/externalsecret/externalsecret_controller.go, isSecretValid: a Secret whose
  ``reconcile.external-secrets.io/data-hash`` no longer matches its data is rewritten at once, whatever
  shouldRefresh (refreshPolicy, refreshInterval, syncWindows) says; an Orphan Secret is always valid.
Ours: Owner/Orphan writes apply, then remove the keys the template did not produce (a merge patch with the
resourceVersion the apply answered); every write records ``acr-refresh/data-hash`` (HMAC of the data it wrote,
Merge: its own keys only), and a Secret whose data no longer matches is rewritten with reason ``drifted``.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from pathlib import Path
from typing import Any

import pytest

from acr_refresh.config import load_config
from acr_refresh.emulator import Emulator
from acr_refresh.run import RunOptions, run
from acr_refresh.sinks.kubernetes import DATA_HASH_ANNOTATION, data_digest
from tests.conftest import TENANT, acr_generator, fast_services, write_config
from tests.eso_writer import ExternalSecretController, request
from tests.integration.test_eso_secrets import external_secret

pytestmark = pytest.mark.kube

NS = "default"
USER = "00000000-0000-0000-0000-000000000000"
VAULT = "drift.vault.azure.net"


def go(tmp_path: Path, *docs: str, **options: Any) -> dict[str, Any]:
    """One run; the report of its only Kubernetes (or Key Vault) target."""
    config = load_config(write_config(tmp_path, acr_generator(), *docs))
    report = run(config, RunOptions(**options), services=fast_services()).to_dict()
    (target,) = [t for g in report["generators"] for t in g["targets"]]
    return target


def outcome(target: dict[str, Any]) -> tuple[str, str]:
    return target["status"], target["reason"]


def data(em: Emulator, name: str = "pull") -> dict[str, str]:
    obj = em.get_object("secrets", NS, name)
    assert obj is not None
    return {k: base64.b64decode(v).decode() for k, v in (obj.get("data") or {}).items()}


def edit(em: Emulator, patch: dict[str, Any], manager: str = "kubectl-edit", name: str = "pull") -> None:
    """A hand edit: a merge patch by another field manager (what ``kubectl edit``/``patch`` sends)."""
    request(em, "PATCH", f"/api/v1/namespaces/{NS}/secrets/{name}?fieldManager={manager}", patch,
            ctype="application/merge-patch+json")


def encode(values: dict[str, str | None]) -> dict[str, str | None]:
    return {k: None if v is None else base64.b64encode(v.encode()).decode() for k, v in values.items()}


def eso_replace(template_data: dict[str, str]) -> dict[str, str]:
    """ApplyTemplate for Owner/Orphan: the data is the template's output and nothing else (Data cleared)."""
    return dict(template_data)


def eso_merge(existing: dict[str, str], template_data: dict[str, str]) -> dict[str, str]:
    """ApplyTemplate for Merge/CreateOrMerge: existing keys kept, the template's over them."""
    return {**existing, **template_data}


# ------------------------------------------------------------------------------------------ Replace


@pytest.mark.parametrize("policy", ["Owner", "Orphan"])
def test_a_replace_write_leaves_only_the_templates_keys(tmp_path: Path, em: Emulator, policy: str) -> None:
    es = external_secret(spec=f"target: {{creationPolicy: {policy}}}\n")
    assert outcome(go(tmp_path, es)) == ("written", "missing")
    edit(em, {"data": encode({"hand-added": "keep?"})})
    assert "hand-added" in data(em)
    assert go(tmp_path, es, force=True)["status"] == "written"
    got = data(em)
    assert got == eso_replace({"username": USER, "password": got["password"]})
    assert got["password"] in em.issued_secrets()


def test_a_take_over_drops_the_keys_of_esos_time(tmp_path: Path, em: Emulator) -> None:
    """ESO wrote the Secret with a key its template no longer produces (an ESO-era key) and a hand-added one
    since; the take-over leaves what ESO's own next sync of this template would: the template's keys only."""
    eso = ExternalSecretController(em, NS, "pull", secret_type="Opaque", policy="Orphan")
    eso.reconcile({"username": b"old", "password": b"old-token", "legacy": b"from ESO's template"})
    edit(em, {"data": encode({"hand-added": "x"})})
    es = external_secret()
    target = go(tmp_path, es, take_over=frozenset({f"{NS}/pull"}))
    assert outcome(target) == ("written", "missing"), target
    got = data(em)
    assert got == eso_replace({"username": USER, "password": got["password"]})
    meta = em.get_object("secrets", NS, "pull")["metadata"]  # type: ignore[index]
    assert not any(k.startswith("reconcile.external-secrets.io/") for k in meta.get("annotations") or {})
    assert outcome(go(tmp_path, es)) == ("fresh", "valid")


def test_merge_writes_only_its_keys(tmp_path: Path, em: Emulator) -> None:
    em.add_secret(NS, "pull", {"app-key": "theirs"})
    es = external_secret(spec="target: {creationPolicy: Merge}\n")
    assert go(tmp_path, es, force=True)["status"] == "written"
    edit(em, {"data": encode({"another": "also theirs"})})
    go(tmp_path, es, force=True)
    got = data(em)
    assert got == eso_merge({"app-key": "theirs", "another": "also theirs"},
                            {"username": USER, "password": got["password"]})


@pytest.mark.parametrize("policy", ["Merge", "CreateOrMerge"])
def test_merge_without_a_template_type_keeps_the_secrets_type(tmp_path: Path, em: Emulator, policy: str) -> None:
    """ApplyTemplate sets the type only ``if Template.Type != ""``: a Merge into a dockerconfigjson Secret keeps
    it (was: refused, conflict)."""
    docker = '{"auths":{"other.example":{"auth":"eDp5"}}}'
    em.add_secret(NS, "pull", {".dockerconfigjson": docker}, type="kubernetes.io/dockerconfigjson")
    es = external_secret(spec=f"target:\n  creationPolicy: {policy}\n  template:\n    data: {{token: "
                              "'{{ .password }}'}\n")
    target = go(tmp_path, es)
    assert target["status"] == "written", target
    obj = em.get_object("secrets", NS, "pull")
    assert obj is not None and obj["type"] == "kubernetes.io/dockerconfigjson"
    got = data(em)
    assert got == eso_merge({".dockerconfigjson": docker}, {"token": got["token"]})
    assert outcome(go(tmp_path, es)) == ("fresh", "valid")


def test_merge_with_another_template_type_is_still_a_conflict(tmp_path: Path, em: Emulator) -> None:
    em.add_secret(NS, "pull", {"a": "b"}, type="Opaque")
    es = external_secret(spec="target:\n  creationPolicy: Merge\n  template:\n    type: kubernetes.io/basic-auth\n"
                              "    data: {username: '{{ .username }}', password: '{{ .password }}'}\n")
    assert outcome(go(tmp_path, es)) == ("failed", "conflict")


def test_a_changed_secret_between_apply_and_removal_is_read_again(tmp_path: Path, em: Emulator) -> None:
    es = external_secret()
    go(tmp_path, es)
    edit(em, {"data": encode({"hand-added": "x"})})
    em.fail("kube.secret.patch", status=409)  # changed between our apply and our patch: read again, retry
    assert outcome(go(tmp_path, es)) == ("written", "drifted")
    assert set(data(em)) == {"username", "password"}


def test_a_removal_that_keeps_conflicting_is_reported_and_repaired_next_run(tmp_path: Path, em: Emulator,
                                                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    es = external_secret()
    go(tmp_path, es)
    edit(em, {"data": encode({"hand-added": "x"})})
    em.fail("kube.secret.patch", status=409, count=None)
    target = go(tmp_path, es)
    assert outcome(target) == ("failed", "conflict"), target
    assert "the credential is written" in target["error"] and "hand-added" in target["error"]
    got = data(em)
    assert got["password"] in em.issued_secrets() and "hand-added" in got
    for token in em.issued_secrets():
        assert token not in target["error"] and token not in caplog.text
    em.clear_faults()
    assert outcome(go(tmp_path, es)) == ("written", "drifted")
    assert set(data(em)) == {"username", "password"}


# -------------------------------------------------------------------------------------------- Drift


def test_a_hand_edited_password_is_rewritten_next_run(tmp_path: Path, em: Emulator) -> None:
    es = external_secret()
    go(tmp_path, es)
    edit(em, {"data": encode({"password": "tampered"})})
    target = go(tmp_path, es)
    assert outcome(target) == ("written", "drifted")
    got = data(em)
    assert got["password"] != "tampered" and got["password"] in em.issued_secrets()
    assert outcome(go(tmp_path, es)) == ("fresh", "valid")


@pytest.mark.parametrize("spec", ["refreshPolicy: CreatedOnce\n", "refreshPolicy: OnChange\n",
                                  "refreshInterval: '0'\n",
                                  "syncWindows:\n  kind: allow\n  windows:\n  - {schedule: '0 0 30 2 *', "
                                  "duration: 8h}\n"])
def test_drift_is_repaired_whatever_refresh_policy_and_windows_say(tmp_path: Path, em: Emulator, spec: str) -> None:
    """isSecretValid is checked beside shouldRefresh: an invalid Secret is synced even when no refresh is due."""
    es = external_secret(spec=spec)
    go(tmp_path, es)
    edit(em, {"data": {"username": None}})
    assert outcome(go(tmp_path, es)) == ("written", "drifted")
    assert set(data(em)) == {"username", "password"}


def test_an_orphan_secret_is_not_repaired_before_its_refresh(tmp_path: Path, em: Emulator) -> None:
    """isSecretValid: ``Secret is always valid with CreationPolicy=Orphan``."""
    es = external_secret(spec="target: {creationPolicy: Orphan}\n")
    go(tmp_path, es)
    edit(em, {"data": encode({"password": "tampered"})})
    assert outcome(go(tmp_path, es)) == ("fresh", "valid")


def test_merge_drift_counts_its_own_keys_only(tmp_path: Path, em: Emulator) -> None:
    em.add_secret(NS, "pull", {"app-key": "theirs"})
    es = external_secret(spec="target: {creationPolicy: Merge}\n")
    go(tmp_path, es)
    edit(em, {"data": encode({"app-key": "changed", "new-key": "added"})})
    assert outcome(go(tmp_path, es)) == ("fresh", "valid")
    edit(em, {"data": encode({"password": "tampered"})})
    assert outcome(go(tmp_path, es)) == ("written", "drifted")
    got = data(em)
    assert got["app-key"] == "changed" and got["new-key"] == "added" and got["password"] != "tampered"


def test_no_rewrite_loop_for_what_is_not_our_data(tmp_path: Path, em: Emulator) -> None:
    """A foreign label, a foreign annotation and a second manager's field (applied server-side) never make an
    Owner target stale; each run after them is fresh."""
    es = external_secret()
    go(tmp_path, es)
    edit(em, {"metadata": {"labels": {"team": "payments"}, "annotations": {"note": "hand"}}})
    request(em, "PATCH", f"/api/v1/namespaces/{NS}/secrets/pull?fieldManager=other-controller&force=true",
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "pull", "annotations": {"b": "c"},
                                                                "labels": {"x": "y"}}},
            ctype="application/apply-patch+yaml")
    for _ in range(3):
        assert outcome(go(tmp_path, es)) == ("fresh", "valid")
    meta = em.get_object("secrets", NS, "pull")["metadata"]  # type: ignore[index]
    assert meta["labels"]["team"] == "payments" and meta["annotations"]["b"] == "c"


def test_a_secret_without_a_record_is_not_drifted(tmp_path: Path, em: Emulator) -> None:
    """Written by an earlier version (no data-hash): left as fresh; its next write records one."""
    es = external_secret()
    go(tmp_path, es)
    edit(em, {"metadata": {"annotations": {DATA_HASH_ANNOTATION: None}}}, manager="acr-refresh")
    edit(em, {"data": encode({"hand-added": "x"})})
    assert outcome(go(tmp_path, es)) == ("fresh", "valid")


def test_a_dry_run_reports_drift_and_writes_nothing(tmp_path: Path, em: Emulator) -> None:
    es = external_secret()
    go(tmp_path, es)
    edit(em, {"data": encode({"password": "tampered"})})
    assert outcome(go(tmp_path, es, dry_run=True)) == ("skipped", "dry-run")
    assert data(em)["password"] == "tampered"


def test_the_recorded_digest_tells_nothing_of_the_token(tmp_path: Path, em: Emulator) -> None:
    """It is keyed by the Secret's identity (the same data in two Secrets gives two digests), is none of the
    plain digests of the token, and holds no part of it."""
    go(tmp_path, external_secret())
    obj = em.get_object("secrets", NS, "pull")
    assert obj is not None
    recorded = obj["metadata"]["annotations"][DATA_HASH_ANNOTATION]
    got = {k: v.encode() for k, v in data(em).items()}
    assert recorded == data_digest(NS, "pull", got) != data_digest("other", "pull", got)
    password = got["password"]
    plain = {hashlib.sha256(password).hexdigest(), hashlib.sha256(b"password" + password).hexdigest()}
    assert not any(p.startswith(recorded) for p in plain) and len(recorded) == 32
    assert not any(password.decode()[i:i + 8] in recorded for i in range(0, len(password) - 8, 8))


# ---------------------------------------------------------------------------------------------- Key Vault


def vault_target(name: str = "pw") -> str:
    auth = ("auth:\n  servicePrincipal:\n    secretRef:\n      clientId: {env: SP_ID}\n"
            "      clientSecret: {env: SP_SECRET}\n")
    return (f"apiVersion: acr-refresh/v1alpha1\nkind: KeyVaultSecret\nmetadata: {{name: kv}}\nspec:\n"
            f"  generatorRef: {{name: gen}}\n  vaultUrl: https://{VAULT}/\n  tenantId: {TENANT}\n"
            f"  secretName: {name}\n" + "".join(f"  {line}\n" for line in auth.splitlines()))


@pytest.mark.emulator_only("Key Vault is emulated on both tiers: one run is enough")
def test_a_key_vault_version_someone_else_set_is_replaced(tmp_path: Path, em: Emulator) -> None:
    em.add_vault(VAULT, tenant=TENANT)
    assert outcome(go(tmp_path, vault_target())) == ("written", "missing")
    assert outcome(go(tmp_path, vault_target())) == ("fresh", "valid")
    ours = em.vault_secret(VAULT, "pw")
    assert ours is not None
    # By hand (az keyvault secret set): a new version, same expiry even, but without our tags.
    em.set_vault_secret(VAULT, "pw", "hand-set", nbf=ours["attributes"]["nbf"], exp=ours["attributes"]["exp"],
                        tags={"owner": "someone"})
    assert outcome(go(tmp_path, vault_target())) == ("written", "drifted")
    latest = em.vault_secret(VAULT, "pw")
    assert latest is not None and latest["value"] != "hand-set" and em.vault_version_count(VAULT, "pw") == 3
    assert outcome(go(tmp_path, vault_target())) == ("fresh", "valid")
