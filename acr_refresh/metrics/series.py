"""The metric series of one run, built from its report and request counts. Pure: no network, no dependency.

Every backend (Pushgateway, OTLP, Azure Monitor) exports exactly these series; ``docs/operations.md`` lists
them and a test holds the two together. Label values come from the config (names) and from the report's
closed vocabularies (:mod:`acr_refresh.reasons`, :mod:`acr_refresh.telemetry`): never error text, never a
credential.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .. import reasons, telemetry

PREFIX = "acr_refresh_"
TARGET_LABELS = ("kind", "cluster", "namespace", "name", "vault", "secret", "generator", "registry", "reason")
IDENTITY_LABELS = ("kind", "cluster", "namespace", "name", "vault", "secret")
"""The labels that say which target a series is about (the others may change from run to run)."""
DELIVERY_STATUSES = (reasons.WRITTEN, reasons.FRESH, reasons.FAILED, reasons.SKIPPED, reasons.NOT_ATTEMPTED,
                     reasons.EXPIRED)
FAILED_STATUSES = (reasons.FAILED, reasons.EXPIRED)
"""Target statuses that count as a failure (``target_last_failure`` 1); ``not-attempted`` is unknown."""


@dataclass(frozen=True)
class Metric:
    """One metric family: its name, type, labels and meaning (the catalogue of ``docs/operations.md``)."""

    name: str
    type: str
    labels: tuple[str, ...]
    help: str


EXPIRY = PREFIX + "credential_expiry_timestamp_seconds"
LAST_FAILURE = PREFIX + "target_last_failure"
CONSECUTIVE = PREFIX + "target_consecutive_failures"
RUN_START = PREFIX + "run_start_timestamp_seconds"
RUN_DURATION = PREFIX + "run_duration_seconds"
RUN_CUT_SHORT = PREFIX + "run_cut_short"
LAST_SUCCESS = PREFIX + "last_success_timestamp_seconds"
TARGETS = PREFIX + "targets"
REQUESTS = PREFIX + "requests"
TOKENS = PREFIX + "tokens_minted"
SHARDS = PREFIX + "shards_expected"

METRICS: tuple[Metric, ...] = (
    Metric(EXPIRY, "gauge", TARGET_LABELS,
           "Unix time at which the credential the target holds now expires (anchored to this job's clock)."),
    Metric(LAST_FAILURE, "gauge", TARGET_LABELS,
           "1 if the target failed (or holds an expired credential it may not refresh) in its last attempted "
           "run, else 0."),
    Metric(CONSECUTIVE, "gauge", TARGET_LABELS,
           "How many attempted runs in a row the target failed (0 after a success; a run that did not attempt it "
           "neither counts nor resets). Needs the last value: exact with the Pushgateway and in a long-lived "
           "process, else it counts this run only."),
    Metric(RUN_START, "gauge", (), "Unix time at which the last run started."),
    Metric(RUN_DURATION, "gauge", (), "How long the last run took, in seconds."),
    Metric(RUN_CUT_SHORT, "gauge", (), "1 if the deadline or a stop signal came before the last run's work was "
                                       "done (some targets not attempted), else 0."),
    Metric(LAST_SUCCESS, "gauge", (), "Unix time at which the last run in which nothing failed ended."),
    Metric(TARGETS, "gauge", ("status",), "Delivery targets of the last run, by status."),
    Metric(REQUESTS, "gauge", ("service", "outcome"),
           "HTTP requests the last run made, by service and outcome; every attempt counts, retries too."),
    Metric(TOKENS, "gauge", ("type",), "Registry tokens the last run minted, by type (refresh, access)."),
    Metric(SHARDS, "gauge", (), "How many shards the run's --shard/--shards declares (1 when not sharded)."),
)
BY_NAME = {m.name: m for m in METRICS}


@dataclass(frozen=True)
class Sample:
    """One series' value: a metric name, its labels (every label of the family, '' where it does not apply)."""

    name: str
    labels: tuple[tuple[str, str], ...]
    value: float

    def label(self, key: str) -> str:
        return dict(self.labels).get(key, "")

    def identity(self) -> tuple[str, ...]:
        """Which target a per-target sample is about."""
        found = dict(self.labels)
        return tuple(found.get(k, "") for k in IDENTITY_LABELS)


@dataclass
class RunSeries:
    """The samples of one run, and what a backend that keeps state (the Pushgateway) must carry over."""

    samples: list[Sample] = field(default_factory=list)
    shard: tuple[int, int] = (0, 1)
    partial: bool = False
    """The run did not see every target of its shard (cut short, or ``--generator`` chose some): a target
    absent from the run keeps its last known series."""
    targets: set[tuple[str, ...]] = field(default_factory=set)
    """Every target the run knows of (identity labels)."""
    unknown_expiry: set[tuple[str, ...]] = field(default_factory=set)
    """Targets the run did not read: their last known expiry stays."""
    unknown_failure: set[tuple[str, ...]] = field(default_factory=set)
    """Targets the run did not attempt: their last known failure state stays."""

    def keeps(self, name: str, identity: tuple[str, ...]) -> bool:
        """Whether an earlier sample of per-target metric ``name`` for ``identity`` is still the last known."""
        if identity not in self.targets:
            return self.partial
        if name == EXPIRY:
            return identity in self.unknown_expiry
        return identity in self.unknown_failure

    def merge(self, previous: list[Sample]) -> int:
        """Take in the last known per-target samples (an earlier run's): those this run cannot replace are
        kept, and each failing target's consecutive-failure count goes on from its last value. Returns how
        many samples were kept."""
        counts: dict[tuple[str, ...], float] = {}
        kept = []
        for sample in previous:
            if sample.name not in (EXPIRY, LAST_FAILURE, CONSECUTIVE):
                continue
            if sample.name == CONSECUTIVE:
                counts[sample.identity()] = max(counts.get(sample.identity(), 0.0), sample.value)
            if self.keeps(sample.name, sample.identity()):
                kept.append(sample)
        for i, sample in enumerate(self.samples):
            if sample.name == CONSECUTIVE and sample.value >= 1:
                self.samples[i] = Sample(CONSECUTIVE, sample.labels, counts.get(sample.identity(), 0.0) + 1)
        self.samples.extend(kept)
        return len(kept)

    def by_name(self, name: str) -> list[Sample]:
        return [s for s in self.samples if s.name == name]


def _ts(when: datetime | None) -> float | None:
    # Whole seconds, as the expiry is recorded on the target (so a written and a re-read value agree).
    return float(int(when.timestamp())) if when is not None else None


def target_labels(gen: Any, target: Any) -> tuple[tuple[str, str], ...]:
    """The nine labels of a per-target series from a GeneratorReport and one of its TargetReports."""
    reason = target.reason if target.reason in reasons.REASONS else ""
    vault_kind = target.kind == "KeyVaultSecret"
    values = {
        "kind": target.kind,
        "cluster": "" if vault_kind else target.cluster or "",
        "namespace": "" if vault_kind else target.namespace or "",
        "name": "" if vault_kind else target.name or "",
        "vault": target.vault or "" if vault_kind else "",
        "secret": target.secret_name or "" if vault_kind else "",
        "generator": gen.key,
        "registry": gen.registry,
        "reason": reason,
    }
    return tuple((k, values[k]) for k in TARGET_LABELS)


def held_expiry(target: Any) -> float | None:
    """When what the target holds after the run expires: the new credential's expiry if it was written, else
    what it held when read (None when not read or unknown)."""
    if target.status == reasons.WRITTEN:
        return _ts(target.expires_at)
    if target.was_read:
        return _ts(target.held_expires_at or target.expires_at)
    return None


def from_report(report: Any, counts: telemetry.Counts | None = None, *, shard: tuple[int, int] | None = None,
                selected: bool = False) -> RunSeries:
    """The series of a finished run. ``counts`` is the run's :mod:`telemetry` delta; ``shard`` its
    ``(index, count)``; ``selected`` says ``--generator`` chose some generators (a partial run)."""
    counts = counts or telemetry.Counts()
    out = RunSeries(shard=shard or (0, 1))
    cut_short = bool(report.abandoned) or any(
        g.status == "not-attempted" or any(t.status == reasons.NOT_ATTEMPTED for t in g.targets)
        for g in report.generators)
    out.partial = cut_short or selected
    add = out.samples.append
    by_status = dict.fromkeys(DELIVERY_STATUSES, 0)
    for gen in report.generators:
        for target in gen.targets:
            labels = target_labels(gen, target)
            identity = tuple(v for k, v in labels if k in IDENTITY_LABELS)
            out.targets.add(identity)
            if target.status in by_status:
                by_status[target.status] += 1
            expiry = held_expiry(target)
            if expiry is not None:
                add(Sample(EXPIRY, labels, expiry))
            elif not target.was_read and target.status != reasons.WRITTEN:
                out.unknown_expiry.add(identity)
            if target.status == reasons.NOT_ATTEMPTED:
                out.unknown_failure.add(identity)
            else:
                failed = 1.0 if target.status in FAILED_STATUSES else 0.0
                add(Sample(LAST_FAILURE, labels, failed))
                add(Sample(CONSECUTIVE, labels, failed))
    started = report.started_at.timestamp()
    add(Sample(RUN_START, (), started))
    add(Sample(RUN_DURATION, (), float(report.duration_seconds)))
    add(Sample(RUN_CUT_SHORT, (), 1.0 if cut_short else 0.0))
    if report.ok and not report.dry_run and not selected:  # a --generator run says nothing of the others
        add(Sample(LAST_SUCCESS, (), started + float(report.duration_seconds)))
    for status, n in by_status.items():
        add(Sample(TARGETS, (("status", status),), float(n)))
    for service in telemetry.SERVICES:
        for outcome in telemetry.OUTCOMES:
            add(Sample(REQUESTS, (("service", service), ("outcome", outcome)),
                       float(counts.requests.get((service, outcome), 0))))
    for token_type in telemetry.TOKEN_TYPES:
        add(Sample(TOKENS, (("type", token_type),), float(counts.tokens.get(token_type, 0))))
    add(Sample(SHARDS, (), float(out.shard[1])))
    return out
