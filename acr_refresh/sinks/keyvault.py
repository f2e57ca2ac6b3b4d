"""Azure Key Vault secrets through azure-keyvault-secrets: one client per vault per run.

The secret's ``expires`` attribute is the token's expiry and ``not before`` its issue time, so Key Vault
itself shows when the credential dies; tags record the generator, the registry and the inputs hash.

Freshness is decided from properties alone: one ``list_properties_of_secrets`` per vault per run serves every
target in it, and no secret value is ever read. So the job needs only ``setSecret`` and ``readMetadata``
(no ``getSecret``), and nothing read back is mistaken for secret material (a stored login server is not
redacted from later log lines). A vault holding many unrelated secrets costs one request per 25 of them.

Tags belong to a version, so a current version without our inputs-hash tag was not written by acr-refresh
(someone set a new version by hand, or it was never ours): it has *drifted*, and the next run writes a new
version (reason ``drifted``), whatever its expiry. A hand-made version that copies our tags is not told apart.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from .. import telemetry
from ..errors import DeliveryError, truncate
from ..freshness import Stored
from ..memo import OnceMap
from ..render import HASH_TAG


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc)
    first = " ".join(ln.strip() for ln in str(text).splitlines()[:2] if ln.strip())
    status = getattr(exc, "status_code", None)
    prefix = f"HTTP {status}: " if status else f"{type(exc).__name__}: "
    return truncate(prefix + first, 240)  # scrubbed, then cut


class VaultSink:
    """One vault. ``credential`` is an azure-identity credential; ``client_options`` go to SecretClient."""

    def __init__(self, vault_url: str, credential: Any, *, deadline: Callable[[], float | None] | None = None,
                 **client_options: Any) -> None:
        from azure.keyvault.secrets import SecretClient

        self.vault_url = vault_url
        self._deadline = deadline
        self._read_timeout = float(client_options.get("read_timeout", 60))
        self._client = SecretClient(vault_url, credential, **client_options,
                                    **telemetry.AzureHooks("keyvault").options())
        self._listing: OnceMap[int, dict[str, Stored | None]] = OnceMap()
        self._generation = 0
        self._lock = threading.Lock()
        self.list_calls = 0
        """How many listings this client made (one per run that reads it)."""

    def forget(self) -> None:
        """Start a new run: the next :meth:`read` lists the vault again."""
        with self._lock:
            self._generation += 1

    def _timeouts(self) -> dict[str, Any]:
        """Per-call read timeout, shortened to the run's deadline (plus a second) when one is set."""
        deadline = self._deadline() if self._deadline is not None else None
        if deadline is None:
            return {}
        return {"read_timeout": min(self._read_timeout, max(1.0, deadline - time.monotonic() + 1.0))}

    def read(self, name: str) -> Stored | None:
        """What the secret holds now (properties and our hash tag), or None when it does not exist or its latest
        version is disabled. The first call of a run lists the vault; the others answer from that listing."""
        with self._lock:
            generation = self._generation
        return self._listing.get(generation, self._list).get(name.lower())

    def _list(self) -> dict[str, Stored | None]:
        from azure.core.exceptions import AzureError

        with self._lock:  # earlier runs' listings are not needed again
            for old in range(self._generation):
                self._listing.discard(old)
            self.list_calls += 1
        found: dict[str, Stored | None] = {}
        try:
            for props in self._client.list_properties_of_secrets(**self._timeouts()):
                if not props.name:
                    continue
                # A disabled latest version cannot be read by consumers: it counts as missing (rewritten).
                tags = props.tags or {}
                found[props.name.lower()] = (None if props.enabled is False else Stored(
                    issued_at=props.not_before, expires_at=props.expires_on,
                    inputs_hash=tags.get(HASH_TAG, ""), drifted=HASH_TAG not in tags))
        except AzureError as exc:
            raise DeliveryError(f"vault {self.vault_url}: cannot list secrets' properties: {_reason(exc)}",
                                status=getattr(exc, "status_code", None)) from exc
        return found

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
