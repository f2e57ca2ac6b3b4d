"""Sprig's list and dict functions (dicts are map[string]interface {}; ESO's map[string]string is not one)."""

from __future__ import annotations

from . import Func
from .sprig_strings import strval

FUNCS: dict[str, Func] = {
    "list": Func("a*", lambda a: list(a)),
    "dict": Func("a*", lambda a: {strval(k): v for k, v in zip(a[::2], [*a[1::2], ""], strict=False)}),
    "get": Func("ms", lambda a: a[0].get(a[1], "") if a[0] is not None else ""),
    "hasKey": Func("ms", lambda a: a[0] is not None and a[1] in a[0]),
}
