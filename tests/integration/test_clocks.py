"""Honest clocks: a token's life is anchored to the job's clock when it is received, so servers whose clocks
are ahead or behind (or that claim a century-long lifetime) cannot make the job believe a token lives longer
or shorter than it does. The report, the Secret's annotation and Key Vault's ``expires`` show that time."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from acr_refresh.config import load_config
from acr_refresh.emulator import Emulator
from acr_refresh.render import EXPIRES_ANNOTATION
from acr_refresh.run import RunOptions, run
from tests.conftest import REGISTRY, SP_CLIENT, SP_SECRET, TENANT, acr_generator, fast_services, write_config

VAULT = "clockvault.vault.azure.net"
KV = ("apiVersion: acr-refresh/v1alpha1\nkind: KeyVaultSecret\nmetadata: {name: kv}\nspec:\n"
      f"  generatorRef: {{name: gen}}\n  vaultUrl: https://{VAULT}/\n  tenantId: {TENANT}\n  secretName: pw\n"
      "  auth:\n    servicePrincipal:\n      secretRef: {clientId: {env: SP_ID}, clientSecret: {env: SP_SECRET}}\n")
PULL = ("apiVersion: acr-refresh/v1alpha1\nkind: KubernetesSecret\nmetadata: {name: pull}\nspec:\n"
        "  generatorRef: {name: gen}\n  namespaces: [default]\n")


def _emulator(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **kwargs: object) -> Iterator[Emulator]:
    with Emulator(**kwargs) as em:  # type: ignore[arg-type]
        em.add_tenant(TENANT)
        em.add_service_principal(TENANT, SP_CLIENT, SP_SECRET)
        em.add_registry(REGISTRY, tenant=TENANT)
        em.add_namespace("default")
        em.add_vault(VAULT, tenant=TENANT)
        for key, value in em.env().items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("KUBECONFIG", em.write_kubeconfig(tmp_path / "kubeconfig"))
        monkeypatch.setenv("SP_ID", SP_CLIENT)
        monkeypatch.setenv("SP_SECRET", SP_SECRET)
        yield em


@pytest.fixture
def servers_ahead(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Emulator]:
    """Every service's clock runs 45 minutes ahead of the job's (the wall clock)."""
    yield from _emulator(monkeypatch, tmp_path, clock=lambda: time.time() + 45 * 60)


@pytest.fixture
def century(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Emulator]:
    """A registry that issues refresh tokens valid for a hundred years."""
    yield from _emulator(monkeypatch, tmp_path, acr_refresh_lifetime=100 * 365 * 86400)


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_expiry_is_counted_from_receipt_on_the_jobs_clock_everywhere_it_is_shown(
        servers_ahead: Emulator, tmp_path: Path) -> None:
    em = servers_ahead
    config = load_config(write_config(tmp_path, acr_generator(), PULL, KV))
    before = datetime.now(UTC)
    report = run(config, services=fast_services()).to_dict()
    after = datetime.now(UTC)
    assert report["ok"], report
    expires = _parse(report["generators"][0]["expiresAt"])
    # The registry's token says exp = its clock + 3 h, 45 minutes later than the job's clock + 3 h.
    assert before + timedelta(hours=3) - timedelta(seconds=2) <= expires <= after + timedelta(hours=3)
    secret = em.get_object("secrets", "default", "pull")
    assert secret is not None and _parse(secret["metadata"]["annotations"][EXPIRES_ANNOTATION]) == expires
    stored = em.vault_secret(VAULT, "pw")
    assert stored is not None and stored["attributes"]["exp"] == int(expires.timestamp())
    assert all(t["expiresAt"] == report["generators"][0]["expiresAt"] for t in report["generators"][0]["targets"])
    skew = [w for w in report["warnings"] if "clock" in w]
    assert skew and "45 min ahead" in skew[0] and REGISTRY in skew[0]


def test_a_century_long_lifetime_counts_as_24_hours_with_a_warning(century: Emulator, tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, acr_generator(), PULL))
    report = run(config, services=fast_services()).to_dict()
    assert report["ok"], report
    expires = _parse(report["generators"][0]["expiresAt"])
    assert expires - datetime.now(UTC) <= timedelta(hours=24)
    assert any("treated as 1440 min" in w for w in report["warnings"])
    # Half of 24 h later the target is stale: a hundred-year exp does not keep it fresh forever.
    later = fast_services(now=lambda: datetime.now(UTC) + timedelta(hours=12, minutes=1))
    report = run(config, RunOptions(), services=later).to_dict()
    assert report["generators"][0]["targets"][0]["status"] == "written"
