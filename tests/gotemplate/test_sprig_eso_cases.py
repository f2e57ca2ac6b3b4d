"""Sprig's and ESO's own test cases (ported as data by port_sprig.py and port_eso.py) against our engine.

Every applicable case must pass (at least 98% per source, and each not in ``KNOWN_DIFFERENCES``); skips come
from each port's closed list. Sprig's cases also run through the Go oracle (Debian's Sprig 3.2.3, older than
the version ESO vendors): the cases where 3.2.3 differs are listed in ``ORACLE_DIFFERS``.
"""

from __future__ import annotations

from collections import Counter

import pytest

from acr_refresh.gotemplate import StringMap, TemplateError, parse

from .port_sprig import SKIP_REASONS as SPRIG_SKIPS
from .sprig_conformance import ESO, SPRIG, load, report, run_all, run_case

KNOWN_DIFFERENCES: frozenset[tuple[str, str]] = frozenset()  # (source, template); none today
# Sprig 3.2.3 (the oracle) vs the Sprig ESO vendors (8cb06fe3c8b0): functions added since
ORACLE_DIFFERS = {'{{"abc" | sha512sum}}': "sha512sum is newer than Sprig 3.2.3"}
SPRIG_CASES = load(SPRIG)["cases"]
ESO_CASES = load(ESO)["cases"]


def test_sprig_skips_come_from_the_closed_list() -> None:
    reasons = Counter(c["skip"] for c in SPRIG_CASES if "skip" in c)
    assert set(reasons) <= set(SPRIG_SKIPS)
    assert len(SPRIG_CASES) - sum(reasons.values()) >= 330  # the port must not quietly lose cases


@pytest.mark.parametrize("case", [c for c in SPRIG_CASES if "skip" not in c],
                         ids=lambda c: f"{c['test']}:{c['template'][:40]}")
def test_sprig_case(case: dict) -> None:  # type: ignore[type-arg]
    outcome = run_case("sprig tests", case)
    assert outcome.status == "pass" or ("sprig tests", case["template"]) in KNOWN_DIFFERENCES, outcome.detail


@pytest.mark.parametrize("case", [c for c in ESO_CASES if "skip" not in c], ids=lambda c: c["name"])
def test_eso_case(case: dict) -> None:  # type: ignore[type-arg]
    outcome = run_case("ESO template/v2", case)
    assert outcome.status == "pass" or ("ESO template/v2", case["template"]) in KNOWN_DIFFERENCES, outcome.detail


def test_pass_rate_at_least_98_percent_per_source() -> None:
    outcomes = run_all()
    by: dict[str, Counter[str]] = {}
    for o in outcomes:
        by.setdefault(o.source, Counter())[o.status] += 1
    assert set(by) == {"sprig tests", "ESO template/v2"}
    for source, n in by.items():
        assert n["pass"] >= 0.98 * (n["pass"] + n["fail"]), f"{source}\n{report(outcomes, verbose=True)}"


def test_missingkey_cases_fail_in_esos_mode() -> None:
    """The cases skipped as missingkey-default fail here as they do in ESO (missingkey=error)."""
    cases = [c for c in SPRIG_CASES if c.get("skip") == "missingkey-default"]
    assert cases
    for c in cases:
        with pytest.raises(TemplateError, match="map has no entry for key"):
            parse(c["template"]).execute(c["data"] if not c["strmap"] else StringMap(c["data"]))


def test_sprig_cases_in_real_go(go_oracle) -> None:  # type: ignore[no-untyped-def]
    """Each applicable Sprig case through real Go + Debian's Sprig 3.2.3: the same, except ORACLE_DIFFERS."""
    differs = {}
    for c in SPRIG_CASES:
        if "skip" in c:
            continue
        go = go_oracle.render(c["template"], c["data"], strmap=c["strmap"], missingkey="error")
        if not go.ok or go.out.decode("utf-8", "surrogateescape") != c["want"]:
            differs[c["template"]] = go.error
    assert set(differs) == set(ORACLE_DIFFERS), differs


def test_every_eso_v2_function_is_supported_or_refused() -> None:
    """eso_v2_functions.txt: the names of ESO v2.9.0's function map (its own and its vendored Sprig's)."""
    from pathlib import Path

    from acr_refresh.gotemplate import BUILTINS, ESO_OWN, FUNCTIONS, REFUSED, SPRIG
    from acr_refresh.gotemplate import ESO as ESO_MAP

    names = set((Path(__file__).parent / "eso_v2_functions.txt").read_text().split())
    assert len(names) == 227
    assert names <= FUNCTIONS
    assert set(ESO_MAP) == names | set(BUILTINS)  # nothing more than ESO has, either
    assert set(ESO_OWN) | set(SPRIG) == names
    assert set(REFUSED) == {"env", "expandenv", "getHostByName"} and not set(REFUSED) & FUNCTIONS


@pytest.mark.parametrize("name", ["env", "expandenv", "getHostByName"])
def test_refused_functions_name_the_reason(name: str) -> None:
    from acr_refresh.gotemplate import REFUSED, TemplateSyntaxError

    with pytest.raises(TemplateSyntaxError, match=f'unsupported function "{name}": {REFUSED[name]}'):
        parse(f'{{{{ {name} "x" }}}}')


def test_soft_failures_are_reported_without_values() -> None:
    soft: list[str] = []
    out = parse('{{ .a | b64dec }}|{{ .a | fromJson }}|{{ .a | fromYaml }}|{{ .a | hexdec }}').execute(
        StringMap({"a": "s3cr3t: ["}), soft_failures=soft)
    assert out.startswith("illegal base64 data at input byte 6|<no value>|map[Error:")
    assert [s.split(": ")[2] for s in soft] == ["b64dec", "fromJson", "fromYaml", "hexdec"]
    assert not any("s3cr3t" in s for s in soft)
