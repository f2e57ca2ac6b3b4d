"""Sprig's and ESO's own test cases (sprig_cases.json, eso_cases.json) through our engine, in ESO's mode.

    .venv/bin/python -m tests.gotemplate.sprig_conformance [-v]      # make conformance runs it too

Each case renders with ``missingkey=error`` and its data (a map[string]string where the test used one, as ESO
always does). A Sprig case passes when we give the output its test expects; an ESO case when we give its
expected output, or fail where it expects an error (its ``error`` text must appear in ours). Skips come from
each port's closed list.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from acr_refresh.gotemplate import StringMap, TemplateError, parse

from .conformance import Outcome, _line

HERE = Path(__file__).resolve().parent
SPRIG = HERE / "sprig_cases.json"
ESO = HERE / "eso_cases.json"


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.exists() else {"cases": [], "skip_reasons": {}}


def _data(c: dict[str, Any]) -> Any:
    d = c.get("data")
    if c.get("strmap", True):
        return StringMap({k: str(v) for k, v in (d or {}).items()})
    return d


def run_case(source: str, c: dict[str, Any]) -> Outcome:
    name, text = c.get("name") or c.get("test", ""), c["template"]
    if "skip" in c:
        return Outcome(source, name, text, "skip", c["skip"])
    want_error = c.get("error")
    try:
        got = parse(text, name="test").execute(_data(c), missingkey="error")
    except TemplateError as exc:
        if want_error is not None and want_error in str(exc):
            return Outcome(source, name, text, "pass")
        return Outcome(source, name, text, "fail", f"error: {exc}")
    if want_error is not None:
        return Outcome(source, name, text, "fail", f"no error; got {got!r}")
    if c["want"] is not None and got != c["want"]:
        return Outcome(source, name, text, "fail", f"want {c['want']!r} got {got!r}")
    return Outcome(source, name, text, "pass")


def run_all() -> list[Outcome]:
    return [run_case("sprig tests", c) for c in load(SPRIG)["cases"]] + \
        [run_case("ESO template/v2", c) for c in load(ESO)["cases"]]


def report(outcomes: list[Outcome], verbose: bool = False) -> str:
    by: dict[str, Counter[str]] = {}
    for o in outcomes:
        by.setdefault(o.source, Counter())[o.status] += 1
    lines = [_line(source, n) for source, n in by.items()]
    skips = Counter(f"{o.source.split()[0]}:{o.detail}" for o in outcomes if o.status == "skip")
    lines.append("skipped (closed lists): " + ", ".join(f"{k} {v}" for k, v in sorted(skips.items())))
    fails = [o for o in outcomes if o.status == "fail"]
    if fails:
        lines.append("differences:" if verbose else f"{len(fails)} differences (-v to list)")
        if verbose:
            lines.extend(f"  {o.source} {o.name} {o.template!r}: {o.detail}" for o in fails)
    return "\n".join(lines)


def main() -> None:
    print(report(run_all(), verbose="-v" in sys.argv))


if __name__ == "__main__":
    main()
