"""Differential fuzzing: templates and data generated from the grammar, rendered by our engine and real Go.

Both must give the same output bytes, or both fail in the same phase (parse or execution). ESO's mode
throughout: ``missingkey=error`` and Sprig's functions; data a map[string]string, or JSON-shaped values
(what ``fromJson`` and ``dict`` produce). Excluded from the grammar, each for a documented reason
(docs/templates.md): features newer than the oracle's Go 1.19 (range over an int, ``else with``) and the
Sprig functions whose semantics belong to part 2 (``b64dec`` and ``fromJson`` on bad input, Sprig's ``slice``).
Shrunk counterexamples become rows in ``DIFFERENTIAL_CASES``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acr_refresh.gotemplate import (
    BUILTINS,
    ESO,
    FUNCTIONS,
    SPRIG,
    StringMap,
    TemplateExecError,
    TemplateSyntaxError,
    parse,
)
from acr_refresh.gotemplate.values import to_bytes

from .oracle import GoResult, Oracle

KEYS = ("a", "b", "username", "password", "n")
PART1_FUNCS = {"quote", "squote", "upper", "lower", "trim", "trimAll", "trimPrefix", "trimSuffix", "replace",
               "nospace", "indent", "nindent", "contains", "hasPrefix", "hasSuffix", "split", "splitList", "join",
               "cat", "toString", "b64enc", "toJson", "toRawJson", "toPrettyJson", "sha256sum", "default", "empty",
               "coalesce", "ternary", "list", "dict", "get", "hasKey"} - {"b64dec", "fromJson", "slice"}
FUZZ_ALL_SPRIG = False  # the wider set is for longer local runs; see docs/templates.md
# Deterministic functions that Debian's Sprig 3.2.3 (the oracle) has with ESO's semantics: not ESO's own
# (the oracle lacks them), not randomness or time, not what changed since 3.2.3, nothing slow (key generation).
_NOT_FUZZED = {"b64dec", "fromJson", "slice", "mustSlice", "camelcase", "snakecase", "kebabcase", "shuffle", "now",
               "ago", "date", "dateInZone", "date_in_zone", "htmlDate", "htmlDateInZone", "durationRound", "toDate",
               "mustToDate", "dateModify", "date_modify", "mustDateModify", "must_date_modify", "unixEpoch", "uuidv4",
               "randAlphaNum", "randAlpha", "randAscii", "randNumeric", "randInt", "randBytes", "bcrypt", "htpasswd",
               "genPrivateKey", "derivePassword", "buildCustomCert", "genCA", "genCAWithKey", "genSelfSignedCert",
               "genSelfSignedCertWithKey", "genSignedCert", "genSignedCertWithKey", "encryptAES", "decryptAES",
               "semver", "semverCompare", "toDecimal", "seq", "round", "regexSplit", "mustRegexSplit", "fail",
               "repeat", "until", "untilStep", "indent", "nindent", "wrap", "wrapWith", "urlParse", "urlJoin"}
FUZZ_FUNCS = sorted(set(BUILTINS) | {n for n in FUNCTIONS if n in PART1_FUNCS} | (set(SPRIG) - _NOT_FUZZED
                    if FUZZ_ALL_SPRIG else set()))
EXAMPLES = 300  # per test: bounded so `make test` stays quick (about 8 s for both on 2 cores)


def ours(template: str, data: Any, strmap: bool) -> tuple[str, bytes]:
    try:
        tpl = parse(template, name="t")
    except TemplateSyntaxError:
        return "parse", b""
    try:
        out = tpl.execute(StringMap(data) if strmap else data)
    except TemplateExecError:
        return "exec", b""
    return "ok", to_bytes(out)


def theirs(go: GoResult) -> tuple[str, bytes]:
    return ("ok", go.out) if go.ok else (go.phase, b"")


def agree(oracle: Oracle, template: str, data: Any, strmap: bool = True) -> None:
    go = oracle.render(template, data, strmap=strmap)
    assert ours(template, data, strmap) == theirs(go), f"Go: {go.error or go.out!r}"


# ------------------------------------------------------------------------------------------ the grammar

_text = st.sampled_from(["", "x", " ", "\n", "a-b", "{", "}", "é", "\t "])
_string_body = st.text(st.sampled_from(list("ab %dsvqxT01-\\\"'é\n")), max_size=6)


@st.composite
def _string_lit(draw: st.DrawFn) -> str:
    body = draw(_string_body)
    kind = draw(st.sampled_from(["quoted", "raw", "escape"]))
    if kind == "raw":
        return "`" + body.replace("`", "") + "`"
    if kind == "escape":
        return '"' + draw(st.sampled_from(["\\n", "\\t", "\\x41", "\\u00e9", "\\101", "\\\\", "\\\""])) + body \
            .replace("\\", "").replace('"', "").replace("\n", "") + '"'
    return json.dumps(body, ensure_ascii=False)


_number = st.sampled_from(["0", "1", "-1", "3", "42", "1.5", "-0.5", "2.0", "1e3", "0x1F", "0o17", "017", "0b101",
                           "1_000", "'a'", "'\\n'", "0x1.8p1", "1e100", "123456789.0", "9223372036854775807",
                           "1i", "2+3i", "0.1"])
_scalar = st.one_of(_number, _string_lit(), st.sampled_from(["true", "false", "nil"]))


@st.composite
def _operand(draw: st.DrawFn, depth: int, vars_: tuple[str, ...]) -> str:
    choices = ["field", "scalar", "dot", "root"] + (["var"] if vars_ else []) + (["paren"] if depth < 2 else [])
    kind = draw(st.sampled_from(choices))
    if kind == "field":
        return "." + draw(st.sampled_from((*KEYS, "m", "l", "m.k")))
    if kind == "scalar":
        return draw(_scalar)
    if kind == "dot":
        return "."
    if kind == "root":
        return draw(st.sampled_from(["$", "$." + KEYS[0], "$.password"]))
    if kind == "var":
        return draw(st.sampled_from(vars_)) + draw(st.sampled_from(["", "", ".k"]))
    return "(" + draw(_pipeline(depth + 1, vars_)) + ")"


@st.composite
def _command(draw: st.DrawFn, depth: int, vars_: tuple[str, ...], first: bool = True) -> str:
    if first and draw(st.booleans()):
        return draw(_operand(depth, vars_))
    name = draw(st.sampled_from(FUZZ_FUNCS))
    lo, _hi = ESO[name].arity
    want = lo - (0 if first else 1)  # a piped value is the last argument
    n = draw(st.sampled_from([max(want, 0)] * 3 + [max(want, 0) + 1, 0]))
    args = [draw(_operand(depth, vars_)) for _ in range(min(n, 3))]
    return " ".join([name, *args])


@st.composite
def _pipeline(draw: st.DrawFn, depth: int, vars_: tuple[str, ...]) -> str:
    cmds = [draw(_command(depth, vars_)), *draw(st.lists(_command(depth, vars_, first=False), max_size=2))]
    return " | ".join(cmds)


@st.composite
def _items(draw: st.DrawFn, depth: int, vars_: tuple[str, ...]) -> str:
    out: list[str] = []
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["text", "action", "action", "decl", "assign", "comment"]
                                    + (["if", "with", "range"] if depth < 2 else [])))
        lt, rt = draw(st.sampled_from(["{{", "{{- "])), draw(st.sampled_from(["}}", " -}}"]))
        if kind == "text":
            out.append(draw(_text))
        elif kind == "comment":
            out.append(lt + "/* c */" + rt)
        elif kind == "action":
            out.append(f"{lt} {draw(_pipeline(0, vars_))} {rt}")
        elif kind == "decl":
            name = draw(st.sampled_from(["$x", "$y"]))
            out.append(f"{lt} {name} := {draw(_pipeline(0, vars_))} {rt}")
            vars_ = (*vars_, name)
        elif kind == "assign" and vars_:
            out.append(f"{lt} {draw(st.sampled_from(vars_))} = {draw(_pipeline(0, vars_))} {rt}")
        elif kind in ("if", "with", "range"):
            head = draw(_pipeline(0, vars_))
            if kind == "range":  # a collection (range over an int is Go 1.22, newer than the oracle)
                head = draw(st.sampled_from([".a", ".l", ".m", "$", ".", "(list 1 2)", '(splitList "," .a)',
                                             '(dict "k" 1 "a" 2)', "(list)"]))
            if kind == "range" and draw(st.booleans()):
                head = "$i, $e := " + head
            inner = (*vars_, "$i", "$e") if head.startswith("$i") else vars_
            body = draw(_items(depth + 1, inner))
            jump = draw(st.sampled_from(["", "", "{{ break }}", "{{ continue }}"])) if kind == "range" else ""
            else_ = draw(st.sampled_from(["", "{{ else }}E"]))
            if kind == "if" and draw(st.booleans()):
                else_ = "{{ else if " + draw(_pipeline(0, vars_)) + " }}F" + else_
            out.append(f"{{{{ {kind} {head} }}}}{body}{jump}{else_}{{{{ end }}}}")
    return "".join(out)


@st.composite
def templates(draw: st.DrawFn) -> str:
    body = draw(_items(0, ()))
    if draw(st.integers(0, 4)) == 0:
        inner = draw(_items(1, ()))
        arg = draw(st.sampled_from(["", " .", " $.a", " 1"]))
        body = f'{{{{ define "d" }}}}{inner}{{{{ end }}}}' + body + f'{{{{ template "d"{arg} }}}}'
    return body


_values = st.text(st.sampled_from(list("ab01 -_=+/é{}\":,[]")), max_size=8) | st.sampled_from(
    ["", "0", "1", "true", "false", "3.5", "YWJj", '{"k": 1}', "a,b", "x\ny"])
_strmap = st.fixed_dictionaries({"a": _values, "password": _values}, optional=dict.fromkeys(KEYS[1:3], _values))

_json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-5, 300),
                       st.sampled_from([0.0, 0.5, -1.25, 1e21, 1e-7, 3.0, 123456789.0]), _values)
_json = st.recursive(_json_leaf, lambda c: st.lists(c, max_size=3) | st.dictionaries(
    st.sampled_from(("k", "a", "b")), c, max_size=3), max_leaves=6)
_json_data = st.fixed_dictionaries({"a": _json, "m": st.dictionaries(st.sampled_from(("k", "a")), _json, max_size=2)},
                                   optional={k: _json for k in (*KEYS[1:], "l")})


_SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                            HealthCheck.function_scoped_fixture])


@_SETTINGS
@given(template=templates(), data=_strmap)
def test_differential_eso_data(go_oracle: Oracle, template: str, data: dict[str, str]) -> None:
    agree(go_oracle, template, data)


@_SETTINGS
@given(template=templates(), data=_json_data)
def test_differential_json_data(go_oracle: Oracle, template: str, data: dict[str, Any]) -> None:
    agree(go_oracle, template, data, strmap=False)


# Shrunk counterexamples from the fuzz above (and hand-written neighbours), kept as regression rows.
DIFFERENTIAL_CASES: list[tuple[str, Any, bool]] = [
    ('{{ hasKey . "username" }}', {"username": "u"}, True),
    ('{{ index . "nope" }}|{{ len . }}|{{ . }}', {"a": "1"}, True),
    ("{{ printf \"%d %s %v %T\" 1 2 nil . }}", {"a": "x"}, True),
    ('{{ printf "%s" }}{{ printf "x" 1 "y" nil }}', {}, True),
    ("{{ 0x1.ep+2 }} {{ 1+2i }} {{ printf \"%T %T\" 1+2i 0x1p-2 }}", {}, True),
]


@pytest.mark.parametrize(("template", "data", "strmap"), DIFFERENTIAL_CASES)
def test_differential_rows(go_oracle: Oracle, template: str, data: Any, strmap: bool) -> None:
    agree(go_oracle, template, data, strmap)
