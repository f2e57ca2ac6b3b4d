"""``template.templateFrom`` end to end on both tiers: the Secret is the one ESO's controller would write.

ESO v2.9.0, what each expectation is derived from:
- pkg/controllers/externalsecret/externalsecret_controller_template.go, ApplyTemplate: data cleared (Owner),
  the generator's keys only with mergePolicy Merge or with neither data nor templateFrom; templateFrom applied
  before template.data, which wins; then metadata labels/annotations;
- pkg/controllers/templating/parser.go: MergeConfigMap / MergeSecret (items in order; "error in configmap %s:
  missing key %s"; Values renders one key, KeysAndValues renders a YAML map), MergeLiteral (KeysAndValues);
- runtime/template/v2/template.go: Execute, valueScopeApply, mapScopeApply, applyToTarget (Data, Labels,
  Annotations), and runtime/decoding/decoding.go for valuesDecodingStrategy.
ConfigMaps and Secrets named there are tenants' objects: untrusted, read once per run per cluster, their
errors confined to their target.
"""

from __future__ import annotations

import base64
import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from acr_refresh.config import ConfigError, load_config
from acr_refresh.emulator import Emulator
from acr_refresh.run import RunOptions, run
from tests.conftest import REGISTRY, acr_generator, fast_services, write_config

pytestmark = pytest.mark.kube

NS = "default"


def external_secret(name: str, template: str) -> str:
    return textwrap.dedent(f"""\
        apiVersion: external-secrets.io/v1
        kind: ExternalSecret
        metadata: {{name: {name}}}
        spec:
          dataFrom:
          - sourceRef:
              generatorRef: {{apiVersion: generators.external-secrets.io/v1alpha1, kind: ACRAccessToken, name: gen}}
          target:
            template:
        """) + textwrap.indent(textwrap.dedent(template), "      ")


def go(tmp_path: Path, *docs: str) -> dict[str, Any]:
    config = load_config(write_config(tmp_path, acr_generator(), *docs))
    return run(config, RunOptions(), services=fast_services()).to_dict()


def targets(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for g in report["generators"] for t in g["targets"]}


def secret(em: Emulator, name: str) -> dict[str, Any]:
    obj = em.get_object("secrets", NS, name)
    assert obj is not None, name
    meta = obj["metadata"]
    return {"data": {k: base64.b64decode(v).decode() for k, v in (obj.get("data") or {}).items()},
            "labels": {k: v for k, v in (meta.get("labels") or {}).items() if not k.startswith("app.kubernetes")},
            "annotations": {k: v for k, v in (meta.get("annotations") or {}).items()
                            if not k.startswith("acr-refresh/")}}


def test_configmap_values_and_keys_and_values(tmp_path: Path, em: Emulator) -> None:
    em.add_configmap(NS, "tpl", {
        "config.json": '{"registry": "{{ .registry }}", "user": "{{ .username }}"}',
        "both": "url: https://{{ .registry }}\nkind: helm\n",
    })
    report = go(tmp_path, external_secret("argo", """\
        templateFrom:
        - configMap:
            name: tpl
            items:
            - key: config.json
            - {key: both, templateAs: KeysAndValues}
        """))
    assert targets(report)["argo"]["status"] == "written", report
    data = secret(em, "argo")["data"]
    assert set(data) == {"config.json", "url", "kind"}  # Owner, no Merge: the generator's keys are not copied
    assert json.loads(data["config.json"]) == {"registry": REGISTRY, "user": "00000000-0000-0000-0000-000000000000"}
    assert data["url"] == f"https://{REGISTRY}" and data["kind"] == "helm"


def test_template_data_wins_and_merge_adds_the_generator_keys(tmp_path: Path, em: Emulator) -> None:
    em.add_configmap(NS, "tpl", {"password": "from-configmap", "extra": "x"})
    go(tmp_path, external_secret("pull", """\
        mergePolicy: Merge
        templateFrom:
        - configMap: {name: tpl, items: [{key: password}, {key: extra}]}
        data: {extra: '{{ "from-data" }}'}
        """))
    data = secret(em, "pull")["data"]
    assert data["password"] == "from-configmap"  # templateFrom over the generator's keys (Merge)
    assert data["extra"] == "from-data"  # template.data over templateFrom
    assert data["username"] == "00000000-0000-0000-0000-000000000000"


def test_secret_source_labels_literal_annotations_and_decoding(tmp_path: Path, em: Emulator) -> None:
    em.add_secret(NS, "tpl-secret", {"labels": "team: payments\ntier: '{{ \"gold\" }}'\n"})
    go(tmp_path, external_secret("meta", f"""\
        templateFrom:
        - secret: {{name: tpl-secret, items: [{{key: labels, templateAs: KeysAndValues}}]}}
          target: Labels
        - literal: "note: {base64.b64encode(b'hello').decode()}"
          target: annotations
          valuesDecodingStrategy: Base64
        - literal: "registry: '{{{{ .registry }}}}'"
        """))
    got = secret(em, "meta")
    assert got["labels"] == {"team": "payments", "tier": "gold"}
    assert got["annotations"] == {"note": "hello"}
    assert got["data"] == {"registry": REGISTRY}


def test_read_once_per_run_per_cluster(tmp_path: Path, em: Emulator) -> None:
    em.add_configmap(NS, "tpl", {"a": "{{ .registry }}"})
    docs = [external_secret(n, "templateFrom:\n- configMap: {name: tpl, items: [{key: a}]}\n") for n in ("one", "two")]
    before = em.counts["kube.configmap.get"]
    report = go(tmp_path, *docs)
    assert {n: t["status"] for n, t in targets(report).items()} == {"one": "written", "two": "written"}
    assert em.counts["kube.configmap.get"] - before == 1


def test_a_bad_source_fails_its_target_only(tmp_path: Path, em: Emulator) -> None:
    """A tenant's broken ConfigMap (missing key, bad template, environment read, missing object) fails only
    the target that names it; what it holds is never echoed."""
    em.add_configmap(NS, "good", {"a": "ok"})
    em.add_configmap(NS, "bad", {"tpl": "{{ env \"HOME\" }}", "broken": "{{ .registry", "other": "SENSITIVE-TEXT"})
    report = go(tmp_path,
                external_secret("ok", "templateFrom:\n- configMap: {name: good, items: [{key: a}]}\n"),
                external_secret("missing-key", "templateFrom:\n- configMap: {name: bad, items: [{key: nope}]}\n"),
                external_secret("env", "templateFrom:\n- configMap: {name: bad, items: [{key: tpl}]}\n"),
                external_secret("broken", "templateFrom:\n- configMap: {name: bad, items: [{key: broken}]}\n"),
                external_secret("absent", "templateFrom:\n- configMap: {name: absent, items: [{key: a}]}\n"))
    got = targets(report)
    assert got["ok"]["status"] == "written"
    assert got["missing-key"]["reason"] == "render-failed" and "missing key nope" in got["missing-key"]["error"]
    assert got["env"]["reason"] == "render-failed" and "env" in got["env"]["error"]
    assert got["broken"]["reason"] == "render-failed"
    assert got["absent"]["reason"] == "read-failed"
    assert "SENSITIVE-TEXT" not in json.dumps(report)
    for name in ("missing-key", "env", "broken", "absent"):
        assert em.get_object("secrets", NS, name) is None


def test_a_secret_source_value_never_reaches_the_report(tmp_path: Path, em: Emulator) -> None:
    em.add_secret(NS, "tpl-secret", {"t": "{{ fail \"s3cr3t-template-value\" }}"})
    report = go(tmp_path, external_secret("x", "templateFrom:\n- secret: {name: tpl-secret, items: [{key: t}]}\n"))
    assert targets(report)["x"]["status"] == "failed"
    assert "s3cr3t-template-value" not in json.dumps(report)


def test_literal_errors_are_found_by_validate(tmp_path: Path) -> None:
    bad = external_secret("x", "templateFrom:\n- literal: '{{ .nosuchkey }}'\n")
    with pytest.raises(ConfigError, match=r"templateFrom\[0\]\.literal"):
        load_config(write_config(tmp_path, acr_generator(), bad))


@pytest.mark.parametrize(("template", "field", "words"), [
    ("templateFrom:\n- literal: 'a: b'\n  target: spec.data\n", "target", "not allowed when targeting a Secret"),
    ("templateFrom:\n- configMap: {name: t, items: []}\n", "items", "at least one"),
    ("templateFrom:\n- configMap: {name: t, items: [{key: a, templateAs: All}]}\n", "templateAs", "Values"),
    ("templateFrom:\n- literal: 'a: b'\n  valuesDecodingStrategy: Hex\n", "valuesDecodingStrategy", "Base64"),
    ("templateFrom:\n- literal: 'a: b'\n  configMap: {name: t, items: [{key: a}]}\n", "templateFrom[0]",
     "exactly one"),
])
def test_refused_in_config(tmp_path: Path, template: str, field: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write_config(tmp_path, acr_generator(), external_secret("x", template)))
    assert field in str(info.value) and words in str(info.value), str(info.value)
