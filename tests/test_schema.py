"""`acr-refresh schema`: a valid JSON Schema that accepts the examples and ESO's manifests."""

from __future__ import annotations

import io
import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from acr_refresh.cli import main

ROOT = Path(__file__).resolve().parent.parent


def schema() -> dict:
    out = io.StringIO()
    assert main(["schema"], stdout=out) == 0
    return json.loads(out.getvalue())


def docs(path: Path) -> list[dict]:
    # ESO's doc snippets carry Jekyll raw markers; its reference generator has no metadata (Kubernetes would
    # refuse it without a name), so it gets one here.
    text = "\n".join(line for line in path.read_text().splitlines() if "{%" not in line)
    return [d if "metadata" in d else {**d, "metadata": {"name": path.stem}} for d in yaml.safe_load_all(text) if d]


def test_schema_is_valid_and_accepts_examples_and_eso_manifests() -> None:
    s = schema()
    jsonschema.Draft202012Validator.check_schema(s)
    validator = jsonschema.Draft202012Validator(s)
    files = sorted((ROOT / "examples").glob("*.yaml")) + sorted((ROOT / "tests/fixtures/eso").glob("*.yaml"))
    for path in files:
        for doc in docs(path):
            errors = list(validator.iter_errors(doc))
            assert not errors, f"{path.name}: {errors[0].message}"


@pytest.mark.parametrize(
    "doc",
    [
        {"apiVersion": "acr-refresh/v1alpha1", "kind": "KubernetesSecrt", "metadata": {"name": "x"}},
        {"apiVersion": "generators.external-secrets.io/v1alpha1", "kind": "ACRAccessToken", "metadata": {"name": "x"},
         "spec": {"registry": "r.azurecr.io", "auth": {"managedIdentity": {}}, "scope": "repository:*:pull"}},
        {"apiVersion": "acr-refresh/v1alpha1", "kind": "KeyVaultSecret", "metadata": {"name": "x"},
         "spec": {"generatorRef": {"name": "g"}, "vaultUrl": "https://v.vault.azure.net", "secretName": "a_b"}},
    ],
)
def test_schema_refuses_typos(doc: dict) -> None:
    assert list(jsonschema.Draft202012Validator(schema()).iter_errors(doc))
