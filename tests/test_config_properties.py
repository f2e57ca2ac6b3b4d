"""Hostile and broken config input: any bytes give a Config or a ConfigError, never another exception,
a hang, or unbounded memory."""

from __future__ import annotations

import copy
import datetime
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acr_refresh.config import MAX_FILE_BYTES, build_config, load_config
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


# ------------------------------------------------------------------ every node of every example, retyped

ROOT = Path(__file__).resolve().parent.parent

# Kinds and fields the examples do not show (Clusters, per-target annotations, policies), so that every
# field the loader reads has a node to retype.
_EXTRAS = """\
apiVersion: acr-refresh/v1alpha1
kind: Cluster
metadata: {name: in}
spec: {inCluster: true}
---
apiVersion: acr-refresh/v1alpha1
kind: Cluster
metadata: {name: kc}
spec: {kubeconfig: {path: /k/config, context: edge}}
---
apiVersion: acr-refresh/v1alpha1
kind: Cluster
metadata: {name: aks}
spec:
  aks:
    server: https://edge-dns-12345678.hcp.westeurope.azmk8s.io:443
    certificateAuthorityData: LS0t
    tenantId: 00000000-0000-0000-0000-0000000000aa
    environmentType: PublicCloud
    auth: {workloadIdentity: {serviceAccountRef: {name: puller, namespace: apps, audiences: [x]}}}
---
apiVersion: generators.external-secrets.io/v1alpha1
kind: ACRAccessToken
metadata:
  name: mi
  namespace: apps
  annotations: {acr-refresh/entra-audience: arm}
spec:
  registry: r.azurecr.io
  environmentType: PublicCloud
  auth: {managedIdentity: {identityId: 7c1b8f0e-2d3a-4b5c-8d9e-bbbbbbbbbbbb}}
---
apiVersion: external-secrets.io/v1beta1
kind: ExternalSecret
metadata:
  name: es
  namespace: apps
  annotations: {acr-refresh/cluster: kc, acr-refresh/min-remaining: 90m}
spec:
  refreshInterval: 1h
  dataFrom:
    - sourceRef: {generatorRef: {apiVersion: generators.external-secrets.io/v1alpha1, kind: ACRAccessToken, name: mi}}
  target:
    name: es
    creationPolicy: Merge
    template:
      type: Opaque
      engineVersion: v2
      mergePolicy: Merge
      metadata: {labels: {a: "{{ .registry }}"}, annotations: {b: "{{ .tokenType }}"}}
      data: {token: "{{ .password }}"}
---
apiVersion: acr-refresh/v1alpha1
kind: KubernetesSecret
metadata: {name: ks, namespace: apps}
spec:
  generatorRef: {name: mi}
  clusters: [default, in, aks]
  namespaces: [a]
  namespaceSelector:
    matchLabels: {team: x}
    matchExpressions: [{key: env, operator: In, values: [prod]}, {key: old, operator: DoesNotExist}]
  excludeNamespaces: [kube-system]
  serviceAccounts: ["*"]
  refreshPolicy: {minRemaining: 1h}
---
apiVersion: acr-refresh/v1alpha1
kind: KeyVaultSecret
metadata: {name: kv, namespace: apps}
spec:
  generatorRef: {name: mi}
  vaultUrl: https://vault1.vault.azure.net/
  secretName: s
  value: "{{ .username }}"
  tags: {a: b}
  auth: {managedIdentity: {}}
  refreshPolicy: {minRemaining: 30m}
"""


def _eso_docs(*names: str) -> list[Any]:
    docs: list[Any] = []
    for path in (ROOT / "tests/fixtures/eso" / name for name in names):
        text = "\n".join(line for line in path.read_text().splitlines() if "{%" not in line)
        for doc in yaml.safe_load_all(text):
            if doc:  # ESO's reference generator has no metadata; it feeds the example ExternalSecret
                docs.append(doc if "metadata" in doc else {**doc, "metadata": {"name": "my-azurecr"}})
    return docs


def _example_docs() -> list[Any]:
    return [d for p in sorted((ROOT / "examples").glob("*.yaml")) for d in yaml.safe_load_all(p.read_text()) if d]


CONFIG_SETS = {
    "examples": _example_docs(),
    "eso": _eso_docs("generator-acr.yaml", "generator-acr-example.yaml"),
    "eso-argocd": _eso_docs("generator-acr-argocd-helm-repo.yaml"),
    "extras": list(yaml.safe_load_all(_EXTRAS)),
}

# A value of each type the YAML safe loader builds: null, bool, int, float, str, timestamp (date and
# datetime), binary, sequence, mapping, set. Each node is replaced by every one of another type.
RETYPED: list[Any] = [None, True, 7, 1.5, "x", datetime.date(2024, 1, 1),
                      datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC), b"\x00\xff", ["x"], {"x": "y"}, {"x"}]
# What a mapping key can be in YAML (a hashable value; an unhashable key is a YAML error in itself).
RETYPED_KEYS: list[Any] = [None, True, 7, 1.5, datetime.date(2024, 1, 1), b"\x00"]

Path_ = tuple[Any, ...]


def _nodes(node: Any, at: Path_ = ()) -> Iterator[tuple[Path_, bool]]:
    """Every node's path: ``(path, False)`` for a value, ``(path, True)`` for a mapping's key."""
    yield at, False
    if isinstance(node, dict):
        for k, v in node.items():
            yield (*at, k), True
            yield from _nodes(v, (*at, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _nodes(v, (*at, i))


def _replaced(docs: list[Any], doc_index: int, at: Path_, is_key: bool, value: Any) -> list[Any]:
    docs = copy.deepcopy(docs)
    if not at:
        docs[doc_index] = value
        return docs
    parent = docs[doc_index]
    for part in at[:-1]:
        parent = parent[part]
    last = at[-1]
    if is_key:
        if value in parent and value != last:  # would merge two keys: not a retyped node any more
            return docs
        parent[value] = parent.pop(last)
    else:
        parent[last] = value
    return docs


def _node(doc: Any, at: Path_, is_key: bool) -> Any:
    for part in at if not is_key else at[:-1]:
        doc = doc[part]
    return at[-1] if is_key else doc


def _cases() -> list[tuple[str, int, Path_, bool]]:
    return [(name, i, at, is_key) for name, docs in CONFIG_SETS.items() for i, doc in enumerate(docs)
            for at, is_key in _nodes(doc)]


CASES = _cases()


def _load_docs(docs: list[Any]) -> None:
    """Validate documents as if read from one file (the YAML safe loader builds these same types)."""
    try:
        build_config(((Path("c.yaml"), i + 1, d) for i, d in enumerate(docs)), environ={})
    except ConfigError as exc:
        assert str(exc)


def _other_type(a: Any, b: Any) -> bool:
    return type(a) is not type(b)


def test_every_config_set_loads_unchanged(tmp_path: Path) -> None:
    for docs in CONFIG_SETS.values():
        path = tmp_path / "c.yaml"
        path.write_text(yaml.safe_dump_all(docs))
        load_config(path, environ={})


@pytest.mark.parametrize("name", sorted(CONFIG_SETS))
def test_every_node_retyped_gives_config_or_config_error(name: str) -> None:
    """Each node of each document, replaced by a value of every other YAML type (keys too): a Config or a
    ConfigError, never another exception."""
    failures = []
    for set_name, index, at, is_key in CASES:
        if set_name != name:
            continue
        node = _node(CONFIG_SETS[name][index], at, is_key)
        for value in RETYPED_KEYS if is_key else RETYPED:
            if not _other_type(value, node):
                continue
            try:
                _load_docs(_replaced(CONFIG_SETS[name], index, at, is_key, value))
            except Exception as exc:  # noqa: BLE001 - collected, so one run lists every escape
                failures.append(f"document {index + 1} {'key' if is_key else 'node'} {list(at)} = {value!r}: "
                                f"{type(exc).__name__}: {exc}")
    assert not failures, f"{len(failures)} escapes:\n" + "\n".join(failures[:40])


_any_yaml = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30) | st.binary(max_size=8)
    | st.dates() | st.datetimes(timezones=st.just(datetime.UTC)) | _values
    | st.sampled_from(["0", "1h", "2562048h", "9999999999999h", "1" * 30 + "s", "1.5"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys | st.text(max_size=8), inner, max_size=4),
    max_leaves=12)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=st.sampled_from([c for c in CASES if not c[3]]), value=_any_yaml)
def test_any_value_at_any_node(case: tuple[str, int, Path_, bool], value: Any) -> None:
    name, index, at, is_key = case
    _load_docs(_replaced(CONFIG_SETS[name], index, at, is_key, value))
