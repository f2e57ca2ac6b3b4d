"""Sprig's dict functions (dicts are map[string]interface {}; ESO's map[string]string data is not one, so
``hasKey . "x"`` fails exactly as in ESO). ``merge``/``mergeOverwrite`` follow dario.cat/mergo's map rules."""

from __future__ import annotations

from typing import Any

from ..errors import FuncError
from ..values import StrList, tname, truth
from . import Func
from .sprig_strings import strval


def make_dict(a: list[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i in range(0, len(a), 2):
        out[strval(a[i])] = a[i + 1] if i + 1 < len(a) else ""
    return out


def merge(dst: dict[str, Any], src: dict[str, Any], overwrite: bool, depth: int = 0) -> None:
    if depth > 100:
        raise FuncError("value nested too deeply")
    for k, sv in src.items():
        dv = dst.get(k)
        if type(dv) is dict and type(sv) is dict:
            merge(dv, sv, overwrite, depth + 1)
        elif k not in dst or not truth(dv) or (overwrite and truth(sv)):
            dst[k] = sv


def _merge_all(a: list[Any], overwrite: bool) -> Any:
    dst = a[0] if a[0] is not None else {}
    for src in a[1:]:
        if src is not None:
            merge(dst, src, overwrite)
    return dst


def dig(a: list[Any]) -> Any:
    if len(a) < 3:
        raise FuncError("dig needs at least three arguments")
    d, default, ks = a[-1], a[-2], a[:-2]
    for i, k in enumerate(ks):
        if not isinstance(k, str):
            raise FuncError(f"interface conversion: interface {{}} is {tname(k)}, not string")
        if type(d) is not dict:
            raise FuncError(f"interface conversion: interface {{}} is {tname(d)}, not map[string]interface {{}}")
        if k not in d:
            return default
        d = d[k]
        if i == len(ks) - 1:
            return d
    return d


def _set(d: dict[str, Any] | None, k: str, v: Any) -> dict[str, Any]:
    if d is None:
        raise FuncError("assignment to entry in nil map")
    d[k] = v
    return d


def _unset(d: dict[str, Any] | None, k: str) -> dict[str, Any] | None:
    if d is not None:
        d.pop(k, None)
    return d


FUNCS: dict[str, Func] = {
    "dict": Func("a*", make_dict),
    "get": Func("ms", lambda a: a[0].get(a[1], "") if a[0] is not None else ""),
    "set": Func("msa", lambda a: _set(a[0], a[1], a[2])),
    "unset": Func("ms", lambda a: _unset(a[0], a[1])),
    "hasKey": Func("ms", lambda a: a[0] is not None and a[1] in a[0]),
    "pluck": Func("sm*", lambda a: [d[a[0]] for d in a[1:] if d is not None and a[0] in d]),
    "keys": Func("m*", lambda a: StrList(k for d in a if d is not None for k in d)),
    "pick": Func("ms*", lambda a: {k: a[0][k] for k in a[1:] if a[0] is not None and k in a[0]}),
    "omit": Func("ms*", lambda a: {k: v for k, v in (a[0] or {}).items() if k not in a[1:]}),
    "merge": Func("mm*", lambda a: _merge_all(a, False)),
    "mergeOverwrite": Func("mm*", lambda a: _merge_all(a, True)),
    "mustMerge": Func("mm*", lambda a: _merge_all(a, False)),
    "mustMergeOverwrite": Func("mm*", lambda a: _merge_all(a, True)),
    "values": Func("m", lambda a: list((a[0] or {}).values())),
    "dig": Func("a*", dig),
}
