"""One run: check targets, mint what is needed, deliver, and build the report.

Phases, each worked concurrently with a bound (``concurrency``):

1. expand targets: namespaces of each KubernetesSecret per cluster (explicit lists and label selectors);
2. read what each target holds and apply the freshness rule (skipped with ``force``);
3. mint every selected generator that has a stale target, or no target at all (a check that its identity
   works), or every one on a dry run;
4. write each stale target of a minted generator, one request per target.

A failed mint writes nothing; a failed target never stops the others. Triggers (the CLI, the Azure
Functions app) call :func:`run` and turn its :class:`~acr_refresh.report.Report` into an exit status or an
HTTP response. The network clients live in :class:`Services`, which a long-lived process may keep.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from . import events, freshness, overlap, policy
from .acr import AcrClient, RetryPolicy
from .clusters import cluster_factories
from .config import (
    MERGING_CREATION_POLICIES,
    ClusterConfig,
    ClusterGeneratorInstance,
    Config,
    Generator,
    KeyVaultTarget,
    KubernetesTarget,
    cluster_generator_key,
)
from .config.cluster import NAME_LABEL
from .errors import AcrRefreshError, MintError, UsageError, truncate
from .identity import Identities
from .kube import KubeClients
from .memo import OnceMap
from .mint import Credentials, Minter, TokenCache
from .redact import scrub
from .render import (
    RenderBudget,
    RenderError,
    inputs_hash,
    render_secret,
    render_vault_value,
    vault_tags,
)
from .report import GeneratorReport, Report, TargetReport, rfc3339
from .sinks import kubernetes as kube_sink
from .sinks.keyvault import VaultSink

log = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 16
# azure-core waits up to 300 s for an answer by default: far past any run's deadline.
SDK_TIMEOUTS = {"connection_timeout": 5, "read_timeout": 20}
T = TypeVar("T")
STOP_GRACE_SECONDS = 2.0
"""After SIGTERM/SIGINT, how long in-flight requests may still finish before they are given up."""


@dataclass(frozen=True)
class RunOptions:
    """What one run does."""

    generators: tuple[str, ...] = ()
    """``namespace/name`` keys to run; empty means all."""
    dry_run: bool = False
    """Mint (proving auth works) but write nothing."""
    force: bool = False
    """Rewrite every target, fresh or not."""
    take_over: frozenset[str] = frozenset()
    """Secrets we may write although ESO manages them or they carry no marker of ours: ``NS/NAME`` in the
    default cluster, ``CLUSTER/NS/NAME`` in a named one (migration, adoption)."""
    prune: bool = False
    """Delete Secrets we created whose target is gone from the config (see :meth:`_Run.prune`'s rules)."""
    prune_allow_empty: bool = False
    """Prune in a cluster even when the config declares no generator or no Kubernetes target for it."""
    prune_max_delete: int = 10
    """Refuse a cluster's prune that would delete more than this **and** more than a quarter of the Secrets
    we created there."""
    min_remaining: timedelta | None = None
    """Refresh a target whose token has less than this left (default: half its lifetime)."""
    concurrency: int = DEFAULT_CONCURRENCY
    """Requests in flight at once."""
    shard: tuple[int, int] | None = None
    """``(index, count)``: run only the generators whose stable hash falls in this shard."""
    deadline_seconds: float | None = None
    """After this many seconds no new request starts; the rest is reported ``not-attempted``."""
    events: bool = False
    """Record Kubernetes Events on the Secrets written or failed (:mod:`acr_refresh.events`); never on a dry run."""


@dataclass
class Services:
    """The network edges of a run: registry, identity, Kubernetes and Key Vault clients.

    Build one per run, or keep one in a long-lived process so credentials are reused (in memory only).
    """

    environ: Mapping[str, str] | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    credential_options: Mapping[str, Any] = field(default_factory=lambda: dict(SDK_TIMEOUTS))
    """Passed to every azure-identity credential (e.g. ``retry_total``, ``read_timeout``)."""
    vault_options: Mapping[str, Any] = field(default_factory=lambda: dict(SDK_TIMEOUTS))
    """Passed to every Key Vault ``SecretClient`` (e.g. ``retry_total``, ``read_timeout``)."""
    clusters: tuple[ClusterConfig, ...] = ()
    pool_size: int = DEFAULT_CONCURRENCY
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    """The clock the freshness rule reads (a simulation drives it)."""
    deadline: float | None = None
    """Monotonic time after which no retry waits (set by :func:`run`)."""
    stop: threading.Event | None = None
    """Set on shutdown: no retry waits either (set by :func:`run`)."""

    def __post_init__(self) -> None:
        self.kube = KubeClients(pool_size=self.pool_size, retry_attempts=self.retry.attempts,
                                retry_backoff=self.retry.backoff,
                                timeout=(self.retry.connect_timeout, self.retry.read_timeout),
                                deadline=self._retry_deadline)
        self.identities = Identities(self.kube, environ=self.environ, credential_options=self.credential_options,
                                     deadline=self._retry_deadline)
        # Cluster.aks connections get their Entra tokens from the same identities.
        self.kube.add_factories(cluster_factories(self.clusters, self.identities, self.pool_size))
        self.acr = AcrClient(retry=self.retry, pool_size=self.pool_size, deadline=self._retry_deadline)
        self.vaults: OnceMap[tuple[str, Any], VaultSink] = OnceMap()
        self.tokens = TokenCache()

    def use_clusters(self, clusters: tuple[ClusterConfig, ...]) -> None:
        """Register the config's named clusters (a changed definition replaces the old client)."""
        changed = [c for c in clusters if c not in self.clusters]
        if changed:
            self.kube.add_factories(cluster_factories(tuple(changed), self.identities, self.pool_size))
            self.clusters = tuple({c.name: c for c in (*self.clusters, *changed)}.values())

    def _retry_deadline(self) -> float | None:
        if self.stop is not None and self.stop.is_set():
            return time.monotonic()
        return self.deadline

    def vault(self, target: KeyVaultTarget) -> VaultSink:
        """One Key Vault client per vault and identity per run."""
        if target.auth is None:
            resolved = self.identities.ambient()
        else:
            resolved = self.identities.resolve(target)  # type: ignore[arg-type]  # auth checked just above
        return self.vaults.get(
            (target.vault_url, resolved.key),
            lambda: VaultSink(target.vault_url, self.identities.credential(resolved), deadline=self._retry_deadline,
                              **dict(self.vault_options)),
        )

    def close(self) -> None:
        """Release connection pools and credentials."""
        self.acr.close()
        for sink in self.vaults.values():
            sink.close()
        self.identities.close()
        self.kube.close()


def shard_of(key: str, count: int) -> int:
    """The shard (0-based) of a generator key: a stable hash, the same in every process and version."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") % count


def shard_key(gen: Generator) -> str:
    """What a generator is sharded by: its key, or for a ClusterGenerator instance the ClusterGenerator's
    (``ClusterGenerator/<name>``), so all its namespaces share one shard and one exchange per identity."""
    return cluster_generator_key(gen.cluster_generator) if isinstance(gen, ClusterGeneratorInstance) else gen.key


def select(config: Config, keys: tuple[str, ...], shard: tuple[int, int] | None = None) -> list[Generator]:
    """The generators named by ``keys`` (all when empty), limited to ``shard`` ``(index, count)``.

    A key is ``namespace/name``, ``ClusterGenerator/<name>@<namespace>`` (that instance) or
    ``ClusterGenerator/<name>`` (every instance; those found by expanding ClusterExternalSecrets join at run
    time). An unknown key is a :class:`UsageError`."""
    if shard is not None:
        index, count = shard
        if count < 1 or not 0 <= index < count:
            raise UsageError(f"shard {index}/{count}: need 0 <= INDEX < COUNT")
        return [g for g in select(config, keys) if shard_of(shard_key(g), count) == index]
    if not keys:
        return list(config.generators)
    chosen: list[Generator] = []
    for key in keys:
        if key.startswith("ClusterGenerator/") and "@" not in key:
            name = key.partition("/")[2]
            if any(c.name == name for c in config.cluster_generators):
                chosen += [g for g in config.generators if isinstance(g, ClusterGeneratorInstance)
                           and g.cluster_generator == name and g not in chosen]
                continue
        gen = config.generator(key)
        if gen is None:
            known = ", ".join([g.key for g in config.generators]
                              + [f"{c.key}[@<namespace>]" for c in config.cluster_generators]) or "none"
            raise UsageError(f"unknown generator {key!r} (known: {known})")
        if gen not in chosen:
            chosen.append(gen)
    return chosen


@dataclass
class _Item:
    """One concrete target: a Secret in one cluster and namespace, or one Key Vault secret."""

    gen: Generator
    target: KubernetesTarget | KeyVaultTarget
    report: TargetReport
    cluster: str = ""
    namespace: str = ""
    stale: bool = True
    existing: Any = None
    stored: freshness.Stored | None = None
    withheld: str = ""
    """Why refreshPolicy or syncWindows leave it alone although the token it holds lapses first (or has)."""


# freshness.verdict's reasons, in the report's vocabulary (acr_refresh.reasons).
_VERDICT_REASONS = {
    "missing": "missing", "drifted": "drifted", "inputs changed": "inputs-changed",
    "refreshInterval 0: created once": "created-once",
    "no recorded expiry": "no-record", "expired": "expired", "older than refreshInterval": "max-age",
    "less than the required lifetime left": "less-than-needed", "fresh": "valid",
}


def _entry(gen: Generator) -> GeneratorReport:
    """A generator's report entry. A ClusterGenerator instance's reads namespace ``ClusterGenerator`` and
    name ``<name>@<namespace>``: its ``namespace/name`` is the key ``--generator`` takes, as for the others."""
    namespace, _, name = gen.key.partition("/")
    return GeneratorReport(namespace, name, gen.registry, gen.token_type)


def _failure_reason(exc: BaseException) -> str:
    """The report's reason for a target that failed with ``exc``."""
    reason = getattr(exc, "reason", None)
    if isinstance(reason, str) and reason:
        return reason
    if getattr(exc, "status", None) == 403:
        return "forbidden"
    if getattr(exc, "status", None) == 409:
        return "conflict"
    return "write-failed"


def _error(exc: BaseException) -> str:
    # Scrub first: truncating first could cut a secret in two and leave a recognisable half.
    if isinstance(exc, AcrRefreshError):
        return truncate(scrub(str(exc)), 500)
    return truncate(scrub(f"unexpected {type(exc).__name__}: {exc}"), 500)


class _Run:
    def __init__(self, config: Config, options: RunOptions, services: Services, stop: threading.Event) -> None:
        self.config = config
        self.options = options
        self.services = services
        self.stop = stop
        # Identity results (Entra tokens, secretRef values, errors) are per run: a warm process must pick up
        # a rotated secret or a recovered endpoint. Credential objects stay, with their own expiring caches.
        services.identities.forget_tokens()
        for sink in services.vaults.values():  # Key Vault listings are per run too
            sink.forget()
        self.margins: set[timedelta | None] = {None}
        self.minter = Minter(services.identities, services.acr, cache=services.tokens, now=services.now)
        t0 = time.monotonic()
        self.deadline = t0 + options.deadline_seconds if options.deadline_seconds is not None else None
        services.deadline = self.deadline
        services.stop = stop
        services.use_clusters(config.clusters)
        self.pool = ThreadPoolExecutor(max_workers=max(1, options.concurrency), thread_name_prefix="acr-refresh")
        self.namespace_lists: OnceMap[tuple[str, str], list[tuple[str, dict[str, str]]]] = OnceMap()
        self.template_sources: OnceMap[tuple[str, str, str, str], dict[str, str | None]] = OnceMap()
        """``templateFrom`` ConfigMaps and Secrets: read once per run per cluster, namespace and name."""
        self.render_budget = RenderBudget()  # what this run may render in all targets together
        self.expanded: set[tuple[str, str]] = set()  # (cluster, target key) expanded this run
        self.stopped_at: float | None = None  # when each() first saw the stop signal
        self.abandoned = False  # work still in flight was given up after the stop grace
        self.expansion_failures: dict[str, str] = {}  # cluster -> why a target's expansion failed there

    def taken_over(self, cluster: str, namespace: str, name: str) -> bool:
        """``--take-over`` names this Secret (``NS/NAME`` means the default cluster)."""
        names = self.options.take_over
        return f"{cluster}/{namespace}/{name}" in names or (cluster == "default" and f"{namespace}/{name}" in names)

    def out_of_time(self) -> str | None:
        if self.stop.is_set():
            return "stopped before this started (shutdown)"
        if self.deadline is not None and time.monotonic() >= self.deadline:
            return "deadline reached before this started"
        return None

    def each(self, fn: Callable[[T], None], items: Iterable[T]) -> None:
        """Run ``fn`` over ``items`` on the pool. After a stop signal, wait at most
        :data:`STOP_GRACE_SECONDS` (in all, for the whole run) for work in flight: a request stalled past
        that is abandoned (each is one request, so its target is either old or new), and shutdown stays
        prompt whatever the timeouts are."""
        by_future = {self.pool.submit(fn, item): item for item in items}
        pending = set(by_future)
        while pending:
            done, pending = wait(pending, timeout=0.1)
            for f in done:
                f.result()
            if pending and self.stop.is_set():
                self.stopped_at = self.stopped_at or time.monotonic()
                if time.monotonic() - self.stopped_at >= STOP_GRACE_SECONDS:
                    self.abandoned = True
                    for f in pending:
                        f.cancel()
                        rep = getattr(by_future[f], "report", None)
                        if isinstance(rep, TargetReport) and rep.status == "not-attempted":
                            rep.reason = "stopped"
                            rep.error = "given up after the stop signal; a write in flight may still land"
                    return

    # ---------------------------------------------------------------------------------- phase 1

    def expand(self, gen: Generator, entry: GeneratorReport) -> list[_Item]:
        items: list[_Item] = []
        for kt in self.config.kube_targets:
            if kt.generator != gen.key:
                continue
            for cluster in kt.clusters:
                try:
                    namespaces = self.namespaces(kt, cluster)
                except Exception as exc:  # noqa: BLE001 - one cluster's failure must not stop the others
                    entry.targets.append(TargetReport("KubernetesSecret", "failed", cluster=cluster,
                                                      namespace=kt.namespace, name=kt.secret_name,
                                                      error=_error(exc), reason="read-failed"))
                    self.expansion_failures.setdefault(cluster, f"{kt.key}: {_error(exc)}")
                    continue
                self.expanded.add((cluster, kt.key))
                for ns in namespaces:
                    rep = TargetReport("KubernetesSecret", "not-attempted", cluster=cluster, namespace=ns,
                                       name=kt.secret_name)
                    entry.targets.append(rep)
                    items.append(_Item(gen, kt, rep, cluster, ns))
        for vt in self.config.vault_targets:
            if vt.generator == gen.key:
                rep = TargetReport("KeyVaultSecret", "not-attempted", vault=vt.vault_url.rstrip("/"),
                                   secret_name=vt.secret_name)
                entry.targets.append(rep)
                items.append(_Item(gen, vt, rep))
        return items

    def refuse_shared_secrets(self, items: list[_Item]) -> None:
        """Selector targets that resolve to a Secret another target writes fail in that namespace (the
        Secret is left as it is, and stays wanted, so prune keeps it); fixed namespaces were refused in config."""
        places = [((i.cluster, i.namespace, i.target.secret_name), i.target) for i in items
                  if isinstance(i.target, KubernetesTarget)]
        clashes = overlap.conflicts(places)  # type: ignore[arg-type]
        for item in items:
            if not isinstance(item.target, KubernetesTarget):
                continue
            clash = clashes.get((item.cluster, item.namespace, item.target.secret_name))
            if clash:
                others = ", ".join(t.key for t in clash if t is not item.target)
                item.stale = False
                item.report.status, item.report.reason = "failed", "conflict"
                item.report.error = (f"Secret {item.namespace}/{item.target.secret_name} is also written by {others}: "
                                     "left as it is (only Merge/CreateOrMerge targets with disjoint keys may share)")

    def namespaces(self, kt: KubernetesTarget, cluster: str) -> list[str]:
        """The namespaces ``kt`` expands to in ``cluster``: its fixed ones, then those any selector matches."""
        chosen = list(kt.namespaces)
        if kt.selectors:
            # One selector: the server filters. Several (ORed): one list of every namespace, matched here,
            # rather than one list per selector as ESO's GetTargetNamespaces makes (the same namespaces).
            # A selector on kubernetes.io/metadata.name (a ClusterExternalSecret's `namespaces`) is matched
            # here too, with that label as API servers since 1.21 set it, so older ones select the same.
            by_name = any(NAME_LABEL in s.keys() for s in kt.selectors)
            query = kt.selectors[0].to_query() if len(kt.selectors) == 1 and not by_name else ""
            listed = self.namespace_lists.get(
                (cluster, query), lambda: self.services.kube.get(cluster).list_namespaces(query)
            )
            chosen += [name for name, labels in listed
                       if any(s.matches({NAME_LABEL: name, **labels}) for s in kt.selectors)]
        excluded = set(kt.exclude_namespaces)
        return [ns for ns in dict.fromkeys(chosen) if ns not in excluded]

    def selects(self, gen: Generator, chosen: set[str]) -> bool:
        """Whether this run selected ``gen``, found while expanding a per-namespace target."""
        if gen.key in chosen:
            return True
        keys = self.options.generators
        instance = isinstance(gen, ClusterGeneratorInstance)
        if keys:
            return instance and (gen.key in keys or shard_key(gen) in keys)
        if self.options.shard is not None and instance:
            return shard_of(shard_key(gen), self.options.shard[1]) == self.options.shard[0]
        return instance  # a static generator not chosen was left out by --shard

    def expand_per_namespace(self, generators: list[Generator], entries: dict[str, GeneratorReport],
                             items: dict[str, list[_Item]]) -> list[Generator]:
        """Phase 1 for targets whose generator is resolved in each namespace (ClusterExternalSecrets): expand
        each once per cluster, and give each namespace's Secret to the generator its ref names there: the
        ACRAccessToken ``<namespace>/<name>`` (missing: that Secret fails, ``no-generator``; the others go on)
        or the ClusterGenerator instance ``ClusterGenerator/<name>@<namespace>``. Returns the generators so
        found that were not selected up front (instances); their entries and items are added."""
        pairs = [(kt, c) for kt in self.config.kube_targets if kt.per_namespace for c in kt.clusters]
        if not pairs:
            return []
        found: dict[tuple[str, str], list[str] | Exception] = {}

        def one(pair: tuple[KubernetesTarget, str]) -> None:
            try:
                found[(pair[0].key, pair[1])] = self.namespaces(*pair)
            except Exception as exc:  # noqa: BLE001 - one cluster's failure must not stop the others
                found[(pair[0].key, pair[1])] = exc

        self.each(one, pairs)
        chosen = {g.key for g in generators}
        static = {g.key: g for g in self.config.generators}
        cluster_gens = {c.name: c for c in self.config.cluster_generators}
        keys = self.options.generators
        new: list[Generator] = []
        for kt, cluster in pairs:
            result = found.get((kt.key, cluster))
            if result is None:  # given up after a stop signal
                continue
            if isinstance(result, Exception):
                self.expansion_failures.setdefault(cluster, f"{kt.key}: {_error(result)}")
                key = kt.generator_for("*")  # every namespace: the report's `ClusterGenerator/<name>@*` or `*/<name>`
                root = cluster_generator_key(kt.generator_name)
                if keys and not any(k == root or k.startswith(f"{root}@") or k.endswith(f"/{kt.generator_name}")
                                    for k in keys):
                    continue
                namespace, _, name = key.partition("/")
                entry = entries.setdefault(key, GeneratorReport(namespace, name, "", "", status="failed",
                                                                error=f"{kt.key}: not expanded"))
                entry.targets.append(TargetReport("KubernetesSecret", "failed", cluster=cluster, namespace="",
                                                  name=kt.secret_name, error=f"{kt.key}: {_error(result)}",
                                                  reason="read-failed"))
                continue
            for ns in result:
                key = kt.generator_for(ns)
                gen = static.get(key)
                if gen is None and kt.generator_ref_kind == "ClusterGenerator":
                    gen = cluster_gens[kt.generator_name].instantiate(ns)
                if gen is None:  # the ACRAccessToken it names is not in this namespace
                    if keys and key not in keys:
                        continue
                    entry = entries.setdefault(key, GeneratorReport(ns, kt.generator_name, "", "", status="failed",
                                                                    error=f"no ACRAccessToken {key} in the config"))
                    entry.targets.append(TargetReport(
                        "KubernetesSecret", "failed", cluster=cluster, namespace=ns, name=kt.secret_name,
                        reason="no-generator",
                        error=f"{kt.key} selects namespace {ns}, and its generatorRef (resolved in each namespace, "
                              f"as ESO does) names ACRAccessToken {key}, which is not in the config"))
                    continue
                if not self.selects(gen, chosen):
                    continue
                if gen.key not in entries:
                    entries[gen.key], items[gen.key] = _entry(gen), []
                    new.append(gen)
                    chosen.add(gen.key)
                rep = TargetReport("KubernetesSecret", "not-attempted", cluster=cluster, namespace=ns,
                                   name=kt.secret_name)
                entries[gen.key].targets.append(rep)
                items[gen.key].append(_Item(gen, kt, rep, cluster, ns))
        return new

    # ---------------------------------------------------------------------------------- phase 2

    def check(self, item: _Item) -> None:
        if item.report.status == "failed":  # refused at expansion (a shared Secret): left as it is
            return
        reason = self.out_of_time()
        if reason:
            item.report.error, item.report.reason = reason, "stopped" if self.stop.is_set() else "deadline"
            item.stale = False
            return
        now = self.services.now()
        wanted = inputs_hash(item.target, item.gen)
        try:
            if isinstance(item.target, KubernetesTarget):
                existing = kube_sink.read_existing(
                    self.services.kube.get(item.cluster), item.namespace, item.target.secret_name,
                    kube_sink.record_suffix(item.target.key, item.target.creation_policy))
                item.existing = existing
                stored = existing.stored if existing is not None else None
                if stored is not None and kube_sink.drifted(existing, item.target.creation_policy):
                    stored = replace(stored, drifted=True)  # its data is not what we wrote: rewritten
                refresh_interval = item.target.refresh_interval
            else:
                stored = self.services.vault(item.target).read(item.target.secret_name)
                refresh_interval = None
            item.stored = stored
            item.report.was_read, item.report.held_expires_at = True, stored.expires_at if stored else None
        except Exception as exc:  # noqa: BLE001 - one target's failure must not stop the others
            item.report.status, item.report.error, item.stale = "failed", _error(exc), False
            item.report.reason = "forbidden" if getattr(exc, "status", None) == 403 else "read-failed"
            return
        if self.options.force:
            item.report.reason = "forced"
            return
        min_remaining = (item.target.min_remaining if item.target.min_remaining is not None
                         else self.options.min_remaining)
        try:  # tenant-edited annotations end up here: nothing they hold may escape this target
            fresh, why = freshness.verdict(stored, now=now, wanted_hash=wanted, min_remaining=min_remaining,
                                           refresh_interval=refresh_interval)
        except Exception as exc:  # noqa: BLE001 - one target's failure must not stop the others
            item.report.status, item.report.reason, item.stale = "failed", "invalid-live-state", False
            item.report.error = _error(exc)
            return
        item.report.reason = _VERDICT_REASONS.get(why, why)
        if item.report.reason == "less-than-needed":
            item.report.reason = "min-remaining" if min_remaining is not None else "half-life"
        if isinstance(item.target, KubernetesTarget):
            # refreshPolicy and syncWindows may leave a stale target alone (acr_refresh.policy).
            decision = policy.decide(item.target, stored, item.report.reason, now=now, min_remaining=min_remaining)
            item.report.reason, item.withheld = decision.reason, decision.withheld if decision.lapse else ""
            if not decision.stale:
                item.stale = False
                item.report.status = decision.status
                item.report.expires_at = stored.expires_at if stored else None
                if decision.status == "expired":
                    item.report.error = f"{decision.withheld}, and the token it holds has expired"
        elif fresh:
            item.stale = False
            item.report.status = "fresh"
            item.report.expires_at = stored.expires_at if stored else None

    # ---------------------------------------------------------------------------------- phase 3

    def mint(self, gen: Generator, entry: GeneratorReport, stale: list[_Item]) -> Credentials | None:
        reason = self.out_of_time()
        if reason:
            entry.error = reason
            return None
        # A token cached from an earlier run is reused only if it satisfies every margin of this run
        # (generators share exchanges, so the strictest one counts), and never for a refreshInterval target
        # (its age, not its remaining life, decides) nor on a forced or dry run (they prove auth now).
        margins = list(self.margins)
        if self.options.force or self.options.dry_run or any(
            isinstance(i.target, KubernetesTarget) and i.target.refresh_interval is not None for i in stale
        ):
            margins = [timedelta.max]
        try:
            resolved = self.minter.resolve(gen)
            entry.identity = resolved.key.describe()
            creds = self.minter.mint(gen, resolved, margins)
        except Exception as exc:  # noqa: BLE001 - one generator's failure must not stop the others
            entry.status, entry.error = "failed", _error(exc)
            if not isinstance(exc, MintError):
                log.error("generator failed unexpectedly", extra={"generator": gen.key, "error": entry.error})
            log.warning("generator failed", extra={"generator": gen.key, "registry": gen.registry,
                                                   "error": entry.error})
            return None
        entry.status, entry.expires_at = "ok", creds.expires_at
        log.info("generator minted", extra={"generator": gen.key, "registry": gen.registry,
                                            "tokenType": gen.token_type, "expiresAt": entry.to_dict()["expiresAt"]})
        return creds

    # ---------------------------------------------------------------------------------- phase 4

    def write(self, item: _Item, creds: Credentials) -> None:
        reason = self.out_of_time()
        if reason:
            item.report.error, item.report.reason = reason, "stopped" if self.stop.is_set() else "deadline"
            return
        outputs = creds.outputs()
        target = item.target
        try:
            if isinstance(target, KubernetesTarget):
                try:
                    sources = self.read_template_sources(item)
                except Exception as exc:  # noqa: BLE001 - that target fails, with the reason
                    item.report.status, item.report.error, item.report.reason = "failed", _error(exc), "read-failed"
                    log.warning("target failed", extra={"generator": item.gen.key, "target": target.key,
                                                        "error": item.report.error})
                    return
                desired = render_secret(target, item.gen, item.namespace, outputs, creds.issued_at, creds.expires_at,
                                        self.render_budget, sources)
                take_over = self.taken_over(item.cluster, item.namespace, target.secret_name)
                if self.options.dry_run and target.creation_policy != "None":
                    # What a real run would refuse (an ESO-managed Secret, one not ours, a Merge into nothing)
                    # fails the dry run too, with the same reason: the migration guide's check step relies on it.
                    kube_sink.check_write(item.cluster, desired, item.existing,
                                          creation_policy=target.creation_policy, take_over=take_over,
                                          type_from_template=bool(target.template.type))
                if self.options.dry_run or target.creation_policy == "None":
                    item.report.status = "skipped"
                    item.report.error = "dry run" if self.options.dry_run else "creationPolicy None"
                    item.report.reason = "dry-run" if self.options.dry_run else "creation-policy-none"
                    return
                client = self.services.kube.get(item.cluster)
                kube_sink.write_secret(client, desired, item.existing, creation_policy=target.creation_policy,
                                       take_over=take_over, type_from_template=bool(target.template.type))
            else:
                value = render_vault_value(target, outputs, self.render_budget)
                if self.options.dry_run:
                    item.report.status, item.report.error, item.report.reason = "skipped", "dry run", "dry-run"
                    return
                self.services.vault(target).write(
                    target.secret_name, value, content_type=target.content_type, tags=vault_tags(target, item.gen),
                    expires_on=creds.expires_at, not_before=creds.issued_at,
                )
        except Exception as exc:  # noqa: BLE001 - one target's failure must not stop the others
            item.report.status, item.report.error = "failed", _error(exc)
            item.report.reason = "render-failed" if isinstance(exc, RenderError) else _failure_reason(exc)
            log.warning("target failed", extra={"generator": item.gen.key, "target": target.key,
                                                "error": item.report.error})
            return
        item.report.status, item.report.expires_at = "written", creds.expires_at
        where = ({"cluster": item.cluster, "namespace": item.namespace} if item.cluster
                 else {"vault": getattr(target, "vault_url", "")})
        log.info("target written", extra={"generator": item.gen.key, "target": target.key, **where})

    def read_template_sources(self, item: _Item) -> dict[tuple[str, str], dict[str, str | None]]:
        """The ConfigMaps and Secrets ``item``'s ``templateFrom`` names, in its namespace: read once per run per
        cluster (targets fanned out to one namespace share them). They are tenants' objects: nothing read
        here is ever logged, and a Secret's values an item uses are registered for redaction when rendered."""
        assert isinstance(item.target, KubernetesTarget) and item.cluster
        out: dict[tuple[str, str], dict[str, str | None]] = {}
        for source in item.target.template.template_from:
            if source.source == "literal" or (source.source, source.name) in out:
                continue
            key = (item.cluster, item.namespace, source.source, source.name)
            client, namespace, name = self.services.kube.get(item.cluster), item.namespace, source.name

            def read(client: Any = client, namespace: str = namespace, name: str = name,
                     is_map: bool = source.source == "configMap") -> dict[str, str | None]:
                if is_map:
                    return dict(client.read_configmap_data(namespace, name))
                # values an item uses are registered for redaction when rendered (render.render_secret), only
                # those: a tenant's Secret of many keys must not push the run's tokens out of the registry
                return client.read_secret_text(namespace, name)

            out[(source.source, source.name)] = self.template_sources.get(key, read)
        return out

    def pull_secrets(self, item: _Item) -> None:
        """Keep ServiceAccounts' imagePullSecrets listing a written or fresh Secret (opt-in per target)."""
        target = item.target
        if not isinstance(target, KubernetesTarget) or not target.service_accounts or self.options.dry_run:
            return
        if item.report.status not in ("written", "fresh") or self.out_of_time():
            return
        try:
            kube_sink.ensure_image_pull_secret(self.services.kube.get(item.cluster), item.namespace,
                                               target.service_accounts, target.secret_name)
        except Exception as exc:  # noqa: BLE001 - reported on the target
            item.report.status, item.report.error = "failed", f"imagePullSecrets: {_error(exc)}"
            item.report.reason = _failure_reason(exc)

    # ------------------------------------------------------------------------------------ whole

    def run(self, generators: list[Generator], report: Report) -> None:
        entries = {g.key: _entry(g) for g in generators}
        items: dict[str, list[_Item]] = {}

        def expand(gen: Generator) -> None:
            items[gen.key] = self.expand(gen, entries[gen.key])

        self.each(expand, generators)
        for gen in generators:
            items.setdefault(gen.key, [])
        generators = generators + self.expand_per_namespace(generators, entries, items)
        report.generators = list(entries.values())
        self.refuse_shared_secrets([i for g in generators for i in items[g.key]])
        self.each(self.check, [i for g in generators for i in items[g.key]])
        to_mint = [g for g in generators
                   if self.options.dry_run or not items[g.key] or any(i.stale for i in items[g.key])]
        margins: set[timedelta | None] = {None}
        margins.update(i.target.min_remaining if i.target.min_remaining is not None else self.options.min_remaining
                       for g in to_mint for i in items[g.key] if i.stale)
        self.margins = margins
        minted: dict[str, Credentials] = {}

        def mint(gen: Generator) -> None:
            creds = self.mint(gen, entries[gen.key], [i for i in items[gen.key] if i.stale])
            if creds is not None:
                minted[gen.key] = creds

        self.each(mint, to_mint)
        # Clock skew and capped lifetimes, found when the tokens were anchored to this job's clock.
        report.warnings.extend(dict.fromkeys(w for c in minted.values() for w in c.token.warnings))
        for gen in generators:
            entry = entries[gen.key]
            if gen in to_mint or entry.status != "not-attempted":
                continue
            if not all(i.report.status in ("fresh", "expired") for i in items[gen.key]):
                entry.error = "not minted: no target was stale, and some could not be checked"
            else:
                entry.status = "fresh"
                expiries = [i.report.expires_at for i in items[gen.key] if i.report.expires_at]
                entry.expires_at = min(expiries) if expiries else None
        stale = [i for g in generators for i in items[g.key] if i.stale and i.report.status == "not-attempted"]
        for item in stale:
            if item.gen.key not in minted and entries[item.gen.key].status == "failed":
                item.report.status, item.report.reason = "failed", "mint-failed"
                item.report.error = "not written: the generator failed to mint (previous value kept)"
        self.each(lambda i: self.write(i, minted[i.gen.key]), [i for i in stale if i.gen.key in minted])
        self.each(self.pull_secrets, [i for g in generators for i in items[g.key]])
        report.warnings.extend(self.lapse_warnings([i for g in generators for i in items[g.key]]))
        if self.options.prune:
            report.pruned = self.prune([i for g in generators for i in items[g.key]], report)
        if self.options.events and not self.options.dry_run:
            occurrences = events.occurrences(events.outcomes_of(i for g in generators for i in items[g.key]),
                                             self.services.now())
            report.warnings.extend(events.publish(self.services.kube, occurrences, self.services.now(),
                                                  each=self.each, out_of_time=self.out_of_time))

    def lapse_warnings(self, items: list[_Item]) -> list[str]:
        """A warning for every target left unrefreshed, saying when the token it still holds expires, so an
        outage longer than the safety margin is announced before any consumer holds an expired token; and for
        every target whose refreshPolicy or syncWindows withhold its refresh until after its token lapses,
        naming the expiry and why, in every run from the first that sees it until it is refreshed."""
        now = self.services.now()
        out = []
        for item in items:
            where = (f"{item.target.key} in {item.cluster}/{item.namespace}" if item.cluster
                     else item.target.key)
            expires = item.stored.expires_at if item.stored else None
            if item.withheld and item.report.status in ("fresh", "expired") and expires is not None:
                # Left alone on purpose (refreshPolicy, syncWindows), and the token lapses first: say so in time.
                if expires <= now:
                    out.append(f"{where}: not refreshed ({item.withheld}); the token it holds EXPIRED at "
                               f"{rfc3339(expires)}")
                else:
                    left = int((expires - now).total_seconds() // 60)
                    out.append(f"{where}: will not be refreshed before the token it holds expires at "
                               f"{rfc3339(expires)} ({left} min left): {item.withheld}")
                continue
            if item.report.status not in ("failed", "not-attempted"):
                continue
            if expires is None:
                out.append(f"{where}: not refreshed, and its current expiry is unknown")
            elif expires <= now:
                out.append(f"{where}: not refreshed; the token it holds EXPIRED at {rfc3339(expires)}")
            else:
                left = int((expires - now).total_seconds() // 60)
                out.append(f"{where}: not refreshed; the token it holds expires at {rfc3339(expires)} "
                           f"({left} min left)")
        return out

    def prune(self, items: list[_Item], report: Report) -> list[TargetReport]:
        """Delete Secrets we created that no current target wants, cluster by cluster, only when every rule
        holds (README "Prune"; ``docs/reliability.md``):

        1. it carries the created marker and its recorded creation policy is ``Owner`` (a removed ``Merge``
           target gives up only its own data keys and annotations; anything else is ``kept``);
        2. no target of the config resolves to it: every target that can write into the cluster is expanded
           (whatever ``--generator``/``--shard`` selected), and if any expansion failed, nothing is pruned there;
        3. the config is credible for the cluster (some generator and some Kubernetes target for it, unless
           ``--prune-allow-empty``), and the deletions are not more than ``--prune-max-delete`` **and** more
           than a quarter of the Secrets we created there;
        4. time remains: the deadline and the stop signal are checked before every list, update and delete.

        Lists are metadata-only, so no other Secret's data is ever read. A Secret is unlinked from the
        ServiceAccounts recorded as the ones we added it to, in the run that deletes it, and only then."""
        results: list[TargetReport] = []
        wanted_by_cluster: dict[str, set[tuple[str, str]]] = {}
        for item in items:
            if isinstance(item.target, KubernetesTarget):
                wanted_by_cluster.setdefault(item.cluster, set()).add((item.namespace, item.target.secret_name))
        # Every Cluster in the config and every cluster a target names; `default` only when a target uses
        # it, or when no target names any (an empty config: refused below unless --prune-allow-empty).
        clusters = sorted({c.name for c in self.config.clusters}
                          | {c for t in self.config.kube_targets for c in t.clusters}
                          | (set() if self.config.kube_targets else {"default"}))

        def pruned(status: str, reason: str, cluster: str, namespace: str | None = None,
                   name: str | None = None, error: str | None = None) -> TargetReport:
            rep = TargetReport("KubernetesSecret", status, cluster=cluster, namespace=namespace, name=name,
                               error=error, reason=reason)
            results.append(rep)
            return rep

        config_keys = {t.key for t in self.config.kube_targets}
        for cluster in clusters:
            targets = [t for t in self.config.kube_targets if cluster in t.clusters]
            if (not self.config.generators or not targets) and not self.options.prune_allow_empty:
                why = ("the config declares no generator" if not self.config.generators
                       else "the config declares no Kubernetes target for this cluster")
                pruned("refused", "guard-empty-config", cluster,
                       error=f"prune refused (guard empty-config): {why}; --prune-allow-empty overrides")
                report.warnings.append(f"cluster {cluster}: prune refused: {why}")
                continue
            # Rule 2: what every target wants here, expanding those this run did not select.
            wanted = set(wanted_by_cluster.get(cluster, set()))
            failed_expansion = ""
            for kt in targets:
                if (cluster, kt.key) in self.expanded:  # expanded this run: its items are in `wanted`
                    continue
                try:
                    wanted.update((ns, kt.secret_name) for ns in self.namespaces(kt, cluster))
                except Exception as exc:  # noqa: BLE001 - reported as the guard's reason
                    failed_expansion = f"{kt.key}: {_error(exc)}"
            failed_expansion = failed_expansion or self.expansion_failures.get(cluster, "")
            if self.out_of_time():
                pruned("not-attempted", "deadline", cluster, error=self.out_of_time())
                continue
            try:
                client = self.services.kube.get(cluster)
                listed = client.list_secret_metadata()
            except Exception as exc:  # noqa: BLE001 - reported
                pruned("failed", "read-failed", cluster, error=_error(exc))
                continue
            candidates: list[tuple[dict[str, Any], kube_sink.Existing]] = []
            released: list[tuple[dict[str, Any], kube_sink.Existing]] = []
            created_total = 0
            for meta in listed:
                existing = kube_sink.inspect_secret({"metadata": meta})
                created_total += existing.created
                ns, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
                if (ns, name) in wanted and not failed_expansion:
                    # Still wanted by a target sharing it (Merge): a sharer gone from the config gives up its own
                    # keys and record, as a removed Merge target does.
                    released.extend((meta, kube_sink.inspect_secret({"metadata": meta}, sfx))
                                    for sfx, key in kube_sink.merge_records(meta) if key not in config_keys)
                if not existing.target or (ns, name) in wanted:
                    continue  # not written by us, or still wanted: never touched
                if failed_expansion:
                    pruned("refused", "guard-expansion-failed", cluster, ns, name,
                           f"prune refused (guard expansion-failed): a target's expansion failed in this "
                           f"cluster this run ({failed_expansion})")
                elif existing.eso_managed:  # ESO writes into it now: not ours alone to delete
                    pruned("kept", "eso-managed", cluster, ns, name,
                           "kept: External Secrets Operator manages it now ("
                           + ", ".join(existing.eso_marks) + ")")
                elif existing.created and existing.policy in ("", "Owner"):
                    candidates.append((meta, existing))
                elif existing.created:
                    pruned("kept", "policy-keeps", cluster, ns, name,
                           f"kept: creationPolicy {existing.policy} never deletes")
                elif existing.legacy:
                    pruned("kept", "legacy", cluster, ns, name,
                           "kept: written by an earlier version (no created marker); see README \"Prune\"")
                elif existing.policy in MERGING_CREATION_POLICIES:
                    released.append((meta, existing))
                else:
                    pruned("kept", "not-created", cluster, ns, name, "kept: acr-refresh did not create it")
            limit = self.options.prune_max_delete
            if len(candidates) > limit and len(candidates) * 4 > created_total:
                for meta, _ in candidates:
                    pruned("refused", "guard-max-delete", cluster, meta.get("namespace"), meta.get("name"),
                           f"prune refused (guard max-delete): {len(candidates)} deletions in this cluster are "
                           f"more than --prune-max-delete {limit} and more than a quarter of the "
                           f"{created_total} Secrets acr-refresh created here")
                report.warnings.append(f"cluster {cluster}: prune refused: {len(candidates)} deletions exceed "
                                       f"--prune-max-delete {limit}")
                candidates = []
            for meta, existing in candidates + released:
                ns, name = str(meta.get("namespace")), str(meta.get("name"))
                delete = (meta, existing) in candidates
                if self.options.dry_run:
                    pruned("skipped", "dry-run", cluster, ns, name,
                           "dry run: would delete" if delete else "dry run: would remove its keys and annotations")
                    continue
                reason = self.out_of_time()
                if reason:
                    pruned("not-attempted", "deadline" if "deadline" in reason else "stopped", cluster, ns, name,
                           reason)
                    continue
                rep = pruned("deleted", "unwanted", cluster, ns, name,
                             None if delete else "removed its data keys and annotations (creationPolicy Merge)")
                try:
                    if delete:
                        client.delete_secret(ns, name, uid=existing.uid, resource_version=existing.resource_version)
                        if not self.out_of_time():
                            kube_sink.remove_image_pull_secret(client, ns, name)
                    else:
                        kube_sink.release_secret(client, ns, name, existing.suffix)
                    log.info("pruned", extra={"cluster": cluster, "namespace": ns, "secret": name})
                except Exception as exc:  # noqa: BLE001 - reported
                    rep.status, rep.reason, rep.error = "failed", "delete-failed", _error(exc)
        return results


def run(
    config: Config,
    options: RunOptions | None = None,
    *,
    services: Services | None = None,
    stop: threading.Event | None = None,
) -> Report:
    """Check, mint and deliver every selected generator; never raises for a generator's or target's failure.

    ``stop`` (set by a signal handler) and ``options.deadline_seconds`` stop new work from starting; what
    was not attempted is reported as such. Raises :class:`UsageError` for an unknown generator name.
    """
    options = options or RunOptions()
    generators = select(config, options.generators, options.shard)
    started = datetime.now(UTC)
    t0 = time.monotonic()
    own_services = services is None
    services = services or Services(pool_size=options.concurrency, clusters=config.clusters)
    report = Report(started_at=started, warnings=list(config.warnings), dry_run=options.dry_run)
    # Kinds ESO defines that acr-refresh does not act on: said in every run's report, never silently skipped.
    report.warnings.extend(f"{u.location}: {u.api_version} {u.kind} not handled: {u.reason}" for u in config.unhandled)
    job = _Run(config, options, services, stop or threading.Event())
    try:
        job.run(generators, report)
    finally:
        # Abandoned work (a stalled request after a stop signal) is not waited for.
        job.pool.shutdown(wait=not job.abandoned, cancel_futures=True)
        report.abandoned = job.abandoned
        if own_services:
            services.close()
    report.duration_seconds = time.monotonic() - t0
    return report
