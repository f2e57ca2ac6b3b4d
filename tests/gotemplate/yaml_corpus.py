"""The toYaml / fromYaml corpus: inputs here, the Go oracle's outputs recorded in ``yaml_corpus.json``.

Each case is a template rendered in ESO's mode (``missingkey=error``) with ``data``: a map[string]string when
``strmap`` (ESO's data; numbers then reach ``toYaml`` only through ``fromJson``/``fromYaml`` as float64, or
through template literals and Sprig as int/int64/float64), otherwise JSON-typed data (ints as Go int, other
numbers float64) for the shapes ESO's data cannot hold directly. Record (needs Go; see
scripts/build-go-oracle.sh yaml)::

    .venv/bin/python -m tests.gotemplate.yaml_corpus
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "yaml_corpus.json"

Case = dict[str, Any]


def _val(name: str, value: Any, note: str = "") -> Case:
    """``toYaml`` of a JSON-typed value (not ESO data as such: see ``note``)."""
    return {"name": name, "template": "{{ toYaml .v }}", "data": {"v": value}, "strmap": False,
            "note": note or "typed data: in ESO such values come from fromJson, dict, list or literals"}


def _json(name: str, text: str) -> Case:
    """ESO's path for structured data: a secret value through fromJson (numbers become float64)."""
    return {"name": name, "template": "{{ .v | fromJson | toYaml }}", "data": {"v": text}, "strmap": True, "note": ""}


def _yaml(name: str, text: str, template: str = "{{ .v | fromYaml | toYaml }}") -> Case:
    return {"name": name, "template": template, "data": {"v": text}, "strmap": True, "note": ""}


def _str(name: str, s: str) -> Case:
    """A secret value as ESO holds it: a string in map[string]string."""
    return {"name": name, "template": "{{ toYaml . }}", "data": {"k": s}, "strmap": True, "note": ""}


def _tpl(name: str, template: str, note: str = "") -> Case:
    return {"name": name, "template": template, "data": {}, "strmap": True, "note": note}


WORDS = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore"

STRINGS: list[tuple[str, str]] = [
    ("empty", ""), ("plain", "hello"), ("space-inside", "hello world"), ("leading-space", " x"),
    ("trailing-space", "x "), ("only-spaces", "   "),
    ("long-no-spaces", "x" * 200), ("long-words", WORDS * 3), ("long-words-exact-80", ("a" * 9 + " ") * 8),
    ("long-words-81", ("a" * 9 + " ") * 8 + "b"), ("long-double-spaces", ("word  " * 30).strip()),
    ("long-space-at-80", "a" * 79 + " " + "b" * 40), ("long-space-at-81", "a" * 80 + " " + "b" * 40),
    ("long-with-colon", ("key: value " * 12).strip()), ("long-with-hash", ("a #b " * 25).strip()),
    ("long-quoted-needed", "'" + WORDS * 2), ("long-tab", ("a\tb " * 30).strip()),
    ("multiline", "a\nb"), ("multiline-trailing-nl", "a\nb\n"), ("multiline-two-trailing-nl", "a\nb\n\n"),
    ("multiline-leading-space", " a\nb"), ("multiline-leading-nl", "\na"), ("multiline-trailing-space", "a \nb"),
    ("multiline-space-before-nl-end", "a\nb \n"), ("multiline-tab", "a\tb\nc"), ("multiline-crlf", "a\r\nb"),
    ("multiline-long-line", "first\n" + WORDS * 2 + "\nlast"), ("only-newline", "\n"), ("two-newlines", "\n\n"),
    ("pem", "-----BEGIN CERTIFICATE-----\nMIIB\nAAAA\n-----END CERTIFICATE-----\n"),
    ("cr-only", "a\rb"),
    ("true", "true"), ("True", "True"), ("yes", "yes"), ("y", "y"), ("Y", "Y"), ("n", "n"), ("no", "no"),
    ("on", "on"), ("off", "off"), ("OFF", "OFF"), ("null", "null"), ("Null", "Null"), ("tilde", "~"),
    ("int", "123"), ("neg-int", "-5"), ("plus-int", "+5"), ("octal-like", "0755"), ("octal-8", "089"),
    ("hex", "0x1F"), ("hex-bad", "0xZZ"), ("bin", "0b101"), ("octal-0o", "0o17"), ("underscore-int", "1_000"),
    ("float", "1.5"), ("float-exp", "1e3"), ("float-dot", ".5"), ("float-trailing-dot", "5."),
    ("inf", ".inf"), ("Inf-word", "Inf"), ("nan", ".nan"), ("NaN-word", "NaN"), ("infinity", "infinity"),
    ("neg-inf", "-.inf"), ("base60", "1:20"), ("base60-float", "190:20:30.15"), ("time-like", "12:30:45"),
    ("date", "2001-12-14"), ("date-short", "2001-1-2"), ("date-bad-day", "2001-02-30"),
    ("datetime", "2001-12-14T21:59:43.10-05:00"), ("datetime-z", "2001-12-14t21:59:43Z"),
    ("datetime-space", "2001-12-14 21:59:43.10"), ("datetime-space-tz", "2001-12-14 21:59:43.10 -5"),
    ("year-only", "2001"), ("version", "1.2.3"), ("merge", "<<"), ("equals", "="),
    ("colon-end", "a:"), ("colon-space", "a: b"), ("colon-no-space", "a:b"), ("url", "http://x.example/a?b=c#d"),
    ("hash-start", "#x"), ("hash-inside", "a #b"), ("hash-no-space", "a#b"), ("dash", "-"), ("dash-space", "- x"),
    ("dash-start", "-x"), ("question", "?"), ("question-x", "?x"), ("star", "*x"), ("amp", "&x"), ("bang", "!x"),
    ("pipe", "|"), ("gt", ">x"), ("percent", "%x"), ("at", "@x"), ("backtick", "`x"), ("comma", "a,b"),
    ("brackets", "[a]"), ("braces", "{a}"), ("bracket-inside", "a[b]"), ("single-quote", "it's"),
    ("double-quote", 'say "hi"'), ("quote-start", "'x'"), ("dquote-start", '"x"'), ("backslash", "a\\b"),
    ("tab", "\t"), ("tab-inside", "a\tb"), ("nul", "a\x00b"), ("bell", "\x07"), ("esc", "\x1b[0m"),
    ("del", "\x7f"), ("nel", "a\x85b"), ("nbsp", "a\xa0b"), ("ls", "a\u2028b"), ("bom", "\ufeffx"),
    ("unicode", "héllo wörld"), ("cjk", "秘密の値"), ("emoji", "key 🔑"), ("rtl", "שלום"),
    ("unicode-long", "é" * 100), ("unicode-words-long", ("ünïcödé " * 15).strip()),
    ("private-use", "\ue000"), ("fffe", "\ufffe"), ("surrogate-range-astral", "\U0001F600"),
    ("html", "<a href='x'>&amp;</a>"), ("json-text", '{"a": 1}'), ("docstart", "---"), ("docend", "..."),
    ("docstart-x", "--- x"),
]


def cases() -> list[Case]:
    out: list[Case] = []
    for name, s in STRINGS:
        out.append(_str("str/" + name, s))
    for name, s in [("multiline", "a\nb"), ("empty", ""), ("yes", "yes"), ("long", WORDS * 2),
                    ("colon", "a: b"), ("number", "12")]:
        out.append({"name": "key/" + name, "template": "{{ toYaml . }}", "data": {s: "v"}, "strmap": True,
                    "note": "a secret key (ESO's keys are strings)"})
    out += [
        {"name": "map/key-order", "template": "{{ toYaml . }}", "strmap": True, "note": "natural order",
         "data": {k: "v" for k in ["b", "a", "a10", "a2", "a1", "A", "_x", "1", "10", "2", "02", "a02", "a002",
                                   "Z", "z", "é", "ab", "a-b", "a.b", "a b", "00", "0", "x99999999999999999999",
                                   "x9999999999999999999"]}},
        {"name": "map/empty", "template": "{{ toYaml . }}", "data": {}, "strmap": True, "note": ""},
        _json("json/numbers", '{"i": 1, "f": 1.0, "half": 0.5, "tenth": 0.1, "third": 0.3333333333333333, '
                              '"neg": -2.5, "big": 1e21, "big20": 1e20, "tiny": 1e-7, "small": 0.000001, '
                              '"mil": 1234567.5, "i53": 9007199254740993, "i64": 9223372036854775807, '
                              '"u64": 18446744073709551615, "over": 18446744073709551616, "negz": -0.0, '
                              '"exp6": 1000000, "e100": 1e100, "fmax": 1.7976931348623157e308, "fmin": 5e-324}'),
        _json("json/nested", '{"a": {"b": {"c": [1, [2, 3], {"d": null}], "e": []}, "f": {}}, "g": [[]], '
                             '"h": [{}], "i": [{"x": 1, "y": 2}, "s"]}'),
        _json("json/bools-null", '{"t": true, "f": false, "n": null}'),
        _json("json/list-top", '[1, "a", null, true, {"k": "v"}]'),
        _json("json/list-of-lists", '[[1, 2], [[3]], []]'),
        _json("json/strings", '{"multi": "line1\\nline2\\n", "long": "' + WORDS * 2 + '", "empty": "", '
                              '"yes": "yes", "num": "1.0", "tab": "a\\tb", "uni": "\\u00e9\\u2028"}'),
        _json("json/string-top", '"just a string"'),
        _json("json/number-top", "42.5"),
        _json("json/null-top", "null"),
        _json("json/map-in-list-multiline", '[{"a": "x\\ny", "b": [{"c": "d"}]}]'),
        _json("json/deep-long", '{"a": {"b": {"c": {"d": "' + WORDS * 2 + '"}}}}'),
        _val("typed/int", 3), _val("typed/float", 2.5), _val("typed/neg-zero-float", -0.0),
        _val("typed/float-integral", 4.0), _val("typed/nil", None), _val("typed/bool", True),
        _val("typed/list", [1, 2.5, "x", None, False]), _val("typed/empty-list", []), _val("typed/empty-map", {}),
        _val("typed/big-int", 9223372036854775807), _val("typed/neg-big-int", -9223372036854775808),
        _tpl("tpl/list-literals", "{{ list 1 2.5 \"x\" nil true | toYaml }}"),
        _tpl("tpl/dict", '{{ dict "b" 1 "a" (list "x" "y") "c" (dict) | toYaml }}'),
        _tpl("tpl/int64", "{{ add 1 2 | toYaml }}"),
        _tpl("tpl/float-NaN", '{{ float64 "NaN" | toYaml }}', "NaN: json.Marshal fails, so toYaml is empty"),
        _tpl("tpl/float-Inf-in-list", '{{ list (float64 "+Inf") | toYaml }}', "Inf: json.Marshal fails"),
        _tpl("tpl/divf", "{{ divf 1 3 | toYaml }}"),
        _tpl("tpl/splitList", '{{ splitList "," "a,b,,c" | toYaml }}', "a []string"),
        _tpl("tpl/string", '{{ "plain" | toYaml }}'),
        _tpl("tpl/nil", "{{ toYaml nil }}"),
        _tpl("tpl/nindent", '{{ dict "a" (list 1 2) | toYaml | nindent 2 }}', "the common Helm-style use"),
        _yaml("yaml/roundtrip", "b: 1\na: [x, y]\nc:\n  d: 1.50\n  e: yes\n  f: ~\n  g: 2001-12-14\n"
                                "  h: 0x1F\n  i: 012\n  j: 1_000\n  k: .inf\n  l: 'quoted'\n"),
        _yaml("yaml/block-scalars", "lit: |\n  one\n  two\nfold: >\n  one\n  two\nkeep: |+\n  x\n\n"),
        _yaml("yaml/non-string-keys", "1: a\ntrue: b\n1.5: c\nnull: d\n"),
        _yaml("yaml/anchors", "a: &x {k: v}\nb: *x\n"),
        _yaml("yaml/merge", "base: &b {x: 1}\nd:\n  <<: *b\n  y: 2\n"),
        _yaml("yaml/big-ints", "a: 12345678901234567890\nb: 9007199254740993\nc: -9223372036854775808\n"),
        _yaml("yaml/empty-doc", ""),
        _yaml("yaml/list-doc", "- a\n- b\n"),
        _yaml("yaml/scalar-doc", "hello\n"),
        _yaml("yaml/bad", "a: [\n"),
        _yaml("yaml/bad-indent", "a: b\n c: d\n"),
        _yaml("yaml/tab-indent", "a:\n\tb: c\n"),
        _yaml("yaml/error-text", "a: [\n", "{{ (.v | fromYaml).Error }}"),
        _yaml("yaml/error-list", "- a\n", "{{ (.v | fromYaml).Error }}"),
        _yaml("yaml/error-scalar", "hello\n", "{{ (.v | fromYaml).Error }}"),
        _yaml("yaml/error-dup", "a: 1\na: 2\n", "{{ .v | fromYaml | toYaml }}"),
        _yaml("yaml/binary-tag", "a: !!binary aGVsbG8=\n"),
        _yaml("yaml/float-tag", "a: !!float 1\nb: !!str 1\n"),
        _yaml("yaml/multi-doc", "a: 1\n---\nb: 2\n"),
    ]
    return out


def build_yaml() -> Path:
    """Build (or reuse) the YAML oracle: the oracle plus ESO's toYaml/fromYaml over sigs.k8s.io/yaml."""
    import subprocess

    from .oracle import BUILD_SCRIPT, OracleError

    try:
        done = subprocess.run(["bash", str(BUILD_SCRIPT), "yaml"], capture_output=True, text=True, timeout=1800)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise OracleError(f"could not run {BUILD_SCRIPT}: {exc}") from exc
    if done.returncode != 0:
        tail = "\n".join(done.stderr.splitlines()[-20:])
        raise OracleError(f"{BUILD_SCRIPT.name} yaml failed (exit {done.returncode}); needs Debian golang-1.19-go, "
                          f"golang-github-masterminds-sprig-dev, golang-k8s-sigs-yaml-dev:\n{tail}")
    return Path(done.stdout.strip().splitlines()[-1])


def record() -> None:
    from .oracle import Oracle

    rows = []
    with Oracle(build_yaml()) as oracle:
        for case in cases():
            go = oracle.render(case["template"], case["data"], strmap=case["strmap"])
            row = dict(case)
            row["go"] = {"ok": True, "out": go.out.decode("utf-8")} if go.ok else \
                {"ok": False, "phase": go.phase, "error": go.error}
            rows.append(row)
    CORPUS.write_text(json.dumps({"about": "toYaml/fromYaml cases (tests/gotemplate/yaml_corpus.py) with the "
                                  "outputs of ESO v2.9.0's functions over sigs.k8s.io/yaml (Go oracle)",
                                  "cases": rows}, indent=1, ensure_ascii=False) + "\n")
    print(f"recorded {len(rows)} cases in {CORPUS}", file=sys.stderr)


if __name__ == "__main__":
    record()
