"""Keep secret material out of every log line, report and error message, whole or in part.

Every token and client secret this process obtains is registered here the moment it is read; the logging
filter and :func:`scrub` replace registered values, the forms they travel in, and anything shaped like a
JWT, with ``[REDACTED]``. Values live only in this process's memory and are never written anywhere.

The forms of a registered value (see :func:`forms`):

- the value itself (unless JWT-shaped: the shape rule catches every JWT, registered or not);
- its base64 at each of the three byte alignments, because a token inside a larger encoded document (a
  dockerconfigjson ``auth`` of ``username:password``, a Secret's ``data`` echoed by the API server) is
  encoded starting 0, 1 or 2 bytes into a 3-byte group. Each aligned form is the part of the encoding that
  depends on the token alone; when it is replaced, the up to 3 neighbouring base64 characters that mix the
  token's first or last bytes with its neighbours' are replaced with it, so not even a byte shows.

:func:`register_encoded` adds the exact base64 of a whole value we write (Secret data as the API server
echoes it), without registering the value itself: a rendered ``{{ .registry }}`` stays readable in logs.

A value shorter than :data:`MIN_SECRET_LEN` cannot be scrubbed safely (it would match ordinary words and
its base64 forms would be a few characters long), so :func:`register` refuses it; callers turn that into a
clear error before the value is used. Always scrub before truncating (:func:`clip`): a cut can split a
secret and leave a piece no rule recognises.
"""

from __future__ import annotations

import base64
import logging
import re
import threading
from typing import Any

REDACTED = "[REDACTED]"
# JWTs (Entra, ACR and ServiceAccount tokens are all JWT-shaped): three base64url parts, the first "eyJ". The
# second dot is optional so that a JWT cut short by someone else's truncation is still caught.
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}(?:\.[A-Za-z0-9_-]*)?")
_JWT_WHOLE = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
MIN_SECRET_LEN = 16
"""Shorter values would redact ordinary words, and their base64 forms would be only a few characters long.
Entra ID client secrets are 40 characters; every token is far longer."""

MAX_REGISTERED = 1024  # a long-lived process must not grow without bound; JWTs are caught by shape anyway
_B64 = "A-Za-z0-9+/"

_lock = threading.Lock()
_secrets: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}  # value -> (plain forms, base64 cores)
_pattern: re.Pattern[str] | None = None
_dirty = False


class TooShortToRedact(ValueError):
    """A secret shorter than :data:`MIN_SECRET_LEN`: it cannot be kept out of output safely. The message
    never contains the value."""


def can_redact(value: str) -> bool:
    """Whether ``value`` is long enough to be registered and scrubbed safely."""
    return len(value) >= MIN_SECRET_LEN


def forms(value: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(plain, encoded)``: the plain strings to replace, and the base64 cores (one per alignment)."""
    raw = value.encode()
    cores = []
    for shift in range(3):
        enc = base64.b64encode(b"\0" * shift + raw).decode()
        # Drop the first group when it mixes in preceding bytes and the last when it is partial.
        start = 4 if shift else 0
        end = len(enc) - (4 if (shift + len(raw)) % 3 else 0)
        if end - start >= MIN_SECRET_LEN:
            cores.append(enc[start:end])
    plain = () if _JWT_WHOLE.fullmatch(value) else (value,)
    return plain, tuple(cores)


def register(value: str | None) -> None:
    """Remember ``value`` as secret so that it, and its base64 forms, are scrubbed from all later output.

    Raises :class:`TooShortToRedact` for a non-empty value shorter than :data:`MIN_SECRET_LEN`. The
    registry keeps the newest :data:`MAX_REGISTERED` values.
    """
    if not value:
        return
    if not can_redact(value):
        raise TooShortToRedact(f"a secret value is shorter than {MIN_SECRET_LEN} characters, too short to keep "
                               "out of logs safely")
    _add(value, forms(value))


def register_encoded(value: str) -> None:
    """Remember the base64 of the whole ``value`` (not ``value`` itself): a value we write as secret, as an
    API server may echo it back. Values too short to matter are ignored."""
    if len(value) * 4 // 3 < MIN_SECRET_LEN:
        return
    _add("b64:" + value, ((base64.b64encode(value.encode()).decode(),), ()))


def _add(key: str, entry: tuple[tuple[str, ...], tuple[str, ...]]) -> None:
    global _dirty
    with _lock:
        if key in _secrets:
            # Seen again: move it to the newest end, so a secret in use is never the one dropped.
            del _secrets[key]
            _secrets[key] = entry
            return
        _secrets[key] = entry
        while len(_secrets) > MAX_REGISTERED:
            del _secrets[next(iter(_secrets))]
        _dirty = True


def _alternation(strings: set[str]) -> str:
    # Longest first, so a secret that contains another is replaced whole.
    return "|".join(re.escape(s) for s in sorted(strings, key=len, reverse=True))


def _current_pattern() -> re.Pattern[str] | None:
    global _pattern, _dirty
    if _dirty:
        with _lock:
            if _dirty:
                plain = {p for entry in _secrets.values() for p in entry[0]}
                cores = {c for entry in _secrets.values() for c in entry[1]}
                parts = []
                if cores:  # a core takes its mixed neighbour characters (and padding) with it
                    parts.append(f"[{_B64}]{{0,3}}(?:{_alternation(cores)})[{_B64}]{{0,3}}={{0,2}}")
                if plain:
                    parts.append(_alternation(plain))
                _pattern = re.compile("|".join(parts)) if parts else None
                _dirty = False
    return _pattern


def scrub(text: str) -> str:
    """Return ``text`` with every registered secret, its forms and every JWT-shaped string replaced."""
    pattern = _current_pattern()
    if pattern is not None:
        text = pattern.sub(REDACTED, text)
    return _JWT.sub(REDACTED, text)


def clip(text: str, limit: int) -> str:
    """Scrub, then collapse whitespace and cut to ``limit`` characters (in that order, always)."""
    one_line = " ".join(scrub(str(text)).split())
    return one_line if len(one_line) <= limit else one_line[: limit - 1] + "…"


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
