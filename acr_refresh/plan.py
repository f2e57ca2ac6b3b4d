"""The plan: what a run would mint and write, from a validated config. Pure: no network.

``acr-refresh validate`` prints it and ``GET /api/plan`` answers it. Identities are described from the
config alone (secretRefs are named, never read).
"""

from __future__ import annotations

from typing import Any

from .config import Config, Generator, ManagedIdentity, ServicePrincipal, WorkloadIdentity


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


def plan_dict(config: Config) -> dict[str, Any]:
    """The plan as JSON-ready data (documented in the README)."""
    return {
        "ok": True,
        "files": list(config.files),
        "warnings": list(config.warnings),
        "generators": [
            {
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
        lines.append(f"  {g['namespace']}/{g['name']}: {g['tokenType']} token for {g['registry']}{scope}"
                     f" via {auth['kind']} ({who}) [{g['entraScope']}]")
    if data["notHandled"]:
        lines.append(f"not handled: {len(data['notHandled'])}")
        for u in data["notHandled"]:
            lines.append(f"  {u['source']}: {u['reason']}")
    for w in data["warnings"]:
        lines.append(f"warning: {w}")
    return "\n".join(lines)
