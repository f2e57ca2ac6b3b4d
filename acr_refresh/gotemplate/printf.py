"""Go's ``fmt``: Sprintf with its verbs, flags, width and precision, and its in-band error output
(``%!d(string=x)``, ``%!s(MISSING)``, ``%!(EXTRA int=1)``, ``%!(NOVERB)``), plus Sprint and Sprintln.

Not supported (a clear error instead): argument indexes (``%[2]d``), ``%p``, and ``%b``/``%x``/``%X`` of
floats. Width and precision are capped at :data:`MAX_WIDTH` so a template cannot ask for a huge buffer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from .errors import MAX_VALUE_DEPTH, MAX_WIDTH, FuncError
from .values import fmt_v, go_float, go_quote, sorted_keys, tname, to_bytes


@dataclass(slots=True)
class _Spec:
    minus: bool = False
    plus: bool = False
    sharp: bool = False
    space: bool = False
    zero: bool = False
    wid: int | None = None
    prec: int | None = None


def sprintf(fmt: str, args: list[Any]) -> str:
    """fmt.Sprintf(fmt, args...)."""
    out: list[str] = []
    i, n, argn = 0, len(fmt), 0
    while i < n:
        j = fmt.find("%", i)
        if j < 0:
            out.append(fmt[i:])
            break
        out.append(fmt[i:j])
        i = j + 1
        spec = _Spec()
        while i < n and fmt[i] in "#0+- ":
            c = fmt[i]
            spec.sharp |= c == "#"
            spec.zero |= c == "0" and not spec.minus
            spec.plus |= c == "+"
            spec.minus |= c == "-"
            spec.space |= c == " "
            if c == "-":
                spec.zero = False
            i += 1
        bad_width = bad_prec = False
        if i < n and fmt[i] == "*":
            i += 1
            spec.wid, argn, bad_width = _star(args, argn)
            if spec.wid is not None and spec.wid < 0:
                spec.minus, spec.zero, spec.wid = True, False, -spec.wid
        else:
            spec.wid, i = _num(fmt, i)
        if i < n and fmt[i] == ".":
            i += 1
            if i < n and fmt[i] == "*":
                i += 1
                spec.prec, argn, bad_prec = _star(args, argn)
                if spec.prec is not None and spec.prec < 0:
                    spec.prec, bad_prec = None, True
            else:
                p, i = _num(fmt, i)
                spec.prec = p or 0
        if i >= n:
            out.append("%!(NOVERB)")
            break
        verb = fmt[i]
        i += 1
        if bad_width:
            out.append("%!(BADWIDTH)")
        if bad_prec:
            out.append("%!(BADPREC)")
        if verb == "%":
            out.append("%")
            continue
        if verb == "[":
            raise FuncError("argument indexes (%[n]) are not supported")
        if argn >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        out.append(_arg(args[argn], verb, spec))
        argn += 1
    if argn < len(args):
        extra = ", ".join("<nil>" if a is None else f"{tname(a)}={fmt_v(a)}" for a in args[argn:])
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


def _num(fmt: str, i: int) -> tuple[int | None, int]:
    j = i
    while j < len(fmt) and "0" <= fmt[j] <= "9":
        j += 1
    if j == i:
        return None, i
    if j - i > 6 or int(fmt[i:j]) > MAX_WIDTH:
        raise FuncError(f"width or precision over {MAX_WIDTH}")
    return int(fmt[i:j]), j


def _star(args: list[Any], argn: int) -> tuple[int | None, int, bool]:
    if argn >= len(args):
        return None, argn, True
    v = args[argn]
    if not isinstance(v, int) or isinstance(v, bool):
        return None, argn + 1, True
    if abs(v) > MAX_WIDTH:
        raise FuncError(f"width or precision over {MAX_WIDTH}")
    return v, argn + 1, False


def _pad(s: str, spec: _Spec, zero_ok: bool = True) -> str:
    if spec.wid is None:
        return s
    fill = spec.wid - len(s)
    if fill <= 0:
        return s
    if spec.minus:
        return s + " " * fill
    return ("0" if spec.zero and zero_ok else " ") * fill + s


def _bad(v: Any, verb: str) -> str:
    return f"%!{verb}(<nil>)" if v is None else f"%!{verb}({tname(v)}={fmt_v(v)})"


def _arg(v: Any, verb: str, spec: _Spec, depth: int = 0) -> str:
    if depth > MAX_VALUE_DEPTH:
        raise FuncError("value nested too deeply")
    if verb == "T":
        return _pad(tname(v), spec, False)
    if verb == "p":
        raise FuncError("%p is not supported")
    if v is None:
        return _pad("<nil>", spec, False) if verb == "v" or depth else _bad(v, verb)
    if isinstance(v, bool):
        return _pad("true" if v else "false", spec, False) if verb in "tv" else _bad(v, verb)
    if isinstance(v, int):
        return _int(v, verb, spec)
    if isinstance(v, float):
        return _float(v, verb, spec)
    if isinstance(v, complex):
        if verb not in "vbgGxXfFeE":
            return _bad(v, verb)
        plus, inner = replace(spec, wid=None, plus=True), replace(spec, wid=None)
        return _pad(f"({_float(v.real, verb, inner)}{_float(v.imag, verb, plus)}i)", spec, False)
    if isinstance(v, str):
        return _str(v, verb, spec)
    if isinstance(v, Mapping):
        if spec.sharp and verb == "v":
            body = ", ".join(f"{_sharp(k)}:{_sharp(v[k])}" for k in sorted_keys(v))
            return f"{tname(v)}{{{body}}}"
        return "map[" + " ".join(f"{_arg(k, verb, spec, depth + 1)}:{_arg(v[k], verb, spec, depth + 1)}"
                                 for k in sorted_keys(v)) + "]"
    if isinstance(v, list | tuple):
        if spec.sharp and verb == "v":
            return f"{tname(v)}{{{', '.join(_sharp(x) for x in v)}}}"
        return "[" + " ".join(_arg(x, verb, spec, depth + 1) for x in v) + "]"
    raise FuncError(f"unsupported value of type {tname(v)}")


def _sharp(v: Any) -> str:
    """%#v: Go syntax (elements of an interface container: nil, 1, "s", map[...]{...})."""
    if v is None:
        return "interface {}(nil)"
    if isinstance(v, str):
        return go_quote(v)
    if isinstance(v, float) and math.isfinite(v) and v.is_integer() and abs(v) < 1e21:
        return go_float(v)  # %#v of 1.0 is "1"
    return _arg(v, "v", _Spec(sharp=True))


def _int(v: int, verb: str, spec: _Spec) -> str:
    if verb == "c":
        return _pad(_rune(v), spec, False)
    if verb == "q":
        r = _rune(v)
        q = f"`{r}`" if spec.sharp and r != "`" and r.isprintable() else go_quote(r, "'")
        return _pad(q, spec, False)
    if verb == "U":
        s = f"U+{v:04X}" if v >= 0 else f"U+-{-v:04X}"
        if spec.sharp and 0 <= v <= 0x10FFFF and _rune(v).isprintable():
            s += f" '{_rune(v)}'"
        return _pad(s, spec, False)
    bases = {"v": 10, "d": 10, "b": 2, "o": 8, "O": 8, "x": 16, "X": 16}
    if verb not in bases:
        return _bad(v, verb)
    base = bases[verb]
    digits = {2: "b", 8: "o", 10: "d", 16: "x"}[base]
    body = format(abs(v), digits)
    if verb == "X":
        body = body.upper()
    prec = spec.prec
    if prec is None and spec.zero and spec.wid is not None and not spec.minus:
        prec = spec.wid - (1 if v < 0 or spec.plus or spec.space else 0)
        if (spec.sharp and base in (2, 16)) or verb == "O":
            prec -= 2
        elif spec.sharp and base == 8:
            prec -= 1
    if prec is not None:
        if prec == 0 and v == 0:
            body = ""
        body = body.rjust(prec, "0")
    if verb == "O":
        body = "0o" + body
    elif spec.sharp:
        if base == 8 and not body.startswith("0"):
            body = "0" + body
        elif base == 16:
            body = ("0X" if verb == "X" else "0x") + body
        elif base == 2:
            body = "0b" + body
    sign = "-" if v < 0 else "+" if spec.plus else " " if spec.space else ""
    return _pad(sign + body, spec, False)


def _float(v: float, verb: str, spec: _Spec) -> str:
    if verb in "bxX":
        raise FuncError(f"%{verb} of a float is not supported")
    if verb not in "vgGeEfF":
        return _bad(v, verb)
    if math.isnan(v) or math.isinf(v):
        s = "NaN" if math.isnan(v) else ("-Inf" if v < 0 else "+Inf")
        if s[0] == "+" and not spec.plus:
            s = (" " if spec.space else "") + s[1:]
        elif s == "NaN" and (spec.plus or spec.space):
            s = ("+" if spec.plus else " ") + s
        return _pad(s, spec, False)
    neg = math.copysign(1, v) < 0
    a = abs(v)
    if verb in "vgG" and spec.prec is None:
        body = go_float(a)
        body = body.upper() if verb == "G" else body
    elif verb in "gG":
        body = format(a, f"{'#' if spec.sharp else ''}.{spec.prec}{verb}")
    else:
        body = format(a, f"{'#' if spec.sharp else ''}.{6 if spec.prec is None else spec.prec}{verb}")
    sign = "-" if neg else "+" if spec.plus else " " if spec.space else ""
    if spec.zero and spec.wid is not None and not spec.minus and spec.wid > len(sign + body):
        return sign + "0" * (spec.wid - len(sign + body)) + body
    return _pad(sign + body, spec, False)


def _str(v: str, verb: str, spec: _Spec) -> str:
    if verb in "vs":
        if verb == "v" and spec.sharp:
            return _pad(go_quote(v), spec)
        return _pad(v if spec.prec is None else v[:spec.prec], spec)
    if verb == "q":
        s = v if spec.prec is None else v[:spec.prec]
        if spec.sharp and "`" not in s and all(c.isprintable() or c == "\t" for c in s):
            return _pad(f"`{s}`", spec)
        return _pad(go_quote(s) if not spec.plus else _ascii_quote(s), spec)
    if verb in "xX":
        b = to_bytes(v if spec.prec is None else v[:spec.prec])
        h = [f"{x:02x}" for x in b]
        if verb == "X":
            h = [x.upper() for x in h]
        prefix = ("0X" if verb == "X" else "0x") if spec.sharp else ""
        if spec.space:
            return _pad(" ".join(prefix + x for x in h), spec)
        return _pad(prefix + "".join(h) if h else "", spec)
    return _bad(v, verb)


def _ascii_quote(s: str) -> str:
    """strconv.QuoteToASCII (%+q)."""
    q = go_quote(s)
    return "".join(c if ord(c) < 0x80 else (f"\\u{ord(c):04x}" if ord(c) < 0x10000 else f"\\U{ord(c):08x}")
                   for c in q)


def _rune(x: int) -> str:
    return chr(x) if 0 <= x <= 0x10FFFF and not 0xD800 <= x < 0xE000 else "\ufffd"


def sprint(a: list[Any]) -> str:
    """fmt.Sprint: a space between operands when neither is a string."""
    out: list[str] = []
    for i, x in enumerate(a):
        if i and not isinstance(x, str) and not isinstance(a[i - 1], str):
            out.append(" ")
        out.append(fmt_v(x))
    return "".join(out)


def sprintln(a: list[Any]) -> str:
    """fmt.Sprintln: always a space between operands, and a newline."""
    return " ".join(fmt_v(x) for x in a) + "\n"

