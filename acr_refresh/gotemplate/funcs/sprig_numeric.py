"""Sprig's math: int64 arithmetic with spf13/cast's conversions, float64 via shopspring/decimal, seq/until.

cast converts leniently (a string that does not parse is 0, a float truncates); integer division and
modulo truncate toward zero and fail on zero, as Go's int64 operators do (Go panics; text/template reports it).
"""

from __future__ import annotations

import decimal
import math
import re
import secrets
from typing import Any

from ..errors import MAX_OUTPUT, FuncError
from ..values import Int64, IntList, fmt_v
from . import Func

_I64 = 1 << 64


def wrap64(n: int) -> Int64:
    n &= _I64 - 1
    return Int64(n - _I64 if n >= 1 << 63 else n)


def _parse_int(s: str) -> int | None:
    """strconv.ParseInt(s, 0, 64): optional sign, 0x/0o/0b/0 prefixes, underscores only with a prefix."""
    m = re.fullmatch(r"([+-]?)(0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|0[0-7_]*|[1-9][0-9]*)", s)
    if not m:
        return None
    sign, body = m.groups()
    if "_" in body and not re.fullmatch(r"0[xXoObB]?(_?[0-9a-fA-F])+", body):
        return None
    digits = body.replace("_", "")
    base = {"x": 16, "o": 8, "b": 2}.get(digits[1:2].lower(), 8 if len(digits) > 1 and digits[0] == "0" else 10)
    if base != 10 and digits[1:2].isalpha():
        digits = digits[2:]
    n = int(digits or "0", base) * (-1 if sign == "-" else 1)
    return n if -(1 << 63) <= n < 1 << 63 else None


def to_int(v: Any) -> int:
    """cast.ToInt (a Go int)."""
    return int(to_int64(v))


def to_int64(v: Any) -> int:
    """cast.ToInt64: 0 for anything that does not convert."""
    if v is None:
        return Int64(0)
    if isinstance(v, bool):
        return Int64(v)
    if isinstance(v, int):
        return wrap64(v)
    if isinstance(v, float):
        return wrap64(int(v)) if math.isfinite(v) else Int64(-(1 << 63))
    if isinstance(v, str):
        s = re.sub(r"\.0*$", "", v) if re.fullmatch(r"[^.]*\.0*", v) and v.rstrip("0") != "." else v
        n = _parse_int(s)
        return Int64(0 if n is None else n)
    return Int64(0)




def to_float64(v: Any) -> float:
    """cast.ToFloat64: 0 for anything that does not convert."""
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v) if re.fullmatch(r"[+-]?(inf(inity)?|nan|[0-9_.eExXpP+-]+|0[xX][0-9a-fA-F_.pP+-]+)",
                                            v, re.I) else 0.0
        except ValueError:
            return 0.0
    return 0.0


def _div(a: int, b: int) -> int:
    if b == 0:
        raise FuncError("runtime error: integer divide by zero")
    q = abs(a) // abs(b)
    return wrap64(q if (a >= 0) == (b >= 0) else -q)


def _mod(a: int, b: int) -> int:
    if b == 0:
        raise FuncError("runtime error: integer divide by zero")
    return wrap64(a - b * _div(a, b))


_CTX = decimal.Context(prec=60)


def _dec(v: Any) -> decimal.Decimal:
    f = to_float64(v)
    if not math.isfinite(f):
        raise FuncError("Cannot create a Decimal from " + fmt_v(f))
    return decimal.Decimal(repr(f))


def decimal_op(first: Any, rest: list[Any], op: str) -> float:
    acc = _dec(first)
    for x in rest:
        d = _dec(x)
        if op == "+":
            acc = _CTX.add(acc, d)
        elif op == "-":
            acc = _CTX.subtract(acc, d)
        elif op == "*":
            acc = _CTX.multiply(acc, d)
        else:
            if d == 0:
                raise FuncError("decimal division by 0")
            acc = _CTX.divide(acc, d).quantize(decimal.Decimal(1).scaleb(-16), rounding=decimal.ROUND_HALF_EVEN,
                                               context=_CTX)  # shopspring's DivisionPrecision
    return float(acc)


def until_step(start: int, stop: int, step: int) -> IntList:
    if (stop < start and step >= 0) or (stop >= start and step <= 0):
        return IntList()
    n = max(0, -((stop - start) // -step)) if step > 0 else max(0, -((start - stop) // step))
    if n > MAX_OUTPUT // 2:
        raise FuncError(f"list exceeds {MAX_OUTPUT // 2} elements")
    return IntList(range(start, stop, step))


def seq(a: list[int]) -> str:
    if len(a) == 1:
        start, end = 1, a[0]
        inc = -1 if end < start else 1
        items = until_step(start, end + inc, inc)
    elif len(a) == 2:
        start, end = a
        step = -1 if end < start else 1
        items = until_step(start, end + step, step)
    elif len(a) == 3:
        start, step, end = a
        inc = 1
        if end < start:
            inc = -1
            if step > 0:
                return ""
        items = until_step(start, end + inc, step)
    else:
        return ""
    return " ".join(str(i) for i in items)


def go_round(a: Any, places: int, on: list[float]) -> float:
    round_on = on[0] if on else 0.5
    pow_ = math.pow(10, float(places))
    digit = pow_ * to_float64(a)
    frac = math.modf(digit)[0]
    return (math.ceil(digit) if frac >= round_on else math.floor(digit)) / pow_


def to_decimal(v: Any) -> int:
    s = fmt_v(v)
    if not re.fullmatch(r"[+-]?[0-7]+", s):
        return Int64(0)
    n = int(s, 8)
    return Int64(n if -(1 << 63) <= n < 1 << 63 else 0)


def rand_int(lo: int, hi: int) -> int:
    if hi - lo <= 0:
        raise FuncError("invalid argument to Intn")
    return lo + secrets.randbelow(hi - lo)


def atoi(s: str) -> int:
    return int(s) if re.fullmatch(r"[+-]?[0-9]+", s) and -(1 << 63) <= int(s) < 1 << 63 else 0


def _fmax(x: float, y: float) -> float:
    if (math.isinf(x) and x > 0) or (math.isinf(y) and y > 0):
        return math.inf
    if math.isnan(x) or math.isnan(y):
        return math.nan
    return max(x, y)


def _fmin(x: float, y: float) -> float:
    if (math.isinf(x) and x < 0) or (math.isinf(y) and y < 0):
        return -math.inf
    if math.isnan(x) or math.isnan(y):
        return math.nan
    return min(x, y)


def _fold(a: list[Any], conv: Any, pick: Any) -> Any:
    acc = conv(a[0])
    for x in a[1:]:
        acc = pick(acc, conv(x))
    return acc


def _mul(a: list[Any]) -> int:
    acc = to_int64(a[0])
    for x in a[1:]:
        acc = wrap64(acc * to_int64(x))
    return acc


FUNCS: dict[str, Func] = {
    "atoi": Func("s", lambda a: atoi(a[0])),
    "int64": Func("a", lambda a: to_int64(a[0])),
    "int": Func("a", lambda a: to_int(a[0])),
    "float64": Func("a", lambda a: to_float64(a[0])),
    "seq": Func("i*", seq),
    "toDecimal": Func("a", lambda a: to_decimal(a[0])),
    "until": Func("i", lambda a: until_step(0, a[0], -1 if a[0] < 0 else 1)),
    "untilStep": Func("iii", lambda a: until_step(a[0], a[1], a[2])),
    "add1": Func("a", lambda a: wrap64(to_int64(a[0]) + 1)),
    "add": Func("a*", lambda a: wrap64(sum(to_int64(x) for x in a))),
    "sub": Func("aa", lambda a: wrap64(to_int64(a[0]) - to_int64(a[1]))),
    "div": Func("aa", lambda a: _div(to_int64(a[0]), to_int64(a[1]))),
    "mod": Func("aa", lambda a: _mod(to_int64(a[0]), to_int64(a[1]))),
    "mul": Func("aa*", _mul),
    "randInt": Func("ii", lambda a: rand_int(a[0], a[1])),
    "add1f": Func("a", lambda a: decimal_op(a[0], [1], "+")),
    "addf": Func("a*", lambda a: decimal_op(0.0, a, "+")),
    "subf": Func("aa*", lambda a: decimal_op(a[0], a[1:], "-")),
    "divf": Func("aa*", lambda a: decimal_op(a[0], a[1:], "/")),
    "mulf": Func("aa*", lambda a: decimal_op(a[0], a[1:], "*")),
    "biggest": Func("aa*", lambda a: Int64(_fold(a, to_int64, max))),
    "max": Func("aa*", lambda a: Int64(_fold(a, to_int64, max))),
    "min": Func("aa*", lambda a: Int64(_fold(a, to_int64, min))),
    "maxf": Func("aa*", lambda a: _fold(a, to_float64, _fmax)),
    "minf": Func("aa*", lambda a: _fold(a, to_float64, _fmin)),
    "ceil": Func("a", lambda a: float(math.ceil(x)) if math.isfinite(x := to_float64(a[0])) else x),
    "floor": Func("a", lambda a: float(math.floor(x)) if math.isfinite(x := to_float64(a[0])) else x),
    "round": Func("aif*", lambda a: go_round(a[0], a[1], a[2:])),
}
