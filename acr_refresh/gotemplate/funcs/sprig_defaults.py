"""Sprig's default, empty, coalesce, all, any, ternary, deepCopy and fail (Go truthiness: zero values are
"empty")."""

from __future__ import annotations

import copy
from typing import Any

from ..errors import FuncError
from ..values import truth
from . import Func


def empty(v: Any) -> bool:
    return not truth(v)


def _fail(msg: str) -> Any:
    raise FuncError(msg)  # the template's own message, as Sprig's fail gives it


def _deep_copy(v: Any) -> Any:
    if v is None:
        raise FuncError("deepCopy error: reflect: call of reflect.Value.Type on zero Value")
    return copy.deepcopy(v)


FUNCS: dict[str, Func] = {
    "default": Func("aa*", lambda a: a[1] if len(a) > 1 and truth(a[1]) else a[0]),
    "empty": Func("a", lambda a: empty(a[0])),
    "coalesce": Func("a*", lambda a: next((x for x in a if truth(x)), None)),
    "all": Func("a*", lambda a: all(truth(x) for x in a)),
    "any": Func("a*", lambda a: any(truth(x) for x in a)),
    "ternary": Func("aab", lambda a: a[0] if a[2] else a[1]),
    "deepCopy": Func("a", lambda a: _deep_copy(a[0])),
    "mustDeepCopy": Func("a", lambda a: _deep_copy(a[0])),
    "fail": Func("s", lambda a: _fail(a[0])),
}
