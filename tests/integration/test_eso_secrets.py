"""Each honoured ExternalSecret field, end to end on both tiers: the Secret we write is the one ESO would write.

What ESO writes is derived from its controller, v2.9.0:
- pkg/controllers/externalsecret/externalsecret_controller_template.go: ApplyTemplate (data cleared unless
  Merge/CreateOrMerge; no template → dataMap copied; template type; mergePolicy Merge adds dataMap; template
  data over it) and setMetadata (no template → the ExternalSecret's labels/annotations merged in; template
  metadata.finalizers added);
- runtime/esutils/utils.go: RewriteMap (regexp ReplaceAllString, transform over .value), before templating;
- pkg/controllers/externalsecret/externalsecret_controller_secret.go / ..._controller.go: CreateOrMerge
  creates a missing Secret, Merge never does; target.immutable is set on the Secret.
acr-refresh's own bookkeeping (app.kubernetes.io/managed-by and acr-refresh/* annotations) is the only
addition; it is left out of the comparison.
"""

from __future__ import annotations

import base64
import textwrap
from pathlib import Path
from typing import Any

import pytest

from acr_refresh.config import load_config
from acr_refresh.emulator import Emulator
from acr_refresh.run import RunOptions, run
from tests.conftest import REGISTRY, acr_generator, fast_services, write_config

pytestmark = pytest.mark.kube

NS = "default"


def external_secret(spec: str = "", meta: str = "", rewrite: str = "") -> str:
    return (textwrap.dedent("""\
        apiVersion: external-secrets.io/v1
        kind: ExternalSecret
        metadata:
          name: pull
        """) + textwrap.indent(textwrap.dedent(meta), "  ") + textwrap.dedent("""\
        spec:
          dataFrom:
          - sourceRef:
              generatorRef:
                apiVersion: generators.external-secrets.io/v1alpha1
                kind: ACRAccessToken
                name: gen
        """) + textwrap.indent(textwrap.dedent(rewrite), "    ") + textwrap.indent(textwrap.dedent(spec), "  "))


def ours(key: str) -> bool:
    return key.startswith("acr-refresh/") or key == "app.kubernetes.io/managed-by"


def secret(em: Emulator, name: str = "pull") -> dict[str, Any]:
    obj = em.get_object("secrets", NS, name)
    assert obj is not None, f"no Secret {NS}/{name}"
    meta = obj["metadata"]
    return {
        "type": obj.get("type"),
        "data": {k: base64.b64decode(v).decode() for k, v in (obj.get("data") or {}).items()},
        "labels": {k: v for k, v in (meta.get("labels") or {}).items() if not ours(k)},
        "annotations": {k: v for k, v in (meta.get("annotations") or {}).items() if not ours(k)},
        "finalizers": meta.get("finalizers") or [],
        "immutable": obj.get("immutable", False),
    }


def go(tmp_path: Path, em: Emulator, *docs: str) -> dict:
    config = load_config(write_config(tmp_path, acr_generator(), *docs))
    report = run(config, RunOptions(), services=fast_services()).to_dict()
    assert report["ok"], [t for g in report["generators"] for t in g["targets"]]
    return report


def token(em: Emulator) -> tuple[str, str]:
    user = "00000000-0000-0000-0000-000000000000"
    data = secret(em)["data"]
    password = next(v for k, v in data.items() if v != user and k != "note")
    return user, password


CASES = {
    # field → (ExternalSecret pieces, what ESO writes given (user, password))
    "no template: dataFrom keys, Opaque": (
        {}, lambda u, p: {"type": "Opaque", "data": {"username": u, "password": p}}),
    "metadata.labels/annotations copied without a template": (
        {"meta": "labels: {team: payments}\nannotations: {owner: alice}\n"},
        lambda u, p: {"labels": {"team": "payments"}, "annotations": {"owner": "alice"},
                      "data": {"username": u, "password": p}}),
    "dataFrom[].rewrite regexp": (
        {"rewrite": "rewrite:\n- regexp: {source: '^(.*)$', target: 'acr_$1'}\n"},
        lambda u, p: {"data": {"acr_username": u, "acr_password": p}}),
    "dataFrom[].rewrite transform": (
        {"rewrite": "rewrite:\n- transform: {template: '{{ .value | upper }}'}\n"},
        lambda u, p: {"data": {"USERNAME": u, "PASSWORD": p}}),
    "target.template.type and data": (
        {"spec": "target:\n  template:\n    type: kubernetes.io/basic-auth\n    data:\n"
                 "      username: '{{ .username }}'\n      password: '{{ .password }}'\n"},
        lambda u, p: {"type": "kubernetes.io/basic-auth", "data": {"username": u, "password": p}}),
    "target.template.mergePolicy Merge": (
        {"spec": "target:\n  template:\n    mergePolicy: Merge\n    data: {note: hello}\n"},
        lambda u, p: {"data": {"username": u, "password": p, "note": "hello"}}),
    "target.template.metadata with a template: ES metadata not copied": (
        {"meta": "labels: {team: payments}\n",
         "spec": "target:\n  template:\n    metadata:\n      labels: {app: '{{ \"web\" }}'}\n"
                 "      annotations: {who: me}\n"},
        lambda u, p: {"labels": {"app": "web"}, "annotations": {"who": "me"},
                      "data": {"username": u, "password": p}}),
    "target.template.metadata.finalizers": (
        {"spec": "target:\n  template:\n    metadata:\n      finalizers: [example.com/keep]\n"},
        lambda u, p: {"finalizers": ["example.com/keep"], "data": {"username": u, "password": p}}),
    "target.immutable with refreshPolicy CreatedOnce": (
        {"spec": "refreshPolicy: CreatedOnce\ntarget: {immutable: true}\n"},
        lambda u, p: {"immutable": True, "data": {"username": u, "password": p}}),
    "target.creationPolicy CreateOrMerge creates a missing Secret": (
        {"spec": "target: {creationPolicy: CreateOrMerge}\n"},
        lambda u, p: {"data": {"username": u, "password": p}}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_secret_is_the_one_eso_writes(tmp_path: Path, em: Emulator, case: str) -> None:
    pieces, expect = CASES[case]
    go(tmp_path, em, external_secret(**pieces))
    got = secret(em)
    user, password = token(em)
    want = expect(user, password)
    for key, value in want.items():
        assert got[key] == value, (case, key, got[key])
    assert REGISTRY  # the generator's registry; the token itself is the emulator's


def test_merge_adds_to_a_foreign_secret_and_keeps_its_keys(tmp_path: Path, em: Emulator) -> None:
    """ESO's Merge keeps the existing keys (ApplyTemplate clears data only for other policies)."""
    em.add_secret(NS, "pull", {"other": "keep-me"})
    go(tmp_path, em, external_secret(spec="target: {creationPolicy: Merge}\n"))
    data = secret(em)["data"]
    assert data["other"] == "keep-me" and set(data) == {"other", "username", "password"}


def test_merge_never_creates(tmp_path: Path, em: Emulator) -> None:
    config = load_config(write_config(tmp_path, acr_generator(),
                                      external_secret(spec="target: {creationPolicy: Merge}\n")))
    report = run(config, RunOptions(), services=fast_services()).to_dict()
    (target,) = report["generators"][0]["targets"]
    assert target["status"] == "failed" and target["reason"] == "missing"
    assert em.get_object("secrets", NS, "pull") is None


def test_target_name_names_the_secret(tmp_path: Path, em: Emulator) -> None:
    """ESO: target.name, default the ExternalSecret's name (externalsecret_controller.go, getSecretName)."""
    go(tmp_path, em, external_secret(spec="target: {name: registry-pull}\n"))
    assert em.get_object("secrets", NS, "pull") is None
    assert set(secret(em, "registry-pull")["data"]) == {"username", "password"}


def test_orphan_writes_what_owner_writes(tmp_path: Path, em: Emulator) -> None:
    """ESO's Orphan differs from Owner only in the ownerReference (applyOwnership), which acr-refresh never sets."""
    go(tmp_path, em, external_secret(spec="target: {creationPolicy: Orphan}\n"))
    got = secret(em)
    assert got["type"] == "Opaque" and set(got["data"]) == {"username", "password"}
    obj = em.get_object("secrets", NS, "pull")
    assert obj is not None and not obj["metadata"].get("ownerReferences")


def test_none_writes_nothing(tmp_path: Path, em: Emulator) -> None:
    """ESO's None renders but never writes (externalsecret_controller.go: CreatePolicyNone skips the Secret)."""
    config = load_config(write_config(tmp_path, acr_generator(),
                                      external_secret(spec="target: {creationPolicy: None}\n")))
    report = run(config, RunOptions(), services=fast_services()).to_dict()
    (target,) = report["generators"][0]["targets"]
    assert (target["status"], target["reason"]) == ("skipped", "creation-policy-none")
    assert em.get_object("secrets", NS, "pull") is None
