"""The freshness rule and rendering (pure)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from acr_refresh.clouds import PUBLIC
from acr_refresh.config import Generator, KubernetesTarget, ManagedIdentity, SecretTemplate
from acr_refresh.freshness import Stored, verdict
from acr_refresh.render import (
    EXPIRES_ANNOTATION,
    HASH_ANNOTATION,
    MANAGED_BY_LABEL,
    dockerconfigjson,
    inputs_hash,
    render_secret,
)
from acr_refresh.sinks.kubernetes import inspect_secret

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
GEN = Generator("default", "gen", "myregistry.azurecr.io", ManagedIdentity(), PUBLIC)
OUTPUTS = {"username": "00000000-0000-0000-0000-000000000000", "password": "token-value-xyz",
           "registry": "myregistry.azurecr.io", "tokenType": "refresh", "expiresAt": "2026-11-29T15:00:00Z"}


def stored(issued_minutes_ago: float, lifetime_minutes: float, hash_: str = "h") -> Stored:
    issued = NOW - timedelta(minutes=issued_minutes_ago)
    return Stored(issued, issued + timedelta(minutes=lifetime_minutes), hash_)


@pytest.mark.parametrize(
    ("store", "kwargs", "fresh", "why"),
    [
        (None, {}, False, "missing"),
        (stored(10, 180, "other"), {}, False, "inputs changed"),
        (stored(10, 180), {}, True, "fresh"),
        (stored(89, 180), {}, True, "fresh"),
        (stored(91, 180), {}, False, "less than"),
        (stored(200, 180), {}, False, "expired"),
        (stored(30, 75), {}, True, "fresh"),
        (stored(40, 75), {}, False, "less than"),
        (stored(100, 180), {"min_remaining": timedelta(minutes=60)}, True, "fresh"),
        (stored(10, 180), {"min_remaining": timedelta(minutes=175)}, False, "less than"),
        (stored(61, 180), {"refresh_interval": timedelta(hours=1)}, False, "refreshInterval"),
        (stored(500, 180), {"refresh_interval": timedelta(0)}, True, "created once"),
        (Stored(None, None, "h"), {}, False, "no recorded expiry"),
    ],
)
def test_freshness_rule(store: Stored | None, kwargs: dict, fresh: bool, why: str) -> None:
    result, reason = verdict(store, now=NOW, wanted_hash="h", **kwargs)
    assert result is fresh and why in reason


def test_default_kubernetes_secret_is_dockerconfigjson_with_our_metadata() -> None:
    target = KubernetesTarget("KubernetesSecret", "default", "pull", GEN.key, "pull",
                              SecretTemplate(type="kubernetes.io/dockerconfigjson"))
    desired = render_secret(target, GEN, "team-a", OUTPUTS, NOW, NOW + timedelta(hours=3))
    assert desired.namespace == "team-a" and desired.type == "kubernetes.io/dockerconfigjson"
    doc = json.loads(desired.data[".dockerconfigjson"])
    entry = doc["auths"]["myregistry.azurecr.io"]
    assert entry["password"] == "token-value-xyz"
    assert base64.b64decode(entry["auth"]).decode() == f"{OUTPUTS['username']}:token-value-xyz"
    assert desired.labels[MANAGED_BY_LABEL] == "acr-refresh"
    assert desired.annotations[EXPIRES_ANNOTATION] == "2026-11-29T15:00:00Z"
    assert desired.annotations[HASH_ANNOTATION] == inputs_hash(target, GEN)
    assert "token-value-xyz" not in repr(desired)
    manifest = desired.manifest()
    assert base64.b64decode(manifest["data"][".dockerconfigjson"]) == desired.data[".dockerconfigjson"].encode()


def test_external_secret_without_template_is_opaque_username_password() -> None:
    target = KubernetesTarget("ExternalSecret", "default", "es", GEN.key, "es", SecretTemplate())
    desired = render_secret(target, GEN, "default", OUTPUTS, NOW, None)
    assert desired.type == "Opaque" and desired.data == {"username": OUTPUTS["username"],
                                                         "password": "token-value-xyz"}


def test_inputs_hash_changes_with_inputs_not_with_refresh_policy() -> None:
    a = KubernetesTarget("KubernetesSecret", "default", "pull", GEN.key, "pull", SecretTemplate())
    b = KubernetesTarget("KubernetesSecret", "default", "pull", GEN.key, "pull", SecretTemplate(type="Opaque"))
    c = KubernetesTarget("KubernetesSecret", "default", "pull", GEN.key, "pull", SecretTemplate(),
                         min_remaining=timedelta(hours=1))
    assert inputs_hash(a, GEN) != inputs_hash(b, GEN)
    assert inputs_hash(a, GEN) == inputs_hash(c, GEN)
    other = Generator("default", "gen", "myregistry.azurecr.io", ManagedIdentity(), PUBLIC, scope="repository:a:pull")
    assert inputs_hash(a, GEN) != inputs_hash(a, other)


def test_dockerconfigjson_is_compact() -> None:
    assert dockerconfigjson("r.azurecr.io", "u", "p") == (
        '{"auths":{"r.azurecr.io":{"username":"u","password":"p","auth":"dTpw"}}}')


def secret(**meta: object) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": "s", "namespace": "n", **meta}}


def test_eso_managed_secrets_are_recognised_whatever_else_they_carry() -> None:
    owned = secret(ownerReferences=[{"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
                                     "name": "es", "uid": "u"}])
    assert inspect_secret(owned).eso_managed
    by_fields = secret(managedFields=[{"manager": "external-secrets", "operation": "Apply"}])
    assert inspect_secret(by_fields).eso_managed
    taken_over = secret(labels={MANAGED_BY_LABEL: "acr-refresh"},
                        managedFields=[{"manager": "external-secrets", "operation": "Apply"}])
    # Our marks do not outweigh ESO's (ESO may be writing it again): a take-over removes ESO's marks instead.
    assert inspect_secret(taken_over).eso_managed and inspect_secret(taken_over).ours
    assert inspect_secret(taken_over).stored is None
    assert not inspect_secret(secret()).eso_managed and inspect_secret(secret()).stored is None
