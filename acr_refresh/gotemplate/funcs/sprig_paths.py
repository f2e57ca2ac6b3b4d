"""Sprig's path functions (Go's path and, on Linux where ESO runs, path/filepath) and urlParse/urlJoin."""

from __future__ import annotations

import urllib.parse
from typing import Any

from ..errors import FuncError
from ..values import tname
from . import Func


def clean(p: str) -> str:
    """path.Clean."""
    if p == "":
        return "."
    rooted = p.startswith("/")
    out: list[str] = []
    for part in p.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if out and out[-1] != "..":
                out.pop()
            elif not rooted:
                out.append("..")
        else:
            out.append(part)
    s = ("/" if rooted else "") + "/".join(out)
    return s or ("/" if rooted else ".")


def base(p: str) -> str:
    if p == "":
        return "."
    p = p.rstrip("/")
    if p == "":
        return "/"
    return p.rsplit("/", 1)[-1]


def dir_(p: str) -> str:
    return clean(p[:p.rfind("/") + 1])


def ext(p: str) -> str:
    for i in range(len(p) - 1, -1, -1):
        if p[i] == "/":
            return ""
        if p[i] == ".":
            return p[i:]
    return ""


def url_parse(s: str) -> dict[str, Any]:
    try:
        u = urllib.parse.urlsplit(s)
        hostname = u.hostname or ""
    except ValueError:
        raise FuncError("unable to parse url") from None
    netloc = u.netloc
    userinfo, _, host = netloc.rpartition("@") if "@" in netloc else ("", "", netloc)
    opaque = ""
    path = urllib.parse.unquote(u.path)
    if u.scheme and not s[len(u.scheme) + 1:].startswith("/") and not netloc:
        opaque, path = u.path, ""
    if host.startswith("[") and "]" in host:
        hostname = host[1:host.index("]")]
    return {"scheme": u.scheme, "host": host, "hostname": hostname, "path": path, "query": u.query,
            "opaque": opaque, "fragment": urllib.parse.unquote(u.fragment), "userinfo": userinfo}


def _get(d: dict[str, Any], key: str) -> str:
    if key not in d:
        return ""
    v = d[key]
    if not isinstance(v, str):
        raise FuncError(f"unable to parse {key} key, must be of type string, but {tname(v)} found")
    return v


def url_join(d: dict[str, Any]) -> str:
    """net/url.URL.String() of the dict's parts."""
    scheme, host, path, query = _get(d, "scheme"), _get(d, "host"), _get(d, "path"), _get(d, "query")
    opaque, fragment, userinfo = _get(d, "opaque"), _get(d, "fragment"), _get(d, "userinfo")
    out = ""
    if scheme:
        out += scheme + ":"
    if opaque:
        out += opaque
    else:
        if scheme or host or userinfo:
            if host or path or userinfo:
                out += "//"
            if userinfo:
                out += userinfo + "@"
            out += host
        ep = urllib.parse.quote(path, safe="/;:@&=+$,!~*'()")
        if ep and ep[0] != "/" and host:
            out += "/"
        if not out and ":" in ep.split("/", 1)[0]:
            out += "./"
        out += ep
    if query:
        out += "?" + query
    if fragment:
        out += "#" + urllib.parse.quote(fragment, safe="/;:@&=+$,!~*'()?")
    return out


FUNCS: dict[str, Func] = {
    "base": Func("s", lambda a: base(a[0])),
    "dir": Func("s", lambda a: dir_(a[0])),
    "clean": Func("s", lambda a: clean(a[0])),
    "ext": Func("s", lambda a: ext(a[0])),
    "isAbs": Func("s", lambda a: a[0].startswith("/")),
    "osBase": Func("s", lambda a: base(a[0])),
    "osClean": Func("s", lambda a: clean(a[0])),
    "osDir": Func("s", lambda a: dir_(a[0])),
    "osExt": Func("s", lambda a: ext(a[0])),
    "osIsAbs": Func("s", lambda a: a[0].startswith("/")),
    "urlParse": Func("s", lambda a: url_parse(a[0])),
    "urlJoin": Func("m", lambda a: url_join(a[0] or {})),
}
