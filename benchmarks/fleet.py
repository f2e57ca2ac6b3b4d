"""Fleet benchmark: G generators over R registries and I identities, each fanned out to T targets
(Kubernetes Secrets over namespaces in two clusters, plus Key Vault secrets), run by the real
``acr-refresh run`` in a child process against the emulator with an injected per-request latency.

Beside it, the per-object pattern that ESO and hand-written scripts follow (for every target: a new
credential, an Entra token, an exchange, a token, a write, one after another), with the same HTTP stack,
timed on a sample of targets and extrapolated (it is strictly sequential, so linear).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from acr_refresh.emulator import Emulator
from acr_refresh.emulator.core import ENDPOINTS

TENANT = "00000000-0000-0000-0000-0000000000aa"
VAULTS = ("fleetvault1.vault.azure.net", "fleetvault2.vault.azure.net")
KV_WRITER = "00000000-0000-0000-0000-00000000ff01"


@dataclass(frozen=True)
class Fleet:
    generators: int
    targets_per_generator: int
    registries: int
    identities: int

    @property
    def label(self) -> str:
        return f"{self.generators}x{self.targets_per_generator}"

    @property
    def kv_per_generator(self) -> int:
        return min(2, self.targets_per_generator - 1) if self.targets_per_generator > 1 else 0

    @property
    def namespaces(self) -> int:
        """Namespaces per cluster for each generator's KubernetesSecret."""
        kube = self.targets_per_generator - self.kv_per_generator
        return max(1, kube // 2) if kube > 1 else 1

    @property
    def clusters(self) -> int:
        return 2 if self.targets_per_generator - self.kv_per_generator > 1 else 1

    @property
    def targets(self) -> int:
        return self.generators * (self.namespaces * self.clusters + self.kv_per_generator)

    def identity(self, g: int) -> tuple[str, str]:
        i = g % self.identities
        return f"00000000-0000-0000-0000-{i:012d}", f"fleet-secret-{i:04d}-not-real"

    def registry(self, g: int) -> str:
        return f"fleetreg{g % self.registries:03d}.azurecr.io"

    def scoped(self, g: int) -> bool:
        return g % 2 == 1


@dataclass
class Result:
    fleet: Fleet
    latency_ms: float
    wall: float
    cpu: float
    max_rss_mb: float
    counts: Counter[str]
    ok: bool
    statuses: Counter[str] = field(default_factory=Counter)


def seed(em: Emulator, fleet: Fleet, other: Emulator) -> None:
    em.add_tenant(TENANT)
    for i in range(fleet.identities):
        client, secret = fleet.identity(i)
        em.add_service_principal(TENANT, client, secret)
    em.add_service_principal(TENANT, KV_WRITER, "fleet-kv-writer-not-real")
    for r in range(fleet.registries):
        em.add_registry(f"fleetreg{r:03d}.azurecr.io", tenant=TENANT)
    for v in VAULTS:
        em.add_vault(v, tenant=TENANT)
    em.add_namespace("fleet")
    for cluster in (em, other)[: fleet.clusters]:
        for n in range(fleet.namespaces):
            cluster.add_namespace(f"ns-{n:03d}")


def config(fleet: Fleet, edge_kubeconfig: str) -> str:
    docs = []
    if fleet.clusters == 2:
        docs.append(f"apiVersion: acr-refresh/v1alpha1\nkind: Cluster\nmetadata: {{name: edge}}\n"
                    f"spec:\n  kubeconfig: {{path: {edge_kubeconfig}}}\n")
    for g in range(fleet.generators):
        i = g % fleet.identities
        scope = f"\n  scope: repository:team/app{g:03d}:pull" if fleet.scoped(g) else ""
        docs.append(
            "apiVersion: generators.external-secrets.io/v1alpha1\nkind: ACRAccessToken\n"
            f"metadata: {{name: gen-{g:03d}, namespace: fleet}}\nspec:\n  registry: {fleet.registry(g)}\n"
            f"  tenantId: {TENANT}{scope}\n  auth:\n    servicePrincipal:\n      secretRef:\n"
            f"        clientId: {{env: FLEET_ID_{i}}}\n        clientSecret: {{env: FLEET_SECRET_{i}}}\n"
        )
        clusters = "[default, edge]" if fleet.clusters == 2 else "[default]"
        namespaces = ", ".join(f"ns-{n:03d}" for n in range(fleet.namespaces))
        docs.append(f"apiVersion: acr-refresh/v1alpha1\nkind: KubernetesSecret\nmetadata: {{name: pull-{g:03d}, "
                    f"namespace: fleet}}\nspec:\n  generatorRef: {{name: gen-{g:03d}}}\n  clusters: {clusters}\n"
                    f"  namespaces: [{namespaces}]\n")
        for k in range(fleet.kv_per_generator):
            docs.append(textwrap.dedent(f"""\
                apiVersion: acr-refresh/v1alpha1
                kind: KeyVaultSecret
                metadata: {{name: kv-{g:03d}-{k}, namespace: fleet}}
                spec:
                  generatorRef: {{name: gen-{g:03d}}}
                  vaultUrl: https://{VAULTS[k % len(VAULTS)]}/
                  secretName: gen-{g:03d}-{k}
                  tenantId: {TENANT}
                  auth:
                    servicePrincipal:
                      secretRef: {{clientId: {{env: FLEET_KV_ID}}, clientSecret: {{env: FLEET_KV_SECRET}}}}
                """))
    return "---\n".join(docs)


def minimum(fleet: Fleet) -> dict[str, int]:
    """The least requests a run can make for minting and writing (first run: every target stale)."""
    pairs = {(fleet.registry(g), g % fleet.identities) for g in range(fleet.generators)}
    used_identities = {g % fleet.identities for g in range(fleet.generators)}
    kv = fleet.generators * fleet.kv_per_generator
    return {
        "entra.token": len(used_identities) + (1 if kv else 0),  # ACR audience per identity, vault audience once
        "acr.exchange": len(pairs),
        "acr.token": sum(1 for g in range(fleet.generators) if fleet.scoped(g)),
        "writes": fleet.targets,
    }


WRITE_ENDPOINTS = ("kube.secret.apply", "kv.secret.set")
READ_ENDPOINTS = ("kube.secret.get", "kv.secret.list")


def run_job(em: Emulator, fleet: Fleet, workdir: Path, *, latency_ms: float, concurrency: int,
            other: Emulator) -> Result:
    """One ``acr-refresh run`` in a child process; CPU and peak RSS of that child only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "ACR_REFRESH_"))}
    env.update(em.env())
    env["KUBECONFIG"] = str(workdir / "kubeconfig")
    for i in range(fleet.identities):
        client, secret = fleet.identity(i)
        env[f"FLEET_ID_{i}"], env[f"FLEET_SECRET_{i}"] = client, secret
    env["FLEET_KV_ID"], env["FLEET_KV_SECRET"] = KV_WRITER, "fleet-kv-writer-not-real"
    em.clear_faults()
    other.clear_faults()
    if latency_ms:
        for endpoint in ENDPOINTS:
            em.fail(endpoint, status=None, delay=latency_ms / 1000, count=None)
            other.fail(endpoint, status=None, delay=latency_ms / 1000, count=None)
    em.reset_counts()
    other.reset_counts()
    out_path = workdir / "report.json"
    with out_path.open("w") as out:
        start = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "acr_refresh", "run", "--config", str(workdir / "fleet.yaml"),
                                 "--output", "json", "--concurrency", str(concurrency), "--log-level", "warning"],
                                stdout=out, stderr=subprocess.DEVNULL, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    report = json.loads(out_path.read_text())
    statuses: Counter[str] = Counter(t["status"] for g in report["generators"] for t in g["targets"])
    em.clear_faults()
    other.clear_faults()
    return Result(fleet, latency_ms, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024,
                  em.counts + other.counts, bool(report["ok"]), statuses)


def baseline(em: Emulator, fleet: Fleet, workdir: Path, *, latency_ms: float, sample: int,
             other: Emulator) -> tuple[float, int]:
    """The per-object pattern on ``sample`` targets: seconds per target, measured, and targets timed."""
    import requests
    from azure.identity import ClientSecretCredential
    from azure.keyvault.secrets import SecretClient
    from kubernetes import client as k8s
    from kubernetes import config as kconfig

    from acr_refresh.render import dockerconfigjson

    saved = dict(os.environ)
    os.environ.update(em.env())
    try:
        clients = [kconfig.new_client_from_config(str(workdir / "kubeconfig"))]
        if fleet.clusters == 2:
            clients.append(kconfig.new_client_from_config(str(workdir / "edge.kubeconfig")))
        if latency_ms:
            for endpoint in ENDPOINTS:
                em.fail(endpoint, status=None, delay=latency_ms / 1000, count=None)
                other.fail(endpoint, status=None, delay=latency_ms / 1000, count=None)
        session = requests.Session()
        # One untimed target first: imports, TLS set-up and certificate issuing are not per-target costs.
        ClientSecretCredential(TENANT, *fleet.identity(0)).get_token("https://containerregistry.azure.net/.default")
        timed = 0
        start = time.monotonic()
        for g in range(fleet.generators):
            client_id, secret = fleet.identity(g % fleet.identities)
            registry = fleet.registry(g)
            places: list[tuple[str, Any]] = [("kube", (c, f"ns-{n:03d}")) for c in clients
                                             for n in range(fleet.namespaces)]
            places += [("kv", VAULTS[k % len(VAULTS)]) for k in range(fleet.kv_per_generator)]
            for kind, where in places:
                if timed >= sample:
                    break
                cred = ClientSecretCredential(TENANT, client_id, secret)
                entra = cred.get_token("https://containerregistry.azure.net/.default").token
                refresh = session.post(f"https://{registry}/oauth2/exchange", data={
                    "grant_type": "access_token", "service": registry, "tenant": TENANT,
                    "access_token": entra}, timeout=30).json()["refresh_token"]
                password = refresh
                if fleet.scoped(g):
                    password = session.post(f"https://{registry}/oauth2/token", data={
                        "grant_type": "refresh_token", "service": registry, "refresh_token": refresh,
                        "scope": f"repository:team/app{g:03d}:pull"}, timeout=30).json()["access_token"]
                if kind == "kube":
                    api, ns = where
                    body = {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
                            "metadata": {"name": f"baseline-{g:03d}", "namespace": ns},
                            "stringData": {".dockerconfigjson": dockerconfigjson(registry, "0", password)}}
                    import base64

                    body["data"] = {k: base64.b64encode(v.encode()).decode() for k, v in body.pop("stringData").items()}
                    k8s.CoreV1Api(api).patch_namespaced_secret(
                        f"baseline-{g:03d}", ns, body, field_manager="baseline", force=True,
                        _content_type="application/apply-patch+yaml")
                else:
                    kv_cred = ClientSecretCredential(TENANT, KV_WRITER, "fleet-kv-writer-not-real")
                    SecretClient(f"https://{where}/", kv_cred).set_secret(f"baseline-{g:03d}", password)
                timed += 1
        per_target = (time.monotonic() - start) / max(1, timed)
    finally:
        em.clear_faults()
        other.clear_faults()
        os.environ.clear()
        os.environ.update(saved)
    return per_target, timed


def prepare(fleet: Fleet, workdir: Path) -> tuple[Emulator, Emulator]:
    em = Emulator().start()
    other = Emulator().start()
    seed(em, fleet, other)
    em.write_kubeconfig(workdir / "kubeconfig")
    other.write_kubeconfig(workdir / "edge.kubeconfig")
    (workdir / "fleet.yaml").write_text(config(fleet, str(workdir / "edge.kubeconfig")))
    return em, other


def measure(fleet: Fleet, *, latency_ms: float, concurrency: int, baseline_sample: int) -> dict[str, Any]:
    """Both latencies, the second (all fresh) run, and the baseline, for one fleet size."""
    with tempfile.TemporaryDirectory(prefix="acr-refresh-bench-") as tmp:
        workdir = Path(tmp)
        results: dict[str, Any] = {"fleet": fleet, "minimum": minimum(fleet)}
        for lat in (0.0, latency_ms):
            em, other = prepare(fleet, workdir)
            try:
                first = run_job(em, fleet, workdir, latency_ms=lat, concurrency=concurrency, other=other)
                second = run_job(em, fleet, workdir, latency_ms=lat, concurrency=concurrency, other=other)
                results[lat] = (first, second)
                if lat == latency_ms and baseline_sample:
                    results["baseline"] = baseline(em, fleet, workdir, latency_ms=lat, sample=baseline_sample,
                                                   other=other)
            finally:
                em.stop()
                other.stop()
        return results


def critical_path_requests(fleet: Fleet) -> int:
    """Sequential hops on the longest chain: freshness read → Entra (metadata + token) → exchange →
    token (if any generator is scoped) → write."""
    return 1 + 2 + 1 + (1 if any(fleet.scoped(g) for g in range(fleet.generators)) else 0) + 1


def summary(results: dict[str, Any], latency_ms: float, concurrency: int) -> list[str]:
    fleet: Fleet = results["fleet"]
    zero_first, _ = results[0.0]
    lat_first, lat_second = results[latency_ms]
    mins = results["minimum"]
    total = sum(lat_first.counts.values())
    bound = max(critical_path_requests(fleet) * latency_ms / 1000, total * latency_ms / 1000 / concurrency)
    overhead = lat_first.wall - zero_first.wall
    c = lat_first.counts
    lines = [
        f"## {fleet.label} ({fleet.targets} targets; {fleet.registries} registries, {fleet.identities} identities)",
        "",
        f"- wall: {zero_first.wall:.2f} s at 0 ms, {lat_first.wall:.2f} s at {latency_ms:g} ms "
        f"(concurrency {concurrency}); all ok: {zero_first.ok and lat_first.ok}",
        f"- CPU: {zero_first.cpu:.2f} s for the run = {zero_first.cpu / fleet.targets * 1000:.2f} s per 1,000 targets "
        "(includes interpreter start and imports)",
        f"- latency overhead: {overhead:.2f} s; latency bound {bound:.2f} s (max of critical path "
        f"{critical_path_requests(fleet)} x {latency_ms:g} ms and {total} requests x {latency_ms:g} ms / "
        f"{concurrency}); ratio {overhead / bound if bound else 0:.2f}",
        f"- peak RSS: {max(zero_first.max_rss_mb, lat_first.max_rss_mb):.0f} MB",
        f"- minting and writing, counted (minimum): Entra tokens {c['entra.token']} ({mins['entra.token']}), "
        f"exchanges {c['acr.exchange']} ({mins['acr.exchange']}), token calls {c['acr.token']} ({mins['acr.token']}), "
        f"writes {sum(c[e] for e in WRITE_ENDPOINTS)} ({mins['writes']})",
        f"- freshness reads: {sum(c[e] for e in READ_ENDPOINTS)} (+ {c['entra.discovery']} OpenID metadata, "
        f"Key Vault challenges within the reads)",
        f"- second run (nothing stale): exchanges {lat_second.counts['acr.exchange']}, token calls "
        f"{lat_second.counts['acr.token']}, writes {sum(lat_second.counts[e] for e in WRITE_ENDPOINTS)}, "
        f"freshness reads {sum(lat_second.counts[e] for e in READ_ENDPOINTS)}, Entra tokens "
        f"{lat_second.counts['entra.token']}; statuses {dict(lat_second.statuses)}",
    ]
    if "baseline" in results:
        per_target, timed = results["baseline"]
        projected = per_target * fleet.targets
        lines.append(f"- per-object baseline: {per_target * 1000:.0f} ms per target (timed {timed}), projected "
                     f"{projected:.1f} s for {fleet.targets} targets = {projected / lat_first.wall:.1f}x slower")
    other_endpoints = {k: v for k, v in sorted(c.items()) if v}
    lines.append(f"- all requests at {latency_ms:g} ms: {other_endpoints}")
    return lines


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0
