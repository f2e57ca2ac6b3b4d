"""Minting end to end: real azure-identity, real requests, real TLS, against the local emulator."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path

import pytest

from acr_refresh.acr import ACR_USERNAME, AcrClient, RetryPolicy, jwt_times
from acr_refresh.config import load_config
from acr_refresh.emulator import Emulator
from acr_refresh.errors import RegistryError
from acr_refresh.mint import Minter
from acr_refresh.run import RunOptions, run
from tests.conftest import (
    MI_CLIENT,
    MI_RESOURCE,
    REGISTRY,
    SP_CLIENT,
    SP_SECRET,
    TENANT,
    WI_CLIENT,
    acr_generator,
    fast_services,
    write_config,
)

SCOPE = "repository:team/app:pull"


def mint_one(tmp_path: Path, *docs: str, services: object | None = None) -> dict:
    config = load_config(write_config(tmp_path, *docs))
    report = run(config, RunOptions(), services=services or fast_services())  # type: ignore[arg-type]
    return report.to_dict()


def capture_tokens(monkeypatch: pytest.MonkeyPatch) -> list:
    """Record the credentials minted (the password values) by wrapping Minter.mint's result."""
    minted: list = []
    original = Minter.mint

    def spy(self: Minter, *args: object, **kwargs: object) -> object:
        creds = original(self, *args, **kwargs)  # type: ignore[arg-type]
        minted.append(creds)
        return creds

    monkeypatch.setattr(Minter, "mint", spy)
    return minted


# --------------------------------------------------------------------------- ESO's generator test cases


def test_scope_mints_an_access_token_from_the_refresh_token(em: Emulator, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    minted = capture_tokens(monkeypatch)
    out = mint_one(tmp_path, acr_generator(scope=SCOPE))
    assert out["ok"] and out["generators"][0]["tokenType"] == "access"
    exchange = [r for r in em.requests if r.endpoint == "acr.exchange"]
    token = [r for r in em.requests if r.endpoint == "acr.token"]
    assert len(exchange) == 1 and len(token) == 1
    entra = next(r for r in em.requests if r.endpoint == "entra.token")
    assert exchange[0].host == REGISTRY and exchange[0].path == "/oauth2/exchange"
    assert exchange[0].form == {"grant_type": "access_token", "service": REGISTRY, "tenant": TENANT,
                                "access_token": exchange[0].form["access_token"]}
    assert exchange[0].form["access_token"] in em.issued_secrets()
    assert entra.form["scope"] == "https://containerregistry.azure.net/.default"
    assert token[0].form["grant_type"] == "refresh_token"
    assert token[0].form["service"] == REGISTRY and token[0].form["scope"] == SCOPE
    (creds,) = minted
    assert creds.username == ACR_USERNAME == "00000000-0000-0000-0000-000000000000"
    assert creds.token.token_type == "access"
    assert token[0].form["refresh_token"] != creds.password  # the password is the access token
    assert creds.password in em.issued_secrets()
    issued, expires = jwt_times(creds.password)
    assert issued and expires and 4000 < (expires - issued).total_seconds() < 5000  # ~75 minutes


def test_no_scope_mints_a_refresh_token_and_never_calls_token_endpoint(em: Emulator, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    minted = capture_tokens(monkeypatch)
    out = mint_one(tmp_path, acr_generator())
    assert out["ok"] and out["generators"][0]["tokenType"] == "refresh"
    assert em.counts["acr.token"] == 0 and em.counts["acr.exchange"] == 1
    (creds,) = minted
    issued, expires = jwt_times(creds.password)
    assert issued and expires and 10000 < (expires - issued).total_seconds() < 11000  # ~3 hours
    assert out["generators"][0]["expiresAt"].endswith("Z")


# ------------------------------------------------------------------------------------------- identities


@pytest.mark.kube
def test_service_principal_from_kubernetes_secret(em: Emulator, tmp_path: Path) -> None:
    em.add_secret("team", "az-secret", {"clientid": f"  {SP_CLIENT}\n", "clientsecret": f"{SP_SECRET}\n"})
    auth = ("servicePrincipal:\n  secretRef:\n    clientId: {name: az-secret, key: clientid}\n"
            "    clientSecret: {name: az-secret, key: clientsecret}\n")
    out = mint_one(tmp_path, acr_generator(namespace="team", auth=auth))
    assert out["ok"], out
    assert em.counts["kube.secret.get"] == 1  # one read serves both keys


@pytest.mark.kube
def test_service_principal_secret_missing_key_is_a_clear_failure(em: Emulator, tmp_path: Path) -> None:
    em.add_secret("default", "az-secret", {"clientid": SP_CLIENT})
    auth = ("servicePrincipal:\n  secretRef:\n    clientId: {name: az-secret, key: clientid}\n"
            "    clientSecret: {name: az-secret, key: clientsecret}\n")
    out = mint_one(tmp_path, acr_generator(auth=auth))
    assert not out["ok"]
    assert "Secret default/az-secret has no key 'clientsecret'" in out["generators"][0]["error"]


def test_wrong_client_secret_fails_with_entra_reason_and_no_secret(em: Emulator, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SP_SECRET", "wrong-secret-value-123")
    out = mint_one(tmp_path, acr_generator())
    err = out["generators"][0]["error"]
    assert out["generators"][0]["status"] == "failed" and "AADSTS" in err
    assert "wrong-secret-value-123" not in json.dumps(out)


def test_managed_identity_app_service_system_assigned(em: Emulator, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    em.add_managed_identity(tenant_id=TENANT, system_assigned=True)
    monkeypatch.setenv("IDENTITY_ENDPOINT", em.identity_endpoint)
    monkeypatch.setenv("IDENTITY_HEADER", em.identity_header)
    out = mint_one(tmp_path, acr_generator(auth="managedIdentity: {}\n", tenant=None))
    assert out["ok"], out
    assert em.counts["mi.appservice"] == 1 and em.counts["entra.token"] == 0


def test_managed_identity_imds_client_id_and_resource_id(em: Emulator, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    em.add_managed_identity(tenant_id=TENANT, client_id=MI_CLIENT)
    em.add_managed_identity(tenant_id=TENANT, resource_id=MI_RESOURCE)
    monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", em.imds_url)
    out = mint_one(
        tmp_path,
        acr_generator("by-client", auth=f"managedIdentity: {{identityId: {MI_CLIENT}}}\n"),
        acr_generator("by-resource", auth=f"managedIdentity: {{identityId: '{MI_RESOURCE}'}}\n"),
    )
    assert out["ok"], out
    imds = [r for r in em.requests if r.endpoint == "mi.imds" and "resource" in r.query]
    assert {r.query.get("client_id") or r.query.get("msi_res_id") for r in imds} == {MI_CLIENT, MI_RESOURCE}
    assert em.counts["acr.exchange"] == 2  # two identities: two exchanges


@pytest.mark.kube
def test_workload_identity_with_service_account_ref(em: Emulator, tmp_path: Path) -> None:
    em.add_namespace("build")
    em.add_service_account("build", "puller", annotations={
        "azure.workload.identity/client-id": WI_CLIENT, "azure.workload.identity/tenant-id": TENANT})
    em.add_service_principal(TENANT, WI_CLIENT, None)
    em.add_federated_credential(TENANT, WI_CLIENT, subject="system:serviceaccount:build:puller")
    auth = "workloadIdentity:\n  serviceAccountRef:\n    name: puller\n    namespace: build\n    audiences: [extra]\n"
    out = mint_one(tmp_path, acr_generator(auth=auth, tenant=None, namespace="build"))
    assert out["ok"], out
    (tr,) = [r for r in em.requests if r.endpoint == "kube.tokenrequest"]
    assert tr.path == "/api/v1/namespaces/build/serviceaccounts/puller/token"
    entra = next(r for r in em.requests if r.endpoint == "entra.token")
    # ESO's audience in every cloud, then the listed ones (generators/v1/acr/acr.go)
    payload = entra.form["client_assertion"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["aud"] == ["api://AzureADTokenExchange", "extra"]
    assert entra.form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    assert entra.form["client_id"] == WI_CLIENT


@pytest.mark.kube
def test_workload_identity_missing_annotation(em: Emulator, tmp_path: Path) -> None:
    em.add_service_account("default", "bare")
    auth = "workloadIdentity:\n  serviceAccountRef: {name: bare}\n"
    out = mint_one(tmp_path, acr_generator(auth=auth, tenant=None))
    assert "has no azure.workload.identity/client-id annotation" in out["generators"][0]["error"]


@pytest.mark.kube
def test_ambient_workload_identity_from_token_file(em: Emulator, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    em.add_service_principal(TENANT, WI_CLIENT, None)
    em.add_federated_credential(TENANT, WI_CLIENT, subject="system:serviceaccount:acr:acr-refresh")
    token_file = tmp_path / "azure-identity-token"
    token_file.write_text(em.issue_service_account_token("acr", "acr-refresh", ["api://AzureADTokenExchange"]))
    monkeypatch.setenv("AZURE_CLIENT_ID", WI_CLIENT)
    monkeypatch.setenv("AZURE_TENANT_ID", TENANT)
    monkeypatch.setenv("AZURE_FEDERATED_TOKEN_FILE", str(token_file))
    out = mint_one(tmp_path, acr_generator(auth="workloadIdentity: {}\n", tenant=None))
    assert out["ok"], out


def test_ambient_workload_identity_missing_env_names_the_variables(em: Emulator, tmp_path: Path) -> None:
    out = mint_one(tmp_path, acr_generator(auth="workloadIdentity: {}\n", tenant=None))
    err = out["generators"][0]["error"]
    assert "AZURE_CLIENT_ID" in err and "AZURE_FEDERATED_TOKEN_FILE" in err


# ------------------------------------------------------------------------------------ clouds, audiences


@pytest.mark.parametrize(
    ("environment", "authority", "registry", "arm"),
    [
        ("USGovernmentCloud", "login.microsoftonline.us", "govreg.azurecr.us",
         "https://management.usgovcloudapi.net/.default"),
        ("ChinaCloud", "login.chinacloudapi.cn", "cnreg1.azurecr.cn", "https://management.chinacloudapi.cn/.default"),
    ],
)
def test_sovereign_clouds_use_their_authority_and_suffix(em: Emulator, tmp_path: Path, environment: str,
                                                         authority: str, registry: str, arm: str) -> None:
    tenant = "99999999-8888-7777-6666-555555555555"
    em.add_tenant(tenant, authority_host=authority)
    em.add_service_principal(tenant, SP_CLIENT, SP_SECRET)
    em.add_registry(registry, tenant=tenant)
    out = mint_one(tmp_path,
                   acr_generator("acr-aud", registry=registry, tenant=tenant,
                                 extra_spec=f"environmentType: {environment}"),
                   acr_generator("arm-aud", registry=registry, tenant=tenant,
                                 extra_spec=f"environmentType: {environment}",
                                 annotations="acr-refresh/entra-audience: arm"))
    assert out["ok"], out
    entra = [r for r in em.requests if r.endpoint == "entra.token"]
    assert {r.host for r in entra} == {authority}
    assert {r.form["scope"] for r in entra} == {"https://containerregistry.azure.net/.default", arm}


def test_arm_audience_refused_when_registry_disables_authentication_as_arm(em: Emulator, tmp_path: Path) -> None:
    em.add_registry("nonarm.azurecr.io", tenant=TENANT, arm_audience_allowed=False)
    out = mint_one(tmp_path,
                   acr_generator("default-audience", registry="nonarm.azurecr.io"),
                   acr_generator("eso-audience", registry="nonarm.azurecr.io",
                                 annotations="acr-refresh/entra-audience: arm"))
    by_name = {g["name"]: g for g in out["generators"]}
    assert by_name["default-audience"]["status"] == "ok"
    assert by_name["eso-audience"]["status"] == "failed"
    assert "HTTP 401" in by_name["eso-audience"]["error"]


def test_azure_stack_cloud_from_environment_file(em: Emulator, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    stack_tenant = "12121212-3434-5656-7878-909090909090"
    em.add_tenant(stack_tenant, authority_host="login.stack.contoso.example")
    em.add_service_principal(stack_tenant, SP_CLIENT, SP_SECRET)
    em.add_registry("edge1.azurecr.stack.contoso.example", tenant=stack_tenant,
                    arm_audiences=("https://management.stack.contoso.example/",))
    env_file = tmp_path / "stack.json"
    env_file.write_text(json.dumps({
        "name": "AzureStackCloud",
        "activeDirectoryEndpoint": "https://login.stack.contoso.example/",
        "resourceManagerEndpoint": "https://management.stack.contoso.example/",
        "containerRegistryDNSSuffix": "azurecr.stack.contoso.example",
    }))
    monkeypatch.setenv("AZURE_ENVIRONMENT_FILEPATH", str(env_file))
    out = mint_one(tmp_path, acr_generator(registry="edge1.azurecr.stack.contoso.example", tenant=stack_tenant,
                                           extra_spec="environmentType: AzureStackCloud",
                                           annotations="acr-refresh/entra-audience: arm"))
    assert out["ok"], out
    entra = [r for r in em.requests if r.endpoint == "entra.token"]
    assert entra[0].host == "login.stack.contoso.example"
    assert entra[0].form["scope"] == "https://management.stack.contoso.example/.default"


# --------------------------------------------------------------------------------- retries and failures


def test_503_twice_then_success_is_retried(em: Emulator, tmp_path: Path) -> None:
    em.fail("acr.exchange", status=503, count=2)
    out = mint_one(tmp_path, acr_generator())
    assert out["ok"], out
    assert em.counts["acr.exchange"] == 3


def test_429_honours_retry_after(em: Emulator) -> None:
    em.fail("acr.exchange", status=429, count=1, retry_after=1)
    waits: list[float] = []
    client = AcrClient(retry=RetryPolicy(attempts=3, backoff=0.01, max_delay=5.0), sleep=waits.append)
    with pytest.raises(RegistryError):  # the bogus token is refused after the 429 is retried
        client.exchange(REGISTRY, "not-a-valid-entra-token", tenant=TENANT)
    assert waits == [1.0]  # Retry-After, not the 10 ms backoff
    assert em.counts["acr.exchange"] == 2


def test_401_is_not_retried(em: Emulator) -> None:
    client = AcrClient(retry=RetryPolicy(attempts=4, backoff=0.01))
    with pytest.raises(RegistryError) as info:
        client.exchange(REGISTRY, "not-a-valid-entra-token", tenant=TENANT)
    assert info.value.status == 401 and info.value.code
    assert em.counts["acr.exchange"] == 1
    assert "not-a-valid-entra-token" not in str(info.value)


def test_timeout_is_retried_then_reported(em: Emulator, tmp_path: Path) -> None:
    em.fail("acr.exchange", status=None, delay=1.0, count=None)
    services = fast_services(retry=RetryPolicy(attempts=2, backoff=0.01, read_timeout=0.2, connect_timeout=1))
    out = mint_one(tmp_path, acr_generator(), services=services)
    assert out["generators"][0]["status"] == "failed"
    assert "timed out" in out["generators"][0]["error"]
    em.clear_faults()


def test_oversized_registry_answer_is_refused(em: Emulator) -> None:
    em.fail("acr.exchange", status=200, count=1, body=b'{"refresh_token": "' + b"x" * 200_000 + b'"}')
    client = AcrClient(retry=RetryPolicy(attempts=1))
    with pytest.raises(RegistryError, match="larger than"):
        client.exchange(REGISTRY, "whatever", tenant=TENANT)


def test_failing_generator_beside_a_passing_one(em: Emulator, tmp_path: Path) -> None:
    out = mint_one(tmp_path, acr_generator("good"), acr_generator("unknown-registry", registry="missing.azurecr.io"))
    by_name = {g["name"]: g for g in out["generators"]}
    assert by_name["good"]["status"] == "ok"
    assert by_name["unknown-registry"]["status"] == "failed"
    assert "missing.azurecr.io/oauth2/exchange: HTTP 404" in by_name["unknown-registry"]["error"]
    assert out["ok"] is False


def test_dedupe_one_entra_token_and_one_exchange_for_many_generators(em: Emulator, tmp_path: Path) -> None:
    docs = [acr_generator(f"g{i}") for i in range(10)]
    docs += [acr_generator(f"s{i}", scope=SCOPE) for i in range(5)]
    out = mint_one(tmp_path, *docs)
    assert out["ok"]
    assert em.counts["entra.token"] == 1
    assert em.counts["acr.exchange"] == 1
    assert em.counts["acr.token"] == 1


def test_no_token_or_secret_in_logs_or_report(em: Emulator, tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    from acr_refresh.cli import main

    caplog.set_level(logging.DEBUG)
    config = write_config(tmp_path, acr_generator("a"), acr_generator("b", scope=SCOPE),
                          acr_generator("bad", registry="missing.azurecr.io"))
    em.fail("acr.token", status=503, count=1)
    code = main(["run", "--config", str(config), "--output", "json", "--log-format", "json",
                 "--log-level", "debug"])
    captured = capsys.readouterr()
    assert code == 1
    report = json.loads(captured.out)
    assert [g["status"] for g in report["generators"]] == ["ok", "ok", "failed"]
    everything = captured.out + captured.err + caplog.text
    secrets = em.issued_secrets() | {SP_SECRET}
    assert secrets and not [s for s in secrets if s in everything]


def test_warm_process_reuses_tokens_while_they_would_still_be_fresh(em: Emulator, tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    config = load_config(write_config(tmp_path, acr_generator("a"), acr_generator("b", scope=SCOPE)))
    clock = [datetime.now(UTC)]
    services = fast_services(now=lambda: clock[0])
    assert run(config, services=services).ok
    assert (em.counts["entra.token"], em.counts["acr.exchange"], em.counts["acr.token"]) == (1, 1, 1)
    em.reset_counts()
    clock[0] += timedelta(minutes=20)  # a refresh token (3 h) and an access token (75 min) still fresh
    assert run(config, services=services).ok
    assert sum(em.counts.values()) == 0
    clock[0] += timedelta(minutes=20)  # 40 min: the access token is past half its life, the refresh is not
    assert run(config, services=services).ok
    assert (em.counts["acr.exchange"], em.counts["acr.token"]) == (0, 1)
    em.reset_counts()
    assert run(config, RunOptions(force=True), services=services).ok
    assert (em.counts["acr.exchange"], em.counts["acr.token"]) == (1, 1)
    services.close()
