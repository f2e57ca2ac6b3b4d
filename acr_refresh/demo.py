"""``make demo``: a full refresh of ``examples/`` against the bundled local emulator. No Azure account needed.

It starts the emulator (Entra ID, ACR, Key Vault and a Kubernetes API on 127.0.0.1, TLS from a generated
test CA, real host names through a CONNECT proxy), then runs the real ``acr-refresh run`` command in a
child process with only the environment a user would set (``HTTPS_PROXY``, ``REQUESTS_CA_BUNDLE``,
``KUBECONFIG``), shows what landed in the cluster and the vault, and runs again to show that fresh
targets are left alone.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from .emulator import Emulator

TENANT = "00000000-0000-0000-0000-0000000000aa"
CLIENT_ID = "00000000-0000-0000-0000-0000000000cc"
# A demo-only secret known to the emulator; real deployments read theirs from a Secret or app setting.
CLIENT_SECRET = "demo-client-secret-not-for-production"
REGISTRY = "demoregistry.azurecr.io"
VAULT = "demovault.vault.azure.net"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def seed(em: Emulator) -> None:
    """The demo's Azure and Kubernetes state: a tenant, a service principal, a registry, a vault, namespaces."""
    em.add_tenant(TENANT)
    em.add_service_principal(TENANT, CLIENT_ID, CLIENT_SECRET)
    em.add_registry(REGISTRY, tenant=TENANT)
    em.add_vault(VAULT, tenant=TENANT)
    em.add_namespace("acr-refresh")
    em.add_secret("acr-refresh", "acr-sp", {"clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET})
    for ns in ("team-a", "team-b"):
        em.add_namespace(ns, {"acr-refresh/pull": "true"})
        em.add_service_account(ns, "default")
    em.add_namespace("unlabelled")


def _run_cli(env: dict[str, str], *args: str) -> int:
    cmd = [sys.executable, "-m", "acr_refresh", "run", "--config", str(EXAMPLES), *args]
    print(f"\n$ acr-refresh run --config examples/ {' '.join(args)}".rstrip(), flush=True)
    return subprocess.call(cmd, env=env)


def _show(em: Emulator) -> None:
    print("\nIn the emulated cluster:")
    for ns in ("acr-refresh", "team-a", "team-b", "unlabelled"):
        for name in ("azurecr-credentials", "demo-registry-pull"):
            obj = em.get_object("secrets", ns, name)
            if obj is None:
                continue
            keys = ", ".join(sorted(obj.get("data", {})))
            ann = obj["metadata"].get("annotations", {})
            print(f"  Secret {ns}/{name} type={obj.get('type')} keys=[{keys}] "
                  f"expires-at={ann.get('acr-refresh/expires-at')}")
            if obj.get("type") == "kubernetes.io/dockerconfigjson":
                doc = json.loads(base64.b64decode(obj["data"][".dockerconfigjson"]))
                print(f"    .dockerconfigjson auths: {', '.join(doc['auths'])} (password hidden)")
        sa = em.get_object("serviceaccounts", ns, "default")
        if sa is not None:
            pulls = [e["name"] for e in sa.get("imagePullSecrets", [])]
            print(f"  ServiceAccount {ns}/default imagePullSecrets={pulls}")
    secret = em.vault_secret(VAULT, "demoregistry-password")
    if secret is not None:
        attrs = secret.get("attributes", {})
        print("\nIn the emulated Key Vault:")
        print(f"  {VAULT} demoregistry-password versions={em.vault_version_count(VAULT, 'demoregistry-password')} "
              f"contentType={secret.get('contentType')} tags={secret.get('tags')} exp={attrs.get('exp')}")


def _show_metrics(path: Path) -> None:
    """The run's metrics as a Prometheus would read them (docs/operations.md), zero-valued counts left out."""
    if not path.exists():
        print("\n(no metrics file: install the metrics extra, pip install 'acr-refresh[metrics]')")
        return
    print("\nThe run's metrics (what --metrics pushgateway would push; docs/operations.md):")
    for line in path.read_text().splitlines():
        if line.startswith("# HELP") or (line.startswith(("acr_refresh_requests{", "acr_refresh_targets{",
                                                          "acr_refresh_tokens_minted{")) and line.endswith(" 0.0")):
            continue
        print(f"  {line}")


def main() -> int:
    with Emulator() as em, tempfile.TemporaryDirectory(prefix="acr-refresh-demo-") as tmp:
        seed(em)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("AZURE_", "ACR_REFRESH_", "KUBERNETES_", "IDENTITY_", "MSI_"))}
        env.update(em.env())
        env["KUBECONFIG"] = em.write_kubeconfig(Path(tmp) / "kubeconfig")
        print("acr-refresh demo: Entra ID, ACR, Key Vault and Kubernetes are emulated on 127.0.0.1;")
        print(f"HTTPS goes through {em.proxy_url} with TLS verified against the emulator's test CA.")
        metrics = Path(tmp) / "metrics.prom"
        code = _run_cli(env, "--metrics-file", str(metrics))
        _show(em)
        _show_metrics(metrics)
        print("\nRunning again: every target is fresh, so nothing is minted or written.")
        em.reset_counts()
        second = _run_cli(env)
        minted = em.counts["acr.exchange"] + em.counts["acr.token"]
        print(f"\nsecond run: {minted} registry token requests, {em.counts['kube.secret.apply']} Secret writes")
        return code or second


if __name__ == "__main__":
    sys.exit(main())
