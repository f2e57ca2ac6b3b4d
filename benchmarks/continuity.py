"""Continuity, proved by simulation: no consumer ever holds an expired credential.

One clock drives both the job (``Services.now``) and the emulator (``Emulator(clock=...)``); nothing sleeps.
The schedule fires every 15 simulated minutes and runs the real job (a new ``Services`` each time, as a
CronJob starts a new process); seeded random faults hit every service, including whole outages of 10 to 60
minutes; ACR's lifetimes are used (refresh 3 h, access 75 min). At every simulated minute every target is
checked: it holds a token valid at that minute, or the outage made that impossible and a run had already
reported the target failing before the token expired.

``server_skew_minutes`` sets the services' clocks ahead of (positive) or behind (negative) the job's: tokens
are then issued and validated on the services' clock, and "valid at that minute" is judged on it, as a
registry judges the tokens it is shown. Writes per target are counted, so a job whose clock is ahead can be
seen not to rewrite on every run.
"""

from __future__ import annotations

import base64
import json
import logging
import random
import tempfile
import textwrap
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from acr_refresh.acr import RetryPolicy, jwt_times
from acr_refresh.config import load_config
from acr_refresh.emulator import Emulator
from acr_refresh.run import RunOptions, Services, run

TENANT = "00000000-0000-0000-0000-0000000000aa"
CLIENT, SECRET = "00000000-0000-0000-0000-0000000000cc", "sim-secret-not-real"
REGISTRY = "simregistry.azurecr.io"
VAULT = "simvault.vault.azure.net"
SERVICES = {
    "entra": ("entra.token", "entra.discovery"),
    "acr": ("acr.exchange", "acr.token"),
    "kube": ("kube.secret.get", "kube.secret.apply"),
    "keyvault": ("kv.secret.list", "kv.secret.set"),
}


@dataclass(frozen=True)
class Outage:
    service: str
    start_minute: int
    minutes: int


@dataclass
class SimResult:
    hours: float
    schedule_minutes: int
    runs: int = 0
    target_minutes: int = 0
    violations: int = 0
    unwarned: int = 0
    outages: list[Outage] = field(default_factory=list)
    run_failures: int = 0
    transient_faults: int = 0
    violation_targets: Counter[str] = field(default_factory=Counter)
    violation_log: list[tuple[int, str, str, int | None]] = field(default_factory=list)
    """(minute, target, token expiry minute or "none", minute of the last run that reported it failing)."""
    seconds: float = 0.0
    server_skew_minutes: float = 0.0
    writes: Counter[str] = field(default_factory=Counter)
    """Runs that wrote each target (``kube:<namespace>/<name>``, ``kv:<vault>/<name>``)."""


def _config(tmp: Path) -> Path:
    generator = textwrap.dedent(f"""\
        apiVersion: generators.external-secrets.io/v1alpha1
        kind: ACRAccessToken
        metadata: {{name: NAME}}
        spec:
          registry: {REGISTRY}
          tenantId: {TENANT}SCOPE
          auth:
            servicePrincipal:
              secretRef: {{clientId: {{env: SIM_ID}}, clientSecret: {{env: SIM_SECRET}}}}
        """)
    docs = [
        generator.replace("NAME", "refresh").replace("SCOPE", ""),
        generator.replace("NAME", "access").replace("SCOPE", "\n  scope: repository:team/app:pull"),
    ]
    for name in ("refresh", "access"):
        docs.append(f"apiVersion: acr-refresh/v1alpha1\nkind: KubernetesSecret\nmetadata: {{name: {name}-pull}}\n"
                    f"spec:\n  generatorRef: {{name: {name}}}\n  namespaces: [team-a, team-b]\n")
        docs.append(f"apiVersion: acr-refresh/v1alpha1\nkind: KeyVaultSecret\nmetadata: {{name: {name}-kv}}\n"
                    f"spec:\n  generatorRef: {{name: {name}}}\n  vaultUrl: https://{VAULT}/\n"
                    f"  secretName: {name}-password\n  tenantId: {TENANT}\n  auth:\n    servicePrincipal:\n"
                    "      secretRef: {clientId: {env: SIM_ID}, clientSecret: {env: SIM_SECRET}}\n")
    path = tmp / "sim.yaml"
    path.write_text("---\n".join(docs))
    return path


TARGETS = [("kube", ns, f"{g}-pull") for g in ("refresh", "access") for ns in ("team-a", "team-b")] + [
    ("kv", VAULT, f"{g}-password") for g in ("refresh", "access")]


def _held_expiry(em: Emulator, target: tuple[str, str, str]) -> datetime | None:
    """The expiry of the token a consumer reading this target would get now, or None (nothing there)."""
    kind, where, name = target
    if kind == "kube":
        obj = em.get_object("secrets", where, name)
        if obj is None:
            return None
        doc = json.loads(base64.b64decode(obj["data"][".dockerconfigjson"]))
        token = next(iter(doc["auths"].values()))["password"]
    else:
        secret = em.vault_secret(where, name)
        if secret is None:
            return None
        token = secret["value"]
    return jwt_times(token)[1]


def simulate(*, hours: float = 24.0, seed: int = 7, schedule_minutes: int = 15, outages: list[Outage] | None = None,
             outage_count: int | None = None, transient_rate: float = 0.15,
             server_skew_minutes: float = 0.0) -> SimResult:
    """Simulate ``hours`` of the schedule with seeded faults. ``outages`` overrides the random ones;
    ``server_skew_minutes`` puts every service's clock that far ahead of the job's (negative: behind)."""
    rng = random.Random(seed)
    total_minutes = int(hours * 60)
    if outages is None:
        count = outage_count if outage_count is not None else max(1, int(hours // 4))
        outages = [Outage(rng.choice(sorted(SERVICES)), rng.randrange(30, max(31, total_minutes - 60)),
                          rng.randrange(10, 61)) for _ in range(count)]
    result = SimResult(hours, schedule_minutes, outages=list(outages), server_skew_minutes=server_skew_minutes)
    skew = server_skew_minutes * 60
    start = time.monotonic()
    t0 = float(int(time.time()))
    now = [t0]
    for name in ("acr_refresh", "azure", "msal", "urllib3"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    with tempfile.TemporaryDirectory(prefix="acr-refresh-sim-") as tmp, Emulator(clock=lambda: now[0] + skew) as em:
        em.add_tenant(TENANT)
        em.add_service_principal(TENANT, CLIENT, SECRET)
        em.add_registry(REGISTRY, tenant=TENANT)
        em.add_vault(VAULT, tenant=TENANT)
        for ns in ("default", "team-a", "team-b"):
            em.add_namespace(ns)
        environ = {**em.env(), "SIM_ID": CLIENT, "SIM_SECRET": SECRET}
        kubeconfig = em.write_kubeconfig(Path(tmp) / "kubeconfig")
        import os

        saved = {k: os.environ.get(k) for k in (*environ, "KUBECONFIG")}
        os.environ.update(environ)
        os.environ["KUBECONFIG"] = kubeconfig
        try:
            config = load_config(_config(Path(tmp)), environ=environ)
            last_failed: dict[tuple[str, str, str], int] = {}
            active: set[str] = set()
            for minute in range(total_minutes + 1):
                # Outages begin and end on the minute (overlapping ones on one service merge).
                down = {o.service for o in outages if o.start_minute <= minute < o.start_minute + o.minutes}
                for service in down - active:
                    for endpoint in SERVICES[service]:
                        em.fail(endpoint, status=503, count=None)
                for service in active - down:
                    for endpoint in SERVICES[service]:
                        em.clear_faults(endpoint)
                active = down
                if minute % schedule_minutes == 0:
                    if rng.random() < transient_rate and not active:
                        service = rng.choice(sorted(SERVICES))
                        em.fail(rng.choice(SERVICES[service]), status=rng.choice((429, 500, 503)), count=1)
                        result.transient_faults += 1
                    services = Services(
                        environ=environ, now=lambda: datetime.fromtimestamp(now[0], UTC),
                        retry=RetryPolicy(attempts=3, backoff=0.001, max_delay=0.005, connect_timeout=2,
                                          read_timeout=5),
                        credential_options={"retry_total": 2, "retry_backoff_factor": 0.001,
                                            "retry_backoff_max": 0.005},
                        vault_options={"retry_total": 2, "retry_backoff_factor": 0.001, "retry_backoff_max": 0.005},
                    )
                    report = run(config, RunOptions(concurrency=4, deadline_seconds=60), services=services)
                    services.close()
                    result.runs += 1
                    result.run_failures += 0 if report.ok else 1
                    for g in report.generators:
                        for t in g.targets:
                            key = (("kv", VAULT, t.secret_name or "") if t.kind == "KeyVaultSecret"
                                   else ("kube", t.namespace or "", t.name or ""))
                            if t.status == "failed":
                                last_failed.setdefault(key, minute)  # the start of the failing streak
                            elif t.status in ("written", "fresh"):
                                last_failed.pop(key, None)
                            if t.status == "written":
                                result.writes[f"{key[0]}:{key[1]}/{key[2]}"] += 1
                # Valid means valid on the services' clock: that is where a consumer presents the token.
                when = datetime.fromtimestamp(now[0] + skew, UTC)
                for target in TARGETS:
                    result.target_minutes += 1
                    expiry = _held_expiry(em, target)
                    if expiry is not None and expiry > when:
                        continue
                    result.violations += 1
                    result.violation_targets[f"{target[0]}:{target[2]}"] += 1
                    # Warned: a run reported this target failing before its token expired.
                    failed_at = last_failed.get(target)
                    exp_minute = f"{(expiry.timestamp() - t0 - skew) / 60:.1f}" if expiry else "none"
                    result.violation_log.append((minute, f"{target[0]}:{target[1]}/{target[2]}", exp_minute,
                                                 failed_at))
                    if failed_at is None or expiry is None or t0 + skew + failed_at * 60 >= expiry.timestamp():
                        result.unwarned += 1
                now[0] += 60
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    result.seconds = time.monotonic() - start
    return result


def longest_survived(service: str = "acr", *, schedule_minutes: int = 15, resolution: int = 5) -> dict[str, int]:
    """The longest outage of ``service`` that each token type survives whatever its timing: for every start
    one minute after a scheduled run across a refresh cycle, the longest outage (to ``resolution`` minutes,
    by bisection) with no lapse; the minimum over starts."""
    cycle = {"access": 75, "refresh": 180}
    survived: dict[str, int] = {}
    for token_type, lifetime in cycle.items():
        worst = 10_000
        for start in range(schedule_minutes + 1, schedule_minutes + 1 + lifetime, schedule_minutes):
            lo, hi = 0, 2 * lifetime  # lo survives, hi does not (at most one lifetime plus a margin)
            while hi - lo > resolution:
                mid = (lo + hi) // 2
                res = simulate(hours=(start + mid + lifetime) / 60, seed=1, outages=[Outage(service, start, mid)],
                               transient_rate=0, schedule_minutes=schedule_minutes)
                lapsed = any(k.split(":")[1].startswith(token_type) for k in res.violation_targets)
                lo, hi = (lo, mid) if lapsed else (mid, hi)
            worst = min(worst, lo)
        survived[token_type] = worst
    return survived


def report(result: SimResult) -> list[str]:
    return [
        f"- simulated {result.hours:g} h, schedule every {result.schedule_minutes} min: {result.runs} runs in "
        f"{result.seconds:.1f} s of real time",
        "- outages: " + (", ".join(f"{o.service} at minute {o.start_minute} for {o.minutes} min"
                                    for o in result.outages) or "none"),
        f"- transient faults (one failed request, retried): {result.transient_faults}; runs with a failure: "
        f"{result.run_failures}",
        f"- target-minutes checked: {result.target_minutes}; violations: {result.violations} "
        f"(unwarned: {result.unwarned}) {dict(result.violation_targets) or ''}",
        f"- services' clocks {result.server_skew_minutes:+g} min from the job's; writes per target: "
        f"{dict(sorted(result.writes.items()))}",
    ]


def _main() -> None:  # pragma: no cover - a convenience for exploring
    print("\n".join(report(simulate(hours=24))))


if __name__ == "__main__":  # pragma: no cover
    _main()


__all__ = ["Outage", "SimResult", "longest_survived", "report", "simulate"]
