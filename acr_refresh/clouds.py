"""Azure clouds: authority hosts, audiences and DNS suffixes, as ESO's ``environmentType`` names them.

AzureStackCloud has no fixed endpoints: they come from the JSON file named by ``AZURE_ENVIRONMENT_FILEPATH``,
the convention of the Azure SDKs for Go (go-autorest's ``Environment`` JSON: ``activeDirectoryEndpoint``,
``resourceManagerEndpoint``, ``containerRegistryDNSSuffix``, ``keyVaultDNSSuffix``, ``tokenAudience``).
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

# The registry's own Entra ID audience. Tokens for it keep working when a registry has
# authentication-as-arm disabled, which Microsoft recommends; the same resource serves every cloud.
ACR_RESOURCE = "https://containerregistry.azure.net"
# The Entra ID application that fronts AKS clusters with Entra ID integration (used by Cluster.aks).
AKS_SERVER_APP = "6dae42f8-4368-4678-94ff-3960e28e3630"

# Where AKS API servers live, per cloud: the Entra token for AKS_SERVER_APP opens every Entra-integrated cluster
# the identity can reach, so Cluster.spec.aks.server must be under one of these (or opt in to a custom name).
# Public API servers are <prefix>-<hash>.hcp.<region>.<suffix>; private clusters use the private DNS zone
# privatelink.<region>.<suffix> (or <subzone>.privatelink.<region>.<suffix>), per cloud:
#   Azure public: azmk8s.io; Azure Government: cx.aks.containerservice.azure.us;
#   Azure operated by 21Vianet (China): cx.prod.service.azk8s.cn.
# Sources: https://learn.microsoft.com/en-us/azure/aks/private-clusters ("Configure a private DNS zone": the
# zone formats for the global cloud, Azure Government and 21Vianet) and
# https://learn.microsoft.com/en-us/azure/private-link/private-endpoint-dns (Azure Kubernetes Service -
# Kubernetes API: privatelink.{regionName}.azmk8s.io, privatelink.{regionName}.cx.aks.containerservice.azure.us,
# privatelink.{regionName}.cx.prod.service.azk8s.cn).
AKS_SUFFIXES = {
    "PublicCloud": "azmk8s.io",
    "USGovernmentCloud": "cx.aks.containerservice.azure.us",
    "ChinaCloud": "cx.prod.service.azk8s.cn",
}
_DNS_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


@dataclass(frozen=True)
class Cloud:
    """One Azure environment."""

    name: str
    """The ESO ``environmentType`` value."""
    authority_host: str
    """Entra ID authority host, e.g. ``login.microsoftonline.com`` (no scheme)."""
    arm_resource: str
    """Resource Manager audience, e.g. ``https://management.azure.com/``."""
    registry_suffix: str
    """Login-server DNS suffix, e.g. ``azurecr.io``."""
    vault_suffix: str
    """Key Vault DNS suffix, e.g. ``vault.azure.net``."""
    token_exchange_audience: str
    """Audience of federated (workload identity) tokens, e.g. ``api://AzureADTokenExchange``."""
    authority_path: str = ""
    """Extra path of the authority (``adfs`` on Azure Stack Hub with AD FS); empty for Entra ID."""
    aks_suffix: str = ""
    """DNS suffix of AKS API servers, e.g. ``azmk8s.io``; empty where AKS has none (Azure Stack Hub)."""

    @property
    def acr_scope(self) -> str:
        """The Entra ID scope for the registry's own audience."""
        return ACR_RESOURCE + "/.default"

    @property
    def arm_scope(self) -> str:
        """The Entra ID scope for the Resource Manager audience (what ESO uses)."""
        return self.arm_resource.rstrip("/") + "/.default"


PUBLIC = Cloud(
    name="PublicCloud",
    authority_host="login.microsoftonline.com",
    arm_resource="https://management.azure.com/",
    registry_suffix="azurecr.io",
    vault_suffix="vault.azure.net",
    token_exchange_audience="api://AzureADTokenExchange",
    aks_suffix=AKS_SUFFIXES["PublicCloud"],
)
US_GOVERNMENT = Cloud(
    name="USGovernmentCloud",
    authority_host="login.microsoftonline.us",
    arm_resource="https://management.usgovcloudapi.net/",
    registry_suffix="azurecr.us",
    vault_suffix="vault.usgovcloudapi.net",
    token_exchange_audience="api://AzureADTokenExchangeUSGov",
    aks_suffix=AKS_SUFFIXES["USGovernmentCloud"],
)
CHINA = Cloud(
    name="ChinaCloud",
    authority_host="login.chinacloudapi.cn",
    arm_resource="https://management.chinacloudapi.cn/",
    registry_suffix="azurecr.cn",
    vault_suffix="vault.azure.cn",
    token_exchange_audience="api://AzureADTokenExchangeChina",
    aks_suffix=AKS_SUFFIXES["ChinaCloud"],
)

FIXED_CLOUDS = {c.name: c for c in (PUBLIC, US_GOVERNMENT, CHINA)}
AZURE_STACK = "AzureStackCloud"
GERMAN = "GermanCloud"
ENVIRONMENT_TYPES = (*FIXED_CLOUDS, AZURE_STACK)


class CloudError(ValueError):
    """An unknown, retired or unreadable cloud definition. The message says what to do."""


def cloud_for(environment_type: str | None, *, environ: dict[str, str] | None = None) -> Cloud:
    """Return the :class:`Cloud` for an ESO ``environmentType`` (default ``PublicCloud``).

    ``AzureStackCloud`` reads ``AZURE_ENVIRONMENT_FILEPATH`` from ``environ`` (default ``os.environ``).
    Raises :class:`CloudError` for GermanCloud, unknown names and unreadable Azure Stack files.
    """
    name = environment_type or "PublicCloud"
    if name in FIXED_CLOUDS:
        return FIXED_CLOUDS[name]
    if name == GERMAN:
        raise CloudError(
            "GermanCloud (Microsoft Cloud Deutschland) closed in October 2021; "
            "its registries now live in PublicCloud regions: use environmentType PublicCloud"
        )
    if name == AZURE_STACK:
        env = os.environ if environ is None else environ
        path = env.get("AZURE_ENVIRONMENT_FILEPATH", "")
        if not path:
            raise CloudError(
                "AzureStackCloud needs AZURE_ENVIRONMENT_FILEPATH naming a JSON file with "
                "activeDirectoryEndpoint, resourceManagerEndpoint and containerRegistryDNSSuffix"
            )
        return load_azure_stack(path)
    raise CloudError(f"unknown environmentType {name!r}; expected one of {', '.join(ENVIRONMENT_TYPES)}")


def load_azure_stack(path: str) -> Cloud:
    """Read an Azure Stack environment file (go-autorest JSON) into a :class:`Cloud`."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError) as exc:
        raise CloudError(f"cannot read AZURE_ENVIRONMENT_FILEPATH {path!r}: {exc}") from exc
    if not isinstance(data, dict):
        raise CloudError(f"AZURE_ENVIRONMENT_FILEPATH {path!r}: expected a JSON object")

    def need(key: str) -> str:
        value = data.get(key)
        if not isinstance(value, str) or not value.strip():
            raise CloudError(f"AZURE_ENVIRONMENT_FILEPATH {path!r}: missing or empty {key!r}")
        return value.strip()

    ad = urlsplit(need("activeDirectoryEndpoint"))
    if ad.scheme != "https" or not ad.hostname:
        raise CloudError(f"AZURE_ENVIRONMENT_FILEPATH {path!r}: activeDirectoryEndpoint must be an https URL")
    arm = need("resourceManagerEndpoint")
    audience = data.get("tokenAudience") if isinstance(data.get("tokenAudience"), str) else None
    suffix = need("containerRegistryDNSSuffix").lstrip(".").lower()
    vault = data.get("keyVaultDNSSuffix")
    return Cloud(
        name=AZURE_STACK,
        authority_host=ad.hostname + (f":{ad.port}" if ad.port else ""),
        authority_path=ad.path.strip("/"),
        arm_resource=(audience or arm).rstrip("/") + "/",
        registry_suffix=suffix,
        vault_suffix=(vault.lstrip(".").lower() if isinstance(vault, str) and vault else ""),
        token_exchange_audience="api://AzureADTokenExchange",
    )


def aks_server_problem(url: str, cloud: Cloud, *, allow_custom: bool = False) -> str | None:
    """Why ``url`` is not an AKS API server URL of ``cloud``, or None when it is.

    Accepted: ``https://<host>[:443][/]`` with ``<host>`` a lowercase DNS name of at least two labels under
    the cloud's AKS suffix (``<name>.hcp.<region>.azmk8s.io``, ``<name>.privatelink.<region>.azmk8s.io``, ...).
    ``allow_custom`` (``spec.aks.allowCustomServer``) accepts any https host, port and path instead (a custom
    DNS name, an IP, a proxy in front of the API server). Userinfo, queries, fragments and whitespace are
    refused either way.
    """
    if any(c.isspace() or not c.isprintable() for c in url):
        return "must not contain whitespace or control characters"
    if "\\" in url:  # parsers disagree on it: one's path is another's host
        return "must not contain a backslash"
    if not url.startswith("https://"):
        return "must be an https:// URL"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"is not a valid URL ({exc})"
    if "@" in parts.netloc:
        return "must not contain userinfo ('@')"
    if parts.query or url.endswith("?"):
        return "must not contain a query"
    if parts.fragment or "#" in url:
        return "must not contain a fragment"
    host = parts.hostname or ""
    if not host:
        return "must name a host"
    if allow_custom:
        return None
    custom = "; for a custom DNS name set spec.aks.allowCustomServer: true"
    if port not in (None, 443):
        return "must use port 443 (AKS API servers listen there)" + custom
    if parts.path not in ("", "/"):
        return "must have no path" + custom
    netloc_host = parts.netloc.rsplit(":", 1)[0] if port is not None else parts.netloc
    if not netloc_host.isascii() or netloc_host != netloc_host.lower():
        return "host must be lowercase ASCII (look-alike characters are refused)" + custom
    try:
        ipaddress.ip_address(host.strip("[]"))
        return "must be a DNS name, not an IP address" + custom
    except ValueError:
        pass
    if host.endswith(".") or len(host) > 253 or not all(_DNS_LABEL.fullmatch(label) for label in host.split(".")):
        return "host is not a valid DNS name" + custom
    if not cloud.aks_suffix:
        return f"environmentType {cloud.name} has no known AKS domain" + custom
    suffix = "." + cloud.aks_suffix
    if not host.endswith(suffix) or len(host[: -len(suffix)].split(".")) < 2:
        return (f"host must be an AKS API server under {suffix} for environmentType {cloud.name} "
                f"(<name>.hcp.<region>{suffix} or <name>.privatelink.<region>{suffix})" + custom)
    return None
