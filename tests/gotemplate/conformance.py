"""Run Go's own text/template test tables (go_tables.json) through our engine and report per source.

    .venv/bin/python -m tests.gotemplate.conformance [-v]      # also: make conformance

A case passes when our engine gives Go's result: the same output, or a failure in the same phase (parse or
execution). Cases skipped by port.py for a reason from its closed list are counted, not run.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from acr_refresh.gotemplate import TemplateExecError, TemplateSyntaxError, parse

from .gofuncs import GO_FUNCS

TABLES = Path(__file__).resolve().parent / "go_tables.json"


@dataclass(frozen=True)
class Outcome:
    source: str
    name: str
    template: str
    status: str  # pass | fail | skip
    detail: str = ""


def load() -> dict[str, Any]:
    return json.loads(TABLES.read_text())


def run_case(c: dict[str, Any]) -> Outcome:
    src, name, text = c["source"], c["name"], c["template"]
    if "skip" in c:
        return Outcome(src, name, text, "skip", c["skip"])
    if src in ("parseTests", "errorTests"):
        return _parse_case(c)
    try:
        tpl = parse(text, name=name, funcs=GO_FUNCS, defines=c.get("defines", ()))
    except TemplateSyntaxError as exc:
        return Outcome(src, name, text, "fail", f"parse error: {exc}")
    try:
        got = tpl.execute(c["data"], missingkey="default")
    except TemplateExecError as exc:
        if not c["ok"]:
            return Outcome(src, name, text, "pass")
        return Outcome(src, name, text, "fail", f"exec error: {exc}")
    if not c["ok"]:
        return Outcome(src, name, text, "fail", f"no error; got {got!r}")
    if got != c["want"]:
        return Outcome(src, name, text, "fail", f"want {c['want']!r} got {got!r}")
    return Outcome(src, name, text, "pass")


def _parse_case(c: dict[str, Any]) -> Outcome:
    src, name, text = c["source"], c["name"], c["template"]
    try:
        tpl = parse(text, name=name)
    except TemplateSyntaxError as exc:
        if c["ok"]:
            return Outcome(src, name, text, "fail", f"parse error: {exc}")
        want = c.get("error_contains", "")
        if want and want not in str(exc):
            return Outcome(src, name, text, "fail", f"error {str(exc)!r} lacks {want!r}")
        return Outcome(src, name, text, "pass")
    if not c["ok"]:
        return Outcome(src, name, text, "fail", "parsed; Go fails")
    if "tree" in c and tpl.tree_string() != c["tree"]:
        return Outcome(src, name, text, "fail", f"tree {tpl.tree_string()!r} want {c['tree']!r}")
    return Outcome(src, name, text, "pass")


def run_all() -> list[Outcome]:
    return [run_case(c) for c in load()["cases"]]


def report(outcomes: list[Outcome], verbose: bool = False) -> str:
    lines = []
    by: dict[str, Counter[str]] = {}
    for o in outcomes:
        by.setdefault(o.source, Counter())[o.status] += 1
    total = Counter[str]()
    for source, n in by.items():
        total.update(n)
        lines.append(_line(source, n))
    lines.append(_line("all Go tables", total))
    skips = Counter(o.detail for o in outcomes if o.status == "skip")
    lines.append("skipped (closed list): " + ", ".join(f"{k} {v}" for k, v in sorted(skips.items())))
    fails = [o for o in outcomes if o.status == "fail"]
    if fails:
        lines.append("differences:" if verbose else f"{len(fails)} differences (-v to list)")
        if verbose:
            lines.extend(f"  {o.source} {o.name!r} {o.template!r}: {o.detail}" for o in fails)
    return "\n".join(lines)


def _line(source: str, n: Counter[str]) -> str:
    applicable = n["pass"] + n["fail"]
    rate = 100 * n["pass"] / applicable if applicable else 100.0
    return f"{source:16} {n['pass']:4}/{applicable:<4} applicable pass ({rate:5.1f}%)  {n['skip']:3} skipped"


def main() -> None:
    from . import sprig_conformance

    print(report(run_all(), verbose="-v" in sys.argv))
    print(sprig_conformance.report(sprig_conformance.run_all(), verbose="-v" in sys.argv))


if __name__ == "__main__":
    main()
