"""``python -m acr_refresh.emulator``: run the emulator with a demo data set until SIGTERM/SIGINT.

Prints ``export NAME=value`` lines (or writes them to ``--env-file``) for the code under test: the proxy and
CA settings, a kubeconfig, the IMDS address, the demo identities, registry and vault. The App Service
identity endpoint is given as ``EMULATOR_IDENTITY_ENDPOINT``/``EMULATOR_IDENTITY_HEADER`` rather than the real
variable names, because those would switch every ManagedIdentityCredential to App Service mode.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
import tempfile
import threading
from types import FrameType

from . import Emulator

DEMO_TENANT = "00000000-0000-0000-0000-0000000000aa"
DEMO_CLIENT = "00000000-0000-0000-0000-0000000000c1"
# A fixed, public demo value: it only opens the emulator, never anything real.
DEMO_SECRET = "demo-client-secret-not-a-real-secret"
DEMO_MI_CLIENT = "00000000-0000-0000-0000-0000000000d1"
DEMO_REGISTRY = "demoregistry.azurecr.io"
DEMO_VAULT = "demovault.vault.azure.net"
DEMO_NAMESPACE = "acr-refresh"
DEMO_SERVICE_ACCOUNT = "acr-refresh"


def build_demo(em: Emulator) -> None:
    """Load the demo data set into a started emulator."""
    em.add_tenant(DEMO_TENANT)
    em.add_service_principal(DEMO_TENANT, DEMO_CLIENT, DEMO_SECRET)
    em.add_federated_credential(
        DEMO_TENANT, DEMO_CLIENT, subject=f"system:serviceaccount:{DEMO_NAMESPACE}:{DEMO_SERVICE_ACCOUNT}"
    )
    em.add_managed_identity(tenant_id=DEMO_TENANT, client_id=DEMO_MI_CLIENT, system_assigned=True)
    em.add_registry(DEMO_REGISTRY)
    em.add_vault(DEMO_VAULT, tenant=DEMO_TENANT)
    em.add_namespace(DEMO_NAMESPACE)
    em.add_service_account(
        DEMO_NAMESPACE,
        DEMO_SERVICE_ACCOUNT,
        annotations={
            "azure.workload.identity/client-id": DEMO_CLIENT,
            "azure.workload.identity/tenant-id": DEMO_TENANT,
        },
    )


def demo_env(em: Emulator, kubeconfig: str) -> dict[str, str]:
    """The variables a demo run of acr-refresh needs."""
    env = dict(em.env())
    env.update(
        {
            "KUBECONFIG": kubeconfig,
            "AZURE_POD_IDENTITY_AUTHORITY_HOST": em.imds_url,
            "AZURE_TENANT_ID": DEMO_TENANT,
            "AZURE_CLIENT_ID": DEMO_CLIENT,
            "AZURE_CLIENT_SECRET": DEMO_SECRET,
            "EMULATOR_IDENTITY_ENDPOINT": em.identity_endpoint,
            "EMULATOR_IDENTITY_HEADER": em.identity_header,
            "EMULATOR_KUBE_ISSUER": em.kube_issuer,
            "EMULATOR_REGISTRY": DEMO_REGISTRY,
            "EMULATOR_VAULT": DEMO_VAULT,
        }
    )
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m acr_refresh.emulator", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--env-file", help="write the export lines to this file (mode 0600) instead of stdout"
    )
    args = parser.parse_args(argv)

    stop = threading.Event()

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)

    with Emulator() as em, tempfile.TemporaryDirectory(prefix="acr-refresh-demo-") as workdir:
        build_demo(em)
        kubeconfig = em.write_kubeconfig(os.path.join(workdir, "kubeconfig"))
        lines = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in demo_env(em, kubeconfig).items())
        if args.env_file:
            fd = os.open(args.env_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(lines)
            print(f"emulator running; environment written to {args.env_file}", file=sys.stderr, flush=True)
        else:
            sys.stdout.write(lines)
            sys.stdout.flush()
        while not stop.wait(1.0):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
