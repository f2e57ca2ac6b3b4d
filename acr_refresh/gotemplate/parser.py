"""The parser: Go's ``text/template/parse`` grammar, variable scoping and parse-time errors, with Go's wording.

Only what Go rejects while parsing is rejected here (syntax, unknown functions, undefined variables, misplaced
keywords); what Go checks while executing (argument counts and types, arguments to non-functions, ``nil`` as
a command) is checked when that command runs, so a branch that never runs never fails. ``Template.lint``
reports those statically for ``validate``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import NoReturn

from .errors import MAX_DEPTH, TemplateSyntaxError
from .lexer import Tok, lex, unquote
from .nodes import Action, Call, Chain, Cmd, Control, Dot, Field, Ident, Jump, Lit, Nil, Node, Pipe, Text, Var
from .values import go_quote

_OPERAND_START = frozenset({"bool", "char", "num", "dot", "field", "ident", "nil", "raw", "str", "var", "("})


@dataclass
class Parsed:
    """One source's main body and the templates it defines."""

    nodes: list[Node]
    defines: dict[str, list[Node]] = field(default_factory=dict)


def loc(src: str, pos: int) -> tuple[int, int]:
    return src.count("\n", 0, pos) + 1, pos - src.rfind("\n", 0, pos)


def is_empty(nodes: list[Node]) -> bool:
    """Go's parse.IsEmptyTree: nothing but whitespace text."""
    return all(isinstance(n, Text) and not n.text.strip(" \t\r\n") for n in nodes)


class Parser:
    """Parses one source: ``Parser(src, name, funcs).parse()`` gives its body and its {{define}}s."""

    def __init__(self, src: str, name: str, funcs: Collection[str], refused: Mapping[str, str]) -> None:
        self.src, self.name, self.funcs, self.refused = src, name, funcs, refused
        self.defines: dict[str, list[Node]] = {}
        self.toks = lex(src)
        self.i = 0
        self.action_pos = -1
        self.vars = ["$"]
        self.depth = self.range_depth = 0

    def fail(self, pos: int, msg: str) -> NoReturn:
        line, col = loc(self.src, pos)  # Go's parse errors give the line only
        raise TemplateSyntaxError(f"template: {self.name}:{line}: {msg}", line=line, column=col)

    def lex_error(self, t: Tok) -> NoReturn:
        """Go's unexpected() for an error item: its message, and where the action began if on another line."""
        extra = ""
        if self.action_pos >= 0:
            start = loc(self.src, self.action_pos)[0]
            if start != loc(self.src, t.pos)[0]:
                extra = f" in action started at {self.name}:{start}"
                if t.val.endswith(" action"):
                    extra = extra[len(" in action"):]
        self.fail(t.pos, t.val + extra)

    def next(self) -> Tok:
        t = self.toks[self.i]
        if t.kind == "error":
            self.lex_error(t)
        self.i = min(self.i + 1, len(self.toks) - 1)
        return t

    def peek_ns(self) -> Tok:
        while self.toks[self.i].kind == "space":
            self.i += 1
        if self.toks[self.i].kind == "error":
            self.lex_error(self.toks[self.i])
        return self.toks[self.i]

    def next_ns(self) -> Tok:
        self.peek_ns()
        return self.next()

    def enter(self, pos: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self.fail(pos, f"template nested too deeply (limit {MAX_DEPTH})")

    def expect_close(self, context: str) -> None:
        t = self.next_ns()
        if t.kind != "}}":
            self.fail(t.pos, f"unexpected {desc(t)} in {context}")

    def parse(self) -> Parsed:
        nodes, term, pos = self.item_list(top=True)
        if term != "eof":
            self.fail(pos, "unexpected {{end}}" if term == "end" else "unexpected {{else}}")
        return Parsed(nodes, self.defines)

    def define(self, kw: Tok) -> None:
        """{{define "name"}} ... {{end}} at top level: a template with its own variables."""
        name = self.template_name("define clause")
        self.expect_close("define clause")
        outer, self.vars = self.vars, ["$"]
        body, term, pos = self.item_list()
        if term != "end":
            self.fail(pos, "unexpected EOF" if term == "eof" else "unexpected {{else}}")
        self.vars = outer
        self.add_define(kw.pos, name, body)

    def add_define(self, pos: int, name: str, body: list[Node]) -> None:
        old = self.defines.get(name)
        if old is not None and not is_empty(old) and not is_empty(body):
            self.fail(pos, f"template: multiple definition of template {go_quote(name)}")
        if old is None or is_empty(old):
            self.defines[name] = body

    def template_name(self, context: str) -> str:
        t = self.next_ns()
        if t.kind == "raw":
            return t.val[1:-1]
        if t.kind == "str":
            s = unquote(t.val[1:-1], '"')
            if s is not None:
                return s
        self.fail(t.pos, f"unexpected {desc(t)} in {context}")

    def template_call(self, start: Tok, kw: Tok) -> Call:
        name = self.template_name("template clause")
        pipe = None
        if self.peek_ns().kind == "}}":
            self.next()
        else:
            pipe = self.pipeline("template clause", "}}")
        return Call(start.pos, self.toks[self.i - 1].end, name, pipe)

    def block(self, start: Tok, kw: Tok) -> Call:
        """{{block "name" pipeline}} T {{end}} is {{define "name"}} T {{end}}{{template "name" pipeline}}."""
        name = self.template_name("block clause")
        pipe = self.pipeline("block clause", "}}")
        outer, self.vars = self.vars, ["$"]
        outer_range, self.range_depth = self.range_depth, 0
        body, term, pos = self.item_list()
        if term != "end":
            self.fail(pos, "unexpected EOF" if term == "eof" else "unexpected {{else}}")
        self.vars, self.range_depth = outer, outer_range
        self.add_define(kw.pos, name, body)
        return Call(start.pos, self.toks[self.i - 1].end, name, pipe)

    def item_list(self, top: bool = False) -> tuple[list[Node], str, int]:
        """Text and actions up to {{end}}, {{else}} (with a pending if/with for "else if") or EOF."""
        nodes: list[Node] = []
        while True:
            t = self.next()
            if t.kind == "eof":
                return nodes, "eof", t.pos
            if t.kind == "text":
                nodes.append(Text(t.pos, t.end, t.val))
                continue
            self.action_pos = t.pos
            k = self.peek_ns()
            if k.kind != "kw" or (k.val == "define" and not top):
                pipe = self.pipeline("command", "}}")
                nodes.append(Action(t.pos, self.toks[self.i - 1].end, pipe))
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
                nodes.append(Jump(t.pos, k.end, k.val))
            elif k.val == "define":
                self.define(k)
            elif k.val == "template":
                nodes.append(self.template_call(t, k))
            else:
                nodes.append(self.block(t, k))

    def control(self, kw: Tok) -> Control:
        kind = kw.val
        self.enter(kw.pos)
        mark = len(self.vars)  # variables declared here live until the matching {{end}}
        pipe = self.pipeline(kind, "}}")
        self.range_depth += kind == "range"
        body, term, pos = self.item_list()
        self.range_depth -= kind == "range"
        else_: list[Node] | None = None
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
        return Control(kw.pos, kw.end, kind, pipe, body, else_)

    def pipeline(self, context: str, end: str) -> Pipe:
        start = self.peek_ns().pos
        decl: list[str] = []
        assign = False
        while self.peek_ns().kind == "var":  # Go's "decls:" loop
            save = self.i
            v = self.next()
            after = self.peek_ns()
            if after.kind in (":=", "="):
                assign = after.kind == "="
                self.next()
                decl.append(v.val)
                self.vars.append(v.val)  # as Go: known from here on, even for "=" (which fails if undeclared)
                break
            if after.kind == "punct" and after.val == ",":
                self.next()
                decl.append(v.val)
                self.vars.append(v.val)
                if context == "range" and len(decl) < 2:
                    if self.peek_ns().kind in ("var", "}}", ")"):
                        continue  # the second variable of a range
                    self.fail(after.pos, "range can only initialize variables")
                self.fail(after.pos, f"too many declarations in {context}")
            self.i = save  # a variable operand, not a declaration
            break
        cmds: list[Cmd] = []
        while True:
            t = self.peek_ns()
            if t.kind == end:
                self.next()
                break
            if t.kind not in _OPERAND_START:
                self.fail(t.pos, f"unexpected {desc(t)} in {context}")
            cmd, piped = self.command()
            cmds.append(cmd)
            if piped and self.peek_ns().kind == end:
                self.fail(self.peek_ns().pos, "missing command after '|'")
        if not cmds:
            self.fail(start, f"missing value for {context}")
        for stage, cmd in enumerate(cmds[1:], 2):
            if isinstance(cmd.args[0], Lit | Dot | Nil):
                self.fail(cmd.args[0].pos, f"non executable command in pipeline stage {stage}")
        return Pipe(start, self.toks[self.i - 1].end, decl, assign, cmds)

    def command(self) -> tuple[Cmd, bool]:
        start = self.peek_ns().pos
        args: list[Node] = []
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
                self.fail(t.pos, f"unexpected {desc(t)} in operand")
            break
        if not args:
            self.fail(start, "empty command")
        return Cmd(start, args[-1].end, args), piped

    def operand(self) -> Node | None:
        node = self.term()
        if node is None or self.toks[self.i].kind != "field":
            return node
        names: list[str] = []
        while self.toks[self.i].kind == "field":  # adjacent fields chain: (x).a.b, $v.a, .a.b
            names.append(self.next().val[1:])
        end = self.toks[self.i - 1].end
        if isinstance(node, Field):
            return Field(node.pos, end, node.names + tuple(names))
        if isinstance(node, Var):
            return Var(node.pos, end, node.name, node.names + tuple(names))
        if isinstance(node, Lit | Nil | Dot):
            self.fail(node.end, f"unexpected . after term {go_quote(self.src[node.pos:node.end])}")
        return Chain(node.pos, end, node, tuple(names))

    def term(self) -> Node | None:
        t = self.peek_ns()
        k = t.kind
        if k not in _OPERAND_START:
            return None
        self.next()
        if k == "ident":
            if t.val not in self.funcs:
                why = self.refused.get(t.val)
                self.fail(t.pos, f"unsupported function {go_quote(t.val)}: {why}" if why else
                          f"function {go_quote(t.val)} not defined")
            return Ident(t.pos, t.end, t.val)
        if k == "dot":
            return Dot(t.pos, t.end)
        if k == "nil":
            return Nil(t.pos, t.end)
        if k == "var":
            if t.val not in self.vars:
                self.fail(t.pos, f"undefined variable {go_quote(t.val)}")
            return Var(t.pos, t.end, t.val, ())
        if k == "field":
            return Field(t.pos, t.end, (t.val[1:],))
        if k == "bool":
            return Lit(t.pos, t.end, t.val == "true")
        if k == "(":
            self.enter(t.pos)
            pipe = self.pipeline("parenthesized pipeline", ")")
            self.depth -= 1
            pipe.pos = t.pos  # span the parentheses, so errors quote "(...)" whole
            return pipe
        if k == "raw":
            return Lit(t.pos, t.end, t.val[1:-1].replace("\r", ""))
        if k == "str":
            s = unquote(t.val[1:-1], '"')
            if s is None:
                self.fail(t.pos, "invalid syntax in quoted string")
            return Lit(t.pos, t.end, s)
        return self.number(t)

    def number(self, t: Tok) -> Lit:
        """Go's parse.newNumber and exec's idealConstant: the constant's value with no context, and its forms."""
        text = t.val
        if t.kind == "char":
            s = unquote(text[1:-1], "'")
            if s is None or len(s) != 1:
                self.fail(t.pos, f"malformed character constant: {text}")
            r = ord(s) - 0xDC00 if 0xDC80 <= ord(s) <= 0xDCFF else ord(s)  # '\xff' is the byte 255
            return Lit(t.pos, t.end, r, r, float(r))
        c = _complex(text)
        if c is not None:
            i, f = _simplify(c)
            return Lit(t.pos, t.end, c, i, f)
        i = _parse_int(text)
        if i is not None and (-(2**63) <= i < 2**64 and (i < 2**63 or text[0] not in "+-")):
            if i >= 2**63:  # fits uint64 only: Go parses it, then refuses it as an int when it runs
                return Lit(t.pos, t.end, 0, None, float(i), error=f"{text} overflows int")
            f = float(i)
            if not _is_hex_int(text) and any(ch in text for ch in ".eEpP"):
                return Lit(t.pos, t.end, f, i, f)
            return Lit(t.pos, t.end, i, i, f)
        f = _parse_float(text)
        if f is None:
            self.fail(t.pos, f"illegal number syntax: {go_quote(text)}")
        if not any(ch in text for ch in ".eEpP"):
            self.fail(t.pos, f"integer overflow: {go_quote(text)}")
        return Lit(t.pos, t.end, f, int(f) if f.is_integer() and -(2**63) <= f < 2**63 else None, f)


def _underscore_ok(s: str) -> bool:
    """strconv's underscoreOK: underscores only between digits (or after a base prefix)."""
    saw, i = "^", 0
    if s[:1] in ("+", "-"):
        s = s[1:]
    hexa = False
    if len(s) >= 2 and s[0] == "0" and s[1] in "bBoOxX":
        i, saw, hexa = 2, "0", s[1] in "xX"
    for ch in s[i:]:
        if (ch.isdigit() and ch.isascii()) or (hexa and ch in "abcdefABCDEF"):
            saw = "0"
        elif ch == "_":
            if saw != "0":
                return False
            saw = "_"
        elif saw == "_":
            return False
        else:
            saw = "!"
    return saw != "_"


def _parse_int(text: str) -> int | None:
    """strconv.ParseInt(text, 0, 64) without the range check (None when malformed)."""
    if not _underscore_ok(text):
        return None
    s = text.replace("_", "")
    neg = s[:1] == "-"
    s = s[1:] if s[:1] in ("+", "-") else s
    base, digits = 10, s
    if s[:2].lower() in ("0x", "0o", "0b"):
        base, digits = {"x": 16, "o": 8, "b": 2}[s[1].lower()], s[2:]
    elif len(s) > 1 and s[0] == "0":
        base, digits = 8, s[1:]
    valid = "0123456789abcdefABCDEF"[:base + (6 if base == 16 else 0)]
    if not digits or any(ch not in valid for ch in digits):
        return None
    v = int(digits, base)
    return -v if neg else v


def _parse_float(text: str) -> float | None:
    """strconv.ParseFloat(text, 64): decimal or hexadecimal (which needs a p exponent); None if bad/out of range."""
    if "_" in text and not _underscore_ok(text):
        return None
    s = text.replace("_", "")
    body = s.lstrip("+-")
    if len(s) - len(body) > 1 or not body:
        return None
    try:
        if body[:2].lower() == "0x":
            if "p" not in body.lower():
                return None
            f = float.fromhex(s)
        elif re.fullmatch(r"(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", body):
            f = float(s)
        else:
            return None
    except (ValueError, OverflowError):
        return None
    return f if math.isfinite(f) else None


def _complex(text: str) -> complex | None:
    """An imaginary (1i) or complex (1+2i) constant; None when the text is not one."""
    if not text.endswith("i"):
        return None
    m = re.fullmatch(r"([+-]?[^+-]+(?:[eEpP][+-][^+-]+)?)([+-].+)i", text)
    if m:
        re_, im = _parse_float(m.group(1)), _parse_float(m.group(2))
        if re_ is None or im is None:
            return None
        return complex(re_, im)
    f = _parse_float(text[:-1])
    return None if f is None else complex(0, f)


def _simplify(c: complex) -> tuple[int | None, float | None]:
    if c.imag != 0:
        return None, None
    f = c.real
    return (int(f) if f.is_integer() and -(2**63) <= f < 2**63 else None), f


def _is_hex_int(s: str) -> bool:
    return len(s) > 2 and s[0] == "0" and s[1] in "xX" and not any(ch in s for ch in "pP")


def desc(t: Tok) -> str:
    if t.kind == "eof":
        return "EOF"
    if t.kind == "kw":
        return f"<{t.val}>"
    return go_quote(t.val if len(t.val) <= 20 else t.val[:20] + "...")
