"""The engine's errors and limits. Messages name keys, functions, types and positions, never data values."""

from __future__ import annotations

MAX_SOURCE_BYTES = 64 * 1024   # templates live in manifests; anything bigger is a mistake or an attack
MAX_DEPTH = 64                 # nested if/with/range/else-if and parens; far below Python's recursion limit
MAX_CALL_DEPTH = 32            # {{template}} calls nested (Go allows 100,000; a loop must end early here)
MAX_OUTPUT = 1024 * 1024       # characters of output, and of any single intermediate string
MAX_STEPS = 100_000            # evaluation steps (nodes, loop iterations, and 4 KiB of produced text each)
MAX_VALUE_DEPTH = 100          # nesting of data values when printing or encoding JSON (cycles end here too)
MAX_WIDTH = 10_000             # printf width/precision, so "%999999999d" cannot allocate before we check


class TemplateError(ValueError):
    """Base. str(err) is a one-line human message including line:col when known."""

    def __init__(self, message: str, *, line: int | None = None, column: int | None = None) -> None:
        super().__init__(" ".join(message.split("\n")))
        self.line = line
        self.column = column


class TemplateSyntaxError(TemplateError):
    """The template does not parse, names an unknown function, or is too large or deep."""


class TemplateExecError(TemplateError):
    """Executing the template failed (missing key, bad argument type, a limit exceeded, ...)."""


class FuncError(Exception):
    """Raised by functions with a value-free message; the executor adds the position and function name."""
