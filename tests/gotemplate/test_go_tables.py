"""Go's own text/template test tables (go_tables.json, ported by port.py) against our engine.

Every applicable case must pass except those in ``KNOWN_DIFFERENCES`` (each explained in docs/templates.md);
skips come only from port.py's closed list of reasons, and are counted.
"""

from __future__ import annotations

from collections import Counter

import pytest

from .conformance import load, report, run_all, run_case
from .port import SKIP_REASONS

KNOWN_DIFFERENCES: frozenset[tuple[str, str]] = frozenset()  # (source, name); none today
CASES = load()["cases"]


def test_skips_come_from_the_closed_list_and_are_counted() -> None:
    reasons = Counter(c["skip"] for c in CASES if "skip" in c)
    assert set(reasons) <= set(SKIP_REASONS)
    assert set(load()["skip_reasons"]) == set(SKIP_REASONS)
    applicable = len(CASES) - sum(reasons.values())
    assert applicable >= 490  # the port must not quietly lose cases


@pytest.mark.parametrize("case", [c for c in CASES if "skip" not in c], ids=lambda c: f"{c['source']}:{c['name']}")
def test_go_case(case: dict) -> None:  # type: ignore[type-arg]
    outcome = run_case(case)
    if (case["source"], case["name"]) in KNOWN_DIFFERENCES:
        assert outcome.status == "fail", "a known difference now passes: remove it from the list and the docs"
    else:
        assert outcome.status == "pass", outcome.detail


def test_pass_rate_at_least_98_percent_per_source() -> None:
    outcomes = run_all()
    by: dict[str, Counter[str]] = {}
    for o in outcomes:
        by.setdefault(o.source, Counter())[o.status] += 1
    for source, n in by.items():
        assert n["pass"] >= 0.98 * (n["pass"] + n["fail"]), f"{source}\n{report(outcomes, verbose=True)}"


def test_applicability_agrees_with_real_go(go_oracle) -> None:  # type: ignore[no-untyped-def]
    """Spot-check port.py's judgement with the oracle: applicable cases render in real Go as the table says."""
    checked = 0
    for c in CASES:
        if "skip" in c or c["source"] not in ("execTests", "cmpTests") or c.get("defines"):
            continue
        text = c["template"]
        if any(f in text for f in ("typeOf", "add ", "echo", "makemap", "mapOfThree", "oneArg", "twoArgs", "die",
                                   "dddArg", "count", "returnInt", "valueString", "zeroArgs", "vfunc", "stringer",
                                   "slice")):
            continue  # test-only helpers and Go's slice are not in the ESO oracle
        go = go_oracle.render(text, c["data"], strmap=False, missingkey="default")
        assert go.ok == c["ok"], (c["name"], go.error)
        if go.ok:
            assert go.out.decode() == c["want"], c["name"]
        checked += 1
    assert checked > 200
