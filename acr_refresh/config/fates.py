"""The fate of every field of ESO's kinds, and the walk that applies it to a document. Pure data and checks.

The data is ``eso_fates.yaml`` (a fate and a note per field path) checked against ``eso_crd_paths.json``
(every path of ESO v2.9.0's CRD schemas). :func:`check_document` walks an ESO document: a field no schema
knows is a warning naming it and the closest known field (``--strict``: an error); a field whose fate is
``refused`` is an error when set; an ``ignored`` one is a warning. The parsers in :mod:`.eso` honour the
rest and refuse the refused values of ``limited`` fields, each with its reason.

``python -m acr_refresh.config`` prints ``docs/eso-compatibility.md``.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

FATES = ("honoured", "limited", "refused", "not-handled", "ignored")
_HERE = Path(__file__).parent
# A ClusterExternalSecret's spec.externalSecretSpec is an ExternalSecret's spec; a ClusterGenerator's
# spec.generator.acrAccessTokenSpec is an ACRAccessToken's spec.
ALIASES = {
    "ClusterExternalSecret": ("spec.externalSecretSpec", "ExternalSecret", "spec"),
    "ClusterGenerator": ("spec.generator.acrAccessTokenSpec", "ACRAccessToken", "spec"),
}


@dataclass(frozen=True)
class Fate:
    """What acr-refresh does with one field path."""

    fate: str
    note: str
    declared_at: str
    """The path whose entry gave this fate (itself, a ``.**`` ancestor, or an aliased kind's path)."""


@cache
def _data() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((_HERE / "eso_fates.yaml").read_text(encoding="utf-8"))
    return loaded


@cache
def crd_paths() -> dict[str, dict[str, tuple[str, ...]]]:
    """``{kind: {version: paths}}`` from ESO v2.9.0's CRD schemas."""
    raw = json.loads((_HERE / "eso_crd_paths.json").read_text(encoding="utf-8"))
    return {kind: {v: tuple(p) for v, p in versions.items()} for kind, versions in raw.items()}


@cache
def entries(kind: str) -> dict[str, tuple[str, str]]:
    """The declared ``path → (fate, note)`` entries of one kind (including the shared metadata entries)."""
    return {p: (str(v[0]), str(v[1])) for p, v in _data()["kinds"][kind].items()}


@cache
def fate_of(kind: str, path: str) -> Fate | None:
    """The fate of ``path`` (dotted, ``[]`` for list items) in ``kind``, or None when it has none."""
    own = entries(kind)
    if path in own and own[path][0] != "as":
        return Fate(*own[path], declared_at=path)
    alias = ALIASES.get(kind)
    if alias and path.startswith(alias[0] + "."):
        return fate_of(alias[1], alias[2] + path[len(alias[0]):])
    probe = path
    while True:
        cut = max(probe.rfind("."), probe.rfind("[]"))
        if cut <= 0:
            return None
        probe = probe[:cut]
        star = own.get(probe + ".**") or own.get(probe + "[].**")
        if star is not None and star[0] != "as":
            return Fate(*star, declared_at=probe + ".**")


@cache
def known_paths(kind: str, version: str) -> frozenset[str]:
    """Every path a document of ``kind``/``version`` may have: the CRD's, the metadata entries', and the
    aliased kind's (a ClusterGenerator's ACRAccessToken spec is cut from the CRD list; it is the same)."""
    paths = set(crd_paths()[kind].get(version) or crd_paths()[kind][max(crd_paths()[kind])])
    # ObjectMeta and our extensions are in no CRD version: known in every version.
    in_crd = {p for ps in crd_paths()[kind].values() for p in ps}
    paths.update(p for p in entries(kind) if not p.endswith("**") and p not in in_crd)
    alias = ALIASES.get(kind)
    if alias:
        inner = known_paths(alias[1], next(iter(crd_paths()[alias[1]])) if alias[1] == "ACRAccessToken"
                            else version)
        paths.update(alias[0] + p[len(alias[2]):] for p in inner if p.startswith(alias[2] + "."))
    return frozenset(paths)


@dataclass(frozen=True)
class Finding:
    """One field of a document that is unknown, refused or ignored."""

    path: str
    """The document's path, with list indexes (``spec.dataFrom[0].rewrite[1].merge``)."""
    fate: str
    """``unknown``, ``refused`` or ``ignored``."""
    message: str


@cache
def _leaves(kind: str, version: str) -> frozenset[str]:
    """Known paths below which the document holds free-form data (maps of labels, template data, ...)."""
    known = known_paths(kind, version)
    return frozenset(p for p in known if not any(q.startswith((p + ".", p + "[]")) for q in known))


def check_document(kind: str, version: str, body: Mapping[str, Any], *, skip: str = "") -> Iterator[Finding]:
    """Every unknown, refused or ignored field of one document, in document order; below ``skip`` (a schema
    path checked some other way, e.g. a ClusterExternalSecret's ExternalSecret spec) nothing is looked at."""
    known = known_paths(kind, version)
    leaves = _leaves(kind, version)

    def walk(node: Any, schema_path: str, doc_path: str) -> Iterator[Finding]:
        if isinstance(node, list):
            for i, item in enumerate(node):
                yield from walk(item, schema_path + "[]", f"{doc_path}[{i}]")
            return
        if not isinstance(node, Mapping):
            return
        for key, value in node.items():
            spath = f"{schema_path}.{key}" if schema_path else str(key)
            dpath = f"{doc_path}.{key}" if doc_path else str(key)
            if spath not in known:
                yield Finding(dpath, "unknown", _unknown(spath, dpath, known, kind, version))
                continue
            fate = fate_of(kind, spath)
            if fate is not None and fate.fate == "refused" and value not in (None, {}, [], "", False):
                yield Finding(dpath, "refused", f"is refused: {fate.note}")
                continue
            if fate is not None and fate.fate == "ignored" and value not in (None, {}, []):
                yield Finding(dpath, "ignored", f"is ignored: {fate.note}")
                continue
            if spath not in leaves and spath != skip:
                yield from walk(value, spath, dpath)

    yield from walk(body, "", "")


def _unknown(spath: str, dpath: str, known: frozenset[str], kind: str, version: str) -> str:
    parent, _, name = spath.rpartition(".")
    siblings = sorted({p.rpartition(".")[2] for p in known if p.rpartition(".")[0] == parent})
    close = difflib.get_close_matches(name, siblings, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]}?)" if close else ""
    if not close:
        other = [v for v in crd_paths()[kind] if v != version and spath in crd_paths()[kind][v]]
        if not other:
            other = [v for v in crd_paths()[kind] if spath in known_paths(kind, v)]
        if other:
            hint = f" (it exists in {kind} {other[0]}, not {version})"
    return f"unknown field {dpath} is ignored{hint}"


def missing_fates() -> list[tuple[str, str]]:
    """``(kind, path)`` for every CRD path with no fate: a test keeps this empty."""
    out = []
    for kind, versions in crd_paths().items():
        for path in sorted({p for ps in versions.values() for p in ps}):
            if fate_of(kind, path) is None:
                out.append((kind, path))
    return out


def markdown() -> str:
    """``docs/eso-compatibility.md``, made from the data (a test fails when the file is stale)."""
    data = _data()
    lines = [
        "# ESO compatibility: the fate of every field",
        "",
        "<!-- Generated by `python -m acr_refresh.config` from acr_refresh/config/eso_fates.yaml;"
        " do not edit. -->",
        "",
        "acr-refresh reads External Secrets Operator's manifests unchanged. Every field of the kinds it reads",
        "(ESO v2.9.0's CRD schemas: `acr_refresh/config/eso_crd_paths.json`) has one fate:",
        "",
        "| fate | meaning |",
        "|---|---|",
        "| honoured | read and acted on as ESO's controller does (the note says how, and any difference) |",
        "| limited | honoured for some values; the others are refused in config (exit 2, with the reason) |",
        "| refused | refused in config when set: exit 2 naming file, document, field and the reason |",
        "| not-handled | the object is fed by a SecretStore, not a generator: listed as not handled, left to ESO |",
        "| ignored | set by a controller or the API server: a warning names it |",
        "",
        "A field no schema knows (a typo such as `spec.refreshIntervl`) is a warning naming it and the closest",
        "known field; `--strict` makes every warning an error. Run the new version's `acr-refresh validate`",
        "before rolling it out (README, *Upgrading*).",
        "",
    ]
    lines += _differences()
    for kind in data["kinds"]:
        versions = ", ".join(sorted(crd_paths()[kind]))
        lines += [f"## {kind} ({versions})", "", "| field | fate | note |", "|---|---|---|"]
        alias = ALIASES.get(kind)
        for path, (fate, note) in entries(kind).items():
            if fate == "as":
                lines.append(f"| `{path}` | as {note} | every field below has the fate of the same field in "
                             f"{alias[1] if alias else note} |")
            else:
                lines.append(f"| `{path}` | {fate} | {note} |")
        lines.append("")
    return "\n".join(lines)


def _differences() -> list[str]:
    return [
        "## Where acr-refresh differs from ESO, and why",
        "",
        "- **No ownerReference.** ESO's `Owner` makes the ExternalSecret the Secret's owner, so deleting the",
        "  ExternalSecret garbage-collects the Secret. acr-refresh keeps no ExternalSecret in the cluster: its",
        "  created marker (`acr-refresh/created`) stands for ownership, and a Secret is deleted only by `--prune`",
        "  under the prune rules (README, *Prune*), never because its manifest left the config by accident.",
        "- **`deletionPolicy` never deletes.** ESO applies it when the provider's data disappears, which a",
        "  generator never causes. The values are checked as ESO's webhook checks them; a removed ExternalSecret",
        "  is pruned only under the prune rules (created by us, `Owner`).",
        "- **A Secret of another manager is not overwritten.** ESO writes over an existing Secret with `Owner`",
        "  or `Orphan`; acr-refresh refuses a Secret it did not create (reason `not-ours`) or that ESO manages",
        "  (`eso-managed`) unless `--take-over` names it.",
        "- **`kubernetes.io/dockerconfigjson` without `template.data`** gets a `.dockerconfigjson` for the",
        "  registry. ESO would write `username` and `password` into a Secret of that type, which the API server",
        "  refuses.",
        "- **Replace is an apply, then a removal.** ESO's `Owner`/`Orphan` update clears the data (ApplyTemplate)",
        "  and writes the template's keys in one request. acr-refresh applies its keys (server-side apply), then",
        "  removes every other data key (an ESO-era key, a hand-added one) with a merge patch carrying the",
        "  resourceVersion the apply answered: the same Secret in the end. The patch writes no value, so it cannot",
        "  undo the new data; between the two requests a reader sees the new credential beside the old keys; a",
        "  patch that keeps meeting changes (409, three reads) is `conflict` with the credential written, and the",
        "  next run finds the Secret `drifted` and removes them.",
        "- **Drift counts only our own keys of a `Merge` target.** As ESO's `isSecretValid`, a Secret whose data",
        "  is no longer what was written is rewritten (reason `drifted`) whatever `refreshPolicy` and `syncWindows`",
        "  say, and an `Orphan` one never. ESO's `data-hash` covers the whole Secret, so a key someone adds to a",
        "  `Merge` target makes ESO sync it again; acr-refresh's digest (`acr-refresh/data-hash`, with",
        "  `acr-refresh/data-keys`) covers only the keys it wrote there. Secrets written before the digest existed",
        "  are not checked until their next write.",
        "- **An existing Secret's type is kept for `Merge`/`CreateOrMerge` only.** With no `template.type`, ESO",
        "  keeps the type of a Secret it writes into under every policy; acr-refresh keeps it for `Merge` and",
        "  `CreateOrMerge` and refuses an `Owner`/`Orphan` write into a Secret of another type (`conflict`): such",
        "  a Secret is one it created or took over, and a take-over of a typed Secret needs `template.type`.",
        "- **`app.kubernetes.io/managed-by: acr-refresh`** is set on every Secret acr-refresh creates (prune and",
        "  the plan find them by it); an ExternalSecret's own `app.kubernetes.io/managed-by` label (Helm sets",
        "  it) is copied, then replaced by ours on such a Secret. A Secret it did not create gets no labels.",
        "- **Templates never read the environment** (`env`, `expandenv`) and never resolve DNS (`getHostByName`):",
        "  refused in config (docs/templates.md).",
        "- **Every Secret is refreshed before half its token's life**, whatever `refreshInterval` says, so a",
        "  consumer never holds an expired token; `refreshPolicy` and `syncWindows` can forbid that, and the",
        "  report then warns before the token lapses.",
        "",
    ]

