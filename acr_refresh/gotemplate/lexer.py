"""The lexer: Go's ``text/template/parse`` lexer (same tokens, trim markers, comments and number syntax)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

from .values import go_quote

SPACE = " \t\r\n"             # Go's template whitespace (for trim markers and between tokens)
KEYWORDS = frozenset({"block", "break", "continue", "define", "else", "end", "if", "range", "template", "with"})

Fail = Callable[[int, str], NoReturn]


@dataclass(frozen=True, slots=True)
class Tok:
    kind: str  # text {{ }} space field var dot ident kw bool nil num char str raw ( ) | = := punct eof
    val: str
    pos: int

    @property
    def end(self) -> int:
        return self.pos + len(self.val)


def is_alnum(c: str) -> bool:
    return c == "_" or c.isalpha() or c.isdecimal()


def urune(c: str) -> str:
    return f"U+{ord(c):04X} {go_quote(c, chr(39))}"


def _at_right(src: str, p: int) -> tuple[bool, bool]:
    """Whether a right delimiter starts at p, and whether it carries the trim marker (" -}}")."""
    if src.startswith("-}}", p + 1) and src[p] in SPACE:
        return True, True
    return src.startswith("}}", p), False


def _at_term(src: str, p: int) -> bool:
    return p >= len(src) or src[p] in SPACE or src[p] in ".,|:()" or src.startswith("}}", p)


class _LexError(Exception):
    def __init__(self, pos: int, msg: str) -> None:
        self.pos, self.msg = pos, msg


def _fail(pos: int, msg: str) -> NoReturn:
    raise _LexError(pos, msg)


def lex(src: str) -> list[Tok]:
    """Tokenise the source the way Go's lexer does (text, delimiters, and the tokens inside actions).

    A lexical error ends the list with an ``error`` token (its text the message), which the parser reports
    when it reaches it, so that a syntax error before it is reported first, as in Go.
    """
    toks: list[Tok] = []
    try:
        _lex(src, toks)
    except _LexError as exc:
        toks.append(Tok("error", exc.msg, exc.pos))
        return toks
    toks.append(Tok("eof", "", len(src)))
    return toks


def _lex(src: str, toks: list[Tok]) -> None:
    fail = _fail
    n, pos = len(src), 0
    while pos < n:
        start = src.find("{{", pos)
        if start < 0:
            toks.append(Tok("text", src[pos:], pos))
            break
        after = start + 2
        text = src[pos:start]
        if src.startswith("-", after) and after + 1 < n and src[after + 1] in SPACE:  # "{{- " trims left
            text, after = text.rstrip(SPACE), after + 2
        if text:
            toks.append(Tok("text", text, pos))
        if src.startswith("/*", after):  # comments must hug the delimiters, as in Go
            close = src.find("*/", after + 2)
            if close < 0:
                fail(start, "unclosed comment")
            is_delim, trim = _at_right(src, close + 2)
            if not is_delim:
                fail(start, "comment ends before closing delimiter")
            pos = close + (6 if trim else 4)
        else:
            toks.append(Tok("{{", "{{", start))
            pos, trim = _lex_action(src, after, toks, fail)
        if trim:
            while pos < n and src[pos] in SPACE:
                pos += 1


def _lex_action(src: str, p: int, toks: list[Tok], fail: Fail) -> tuple[int, bool]:
    n, parens = len(src), 0
    while True:
        is_delim, trim = _at_right(src, p)
        if is_delim:
            if parens:
                fail(p, "unclosed left paren")
            toks.append(Tok("}}", "}}", p))
            return p + (4 if trim else 2), trim
        if p >= n:
            fail(p, "unclosed action")
        c, q = src[p], p + 1
        if c in SPACE:
            while q < n and src[q] in SPACE:
                q += 1
            if src.startswith("-}}", q):
                q -= 1  # the last space belongs to the " -}}" trim marker
            kind = "space"
        elif c in "=|(),":
            kind = "punct" if c == "," else c
            parens += {"(": 1, ")": -1}.get(c, 0)
            if parens < 0:  # the parser sees the ")" first, as in Go
                toks.append(Tok(kind, c, p))
                fail(p, f"unexpected right paren {urune(c)}")
        elif c == ":":
            if not src.startswith(":=", p):
                fail(p, "expected :=")
            kind, q = ":=", p + 2
        elif c in "\"'":
            q = _scan_quoted(src, p, fail)
            kind = "str" if c == '"' else "char"
        elif c == "`":
            q = src.find("`", p + 1) + 1
            if q == 0:
                fail(p, "unterminated raw quoted string")
            kind = "raw"
        elif c in "$." and not (c == "." and q < n and "0" <= src[q] <= "9"):
            q = _scan_word(src, q, fail)
            kind = ("var" if c == "$" else "field") if q > p + 1 else ("var" if c == "$" else "dot")
        elif c in "+-." or "0" <= c <= "9":
            q, ok = _scan_number(src, p)
            if ok and q < n and src[q] in "+-":  # a complex constant: 1+2i, no spaces, ending in i
                q, ok = _scan_number(src, q)
                ok = ok and src[q - 1] == "i"
            if not ok:
                fail(p, f"bad number syntax: {go_quote(src[p:q])}")
            kind = "num"
        elif is_alnum(c):
            q = _scan_word(src, p, fail)
            word = src[p:q]
            kind = "kw" if word in KEYWORDS else "bool" if word in ("true", "false") else \
                "nil" if word == "nil" else "ident"
        elif c <= "\x7f" and c.isprintable():
            kind = "punct"  # Go emits these as single chars; the parser rejects them with context
        else:
            fail(p, f"unrecognized character in action: {urune(c)}")
        if q > p:
            toks.append(Tok(kind, src[p:q], p))
        p = q


def _scan_word(src: str, p: int, fail: Fail) -> int:
    if _at_term(src, p):
        return p
    q = p
    while q < len(src) and is_alnum(src[q]):
        q += 1
    if not _at_term(src, q):
        fail(q, f"bad character {urune(src[q])}")
    return q


def _scan_quoted(src: str, p: int, fail: Fail) -> int:
    quote, i, n = src[p], p + 1, len(src)
    while True:
        if i >= n or src[i] == "\n" or (src[i] == "\\" and (i + 1 >= n or src[i + 1] == "\n")):
            fail(p, "unterminated quoted string" if quote == '"' else "unterminated character constant")
        if src[i] == quote:
            return i + 1
        i += 2 if src[i] == "\\" else 1


def _scan_number(src: str, p: int) -> tuple[int, bool]:
    """Go's scanNumber: the extent of a number literal, and whether it is well-formed so far."""
    n = len(src)

    def run(q: int, chars: str) -> int:
        while q < n and src[q] in chars:
            q += 1
        return q

    q = p + 1 if src[p] in "+-" else p
    digits = "0123456789_"
    if src.startswith("0", q):
        q += 1
        base = src[q:q + 1].lower()
        if base in ("x", "o", "b"):
            digits = {"x": "0123456789abcdefABCDEF_", "o": "01234567_", "b": "01_"}[base]
            q += 1
    q = run(q, digits)
    if src.startswith(".", q):
        q = run(q + 1, digits)
    if q < n and src[q] in ("pP" if len(digits) == 23 else "eE"):
        q = run(q + 2 if src[q + 1:q + 2] in ("+", "-") else q + 1, "0123456789_")
    if src.startswith("i", q):
        q += 1
    if q < n and is_alnum(src[q]):
        return q + 1, False
    return q, True


_ESCAPES = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92}


def unquote(body: str, quote: str) -> str | None:
    """Go's strconv.Unquote for the body of a "..." string or '...' char; None when malformed."""
    out, i, n = bytearray(), 0, len(body)
    while i < n:
        c = body[i]
        if c != "\\":
            out += c.encode("utf-8", "surrogatepass")
            i += 1
            continue
        e = body[i + 1] if i + 1 < n else ""
        i += 2
        if e in _ESCAPES:
            out.append(_ESCAPES[e])
        elif e == quote:
            out.append(ord(quote))
        elif e in ("x", "u", "U"):
            k = {"x": 2, "u": 4, "U": 8}[e]
            h = body[i:i + k]
            if len(h) != k or any(ch not in "0123456789abcdefABCDEF" for ch in h):
                return None
            v, i = int(h, 16), i + k
            if e == "x":
                out.append(v)
            elif v > 0x10FFFF or 0xD800 <= v < 0xE000:
                return None
            else:
                out += chr(v).encode()
        elif e and e in "01234567":
            h = body[i - 1:i + 2]
            if len(h) != 3 or any(ch not in "01234567" for ch in h) or int(h, 8) > 255:
                return None
            out.append(int(h, 8))
            i += 2
        else:
            return None
    return out.decode("utf-8", "surrogateescape")  # \xff-style bytes survive as surrogate escapes


