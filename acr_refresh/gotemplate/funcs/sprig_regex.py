"""Sprig's regex functions on Go's RE2 syntax, translated to Python's ``re`` where the two differ.

RE2 has no backreferences or lookaround (refused here as RE2 refuses them) and runs in linear time; Python's
backtracking engine does not, so patterns and subjects are bounded. Replacement strings use Go's ``$1``,
``${name}`` syntax. The non-``must`` forms of regexMatch swallow a bad pattern (false), as Sprig does; the
others fail on one (Sprig panics), as does every ``must`` form.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from ..errors import FuncError
from ..values import StrList
from . import Func, Soft

_POSIX = {"alnum": "0-9A-Za-z", "alpha": "A-Za-z", "ascii": "\\x00-\\x7f", "blank": "\\t ", "cntrl": "\\x00-\\x1f\\x7f",
          "digit": "0-9", "graph": "!-~", "lower": "a-z", "print": " -~", "punct": "!-/:-@\\[-`{-~",
          "space": "\\t\\n\\v\\f\\r ", "upper": "A-Z", "word": "0-9A-Za-z_", "xdigit": "0-9A-Fa-f"}
MAX_PATTERN = 4096


def _translate(p: str) -> str:
    if len(p) > MAX_PATTERN:
        raise FuncError(f"regexp: pattern longer than {MAX_PATTERN} bytes")
    out: list[str] = []
    i = 0
    while i < len(p):
        c = p[i]
        if c == "\\" and i + 1 < len(p):
            n = p[i + 1]
            if n.isdigit() and n != "0":
                raise FuncError(f"error parsing regexp: invalid escape sequence: `\\{n}`")
            out.append({"z": "\\Z", "Q": ""}.get(n, "\\" + n) if n != "Q" else _quote_until_e(p, i, out))
            if n == "Q":
                end = p.find("\\E", i + 2)
                i = len(p) if end < 0 else end + 2
                continue
            i += 2
            continue
        if p.startswith("(?<", i) and not p.startswith(("(?<=", "(?<!"), i):
            out.append("(?P<")
            i += 3
            continue
        if p.startswith(("(?=", "(?!", "(?<=", "(?<!"), i):
            raise FuncError("error parsing regexp: invalid or unsupported Perl syntax: `(?" + p[i + 2] + "`")
        if p.startswith("[:", i) and (m := re.match(r"\[:(\^?)([a-z]+):\]", p[i:])) and m.group(2) in _POSIX:
            if m.group(1):
                raise FuncError("negated POSIX classes are not supported here")
            out.append(_POSIX[m.group(2)])
            i += m.end()
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _quote_until_e(p: str, i: int, out: list[str]) -> str:
    end = p.find("\\E", i + 2)
    return re.escape(p[i + 2:] if end < 0 else p[i + 2:end])


@lru_cache(maxsize=256)
def compile_go(p: str) -> re.Pattern[str]:
    try:
        return re.compile(_translate(p))
    except re.error as exc:
        raise FuncError(f"error parsing regexp: {exc.msg}") from None


def _expand(m: re.Match[str], repl: str) -> str:
    """regexp.Expand: $1, ${1}, $name, ${name}; $$ is a dollar; an unknown name is empty."""
    def sub(t: re.Match[str]) -> str:
        if t.group() == "$$":
            return "$"
        name = t.group(1) or t.group(2)
        if name is None:
            return t.group()
        try:
            g = m.group(int(name)) if name.isdigit() else m.group(name)
        except error_types:
            return ""
        return g or ""
    return re.sub(r"\$\$|\$\{(\w+)\}|\$(\w+)", sub, repl)


error_types = (IndexError, KeyError, re.error)


def replace_all(p: str, s: str, repl: str, literal: bool) -> str:
    rx = compile_go(p)
    return rx.sub((lambda m: repl) if literal else (lambda m: _expand(m, repl)), s)


def find_all(p: str, s: str, n: int) -> StrList:
    rx = compile_go(p)
    out = StrList()
    if n == 0:
        return out
    for m in rx.finditer(s):
        out.append(m.group())
        if 0 < n == len(out):
            break
    return out


def split(p: str, s: str, n: int) -> StrList:
    """regexp.Split."""
    if n == 0:
        return StrList()
    if p and not s:
        return StrList([""])
    rx = compile_go(p)
    matches = [m.span() for m in rx.finditer(s)]
    if n > 0:
        matches = matches[:n]
    out, beg, end = StrList(), 0, 0
    for start, stop in matches:
        if n > 0 and len(out) == n - 1:
            break
        end = start
        if stop != 0:
            out.append(s[beg:end])
        beg = stop
    if end != len(s):
        out.append(s[beg:])
    return out


def _soft_match(p: str, s: str) -> Any:
    try:
        return compile_go(p).search(s) is not None
    except FuncError as exc:
        return Soft(False, f"bad pattern ({exc})")


FUNCS: dict[str, Func] = {
    "regexMatch": Func("ss", lambda a: _soft_match(a[0], a[1])),
    "mustRegexMatch": Func("ss", lambda a: compile_go(a[0]).search(a[1]) is not None),
    "regexFindAll": Func("ssi", lambda a: find_all(a[0], a[1], a[2])),
    "mustRegexFindAll": Func("ssi", lambda a: find_all(a[0], a[1], a[2])),
    "regexFind": Func("ss", lambda a: (m.group() if (m := compile_go(a[0]).search(a[1])) else "")),
    "mustRegexFind": Func("ss", lambda a: (m.group() if (m := compile_go(a[0]).search(a[1])) else "")),
    "regexReplaceAll": Func("sss", lambda a: replace_all(a[0], a[1], a[2], False)),
    "mustRegexReplaceAll": Func("sss", lambda a: replace_all(a[0], a[1], a[2], False)),
    "regexReplaceAllLiteral": Func("sss", lambda a: replace_all(a[0], a[1], a[2], True)),
    "mustRegexReplaceAllLiteral": Func("sss", lambda a: replace_all(a[0], a[1], a[2], True)),
    "regexSplit": Func("ssi", lambda a: split(a[0], a[1], a[2])),
    "mustRegexSplit": Func("ssi", lambda a: split(a[0], a[1], a[2])),
    "regexQuoteMeta": Func("s", lambda a: re.sub(r"([\\.+*?()|\[\]{}^$])", r"\\\1", a[0])),
}
