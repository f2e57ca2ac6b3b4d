"""A small Kubernetes API server: an object store plus the core/v1 endpoints acr-refresh reads and writes.

Served over TLS on 127.0.0.1 (certificate for the IP from the emulator CA) with bearer-token auth: the
emulator's ``kube_token`` (user ``system:serviceaccount:acr-refresh:acr-refresh`` unless configured
otherwise) and, after ``enable_aks``, Entra access tokens of this emulator for the AKS server application
(``aud`` = ``6dae42f8-4368-4678-94ff-3960e28e3630``, what Entra puts for the scope
``6dae42f8-4368-4678-94ff-3960e28e3630/.default``; user name = the token's ``oid``). Anything else: 401.

Endpoints (endpoint names in parentheses; ``{kind}`` is ``secret`` or ``serviceaccount``):

- ``GET /api/v1/namespaces`` (``kube.namespace.list``) and ``GET /api/v1/namespaces/{ns}``
  (``kube.namespace.get``).
- ``GET .../namespaces/{ns}/{secrets|serviceaccounts}`` and ``GET /api/v1/{secrets|serviceaccounts}``
  (``kube.{kind}.list``): ``labelSelector`` (``k=v``, ``k==v``, ``k!=v``, ``k in (a,b)``, ``k notin (a,b)``,
  ``k``, ``!k``), ``fieldSelector`` (``metadata.name``, ``metadata.namespace``, and ``type`` for Secrets; ``=``,
  ``==``, ``!=``), ``limit``/``continue``. Items carry no ``kind``/``apiVersion``, as in real lists.
- ``GET .../{name}`` (``kube.{kind}.get``); ``POST`` to the collection (``kube.{kind}.create``: 201, 409
  AlreadyExists; ``generateName`` honoured); ``PUT .../{name}`` (``kube.secret.replace`` /
  ``kube.serviceaccount.update``: 404 when missing, 409 Conflict when ``metadata.resourceVersion`` is set and
  stale); ``DELETE .../{name}`` (``kube.{kind}.delete``: 200 with a Status Success for a Secret and the
  deleted object for a ServiceAccount, as the real registries answer; 404; 409 on failed preconditions).
- ``PATCH .../{name}`` with ``application/apply-patch+yaml`` (``kube.{kind}.apply``, server-side apply; JSON
  body; ``fieldManager`` required, ``force`` accepted): creates the object (201) when missing, else merges
  it in (200): ``metadata.labels``/``annotations`` merged key by key (applied keys win), ``ownerReferences``
  merged by uid, Secret ``data``/``stringData`` merged over the existing keys, any other top-level field
  (``type``, ``immutable``, ``imagePullSecrets``, ...) replaced when present.
- ``PATCH .../{name}`` with ``application/merge-patch+json`` or ``application/strategic-merge-patch+json``
  (both applied as an RFC 7386 merge patch; ``$patch``-style directives are dropped) or
  ``application/json-patch+json`` (RFC 6902) (``kube.{kind}.patch``); other media types: 415.
- ``POST .../serviceaccounts/{name}/token`` (``kube.tokenrequest``): a TokenRequest; the token is a
  service-account JWT (``iss`` = the emulator's issuer, ``sub`` = ``system:serviceaccount:<ns>:<name>``,
  ``aud`` = requested audiences or the issuer, ``exp`` = now + ``expirationSeconds`` (default 3600, minimum
  600 as the API server enforces)).

- ``/apis/events.k8s.io/v1/namespaces/{ns}/events[/{name}]`` (``kube.event.{get,list,create,update,patch,
  delete}``): Events, validated as the API server validates an events.k8s.io/v1 request (required
  ``eventTime``/``reportingController``/``reportingInstance``/``action``/``reason``, ``type`` Normal or Warning,
  ``series.count`` at least 2, the ``deprecated*`` fields unset; as v1.20, no immutable fields on update).
  :meth:`KubeApi.forbid_events` denies them in a namespace.

Rules the real API server applies and this one does too: a write to a namespace that does not exist is 404
``namespaces "x" not found``; objects are validated (:mod:`.kube_objects`: DNS-1123 names, labels,
data keys, base64 data -> 400, the keys each Secret type needs, immutable ``type`` -> 422 Invalid with
``field is immutable``); ``stringData`` is folded into ``data``; ``resourceVersion`` (one global counter, as
etcd's revision) changes on every write that changes the object, and a write that changes nothing (e.g. the
same apply twice) leaves the object, its ``resourceVersion`` and its ``managedFields`` alone; ``uid`` and
``creationTimestamp`` (emulator clock) are set on create; ``?dryRun=All`` validates without storing.
``metadata.managedFields`` gets one entry ``{manager, operation: "Apply"|"Update", apiVersion: "v1", time}``
per manager and operation; the manager of a non-apply write is ``fieldManager`` or, like the API server,
the User-Agent up to its first ``/`` (``OpenAPI-Generator`` for the Python client). A ``managedFields`` of
``[{}]`` or ``[]`` in an update or patch clears the list (as v1.20 does); no field keeps it; an object without
entries records no Update until an Apply, which starts with ``before-first-apply`` (:mod:`.fieldsets`).

Authorization: every request of an authenticated user is allowed, except the verbs a namespace was made to
forbid (:meth:`KubeApi.forbid`) on Secrets, ServiceAccounts and ``serviceaccounts/token`` in it: 403 with the
RBAC message (``secrets "x" is forbidden: User "..." cannot patch resource "secrets" in API group "" in the
namespace "ns"``; no name for create and list). A list across all namespaces is refused when any namespace
forbids ``list``, since RBAC would need a cluster-wide grant that also covers that namespace.

Errors are ``Status`` objects (400 BadRequest, 401 Unauthorized, 403 Forbidden, 404 NotFound, 405
MethodNotAllowed, 409 AlreadyExists/Conflict, 415 UnsupportedMediaType, 422 Invalid).

Store layout: namespace name -> ``{"object": <Namespace dict>, "kinds": {plural: {name: obj}}}``; objects are
plain API dicts.
"""

from __future__ import annotations

import base64
import binascii
import copy
import functools
import secrets
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from . import fieldsets, jwt
from .entra import Entra
from .kube_objects import (
    FieldError,
    PatchError,
    SelectorError,
    decode_data,
    fields_match,
    json_patch,
    labels_match,
    merge_patch,
    parse_field_selector,
    parse_label_selector,
    validate_event,
    validate_secret,
    validate_secret_update,
    validate_service_account,
)
from .state import Context, new_id, rfc3339
from .web import Request, Response, Route

AKS_SERVER_APP = "6dae42f8-4368-4678-94ff-3960e28e3630"
DEFAULT_USER = "system:serviceaccount:acr-refresh:acr-refresh"
MIN_TOKEN_SECONDS = 600
VERBS = frozenset({"get", "list", "create", "update", "patch", "delete"})

APPLY_PATCH = "application/apply-patch+yaml"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"

_KINDS = {"secrets": "Secret", "serviceaccounts": "ServiceAccount", "namespaces": "Namespace", "events": "Event",
          "configmaps": "ConfigMap"}
_SINGULAR = {"secrets": "secret", "serviceaccounts": "serviceaccount", "events": "event", "configmaps": "configmap"}
# Resources outside the core group: (group, apiVersion). Events are served as events.k8s.io/v1 only.
_GROUPS = {"events": ("events.k8s.io", "events.k8s.io/v1")}
EVENTS_PREFIX = "/apis/events.k8s.io/v1/"
# Endpoint-name suffix per verb (a PUT is "replace" for Secrets and "update" for ServiceAccounts).
_VERB_ENDPOINTS = {
    "secrets": {
        "get": "get",
        "list": "list",
        "create": "create",
        "update": "replace",
        "apply": "apply",
        "patch": "patch",
        "delete": "delete",
    },
    "serviceaccounts": {
        "get": "get",
        "list": "list",
        "create": "create",
        "update": "update",
        "apply": "apply",
        "patch": "patch",
        "delete": "delete",
    },
    "events": {"get": "get", "list": "list", "create": "create", "update": "update", "patch": "patch",
               "delete": "delete"},
    # ConfigMaps are read (templateFrom) and seeded by tests (Emulator.add_configmap); writes are not modelled.
    "configmaps": {"get": "get", "list": "list"},
}
KUBE_ENDPOINTS: tuple[str, ...] = (
    "kube.namespace.list",
    "kube.namespace.get",
    *(f"kube.{_SINGULAR[p]}.{v}" for p, verbs in _VERB_ENDPOINTS.items() for v in verbs.values()),
    "kube.tokenrequest",
)
_FIELD_SELECTABLE = {
    "secrets": frozenset({"metadata.name", "metadata.namespace", "type"}),
    "serviceaccounts": frozenset({"metadata.name", "metadata.namespace"}),
    "namespaces": frozenset({"metadata.name", "status.phase"}),
    "events": frozenset({"metadata.name", "metadata.namespace"}),
    "configmaps": frozenset({"metadata.name", "metadata.namespace"}),
}
_GENERATE_CHARS = "bcdfghjklmnpqrstvwxz2456789"


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


class _StatusError(Exception):
    """Raised inside handlers to answer a ``Status``."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def _fail(code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> _StatusError:
    return _StatusError(status(code, reason, message, details))


def _resource(plural: str) -> str:
    """The resource as the API server names it in messages: ``events.events.k8s.io`` outside the core group."""
    return f"{plural}.{_GROUPS[plural][0]}" if plural in _GROUPS else plural


def _api_version(plural: str) -> str:
    return _GROUPS[plural][1] if plural in _GROUPS else "v1"


def _details(plural: str, name: str) -> dict[str, Any]:
    return {"name": name, **({"group": _GROUPS[plural][0]} if plural in _GROUPS else {}), "kind": plural}


def _not_found(plural: str, name: str) -> _StatusError:
    return _fail(404, "NotFound", f'{_resource(plural)} "{name}" not found', _details(plural, name))


def _bad_request(message: str) -> _StatusError:
    return _fail(400, "BadRequest", message)


def _invalid(plural: str, name: str, errors: list[FieldError]) -> _StatusError:
    kind = _KINDS[plural]
    texts = [e.message() for e in errors]
    summary = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    causes = [{"reason": e.reason, "message": e.body(), "field": e.field} for e in errors]
    qualified = f"{kind}.{_GROUPS[plural][0]}" if plural in _GROUPS else kind
    return _fail(
        422, "Invalid", f'{qualified} "{name}" is invalid: {summary}',
        {**_details(plural, name), "kind": kind, "causes": causes}
    )


def _conflict(plural: str, name: str) -> _StatusError:
    return _fail(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {_resource(plural)} "{name}": the object has been modified; please '
        "apply your changes to the latest version and try again",
        _details(plural, name),
    )


class KubeStore:
    """Namespaces and namespaced objects (plain dicts). ``lock`` guards every read-modify-write."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self.lock = threading.RLock()
        self._namespaces: dict[str, dict[str, Any]] = {}
        self._revision = 0

    @property
    def revision(self) -> str:
        """The current global resourceVersion (of the last write)."""
        with self.lock:
            return str(self._revision)

    def _stamp(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Fill server-owned metadata (uid, creationTimestamp once; resourceVersion on every write)."""
        meta = obj.setdefault("metadata", {})
        meta.setdefault("uid", new_id())
        meta.setdefault("creationTimestamp", rfc3339(self._ctx.clock()))
        self._revision += 1
        meta["resourceVersion"] = str(self._revision)
        return obj

    def has_namespace(self, name: str) -> bool:
        with self.lock:
            return name in self._namespaces

    def add_namespace(self, name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
        """Create or relabel namespace ``name``; returns a copy of the Namespace object."""
        with self.lock:
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

    def namespaces(self) -> list[dict[str, Any]]:
        """Copies of every Namespace, by name."""
        with self.lock:
            return [copy.deepcopy(self._namespaces[n]["object"]) for n in sorted(self._namespaces)]

    def put(self, plural: str, namespace: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Seed helper: create or replace an object (namespace created if needed, no validation); returns a
        copy as stored."""
        with self.lock:
            if namespace not in self._namespaces:
                self.add_namespace(namespace)
            obj = copy.deepcopy(obj)
            meta = obj.setdefault("metadata", {})
            meta["namespace"] = namespace
            old = self._namespaces[namespace]["kinds"].get(plural, {}).get(meta["name"])
            if old is not None:  # a replace keeps identity
                meta["uid"] = old["metadata"]["uid"]
                meta["creationTimestamp"] = old["metadata"]["creationTimestamp"]
            return self.save(plural, namespace, obj)

    def save(self, plural: str, namespace: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Store ``obj`` as given in an existing namespace, with a new resourceVersion; returns a copy."""
        with self.lock:
            obj = self._stamp(copy.deepcopy(obj))
            self._namespaces[namespace]["kinds"].setdefault(plural, {})[obj["metadata"]["name"]] = obj
            return copy.deepcopy(obj)

    def delete(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        """Remove an object; returns it, or ``None`` when there was none."""
        with self.lock:
            entry = self._namespaces.get(namespace)
            if entry is None:
                return None
            return entry["kinds"].get(plural, {}).pop(name, None)

    def get(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        """A copy of the object, or ``None``."""
        with self.lock:
            if plural == "namespaces":
                entry = self._namespaces.get(name)
                return copy.deepcopy(entry["object"]) if entry else None
            entry = self._namespaces.get(namespace)
            if entry is None:
                return None
            obj = entry["kinds"].get(plural, {}).get(name)
            return copy.deepcopy(obj) if obj is not None else None

    def list(self, plural: str, namespace: str | None) -> list[dict[str, Any]]:
        """Copies of the objects of one namespace (``None``: all), ordered by namespace and name."""
        with self.lock:
            names = [namespace] if namespace is not None else sorted(self._namespaces)
            result: list[dict[str, Any]] = []
            for ns in names:
                entry = self._namespaces.get(ns)
                if entry is None:
                    continue
                objs = entry["kinds"].get(plural, {})
                result.extend(copy.deepcopy(objs[n]) for n in sorted(objs))
            return result


class KubeApi:
    """The HTTP side: authentication, authorization, routing, handlers and the TokenRequest issuer."""

    def __init__(
        self,
        ctx: Context,
        store: KubeStore,
        issuer: str,
        token: str,
        *,
        entra: Entra | None = None,
        user: str = DEFAULT_USER,
    ) -> None:
        self._ctx = ctx
        self.store = store
        self.issuer = issuer
        self.key = jwt.new_key()
        ctx.issuer_keys[issuer] = self.key
        self._entra = entra
        self._lock = threading.Lock()
        # Bearer tokens accepted by the API server -> user name.
        self.tokens: dict[str, str] = {token: user}
        # namespace -> forbidden verbs (None: all verbs)
        self.forbidden: dict[str, frozenset[str] | None] = {}
        self.aks_enabled = False
        self.aks_tenant: str | None = None
        self.forbidden_events: set[str] = set()  # namespaces where every verb on Events is denied

    # ----- configuration ---------------------------------------------------------------------------------

    def forbid(self, namespace: str, verbs: set[str] | frozenset[str] | list[str] | None = None) -> None:
        """Deny ``verbs`` (``None``: all) on Secrets and ServiceAccounts in ``namespace``; adds to earlier
        denials of the same namespace."""
        if verbs is not None:
            unknown = set(verbs) - VERBS
            if unknown:
                raise ValueError(f"unknown verbs {sorted(unknown)}; expected some of {sorted(VERBS)}")
        with self._lock:
            current = self.forbidden.get(namespace, frozenset())
            if verbs is None or current is None:
                self.forbidden[namespace] = None
            else:
                self.forbidden[namespace] = current | frozenset(verbs)

    def allow(self, namespace: str) -> None:
        """Undo :meth:`forbid` for ``namespace``."""
        with self._lock:
            self.forbidden.pop(namespace, None)

    def forbid_events(self, namespace: str, forbid: bool = True) -> None:
        """Deny (or, with ``forbid=False``, allow again) every verb on Events in ``namespace``; :meth:`forbid`
        leaves Events alone, as a separate RBAC rule grants them."""
        with self._lock:
            (self.forbidden_events.add if forbid else self.forbidden_events.discard)(namespace)

    def enable_aks(self, tenant: str | None = None) -> None:
        """Also accept Entra tokens for the AKS server application (of ``tenant`` only, when given)."""
        if self._entra is None:
            raise RuntimeError("AKS authentication needs the emulator's Entra ID")
        with self._lock:
            self.aks_enabled = True
            self.aks_tenant = tenant

    # ----- tokens ----------------------------------------------------------------------------------------

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

    # ----- routing ---------------------------------------------------------------------------------------

    def route(self, req: Request) -> Route:
        """Route for any request to the API server (authentication happens inside the handler)."""
        parsed = _parse_path(req.path)
        if parsed is None:
            return self._unknown_route(404)
        plural, ns, name, sub = parsed
        if plural == "namespaces":
            if req.method != "GET":
                return self._unknown_route(405)
            if name is None:
                return self._route("kube.namespace.list", self._list_namespaces, "list", plural, None, None)
            return self._route("kube.namespace.get", self._get_namespace, "get", plural, None, name)
        if plural not in _SINGULAR or (ns is None and name is not None):
            return self._unknown_route(404)
        if sub is not None:
            if plural == "serviceaccounts" and sub == "token" and ns is not None and name is not None:
                if req.method != "POST":
                    return self._unknown_route(405, "kube.tokenrequest")
                return self._route(
                    "kube.tokenrequest", self._token_request, "create", plural, ns, name, sub="token"
                )
            return self._unknown_route(404)
        verb = _verb(req.method, name, _content_type(req))
        if verb is None or (ns is None and verb != "list") or verb not in _VERB_ENDPOINTS[plural]:
            return self._unknown_route(405)
        endpoint = f"kube.{_SINGULAR[plural]}.{_VERB_ENDPOINTS[plural][verb]}"
        handler = getattr(self, "_" + verb)
        return self._route(endpoint, handler, verb, plural, ns, name)

    def _route(
        self,
        endpoint: str,
        handler: Callable[[Request, str, str | None, str | None], Response],
        verb: str,
        plural: str,
        ns: str | None,
        name: str | None,
        *,
        sub: str = "",
    ) -> Route:
        serve = functools.partial(self._serve, handler, verb, plural, ns, name, sub)
        return Route(endpoint, serve, _fault_body)

    def _unknown_route(self, code: int, endpoint: str = "kube.unknown") -> Route:
        def handler(req: Request) -> Response:
            denied = self._authenticate(req)
            if isinstance(denied, Response):
                return denied
            if code == 405:
                return status(
                    405,
                    "MethodNotAllowed",
                    "the server does not allow this method on the requested resource (not modelled by the "
                    "emulator)",
                )
            return status(404, "NotFound", "the server could not find the requested resource")

        return Route(endpoint, handler, _fault_body)

    def _serve(
        self,
        handler: Callable[[Request, str, str | None, str | None], Response],
        verb: str,
        plural: str,
        ns: str | None,
        name: str | None,
        sub: str,
        req: Request,
    ) -> Response:
        user = self._authenticate(req)
        if isinstance(user, Response):
            return user
        try:
            if plural != "namespaces":
                self._authorize(user, verb, plural, ns, name, sub=sub)
            return handler(req, plural, ns, name)
        except _StatusError as err:
            return err.response

    # ----- authentication and authorization --------------------------------------------------------------

    def _authenticate(self, req: Request) -> str | Response:
        """The user name for the bearer token, or the 401 Status."""
        scheme, _, token = req.headers.get("authorization", "").partition(" ")
        token = token.strip()
        unauthorized = status(401, "Unauthorized", "Unauthorized")
        if scheme.lower() != "bearer" or not token:
            return unauthorized
        with self._lock:
            user = self.tokens.get(token)
            aks, aks_tenant = self.aks_enabled, self.aks_tenant
        if user is not None:
            return user
        if not aks or self._entra is None:
            return unauthorized
        try:
            claims = self._entra.validate_token(token)
        except ValueError:
            return unauthorized
        if AKS_SERVER_APP not in jwt.audiences(claims):
            return unauthorized
        if aks_tenant is not None and str(claims.get("tid", "")).lower() != aks_tenant.lower():
            return unauthorized
        return str(claims.get("oid") or claims.get("sub") or "")

    def _authorize(
        self, user: str, verb: str, plural: str, ns: str | None, name: str | None, *, sub: str = ""
    ) -> None:
        rbac_verb = {"apply": "patch"}.get(verb, verb)
        resource = f"{plural}/{sub}" if sub else plural
        with self._lock:
            forbidden = dict(self.forbidden)
            if plural == "events":
                forbidden = {n: None for n in self.forbidden_events}
        group = _GROUPS[plural][0] if plural in _GROUPS else ""
        if ns is None:
            if any(v is None or rbac_verb in v for v in forbidden.values()):
                raise _fail(
                    403,
                    "Forbidden",
                    f'{_resource(plural)} is forbidden: User "{user}" cannot {rbac_verb} resource "{resource}" in '
                    f'API group "{group}" at the cluster scope',
                    {"kind": plural},
                )
            return
        if ns not in forbidden:
            return
        verbs = forbidden[ns]
        if verbs is not None and rbac_verb not in verbs:
            return
        # The URL's name, if any (a create POSTs to the collection: no name, as in the API server's message).
        what = f'{_resource(plural)} "{name}"' if name else _resource(plural)
        details: dict[str, Any] = _details(plural, name or "")
        if not name:
            del details["name"]
        raise _fail(
            403,
            "Forbidden",
            f'{what} is forbidden: User "{user}" cannot {rbac_verb} resource "{resource}" in API group "{group}" '
            f'in the namespace "{ns}"',
            details,
        )

    # ----- namespaces ------------------------------------------------------------------------------------

    def _list_namespaces(self, req: Request, plural: str, ns: str | None, name: str | None) -> Response:
        return self._list_response(req, "namespaces", self.store.namespaces())

    def _get_namespace(self, req: Request, plural: str, ns: str | None, name: str | None) -> Response:
        assert name is not None
        obj = self.store.get("namespaces", "", name)
        if obj is None:
            raise _not_found("namespaces", name)
        return Response.json(200, obj)

    # ----- reads -----------------------------------------------------------------------------------------

    def _get(self, req: Request, plural: str, ns: str | None, name: str | None) -> Response:
        assert ns is not None and name is not None
        obj = self.store.get(plural, ns, name)
        if obj is None:
            raise _not_found(plural, name)
        return Response.json(200, obj)

    def _list(self, req: Request, plural: str, ns: str | None, name: str | None) -> Response:
        return self._list_response(req, plural, self.store.list(plural, ns))

    def _list_response(self, req: Request, plural: str, items: list[dict[str, Any]]) -> Response:
        if req.query.get("watch", "").lower() in ("true", "1"):
            raise _bad_request("watch is not modelled by the emulator")
        try:
            labels = parse_label_selector(req.query.get("labelSelector", ""))
            fields = parse_field_selector(req.query.get("fieldSelector", ""), _FIELD_SELECTABLE[plural])
        except SelectorError as exc:
            raise _bad_request(str(exc)) from None
        revision = self.store.revision
        items = [
            o for o in items if labels_match(labels, o["metadata"].get("labels")) and fields_match(fields, o)
        ]
        try:
            limit = int(req.query.get("limit") or 0)
            offset = int(base64.urlsafe_b64decode(req.query["continue"]).decode()) if req.query.get("continue") else 0
        except (ValueError, binascii.Error):
            raise _bad_request("invalid limit or continue parameter") from None
        meta: dict[str, Any] = {"resourceVersion": revision}
        if limit > 0:
            rest = items[offset + limit :]
            items = items[offset : offset + limit]
            if rest:
                meta["continue"] = base64.urlsafe_b64encode(str(offset + limit).encode()).decode()
                meta["remainingItemCount"] = len(rest)
        if "as=partialobjectmetadatalist" in req.headers.get("accept", "").lower().replace(" ", ""):
            # Metadata only (what `kubectl get --show-kind` and prune-style callers ask for): no data at all.
            partial = [{"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"]}
                       for o in items]
            return Response.json(200, {"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1",
                                       "metadata": meta, "items": partial})
        for obj in items:
            obj.pop("kind", None)
            obj.pop("apiVersion", None)
        return Response.json(
            200, {"kind": _KINDS[plural] + "List", "apiVersion": _api_version(plural), "metadata": meta,
                  "items": items}
        )

    # ----- writes ----------------------------------------------------------------------------------------

    def _create(self, req: Request, plural: str, ns: str | None, name: str | None) -> Response:
        assert ns is not None
        dry_run = _dry_run(req)
        obj = _decode_body(req, plural)
        meta = obj.setdefault("metadata", {})
        _check_namespace(meta, ns)
        meta["namespace"] = ns  # from the URL, as the API server fills it
        if meta.get("resourceVersion"):
            raise _bad_request("resourceVersion should not be set on objects to be created")
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = str(meta["generateName"]) + "".join(secrets.choice(_GENERATE_CHARS) for _ in range(5))
        name = str(meta.get("name") or "")
        with self.store.lock:
            if not self.store.has_namespace(ns):
                raise _not_found("namespaces", ns)
            _normalize(plural, obj)
            _set_managed_fields(meta, None)
            self._validate(plural, name, obj, None)
            if self.store.get(plural, ns, name) is not None:
                raise _fail(
                    409, "AlreadyExists", f'{plural} "{name}" already exists', {"name": name, "kind": plural}
                )
            return self._commit(plural, ns, name, obj, None, _manager(req), "Update", dry_run, 201)

    def _update(self, req: Request, plural: str, ns: str | None, name: str | None) -> Response:
        assert ns is not None and name is not None
        dry_run = _dry_run(req)
        obj = _decode_body(req, plural)
        meta = obj.setdefault("metadata", {})
        _check_name(meta, name, required=True)
        _check_namespace(meta, ns)
        with self.store.lock:
            old = self.store.get(plural, ns, name)
            if old is None:
                raise _not_found(plural, name)
            if meta.get("resourceVersion") and meta["resourceVersion"] != old["metadata"]["resourceVersion"]:
                raise _conflict(plural, name)
            _normalize(plural, obj)
            _set_managed_fields(meta, old)
            self._validate(plural, name, obj, old)
            return self._commit(plural, ns, name, obj, old, _manager(req), "Update", dry_run, 200)

    def _apply(self, req: Request, plural: str, ns: str | None, name: str | None) -> Response:
        assert ns is not None and name is not None
        dry_run = _dry_run(req)
        manager = req.query.get("fieldManager", "")
        if not manager:
            raise _bad_request("PATCH, application/apply-patch+yaml: fieldManager is required for apply requests")
        if len(manager) > 128:
            raise _bad_request("fieldManager: Too long: must have at most 128 bytes")
        if req.query.get("force", "false").lower() not in ("true", "false", "1", "0"):
            raise _bad_request(f"invalid value for force: {req.query['force']!r}")
        force = req.query.get("force", "false").lower() in ("true", "1")
        kind = _KINDS[plural]
        try:
            applied = req.json()
        except ValueError:
            raise _bad_request(
                "error decoding YAML: the emulator models JSON apply bodies only (JSON is YAML)"
            ) from None
        if not isinstance(applied, dict):
            raise _bad_request("the applied configuration must be an object")
        if applied.get("apiVersion") != "v1" or applied.get("kind") != kind:
            raise _bad_request(
                f"apply patch for {plural} must set apiVersion: v1 and kind: {kind} (got apiVersion "
                f"{applied.get('apiVersion')!r}, kind {applied.get('kind')!r})"
            )
        meta = applied.get("metadata") or {}
        if not isinstance(meta, dict):
            raise _bad_request("metadata must be an object")
        _check_name(meta, name)
        _check_namespace(meta, ns)
        if meta.get("managedFields") is not None:
            raise _bad_request("metadata.managedFields must be nil")
        if plural == "secrets":
            _decode_secret_data(applied)
        with self.store.lock:
            old = self.store.get(plural, ns, name)
            if old is None:
                if not self.store.has_namespace(ns):
                    raise _not_found("namespaces", ns)
                if meta.get("resourceVersion"):
                    raise _conflict(plural, name)
                obj = copy.deepcopy(applied)
                obj.setdefault("metadata", {})["name"] = name
                _normalize(plural, obj)
                self._validate(plural, name, obj, None)
                return self._commit(plural, ns, name, obj, None, manager, "Apply", dry_run, 201,
                                    applied=applied, force=force)
            if meta.get("resourceVersion") and meta["resourceVersion"] != old["metadata"]["resourceVersion"]:
                raise _conflict(plural, name)
            obj = _apply_merge(old, applied)
            _normalize(plural, obj)
            self._validate(plural, name, obj, old)
            return self._commit(plural, ns, name, obj, old, manager, "Apply", dry_run, 200,
                                applied=applied, force=force)

    def _patch(self, req: Request, plural: str, ns: str | None, name: str | None) -> Response:
        assert ns is not None and name is not None
        ctype = _content_type(req)
        if ctype not in (MERGE_PATCH, STRATEGIC_MERGE_PATCH, JSON_PATCH):
            raise _fail(
                415,
                "UnsupportedMediaType",
                f"the body of the request was in an unknown format - accepted media types include: "
                f"{JSON_PATCH}, {MERGE_PATCH}, {APPLY_PATCH}, {STRATEGIC_MERGE_PATCH}",
            )
        if "force" in req.query:
            raise _bad_request("force may not be specified for non-apply patch")
        dry_run = _dry_run(req)
        try:
            patch = req.json()
        except ValueError:
            raise _bad_request("the patch is not valid JSON") from None
        with self.store.lock:
            old = self.store.get(plural, ns, name)
            if old is None:
                raise _not_found(plural, name)
            try:
                if ctype == JSON_PATCH:
                    obj = json_patch(old, patch)
                elif isinstance(patch, dict):
                    obj = merge_patch(old, _drop_directives(patch))
                else:
                    raise _bad_request("a merge patch must be a JSON object")
            except PatchError as exc:
                raise _fail(
                    422, "Invalid", f"the server rejected our request due to an error in our request: {exc}"
                ) from None
            if not isinstance(obj, dict):
                raise _bad_request("the patched object is not an object")
            meta = obj.setdefault("metadata", {})
            _check_name(meta, name)
            _check_namespace(meta, ns)
            if meta.get("resourceVersion") not in (None, old["metadata"]["resourceVersion"]):
                raise _conflict(plural, name)
            if plural == "secrets":
                _decode_secret_data(obj)
            _normalize(plural, obj)
            _set_managed_fields(meta, old)
            self._validate(plural, name, obj, old)
            return self._commit(plural, ns, name, obj, old, _manager(req), "Update", dry_run, 200)

    def _delete(self, req: Request, plural: str, ns: str | None, name: str | None) -> Response:
        assert ns is not None and name is not None
        dry_run = _dry_run(req)
        try:
            options = req.json() if req.body.strip() else {}
        except ValueError:
            raise _bad_request("the DeleteOptions body is not valid JSON") from None
        pre = (options or {}).get("preconditions") or {}
        with self.store.lock:
            old = self.store.get(plural, ns, name)
            if old is None:
                raise _not_found(plural, name)
            old_meta = old["metadata"]
            for key, label in (("uid", "UID"), ("resourceVersion", "ResourceVersion")):
                if pre.get(key) and pre[key] != old_meta[key]:
                    raise _fail(
                        409,
                        "Conflict",
                        f'Operation cannot be fulfilled on {plural} "{name}": Precondition failed: {label} in '
                        f"precondition: {pre[key]}, {label} in object meta: {old_meta[key]}",
                        {"name": name, "kind": plural},
                    )
            if not dry_run:
                self.store.delete(plural, ns, name)
        if plural == "serviceaccounts":
            return Response.json(200, old)  # its registry sets ReturnDeletedObject, as the client's types expect
        return Response.json(
            200,
            {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "details": {"name": name, "kind": plural, "uid": old_meta["uid"]},
            },
        )

    def _validate(self, plural: str, name: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if plural == "secrets":
            errors = validate_secret(obj) if old is None else validate_secret_update(obj, old)
        elif plural == "events":
            errors = validate_event(obj, update=old is not None)
        else:
            errors = validate_service_account(obj)
        if errors:
            raise _invalid(plural, name, errors)

    def _commit(
        self,
        plural: str,
        ns: str,
        name: str,
        obj: dict[str, Any],
        old: dict[str, Any] | None,
        manager: str,
        operation: str,
        dry_run: bool,
        code: int,
        *,
        applied: dict[str, Any] | None = None,
        force: bool = False,
    ) -> Response:
        """Store ``obj`` (server-owned metadata restored, field ownership recorded as :mod:`.fieldsets`
        keeps it) unless it changes nothing."""
        meta = obj.setdefault("metadata", {})
        meta["name"], meta["namespace"] = name, ns
        obj["kind"], obj["apiVersion"] = _KINDS[plural], _api_version(plural)
        for key in ("uid", "creationTimestamp", "resourceVersion"):
            if old is not None:
                meta[key] = old["metadata"][key]
            else:
                meta.pop(key, None)
        now = rfc3339(self._ctx.clock())
        if operation == "Apply":
            assert applied is not None
            try:
                obj = fieldsets.apply(old, obj, applied, manager, force=force, now=now)
            except fieldsets.ApplyConflict as exc:
                causes = [{"reason": "FieldManagerConflict", "message": f"conflict with {m}", "field": f}
                          for m, f in exc.conflicts]
                raise _fail(409, "Conflict", exc.message(), {"causes": causes}) from None
        else:
            obj = fieldsets.update(old, obj, manager, now=now)
        meta = obj["metadata"]
        if old is not None and _comparable(obj) == _comparable(old):
            return Response.json(code, old)  # a no-op write: nothing stored, resourceVersion unchanged
        if dry_run:
            if old is None:
                meta["uid"] = new_id()
                meta["creationTimestamp"] = rfc3339(self._ctx.clock())
            return Response.json(code, obj)
        return Response.json(code, self.store.save(plural, ns, obj))

    # ----- TokenRequest ----------------------------------------------------------------------------------

    def _token_request(self, req: Request, plural: str, namespace: str | None, name: str | None) -> Response:
        assert namespace is not None and name is not None
        if self.store.get("serviceaccounts", namespace, name) is None:
            raise _not_found(plural, name)
        try:
            body = req.json() or {}
        except ValueError:
            raise _bad_request("the request body is not valid JSON") from None
        spec = body.get("spec") or {}
        audiences = list(spec.get("audiences") or [])
        seconds = spec.get("expirationSeconds")
        seconds = 3600 if seconds is None else int(seconds)
        if seconds < MIN_TOKEN_SECONDS:
            raise _fail(
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


# ----- request helpers -----------------------------------------------------------------------------------


def _parse_path(path: str) -> tuple[str, str | None, str | None, str | None] | None:
    """``(plural, namespace, name, subresource)`` of a core/v1 path (or an events.k8s.io/v1 one), or ``None``."""
    if path.startswith(EVENTS_PREFIX):
        parts = [unquote(p) for p in path[len(EVENTS_PREFIX) :].rstrip("/").split("/")]
        if parts == ["events"]:
            return ("events", None, None, None)
        if len(parts) in (3, 4) and parts[0] == "namespaces" and parts[2] == "events" and all(parts):
            return ("events", parts[1], parts[3] if len(parts) == 4 else None, None)
        return None
    if not path.startswith("/api/v1/"):
        return None
    parts = [unquote(p) for p in path[len("/api/v1/") :].rstrip("/").split("/")]
    if not all(parts):
        return None
    if parts[0] == "namespaces":
        if len(parts) == 1:
            return ("namespaces", None, None, None)
        if len(parts) == 2:
            return ("namespaces", None, parts[1], None)
        if len(parts) in (3, 4, 5):
            ns, plural = parts[1], parts[2]
            return (plural, ns, parts[3] if len(parts) > 3 else None, parts[4] if len(parts) > 4 else None)
        return None
    if len(parts) == 1:
        return (parts[0], None, None, None)
    return None


def _content_type(req: Request) -> str:
    return req.headers.get("content-type", "").split(";")[0].strip().lower()


def _verb(method: str, name: str | None, ctype: str) -> str | None:
    if name is None:
        return {"GET": "list", "POST": "create"}.get(method)
    if method == "PATCH":
        return "apply" if ctype == APPLY_PATCH else "patch"
    return {"GET": "get", "PUT": "update", "DELETE": "delete"}.get(method)


def _dry_run(req: Request) -> bool:
    values = req.query_lists.get("dryRun", [])
    for value in values:
        if value != "All":
            raise _bad_request(f'dryRun: Unsupported value: "{value}": supported values: "All"')
    return bool(values)


def _manager(req: Request) -> str:
    """``fieldManager``, else the User-Agent up to the first ``/`` (the API server's default), max 128."""
    manager = req.query.get("fieldManager") or req.headers.get("user-agent", "").split("/")[0]
    return manager[:128]


def _decode_body(req: Request, plural: str) -> dict[str, Any]:
    kind = _KINDS[plural]
    try:
        obj = req.json()
    except ValueError as exc:
        raise _bad_request(f'{kind} in version "v1" cannot be handled as a {kind}: {exc}') from None
    if not isinstance(obj, dict):
        raise _bad_request(f'{kind} in version "v1" cannot be handled as a {kind}: not a JSON object')
    if obj.get("kind") not in (None, "", kind) or obj.get("apiVersion") not in (None, "", _api_version(plural)):
        raise _bad_request(
            f"the object provided is unrecognized (kind {obj.get('kind')!r}, apiVersion "
            f"{obj.get('apiVersion')!r}); this endpoint takes v1 {kind} objects"
        )
    if not isinstance(obj.get("metadata", {}), dict):
        raise _bad_request(f'{kind} in version "v1" cannot be handled as a {kind}: metadata is not an object')
    if plural == "secrets":
        _decode_secret_data(obj)
    return obj


def _decode_secret_data(obj: dict[str, Any]) -> None:
    try:
        decode_data(obj.get("data"))
    except ValueError as exc:
        raise _bad_request(f'Secret in version "v1" cannot be handled as a Secret: {exc}') from None
    string_data = obj.get("stringData")
    if string_data is not None and (
        not isinstance(string_data, dict) or not all(isinstance(v, str) for v in string_data.values())
    ):
        raise _bad_request(
            'Secret in version "v1" cannot be handled as a Secret: stringData must be a map of strings'
        )


def _check_name(meta: dict[str, Any], name: str, *, required: bool = False) -> None:
    """The object's name must be the URL's (a PUT must carry it; apply and patch may leave it out)."""
    if (required or meta.get("name")) and meta.get("name") != name:
        raise _bad_request(f"the name of the object ({meta['name']}) does not match the name on the URL ({name})")


def _check_namespace(meta: dict[str, Any], ns: str) -> None:
    if meta.get("namespace") and meta["namespace"] != ns:
        raise _bad_request("the namespace of the provided object does not match the namespace sent on the request")


def _drop_directives(patch: Any) -> Any:
    """A strategic merge patch without its ``$patch``/``$retainKeys``/``$setElementOrder`` directives."""
    if isinstance(patch, dict):
        return {k: _drop_directives(v) for k, v in patch.items() if not k.startswith("$")}
    if isinstance(patch, list):
        return [_drop_directives(v) for v in patch]
    return patch


def _normalize(plural: str, obj: dict[str, Any]) -> None:
    """What decoding into the typed object does: drop empty metadata maps and lists (``omitempty``), fold
    ``stringData`` into ``data``, default ``type``."""
    meta = obj.get("metadata")
    for key in ("labels", "annotations", "ownerReferences", "finalizers"):
        if isinstance(meta, dict) and key in meta and not meta[key]:
            del meta[key]
    if plural != "secrets":
        return
    string_data = obj.pop("stringData", None) or {}
    if string_data:
        data = dict(obj.get("data") or {})
        data.update({k: base64.b64encode(v.encode()).decode("ascii") for k, v in string_data.items()})
        obj["data"] = data
    if obj.get("data") is not None:
        obj["data"] = {k: ("" if v is None else v) for k, v in obj["data"].items()}
        if not obj["data"]:
            del obj["data"]
    if not obj.get("type"):
        obj["type"] = "Opaque"


def _apply_merge(old: dict[str, Any], applied: dict[str, Any]) -> dict[str, Any]:
    """The emulator's simplified server-side apply of ``applied`` over ``old`` (see the module docstring)."""
    new = copy.deepcopy(old)
    meta = new.setdefault("metadata", {})
    applied_meta = applied.get("metadata") or {}
    for key in ("labels", "annotations"):
        if applied_meta.get(key):
            meta[key] = {**(meta.get(key) or {}), **applied_meta[key]}
    if applied_meta.get("ownerReferences"):
        refs = {r.get("uid"): r for r in meta.get("ownerReferences") or []}
        refs.update({r.get("uid"): copy.deepcopy(r) for r in applied_meta["ownerReferences"]})
        meta["ownerReferences"] = list(refs.values())
    for key, value in applied.items():
        if key in ("apiVersion", "kind", "metadata"):
            continue
        if key == "data" and isinstance(value, dict):
            new["data"] = {**(old.get("data") or {}), **value}
        else:
            new[key] = copy.deepcopy(value)
    return new


def _set_managed_fields(meta: dict[str, Any], old: dict[str, Any] | None) -> None:
    """The API server's handling of ``managedFields`` sent in a write, as kube-apiserver v1.20 does it
    (tests/emulator/test_differential_takeover.py): ``[{}]`` and ``[]`` clear them; absent, null, or a list
    with an entry that does not decode (no manager, operation or ``fieldsType: FieldsV1``) keeps the stored
    ones; anything else replaces them."""
    given = meta.get("managedFields")
    if given in ([], [{}]):
        meta["managedFields"] = []
    elif not isinstance(given, list) or not all(
            isinstance(e, dict) and e.get("manager") and e.get("operation") and e.get("fieldsType") == "FieldsV1"
            for e in given):
        meta["managedFields"] = copy.deepcopy((old or {}).get("metadata", {}).get("managedFields") or [])


def _comparable(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` without what a no-op write may change: resourceVersion and managedFields timestamps."""
    result = copy.deepcopy(obj)
    meta = result.get("metadata", {})
    meta.pop("resourceVersion", None)
    for entry in meta.get("managedFields") or []:
        if isinstance(entry, dict):
            entry.pop("time", None)
    return result


# ----- seed objects --------------------------------------------------------------------------------------


def secret_object(
    name: str,
    data: dict[str, str],
    type_: str,
    labels: dict[str, str] | None,
    annotations: dict[str, str] | None,
    *,
    owner_references: list[dict[str, Any]] | None = None,
    managed_by: str | None = None,
    now: str = "",
) -> dict[str, Any]:
    """A v1 Secret dict with ``data`` base64-encoded from plain strings."""
    meta: dict[str, Any] = {"name": name}
    if labels:
        meta["labels"] = dict(labels)
    if annotations:
        meta["annotations"] = dict(annotations)
    if owner_references:
        meta["ownerReferences"] = copy.deepcopy(owner_references)
    if managed_by:
        meta["managedFields"] = [{"manager": managed_by, "operation": "Update", "apiVersion": "v1", "time": now}]
    return {
        "kind": "Secret",
        "apiVersion": "v1",
        "metadata": meta,
        "type": type_,
        "data": {k: base64.b64encode(v.encode()).decode("ascii") for k, v in data.items()},
    }


def service_account_object(
    name: str,
    annotations: dict[str, str] | None,
    *,
    labels: dict[str, str] | None = None,
    image_pull_secrets: list[str] | None = None,
) -> dict[str, Any]:
    """A v1 ServiceAccount dict."""
    meta: dict[str, Any] = {"name": name}
    if labels:
        meta["labels"] = dict(labels)
    if annotations:
        meta["annotations"] = dict(annotations)
    obj: dict[str, Any] = {"kind": "ServiceAccount", "apiVersion": "v1", "metadata": meta}
    if image_pull_secrets:
        obj["imagePullSecrets"] = [{"name": n} for n in image_pull_secrets]
    return obj


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
