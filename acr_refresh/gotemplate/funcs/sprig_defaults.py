"""Sprig's default, empty, coalesce and ternary (Go truthiness: zero values are "empty")."""

from __future__ import annotations

from ..values import truth
from . import Func

FUNCS: dict[str, Func] = {
    "default": Func("aa*", lambda a: a[1] if len(a) > 1 and truth(a[1]) else a[0]),
    "empty": Func("a", lambda a: not truth(a[0])),
    "coalesce": Func("a*", lambda a: next((x for x in a if truth(x)), None)),
    "ternary": Func("aab", lambda a: a[0] if a[2] else a[1]),
}
