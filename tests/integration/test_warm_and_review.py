"""Regressions found in review: a warm process must recover from expired tokens, rotated secrets and
earlier failures; one broken cluster must not stop the run; refreshInterval beats warm reuse."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest

from acr_refresh.config import load_config
from acr_refresh.emulator import Emulator
from acr_refresh.run import RunOptions, run
from tests.conftest import SP_CLIENT, SP_SECRET, TENANT, acr_generator, fast_services, write_config


@pytest.fixture
def clocked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[Emulator, list[float]]:
    now = [time.time()]
    em = Emulator(clock=lambda: now[0]).start()
    em.add_tenant(TENANT)
    em.add_service_principal(TENANT, SP_CLIENT, SP_SECRET)
    em.add_registry("myregistry.azurecr.io", tenant=TENANT)
    em.add_namespace("default")
    for key, value in em.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("KUBECONFIG", em.write_kubeconfig(tmp_path / "kubeconfig"))
    monkeypatch.setenv("SP_ID", SP_CLIENT)
    monkeypatch.setenv("SP_SECRET", SP_SECRET)
    yield em, now
    em.stop()


def test_warm_process_asks_its_credential_again_each_run(em: Emulator, tmp_path: Path) -> None:
    # Entra tokens are not kept by acr-refresh across runs: each run asks the credential, whose own cache
    # (azure-identity's, which knows the token's expiry) answers or fetches anew.
    config = load_config(write_config(tmp_path, acr_generator()))
    services = fast_services()
    assert run(config, services=services).ok
    assert run(config, RunOptions(force=True), services=services).ok
    assert services.identities.token_requests == 2
    assert em.counts["entra.token"] == 1  # the credential's cache answered the second time
    services.close()


def test_warm_process_picks_up_a_fixed_or_rotated_secret(em: Emulator, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_config(write_config(tmp_path, acr_generator()))
    services = fast_services()
    monkeypatch.delenv("SP_SECRET")
    assert not run(config, services=services).ok
    monkeypatch.setenv("SP_SECRET", SP_SECRET)
    assert run(config, services=services).ok  # the earlier failure was not remembered
    rotated = "rotated-secret-0123456789"
    em.add_service_principal(TENANT, SP_CLIENT, rotated)
    em.remove_client_secret(TENANT, SP_CLIENT, SP_SECRET)
    monkeypatch.setenv("SP_SECRET", rotated)
    assert run(config, RunOptions(force=True), services=services).ok  # a new credential for the new secret
    services.close()


def test_a_broken_aks_cluster_does_not_stop_other_generators(em: Emulator, tmp_path: Path) -> None:
    em.add_namespace("team-a")
    cluster = textwrap.dedent(f"""\
        apiVersion: acr-refresh/v1alpha1
        kind: Cluster
        metadata: {{name: broken}}
        spec:
          aks:
            server: https://127.0.0.1:1
            allowCustomServer: true
            certificateAuthorityData: {"Zm9v"}
            tenantId: {TENANT}
            auth:
              servicePrincipal:
                secretRef: {{clientId: {{env: SP_ID}}, clientSecret: {{env: WRONG_SECRET}}}}
        """)
    selector = ("apiVersion: acr-refresh/v1alpha1\nkind: KubernetesSecret\nmetadata: {name: far}\nspec:\n"
                "  generatorRef: {name: gen}\n  clusters: [broken]\n  namespaceSelector: {matchLabels: {a: b}}\n")
    near = ("apiVersion: acr-refresh/v1alpha1\nkind: KubernetesSecret\nmetadata: {name: near}\nspec:\n"
            "  generatorRef: {name: other}\n  namespaces: [team-a]\n")
    import os

    os.environ["WRONG_SECRET"] = "not-the-secret-123"
    try:
        config = load_config(write_config(tmp_path, acr_generator(), acr_generator("other"), cluster, selector, near))
        report = run(config, services=fast_services()).to_dict()
    finally:
        del os.environ["WRONG_SECRET"]
    by_name = {g["name"]: g for g in report["generators"]}
    assert by_name["other"]["targets"][0]["status"] == "written"
    assert by_name["gen"]["targets"][0]["status"] == "failed"
    assert "broken" in by_name["gen"]["targets"][0]["error"]


def test_refresh_interval_is_honoured_in_a_warm_process(clocked: tuple[Emulator, list[float]],
                                                        tmp_path: Path) -> None:
    from datetime import UTC, datetime

    em, now = clocked
    es = textwrap.dedent("""\
        apiVersion: external-secrets.io/v1
        kind: ExternalSecret
        metadata: {name: es}
        spec:
          refreshInterval: 20m
          dataFrom:
            - sourceRef:
                generatorRef: {apiVersion: generators.external-secrets.io/v1alpha1, kind: ACRAccessToken, name: gen}
        """)
    config = load_config(write_config(tmp_path, acr_generator(), es))
    services = fast_services(now=lambda: datetime.fromtimestamp(now[0], UTC))
    assert run(config, services=services).ok
    first = em.get_object("secrets", "default", "es")
    now[0] += 25 * 60
    report = run(config, services=services)
    services.close()
    second = em.get_object("secrets", "default", "es")
    assert report.generators[0].targets[0].status == "written"
    assert first is not None and second is not None
    assert second["data"]["password"] != first["data"]["password"]  # a new token, not the cached one
