"""The parse tree, and its printing in Go's ``parse.Node.String()`` form (what Go's parse tests compare)."""

from __future__ import annotations

from dataclasses import dataclass

from .values import go_quote


@dataclass(slots=True)
class Node:
    pos: int
    end: int


@dataclass(slots=True)
class Text(Node):
    text: str


@dataclass(slots=True)
class Dot(Node):
    pass


@dataclass(slots=True)
class Nil(Node):
    pass


@dataclass(slots=True)
class Lit(Node):
    """A constant. Numbers also carry the int and float they can stand for when a function's parameter is
    typed (Go converts constants to the parameter's type: ``indent 2.0`` is ``indent 2``); ``error`` is set
    for an integer that fits only an unsigned type, which Go refuses when it runs."""

    value: str | int | float | complex | bool
    as_int: int | None = None
    as_float: float | None = None
    error: str | None = None


@dataclass(slots=True)
class Field(Node):
    names: tuple[str, ...]


@dataclass(slots=True)
class Var(Node):
    name: str
    names: tuple[str, ...]


@dataclass(slots=True)
class Ident(Node):
    name: str


@dataclass(slots=True)
class Chain(Node):
    base: Node
    names: tuple[str, ...]


@dataclass(slots=True)
class Cmd(Node):
    args: list[Node]


@dataclass(slots=True)
class Pipe(Node):
    decl: list[str]
    assign: bool
    cmds: list[Cmd]


@dataclass(slots=True)
class Action(Node):
    pipe: Pipe


@dataclass(slots=True)
class Control(Node):
    kind: str  # if | with | range
    pipe: Pipe
    body: list[Node]
    else_: list[Node] | None


@dataclass(slots=True)
class Jump(Node):
    kind: str  # break | continue


@dataclass(slots=True)
class Call(Node):
    """{{template "name" pipeline}} (and the call half of {{block}})."""

    name: str
    pipe: Pipe | None


def tree_string(nodes: list[Node], src: str) -> str:
    """Go's String() of a list node, with text printed as %q (the form Go's parse tests use)."""
    return "".join(_node(n, src) for n in nodes)


def _node(n: Node, src: str) -> str:
    if isinstance(n, Text):
        return go_quote(n.text)
    if isinstance(n, Action):
        return "{{" + _pipe(n.pipe, src) + "}}"
    if isinstance(n, Control):
        out = "{{" + n.kind + " " + _pipe(n.pipe, src) + "}}" + tree_string(n.body, src)
        if n.else_ is not None:
            out += "{{else}}" + tree_string(n.else_, src)
        return out + "{{end}}"
    if isinstance(n, Jump):
        return "{{" + n.kind + "}}"
    if isinstance(n, Call):
        name = go_quote(n.name)
        return "{{template " + name + ("" if n.pipe is None else " " + _pipe(n.pipe, src)) + "}}"
    return _arg(n, src)


def _pipe(p: Pipe, src: str) -> str:
    decl = ", ".join(p.decl) + (" = " if p.assign else " := ") if p.decl else ""
    return decl + " | ".join(" ".join(_arg(a, src) for a in c.args) for c in p.cmds)


def _arg(n: Node, src: str) -> str:
    if isinstance(n, Pipe):
        return "(" + _pipe(n, src) + ")"
    if isinstance(n, Dot):
        return "."
    if isinstance(n, Nil):
        return "nil"
    if isinstance(n, Lit):
        return src[n.pos:n.end]  # Go prints numbers and strings as written
    if isinstance(n, Field):
        return "".join("." + x for x in n.names)
    if isinstance(n, Var):
        return ".".join((n.name, *n.names))
    if isinstance(n, Ident):
        return n.name
    if isinstance(n, Chain):
        return _arg(n.base, src) + "".join("." + x for x in n.names)
    return _node(n, src)
