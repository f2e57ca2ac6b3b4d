"""A safe Go ``text/template`` engine with the functions External Secrets Operator offers (engine v2).

ESO renders Secret data with Go templates (``missingkey=error``, Sprig's text functions, data typed as
``map[string]string``). We read ESO manifests unchanged, so this package re-implements Go's semantics and is
measured against real Go (``make conformance``; see docs/templates.md). Its parts, each readable alone:

* :mod:`.lexer`, :mod:`.parser`, :mod:`.nodes`: Go's text/template/parse (tokens, grammar, parse errors);
* :mod:`.exec`: Go's exec.go (dot, variables, fields, calls, ``missingkey``, {{template}});
* :mod:`.values`, :mod:`.printf`: Go's value model and ``fmt``;
* :mod:`.funcs`: the function libraries, one module per family.

Safety, because templates come from cluster manifests and data holds secrets: only the functions in
:data:`FUNCTIONS` exist (``env`` and ``expandenv`` are refused); source size, nesting depth, evaluation steps,
template-call depth and output size are bounded; error messages name keys, functions, types and positions
but never data values (output, as in Go, may show values: ``%!d(string=...)``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from .errors import (
    MAX_CALL_DEPTH,
    MAX_DEPTH,
    MAX_OUTPUT,
    MAX_SOURCE_BYTES,
    MAX_STEPS,
    MAX_VALUE_DEPTH,
    TemplateError,
    TemplateExecError,
    TemplateSyntaxError,
)
from .exec import Exec, Tree
from .funcs import BUILTINS, ESO, ESO_OWN, REFUSED, SPRIG, Func, Soft
from .nodes import Action, Call, Chain, Cmd, Control, Field, Ident, Lit, Nil, Node, Pipe, Var, tree_string
from .parser import Parser, is_empty, loc
from .values import StringMap, go_quote, to_bytes

__all__ = [
    "BUILTINS",
    "ESO",
    "ESO_OWN",
    "FUNCTIONS",
    "MAX_CALL_DEPTH",
    "MAX_DEPTH",
    "MAX_OUTPUT",
    "MAX_SOURCE_BYTES",
    "MAX_STEPS",
    "MAX_VALUE_DEPTH",
    "REFUSED",
    "SPRIG",
    "Func",
    "Soft",
    "StringMap",
    "Template",
    "TemplateError",
    "TemplateExecError",
    "TemplateSyntaxError",
    "parse",
    "render",
]

FUNCTIONS: frozenset[str] = frozenset(ESO)
MISSINGKEY = ("error", "zero", "default", "invalid")


class Template:
    """A parsed template (and the templates it defines). Create with :func:`parse`; run with :meth:`execute`."""

    def __init__(self, name: str, source: str, trees: dict[str, Tree], funcs: Mapping[str, Func]) -> None:
        self.name = name
        self.source = source
        self._trees = trees
        self._funcs = funcs
        refs: list[tuple[str, int]] = []
        _collect_refs(trees[name].nodes if name in trees else [], True, refs)
        self._refs = tuple(refs)

    def __repr__(self) -> str:
        return f"Template(name={self.name!r})"

    @property
    def templates(self) -> frozenset[str]:
        """Names of the templates this one defines (and its own)."""
        return frozenset(self._trees)

    def execute(self, data: Any, *, missingkey: str = "error", soft_failures: list[str] | None = None) -> str:
        """Render with ``data`` as dot and ``$``; ``missingkey`` as Go's option (ESO uses ``error``).

        ``soft_failures``, when given, collects one value-free message per call where Sprig swallows an error
        and returns a fallback instead (``b64dec`` of bad base64 gives the error text, ``fromJson`` of bad JSON
        gives nothing, ...); the output is Go's either way. The trial render reports them as warnings.

        ``data`` is a :class:`StringMap` for ESO's data, or str/int/float/bool/list/dict/None values.
        Raises TemplateExecError on a missing key, bad argument or exceeded limit; messages never include
        data values.
        """
        if missingkey not in MISSINGKEY:
            raise ValueError(f"missingkey must be one of {', '.join(MISSINGKEY)}")
        ex, failure = Exec(self._trees, self._funcs, "default" if missingkey == "invalid" else missingkey,
                             soft_failures), ""
        try:
            return ex.run(self.name, data)
        except TemplateError:
            raise
        except RecursionError:
            failure = "value nested too deeply"
        except Exception as exc:  # noqa: BLE001 - a bug here must not leak data through its message or chain
            failure = f"internal error ({type(exc).__name__})"
        raise TemplateExecError(f"template: {self.name}: {failure}")

    def tree_string(self) -> str:
        """The main template's parse tree as Go's ``Tree.Root.String()`` prints it (text as %q)."""
        tree = self._trees.get(self.name)
        return "" if tree is None else tree_string(tree.nodes, tree.source)

    def referenced_keys(self) -> frozenset[str]:
        """Top-level keys referenced as ``.key`` (while dot is the root) or ``$.key``, found statically."""
        return frozenset(k for k, _ in self._refs)

    def check(self, keys: Collection[str]) -> None:
        """Static diagnostics for ``validate``: raise TemplateExecError for the first problem in source order.

        Finds top-level keys not in ``keys`` and calls that fail whenever they run (wrong argument count,
        arguments to a non-function, ``nil`` as a command). Branches that would not run are checked too,
        which is what finding typos needs; execution itself fails only where Go does.
        """
        for key, pos in self._refs:
            if key not in keys:
                line, col = loc(self.source, pos)
                raise TemplateExecError(f"template: {self.name}:{line}:{col}: map has no entry for key "
                                        f"{go_quote(key)}", line=line, column=col)
        for _, tree in sorted(self._trees.items()):
            for pos, msg in _lint(tree.nodes, tree.source, self._funcs):
                line, col = loc(tree.source, pos)
                raise TemplateExecError(f"template: {tree.parse_name}:{line}:{col}: {msg}", line=line, column=col)


def parse(source: str, *, name: str = "template", funcs: Mapping[str, Func] | None = None,
          defines: Iterable[str] = ()) -> Template:
    """Parse Go template ``source``; raise TemplateSyntaxError (with line:col) if invalid.

    ``funcs`` is the function map (default :data:`ESO`); ``defines`` are further sources whose
    ``{{define}}`` blocks join the template set first (as Go's ``Template.Parse`` on an existing set).
    """
    funcs = ESO if funcs is None else funcs
    trees: dict[str, Tree] = {}
    for extra in defines:
        parsed = _parse_one(extra, name, funcs)
        for n, body in parsed.defines.items():
            if n not in trees or not is_empty(body):
                trees[n] = Tree(body, extra, name)
    parsed = _parse_one(source, name, funcs)
    for n, body in parsed.defines.items():
        if n not in trees or not is_empty(body):
            trees[n] = Tree(body, source, name)
    if name not in parsed.defines or not is_empty(parsed.nodes):
        if name in parsed.defines and not is_empty(parsed.defines[name]):
            raise TemplateSyntaxError(f"template: {name}: multiple definition of template {go_quote(name)}")
        trees[name] = Tree(parsed.nodes, source, name)
    return Template(name, source, trees, funcs)


def _parse_one(source: str, name: str, funcs: Mapping[str, Func]) -> Any:
    if not isinstance(source, str):
        raise TypeError("template source must be a str")
    size = len(source) if len(source) > MAX_SOURCE_BYTES else len(to_bytes(source))
    if size > MAX_SOURCE_BYTES:
        raise TemplateSyntaxError(f"template: {name}: template too large ({size} bytes > {MAX_SOURCE_BYTES})")
    try:
        return Parser(source, name, funcs, REFUSED).parse()
    except RecursionError:  # unreachable within MAX_DEPTH, but never surface a bare RecursionError
        raise TemplateSyntaxError(f"template: {name}: template nested too deeply") from None


def render(source: str, data: Any, *, name: str = "template", missingkey: str = "error") -> str:
    """Parse and execute in one step."""
    return parse(source, name=name).execute(data, missingkey=missingkey)


def _lint(nodes: Iterable[Node], src: str, funcs: Mapping[str, Func]) -> Iterable[tuple[int, str]]:
    """Calls that fail whenever they run (Go checks these at execution; validate reports them up front)."""
    for n in nodes:
        if isinstance(n, Action):
            yield from _lint([n.pipe], src, funcs)
        elif isinstance(n, Control):
            yield from _lint([n.pipe, *n.body, *(n.else_ or ())], src, funcs)
        elif isinstance(n, Pipe):
            for stage, cmd in enumerate(n.cmds):
                yield from _lint_cmd(cmd, stage > 0, src, funcs)
        elif isinstance(n, Call) and n.pipe is not None:
            yield from _lint([n.pipe], src, funcs)  # {{template "x" pipeline}}


def _lint_cmd(cmd: Cmd, piped: bool, src: str, funcs: Mapping[str, Func]) -> Iterable[tuple[int, str]]:
    first, nargs = cmd.args[0], len(cmd.args) - 1 + piped
    if isinstance(first, Ident):
        yield from _lint_arity(first, nargs, funcs)
    elif isinstance(first, Nil):
        yield first.pos, "nil is not a command"
    elif nargs:
        yield first.pos, f"can't give argument to non-function {src[first.pos:first.end]}"
    for node in cmd.args:  # a function used as an operand, or as the base of a chain, gets no args
        base = node.base if isinstance(node, Chain) else node
        if isinstance(base, Ident) and (node is not first or base is not node):
            yield from _lint_arity(base, 0, funcs)
        if isinstance(node, Pipe):
            yield from _lint([node], src, funcs)
        if isinstance(node, Lit) and node.error:
            yield node.pos, node.error


def _lint_arity(ident: Ident, nargs: int, funcs: Mapping[str, Func]) -> Iterable[tuple[int, str]]:
    lo, hi = funcs[ident.name].arity
    if nargs < lo or (hi is not None and nargs > hi):
        want = f"at least {lo}" if hi is None else str(lo)
        yield ident.pos, f"wrong number of args for {ident.name}: want {want} got {nargs}"


def _collect_refs(nodes: Iterable[Node], root: bool, out: list[tuple[str, int]]) -> None:
    """Top-level keys read as .key while dot is the root, or as $.key anywhere (static, in source order)."""
    for n in nodes:
        if isinstance(n, Action):
            _collect_refs([n.pipe], root, out)
        elif isinstance(n, Control):
            _collect_refs([n.pipe], root, out)
            _collect_refs(n.body, root and n.kind == "if", out)  # with/range rebind dot in the body only
            _collect_refs(n.else_ or (), root, out)
        elif isinstance(n, Pipe):
            _collect_refs([a for c in n.cmds for a in c.args], root, out)
        elif isinstance(n, Chain):
            _collect_refs([n.base], root, out)
        elif isinstance(n, Call) and n.pipe is not None:
            _collect_refs([n.pipe], root, out)  # {{template "x" .key}}
        elif (isinstance(n, Field) and root) or (isinstance(n, Var) and n.name == "$" and n.names):
            out.append((n.names[0], n.pos))

