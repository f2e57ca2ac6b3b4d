"""The fault matrix: every service and every fault, one test per row, against the emulator.

Set-up (``world``): generator ``a`` (service principal → Entra ID; scoped, so it also calls
``/oauth2/token``) writes Secret team-a/a and Key Vault secret ``kv`` (the vault is reached with the
managed identity); generator ``b`` (managed identity, App Service endpoint; refresh token) writes Secret
team-b/b. A first run writes everything; then the fault is injected and a forced run (every target would be
rewritten) shows the outcome: each target ``written`` or ``failed`` with a clear reason, failed targets keep
their previous value, and the exit status says so. After the row the fault is cleared.

The table is mirrored in docs/reliability.md.
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from acr_refresh.acr import RetryPolicy
from acr_refresh.config import load_config
from acr_refresh.emulator import Emulator
from acr_refresh.run import RunOptions, Services, run
from tests.conftest import SP_SECRET, TENANT, acr_generator, write_config

REG_A, REG_B = "myregistry.azurecr.io", "otherreg.azurecr.io"
VAULT = "matrixvault.vault.azure.net"
ALL = ("a", "b", "kv")
# Who fails when a service fails: the targets downstream of it in this world.
DOWNSTREAM = {
    "entra": ("a", "kv"),        # generator a's identity
    "mi": ("b", "kv"),           # generator b's identity, and the vault's
    "acr.exchange": ("a", "b", "kv"),
    "acr.exchange@a": ("a", "kv"),  # faults aimed at registry a's host only
    "acr.token": ("a", "kv"),    # only generator a has a scope
    "keyvault": ("kv",),
    "kube": ("a", "b"),
}


@dataclass(frozen=True)
class Row:
    service: str
    fault: str
    inject: Callable[[Emulator, World], None]
    outcome: str  # "recovers" (retried and succeeded) or "fails"
    reason: tuple[str, ...] = ()  # one of these appears in each failed target's (or generator's) error

    @property
    def id(self) -> str:
        return f"{self.service}-{self.fault}"


@dataclass
class World:
    em: Emulator
    config_path: Path
    kubeconfig: Path
    monkeypatch: pytest.MonkeyPatch

    def services(self) -> Services:
        timeouts = {"connection_timeout": 1, "read_timeout": 0.5}
        fast = {"retry_total": 2, "retry_backoff_factor": 0.01, "retry_backoff_max": 0.05, **timeouts}
        return Services(
            retry=RetryPolicy(attempts=3, backoff=0.01, max_delay=1.5, connect_timeout=1, read_timeout=0.5),
            credential_options=fast, vault_options=fast,
        )

    def run(self, **options: object) -> dict:
        config = load_config(self.config_path)
        services = self.services()
        try:
            return run(config, RunOptions(**options), services=services).to_dict()  # type: ignore[arg-type]
        finally:
            services.close()

    def snapshot(self) -> dict[str, object]:
        return {"a": self.em.get_object("secrets", "team-a", "a"), "b": self.em.get_object("secrets", "team-b", "b"),
                "kv": (self.em.vault_secret(VAULT, "kv") or {}).get("value")}


@pytest.fixture
def world(em: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    em.add_registry(REG_B, tenant=TENANT)
    em.add_managed_identity(tenant_id=TENANT, system_assigned=True)
    em.add_vault(VAULT, tenant=TENANT)
    monkeypatch.setenv("IDENTITY_ENDPOINT", em.identity_endpoint)
    monkeypatch.setenv("IDENTITY_HEADER", em.identity_header)
    for ns in ("team-a", "team-b"):
        em.add_namespace(ns)
    kube = ("apiVersion: acr-refresh/v1alpha1\nkind: KubernetesSecret\nmetadata: {{name: {g}}}\n"
            "spec:\n  generatorRef: {{name: {g}}}\n  namespaces: [team-{g}]\n")
    vault = (f"apiVersion: acr-refresh/v1alpha1\nkind: KeyVaultSecret\nmetadata: {{name: kv}}\nspec:\n"
             f"  generatorRef: {{name: a}}\n  vaultUrl: https://{VAULT}/\n  secretName: kv\n"
             "  auth: {managedIdentity: {}}\n")
    path = write_config(tmp_path, acr_generator("a", registry=REG_A, scope="repository:team/app:pull"),
                        acr_generator("b", registry=REG_B, auth="managedIdentity: {}\n", tenant=None),
                        kube.format(g="a"), kube.format(g="b"), vault)
    w = World(em, path, Path(str(tmp_path / "kubeconfig")), monkeypatch)
    first = w.run()
    assert first["ok"], json.dumps(first)
    em.reset_counts()
    yield w
    em.clear_faults()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ------------------------------------------------------------------------------------------ injectors


def fail(endpoints: tuple[str, ...], **kwargs: object) -> Callable[[Emulator, World], None]:
    def inject(em: Emulator, _w: World) -> None:
        for e in endpoints:
            em.fail(e, **kwargs)  # type: ignore[arg-type]
    return inject


def refuse(host: str) -> Callable[[Emulator, World], None]:
    return lambda em, _w: em.refuse_connections(host)


def untrusted(host: str) -> Callable[[Emulator, World], None]:
    return lambda em, _w: em.serve_untrusted_certificate(host)


def mi_refused(em: Emulator, w: World) -> None:
    w.monkeypatch.setenv("IDENTITY_ENDPOINT", f"http://127.0.0.1:{closed_port()}/msi/token")


def kube_refused(em: Emulator, w: World) -> None:
    cfg = json.loads(w.kubeconfig.read_text())
    cfg["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{closed_port()}"
    w.kubeconfig.write_text(json.dumps(cfg))


def kube_untrusted(em: Emulator, w: World) -> None:
    import base64

    import trustme

    cfg = json.loads(w.kubeconfig.read_text())
    cfg["clusters"][0]["cluster"]["certificate-authority-data"] = base64.b64encode(
        trustme.CA().cert_pem.bytes()).decode()
    w.kubeconfig.write_text(json.dumps(cfg))


ENTRA = ("entra.token",)
MI = ("mi.appservice",)
KV = ("kv.secret.list", "kv.secret.set")  # freshness lists properties; no value is read
KUBE = ("kube.secret.get", "kube.secret.apply")
TIMEOUT = ("timed out", "Timeout", "timeout")
TLS = ("TLS", "SSL", "CERTIFICATE_VERIFY_FAILED", "certificate")
REFUSED = ("connection failed", "Connection", "ProxyError", "502", "refused", "Tunnel")
HTTP5 = ("503",)
AUTHZ = ("401", "403", "Forbidden", "Unauthorized", "AADSTS", "invalid_client", "UNAUTHORIZED")

ROWS = [
    # Entra ID (service principal token endpoint, through azure-identity/MSAL)
    Row("entra", "refused", refuse("login.microsoftonline.com"), "fails", REFUSED),
    Row("entra", "untrusted-tls", untrusted("login.microsoftonline.com"), "fails", TLS),
    Row("entra", "slow", fail(ENTRA, status=None, delay=1.5, count=None), "fails", TIMEOUT),
    Row("entra", "5xx-then-ok", fail(ENTRA, status=503, count=1), "recovers"),
    Row("entra", "5xx-forever", fail(ENTRA, status=503, count=None), "fails", HTTP5),
    Row("entra", "429-retry-after", fail(ENTRA, status=429, count=1, retry_after=1), "recovers"),
    Row("entra", "429-bare", fail(ENTRA, status=429, count=1), "recovers"),
    Row("entra", "401", fail(ENTRA, status=401, count=None), "fails", AUTHZ),
    Row("entra", "malformed-json", fail(ENTRA, status=200, count=None, body="<html>not json"), "fails", ("",)),
    Row("entra", "no-token-field", fail(ENTRA, status=200, count=None, body={"token_type": "Bearer"}), "fails",
        ("",)),
    # Managed identity (App Service endpoint, plain HTTP on loopback)
    Row("mi", "refused", mi_refused, "fails", ("",)),
    Row("mi", "slow", fail(MI, status=None, delay=1.5, count=None), "fails", ("",)),
    Row("mi", "5xx-then-ok", fail(MI, status=503, count=1), "recovers"),
    Row("mi", "5xx-forever", fail(MI, status=503, count=None), "fails", ("",)),
    Row("mi", "429-retry-after", fail(MI, status=429, count=1, retry_after=1), "recovers"),
    Row("mi", "429-bare", fail(MI, status=429, count=1), "recovers"),
    Row("mi", "401", fail(MI, status=401, count=None), "fails", ("",)),
    Row("mi", "malformed-json", fail(MI, status=200, count=None, body="not json"), "fails", ("",)),
    Row("mi", "no-token-field", fail(MI, status=200, count=None, body={"expires_on": "1"}), "fails", ("",)),
    # ACR /oauth2/exchange (requests)
    Row("acr.exchange@a", "refused", refuse(REG_A), "fails", REFUSED),
    Row("acr.exchange@a", "untrusted-tls", untrusted(REG_A), "fails", TLS),
    Row("acr.exchange", "slow", fail(("acr.exchange",), status=None, delay=1.5, count=None), "fails", TIMEOUT),
    Row("acr.exchange", "5xx-then-ok", fail(("acr.exchange",), status=503, count=2), "recovers"),
    Row("acr.exchange", "5xx-forever", fail(("acr.exchange",), status=503, count=None), "fails", HTTP5),
    Row("acr.exchange", "429-retry-after", fail(("acr.exchange",), status=429, count=1, retry_after=1), "recovers"),
    Row("acr.exchange", "429-bare", fail(("acr.exchange",), status=429, count=1), "recovers"),
    Row("acr.exchange", "401", fail(("acr.exchange",), status=401, count=None), "fails", ("HTTP 401",)),
    Row("acr.exchange", "malformed-json", fail(("acr.exchange",), status=200, count=None, body="<html>"), "fails",
        ("not JSON",)),
    Row("acr.exchange", "no-token-field", fail(("acr.exchange",), status=200, count=None, body={"x": 1}), "fails",
        ("no refresh_token",)),
    Row("acr.exchange", "oversized", fail(("acr.exchange",), status=200, count=None,
                                          body='{"refresh_token": "' + "x" * 100_000 + '"}'), "fails",
        ("larger than",)),
    # ACR /oauth2/token
    Row("acr.token", "slow", fail(("acr.token",), status=None, delay=1.5, count=None), "fails", TIMEOUT),
    Row("acr.token", "5xx-then-ok", fail(("acr.token",), status=500, count=2), "recovers"),
    Row("acr.token", "5xx-forever", fail(("acr.token",), status=503, count=None), "fails", HTTP5),
    Row("acr.token", "429-retry-after", fail(("acr.token",), status=429, count=1, retry_after=1), "recovers"),
    Row("acr.token", "429-bare", fail(("acr.token",), status=429, count=1), "recovers"),
    Row("acr.token", "403", fail(("acr.token",), status=403, count=None), "fails", ("HTTP 403",)),
    Row("acr.token", "malformed-json", fail(("acr.token",), status=200, count=None, body="nope"), "fails",
        ("not JSON",)),
    Row("acr.token", "no-token-field", fail(("acr.token",), status=200, count=None, body={}), "fails",
        ("no access_token",)),
    Row("acr.token", "oversized", fail(("acr.token",), status=200, count=None,
                                       body='{"access_token": "' + "x" * 100_000 + '"}'), "fails", ("larger than",)),
    # Key Vault (azure-keyvault-secrets)
    Row("keyvault", "refused", refuse(VAULT), "fails", (*REFUSED, "ServiceRequestError")),
    Row("keyvault", "untrusted-tls", untrusted(VAULT), "fails", TLS),
    Row("keyvault", "slow", fail(KV, status=None, delay=1.5, count=None), "fails", (*TIMEOUT, "ServiceResponse")),
    Row("keyvault", "5xx-then-ok", fail(("kv.secret.set",), status=503, count=1), "recovers"),
    Row("keyvault", "5xx-forever", fail(("kv.secret.set",), status=503, count=None), "fails", HTTP5),
    Row("keyvault", "429-retry-after", fail(("kv.secret.set",), status=429, count=1, retry_after=1), "recovers"),
    Row("keyvault", "429-bare", fail(("kv.secret.set",), status=429, count=1), "recovers"),
    Row("keyvault", "403", fail(("kv.secret.set",), status=403, count=None), "fails", AUTHZ),
    Row("keyvault", "malformed-json", fail(("kv.secret.list",), status=200, count=None, body="nope"), "fails",
        ("",)),
    # Kubernetes API (official client)
    Row("kube", "refused", kube_refused, "fails", ("Connection", "refused", "NewConnectionError")),
    Row("kube", "untrusted-tls", kube_untrusted, "fails", TLS),
    Row("kube", "slow", fail(KUBE, status=None, delay=1.5, count=None), "fails", TIMEOUT),
    Row("kube", "5xx-then-ok", fail(("kube.secret.apply",), status=503, count=2), "recovers"),
    Row("kube", "5xx-forever", fail(("kube.secret.apply",), status=503, count=None), "fails", HTTP5),
    Row("kube", "429-retry-after", fail(("kube.secret.apply",), status=429, count=1, retry_after=1), "recovers"),
    Row("kube", "429-bare", fail(("kube.secret.apply",), status=429, count=1), "recovers"),
    Row("kube", "403", fail(("kube.secret.apply",), status=403, count=None), "fails", ("403",)),
    Row("kube", "malformed-json", fail(("kube.secret.get",), status=200, count=None, body="nope"), "fails",
        ("not JSON",)),
]


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_fault(world: World, row: Row, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="acr_refresh")
    before = world.snapshot()
    row.inject(world.em, world)
    report = world.run(force=True)
    world.em.clear_faults()
    targets = {t.get("name") or t.get("secretName"): t for g in report["generators"] for t in g["targets"]}
    after = world.snapshot()
    if row.outcome == "recovers":
        assert not [s for s in world.em.issued_secrets() | {SP_SECRET} if s in caplog.text]
        assert report["ok"], json.dumps(report, indent=1)
        assert all(t["status"] == "written" for t in targets.values())
        assert all(after[k] != before[k] for k in ALL)
        return
    expected_failed = set(DOWNSTREAM[row.service])
    failed = {k for k, t in targets.items() if t["status"] == "failed"}
    assert failed == expected_failed, json.dumps(report, indent=1)
    assert report["ok"] is False
    for name in expected_failed:
        assert after[name] == before[name], f"{name} was changed by a failed run"  # previous value kept
        gen = next(g for g in report["generators"] if any((t.get("name") or t.get("secretName")) == name
                                                          for t in g["targets"]))
        reason = targets[name]["error"] if gen["status"] != "failed" else gen["error"]
        assert reason and any(word in reason for word in row.reason), (name, reason)
        assert "\n" not in reason
    for name in set(ALL) - expected_failed:
        assert targets[name]["status"] == "written" and after[name] != before[name]
    # Nothing secret in the report, the logs or any exception text, whatever failed.
    text = json.dumps(report) + caplog.text
    assert not [s for s in world.em.issued_secrets() | {SP_SECRET} if s in text]


KUBE_ROWS = [r for r in ROWS if r.service == "kube"]


@pytest.mark.parametrize("tier", ["real"], indirect=True)
@pytest.mark.parametrize("row", KUBE_ROWS, ids=[r.id for r in KUBE_ROWS])
def test_kube_fault_in_front_of_a_real_api_server(world: World, row: Row, caplog: pytest.LogCaptureFixture) -> None:
    """The Kubernetes rows again, with a real kube-apiserver behind the fault-injecting front (tests.tiers)."""
    test_fault(world, row, caplog)
