"""Sprig's string functions (subject last, so it can be piped: ``.x | replace "a" "b"``)."""

from __future__ import annotations

from typing import Any

from ..errors import MAX_OUTPUT, FuncError
from ..values import fmt_v, go_quote
from . import Func

# unicode.IsSpace, used by Sprig's trim and nospace
GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a" \
           "\u2028\u2029\u202f\u205f\u3000"


def strval(v: Any) -> str:
    """Sprig's strval: strings as they are, anything else as fmt's %v."""
    return v if isinstance(v, str) else fmt_v(v)


def case(s: str, up: bool) -> str:
    """strings.ToUpper/ToLower: per-rune simple mapping (Go keeps "ß" where Python would write "SS")."""
    if s.isascii():
        return s.upper() if up else s.lower()
    return "".join(m if len(m := (c.upper() if up else c.lower())) == 1 else c for c in s)


def split(s: str, sep: str) -> list[str]:
    return list(s) if sep == "" else s.split(sep)  # strings.Split("", "") is empty, like list("")


def indent(n: int, s: str) -> str:
    if n < 0 or n * (s.count("\n") + 1) + len(s) > MAX_OUTPUT:
        raise FuncError("indent out of range")
    return " " * n + s.replace("\n", "\n" + " " * n)


def join(sep: str, v: Any) -> str:
    items = v if isinstance(v, list | tuple) else [] if v is None else [v]
    return sep.join(strval(x) for x in items if x is not None)


FUNCS: dict[str, Func] = {
    "quote": Func("a*", lambda a: " ".join(go_quote(strval(x)) for x in a if x is not None)),
    "squote": Func("a*", lambda a: " ".join(f"'{strval(x)}'" for x in a if x is not None)),
    "upper": Func("s", lambda a: case(a[0], True)),
    "lower": Func("s", lambda a: case(a[0], False)),
    "trim": Func("s", lambda a: a[0].strip(GO_SPACE)),
    "trimAll": Func("ss", lambda a: a[1].strip(a[0])),
    "trimPrefix": Func("ss", lambda a: a[1].removeprefix(a[0])),
    "trimSuffix": Func("ss", lambda a: a[1].removesuffix(a[0])),
    "replace": Func("sss", lambda a: a[2].replace(a[0], a[1])),
    "nospace": Func("s", lambda a: "".join(c for c in a[0] if c not in GO_SPACE)),
    "indent": Func("is", lambda a: indent(a[0], a[1])),
    "nindent": Func("is", lambda a: "\n" + indent(a[0], a[1])),
    "contains": Func("ss", lambda a: a[0] in a[1]),
    "hasPrefix": Func("ss", lambda a: a[1].startswith(a[0])),
    "hasSuffix": Func("ss", lambda a: a[1].endswith(a[0])),
    "split": Func("ss", lambda a: {f"_{i}": p for i, p in enumerate(split(a[1], a[0]))}),
    "splitList": Func("ss", lambda a: split(a[1], a[0])),
    "join": Func("sa", lambda a: join(a[0], a[1])),
    "cat": Func("a*", lambda a: " ".join(strval(x) for x in a if x is not None)),
    "toString": Func("a", lambda a: strval(a[0])),
}
