"""Our own kinds (``acr-refresh/v1alpha1``): ``KubernetesSecret``, ``KeyVaultSecret``, ``Cluster``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta

from ..clouds import aks_server_problem
from ..errors import Location
from .auth import parse_auth
from .cluster import parse_selectors
from .eso import _generator_ref_name, _template
from .fields import (
    _KV_SECRET_NAME,
    _LABEL,
    _SUBDOMAIN,
    Doc,
    _check_template,
    _cloud,
    _duration,
    _metadata,
    _string_list,
    _string_map,
    check_vault_url,
)
from .model import (
    DEFAULT_NAMESPACE,
    DOCKERCONFIGJSON,
    AksAccess,
    ClusterConfig,
    KeyVaultTarget,
    KubernetesTarget,
    SecretTemplate,
    ServicePrincipal,
)


def _refresh_policy(doc: Doc) -> timedelta | None:
    doc.known_fields("spec.refreshPolicy", ("minRemaining",))
    return _duration(doc, "spec.refreshPolicy.minRemaining", doc.mapping("spec.refreshPolicy").get("minRemaining"))


def parse_kubernetes_secret(doc: Doc) -> KubernetesTarget:
    """Our ``KubernetesSecret``: one generator fanned out to many namespaces and clusters."""
    namespace, name = _metadata(doc, namespaced=True)
    doc.location = Location(doc.location.file, doc.location.document, "KubernetesSecret", namespace, name)
    doc.known_fields("spec", ("generatorRef", "clusters", "namespaces", "namespaceSelector", "namespaceSelectors",
                              "excludeNamespaces", "name", "template", "serviceAccounts", "refreshPolicy"))
    gen_name = _generator_ref_name(doc, "spec.generatorRef")
    namespaces = _string_list(doc, "spec.namespaces")
    for i, ns in enumerate(namespaces):
        if not _LABEL.fullmatch(ns):
            raise doc.error(f"spec.namespaces[{i}]", f"{ns!r} is not a valid namespace name")
    selectors = parse_selectors(doc, "spec.namespaceSelector", "spec.namespaceSelectors")  # ORed
    if not namespaces and not selectors:
        namespaces = (namespace,)
    secret_name = doc.string("spec.name") or name
    if not _SUBDOMAIN.fullmatch(secret_name):
        raise doc.error("spec.name", f"{secret_name!r} is not a valid Secret name")
    template = _template(doc, "spec.template") or SecretTemplate()
    if not template.type:
        template = replace(template, type=DOCKERCONFIGJSON)
    accounts = _string_list(doc, "spec.serviceAccounts")
    if "*" in accounts and len(accounts) > 1:
        raise doc.error("spec.serviceAccounts", "'*' stands alone")
    return KubernetesTarget(
        source_kind="KubernetesSecret",
        namespace=namespace,
        name=name,
        generator=f"{namespace}/{gen_name}",
        secret_name=secret_name,
        template=template,
        clusters=_string_list(doc, "spec.clusters") or ("default",),
        namespaces=namespaces,
        selectors=selectors,
        exclude_namespaces=_string_list(doc, "spec.excludeNamespaces"),
        min_remaining=_refresh_policy(doc),
        service_accounts=accounts,
        location=doc.location,
    )


def parse_key_vault_secret(doc: Doc, environ: Mapping[str, str]) -> KeyVaultTarget:
    """Our ``KeyVaultSecret``: a generator's token as a Key Vault secret."""
    namespace, name = _metadata(doc, namespaced=True)
    doc.location = Location(doc.location.file, doc.location.document, "KeyVaultSecret", namespace, name)
    doc.known_fields("spec", ("generatorRef", "vaultUrl", "secretName", "value", "contentType", "tags",
                              "tenantId", "environmentType", "auth", "refreshPolicy"))
    gen_name = _generator_ref_name(doc, "spec.generatorRef")
    cloud = _cloud(doc, "spec.environmentType", environ)
    url = doc.string("spec.vaultUrl", required=True)
    problem = check_vault_url(url, cloud)
    if problem:
        raise doc.error("spec.vaultUrl", f"{url!r} {problem}")
    secret_name = doc.string("spec.secretName", required=True)
    if not _KV_SECRET_NAME.fullmatch(secret_name):
        raise doc.error("spec.secretName", f"{secret_name!r}: Key Vault secret names are 1-127 letters, digits "
                                           "and hyphens")
    value = doc.get("spec.value", str)
    value = "{{ .password }}" if value is None else value
    _check_template(doc, "spec.value", value)
    tags = _string_map(doc, "spec.tags")
    if len(tags) > 12:
        raise doc.error("spec.tags", "at most 12 tags (Key Vault allows 15; acr-refresh adds 3)")
    auth = parse_auth(doc, "spec.auth", namespace) if doc.get("spec.auth", dict) is not None else None
    tenant = doc.string("spec.tenantId")
    if isinstance(auth, ServicePrincipal) and not tenant:
        raise doc.error("spec.tenantId", "is required with auth.servicePrincipal")
    return KeyVaultTarget(
        namespace=namespace,
        name=name,
        generator=f"{namespace}/{gen_name}",
        vault_url="https://" + url.split("://", 1)[-1].rstrip("/") + "/",
        secret_name=secret_name,
        value=value,
        content_type=doc.string("spec.contentType"),
        tags=tags,
        tenant_id=tenant,
        cloud=cloud,
        auth=auth,
        min_remaining=_refresh_policy(doc),
        location=doc.location,
    )


def parse_cluster(doc: Doc, environ: Mapping[str, str]) -> ClusterConfig:
    """Our cluster-scoped ``Cluster``: ``inCluster``, ``kubeconfig`` or ``aks``, exactly one."""
    _, name = _metadata(doc, namespaced=False)
    doc.location = Location(doc.location.file, doc.location.document, "Cluster", "", name)
    doc.known_fields("spec", ("inCluster", "kubeconfig", "aks"))
    spec = doc.mapping("spec")  # a missing or empty spec gets the same clear error as a spec with none of them
    chosen = [k for k in ("inCluster", "kubeconfig", "aks") if spec.get(k) not in (None, False)]
    if len(chosen) != 1:
        raise doc.error("spec", "needs exactly one of inCluster: true, kubeconfig or aks")
    if chosen[0] == "inCluster":
        if doc.get("spec.inCluster", bool) is not True:
            raise doc.error("spec.inCluster", "must be true")
        return ClusterConfig(name=name, in_cluster=True, location=doc.location)
    if chosen[0] == "kubeconfig":
        doc.known_fields("spec.kubeconfig", ("path", "context"))
        return ClusterConfig(name=name, kubeconfig=doc.string("spec.kubeconfig.path", required=True),
                             context=doc.string("spec.kubeconfig.context"), location=doc.location)
    doc.known_fields("spec.aks", ("server", "certificateAuthorityData", "tenantId", "environmentType", "auth",
                                  "allowCustomServer"))
    server = doc.string("spec.aks.server", required=True)
    ca = doc.string("spec.aks.certificateAuthorityData", required=True)
    cloud = _cloud(doc, "spec.aks.environmentType", environ)
    # The AKS Entra token opens every Entra-integrated cluster the identity can reach: check the host as
    # registry and vault hosts are checked, unless this Cluster opts in to a custom server.
    allow_custom = doc.get("spec.aks.allowCustomServer", bool) is True
    problem = aks_server_problem(server, cloud, allow_custom=allow_custom)
    if problem:
        raise doc.error("spec.aks.server", problem)  # not echoed: userinfo could hold a password
    tenant = doc.string("spec.aks.tenantId")
    auth = parse_auth(doc, "spec.aks.auth", DEFAULT_NAMESPACE)
    if isinstance(auth, ServicePrincipal) and not tenant:
        raise doc.error("spec.aks.tenantId", "is required with auth.servicePrincipal")
    return ClusterConfig(name=name, aks=AksAccess(server, ca, tenant, cloud, auth, allow_custom),
                         location=doc.location)

