"""Sprig's list functions. Most take any list (Go: any slice or array, via reflect) and return a new
``[]interface {}``; the non-``must`` forms panic on a non-list, which Go reports as an execution error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import FuncError
from ..values import ListList, tname
from . import Func
from .sprig_defaults import empty
from .sprig_numeric import to_int
from .sprig_reflect import deep_equal, kind_of
from .sprig_strings import strval  # noqa: F401 - re-exported for families that build on lists


def _seq(v: Any, what: str) -> list[Any]:
    if isinstance(v, list | tuple):
        return list(v)
    if v is None:
        raise FuncError("runtime error: invalid memory address or nil pointer dereference")
    raise FuncError(f"Cannot {what} on type {kind_of(v)}" if what else f"Cannot {what} type {kind_of(v)}")


def _list_fn(what: str, fn: Callable[[list[Any]], Any]) -> Callable[[list[Any]], Any]:
    return lambda a: fn(_seq(a[0], what))


def chunk(size: int, v: Any) -> ListList:
    items = _seq(v, "chunk")
    if size <= 0:
        raise FuncError("runtime error: integer divide by zero" if size == 0 else "makeslice: len out of range")
    return ListList(items[i:i + size] for i in range(0, len(items), size))


def has(needle: Any, hay: Any) -> bool:
    if hay is None:
        return False
    if not isinstance(hay, list | tuple):
        raise FuncError(f"Cannot find has on type {kind_of(hay)}")
    return any(deep_equal(needle, x) for x in hay)


def uniq(items: list[Any]) -> list[Any]:
    out: list[Any] = []
    for x in items:
        if not any(deep_equal(x, y) for y in out):
            out.append(x)
    return out


def slice_(a: list[Any]) -> Any:
    items = a[0]
    if not isinstance(items, list | tuple):
        raise FuncError(f"list should be type of slice or array but {kind_of(items)}")
    if not items:
        return None
    start = to_int(a[1]) if len(a) > 1 else 0
    end = to_int(a[2]) if len(a) > 2 else len(items)
    if not 0 <= start <= end <= len(items):
        raise FuncError("reflect: slice index out of range")
    out = items[start:end]
    return type(items)(out) if tname(items) != "[]interface {}" else list(out)


def concat(a: list[Any]) -> list[Any]:
    out: list[Any] = []
    for x in a:
        if not isinstance(x, list | tuple):
            raise FuncError(f"Cannot concat type {kind_of(x)} as list")
        out.extend(x)
    return out


FUNCS: dict[str, Func] = {
    "list": Func("a*", lambda a: list(a)),
    "tuple": Func("a*", lambda a: list(a)),
    "append": Func("aa", lambda a: [*_seq(a[0], "push"), a[1]]),
    "push": Func("aa", lambda a: [*_seq(a[0], "push"), a[1]]),
    "mustAppend": Func("aa", lambda a: [*_seq(a[0], "push"), a[1]]),
    "mustPush": Func("aa", lambda a: [*_seq(a[0], "push"), a[1]]),
    "prepend": Func("aa", lambda a: [a[1], *_seq(a[0], "prepend")]),
    "mustPrepend": Func("aa", lambda a: [a[1], *_seq(a[0], "prepend")]),
    "first": Func("a", _list_fn("find first", lambda x: x[0] if x else None)),
    "mustFirst": Func("a", _list_fn("find first", lambda x: x[0] if x else None)),
    "rest": Func("a", _list_fn("find rest", lambda x: x[1:])),
    "mustRest": Func("a", _list_fn("find rest", lambda x: x[1:])),
    "last": Func("a", _list_fn("find last", lambda x: x[-1] if x else None)),
    "mustLast": Func("a", _list_fn("find last", lambda x: x[-1] if x else None)),
    "initial": Func("a", _list_fn("find initial", lambda x: x[:-1])),
    "mustInitial": Func("a", _list_fn("find initial", lambda x: x[:-1])),
    "reverse": Func("a", _list_fn("find reverse", lambda x: x[::-1])),
    "mustReverse": Func("a", _list_fn("find reverse", lambda x: x[::-1])),
    "uniq": Func("a", _list_fn("find uniq", uniq)),
    "mustUniq": Func("a", _list_fn("find uniq", uniq)),
    "compact": Func("a", _list_fn("compact", lambda x: [y for y in x if not empty(y)])),
    "mustCompact": Func("a", _list_fn("compact", lambda x: [y for y in x if not empty(y)])),
    "without": Func("aa*", lambda a: [x for x in _seq(a[0], "find without")
                                      if not any(deep_equal(x, o) for o in a[1:])]),
    "mustWithout": Func("aa*", lambda a: [x for x in _seq(a[0], "find without")
                                          if not any(deep_equal(x, o) for o in a[1:])]),
    "has": Func("aa", lambda a: has(a[0], a[1])),
    "mustHas": Func("aa", lambda a: has(a[0], a[1])),
    "slice": Func("aa*", slice_),
    "mustSlice": Func("aa*", slice_),
    "concat": Func("a*", concat),
    "chunk": Func("ia", lambda a: chunk(a[0], a[1])),
    "mustChunk": Func("ia", lambda a: chunk(a[0], a[1])),
}
