"""Shared fixtures: an isolated environment for every test, and the local emulator of the Azure services.

Every test runs with proxy, CA, Azure and Kubernetes variables stripped (httpx's habit), so nothing on the
developer's machine leaks in. Tests that need the services take ``em`` (a started emulator, its settings
applied) and build configs with the helpers below; the code under test runs exactly as in production.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from acr_refresh.acr import RetryPolicy
from acr_refresh.emulator import Emulator
from acr_refresh.run import Services
from tests.kubeserver import ApiServer, BuildError
from tests.tiers import RealTierEmulator, bootstrap_job_rbac

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
SP_CLIENT = "0f6c2e54-1b5f-4c4e-9a53-aaaaaaaaaaaa"
SP_SECRET = "sp-secret-Q8~xYz.0123456789abcdef"
MI_CLIENT = "7c1b8f0e-2d3a-4b5c-8d9e-bbbbbbbbbbbb"
MI_RESOURCE = ("/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/"
               "Microsoft.ManagedIdentity/userAssignedIdentities/puller")
WI_CLIENT = "3d2c1b0a-9f8e-4d7c-6b5a-cccccccccccc"
REGISTRY = "myregistry.azurecr.io"

_STRIP_PREFIXES = ("AZURE_", "ACR_REFRESH_", "KUBERNETES_", "MSI_", "IDENTITY_")
_STRIP = {"HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE",
          "SSL_CERT_DIR", "CURL_CA_BUNDLE", "KUBECONFIG", "IDENTITY_ENDPOINT", "IDENTITY_HEADER"}


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    for name in list(os.environ):
        if name.upper() in _STRIP or name.upper().startswith(_STRIP_PREFIXES):
            monkeypatch.delenv(name, raising=False)
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))  # no ~/.kube/config or ~/.azure from the developer
    monkeypatch.setenv("KUBECONFIG", str(home / "no-kubeconfig"))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests marked ``kube`` that take ``em`` run on both tiers, unless marked ``emulator_only(reason)``."""
    if "em" in metafunc.fixturenames and metafunc.definition.get_closest_marker("kube") is not None:
        tiers = (["emulator"] if metafunc.definition.get_closest_marker("emulator_only")
                 else ["real"] if metafunc.definition.get_closest_marker("real_only") else ["emulator", "real"])
        metafunc.parametrize("tier", tiers, indirect=True)


@pytest.fixture
def tier(request: pytest.FixtureRequest) -> str:
    """``emulator`` or ``real``: which Kubernetes API server stands behind ``em``'s kube port."""
    return str(getattr(request, "param", "emulator"))


@pytest.fixture(scope="session")
def api_server() -> Iterator[ApiServer]:
    """One real kube-apiserver (and etcd) for the whole session; built on first use (minutes, once)."""
    try:
        server = ApiServer()
        server.start()
    except BuildError as exc:
        pytest.fail(f"the real Kubernetes API server tier cannot run here: {exc}", pytrace=False)
    try:
        bootstrap_job_rbac(server)
        yield server
    finally:
        server.stop()


def new_emulator(request: pytest.FixtureRequest, tier: str) -> Emulator:
    """An unstarted emulator of ``tier`` (the real tier resets the shared API server when the test ends)."""
    if tier != "real":
        return Emulator()
    server: ApiServer = request.getfixturevalue("api_server")
    request.addfinalizer(lambda: (server.reset(), bootstrap_job_rbac(server)))
    return RealTierEmulator(server)


@pytest.fixture
def em(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, request: pytest.FixtureRequest, tier: str
       ) -> Iterator[Emulator]:
    """A started emulator with one tenant, a service principal, the registry, and its settings applied.
    In tests marked ``kube`` it runs once per tier (see :mod:`tests.tiers`)."""
    with new_emulator(request, tier) as emulator:
        emulator.add_tenant(TENANT)
        emulator.add_service_principal(TENANT, SP_CLIENT, SP_SECRET)
        emulator.add_registry(REGISTRY, tenant=TENANT)
        emulator.add_namespace("default")
        for key, value in emulator.env().items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("KUBECONFIG", emulator.write_kubeconfig(tmp_path / "kubeconfig"))
        monkeypatch.setenv("SP_ID", SP_CLIENT)
        monkeypatch.setenv("SP_SECRET", SP_SECRET)
        yield emulator


def fast_services(**kwargs: object) -> Services:
    """Services with short retry waits, so fault tests run in milliseconds. Same code paths as production."""
    options = {
        "retry": RetryPolicy(attempts=3, backoff=0.01, max_delay=0.05, connect_timeout=2, read_timeout=2),
        "credential_options": {"retry_total": 2, "retry_backoff_factor": 0.01, "retry_backoff_max": 0.05},
        "vault_options": {"retry_total": 2, "retry_backoff_factor": 0.01, "retry_backoff_max": 0.05},
    }
    options.update(kwargs)
    return Services(**options)  # type: ignore[arg-type]


def acr_generator(name: str = "gen", *, registry: str = REGISTRY, auth: str | None = None, scope: str = "",
                  namespace: str = "default", tenant: str | None = TENANT, extra_spec: str = "",
                  annotations: str = "") -> str:
    """An ESO ACRAccessToken document (a service principal reading env vars by default)."""
    auth = auth or "servicePrincipal:\n  secretRef:\n    clientId: {env: SP_ID}\n    clientSecret: {env: SP_SECRET}\n"
    lines = [
        "apiVersion: generators.external-secrets.io/v1alpha1",
        "kind: ACRAccessToken",
        "metadata:",
        f"  name: {name}",
        f"  namespace: {namespace}",
    ]
    if annotations:
        lines.append("  annotations:")
        lines.append(textwrap.indent(annotations.strip(), "    "))
    lines.append("spec:")
    lines.append(f"  registry: {registry}")
    if tenant:
        lines.append(f"  tenantId: {tenant}")
    if scope:
        lines.append(f"  scope: {scope}")
    if extra_spec:
        lines.append(textwrap.indent(extra_spec.strip(), "  "))
    lines.append("  auth:")
    lines.append(textwrap.indent(auth.strip(), "    "))
    return "\n".join(lines) + "\n"


def write_config(tmp_path: Path, *docs: str, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text("---\n".join(textwrap.dedent(d) for d in docs))
    return path
