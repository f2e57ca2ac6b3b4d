"""Hostile and broken config input: any bytes give a Config or a ConfigError, never another exception,
a hang, or unbounded memory."""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acr_refresh.config import MAX_FILE_BYTES, load_config
from acr_refresh.errors import ConfigError

_json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
_json = st.recursive(_json_scalars, lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(st.text(max_size=12), inner, max_size=5), max_leaves=25)

_keys = st.sampled_from(["apiVersion", "kind", "metadata", "spec", "name", "namespace", "registry", "auth",
                         "servicePrincipal", "managedIdentity", "workloadIdentity", "secretRef", "clientId",
                         "clientSecret", "scope", "tenantId", "environmentType", "generatorRef", "template",
                         "data", "target", "dataFrom", "sourceRef", "vaultUrl", "secretName", "annotations"])
_values = st.sampled_from(["generators.external-secrets.io/v1alpha1", "ACRAccessToken", "acr-refresh/v1alpha1",
                           "KubernetesSecret", "KeyVaultSecret", "Cluster", "external-secrets.io/v1",
                           "ExternalSecret", "r.azurecr.io", "x", "", "{{ .password }}", "{{ .", "repository:a:pull",
                           "https://v.vault.azure.net/", "PublicCloud", "AzureStackCloud"])
_shaped = st.recursive(_values | _json_scalars, lambda inner: st.lists(inner, max_size=3)
                       | st.dictionaries(_keys, inner, max_size=6), max_leaves=40)


def load_text(data: bytes, suffix: str = ".yaml") -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"c{suffix}"
        path.write_bytes(data)
        try:
            load_config(path, environ={})
        except ConfigError as exc:
            assert str(exc)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=512))
def test_any_bytes(data: bytes) -> None:
    load_text(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_shaped, min_size=1, max_size=3))
def test_kubernetes_shaped_documents(docs: list) -> None:
    load_text(yaml.safe_dump_all(docs).encode())


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_shaped)
def test_json_documents(doc: object) -> None:
    import json

    load_text(json.dumps(doc).encode(), ".json")


def test_huge_file_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"a: b\n" * (MAX_FILE_BYTES // 5 + 10))
    try:
        load_config(path)
    except ConfigError as exc:
        assert "larger than" in str(exc)
    else:
        raise AssertionError("a file over the size limit was read")


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    for name, text in (("deep.yaml", "a: " + "[" * 5000 + "]" * 5000 + "\n"),
                       ("deep.json", "[" * 100_000 + "]" * 100_000),
                       ("shallow-enough.json", "[" * 70 + "]" * 70)):
        path = tmp_path / name
        path.write_text(text)
        try:
            load_config(path)
        except ConfigError as exc:
            assert "nesting" in str(exc) or "expected a mapping" in str(exc), str(exc)
        else:
            raise AssertionError(f"{name}: deep nesting was accepted")
