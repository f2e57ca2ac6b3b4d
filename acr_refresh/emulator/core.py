"""The :class:`Emulator`: wires the CA, servers and emulated services together; the test-facing API."""

from __future__ import annotations

import base64
import collections
import json
import os
import secrets
import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from .acr import Acr, Registry
from .entra import TOKEN_EXCHANGE_AUDIENCE, Entra, FederatedCredential, Principal
from .keyvault import KeyVault, Vault
from .kube import DEFAULT_USER, KUBE_ENDPOINTS, KubeApi, KubeStore, secret_object, service_account_object
from .managed_identity import APP_SERVICE_PATH, ManagedIdentities
from .proxy import ConnectProxy
from .state import Context, rfc3339
from .tls import CertificateAuthority
from .upstream import KubeUpstream
from .web import Fault, RecordedRequest, Request, Response, Route, apply_route, make_server

ENDPOINTS: tuple[str, ...] = (
    "entra.token",
    "entra.discovery",
    "mi.appservice",
    "mi.imds",
    "acr.exchange",
    "acr.token",
    "kv.secret.get",
    "kv.secret.set",
    "kv.secret.list",
    *KUBE_ENDPOINTS,
)


class Emulator:
    """Local stand-ins for Entra ID, managed identity endpoints, ACR token services, Key Vault secrets and a
    Kubernetes API.

    Construct, configure (``add_*``), ``start()`` (or use as a context manager), point the code under test at
    :meth:`env` and :meth:`write_kubeconfig`, then ``stop()``. Configuration may also change while running.

    ``clock`` is the only time source for issuing (``iat``/``nbf``/``exp``/``expires_on``) and validating
    tokens; lifetimes are in seconds. ``kube_user`` is the user name of :attr:`kube_token` on the emulated API
    server (it appears in its 403 messages). Several emulators may run in one process: each has its own ports,
    CA, keys and state.
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        entra_token_lifetime: int = 3600,
        acr_refresh_lifetime: int = 10800,
        acr_access_lifetime: int = 4500,
        *,
        kube_issuer: str | None = None,
        kube_user: str = DEFAULT_USER,
        kube_upstream: KubeUpstream | None = None,
    ) -> None:
        self._ctx = Context(clock)
        self._entra = Entra(self._ctx, entra_token_lifetime)
        self._acr = Acr(self._ctx, self._entra, acr_refresh_lifetime, acr_access_lifetime)
        self.identity_header = secrets.token_urlsafe(24)
        self._mi = ManagedIdentities(self._ctx, self._entra, self.identity_header)
        self.kube_token = secrets.token_urlsafe(32)
        self.kube_issuer = kube_issuer or f"https://oidc.kube-emulator.test/{secrets.token_hex(8)}/"
        self._kube = KubeApi(
            self._ctx, KubeStore(self._ctx), self.kube_issuer, self.kube_token, entra=self._entra, user=kube_user
        )
        self._kv = KeyVault(self._ctx, self._entra)
        self._kube_upstream = kube_upstream
        if kube_upstream is not None:  # the real server signs TokenRequest tokens, not the emulated one
            self._ctx.issuer_keys.pop(self.kube_issuer, None)
        self._ctx.remember(self.identity_header, self.kube_token)
        self._proxy_hosts: list[str] = []
        self._proxy_lock = threading.Lock()
        self._tmpdir: str | None = None
        self._servers: list[Any] = []
        self._started = False
        self.ca_bundle_path = ""
        self.proxy_url = ""
        self.imds_url = ""
        self.identity_endpoint = ""
        self.kube_url = ""
        self._ca: CertificateAuthority | None = None
        self._cleanup: Callable[[], Any] = lambda: None

    # ----- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> Emulator:
        """Create the CA and start every server; returns ``self``."""
        if self._started:
            return self
        if self._kube_upstream is not None:
            self._kube_upstream.closed = False
        self._tmpdir = tempfile.mkdtemp(prefix="acr-refresh-emulator-")
        # Safety net for an emulator that is never stopped: remove the CA file at exit or collection.
        self._cleanup = weakref.finalize(self, shutil.rmtree, self._tmpdir, ignore_errors=True)
        try:
            self._ca = CertificateAuthority(self._tmpdir)
            self.ca_bundle_path = self._ca.bundle_path
            tls_server = make_server(self._dispatch_tls, self._ca.sni_server_context())
            mi_server = make_server(self._dispatch_mi)
            kube_server = make_server(self._dispatch_kube, self._ca.context_for("127.0.0.1", "localhost"))
            self._servers = [tls_server, mi_server, kube_server]
            tls_server.start("emulator-https")
            mi_server.start("emulator-mi")
            kube_server.start("emulator-kube")
            proxy = ConnectProxy(tls_server.port, self._on_connect)
            self._proxy = proxy
            self._servers.append(proxy)
            proxy.start()
        except BaseException:
            self.stop()
            raise
        self.proxy_url = f"http://127.0.0.1:{proxy.port}"
        self.imds_url = f"http://127.0.0.1:{mi_server.port}"
        self.identity_endpoint = f"http://127.0.0.1:{mi_server.port}{APP_SERVICE_PATH}"
        self.kube_url = f"https://127.0.0.1:{kube_server.port}"
        self._started = True
        return self

    def stop(self) -> None:
        """Stop every server thread, close every socket and remove the temporary files."""
        if self._kube_upstream is not None:
            self._kube_upstream.closed = True
        for server in reversed(self._servers):
            server.close()
        self._servers = []
        if self._tmpdir:
            self._cleanup()
            self._tmpdir = None
        self._started = False

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----- client configuration --------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        """Environment for the code under test: the proxy for HTTPS, no proxy for loopback, the test CA."""
        self._require_started()
        no_proxy = "127.0.0.1,localhost"
        return {
            "HTTPS_PROXY": self.proxy_url,
            "https_proxy": self.proxy_url,
            "NO_PROXY": no_proxy,
            "no_proxy": no_proxy,
            "REQUESTS_CA_BUNDLE": self.ca_bundle_path,
            "SSL_CERT_FILE": self.ca_bundle_path,
        }

    def write_kubeconfig(self, path: str | os.PathLike[str], *, token: str | None = None) -> str:
        """Write a kubeconfig for the emulated API server (CA inline, bearer ``token`` or ``kube_token``).

        The file is JSON, which every YAML loader reads. Returns the path as a string.
        """
        self._require_started()
        assert self._ca is not None
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "emulator",
                    "cluster": {
                        "server": self.kube_url,
                        "certificate-authority-data": base64.b64encode(self._ca.pem).decode("ascii"),
                    },
                }
            ],
            "users": [{"name": "emulator", "user": {"token": token or self.kube_token}}],
            "contexts": [{"name": "emulator", "context": {"cluster": "emulator", "user": "emulator"}}],
            "current-context": "emulator",
        }
        path = os.fspath(path)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(config, fh, indent=2)
        return path

    # ----- Entra ID --------------------------------------------------------------------------------------

    def add_tenant(self, tenant_id: str, *, authority_host: str = "login.microsoftonline.com") -> None:
        """Create a tenant reachable through ``authority_host`` and its cloud's aliases (e.g.
        ``login.microsoftonline.us``; any custom host for Azure Stack; tenant ``adfs`` for AD FS)."""
        self._entra.add_tenant(tenant_id, authority_host)

    def add_service_principal(self, tenant_id: str, client_id: str, secret: str | None) -> Principal:
        """Register an application ``client_id`` in ``tenant_id``; ``secret`` (if any) is added to its valid
        secrets (call again with another secret to model a rotation overlap). Returns the principal."""
        principal = self._entra.add_principal(tenant_id, client_id)
        if secret:
            principal.secrets.add(secret)
            self._ctx.remember(secret)
        return principal

    def remove_client_secret(self, tenant_id: str, client_id: str, secret: str) -> None:
        """Revoke one client secret (it stays in ``issued_secrets()``)."""
        self._entra.add_principal(tenant_id, client_id).secrets.discard(secret)

    def add_federated_credential(
        self,
        tenant_id: str,
        client_id: str,
        *,
        issuer: str | None = None,
        subject: str,
        audience: str = TOKEN_EXCHANGE_AUDIENCE,
    ) -> None:
        """Trust assertions from ``issuer`` (default: this emulator's Kubernetes issuer) with ``subject`` and
        ``audience`` as client credentials of ``client_id`` (application or managed identity)."""
        principal = self._entra.add_principal(tenant_id, client_id)
        principal.federated.append(FederatedCredential(issuer or self.kube_issuer, subject, audience))

    def add_managed_identity(
        self,
        *,
        tenant_id: str,
        client_id: str | None = None,
        resource_id: str | None = None,
        system_assigned: bool = False,
        object_id: str | None = None,
    ) -> Principal:
        """Assign a managed identity to the emulated host (IMDS and App Service endpoints serve it).

        Missing ids are generated; the returned principal carries ``client_id``, ``object_id`` and
        ``resource_id``. The tenant is created on the public cloud when unknown.
        """
        return self._mi.add(
            tenant_id=tenant_id,
            client_id=client_id,
            resource_id=resource_id,
            object_id=object_id,
            system_assigned=system_assigned,
        )

    # ----- ACR -------------------------------------------------------------------------------------------

    def add_registry(
        self,
        host: str,
        *,
        tenant: str | None = None,
        arm_audience_allowed: bool = True,
        allowed_principals: set[str] | None = None,
        arm_audiences: tuple[str, ...] | None = None,
    ) -> Registry:
        """Serve the ACR token endpoints on ``host`` (a login server such as ``myreg.azurecr.io``).

        ``arm_audiences`` overrides the Resource Manager audiences derived from the DNS suffix (needed for
        Azure Stack registries). Returns the registry record (its fields may be changed later).
        """
        registry = Registry(
            host=host.lower(),
            tenant=tenant,
            arm_audience_allowed=arm_audience_allowed,
            allowed_principals=set(allowed_principals) if allowed_principals is not None else None,
            arm_audiences=tuple(a.rstrip("/") for a in arm_audiences or ()),
        )
        return self._acr.add(registry)

    # ----- Key Vault -------------------------------------------------------------------------------------

    def add_vault(self, host: str, *, tenant: str, allowed_principals: set[str] | None = None) -> Vault:
        """Serve Key Vault's secret endpoints on ``host`` (``myvault.vault.azure.net``, ``.vault.usgovcloudapi.net``,
        ``.vault.azure.cn`` or any DNS name) for ``tenant``.

        ``allowed_principals`` are the client (or object) ids holding "Key Vault Secrets Officer"; ``None`` lets
        any principal of ``tenant`` in. The challenge names the tenant's authority host (add the tenant first for
        a sovereign cloud; an unknown tenant gets the authority of the vault's DNS suffix). Returns the vault
        record (its fields may be changed later).
        """
        vault = Vault(
            host=host.lower(),
            tenant=tenant,
            allowed_principals=set(allowed_principals) if allowed_principals is not None else None,
        )
        return self._kv.add(vault)

    def forbid_vault(self, host: str, client_id: str) -> None:
        """From now on, principal ``client_id`` (client or object id) gets 403 ``ForbiddenByRbac`` on ``host``."""
        self._kv.require(host).forbidden.add(client_id)

    def set_vault_secret(
        self,
        host: str,
        name: str,
        value: str,
        *,
        content_type: str | None = None,
        tags: dict[str, str] | None = None,
        nbf: float | datetime | None = None,
        exp: float | datetime | None = None,
        enabled: bool = True,
    ) -> dict[str, Any]:
        """Seed a new version of secret ``name`` (times as POSIX seconds or aware datetimes); returns its
        SecretBundle. ``value`` joins :meth:`issued_secrets`. Raises ``ValueError`` for an invalid name or a
        soft-deleted one."""
        return self._kv.set_secret(
            host,
            name,
            value,
            content_type=content_type,
            tags=tags,
            enabled=enabled,
            nbf=_seconds(nbf),
            exp=_seconds(exp),
        )

    def vault_secret(self, host: str, name: str) -> dict[str, Any] | None:
        """The latest version of ``name`` as Key Vault's JSON returns it (``value``, ``id``, ``attributes``
        ``{enabled, nbf, exp, created, updated, recoveryLevel, recoverableDays}``, ``contentType``, ``tags``;
        unset optional members are absent, as in Key Vault), or ``None`` (unknown or soft-deleted)."""
        return self._kv.latest(host, name)

    def vault_version_count(self, host: str, name: str) -> int:
        """How many versions secret ``name`` has (0 when it was never set)."""
        return self._kv.version_count(host, name)

    def soft_delete_vault_secret(self, host: str, name: str) -> None:
        """Put ``name`` in the deleted-but-recoverable state: reads 404, writes 409 Conflict."""
        self._kv.soft_delete(host, name)

    # ----- Kubernetes ------------------------------------------------------------------------------------

    def add_namespace(self, name: str, labels: dict[str, str] | None = None) -> None:
        """Create namespace ``name`` (or add ``labels`` to it). No namespace exists until added (not even
        ``default``); ``add_secret``/``add_service_account`` create theirs."""
        self._kube.store.add_namespace(name, labels)

    def add_secret(
        self,
        namespace: str,
        name: str,
        data: dict[str, str],
        *,
        type: str = "Opaque",
        labels: dict[str, str] | None = None,
        annotations: dict[str, str] | None = None,
        owner_references: list[dict[str, Any]] | None = None,
        managed_by: str | None = None,
    ) -> None:
        """Create or replace a Secret without validation; ``data`` values are plain strings (stored
        base64-encoded). ``owner_references`` are stored as given (give ``apiVersion``, ``kind``, ``name`` and
        ``uid``: the kubernetes client requires them); ``managed_by`` adds a ``managedFields`` entry
        ``{manager, operation: "Update"}`` (e.g. ``"external-secrets"``)."""
        obj = secret_object(
            name,
            data,
            type,
            labels,
            annotations,
            owner_references=owner_references,
            managed_by=managed_by,
            now=rfc3339(self._ctx.clock()),
        )
        self._kube.store.put("secrets", namespace, obj)

    def add_configmap(self, namespace: str, name: str, data: dict[str, str]) -> None:
        """Create or replace a ConfigMap (read by ``templateFrom``)."""
        self._kube.store.put("configmaps", namespace, {
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name}, "data": dict(data)})

    def add_service_account(
        self,
        namespace: str,
        name: str,
        *,
        annotations: dict[str, str] | None = None,
        labels: dict[str, str] | None = None,
        image_pull_secrets: list[str] | None = None,
    ) -> None:
        """Create or replace a ServiceAccount (``image_pull_secrets``: Secret names)."""
        obj = service_account_object(
            name, annotations, labels=labels, image_pull_secrets=image_pull_secrets
        )
        self._kube.store.put("serviceaccounts", namespace, obj)

    def forbid_namespace(self, namespace: str, verbs: Iterable[str] | None = None) -> None:
        """Deny the API server's user(s) ``verbs`` (``get``, ``list``, ``create``, ``update``, ``patch``,
        ``delete``; ``None``: all) on Secrets and ServiceAccounts in ``namespace``: 403 Forbidden."""
        self._kube.forbid(namespace, None if verbs is None else frozenset(verbs))

    def allow_namespace(self, namespace: str) -> None:
        """Undo :meth:`forbid_namespace`."""
        self._kube.allow(namespace)

    def forbid_events(self, namespace: str, forbid: bool = True) -> None:
        """Deny every verb on events.k8s.io Events in ``namespace`` (403), or allow them again; independent of
        :meth:`forbid_namespace`, as Events have their own RBAC rule."""
        self._kube.forbid_events(namespace, forbid)

    def trust_oidc_issuer(self, issuer: str, ca_file: str) -> None:
        """Let emulated Entra verify federated assertions from an outside OIDC ``issuer`` (a real API server)
        by fetching its discovery document and JWKS over HTTPS verified with ``ca_file``."""
        self._ctx.external_issuers[issuer] = ca_file

    def enable_aks_auth(self, *, tenant: str | None = None) -> None:
        """Make the API server also accept this emulator's Entra access tokens for the AKS server application
        (scope ``6dae42f8-4368-4678-94ff-3960e28e3630/.default``), of ``tenant`` only when given; the user is
        the token's ``oid``. Expired or other-audience tokens get 401."""
        self._kube.enable_aks(tenant)

    def get_object(self, kind_plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        """A copy of a stored object (``("secrets", "ns", "x")``; ``("namespaces", "", "ns")``), or None."""
        return self._kube.store.get(kind_plural, namespace, name)

    def list_objects(self, kind_plural: str, namespace: str) -> list[dict[str, Any]]:
        """Copies of the stored objects of one kind in ``namespace`` (``"events"``, ...), by name."""
        return self._kube.store.list(kind_plural, namespace)

    def issue_service_account_token(
        self,
        namespace: str,
        name: str,
        audiences: list[str] | tuple[str, ...] | str,
        expiration_seconds: int = 3600,
    ) -> str:
        """A service-account token as TokenRequest would return it (the service account need not exist)."""
        auds = [audiences] if isinstance(audiences, str) else list(audiences)
        return self._kube.issue_token(namespace, name, auds, expiration_seconds)

    # ----- faults and observation ------------------------------------------------------------------------

    def fail(
        self,
        endpoint: str,
        *,
        status: int | None = 503,
        count: int | None = 1,
        delay: float = 0.0,
        retry_after: float | str | None = None,
        body: bytes | str | dict[str, Any] | list[Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Make the next ``count`` requests (``None``: all) to ``endpoint`` wait ``delay`` seconds and, unless
        ``status`` is None, answer ``status`` (with the service's usual error body unless ``body`` is given,
        plus ``Retry-After`` and ``headers``). Faults queue: a second call applies after the first is used up.
        """
        if endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r}; expected one of {', '.join(ENDPOINTS)}")
        if count is not None and count < 1:
            raise ValueError("count must be >= 1 or None")
        self._ctx.recorder.add_fault(
            endpoint, Fault(status, count, delay, retry_after, body, dict(headers or {}))
        )

    def refuse_connections(self, host: str, refuse: bool = True) -> None:
        """Make tunnels to ``host`` fail as if the service refused connections (the proxy answers 502, as a
        real proxy does when its upstream refuses); ``refuse=False`` undoes it."""
        self._require_started()
        (self._proxy.refused.add if refuse else self._proxy.refused.discard)(host.lower())

    def serve_untrusted_certificate(self, host: str, untrusted: bool = True) -> None:
        """Make ``host`` present a certificate from a CA that no client trusts (``untrusted=False`` undoes)."""
        self._require_started()
        assert self._ca is not None
        (self._ca.untrusted.add if untrusted else self._ca.untrusted.discard)(host.lower())

    def clear_faults(self, endpoint: str | None = None) -> None:
        """Cancel pending faults (of one endpoint, or all)."""
        self._ctx.recorder.clear_faults(endpoint)

    @property
    def counts(self) -> collections.Counter[str]:
        """Requests per endpoint name (a snapshot), failed and injected ones included."""
        return self._ctx.recorder.snapshot_counts()

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request so far (a snapshot), oldest first."""
        return self._ctx.recorder.snapshot_requests()

    @property
    def proxy_hosts(self) -> list[str]:
        """Every ``host:port`` asked of the proxy with CONNECT, in order."""
        with self._proxy_lock:
            return list(self._proxy_hosts)

    def reset_counts(self) -> None:
        """Forget counts, recorded requests and proxy hosts (configuration and faults stay)."""
        self._ctx.recorder.reset()
        with self._proxy_lock:
            self._proxy_hosts.clear()

    def issued_secrets(self) -> set[str]:
        """Every token the emulator issued and every secret it knows (client secrets, identity header, kube
        bearer token): none of these may appear in the logs or output of the code under test."""
        return self._ctx.secrets()

    # ----- internals -------------------------------------------------------------------------------------

    def _require_started(self) -> None:
        if not self._started:
            raise RuntimeError("Emulator not started")

    def _on_connect(self, target: str) -> None:
        with self._proxy_lock:
            self._proxy_hosts.append(target)

    def _dispatch_tls(self, req: Request) -> Response:
        route = self._entra.route(req) or self._acr.route(req) or self._kv.route(req)
        if route is None:
            host = req.host or "(no Host header)"
            route = Route(
                "unknown",
                lambda r: Response.text(502, f"emulator: no service emulated for {host}\n"),
                lambda status: Response.text(status, "injected failure\n"),
            )
        return apply_route(route, req, self._ctx.recorder)

    def _dispatch_mi(self, req: Request) -> Response:
        return apply_route(self._mi.route(req), req, self._ctx.recorder)

    def _dispatch_kube(self, req: Request) -> Response:
        route = self._kube.route(req)
        if self._kube_upstream is not None:  # a real API server behind: name, count, fault, then forward
            route = Route(route.endpoint, self._kube_upstream.forward, route.error_body)
        return apply_route(route, req, self._ctx.recorder)


def _seconds(value: float | datetime | None) -> int | None:
    if value is None:
        return None
    return int(value.timestamp() if isinstance(value, datetime) else value)
