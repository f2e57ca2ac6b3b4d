"""toYaml and fromYaml against ESO's own (sigs.k8s.io/yaml over yaml.v2), case by case.

``yaml_corpus.json`` holds the Go oracle's outputs for the inputs of ``yaml_corpus.py``, so the first test needs
no Go; the second re-runs the oracle (scripts/build-go-oracle.sh yaml) and skips, with the reason, where it
cannot be built.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from acr_refresh.gotemplate import StringMap, TemplateExecError, TemplateSyntaxError, parse
from acr_refresh.gotemplate.values import to_bytes

from .oracle import Oracle, OracleError
from .yaml_corpus import CORPUS, build_yaml, cases

RECORDED: list[dict[str, Any]] = json.loads(CORPUS.read_text(encoding="utf-8"))["cases"]
# Where we still differ from ESO, each with its reason (docs/templates.md, toYaml): strict, so a fix shows.
KNOWN_DIFFERENCES = {
    "str/bom": "yaml.v2 escapes the character after a U+FEFF inside a string as well (\\uFEFF\\x78); we write it",
    "yaml/non-string-keys": "Python's dict merges keys 1 and true, and a null key is no error for us (ESO: "
                            "'Unsupported map key'); fromYaml's error text",
    "yaml/bad": "fromYaml's Error text: PyYAML's parser words and places this syntax error differently from libyaml's",
    "yaml/tab-indent": "fromYaml's Error text: PyYAML names the tab in its message, libyaml does not",
    "yaml/error-text": "fromYaml's Error text, as yaml/bad",
}


def ours(case: dict[str, Any]) -> dict[str, Any]:
    try:
        out = parse(case["template"], name="t").execute(StringMap(case["data"]) if case["strmap"] else case["data"])
    except TemplateSyntaxError as exc:
        return {"ok": False, "phase": "parse", "error": str(exc)}
    except TemplateExecError as exc:
        return {"ok": False, "phase": "exec", "error": str(exc)}
    return {"ok": True, "out": to_bytes(out).decode("utf-8")}


def test_corpus_is_current() -> None:
    """The recorded inputs are the corpus's inputs (re-record after changing yaml_corpus.py)."""
    assert [{k: v for k, v in c.items() if k != "go"} for c in RECORDED] == cases()


@pytest.mark.parametrize("case", [pytest.param(c, marks=pytest.mark.xfail(reason=KNOWN_DIFFERENCES[c["name"]],
                                                                          strict=True))
                                  if c["name"] in KNOWN_DIFFERENCES else c for c in RECORDED],
                         ids=[c["name"] for c in RECORDED])
def test_matches_recorded_go(case: dict[str, Any]) -> None:
    got, want = ours(case), case["go"]
    if want["ok"]:
        assert got == want
    else:
        assert not got["ok"] and got["phase"] == want["phase"]


def test_oracle_still_agrees() -> None:
    try:
        binary = build_yaml()
    except OracleError as exc:
        pytest.skip(f"the YAML Go oracle cannot be built here: {str(exc).splitlines()[0]}")
    with Oracle(binary) as oracle:
        for case in RECORDED:
            go = oracle.render(case["template"], case["data"], strmap=case["strmap"])
            now = {"ok": True, "out": go.out.decode("utf-8")} if go.ok else \
                {"ok": False, "phase": go.phase, "error": go.error}
            assert now == case["go"], case["name"]
