"""The helper functions of Go's exec_test.go (its testExecute FuncMap), ported to the engine's Func form."""

from __future__ import annotations

from typing import Any

from acr_refresh.gotemplate import BUILTINS, Func, StringMap
from acr_refresh.gotemplate.printf import sprint
from acr_refresh.gotemplate.values import tname


def _die(a: list[Any]) -> bool:
    raise RuntimeError("die")


def _makemap(a: list[Any]) -> StringMap:
    if len(a) % 2:
        raise RuntimeError("bad makemap")
    return StringMap(zip(a[::2], a[1::2], strict=True))


def _count(a: list[Any]) -> list[str] | None:
    # Go returns a channel of n one-letter strings (nil for 0); ranging over this list behaves the same
    return None if a[0] == 0 else list("abcdefghijklmnop"[:a[0]])


def _ddd(a: list[Any]) -> str:
    return f"{a[0]} [{' '.join(a[1:])}]\n"  # fmt.Sprintln(a, b) with b a []string


GO_TEST_FUNCS: dict[str, Func] = {
    "add": Func("i*", lambda a: sum(a)),
    "count": Func("i", _count),
    "dddArg": Func("is*", _ddd),
    "die": Func("", _die),
    "echo": Func("a", lambda a: a[0]),
    "makemap": Func("s*", _makemap),
    "mapOfThree": Func("", lambda a: {"three": 3}),
    "oneArg": Func("s", lambda a: "oneArg=" + a[0]),
    "returnInt": Func("", lambda a: 7),
    "twoArgs": Func("ss", lambda a: "twoArgs=" + a[0] + a[1]),
    "typeOf": Func("a", lambda a: tname(a[0])),
    "valueString": Func("s", lambda a: "value is ignored"),
    "zeroArgs": Func("", lambda a: "zeroArgs"),
    # stringer and vfunc take Go types (fmt.Stringer, V) that JSON-shaped data cannot hold: every case
    # using them is skipped as non-map-data by port.py, so they are declared only so that parsing succeeds.
    "stringer": Func("s", lambda a: a[0]),
    "vfunc": Func("aa", lambda a: "vfunc"),
}

GO_FUNCS: dict[str, Func] = {**BUILTINS, **GO_TEST_FUNCS}
_ = sprint
