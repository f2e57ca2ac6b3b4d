"""The two Kubernetes tiers every Kubernetes test runs on: the emulator's own API server, and a real
kube-apiserver (:mod:`tests.kubeserver`) standing behind the emulator's kube port.

On the real tier, :class:`RealTierEmulator` is the same :class:`~acr_refresh.emulator.Emulator` (Entra ID,
ACR, Key Vault, managed identity stay emulated) except that:

- its Kubernetes listener forwards every request to the real server (:class:`KubeUpstream`), so the job's
  traffic is counted under the same endpoint names and ``em.fail("kube.secret.apply", ...)`` injects faults
  in front of the real server;
- the seed and inspection helpers (``add_namespace``, ``add_secret``, ``add_service_account``,
  ``get_object``, ``forbid_namespace``, ``issue_service_account_token``) talk to the real server as its admin;
- the job authenticates as the user :data:`JOB_USER` with :data:`JOB_TOKEN`, which RBAC grants what the job
  needs namespace by namespace (a RoleBinding per namespace), so ``forbid_namespace`` is a real RBAC denial;
- emulated Entra verifies TokenRequest tokens against the real server's OIDC discovery document and JWKS.
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote

from acr_refresh.emulator import Emulator, KubeUpstream
from tests.kubeserver import JOB_TOKEN, JOB_USER, ApiServer

_ALL_VERBS = ("get", "list", "watch", "create", "update", "patch", "delete")
_TEST_LABEL = {"acr-refresh-test": "true"}
RBAC = "/apis/rbac.authorization.k8s.io/v1"


def bootstrap_job_rbac(server: ApiServer) -> None:
    """Cluster-wide: namespaces get/list and Secrets list (prune lists across namespaces). Everything
    else the job does is granted per namespace by :func:`_grant_namespace`."""
    server.apply_object({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": "acr-refresh-test:job-cluster"},
        "rules": [{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "list"]},
                  {"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}],
    })
    server.apply_object({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": "acr-refresh-test:job-cluster"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                    "name": "acr-refresh-test:job-cluster"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": JOB_USER}],
    })
    _namespace_role(server, frozenset())


def _namespace_role(server: ApiServer, forbidden: frozenset[str]) -> str:
    """A ClusterRole (bound per namespace) with every verb on Secrets and ServiceAccounts but ``forbidden``."""
    verbs = [v for v in _ALL_VERBS if v not in forbidden]
    name = "acr-refresh-test:job-ns" + ("-minus-" + "-".join(sorted(forbidden)) if forbidden else "")
    rules: list[dict[str, Any]] = []
    if verbs:
        rules.append({"apiGroups": [""], "resources": ["secrets", "serviceaccounts"], "verbs": verbs})
    if "create" not in forbidden:
        rules.append({"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"]})
    if "get" not in forbidden:  # templateFrom reads ConfigMaps, as deploy/kubernetes/rbac.yaml allows
        rules.append({"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]})
    server.apply_object({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": name, "labels": _TEST_LABEL if forbidden else {}}, "rules": rules,
    })
    return name


def _grant_namespace(server: ApiServer, namespace: str, role: str = "acr-refresh-test:job-ns") -> None:
    path = f"{RBAC}/namespaces/{namespace}/rolebindings/acr-refresh-test-job"
    server.request("DELETE", path)  # roleRef is immutable: replace the binding
    server.json("POST", f"{RBAC}/namespaces/{namespace}/rolebindings", {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "acr-refresh-test-job", "namespace": namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": JOB_USER}],
    })


class RealTierEmulator(Emulator):
    """The emulator with a real API server behind its Kubernetes port (see the module docstring)."""

    tier = "real"

    def __init__(self, server: ApiServer, **kwargs: Any) -> None:
        super().__init__(kube_issuer=server.issuer, kube_upstream=KubeUpstream(server.url, server.ca_file),
                         **kwargs)
        self.server = server
        self.kube_token = JOB_TOKEN
        self._ctx.remember(JOB_TOKEN)
        self.trust_oidc_issuer(server.issuer, server.ca_file)
        self._namespaces: set[str] = set()

    def start(self) -> RealTierEmulator:
        super().start()
        _grant_namespace(self.server, "default")
        return self

    # ----- seeding and inspection, as the admin ---------------------------------------------------------

    def add_namespace(self, name: str, labels: dict[str, str] | None = None) -> None:
        s = self.server
        status, _ = s.request("GET", f"/api/v1/namespaces/{name}")
        if status == 404:
            s.json("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                  "metadata": {"name": name, "labels": labels or {}}})
        elif labels:
            s.json("PATCH", f"/api/v1/namespaces/{name}", {"metadata": {"labels": labels}},
                   content_type="application/merge-patch+json")
        if name not in self._namespaces and name != "default":
            _grant_namespace(s, name)
        self._namespaces.add(name)

    def add_secret(self, namespace: str, name: str, data: dict[str, str], *, type: str = "Opaque",
                   labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None,
                   owner_references: list[dict[str, Any]] | None = None, managed_by: str | None = None) -> None:
        self.add_namespace(namespace)
        meta: dict[str, Any] = {"name": name, "labels": labels or {}, "annotations": annotations or {}}
        if owner_references:
            meta["ownerReferences"] = owner_references
        body = {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": type,
                "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}
        path = f"/api/v1/namespaces/{namespace}/secrets"
        self.server.request("DELETE", f"{path}/{name}")
        self.server.json("POST", f"{path}?fieldManager={quote(managed_by or 'test-setup')}", body)

    def add_configmap(self, namespace: str, name: str, data: dict[str, str]) -> None:
        self.add_namespace(namespace)
        path = f"/api/v1/namespaces/{namespace}/configmaps"
        self.server.request("DELETE", f"{path}/{name}")
        self.server.json("POST", f"{path}?fieldManager=test-setup", {
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data})

    def add_service_account(self, namespace: str, name: str, *, annotations: dict[str, str] | None = None,
                            labels: dict[str, str] | None = None,
                            image_pull_secrets: list[str] | None = None) -> None:
        self.add_namespace(namespace)
        body = {"apiVersion": "v1", "kind": "ServiceAccount",
                "metadata": {"name": name, "labels": labels or {}, "annotations": annotations or {}}}
        if image_pull_secrets:
            body["imagePullSecrets"] = [{"name": n} for n in image_pull_secrets]
        path = f"/api/v1/namespaces/{namespace}/serviceaccounts"
        self.server.request("DELETE", f"{path}/{name}")
        self.server.json("POST", f"{path}?fieldManager=test-setup", body)

    def get_object(self, kind_plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        path = (f"/api/v1/namespaces/{name}" if kind_plural == "namespaces"
                else f"/api/v1/namespaces/{namespace}/{kind_plural}/{name}")
        status, text = self.server.request("GET", path)
        if status == 404:
            return None
        if status != 200:
            raise AssertionError(f"GET {path}: {status} {text[:300]}")
        obj: dict[str, Any] = json.loads(text)
        return obj

    def forbid_namespace(self, namespace: str, verbs: Any = None) -> None:
        forbidden = frozenset(_ALL_VERBS if verbs is None else verbs)
        self.add_namespace(namespace)
        _grant_namespace(self.server, namespace, _namespace_role(self.server, forbidden))

    def allow_namespace(self, namespace: str) -> None:
        _grant_namespace(self.server, namespace)

    def issue_service_account_token(self, namespace: str, name: str, audiences: Any,
                                    expiration_seconds: int = 3600) -> str:
        auds = [audiences] if isinstance(audiences, str) else list(audiences)
        if self.get_object("serviceaccounts", namespace, name) is None:
            self.add_service_account(namespace, name)
        result = self.server.json("POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token", {
            "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
            "spec": {"audiences": auds, "expirationSeconds": expiration_seconds}})
        token = str(result["status"]["token"])
        self._ctx.remember(token)
        return token

    def enable_aks_auth(self, *, tenant: str | None = None) -> None:
        raise NotImplementedError("a real API server cannot accept the emulator's Entra tokens (no webhook "
                                  "authenticator here): AKS tests run on the emulator tier only")

