"""Emulated Azure Key Vault, secrets only: the two requests azure-keyvault-secrets' ``SecretClient`` makes to
write and read a secret, behind Key Vault's challenge-based authentication.

Endpoints on a registered vault host (``<vault>.vault.azure.net``, ``.vault.usgovcloudapi.net``,
``.vault.azure.cn`` or any host given to :meth:`KeyVault.add`):

- ``PUT /secrets/{name}?api-version=...`` (``kv.secret.set``), JSON body ``value`` (required),
  ``contentType``, ``tags``, ``attributes`` ``{enabled, nbf, exp}`` -> a new version, 200 with the
  SecretBundle. A soft-deleted name answers 409 Conflict (``ObjectIsDeletedButRecoverable``).
- ``GET /secrets/{name}/`` (latest version) and ``GET /secrets/{name}/{version}`` (``kv.secret.get``) ->
  the SecretBundle, 404 ``SecretNotFound``, or 403 ``SecretDisabled`` for a disabled version. As in Key Vault,
  ``nbf``/``exp`` do not block reads: an expired or not-yet-valid secret is still returned.
- ``GET /secrets?api-version=...[&maxresults=N]`` (``kv.secret.list``, what ``list_properties_of_secrets``
  sends) -> ``{"value": [SecretItem...], "nextLink": ...}``: the latest version's properties of every secret
  that is not soft-deleted (disabled ones included), never a value. Pages hold ``maxresults`` items (1-25,
  default 25, as Key Vault allows); ``nextLink`` is ``https://<host>:443/secrets?api-version=...&$skiptoken=
  ...&maxresults=N`` while more remain, else ``null``. Items are ordered by name; the skip token marks the
  last name served, so a page boundary survives writes in between. The RBAC action is ``readMetadata``.

Authentication as Key Vault does it: a request without a valid bearer token gets 401 with
``WWW-Authenticate: Bearer authorization="https://<authority host>/<tenant>", resource="https://vault.<suffix>"``
(the resource is the vault host without its first label: ``https://vault.azure.net``,
``https://vault.usgovcloudapi.net``, ``https://vault.azure.cn``). SecretClient first sends every request
without a token (and a PUT without its body, ``Content-Length: 0``), turns the challenge into the scope
``<resource>/.default`` and tenant, checks that the vault host ends with ``.`` + the resource's host, and
resends. Tokens must be Entra access tokens of this emulator: good signature, not expired (emulator clock),
``aud`` = the resource (no trailing slash) or Key Vault's application id, ``tid`` = the vault's tenant, and the
principal (``appid``/``oid``) must hold a data role (``allowed_principals``; ``None`` = any principal of the
tenant), not be in ``forbidden`` and not have the action in ``denied_actions`` (a custom role without, say,
``getSecret``) -> otherwise 403 ``ForbiddenByRbac``.

Error bodies are ``{"error": {"code", "message", "innererror"?}}``. The texts of AKV10000 (no token),
AKV10022 (audience), AKV10032 (issuer), ForbiddenByRbac, SecretNotFound, BadParameter for names and the
409 for deleted names follow messages Key Vault is known to send; the others are approximations.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import re
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

from .entra import Entra, alias_group
from .state import Context, new_id
from .web import Request, Response, Route

KEY_VAULT_APP_ID = "cfa8b339-82a2-471a-a3c9-0fc0be7a4093"
RECOVERY_LEVEL = "Recoverable+Purgeable"
RECOVERABLE_DAYS = 90
_NAME_RE = re.compile(r"^[0-9a-zA-Z-]{1,127}$")
_PATH_RE = re.compile(r"^/secrets/(?P<name>[^/]*)(?:/(?P<version>[^/]*))?/?$")
_LIST_RE = re.compile(r"^/secrets/?$")
MAX_PAGE = 25  # Key Vault's largest (and default) page of a list
# Authority host per vault DNS suffix, used when the vault's tenant is not registered with the emulator's Entra.
_SUFFIX_AUTHORITY = {
    ".vault.azure.net": "login.microsoftonline.com",
    ".vault.usgovcloudapi.net": "login.microsoftonline.us",
    ".vault.azure.cn": "login.chinacloudapi.cn",
}


@dataclass
class SecretVersion:
    """One version of a secret; times are whole seconds since the epoch (Key Vault's IntDate)."""

    version: str
    value: str
    content_type: str | None
    tags: dict[str, str] | None
    enabled: bool
    nbf: int | None
    exp: int | None
    created: int
    updated: int


@dataclass
class VaultSecret:
    """A secret name and its versions, oldest first (Key Vault names are case-insensitive)."""

    name: str
    versions: list[SecretVersion] = field(default_factory=list)
    deleted: bool = False


@dataclass
class Vault:
    """A vault on ``host`` in ``tenant``.

    ``allowed_principals``: client or object ids with a secrets data role ("Key Vault Secrets Officer");
    ``None`` lets any principal of the tenant in. ``forbidden`` ids get 403 whatever ``allowed_principals`` says;
    ``denied_actions`` maps an id to the actions (``getSecret``, ``setSecret``, ``readMetadata``) its role lacks.
    """

    host: str
    tenant: str
    allowed_principals: set[str] | None = None
    forbidden: set[str] = field(default_factory=set)
    denied_actions: dict[str, set[str]] = field(default_factory=dict)
    secrets: dict[str, VaultSecret] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.host.split(".", 1)[0]

    @property
    def resource(self) -> str:
        """The token audience Key Vault asks for in its challenge: ``https://vault.<cloud suffix>``."""
        return "https://" + self.host.split(".", 1)[1]


class VaultError(ValueError):
    """A Key Vault error: HTTP status, ``error.code``, message and ``innererror.code``."""

    def __init__(self, status: int, code: str, message: str, inner: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.inner = status, code, message, inner


class KeyVault:
    """Registered vaults and the handlers of their secret endpoints."""

    def __init__(self, ctx: Context, entra: Entra) -> None:
        self._ctx = ctx
        self._entra = entra
        self._lock = threading.RLock()
        self._vaults: dict[str, Vault] = {}

    # ----- configuration ---------------------------------------------------------------------------------

    def add(self, vault: Vault) -> Vault:
        if "." not in vault.host:
            raise ValueError(f"vault host {vault.host!r} must be a DNS name such as myvault.vault.azure.net")
        with self._lock:
            self._vaults[vault.host] = vault
        return vault

    def get(self, host: str) -> Vault | None:
        with self._lock:
            return self._vaults.get(host.lower())

    def require(self, host: str) -> Vault:
        vault = self.get(host)
        if vault is None:
            raise KeyError(f"unknown vault {host}; call add_vault first")
        return vault

    def set_secret(
        self,
        host: str,
        name: str,
        value: str,
        *,
        content_type: str | None = None,
        tags: dict[str, str] | None = None,
        enabled: bool = True,
        nbf: int | None = None,
        exp: int | None = None,
    ) -> dict[str, Any]:
        """Add a version (as a PUT would, without the HTTP checks); returns its bundle."""
        vault = self.require(host)
        if not _NAME_RE.match(name):
            raise ValueError(f"invalid Key Vault secret name {name!r}: expected ^[0-9a-zA-Z-]{{1,127}}$")
        now = self._ctx.now()
        version = SecretVersion(
            version=new_version_id(),
            value=value,
            content_type=content_type,
            tags=dict(tags) if tags is not None else None,
            enabled=enabled,
            nbf=nbf,
            exp=exp,
            created=now,
            updated=now,
        )
        with self._lock:
            entry = vault.secrets.setdefault(name.lower(), VaultSecret(name))
            if entry.deleted:
                raise VaultError(
                    409,
                    "Conflict",
                    f"Secret {entry.name} is currently in a deleted but recoverable state, and its name cannot "
                    "be reused; in this state, the secret can only be recovered or purged.",
                    "ObjectIsDeletedButRecoverable",
                )
            entry.versions.append(version)
            self._ctx.remember(value)
            return _bundle(vault, entry, version)

    def latest(self, host: str, name: str) -> dict[str, Any] | None:
        """The latest version's bundle (``None`` when the name is unknown or soft-deleted)."""
        vault = self.require(host)
        with self._lock:
            entry = vault.secrets.get(name.lower())
            if entry is None or entry.deleted or not entry.versions:
                return None
            return _bundle(vault, entry, entry.versions[-1])

    def version_count(self, host: str, name: str) -> int:
        vault = self.require(host)
        with self._lock:
            entry = vault.secrets.get(name.lower())
            return len(entry.versions) if entry is not None else 0

    def soft_delete(self, host: str, name: str) -> None:
        """Put ``name`` in the deleted-but-recoverable state (it need not exist: then it has no versions)."""
        vault = self.require(host)
        with self._lock:
            vault.secrets.setdefault(name.lower(), VaultSecret(name)).deleted = True

    # ----- HTTP ------------------------------------------------------------------------------------------

    def route(self, req: Request) -> Route | None:
        """Route for ``req`` when its host is a registered vault, else ``None`` (unregistered vaults stay 502)."""
        vault = self.get(req.host)
        if vault is None:
            return None
        m = _PATH_RE.match(req.path)
        if _LIST_RE.match(req.path) and req.method == "GET":
            endpoint, handler = "kv.secret.list", self._list
        elif m is not None and req.method == "PUT" and not m.group("version"):
            endpoint, handler = "kv.secret.set", self._set
        elif m is not None and req.method == "GET":
            # /secrets/{name}/ (what SecretClient sends for the latest version), /secrets/{name}, or a version
            endpoint, handler = "kv.secret.get", self._get
        else:
            endpoint, handler = "kv.unknown", self._unknown

        def run(r: Request) -> Response:
            try:
                claims = self._authenticate(r, vault)
                return handler(r, vault, claims, m)
            except VaultError as err:
                return self._error(vault, err)

        return Route(endpoint, run, lambda status: self._fault_body(vault, status))

    def _authenticate(self, req: Request, vault: Vault) -> dict[str, Any]:
        scheme, _, token = req.headers.get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise VaultError(401, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.")
        try:
            claims = self._entra.validate_token(token)
        except ValueError as exc:
            raise VaultError(401, "Unauthorized", f"Error validating token: {exc}.") from None
        aud = str(claims.get("aud", ""))
        if aud not in (vault.resource, KEY_VAULT_APP_ID):
            raise VaultError(
                401,
                "Unauthorized",
                f"AKV10022: Invalid audience. Expected {vault.resource} or {KEY_VAULT_APP_ID}, found: {aud}.",
            )
        if str(claims.get("tid", "")).lower() != vault.tenant.lower():
            raise VaultError(
                401,
                "Unauthorized",
                f"AKV10032: Invalid issuer. Expected one of {_issuer(self._authority(vault), vault.tenant)}, "
                f"found {claims.get('iss')}.",
            )
        if req.query.get("api-version") is None:
            raise VaultError(400, "BadParameter", "The 'api-version' query parameter is required.")
        return claims

    def _authorize(self, vault: Vault, claims: dict[str, Any], action: str, name: str) -> None:
        ids = {str(claims.get("appid", "")).lower(), str(claims.get("oid", "")).lower()} - {""}
        with self._lock:
            allowed = vault.allowed_principals
            denied = bool(ids & {p.lower() for p in vault.forbidden}) or (
                allowed is not None and not ids & {p.lower() for p in allowed}
            ) or any(action in acts for p, acts in vault.denied_actions.items() if p.lower() in ids)
        if not denied:
            return
        resource = (
            "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/emulator/providers/"
            f"microsoft.keyvault/vaults/{vault.name}" + (f"/secrets/{name}" if name else "")
        ).lower()
        raise VaultError(
            403,
            "Forbidden",
            "Caller is not authorized to perform action on resource.\r\n"
            "If role assignments, deny assignments or role definitions were changed recently, please observe "
            "propagation time.\r\n"
            f"Caller: appid={claims.get('appid')};oid={claims.get('oid')};iss={claims.get('iss')}\r\n"
            f"Action: 'Microsoft.KeyVault/vaults/secrets/{action}/action'\r\n"
            f"Resource: '{resource}'\r\n"
            "Assignment: (not found)\r\n"
            "DenyAssignmentId: null\r\n"
            "DecisionReason: 'DeniedWithNoValidRBAC' \r\n"
            f"Vault: {vault.name};location=emulator\r\n",
            "ForbiddenByRbac",
        )

    def _set(self, req: Request, vault: Vault, claims: dict[str, Any], m: re.Match[str] | None) -> Response:
        assert m is not None
        name = _check_name(m.group("name"))
        self._authorize(vault, claims, "setSecret", name)
        try:
            body = req.json()
        except ValueError:
            raise VaultError(400, "BadParameter", "The request body is not valid JSON.") from None
        if not isinstance(body, dict) or not isinstance(body.get("value"), str):
            raise VaultError(400, "BadParameter", "Property 'value' is required and must be a string.")
        attrs = body.get("attributes") or {}
        tags = body.get("tags")
        if not isinstance(attrs, dict) or (tags is not None and not isinstance(tags, dict)):
            raise VaultError(400, "BadParameter", "Properties 'attributes' and 'tags' must be objects.")
        enabled = attrs.get("enabled")
        bundle = self.set_secret(
            vault.host,
            name,
            body["value"],
            content_type=body.get("contentType"),
            tags={str(k): str(v) for k, v in tags.items()} if tags is not None else None,
            enabled=True if enabled is None else bool(enabled),
            nbf=_int_date(attrs.get("nbf")),
            exp=_int_date(attrs.get("exp")),
        )
        return Response.json(200, bundle, _headers())

    def _get(self, req: Request, vault: Vault, claims: dict[str, Any], m: re.Match[str] | None) -> Response:
        assert m is not None
        name = _check_name(m.group("name"))
        version_id = m.group("version") or ""
        self._authorize(vault, claims, "getSecret", name)
        with self._lock:
            entry = vault.secrets.get(name.lower())
            found: SecretVersion | None = None
            if entry is not None and not entry.deleted and entry.versions:
                if version_id:
                    found = next((v for v in entry.versions if v.version == version_id.lower()), None)
                else:
                    found = entry.versions[-1]
            if found is None:
                shown = f"{name}/{version_id}" if version_id else name
                raise VaultError(
                    404,
                    "SecretNotFound",
                    f"A secret with (name/id) {shown} was not found in this key vault. If you recently deleted "
                    "this secret you may be able to recover it using the correct recovery command. For help "
                    "resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182",
                )
            if not found.enabled:
                raise VaultError(
                    403, "Forbidden", "Operation get is not allowed on a disabled secret.", "SecretDisabled"
                )
            assert entry is not None
            bundle = _bundle(vault, entry, found)
        return Response.json(200, bundle, _headers())

    def _list(self, req: Request, vault: Vault, claims: dict[str, Any], m: re.Match[str] | None) -> Response:
        self._authorize(vault, claims, "readMetadata", "")
        raw_size = req.query.get("maxresults")
        try:
            size = MAX_PAGE if raw_size is None else int(raw_size)
        except ValueError:
            size = 0
        if not 1 <= size <= MAX_PAGE:
            raise VaultError(400, "BadParameter", f"maxresults must be between 1 and {MAX_PAGE}.")
        after = _skip_marker(req.query.get("$skiptoken"))
        with self._lock:
            entries = sorted((e for e in vault.secrets.values() if not e.deleted and e.versions),
                             key=lambda e: e.name.lower())
            rest = [e for e in entries if after is None or e.name.lower() > after]
            page = rest[:size]
            items = [_item(vault, e, e.versions[-1]) for e in page]
        next_link = None
        if len(rest) > size:
            marker = base64.b64encode(json.dumps({"NextMarker": page[-1].name.lower()}).encode()).decode()
            version = req.query.get("api-version", "")
            next_link = (f"https://{vault.host}:443/secrets?api-version={quote(version)}&$skiptoken={quote(marker)}"
                         f"&maxresults={size}")
        return Response.json(200, {"value": items, "nextLink": next_link}, _headers())

    def _unknown(self, req: Request, vault: Vault, claims: dict[str, Any], m: re.Match[str] | None) -> Response:
        raise VaultError(
            404 if m is None else 405,
            "NotFound" if m is None else "MethodNotAllowed",
            f"{req.method} {req.path} is not modelled by the emulator (only PUT, GET and list of secrets).",
        )

    # ----- responses -------------------------------------------------------------------------------------

    def _authority(self, vault: Vault) -> str:
        tenant = self._entra.tenant(vault.tenant)
        if tenant is not None:
            return tenant.authority_host
        return next(
            (host for suffix, host in _SUFFIX_AUTHORITY.items() if vault.host.endswith(suffix)),
            "login.microsoftonline.com",
        )

    def challenge(self, vault: Vault) -> str:
        """The ``WWW-Authenticate`` value of this vault's 401 responses."""
        return f'Bearer authorization="https://{self._authority(vault)}/{vault.tenant}", resource="{vault.resource}"'

    def _error(self, vault: Vault, err: VaultError) -> Response:
        error: dict[str, Any] = {"code": err.code, "message": err.message}
        if err.inner:
            error["innererror"] = {"code": err.inner}
        headers = _headers()
        if err.status == 401:
            headers["WWW-Authenticate"] = self.challenge(vault)
        return Response.json(err.status, {"error": error}, headers)

    def _fault_body(self, vault: Vault, status: int) -> Response:
        if status == 401:
            err = VaultError(401, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.")
        elif status == 429:
            err = VaultError(
                429, "Throttled", "Request was not processed because too many requests were received."
            )
        elif status >= 500:
            err = VaultError(status, "ServiceUnavailable", "The service is unavailable (injected failure).")
        else:
            err = VaultError(status, "BadParameter", "Injected failure.")
        return self._error(vault, err)


def _check_name(raw: str) -> str:
    name = unquote(raw)
    if not _NAME_RE.match(name):
        raise VaultError(400, "BadParameter", f"The request URI contains an invalid name: {name}")
    return name


def _skip_marker(token: str | None) -> str | None:
    if not token:
        return None
    try:
        marker = json.loads(base64.b64decode(token, validate=True)).get("NextMarker")
    except (binascii.Error, ValueError, AttributeError):
        marker = None
    if not isinstance(marker, str):
        raise VaultError(400, "BadParameter", "The $skiptoken is not valid.")
    return marker


def _int_date(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise VaultError(400, "BadParameter", f"Invalid IntDate value: {value!r}")
    return int(value)


def _issuer(authority: str, tenant: str) -> str:
    group = alias_group(authority)
    if group[0] == "login.microsoftonline.com":
        return f"https://sts.windows.net/{tenant}/"
    return f"https://{group[0]}/{tenant}/"


def _headers() -> dict[str, str]:
    return {
        "Cache-Control": "no-cache",
        "x-ms-request-id": new_id(),
        "x-ms-keyvault-service-version": "1.9.0.0-emulator",
        "x-ms-keyvault-region": "emulator",
    }


def _bundle(vault: Vault, entry: VaultSecret, v: SecretVersion) -> dict[str, Any]:
    """A SecretBundle as Key Vault's JSON has it: optional members are absent when unset."""
    attrs: dict[str, Any] = {"enabled": v.enabled}
    if v.nbf is not None:
        attrs["nbf"] = v.nbf
    if v.exp is not None:
        attrs["exp"] = v.exp
    attrs.update(
        created=v.created,
        updated=v.updated,
        recoveryLevel=RECOVERY_LEVEL,
        recoverableDays=RECOVERABLE_DAYS,
    )
    bundle: dict[str, Any] = {
        "value": v.value,
        "id": f"https://{vault.host}/secrets/{entry.name}/{v.version}",
        "attributes": attrs,
    }
    if v.content_type is not None:
        bundle["contentType"] = v.content_type
    if v.tags is not None:
        bundle["tags"] = copy.deepcopy(v.tags)
    return bundle


def _item(vault: Vault, entry: VaultSecret, v: SecretVersion) -> dict[str, Any]:
    """A SecretItem as Key Vault lists it: the bundle without its value, and an id without the version."""
    item = _bundle(vault, entry, v)
    del item["value"]
    item["id"] = f"https://{vault.host}/secrets/{entry.name}"
    return item


def new_version_id() -> str:
    """A Key Vault version id: 32 lower-case hex digits."""
    return secrets.token_hex(16)
