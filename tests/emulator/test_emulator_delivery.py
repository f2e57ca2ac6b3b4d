"""The emulator's delivery targets against the REAL clients: Key Vault through azure-keyvault-secrets'
SecretClient, and Kubernetes writes (server-side apply, replace, patch, RBAC denials, AKS tokens) through the
kubernetes client.

SecretClient caches Key Vault challenges per host for the whole process, so every test uses its own vault
host: that keeps the first (unauthenticated) request observable.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.identity import ClientSecretCredential
from azure.keyvault.secrets import SecretClient
from kubernetes import client, config

from acr_refresh.emulator import ENDPOINTS, Emulator
from acr_refresh.emulator.jwt import unverified_claims
from tests.emulator.conftest import CLIENT, GOV_TENANT, SECRET, TENANT, FakeClock

OTHER_CLIENT = "00000000-0000-0000-0000-0000000000c2"
AKS_APP = "6dae42f8-4368-4678-94ff-3960e28e3630"
SA_USER = "system:serviceaccount:acr-refresh:acr-refresh"

@pytest.fixture
def em(em: Emulator) -> Emulator:
    """The shared emulator, plus a second service principal."""
    em.add_service_principal(TENANT, OTHER_CLIENT, SECRET)
    return em


@pytest.fixture
def vault() -> str:
    """A vault host no other test (or SecretClient challenge cache entry) has seen."""
    return f"v{uuid.uuid4().hex[:20]}.vault.azure.net"


def secret_client(host: str, client_id: str = CLIENT, **kwargs: Any) -> SecretClient:
    return SecretClient(f"https://{host}", ClientSecretCredential(TENANT, client_id, SECRET, **kwargs))


def kube_api(em: Emulator, tmp_path: Path, name: str = "kubeconfig") -> client.CoreV1Api:
    return client.CoreV1Api(config.new_client_from_config(config_file=em.write_kubeconfig(tmp_path / name)))


def status_of(exc: client.ApiException) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(exc.body)
    return body


def test_endpoint_names_are_registered() -> None:
    expected = {
        "kv.secret.get",
        "kv.secret.set",
        "kube.namespace.list",
        "kube.namespace.get",
        "kube.secret.get",
        "kube.secret.list",
        "kube.secret.create",
        "kube.secret.replace",
        "kube.secret.apply",
        "kube.secret.patch",
        "kube.secret.delete",
        "kube.serviceaccount.get",
        "kube.serviceaccount.list",
        "kube.serviceaccount.update",
        "kube.serviceaccount.patch",
        "kube.tokenrequest",
    }
    assert expected <= set(ENDPOINTS)


# ----- Key Vault through SecretClient ---------------------------------------------------------------------


def test_vault_set_and_get_through_the_challenge(em: Emulator, vault: str, clock: FakeClock) -> None:
    em.add_vault(vault, tenant=TENANT)
    kv = secret_client(vault)
    not_before = datetime.fromtimestamp(int(clock.now), UTC)
    expires = not_before + timedelta(hours=3)

    written = kv.set_secret(
        "demoregistry-password",
        "registry-token-value",
        content_type="application/vnd.acr-refresh+json",
        tags={"generator": "acr-refresh", "registry": "demoregistry.azurecr.io"},
        expires_on=expires,
        not_before=not_before,
        enabled=True,
    )

    assert written.properties.expires_on == expires and written.properties.not_before == not_before
    # The challenge flow: the first PUT goes out without a token (and without its body), gets 401 + challenge,
    # then the token request for the challenge's resource and tenant, then the PUT again with a token.
    challenge, token_req, put = [r for r in em.requests if r.endpoint != "entra.discovery"]
    assert (challenge.endpoint, challenge.method) == ("kv.secret.set", "PUT")
    assert challenge.path == "/secrets/demoregistry-password"
    assert "authorization" not in challenge.headers and challenge.query["api-version"]
    assert token_req.endpoint == "entra.token" and token_req.form["scope"] == "https://vault.azure.net/.default"
    assert token_req.path == f"/{TENANT}/oauth2/v2.0/token"
    assert put.headers["authorization"].startswith("Bearer ")
    assert em.counts["kv.secret.set"] == 2

    stored = em.vault_secret(vault, "demoregistry-password")
    assert stored is not None
    assert stored["value"] == "registry-token-value"
    assert stored["contentType"] == "application/vnd.acr-refresh+json"
    assert stored["tags"] == {"generator": "acr-refresh", "registry": "demoregistry.azurecr.io"}
    attrs = stored["attributes"]
    assert attrs["enabled"] is True and attrs["recoveryLevel"] == "Recoverable+Purgeable"
    assert (attrs["nbf"], attrs["exp"]) == (int(not_before.timestamp()), int(expires.timestamp()))
    assert attrs["created"] == attrs["updated"] == int(clock.now)
    assert stored["id"] == f"https://{vault}/secrets/demoregistry-password/{written.properties.version}"
    assert "registry-token-value" in em.issued_secrets()

    # The cached challenge and token serve the next requests: no second challenge.
    read = kv.get_secret("demoregistry-password")
    assert read.value == "registry-token-value" and read.properties.tags == stored["tags"]
    assert em.counts["kv.secret.get"] == 1 and em.requests[-1].path == "/secrets/demoregistry-password/"

    # A new version; old versions stay readable by id. Expired secrets are still readable, as in Key Vault.
    kv.set_secret("demoregistry-password", "second-value", expires_on=not_before)
    clock.now += 60
    assert em.vault_version_count(vault, "demoregistry-password") == 2
    assert kv.get_secret("demoregistry-password").value == "second-value"
    old = kv.get_secret("demoregistry-password", written.properties.version)
    assert old.value == "registry-token-value"
    assert "contentType" not in em.vault_secret(vault, "demoregistry-password")  # type: ignore[operator]


def test_vault_not_found_bad_name_and_soft_deleted(em: Emulator, vault: str) -> None:
    em.add_vault(vault, tenant=TENANT)
    kv = secret_client(vault)

    with pytest.raises(ResourceNotFoundError) as missing:
        kv.get_secret("absent")
    assert missing.value.error is not None and missing.value.error.code == "SecretNotFound"
    assert "A secret with (name/id) absent was not found in this key vault" in str(missing.value.message)
    assert em.vault_secret(vault, "absent") is None and em.vault_version_count(vault, "absent") == 0

    with pytest.raises(HttpResponseError) as bad_name:
        kv.set_secret("not_valid", "x")
    assert bad_name.value.status_code == 400 and "invalid name: not_valid" in str(bad_name.value.message)

    em.set_vault_secret(vault, "gone", "seeded-value", tags={"a": "b"})
    em.soft_delete_vault_secret(vault, "gone")
    with pytest.raises(ResourceExistsError, match="deleted but recoverable state"):
        kv.set_secret("gone", "x")
    with pytest.raises(ResourceNotFoundError):
        kv.get_secret("gone")
    assert em.vault_secret(vault, "gone") is None and "seeded-value" in em.issued_secrets()
    with pytest.raises(ValueError, match="deleted but recoverable"):
        em.set_vault_secret(vault, "gone", "again")


def test_vault_rbac_denials(em: Emulator, vault: str) -> None:
    em.add_vault(vault, tenant=TENANT, allowed_principals={CLIENT})
    em.set_vault_secret(vault, "pull", "value")
    assert secret_client(vault).get_secret("pull").value == "value"

    with pytest.raises(HttpResponseError) as not_assigned:
        secret_client(vault, OTHER_CLIENT).get_secret("pull")
    assert not_assigned.value.status_code == 403
    assert "Action: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'" in str(not_assigned.value.message)

    em.forbid_vault(vault, CLIENT)
    with pytest.raises(HttpResponseError) as forbidden:
        secret_client(vault).set_secret("pull", "new")
    error = forbidden.value.response.json()["error"]
    assert forbidden.value.status_code == 403 and error["code"] == "Forbidden"
    assert error["innererror"] == {"code": "ForbiddenByRbac"}
    assert error["message"].startswith("Caller is not authorized to perform action on resource.")
    assert "Action: 'Microsoft.KeyVault/vaults/secrets/setSecret/action'" in error["message"]
    assert em.vault_version_count(vault, "pull") == 1


def test_vault_challenge_and_token_checks_in_us_government(em: Emulator, clock: FakeClock) -> None:
    em.add_tenant(GOV_TENANT, authority_host="login.microsoftonline.us")
    em.add_service_principal(GOV_TENANT, CLIENT, SECRET)
    host = f"gov{uuid.uuid4().hex[:12]}.vault.usgovcloudapi.net"
    em.add_vault(host, tenant=GOV_TENANT)
    url = f"https://{host}/secrets/pull/?api-version=7.5"

    bare = requests.get(url, timeout=10)
    assert bare.status_code == 401
    assert bare.headers["WWW-Authenticate"] == (
        f'Bearer authorization="https://login.microsoftonline.us/{GOV_TENANT}", '
        'resource="https://vault.usgovcloudapi.net"'
    )
    assert bare.json()["error"]["message"] == "AKV10000: Request is missing a Bearer or PoP token."

    def token(tenant: str, scope: str, authority: str) -> str:
        return ClientSecretCredential(tenant, CLIENT, SECRET, authority=authority).get_token(scope).token

    gov_vault_token = token(GOV_TENANT, "https://vault.usgovcloudapi.net/.default", "login.microsoftonline.us")
    public_vault_token = token(TENANT, "https://vault.azure.net/.default", "login.microsoftonline.com")
    wrong_aud = requests.get(url, headers={"Authorization": f"Bearer {public_vault_token}"}, timeout=10)
    assert wrong_aud.status_code == 401 and "AKV10022: Invalid audience" in wrong_aud.json()["error"]["message"]
    assert requests.get(url, headers={"Authorization": f"Bearer {gov_vault_token}"}, timeout=10).status_code == 404

    # Through SecretClient: the challenge sends the credential to the Gov scope.
    kv = SecretClient(
        f"https://{host}",
        ClientSecretCredential(GOV_TENANT, CLIENT, SECRET, authority="login.microsoftonline.us"),
    )
    kv.set_secret("pull", "gov-value")
    assert em.vault_secret(host, "pull")["value"] == "gov-value"  # type: ignore[index]
    assert [r.form["scope"] for r in em.requests if r.endpoint == "entra.token"][-1] == (
        "https://vault.usgovcloudapi.net/.default"
    )

    clock.now += 3601  # the emulator's clock says the token has expired
    expired = requests.get(url, headers={"Authorization": f"Bearer {gov_vault_token}"}, timeout=10)
    assert expired.status_code == 401 and "WWW-Authenticate" in expired.headers


def test_vault_tenant_mismatch_and_faults(em: Emulator, vault: str) -> None:
    em.add_tenant(GOV_TENANT)
    em.add_service_principal(GOV_TENANT, CLIENT, SECRET)
    em.add_vault(vault, tenant=TENANT)
    other_tenant_token = (
        ClientSecretCredential(GOV_TENANT, CLIENT, SECRET).get_token("https://vault.azure.net/.default").token
    )
    resp = requests.put(
        f"https://{vault}/secrets/x?api-version=7.5",
        json={"value": "v"},
        headers={"Authorization": f"Bearer {other_tenant_token}"},
        timeout=10,
    )
    assert resp.status_code == 401 and "AKV10032: Invalid issuer" in resp.json()["error"]["message"]

    em.set_vault_secret(vault, "x", "v")
    em.fail("kv.secret.get", status=503, count=1)  # azure-core retries a GET on 503 at once
    assert secret_client(vault).get_secret("x").value == "v"
    assert em.counts["kv.secret.get"] == 3  # challenge, injected 503, success


# ----- Kubernetes writes through the kubernetes client ------------------------------------------------------


def dockerconfig(token: str = "t0ken") -> str:
    login = {"username": "00000000-0000-0000-0000-000000000000", "password": token}
    doc = {"auths": {"demoregistry.azurecr.io": login}}
    return base64.b64encode(json.dumps(doc).encode()).decode()


def pull_secret(name: str = "acr-pull", **extra: Any) -> dict[str, Any]:
    manifest: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": name,
            "labels": {"app.kubernetes.io/managed-by": "acr-refresh"},
            "annotations": {"acr-refresh/expires-at": "2030-01-01T00:00:00Z"},
        },
        "type": "kubernetes.io/dockerconfigjson",
        "data": {".dockerconfigjson": dockerconfig()},
    }
    manifest.update(extra)
    return manifest


def apply(api: client.CoreV1Api, ns: str, manifest: dict[str, Any], **kwargs: Any) -> Any:
    kwargs.setdefault("field_manager", "acr-refresh")
    return api.patch_namespaced_secret(
        manifest["metadata"]["name"], ns, manifest, force=True, _content_type="application/apply-patch+yaml", **kwargs
    )


def test_list_namespaces_with_label_selectors(em: Emulator, tmp_path: Path) -> None:
    em.add_namespace("team-a", {"acr-refresh/pull": "true", "env": "prod"})
    em.add_namespace("team-b", {"acr-refresh/pull": "true", "env": "dev"})
    em.add_namespace("unlabelled")
    api = kube_api(em, tmp_path)

    def names(selector: str) -> list[str]:
        return [ns.metadata.name for ns in api.list_namespace(label_selector=selector).items]

    assert names("acr-refresh/pull=true") == ["team-a", "team-b"]
    assert names("env in (prod,qa)") == ["team-a"]
    assert names("env notin (prod)") == ["team-b", "unlabelled"]
    assert names("env!=dev") == ["team-a", "unlabelled"]
    assert names("acr-refresh/pull,!env") == []
    assert names("!env") == ["unlabelled"]
    assert names("acr-refresh/pull, env==dev") == ["team-b"]
    assert api.read_namespace("team-a").metadata.labels["kubernetes.io/metadata.name"] == "team-a"
    with pytest.raises(client.ApiException) as bad:
        api.list_namespace(label_selector="env in prod")
    assert bad.value.status == 400
    assert em.counts["kube.namespace.list"] == 8 and em.counts["kube.namespace.get"] == 1


def test_server_side_apply_secret(em: Emulator, tmp_path: Path, clock: FakeClock) -> None:
    em.add_namespace("team-a")
    api = kube_api(em, tmp_path)

    created = apply(api, "team-a", pull_secret())
    assert created.type == "kubernetes.io/dockerconfigjson"
    assert created.metadata.creation_timestamp.timestamp() == int(clock.now)
    (entry,) = created.metadata.managed_fields
    assert (entry.manager, entry.operation, entry.api_version) == ("acr-refresh", "Apply", "v1")
    rv = created.metadata.resource_version

    again = apply(api, "team-a", pull_secret())  # the same apply changes nothing
    assert again.metadata.resource_version == rv

    em.add_secret("team-a", "other", {})  # any other write moves the global revision
    updated = apply(
        api,
        "team-a",
        pull_secret(
            metadata={"name": "acr-pull", "annotations": {"acr-refresh/expires-at": "2031-01-01T00:00:00Z"}},
            data={".dockerconfigjson": dockerconfig("new")},
        ),
    )
    assert int(updated.metadata.resource_version) > int(rv)
    assert updated.metadata.annotations == {"acr-refresh/expires-at": "2031-01-01T00:00:00Z"}
    # The label this manager stopped applying is removed, as the real API server's apply does.
    assert updated.metadata.labels is None
    assert updated.metadata.uid == created.metadata.uid
    stored = em.get_object("secrets", "team-a", "acr-pull")
    assert stored is not None and json.loads(base64.b64decode(stored["data"][".dockerconfigjson"]))
    assert em.counts["kube.secret.apply"] == 3

    with pytest.raises(client.ApiException) as type_change:
        apply(api, "team-a", pull_secret(type="Opaque"))
    body = status_of(type_change.value)
    assert type_change.value.status == 422 and body["reason"] == "Invalid"
    assert body["message"] == 'Secret "acr-pull" is invalid: type: Invalid value: "Opaque": field is immutable'
    assert body["details"]["causes"] == [
        {"reason": "FieldValueInvalid", "message": 'Invalid value: "Opaque": field is immutable', "field": "type"}
    ]

    with pytest.raises(client.ApiException) as no_key:
        apply(api, "team-a", pull_secret("fresh", data={"config.json": dockerconfig()}))
    assert no_key.value.status == 422
    assert "data[.dockerconfigjson]: Required value" in status_of(no_key.value)["message"]
    not_json = base64.b64encode(b"{not json").decode()
    with pytest.raises(client.ApiException) as bad_json:
        apply(api, "team-a", pull_secret("fresh", data={".dockerconfigjson": not_json}))
    assert bad_json.value.status == 422 and "<secret contents redacted>" in status_of(bad_json.value)["message"]
    with pytest.raises(client.ApiException) as bad_base64:
        apply(api, "team-a", pull_secret("fresh", data={".dockerconfigjson": "not base64!"}))
    assert bad_base64.value.status == 400 and "illegal base64 data" in status_of(bad_base64.value)["message"]
    with pytest.raises(client.ApiException) as bad_name:
        apply(api, "team-a", pull_secret("Not_A_DNS_Name"))
    assert bad_name.value.status == 422 and "metadata.name: Invalid value" in status_of(bad_name.value)["message"]
    with pytest.raises(client.ApiException) as bad_label:
        apply(api, "team-a", pull_secret("fresh", metadata={"name": "fresh", "labels": {"at": "2030-01-01T00:00"}}))
    assert bad_label.value.status == 422 and "metadata.labels: Invalid value" in status_of(bad_label.value)["message"]
    with pytest.raises(client.ApiException) as no_manager:
        apply(api, "team-a", pull_secret("fresh"), field_manager=None)
    assert no_manager.value.status == 400 and "fieldManager is required" in status_of(no_manager.value)["message"]
    with pytest.raises(client.ApiException) as no_namespace:
        apply(api, "nowhere", pull_secret())
    assert no_namespace.value.status == 404 and status_of(no_namespace.value)["message"] == (
        'namespaces "nowhere" not found'
    )
    assert em.get_object("secrets", "team-a", "fresh") is None


def test_secret_create_replace_patch_delete_and_list(em: Emulator, tmp_path: Path) -> None:
    em.add_namespace("team-a", {"acr-refresh/pull": "true"})
    em.add_namespace("team-b")
    eso_owner = {
        "apiVersion": "external-secrets.io/v1beta1",
        "kind": "ExternalSecret",
        "name": "pull",
        "uid": "11111111-1111-1111-1111-111111111111",
        "controller": True,
    }
    em.add_secret("team-b", "eso-pull", {"k": "v"}, owner_references=[eso_owner], managed_by="external-secrets")
    api = kube_api(em, tmp_path)

    eso = api.read_namespaced_secret("eso-pull", "team-b")
    assert eso.metadata.owner_references[0].kind == "ExternalSecret"
    assert [m.manager for m in eso.metadata.managed_fields] == ["external-secrets"]

    body = client.V1Secret(metadata=client.V1ObjectMeta(name="creds", labels={"tier": "a"}), string_data={"k": "v"})
    created = api.create_namespaced_secret("team-a", body)
    assert created.data == {"k": "dg=="} and created.type == "Opaque"
    assert created.metadata.managed_fields[0].manager == "OpenAPI-Generator"  # the User-Agent prefix
    with pytest.raises(client.ApiException) as exists:
        api.create_namespaced_secret("team-a", body)
    assert exists.value.status == 409 and status_of(exists.value)["reason"] == "AlreadyExists"

    current = api.read_namespaced_secret("creds", "team-a")
    current.data = {"k": "dzI="}
    api.replace_namespaced_secret("creds", "team-a", current)
    with pytest.raises(client.ApiException) as stale:
        api.replace_namespaced_secret("creds", "team-a", current)
    assert stale.value.status == 409 and status_of(stale.value)["reason"] == "Conflict"

    patched = api.patch_namespaced_secret("creds", "team-a", {"metadata": {"labels": {"tier": None, "x": "y"}}})
    assert patched.metadata.labels == {"x": "y"} and patched.data == {"k": "dzI="}

    everywhere = api.list_secret_for_all_namespaces(label_selector="x=y")
    assert [(s.metadata.namespace, s.metadata.name) for s in everywhere.items] == [("team-a", "creds")]
    assert [s.metadata.name for s in api.list_namespaced_secret("team-b").items] == ["eso-pull"]

    api.delete_namespaced_secret("creds", "team-a")
    with pytest.raises(client.ApiException) as gone:
        api.delete_namespaced_secret("creds", "team-a")
    assert gone.value.status == 404
    counts = em.counts
    assert (counts["kube.secret.create"], counts["kube.secret.replace"], counts["kube.secret.patch"]) == (2, 2, 1)
    assert (counts["kube.secret.list"], counts["kube.secret.delete"], counts["kube.secret.get"]) == (2, 2, 2)


def test_service_account_replace_conflict_and_patch(em: Emulator, tmp_path: Path) -> None:
    em.add_service_account("team-a", "default", image_pull_secrets=["existing"])
    api = kube_api(em, tmp_path)

    sa = api.read_namespaced_service_account("default", "team-a")
    sa.image_pull_secrets = [*sa.image_pull_secrets, client.V1LocalObjectReference(name="acr-pull")]
    api.replace_namespaced_service_account("default", "team-a", sa)
    with pytest.raises(client.ApiException) as stale:
        api.replace_namespaced_service_account("default", "team-a", sa)  # still the old resourceVersion
    assert stale.value.status == 409
    assert status_of(stale.value)["message"].startswith('Operation cannot be fulfilled on serviceaccounts "default"')

    fresh = api.read_namespaced_service_account("default", "team-a")
    assert [ref.name for ref in fresh.image_pull_secrets] == ["existing", "acr-pull"]
    patched = api.patch_namespaced_service_account("default", "team-a", {"imagePullSecrets": [{"name": "only"}]})
    assert [ref.name for ref in patched.image_pull_secrets] == ["only"]  # a list in a merge patch replaces
    assert [sa.metadata.name for sa in api.list_namespaced_service_account("team-a").items] == ["default"]
    counts = em.counts
    assert (counts["kube.serviceaccount.update"], counts["kube.serviceaccount.patch"]) == (2, 1)
    assert (counts["kube.serviceaccount.get"], counts["kube.serviceaccount.list"]) == (2, 1)


def test_forbidden_namespace(em: Emulator, tmp_path: Path) -> None:
    em.add_namespace("locked")
    em.add_namespace("open")
    em.add_service_account("locked", "default")
    api = kube_api(em, tmp_path)

    em.forbid_namespace("locked", {"patch", "create"})
    with pytest.raises(client.ApiException) as denied:
        apply(api, "locked", pull_secret())
    body = status_of(denied.value)
    assert denied.value.status == 403 and body["reason"] == "Forbidden"
    assert body["message"] == (
        f'secrets "acr-pull" is forbidden: User "{SA_USER}" cannot patch resource "secrets" in API group "" '
        'in the namespace "locked"'
    )
    with pytest.raises(client.ApiException) as create_denied:
        api.create_namespaced_secret("locked", client.V1Secret(metadata=client.V1ObjectMeta(name="x")))
    assert status_of(create_denied.value)["message"].startswith(f'secrets is forbidden: User "{SA_USER}" cannot create')
    assert api.read_namespaced_service_account("default", "locked").metadata.name == "default"  # get allowed
    apply(api, "open", pull_secret())

    em.forbid_namespace("locked")  # every verb
    with pytest.raises(client.ApiException) as list_denied:
        api.list_namespaced_secret("locked")
    assert list_denied.value.status == 403
    with pytest.raises(client.ApiException) as cluster_list:
        api.list_secret_for_all_namespaces()
    assert "at the cluster scope" in status_of(cluster_list.value)["message"]
    em.allow_namespace("locked")
    apply(api, "locked", pull_secret())
    assert em.get_object("secrets", "locked", "acr-pull") is not None


def test_aks_entra_tokens_and_a_second_cluster(em: Emulator, tmp_path: Path, clock: FakeClock) -> None:
    em.add_namespace("first")
    token = ClientSecretCredential(TENANT, CLIENT, SECRET).get_token(f"{AKS_APP}/.default").token
    assert unverified_claims(token)["aud"] == AKS_APP  # Entra keeps a GUID scope's resource as the audience

    def api_with(emulator: Emulator, bearer: str) -> client.CoreV1Api:
        conf = client.Configuration()
        conf.host = emulator.kube_url
        conf.ssl_ca_cert = emulator.ca_bundle_path
        conf.api_key = {"authorization": bearer}
        conf.api_key_prefix = {"authorization": "Bearer"}
        return client.CoreV1Api(client.ApiClient(conf))

    with pytest.raises(client.ApiException) as not_enabled:
        api_with(em, token).list_namespace()
    assert not_enabled.value.status == 401

    em.enable_aks_auth(tenant=TENANT)
    assert [ns.metadata.name for ns in api_with(em, token).list_namespace().items] == ["first"]
    arm = ClientSecretCredential(TENANT, CLIENT, SECRET).get_token("https://management.azure.com/.default").token
    with pytest.raises(client.ApiException) as wrong_audience:
        api_with(em, arm).list_namespace()
    assert wrong_audience.value.status == 401

    with Emulator() as second:  # a second API server in the same process, with its own state and keys
        second.add_namespace("second")
        second.enable_aks_auth()
        assert [ns.metadata.name for ns in kube_api(second, tmp_path, "second").list_namespace().items] == ["second"]
        with pytest.raises(client.ApiException) as foreign:
            api_with(second, token).list_namespace()  # signed by the first emulator's Entra
        assert foreign.value.status == 401
        assert [ns.metadata.name for ns in api_with(em, token).list_namespace().items] == ["first"]

    clock.now += 3601
    with pytest.raises(client.ApiException) as expired:
        api_with(em, token).list_namespace()
    assert expired.value.status == 401


def test_kube_write_faults(em: Emulator, tmp_path: Path) -> None:
    em.add_namespace("team-a")
    api = kube_api(em, tmp_path)
    em.fail("kube.secret.apply", status=500)
    with pytest.raises(client.ApiException) as failed:
        apply(api, "team-a", pull_secret())
    assert failed.value.status == 500 and em.get_object("secrets", "team-a", "acr-pull") is None
    apply(api, "team-a", pull_secret())
    assert em.counts["kube.secret.apply"] == 2


def test_patch_formats_dry_run_paging_and_immutable(em: Emulator, tmp_path: Path) -> None:
    for i in range(4):
        em.add_secret("team-a", f"s{i}", {"k": str(i)})
    api = kube_api(em, tmp_path)

    first = api.list_namespaced_secret("team-a", limit=3)
    rest = api.list_namespaced_secret("team-a", limit=3, _continue=first.metadata._continue)
    assert [s.metadata.name for s in first.items + rest.items] == ["s0", "s1", "s2", "s3"]
    assert first.metadata.remaining_item_count == 1 and rest.metadata._continue is None
    others = api.list_namespaced_secret("team-a", field_selector="metadata.name!=s1")
    assert [s.metadata.name for s in others.items] == ["s0", "s2", "s3"]

    ops = [
        {"op": "replace", "path": "/data/k", "value": "eg=="},
        {"op": "add", "path": "/metadata/labels", "value": {}},
    ]
    assert api.patch_namespaced_secret("s0", "team-a", ops).data == {"k": "eg=="}
    with pytest.raises(client.ApiException) as failed_test:
        api.patch_namespaced_secret("s0", "team-a", [{"op": "test", "path": "/data/k", "value": "other"}])
    assert failed_test.value.status == 422

    before = em.get_object("secrets", "team-a", "s1")
    dry = api.patch_namespaced_secret("s1", "team-a", {"data": {"k": "eQ=="}}, dry_run="All")
    assert dry.data == {"k": "eQ=="} and em.get_object("secrets", "team-a", "s1") == before

    frozen = api.create_namespaced_secret(
        "team-a", client.V1Secret(metadata=client.V1ObjectMeta(generate_name="frozen-"), immutable=True, data={})
    )
    assert frozen.metadata.name.startswith("frozen-") and len(frozen.metadata.name) == len("frozen-") + 5
    with pytest.raises(client.ApiException) as immutable:
        api.patch_namespaced_secret(frozen.metadata.name, "team-a", {"data": {"x": "eA=="}})
    assert "field is immutable when `immutable` is set" in status_of(immutable.value)["message"]

    em.add_service_account("team-a", "builder")
    deleted = api.delete_namespaced_service_account("builder", "team-a")  # the deleted object, not a Status
    assert deleted.metadata.name == "builder" and em.get_object("serviceaccounts", "team-a", "builder") is None
