"""Named connections to Kubernetes clusters (our ``Cluster`` kind) → kubernetes ``ApiClient`` factories.

- ``inCluster: true``: the pod's service account;
- ``kubeconfig {path, context}``: a kubeconfig file and context;
- ``aks {server, certificateAuthorityData, auth}``: an AKS API server with Entra ID integration, reached with
  an Entra token for the AKS server application. The token is refreshed before every request that would
  otherwise carry an expired one (the client's ``refresh_api_key_hook``), from the credential's cache.

A ``Cluster`` named ``default`` replaces the default cluster (in-cluster config or ``KUBECONFIG``).
"""

from __future__ import annotations

import atexit
import base64
import binascii
import contextlib
import os
import tempfile
from collections.abc import Callable
from typing import Any

from . import redact
from .clouds import AKS_SERVER_APP
from .config import ClusterConfig
from .errors import IdentityError, SourceError, truncate
from .identity import Identities


def cluster_factories(clusters: tuple[ClusterConfig, ...], identities: Identities,
                      pool_size: int = 16) -> dict[str, Callable[[], Any]]:
    """A factory per named cluster; each builds an ``ApiClient`` on first use."""
    def factory(cluster: ClusterConfig) -> Callable[[], Any]:
        return lambda: api_client_for(cluster, identities, pool_size)

    return {c.name: factory(c) for c in clusters}


def api_client_for(cluster: ClusterConfig, identities: Identities, pool_size: int = 16) -> Any:
    """Build an ``ApiClient`` for one ``Cluster``. Raises :class:`SourceError` with a clear reason."""
    from kubernetes import client, config

    configuration = client.Configuration()
    try:
        if cluster.in_cluster:
            config.load_incluster_config(client_configuration=configuration)
        elif cluster.kubeconfig:
            config.load_kube_config(config_file=cluster.kubeconfig, context=cluster.context or None,
                                    client_configuration=configuration)
    except Exception as exc:
        raise SourceError(f"cluster {cluster.name}: cannot load its configuration: {type(exc).__name__}: "
                          f"{str(exc)[:200]}") from exc
    configuration.connection_pool_maxsize = pool_size  # as many connections as requests in flight
    configuration.retries = 0  # we retry ourselves, within the run's deadline
    if cluster.aks is not None:
        aks = cluster.aks
        configuration.host = aks.server.rstrip("/")
        try:
            ca = base64.b64decode(aks.certificate_authority_data, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise SourceError(f"cluster {cluster.name}: certificateAuthorityData is not base64") from exc
        # The client wants a file path; it is a public CA certificate, removed when the process exits.
        fd, ca_path = tempfile.mkstemp(prefix=f"acr-refresh-{cluster.name}-", suffix=".crt")
        with os.fdopen(fd, "wb") as fh:
            fh.write(ca)
        atexit.register(_remove, ca_path)
        configuration.ssl_ca_cert = ca_path
        resolved = identities.resolve(aks)
        scope = f"{AKS_SERVER_APP}/.default"

        def refresh(conf: Any) -> None:
            # get_token answers from the credential's cache until the token nears expiry.
            from azure.core.exceptions import AzureError

            try:
                token = identities.credential(resolved).get_token(scope).token
            except AzureError as exc:
                raise IdentityError(f"cluster {cluster.name}: Entra ID token for AKS failed: "
                                    f"{truncate(redact.scrub(str(exc).splitlines()[0] if str(exc) else ''), 200)}"
                                    ) from exc
            redact.register(token)
            conf.api_key = {"authorization": token}
            conf.api_key_prefix = {"authorization": "Bearer"}

        configuration.refresh_api_key_hook = refresh  # type: ignore[assignment]
        refresh(configuration)
    return client.ApiClient(configuration)


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
