"""Counters of what a process asked of the network: requests by service and outcome, tokens minted by type.

Plain and dependency-free, so the request paths can always count (a few dict updates under a lock) and the
metrics backends, imported only when enabled, read a :class:`Counts` delta per run::

    before = telemetry.snapshot()
    report = run(...)
    counts = telemetry.snapshot() - before

Every HTTP attempt counts, retries included. Counters are process-wide: two runs overlapping in one process
would see each other's requests (the CLI runs one; the Functions app never overlaps runs in an instance).
Nothing here ever holds a URL, a header or a body: only the closed words below.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field

# Services: the registry's token endpoints, Entra ID (and the managed-identity endpoint), the Kubernetes
# API servers, Azure Key Vault.
SERVICES = ("acr", "entra", "kubernetes", "keyvault")
# Outcomes of one attempt: a 2xx/3xx answer, 429, another 4xx, 5xx, or no answer (connection, TLS, timeout).
OUTCOMES = ("ok", "throttled", "client-error", "server-error", "transport-error")
# Token types minted from a registry: ACR refresh tokens (/oauth2/exchange), access tokens (/oauth2/token).
TOKEN_TYPES = ("refresh", "access")

_lock = threading.Lock()
_requests: Counter[tuple[str, str]] = Counter()
_tokens: Counter[str] = Counter()
_sent: Counter[str] = Counter()  # attempts started through a request hook, whose answer may never come


def outcome(status: int | None) -> str:
    """The outcome word of an HTTP status (None: no answer)."""
    if status is None:
        return "transport-error"
    if status == 429:
        return "throttled"
    if status >= 500:
        return "server-error"
    if status >= 400:
        return "client-error"
    return "ok"


def request(service: str, status: int | None) -> None:
    """Count one attempt to ``service`` that ended with HTTP ``status`` (None: no answer)."""
    with _lock:
        _requests[(service, outcome(status))] += 1


def token(token_type: str) -> None:
    """Count one registry token minted (``refresh`` or ``access``)."""
    with _lock:
        _tokens[token_type] += 1


@dataclass(frozen=True)
class AzureHooks:
    """``raw_request_hook`` / ``raw_response_hook`` for an azure-core pipeline (passed as client keyword
    options). Its custom-hook policy sits after the retry policy, so every attempt is seen; an attempt that
    got no answer (a transport error) is one that was sent and never answered."""

    service: str

    def on_request(self, _request: object) -> None:
        with _lock:
            _sent[self.service] += 1

    def on_response(self, response: object) -> None:
        http = getattr(response, "http_response", None)
        status = getattr(http, "status_code", None)
        with _lock:
            _sent[self.service] -= 1
            _requests[(self.service, outcome(status if isinstance(status, int) else None))] += 1

    def options(self) -> dict[str, object]:
        return {"raw_request_hook": self.on_request, "raw_response_hook": self.on_response}


@dataclass(frozen=True)
class Counts:
    """Requests by ``(service, outcome)`` and tokens by type, from :func:`snapshot` (subtract two)."""

    requests: dict[tuple[str, str], int] = field(default_factory=dict)
    tokens: dict[str, int] = field(default_factory=dict)

    def __sub__(self, other: Counts) -> Counts:
        return Counts(
            {k: v - other.requests.get(k, 0) for k, v in self.requests.items() if v > other.requests.get(k, 0)},
            {k: v - other.tokens.get(k, 0) for k, v in self.tokens.items() if v > other.tokens.get(k, 0)},
        )


def snapshot() -> Counts:
    """The process's counts so far (hook attempts still unanswered count as transport errors)."""
    with _lock:
        requests = Counter(_requests)
        for service, pending in _sent.items():
            if pending > 0:
                requests[(service, "transport-error")] += pending
        return Counts(dict(requests), dict(_tokens))
