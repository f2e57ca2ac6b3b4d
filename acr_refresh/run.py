"""One run: mint every selected generator concurrently (bounded), deliver, and build the report.

Triggers (the CLI, the Azure Functions app) call :func:`run` and turn its :class:`~acr_refresh.report.Report`
into an exit status or an HTTP response. The network clients live in :class:`Services`, which a long-lived
process may keep between runs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .acr import AcrClient, RetryPolicy
from .config import Config, Generator
from .errors import MintError, UsageError, truncate
from .identity import Identities
from .kube import KubeClients
from .mint import Minter
from .redact import scrub
from .report import GeneratorReport, Report

log = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 16


@dataclass(frozen=True)
class RunOptions:
    """What one run does."""

    generators: tuple[str, ...] = ()
    """``namespace/name`` keys to run; empty means all."""
    dry_run: bool = False
    """Mint (proving auth works) but write nothing."""
    concurrency: int = DEFAULT_CONCURRENCY
    """Generators and targets worked on at once."""
    deadline_seconds: float | None = None
    """After this many seconds no new request starts; the rest is reported ``not-attempted``."""


@dataclass
class Services:
    """The network edges of a run: registry, identity and Kubernetes clients.

    Build one per run, or keep one in a long-lived process so credentials are reused (in memory only).
    """

    environ: Mapping[str, str] | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    credential_options: Mapping[str, Any] = field(default_factory=dict)
    kube_factories: Mapping[str, Any] = field(default_factory=dict)
    pool_size: int = DEFAULT_CONCURRENCY
    deadline: float | None = None
    """Monotonic time after which no retry waits (set by :func:`run`)."""

    def __post_init__(self) -> None:
        self.kube = KubeClients(dict(self.kube_factories))
        self.identities = Identities(self.kube, environ=self.environ, credential_options=self.credential_options)
        self.acr = AcrClient(retry=self.retry, pool_size=self.pool_size, deadline=lambda: self.deadline)

    def close(self) -> None:
        """Release connection pools and credentials."""
        self.acr.close()
        self.identities.close()
        self.kube.close()


def select(config: Config, keys: tuple[str, ...]) -> list[Generator]:
    """The generators named by ``keys`` (all when empty). An unknown key is a :class:`UsageError`."""
    if not keys:
        return list(config.generators)
    chosen: list[Generator] = []
    for key in keys:
        gen = config.generator(key)
        if gen is None:
            known = ", ".join(g.key for g in config.generators) or "none"
            raise UsageError(f"unknown generator {key!r} (known: {known})")
        if gen not in chosen:
            chosen.append(gen)
    return chosen


def run(
    config: Config,
    options: RunOptions | None = None,
    *,
    services: Services | None = None,
    stop: threading.Event | None = None,
) -> Report:
    """Mint (and deliver) every selected generator; never raises for a generator's failure.

    ``stop`` (set by a signal handler) and ``options.deadline_seconds`` stop new work from starting; what
    was not attempted is reported as such. Raises :class:`UsageError` for an unknown generator name.
    """
    options = options or RunOptions()
    generators = select(config, options.generators)
    started = datetime.now(UTC)
    t0 = time.monotonic()
    own_services = services is None
    services = services or Services(pool_size=options.concurrency)
    deadline = t0 + options.deadline_seconds if options.deadline_seconds is not None else None
    services.deadline = deadline
    stop = stop or threading.Event()
    minter = Minter(services.identities, services.acr)
    report = Report(started_at=started, warnings=list(config.warnings), dry_run=options.dry_run)
    report.generators = [
        GeneratorReport(g.namespace, g.name, g.registry, g.token_type) for g in generators
    ]

    def out_of_time() -> bool:
        return stop.is_set() or (deadline is not None and time.monotonic() >= deadline)

    def work(gen: Generator, entry: GeneratorReport) -> None:
        if out_of_time():
            entry.error = "stopped before this generator started" if stop.is_set() else "deadline reached"
            return
        try:
            resolved = minter.resolve(gen)
            entry.identity = resolved.key.describe()
            creds = minter.mint(gen, resolved)
        except MintError as exc:
            entry.status, entry.error = "failed", scrub(truncate(str(exc), 500))
            log.warning("generator failed", extra={"generator": gen.key, "registry": gen.registry,
                                                   "error": entry.error})
            return
        except Exception as exc:
            entry.status = "failed"
            entry.error = scrub(truncate(f"unexpected {type(exc).__name__}: {exc}", 500))
            log.exception("generator failed unexpectedly", extra={"generator": gen.key})
            return
        entry.status, entry.expires_at = "ok", creds.expires_at
        log.info("generator minted", extra={"generator": gen.key, "registry": gen.registry,
                                            "tokenType": gen.token_type,
                                            "expiresAt": entry.to_dict()["expiresAt"]})

    try:
        with ThreadPoolExecutor(max_workers=max(1, options.concurrency), thread_name_prefix="acr-refresh") as pool:
            futures = [pool.submit(work, g, e) for g, e in zip(generators, report.generators, strict=True)]
            for f in futures:
                f.result()
    finally:
        if own_services:
            services.close()
    report.duration_seconds = time.monotonic() - t0
    return report
