"""Minting: a generator → registry credentials (username, password, expiry), deduplicated across a run.

One Entra token per identity and audience (see :mod:`identity`), one exchange per registry and identity,
one ``/oauth2/token`` per registry, identity and scope. Network I/O happens in the clients it is given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .acr import AcrClient, RegistryToken
from .config import Generator
from .identity import Identities, IdentityKey, Resolved
from .memo import OnceMap


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

    def __init__(self, identities: Identities, acr: AcrClient) -> None:
        self.identities = identities
        self.acr = acr
        self._exchanges: OnceMap[tuple[str, IdentityKey, str], RegistryToken] = OnceMap()
        self._access: OnceMap[tuple[str, IdentityKey, str, str], RegistryToken] = OnceMap()

    def resolve(self, gen: Generator) -> Resolved:
        """The identity a generator uses (reads its secretRefs; may raise a MintError)."""
        return self.identities.resolve(gen)

    def mint(self, gen: Generator, resolved: Resolved | None = None) -> Credentials:
        """Mint ``gen``: a refresh token, or with a scope an access token. Raises a MintError subclass."""
        resolved = resolved or self.resolve(gen)
        scope = gen.entra_scope

        def exchange() -> RegistryToken:
            entra = self.identities.token(resolved, scope)
            return self.acr.exchange(gen.registry, entra.value, tenant=resolved.exchange_tenant)

        refresh = self._exchanges.get((gen.registry, resolved.key, scope), exchange)
        if not gen.scope:
            return Credentials(gen.registry, refresh, resolved.key)
        access = self._access.get(
            (gen.registry, resolved.key, scope, gen.scope),
            lambda: self.acr.access_token(gen.registry, refresh.value, gen.scope),
        )
        return Credentials(gen.registry, access, resolved.key)
