"""Minting: a generator → registry credentials (username, password, expiry), deduplicated across a run.

One Entra token per identity and audience (see :mod:`identity`), one exchange per registry and identity,
one ``/oauth2/token`` per registry, identity and scope. Network I/O happens in the clients it is given.

Every token's life is anchored to the job's clock the moment it is received (:func:`.freshness.anchor`):
``issued_at`` is the receive time and ``expires_at`` that plus the lifetime the token states, so the report,
the Secret annotations, Key Vault's ``expires`` and the freshness rule never depend on a server's clock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from . import redact
from .acr import ACR_USERNAME, AcrClient, RegistryToken
from .config import Generator
from .freshness import Stored, anchor, verdict
from .identity import Identities, IdentityKey, Resolved
from .memo import OnceMap

CacheKey = tuple[str, IdentityKey, str, str]


class TokenCache:
    """Registry tokens kept in memory across runs of a long-lived process (a warm Functions instance).

    A cached token is reused only while what it would produce still counts as fresh under the freshness
    rule, so a frequent schedule neither re-exchanges nor writes tokens that are stale at once. Nothing is
    ever written anywhere else.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[CacheKey, RegistryToken] = {}

    def get(self, key: CacheKey, now: datetime, min_remaining: Iterable[timedelta | None]) -> RegistryToken | None:
        with self._lock:
            token = self._tokens.get(key)
        if token is None or token.issued_at is None or token.expires_at is None:
            return None
        stored = Stored(token.issued_at, token.expires_at, "")
        for needed in min_remaining:
            if not verdict(stored, now=now, wanted_hash="", min_remaining=needed)[0]:
                return None
        return token

    def put(self, key: CacheKey, token: RegistryToken) -> None:
        with self._lock:
            self._tokens[key] = token

    def __len__(self) -> int:
        with self._lock:
            return len(self._tokens)


@dataclass(frozen=True)
class Credentials:
    """What a generator produces: the output keys ESO's ACRAccessToken generator returns, and more."""

    registry: str
    token: RegistryToken = field(repr=False)
    identity: IdentityKey

    @property
    def username(self) -> str:
        return self.token.username

    @property
    def password(self) -> str:
        return self.token.value

    @property
    def expires_at(self) -> datetime | None:
        return self.token.expires_at

    @property
    def issued_at(self) -> datetime | None:
        return self.token.issued_at

    def outputs(self) -> dict[str, Any]:
        """The template data: ``username``, ``password``, ``registry``, ``tokenType``, ``expiresAt``."""
        from .report import rfc3339

        return {
            "username": self.username,
            "password": self.password,
            "registry": self.registry,
            "tokenType": self.token.token_type,
            "expiresAt": rfc3339(self.expires_at) or "",
        }


class Minter:
    """Mints generators, sharing Entra tokens, exchanges and access tokens between them."""

    def __init__(self, identities: Identities, acr: AcrClient, *, cache: TokenCache | None = None,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.identities = identities
        self.acr = acr
        self.cache = cache if cache is not None else TokenCache()
        self.now = now
        self._exchanges: OnceMap[CacheKey, RegistryToken] = OnceMap()
        self._access: OnceMap[CacheKey, RegistryToken] = OnceMap()

    def resolve(self, gen: Generator) -> Resolved:
        """The identity a generator uses (reads its secretRefs; may raise a MintError)."""
        return self.identities.resolve(gen)

    def mint(self, gen: Generator, resolved: Resolved | None = None,
             min_remaining: Iterable[timedelta | None] = (None,)) -> Credentials:
        """Mint ``gen``: a refresh token, or with a scope an access token. Raises a MintError subclass.

        ``min_remaining`` lists the freshness margins of the targets to be written (None: half the
        lifetime); a token cached from an earlier run is reused only if it satisfies all of them.
        """
        resolved = resolved or self.resolve(gen)
        scope = gen.entra_scope
        margins = tuple(min_remaining) or (None,)
        refresh_key: CacheKey = (gen.registry, resolved.key, scope, "")

        def exchange() -> RegistryToken:
            cached = self.cache.get(refresh_key, self.now(), margins)
            if cached is not None:
                return cached
            entra = self.identities.token(resolved, scope)
            token = self._anchored(self.acr.exchange(gen.registry, entra.value, tenant=resolved.exchange_tenant),
                                   gen.registry)
            self.cache.put(refresh_key, token)
            return token

        if not gen.scope:
            return Credentials(gen.registry, self._exchanges.get(refresh_key, exchange), resolved.key)
        access_key: CacheKey = (gen.registry, resolved.key, scope, gen.scope)

        def access() -> RegistryToken:
            cached = self.cache.get(access_key, self.now(), margins)
            if cached is not None:
                return cached
            refresh = self._exchanges.get(refresh_key, exchange)
            token = self._anchored(self.acr.access_token(gen.registry, refresh.value, gen.scope), gen.registry)
            self.cache.put(access_key, token)
            return token

        return Credentials(gen.registry, self._access.get(access_key, access), resolved.key)

    def _anchored(self, token: RegistryToken, registry: str) -> RegistryToken:
        """``token`` with its life on the job's clock, and the dockerconfigjson form of it registered."""
        received = self.now()  # at once: the receive time is the anchor
        # The base64 of username:password is how a dockerconfigjson "auth" carries the token.
        redact.register(f"{ACR_USERNAME}:{token.value}")
        anchored = anchor(token.issued_at, token.expires_at, received, f"{registry}: {token.token_type} token")
        if anchored is None:  # no exp: nothing to anchor, and no target will count it as fresh
            return replace(token, issued_at=received, expires_at=None)
        return replace(token, issued_at=anchored.issued_at, expires_at=anchored.expires_at,
                       warnings=anchored.warnings)
