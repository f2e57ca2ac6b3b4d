"""The emulated Key Vault's list of secrets' properties, through the real SecretClient: paging as Key Vault
pages (25 at most, a skip token in nextLink), properties without values, RBAC's readMetadata action."""

from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError
from azure.identity import ClientSecretCredential
from azure.keyvault.secrets import SecretClient

from acr_refresh.emulator import Emulator
from tests.emulator.conftest import CLIENT, SECRET, TENANT

VAULT = "listvault.vault.azure.net"


def client() -> SecretClient:
    return SecretClient(f"https://{VAULT}/", ClientSecretCredential(TENANT, CLIENT, SECRET),
                        retry_total=0)


def test_list_pages_like_key_vault_and_never_returns_a_value(em: Emulator) -> None:
    em.add_vault(VAULT, tenant=TENANT)
    for i in range(60):
        em.set_vault_secret(VAULT, f"S{i:02d}", f"value-{i:02d}-not-listed", tags={"n": str(i)}, exp=2_000_000_000)
    em.set_vault_secret(VAULT, "S00", "second version", tags={"n": "new"})
    em.set_vault_secret(VAULT, "off", "disabled one", enabled=False)
    em.soft_delete_vault_secret(VAULT, "S59")
    listed = list(client().list_properties_of_secrets())
    names = [p.name for p in listed]
    assert names == sorted(names, key=str.lower) and len(names) == 60  # 59 live + "off"; S59 is deleted
    assert "S59" not in names and "off" in names
    first = next(p for p in listed if p.name == "S00")
    assert first.tags == {"n": "new"} and first.expires_on is None and first.version is None
    assert next(p for p in listed if p.name == "S01").expires_on.timestamp() == 2_000_000_000
    assert next(p for p in listed if p.name == "off").enabled is False
    pages = [r for r in em.requests if r.endpoint == "kv.secret.list" and "authorization" in r.headers]
    assert len(pages) == 3  # 25 + 25 + 10 (a challenge may come first, once per host and process)
    assert "$skiptoken" not in pages[0].query and pages[1].query["maxresults"] == "25"
    em.reset_counts()
    small = list(client().list_properties_of_secrets(max_page_size=7))
    assert [p.name for p in small] == names
    assert em.counts["kv.secret.list"] == 9  # ceil(60 / 7) pages


def test_list_needs_read_metadata_and_checks_its_page_size(em: Emulator) -> None:
    vault = em.add_vault(VAULT, tenant=TENANT)
    em.set_vault_secret(VAULT, "one", "value-of-one")
    with pytest.raises(HttpResponseError) as info:
        list(client().list_properties_of_secrets(max_page_size=26))
    assert info.value.status_code == 400
    vault.denied_actions[CLIENT] = {"readMetadata"}
    with pytest.raises(HttpResponseError) as info:
        list(client().list_properties_of_secrets())
    assert info.value.status_code == 403 and "secrets/readMetadata/action" in str(info.value)
    vault.denied_actions[CLIENT] = {"getSecret"}  # may list and set, not read values
    assert [p.name for p in client().list_properties_of_secrets()] == ["one"]
    with pytest.raises(HttpResponseError) as info:
        client().get_secret("one")
    assert info.value.status_code == 403
