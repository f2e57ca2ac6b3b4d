"""The plan: what a run would mint and write, from a validated config. Pure: no network.

``acr-refresh validate`` prints it and ``GET /api/plan`` answers it. Identities are described from the
config alone (secretRefs are named, never read).
"""

from __future__ import annotations

from typing import Any

from .config import (
    Config,
    Generator,
    KeyVaultTarget,
    KubernetesTarget,
    ManagedIdentity,
    ServicePrincipal,
    WorkloadIdentity,
)


def describe_auth(gen: Generator) -> dict[str, Any]:
    """The identity a generator will use, from its config (no secret values)."""
    auth = gen.auth
    if isinstance(auth, ServicePrincipal):
        return {"kind": auth.kind, "tenantId": gen.tenant_id, "clientId": auth.client_id.describe(),
                "clientSecret": auth.client_secret.describe()}
    if isinstance(auth, ManagedIdentity):
        which = "system-assigned"
        if auth.client_id:
            which = f"client {auth.client_id}"
        elif auth.resource_id:
            which = f"resource {auth.resource_id}"
        return {"kind": auth.kind, "identity": which}
    assert isinstance(auth, WorkloadIdentity)
    if auth.service_account is None:
        return {"kind": auth.kind, "serviceAccount": None,
                "source": "ambient AZURE_CLIENT_ID / AZURE_TENANT_ID / AZURE_FEDERATED_TOKEN_FILE"}
    sa = auth.service_account
    return {"kind": auth.kind, "serviceAccount": f"{sa.namespace}/{sa.name}",
            "audiences": [gen.cloud.token_exchange_audience, *sa.audiences]}


def describe_target(target: KubernetesTarget | KeyVaultTarget) -> dict[str, Any]:
    """Where a target object writes, from its config (namespace selectors are resolved only by a run)."""
    if isinstance(target, KeyVaultTarget):
        return {"kind": "KeyVaultSecret", "source": target.key, "generator": target.generator,
                "vault": target.vault_url.rstrip("/"), "secretName": target.secret_name,
                "identity": describe_auth_block(target.auth) if target.auth else "ambient (DefaultAzureCredential)"}
    selectors = [s.to_query() for s in target.selectors]
    return {"kind": "KubernetesSecret", "source": target.key, "generator": generator_of(target),
            "clusters": list(target.clusters), "namespaces": list(target.namespaces),
            # Several selectors are ORed; namespaceSelector (the first, or None) is kept for existing readers.
            "namespaceSelector": selectors[0] if selectors else None, "namespaceSelectors": selectors,
            "excludeNamespaces": list(target.exclude_namespaces),
            "name": target.secret_name, "type": target.template.type or "Opaque",
            "creationPolicy": target.creation_policy, "serviceAccounts": list(target.service_accounts)}


def generator_of(target: KubernetesTarget) -> str:
    """The generator a target names; resolved per namespace (a ClusterExternalSecret) it reads
    ``<namespace>/<name>`` or ``ClusterGenerator/<name>@<namespace>``."""
    return target.generator or target.generator_for("<namespace>")


def describe_auth_block(auth: Any) -> str:
    """A short description of an ``auth`` block of a target (no values)."""
    if isinstance(auth, ManagedIdentity):
        return f"managedIdentity {auth.identity_id or 'system-assigned'}"
    if isinstance(auth, ServicePrincipal):
        return f"servicePrincipal ({auth.client_id.describe()})"
    return "workloadIdentity"


def plan_dict(config: Config) -> dict[str, Any]:
    """The plan as JSON-ready data (documented in the README)."""
    return {
        "ok": True,
        "files": list(config.files),
        "warnings": list(config.warnings),
        "generators": [
            {
                "key": g.key,
                "namespace": g.namespace,
                "name": g.name,
                "registry": g.registry,
                "environmentType": g.cloud.name,
                "tokenType": g.token_type,
                "scope": g.scope or None,
                "entraScope": g.entra_scope,
                "auth": describe_auth(g),
                "source": str(g.location) if g.location else None,
            }
            for g in config.generators
        ],
        "clusterGenerators": [
            {"name": c.name, "key": c.key, "registry": c.template.registry, "environmentType": c.template.cloud.name,
             "tokenType": c.template.token_type, "scope": c.template.scope or None,
             "entraScope": c.template.entra_scope, "auth": describe_auth(c.instantiate("<namespace>")),
             "source": str(c.location) if c.location else None}
            for c in config.cluster_generators
        ],
        "targets": ([describe_target(t) for t in config.kube_targets]
                    + [describe_target(t) for t in config.vault_targets]),
        "clusters": [
            {"name": c.name, "connection": "inCluster" if c.in_cluster else "kubeconfig" if c.kubeconfig else "aks",
             "server": c.aks.server if c.aks else None,
             # An opt-in to send the AKS Entra token to a host outside the cloud's AKS domains: shown, not hidden.
             "allowCustomServer": c.aks.allow_custom_server if c.aks else None}
            for c in config.clusters
        ],
        "notHandled": [
            {"source": str(u.location), "apiVersion": u.api_version, "kind": u.kind, "reason": u.reason}
            for u in config.unhandled
        ],
    }


def plan_text(config: Config) -> str:
    """The plan for people."""
    data = plan_dict(config)
    lines = [f"config: {', '.join(data['files'])}"]
    lines.append(f"generators: {len(data['generators'])}")
    for g in data["generators"]:
        auth = g["auth"]
        who = ", ".join(f"{k}={v}" for k, v in auth.items() if k != "kind" and v)
        scope = f" scope {g['scope']}" if g["scope"] else ""
        lines.append(f"  {g['key']}: {g['tokenType']} token for {g['registry']}{scope}"
                     f" via {auth['kind']} ({who}) [{g['entraScope']}]")
    if data["clusterGenerators"]:
        lines.append(f"cluster generators: {len(data['clusterGenerators'])} (instantiated in each consuming namespace)")
    for c in data["clusterGenerators"]:
        auth = c["auth"]
        who = ", ".join(f"{k}={v}" for k, v in auth.items() if k != "kind" and v)
        lines.append(f"  {c['key']}: {c['tokenType']} token for {c['registry']} via {auth['kind']} ({who}) "
                     f"[{c['entraScope']}]")
    if data["targets"]:
        lines.append(f"targets: {len(data['targets'])}")
    for t in data["targets"]:
        if t["kind"] == "KeyVaultSecret":
            lines.append(f"  {t['source']} <- {t['generator']}: {t['vault']} secret {t['secretName']} "
                         f"via {t['identity']}")
        else:
            parts = list(t["namespaces"])
            if t["namespaceSelectors"]:
                parts.append("namespaces matching " + " or ".join(repr(q) if q else "(all)"
                                                                    for q in t["namespaceSelectors"]))
            where = ", ".join(parts)
            lines.append(f"  {t['source']} <- {t['generator']}: Secret {t['name']} ({t['type']}) in [{where}] "
                         f"on {', '.join(t['clusters'])}")
    for c in data["clusters"]:
        if c["allowCustomServer"]:
            lines.append(f"cluster {c['name']}: custom AKS server {c['server']} (allowCustomServer: the AKS Entra "
                         "token is sent outside the cloud's AKS domains)")
    if data["notHandled"]:
        lines.append(f"not handled: {len(data['notHandled'])}")
        for u in data["notHandled"]:
            lines.append(f"  {u['source']}: {u['reason']}")
    for w in data["warnings"]:
        lines.append(f"warning: {w}")
    return "\n".join(lines)
