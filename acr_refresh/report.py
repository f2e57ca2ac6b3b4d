"""The run report: plain dataclasses, JSON-serialisable, never holding a token.

The JSON form (``Report.to_dict``) is a public interface, documented in the README.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from . import reasons, redact

# Generator statuses: ok (minted; targets written or fresh), fresh (every target fresh, nothing minted),
# failed, not-attempted (deadline or shutdown came first).
GENERATOR_STATUSES = ("ok", "fresh", "failed", "not-attempted")
# Target statuses and their reasons: the closed vocabulary of acr_refresh.reasons.
TARGET_STATUSES = reasons.TARGET_STATUSES


def rfc3339(when: datetime | None) -> str | None:
    """UTC RFC 3339 with a ``Z`` and whole seconds, or None."""
    if when is None:
        return None
    return when.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass
class TargetReport:
    """What happened to one delivery target."""

    kind: str
    status: str
    cluster: str | None = None
    namespace: str | None = None
    name: str | None = None
    vault: str | None = None
    secret_name: str | None = None
    error: str | None = None
    expires_at: datetime | None = None
    reason: str | None = None
    """One word of :data:`acr_refresh.reasons.REASONS` (why it is stale, fresh, failed, kept, ...)."""
    was_read: bool = False
    """This run read what the target holds (not in the JSON report; metrics keep the last known expiry of
    a target that was not read)."""
    held_expires_at: datetime | None = None
    """When what the target held as this run read it expires (None: not read, or no record); not in the
    JSON report. With ``expires_at`` it gives the expiry of what it holds after the run (metrics)."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        if self.kind == "KeyVaultSecret":
            out.update(vault=self.vault, secretName=self.secret_name)
        else:
            out.update(cluster=self.cluster, namespace=self.namespace, name=self.name)
        out.update(status=self.status, reason=self.reason, error=_clean(self.error),
                   expiresAt=rfc3339(self.expires_at))
        return out


@dataclass
class GeneratorReport:
    """What happened to one generator and its targets."""

    namespace: str
    name: str
    registry: str
    token_type: str
    status: str = "not-attempted"
    error: str | None = None
    expires_at: datetime | None = None
    identity: str = ""
    targets: list[TargetReport] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def ok(self) -> bool:
        return self.status in ("ok", "fresh") and all(
            t.status in ("written", "fresh", "skipped") for t in self.targets
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "namespace": self.namespace,
            "name": self.name,
            "registry": self.registry,
            "tokenType": self.token_type,
            "identity": self.identity,
            "expiresAt": rfc3339(self.expires_at),
            "status": self.status,
            "error": _clean(self.error),
            "targets": [t.to_dict() for t in self.targets],
        }


@dataclass
class Report:
    """A whole run."""

    started_at: datetime
    duration_seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    generators: list[GeneratorReport] = field(default_factory=list)
    dry_run: bool = False
    abandoned: bool = False
    """A stop signal came and requests still in flight after the grace period were given up."""
    pruned: list[TargetReport] | None = None
    """With --prune: each Secret prune considered: ``deleted``, ``skipped`` (dry run), ``refused`` (a named
    guard), ``kept`` (not ours to delete), ``failed``, ``not-attempted``."""

    @property
    def ok(self) -> bool:
        return all(g.ok for g in self.generators) and not any(
            p.status == "failed" or p.reason == "guard-max-delete" for p in self.pruned or ())

    def failures(self) -> list[str]:
        """One line per failed or not-attempted generator and target."""
        lines = []
        for g in self.generators:
            if g.status in ("failed", "not-attempted"):
                lines.append(f"{g.key}: {g.status}: {g.error or ''}".rstrip(": "))
            for t in g.targets:
                if t.status in ("failed", "not-attempted"):
                    where = (t.secret_name and f"{t.vault}/{t.secret_name}") or f"{t.cluster}/{t.namespace}/{t.name}"
                    lines.append(f"{g.key} → {t.kind} {where}: {t.status}: {t.error or ''}".rstrip(": "))
        return [_clean(line) or "" for line in lines]

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "dryRun": self.dry_run,
            "startedAt": rfc3339(self.started_at),
            "durationSeconds": round(self.duration_seconds, 3),
            "warnings": [_clean(w) for w in self.warnings],
            "generators": [g.to_dict() for g in self.generators],
            **({"pruned": [p.to_dict() for p in self.pruned]} if self.pruned is not None else {}),
        }


def _clean(text: str | None) -> str | None:
    """Reports are public: scrub every registered secret and anything JWT-shaped, keep one line."""
    if text is None:
        return None
    return redact.scrub(" ".join(str(text).split()))
