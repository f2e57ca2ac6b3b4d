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


# ------------------------------------------------------------------------ tenants' sources, hostile or odd


def test_a_secret_source_with_short_values_works(tmp_path: Path, em: Emulator) -> None:
    """Ordinary values (a port, a 15-character template) are not credentials to redact: no failure for them."""
    em.add_secret(NS, "tpl-secret", {"port": "5432", "t": "{{ .registry }}"})
    report = go(tmp_path, external_secret("x", "templateFrom:\n- secret: {name: tpl-secret, items: [{key: t}]}\n"))
    assert targets(report)["x"]["status"] == "written", report
    assert secret(em, "x")["data"] == {"t": REGISTRY}


def test_a_transformed_token_never_reaches_the_report(tmp_path: Path, em: Emulator) -> None:
    """A tenant's template can transform the token past what redaction recognises and hand it to `fail` (or
    another function's error): the message of a failing function is never shown."""
    em.add_configmap(NS, "tpl", {"dots": '{{ .password | replace "." " " | fail }}',
                                 "up": "{{ .password | upper | fail }}"})
    report = go(tmp_path,
                external_secret("dots", "templateFrom:\n- configMap: {name: tpl, items: [{key: dots}]}\n"),
                external_secret("up", "templateFrom:\n- configMap: {name: tpl, items: [{key: up}]}\n"))
    got = targets(report)
    assert got["dots"]["reason"] == got["up"]["reason"] == "render-failed"
    assert "error calling fail" in got["dots"]["error"] and "error calling fail" in got["up"]["error"]
    text = json.dumps(report)
    for token in em.issued_secrets():
        for form in (token, token.replace(".", " "), token.upper()):
            for part in form.split():
                assert len(part) < 16 or part not in text


def test_keys_and_values_as_sigs_yaml_reads_them(tmp_path: Path, em: Emulator) -> None:
    """sigs.k8s.io/yaml into map[string]string: numbers and booleans become their Go text (floats as
    FormatFloat(f, 'g', -1, 32)); YAML 1.1 booleans; a list value or broken YAML fails the target."""
    em.add_configmap(NS, "tpl", {"ok": "port: 5432\nratio: 1500000.0\non: yes\nname: x\n",
                                 "list": "a: [1, 2]\n", "broken": "a: b: c\n"})
    def kv(name: str) -> str:
        return external_secret(name, "templateFrom:\n- configMap: {name: tpl, items: [{key: " + name
                               + ", templateAs: KeysAndValues}]}\n")

    report = go(tmp_path, kv("ok"), kv("list"), kv("broken"))
    got = targets(report)
    assert got["ok"]["status"] == "written"
    assert secret(em, "ok")["data"] == {"port": "5432", "ratio": "1.5e+06", "true": "true", "name": "x"}
    for name in ("list", "broken"):
        assert got[name]["reason"] == "render-failed" and "could not unmarshal" in got[name]["error"]


def test_a_binary_secret_value_fails_only_when_used(tmp_path: Path, em: Emulator) -> None:
    em.add_secret(NS, "mixed", {"t": "{{ .registry }}"})
    obj = em.get_object("secrets", NS, "mixed")
    assert obj is not None
    from tests.eso_writer import request

    request(em, "PATCH", f"/api/v1/namespaces/{NS}/secrets/mixed",
            {"data": {"bin": base64.b64encode(b"\xff\xfe\x00").decode()}}, "application/merge-patch+json")
    report = go(tmp_path,
                external_secret("uses-text", "templateFrom:\n- secret: {name: mixed, items: [{key: t}]}\n"),
                external_secret("uses-bin", "templateFrom:\n- secret: {name: mixed, items: [{key: bin}]}\n"))
    got = targets(report)
    assert got["uses-text"]["status"] == "written"
    assert got["uses-bin"]["reason"] == "render-failed" and "not UTF-8 text" in got["uses-bin"]["error"]


def test_a_source_may_not_write_our_or_esos_marks(tmp_path: Path, em: Emulator) -> None:
    em.add_configmap(NS, "tpl", {"forge": "acr-refresh/created: '2026-01-01T00:00:00Z'\n",
                                 "eso": "reconcile.external-secrets.io/managed: 'true'\n"})
    report = go(tmp_path,
                external_secret("forge", "mergePolicy: Merge\ntemplateFrom:\n- configMap: {name: tpl, items: "
                                         "[{key: forge, templateAs: KeysAndValues}]}\n  target: Annotations\n"),
                external_secret("eso", "mergePolicy: Merge\ntemplateFrom:\n- configMap: {name: tpl, items: "
                                       "[{key: eso, templateAs: KeysAndValues}]}\n  target: Labels\n"))
    got = targets(report)
    for name in ("forge", "eso"):
        assert got[name]["reason"] == "render-failed" and "reserved" in got[name]["error"], got[name]
        assert em.get_object("secrets", NS, name) is None


def test_empty_template_data_means_the_generator_keys(tmp_path: Path, em: Emulator) -> None:
    """ESO: `len(Data) == 0` and no templateFrom → the generator's keys (ApplyTemplate's noTemplate)."""
    go(tmp_path, external_secret("x", "data: {}\n"))
    assert set(secret(em, "x")["data"]) == {"username", "password"}


def test_merge_sharers_whose_keys_meet_at_run_time_do_not_loop(tmp_path: Path, em: Emulator) -> None:
    """Keys a templateFrom renders are known only at run time: a sharer whose key another sharer's record
    holds is refused (conflict) instead of the two overwriting each other every run."""
    em.add_secret(NS, "shared", {"app": "keep"})
    a = external_secret("a", "data: {x: '{{ .registry }}'}\n").replace(
        "  target:\n", "  target:\n    name: shared\n    creationPolicy: Merge\n")
    b = external_secret("b", "templateFrom:\n- literal: 'x: other'\n").replace(
        "  target:\n", "  target:\n    name: shared\n    creationPolicy: Merge\n")
    go(tmp_path, a, b)  # the first run writes both (neither has a record yet): from then on they are refused
    for _ in range(2):
        again = go(tmp_path, a, b)
        outcomes = sorted((t["status"], t.get("reason")) for g in again["generators"] for t in g["targets"])
        # the last writer holds x and stays fresh; the other is refused: nothing is rewritten run after run
        assert outcomes == [("failed", "conflict"), ("fresh", "valid")], again
        assert any("written by another target sharing this Secret" in (t["error"] or "")
                   for g in again["generators"] for t in g["targets"])


def test_a_literal_that_renders_no_map_is_found_by_validate(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="could not unmarshal"):
        load_config_trial(tmp_path, external_secret("x", "templateFrom:\n- literal: '{{ .registry }}'\n"))
    with pytest.raises(ConfigError, match="not a valid Secret data key"):
        load_config_trial(tmp_path, external_secret("x", "templateFrom:\n- literal: 'bad key: x'\n"))


def load_config_trial(tmp_path: Path, doc: str) -> object:
    from acr_refresh.trial import trial_config

    return trial_config(load_config(write_config(tmp_path, acr_generator(), doc)))


def test_our_kind_keeps_template_from(tmp_path: Path) -> None:
    """A KubernetesSecret without a type (dockerconfigjson by default) keeps its templateFrom and finalizers."""
    doc = ("apiVersion: acr-refresh/v1alpha1\nkind: KubernetesSecret\nmetadata: {name: pull}\nspec:\n"
           "  generatorRef: {name: gen}\n  template:\n    templateFrom:\n    - literal: '.dockerconfigjson: x'\n")
    (target,) = load_config(write_config(tmp_path, acr_generator(), doc)).kube_targets
    assert target.template.type == "kubernetes.io/dockerconfigjson" and len(target.template.template_from) == 1
