"""State shared by the emulated services: the clock, the request recorder, every credential issued or
known (for leak tests), and the signing keys of the token issuers whose tokens Entra ID can federate."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable

from .web import Recorder


class Context:
    """Everything the services share. ``clock()`` is the only source of "now" for issuing and validating."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.recorder = Recorder(clock)
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        # OIDC issuer URL -> HS256 key of tokens it issues (the emulated Kubernetes service-account issuer).
        self.issuer_keys: dict[str, bytes] = {}
        # OIDC issuer URL -> CA file of an outside issuer (a real API server) whose discovery document and
        # JWKS Entra fetches to verify RS256 assertions, as it does for any federated credential's issuer.
        self.external_issuers: dict[str, str] = {}

    def now(self) -> int:
        """The emulator's current time, whole seconds since the epoch (as JWT time claims use)."""
        return int(self.clock())

    def remember(self, *values: str | None) -> None:
        """Add credentials to the set returned by ``Emulator.issued_secrets()``."""
        with self._lock:
            self._secrets.update(v for v in values if v)

    def secrets(self) -> set[str]:
        with self._lock:
            return set(self._secrets)


def rfc3339(ts: float) -> str:
    """``2024-05-01T12:00:00Z`` for a POSIX timestamp (Kubernetes timestamps)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def new_id() -> str:
    """A random GUID string (object ids, trace ids, uids)."""
    return str(uuid.uuid4())
