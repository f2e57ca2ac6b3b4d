"""Go's builtin template functions (text/template's funcs.go), with Go's semantics and error cases."""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from typing import Any

from ..errors import FuncError
from ..printf import sprint, sprintf, sprintln
from ..values import kind, tname, to_bytes, truth
from . import Func


def _not_called(a: list[Any]) -> Any:
    raise AssertionError("and/or are evaluated lazily by the executor")


def _int_index(idx: Any, cap: int) -> int:
    if idx is None:
        raise FuncError("cannot index slice/array with nil")
    if not isinstance(idx, int) or isinstance(idx, bool):
        raise FuncError(f"cannot index slice/array with type {tname(idx)}")
    if not 0 <= idx < cap:
        raise FuncError(f"index out of range: {idx}")
    return idx


def index(a: list[Any]) -> Any:
    item = a[0]
    if item is None:
        raise FuncError("index of untyped nil")
    for i, idx in enumerate(a[1:]):
        if item is None and i:
            raise FuncError("index of nil pointer")
        if isinstance(item, str):
            item = to_bytes(item)[_int_index(idx, len(to_bytes(item)))]
        elif isinstance(item, list | tuple):
            item = item[_int_index(idx, len(item))]
        elif isinstance(item, Mapping):
            if idx is None:
                raise FuncError("value is nil; should be of type string")
            if not isinstance(idx, str):
                raise FuncError(f"value has type {tname(idx)}; should be string")
            # a missing key gives the element's zero value: "" for map[string]string, nil for interface {}
            item = item[idx] if idx in item else ("" if tname(item) == "map[string]string" else None)
        else:
            raise FuncError(f"can't index item of type {tname(item)}")
    return item


def slice_(a: list[Any]) -> Any:
    item, idx = a[0], a[1:]
    if item is None:
        raise FuncError("slice of untyped nil")
    if len(idx) > 3:
        raise FuncError(f"too many slice indexes: {len(idx)}")
    if isinstance(item, str):
        if len(idx) == 3:
            raise FuncError("cannot 3-index slice a string")
        seq: Any = to_bytes(item)
    elif isinstance(item, list | tuple):
        seq = item
    else:
        raise FuncError(f"can't slice item of type {tname(item)}")
    bounds = [0, len(seq)]
    for i, x in enumerate(idx):
        if x is None:
            raise FuncError("cannot index slice/array with nil")
        if not isinstance(x, int) or isinstance(x, bool):
            raise FuncError(f"cannot index slice/array with type {tname(x)}")
        if not 0 <= x <= len(seq):
            raise FuncError(f"index out of range: {x}")
        if i < 2:
            bounds[i] = x
        elif bounds[1] > x:
            raise FuncError(f"invalid slice index: {bounds[1]} > {x}")
    if bounds[0] > bounds[1]:
        raise FuncError(f"invalid slice index: {bounds[0]} > {bounds[1]}")
    out = seq[bounds[0]:bounds[1]]
    return out.decode("utf-8", "surrogateescape") if isinstance(out, bytes) else list(out)


def length(a: list[Any]) -> int:
    v = a[0]
    if isinstance(v, str):
        return len(to_bytes(v))  # Go counts bytes
    if isinstance(v, list | tuple | Mapping):
        return len(v)
    raise FuncError("len of nil pointer" if v is None else f"len of type {tname(v)}")


def call(a: list[Any]) -> Any:
    fn = a[0]
    if fn is None:
        raise FuncError("call of nil")
    raise FuncError(f"non-function of type {tname(fn)}")  # data holds no Go functions


def eq(a: list[Any]) -> bool:
    if len(a) < 2:
        raise FuncError("missing argument for comparison")
    x = a[0]
    return any(_eq(x, y) for y in a[1:])


def _eq(x: Any, y: Any) -> bool:
    kx, ky = kind(x), kind(y)
    if kx != ky:
        if x is None or y is None:
            return False
        raise FuncError("incompatible types for comparison")
    if kx:
        return bool(x == y)
    if x is None or y is None:
        return x is None and y is None
    if isinstance(x, Mapping) != isinstance(y, Mapping):
        raise FuncError(f"non-comparable types {tname(x)}, {tname(y)}")
    raise FuncError(f"non-comparable type {tname(y)}")


def _lt(x: Any, y: Any) -> bool:
    kx, ky = kind(x), kind(y)
    if not kx or not ky:
        raise FuncError("invalid type for comparison")
    if kx != ky:
        raise FuncError("incompatible types for comparison")
    if kx in ("bool", "complex"):
        raise FuncError("invalid type for comparison")
    return bool(x < y)


def _le(x: Any, y: Any) -> bool:
    return _lt(x, y) or _eq(x, y)


def html(s: str) -> str:
    return s.replace("&", "&amp;").replace("'", "&#39;").replace("<", "&lt;").replace(">", "&gt;") \
        .replace('"', "&#34;").replace("\0", "\ufffd")


_JS = {"\\": "\\\\", "'": "\\'", '"': '\\"', "<": "\\u003C", ">": "\\u003E", "&": "\\u0026", "=": "\\u003D"}


def js(s: str) -> str:
    return "".join(_JS.get(c) or (f"\\u{ord(c):04X}" if c < " " or (c > "\x7f" and not c.isprintable()) else c)
                   for c in s)


def eval_args(a: list[Any]) -> str:
    """text/template's evalArgs: one string as is, else fmt.Sprint with nil printed as <no value>."""
    if len(a) == 1 and isinstance(a[0], str):
        return a[0]
    return sprint(["<no value>" if x is None else x for x in a])


FUNCS: dict[str, Func] = {
    "and": Func("aa*", _not_called),
    "or": Func("aa*", _not_called),
    "not": Func("a", lambda a: not truth(a[0])),
    "len": Func("a", length),
    "index": Func("aa*", index),
    "slice": Func("aa*", slice_),
    "call": Func("aa*", call),
    "print": Func("a*", sprint),
    "printf": Func("sa*", lambda a: sprintf(a[0], a[1:])),
    "println": Func("a*", sprintln),
    "eq": Func("aa*", eq),
    "ne": Func("aa", lambda a: not _eq(a[0], a[1])),
    "lt": Func("aa", lambda a: _lt(a[0], a[1])),
    "le": Func("aa", lambda a: _le(a[0], a[1])),
    "gt": Func("aa", lambda a: not _le(a[0], a[1])),
    "ge": Func("aa", lambda a: not _lt(a[0], a[1])),
    "html": Func("a*", lambda a: html(eval_args(a))),
    "js": Func("a*", lambda a: js(eval_args(a))),
    "urlquery": Func("a*", lambda a: urllib.parse.quote_plus(to_bytes(eval_args(a)), safe="")),
}
