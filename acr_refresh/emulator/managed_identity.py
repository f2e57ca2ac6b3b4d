"""Emulated managed identity endpoints, plain HTTP on 127.0.0.1 as in Azure.

- IMDS (VMs, AKS node / pod identity):
  ``GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=R`` with header ``Metadata: true``;
  a user-assigned identity is chosen by ``client_id``, ``msi_res_id`` or
  ``object_id`` (MSAL sends ``msi_res_id`` for a resource id). Answers with string-valued ``access_token``,
  ``client_id``, ``expires_in``, ``expires_on``, ``ext_expires_in``, ``not_before``, ``resource``,
  ``token_type``. Errors are ``{"error", "error_description"}`` with 400. Endpoint name ``mi.imds``.
- App Service / Functions: ``GET <IDENTITY_ENDPOINT>?api-version=2019-08-01&resource=R`` with header
  ``X-IDENTITY-HEADER``; selectors ``client_id``, ``mi_res_id`` (MSAL's spelling for App Service) or
  ``object_id``. Answers with ``access_token``, ``expires_on`` (string epoch seconds), ``resource``,
  ``token_type``, ``client_id``; errors as ``{"statusCode", "message", "correlationId"}``.
  Endpoint name ``mi.appservice``.

With no selector, the system-assigned identity is used; failing that, the only user-assigned identity
(IMDS behaviour); with several user-assigned ones and no system-assigned, 400.
"""

from __future__ import annotations

from .entra import Entra, Principal
from .state import Context, new_id
from .web import Request, Response, Route

IMDS_PATH = "/metadata/identity/oauth2/token"
APP_SERVICE_PATH = "/msi/token"


class _NoIdentity(Exception):
    pass


class ManagedIdentities:
    """The identities assigned to "this machine" and the two token endpoints that serve them."""

    def __init__(self, ctx: Context, entra: Entra, identity_header: str) -> None:
        self._ctx = ctx
        self._entra = entra
        self.identity_header = identity_header
        self._identities: list[Principal] = []

    def add(
        self,
        *,
        tenant_id: str,
        client_id: str | None,
        resource_id: str | None,
        object_id: str | None,
        system_assigned: bool,
    ) -> Principal:
        """Assign an identity; ids not given are generated. The identity is also a principal of its tenant."""
        if system_assigned and any(i.system_assigned for i in self._identities):
            raise ValueError("there is already a system-assigned identity")
        if self._entra.tenant(tenant_id) is None:
            self._entra.add_tenant(tenant_id)
        client_id = client_id or new_id()
        if resource_id is None:
            sub = new_id()
            resource_id = (
                f"/subscriptions/{sub}/resourceGroups/emulator/providers/Microsoft.Compute/virtualMachines/vm"
                if system_assigned
                else f"/subscriptions/{sub}/resourceGroups/emulator/providers/"
                f"Microsoft.ManagedIdentity/userAssignedIdentities/id-{client_id[:8]}"
            )
        principal = self._entra.add_principal(
            tenant_id,
            client_id,
            kind="managed_identity",
            resource_id=resource_id,
            system_assigned=system_assigned,
            **({"object_id": object_id} if object_id else {}),
        )
        self._identities.append(principal)
        return principal

    def _select(self, client_id: str | None, resource_id: str | None, object_id: str | None) -> Principal:
        if client_id:
            found = [i for i in self._identities if i.client_id.lower() == client_id.lower()]
        elif resource_id:
            found = [i for i in self._identities if (i.resource_id or "").lower() == resource_id.lower()]
        elif object_id:
            found = [i for i in self._identities if i.object_id.lower() == object_id.lower()]
        else:
            found = [i for i in self._identities if i.system_assigned]
            if not found:
                user = [i for i in self._identities if not i.system_assigned]
                if len(user) > 1:
                    raise _NoIdentity(
                        "Multiple user assigned identities exist, please specify the clientId / "
                        "resourceId of the identity in the token request"
                    )
                found = user
        if not found:
            raise _NoIdentity("Identity not found")
        return found[0]

    # ----- HTTP ------------------------------------------------------------------------------------------

    def route(self, req: Request) -> Route:
        """Route for a request to the managed identity HTTP server."""
        if req.path == IMDS_PATH:
            return Route("mi.imds", self._imds, _imds_fault)
        if req.path.rstrip("/").lower() == APP_SERVICE_PATH:
            return Route("mi.appservice", self._app_service, _app_service_fault)
        return Route("mi.unknown", lambda r: Response.text(404, "Not Found"), _imds_fault)

    def _imds(self, req: Request) -> Response:
        if req.method != "GET":
            return _imds_error(405, "invalid_request", "Method not allowed")
        if req.headers.get("metadata", "").lower() != "true":
            return _imds_error(400, "invalid_request", "Required metadata header not specified")
        if "x-forwarded-for" in req.headers:
            # IMDS refuses anything that came through a proxy.
            return _imds_error(400, "invalid_request", "Request must not contain X-Forwarded-For header")
        for name in ("api-version", "resource"):
            if not req.query.get(name):
                return _imds_error(400, "invalid_request", f"Required query variable '{name}' is missing")
        if req.query["api-version"] < "2018-02-01":
            return _imds_error(400, "invalid_request", "Invalid api-version")
        try:
            identity = self._select(
                req.query.get("client_id"), req.query.get("msi_res_id"), req.query.get("object_id")
            )
        except _NoIdentity as exc:
            return _imds_error(400, "invalid_request", str(exc))
        now = self._ctx.now()
        token, expires_in = self._entra.issue_token(identity, req.query["resource"], appidacr="2")
        return Response.json(
            200,
            {
                "access_token": token,
                "client_id": identity.client_id,
                "expires_in": str(expires_in),
                "expires_on": str(now + expires_in),
                "ext_expires_in": str(expires_in),
                "not_before": str(now),
                "resource": req.query["resource"],
                "token_type": "Bearer",
            },
        )

    def _app_service(self, req: Request) -> Response:
        if req.method != "GET":
            return _app_service_error(405, "Method not allowed")
        if req.headers.get("x-identity-header") != self.identity_header:
            return _app_service_error(401, "The X-IDENTITY-HEADER is missing or invalid.")
        if req.query.get("api-version") != "2019-08-01":
            return _app_service_error(400, "The api-version is missing or not supported; use 2019-08-01.")
        if not req.query.get("resource"):
            return _app_service_error(400, "The resource parameter is missing.")
        try:
            identity = self._select(
                req.query.get("client_id"), req.query.get("mi_res_id"), req.query.get("object_id")
            )
        except _NoIdentity:
            return _app_service_error(400, "Unable to load the proper Managed Identity.")
        now = self._ctx.now()
        token, expires_in = self._entra.issue_token(identity, req.query["resource"], appidacr="2")
        return Response.json(
            200,
            {
                "access_token": token,
                "expires_on": str(now + expires_in),
                "resource": req.query["resource"],
                "token_type": "Bearer",
                "client_id": identity.client_id,
            },
        )


def _imds_error(status: int, error: str, description: str) -> Response:
    return Response.json(status, {"error": error, "error_description": description})


def _app_service_error(status: int, message: str) -> Response:
    return Response.json(status, {"statusCode": status, "message": message, "correlationId": new_id()})


def _imds_fault(status: int) -> Response:
    return _imds_error(
        status, "service_unavailable" if status >= 500 else "invalid_request", "Injected failure"
    )


def _app_service_fault(status: int) -> Response:
    return _app_service_error(status, "Injected failure")
