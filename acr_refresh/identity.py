"""Entra ID credentials through azure-identity. This module does network I/O (Entra ID, managed identity,
and the Kubernetes API for secretRefs and ServiceAccount tokens).

An :class:`IdentityKey` names one identity without any secret: kind, tenant, authority and the resolved
client ID / resource ID / ServiceAccount. Within one :class:`Identities` there is one credential object per
key and one Entra token request per key and scope, however many generators share them (single flight).
Credential objects also keep azure-identity's own token cache, so a long-lived process reuses tokens.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from . import redact, telemetry
from .clouds import Cloud
from .config import Auth, ManagedIdentity, SecretRef, ServicePrincipal, WorkloadIdentity
from .config.model import ESO_TOKEN_AUDIENCE
from .errors import IdentityError, MintError, SourceError, truncate
from .kube import KubeClients, secret_key
from .memo import OnceMap

log = logging.getLogger(__name__)

CLIENT_ID_ANNOTATION = "azure.workload.identity/client-id"
TENANT_ID_ANNOTATION = "azure.workload.identity/tenant-id"
CALL_POLL_SECONDS = 0.1
"""How often a wait for an identity call looks at the deadline again (a stop signal moves it)."""


class Principal(Protocol):
    """Anything with an ``auth`` block, a tenant and a cloud: a generator, a KeyVaultSecret, a Cluster.aks."""

    @property
    def auth(self) -> Auth: ...
    @property
    def tenant_id(self) -> str: ...
    @property
    def cloud(self) -> Cloud: ...


@dataclass(frozen=True)
class IdentityKey:
    """One distinct identity: what dedupes Entra tokens and registry exchanges. Holds no secret."""

    kind: str
    tenant: str = ""
    authority: str = ""
    client_id: str = ""
    resource_id: str = ""
    service_account: str = ""
    """``namespace/name`` of a ServiceAccount (workload identity through TokenRequest)."""
    secret_digest: str = field(default="", repr=False)
    """A digest of a client secret, so a rotated secret gets a new credential (never shown anywhere)."""

    def describe(self) -> str:
        """A one-line description for plans, reports and logs."""
        bits = [self.kind]
        if self.client_id:
            bits.append(f"client {self.client_id}")
        if self.resource_id:
            bits.append(f"resource {self.resource_id}")
        if self.service_account:
            bits.append(f"serviceaccount {self.service_account}")
        if self.kind == "managedIdentity" and not (self.client_id or self.resource_id):
            bits.append("system-assigned")
        if self.tenant:
            bits.append(f"tenant {self.tenant}")
        return " ".join(bits)


@dataclass(frozen=True)
class EntraToken:
    """An Entra ID access token. ``repr`` never shows the value."""

    value: str = field(repr=False)
    expires_on: int = 0


@dataclass(frozen=True)
class Resolved:
    """An identity ready to use: its key, the tenant sent to the registry, and how to build its credential."""

    key: IdentityKey
    exchange_tenant: str
    factory: Callable[[], Any]


def call_before(deadline: Callable[[], float | None] | None, what: str, fn: Callable[[], Any]) -> Any:
    """Run ``fn`` but stop waiting for it a second past ``deadline()`` (monotonic; ``None``: no deadline).

    azure-identity takes no per-call timeout, so a stalled identity endpoint would hold a run for the
    credential's full timeouts and retries (four attempts of 20 s). The call goes on in a daemon thread; the
    run moves on with an :class:`IdentityError`. ``deadline`` is read again while waiting, because a stop
    signal brings it forward to now: shutdown then takes about a second, whatever the timeouts are.
    """
    if deadline is None:
        return fn()
    box: dict[str, Any] = {}
    done = threading.Event()

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller below
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=target, daemon=True, name="acr-refresh-identity").start()
    give_up = float("inf")
    while not done.wait(CALL_POLL_SECONDS):
        # The earliest deadline ever read counts: once stopped, the run's deadline reads as "now" each time.
        limit = deadline()
        if limit is not None:
            give_up = min(give_up, limit + 1.0)
        if time.monotonic() >= give_up:
            raise IdentityError(f"{what}: no answer before the run's deadline or shutdown")
    if "error" in box:
        raise box["error"]
    return box["value"]


class SingleFlightCredential:
    """Serialises ``get_token`` per scope set and tenant: the first caller fetches, the others then answer
    from azure-identity's own cache instead of racing it with requests of their own. With ``deadline``, no
    caller waits past the run's deadline."""

    def __init__(self, inner: Any, deadline: Callable[[], float | None] | None = None) -> None:
        self.inner = inner
        self._deadline = deadline
        self._locks: dict[tuple[Any, ...], threading.Lock] = {}
        self._guard = threading.Lock()

    def _serialised(self, key: tuple[Any, ...], fn: Callable[[], Any]) -> Any:
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            return call_before(self._deadline, f"Entra ID token for {' '.join(key[0])}", fn)

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        key = (scopes, kwargs.get("tenant_id"), kwargs.get("claims"))
        return self._serialised(key, lambda: self.inner.get_token(*scopes, **kwargs))

    def get_token_info(self, *scopes: str, options: Any = None) -> Any:
        key = (scopes, (options or {}).get("tenant_id"), (options or {}).get("claims"))
        return self._serialised(key, lambda: self.inner.get_token_info(*scopes, options=options))

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if callable(close):
            close()


class Identities:
    """Resolves generators' ``auth`` blocks into credentials and gets Entra tokens, once per key and scope.

    ``kube`` reads secretRefs and ServiceAccounts from the default cluster; ``environ`` supplies ``{env:}``
    refs and the ambient ``AZURE_*`` variables; ``credential_options`` are passed to every azure-identity
    credential (e.g. ``retry_total``, ``connection_timeout``).
    """

    def __init__(
        self,
        kube: KubeClients,
        *,
        environ: Mapping[str, str] | None = None,
        credential_options: Mapping[str, Any] | None = None,
        deadline: Callable[[], float | None] | None = None,
    ) -> None:
        self.deadline = deadline
        self._kube = kube
        self._environ = os.environ if environ is None else environ
        self._options = dict(credential_options or {})
        self._options.update(telemetry.AzureHooks("entra").options())  # every attempt counted, retries too
        self._refs: OnceMap[SecretRef, str] = OnceMap()
        self._secrets: OnceMap[tuple[str, str], dict[str, str]] = OnceMap()
        self._service_accounts: OnceMap[tuple[str, str], dict[str, str]] = OnceMap()
        self._credentials: OnceMap[IdentityKey, Any] = OnceMap()
        self._tokens: OnceMap[tuple[IdentityKey, str], EntraToken] = OnceMap()
        self.token_requests = 0

    # ------------------------------------------------------------------------------------- resolve

    def resolve(self, gen: Principal) -> Resolved:
        """Turn an ``auth`` block (of a generator, vault target or cluster) into a :class:`Resolved` identity.
        Reads secretRefs and ServiceAccounts (once each per run)."""
        auth = gen.auth
        authority = gen.cloud.authority_host
        options = dict(self._options)
        if gen.cloud.name == "AzureStackCloud":
            # Azure Stack authorities are not known to Entra's instance discovery.
            options["disable_instance_discovery"] = True
        if isinstance(auth, ServicePrincipal):
            client_id = self._read_ref(auth.client_id, "clientId")
            secret = self._read_ref(auth.client_secret, "clientSecret")
            tenant = self._tenant_path(gen.tenant_id, gen)
            digest = hashlib.sha256(secret.encode()).hexdigest()[:16]
            key = IdentityKey("servicePrincipal", tenant=tenant, authority=authority, client_id=client_id,
                              secret_digest=digest)

            def sp_factory() -> Any:
                from azure.identity import ClientSecretCredential

                return ClientSecretCredential(tenant, client_id, secret, authority=authority, **options)

            return Resolved(key, gen.tenant_id, sp_factory)
        if isinstance(auth, ManagedIdentity):
            key = IdentityKey("managedIdentity", client_id=auth.client_id, resource_id=auth.resource_id)
            mi_options = {k: v for k, v in self._options.items() if k != "disable_instance_discovery"}

            def mi_factory() -> Any:
                from azure.identity import ManagedIdentityCredential

                if auth.resource_id:
                    return ManagedIdentityCredential(identity_config={"resource_id": auth.resource_id}, **mi_options)
                return ManagedIdentityCredential(client_id=auth.client_id or None, **mi_options)

            return Resolved(key, gen.tenant_id, mi_factory)
        assert isinstance(auth, WorkloadIdentity)
        if auth.service_account is None:
            return self._ambient_workload(gen, authority, options)
        sa = auth.service_account
        annotations = self._service_accounts.get(
            (sa.namespace, sa.name),
            lambda: self._kube.get().read_service_account_annotations(sa.namespace, sa.name),
        )
        client_id = annotations.get(CLIENT_ID_ANNOTATION, "").strip()
        if not client_id:
            raise SourceError(
                f"ServiceAccount {sa.namespace}/{sa.name} has no {CLIENT_ID_ANNOTATION} annotation"
            )
        tenant = annotations.get(TENANT_ID_ANNOTATION, "").strip() or gen.tenant_id
        if not tenant:
            raise SourceError(
                f"ServiceAccount {sa.namespace}/{sa.name} has no {TENANT_ID_ANNOTATION} annotation "
                "and the generator has no spec.tenantId"
            )
        # ESO's audience in every cloud, so a federated credential made for ESO keeps matching; a generator
        # may opt in to the cloud's own (acr-refresh/token-audience: cloud).
        audience = getattr(gen, "service_account_audience", ESO_TOKEN_AUDIENCE)
        audiences = tuple(dict.fromkeys((audience, *sa.audiences)))
        key = IdentityKey(
            "workloadIdentity", tenant=tenant, authority=authority, client_id=client_id,
            service_account=f"{sa.namespace}/{sa.name}",
        )
        kube = self._kube

        def assertion() -> str:
            token = kube.get().request_service_account_token(sa.namespace, sa.name, audiences)
            redact.register(token)
            return token

        def wi_factory() -> Any:
            from azure.identity import ClientAssertionCredential

            return ClientAssertionCredential(
                self._tenant_path(tenant, gen), client_id, assertion, authority=authority, **options
            )

        return Resolved(key, gen.tenant_id or tenant, wi_factory)

    def _ambient_workload(self, gen: Principal, authority: str, options: dict[str, Any]) -> Resolved:
        env = self._environ
        client_id = env.get("AZURE_CLIENT_ID", "").strip()
        tenant = env.get("AZURE_TENANT_ID", "").strip() or gen.tenant_id
        token_file = env.get("AZURE_FEDERATED_TOKEN_FILE", "").strip()
        missing = [n for n, v in (("AZURE_CLIENT_ID", client_id), ("AZURE_TENANT_ID", tenant),
                                  ("AZURE_FEDERATED_TOKEN_FILE", token_file)) if not v]
        if missing:
            raise SourceError(
                "workloadIdentity without serviceAccountRef needs the ambient " + ", ".join(missing)
                + " (set by the AKS workload identity webhook)"
            )
        key = IdentityKey("workloadIdentity", tenant=tenant, authority=authority, client_id=client_id,
                          service_account="(ambient)")

        def factory() -> Any:
            from azure.identity import WorkloadIdentityCredential

            return WorkloadIdentityCredential(
                tenant_id=self._tenant_path(tenant, gen), client_id=client_id, token_file_path=token_file,
                authority=authority, **options,
            )

        return Resolved(key, gen.tenant_id or tenant, factory)

    @staticmethod
    def _tenant_path(tenant: str, gen: Principal) -> str:
        # Azure Stack Hub with AD FS uses the fixed tenant "adfs" in the authority path.
        return gen.cloud.authority_path or tenant

    def _read_ref(self, ref: SecretRef, what: str) -> str:
        def read() -> str:
            if ref.env:
                value = self._environ.get(ref.env, "").strip()
                if not value:
                    raise SourceError(f"{what}: environment variable {ref.env} is not set or empty")
            else:
                # One read per Secret serves every key of it (clientId and clientSecret usually share one).
                data = self._secrets.get((ref.namespace, ref.name),
                                         lambda: self._kube.get().read_secret_data(ref.namespace, ref.name))
                value = secret_key("default", ref.namespace, ref.name, data, ref.key)
            if what == "clientSecret":
                if not redact.can_redact(value):
                    # Not usable: a value this short could not be kept out of logs and errors. No request
                    # is made with it; the other generators go on.
                    raise SourceError(
                        f"clientSecret ({ref.describe()}) is shorter than {redact.MIN_SECRET_LEN} characters, too "
                        "short to keep out of logs safely; it is not used (Entra ID client secrets are 40 characters)"
                    )
                redact.register(value)
            return value

        return self._refs.get(ref, read)

    # --------------------------------------------------------------------------------------- tokens

    def ambient(self) -> Resolved:
        """The process's own identity (DefaultAzureCredential without interactive prompts): managed identity
        on Azure, workload identity in AKS, environment variables or a developer login elsewhere."""
        options = dict(self._options)

        def factory() -> Any:
            from azure.identity import DefaultAzureCredential

            return DefaultAzureCredential(exclude_interactive_browser_credential=True, **options)

        return Resolved(IdentityKey("ambient"), "", factory)

    def credential(self, resolved: Resolved) -> Any:
        """The azure-identity credential for ``resolved`` (one object per identity, kept for reuse), wrapped
        so that concurrent callers (several Key Vault clients, say) cause one token request, not several."""
        return self._credentials.get(resolved.key,
                                     lambda: SingleFlightCredential(resolved.factory(), self.deadline))

    def token(self, resolved: Resolved, scope: str) -> EntraToken:
        """An Entra ID token for ``scope``: one request per identity and scope (errors are shared too)."""
        return self._tokens.get((resolved.key, scope), lambda: self._fetch(resolved, scope))

    def _fetch(self, resolved: Resolved, scope: str) -> EntraToken:
        from azure.core.exceptions import AzureError

        credential = self.credential(resolved)
        self.token_requests += 1
        try:
            access = credential.get_token(scope)
        except MintError:
            raise
        except AzureError as exc:
            raise IdentityError(
                f"{resolved.key.describe()}: Entra ID token for {scope} failed: {_azure_reason(exc)}"
            ) from exc
        except ValueError as exc:  # azure-identity raises ValueError for malformed inputs
            raise IdentityError(f"{resolved.key.describe()}: {truncate(redact.scrub(str(exc)))}") from exc
        if not redact.can_redact(access.token):
            raise IdentityError(f"{resolved.key.describe()}: Entra ID token for {scope} is too short to keep out "
                                "of logs (refused)")
        redact.register(access.token)
        return EntraToken(access.token, int(access.expires_on))

    def forget_tokens(self) -> None:
        """Drop per-run results: tokens, secretRef values, ServiceAccounts and remembered failures (credential
        objects that were built stay, with azure-identity's own expiring token caches)."""
        self._tokens = OnceMap()
        self._refs = OnceMap()
        self._secrets = OnceMap()
        self._service_accounts = OnceMap()
        self._credentials.discard_failed()

    def close(self) -> None:
        for cred in self._credentials.values():
            close = getattr(cred, "close", None)
            if callable(close):
                try:
                    close()
                except Exception:  # noqa: BLE001 - closing is best effort
                    pass


def _azure_reason(exc: BaseException) -> str:
    """azure-identity errors are long multi-line texts; keep the first meaningful line, scrubbed."""
    text = getattr(exc, "message", None) or str(exc)
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    return truncate(redact.scrub(" ".join(lines[:3])), 300)


__all__ = ["EntraToken", "Identities", "IdentityKey", "Resolved"]
