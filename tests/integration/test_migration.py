"""The README's "Migrate from ESO's ACR generator", step by step, on both Kubernetes tiers.

The Secret is seeded as External Secrets Operator v2.9.0 writes it (tests/eso_writer.py cites the controller
code): creationPolicy Owner, then ESO's own update after step 1 patches the ExternalSecret to Orphan. Neither
tier runs ESO or a garbage collector, so ESO's writes are replayed and owner references are asserted
directly: an ExternalSecret ownerReference left behind would let Kubernetes delete the Secret with its
ExternalSecret.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import pytest

from acr_refresh.cli import main
from acr_refresh.emulator import Emulator
from acr_refresh.sinks.kubernetes import FIELD_MANAGER
from tests.conftest import REGISTRY, acr_generator, write_config
from tests.eso_writer import DATA_HASH, MANAGED_LABEL, OWNER_LABEL, ExternalSecretController, dockerconfigjson

pytestmark = pytest.mark.kube

NS, NAME = "apps", "azurecr-credentials"
# examples/10-externalsecret.yaml, in the README's namespace and fed by a generator next to it.
EXTERNAL_SECRET = (Path(__file__).resolve().parents[2] / "examples" / "10-externalsecret.yaml").read_text() \
    .replace("namespace: acr-refresh", f"namespace: {NS}").replace("name: demo-registry", "name: azurecr")
ESO_ERA = dockerconfigjson(REGISTRY, "00000000-0000-0000-0000-000000000000", "eso-era-refresh-token")


def acr_refresh(*argv: str) -> tuple[int, Any]:
    out = io.StringIO()
    code = main([*argv, "--output", "json"], stdout=out)
    text = out.getvalue()
    return code, json.loads(text) if text.strip().startswith("{") else text


def target_of(report: dict[str, Any]) -> dict[str, Any]:
    (target,) = [t for g in report["generators"] for t in g["targets"]]
    return dict(target)


def live(em: Emulator) -> dict[str, Any]:
    obj = em.get_object("secrets", NS, NAME)
    assert obj is not None
    return obj


def eso_marks_left(obj: dict[str, Any]) -> list[str]:
    meta = obj["metadata"]
    left = [f"ownerReference {o['name']}" for o in meta.get("ownerReferences") or []
            if o.get("kind") == "ExternalSecret"]
    left += [f"manager {e['manager']}" for e in meta.get("managedFields") or []
             if str(e.get("manager", "")).startswith("externalsecrets.external-secrets.io/")]
    left += [k for k in {**(meta.get("labels") or {}), **(meta.get("annotations") or {})}
             if k.startswith("reconcile.external-secrets.io/")]
    return left


def test_migration_guide_end_to_end(em: Emulator, tmp_path: Path) -> None:
    config = str(write_config(tmp_path, acr_generator("azurecr", namespace=NS), EXTERNAL_SECRET))
    eso = ExternalSecretController(em, NS, NAME, secret_type="kubernetes.io/dockerconfigjson")
    owned = eso.reconcile({".dockerconfigjson": ESO_ERA})
    # As ESO v2.9.0 leaves it with creationPolicy Owner (the default).
    assert [o["kind"] for o in owned["metadata"]["ownerReferences"]] == ["ExternalSecret"]
    assert {MANAGED_LABEL, OWNER_LABEL} <= set(owned["metadata"]["labels"])
    assert [e["manager"] for e in owned["metadata"]["managedFields"]] == [f"externalsecrets.external-secrets.io/{NAME}"]

    code, report = acr_refresh("run", "--config", config)
    assert code == 1 and target_of(report)["reason"] == "eso-managed"
    assert "External Secrets Operator" in target_of(report)["error"]

    # 1. kubectl patch externalsecret ... creationPolicy Orphan, deletionPolicy Retain: ESO's next sync (an
    #    update) drops its controller reference and created-by label, and keeps its managed label and entry.
    eso.policy = "Orphan"
    orphan = eso.reconcile({".dockerconfigjson": ESO_ERA})
    assert not orphan["metadata"].get("ownerReferences") and OWNER_LABEL not in orphan["metadata"]["labels"]
    code, report = acr_refresh("run", "--config", config)  # an Orphan ESO Secret is ESO's all the same
    assert code == 1 and target_of(report)["reason"] == "eso-managed", report
    assert live(em)["metadata"]["resourceVersion"] == orphan["metadata"]["resourceVersion"]

    # 2. validate and a dry run: nothing is written; the dry run says a run without --take-over is refused.
    assert acr_refresh("validate", "--config", config)[0] == 0
    code, report = acr_refresh("run", "--config", config, "--dry-run")
    assert code == 1 and target_of(report)["reason"] == "eso-managed", report
    code, report = acr_refresh("run", "--config", config, "--dry-run", "--take-over", f"{NS}/{NAME}")
    assert code == 0 and target_of(report)["status"] == "skipped"
    assert live(em)["metadata"]["resourceVersion"] == orphan["metadata"]["resourceVersion"]

    # 3. kubectl delete externalsecret --cascade=orphan: with deletionPolicy Retain ESO's finalizer leaves the
    #    Secret alone (cleanupManagedSecrets), and no ownerReference is left for a garbage collector. Then the
    #    one run with --take-over.
    code, report = acr_refresh("run", "--config", config, "--take-over", f"{NS}/{NAME}")
    assert code == 0 and target_of(report)["status"] == "written", report
    obj = live(em)
    assert eso_marks_left(obj) == []
    issued = json.loads(base64.b64decode(obj["data"][".dockerconfigjson"]))["auths"][REGISTRY]
    assert issued["password"] in em.issued_secrets() and issued["password"] != "eso-era-refresh-token"
    owners = {e["manager"]: e for e in obj["metadata"]["managedFields"]}
    assert owners[FIELD_MANAGER]["operation"] == "Apply"
    assert "f:.dockerconfigjson" in owners[FIELD_MANAGER]["fieldsV1"]["f:data"]
    assert DATA_HASH not in (obj["metadata"].get("annotations") or {})

    # Later runs need no --take-over: the target is fresh, and nothing is written.
    code, report = acr_refresh("run", "--config", config)
    assert code == 0 and target_of(report)["status"] == "fresh", report
    assert live(em)["metadata"]["resourceVersion"] == obj["metadata"]["resourceVersion"]
