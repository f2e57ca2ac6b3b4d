"""Cluster.spec.aks.server is where the AKS Entra token goes: only AKS API servers of the cloud, unless the
Cluster opts in to a custom server, which the plan then shows."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from acr_refresh.cli import main
from acr_refresh.config import Config, load_config
from acr_refresh.errors import ConfigError
from acr_refresh.plan import plan_dict, plan_text

TENANT = "11111111-2222-3333-4444-555555555555"


def cluster(server: str, *, extra: str = "", cloud: str = "") -> str:
    env = f"    environmentType: {cloud}\n" if cloud else ""
    return ("apiVersion: acr-refresh/v1alpha1\nkind: Cluster\nmetadata: {name: edge}\nspec:\n  aks:\n"
            f"    server: {server!r}\n    certificateAuthorityData: Zm9v\n    tenantId: {TENANT}\n{env}{extra}"
            "    auth: {managedIdentity: {}}\n")


def load(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "c.yaml"
    path.write_text(textwrap.dedent(text))
    return load_config(path, environ={})


@pytest.mark.parametrize(("server", "cloud"), [
    ("https://myaks-dns-1a2b3c4d.hcp.eastus.azmk8s.io:443", ""),
    ("https://myaks-dns-1a2b3c4d.hcp.eastus.azmk8s.io", "PublicCloud"),
    ("https://myaks-1a2b3c4d.5e6f7a8b-0000-4c1d-9e2f-aaaaaaaaaaaa.privatelink.westeurope.azmk8s.io/", ""),
    ("https://myaks.team-a.privatelink.westeurope.azmk8s.io", ""),  # a custom subzone
    ("https://gov-1a2b.hcp.usgovvirginia.cx.aks.containerservice.azure.us", "USGovernmentCloud"),
    ("https://gov-1a2b.privatelink.usgovvirginia.cx.aks.containerservice.azure.us", "USGovernmentCloud"),
    ("https://cn-1a2b.hcp.chinanorth3.cx.prod.service.azk8s.cn", "ChinaCloud"),
    ("https://cn-1a2b.privatelink.chinanorth3.cx.prod.service.azk8s.cn", "ChinaCloud"),
])
def test_aks_api_servers_of_each_cloud_are_accepted(tmp_path: Path, server: str, cloud: str) -> None:
    config = load(tmp_path, cluster(server, cloud=cloud))
    assert config.clusters[0].aks is not None and not config.clusters[0].aks.allow_custom_server


@pytest.mark.parametrize(("server", "why"), [
    ("https://evil.example.com", "under .azmk8s.io"),
    ("https://myaks.hcp.eastus.azmk8s.io.evil.example.com", "under .azmk8s.io"),
    ("https://azmk8s.io", "under .azmk8s.io"),
    ("https://eastus.azmk8s.io", "under .azmk8s.io"),
    ("https://myaks.hcp.eastus.azmk8s.io:6443", "port 443"),
    ("https://user:pw@myaks.hcp.eastus.azmk8s.io", "userinfo"),
    ("https://myaks.hcp.eastus.azmk8s.io/?x=1", "query"),
    ("https://myaks.hcp.eastus.azmk8s.io/#frag", "fragment"),
    ("https://myaks.hcp.eastus.azmk8s.io/api", "no path"),
    ("https://MyAKS.hcp.eastus.azmk8s.io", "lowercase"),
    ("https://myaks.hcp.eastus.azmk8s.io.", "DNS name"),
    ("https://20.30.40.50", "not an IP"),
    ("https://[2001:db8::1]", "not an IP"),
    ("http://myaks.hcp.eastus.azmk8s.io", "https://"),
    ("https://evil.example.com\\@myaks.hcp.eastus.azmk8s.io", "backslash"),
    ("https://myaks.hcp.usgovvirginia.cx.aks.containerservice.azure.us", "under .azmk8s.io"),  # the wrong cloud
])
def test_anything_else_is_refused_naming_file_document_and_field(tmp_path: Path, server: str, why: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, cluster(server))
    assert info.value.field == "spec.aks.server" and why in str(info.value)
    assert "c.yaml: document 1 (Cluster edge)" in str(info.value)
    assert "pw@" not in str(info.value)


def test_a_custom_server_needs_the_opt_in_and_the_plan_reports_it(tmp_path: Path) -> None:
    text = cluster("https://k8s.internal.example.com:6443", extra="    allowCustomServer: true\n")
    config = load(tmp_path, text)
    assert config.clusters[0].aks is not None and config.clusters[0].aks.allow_custom_server
    (entry,) = plan_dict(config)["clusters"]
    assert entry["allowCustomServer"] is True and entry["server"] == "https://k8s.internal.example.com:6443"
    assert "custom AKS server https://k8s.internal.example.com:6443" in plan_text(config)
    for bad in ("https://u@k8s.internal.example.com", "https://k8s.internal.example.com/?q", "http://k8s.example"):
        with pytest.raises(ConfigError):
            load(tmp_path, cluster(bad, extra="    allowCustomServer: true\n"))
    with pytest.raises(ConfigError, match="allowCustomServer: must be a boolean"):
        load(tmp_path, cluster("https://k8s.internal.example.com", extra="    allowCustomServer: 'yes'\n"))


def test_validate_exits_2_for_a_server_outside_the_aks_domains(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(cluster("https://evil.example.com"))
    assert main(["validate", "--config", str(path)], environ={}) == 2
    assert "spec.aks.server" in capsys.readouterr().err
