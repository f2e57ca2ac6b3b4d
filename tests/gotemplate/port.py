"""Regenerate ``go_tables.json`` from Go's own text/template test tables (Go 1.19, Debian golang-1.19-src).

    .venv/bin/python -m tests.gotemplate.port

Compiles ``porter/*_dump_test.go`` into Go's text/template and text/template/parse packages with
``go test -overlay`` (Go's sources stay untouched), which writes the tables out as JSON. Each exec case's Go
data is also converted to JSON-shaped data (maps, lists, strings, int, float64: what our engine holds) and
run again by real Go; a case is *applicable* when real Go gives the table's result with that data, and
otherwise skipped for one reason from :data:`SKIP_REASONS`. The tables are data under Go's BSD-3-Clause
license (``LICENSE-go.txt``).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
GO = "/usr/lib/go-1.19/bin/go"
GOSRC = Path("/usr/lib/go-1.19/src")
OUT = HERE / "go_tables.json"

SKIP_REASONS = {
    "go-method": "calls a method of the Go test type (data here is maps, lists and scalars, which have none)",
    "func-field": "uses a function-valued field of the Go test data (with call, or as a value)",
    "non-map-data": "depends on Go-typed data (structs, pointers, typed slices and maps, unsigned or complex "
                    "values, Stringers, channels) that JSON-shaped data cannot hold: real Go itself gives a "
                    "different result for the JSON-shaped copy of the data",
}


def dump() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    with tempfile.TemporaryDirectory(prefix="go-tables-") as tmp:
        t = Path(tmp)
        overlay = {"Replace": {
            str(GOSRC / "text/template/zz_dump_test.go"): str(HERE / "porter/exec_dump_test.go"),
            str(GOSRC / "text/template/parse/zz_dump_test.go"): str(HERE / "porter/parse_dump_test.go"),
        }}
        (t / "overlay.json").write_text(json.dumps(overlay))
        env = {**os.environ, "GO111MODULE": "off", "GOPROXY": "off", "GOTOOLCHAIN": "local", "GOFLAGS": "",
               "GOCACHE": str(t / "cache"), "DUMP_EXEC_TO": str(t / "exec.json"),
               "DUMP_PARSE_TO": str(t / "parse.json")}
        subprocess.run([GO, "test", "-vet=off", "-count=1", "-overlay", str(t / "overlay.json"), "-run",
                        "TestDumpTables", "text/template", "text/template/parse"], cwd=GOSRC, env=env, check=True)
        return json.loads((t / "exec.json").read_text()), json.loads((t / "parse.json").read_text())


def classify(case: dict[str, Any]) -> str | None:
    """None when real Go gives the table's result with the JSON-shaped data; else the skip reason."""
    same = case["json_ok"] == case["ok"] and (not case["ok"] or case["json_out"] == case["want"])
    if same:
        return None
    if case.get("methods"):
        return "go-method"
    if case.get("func_fields") or re.search(r"\bcall\b", case["template"]):
        return "func-field"
    return "non-map-data"


def main() -> None:
    exec_cases, parse_cases = dump()
    version = subprocess.run([GO, "version"], capture_output=True, text=True, check=True).stdout.split()[2]
    cases = []
    for c in exec_cases:
        row = {k: c[k] for k in ("source", "name", "template", "want", "ok")}
        if c.get("defines"):
            row["defines"] = c["defines"]
        row["data"] = c["data"]
        skip = classify(c)
        if skip:
            row["skip"] = skip
            row["go_with_json_data"] = c["json_out"] if c["json_ok"] else f"error: {c['json_error']}"
        cases.append(row)
    cases.extend({"source": p["source"], "name": p["name"], "template": p["input"], "ok": p["ok"],
                  ("tree" if p["source"] == "parseTests" else "error_contains"): p["result"]}
                 for p in parse_cases)
    doc = {
        "about": f"Go's text/template test tables, from {version}'s src/text/template/exec_test.go, multi_test.go "
                 "and parse/parse_test.go, ported as data by tests/gotemplate/port.py. Copyright (c) 2009 The Go "
                 "Authors; BSD-3-Clause, see LICENSE-go.txt.",
        "skip_reasons": SKIP_REASONS,
        "cases": cases,
    }
    OUT.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    skipped = sum(1 for c in cases if "skip" in c)
    print(f"wrote {OUT}: {len(cases)} cases, {skipped} skipped")


if __name__ == "__main__":
    main()
