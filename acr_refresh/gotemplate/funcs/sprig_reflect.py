"""Sprig's reflection functions: typeOf, kindOf and friends, and reflect.DeepEqual."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..values import tname
from . import Func


def kind_of(v: Any) -> str:
    """reflect.Value.Kind().String(): "invalid" for nil."""
    if v is None:
        return "invalid"
    go_kind = getattr(v, "go_kind", None)
    if go_kind is not None:
        return str(go_kind)
    t = tname(v)
    if t.startswith("map["):
        return "map"
    if t.startswith("[]"):
        return "slice"
    return {"float64": "float64", "complex128": "complex128"}.get(t, t)


def deep_equal(x: Any, y: Any) -> bool:
    """reflect.DeepEqual on our values: same Go type, then equal contents."""
    if tname(x) != tname(y):
        return False
    if isinstance(x, Mapping):
        return len(x) == len(y) and all(k in y and deep_equal(x[k], y[k]) for k in x)
    if isinstance(x, list | tuple):
        return len(x) == len(y) and all(deep_equal(a, b) for a, b in zip(x, y, strict=True))
    return bool(x == y)


FUNCS: dict[str, Func] = {
    "typeOf": Func("a", lambda a: tname(a[0])),
    "typeIs": Func("sa", lambda a: a[0] == tname(a[1])),
    "typeIsLike": Func("sa", lambda a: tname(a[1]) in (a[0], "*" + a[0])),
    "kindOf": Func("a", lambda a: kind_of(a[0])),
    "kindIs": Func("sa", lambda a: a[0] == kind_of(a[1])),
    "deepEqual": Func("aa", lambda a: deep_equal(a[0], a[1])),
}
