"""Sprig's string functions (subject last, so it can be piped: ``.x | replace "a" "b"``).

Sprig builds these on Go's strings package, Masterminds/goutils and huandu/xstrings; the behaviour (byte
offsets where Go slices bytes, rune-wise case mapping) follows those, as ESO v2.9.0 vendors them.
"""

from __future__ import annotations

import re
import secrets
import string
from typing import Any

from ..errors import MAX_OUTPUT, FuncError
from ..values import StringMap, StrList, fmt_v, from_bytes, go_quote, to_bytes
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


def splitn(s: str, sep: str, n: int) -> list[str]:
    if n == 0:
        return []
    if n < 0:
        return split(s, sep)
    if sep == "":
        chars = list(s)
        return [*chars[:n - 1], "".join(chars[n - 1:])] if len(chars) > n else chars
    return s.split(sep, n - 1)


def _bounded(n: int, unit: int) -> int:
    if n < 0:
        raise FuncError("negative count")
    if n * max(unit, 1) > MAX_OUTPUT:
        raise FuncError(f"result exceeds {MAX_OUTPUT} characters")
    return n


def indent(n: int, s: str) -> str:
    if n < 0:
        raise FuncError("negative Repeat count")
    if n * (s.count("\n") + 1) + len(s) > MAX_OUTPUT:
        raise FuncError("indent out of range")
    return " " * n + s.replace("\n", "\n" + " " * n)


def strslice(v: Any) -> StrList:
    """Sprig's strslice: a list's non-nil elements as strings; nil is empty; anything else a one-element list."""
    if isinstance(v, list | tuple):
        return StrList(strval(x) for x in v if x is not None)
    return StrList() if v is None else StrList([strval(v)])


def join(sep: str, v: Any) -> str:
    return sep.join(strslice(v))


def abbreviate_full(s: str, offset: int, width: int) -> str:
    """goutils.AbbreviateFull (byte offsets, as in Go)."""
    b = to_bytes(s)
    if not b or len(b) <= width:
        return s
    offset = min(offset, len(b))
    if len(b) - offset < width - 3:
        offset = len(b) - (width - 3)
    if offset <= 4:
        return from_bytes(b[:width - 3]) + "..."
    if width < 7:
        return s
    if offset + width - 3 < len(b):
        return "..." + abbreviate_full(from_bytes(b[offset:]), 0, width - 3)
    return "..." + from_bytes(b[len(b) - (width - 3):])


def abbrevboth(left: int, right: int, s: str) -> str:
    if right < 4 or (left > 0 and right < 7):
        return s
    return abbreviate_full(s, left, right)


def trunc(c: int, s: str) -> str:
    b = to_bytes(s)
    if c < 0 and len(b) + c > 0:
        return from_bytes(b[len(b) + c:])
    if c >= 0 and len(b) > c:
        return from_bytes(b[:c])
    return s


def substr(start: int, end: int, s: str) -> str:
    b = to_bytes(s)
    if start < 0:
        if end < 0 or end > len(b):
            raise FuncError(f"slice bounds out of range [:{end}] with length {len(b)}")
        return from_bytes(b[:end])
    if end < 0 or end > len(b):
        if start > len(b):
            raise FuncError(f"slice bounds out of range [{start}:{len(b)}]")
        return from_bytes(b[start:])
    if start > end:
        raise FuncError(f"slice bounds out of range [{start}:{end}]")
    return from_bytes(b[start:end])


def title(s: str) -> str:
    """strings.Title: the first letter of each word upper-cased (a word starts after a non-letter/digit)."""
    out, prev = [], " "
    for c in s:
        boundary = not (prev.isalnum() or prev == "_" or prev == "'") if prev.isascii() else prev.isspace()
        out.append(c.upper() if boundary and len(c.upper()) == 1 else c)
        prev = c
    return "".join(out)


def initials(s: str) -> str:
    return "".join(w[0] for w in s.split())


def swapcase(s: str) -> str:
    return "".join(c.lower() if c.isupper() or c.istitle() else c.upper() if c.islower() else c for c in s)


def wrap_custom(s: str, width: int, newline: str, long_words: bool) -> str:
    """goutils.WrapCustom (byte offsets)."""
    if s == "":
        return ""
    newline = newline or "\n"
    width = max(width, 1)
    b, off, out = to_bytes(s), 0, bytearray()
    nl = to_bytes(newline)
    while len(b) - off > width:
        if b[off:off + 1] == b" ":
            off += 1
            continue
        at = b[off:width + off + 1].rfind(b" ") + off
        if at >= off:
            out += b[off:at] + nl
            off = at + 1
        elif long_words:
            out += b[off:off + width] + nl
            off += width
        else:
            idx = b[width + off:].find(b" ")
            if idx == -1:
                out += b[off:]
                off = len(b)
            else:
                at = idx + width + off
                out += b[off:at] + nl
                off = at + 1
    out += b[off:]
    return from_bytes(bytes(out))


_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+|[^\sA-Za-z0-9_\-.]+")


def _words(s: str) -> list[str]:
    """xstrings' word split: case changes, digits and the separators space, '_', '-' and '.'."""
    words: list[str] = []
    for part in re.split(r"[\s_\-.]+", s):
        words.extend(m.group() for m in _WORD.finditer(part))
    return words


def snake(s: str, sep: str) -> str:
    return sep.join(w.lower() for w in _words(s))


def pascal(s: str) -> str:
    """xstrings.ToPascalCase: leading and trailing '_' kept, a run of n inner '_' leaves n-1, and each word
    after a separator (or at the start) capitalised."""
    m = re.fullmatch(r"(_*)(.*?)(_*)", s, re.S)
    assert m is not None
    lead, body, trail = m.groups()
    out = []
    for i, part in enumerate(re.split(r"(_+|[\s\-.]+)", body)):
        if i % 2:
            out.append("_" * (len(part) - 1) if part.startswith("_") else "")
        elif part:
            out.append(part[0].upper() + part[1:])
    return lead + "".join(out) + trail


def _rand(alphabet: str, n: int) -> str:
    if n < 0:
        raise FuncError("count must be positive")  # goutils returns an error; Sprig prints ""
    _bounded(n, 1)
    return "".join(secrets.choice(alphabet) for _ in range(n))


def shuffle(s: str) -> str:
    chars = list(s)
    for i in range(len(chars) - 1, 0, -1):
        j = secrets.randbelow(i + 1)
        chars[i], chars[j] = chars[j], chars[i]
    return "".join(chars)


_ASCII = "".join(chr(c) for c in range(32, 127))

FUNCS: dict[str, Func] = {
    "hello": Func("", lambda a: "Hello!"),
    "abbrev": Func("is", lambda a: a[1] if a[0] < 4 else abbreviate_full(a[1], 0, a[0])),
    "abbrevboth": Func("iis", lambda a: abbrevboth(a[0], a[1], a[2])),
    "trunc": Func("is", lambda a: trunc(a[0], a[1])),
    "quote": Func("a*", lambda a: " ".join(go_quote(strval(x)) for x in a if x is not None)),
    "squote": Func("a*", lambda a: " ".join(f"'{fmt_v(x)}'" for x in a if x is not None)),
    "upper": Func("s", lambda a: case(a[0], True)),
    "lower": Func("s", lambda a: case(a[0], False)),
    "title": Func("s", lambda a: title(a[0])),
    "untitle": Func("s", lambda a: re.sub(r"(^|\s)(\S)", lambda m: m.group(1) + m.group(2).lower(), a[0])),
    "substr": Func("iis", lambda a: substr(a[0], a[1], a[2])),
    "repeat": Func("is", lambda a: a[1] * _bounded(a[0], len(a[1]))),
    "trim": Func("s", lambda a: a[0].strip(GO_SPACE)),
    "trimAll": Func("ss", lambda a: a[1].strip(a[0])),
    "trimall": Func("ss", lambda a: a[1].strip(a[0])),
    "trimPrefix": Func("ss", lambda a: a[1].removeprefix(a[0])),
    "trimSuffix": Func("ss", lambda a: a[1].removesuffix(a[0])),
    "nospace": Func("s", lambda a: "".join(c for c in a[0] if c not in GO_SPACE)),
    "initials": Func("s", lambda a: initials(a[0])),
    "randAlphaNum": Func("i", lambda a: _rand(string.ascii_letters + string.digits, a[0])),
    "randAlpha": Func("i", lambda a: _rand(string.ascii_letters, a[0])),
    "randAscii": Func("i", lambda a: _rand(_ASCII, a[0])),
    "randNumeric": Func("i", lambda a: _rand(string.digits, a[0])),
    "swapcase": Func("s", lambda a: swapcase(a[0])),
    "shuffle": Func("s", lambda a: shuffle(a[0])),
    "snakecase": Func("s", lambda a: snake(a[0], "_")),
    "camelcase": Func("s", lambda a: pascal(a[0])),
    "kebabcase": Func("s", lambda a: snake(a[0], "-")),
    "wrap": Func("is", lambda a: wrap_custom(a[1], a[0], "\n", False)),
    "wrapWith": Func("iss", lambda a: wrap_custom(a[2], a[0], a[1], True)),
    "contains": Func("ss", lambda a: a[0] in a[1]),
    "hasPrefix": Func("ss", lambda a: a[1].startswith(a[0])),
    "hasSuffix": Func("ss", lambda a: a[1].endswith(a[0])),
    "cat": Func("a*", lambda a: " ".join(fmt_v(x) for x in a if x is not None)),
    "indent": Func("is", lambda a: indent(a[0], a[1])),
    "nindent": Func("is", lambda a: "\n" + indent(a[0], a[1])),
    "replace": Func("sss", lambda a: a[2].replace(a[0], a[1])),
    "plural": Func("ssi", lambda a: a[0] if a[2] == 1 else a[1]),
    "toString": Func("a", lambda a: strval(a[0])),
    "split": Func("ss", lambda a: StringMap({f"_{i}": p for i, p in enumerate(split(a[1], a[0]))})),
    "splitList": Func("ss", lambda a: StrList(split(a[1], a[0]))),
    "splitn": Func("sis", lambda a: StringMap({f"_{i}": p for i, p in enumerate(splitn(a[2], a[0], a[1]))})),
    "toStrings": Func("a", lambda a: strslice(a[0])),
    "join": Func("sa", lambda a: join(a[0], a[1])),
    "sortAlpha": Func("a", lambda a: StrList(sorted(strslice(a[0]), key=to_bytes)) if isinstance(a[0], list | tuple)
                      else StrList([strval(a[0])])),
}
