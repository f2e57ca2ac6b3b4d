"""ESO's ``dataFrom[].rewrite`` on key names: Go's ``regexp.ReplaceAllString`` and the ``transform`` template.

Pure. A generator's keys are fixed (``username``, ``password``), so the renaming is worked out once, in config,
where a pattern Go's RE2 cannot compile, a collision (two keys renamed to one, which Go's random map order
would settle differently run by run) or an invalid Secret key is refused. ESO: ``runtime/esutils/utils.go``
(``RewriteMap``, ``RewriteRegexp``, ``RewriteTransform``); Go: ``regexp.(*Regexp).expand``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from .model import Rewrite

# RE2 (Go's regexp) has no lookaround, backreferences, atomic groups, possessive quantifiers or conditionals;
# Python's re has no \p{...} classes. Either way the same pattern would not mean the same thing.
_NOT_RE2 = (
    (re.compile(r"\(\?<?[=!]"), "lookaround assertions are not RE2 (Go's regexp refuses them)"),
    (re.compile(r"\(\?>"), "atomic groups are not RE2"),
    (re.compile(r"\(\?P=|\\[1-9]|\\g<"), "backreferences are not RE2"),
    (re.compile(r"\(\?\("), "conditional groups are not RE2"),
    (re.compile(r"[*+?}]\+"), "possessive quantifiers are not RE2"),
    (re.compile(r"\\[pP]"), "Unicode classes (\\p{...}) are not supported here"),
    (re.compile(r"\\[ZAG]"), "use \\z and ^ as RE2 does; \\Z, \\A and \\G differ between Go and Python"),
)


def compile_go_regexp(source: str) -> re.Pattern[str]:
    """Compile an RE2 pattern as Python's ``re`` with the same meaning, or raise ValueError saying why not."""
    for pattern, why in _NOT_RE2:
        if pattern.search(source):
            raise ValueError(why)
    translated = re.sub(r"\(\?<(?=[A-Za-z_])", "(?P<", source).replace("\\z", "\\Z")
    try:
        return re.compile(translated)
    except re.error as exc:
        raise ValueError(f"invalid regular expression: {exc}") from exc


def _name_char(c: str) -> bool:
    return c == "_" or c.isdigit() or unicodedata.category(c).startswith("L")


def _extract(template: str) -> tuple[str, str] | None:
    """Go's ``extract``: the name after a ``$`` (``name`` or ``{name}``) and the rest, or None if malformed."""
    brace = template.startswith("{")
    body = template[1:] if brace else template
    i = 0
    while i < len(body) and _name_char(body[i]):
        i += 1
    if i == 0:
        return None
    name, rest = body[:i], body[i:]
    if brace:
        if not rest.startswith("}"):
            return None
        rest = rest[1:]
    return name, rest


def go_expand(template: str, match: re.Match[str]) -> str:
    """Go's ``Regexp.Expand`` of ``template`` for one match: ``$1``, ``${1}``, ``$name``, ``${name}``, ``$$``.

    As in Go, ``$1x`` names group ``1x`` (use ``${1}x``), and a group that does not exist or did not take
    part gives the empty string."""
    out: list[str] = []
    while True:
        before, dollar, template = template.partition("$")
        out.append(before)
        if not dollar:
            return "".join(out)
        if template.startswith("$"):
            out.append("$")
            template = template[1:]
            continue
        got = _extract(template)
        if got is None:
            out.append("$")
            continue
        name, template = got
        if name.isdigit() and name.isascii():
            index = int(name)
            if index <= (match.re.groups or 0):
                out.append(match.group(index) or "")
        elif name in match.re.groupindex:
            out.append(match.group(name) or "")


def replace_all(pattern: re.Pattern[str], template: str, text: str) -> str:
    """Go's ``ReplaceAllString`` (regexp.go ``replaceAll``). Not ``re.sub``: Go skips an empty match right
    after a previous match (``(.*)`` replaces ``abc`` once; Python's ``sub`` twice) and moves past an empty
    match by one character."""
    out: list[str] = []
    search = last_end = 0
    while search <= len(text):
        m = pattern.search(text, search)
        if m is None:
            break
        out.append(text[last_end:m.start()])
        if m.end() > last_end or m.start() == 0:
            out.append(go_expand(template, m))
        last_end = m.end()
        width = 1 if search < len(text) else 0
        if search + width > m.end():
            search += width
        elif search + 1 > m.end():
            search += 1
        else:
            search = m.end()
    out.append(text[last_end:])
    return "".join(out)


def rename(rewrites: Iterable[Rewrite], keys: Iterable[str]) -> list[tuple[str, str]]:
    """``(key, new name)`` for each key after every rewrite in order. Raises ValueError for a collision or
    a name that is not a valid Secret key. Transform templates see ``.value`` (the key), as in ESO."""
    names = [(k, k) for k in keys]
    for step, rw in enumerate(rewrites):
        if rw.transform:
            from ..gotemplate import TemplateError, parse

            try:
                tpl = parse(rw.transform, name="transform")
                names = [(k, tpl.execute({"value": n}, missingkey="default")) for k, n in names]
            except TemplateError as exc:
                raise ValueError(f"rewrite[{step}].transform.template: {exc}") from exc
        else:
            pattern = compile_go_regexp(rw.regexp_source)
            names = [(k, replace_all(pattern, rw.regexp_target, n)) for k, n in names]
        seen: dict[str, str] = {}
        for k, n in names:
            if n in seen:
                raise ValueError(f"after rewrite[{step}] the keys {seen[n]} and {k} are both named {n!r}; ESO would "
                                 "keep one of them at random")
            seen[n] = k
    for k, n in names:
        if not n or len(n) > 253 or not re.fullmatch(r"[-._a-zA-Z0-9]+", n):
            raise ValueError(f"the key {k} is renamed to {n!r}, which is not a valid Secret key")
    return names
