"""The report's closed vocabulary: target statuses and the reasons beside them. Pure data.

Every target in a report carries one status and one reason from these sets, never free text (free text,
scrubbed, goes to ``error``). Metrics labels, Kubernetes Events and the README's table use the same words,
so a test checks that nothing else is ever emitted.
"""

from __future__ import annotations

# Target statuses.
WRITTEN = "written"          # the target now holds a new credential
FRESH = "fresh"              # left alone: what it holds is good enough
FAILED = "failed"            # this target failed (the others went on)
SKIPPED = "skipped"          # nothing written on purpose (dry run, creationPolicy None)
NOT_ATTEMPTED = "not-attempted"  # the deadline or a stop signal came first
EXPIRED = "expired"          # left alone (refreshPolicy, refreshInterval 0, syncWindows), and what it holds has lapsed
DELETED = "deleted"          # prune: deleted
REFUSED = "refused"          # prune: a named guard stopped the deletion
KEPT = "kept"                # prune: not ours to delete (not created by us, or written by an older version)

TARGET_STATUSES = (WRITTEN, FRESH, FAILED, SKIPPED, NOT_ATTEMPTED, EXPIRED, DELETED, REFUSED, KEPT)

# Why a target is stale (and so written) or fresh.
STALE_REASONS = (
    "missing",          # no such Secret / secret, or not one we wrote
    "expired",          # what it holds has lapsed
    "half-life",        # less than half of its token's lifetime left
    "min-remaining",    # less than the configured margin left
    "max-age",          # older than refreshInterval
    "inputs-changed",   # the generator or template changed since it was written
    "drifted",          # its data is no longer what we wrote
    "no-record",        # no usable record of when it expires (absent, or not credible)
    "forced",           # --force
)
FRESH_REASONS = (
    "valid",            # enough lifetime left
    "created-once",     # refreshInterval 0 / CreatedOnce: never refreshed
    "unchanged",        # refreshPolicy OnChange: its definition is unchanged, so it is never refreshed
    "refresh-withheld",  # a refresh is due but syncWindows withhold it (fresh: still valid); with `expired`:
                         # the policy or windows withheld it and what it holds has lapsed
)
FAILURE_REASONS = (
    "mint-failed",      # its generator could not mint
    "no-generator",     # a ClusterExternalSecret's ACRAccessToken is not in the namespace it selected
    "read-failed",      # reading the target failed
    "render-failed",    # its template failed
    "write-failed",     # the write was refused or failed
    "forbidden",        # RBAC (403)
    "conflict",         # another target, manager or type holds it
    "eso-managed",      # ESO manages it and --take-over does not name it
    "not-ours",         # it exists and carries no marker of ours; --take-over does not name it
    "policy-forbids",   # the ExternalSecret's policy forbids the refresh it needs
    "invalid-live-state",  # something read from the cluster is unusable for this target
    "deadline",         # not attempted: the deadline came first
    "stopped",          # not attempted: a stop signal came first
)
SKIP_REASONS = ("dry-run", "creation-policy-none")
PRUNE_REASONS = (
    "unwanted",         # deleted (or would be, on a dry run): created by us, Owner, no longer wanted
    "legacy",           # kept: written by an earlier version (managed label, no created marker)
    "not-created",      # kept: we did not create it
    "policy-keeps",     # kept: its creation policy never allows deletion
    "guard-empty-config",      # refused: the config declares nothing for this cluster
    "guard-expansion-failed",  # refused: a target's expansion failed in this cluster this run
    "guard-max-delete",        # refused: more than --prune-max-delete and a quarter of the created Secrets
    "delete-failed",
)

REASONS = STALE_REASONS + FRESH_REASONS + FAILURE_REASONS + SKIP_REASONS + PRUNE_REASONS
