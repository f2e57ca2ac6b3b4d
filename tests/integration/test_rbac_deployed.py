"""RBAC as deployed: deploy/kubernetes/rbac.yaml applied to the real API server, the job run as the
``acr-refresh`` ServiceAccount with a TokenRequest token, and each rule removed in turn to show that the
feature needing it fails with a clear 403 reason (and the others go on). Real tier only: the point is the
real RBAC authorizer."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from acr_refresh.config import load_config
from acr_refresh.run import RunOptions, run
from tests.conftest import SP_CLIENT, SP_SECRET, TENANT, WI_CLIENT, acr_generator, fast_services, write_config
from tests.tiers import RealTierEmulator

pytestmark = [pytest.mark.kube, pytest.mark.real_only]

RBAC_FILE = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes" / "rbac.yaml"


def rbac_docs() -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(RBAC_FILE.read_text()) if d]


def without(docs: list[dict[str, Any]], kind: str, namespace: str | None, resource: str, verb: str
            ) -> list[dict[str, Any]]:
    """``docs`` with ``verb`` on ``resource`` removed from the Role/ClusterRole in ``namespace``."""
    out = copy.deepcopy(docs)
    for doc in out:
        if doc["kind"] == kind and doc["metadata"].get("namespace") == namespace:
            for rule in doc["rules"]:
                if resource in rule["resources"] and verb in rule["verbs"]:
                    rule["verbs"].remove(verb)
            doc["rules"] = [r for r in doc["rules"] if r["verbs"]]
    return out


def install(em: RealTierEmulator, docs: list[dict[str, Any]]) -> None:
    server = em.server
    for doc in docs:
        path = _rbac_path(doc)
        server.request("DELETE", path)  # roles are replaced whole: a removed rule is gone
        server.apply_object(doc)


def _rbac_path(doc: dict[str, Any]) -> str:
    plural = {"Role": "roles", "RoleBinding": "rolebindings", "ClusterRole": "clusterroles",
              "ClusterRoleBinding": "clusterrolebindings"}[doc["kind"]]
    ns = doc["metadata"].get("namespace")
    base = "/apis/rbac.authorization.k8s.io/v1"
    return f"{base}/namespaces/{ns}/{plural}/{doc['metadata']['name']}" if ns else \
        f"{base}/{plural}/{doc['metadata']['name']}"


@pytest.fixture
def deployed(em: RealTierEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The cluster as the README's CronJob install leaves it, and a config using every granted rule."""
    em.add_namespace("acr-refresh")
    em.add_namespace("team-a")
    em.add_namespace("team-b", labels={"acr-refresh/pull": "true"})
    em.add_service_account("acr-refresh", "acr-refresh")
    em.add_service_account("team-a", "default")
    em.add_configmap("team-a", "pull-tpl", {"note": "for {{ .registry }}"})  # templateFrom needs configmaps get
    em.add_secret("acr-refresh", "acr-sp", {"clientid": SP_CLIENT, "clientsecret": SP_SECRET})
    em.add_service_account("acr-refresh", "puller", annotations={
        "azure.workload.identity/client-id": WI_CLIENT, "azure.workload.identity/tenant-id": TENANT})
    em.add_service_principal(TENANT, WI_CLIENT, None)
    em.add_federated_credential(TENANT, WI_CLIENT, subject="system:serviceaccount:acr-refresh:puller")
    # The job's own RBAC in the test tier is removed from these namespaces: only rbac.yaml grants here.
    for ns in ("acr-refresh", "team-a", "team-b"):
        em.server.request("DELETE", f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings/"
                                    "acr-refresh-test-job")
    em.server.request("DELETE", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/acr-refresh-test:job-cluster")
    install(em, rbac_docs())
    token = em.issue_service_account_token("acr-refresh", "acr-refresh", [em.server.issuer])
    monkeypatch.setenv("KUBECONFIG", em.write_kubeconfig(tmp_path / "sa-kubeconfig", token=token))
    sp = ("servicePrincipal:\n  secretRef:\n    clientId: {name: acr-sp, key: clientid}\n"
          "    clientSecret: {name: acr-sp, key: clientsecret}\n")
    wi = "workloadIdentity:\n  serviceAccountRef: {name: puller}\n"
    target = ("apiVersion: acr-refresh/v1alpha1\nkind: KubernetesSecret\nmetadata: {{name: {n}, namespace: "
              "acr-refresh}}\nspec:\n  generatorRef: {{name: {g}}}\n{extra}")
    return write_config(
        tmp_path,
        acr_generator("sp", namespace="acr-refresh", auth=sp),
        acr_generator("wi", namespace="acr-refresh", auth=wi, tenant=None),
        target.format(n="pull-a", g="sp", extra="  namespaces: [team-a]\n  serviceAccounts: [default]\n"
                      "  template:\n    type: Opaque\n    mergePolicy: Merge\n    templateFrom:\n"
                      "    - configMap: {name: pull-tpl, items: [{key: note}]}\n"),
        target.format(n="pull-b", g="wi",
                      extra="  namespaceSelector: {matchLabels: {acr-refresh/pull: 'true'}}\n"),
    )


def go(config: Path) -> dict[str, Any]:
    return run(load_config(config), RunOptions(force=True), services=fast_services()).to_dict()


def outcomes(report: dict[str, Any]) -> dict[str, str]:
    """generator or target -> "ok" or its error."""
    out = {}
    for g in report["generators"]:
        out[g["name"]] = g["error"] or "ok"
        for t in g["targets"]:
            out[f"{t['name']}@{t['namespace']}"] = t["error"] or t["status"]
    return out


def test_the_deployed_rbac_is_enough(deployed: Path) -> None:
    report = go(deployed)
    assert report["ok"], json.dumps(report, indent=1)


# (what is removed, what then fails, a word of its reason); everything else keeps working.
RULES = [
    (("Role", "team-a", "secrets", "get"), "pull-a@team-a", "cannot read Secret"),
    (("Role", "team-a", "secrets", "patch"), "pull-a@team-a", "403"),
    (("Role", "team-a", "serviceaccounts", "get"), "pull-a@team-a", "ServiceAccount"),
    (("Role", "team-a", "serviceaccounts", "update"), "pull-a@team-a", "ServiceAccount"),
    (("Role", "team-a", "configmaps", "get"), "pull-a@team-a", "ConfigMap"),
    (("ClusterRole", None, "namespaces", "list"), "pull-b", "list namespaces"),
    (("Role", "acr-refresh", "secrets", "get"), "sp", "acr-sp"),
    (("Role", "acr-refresh", "serviceaccounts/token", "create"), "wi", "token"),
    (("Role", "acr-refresh", "serviceaccounts", "get"), "wi", "ServiceAccount"),
]


@pytest.mark.parametrize("rule,fails,reason", RULES, ids=["/".join(map(str, r[0])) for r in RULES])
def test_each_rule_is_needed(em: RealTierEmulator, deployed: Path, rule: tuple, fails: str, reason: str) -> None:
    assert go(deployed)["ok"]  # every target exists now: the next run updates them
    em.add_service_account("team-a", "default")  # without our entry again, so the next run must update it
    install(em, without(rbac_docs(), *rule))
    report = go(deployed)
    assert report["ok"] is False
    results = outcomes(report)
    failed = {k: v for k, v in results.items() if v not in ("ok", "written", "fresh")}
    assert fails in failed or any(k.startswith(fails) for k in failed), json.dumps(report, indent=1)
    message = next(v for k, v in failed.items() if k == fails or k.startswith(fails))
    assert "403" in message and reason in message, message
    assert "forbidden" in message.lower(), message
    # The features that do not need the rule keep working.
    others = {k for k in results if not (k == fails or k.startswith(fails))}
    # A generator's targets need it; a generator whose only target cannot be read is not minted.
    dependent = {"sp": {"pull-a@team-a"}, "wi": {"pull-b@team-b"}, "pull-a@team-a": {"sp"},
                 "pull-b": {"wi"}}.get(fails, set())
    assert all(results[k] in ("ok", "written") for k in others - dependent), json.dumps(report, indent=1)


def test_creating_a_missing_secret_needs_create(em: RealTierEmulator, deployed: Path) -> None:
    """Server-side apply of a Secret that does not exist yet is a create: RBAC asks for ``create`` too."""
    install(em, without(rbac_docs(), "Role", "team-a", "secrets", "create"))
    report = go(deployed)
    results = outcomes(report)
    assert "403" in results["pull-a@team-a"] and "create" in results["pull-a@team-a"], results
    assert results["pull-b@team-b"] == "written"


def test_prune_needs_its_own_rbac_file(em: RealTierEmulator, deployed: Path, tmp_path: Path) -> None:
    """Without rbac-prune.yaml the deployed job cannot list or delete; with it, prune works as the SA."""
    assert go(deployed)["ok"]
    smaller = write_config(tmp_path, deployed.read_text().split("---\n", 2)[0] + "---\n"
                           + deployed.read_text().split("---\n")[2], name="smaller.yaml")
    report = run(load_config(smaller), RunOptions(prune=True), services=fast_services()).to_dict()
    (failed,) = report["pruned"]
    assert failed["status"] == "failed" and "403" in failed["error"] and "list" in failed["error"]
    install(em, [d for d in yaml.safe_load_all((RBAC_FILE.parent / "rbac-prune.yaml").read_text()) if d])
    report = run(load_config(smaller), RunOptions(prune=True), services=fast_services()).to_dict()
    assert [(p["namespace"], p["name"], p["status"]) for p in report["pruned"]] == [
        ("team-b", "pull-b", "deleted")], report
