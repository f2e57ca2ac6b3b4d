"""The redaction layer and single-flight memoisation."""

from __future__ import annotations

import io
import logging
import threading
import time

import pytest

from acr_refresh import redact
from acr_refresh.logs import JsonFormatter
from acr_refresh.memo import OnceMap


def test_registered_secrets_and_jwts_are_scrubbed_from_messages_args_extras_and_tracebacks() -> None:
    secret = "s3cr3t-client-value-0001"
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
    redact.register(secret)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(redact.RedactingFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("test.redact")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("value %s and %s", secret, jwt, extra={"detail": {"token": jwt, "list": [secret]}})
        try:
            raise RuntimeError(f"boom {secret}")
        except RuntimeError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    out = stream.getvalue()
    assert secret not in out and jwt not in out
    assert out.count(redact.REDACTED) >= 4


def test_values_too_short_to_scrub_safely_are_refused_not_silently_ignored() -> None:
    with pytest.raises(redact.TooShortToRedact) as info:
        redact.register("abc-short-value")  # 15 characters
    assert "abc-short-value" not in str(info.value)
    assert redact.scrub("abc-short-value def") == "abc-short-value def"


def test_once_map_computes_once_under_concurrency_and_shares_errors() -> None:
    calls = []
    memo: OnceMap[str, int] = OnceMap()

    def slow() -> int:
        calls.append(1)
        time.sleep(0.05)
        return 42

    results: list[int] = []
    threads = [threading.Thread(target=lambda: results.append(memo.get("k", slow))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [42] * 8 and len(calls) == 1

    failures = []

    def broken() -> int:
        failures.append(1)
        raise ValueError("nope")

    for _ in range(3):
        with pytest.raises(ValueError):
            memo.get("bad", broken)
    assert len(failures) == 1
    assert list(memo.values()) == [42]


def test_registry_is_bounded_and_skips_jwts() -> None:
    for i in range(redact.MAX_REGISTERED + 50):
        redact.register(f"opaque-secret-{i:06d}")
    assert len(redact._secrets) == redact.MAX_REGISTERED
    assert redact.scrub(f"x opaque-secret-{redact.MAX_REGISTERED + 49:06d} y") == f"x {redact.REDACTED} y"
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ5In0.c2lnbmF0dXJlMg"
    redact.register(jwt)
    assert redact._secrets[jwt][0] == () and redact.scrub(jwt) == redact.REDACTED  # by shape, not by entry
