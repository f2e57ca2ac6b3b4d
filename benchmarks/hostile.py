"""Peak memory of a dry run of a hostile config: about 51 KB of nested ``range`` templates that ask for
hundreds of megabytes of Secret data. The job must refuse it with a clear reason, within 150 MB of RSS.

The job runs as a CronJob would run it (``python -m acr_refresh run --dry-run --output json``, a fresh
process) against the emulator started here; its own peak RSS (``ru_maxrss``) is read as it exits. A small,
harmless config is measured the same way, for the baseline.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from acr_refresh.emulator import Emulator

TENANT = "00000000-0000-0000-0000-0000000000aa"
CLIENT, SECRET = "00000000-0000-0000-0000-0000000000cc", "hostile-secret-not-real"
REGISTRY = "hostile.azurecr.io"
NAMESPACES = ("team-a", "team-b", "team-c", "team-d")
LIMIT_MB = 150
# 10 x 10 iterations of a 10,000-character line: 1,000,000 characters per key, just under the engine's 1 MiB.
KEY = ("      k{i:03d}: '{{{{ range $a := list 1 2 3 4 5 6 7 8 9 10 }}}}"
       "{{{{ range $b := list 1 2 3 4 5 6 7 8 9 10 }}}}"
       "{{{{ printf \"%10000s\" $.username }}}}{{{{ end }}}}{{{{ end }}}}'\n")
# Reports the process's own peak RSS on stderr as it exits, whatever the job's exit status.
_WRAPPER = ("import atexit, resource, sys\n"
            "atexit.register(lambda: sys.stderr.write(f'\\nPEAK_RSS_KB={resource.getrusage("
            "resource.RUSAGE_SELF).ru_maxrss}\\n'))\n"
            "from acr_refresh.cli import main\n"
            "sys.exit(main(sys.argv[1:]))\n")


@dataclass(frozen=True)
class Measurement:
    config_bytes: int
    peak_rss_mb: float
    exit_status: int
    statuses: list[str]
    errors: list[str]


def hostile_config(keys: int = 340) -> str:
    """The hostile config: one generator and one KubernetesSecret whose ``keys`` data keys each render 1 MB,
    in four namespaces (so four Secrets render at once)."""
    generator = (f"apiVersion: generators.external-secrets.io/v1alpha1\nkind: ACRAccessToken\nmetadata: {{name: gen}}\n"
                 f"spec:\n  registry: {REGISTRY}\n  tenantId: {TENANT}\n  auth:\n    servicePrincipal:\n"
                 "      secretRef: {clientId: {env: H_ID}, clientSecret: {env: H_SECRET}}\n")
    target = ("apiVersion: acr-refresh/v1alpha1\nkind: KubernetesSecret\nmetadata: {name: big}\nspec:\n"
              f"  generatorRef: {{name: gen}}\n  namespaces: [{', '.join(NAMESPACES)}]\n  template:\n    data:\n"
              + "".join(KEY.format(i=i) for i in range(keys)))
    return generator + "---\n" + target


def harmless_config() -> str:
    return hostile_config(keys=1).replace("10000s", "10s")


def measure(config_text: str) -> Measurement:
    with tempfile.TemporaryDirectory(prefix="acr-refresh-hostile-") as tmp, Emulator() as em:
        em.add_tenant(TENANT)
        em.add_service_principal(TENANT, CLIENT, SECRET)
        em.add_registry(REGISTRY, tenant=TENANT)
        for ns in ("default", *NAMESPACES):
            em.add_namespace(ns)
        path = Path(tmp) / "hostile.yaml"
        path.write_text(config_text)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "ACR_REFRESH_"))}
        env.update(em.env())
        env.update(KUBECONFIG=em.write_kubeconfig(Path(tmp) / "kubeconfig"), H_ID=CLIENT, H_SECRET=SECRET)
        proc = subprocess.run(
            [sys.executable, "-c", _WRAPPER, "run", "--dry-run", "--output", "json", "--log-level", "warning",
             "--config", str(path)],
            env=env, capture_output=True, text=True, timeout=600, check=False,
        )
    peak_kb = next(int(line.split("=", 1)[1]) for line in proc.stderr.splitlines() if line.startswith("PEAK_RSS_KB="))
    report = json.loads(proc.stdout) if proc.stdout.strip() else {"generators": []}
    targets = [t for g in report["generators"] for t in g["targets"]]
    return Measurement(len(config_text.encode()), peak_kb / 1024, proc.returncode, [t["status"] for t in targets],
                       [t.get("error") or "" for t in targets])


def report(hostile: Measurement, baseline: Measurement) -> list[str]:
    return [
        f"- hostile config ({hostile.config_bytes / 1000:.0f} KB of nested `range`s asking for "
        f"{len(NAMESPACES)} x 340 MB): peak RSS {hostile.peak_rss_mb:.0f} MB (limit {LIMIT_MB} MB), exit "
        f"{hostile.exit_status}, targets {', '.join(sorted(set(hostile.statuses)))}",
        f"- its reason: {hostile.errors[0] if hostile.errors else '(none)'}",
        f"- baseline (the same job, one harmless key): peak RSS {baseline.peak_rss_mb:.0f} MB, exit "
        f"{baseline.exit_status}",
    ]


def _main() -> None:  # pragma: no cover - make bench calls report(); this is for exploring
    print("\n".join(report(measure(hostile_config()), measure(harmless_config()))))


if __name__ == "__main__":  # pragma: no cover
    _main()


__all__ = ["LIMIT_MB", "Measurement", "harmless_config", "hostile_config", "measure", "report"]
