#!/usr/bin/env python3
"""Print every field path of ESO's CRD schemas as JSON: the data the field-fate table is checked against.

    python3 scripts/eso-crd-paths.py CRD_DIR > acr_refresh/config/eso_crd_paths.json

CRD_DIR holds ESO's ``config/crds/bases`` (v2.9.0: ``git show v2.9.0:config/crds/bases/<file>``). Paths are
dotted, ``[]`` marks a list item. A ClusterGenerator keeps ``spec.kind`` and the ACRAccessToken spec only;
every other generator's spec is one path (``spec.generator.<x>Spec``), since such a generator is not handled.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

FILES = {
    "ExternalSecret": "external-secrets.io_externalsecrets.yaml",
    "ClusterExternalSecret": "external-secrets.io_clusterexternalsecrets.yaml",
    "ACRAccessToken": "generators.external-secrets.io_acraccesstokens.yaml",
    "ClusterGenerator": "generators.external-secrets.io_clustergenerators.yaml",
}


def walk(schema: dict[str, Any], prefix: str, out: list[str], *, cut: tuple[str, ...] = ()) -> None:
    for key, sub in (schema.get("properties") or {}).items():
        path = f"{prefix}.{key}" if prefix else key
        out.append(path)
        if any(path == c for c in cut):
            continue
        walk(sub, path, out, cut=cut)
    if isinstance(schema.get("items"), dict):
        walk(schema["items"], prefix + "[]", out, cut=cut)


def main(crd_dir: str) -> None:
    result: dict[str, dict[str, list[str]]] = {}
    for kind, name in FILES.items():
        crd = yaml.safe_load(Path(crd_dir, name).read_text())
        for version in crd["spec"]["versions"]:
            schema = version["schema"]["openAPIV3Schema"]
            cut: tuple[str, ...] = ()
            if kind == "ClusterGenerator":
                specs = schema["properties"]["spec"]["properties"]["generator"]["properties"]
                cut = tuple(f"spec.generator.{k}" for k in specs if k != "acrAccessTokenSpec")
            paths: list[str] = []
            walk(schema, "", paths, cut=cut)
            result.setdefault(kind, {})[version["name"]] = paths
    json.dump(result, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
