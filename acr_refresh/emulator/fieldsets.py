"""Server-side apply field ownership, as the real API server keeps it for Secrets and ServiceAccounts. Pure.

Checked against kube-apiserver v1.20 by tests/emulator/test_differential.py. A field is a path of keys:
``("data", "k1")``, ``("metadata", "labels", "a")``, ``("type",)``, an owner reference by uid
``("metadata", "ownerReferences", 'k:{"uid":"..."}')``; every other list is atomic (one field). In
``managedFields`` a set is written as ``fieldsV1`` (``{"f:data": {"f:k1": {}}}``), without the ``"."``
entries, which the real server does not write for these objects either.

- **Apply** by manager M: a field another manager owns with a *different* value is a conflict (409 unless
  ``force``; ``force`` moves the field to M); with the same value it becomes shared. M's Apply entry becomes
  exactly the applied fields, and fields M applied before but not now are removed from the object unless
  another manager still owns them.
- **Update** (create, PUT, non-apply PATCH) by manager U: every field whose value it changed or added moves
  to U's Update entry; fields it removed leave every entry.
- An existing object **without managedFields** (cleared with ``[]`` or ``[{}]``): an Update records nothing;
  the next Apply first gives every field the object has to a ``before-first-apply`` Update entry.
- Entries are kept in the server's order: by operation (``Apply`` before ``Update``), time, manager.
"""

from __future__ import annotations

import copy
import json
from typing import Any

Path = tuple[str, ...]
_SERVER_META = {"name", "namespace", "uid", "resourceVersion", "creationTimestamp", "managedFields",
                "generation", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds", "generateName"}
_MAPS = {("metadata", "labels"), ("metadata", "annotations"), ("data",), ("stringData",)}


def fields_of(obj: dict[str, Any]) -> set[Path]:
    """The fields an object (or an applied configuration) sets."""
    out: set[Path] = set()
    for key, value in obj.items():
        if key in ("apiVersion", "kind"):
            continue
        if key == "metadata" and isinstance(value, dict):
            for mkey, mvalue in value.items():
                if mkey in _SERVER_META or mvalue is None:
                    continue
                if ("metadata", mkey) in _MAPS and isinstance(mvalue, dict):
                    out.update(("metadata", mkey, k) for k in mvalue)
                elif mkey == "ownerReferences" and isinstance(mvalue, list):
                    out.update(("metadata", mkey, _uid_key(r)) for r in mvalue if isinstance(r, dict))
                else:
                    out.add(("metadata", mkey))
        elif (key,) in _MAPS and isinstance(value, dict):
            out.update((key, k) for k in value)
        elif value is not None:
            out.add((key,))
    return out


def _uid_key(ref: dict[str, Any]) -> str:
    return "k:" + json.dumps({"uid": ref.get("uid")}, separators=(",", ":"))


def value_at(obj: dict[str, Any], path: Path) -> Any:
    """The value at ``path`` (None when absent)."""
    if len(path) == 3 and path[1] == "ownerReferences":
        refs = (obj.get("metadata") or {}).get("ownerReferences") or []
        return next((r for r in refs if isinstance(r, dict) and _uid_key(r) == path[2]), None)
    node: Any = obj
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def remove(obj: dict[str, Any], path: Path) -> None:
    """Delete the field at ``path`` from ``obj`` (in place); emptied maps are dropped."""
    if len(path) == 3 and path[1] == "ownerReferences":
        meta = obj.get("metadata") or {}
        meta["ownerReferences"] = [r for r in meta.get("ownerReferences") or [] if _uid_key(r) != path[2]]
        if not meta["ownerReferences"]:
            meta.pop("ownerReferences")
        return
    parent: Any = obj
    for key in path[:-1]:
        parent = parent.get(key) if isinstance(parent, dict) else None
    if isinstance(parent, dict):
        parent.pop(path[-1], None)
        if len(path) > 1 and not parent and path[:-1] in _MAPS:
            remove(obj, path[:-1])


def to_fields_v1(fields: set[Path]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path in sorted(fields):
        node = out
        for key in path:
            node = node.setdefault(key if key.startswith("k:") else f"f:{key}", {})
    return out


def from_fields_v1(tree: Any, prefix: Path = ()) -> set[Path]:
    out: set[Path] = set()
    if not isinstance(tree, dict):
        return out
    for key, sub in tree.items():
        if key == ".":
            continue
        name = key[2:] if key.startswith("f:") else key
        path = (*prefix, name)
        children = from_fields_v1(sub, path)
        out.update(children or {path})
    return out


class ApplyConflict(Exception):
    """Fields another manager owns with other values: ``[('"m1"', ".data.k1"), ('"m2" using v1', ...)]``."""

    def __init__(self, conflicts: list[tuple[str, str]]) -> None:
        super().__init__(conflicts)
        self.conflicts = conflicts

    def message(self) -> str:
        """The API server's text (structured-merge-diff's ``Conflicts.Error``, managers sorted)."""
        count = len(self.conflicts)
        if count == 1:
            manager, field = self.conflicts[0]
            return f"Apply failed with 1 conflict: conflict with {manager}: {field}"
        by_manager: dict[str, list[str]] = {}
        for manager, field in self.conflicts:
            by_manager.setdefault(manager, []).append(field)
        parts = [f"conflicts with {m}:" + "".join(f"\n- {f}" for f in by_manager[m]) for m in sorted(by_manager)]
        return f"Apply failed with {count} conflicts: " + "\n".join(parts)


def dotted(path: Path) -> str:
    return "".join(f"[{p[2:]}]" if p.startswith("k:") else f".{p}" for p in path)


def _label(entry: dict[str, Any]) -> str:
    """How the API server names a manager in a conflict: Update managers with their API version."""
    name = json.dumps(str(entry.get("manager")))
    return name if entry.get("operation") == "Apply" else f"{name} using {entry.get('apiVersion', 'v1')}"


def _entries(obj: dict[str, Any] | None) -> list[dict[str, Any]]:
    meta = (obj or {}).get("metadata") or {}
    return [copy.deepcopy(e) for e in meta.get("managedFields") or [] if isinstance(e, dict) and e]


def _find(entries: list[dict[str, Any]], manager: str, operation: str) -> dict[str, Any]:
    for entry in entries:
        if entry.get("manager") == manager and entry.get("operation") == operation and not entry.get("subresource"):
            return entry
    entry = {"manager": manager, "operation": operation, "apiVersion": "v1"}
    entries.append(entry)
    return entry


def _set(entry: dict[str, Any], fields: set[Path], now: str) -> None:
    entry.update(time=now, fieldsType="FieldsV1", fieldsV1=to_fields_v1(fields))


def apply(old: dict[str, Any] | None, merged: dict[str, Any], applied: dict[str, Any], manager: str, *,
          force: bool, now: str) -> dict[str, Any]:
    """``merged`` (old with ``applied`` merged in) with ownership recorded and dropped fields removed.
    Raises :class:`ApplyConflict` when fields conflict and ``force`` is false."""
    mine = fields_of(applied)
    entries = _entries(old)
    if old is not None and not entries and fields_of(old):
        entries = [{"manager": "before-first-apply", "operation": "Update", "apiVersion": "v1"}]
        _set(entries[0], fields_of(old), now)
    conflicts: list[tuple[str, str]] = []
    for entry in entries:
        if entry.get("manager") == manager and entry.get("operation") == "Apply":
            continue
        theirs = from_fields_v1(entry.get("fieldsV1"))
        clash = {p for p in mine & theirs if old is not None and value_at(old, p) != value_at(applied, p)}
        conflicts += [(_label(entry), dotted(p)) for p in sorted(clash)]
        if force and clash:
            _set(entry, theirs - clash, entry.get("time", now))
    if conflicts and not force:
        raise ApplyConflict(conflicts)
    own = _find(entries, manager, "Apply")
    before = from_fields_v1(own.get("fieldsV1"))
    _set(own, mine, now)
    others = set().union(*(from_fields_v1(e.get("fieldsV1")) for e in entries if e is not own))
    for path in before - mine - others:
        remove(merged, path)
    merged.setdefault("metadata", {})["managedFields"] = _prune(entries)
    return merged


def update(old: dict[str, Any] | None, new: dict[str, Any], manager: str, *, now: str) -> dict[str, Any]:
    """``new`` with the ownership an Update by ``manager`` leaves (see the module docstring)."""
    entries = [e for e in _entries(new) if e]
    if old is not None and not entries:  # nothing to start from: the server tracks no Update until an Apply
        new.setdefault("metadata", {})["managedFields"] = []
        return new
    before, after = (fields_of(old) if old else set()), fields_of(new)
    changed = {p for p in after if old is None or value_at(old, p) != value_at(new, p)}
    gone = before - after
    if changed or gone:
        for entry in entries:
            fields = from_fields_v1(entry.get("fieldsV1"))
            if fields & (changed | gone):
                _set(entry, fields - changed - gone, entry.get("time", now))
    if changed:
        own = _find(entries, manager, "Update")
        _set(own, from_fields_v1(own.get("fieldsV1")) | changed, now)
    new.setdefault("metadata", {})["managedFields"] = _prune(entries)
    return new


def _prune(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    kept = [e for e in entries if from_fields_v1(e.get("fieldsV1")) or "fieldsV1" not in e]
    return sorted(kept, key=lambda e: (str(e.get("operation") or ""), str(e.get("time") or ""),
                                       str(e.get("manager") or ""), str(e.get("apiVersion") or ""),
                                       str(e.get("subresource") or "")))
