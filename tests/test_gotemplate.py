"""Tests for the Go text/template engine: ESO's template cases (re-created), Go semantics, limits, safety."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acr_refresh import gotemplate as gt
from acr_refresh.gotemplate import (
    FUNCTIONS,
    Template,
    TemplateError,
    TemplateExecError,
    TemplateSyntaxError,
    parse,
    render,
)

SECRET = "s3cr3t-P@ss\"word<&>"
DATA = {"registry": "myregistry.azurecr.io", "username": "00000000-0000-0000-0000-000000000000",
        "password": SECRET}


# ------------------------------------------------------------------------------ ESO template_test.go cases

@pytest.mark.parametrize(("source", "data", "want"), [
    ("{{ .secret | b64dec }}", {"secret": "MTIzNA=="}, "1234"),
    ("{{ $var := .secret | fromJson }}{{ $var.foo }}", {"secret": '{"foo": "bar"}'}, "bar"),
    ("{{ $var := .secret | fromJson }}{{ $var.foo | toJson }}", {"secret": '{"foo": {"baz":"bang"}}'},
     '{"baz":"bang"}'),
    ('{{ .conn | replace "postgres://" "db+postgresql://"}}',
     {"conn": "postgres://user:pass@db.host:5432/dbname"}, "db+postgresql://user:pass@db.host:5432/dbname"),
    ("{{ .value | upper }}", {"value": "username"}, "USERNAME"),
    ('{{ "123412341234" | b64enc | b64dec }}', {}, "123412341234"),
    ("{{ .env | b64dec }}", {"env": "ZGV2"}, "dev"),  # ESO's labels/annotations cases
    ("bar", {"key": "foo", "value": "bar"}, "bar"),
    ("{{ .key }}: {{ .value }}", {"key": "foo", "value": "bar"}, "foo: bar"),
])
def test_eso_cases(source: str, data: dict[str, Any], want: str) -> None:
    assert render(source, data) == want


def test_eso_multiline_template() -> None:
    source = ('\ndatasources:\n- name: Graphite\n  type: graphite\n  access: proxy\n  url: http://localhost:8080\n'
              '  password: "{{ .password }}"\n  user: "{{ .user }}"')
    out = render(source, {"user": "foobert", "password": "harharhar"})
    assert out == source.replace("{{ .password }}", "harharhar").replace("{{ .user }}", "foobert")


def test_eso_error_cases() -> None:
    # ESO's Sprig returns the error text for bad base64 and nil for bad JSON (ESO: "silent error"); so do we,
    # and report each as a soft failure, which validate's trial render shows as a warning.
    soft: list[str] = []
    assert parse("{{ .example | b64dec }}").execute({"example": "iam_no_base64"}, soft_failures=soft) == \
        "illegal base64 data at input byte 3"
    assert parse('{{ "{ # no json # }" | fromJson }}').execute({}, soft_failures=soft) == "<no value>"
    assert len(soft) == 2 and "b64dec" in soft[0] and "fromJson" in soft[1]
    assert "iam_no_base64" not in " ".join(soft)  # value-free
    with pytest.raises(TemplateExecError, match="mustFromJson: invalid JSON"):
        render('{{ "{ # no json # }" | mustFromJson }}', {})
    with pytest.raises(TemplateSyntaxError, match=r"template: key:1: "):  # Go's parse errors: line only
        parse("{{ #xx }}", name="key")
    with pytest.raises(TemplateExecError, match=r'template: key:1:4: .*map has no entry for key "unknown"'):
        render("{{ .unknown }}", {}, name="key")


def test_dockerconfigjson() -> None:
    source = ('{"auths":{"{{ .registry }}":{"username":"{{ .username }}","password":"{{ .password }}",'
              '"auth":"{{ printf "%s:%s" .username .password | b64enc }}"}}}')
    data = {"registry": "r.azurecr.io", "username": "user", "password": "pw"}
    doc = json.loads(render(source, data))
    assert doc == {"auths": {"r.azurecr.io": {"username": "user", "password": "pw",
                                              "auth": base64.b64encode(b"user:pw").decode()}}}


def test_dockerconfigjson_with_tojson_escapes_like_go() -> None:
    source = ('{{ $a := printf "%s:%s" .username .password | b64enc }}'
              '{{ dict "auths" (dict .registry (dict "username" .username "password" .password "auth" $a)) '
              '| toJson }}')
    out = render(source, DATA)
    assert '"password":"s3cr3t-P@ss\\"word\\u003c\\u0026\\u003e"' in out
    assert out.startswith('{"auths":{"myregistry.azurecr.io":{"auth":"')  # keys sorted, no spaces
    assert json.loads(out)["auths"][DATA["registry"]]["password"] == SECRET


def test_argocd_style() -> None:
    assert render("{{ .password }}", DATA) == SECRET
    tpl = "url: https://{{ .registry }}\nusername: {{ .username }}\npassword: {{ .password | quote }}\n"
    assert render(tpl, DATA).endswith('password: "s3cr3t-P@ss\\"word<&>"\n')


# --------------------------------------------------------------------------------------------- language

@pytest.mark.parametrize(("source", "want"), [
    ("a  {{- .x -}}  b", "a1b"),
    ("a\n\t {{- .x }} \n b", "a1 \n b"),
    ("a {{ .x -}}\n\n b", "a 1b"),
    ("{{- /* comment */ -}}  x", "x"),
    ("a{{/* c */}}b", "ab"),
    ("{{-3}}", "-3"),
    ("{{ 3 -}} x", "3x"),
    ('{{ "}}" }}', "}}"),
    ("{{ `raw\\n` }}", "raw\\n"),
    ('{{ "tab\\there\\x41\\u00e9\\101" }}', "tab\there\x41\u00e9A"),
    ("{{ 'a' }} {{ 0x1F }} {{ 0o17 }} {{ 017 }} {{ 1_000 }} {{ 1.5 }} {{ 1e3 }} {{ 2.0 }}",
     "97 31 15 15 1000 1.5 1000 2"),
    ("{{ 1e21 }} {{ 0.00001 }} {{ 123456789.0 }} {{ true }} {{ false }}",
     "1e+21 1e-05 1.23456789e+08 true false"),
    ("{{ if .x }}yes{{ end }}", "yes"),
    ("{{ if .zero }}a{{ else if .empty }}b{{ else if .x }}c{{ else }}d{{ end }}", "c"),
    ("{{ if not .empty }}ne{{ else }}e{{ end }}", "ne"),
    ("{{ with .m }}{{ .k }}{{ else }}none{{ end }}{{ with .empty }}x{{ else }}{{ .x }}{{ end }}", "v1"),
    ("{{ with .empty }}{{ else with .m }}{{ .k }}{{ end }}", "v"),
    ("{{ range .list }}[{{ . }}]{{ end }}", "[a][b][c]"),
    ("{{ range $i, $v := .list }}{{ $i }}={{ $v }};{{ end }}", "0=a;1=b;2=c;"),
    ("{{ range $k, $v := .m2 }}{{ $k }}:{{ $v }} {{ end }}", "a:1 b:2 c:3 "),  # sorted like Go
    ("{{ range .emptylist }}x{{ else }}none{{ end }}", "none"),
    ("{{ range $v := .list }}{{ if eq $v \"b\" }}{{ continue }}{{ end }}{{ $v }}{{ end }}", "ac"),
    ("{{ range .list }}{{ if eq . \"b\" }}{{ break }}{{ end }}{{ . }}{{ end }}", "a"),
    ("{{ range 3 }}{{ . }}{{ end }}", "012"),
    ("{{ range .list }}{{ $.x }}{{ end }}", "111"),
    ("{{ $s := \"\" }}{{ range .list }}{{ $s = print $s . }}{{ end }}{{ $s }}", "abc"),
    ("{{ $x := 1 }}{{ if true }}{{ $x := 2 }}{{ $x }}{{ end }}{{ $x }}", "21"),
    ("{{ index .list 1 }} {{ index .m \"k\" }} {{ index .nested \"a\" \"b\" }} {{ index \"AB\" 0 }}",
     "b v 7 65"),
    ("[{{ index . \"no-such-key\" }}] [{{ index .m \"nokey\" }}]", "[<no value>] [<no value>]"),
    ("{{ .nested.a.b }} {{ (.nested).a.b }} {{ $n := .nested }}{{ $n.a.b }}", "7 7 7"),
    ("{{ .null }}|{{ print .null }}|{{ .list }}|{{ .m2 }}|{{ .floaty }}",
     "<no value>|<nil>|[a b c]|map[a:1 b:2 c:3]|0.5"),
    ("{{ len .list }} {{ len \"héllo\" }} {{ len .m }}", "3 6 1"),
    ("{{ and 1 0 2 }} {{ and 1 2 }} {{ or 0 \"\" }} {{ or 0 3 }} {{ not 0 }}", "0 2  3 true"),
    ("{{ or .x (b64dec \"!\") }}", "1"),  # or short-circuits: the bad call is never made
    ("{{ eq .x 1 }} {{ ne .x 1 }} {{ lt 1 2 }} {{ le 2 2 }} {{ gt \"b\" \"a\" }} {{ ge 1.5 2.5 }}",
     "true false true true true false"),
    ("{{ eq .null nil }} {{ eq .x nil }} {{ eq \"a\" \"b\" \"a\" }}", "true false true"),
    ("{{ print 1 2 \"a\" 3 \"b\" \"c\" }}|{{ println 1 \"a\" }}|", "1 2a3bc|1 a\n|"),
    ("{{ html \"<a href='x'>&\" }} {{ js \"it's <b>\" }} {{ urlquery \"a b&c/d\" }}",
     "&lt;a href=&#39;x&#39;&gt;&amp; it\\'s \\u003Cb\\u003E a+b%26c%2Fd"),
    ("{{ .x | print \"v\" }}", "v1"),  # piped value is the last argument
    ("{{ \"a\" | printf \"%s-%s\" \"b\" }}", "b-a"),
])
def test_language(source: str, want: str) -> None:
    data = {"x": 1, "zero": 0, "empty": "", "m": {"k": "v"}, "m2": {"c": 3, "a": 1, "b": 2},
            "list": ["a", "b", "c"], "emptylist": [], "nested": {"a": {"b": 7}}, "null": None, "floaty": 0.5}
    assert render(source, data) == want


@pytest.mark.parametrize(("source", "want"), [
    ('{{ printf "%s:%s" "u" "p" }}', "u:p"),
    ('{{ printf "%d|%5d|%-5d|%05d|%+d|%x|%X|%#x|%o|%c|%q" 42 42 42 -42 42 255 255 255 8 65 65 }}',
     "42|   42|42   |-0042|+42|ff|FF|0xff|10|A|'A'"),
    ('{{ printf "%v %v %v %v %v" 1 1.5 "s" true nil }}', "1 1.5 s true <nil>"),
    ('{{ printf "%q %x %.2s %5s|%-5s|" "a\\"b\\n" "hi" "hello" "ab" "ab" }}',
     '"a\\"b\\n" 6869 he    ab|ab   |'),
    ('{{ printf "%f %.2f %8.3f %e %g %g %.3g" 3.14159 3.14159 3.14159 1234.5678 0.1 100000000.0 1234.0 }}',
     "3.141590 3.14    3.142 1.234568e+03 0.1 1e+08 1.23e+03"),
    ('{{ printf "%t %v %d" true (list 1 2) (list 3 4) }}', "true [1 2] [3 4]"),
    ('{{ printf "100%%" }} {{ printf "%d" }} {{ printf "%" }}', "100% %!d(MISSING) %!(NOVERB)"),
    # Go's in-band errors instead of failing: wrong type, extra arguments, unknown verb
    ('{{ printf "%d|%s|%z" "s" 1 2 }}', "%!d(string=s)|%!s(int=1)|%!z(int=2)"),
    ('{{ printf "x" 1 "y" nil }}', "x%!(EXTRA int=1, string=y, <nil>)"),
    ('{{ printf "%T %T %T %T %T %T" 1 1.5 "s" nil (list) (dict) }}',
     "int float64 string <nil> []interface {} map[string]interface {}"),
    ('{{ printf "%5.1f|%-6.2e|%+d|% d|%08.3f|%x|%X|%q" 3.14159 1234.5 5 5 -3.14159 "hi" 255 "a\tb" }}',
     '  3.1|1.23e+03|+5| 5|-003.142|6869|FF|"a\\tb"'),
    ('{{ printf "%*d|%-*d|%.*f" 4 7 3 1 2 3.14159 }}', "   7|1  |3.14"),
    ('{{ printf "%v %d %s" (list 1 nil "a") (list 1 2) (dict "k" "v") }}', "[1 <nil> a] [1 2] map[k:v]"),
    ('{{ printf "%#v %#v %#v" "s" 1 (list 1 "a") }}', '"s" 1 []interface {}{1, "a"}'),
    ('{{ printf "%c %U %#x %o %b %O" 65 65 255 8 5 8 }}', "A U+0041 0xff 10 101 0o10"),
    ('{{ printf "%g %v %.2g %e" 1e21 1e-7 123.0 0.0 }}', "1e+21 1e-07 1.2e+02 0.000000e+00"),
    ('{{ printf "%v %g" 1+2i 2i }}', "(1+2i) (0+2i)"),
])
def test_printf(source: str, want: str) -> None:
    assert render(source, {}) == want


@pytest.mark.parametrize(("source", "want"), [
    ('{{ "hello" | b64enc }}', "aGVsbG8="),
    ('{{ "aGVsbG8=" | b64dec }}', "hello"),
    ('{{ "aGVs\\nbG8=" | b64dec }}', "hello"),  # Go ignores newlines in base64
    ('{{ "/w==" | b64dec | b64enc }}', "/w=="),  # binary round-trips
    ('{{ "/w==" | b64dec | len }}', "1"),
    ('{{ "x" | quote }} {{ quote "a\\"b" 1 nil }} {{ "x" | squote }}', '"x" "a\\"b" "1" \'x\''),
    ('{{ "  x \\n" | trim }}|{{ trimAll "-" "--x--" }}|{{ "pre-x" | trimPrefix "pre-" }}|'
     '{{ "x.txt" | trimSuffix ".txt" }}', "x|x|x|x"),
    ('{{ "ABC" | lower }} {{ "straße" | upper }}', "abc STRAßE"),
    ('{{ "" | default "d" }} {{ "v" | default "d" }} {{ default "d" 0 }} {{ default "d" }}', "d v d d"),
    ('{{ empty "" }} {{ empty 0 }} {{ empty (list) }} {{ empty "a" }}', "true true true false"),
    ('{{ "abc" | sha256sum }}', "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    ('{{ contains "b" "abc" }} {{ hasPrefix "a" "abc" }} {{ hasSuffix "a" "abc" }}', "true true false"),
    ('{{ list "a" "b" 1 | join "," }} {{ join "-" "single" }}', "a,b,1 single"),
    ('{{ $p := split "." "a.b.c" }}{{ $p._1 }} {{ splitList ":" "u:p" | join "|" }}', "b u|p"),
    ('{{ $d := dict "k" "v" "n" 1 "odd" }}{{ get $d "k" }} [{{ get $d "nope" }}] [{{ $d.odd }}] '
     '{{ hasKey $d "n" }}', "v [] [] true"),
    ('{{ toString 5 }} {{ toString (list 1 "a") }} {{ cat "a" 1 nil "b" }}', "5 [1 a] a 1 b"),
    ('{{ " a b\\tc\\n" | nospace }}', "abc"),
    ('{{ "a\\nb" | indent 2 }}|{{ "a\\nb" | nindent 2 }}', "  a\n  b|\n  a\n  b"),
    ('{{ coalesce "" 0 "x" }} {{ ternary "y" "n" true }} {{ ternary "y" "n" false }}', "x y n"),
    ('{{ dict "b" 1.0 "a" (list 1e-7 1e21 0.5 nil true) "h" "<>&\\u2028\\b" | toJson }}',
     '{"a":[1e-7,1e+21,0.5,null,true],"b":1,"h":"\\u003c\\u003e\\u0026\\u2028\\b"}'),
    ('{{ dict "h" "<>" | toRawJson }}', '{"h":"<>"}'),
    ('{{ dict "a" (list 1 2) "b" (dict) | toPrettyJson }}', '{\n  "a": [\n    1,\n    2\n  ],\n  "b": {}\n}'),
    ('{{ $j := "{\\"n\\": 3, \\"big\\": 12345678, \\"l\\": [1, \\"x\\"]}" | fromJson }}'
     '{{ $j.n }} {{ $j.big }} {{ $j.l }} {{ $j | toJson }}',
     '3 1.2345678e+07 [1 x] {"big":12345678,"l":[1,"x"],"n":3}'),  # JSON numbers are float64, as in Go
])
def test_sprig(source: str, want: str) -> None:
    assert render(source, {}) == want


def test_functions_list() -> None:
    assert {"b64enc", "b64dec", "toJson", "fromJson", "printf", "replace", "default", "index"} <= FUNCTIONS
    for name in ("env", "expandenv", "readFile", "exec", "include", "tpl", "getHostByName"):
        assert name not in FUNCTIONS
    assert {"toYaml", "fromYaml", "filterPEM", "set", "regexReplaceAll", "uuidv4", "now"} <= FUNCTIONS


# ------------------------------------------------------------------------------------------------- errors

@pytest.mark.parametrize(("source", "message"), [
    ("{{ env \"HOME\" }}", 'template: t:1: unsupported function "env": templates never read the environment'),
    ("x\n{{ expandenv \"$HOME\" }}", 'template: t:2: unsupported function "expandenv"'),
    ('{{ getHostByName "example.com" }}', 'unsupported function "getHostByName": no DNS lookups from templates'),
    ("{{ nosuchfunc }}", 'template: t:1: function "nosuchfunc" not defined'),
    ('{{ if 1 }}{{ define "x" }}{{ end }}{{ end }}', "unexpected <define> in command"),
    ('{{ define "x" }}a{{ end }}{{ define "x" }}b{{ end }}', 'multiple definition of template "x"'),
    ('{{ template .x }}', "unexpected \".x\" in template clause"),
    ('{{ block "x" }}{{ end }}', "missing value for block clause"),
    ("ab\ncd {{ .x ", "template: t:2: unclosed action"),
    ("ab\n{{ .x\n\n", "template: t:4: unclosed action started at t:2"),
    ("{{ .x }}{{ end }}", "template: t:1: unexpected {{end}}"),
    ("{{ else }}", "unexpected {{else}}"),
    ("{{ if .x }}\nyes", "unexpected EOF"),
    ("{{ range .x }}{{ else }}{{ else }}{{ end }}", "expected {{end}}; found {{else}}"),
    ("{{ /* c */ }}", "unexpected \"/\" in command"),
    ("{{/* c */ x }}", "comment ends before closing delimiter"),
    ("{{/* c ", "unclosed comment"),
    ('{{ "abc }}', "unterminated quoted string"),
    ("{{ `abc }}", "unterminated raw quoted string"),
    ('{{ "\\q" }}', "invalid syntax in quoted string"),
    ("{{ 'ab' }}", "malformed character constant"),
    ("{{ 1a }}", "bad number syntax"),
    ("{{ 99999999999999999999 }}", 'integer overflow: "99999999999999999999"'),
    ("{{ 1__0 }}", "illegal number syntax"),
    ("{{ ( .x }}", "unclosed left paren"),
    ("{{ .x ) }}", 'unexpected ")" in command'),
    ("{{ }}", "missing value for command"),
    ("{{ .x | }}", "missing command after '|'"),
    ("{{ $y }}", 'undefined variable "$y"'),
    ("{{ break }}", "{{break}} outside {{range}}"),
    ("{{ .x | 1 }}", "non executable command in pipeline stage 2"),
    ("{{ .x.y€ }}", "bad character U+20AC '€'"),
    ("{{ \x01 }}", "unrecognized character in action: U+0001"),
    ("{{ 1.x }}", "bad number syntax"),
    ("{{ \"a\".x }}", "unexpected . after term"),
])
def test_parse_errors(source: str, message: str) -> None:
    with pytest.raises(TemplateSyntaxError) as info:
        parse(source, name="t")
    assert message in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("source", "message"), [
    ("{{ .pasword }}", 'template: t:1:4: executing "t" at <.pasword>: map has no entry for key "pasword"'),
    ("{{ .m.nope }}", 'map has no entry for key "nope"'),
    ("{{ .password.x }}", "can't evaluate field x in type string"),
    ("{{ .null.x }}", "nil pointer evaluating interface {}.x"),
    ("{{ .n | b64enc }}", "at <b64enc>: wrong type for value; expected string; got int"),
    ("{{ b64enc .n }}", "at <.n>: wrong type for value; expected string; got int"),
    ('{{ b64enc 1 }}', "expected string; found 1"),
    ("{{ $y = 1 }}", "undefined variable: $y"),
    ("{{ nil }}", "nil is not a command"),
    ('{{ "x" 1 }}', "can't give argument to non-function \"x\""),
    ("{{ .password 1 }}", "password is not a method but has arguments"),
    ("{{ b64enc }}", "wrong number of args for b64enc: want 1 got 0"),
    ('{{ "a" | replace "b" }}', "wrong number of args for replace: want 3 got 2"),
    ('{{ template "nope" }}', 'template "nope" not defined'),
    ('{{ define "r" }}{{ template "r" }}{{ end }}{{ template "r" }}', "exceeded maximum template depth"),
    ("{{ call .password }}", "error calling call: non-function of type string"),
    ("{{ 0x8000000000000000 }}", "0x8000000000000000 overflows int"),
    ("{{ .null | upper }}", "invalid value; expected string"),
    ("{{ index .list 5 }}", "error calling index: index out of range"),
    ("{{ index .m 1 }}", "value has type int; should be string"),
    ("{{ index .n 0 }}", "can't index item of type int"),
    ("{{ len .n }}", "len of type int"),
    ("{{ eq .password 1 }}", "incompatible types for comparison"),
    ("{{ eq .list .list }}", "non-comparable type"),
    ("{{ eq .list .m }}", "non-comparable types"),
    ("{{ lt true false }}", "invalid type for comparison"),
    ("{{ eq 1.0 1 }}", "incompatible types for comparison"),
    ("{{ range .password }}{{ end }}", "range can't iterate over string"),
    ("{{ range $i, $v := 3 }}{{ end }}", "can't use int to iterate over more than one variable"),
    ("{{ .password | mustFromJson }}", "mustFromJson: invalid JSON"),
    ("{{ .inf | mustToJson }}", "json: unsupported value"),
    ("{{ indent -1 .password }}", "negative Repeat count"),
])
def test_exec_errors_never_leak_values(source: str, message: str) -> None:
    data = {**DATA, "m": {"k": SECRET}, "list": [SECRET], "n": 12345, "null": None, "inf": float("inf")}
    with pytest.raises(TemplateExecError) as info:
        render(source, data, name="t")
    err = info.value
    assert message in str(err)
    assert SECRET not in repr(err)
    assert err.__cause__ is None and err.__context__ is None  # no chained exception can carry the data


def test_error_attributes() -> None:
    with pytest.raises(TemplateSyntaxError) as info:
        parse("line1\n  {{ if }}")
    assert (info.value.line, info.value.column) == (2, 9)
    assert isinstance(info.value, TemplateError) and isinstance(info.value, ValueError)


# ------------------------------------------------------------------------------------------ static check

def test_referenced_keys_and_check() -> None:
    tpl = parse('{{ .username }}{{ with .m }}{{ .inner }}{{ $.password }}{{ else }}{{ .other }}{{ end }}'
                '{{ range .list }}{{ .x }}{{ end }}{{ if .flag }}{{ .inif }}{{ end }}{{ (.obj).a }}'
                '{{ $v := . }}{{ $v.notcounted }}{{ index . "dash-key" }}', name="data .dockerconfigjson")
    assert tpl.referenced_keys() == {"username", "m", "password", "other", "list", "flag", "inif", "obj"}
    tpl.check({"username", "m", "password", "other", "list", "flag", "inif", "obj"})
    with pytest.raises(TemplateExecError, match=r'^template: t:2:4: map has no entry for key "pasword"$'):
        parse("{{ .username }}\n{{ .pasword }}{{ .alsomissing }}", name="t").check(["username", "password"])


def test_template_attributes() -> None:
    tpl = parse("{{ .a }}", name="n")
    assert isinstance(tpl, Template) and tpl.name == "n" and tpl.source == "{{ .a }}"
    assert tpl.execute({"a": "x"}) == "x" and tpl.execute({"a": 2}) == "2"  # reusable


# ------------------------------------------------------------------------------------------------ limits

def test_limit_output_from_nested_range() -> None:
    data = {"l": list(range(30)), "pad": "x" * 50}  # 27,000 iterations of 50 characters
    with pytest.raises(TemplateExecError, match="output exceeds the limit"):
        render("{{ range .l }}{{ range $.l }}{{ range $.l }}{{ $.pad }}{{ end }}{{ end }}{{ end }}", data)


def test_limit_steps() -> None:
    with pytest.raises(TemplateExecError, match="evaluation step limit"):
        render("{{ range 1000000000 }}{{ end }}", {})


def test_limit_growing_string() -> None:
    with pytest.raises(TemplateExecError, match="exceeds"):
        render('{{ $s := "0123456789abcdef" }}{{ range 40 }}{{ $s = printf "%s%s" $s $s }}{{ end }}', {})


def test_limit_depth() -> None:
    with pytest.raises(TemplateSyntaxError, match="nested too deeply"):
        parse("{{ if 1 }}" * 100 + "{{ end }}" * 100)
    with pytest.raises(TemplateSyntaxError, match="nested too deeply"):
        parse("{{ " + "(" * 100 + "1" + ")" * 100 + " }}")
    assert render("{{ " + "(" * 30 + "1" + ")" * 30 + " }}", {}) == "1"


def test_limit_source_size() -> None:
    with pytest.raises(TemplateSyntaxError, match="template too large"):
        parse("x" * (gt.MAX_SOURCE_BYTES + 1))


def test_limit_printf_width_and_deep_values() -> None:
    with pytest.raises(TemplateExecError, match="width or precision"):
        render('{{ printf "%999999999d" 1 }}', {})
    deep: list[Any] = []
    cur = deep
    for _ in range(300):
        cur.append([])
        cur = cur[0]
    with pytest.raises(TemplateExecError, match="nested too deeply"):
        render("{{ .d | toJson }}", {"d": deep})
    with pytest.raises(TemplateExecError, match="nested too deeply"):
        render("{{ .d }}", {"d": deep})
    with pytest.raises(TemplateExecError, match="invalid JSON"):
        render("{{ .j | fromJson }}", {"j": "[" * 100_000})


# -------------------------------------------------------------------------------------------- properties

@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.sampled_from(list("{}-/*$.|()\"'`:=, \n\tabcdeiflnrtuwx0123456789_+€\\")),
               max_size=60) | st.text(max_size=40))
def test_parse_never_crashes(source: str) -> None:
    try:
        tpl = parse(source)
    except TemplateError:
        return
    assert isinstance(tpl, Template)


_PIECES = [
    "{{ ", " }}", "{{- ", " -}}", ".a", ".b", ".m", ".l", "$", "$x", "$x := ", "$x = ", " | ", "(", ")",
    "if ", "else ", "end", "range ", "with ", "break", "continue", "printf ", '"%s%d"', '"x"', "1", "2.5",
    "nil", "true", "index ", "len ", "eq ", "and ", "or ", "not ", "b64dec ", "toJson ", "fromJson ",
    "default ", "dict ", "list ", "print ", "quote ", "split ", "join ", " ", "text\n", ",", "$i, $v := ",
]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_PIECES), max_size=25))
def test_execute_never_crashes_or_leaks(pieces: list[str]) -> None:
    data = {"a": SECRET, "b": 3, "m": {"k": SECRET, "n": None}, "l": [SECRET, 1, 2.5]}
    try:
        out = render("".join(pieces), data)
    except TemplateError as exc:
        assert SECRET not in str(exc)
        assert isinstance(exc, TemplateSyntaxError) or exc.__context__ is None
        return
    assert isinstance(out, str)


# ------------------------------------------------------------------------------------ Go semantics (part 1)

@pytest.mark.parametrize(("source", "want"), [
    ('{{ define "d" }}<{{ . }}>{{ end }}{{ template "d" .x }}{{ template "d" }}', "<1><<no value>>"),
    ('{{ block "b" .x }}[{{ . }}]{{ end }}', "[1]"),
    ('{{ define "n" }}{{ template "d" . }}{{ end }}{{ define "d" }}{{ . }}{{ end }}{{ template "n" .m.k }}', "v"),
    ('{{ template "d" $v := .list }},{{ index $v 1 }}{{ define "d" }}{{ len . }}{{ end }}', "3,b"),
    ("{{ 0x1.ep+2 }} {{ 0X_1p-2 }} {{ 1+2i }} {{ 2i }} {{ 1e3 }} {{ 'a' }}", "7.5 0.25 (1+2i) (0+2i) 1000 97"),
    ("{{ indent 2.0 \"a\" }}|{{ printf \"%T\" 2.0 }}", "  a|float64"),  # constants convert to the parameter type
    ("{{ if false }}{{ b64enc }}{{ nil }}{{ .nope.x }}{{ end }}ok", "ok"),  # a branch that never runs never fails
    ("{{ html nil }} {{ js .null }} {{ html 1 2 }} {{ urlquery nil }}",
     "&lt;no value&gt; \\u003Cno value\\u003E 1 2 %3Cno+value%3E"),
    ("{{ slice .list 1 }} {{ slice .list 0 1 }}", "[b c] [a]"),  # Sprig's slice (ESO's map): lists only
    ("{{ (.).x }} {{ $ := 5 }}{{ $ }}", "1 5"),
])
def test_go_semantics(source: str, want: str) -> None:
    data = {"x": 1, "m": {"k": "v"}, "list": ["a", "b", "c"], "null": None}
    assert render(source, data) == want


def test_eso_data_is_a_string_map() -> None:
    data = gt.StringMap(username="u", password=SECRET)
    assert render('{{ index . "nope" }}|{{ .username }}|{{ len . }}|{{ printf "%T" . }}', data) == \
        "|u|2|map[string]string"
    with pytest.raises(TemplateExecError, match=r"expected map\[string\]interface \{\}; got map\[string\]string"):
        render('{{ hasKey . "username" }}', data)  # as in ESO: Sprig's hasKey wants map[string]interface{}
    assert SECRET not in repr(data)


def test_missingkey_options() -> None:
    tpl = parse("[{{ .nope }}]")
    assert tpl.execute({}, missingkey="default") == "[<no value>]"
    assert tpl.execute(gt.StringMap(), missingkey="zero") == "[]"
    assert tpl.execute(gt.StringMap(), missingkey="default") == "[<no value>]"
    with pytest.raises(TemplateExecError, match='map has no entry for key "nope"'):
        tpl.execute({})
    with pytest.raises(ValueError, match="missingkey"):
        tpl.execute({}, missingkey="bogus")


def test_check_reports_what_would_fail_when_run() -> None:
    # Go fails these only when the command runs; validate reports them up front, branches included.
    for source, message in [("{{ if .password }}{{ b64enc }}{{ end }}", "wrong number of args for b64enc"),
                            ('{{ if .password }}{{ "x" 1 }}{{ end }}', "can't give argument to non-function"),
                            ("{{ with .username }}{{ nil }}{{ end }}", "nil is not a command"),
                            ('{{ define "d" }}{{ replace "a" }}{{ end }}', "wrong number of args for replace")]:
        tpl = parse(source, name="t")
        with pytest.raises(TemplateExecError, match=message):
            tpl.check(["username", "password"])
    parse("{{ if .password }}{{ b64enc .password }}{{ end }}").check(["password"])


def test_tree_string_is_gos() -> None:
    assert parse('{{if .x}}a{{else if .y}}b{{end}}{{$x := 1}}{{$x | printf "%d"}}').tree_string() == \
        '{{if .x}}"a"{{else}}{{if .y}}"b"{{end}}{{end}}{{$x := 1}}{{$x | printf "%d"}}'
