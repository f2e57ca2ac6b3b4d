"""Deployment files: every Kubernetes manifest validates against the Kubernetes schemas, and the CronJob
has the properties a credential job needs; the Dockerfile and Bicep stay conventional."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
K8S_VERSION = "1.31"
MANIFESTS = sorted((ROOT / "deploy" / "kubernetes").glob("*.yaml"))


def documents() -> list[tuple[str, dict]]:
    out = []
    for path in MANIFESTS:
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                out.append((f"{path.name}:{doc['kind']}/{doc['metadata']['name']}", doc))
    return out


@pytest.mark.parametrize(("where", "doc"), documents(), ids=[w for w, _ in documents()])
def test_manifest_validates_against_kubernetes_schema(where: str, doc: dict) -> None:
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def by_kind(kind: str) -> list[dict]:
    return [d for _, d in documents() if d["kind"] == kind]


def test_cronjob_is_safe_for_a_credential_job() -> None:
    (cron,) = [c for c in by_kind("CronJob") if c["metadata"]["name"] == "acr-refresh"]
    job = cron["spec"]["jobTemplate"]["spec"]
    pod = job["template"]["spec"]
    (container,) = pod["containers"]
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    assert job["activeDeadlineSeconds"] > 600  # beyond the run's own 10m deadline
    rules = job["podFailurePolicy"]["rules"]
    assert {"action": "FailJob", "onExitCodes": {"containerName": "acr-refresh", "operator": "In",
                                                 "values": [2]}} in rules
    assert job["template"]["metadata"]["labels"]["azure.workload.identity/use"] == "true"
    assert pod["securityContext"]["runAsNonRoot"] is True
    sc = container["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    assert container["resources"]["requests"] and container["resources"]["limits"]
    assert pod["terminationGracePeriodSeconds"] >= 30  # in-flight requests finish after SIGTERM


def test_rbac_is_least_privilege() -> None:
    prune = [d for w, d in documents() if w.startswith("rbac-prune.yaml:")]
    events = [d for w, d in documents() if w.startswith("rbac-events.yaml:")]
    for role in by_kind("Role") + by_kind("ClusterRole"):
        for rule in role["rules"]:
            assert "*" not in rule["verbs"] and "*" not in rule["resources"]
            broad = {"delete", "list"} & set(rule["verbs"])
            # Listing Secrets and deleting them is prune's alone, in its own file; deleting (to replace) our
            # own Events is --events' alone, in its own file.
            own_events = role in events and rule["resources"] == ["events"] and broad == {"delete"}
            assert not broad or rule["resources"] == ["namespaces"] or role in prune or own_events, \
                role["metadata"]["name"]


def test_serviceaccount_is_annotated_for_workload_identity() -> None:
    (sa,) = by_kind("ServiceAccount")
    assert "azure.workload.identity/client-id" in sa["metadata"]["annotations"]


def test_dockerfile_is_slim_non_root_with_the_cli_entrypoint() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert "python:3.11-slim" in text
    assert "USER 10001" in text
    assert 'ENTRYPOINT ["acr-refresh"]' in text
    assert '"run", "--config", "/config"' in text
    assert "requirements-dev" not in text


def test_bicep_declares_what_the_app_needs() -> None:
    text = (ROOT / "deploy" / "azure" / "main.bicep").read_text()
    for needle in ("Python|3.11", "userAssignedIdentities", "ACR_REFRESH_SCHEDULE", "ACR_REFRESH_CONFIG",
                   "7f951dda-4ed3-4680-a7ca-43fe172d538d", "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
                   "scheduledQueryRules", "success == false", "success == true"):
        assert needle in text
