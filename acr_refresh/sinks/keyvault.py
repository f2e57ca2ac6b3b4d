"""Azure Key Vault secrets through azure-keyvault-secrets: one client per vault per run.

The secret's ``expires`` attribute is the token's expiry and ``not before`` its issue time, so Key Vault
itself shows when the credential dies; tags record the generator, the registry and the inputs hash.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from .. import redact
from ..errors import DeliveryError, truncate
from ..freshness import Stored
from ..render import HASH_TAG


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc)
    first = " ".join(ln.strip() for ln in str(text).splitlines()[:2] if ln.strip())
    status = getattr(exc, "status_code", None)
    prefix = f"HTTP {status}: " if status else f"{type(exc).__name__}: "
    return truncate(redact.scrub(prefix + first), 240)


class VaultSink:
    """One vault. ``credential`` is an azure-identity credential; ``client_options`` go to SecretClient."""

    def __init__(self, vault_url: str, credential: Any, *, deadline: Callable[[], float | None] | None = None,
                 **client_options: Any) -> None:
        from azure.keyvault.secrets import SecretClient

        self.vault_url = vault_url
        self._deadline = deadline
        self._read_timeout = float(client_options.get("read_timeout", 60))
        self._client = SecretClient(vault_url, credential, **client_options)

    def _timeouts(self) -> dict[str, Any]:
        """Per-call read timeout, shortened to the run's deadline (plus a second) when one is set."""
        deadline = self._deadline() if self._deadline is not None else None
        if deadline is None:
            return {}
        return {"read_timeout": min(self._read_timeout, max(1.0, deadline - time.monotonic() + 1.0))}

    def read(self, name: str) -> Stored | None:
        """What the secret holds now (attributes and our hash tag), or None when it does not exist."""
        from azure.core.exceptions import AzureError, ResourceNotFoundError

        try:
            secret = self._client.get_secret(name, **self._timeouts())
        except ResourceNotFoundError:
            return None
        except AzureError as exc:
            raise DeliveryError(f"vault {self.vault_url}: cannot read secret {name}: {_reason(exc)}",
                                status=getattr(exc, "status_code", None)) from exc
        if secret.value:
            redact.register(secret.value)
        props = secret.properties
        return Stored(issued_at=props.not_before, expires_at=props.expires_on,
                      inputs_hash=(props.tags or {}).get(HASH_TAG, ""))

    def write(self, name: str, value: str, *, content_type: str, tags: dict[str, str],
              expires_on: datetime | None, not_before: datetime | None) -> None:
        """Write a new version (one request: readers see the old or the new version, never a mix)."""
        from azure.core.exceptions import AzureError

        try:
            self._client.set_secret(name, value, content_type=content_type or None, tags=tags,
                                    expires_on=expires_on, not_before=not_before, enabled=True,
                                    **self._timeouts())
        except AzureError as exc:
            raise DeliveryError(f"vault {self.vault_url}: cannot write secret {name}: {_reason(exc)}",
                                status=getattr(exc, "status_code", None)) from exc

    def close(self) -> None:
        self._client.close()
