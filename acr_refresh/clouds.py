"""Azure clouds: authority hosts, audiences and DNS suffixes, as ESO's ``environmentType`` names them.

AzureStackCloud has no fixed endpoints: they come from the JSON file named by ``AZURE_ENVIRONMENT_FILEPATH``,
the convention of the Azure SDKs for Go (go-autorest's ``Environment`` JSON: ``activeDirectoryEndpoint``,
``resourceManagerEndpoint``, ``containerRegistryDNSSuffix``, ``keyVaultDNSSuffix``, ``tokenAudience``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from urllib.parse import urlsplit

# The registry's own Entra ID audience. Tokens for it keep working when a registry has
# authentication-as-arm disabled, which Microsoft recommends; the same resource serves every cloud.
ACR_RESOURCE = "https://containerregistry.azure.net"
# The Entra ID application that fronts AKS clusters with Entra ID integration (used by Cluster.aks).
AKS_SERVER_APP = "6dae42f8-4368-4678-94ff-3960e28e3630"


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
)
US_GOVERNMENT = Cloud(
    name="USGovernmentCloud",
    authority_host="login.microsoftonline.us",
    arm_resource="https://management.usgovcloudapi.net/",
    registry_suffix="azurecr.us",
    vault_suffix="vault.usgovcloudapi.net",
    token_exchange_audience="api://AzureADTokenExchangeUSGov",
)
CHINA = Cloud(
    name="ChinaCloud",
    authority_host="login.chinacloudapi.cn",
    arm_resource="https://management.chinacloudapi.cn/",
    registry_suffix="azurecr.cn",
    vault_suffix="vault.azure.cn",
    token_exchange_audience="api://AzureADTokenExchangeChina",
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
