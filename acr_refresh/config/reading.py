"""Reading config files: a path → files → documents, with the YAML and JSON safety limits. No validation."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError, Location
from ..yamldocs import MAX_DEPTH, DuplicateKey, load_documents

MAX_FILE_BYTES = 4 * 1024 * 1024
CONFIG_SUFFIXES = (".yaml", ".yml", ".json")

def config_files(path: str | os.PathLike[str]) -> list[Path]:
    """The files a ``--config`` path stands for: itself, or a directory's config files in sorted order."""
    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in CONFIG_SUFFIXES)
        if not files:
            raise ConfigError(f"{p}: directory holds no *.yaml, *.yml or *.json files")
        return files
    if not p.exists():
        raise ConfigError(f"{p}: no such file or directory")
    return [p]


def read_documents(path: Path) -> Iterator[tuple[int, Any]]:
    """Yield ``(1-based index, document)`` for each document of one file. ``kind: List`` is flattened."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if len(raw) > MAX_FILE_BYTES:
        raise ConfigError(f"{path}: file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not valid UTF-8 (byte offset {exc.start})") from exc
    docs: list[Any]
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text, object_pairs_hook=_unique_keys)
        except ValueError as exc:
            raise ConfigError(f"{path}: invalid JSON: {exc}") from exc
        except RecursionError as exc:
            raise ConfigError(f"{path}: invalid JSON: nesting too deep") from exc
        if _depth(data) > MAX_DEPTH:
            raise ConfigError(f"{path}: invalid JSON: nesting deeper than {MAX_DEPTH} levels")
        docs = data if isinstance(data, list) else [data]
    else:
        try:
            docs = load_documents(text)
        except DuplicateKey as exc:
            raise ConfigError(f"{exc} (a key may appear once in a mapping, as kubectl requires)",
                              location=Location(str(path), exc.document), field=exc.field) from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: invalid YAML: {_yaml_problem(exc)}") from exc
        except RecursionError as exc:
            raise ConfigError(f"{path}: invalid YAML: nesting too deep") from exc
    index = 0
    for doc in docs:
        if doc is None:  # an empty document between '---' separators
            continue
        index += 1
        if isinstance(doc, dict) and doc.get("kind") == "List" and isinstance(doc.get("items"), list):
            for item in doc["items"]:
                yield index, item
        else:
            yield index, doc


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object's members, refusing a repeated name (json's "the last one wins" hides the first)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r} in one object (a key may appear once, as kubectl requires)")
        out[key] = value
    return out


def _depth(value: Any, limit: int = MAX_DEPTH + 1) -> int:
    """Nesting depth of JSON data, counting no further than ``limit``."""
    stack = [(value, 1)]
    deepest = 0
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        if level > limit:
            break
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        stack.extend((c, level + 1) for c in children)
    return deepest


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if mark is not None:
        return f"{problem} (line {mark.line + 1}, column {mark.column + 1})"
    return str(problem)

