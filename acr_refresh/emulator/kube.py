"""A minimal Kubernetes API server: object store plus the few core/v1 endpoints acr-refresh reads.

Served over TLS on 127.0.0.1 (certificate for the IP from the emulator CA) with bearer-token auth:

- ``GET /api/v1/namespaces/{ns}/secrets/{name}`` (``kube.secret.get``)
- ``GET /api/v1/namespaces/{ns}/serviceaccounts/{name}`` (``kube.serviceaccount.get``)
- ``POST /api/v1/namespaces/{ns}/serviceaccounts/{name}/token`` (``kube.tokenrequest``): a TokenRequest;
  the token is a service-account JWT (``iss`` = the emulator's issuer, ``sub`` =
  ``system:serviceaccount:<ns>:<name>``, ``aud`` = requested audiences or the issuer, ``exp`` = now +
  ``expirationSeconds`` (default 3600, minimum 600 as the API server enforces)).

Errors are ``Status`` objects (401 Unauthorized, 404 NotFound, 405 MethodNotAllowed, 422 Invalid).

Store layout (ready for writes): namespace name ->
``{"object": <Namespace dict>, "kinds": {plural: {name: obj}}}``; objects are plain API dicts with
``metadata.uid``, ``metadata.resourceVersion`` (one global counter, as etcd's revision)
and ``metadata.creationTimestamp``.
"""

from __future__ import annotations

import base64
import copy
import functools
import re
import secrets
import threading
from collections.abc import Callable
from typing import Any

from . import jwt
from .state import Context, new_id, rfc3339
from .web import Request, Response, Route

_NS = r"^/api/v1/namespaces/(?P<ns>[a-z0-9]([-a-z0-9]*[a-z0-9])?)"
_NAME = r"(?P<name>[a-z0-9]([-.a-z0-9]*[a-z0-9])?)"
_ROUTES: tuple[tuple[str, str, str, re.Pattern[str]], ...] = (
    ("kube.secret.get", "GET", "secrets", re.compile(_NS + r"/secrets/" + _NAME + "$")),
    (
        "kube.serviceaccount.get",
        "GET",
        "serviceaccounts",
        re.compile(_NS + r"/serviceaccounts/" + _NAME + "$"),
    ),
    (
        "kube.tokenrequest",
        "POST",
        "serviceaccounts",
        re.compile(_NS + r"/serviceaccounts/" + _NAME + r"/token$"),
    ),
)
_KINDS = {"secrets": "Secret", "serviceaccounts": "ServiceAccount", "namespaces": "Namespace"}
MIN_TOKEN_SECONDS = 600


def status(code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> Response:
    """A Kubernetes ``Status`` failure response."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = details
    return Response.json(code, body)


def _not_found(plural: str, name: str) -> Response:
    return status(404, "NotFound", f'{plural} "{name}" not found', {"name": name, "kind": plural})


class KubeStore:
    """Namespaces and namespaced objects (plain dicts), guarded by one lock."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._lock = threading.RLock()
        self._namespaces: dict[str, dict[str, Any]] = {}
        self._revision = 0

    def _stamp(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Fill server-owned metadata (uid, creationTimestamp once; resourceVersion on every write)."""
        meta = obj.setdefault("metadata", {})
        meta.setdefault("uid", new_id())
        meta.setdefault("creationTimestamp", rfc3339(self._ctx.clock()))
        self._revision += 1
        meta["resourceVersion"] = str(self._revision)
        return obj

    def add_namespace(self, name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
        """Create or relabel namespace ``name``; returns a copy of the Namespace object."""
        with self._lock:
            entry = self._namespaces.get(name)
            if entry is None:
                obj = {
                    "kind": "Namespace",
                    "apiVersion": "v1",
                    "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}},
                    "spec": {"finalizers": ["kubernetes"]},
                    "status": {"phase": "Active"},
                }
                entry = {"object": obj, "kinds": {}}
                self._namespaces[name] = entry
            entry["object"]["metadata"]["labels"].update(labels or {})
            self._stamp(entry["object"])
            return copy.deepcopy(entry["object"])

    def put(self, plural: str, namespace: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Create or replace an object (namespace created if needed); returns a copy as stored."""
        with self._lock:
            if namespace not in self._namespaces:
                self.add_namespace(namespace)
            obj = copy.deepcopy(obj)
            meta = obj.setdefault("metadata", {})
            meta["namespace"] = namespace
            kinds = self._namespaces[namespace]["kinds"].setdefault(plural, {})
            old = kinds.get(meta["name"])
            if old is not None:  # a replace keeps identity
                meta["uid"] = old["metadata"]["uid"]
                meta["creationTimestamp"] = old["metadata"]["creationTimestamp"]
            kinds[meta["name"]] = self._stamp(obj)
            return copy.deepcopy(obj)

    def get(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        """A copy of the object, or ``None``."""
        with self._lock:
            if plural == "namespaces":
                entry = self._namespaces.get(name)
                return copy.deepcopy(entry["object"]) if entry else None
            entry = self._namespaces.get(namespace)
            if entry is None:
                return None
            obj = entry["kinds"].get(plural, {}).get(name)
            return copy.deepcopy(obj) if obj is not None else None


class KubeApi:
    """The HTTP side: authentication, routing and the TokenRequest issuer."""

    def __init__(self, ctx: Context, store: KubeStore, issuer: str, token: str) -> None:
        self._ctx = ctx
        self.store = store
        self.issuer = issuer
        self.key = jwt.new_key()
        ctx.issuer_keys[issuer] = self.key
        # Bearer tokens accepted by the API server -> user name (room for per-user RBAC later).
        self.tokens: dict[str, str] = {token: "emulator-admin"}

    def issue_token(
        self, namespace: str, name: str, audiences: list[str], expiration_seconds: int = 3600
    ) -> str:
        """A projected service-account token as the API server's TokenRequest issues it."""
        now = self._ctx.now()
        sa = self.store.get("serviceaccounts", namespace, name)
        sa_uid = sa["metadata"]["uid"] if sa else new_id()
        token = jwt.encode(
            {
                "aud": list(audiences) or [self.issuer],
                "exp": now + expiration_seconds,
                "iat": now,
                "iss": self.issuer,
                "jti": new_id(),
                "kubernetes.io": {"namespace": namespace, "serviceaccount": {"name": name, "uid": sa_uid}},
                "nbf": now,
                "sub": f"system:serviceaccount:{namespace}:{name}",
            },
            self.key,
            kid=secrets.token_hex(8),
        )
        self._ctx.remember(token)
        return token

    def route(self, req: Request) -> Route:
        """Route for any request to the API server (authentication happens inside the handler)."""
        for endpoint, method, plural, pattern in _ROUTES:
            m = pattern.match(req.path)
            if m:
                ns, name = m.group("ns"), m.group("name")
                if req.method != method:
                    return Route(
                        endpoint,
                        lambda r: (
                            self._auth(r)
                            or status(
                                405,
                                "MethodNotAllowed",
                                "the server does not allow this method on the requested "
                                "resource (not modelled by the emulator)",
                            )
                        ),
                        _fault_body,
                    )
                handler = self._token_request if endpoint == "kube.tokenrequest" else self._get
                return Route(
                    endpoint,
                    functools.partial(self._authorized, handler, plural, ns, name),
                    _fault_body,
                )
        return Route(
            "kube.unknown",
            lambda r: (
                self._auth(r) or status(404, "NotFound", "the server could not find the requested resource")
            ),
            _fault_body,
        )

    def _authorized(
        self,
        handler: Callable[[Request, str, str, str], Response],
        plural: str,
        ns: str,
        name: str,
        req: Request,
    ) -> Response:
        return self._auth(req) or handler(req, plural, ns, name)

    def _auth(self, req: Request) -> Response | None:
        """``None`` when the bearer token is accepted, else the 401 Status."""
        scheme, _, token = req.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token.strip() in self.tokens:
            return None
        return status(401, "Unauthorized", "Unauthorized")

    def _get(self, req: Request, plural: str, namespace: str, name: str) -> Response:
        obj = self.store.get(plural, namespace, name)
        if obj is None:
            return _not_found(plural, name)
        return Response.json(200, obj)

    def _token_request(self, req: Request, plural: str, namespace: str, name: str) -> Response:
        if self.store.get("serviceaccounts", namespace, name) is None:
            return _not_found(plural, name)
        try:
            body = req.json() or {}
        except ValueError:
            return status(400, "BadRequest", "the request body is not valid JSON")
        spec = body.get("spec") or {}
        audiences = list(spec.get("audiences") or [])
        seconds = spec.get("expirationSeconds")
        seconds = 3600 if seconds is None else int(seconds)
        if seconds < MIN_TOKEN_SECONDS:
            return status(
                422,
                "Invalid",
                f'TokenRequest.authentication.k8s.io "{name}" is invalid: spec.expirationSeconds: '
                f"Invalid value: {seconds}: may not specify a duration less than 10 minutes",
                {"name": name, "group": "authentication.k8s.io", "kind": "TokenRequest"},
            )
        now = self._ctx.now()
        token = self.issue_token(namespace, name, audiences, seconds)
        return Response.json(
            201,
            {
                "kind": "TokenRequest",
                "apiVersion": "authentication.k8s.io/v1",
                "metadata": {"name": name, "namespace": namespace, "creationTimestamp": None},
                "spec": {
                    "audiences": audiences or [self.issuer],
                    "expirationSeconds": seconds,
                    "boundObjectRef": spec.get("boundObjectRef"),
                },
                "status": {"token": token, "expirationTimestamp": rfc3339(now + seconds)},
            },
        )


def secret_object(
    name: str,
    data: dict[str, str],
    type_: str,
    labels: dict[str, str] | None,
    annotations: dict[str, str] | None,
) -> dict[str, Any]:
    """A v1 Secret dict with ``data`` base64-encoded from plain strings."""
    meta: dict[str, Any] = {"name": name}
    if labels:
        meta["labels"] = dict(labels)
    if annotations:
        meta["annotations"] = dict(annotations)
    return {
        "kind": "Secret",
        "apiVersion": "v1",
        "metadata": meta,
        "type": type_,
        "data": {k: base64.b64encode(v.encode()).decode("ascii") for k, v in data.items()},
    }


def service_account_object(name: str, annotations: dict[str, str] | None) -> dict[str, Any]:
    """A v1 ServiceAccount dict."""
    meta: dict[str, Any] = {"name": name}
    if annotations:
        meta["annotations"] = dict(annotations)
    return {"kind": "ServiceAccount", "apiVersion": "v1", "metadata": meta}


def _fault_body(code: int) -> Response:
    reasons = {
        401: "Unauthorized",
        403: "Forbidden",
        404: "NotFound",
        409: "Conflict",
        429: "TooManyRequests",
        500: "InternalError",
        503: "ServiceUnavailable",
        504: "Timeout",
    }
    return status(
        code, reasons.get(code, "InternalError" if code >= 500 else "BadRequest"), "injected failure"
    )
