"""The executor: walks a parse tree with Go's ``text/template`` semantics (exec.go).

Dot, variables and ``$`` scope as in Go; map fields follow the ``missingkey`` option (ESO: ``error``);
functions get their arguments checked and constants converted by their Go parameter kinds; ``and``/``or``
stop at the first deciding argument. Steps, output size and template-call depth are bounded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import MAX_CALL_DEPTH, MAX_OUTPUT, MAX_STEPS, FuncError, TemplateExecError
from .funcs import Func, Soft
from .nodes import Action, Call, Chain, Cmd, Control, Dot, Field, Ident, Jump, Lit, Nil, Node, Pipe, Text, Var
from .parser import loc
from .values import StringMap, fmt_v, go_quote, sorted_keys, tname, truth

MISSING: Any = object()  # "no piped value", distinct from nil


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Tree:
    """One template: its nodes, the source they came from and that source's parse name (for positions)."""

    nodes: list[Node]
    source: str
    parse_name: str


_KIND_NAMES = {"s": "string", "i": "int", "f": "float64", "b": "bool", "m": "map[string]interface {}",
               "l": "[]interface {}"}


def _fits(k: str, v: Any) -> bool:
    if k == "s":
        return isinstance(v, str)
    if k == "i":
        return isinstance(v, int) and not isinstance(v, bool)
    if k == "f":
        return isinstance(v, float)
    if k == "b":
        return isinstance(v, bool)
    if k == "m":
        return type(v) is dict
    if k == "l":
        return type(v) in (list, tuple)
    return True


class Exec:
    """One execution: output buffer, variables, counters. Create per :meth:`Template.execute` call."""

    def __init__(self, trees: Mapping[str, Tree], funcs: Mapping[str, Func], missingkey: str,
                 soft_failures: list[str] | None = None) -> None:
        self.trees, self.funcs, self.missingkey = trees, funcs, missingkey
        self.soft_failures = soft_failures
        self.vars: list[list[Any]] = []  # [name, value]; lists so "=" can update in place
        self.out: list[str] = []
        self.size = self.steps = self.depth = 0
        self.name, self.tree = "", Tree([], "", "")

    # ------------------------------------------------------------------------------------ plumbing

    def err(self, node: Node, msg: str) -> TemplateExecError:
        src = self.tree.source
        line, col = loc(src, node.pos)
        at = " ".join(src[node.pos:node.end].split())
        at = at if len(at) <= 60 else at[:57] + "..."
        text = f"template: {self.tree.parse_name}:{line}:{col}: executing {go_quote(self.name)} at <{at}>: {msg}"
        return TemplateExecError(text, line=line, column=col)

    def tick(self, node: Node, cost: int = 1) -> None:
        self.steps += cost
        if self.steps > MAX_STEPS:
            raise self.err(node, f"evaluation step limit ({MAX_STEPS}) exceeded")

    def emit(self, node: Node, s: str) -> None:
        self.size += len(s)
        if self.size > MAX_OUTPUT:
            raise self.err(node, f"output exceeds the limit of {MAX_OUTPUT} characters")
        self.out.append(s)

    def run(self, name: str, dot: Any) -> str:
        self.template(None, name, dot)
        return "".join(self.out)

    def template(self, node: Node | None, name: str, dot: Any) -> None:
        tree = self.trees.get(name)
        if tree is None:
            if node is None:
                raise TemplateExecError(f"template: {go_quote(name)} is an incomplete or empty template")
            raise self.err(node, f"template {go_quote(name)} not defined")
        if self.depth >= MAX_CALL_DEPTH:
            assert node is not None
            raise self.err(node, f"exceeded maximum template depth ({MAX_CALL_DEPTH})")
        saved = self.name, self.tree, self.vars
        self.name, self.tree, self.vars = name, tree, [["$", dot]]  # no dynamic scoping, as in Go
        self.depth += 1
        try:
            self.walk(tree.nodes, dot)
        finally:
            self.depth -= 1
            self.name, self.tree, self.vars = saved

    # ------------------------------------------------------------------------------------- control

    def walk(self, nodes: list[Node], dot: Any) -> None:
        for n in nodes:
            self.tick(n)
            if isinstance(n, Text):
                self.emit(n, n.text)
            elif isinstance(n, Action):
                v = self.pipe(n.pipe, dot)
                if not n.pipe.decl:
                    self.emit(n, self.printable(n, v))
            elif isinstance(n, Control):
                mark = len(self.vars)
                try:
                    if n.kind == "range":
                        self.do_range(n, dot, mark)
                    else:
                        v = self.pipe(n.pipe, dot)
                        if truth(v):
                            self.walk(n.body, v if n.kind == "with" else dot)
                        elif n.else_ is not None:
                            self.walk(n.else_, dot)
                finally:
                    del self.vars[mark:]
            elif isinstance(n, Jump):
                raise _Break if n.kind == "break" else _Continue
            elif isinstance(n, Call):
                self.template(n, n.name, None if n.pipe is None else self.pipe(n.pipe, dot))

    def printable(self, node: Node, v: Any) -> str:
        if v is None:
            return "<no value>"
        if isinstance(v, str):
            return v
        failure = None
        try:
            return fmt_v(v)
        except FuncError as exc:
            failure = str(exc)
        raise self.err(node, failure)

    def do_range(self, n: Control, dot: Any, mark: int) -> None:
        val = self.pipe(n.pipe, dot)  # Go binds the declared variables to the collection first
        items: Iterable[tuple[Any, Any]]
        if val is None:
            items = ()
        elif isinstance(val, list | tuple):
            items = enumerate(val)
        elif isinstance(val, Mapping):
            items = ((k, val[k]) for k in sorted_keys(val))
        elif isinstance(val, int) and not isinstance(val, bool):  # Go 1.22: range over an integer
            if len(n.pipe.decl) > 1:
                raise self.err(n, "can't use int to iterate over more than one variable")
            items = ((i, i) for i in range(val))
        else:
            raise self.err(n, f"range can't iterate over {fmt_v(val) if isinstance(val, bool) else tname(val)}")
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
                    next(v for v in reversed(self.vars[mark:]) if v[0] == name)[1] = value
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

    def set_var(self, node: Node, name: str, value: Any) -> None:
        for v in reversed(self.vars):
            if v[0] == name:
                v[1] = value
                return
        raise self.err(node, f"undefined variable: {name}")

    # ---------------------------------------------------------------------------------- evaluation

    def pipe(self, p: Pipe, dot: Any) -> Any:
        val = MISSING
        for cmd in p.cmds:
            self.tick(cmd)
            val = self.command(cmd, dot, val)
        for name in p.decl:
            if p.assign:
                self.set_var(p, name, val)
            else:
                self.vars.append([name, val])
        return val

    def command(self, cmd: Cmd, dot: Any, final: Any) -> Any:
        first, args = cmd.args[0], cmd.args
        if isinstance(first, Ident):
            return self.call(first, args[1:], dot, final)
        if isinstance(first, Field | Chain | Var):
            if len(args) > 1 or final is not MISSING:
                if isinstance(first, Var) and not first.names:
                    raise self.err(first, f"can't give argument to non-function {first.name}")
                raise self.err(first, f"{first.names[-1]} is not a method but has arguments")
            return self.arg(first, dot)
        if len(args) > 1 or final is not MISSING:
            raise self.err(first, f"can't give argument to non-function {self.tree.source[first.pos:first.end]}")
        if isinstance(first, Nil):
            raise self.err(first, "nil is not a command")
        return self.arg(first, dot)

    def arg(self, n: Node, dot: Any) -> Any:
        """An operand's value with no parameter type to convert to (Go's evalEmptyInterface)."""
        if isinstance(n, Dot):
            return dot
        if isinstance(n, Lit):
            if n.error:
                raise self.err(n, n.error)
            return n.value
        if isinstance(n, Nil):
            return None
        if isinstance(n, Field):
            return self.fields(dot, n.names, n)
        if isinstance(n, Var):
            for name, value in reversed(self.vars):
                if name == n.name:
                    return self.fields(value, n.names, n)
            raise self.err(n, f"undefined variable: {n.name}")
        if isinstance(n, Chain):
            if isinstance(n.base, Nil):
                raise self.err(n, "indirection through explicit nil in " + self.tree.source[n.pos:n.end])
            return self.fields(self.arg(n.base, dot), n.names, n)
        if isinstance(n, Pipe):
            v = self.pipe(n, dot)
            return None if v is MISSING else v
        if isinstance(n, Ident):
            return self.call(n, [], dot, MISSING)
        raise self.err(n, "can't evaluate node")

    def fields(self, recv: Any, names: tuple[str, ...], node: Node) -> Any:
        for i, name in enumerate(names):
            if isinstance(recv, Mapping):
                if name in recv:
                    recv = recv[name]
                elif self.missingkey == "error":
                    raise self.err(node, f"map has no entry for key {go_quote(name)}")
                else:
                    recv = "" if self.missingkey == "zero" and isinstance(recv, StringMap) else None
            elif recv is None and i == 0:
                # dot or a variable holding no value: Go gives no value (or, under missingkey=error, fails)
                if self.missingkey == "error":
                    raise self.err(node, f"nil data; no entry for key {go_quote(name)}")
            elif recv is None:
                raise self.err(node, f"nil pointer evaluating interface {{}}.{name}")
            else:
                raise self.err(node, f"can't evaluate field {name} in type {tname(recv)}")
        return recv

    def typed_arg(self, n: Node, k: str, dot: Any, fname: str) -> Any:
        """An argument for a parameter of kind ``k``: constants convert as Go's evalArg converts them."""
        if isinstance(n, Lit) and k != "a":
            v = n.value
            ok = (k == "s" and isinstance(v, str)) or (k == "b" and isinstance(v, bool))
            if ok:
                return v
            if not isinstance(v, str | bool):
                if k == "i" and n.as_int is not None:
                    return n.as_int
                if k == "f" and n.as_float is not None:
                    return n.as_float
            want = {"s": "string", "i": "integer", "f": "float", "b": "bool"}.get(k)
            if want is None:
                raise self.err(n, f"can't handle {self.tree.source[n.pos:n.end]} for arg of type {_KIND_NAMES[k]}")
            raise self.err(n, f"expected {want}; found {self.tree.source[n.pos:n.end]}")
        if isinstance(n, Nil):
            if k in "aml":
                return None
            raise self.err(n, f"cannot assign nil to {_KIND_NAMES[k]}")
        v = self.arg(n, dot)
        return self.check_type(n, k, v, fname)

    def check_type(self, n: Node, k: str, v: Any, fname: str) -> Any:
        if v is None:
            if k in "aml":
                return None
            raise self.err(n, f"invalid value; expected {_KIND_NAMES[k]}")
        if not _fits(k, v):
            raise self.err(n, f"wrong type for value; expected {_KIND_NAMES[k]}; got {tname(v)}")
        return v

    def call(self, ident: Ident, nodes: list[Node], dot: Any, final: Any) -> Any:
        name = ident.name
        fn = self.funcs[name]
        nargs = len(nodes) + (final is not MISSING)
        lo, hi = fn.arity
        if hi is None and nargs < lo:
            raise self.err(ident, f"wrong number of args for {name}: want at least {lo} got {len(nodes)}")
        if hi is not None and nargs != hi:
            raise self.err(ident, f"wrong number of args for {name}: want {hi} got {nargs}")
        kinds = fn.kinds(nargs)
        if name in ("and", "or"):  # Go 1.18+: stop at the first falsy (and) / truthy (or) argument
            val: Any = None
            for node in nodes:
                val = self.arg(node, dot)
                if truth(val) == (name == "or"):
                    return val
            return val if final is MISSING else final
        args = [self.typed_arg(node, k, dot, name) for node, k in zip(nodes, kinds, strict=False)]
        if final is not MISSING:
            args.append(self.check_type(ident, kinds[-1], None if final is MISSING else final, name))
        # Raise outside the except blocks: a chained exception (JSONDecodeError.doc, say) could hold data.
        failure = None
        try:
            result = fn.impl(args)
        except FuncError as exc:
            failure = str(exc)
        except RecursionError:
            failure = "value nested too deeply"
        except Exception as exc:  # noqa: BLE001 - never let a message (that may quote data) escape
            failure = f"internal error ({type(exc).__name__})"
        if failure is not None:
            raise self.err(ident, f"error calling {name}: {failure}")
        if isinstance(result, Soft):
            if self.soft_failures is not None:
                line, col = loc(self.tree.source, ident.pos)
                self.soft_failures.append(f"template: {self.tree.parse_name}:{line}:{col}: {name}: {result.reason} "
                                          f"(Sprig returns {'nothing' if result.value is None else 'a fallback'} "
                                          "here instead of failing)")
            result = result.value
        if isinstance(result, str):
            if len(result) > MAX_OUTPUT:
                raise self.err(ident, f"error calling {name}: result exceeds {MAX_OUTPUT} characters")
            self.tick(ident, len(result) // 4096)  # large strings cost steps, so loops over them stay cheap
        return result
