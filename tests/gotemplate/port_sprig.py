"""Regenerate ``sprig_cases.json`` from Sprig's own tests, at the version ESO v2.9.0 vendors.

    .venv/bin/python -m tests.gotemplate.port_sprig /path/to/a/sprig/git/checkout

ESO vendors Sprig v3.3.1-0.20241028115027-8cb06fe3c8b0 (runtime/template/v2/sprig/README.md). This script
exports that commit into a temporary GOPATH, points the two imports Debian lacks at Debian's packages
(dario.cat/mergo at github.com/imdario/mergo; xstrings.ToPascalCase at ToCamelCase, which 1.3.3 has), and
replaces the helpers of Sprig's functions_test.go (runt, runtv, runRaw) with ``porter/sprig_record_test.go``,
which writes every template a test renders as a JSON line, with the expected output and what real Sprig gave.
The cases are data under Sprig's MIT license (``LICENSE-sprig.txt``); nothing of Sprig's code is kept.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
GO = "/usr/lib/go-1.19/bin/go"
COMMIT = "8cb06fe3c8b0f1163c26b0a558669da72ee14656"
OUT = HERE / "sprig_cases.json"

#: Why a recorded case is not judged; anything else is applicable.
SKIP_REASONS = {
    "random": "output is random or time-dependent (the test checks it with Go code, not by value)",
    "non-map-data": "the data is a Go struct or typed value JSON-shaped data cannot hold",
    "no-expectation": "rendered with runRaw and checked by Go code; real Sprig's output differs run to run",
    "network": "getHostByName: ESO removed it, we refuse it (no DNS from templates)",
    "platform": "the Windows variant of a path test (ESO runs on Linux)",
    "refused": "env/expandenv: ESO removed them, we refuse them with the reason (templates never read the "
               "environment)",
    "go-method": "calls a method of a Go value with arguments ((semver ...).Compare)",
    "missingkey-default": "reads a key the data lacks, relying on Go's default missingkey; ESO renders with "
                          "missingkey=error, where the template fails (and does here)",
}
RANDOM = re.compile(r"\b(rand\w*|uuidv4|shuffle|now|ago|bcrypt|htpasswd|genPrivateKey|genCA\w*|genSelfSigned\w*|"
                    r"genSigned\w*|encryptAES|randBytes|date_modify|dateModify|durationRound|unixEpoch|derivePassword|"
                    r"buildCustomCert)\b")


def record(repo: Path) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="sprig-port-") as tmp:
        t = Path(tmp)
        pkg = t / "src/github.com/Masterminds/sprig"
        pkg.mkdir(parents=True)
        archive = subprocess.run(["git", "-C", str(repo), "archive", COMMIT], check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", str(pkg)], input=archive.stdout, check=True)
        for f in pkg.glob("*.go"):
            text = f.read_text().replace('"dario.cat/mergo"', '"github.com/imdario/mergo"')
            f.write_text(text.replace("xstrings.ToPascalCase", "xstrings.ToCamelCase"))
        helpers = pkg / "functions_test.go"
        text = helpers.read_text()
        for name in ("runt", "runtv", "runRaw"):
            text = text.replace(f"func {name}(", f"func {name}Orig(")
        helpers.write_text(text.replace("return runtv(tpl, expect, map", "return runtvOrig(tpl, expect, map"))
        (pkg / "zz_record_test.go").write_text((HERE / "porter/sprig_record_test.go").read_text())
        out = t / "record.jsonl"
        env = {**os.environ, "GOPATH": f"{t}:/usr/share/gocode", "GO111MODULE": "off", "GOPROXY": "off",
               "GOFLAGS": "", "GOTOOLCHAIN": "local", "GOCACHE": str(t / "cache"), "SPRIG_RECORD_TO": str(out),
               "TZ": "UTC"}
        subprocess.run([GO, "test", "-vet=off", "-count=1", "."], cwd=pkg, env=env, check=False,
                       capture_output=True)  # a test or two fails here (no DNS); the recording is what counts
        return [json.loads(line) for line in out.read_text().splitlines()]


RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")


def _missing_keys(template: str, data: Any) -> bool:
    if not isinstance(data, dict):
        return False
    for m in re.finditer(r"(?<![\w$).])\.([A-Za-z_]\w*)((?:\.[A-Za-z_]\w*)*)", template):
        node: Any = data
        for name in [m.group(1), *filter(None, m.group(2).split("."))]:
            if not isinstance(node, dict) or name not in node:
                return True
            node = node[name]
    return False


def _has_time(v: Any) -> bool:
    if isinstance(v, dict):
        return any(_has_time(x) for x in v.values())
    return isinstance(v, str) and RFC3339.fullmatch(v) is not None


def classify(c: dict[str, Any]) -> str | None:
    if "getHostByName" in c["template"]:
        return "network"
    if re.search(r"\b(env|expandenv)\b", c["template"]):
        return "refused"
    if re.search(r"\)\.\w+", c["template"]) and c["test"] == "TestSemver":
        return "go-method"
    if _has_time(c["data"]):
        return "non-map-data"  # a time.Time, which JSON turns into a string
    if re.search(r"\b(date\w*|htmlDate\w*)\b", c["template"]) and isinstance(c["data"], dict) and \
            any(isinstance(v, str) for v in c["data"].values()):
        return "random"  # Sprig dates anything that is not a time or an integer as now
    if _missing_keys(c["template"], c["data"]):
        return "missingkey-default"
    if c["test"].startswith("TestOs") and "\\" in c["template"]:
        return "platform"
    if RANDOM.search(c["template"]):
        return "random"
    if not c["data_json"] or c["data_type"] not in ("map[string]string", "map[string]interface {}", "<nil>"):
        return "non-map-data"
    if not c["has_expect"]:
        return "no-expectation"
    return None


def build(records: list[dict[str, Any]]) -> dict[str, Any]:
    cases, seen = [], set()
    for r in records:
        key = (r["template"], json.dumps(r["data"], sort_keys=True), r["expect"])
        if key in seen:
            continue
        seen.add(key)
        case = {"test": r["test"], "template": r["template"], "data": r["data"], "strmap":
                r["data_type"] == "map[string]string", "want": r["expect"], "sprig_ok": r["ok"],
                "sprig_out": r["out"]}
        if r.get("error"):
            case["sprig_error"] = r["error"]
        reason = classify(r)
        if reason:
            case["skip"] = reason
        cases.append(case)
    return {"source": f"github.com/Masterminds/sprig@{COMMIT[:12]} *_test.go (MIT, see LICENSE-sprig.txt)",
            "skip_reasons": SKIP_REASONS, "cases": cases}


def main() -> None:
    OUT.write_text(json.dumps(build(record(Path(sys.argv[1]))), indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
