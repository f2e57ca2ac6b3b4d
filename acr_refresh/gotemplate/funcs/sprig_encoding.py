"""Sprig's encoding functions: base64, JSON (Go's encoding/json output) and sha256sum."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
from collections.abc import Mapping
from typing import Any, NoReturn

from ..errors import MAX_VALUE_DEPTH, FuncError
from ..values import go_float, to_bytes
from . import Func


def b64dec(s: str) -> str:
    try:  # Go's StdEncoding ignores CR and LF but is otherwise strict (padding required)
        raw = base64.b64decode(s.replace("\r", "").replace("\n", "").encode("ascii"), validate=True)
    except (binascii.Error, ValueError):
        raise FuncError("illegal base64 data") from None
    return raw.decode("utf-8", "surrogateescape")


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


def to_json(v: Any, html: bool = True, indent: str | None = None, depth: int = 0) -> str:
    """encoding/json.Marshal (or MarshalIndent(v, "", indent)): sorted keys, Go's floats and HTML escaping."""
    if depth > MAX_VALUE_DEPTH:
        raise FuncError("value nested too deeply")
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



FUNCS: dict[str, Func] = {
    "b64enc": Func("s", lambda a: base64.b64encode(to_bytes(a[0])).decode("ascii")),
    "b64dec": Func("s", lambda a: b64dec(a[0])),
    "toJson": Func("a", lambda a: to_json(a[0])),
    "toRawJson": Func("a", lambda a: to_json(a[0], html=False)),
    "toPrettyJson": Func("a", lambda a: to_json(a[0], indent="  ")),
    "fromJson": Func("s", lambda a: from_json(a[0])),
    "sha256sum": Func("s", lambda a: hashlib.sha256(to_bytes(a[0])).hexdigest()),
}
