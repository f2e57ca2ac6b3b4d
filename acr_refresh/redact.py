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

Scrubbing looks every window of :data:`MIN_SECRET_LEN` characters up in an index of the forms' first
characters, so its cost grows with the text, not with the number of secrets registered.

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
_B64_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")

_lock = threading.Lock()
_secrets: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}  # value -> (plain forms, base64 cores)
# Every form by its first MIN_SECRET_LEN characters: scrubbing looks each window of the text up here, which
# costs the same however many secrets are registered (a regex alternation of them took seconds to compile).
_index: dict[str, list[tuple[str, bool]]] = {}  # anchor -> [(form, is_base64_core)], longest first
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


def register_encoded(value: str, *, aligned: bool = False) -> None:
    """Remember the base64 of ``value`` (not ``value`` itself): the exact encoding of a whole value we write
    as secret, as an API server may echo it back; with ``aligned``, its cores at all three alignments too
    (``value`` may sit inside a larger encoded document). Values too short to matter are ignored."""
    if len(value) * 4 // 3 < MIN_SECRET_LEN:
        return
    whole = base64.b64encode(value.encode()).decode()
    cores = forms(value)[1] if aligned else ()
    _add("b64:" + value, ((), (whole, *cores)))


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


def _current_index() -> dict[str, list[tuple[str, bool]]]:
    global _index, _dirty
    if _dirty:
        with _lock:
            if _dirty:
                index: dict[str, list[tuple[str, bool]]] = {}
                for plain, cores in _secrets.values():
                    for form, core in [(p, False) for p in plain] + [(c, True) for c in cores]:
                        index.setdefault(form[:MIN_SECRET_LEN], []).append((form, core))
                for entries in index.values():
                    entries.sort(key=lambda e: len(e[0]), reverse=True)  # a secret containing another wins
                _index, _dirty = index, False
    return _index


def _spans(text: str, index: dict[str, list[tuple[str, bool]]]) -> list[tuple[int, int]]:
    """Where registered forms occur in ``text``, as merged ``(start, end)`` spans."""
    spans: list[tuple[int, int]] = []
    n = MIN_SECRET_LEN
    for i in range(len(text) - n + 1):
        entries = index.get(text[i:i + n])
        if entries is None:
            continue
        for form, core in entries:
            if text.startswith(form, i):
                start, end = i, i + len(form)
                if core:  # take the neighbouring characters that mix a bit of the token (and padding)
                    while start > max(0, i - 3) and text[start - 1] in _B64_CHARS:
                        start -= 1
                    limit = end + 3
                    while end < min(len(text), limit) and text[end] in _B64_CHARS:
                        end += 1
                    limit = end + 2
                    while end < min(len(text), limit) and text[end] == "=":
                        end += 1
                spans.append((start, end))
                break
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def scrub(text: str) -> str:
    """Return ``text`` with every registered secret, its forms and every JWT-shaped string replaced."""
    index = _current_index()
    if index and len(text) >= MIN_SECRET_LEN:
        spans = _spans(text, index)
        if spans:
            parts, last = [], 0
            for start, end in spans:
                parts += [text[last:start], REDACTED]
                last = end
            parts.append(text[last:])
            text = "".join(parts)
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
