"""The registry's token protocol (ACR ``/oauth2/exchange`` and ``/oauth2/token``) over requests.

This module does network I/O. It honours ``HTTPS_PROXY``/``NO_PROXY`` and ``REQUESTS_CA_BUNDLE`` as
requests does by default (``trust_env``); certificate verification is never turned off.

- ``exchange``: an Entra ID token → an ACR refresh token (about 3 hours).
- ``access_token``: a refresh token + one repository scope → an access token (about 75 minutes).

Retries: connection errors, 429 (``Retry-After`` honoured, capped) and 5xx are retried with exponential
backoff and full jitter; other 4xx are final. Responses are read up to :data:`MAX_RESPONSE_BYTES`; every
server text in an error is scrubbed, then truncated.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from . import redact, telemetry
from .errors import RegistryError, truncate

log = logging.getLogger(__name__)

ACR_USERNAME = "00000000-0000-0000-0000-000000000000"
MAX_RESPONSE_BYTES = 64 * 1024


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry a registry call."""

    attempts: int = 4
    """Total attempts, first one included."""
    backoff: float = 0.5
    """Base delay in seconds; attempt n waits a random time up to ``backoff * 2**n``."""
    max_delay: float = 8.0
    """Longest single wait, also the cap on ``Retry-After``."""
    connect_timeout: float = 5.0
    """Seconds to establish a connection."""
    read_timeout: float = 20.0
    """Seconds to wait for the registry's answer."""


@dataclass(frozen=True)
class RegistryToken:
    """A token the registry issued. ``repr`` never shows the value. Times are as the token states them
    (the registry's clock) until :class:`~acr_refresh.mint.Minter` anchors them to the job's."""

    value: str = field(repr=False)
    token_type: str
    """``refresh`` or ``access``."""
    issued_at: datetime | None = None
    expires_at: datetime | None = None
    warnings: tuple[str, ...] = ()
    """Clock-skew and lifetime warnings from anchoring it to the job's clock (see :mod:`.mint`)."""

    @property
    def username(self) -> str:
        """The fixed user name ACR expects beside a token."""
        return ACR_USERNAME


def jwt_times(token: str) -> tuple[datetime | None, datetime | None]:
    """``(iat, exp)`` from a JWT's payload, without verifying it (we only read our own token's life)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None, None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError):
        return None, None
    if not isinstance(payload, dict):
        return None, None

    def when(key: str) -> datetime | None:
        value = payload.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 1e11:
            return datetime.fromtimestamp(value, UTC)
        return None

    return when("iat") or when("nbf"), when("exp")


class AcrClient:
    """Talks to registries' token endpoints. One instance (one connection pool) serves a whole run."""

    def __init__(
        self,
        *,
        session: requests.Session | None = None,
        retry: RetryPolicy | None = None,
        pool_size: int = 16,
        sleep: Callable[[float], None] = time.sleep,
        deadline: Callable[[], float | None] | None = None,
    ) -> None:
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._deadline = deadline or (lambda: None)
        if session is None:
            session = requests.Session()
            adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size)
            session.mount("https://", adapter)
        self.session = session

    def close(self) -> None:
        self.session.close()

    def _timeouts(self) -> tuple[float, float]:
        """Connect and read timeouts, shortened so that no request outlives the run's deadline by more than
        a second (a stalled registry cannot hold a run past it)."""
        connect, read = self.retry.connect_timeout, self.retry.read_timeout
        deadline = self._deadline()
        if deadline is not None:
            left = max(1.0, deadline - time.monotonic() + 1.0)
            connect, read = min(connect, left), min(read, left)
        return connect, read

    def exchange(self, registry: str, entra_token: str, *, tenant: str = "") -> RegistryToken:
        """Exchange an Entra ID access token for an ACR refresh token at ``registry``."""
        form = {"grant_type": "access_token", "service": registry, "access_token": entra_token}
        if tenant:
            form["tenant"] = tenant
        body = self._post(registry, "/oauth2/exchange", form)
        return self._token(registry, "/oauth2/exchange", body, "refresh_token", "refresh")

    def access_token(self, registry: str, refresh_token: str, scope: str) -> RegistryToken:
        """Trade an ACR refresh token for an access token limited to ``scope`` (one repository)."""
        form = {
            "grant_type": "refresh_token",
            "service": registry,
            "scope": scope,
            "refresh_token": refresh_token,
        }
        body = self._post(registry, "/oauth2/token", form)
        return self._token(registry, "/oauth2/token", body, "access_token", "access")

    # ------------------------------------------------------------------------------------ internals

    def _token(self, registry: str, endpoint: str, body: dict[str, Any], key: str, kind: str) -> RegistryToken:
        value = body.get(key)
        if not isinstance(value, str) or not value:
            raise RegistryError(
                f"{registry}{endpoint}: answer has no {key}", registry=registry, endpoint=endpoint, status=200
            )
        try:
            redact.register(value)
        except redact.TooShortToRedact:
            raise RegistryError(
                f"{registry}{endpoint}: answer's {key} is too short to keep out of logs (refused)",
                registry=registry, endpoint=endpoint, status=200,
            ) from None
        issued, expires = jwt_times(value)
        telemetry.token(kind)
        return RegistryToken(value=value, token_type=kind, issued_at=issued, expires_at=expires)

    def _post(self, registry: str, endpoint: str, form: dict[str, str]) -> dict[str, Any]:
        url = f"https://{registry}{endpoint}"
        attempt = 0
        while True:
            attempt += 1
            try:
                answer = self._post_once(registry, endpoint, url, form)
                telemetry.request("acr", 200)
                return answer
            except RegistryError as exc:
                telemetry.request("acr", exc.status)
                if not exc.retryable or attempt >= self.retry.attempts:
                    raise
                delay = exc.retry_after
                if delay is None:
                    delay = random.uniform(0, self.retry.backoff * (2 ** (attempt - 1)))
                delay = min(delay, self.retry.max_delay)
                deadline = self._deadline()
                if deadline is not None and time.monotonic() + delay >= deadline:
                    raise
                log.info(
                    "registry call failed, retrying",
                    extra={"registry": registry, "endpoint": endpoint, "attempt": attempt,
                           "status": exc.status, "delay": round(delay, 3)},
                )
                self._sleep(delay)

    def _post_once(self, registry: str, endpoint: str, url: str, form: dict[str, str]) -> dict[str, Any]:
        try:
            resp = self.session.post(
                url,
                data=form,
                headers={"Accept": "application/json"},
                timeout=self._timeouts(),
                stream=True,
                allow_redirects=False,
            )
        except requests.exceptions.SSLError as exc:
            raise RegistryError(
                f"{registry}{endpoint}: TLS verification failed ({_reason(exc)})",
                registry=registry, endpoint=endpoint, retryable=False,  # a trust problem: never retried
            ) from exc
        except requests.exceptions.Timeout as exc:
            raise RegistryError(
                f"{registry}{endpoint}: timed out", registry=registry, endpoint=endpoint
            ) from exc
        except requests.exceptions.RequestException as exc:
            raise RegistryError(
                f"{registry}{endpoint}: connection failed ({_reason(exc)})", registry=registry, endpoint=endpoint
            ) from exc
        try:
            raw = _read_capped(resp, registry, endpoint)
        finally:
            resp.close()
        if resp.status_code != 200:
            code, message = _error_detail(raw)
            detail = f"{code}: {message}" if code and message else (code or message)
            raise RegistryError(
                f"{registry}{endpoint}: HTTP {resp.status_code}" + (f" {detail}" if detail else ""),
                registry=registry, endpoint=endpoint, status=resp.status_code, code=code or None,
                retry_after=_retry_after(resp.headers.get("Retry-After")),
            )
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise RegistryError(
                f"{registry}{endpoint}: answer is not JSON", registry=registry, endpoint=endpoint, status=200
            ) from exc
        if not isinstance(data, dict):
            raise RegistryError(
                f"{registry}{endpoint}: answer is not a JSON object", registry=registry, endpoint=endpoint,
                status=200,
            )
        return data


def _read_capped(resp: requests.Response, registry: str, endpoint: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in resp.iter_content(chunk_size=8192):
            size += len(chunk)
            if size > MAX_RESPONSE_BYTES:
                raise RegistryError(
                    f"{registry}{endpoint}: answer larger than {MAX_RESPONSE_BYTES} bytes (refused)",
                    registry=registry, endpoint=endpoint, status=resp.status_code,
                )
            chunks.append(chunk)
    except requests.exceptions.RequestException as exc:
        raise RegistryError(
            f"{registry}{endpoint}: reading the answer failed ({_reason(exc)})", registry=registry, endpoint=endpoint
        ) from exc
    return b"".join(chunks)


def _error_detail(raw: bytes) -> tuple[str, str]:
    """The registry's error code and message (Docker registry error format), truncated."""
    try:
        data = json.loads(raw)
    except ValueError:
        return "", ""
    if isinstance(data, dict):
        errors = data.get("errors")
        # truncate() scrubs before it cuts, the code as well as the message: both are the server's text.
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            first = errors[0]
            return truncate(str(first.get("code", "")), 60), truncate(str(first.get("message", "")))
        if "error" in data:
            return truncate(str(data.get("error", "")), 60), truncate(str(data.get("error_description", "")))
    return "", ""


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _reason(exc: BaseException) -> str:
    """A short reason for a transport error, without URLs' query strings or bodies."""
    inner: BaseException = exc
    while inner.__cause__ is not None or inner.__context__ is not None:
        nxt = inner.__cause__ or inner.__context__
        assert nxt is not None
        inner = nxt
    return truncate(type(inner).__name__ + (f": {inner}" if str(inner) else ""), 160)
