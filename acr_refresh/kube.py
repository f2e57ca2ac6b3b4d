"""The Kubernetes API, through the official client. This module does network I/O.

The default cluster is the in-cluster configuration when running in a pod (``KUBERNETES_SERVICE_HOST``
set), else ``KUBECONFIG`` / ``~/.kube/config`` and its current context. The kubernetes package is imported
lazily: it is heavy, and runs that never touch a cluster should not pay for it.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from . import telemetry
from .errors import AcrRefreshError, DeliveryError, SourceError, truncate

DEFAULT_SA_TOKEN_SECONDS = 3600


@dataclass
class KubeClient:
    """A connection to one cluster: an ``ApiClient`` and the ``CoreV1Api`` over it."""

    name: str
    api_client: Any
    retry_attempts: int = 3
    """Attempts per call, the first included (429, 5xx and connection errors are retried)."""
    retry_backoff: float = 0.5
    """Base backoff in seconds."""
    timeout: tuple[float, float] = (5.0, 30.0)
    """Connect and read timeouts of every call, in seconds."""
    deadline: Any = None
    """A callable giving the monotonic time no call should outlive, or None."""
    core: Any = field(init=False)
    events: Any = field(init=False)
    """``EventsV1Api`` over the same connection (:mod:`acr_refresh.events`)."""

    def __post_init__(self) -> None:
        from kubernetes import client

        self.core = client.CoreV1Api(self.api_client)
        self.events = client.EventsV1Api(self.api_client)

    def close(self) -> None:
        """Release the client's connection pool."""
        try:
            self.api_client.close()
        except Exception:  # noqa: BLE001 - closing is best effort
            pass

    # -------------------------------------------------------------- reads used by identity resolution

    def read_secret_data(self, namespace: str, name: str) -> dict[str, str]:
        """A Secret's ``data`` (base64 values, as stored). Raises :class:`SourceError`."""
        secret = self._call(f"read Secret {namespace}/{name}", self.core.read_namespaced_secret, name, namespace)
        return dict(secret.data or {})

    def read_secret_text(self, namespace: str, name: str) -> dict[str, str | None]:
        """A Secret's data as text (``templateFrom``): each value decoded from base64, None where it is not
        UTF-8. Raises :class:`SourceError`."""
        out: dict[str, str | None] = {}
        for key, encoded in self.read_secret_data(namespace, name).items():
            try:
                out[key] = base64.b64decode(encoded).decode()
            except (ValueError, UnicodeDecodeError):
                out[key] = None
        return out

    def read_configmap_data(self, namespace: str, name: str) -> dict[str, str]:
        """A ConfigMap's ``data`` (``templateFrom``). Raises :class:`SourceError`."""
        cm = self._call(f"read ConfigMap {namespace}/{name}", self.core.read_namespaced_config_map, name, namespace)
        return {str(k): str(v) for k, v in (cm.data or {}).items()}

    def read_service_account_annotations(self, namespace: str, name: str) -> dict[str, str]:
        """Return a ServiceAccount's annotations. Raises :class:`SourceError`."""
        sa = self._call(
            f"read ServiceAccount {namespace}/{name}", self.core.read_namespaced_service_account, name, namespace
        )
        return dict(sa.metadata.annotations or {})

    def request_service_account_token(
        self, namespace: str, name: str, audiences: tuple[str, ...], seconds: int = DEFAULT_SA_TOKEN_SECONDS
    ) -> str:
        """Ask the TokenRequest API for a token of ServiceAccount ``namespace/name`` with ``audiences``."""
        from kubernetes import client

        body = client.AuthenticationV1TokenRequest(
            spec=client.V1TokenRequestSpec(audiences=list(audiences), expiration_seconds=seconds)
        )
        result = self._call(
            f"request a token for ServiceAccount {namespace}/{name}",
            self.core.create_namespaced_service_account_token,
            name,
            namespace,
            body,
        )
        token = getattr(result.status, "token", None)
        if not token:
            raise SourceError(f"cluster {self.name}: TokenRequest for {namespace}/{name} returned no token")
        return str(token)

    # ------------------------------------------------------------------------- used by delivery

    def read_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        """A Secret as plain JSON data, or None when it does not exist. Raises :class:`DeliveryError`.

        The raw JSON is parsed directly: building the client's typed model for every read was the largest
        CPU cost of a fleet run (see docs/performance.md).
        """
        resp = self._call(f"read Secret {namespace}/{name}", self.core.read_namespaced_secret, name, namespace,
                          error=DeliveryError, missing_ok=True, _preload_content=False)
        if resp is None:
            return None
        try:
            data = json.loads(resp.data)
        except ValueError as exc:
            raise DeliveryError(f"cluster {self.name}: cannot read Secret {namespace}/{name}: answer is not JSON"
                                ) from exc
        if not isinstance(data, dict) or not isinstance(data.get("metadata"), dict):
            raise DeliveryError(f"cluster {self.name}: cannot read Secret {namespace}/{name}: answer is not a "
                                "Secret object")
        return data

    def apply_secret(self, manifest: dict[str, Any], *, field_manager: str,
                     read_back: bool = False) -> dict[str, Any] | None:
        """Server-side apply one Secret (one request: the Secret is either old or new, never half). With
        ``read_back``, the Secret as the apply left it (its answer; None if that is not an object)."""
        meta = manifest["metadata"]
        resp = self._call(
            f"apply Secret {meta['namespace']}/{meta['name']}", self.core.patch_namespaced_secret,
            meta["name"], meta["namespace"], manifest, error=DeliveryError,
            field_manager=field_manager, force=True, _content_type="application/apply-patch+yaml",
            _preload_content=False,  # the answer echoes the Secret; parsed only when asked for
        )
        if read_back:
            try:
                answer = json.loads(resp.data)
            except ValueError:
                answer = None
            resp.release_conn()
            return answer if isinstance(answer, dict) else None
        _discard(resp)
        return None

    def create_secret(self, manifest: dict[str, Any], *, field_manager: str) -> None:
        """Create one Secret; a 409 (it exists) is a :class:`DeliveryError` with status 409. Only a create can
        set the created marker, so a Secret that existed before can never come to carry it by our hand."""
        meta = manifest["metadata"]
        resp = self._call(f"create Secret {meta['namespace']}/{meta['name']}", self.core.create_namespaced_secret,
                          meta["namespace"], manifest, error=DeliveryError, field_manager=field_manager,
                          _preload_content=False)
        _discard(resp)

    def delete_secret(self, namespace: str, name: str, *, uid: str | None = None,
                      resource_version: str | None = None) -> None:
        """Delete a Secret; with ``uid``/``resource_version`` only if it is still exactly that object (a
        changed Secret is a 409, so what prune checked is what it deletes)."""
        from kubernetes import client

        body = None
        if uid or resource_version:
            body = client.V1DeleteOptions(preconditions=client.V1Preconditions(uid=uid,
                                                                               resource_version=resource_version))
        self._call(f"delete Secret {namespace}/{name}", self.core.delete_namespaced_secret, name, namespace,
                   error=DeliveryError, missing_ok=True, body=body)

    def list_secret_metadata(self) -> list[dict[str, Any]]:
        """Every Secret's metadata in every namespace, as ``PartialObjectMetadata`` (no data is ever read),
        in pages of 500."""
        out: list[dict[str, Any]] = []
        token = ""
        while True:
            query = [("limit", 500)] + ([("continue", token)] if token else [])
            page = self._call("list Secrets (metadata only)", self._get_json, "/api/v1/secrets", query,
                              error=DeliveryError)
            out += [i.get("metadata") or {} for i in page.get("items") or [] if isinstance(i, dict)]
            token = (page.get("metadata") or {}).get("continue") or ""
            if not token:
                return out

    def _get_json(self, path: str, query: list[tuple[str, Any]], _request_timeout: Any = None) -> dict[str, Any]:
        accept = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
        method, url, headers, body, _ = self.api_client.param_serialize(
            "GET", path, query_params=query, header_params={"Accept": accept}, auth_settings=["BearerToken"])
        resp = self.api_client.call_api(method, url, header_params=headers, body=body,
                                        _request_timeout=_request_timeout)
        resp.read()
        if not 200 <= resp.status < 300:
            from kubernetes.client.exceptions import ApiException

            raise ApiException(http_resp=resp)
        data = json.loads(resp.data)
        if not isinstance(data, dict):
            raise DeliveryError(f"cluster {self.name}: list Secrets: answer is not an object")
        return data

    def apply_fields(self, manifest: dict[str, Any], *, field_manager: str) -> None:
        """Server-side apply without force: used to give up fields (an apply of fewer fields removes the
        ones this manager no longer applies, unless another manager owns them)."""
        meta = manifest["metadata"]
        resp = self._call(
            f"apply Secret {meta['namespace']}/{meta['name']}", self.core.patch_namespaced_secret,
            meta["name"], meta["namespace"], manifest, error=DeliveryError,
            field_manager=field_manager, _content_type="application/apply-patch+yaml", _preload_content=False)
        _discard(resp)

    def patch_secret_metadata(self, namespace: str, name: str, patch: dict[str, Any], *,
                              field_manager: str) -> None:
        """A JSON merge patch of a Secret's metadata (take-over drops ESO's marks with it). One carrying
        ``metadata.resourceVersion`` is a 409 :class:`DeliveryError` if the Secret changed since that read."""
        resp = self._call(f"patch Secret {namespace}/{name}", self.core.patch_namespaced_secret, name, namespace,
                          patch, error=DeliveryError, field_manager=field_manager,
                          _content_type="application/merge-patch+json", _preload_content=False)
        _discard(resp)

    def list_namespaces(self, label_selector: str = "") -> list[tuple[str, dict[str, str]]]:
        """``(name, labels)`` of every namespace matching ``label_selector``."""
        result = self._call("list namespaces", self.core.list_namespace, error=DeliveryError,
                            label_selector=label_selector or None)
        return [(ns.metadata.name, dict(ns.metadata.labels or {})) for ns in result.items]

    def list_managed_secrets(self, label_selector: str) -> list[Any]:
        """Secrets in every namespace matching ``label_selector`` (used by --prune)."""
        result = self._call("list Secrets", self.core.list_secret_for_all_namespaces, error=DeliveryError,
                            label_selector=label_selector)
        return list(result.items)

    def read_service_account(self, namespace: str, name: str) -> Any | None:
        return self._call(f"read ServiceAccount {namespace}/{name}", self.core.read_namespaced_service_account,
                          name, namespace, error=DeliveryError, missing_ok=True)

    def list_service_accounts(self, namespace: str) -> list[Any]:
        result = self._call(f"list ServiceAccounts in {namespace}", self.core.list_namespaced_service_account,
                            namespace, error=DeliveryError)
        return list(result.items)

    def replace_service_account(self, namespace: str, name: str, body: Any) -> None:
        """Update a ServiceAccount; the body carries the resourceVersion read, so a concurrent change is a 409."""
        self._call(f"update ServiceAccount {namespace}/{name}", self.core.replace_namespaced_service_account,
                   name, namespace, body, error=DeliveryError)

    # ------------------------------------------------------------- events.k8s.io/v1 (acr_refresh.events)

    def read_event(self, namespace: str, name: str) -> dict[str, Any] | None:
        """An Event as plain JSON data, or None when it does not exist."""
        api = self.events
        resp = self._call(f"read Event {namespace}/{name}", api.read_namespaced_event, name, namespace,
                          error=DeliveryError, missing_ok=True, _preload_content=False)
        if resp is None:
            return None
        data = json.loads(resp.data)
        return data if isinstance(data, dict) else None

    def create_event(self, namespace: str, body: dict[str, Any]) -> None:
        api = self.events
        resp = self._call(f"create Event {namespace}/{body['metadata']['name']}", api.create_namespaced_event,
                          namespace, body, error=DeliveryError, _preload_content=False)
        _discard(resp)

    def patch_event(self, namespace: str, name: str, patch: dict[str, Any]) -> None:
        """A JSON merge patch (one with ``metadata.resourceVersion`` is refused with 409 if the Event changed)."""
        api = self.events
        resp = self._call(f"patch Event {namespace}/{name}", api.patch_namespaced_event, name, namespace, patch,
                          error=DeliveryError, _content_type="application/merge-patch+json",
                          _preload_content=False)
        _discard(resp)

    def delete_event(self, namespace: str, name: str, *, uid: str | None, resource_version: str | None) -> None:
        """Delete an Event only if it is still exactly the one read (409 otherwise)."""
        from kubernetes import client

        api = self.events
        body = client.V1DeleteOptions(preconditions=client.V1Preconditions(uid=uid, resource_version=resource_version))
        resp = self._call(f"delete Event {namespace}/{name}", api.delete_namespaced_event, name, namespace,
                          error=DeliveryError, missing_ok=True, body=body, _preload_content=False)
        if resp is not None:
            _discard(resp)

    def _past_deadline(self) -> bool:
        deadline = self.deadline() if self.deadline is not None else None
        return deadline is not None and time.monotonic() >= deadline

    def _timeouts(self) -> tuple[float, float]:
        """The call's timeouts, shortened to the run's deadline (plus a second) when one is set."""
        connect, read = self.timeout
        deadline = self.deadline() if self.deadline is not None else None
        if deadline is not None:
            left = max(1.0, deadline - time.monotonic() + 1.0)
            connect, read = min(connect, left), min(read, left)
        return connect, read

    def _call(self, what: str, fn: Any, *args: Any, error: type[AcrRefreshError] = SourceError,
              missing_ok: bool = False, **kwargs: Any) -> Any:
        """One API call, retried on 429, 5xx and connection errors (the kubernetes client retries none on
        HTTP status), with the reason in one line. Every write here is idempotent (apply, update with a
        resourceVersion), so a retry cannot double anything."""
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        attempt = 0
        while True:
            attempt += 1
            try:
                answer = fn(*args, _request_timeout=self._timeouts(), **kwargs)
                telemetry.request("kubernetes", 200)
                return answer
            except ApiException as exc:
                telemetry.request("kubernetes", 200 if missing_ok and exc.status == 404 else exc.status)
                if missing_ok and exc.status == 404:
                    return None
                retryable = exc.status == 429 or (exc.status or 0) >= 500
                if retryable and attempt < self.retry_attempts and not self._past_deadline():
                    time.sleep(_backoff(self.retry_backoff, attempt, exc.headers))
                    continue
                message = f"cluster {self.name}: cannot {what}: {describe_api_exception(exc)}"
                if error is DeliveryError:
                    raise DeliveryError(message, status=exc.status) from exc
                raise error(message) from exc
            except (HTTPError, OSError) as exc:
                telemetry.request("kubernetes", None)
                if attempt < self.retry_attempts and not self._past_deadline():
                    time.sleep(_backoff(self.retry_backoff, attempt, None))
                    continue
                raise error(f"cluster {self.name}: cannot {what}: {transport_reason(exc)}") from exc


def _backoff(base: float, attempt: int, headers: Any) -> float:
    """Full-jitter exponential backoff, or the server's Retry-After (capped at 10 s)."""
    retry_after = (headers or {}).get("Retry-After") if hasattr(headers, "get") else None
    if retry_after:
        try:
            return min(10.0, max(0.0, float(retry_after)))
        except ValueError:
            pass
    return random.uniform(0, base * (2 ** (attempt - 1)))


def transport_reason(exc: BaseException) -> str:
    """A short reason for a connection failure (urllib3 wraps the real one in MaxRetryError.reason)."""
    inner = getattr(exc, "reason", None) or exc
    return truncate(f"{type(inner).__name__}: {inner}", 200)


def describe_api_exception(exc: Any) -> str:
    """One line from a kubernetes ``ApiException``: status, reason and the Status message (truncated).

    The response body of a Secret read is never echoed: only a ``Status`` object's ``message`` is used.
    """
    import json

    status = getattr(exc, "status", None)
    reason = getattr(exc, "reason", "") or ""
    message = ""
    body = getattr(exc, "body", None)
    if body:
        try:
            data = json.loads(body)
            if isinstance(data, dict) and data.get("kind") == "Status":
                message = str(data.get("message") or "")
        except (TypeError, ValueError):
            message = ""
    text = f"{status} {reason}".strip()
    return f"{text}: {truncate(message)}" if message else text


def default_api_client(pool_size: int = 16) -> Any:
    """Build an ``ApiClient`` for the default cluster (in-cluster, else KUBECONFIG's current context)."""
    from kubernetes import client, config

    configuration = client.Configuration()
    # The client's default pool (5 per core) is smaller than our concurrency: connections would be dropped
    # and every request would pay a new TLS handshake.
    configuration.connection_pool_maxsize = pool_size
    configuration.retries = 0  # urllib3's own retries would multiply ours and outlast the run's deadline
    try:
        if os.environ.get("KUBERNETES_SERVICE_HOST"):
            config.load_incluster_config(client_configuration=configuration)
        else:
            # The client reads KUBECONFIG once, at import; read it now so a changed environment counts.
            path = os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
            config.load_kube_config(config_file=path, client_configuration=configuration)
    except Exception as exc:
        raise SourceError(f"no default Kubernetes cluster: {truncate(str(exc))}") from exc
    return client.ApiClient(configuration)


def _discard(resp: Any) -> None:
    """Read an answer's body and give its connection back to the pool clean (an unread body would spoil the
    pooled connection for the next request)."""
    resp.drain_conn()
    resp.release_conn()


def secret_key(cluster: str, namespace: str, name: str, data: dict[str, str], key: str) -> str:
    """Decode one key of a Secret's ``data``, whitespace-trimmed. Raises :class:`SourceError`."""
    if key not in data:
        raise SourceError(f"cluster {cluster}: Secret {namespace}/{name} has no key {key!r}")
    try:
        value = base64.b64decode(data[key], validate=True).decode("utf-8").strip()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise SourceError(f"cluster {cluster}: Secret {namespace}/{name} key {key!r} is not UTF-8 text") from exc
    if not value:
        raise SourceError(f"cluster {cluster}: Secret {namespace}/{name} key {key!r} is empty")
    return value


class KubeClients:
    """One client per cluster per run, created on first use (thread-safe)."""

    def __init__(self, factories: dict[str, Any] | None = None, *, pool_size: int = 16,
                 retry_attempts: int = 3, retry_backoff: float = 0.5,
                 timeout: tuple[float, float] = (5.0, 30.0), deadline: Any = None) -> None:
        self.pool_size = pool_size
        self.timeout = timeout
        self.deadline = deadline
        self.retry_attempts = retry_attempts
        self.retry_backoff = retry_backoff
        self._factories = dict(factories or {})
        self._clients: dict[str, KubeClient] = {}
        self._lock = threading.Lock()

    def add_factories(self, factories: dict[str, Any]) -> None:
        """Register named cluster factories (a ``default`` one replaces the default cluster); a client
        already made for a re-registered name is closed and made anew on next use."""
        with self._lock:
            self._factories.update(factories)
            for name in factories:
                old = self._clients.pop(name, None)
                if old is not None:
                    old.close()

    def get(self, name: str = "default") -> KubeClient:
        """The client for cluster ``name``; ``default`` falls back to :func:`default_api_client`."""
        with self._lock:
            if name not in self._clients:
                factory = self._factories.get(name)
                if factory is None and name != "default":
                    raise SourceError(f"unknown cluster {name!r}")
                api_client = factory() if factory is not None else default_api_client(self.pool_size)
                self._clients[name] = KubeClient(name, api_client, self.retry_attempts, self.retry_backoff,
                                                 self.timeout, self.deadline)
            return self._clients[name]

    def close(self) -> None:
        with self._lock:
            for c in self._clients.values():
                c.close()
            self._clients.clear()
