"""The error tree of acr-refresh.

::

    AcrRefreshError
    ├── ConfigError          invalid configuration: names the file, the document and the field
    ├── UsageError           a bad command-line or request argument (unknown generator, bad flag value)
    ├── DeliveryError        one target could not be read or written; one line, never a secret
    └── MintError            a generator could not be minted; one line, never a secret
        ├── IdentityError    Entra ID / managed identity / workload identity refused or failed
        ├── SourceError      a secretRef or ServiceAccount could not be read from Kubernetes
        └── RegistryError    the registry's /oauth2/exchange or /oauth2/token failed

Transport errors are chained with ``raise ... from exc``. Messages built from a server's answer are
truncated (see :func:`truncate`) and never include request bodies, so no token reaches a log.
"""

from __future__ import annotations

from dataclasses import dataclass

from .redact import clip

MAX_SERVER_TEXT = 200


def truncate(text: str, limit: int = MAX_SERVER_TEXT) -> str:
    """Scrub secrets, then collapse whitespace and cut ``text`` to ``limit`` characters (server-supplied
    error text). Scrubbing comes first: a cut could split a secret and leave a piece no rule recognises."""
    return clip(text, limit)


class AcrRefreshError(Exception):
    """Base class of every error this package raises on purpose."""


@dataclass(frozen=True)
class Location:
    """Where a configuration object came from: file, 1-based document index, kind and name."""

    file: str
    document: int
    kind: str = ""
    namespace: str = ""
    name: str = ""

    def __str__(self) -> str:
        what = ""
        if self.kind:
            ref = f"{self.namespace}/{self.name}" if self.namespace else self.name
            what = f" ({self.kind} {ref})" if ref else f" ({self.kind})"
        return f"{self.file}: document {self.document}{what}"


class ConfigError(AcrRefreshError):
    """Invalid configuration. ``str()`` reads ``<file>: document <n> (<kind> <ns>/<name>): <field>: <why>``."""

    def __init__(self, message: str, *, location: Location | None = None, field: str | None = None) -> None:
        self.location = location
        self.field = field
        self.reason = message
        parts = [str(location)] if location else []
        if field:
            parts.append(field)
        parts.append(message)
        super().__init__(": ".join(parts))


class UsageError(AcrRefreshError):
    """A bad argument from the command line or an HTTP request body."""


class DeliveryError(AcrRefreshError):
    """A target (Kubernetes Secret, ServiceAccount, Key Vault secret) could not be read or written."""

    def __init__(self, message: str, *, status: int | None = None, reason: str | None = None) -> None:
        self.status = status
        self.reason = reason
        """A word of :mod:`acr_refresh.reasons` for the report (None: derived from ``status``)."""
        super().__init__(message)


class MintError(AcrRefreshError):
    """A generator could not be minted. The message is one line and holds no secret."""


class IdentityError(MintError):
    """Getting an Entra ID token failed (bad client secret, unknown managed identity, refused assertion)."""


class SourceError(MintError):
    """A credential input (Kubernetes Secret key, ServiceAccount, environment variable) could not be read."""


class RegistryError(MintError):
    """The registry refused or failed a token request. Carries the HTTP status and the registry's code."""

    def __init__(
        self,
        message: str,
        *,
        registry: str,
        endpoint: str,
        status: int | None = None,
        code: str | None = None,
        retryable: bool | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.registry = registry
        self.endpoint = endpoint
        self.status = status
        self.code = code
        self.retry_after = retry_after
        # Connection failures, 429 and 5xx are worth another attempt; TLS trust failures are not.
        self.retryable = retryable if retryable is not None else (status is None or status == 429 or status >= 500)
        super().__init__(message)
