"""YAML text → documents, refusing what a Kubernetes object cannot be before any object is built. Pure.

One pass over the parser's events (the parser is libyaml's, in C, when present) refuses alias bombs, absurd
nesting and duplicate keys in a mapping; only then are the documents constructed, with the safe loader.

Duplicate keys are refused as kubectl refuses them (``mapping key "kind" already defined``): YAML's "the
last one wins" would silently drop the first value, and a config is the wrong place to guess which one was
meant. Keys are compared as text, because a Kubernetes object is JSON, whose keys are strings: ``1`` and
``"1"`` are the same key there. Merge keys (``<<``) may be overridden, as YAML intends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

MAX_ALIASES = 100
MAX_DEPTH = 64

_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: ~10x faster
_NULLS = {"", "~", "null", "Null", "NULL"}


class DuplicateKey(yaml.YAMLError):
    """A key given twice in one mapping. ``document`` counts non-empty documents from 1, as the loader does;
    ``field`` is the dotted path of the repeated key (``spec.auth.managedIdentity``)."""

    def __init__(self, key: str, field_path: str, document: int, at: tuple[int, int], first: tuple[int, int]) -> None:
        self.key = key
        self.field = field_path
        self.document = document
        self.at = at
        self.first = first
        super().__init__(f"duplicate key {key!r} (line {at[0]}, column {at[1]}; first at line {first[0]}, "
                         f"column {first[1]})")


@dataclass
class _Frame:
    """One open collection while the events are walked."""

    mapping: bool
    path: str
    keys: dict[str, tuple[int, int]] = field(default_factory=dict)
    expecting_key: bool = True
    key: str | None = None
    index: int = 0

    def child_path(self) -> str:
        if not self.mapping:
            return f"{self.path}[{self.index}]"
        key = self.key if self.key is not None else "?"
        return f"{self.path}.{key}" if self.path else key


def _check_events(text: str) -> None:
    """Walk the parser's events once; raise :class:`yaml.YAMLError` (or :class:`DuplicateKey`)."""
    aliases = 0
    document = 0
    stack: list[_Frame] = []

    def done(event: Any, key_text: str | None) -> None:
        """A node ended: it was a key or a value of the mapping on top, an item of the sequence on top."""
        nonlocal document
        if not stack:
            is_null = isinstance(event, yaml.ScalarEvent) and event.implicit[0] and event.value in _NULLS
            document += 0 if is_null else 1
            return
        top = stack[-1]
        if not top.mapping:
            top.index += 1
            return
        if not top.expecting_key:
            top.expecting_key = True
            return
        top.expecting_key = False
        top.key = key_text
        if key_text is None or key_text == "<<":
            return
        at = (event.start_mark.line + 1, event.start_mark.column + 1)
        if key_text in top.keys:
            raise DuplicateKey(key_text, top.child_path(), document + 1, at, top.keys[key_text])
        top.keys[key_text] = at

    for event in yaml.parse(text, Loader=_LOADER):
        if isinstance(event, yaml.ScalarEvent):
            done(event, event.value)
        elif isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_ALIASES:
                raise yaml.YAMLError(f"more than {MAX_ALIASES} YAML aliases (refused as a possible alias bomb)")
            done(event, None)
        elif isinstance(event, yaml.CollectionStartEvent):
            if len(stack) >= MAX_DEPTH:
                raise yaml.YAMLError(f"nesting deeper than {MAX_DEPTH} levels")
            path = stack[-1].child_path() if stack else ""
            stack.append(_Frame(isinstance(event, yaml.MappingStartEvent), path))
        elif isinstance(event, yaml.CollectionEndEvent):
            stack.pop()
            done(event, None)
        elif isinstance(event, yaml.DocumentStartEvent):
            stack.clear()


def load_documents(text: str) -> list[Any]:
    """All documents of a YAML text (an empty document is None), or :class:`yaml.YAMLError`."""
    _check_events(text)
    return list(yaml.load_all(text, Loader=_LOADER))
