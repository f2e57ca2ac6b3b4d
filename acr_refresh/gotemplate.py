"""A small, safe Go ``text/template`` engine with the Sprig functions External Secrets Operator uses.

ESO renders Secret data with Go templates (engine v2, ``missingkey=error``) plus Sprig. We read ESO manifests
unchanged, so this module reimplements the subset those templates use: a lexer and parser that follow Go's
``text/template/parse`` closely (same tokens, trim markers, comments, pipelines, variable scoping and error
wording), and an evaluator that mimics Go's semantics (truthiness, sorted map iteration, ``fmt``'s ``%v``
formatting, ``encoding/json`` output).

Safety, because templates come from cluster manifests and data holds secrets:

* Only the functions in :data:`FUNCTIONS` exist; anything else (``env``, ``expandenv``, file or exec helpers,
  ``define``/``template``/``block``) is rejected when parsing.
* Source size, nesting depth, evaluation steps and output size are bounded, each with a clear error.
* Error messages name keys, functions, types and positions but never the values of data (secrets).

Strings are Python ``str``; bytes that are not valid UTF-8 (``b64dec`` of binary data, ``"\\xff"``) are
carried as surrogate escapes, so ``b64dec | b64enc`` round-trips and ``len`` counts bytes as Go does.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
import urllib.parse
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

__all__ = ["FUNCTIONS", "Template", "TemplateError", "TemplateExecError", "TemplateSyntaxError", "parse",
           "render"]

MAX_SOURCE_BYTES = 64 * 1024   # templates live in manifests; anything bigger is a mistake or an attack
MAX_DEPTH = 64                 # nested if/with/range/else-if and parens; far below Python's recursion limit
MAX_OUTPUT = 1024 * 1024       # characters of output, and of any single intermediate string
MAX_STEPS = 100_000            # evaluation steps (nodes, loop iterations, and 4 KiB of produced text each)
MAX_VALUE_DEPTH = 100          # nesting of data values when printing or encoding JSON (cycles end here too)
_MAX_WIDTH = 10_000            # printf width/precision, so "%999999999d" cannot allocate before we check
_SPACE = " \t\r\n"             # Go's template whitespace (for trim markers and between tokens)
_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a" \
            "\u2028\u2029\u202f\u205f\u3000"  # unicode.IsSpace, used by Sprig's trim and nospace
_KEYWORDS = frozenset({"block", "break", "continue", "define", "else", "end", "if", "range", "template",
                       "with"})


class TemplateError(ValueError):
    """Base. str(err) is a one-line human message including line:col when known."""

    def __init__(self, message: str, *, line: int | None = None, column: int | None = None) -> None:
        super().__init__(" ".join(message.split("\n")))
        self.line = line
        self.column = column


class TemplateSyntaxError(TemplateError):
    """The template does not parse, uses an unsupported function or action, or is too large or deep."""


class TemplateExecError(TemplateError):
    """Executing the template failed (missing key, bad argument type, a limit exceeded, ...)."""


class _FuncError(Exception):
    """Raised by helpers with a value-free message; the evaluator adds the position."""


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


_MISSING: Any = object()  # "no piped value", distinct from nil


# ---------------------------------------------------------------------------------------------- lexer

@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str  # text {{ }} space field var dot ident kw bool nil num char str raw ( ) | = := punct eof
    val: str
    pos: int

    @property
    def end(self) -> int:
        return self.pos + len(self.val)


def _is_alnum(c: str) -> bool:
    return c == "_" or c.isalpha() or c.isdecimal()


def _urune(c: str) -> str:
    return f"U+{ord(c):04X} {_go_quote(c, chr(39))}"


def _at_right(src: str, p: int) -> tuple[bool, bool]:
    """Whether a right delimiter starts at p, and whether it carries the trim marker (" -}}")."""
    if src.startswith("-}}", p + 1) and src[p] in _SPACE:
        return True, True
    return src.startswith("}}", p), False


def _at_term(src: str, p: int) -> bool:
    return p >= len(src) or src[p] in _SPACE or src[p] in ".,|:()" or src.startswith("}}", p)


def _lex(src: str, fail: Callable[[int, str], NoReturn]) -> list[_Tok]:
    """Tokenise the whole source the way Go's lexer does (text, delimiters, and the tokens inside actions)."""
    toks: list[_Tok] = []
    n, pos = len(src), 0
    while pos < n:
        start = src.find("{{", pos)
        if start < 0:
            toks.append(_Tok("text", src[pos:], pos))
            break
        after = start + 2
        text = src[pos:start]
        if src.startswith("-", after) and after + 1 < n and src[after + 1] in _SPACE:  # "{{- " trims left
            text, after = text.rstrip(_SPACE), after + 2
        if text:
            toks.append(_Tok("text", text, pos))
        if src.startswith("/*", after):  # comments must hug the delimiters, as in Go
            close = src.find("*/", after + 2)
            if close < 0:
                fail(start, "unclosed comment")
            is_delim, trim = _at_right(src, close + 2)
            if not is_delim:
                fail(start, "comment ends before closing delimiter")
            pos = close + (6 if trim else 4)
        else:
            toks.append(_Tok("{{", "{{", start))
            pos, trim = _lex_action(src, after, toks, fail)
        if trim:
            while pos < n and src[pos] in _SPACE:
                pos += 1
    toks.append(_Tok("eof", "", n))
    return toks


def _lex_action(src: str, p: int, toks: list[_Tok], fail: Callable[[int, str], NoReturn]) -> tuple[int, bool]:
    n, parens = len(src), 0
    while True:
        is_delim, trim = _at_right(src, p)
        if is_delim:
            if parens:
                fail(p, "unclosed left paren")
            toks.append(_Tok("}}", "}}", p))
            return p + (4 if trim else 2), trim
        if p >= n:
            fail(p, "unclosed action")
        c, q = src[p], p + 1
        if c in _SPACE:
            while q < n and src[q] in _SPACE:
                q += 1
            if src.startswith("-}}", q):
                q -= 1  # the last space belongs to the " -}}" trim marker
            kind = "space"
        elif c in "=|(),":
            kind = "punct" if c == "," else c
            parens += {"(": 1, ")": -1}.get(c, 0)
            if parens < 0:
                fail(p, "unexpected right paren")
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
            if not ok or (q < n and src[q] in "+-"):  # Go would try a complex number here; we do not
                fail(p, f"bad number syntax: {_go_quote(src[p:q + 1])}")
            kind = "num"
        elif _is_alnum(c):
            q = _scan_word(src, p, fail)
            word = src[p:q]
            kind = "kw" if word in _KEYWORDS else "bool" if word in ("true", "false") else \
                "nil" if word == "nil" else "ident"
        elif c <= "\x7f" and c.isprintable():
            kind = "punct"  # Go emits these as single chars; the parser rejects them with context
        else:
            fail(p, f"unrecognized character in action: {_urune(c)}")
        if q > p:
            toks.append(_Tok(kind, src[p:q], p))
        p = q


def _scan_word(src: str, p: int, fail: Callable[[int, str], NoReturn]) -> int:
    if _at_term(src, p):
        return p
    q = p
    while q < len(src) and _is_alnum(src[q]):
        q += 1
    if not _at_term(src, q):
        fail(q, f"bad character {_urune(src[q])}")
    return q


def _scan_quoted(src: str, p: int, fail: Callable[[int, str], NoReturn]) -> int:
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
    if q < n and src[q] in ("eE" if len(digits) == 11 else "pP" if len(digits) == 23 else ""):
        q = run(q + 2 if src[q + 1:q + 2] in ("+", "-") else q + 1, "0123456789_")
    if src.startswith("i", q):
        q += 1
    if q < n and _is_alnum(src[q]):
        return q + 1, False
    return q, True


_ESCAPES = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92}


def _unquote(body: str, quote: str) -> str | None:
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


# --------------------------------------------------------------------------------------------- AST

@dataclass(slots=True)
class _Node:
    pos: int
    end: int


@dataclass(slots=True)
class _Text(_Node):
    text: str


@dataclass(slots=True)
class _Dot(_Node):
    pass


@dataclass(slots=True)
class _Nil(_Node):
    pass


@dataclass(slots=True)
class _Lit(_Node):
    value: str | int | float | bool


@dataclass(slots=True)
class _Field(_Node):
    names: tuple[str, ...]


@dataclass(slots=True)
class _Var(_Node):
    name: str
    names: tuple[str, ...]


@dataclass(slots=True)
class _Ident(_Node):
    name: str


@dataclass(slots=True)
class _Chain(_Node):
    base: _Node
    names: tuple[str, ...]


@dataclass(slots=True)
class _Cmd(_Node):
    args: list[_Node]


@dataclass(slots=True)
class _Pipe(_Node):
    decl: list[str]
    assign: bool
    cmds: list[_Cmd]


@dataclass(slots=True)
class _Action(_Node):
    pipe: _Pipe


@dataclass(slots=True)
class _Control(_Node):
    kind: str  # if | with | range
    pipe: _Pipe
    body: list[_Node]
    else_: list[_Node] | None


@dataclass(slots=True)
class _Jump(_Node):
    kind: str  # break | continue


# -------------------------------------------------------------------------------------------- parser

_OPERAND_START = frozenset({"bool", "char", "num", "dot", "field", "ident", "nil", "raw", "str", "var", "("})


class _Parser:
    def __init__(self, src: str, name: str) -> None:
        self.src, self.name = src, name
        self.toks = _lex(src, self.fail)
        self.i = 0
        self.vars = ["$"]
        self.depth = self.range_depth = 0

    def fail(self, pos: int, msg: str) -> NoReturn:
        line, col = _loc(self.src, pos)
        raise TemplateSyntaxError(f"template: {self.name}:{line}:{col}: {msg}", line=line, column=col)

    def next(self) -> _Tok:
        t = self.toks[self.i]
        self.i = min(self.i + 1, len(self.toks) - 1)
        return t

    def peek_ns(self) -> _Tok:
        while self.toks[self.i].kind == "space":
            self.i += 1
        return self.toks[self.i]

    def next_ns(self) -> _Tok:
        self.peek_ns()
        return self.next()

    def enter(self, pos: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self.fail(pos, f"template nested too deeply (limit {MAX_DEPTH})")

    def expect_close(self, context: str) -> None:
        t = self.next_ns()
        if t.kind != "}}":
            self.fail(t.pos, f"unexpected {_desc(t)} in {context}")

    def parse(self) -> list[_Node]:
        nodes, term, pos = self.item_list()
        if term != "eof":
            self.fail(pos, "unexpected {{end}}" if term == "end" else "unexpected {{else}}")
        return nodes

    def item_list(self) -> tuple[list[_Node], str, int]:
        """Text and actions up to {{end}}, {{else}} (with a pending if/with for "else if") or EOF."""
        nodes: list[_Node] = []
        while True:
            t = self.next()
            if t.kind == "eof":
                return nodes, "eof", t.pos
            if t.kind == "text":
                nodes.append(_Text(t.pos, t.end, t.val))
                continue
            k = self.peek_ns()
            if k.kind != "kw":
                pipe = self.pipeline("command", "}}")
                nodes.append(_Action(t.pos, self.toks[self.i - 1].end, pipe))
                continue
            self.next()
            if k.val == "end":
                self.expect_close("end")
                return nodes, "end", k.pos
            if k.val == "else":
                after = self.peek_ns()
                if after.kind == "kw" and after.val in ("if", "with"):
                    return nodes, f"else {after.val}", k.pos  # leave the if/with pending, as Go does
                self.expect_close("else")
                return nodes, "else", k.pos
            if k.val in ("if", "with", "range"):
                nodes.append(self.control(k))
            elif k.val in ("break", "continue"):
                if not self.range_depth:
                    self.fail(k.pos, f"{{{{{k.val}}}}} outside {{{{range}}}}")
                self.expect_close(k.val)
                nodes.append(_Jump(t.pos, k.end, k.val))
            else:  # define, template, block: named templates are out of scope
                self.fail(k.pos, f"unsupported action '{k.val}'")

    def control(self, kw: _Tok) -> _Control:
        kind = kw.val
        self.enter(kw.pos)
        mark = len(self.vars)  # variables declared here live until the matching {{end}}
        pipe = self.pipeline(kind, "}}")
        self.range_depth += kind == "range"
        body, term, pos = self.item_list()
        self.range_depth -= kind == "range"
        else_: list[_Node] | None = None
        if term == "eof":
            self.fail(kw.pos, f"unexpected EOF: {{{{{kind}}}}} has no matching {{{{end}}}}")
        if term.startswith("else "):
            if term[5:] != kind or kind == "range":
                self.fail(pos, f"unexpected {{{{{term}}}}} in {{{{{kind}}}}}")
            else_ = [self.control(self.next_ns())]  # "else if" is "else" + nested if sharing our {{end}}
        elif term == "else":
            else_, term, pos = self.item_list()
            if term != "end":
                self.fail(pos, f"expected {{{{end}}}}; found {'EOF' if term == 'eof' else '{{else}}'}")
        del self.vars[mark:]
        self.depth -= 1
        return _Control(kw.pos, kw.end, kind, pipe, body, else_)

    def pipeline(self, context: str, end: str) -> _Pipe:
        start = self.peek_ns().pos
        decl: list[str] = []
        assign = False
        if self.peek_ns().kind == "var":
            save = self.i
            first = self.next()
            after = self.peek_ns()
            if after.kind in (":=", "=") or (after.kind == "punct" and after.val == ","):
                decl.append(first.val)
                if after.val == ",":
                    if context != "range":
                        self.fail(after.pos, f"too many declarations in {context}")
                    self.next()
                    second = self.next_ns()
                    if second.kind != "var":
                        self.fail(second.pos, "range can only initialize variables")
                    decl.append(second.val)
                    after = self.peek_ns()
                    if after.kind not in (":=", "="):
                        self.fail(after.pos, f"unexpected {_desc(after)} in range declaration")
                self.next()
                assign = after.kind == "="
                for name in decl:
                    if name == "$":
                        self.fail(first.pos, "cannot declare or assign $")  # keeps $ = root for check()
                    if assign and name not in self.vars:
                        self.fail(first.pos, f"undefined variable {_go_quote(name)}")
            else:
                self.i = save
        cmds: list[_Cmd] = []
        while True:
            t = self.peek_ns()
            if t.kind == end:
                self.next()
                break
            if t.kind not in _OPERAND_START:
                self.fail(t.pos, f"unexpected {_desc(t)} in {context}")
            cmd, piped = self.command()
            cmds.append(cmd)
            if piped and self.peek_ns().kind == end:
                self.fail(self.peek_ns().pos, "missing command after '|'")
        if not cmds:
            self.fail(start, f"missing value for {context}")
        for stage, cmd in enumerate(cmds):
            self.check_command(cmd, stage)
        if not assign:
            self.vars.extend(decl)
        return _Pipe(start, self.toks[self.i - 1].end, decl, assign, cmds)

    def check_command(self, cmd: _Cmd, stage: int) -> None:
        """Static checks Go does at run time: these are always errors, so report them before any token."""
        first, nargs = cmd.args[0], len(cmd.args) - 1 + (stage > 0)
        if stage and isinstance(first, _Lit | _Dot | _Nil):
            self.fail(first.pos, f"non executable command in pipeline stage {stage + 1}")
        if isinstance(first, _Ident):
            self.arity(first, nargs)
        elif isinstance(first, _Nil):
            self.fail(first.pos, "nil is not a command")
        elif nargs:
            self.fail(first.pos, f"can't give argument to non-function {self.src[first.pos:first.end]}")
        for node in cmd.args:  # a function used as an operand, or as the base of a chain, gets no args
            base = node.base if isinstance(node, _Chain) else node
            if isinstance(base, _Ident) and (node is not first or base is not node):
                self.arity(base, 0)

    def arity(self, ident: _Ident, nargs: int) -> None:
        lo, hi = _arity(_FUNCS[ident.name][0])
        if nargs < lo or (hi is not None and nargs > hi):
            want = f"at least {lo}" if hi is None else str(lo)
            self.fail(ident.pos, f"wrong number of args for {ident.name}: want {want} got {nargs}")

    def command(self) -> tuple[_Cmd, bool]:
        start = self.peek_ns().pos
        args: list[_Node] = []
        while True:
            self.peek_ns()
            op = self.operand()
            if op is not None:
                args.append(op)
            t = self.next()
            if t.kind == "space":
                continue
            if t.kind in ("}}", ")"):
                self.i -= 1
                piped = False
            elif t.kind == "|":
                piped = True
            else:
                self.fail(t.pos, f"unexpected {_desc(t)} in operand")
            break
        if not args:
            self.fail(start, "empty command")
        return _Cmd(start, args[-1].end, args), piped

    def operand(self) -> _Node | None:
        node = self.term()
        if node is None or self.toks[self.i].kind != "field":
            return node
        names: list[str] = []
        while self.toks[self.i].kind == "field":  # adjacent fields chain: (x).a.b, $v.a, .a.b
            names.append(self.next().val[1:])
        end = self.toks[self.i - 1].end
        if isinstance(node, _Field):
            return _Field(node.pos, end, node.names + tuple(names))
        if isinstance(node, _Var):
            return _Var(node.pos, end, node.name, node.names + tuple(names))
        if isinstance(node, _Lit | _Nil | _Dot):
            self.fail(node.end, f"unexpected . after term {_go_quote(self.src[node.pos:node.end])}")
        return _Chain(node.pos, end, node, tuple(names))

    def term(self) -> _Node | None:
        t = self.peek_ns()
        k = t.kind
        if k not in _OPERAND_START:
            return None
        self.next()
        if k == "ident":
            if t.val not in _FUNCS:
                self.fail(t.pos, f"unsupported function '{t.val}'")
            return _Ident(t.pos, t.end, t.val)
        if k == "dot":
            return _Dot(t.pos, t.end)
        if k == "nil":
            return _Nil(t.pos, t.end)
        if k == "var":
            if t.val not in self.vars:
                self.fail(t.pos, f"undefined variable {_go_quote(t.val)}")
            return _Var(t.pos, t.end, t.val, ())
        if k == "field":
            return _Field(t.pos, t.end, (t.val[1:],))
        if k == "bool":
            return _Lit(t.pos, t.end, t.val == "true")
        if k == "(":
            self.enter(t.pos)
            pipe = self.pipeline("parenthesized pipeline", ")")
            self.depth -= 1
            pipe.pos = t.pos  # span the parentheses, so errors quote "(...)" whole
            return pipe
        if k == "raw":
            return _Lit(t.pos, t.end, t.val[1:-1].replace("\r", ""))
        if k == "str":
            s = _unquote(t.val[1:-1], '"')
            if s is None:
                self.fail(t.pos, "invalid syntax in quoted string")
            return _Lit(t.pos, t.end, s)
        return _Lit(t.pos, t.end, self.number(t))

    def number(self, t: _Tok) -> int | float:
        text = t.val
        if t.kind == "char":
            s = _unquote(text[1:-1], "'")
            if s is None or len(s) != 1:
                self.fail(t.pos, f"malformed character constant: {text}")
            return ord(s) - 0xDC00 if 0xDC80 <= ord(s) <= 0xDCFF else ord(s)  # '\xff' is the byte 255
        body, neg = text[1:] if text[:1] in "+-" else text, text.startswith("-")
        hexa = body[:2].lower() == "0x"
        v: int | float
        try:  # Go: hex/octal/binary ints with underscores; a '.', 'e' or 'E' makes a float64
            if body.endswith("i") or (hexa and "p" in body.lower()):
                raise ValueError("complex and hex-float literals are not supported")
            if not hexa and any(c in body for c in ".eE"):
                v = float(body.replace("_", ""))
            elif len(body) > 70:
                v = math.inf
            else:
                v = int(body.replace("_", ""), 8) if re.fullmatch(r"0[0-7_]+", body) else int(body, 0)
        except ValueError:
            self.fail(t.pos, f"illegal number syntax: {_go_quote(text)}")
        v = -v if neg else v
        if not (-(2**63) <= v < 2**63 if isinstance(v, int) else math.isfinite(v)):
            self.fail(t.pos, f"number out of range: {text}")
        return v


def _desc(t: _Tok) -> str:
    if t.kind == "eof":
        return "EOF"
    if t.kind == "kw":
        return f"<{t.val}>"
    return _go_quote(t.val if len(t.val) <= 20 else t.val[:20] + "...")


def _loc(src: str, pos: int) -> tuple[int, int]:
    return src.count("\n", 0, pos) + 1, pos - src.rfind("\n", 0, pos)


def _collect_refs(nodes: Iterable[_Node], root: bool, out: list[tuple[str, int]]) -> None:
    """Top-level keys read as .key while dot is the root, or as $.key anywhere (static, in source order)."""
    for n in nodes:
        if isinstance(n, _Action):
            _collect_refs([n.pipe], root, out)
        elif isinstance(n, _Control):
            _collect_refs([n.pipe], root, out)
            _collect_refs(n.body, root and n.kind == "if", out)  # with/range rebind dot in the body only
            _collect_refs(n.else_ or (), root, out)
        elif isinstance(n, _Pipe):
            _collect_refs([a for c in n.cmds for a in c.args], root, out)
        elif isinstance(n, _Chain):
            _collect_refs([n.base], root, out)
        elif (isinstance(n, _Field) and root) or (isinstance(n, _Var) and n.name == "$" and n.names):
            out.append((n.names[0], n.pos))


# ------------------------------------------------------------------------------------ value helpers

def _tname(v: Any) -> str:
    """Go's name for the type a value would have after encoding/json or ESO's map[string]string."""
    if v is None:
        return "nil"
    if isinstance(v, bool):
        return "bool"
    for t, name in ((int, "int"), (float, "float64"), (str, "string"), (Mapping, "map[string]interface {}"),
                    (list | tuple, "[]interface {}")):
        if isinstance(v, t):
            return name
    return type(v).__name__


def _kind(v: Any) -> str:
    name = _tname(v)
    return name if name in ("nil", "bool", "int", "float64", "string") else ""


def _truth(v: Any) -> bool:
    """Go's truthiness: false, 0, nil and empty strings, lists and maps are false."""
    if v is None:
        return False
    if isinstance(v, bool | int | float):
        return v != 0
    if isinstance(v, str | Mapping | list | tuple):
        return len(v) > 0
    return True


def _bytes(s: str) -> bytes:
    try:
        return s.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return s.encode("utf-8", "replace")


def _sorted_keys(m: Mapping[Any, Any]) -> list[Any]:
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


def _go_float(f: float, json_style: bool = False) -> str:
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


def _fmt_rec(v: Any, scalar: Callable[[Any], str], depth: int = 0) -> str:
    """fmt's rendering of lists and maps ([a b], map[k:v] with sorted keys), a verb applied to each leaf."""
    if depth > MAX_VALUE_DEPTH:
        raise _FuncError("value nested too deeply")
    if isinstance(v, Mapping):
        d = depth + 1
        return "map[" + " ".join(f"{_fmt_rec(k, scalar, d)}:{_fmt_rec(v[k], scalar, d)}"
                                 for k in _sorted_keys(v)) + "]"
    if isinstance(v, list | tuple):
        return "[" + " ".join(_fmt_rec(x, scalar, depth + 1) for x in v) + "]"
    return scalar(v)


def _v_scalar(v: Any) -> str:
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return v
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return _go_float(v)
    raise _FuncError(f"unsupported value of type {type(v).__name__}")


def _fmt_v(v: Any) -> str:
    return _fmt_rec(v, _v_scalar)


_C_ESC = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def _go_quote(s: str, q: str = '"') -> str:
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
        elif ch in _C_ESC:
            out.append(_C_ESC[ch])
        elif o < 0x20 or o == 0x7F:
            out.append(f"\\x{o:02x}")
        elif 0xD800 <= o < 0xE000:
            out.append("\\ufffd")
        else:
            out.append(f"\\u{o:04x}" if o < 0x10000 else f"\\U{o:08x}")
    return "".join(out) + q


_JSON_ESC = re.compile("[\"\\\\\x00-\x1f<>&\u2028\u2029\ud800-\udfff]")
_JSON_SHORT = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}


def _json_str(s: str, html: bool) -> str:
    def esc(m: re.Match[str]) -> str:
        c = m.group()
        if c in "<>&" and not html:
            return c
        if "\ud800" <= c <= "\udfff":
            return "\\ufffd"  # invalid UTF-8 becomes U+FFFD, as in Go
        return _JSON_SHORT.get(c) or f"\\u{ord(c):04x}"

    return '"' + _JSON_ESC.sub(esc, s) + '"'


def _to_json(v: Any, html: bool = True, indent: str | None = None, depth: int = 0) -> str:
    """encoding/json.Marshal (or MarshalIndent(v, "", indent)): sorted keys, Go's floats and HTML escaping."""
    if depth > MAX_VALUE_DEPTH:
        raise _FuncError("value nested too deeply")
    if v is None or isinstance(v, bool):
        return "null" if v is None else "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise _FuncError("json: unsupported value")
        return _go_float(v, json_style=True)
    if isinstance(v, str):
        return _json_str(v, html)
    if isinstance(v, Mapping):
        if not all(isinstance(k, str) for k in v):
            raise _FuncError("json: unsupported map key type")
        parts = [(_json_str(k, html), _to_json(v[k], html, indent, depth + 1)) for k in sorted(v)]
        items, brackets = [f"{k}:{' ' if indent else ''}{x}" for k, x in parts], "{}"
    elif isinstance(v, list | tuple):
        items, brackets = [_to_json(x, html, indent, depth + 1) for x in v], "[]"
    else:
        raise _FuncError(f"json: unsupported type {type(v).__name__}")
    if not items:
        return brackets
    if indent is None:
        return brackets[0] + ",".join(items) + brackets[1]
    inner = "\n" + indent * (depth + 1)  # nested values were already rendered at depth + 1
    return brackets[0] + inner + ("," + inner).join(items) + "\n" + indent * depth + brackets[1]


def _from_json(s: str) -> Any:
    def number(text: str) -> float:
        f = float(text)
        if not math.isfinite(f):
            raise ValueError("number out of range")
        return f

    def no_constant(_: str) -> NoReturn:
        raise ValueError("invalid literal")

    try:  # Go decodes every JSON number into float64
        return json.loads(s, parse_int=number, parse_float=number, parse_constant=no_constant)
    except json.JSONDecodeError as exc:
        raise _FuncError(f"invalid JSON: {exc.msg} (line {exc.lineno} column {exc.colno})") from None
    except ValueError:
        raise _FuncError("invalid JSON: number out of range or invalid literal") from None
    except RecursionError:
        raise _FuncError("invalid JSON: nested too deeply") from None


# --------------------------------------------------------------------------------------------- printf

_VERB = re.compile(r"%([-+# 0]*)([0-9]*)(?:\.([0-9]*))?(.?)", re.S)


def _sprintf(fmt: str, args: list[Any]) -> str:
    """fmt.Sprintf for %s %d %v %q %x %X %o %c %t %f %e %g %%; errors instead of Go's %!verb(type=VALUE)."""
    out: list[str] = []
    i = used = 0
    while (j := fmt.find("%", i)) >= 0:
        out.append(fmt[i:j])
        m = _VERB.match(fmt, j)
        assert m is not None  # the pattern matches any "%..." prefix
        flags, wid, prec, verb = m.groups()
        i = m.end()
        if verb == "%":
            out.append("%")
            continue
        if not verb:
            out.append("%!(NOVERB)")
            continue
        if len(wid) > 5 or len(prec or "") > 5 or int(wid or 0) > _MAX_WIDTH or int(prec or 0) > _MAX_WIDTH:
            raise _FuncError(f"width or precision over {_MAX_WIDTH}")
        if used >= len(args):
            out.append(f"%!{verb}(MISSING)")  # Go's own output; reveals nothing
            continue
        w = int(wid) if wid else None
        p = int(prec or 0) if prec is not None else None

        def one(x: Any, verb: str = verb, flags: str = flags, w: int | None = w, p: int | None = p) -> str:
            body, numeric = _fmt_scalar(x, verb, flags, p)
            if w is None or len(body) >= w:
                return body
            fill = w - len(body)
            if "-" in flags:
                return body + " " * fill
            if "0" in flags and numeric and body[:1] in "+- ":
                return body[0] + "0" * fill + body[1:]
            return ("0" if "0" in flags else " ") * fill + body

        out.append(_fmt_rec(args[used], one))
        used += 1
    out.append(fmt[i:])
    if used < len(args):
        raise _FuncError(f"{len(args) - used} unused argument(s) for the format")  # Go's EXTRA shows values
    return "".join(out)


def _fmt_scalar(x: Any, verb: str, flags: str, p: int | None) -> tuple[str, bool]:
    """One value under one verb: (text, is_number). Type mismatches raise without showing the value."""
    k = _kind(x)
    sign = "-" if k in ("int", "float64") and (x < 0 or math.copysign(1, x) < 0) else \
        "+" if "+" in flags else " " if " " in flags else ""
    if verb in "vs" and k == "string":
        return (x if p is None else x[:p]), False
    if verb == "v":
        if "#" in flags:
            raise _FuncError("unsupported format %#v")
        if k == "float64" and p is not None and math.isfinite(x):
            return format(x, f".{p}g"), True
        return _v_scalar(x), k in ("int", "float64")
    if verb == "q" and k in ("string", "int"):
        return (_go_quote(x) if k == "string" else _go_quote(_rune(x), "'")), False
    if verb in "dxXoc" and k == "int":
        if verb == "c":
            return _rune(x), False
        digits = format(abs(x), verb)
        if p is not None:
            digits = "" if p == 0 and x == 0 else digits.zfill(p)
        prefix = ("0" + verb if verb in "xX" else "0") if "#" in flags and verb != "d" else ""
        return sign + prefix + digits, True
    if verb in "xX" and k == "string":
        h = _bytes(x).hex()
        return ("0x" if "#" in flags else "") + (h.upper() if verb == "X" else h), False
    if verb == "t" and k == "bool":
        return ("true" if x else "false"), False
    if verb in "eEfFgG" and k == "float64":
        if not math.isfinite(x):
            return _go_float(x), False
        if verb in "gG" and p is None:
            body = _go_float(abs(x))
            return sign + (body.upper() if verb == "G" else body), True
        return sign + format(abs(x), f".{6 if p is None else p}{verb}"), True
    if verb in "vsdqxXocteEfFgG":
        raise _FuncError(f"%{verb} does not accept a value of type {_tname(x)}")
    raise _FuncError(f"unsupported verb %{verb}")


def _rune(x: int) -> str:
    return chr(x) if 0 <= x <= 0x10FFFF and not 0xD800 <= x < 0xE000 else "\ufffd"


def _sprint(a: list[Any]) -> str:
    """fmt.Sprint: a space between operands when neither is a string."""
    out: list[str] = []
    for i, x in enumerate(a):
        if i and not isinstance(x, str) and not isinstance(a[i - 1], str):
            out.append(" ")
        out.append(_fmt_v(x))
    return "".join(out)


# ------------------------------------------------------------------------------------------ functions

def _f_index(ex: _Exec, a: list[Any]) -> Any:
    item = a[0]
    if item is None:
        raise _FuncError("index of untyped nil")
    for idx in a[1:]:
        if isinstance(item, list | tuple | str):
            if not isinstance(idx, int) or isinstance(idx, bool):
                raise _FuncError(f"cannot index slice/array with type {_tname(idx)}")
            seq = _bytes(item) if isinstance(item, str) else item
            if not 0 <= idx < len(seq):
                raise _FuncError("index out of range")  # Go prints the index; we keep data out
            item = seq[idx]
        elif isinstance(item, Mapping):
            if not isinstance(idx, str):
                raise _FuncError(f"value has type {_tname(idx)}; should be string")
            # a missing key gives the element's zero value: "" for ESO's map[string]string, nil elsewhere
            item = item[idx] if idx in item else ("" if item is ex.root else None)
        else:
            raise _FuncError(f"can't index item of type {_tname(item)}")
    return item


def _f_len(ex: _Exec, a: list[Any]) -> int:
    v = a[0]
    if isinstance(v, str):
        return len(_bytes(v))  # Go counts bytes
    if isinstance(v, list | tuple | Mapping):
        return len(v)
    raise _FuncError("len of nil pointer" if v is None else f"len of type {_tname(v)}")


def _eq(x: Any, y: Any) -> bool:
    kx, ky = _kind(x), _kind(y)
    if kx == ky and kx:
        return bool(x == y)
    if x is None or y is None:
        return False
    raise _FuncError("non-comparable types" if not kx and not ky else "incompatible types for comparison")


def _lt(x: Any, y: Any) -> bool:
    kx, ky = _kind(x), _kind(y)
    if kx not in ("int", "float64", "string") or ky not in ("int", "float64", "string"):
        raise _FuncError("invalid type for comparison")
    if kx != ky:
        raise _FuncError("incompatible types for comparison")
    return bool(x < y)


def _html(s: str) -> str:
    return s.replace("&", "&amp;").replace("'", "&#39;").replace("<", "&lt;").replace(">", "&gt;") \
        .replace('"', "&#34;").replace("\0", "\ufffd")


def _js(s: str) -> str:
    table = {"\\": "\\\\", "'": "\\'", '"': '\\"', "<": "\\u003C", ">": "\\u003E", "&": "\\u0026",
             "=": "\\u003D"}
    return "".join(table.get(c) or (f"\\u{ord(c):04X}" if c < " " or (c > "\x7f" and not c.isprintable())
                                    else c) for c in s)


def _esc_arg(a: list[Any]) -> str:
    return a[0] if len(a) == 1 and isinstance(a[0], str) else _sprint(a)


def _case(s: str, up: bool) -> str:
    """strings.ToUpper/ToLower: per-rune simple mapping (Go keeps "ß" where Python would write "SS")."""
    if s.isascii():
        return s.upper() if up else s.lower()
    return "".join(m if len(m := (c.upper() if up else c.lower())) == 1 else c for c in s)


def _strval(v: Any) -> str:
    return v if isinstance(v, str) else _fmt_v(v)


def _split(s: str, sep: str) -> list[str]:
    return list(s) if sep == "" else s.split(sep)  # strings.Split("", "") is empty, like list("")


def _b64dec(s: str) -> str:
    try:  # Go's StdEncoding ignores CR and LF but is otherwise strict (padding required)
        raw = base64.b64decode(s.replace("\r", "").replace("\n", "").encode("ascii"), validate=True)
    except (binascii.Error, ValueError):
        raise _FuncError("illegal base64 data") from None
    return raw.decode("utf-8", "surrogateescape")


def _indent(n: int, s: str) -> str:
    if n < 0 or n * (s.count("\n") + 1) + len(s) > MAX_OUTPUT:
        raise _FuncError("indent out of range")
    return " " * n + s.replace("\n", "\n" + " " * n)


def _join(sep: str, v: Any) -> str:
    items = v if isinstance(v, list | tuple) else [] if v is None else [v]
    return sep.join(_strval(x) for x in items if x is not None)


def _short_circuit(ex: _Exec, a: list[Any]) -> Any:
    raise AssertionError("and/or are evaluated lazily by the evaluator")


_Impl = Callable[["_Exec", list[Any]], Any]

# name -> (signature, implementation). Signature letters: s string, i int, b bool, m map, a any; a trailing
# "*" makes the letter before it repeat zero or more times ("sa*" = a string, then any number of values).
_FUNCS: dict[str, tuple[str, _Impl]] = {
    # Go builtins
    "and": ("aa*", _short_circuit),
    "or": ("aa*", _short_circuit),
    "not": ("a", lambda ex, a: not _truth(a[0])),
    "len": ("a", _f_len),
    "index": ("aa*", _f_index),
    "print": ("a*", lambda ex, a: _sprint(a)),
    "printf": ("sa*", lambda ex, a: _sprintf(a[0], a[1:])),
    "println": ("a*", lambda ex, a: " ".join(_fmt_v(x) for x in a) + "\n"),
    "eq": ("aaa*", lambda ex, a: any(_eq(a[0], y) for y in a[1:])),
    "ne": ("aa", lambda ex, a: not _eq(a[0], a[1])),
    "lt": ("aa", lambda ex, a: _lt(a[0], a[1])),
    "le": ("aa", lambda ex, a: _lt(a[0], a[1]) or _eq(a[0], a[1])),
    "gt": ("aa", lambda ex, a: not (_lt(a[0], a[1]) or _eq(a[0], a[1]))),
    "ge": ("aa", lambda ex, a: not _lt(a[0], a[1])),
    "html": ("a*", lambda ex, a: _html(_esc_arg(a))),
    "js": ("a*", lambda ex, a: _js(_esc_arg(a))),
    "urlquery": ("a*", lambda ex, a: urllib.parse.quote_plus(_bytes(_esc_arg(a)), safe="")),
    # Sprig (argument order as Sprig: the subject string comes last so it can be piped)
    "b64enc": ("s", lambda ex, a: base64.b64encode(_bytes(a[0])).decode("ascii")),
    "b64dec": ("s", lambda ex, a: _b64dec(a[0])),
    "toJson": ("a", lambda ex, a: _to_json(a[0])),
    "toRawJson": ("a", lambda ex, a: _to_json(a[0], html=False)),
    "toPrettyJson": ("a", lambda ex, a: _to_json(a[0], indent="  ")),
    "fromJson": ("s", lambda ex, a: _from_json(a[0])),
    "quote": ("a*", lambda ex, a: " ".join(_go_quote(_strval(x)) for x in a if x is not None)),
    "squote": ("a*", lambda ex, a: " ".join(f"'{_strval(x)}'" for x in a if x is not None)),
    "upper": ("s", lambda ex, a: _case(a[0], True)),
    "lower": ("s", lambda ex, a: _case(a[0], False)),
    "trim": ("s", lambda ex, a: a[0].strip(_GO_SPACE)),
    "trimAll": ("ss", lambda ex, a: a[1].strip(a[0])),
    "trimPrefix": ("ss", lambda ex, a: a[1].removeprefix(a[0])),
    "trimSuffix": ("ss", lambda ex, a: a[1].removesuffix(a[0])),
    "replace": ("sss", lambda ex, a: a[2].replace(a[0], a[1])),
    "nospace": ("s", lambda ex, a: "".join(c for c in a[0] if c not in _GO_SPACE)),
    "indent": ("is", lambda ex, a: _indent(a[0], a[1])),
    "nindent": ("is", lambda ex, a: "\n" + _indent(a[0], a[1])),
    "contains": ("ss", lambda ex, a: a[0] in a[1]),
    "hasPrefix": ("ss", lambda ex, a: a[1].startswith(a[0])),
    "hasSuffix": ("ss", lambda ex, a: a[1].endswith(a[0])),
    "split": ("ss", lambda ex, a: {f"_{i}": p for i, p in enumerate(_split(a[1], a[0]))}),
    "splitList": ("ss", lambda ex, a: _split(a[1], a[0])),
    "join": ("sa", lambda ex, a: _join(a[0], a[1])),
    "cat": ("a*", lambda ex, a: " ".join(_strval(x) for x in a if x is not None)),
    "sha256sum": ("s", lambda ex, a: hashlib.sha256(_bytes(a[0])).hexdigest()),
    "default": ("aa*", lambda ex, a: a[1] if len(a) > 1 and _truth(a[1]) else a[0]),
    "empty": ("a", lambda ex, a: not _truth(a[0])),
    "coalesce": ("a*", lambda ex, a: next((x for x in a if _truth(x)), None)),
    "ternary": ("aab", lambda ex, a: a[0] if a[2] else a[1]),
    "list": ("a*", lambda ex, a: list(a)),
    "dict": ("a*", lambda ex, a: {_strval(k): v for k, v in zip(a[::2], [*a[1::2], ""], strict=False)}),
    "get": ("ms", lambda ex, a: a[0].get(a[1], "")),
    "hasKey": ("ms", lambda ex, a: a[1] in a[0]),
    "toString": ("a", lambda ex, a: _strval(a[0])),
}

FUNCTIONS: frozenset[str] = frozenset(_FUNCS)


def _arity(sig: str) -> tuple[int, int | None]:
    return (len(sig) - 2, None) if sig.endswith("*") else (len(sig), len(sig))


_TYPES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "s": (lambda v: isinstance(v, str), "string"),
    "i": (lambda v: isinstance(v, int) and not isinstance(v, bool), "int"),
    "b": (lambda v: isinstance(v, bool), "bool"),
    "m": (lambda v: isinstance(v, Mapping), "map[string]interface {}"),
}


# ------------------------------------------------------------------------------------------ evaluator

class _Exec:
    def __init__(self, tpl: Template, data: Mapping[str, Any]) -> None:
        self.tpl, self.root = tpl, data
        self.vars: list[list[Any]] = [["$", data]]  # [name, value]; lists so "=" can update in place
        self.out: list[str] = []
        self.size = self.steps = 0

    def err(self, node: _Node, msg: str) -> TemplateExecError:
        line, col = _loc(self.tpl.source, node.pos)
        at = " ".join(self.tpl.source[node.pos:node.end].split())
        at = at if len(at) <= 60 else at[:57] + "..."
        name = self.tpl.name
        msg = f"template: {name}:{line}:{col}: executing {_go_quote(name)} at <{at}>: {msg}"
        return TemplateExecError(msg, line=line, column=col)

    def text(self, node: _Node, v: Any) -> str:
        failure = None
        try:
            return _fmt_v(v)
        except _FuncError as exc:
            failure = str(exc)
        raise self.err(node, failure)

    def tick(self, node: _Node, cost: int = 1) -> None:
        self.steps += cost
        if self.steps > MAX_STEPS:
            raise self.err(node, f"evaluation step limit ({MAX_STEPS}) exceeded")

    def emit(self, node: _Node, s: str) -> None:
        self.size += len(s)
        if self.size > MAX_OUTPUT:
            raise self.err(node, f"output exceeds the limit of {MAX_OUTPUT} characters")
        self.out.append(s)

    def walk(self, nodes: list[_Node], dot: Any) -> None:
        for n in nodes:
            self.tick(n)
            if isinstance(n, _Text):
                self.emit(n, n.text)
            elif isinstance(n, _Action):
                v = self.pipe(n.pipe, dot)
                if not n.pipe.decl:
                    self.emit(n, "<no value>" if v is None else v if isinstance(v, str) else self.text(n, v))
            elif isinstance(n, _Control):
                mark = len(self.vars)
                try:
                    if n.kind == "range":
                        self.do_range(n, dot, mark)
                    else:
                        v = self.pipe(n.pipe, dot)
                        if _truth(v):
                            self.walk(n.body, v if n.kind == "with" else dot)
                        elif n.else_ is not None:
                            self.walk(n.else_, dot)
                finally:
                    del self.vars[mark:]
            elif isinstance(n, _Jump):
                raise _Break if n.kind == "break" else _Continue

    def do_range(self, n: _Control, dot: Any, mark: int) -> None:
        val = self.pipe(n.pipe, dot)  # Go binds the declared variables to the collection first
        items: Iterable[tuple[Any, Any]]
        if val is None:
            items = ()
        elif isinstance(val, list | tuple):
            items = enumerate(val)
        elif isinstance(val, Mapping):
            items = ((k, val[k]) for k in _sorted_keys(val))
        elif isinstance(val, int) and not isinstance(val, bool):  # Go 1.22: range over an integer
            if len(n.pipe.decl) > 1:
                raise self.err(n, "can't use int to iterate over more than one variable")
            items = ((i, i) for i in range(val))
        else:
            raise self.err(n, f"range can't iterate over {_tname(val)}")
        ran = False
        for key, elem in items:
            ran = True
            self.tick(n)
            inner = len(self.vars)
            values = (elem,) if len(n.pipe.decl) == 1 else (key, elem)
            for name, value in zip(n.pipe.decl, values, strict=False):
                if n.pipe.assign:
                    self.set_var(n, name, value)
                else:
                    next(v for v in self.vars[mark:] if v[0] == name)[1] = value
            try:
                self.walk(n.body, elem)
            except _Break:
                break
            except _Continue:
                continue
            finally:
                del self.vars[inner:]
        if not ran and n.else_ is not None:
            self.walk(n.else_, dot)

    def set_var(self, node: _Node, name: str, value: Any) -> None:
        for v in reversed(self.vars):
            if v[0] == name:
                v[1] = value
                return
        raise self.err(node, f"undefined variable: {name}")

    def pipe(self, p: _Pipe, dot: Any) -> Any:
        val = _MISSING
        for cmd in p.cmds:
            self.tick(cmd)
            first = cmd.args[0]
            if isinstance(first, _Ident):
                val = self.call(first, cmd.args[1:], dot, val)
            else:
                val = self.arg(first, dot)  # the parser rejected arguments to non-functions
        for name in p.decl:
            if p.assign:
                self.set_var(p, name, val)
            else:
                self.vars.append([name, val])
        return val

    def arg(self, n: _Node, dot: Any) -> Any:
        if isinstance(n, _Dot):
            return dot
        if isinstance(n, _Lit):
            return n.value
        if isinstance(n, _Nil):
            return None
        if isinstance(n, _Field):
            return self.fields(dot, n.names, n)
        if isinstance(n, _Var):
            for name, value in reversed(self.vars):
                if name == n.name:
                    return self.fields(value, n.names, n)
            raise self.err(n, f"undefined variable: {n.name}")
        if isinstance(n, _Chain):
            return self.fields(self.arg(n.base, dot), n.names, n)
        if isinstance(n, _Pipe):
            return self.pipe(n, dot)
        if isinstance(n, _Ident):
            return self.call(n, [], dot, _MISSING)
        raise self.err(n, "can't evaluate node")

    def fields(self, recv: Any, names: tuple[str, ...], node: _Node) -> Any:
        for name in names:
            if isinstance(recv, Mapping):
                if name not in recv:
                    raise self.err(node, f"map has no entry for key {_go_quote(name)}")  # missingkey=error
                recv = recv[name]
            elif recv is None:
                raise self.err(node, f"nil pointer evaluating interface {{}}.{name}")
            else:
                raise self.err(node, f"can't evaluate field {name} in type {_tname(recv)}")
        return recv

    def call(self, ident: _Ident, nodes: list[_Node], dot: Any, final: Any) -> Any:
        name = ident.name
        sig, impl = _FUNCS[name]
        if name in ("and", "or"):  # Go 1.18+: stop at the first falsy (and) / truthy (or) argument
            val = _MISSING
            for node in nodes:
                val = self.arg(node, dot)
                if _truth(val) == (name == "or"):
                    return val
            return val if final is _MISSING else final
        args = [self.arg(node, dot) for node in nodes] + ([] if final is _MISSING else [final])
        # e.g. "sa*" with 3 args -> "saa": the fixed letters, then the repeated one for the rest
        kinds = sig[:-2] + sig[-2] * (len(args) - len(sig) + 2) if sig.endswith("*") else sig
        for k, v in zip(kinds, args, strict=True):
            check = _TYPES.get(k)
            if check and not check[0](v):
                msg = f"invalid value; expected {check[1]}" if v is None else \
                    f"wrong type for value; expected {check[1]}; got {_tname(v)}"
                raise self.err(ident, f"error calling {name}: {msg}")
        # Raise outside the except blocks: a chained exception (JSONDecodeError.doc, say) could hold data.
        failure = None
        try:
            result = impl(self, args)
        except _FuncError as exc:
            failure = str(exc)
        except RecursionError:
            failure = "value nested too deeply"
        except Exception as exc:  # noqa: BLE001 - never let a message (that may quote data) escape
            failure = f"internal error ({type(exc).__name__})"
        if failure is not None:
            raise self.err(ident, f"error calling {name}: {failure}")
        if isinstance(result, str):
            if len(result) > MAX_OUTPUT:
                raise self.err(ident, f"error calling {name}: result exceeds {MAX_OUTPUT} characters")
            self.tick(ident, len(result) // 4096)  # large strings cost steps, so loops over them stay cheap
        return result


# ---------------------------------------------------------------------------------------------- API

class Template:
    """A parsed template. Create with :func:`parse`; run with :meth:`execute`."""

    def __init__(self, name: str, source: str, nodes: list[_Node]) -> None:
        self.name = name
        self.source = source
        self._nodes = nodes
        refs: list[tuple[str, int]] = []
        _collect_refs(nodes, True, refs)
        self._refs = tuple(refs)

    def __repr__(self) -> str:
        return f"Template(name={self.name!r})"

    def execute(self, data: Mapping[str, Any]) -> str:
        """Render with ``data`` as dot and ``$`` (values: str/int/float/bool/list/dict/None).

        Raises TemplateExecError on a missing key, bad argument or exceeded limit; messages never include
        data values.
        """
        if not isinstance(data, Mapping):
            raise TemplateExecError(f"template: {self.name}: data must be a mapping, not {_tname(data)}")
        ex, failure = _Exec(self, data), ""
        try:
            ex.walk(self._nodes, data)
            return "".join(ex.out)
        except TemplateError:
            raise
        except RecursionError:
            failure = "value nested too deeply"
        except Exception as exc:  # noqa: BLE001 - a bug here must not leak data through its message or chain
            failure = f"internal error ({type(exc).__name__})"
        raise TemplateExecError(f"template: {self.name}: {failure}")

    def referenced_keys(self) -> frozenset[str]:
        """Top-level keys referenced as ``.key`` (while dot is the root) or ``$.key``, found statically."""
        return frozenset(k for k, _ in self._refs)

    def check(self, keys: Collection[str]) -> None:
        """Raise TemplateExecError naming the first referenced top-level key (source order) not in ``keys``.

        Static: keys in branches that would not run are checked too, which is what finding typos needs.
        """
        for key, pos in self._refs:
            if key not in keys:
                line, col = _loc(self.source, pos)
                raise TemplateExecError(f"template: {self.name}:{line}:{col}: map has no entry for key "
                                        f"{_go_quote(key)}", line=line, column=col)


def parse(source: str, *, name: str = "template") -> Template:
    """Parse Go template ``source``; raise TemplateSyntaxError (with line:col) if invalid or unsupported."""
    if not isinstance(source, str):
        raise TypeError("template source must be a str")
    size = len(source) if len(source) > MAX_SOURCE_BYTES else len(_bytes(source))
    if size > MAX_SOURCE_BYTES:
        raise TemplateSyntaxError(f"template: {name}: template too large ({size} bytes > {MAX_SOURCE_BYTES})")
    try:
        return Template(name, source, _Parser(source, name).parse())
    except RecursionError:  # unreachable within MAX_DEPTH, but never surface a bare RecursionError
        raise TemplateSyntaxError(f"template: {name}: template nested too deeply") from None


def render(source: str, data: Mapping[str, Any], *, name: str = "template") -> str:
    """Parse and execute in one step."""
    return parse(source, name=name).execute(data)
