"""The emulator against the REAL clients: azure-identity/MSAL, requests and the kubernetes client.

Every test runs with an environment holding only the emulator's settings (proxy, CA bundle), so the clients
resolve real Azure host names, go through the CONNECT proxy and verify TLS against the test CA.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import (
    ClientAssertionCredential,
    ClientSecretCredential,
    CredentialUnavailableError,
    ManagedIdentityCredential,
    WorkloadIdentityCredential,
)

from acr_refresh.emulator import Emulator
from acr_refresh.emulator.jwt import unverified_claims
from tests.emulator.conftest import CLIENT, GOV_TENANT, SECRET, TENANT, FakeClock

REGISTRY = "demoregistry.azurecr.io"
ACR_SCOPE = "https://containerregistry.azure.net/.default"
ARM_SCOPE = "https://management.azure.com/.default"

@pytest.fixture
def em(em: Emulator) -> Emulator:
    """The shared emulator, plus the demo registry."""
    em.add_registry(REGISTRY)
    return em


def entra_token(scope: str = ACR_SCOPE) -> str:
    return ClientSecretCredential(TENANT, CLIENT, SECRET).get_token(scope).token


def exchange(access_token: str, *, host: str = REGISTRY, **extra: str) -> requests.Response:
    data = {"grant_type": "access_token", "service": host, "access_token": access_token, **extra}
    return requests.post(f"https://{host}/oauth2/exchange", data=data, timeout=10)


# ----- Entra ID through azure-identity -----------------------------------------------------------------


def test_client_secret_credential_public_cloud(em: Emulator, clock: FakeClock) -> None:
    token = ClientSecretCredential(TENANT, CLIENT, SECRET).get_token(ACR_SCOPE)

    claims = unverified_claims(token.token)
    assert claims["aud"] == "https://containerregistry.azure.net"
    assert claims["tid"] == TENANT and claims["appid"] == CLIENT and claims["azp"] == CLIENT
    assert claims["iat"] == int(clock.now) and claims["exp"] - claims["iat"] == 3600
    assert em.proxy_hosts == ["login.microsoftonline.com:443"]
    assert em.counts == {"entra.discovery": 1, "entra.token": 1}
    discovery, token_req = em.requests
    assert discovery.path == f"/{TENANT}/v2.0/.well-known/openid-configuration"
    assert token_req.path == f"/{TENANT}/oauth2/v2.0/token"
    assert token_req.form["grant_type"] == "client_credentials"
    assert token_req.form["scope"] == ACR_SCOPE
    assert token_req.form["client_secret"] == SECRET
    assert token.token in em.issued_secrets() and SECRET in em.issued_secrets()


def test_scope_keeps_exact_resource_string(em: Emulator) -> None:
    assert unverified_claims(entra_token(ARM_SCOPE))["aud"] == "https://management.azure.com"
    assert unverified_claims(entra_token("https://management.azure.com//.default"))["aud"] == (
        "https://management.azure.com/"
    )


def test_us_government_authority_and_wrong_cloud(em: Emulator) -> None:
    em.add_tenant(GOV_TENANT, authority_host="login.microsoftonline.us")
    em.add_service_principal(GOV_TENANT, CLIENT, SECRET)

    token = ClientSecretCredential(GOV_TENANT, CLIENT, SECRET, authority="login.microsoftonline.us")
    assert unverified_claims(token.get_token(ACR_SCOPE).token)["tid"] == GOV_TENANT
    assert em.proxy_hosts == ["login.microsoftonline.us:443"]

    # The tenant does not exist in the public cloud: tenant discovery fails there.
    with pytest.raises(ClientAuthenticationError, match="Unable to get authority configuration"):
        ClientSecretCredential(GOV_TENANT, CLIENT, SECRET).get_token(ACR_SCOPE)


def test_custom_authority_needs_instance_discovery_disabled(em: Emulator) -> None:
    stack_tenant = "00000000-0000-0000-0000-0000000000ac"
    em.add_tenant(stack_tenant, authority_host="login.azurestack.contoso.local")
    em.add_service_principal(stack_tenant, CLIENT, SECRET)

    with pytest.raises(ClientAuthenticationError, match="not well-known"):
        ClientSecretCredential(
            stack_tenant, CLIENT, SECRET, authority="login.azurestack.contoso.local"
        ).get_token(ACR_SCOPE)
    (instance,) = em.requests
    assert (instance.host, instance.path) == ("login.microsoftonline.com", "/common/discovery/instance")

    em.reset_counts()
    cred = ClientSecretCredential(
        stack_tenant,
        CLIENT,
        SECRET,
        authority="login.azurestack.contoso.local",
        disable_instance_discovery=True,
    )
    assert cred.get_token(ACR_SCOPE).token
    assert em.proxy_hosts == ["login.azurestack.contoso.local:443"]


def test_wrong_secret_and_unknown_client(em: Emulator) -> None:
    with pytest.raises(ClientAuthenticationError, match="AADSTS7000215"):
        ClientSecretCredential(TENANT, CLIENT, "wrong").get_token(ACR_SCOPE)
    with pytest.raises(ClientAuthenticationError, match="AADSTS700016"):
        ClientSecretCredential(TENANT, "00000000-0000-0000-0000-0000000000c9", SECRET).get_token(ACR_SCOPE)


def test_client_assertion_with_service_account_token(em: Emulator) -> None:
    em.add_service_account("acr", "refresher")
    em.add_federated_credential(TENANT, CLIENT, subject="system:serviceaccount:acr:refresher")
    sa_token = em.issue_service_account_token("acr", "refresher", ["api://AzureADTokenExchange"])

    token = ClientAssertionCredential(TENANT, CLIENT, lambda: sa_token).get_token(ACR_SCOPE)

    assert unverified_claims(token.token)["appidacr"] == "2"
    (req,) = em.requests
    assert req.form["client_assertion"] == sa_token
    assert req.form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

    other = em.issue_service_account_token("acr", "someone-else", ["api://AzureADTokenExchange"])
    with pytest.raises(ClientAuthenticationError, match="AADSTS70021"):
        ClientAssertionCredential(TENANT, CLIENT, lambda: other).get_token(ACR_SCOPE)
    wrong_aud = em.issue_service_account_token("acr", "refresher", ["api://AzureADTokenExchangeUSGov"])
    with pytest.raises(ClientAuthenticationError, match="AADSTS700212"):
        ClientAssertionCredential(TENANT, CLIENT, lambda: wrong_aud).get_token(ACR_SCOPE)


def test_workload_identity_credential_with_token_file(em: Emulator, tmp_path: Path, clock: FakeClock) -> None:
    em.add_federated_credential(TENANT, CLIENT, subject="system:serviceaccount:acr:refresher")
    token_file = tmp_path / "azure-identity-token"
    token_file.write_text(em.issue_service_account_token("acr", "refresher", ["api://AzureADTokenExchange"]))

    cred = WorkloadIdentityCredential(tenant_id=TENANT, client_id=CLIENT, token_file_path=str(token_file))
    assert unverified_claims(cred.get_token(ACR_SCOPE).token)["tid"] == TENANT

    # An expired projected token is refused as Entra does (AADSTS700024).
    token_file.write_text(
        em.issue_service_account_token("acr", "refresher", ["api://AzureADTokenExchange"], 600)
    )
    clock.now += 601
    fresh = WorkloadIdentityCredential(tenant_id=TENANT, client_id=CLIENT, token_file_path=str(token_file))
    with pytest.raises(ClientAuthenticationError, match="AADSTS700024"):
        fresh.get_token(ACR_SCOPE)


# ----- managed identity -------------------------------------------------------------------------------


@pytest.fixture
def identities(em: Emulator) -> dict[str, Any]:
    system = em.add_managed_identity(tenant_id=TENANT, system_assigned=True)
    user = em.add_managed_identity(tenant_id=TENANT, client_id="00000000-0000-0000-0000-0000000000d1")
    return {
        "system": (system, {}),
        "client_id": (user, {"client_id": user.client_id}),
        "resource_id": (user, {"identity_config": {"resource_id": user.resource_id}}),
    }


@pytest.mark.parametrize("selector", ["system", "client_id", "resource_id"])
def test_managed_identity_app_service(
    em: Emulator, identities: dict[str, Any], selector: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IDENTITY_ENDPOINT", em.identity_endpoint)
    monkeypatch.setenv("IDENTITY_HEADER", em.identity_header)
    identity, kwargs = identities[selector]

    token = ManagedIdentityCredential(**kwargs).get_token(ACR_SCOPE)

    claims = unverified_claims(token.token)
    assert (claims["appid"], claims["oid"], claims["aud"]) == (
        identity.client_id,
        identity.object_id,
        "https://containerregistry.azure.net",
    )
    (req,) = em.requests
    assert req.endpoint == "mi.appservice" and req.query["api-version"] == "2019-08-01"
    assert req.headers["x-identity-header"] == em.identity_header
    assert em.proxy_hosts == []  # loopback is not proxied


@pytest.mark.parametrize("selector", ["system", "client_id", "resource_id"])
def test_managed_identity_imds(
    em: Emulator, identities: dict[str, Any], selector: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", em.imds_url)
    identity, kwargs = identities[selector]

    token = ManagedIdentityCredential(**kwargs).get_token(ACR_SCOPE)

    assert unverified_claims(token.token)["oid"] == identity.object_id
    (req,) = em.requests
    assert req.endpoint == "mi.imds" and req.headers["metadata"] == "true"
    assert req.query["resource"] == "https://containerregistry.azure.net"


def test_managed_identity_unknown_identity(
    em: Emulator, identities: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", em.imds_url)
    with pytest.raises(CredentialUnavailableError, match="Identity not found"):
        ManagedIdentityCredential(client_id="00000000-0000-0000-0000-00000000dead").get_token(ACR_SCOPE)


# ----- ACR token service --------------------------------------------------------------------------------


def test_acr_exchange_then_token(em: Emulator, clock: FakeClock) -> None:
    aad = entra_token()
    resp = exchange(aad, tenant=TENANT)
    assert resp.status_code == 200, resp.text
    refresh = resp.json()["refresh_token"]
    claims = unverified_claims(refresh)
    assert claims["exp"] - claims["iat"] == 10800 and claims["aud"] == REGISTRY

    resp = requests.post(
        f"https://{REGISTRY}/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "service": REGISTRY,
            "scope": "repository:team/app:pull",
            "refresh_token": refresh,
        },
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    access = unverified_claims(resp.json()["access_token"])
    assert access["access"] == [{"type": "repository", "name": "team/app", "actions": ["pull"]}]
    assert access["exp"] - access["iat"] == 4500
    assert {refresh, resp.json()["access_token"]} <= em.issued_secrets()
    assert em.counts["acr.exchange"] == 1 and em.counts["acr.token"] == 1
    assert f"{REGISTRY}:443" in em.proxy_hosts

    clock.now += 10801  # the refresh token has expired by the emulator's clock
    resp = requests.post(
        f"https://{REGISTRY}/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "service": REGISTRY,
            "scope": "repository:team/app:pull",
            "refresh_token": refresh,
        },
        timeout=10,
    )
    assert resp.status_code == 401 and resp.json()["errors"][0]["code"] == "UNAUTHORIZED"


def test_acr_audiences(em: Emulator) -> None:
    assert exchange(entra_token(ARM_SCOPE)).status_code == 200  # authentication-as-arm on by default
    resp = exchange(entra_token("https://vault.azure.net/.default"))
    assert resp.status_code == 401 and "audience" in resp.json()["errors"][0]["message"]

    em.add_registry("armoff.azurecr.io", arm_audience_allowed=False)
    assert exchange(entra_token(ARM_SCOPE), host="armoff.azurecr.io").status_code == 401
    assert exchange(entra_token(ACR_SCOPE), host="armoff.azurecr.io").status_code == 200


def test_acr_tenant_principal_and_request_checks(em: Emulator) -> None:
    aad = entra_token()
    assert exchange(aad, tenant="00000000-0000-0000-0000-0000000000ff").status_code == 401
    em.add_registry("othertenant.azurecr.io", tenant="00000000-0000-0000-0000-0000000000ff")
    assert exchange(aad, host="othertenant.azurecr.io").status_code == 401
    em.add_registry("locked.azurecr.io", allowed_principals={"00000000-0000-0000-0000-0000000000c2"})
    assert exchange(aad, host="locked.azurecr.io").status_code == 401
    em.add_registry("open.azurecr.io", allowed_principals={CLIENT})
    assert exchange(aad, host="open.azurecr.io").status_code == 200

    resp = requests.post(
        f"https://{REGISTRY}/oauth2/exchange",
        timeout=10,
        data={"grant_type": "access_token", "service": "elsewhere.azurecr.io", "access_token": aad},
    )
    assert resp.status_code == 401
    resp = requests.post(
        f"https://{REGISTRY}/oauth2/exchange",
        timeout=10,
        data={"grant_type": "password", "service": REGISTRY, "access_token": aad},
    )
    assert resp.status_code == 400
    assert exchange(aad[:-4] + "AAAA").status_code == 401  # bad signature
    # An ACR refresh token is not an Entra token.
    refresh = exchange(aad).json()["refresh_token"]
    assert exchange(refresh).status_code == 401
    assert requests.post("https://nosuch.azurecr.io/oauth2/exchange", timeout=10).status_code == 404


# ----- fault injection and observation -----------------------------------------------------------------


def test_fail_then_recover_and_counts(em: Emulator) -> None:
    em.fail("entra.token", status=503, count=1)
    assert entra_token()  # azure-core retries a 503 at once
    assert em.counts["entra.token"] == 2

    em.fail(
        "acr.exchange",
        status=429,
        count=2,
        retry_after=7,
        body={"errors": [{"code": "TOOMANYREQUESTS"}]},
        headers={"X-Test": "1"},
    )
    aad = entra_token()
    for _ in range(2):
        resp = exchange(aad)
        assert (
            resp.status_code == 429 and resp.headers["Retry-After"] == "7" and resp.headers["X-Test"] == "1"
        )
        assert resp.json() == {"errors": [{"code": "TOOMANYREQUESTS"}]}
    assert exchange(aad).status_code == 200
    assert em.counts["acr.exchange"] == 3

    em.fail("acr.exchange", status=None, delay=0.3)  # slow but successful
    started = time.monotonic()
    assert exchange(aad).status_code == 200
    assert time.monotonic() - started >= 0.3

    em.fail("acr.token", status=500, count=None)
    for _ in range(3):
        assert requests.post(f"https://{REGISTRY}/oauth2/token", timeout=10).status_code == 500
    em.clear_faults("acr.token")
    assert requests.post(f"https://{REGISTRY}/oauth2/token", timeout=10).status_code == 400

    em.reset_counts()
    assert em.counts == {} and em.requests == []
    with pytest.raises(ValueError):
        em.fail("entra.nope")


def test_imds_fault_with_short_backoff(
    em: Emulator, identities: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", em.imds_url)
    em.fail("mi.imds", status=503, count=2)
    started = time.monotonic()
    # IMDS retries with a 0.8 s backoff factor by default; tests pass a small one.
    assert ManagedIdentityCredential(retry_backoff_factor=0.01).get_token(ACR_SCOPE).token
    assert time.monotonic() - started < 1.0
    assert em.counts["mi.imds"] == 3


def test_recorded_requests_hide_secrets_in_repr(em: Emulator) -> None:
    entra_token()
    text = repr(em.requests)
    assert SECRET not in text and "<redacted>" in text


# ----- Kubernetes -------------------------------------------------------------------------------------------


def test_kubernetes_client(em: Emulator, tmp_path: Path, clock: FakeClock) -> None:
    from kubernetes import client, config

    em.add_namespace("acr", labels={"team": "platform"})
    em.add_secret(
        "acr", "pull", {".dockerconfigjson": "{}"}, type="kubernetes.io/dockerconfigjson", labels={"app": "x"}
    )
    em.add_service_account("acr", "refresher", annotations={"azure.workload.identity/client-id": CLIENT})
    api = client.CoreV1Api(
        config.new_client_from_config(config_file=em.write_kubeconfig(tmp_path / "kubeconfig"))
    )

    secret = api.read_namespaced_secret("pull", "acr")
    assert secret.type == "kubernetes.io/dockerconfigjson" and secret.data == {".dockerconfigjson": "e30="}
    assert secret.metadata.resource_version and secret.metadata.labels == {"app": "x"}
    sa = api.read_namespaced_service_account("refresher", "acr")
    assert sa.metadata.annotations["azure.workload.identity/client-id"] == CLIENT

    body = client.AuthenticationV1TokenRequest(
        spec=client.V1TokenRequestSpec(audiences=["api://AzureADTokenExchange"], expiration_seconds=3600)
    )
    result = api.create_namespaced_service_account_token("refresher", "acr", body)
    claims = unverified_claims(result.status.token)
    assert claims["iss"] == em.kube_issuer and claims["sub"] == "system:serviceaccount:acr:refresher"
    assert claims["aud"] == ["api://AzureADTokenExchange"] and claims["exp"] == int(clock.now) + 3600
    assert result.status.token in em.issued_secrets()
    assert em.counts == {"kube.secret.get": 1, "kube.serviceaccount.get": 1, "kube.tokenrequest": 1}

    with pytest.raises(client.ApiException) as missing:
        api.read_namespaced_secret("absent", "acr")
    assert missing.value.status == 404 and json.loads(missing.value.body)["reason"] == "NotFound"

    em.fail("kube.secret.get", status=503)
    with pytest.raises(client.ApiException) as unavailable:
        api.read_namespaced_secret("pull", "acr")
    assert unavailable.value.status == 503

    bad = client.CoreV1Api(
        config.new_client_from_config(
            config_file=em.write_kubeconfig(tmp_path / "bad", token="not-the-token")
        )
    )
    with pytest.raises(client.ApiException) as unauthorized:
        bad.read_namespaced_secret("pull", "acr")
    assert unauthorized.value.status == 401
    assert em.get_object("secrets", "acr", "pull")["data"] == {".dockerconfigjson": "e30="}  # type: ignore[index]
    assert em.get_object("namespaces", "", "acr")["metadata"]["labels"]["team"] == "platform"  # type: ignore[index]


# ----- transport: TLS and proxy ----------------------------------------------------------------------------


def test_tls_needs_the_test_ca(em: Emulator) -> None:
    import certifi

    # The public CA bundle does not trust the emulator: the CA really is needed.
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"https://{REGISTRY}/", verify=certifi.where(), timeout=10)
    # With the test CA the certificate verifies for the requested (SNI) host name.
    assert requests.get("https://myreg.westeurope.geo.azurecr.io/", timeout=10).status_code == 404
    assert requests.get("https://v.vault.usgovcloudapi.net/", timeout=10).status_code == 502


def test_raw_tls_certificate_matches_each_host(em: Emulator) -> None:
    ctx = ssl.create_default_context(cafile=em.ca_bundle_path)
    port = int(em.proxy_url.rsplit(":", 1)[1])
    for host in ("login.chinacloudapi.cn", "x.azurecr.cn", "v.vault.azure.cn"):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            raw.sendall(f"CONNECT {host}:443 HTTP/1.1\r\nHost: {host}:443\r\n\r\n".encode())
            assert raw.recv(1024).startswith(b"HTTP/1.1 200")
            with ctx.wrap_socket(raw, server_hostname=host) as tls:
                assert tls.getpeercert()["subjectAltName"] == (("DNS", host),)
        # and a context without the CA refuses the same certificate
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            raw.sendall(f"CONNECT {host}:443 HTTP/1.1\r\n\r\n".encode())
            raw.recv(1024)
            with pytest.raises(ssl.SSLCertVerificationError):
                ssl.create_default_context(cafile=certifi_where()).wrap_socket(raw, server_hostname=host)


def certifi_where() -> str:
    import certifi

    return certifi.where()


def test_proxy_only_tunnels(em: Emulator) -> None:
    resp = requests.get(f"{em.proxy_url}/whatever", timeout=10)
    assert resp.status_code == 405


def test_stop_closes_ports() -> None:
    emulator = Emulator().start()
    ports = [
        int(u.rsplit(":", 1)[1].split("/")[0])
        for u in (emulator.proxy_url, emulator.imds_url, emulator.kube_url)
    ]
    bundle = emulator.ca_bundle_path
    emulator.stop()
    assert not os.path.exists(bundle)
    for port in ports:
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_msal_replays_a_final_5xx_without_a_request(em: Emulator) -> None:
    # Real client behaviour worth knowing: after retries give up, MSAL throttles the same request locally.
    cred = ClientSecretCredential(TENANT, CLIENT, SECRET, retry_backoff_factor=0.01)
    em.fail("entra.token", status=503, count=None)
    with pytest.raises(ClientAuthenticationError):
        cred.get_token(ACR_SCOPE)
    assert em.counts["entra.token"] == 4  # first try + 3 retries
    em.clear_faults()
    with pytest.raises(ClientAuthenticationError):
        cred.get_token(ACR_SCOPE)
    assert em.counts["entra.token"] == 4


def test_emulator_logs_no_secret(em: Emulator, caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    caplog.set_level(logging.DEBUG, logger="acr_refresh.emulator")
    refresh = exchange(entra_token()).json()["refresh_token"]
    requests.post(
        f"https://{REGISTRY}/oauth2/token",
        timeout=10,
        data={
            "grant_type": "refresh_token",
            "service": REGISTRY,
            "scope": "repository:a:pull",
            "refresh_token": refresh,
        },
    )
    with pytest.raises(ClientAuthenticationError):
        ClientSecretCredential(TENANT, CLIENT, "wrong-secret-value").get_token(ACR_SCOPE)
    assert caplog.records, "expected the emulator to log requests at debug level"
    for secret in em.issued_secrets():
        assert secret not in caplog.text


def test_main_writes_env_file_and_stops_on_sigterm(tmp_path: Path) -> None:
    env_file = tmp_path / "emulator.env"
    proc = subprocess.Popen(
        [sys.executable, "-m", "acr_refresh.emulator", "--env-file", str(env_file)],
        cwd=Path(__file__).resolve().parents[2],
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 15
        while not (env_file.exists() and "EMULATOR_REGISTRY" in env_file.read_text()):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        exports = dict(
            line.removeprefix("export ").split("=", 1) for line in env_file.read_text().splitlines()
        )
        assert exports["EMULATOR_REGISTRY"] == "demoregistry.azurecr.io"
        assert exports["HTTPS_PROXY"].startswith("http://127.0.0.1:")
        ca_bundle = exports["REQUESTS_CA_BUNDLE"]
        assert os.path.exists(ca_bundle)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    assert not os.path.exists(ca_bundle)
