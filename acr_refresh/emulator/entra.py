"""Emulated Microsoft Entra ID: the endpoints MSAL calls for the client-credentials grant.

Endpoints (all counted as ``entra.discovery`` or ``entra.token``):

- ``GET /common/discovery/instance?api-version=1.0&authorization_endpoint=...`` (instance discovery). MSAL
  calls it, on ``login.microsoftonline.com`` whatever the authority, only for authority hosts that are NOT in
  its built-in list of Microsoft hosts (so: Azure Stack Hub / custom hosts), unless the app turns instance
  discovery off. Like Entra ID, hosts Microsoft does not know get ``400 invalid_instance`` (AADSTS50049),
  which MSAL turns into a ValueError: such authorities need ``disable_instance_discovery=True``.
- ``GET /{tenant}/v2.0/.well-known/openid-configuration`` (tenant discovery, every authority), and
  ``GET /adfs/.well-known/openid-configuration`` for an AD FS authority (tenant ``adfs``).
- ``POST /{tenant}/oauth2/v2.0/token`` (and ``/adfs/oauth2/token`` for AD FS) with
  ``grant_type=client_credentials``, ``client_id``, ``scope`` and a client secret or a federated client
  assertion. Tenants exist only in the cloud (alias group of authority hosts) they were added to.

Access tokens are v1-shaped app tokens (``aud``, ``iss``, ``iat``, ``nbf``, ``exp``, ``appid``, ``azp``,
``appidacr``, ``oid``, ``sub``, ``tid``, ``idtyp``, ``uti``, ``ver``; ``xms_mirid`` for managed identities),
HS256-signed with a key only the emulator holds.
"""

from __future__ import annotations

import functools
import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from . import jwt
from .state import Context, new_id
from .web import Request, Response, Route

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"

# Alias groups of Microsoft authority hosts, as instance discovery's "metadata" lists them. A tenant lives in
# one group (one cloud) and is reachable through any alias of that group, not through another cloud's host.
CLOUD_ALIASES: tuple[tuple[str, ...], ...] = (
    ("login.microsoftonline.com", "login.windows.net", "login.microsoft.com", "sts.windows.net"),
    ("login.partner.microsoftonline.cn", "login.chinacloudapi.cn"),
    ("login.microsoftonline.us", "login.usgovcloudapi.net"),
    ("login-us.microsoftonline.com",),
    ("login.microsoftonline.de",),
    ("login.sovcloud-identity.fr",),
    ("login.sovcloud-identity.de",),
    ("login.sovcloud-identity.sg",),
)
_ALIAS_GROUP = {host: group for group in CLOUD_ALIASES for host in group}
# Instance discovery is always asked of the public cloud (MSAL's WORLD_WIDE) for unknown hosts.
_RESERVED_SCOPES = frozenset({"openid", "profile", "offline_access", "email"})

_TENANT_PATH = r"/(?P<tenant>[^/]+)"
_ROUTES: tuple[tuple[str, str, re.Pattern[str]], ...] = (
    ("entra.discovery", "instance", re.compile(r"^/[^/]+/discovery/instance$")),
    ("entra.discovery", "oidc_v2", re.compile(_TENANT_PATH + r"/v2\.0/\.well-known/openid-configuration$")),
    ("entra.discovery", "oidc_v1", re.compile(_TENANT_PATH + r"/\.well-known/openid-configuration$")),
    ("entra.token", "token_v2", re.compile(_TENANT_PATH + r"/oauth2/v2\.0/token$")),
    ("entra.token", "token_v1", re.compile(_TENANT_PATH + r"/oauth2/token/?$")),
)


def alias_group(host: str) -> tuple[str, ...]:
    """All host names of the cloud ``host`` belongs to (just ``host`` for a custom authority)."""
    return _ALIAS_GROUP.get(host.lower(), (host.lower(),))


@dataclass
class FederatedCredential:
    """A federated identity credential: assertions with this issuer, subject and audience are accepted."""

    issuer: str
    subject: str
    audience: str


@dataclass
class Principal:
    """A service principal (app registration) or managed identity in one tenant.

    ``kind`` is ``"application"`` or ``"managed_identity"``; ``secrets`` are the valid client secrets (several
    during a rotation); ``resource_id`` is set for managed identities.
    """

    tenant_id: str
    client_id: str
    object_id: str
    kind: str = "application"
    secrets: set[str] = field(default_factory=set)
    federated: list[FederatedCredential] = field(default_factory=list)
    resource_id: str | None = None
    system_assigned: bool = False


@dataclass
class Tenant:
    """A directory: its id, the cloud (authority host) it lives in, and its principals by client id."""

    tenant_id: str
    authority_host: str
    principals: dict[str, Principal] = field(default_factory=dict)


class _TokenError(Exception):
    """An Entra-style OAuth error: HTTP status, ``error`` code, AADSTS number and message."""

    def __init__(self, status: int, error: str, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.error, self.code, self.message = status, error, code, message


class Entra:
    """Tenants, principals, federated credentials, and the HTTP handlers of the Entra ID endpoints."""

    def __init__(self, ctx: Context, token_lifetime: int) -> None:
        self._ctx = ctx
        self.token_lifetime = token_lifetime
        self.key = jwt.new_key()
        self._lock = threading.RLock()
        self._tenants: dict[str, Tenant] = {}

    # ----- directory -------------------------------------------------------------------------------------

    def add_tenant(self, tenant_id: str, authority_host: str = "login.microsoftonline.com") -> Tenant:
        """Create (or return) tenant ``tenant_id`` in the cloud of ``authority_host``."""
        with self._lock:
            key = tenant_id.lower()
            tenant = self._tenants.get(key)
            if tenant is None:
                tenant = Tenant(tenant_id, authority_host.lower())
                self._tenants[key] = tenant
            elif alias_group(tenant.authority_host) != alias_group(authority_host):
                raise ValueError(f"tenant {tenant_id} already exists on {tenant.authority_host}")
            return tenant

    def tenant(self, tenant_id: str) -> Tenant | None:
        with self._lock:
            return self._tenants.get(tenant_id.lower())

    def add_principal(self, tenant_id: str, client_id: str, **attrs: Any) -> Principal:
        """Create (or return, updating ``attrs``) the principal ``client_id`` in an existing tenant."""
        with self._lock:
            tenant = self._tenants.get(tenant_id.lower())
            if tenant is None:
                raise KeyError(f"unknown tenant {tenant_id}; call add_tenant first")
            principal = tenant.principals.get(client_id.lower())
            if principal is None:
                principal = Principal(tenant.tenant_id, client_id, attrs.pop("object_id", None) or new_id())
                tenant.principals[client_id.lower()] = principal
            for name, value in attrs.items():
                setattr(principal, name, value)
            return principal

    def principals(self) -> list[Principal]:
        with self._lock:
            return [p for t in self._tenants.values() for p in t.principals.values()]

    def is_authority_host(self, host: str) -> bool:
        """Whether this emulated Entra ID serves ``host`` (a Microsoft host or a tenant's custom host)."""
        if host in _ALIAS_GROUP:
            return True
        with self._lock:
            return any(t.authority_host == host for t in self._tenants.values())

    # ----- tokens ----------------------------------------------------------------------------------------

    def issue_token(self, principal: Principal, resource: str, *, appidacr: str) -> tuple[str, int]:
        """An access token for ``principal`` with audience ``resource``; returns ``(token, expires_in)``.

        ``appidacr`` is how the client authenticated: ``"1"`` secret, ``"2"`` assertion/certificate,
        ``"0"`` none (managed identities use ``"2"``, as in Azure).
        """
        now = self._ctx.now()
        tenant = self.tenant(principal.tenant_id)
        host = tenant.authority_host if tenant else "login.microsoftonline.com"
        tid = principal.tenant_id
        issuer = (
            f"https://sts.windows.net/{tid}/"
            if alias_group(host)[0] == "login.microsoftonline.com"
            else f"https://{alias_group(host)[0]}/{tid}/"
        )
        claims: dict[str, Any] = {
            "aud": resource,
            "iss": issuer,
            "iat": now,
            "nbf": now,
            "exp": now + self.token_lifetime,
            "appid": principal.client_id,
            "azp": principal.client_id,
            "appidacr": appidacr,
            "idp": issuer,
            "idtyp": "app",
            "oid": principal.object_id,
            "sub": principal.object_id,
            "tid": tid,
            "uti": secrets.token_urlsafe(16),
            "ver": "1.0",
        }
        if principal.resource_id:
            claims["xms_mirid"] = principal.resource_id
        token = jwt.encode(claims, self.key, kid="emulator-entra")
        self._ctx.remember(token)
        return token, self.token_lifetime

    def validate_token(self, token: str) -> dict[str, Any]:
        """Claims of an Entra access token issued by this emulator; ``ValueError`` if forged or expired."""
        claims = jwt.decode(token, self.key)
        now = self._ctx.now()
        if int(claims.get("exp", 0)) <= now:
            raise ValueError("token expired")
        if int(claims.get("nbf", 0)) > now + 300:  # Azure services allow ~5 minutes of clock skew
            raise ValueError("token not yet valid")
        return claims

    # ----- HTTP ------------------------------------------------------------------------------------------

    def route(self, req: Request) -> Route | None:
        """The route for ``req`` when its host is an Entra authority host, else ``None``."""
        if not self.is_authority_host(req.host):
            return None
        for endpoint, kind, pattern in _ROUTES:
            m = pattern.match(req.path)
            if m:
                tenant = m.groupdict().get("tenant", "")
                handler = getattr(self, "_" + kind)
                return Route(
                    endpoint, functools.partial(_call_with_tenant, handler, tenant), self._fault_body(req)
                )
        return Route(
            "entra.unknown",
            lambda r: _aad_error(r, 404, "invalid_request", 90010, "Unsupported path."),
            self._fault_body(req),
        )

    def _fault_body(self, req: Request) -> Any:
        def body(status: int) -> Response:
            if status == 429:
                return _aad_error(
                    req,
                    429,
                    "temporarily_unavailable",
                    50196,
                    "The server terminated an operation because it encountered a client request loop.",
                )
            if status >= 500:
                return _aad_error(
                    req,
                    status,
                    "temporarily_unavailable",
                    90033,
                    "A transient error has occurred. Please try again.",
                )
            return _aad_error(req, status, "invalid_request", 90000, "Injected failure.")

        return body

    def _instance(self, req: Request, _tenant: str) -> Response:
        if req.method != "GET":
            return _aad_error(req, 405, "invalid_request", 90056, "Method not allowed.")
        auth_endpoint = req.query.get("authorization_endpoint", "")
        if not auth_endpoint:
            return _aad_error(
                req, 400, "invalid_request", 90014, "The required field 'authorization_endpoint' is missing."
            )
        parts = urlsplit(auth_endpoint)
        host = (parts.hostname or "").lower()
        if host not in _ALIAS_GROUP:
            # Entra ID only vouches for Microsoft's own hosts; custom (Azure Stack) hosts are "unknown".
            return _aad_error(req, 400, "invalid_instance", 50049, "Unknown or invalid instance.")
        segments = [s for s in parts.path.split("/") if s]
        tenant = segments[0] if segments else "common"
        version = "/v2.0" if "v2.0" in segments else ""
        return Response.json(
            200,
            {
                "tenant_discovery_endpoint": f"https://{host}/{tenant}{version}/.well-known/openid-configuration",
                "api-version": "1.1",
                "metadata": [
                    {
                        "preferred_network": g[0],
                        "preferred_cache": g[1] if g[0] == "login.microsoftonline.com" else g[0],
                        "aliases": list(g),
                    }
                    for g in CLOUD_ALIASES[:5]
                ],
            },
        )

    def _tenant_in_cloud(self, tenant_id: str, host: str) -> Tenant | None:
        tenant = self.tenant(tenant_id)
        if tenant is None or host not in alias_group(tenant.authority_host):
            return None
        return tenant

    def _oidc_v2(self, req: Request, tenant_id: str) -> Response:
        return self._oidc(req, tenant_id, v2=True)

    def _oidc_v1(self, req: Request, tenant_id: str) -> Response:
        return self._oidc(req, tenant_id, v2=False)

    def _oidc(self, req: Request, tenant_id: str, *, v2: bool) -> Response:
        if req.method != "GET":
            return _aad_error(req, 405, "invalid_request", 90056, "Method not allowed.")
        tenant = self._tenant_in_cloud(tenant_id, req.host)
        if tenant is None:
            return _aad_error(req, 400, "invalid_tenant", 90002, _tenant_not_found(tenant_id))
        base = f"https://{req.host}/{tenant.tenant_id}"
        if tenant.tenant_id.lower() == "adfs":
            # AD FS (disconnected Azure Stack Hub): v1-style endpoints under /adfs, issuer without a GUID.
            return Response.json(
                200,
                {
                    "issuer": base,
                    "authorization_endpoint": base + "/oauth2/authorize/",
                    "token_endpoint": base + "/oauth2/token/",
                    "jwks_uri": base + "/discovery/keys",
                    "token_endpoint_auth_methods_supported": [
                        "client_secret_post",
                        "client_secret_basic",
                        "private_key_jwt",
                        "windows_client_authentication",
                    ],
                    "grant_types_supported": [
                        "authorization_code",
                        "refresh_token",
                        "client_credentials",
                        "urn:ietf:params:oauth:grant-type:jwt-bearer",
                        "implicit",
                        "password",
                        "srv_challenge",
                        "urn:ietf:params:oauth:grant-type:device_code",
                        "device_code",
                    ],
                    "access_token_issuer": f"http://{req.host}/adfs/services/trust",
                },
            )
        suffix = "/v2.0" if v2 else ""
        oauth = f"{base}/oauth2/v2.0" if v2 else f"{base}/oauth2"
        return Response.json(
            200,
            {
                "token_endpoint": oauth + "/token",
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                    "client_secret_basic",
                ],
                "jwks_uri": f"{base}/discovery{suffix}/keys",
                "response_modes_supported": ["query", "fragment", "form_post"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "issuer": f"https://{req.host}/{tenant.tenant_id}{suffix}",
                "request_uri_parameter_supported": False,
                "authorization_endpoint": oauth + "/authorize",
                "device_authorization_endpoint": oauth + "/devicecode",
                "http_logout_supported": True,
                "frontchannel_logout_supported": True,
                "end_session_endpoint": oauth + "/logout",
                "tenant_region_scope": "WW",
                "cloud_instance_name": ".".join(alias_group(req.host)[0].split(".")[1:]),
            },
        )

    def _token_v2(self, req: Request, tenant_id: str) -> Response:
        return self._token(req, tenant_id)

    def _token_v1(self, req: Request, tenant_id: str) -> Response:
        return self._token(req, tenant_id)

    def _token(self, req: Request, tenant_id: str) -> Response:
        if req.method != "POST":
            return _aad_error(
                req,
                405,
                "invalid_request",
                900561,
                "The endpoint only accepts POST, OPTIONS requests. Received a GET request.",
            )
        try:
            principal, appidacr, resource = self._check_token_request(req, tenant_id)
        except _TokenError as err:
            return _aad_error(req, err.status, err.error, err.code, err.message)
        token, expires_in = self.issue_token(principal, resource, appidacr=appidacr)
        return Response.json(
            200,
            {
                "token_type": "Bearer",
                "expires_in": expires_in,
                "ext_expires_in": expires_in,
                "access_token": token,
            },
            headers={"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"},
        )

    def _check_token_request(self, req: Request, tenant_id: str) -> tuple[Principal, str, str]:
        """Validate a client-credentials request like Entra ID; returns (principal, appidacr, resource)."""
        form = req.form
        tenant = self._tenant_in_cloud(tenant_id, req.host)
        if tenant is None:
            raise _TokenError(400, "invalid_request", 90002, _tenant_not_found(tenant_id))
        for name in ("grant_type", "client_id"):
            if not form.get(name):
                raise _TokenError(
                    400,
                    "invalid_request",
                    900144,
                    f"The request body must contain the following parameter: '{name}'.",
                )
        if form["grant_type"] != "client_credentials":
            raise _TokenError(
                400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type."
            )
        client_id = form["client_id"]
        with self._lock:
            principal = tenant.principals.get(client_id.lower())
        if principal is None:
            raise _TokenError(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory "
                f"'{tenant.tenant_id}'. This can happen if the application has not been installed "
                "by the administrator of the tenant or consented to by any user in the tenant. "
                "You may have sent your authentication request to the wrong tenant.",
            )
        if "client_secret" in form:
            if form["client_secret"] not in principal.secrets:
                raise _TokenError(
                    401,
                    "invalid_client",
                    7000215,
                    "Invalid client secret provided. Ensure the secret being sent in the request "
                    "is the client secret value, not the client secret ID, for a secret added to "
                    f"app '{principal.client_id}'.",
                )
            appidacr = "1"
        elif "client_assertion" in form:
            self._check_assertion(req, principal)
            appidacr = "2"
        else:
            raise _TokenError(
                401,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or "
                "'client_secret'.",
            )
        resource = _resource_from(form)
        return principal, appidacr, resource

    def _check_assertion(self, req: Request, principal: Principal) -> None:
        """Validate a federated client assertion (e.g. a service-account token) for ``principal``."""
        if req.form.get("client_assertion_type") != CLIENT_ASSERTION_TYPE:
            raise _TokenError(
                400,
                "invalid_request",
                900023,
                f"Specified client_assertion_type is invalid: expected '{CLIENT_ASSERTION_TYPE}'.",
            )
        assertion = req.form["client_assertion"]
        try:
            claims = jwt.unverified_claims(assertion)
        except jwt.JWTError:
            raise _TokenError(400, "invalid_request", 50027, "JWT token is invalid or malformed.") from None
        iss, sub, auds = claims.get("iss"), claims.get("sub"), jwt.audiences(claims)
        with self._lock:
            creds = list(principal.federated)
        by_issuer = [c for c in creds if c.issuer == iss]
        if not by_issuer:
            raise _TokenError(
                400,
                "invalid_client",
                700211,
                f"No matching federated identity record found for presented assertion issuer "
                f"'{iss}'. Please check your federated identity credential Subject, Audience and "
                "Issuer against the presented assertion.",
            )
        by_subject = [c for c in by_issuer if c.subject == sub]
        if not by_subject:
            raise _TokenError(
                400,
                "invalid_client",
                70021,
                f"No matching federated identity record found for presented assertion. Assertion "
                f"Issuer: '{iss}'. Assertion Subject: '{sub}'. Assertion Audience: "
                f"'{','.join(auds)}'.",
            )
        if not any(c.audience in auds for c in by_subject):
            raise _TokenError(
                400,
                "invalid_client",
                700212,
                f"No matching federated identity record found for presented assertion audience "
                f"'{','.join(auds)}'.",
            )
        key = self._ctx.issuer_keys.get(str(iss))
        ca_file = self._ctx.external_issuers.get(str(iss))
        if key is None and ca_file is None:
            # Entra would fetch any issuer's OIDC keys; the emulator reaches only its own issuers and the
            # outside ones registered with Emulator.trust_oidc_issuer (no internet here).
            raise _TokenError(
                401,
                "invalid_client",
                50166,
                f"Request to External OIDC endpoint failed. Issuer '{iss}' is not reachable.",
            )
        try:
            if key is not None:
                jwt.decode(assertion, key)
            else:
                jwt.decode_rs256(assertion, _fetch_jwks(str(iss), str(ca_file)))
        except OSError:
            raise _TokenError(
                401,
                "invalid_client",
                50166,
                f"Request to External OIDC endpoint failed. Issuer '{iss}' is not reachable.",
            ) from None
        except jwt.JWTError:
            raise _TokenError(
                401, "invalid_client", 700027, "Client assertion failed signature validation."
            ) from None
        now = self._ctx.now()
        if int(claims.get("exp", 0)) <= now or int(claims.get("nbf", claims.get("iat", 0))) > now + 300:
            raise _TokenError(
                400,
                "invalid_client",
                700024,
                f"Client assertion is not within its valid time range. Current time: "
                f"{_aad_time(now)}, assertion valid from {_aad_time(claims.get('nbf', 0))}, "
                f"expiry time of assertion {_aad_time(claims.get('exp', 0))}.",
            )


def _call_with_tenant(handler: Callable[[Request, str], Response], tenant: str, req: Request) -> Response:
    return handler(req, tenant)


def _resource_from(form: dict[str, str]) -> str:
    """The audience implied by ``scope`` (``<resource>/.default``), or the v1 ``resource`` parameter."""
    if "scope" not in form and form.get("resource"):
        return form["resource"]
    scopes = [s for s in form.get("scope", "").split() if s not in _RESERVED_SCOPES]
    if not scopes:
        raise _TokenError(
            400, "invalid_request", 900144, "The request body must contain the following parameter: 'scope'."
        )
    if len(scopes) != 1 or not scopes[0].endswith("/.default"):
        raise _TokenError(
            400,
            "invalid_scope",
            1002012,
            f"The provided value for scope {' '.join(scopes)} is not valid. Client credential flows "
            "must have a scope value with /.default suffixed to the resource identifier "
            "(application ID URI).",
        )
    return scopes[0][: -len("/.default")]


def _tenant_not_found(tenant_id: str) -> str:
    return (
        f"Tenant '{tenant_id}' not found. Check to make sure you have the correct tenant ID and are signing "
        "into the correct cloud. Check with your subscription administrator, this may happen if there are no "
        "active subscriptions for the tenant."
    )


def _aad_time(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(float(ts)))


def _aad_error(req: Request, status: int, error: str, code: int, message: str) -> Response:
    """An error body shaped like Entra ID's (the correlation id echoes the client's ``client-request-id``)."""
    trace_id = new_id()
    correlation_id = req.headers.get("client-request-id") or new_id()
    stamp = _aad_time(time.time())
    return Response.json(
        status,
        {
            "error": error,
            "error_description": f"AADSTS{code}: {message} Trace ID: {trace_id} "
            f"Correlation ID: {correlation_id} "
            f"Timestamp: {stamp}",
            "error_codes": [code],
            "timestamp": stamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": f"https://{req.host or 'login.microsoftonline.com'}/error?code={code}",
        },
    )


def _fetch_jwks(issuer: str, ca_file: str) -> dict[str, Any]:
    """The issuer's JWKS, found as Entra finds it: ``{issuer}/.well-known/openid-configuration`` names
    ``jwks_uri``. Unauthenticated HTTPS, verified with ``ca_file``. Raises OSError when unreachable."""
    import ssl
    import urllib.request

    context = ssl.create_default_context(cafile=ca_file)

    def get(url: str) -> dict[str, Any]:
        try:
            with urllib.request.urlopen(url, context=context, timeout=10) as resp:
                data = json.loads(resp.read(1 << 20))
        except ValueError as exc:
            raise OSError(f"{url}: not JSON") from exc
        if not isinstance(data, dict):
            raise OSError(f"{url}: not a JSON object")
        return data

    discovery = get(issuer.rstrip("/") + "/.well-known/openid-configuration")
    if discovery.get("issuer") != issuer or not str(discovery.get("jwks_uri", "")).startswith("https://"):
        raise OSError("discovery document does not match the issuer")
    return get(str(discovery["jwks_uri"]))
