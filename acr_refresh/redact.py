"""Keep secret material out of every log line, report and error message.

Every token and client secret this process obtains is registered here the moment it is read; the logging
filter and :func:`scrub` replace registered values, and anything shaped like a JWT, with ``[REDACTED]``.
Values live only in this process's memory and are never written anywhere.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

REDACTED = "[REDACTED]"
# JWTs (Entra, ACR and ServiceAccount tokens are all JWT-shaped): three base64url parts, the first "eyJ".
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_MIN_SECRET_LEN = 6  # shorter values would redact ordinary words

MAX_REGISTERED = 1024  # a long-lived process must not grow without bound; JWTs are caught by shape anyway

_lock = threading.Lock()
_secrets: dict[str, None] = {}  # insertion-ordered: the oldest is dropped first
_pattern: re.Pattern[str] | None = None
_dirty = False


def register(value: str | None) -> None:
    """Remember ``value`` as secret so that it is scrubbed from all later output.

    JWT-shaped values need no entry (the shape rule catches them); the registry keeps the newest
    :data:`MAX_REGISTERED` others (client secrets, opaque tokens).
    """
    global _dirty
    if not value or len(value) < _MIN_SECRET_LEN or _JWT.fullmatch(value):
        return
    with _lock:
        if value in _secrets:
            # Seen again: move it to the newest end, so a secret in use is never the one dropped.
            del _secrets[value]
            _secrets[value] = None
            return
        _secrets[value] = None
        while len(_secrets) > MAX_REGISTERED:
            del _secrets[next(iter(_secrets))]
        _dirty = True


def _current_pattern() -> re.Pattern[str] | None:
    global _pattern, _dirty
    if _dirty:
        with _lock:
            if _dirty:
                # Longest first, so a secret that contains another is replaced whole.
                ordered = sorted(_secrets, key=len, reverse=True)
                _pattern = re.compile("|".join(re.escape(s) for s in ordered)) if ordered else None
                _dirty = False
    return _pattern


def scrub(text: str) -> str:
    """Return ``text`` with every registered secret and every JWT-shaped string replaced."""
    pattern = _current_pattern()
    if pattern is not None:
        text = pattern.sub(REDACTED, text)
    return _JWT.sub(REDACTED, text)


def scrub_value(value: Any) -> Any:
    """Scrub strings inside JSON-like data (dicts, lists, strings); other values pass through."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: scrub_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub_value(v) for v in value]
    return value


class RedactingFilter(logging.Filter):
    """A handler filter that renders each record's message once and scrubs it and its extras."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not kill logging
            message = str(record.msg)
        record.msg = scrub(message)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            # Render the traceback now, scrubbed, so no handler formats the raw exception text later.
            formatter = logging.Formatter()
            record.exc_text = scrub(formatter.formatException(record.exc_info))
            record.exc_info = None
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD_ATTRS and isinstance(value, str | dict | list | tuple):
                record.__dict__[key] = scrub_value(value)
        return True


_STANDARD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}
