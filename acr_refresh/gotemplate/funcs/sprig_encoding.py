"""Sprig's encoding functions: base64/base32/hex, JSON (Go's encoding/json output) and checksums.

Where Sprig swallows an error (``b64dec`` returns Go's error text, ``fromJson`` nil, ``toJson`` ""), these
return :class:`Soft` values: the same output, and a soft failure the trial render reports as a warning.
The ``must*`` variants fail instead, as in Sprig.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
import zlib
from collections.abc import Mapping
from typing import Any, NoReturn

from ..errors import MAX_VALUE_DEPTH, FuncError
from ..values import go_float, go_quote, to_bytes
from . import Func, Soft

_B64 = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
_B32 = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")


def _corrupt(src: bytes, alphabet: frozenset[int], quantum: int) -> int | None:
    """The offset Go's StdEncoding decoder reports as "illegal ... data at input byte N", or None if valid.

    Go's decodeQuantum: CR and LF are skipped, padding is required, nothing may follow it.
    """
    si, n = 0, len(src)
    while si < n:
        j = 0
        while j < quantum:
            if si == n:
                if j == 0:
                    return None
                return si - j
            c = src[si]
            si += 1
            if c in alphabet:
                j += 1
                continue
            if c in (10, 13):
                continue
            if c != 61:  # '='
                return si - 1
            if quantum == 4:
                if j < 2:
                    return si - 1
                if j == 2:
                    while si < n and src[si] in (10, 13):
                        si += 1
                    if si == n:
                        return n
                    if src[si] != 61:
                        return si - 1
                    si += 1
            else:
                if j in (0, 1, 3, 6):
                    return si - 1
                need = {2: 6, 4: 4, 5: 3, 7: 1}[j] - 1
                for _ in range(need):
                    while si < n and src[si] in (10, 13):
                        si += 1
                    if si == n:
                        return n
                    if src[si] != 61:
                        return si - 1
                    si += 1
            while si < n and src[si] in (10, 13):
                si += 1
            return si if si < n else None
        # a full quantum decoded; continue
    return None


def b64dec(s: str, must: bool = False) -> str | Soft:
    b = to_bytes(s)
    bad = _corrupt(b, _B64, 4)
    if bad is None:
        try:
            return base64.b64decode(b.replace(b"\r", b"").replace(b"\n", b""), validate=True) \
                .decode("utf-8", "surrogateescape")
        except (binascii.Error, ValueError):
            bad = len(b)
    msg = f"illegal base64 data at input byte {bad}"
    if must:
        raise FuncError(msg)
    return Soft(msg, "input is not valid base64 (standard alphabet, padded)")


def b32dec(s: str) -> str | Soft:
    b = to_bytes(s)
    bad = _corrupt(b, _B32, 8)
    if bad is None:
        try:
            return base64.b32decode(b.replace(b"\r", b"").replace(b"\n", b"")).decode("utf-8", "surrogateescape")
        except (binascii.Error, ValueError):
            bad = len(b)
    return Soft(f"illegal base32 data at input byte {bad}", "input is not valid base32 (standard alphabet, padded)")


def hexdec(s: str) -> str | Soft:
    b = to_bytes(s)
    for c in b:
        if chr(c) not in "0123456789abcdefABCDEF":
            return Soft(f"encoding/hex: invalid byte: U+{c:04X} {go_quote(chr(c), chr(39))}", "input is not hex")
    if len(b) % 2:
        return Soft("encoding/hex: odd length hex string", "input is not hex (odd length)")
    return bytes.fromhex(b.decode("ascii")).decode("utf-8", "surrogateescape")


_JSON_ESC = re.compile("[\"\\\\\x00-\x1f<>&\u2028\u2029\ud800-\udfff]")
_JSON_SHORT = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}


def _json_str(s: str, html: bool) -> str:
    def esc(m: re.Match[str]) -> str:
        c = m.group()
        if c in "<>&" and not html:
            return c
        if "\ud800" <= c <= "\udfff":
            return "\\ufffd"  # invalid UTF-8 becomes U+FFFD, as in Go
        return _JSON_SHORT.get(c) or f"\\u{ord(c):04x}"

    return '"' + _JSON_ESC.sub(esc, s) + '"'


def _go_json(v: Any) -> Any:
    go_json = getattr(v, "go_json", None)
    return go_json() if go_json is not None else v


def to_json(v: Any, html: bool = True, indent: str | None = None, depth: int = 0) -> str:
    """encoding/json.Marshal (or MarshalIndent(v, "", indent)): sorted keys, Go's floats and HTML escaping."""
    if depth > MAX_VALUE_DEPTH:
        raise FuncError("value nested too deeply")
    v = _go_json(v)
    if v is None or isinstance(v, bool):
        return "null" if v is None else "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise FuncError("json: unsupported value")
        return go_float(v, json_style=True)
    if isinstance(v, str):
        return _json_str(v, html)
    if isinstance(v, Mapping):
        if not all(isinstance(k, str) for k in v):
            raise FuncError("json: unsupported map key type")
        parts = [(_json_str(k, html), to_json(v[k], html, indent, depth + 1)) for k in sorted(v)]
        items, brackets = [f"{k}:{' ' if indent else ''}{x}" for k, x in parts], "{}"
    elif isinstance(v, list | tuple):
        items, brackets = [to_json(x, html, indent, depth + 1) for x in v], "[]"
    else:
        raise FuncError(f"json: unsupported type {type(v).__name__}")
    if not items:
        return brackets
    if indent is None:
        return brackets[0] + ",".join(items) + brackets[1]
    inner = "\n" + indent * (depth + 1)  # nested values were already rendered at depth + 1
    return brackets[0] + inner + ("," + inner).join(items) + "\n" + indent * depth + brackets[1]


def from_json(s: str) -> Any:
    def number(text: str) -> float:
        f = float(text)
        if not math.isfinite(f):
            raise ValueError("number out of range")
        return f

    def no_constant(_: str) -> NoReturn:
        raise ValueError("invalid literal")

    try:  # Go decodes every JSON number into float64
        return json.loads(s, parse_int=number, parse_float=number, parse_constant=no_constant)
    except json.JSONDecodeError as exc:
        raise FuncError(f"invalid JSON: {exc.msg} (line {exc.lineno} column {exc.colno})") from None
    except ValueError:
        raise FuncError("invalid JSON: number out of range or invalid literal") from None
    except RecursionError:
        raise FuncError("invalid JSON: nested too deeply") from None



def _soft_json(v: Any, **kw: Any) -> str | Soft:
    try:
        return to_json(v, **kw)
    except FuncError as exc:
        if "nested too deeply" in str(exc):
            raise  # our limit, not Sprig's swallowed error
        return Soft("", f"value cannot be encoded as JSON ({exc})")


def _soft_from_json(s: str) -> Any:
    try:
        return from_json(s)
    except FuncError as exc:
        if "nested too deeply" in str(exc):
            raise
        return Soft(None, str(exc))


def adler32(s: str) -> str:
    return str(zlib.adler32(to_bytes(s)))


FUNCS: dict[str, Func] = {
    "b64enc": Func("s", lambda a: base64.b64encode(to_bytes(a[0])).decode("ascii")),
    "b64dec": Func("s", lambda a: b64dec(a[0])),
    "b32enc": Func("s", lambda a: base64.b32encode(to_bytes(a[0])).decode("ascii")),
    "b32dec": Func("s", lambda a: b32dec(a[0])),
    "hexdec": Func("s", lambda a: hexdec(a[0])),
    "toJson": Func("a", lambda a: _soft_json(a[0])),
    "toRawJson": Func("a", lambda a: to_json(a[0], html=False)),  # Sprig panics: an error, not soft
    "toPrettyJson": Func("a", lambda a: _soft_json(a[0], indent="  ")),
    "fromJson": Func("s", lambda a: _soft_from_json(a[0])),
    "mustToJson": Func("a", lambda a: to_json(a[0])),
    "mustToRawJson": Func("a", lambda a: to_json(a[0], html=False)),
    "mustToPrettyJson": Func("a", lambda a: to_json(a[0], indent="  ")),
    "mustFromJson": Func("s", lambda a: from_json(a[0])),
    "sha1sum": Func("s", lambda a: hashlib.sha1(to_bytes(a[0])).hexdigest()),  # noqa: S324 - Sprig's
    "sha256sum": Func("s", lambda a: hashlib.sha256(to_bytes(a[0])).hexdigest()),
    "sha512sum": Func("s", lambda a: hashlib.sha512(to_bytes(a[0])).hexdigest()),
    "adler32sum": Func("s", lambda a: adler32(a[0])),
}
