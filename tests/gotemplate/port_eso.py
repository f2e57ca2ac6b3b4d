"""Regenerate ``eso_cases.json`` from ESO v2.9.0's own template tests (runtime/template/v2/template_test.go).

    .venv/bin/python -m tests.gotemplate.port_eso /path/to/an/external-secrets/git/checkout

Reads TestExecute's table (Go composite literals) with a small reader of Go literals: string literals, the
file's string constants and ``+`` between them. Each template of a row (data, labels, annotations,
stringData) becomes one case with the row's data: the output the row expects, or the error text it expects
(ESO's "silent error" rows, which expect no error, keep no output). The cases are data under ESO's
Apache-2.0 license (``LICENSE-eso.txt``); nothing of ESO's code is kept.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TAG = "v2.9.0"
TEST = "runtime/template/v2/template_test.go"
OUT = HERE / "eso_cases.json"

SKIP_REASONS = {
    "go-computed": "the row's data is computed by Go code at test time (rsaEncryptOAEP)",
    "delimiters": "uses ESO's --template-left/right-delimiter flags, which acr-refresh does not offer",
}
_TOKEN = re.compile(r'\s+|//[^\n]*|`[^`]*`|"(?:\\.|[^"\\])*"|'
                    r'map\[\w+\](?:\[\])?\w+|\[\]\w+|[A-Za-z_][\w.]*|[{}()\[\],:+]|[^\s]')


def _go_string(tok: str) -> str:
    if tok.startswith("`"):
        return tok[1:-1].replace("\r", "")
    return str(json.loads(re.sub(r"\\x([0-9a-fA-F]{2})", r"\\u00\1", tok)))


def tokens(src: str) -> list[str]:
    return [t for t in _TOKEN.findall(src) if t.strip() and not t.startswith("//")]


def constants(src: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for block in re.findall(r"\nconst \((.*?)\n\)", src, re.S):
        toks, i = tokens(block), 0
        while i + 2 < len(toks):
            if re.fullmatch(r"[A-Za-z_]\w*", toks[i]) and toks[i + 1] == "=" and toks[i + 2][0] in "`\"":
                out[toks[i]] = _go_string(toks[i + 2])
                i += 3
            else:
                i += 1
    return out


class Reader:
    """Reads Go composite-literal values: strings, []byte(...), maps, and a row struct's fields."""

    def __init__(self, toks: list[str], consts: dict[str, str]) -> None:
        self.t, self.i, self.consts = toks, 0, consts

    def peek(self) -> str:
        return self.t[self.i]

    def take(self, want: str | None = None) -> str:
        tok = self.t[self.i]
        if want is not None and tok != want:
            raise ValueError(f"expected {want!r} at token {self.i}, found {tok!r}")
        self.i += 1
        return tok

    def value(self) -> Any:
        tok = self.take()
        if tok == "nil":
            return None
        if tok in ("[]byte", "string") and self.peek() == "(":
            self.take("(")
            v = self.value()
            self.take(")")
            return v
        if tok.startswith("map") or tok == "[]":
            while self.peek() != "{":
                self.take()
            return self.mapping()
        if tok[0] in "`\"":
            v: Any = _go_string(tok)
        elif tok in self.consts:
            v = self.consts[tok]
        elif self.peek() == "(":  # a Go call: its value is not known here
            depth = 0
            while True:
                t = self.take()
                depth += t == "("
                depth -= t == ")"
                if depth == 0:
                    break
            v = GoComputed()
        else:
            v = tok
        while self.peek() == "+":
            self.take()
            rhs = self.value()
            v = GoComputed() if isinstance(v, GoComputed) or isinstance(rhs, GoComputed) else v + rhs
        return v

    def mapping(self) -> dict[str, Any]:
        self.take("{")
        out: dict[str, Any] = {}
        while self.peek() != "}":
            key = self.value()
            self.take(":")
            out[key] = self.value()
            if self.peek() == ",":
                self.take()
        self.take("}")
        return out

    def row(self) -> dict[str, Any]:
        self.take("{")
        out: dict[str, Any] = {}
        while self.peek() != "}":
            field = self.take()
            self.take(":")
            out[field] = self.value()
            if self.peek() == ",":
                self.take()
        self.take("}")
        return out


class GoComputed(str):
    """A value computed by Go at test time."""


def rows(src: str) -> list[dict[str, Any]]:
    body = src[src.index("func TestExecute("):]
    body = body[body.index("}{") + 1:]
    r = Reader(tokens(body), constants(src))
    r.take("{")
    out = []
    while r.peek() != "}":
        out.append(r.row())
        if r.peek() == ",":
            r.take()
    return out


def cases(table: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for row in table:
        for tpl_field, want_field, err_field in (("tpl", "expectedData", "expErr"),
                                                 ("labelsTpl", "expectedLabels", "expLblErr"),
                                                 ("annotationsTpl", "expectedAnnotations", "expAnnoErr"),
                                                 ("stringDataTpl", "expectedStringData", "expStrErr")):
            for key, template in sorted((row.get(tpl_field) or {}).items()):
                data = row.get("data") or {}
                case: dict[str, Any] = {"name": f"{row['name']} [{tpl_field}.{key}]", "template": template,
                                        "data": {k: v for k, v in data.items() if not isinstance(v, GoComputed)},
                                        "strmap": True}
                want = (row.get(want_field) or {}).get(key)
                err = row.get(err_field, "")
                if err:
                    case["error"] = err.removeprefix("unable to parse template").removeprefix(
                        "unable to execute template at key key")  # ESO's own wrapping, not the engine's
                elif want is not None:
                    case["want"] = want
                else:
                    case["want"] = None  # "silent error": renders, the row checks nothing more
                if any(isinstance(v, GoComputed) for v in data.values()):
                    case["skip"] = "go-computed"
                elif row.get("leftDelimiter"):
                    case["skip"] = "delimiters"
                out.append(case)
    return out


def main() -> None:
    src = subprocess.run(["git", "-C", sys.argv[1], "show", f"{TAG}:{TEST}"], check=True, capture_output=True,
                         text=True).stdout
    doc = {"source": f"github.com/external-secrets/external-secrets@{TAG} {TEST} TestExecute (Apache-2.0, see "
                     "LICENSE-eso.txt)", "skip_reasons": SKIP_REASONS, "cases": cases(rows(src))}
    OUT.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
