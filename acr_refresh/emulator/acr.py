"""Emulated Azure Container Registry token service (the two endpoints acr-refresh uses).

- ``POST /oauth2/exchange`` (``acr.exchange``), form ``grant_type=access_token``,
  ``service=<login server>``, optional ``tenant``, ``access_token=<Entra token>`` ->
  ``{"refresh_token": "<JWT>"}``. The Entra token must be one this emulator issued (signature), unexpired
  by the emulator clock, for the registry audience
  ``https://containerregistry.azure.net`` or, while authentication-as-arm is enabled on the registry, for the
  cloud's Resource Manager audience; its ``tid`` must equal the ``tenant`` field when given and the registry's
  tenant when one is set; its principal must be allowed on the registry.
- ``POST /oauth2/token`` (``acr.token``), form ``grant_type=refresh_token``, ``service``, ``scope``
  (``repository:team/app:pull,push``; several allowed, space separated or repeated) and ``refresh_token``
  -> ``{"access_token": "<JWT>"}`` with an ``access`` claim for the scopes.

Errors look like ACR's: ``{"errors": [{"code": "UNAUTHORIZED", "message": ...}]}`` with 400 or 401.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from typing import Any

from . import jwt
from .entra import Entra
from .state import Context
from .web import Request, Response, Route

ACR_AUDIENCE = "https://containerregistry.azure.net"
# Resource Manager audiences per registry DNS suffix (both the current and the classic ARM identifier).
ARM_AUDIENCES: dict[str, tuple[str, ...]] = {
    ".azurecr.io": ("https://management.azure.com", "https://management.core.windows.net"),
    ".azurecr.us": ("https://management.usgovcloudapi.net", "https://management.core.usgovcloudapi.net"),
    ".azurecr.cn": ("https://management.chinacloudapi.cn", "https://management.core.chinacloudapi.cn"),
}
ACR_SUFFIXES = tuple(ARM_AUDIENCES)
_ISSUER = "Azure Container Registry"


@dataclass
class Registry:
    """A registry (login server ``host``) and its authentication settings.

    ``allowed_principals`` holds client ids (or object ids) allowed to get tokens; ``None`` allows any
    principal of any tenant (subject to ``tenant``). ``arm_audiences`` are accepted while
    ``arm_audience_allowed`` (authentication-as-arm) is on.
    """

    host: str
    tenant: str | None = None
    arm_audience_allowed: bool = True
    allowed_principals: set[str] | None = None
    arm_audiences: tuple[str, ...] = ()
    registry_id: str = field(default_factory=lambda: secrets.token_hex(16))


class _AcrError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class Acr:
    """Registered registries and the handlers of their token endpoints."""

    def __init__(self, ctx: Context, entra: Entra, refresh_lifetime: int, access_lifetime: int) -> None:
        self._ctx = ctx
        self._entra = entra
        self.refresh_lifetime = refresh_lifetime
        self.access_lifetime = access_lifetime
        self.key = jwt.new_key()
        self._lock = threading.Lock()
        self._registries: dict[str, Registry] = {}

    def add(self, registry: Registry) -> Registry:
        if not registry.arm_audiences:
            registry.arm_audiences = next(
                (auds for suffix, auds in ARM_AUDIENCES.items() if registry.host.endswith(suffix)), ()
            )
        with self._lock:
            self._registries[registry.host] = registry
        return registry

    def get(self, host: str) -> Registry | None:
        with self._lock:
            return self._registries.get(host.lower())

    # ----- HTTP ------------------------------------------------------------------------------------------

    def route(self, req: Request) -> Route | None:
        """Route for ``req`` when its host is a registered registry (or looks like one), else ``None``."""
        registry = self.get(req.host)
        if registry is None:
            if req.host.endswith(ACR_SUFFIXES):
                return Route(
                    "acr.unknown",
                    lambda r: _acr_error(404, "NAME_UNKNOWN", "registry not found"),
                    _fault_body,
                )
            return None
        if req.path == "/oauth2/exchange":
            return Route("acr.exchange", lambda r: self._guard(r, registry, self._exchange), _fault_body)
        if req.path == "/oauth2/token":
            return Route("acr.token", lambda r: self._guard(r, registry, self._token), _fault_body)
        return Route(
            "acr.unknown", lambda r: _acr_error(404, "NOT_FOUND", "not modelled by the emulator"), _fault_body
        )

    def _guard(self, req: Request, registry: Registry, handler: Any) -> Response:
        if req.method != "POST":
            return _acr_error(405, "UNSUPPORTED", "the emulator only models POST on this endpoint")
        try:
            return Response.json(200, handler(req, registry))
        except _AcrError as err:
            return _acr_error(err.status, err.code, err.message)

    def _check_service(self, req: Request, registry: Registry, grant_type: str) -> None:
        form = req.form
        if not form.get("grant_type"):
            raise _AcrError(400, "UNSUPPORTED", "grant_type is required")
        if form["grant_type"] != grant_type:
            raise _AcrError(400, "UNSUPPORTED", f"grant type {form['grant_type']!r} is not supported here")
        if not form.get("service"):
            raise _AcrError(400, "UNAUTHORIZED", "service is required")
        if form["service"].lower() != registry.host:
            raise _AcrError(401, "UNAUTHORIZED", f"service {form['service']!r} does not match this registry")

    def _check_principal(self, registry: Registry, claims: dict[str, Any]) -> None:
        if registry.allowed_principals is None:
            return
        ids = {
            str(claims.get("appid", "")).lower(),
            str(claims.get("oid", "")).lower(),
            str(claims.get("sub", "")).lower(),
        }
        if not ids & {p.lower() for p in registry.allowed_principals}:
            raise _AcrError(401, "UNAUTHORIZED", "the principal has no role assignment on this registry")

    def _exchange(self, req: Request, registry: Registry) -> dict[str, str]:
        self._check_service(req, registry, "access_token")
        token = req.form.get("access_token")
        if not token:
            raise _AcrError(400, "UNAUTHORIZED", "access_token is required")
        try:
            claims = self._entra.validate_token(token)
        except ValueError as exc:
            raise _AcrError(401, "UNAUTHORIZED", f"invalid Microsoft Entra access token: {exc}") from None
        aud = str(claims.get("aud", "")).rstrip("/")
        if aud != ACR_AUDIENCE:
            if aud not in registry.arm_audiences:
                raise _AcrError(401, "UNAUTHORIZED", f"the access token audience {aud!r} is not accepted")
            if not registry.arm_audience_allowed:
                raise _AcrError(
                    401,
                    "UNAUTHORIZED",
                    "authentication-as-arm is disabled for this registry: use an access token "
                    f"for {ACR_AUDIENCE}",
                )
        tid = str(claims.get("tid", ""))
        if req.form.get("tenant") and req.form["tenant"].lower() != tid.lower():
            raise _AcrError(401, "UNAUTHORIZED", "the access token was issued for another tenant")
        if registry.tenant and registry.tenant.lower() != tid.lower():
            raise _AcrError(401, "UNAUTHORIZED", "the access token's tenant is not the registry's tenant")
        self._check_principal(registry, claims)
        now = self._ctx.now()
        refresh = jwt.encode(
            {
                "jti": secrets.token_hex(16),
                "sub": claims.get("oid"),
                "nbf": now,
                "exp": now + self.refresh_lifetime,
                "iat": now,
                "iss": _ISSUER,
                "aud": registry.host,
                "version": "1.0",
                "rid": registry.registry_id,
                "grant_type": "refresh_token",
                "appid": claims.get("appid"),
                "tenant": tid,
                "permissions": {"actions": ["read", "write", "delete"]},
                "roles": [],
            },
            self.key,
        )
        self._ctx.remember(refresh)
        return {"refresh_token": refresh}

    def _token(self, req: Request, registry: Registry) -> dict[str, str]:
        self._check_service(req, registry, "refresh_token")
        token = req.form.get("refresh_token")
        if not token:
            raise _AcrError(400, "UNAUTHORIZED", "refresh_token is required")
        try:
            claims = jwt.decode(token, self.key)
        except jwt.JWTError:
            raise _AcrError(401, "UNAUTHORIZED", "invalid refresh token") from None
        now = self._ctx.now()
        if "access" in claims or claims.get("grant_type") != "refresh_token":
            raise _AcrError(401, "UNAUTHORIZED", "the token is not a refresh token")
        if claims.get("aud") != registry.host:
            raise _AcrError(401, "UNAUTHORIZED", "the refresh token was issued for another registry")
        if int(claims.get("exp", 0)) <= now:
            raise _AcrError(401, "UNAUTHORIZED", "the refresh token has expired")
        self._check_principal(registry, {"appid": claims.get("appid"), "oid": claims.get("sub")})
        access = []
        for scope in " ".join(req.form_lists.get("scope", [])).split():
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            if not kind or not name or not actions:
                raise _AcrError(400, "UNSUPPORTED", f"malformed scope {scope!r}")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        access_token = jwt.encode(
            {
                "jti": secrets.token_hex(16),
                "sub": claims.get("sub"),
                "nbf": now,
                "exp": now + self.access_lifetime,
                "iat": now,
                "iss": _ISSUER,
                "aud": registry.host,
                "version": "1.0",
                "rid": registry.registry_id,
                "access": access,
                "roles": [],
                "grant_type": "refresh_token",
                "appid": claims.get("appid"),
            },
            self.key,
        )
        self._ctx.remember(access_token)
        return {"access_token": access_token}


def _acr_error(status: int, code: str, message: str) -> Response:
    return Response.json(status, {"errors": [{"code": code, "message": message}]})


def _fault_body(status: int) -> Response:
    if status == 429:
        return _acr_error(429, "TOOMANYREQUESTS", "too many requests")
    if status >= 500:
        return _acr_error(status, "UNAVAILABLE", "service unavailable")
    if status == 401:
        return _acr_error(401, "UNAUTHORIZED", "authentication required")
    return _acr_error(status, "DENIED", "injected failure")
