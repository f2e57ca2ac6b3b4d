"""Go's value model as the engine holds it, and fmt's default (%v) printing.

Python values stand for the Go values that ESO's templates see: ``str`` string, ``int`` int (64-bit),
``float`` float64, ``complex`` complex128, ``bool``, ``None`` nil, ``list`` []interface {}, ``dict``
map[string]interface {} and :class:`StringMap` map[string]string (ESO's data: generator output and secret
data are ``map[string]string``, so Sprig's ``hasKey .`` fails on it exactly as in ESO). Strings that hold bytes
which are not UTF-8 (``b64dec`` of binary data) carry them as surrogate escapes, so lengths count bytes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from .errors import MAX_VALUE_DEPTH, FuncError


class StringMap(dict[str, str]):
    """A Go ``map[string]string``: ESO's template data. A missing key's zero value is ``""``."""

    __slots__ = ()

    def __repr__(self) -> str:  # the values are secrets
        return f"StringMap(keys={sorted(self)!r})"


class StrList(list[str]):
    """A Go ``[]string`` (what Sprig's splitList, keys, sortAlpha, regexFindAll and certSANs return)."""

    __slots__ = ()
    go_type = "[]string"


class Int64(int):
    """A Go ``int64`` (what Sprig's integer math returns; ``int`` literals and data are Go ``int``)."""

    __slots__ = ()
    go_type = "int64"


class IntList(list[int]):
    """A Go ``[]int`` (Sprig's until and untilStep)."""

    __slots__ = ()
    go_type = "[]int"


class ListList(list[list[Any]]):
    """A Go ``[][]interface {}`` (Sprig's chunk)."""

    __slots__ = ()
    go_type = "[][]interface {}"


def tname(v: Any) -> str:
    """Go's name for the type of ``v`` (%T), ``<nil>`` for nil."""
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "bool"
    go_type = getattr(type(v), "go_type", None)
    if go_type is not None:
        return str(go_type)
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, complex):
        return "complex128"
    if isinstance(v, str):
        return "string"
    if isinstance(v, StringMap):
        return "map[string]string"
    if isinstance(v, Mapping):
        return "map[string]interface {}"
    if isinstance(v, list | tuple):
        return "[]interface {}"
    return type(v).__name__


def kind(v: Any) -> str:
    """The basic kind text/template compares by: bool, int, float, complex, string; "" for the rest."""
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, complex):
        return "complex"
    if isinstance(v, str):
        return "string"
    return ""


def truth(v: Any) -> bool:
    """Go's truthiness: false, 0, nil and empty strings, lists and maps are false."""
    if v is None:
        return False
    if isinstance(v, bool | int | float | complex):
        return v != 0
    if isinstance(v, str | Mapping | list | tuple):
        return len(v) > 0
    return True


def to_bytes(s: str) -> bytes:
    try:
        return s.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return s.encode("utf-8", "replace")


def from_bytes(b: bytes) -> str:
    return b.decode("utf-8", "surrogateescape")


def sorted_keys(m: Mapping[Any, Any]) -> list[Any]:
    try:
        return sorted(m)
    except TypeError:
        return sorted(m, key=lambda k: (type(k).__name__, str(k)))


def _shortest(f: float) -> tuple[str, int]:
    """Shortest round-trip digits of abs(f) (non-zero, finite) and the decimal point: f = 0.DIGITS e DP."""
    mant, _, exp = repr(abs(f)).partition("e")
    ip, _, fp = mant.partition(".")
    digits, dp = ip + fp, len(ip) + int(exp or 0)
    stripped = digits.lstrip("0")
    return stripped.rstrip("0"), dp - (len(digits) - len(stripped))


def _fmt_e(digits: str, dp: int, prec: int) -> str:
    frac = digits[1:prec + 1].ljust(prec, "0")
    exp = dp - 1
    return f"{digits[0]}{'.' + frac if prec else ''}e{'-' if exp < 0 else '+'}{abs(exp):02d}"


def _fmt_f(digits: str, dp: int, prec: int) -> str:
    whole = digits[:dp].ljust(dp, "0") if dp > 0 else "0"
    frac = "".join(digits[i] if 0 <= i < len(digits) else "0" for i in range(dp, dp + prec))
    return whole + ("." + frac if prec else "")


def go_float(f: float, json_style: bool = False) -> str:
    """strconv.FormatFloat(f, 'g', -1, 64) as fmt's %v uses it, or encoding/json's float format."""
    if math.isnan(f) or math.isinf(f):
        return "NaN" if math.isnan(f) else ("+Inf" if f > 0 else "-Inf")
    sign = "-" if math.copysign(1, f) < 0 else ""
    if f == 0:
        return sign + "0"
    digits, dp = _shortest(f)
    use_e = (abs(f) < 1e-6 or abs(f) >= 1e21) if json_style else not -4 <= dp - 1 < 6
    if not use_e:
        return sign + _fmt_f(digits, dp, max(len(digits) - dp, 0))
    s = _fmt_e(digits, dp, len(digits) - 1)
    return sign + (re.sub(r"e([-+])0(\d)$", r"e\1\2", s) if json_style else s)  # json: e-07 -> e-7


def fmt_rec(v: Any, scalar: Callable[[Any], str], depth: int = 0) -> str:
    """fmt's rendering of lists and maps ([a b], map[k:v] with sorted keys), a verb applied to each leaf."""
    if depth > MAX_VALUE_DEPTH:
        raise FuncError("value nested too deeply")
    if isinstance(v, Mapping):
        d = depth + 1
        return "map[" + " ".join(f"{fmt_rec(k, scalar, d)}:{fmt_rec(v[k], scalar, d)}"
                                 for k in sorted_keys(v)) + "]"
    if isinstance(v, list | tuple):
        return "[" + " ".join(fmt_rec(x, scalar, depth + 1) for x in v) + "]"
    return scalar(v)


def v_scalar(v: Any) -> str:
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return v
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return go_float(v)
    if isinstance(v, complex):
        return go_complex(v)
    if hasattr(v, "go_string"):
        return str(v.go_string())
    raise FuncError(f"unsupported value of type {type(v).__name__}")


def go_complex(c: complex, fmt_float: Callable[[float], str] = go_float) -> str:
    """fmt's complex: (real+imagi), the imaginary part always signed."""
    im = fmt_float(c.imag)
    return f"({fmt_float(c.real)}{'' if im[0] in '+-' else '+'}{im}i)"


def fmt_v(v: Any) -> str:
    """fmt.Sprint of one value (%v)."""
    return fmt_rec(v, v_scalar)


C_ESC = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def go_quote(s: str, q: str = '"') -> str:
    """strconv.Quote (or QuoteRune with q="'"): Go escapes, printable Unicode kept, raw bytes as \\xNN."""
    out = [q]
    for ch in s:
        o = ord(ch)
        if ch in (q, "\\"):
            out.append("\\" + ch)
        elif 0xDC80 <= o <= 0xDCFF:
            out.append(f"\\x{o - 0xDC00:02x}")
        elif ch.isprintable():
            out.append(ch)
        elif ch in C_ESC:
            out.append(C_ESC[ch])
        elif o < 0x20 or o == 0x7F:
            out.append(f"\\x{o:02x}")
        elif 0xD800 <= o < 0xE000:
            out.append("\\ufffd")
        else:
            out.append(f"\\u{o:04x}" if o < 0x10000 else f"\\U{o:08x}")
    return "".join(out) + q


