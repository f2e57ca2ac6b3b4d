"""Rendered output is bounded: per Secret (Kubernetes' 1 MiB), per Key Vault value (25 KiB), per run."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from acr_refresh.clouds import PUBLIC
from acr_refresh.config import Generator, KeyVaultTarget, KubernetesTarget, ManagedIdentity, SecretTemplate
from acr_refresh.render import (
    MAX_SECRET_DATA,
    RenderBudget,
    RenderError,
    render_secret,
    render_vault_value,
)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
GEN = Generator("default", "gen", "myregistry.azurecr.io", ManagedIdentity(), PUBLIC)
OUTPUTS = {"username": "00000000-0000-0000-0000-000000000000", "password": "token-value-xyz-0123456789",
           "registry": "myregistry.azurecr.io", "tokenType": "refresh", "expiresAt": "2026-12-01T15:00:00Z"}
# 10 x 10 lines of 5,000 characters: 500,000 characters per key.
HALF_MB = ('{{ range $a := list 1 2 3 4 5 6 7 8 9 10 }}{{ range $b := list 1 2 3 4 5 6 7 8 9 10 }}'
           '{{ printf "%5000s" $.username }}{{ end }}{{ end }}')


def target(*data: tuple[str, str]) -> KubernetesTarget:
    return KubernetesTarget("KubernetesSecret", "default", "big", GEN.key, "big", SecretTemplate(data=tuple(data)))


def test_a_secret_within_the_limit_renders() -> None:
    desired = render_secret(target(("a", HALF_MB), ("b", HALF_MB)), GEN, "team-a", OUTPUTS, NOW, NOW)
    assert sum(len(v) for v in desired.data.values()) == 1_000_000 < MAX_SECRET_DATA


def test_a_secret_is_refused_as_soon_as_its_data_passes_1_mib_naming_the_key() -> None:
    # k3 would fail if it were rendered at all: the bound stops the Secret at k2, before it.
    keys = [("k0", HALF_MB), ("k1", HALF_MB), ("k2", HALF_MB), ("k3", "{{ .notAKey }}"),
            *((f"k{i}", HALF_MB) for i in range(4, 100))]
    with pytest.raises(RenderError, match=r"data\.k2: refused: the Secret's data would exceed 1024 KiB"):
        render_secret(target(*keys), GEN, "team-a", OUTPUTS, NOW, NOW)


def test_the_runs_budget_is_shared_and_refuses_once_spent() -> None:
    budget = RenderBudget(total=1_500_000)
    render_secret(target(("a", HALF_MB), ("b", HALF_MB)), GEN, "team-a", OUTPUTS, NOW, NOW, budget)
    with pytest.raises(RenderError, match="more than its budget of 1 MiB"):
        render_secret(target(("a", HALF_MB), ("b", HALF_MB)), GEN, "team-b", OUTPUTS, NOW, NOW, budget)


def test_a_key_vault_value_over_25_kib_is_refused() -> None:
    vt = KeyVaultTarget("default", "kv", GEN.key, "https://v.vault.azure.net/", "pw",
                        value='{{ printf "%10000s" .username }}{{ printf "%10000s" .username }}'
                              '{{ printf "%10000s" .username }}')
    with pytest.raises(RenderError, match="larger than 25 KiB"):
        render_vault_value(vt, OUTPUTS)
    assert render_vault_value(KeyVaultTarget("default", "kv", GEN.key, "https://v.vault.azure.net/", "pw"),
                              OUTPUTS) == OUTPUTS["password"]
