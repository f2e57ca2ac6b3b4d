"""Delivery end to end: Kubernetes Secrets (one or many clusters), ServiceAccounts, Key Vault secrets,
ESO's documented manifests, the freshness rule, and failures that stay contained."""

from __future__ import annotations

import base64
import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from acr_refresh.config import load_config
from acr_refresh.emulator import Emulator
from acr_refresh.run import RunOptions, run
from tests.conftest import MI_CLIENT, REGISTRY, SP_SECRET, TENANT, acr_generator, fast_services, write_config

pytestmark = pytest.mark.kube

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "eso"
VAULT = "teamvault.vault.azure.net"


def eso_fixture(name: str) -> str:
    """An ESO docs snippet, verbatim but for the Jekyll raw markers around it."""
    return "\n".join(line for line in (FIXTURES / name).read_text().splitlines() if "{%" not in line) + "\n"


def go(tmp_path: Path, *docs: str, **options: object) -> dict:
    config = load_config(write_config(tmp_path, *docs))
    return run(config, RunOptions(**options), services=fast_services()).to_dict()  # type: ignore[arg-type]


def secret_data(em: Emulator, namespace: str, name: str, cluster: Emulator | None = None) -> dict[str, str]:
    obj = (cluster or em).get_object("secrets", namespace, name)
    assert obj is not None, f"no Secret {namespace}/{name}"
    return {k: base64.b64decode(v).decode() for k, v in obj.get("data", {}).items()}


def statuses(report: dict) -> list[tuple[str, str]]:
    return [(f"{t.get('namespace') or t.get('secretName')}", t["status"]) for g in report["generators"]
            for t in g["targets"]]


def kube_secret(name: str = "pull", generator: str = "gen", spec: str = "") -> str:
    return (f"apiVersion: acr-refresh/v1alpha1\nkind: KubernetesSecret\nmetadata: {{name: {name}}}\nspec:\n"
            f"  generatorRef: {{name: {generator}}}\n" + textwrap.indent(textwrap.dedent(spec).strip(), "  ")
            + "\n")


def vault_secret(name: str = "kv", generator: str = "gen", spec: str = "") -> str:
    auth = ("auth:\n  servicePrincipal:\n    secretRef:\n      clientId: {env: SP_ID}\n"
            "      clientSecret: {env: SP_SECRET}\n")
    return (f"apiVersion: acr-refresh/v1alpha1\nkind: KeyVaultSecret\nmetadata: {{name: {name}}}\nspec:\n"
            f"  generatorRef: {{name: {generator}}}\n  vaultUrl: https://{VAULT}/\n  tenantId: {TENANT}\n"
            + textwrap.indent(textwrap.dedent(spec).strip() + "\n" + auth, "  "))


@pytest.fixture
def vault(em: Emulator) -> str:
    em.add_vault(VAULT, tenant=TENANT)
    return VAULT


# ------------------------------------------------------------------------------ ESO's docs, verbatim


@pytest.fixture
def eso_reference(em: Emulator) -> str:
    """ESO's reference generator (all three auth blocks) with the name its ExternalSecret example uses.
    The snippet has no metadata, which Kubernetes itself would refuse; that line is the only addition."""
    tenant = "11111111-2222-3333-4444-111111111111"
    em.add_tenant(tenant)
    em.add_service_principal(tenant, "reference-client", "reference-secret-0001")
    em.add_registry("example.azurecr.io", tenant=tenant)
    em.add_secret("default", "az-secret", {"clientid": "reference-client", "clientsecret": "reference-secret-0001"})
    text = eso_fixture("generator-acr.yaml")
    return text.replace("kind: ACRAccessToken\n", "kind: ACRAccessToken\nmetadata:\n  name: my-azurecr\n", 1)


def test_eso_reference_generator_runs_with_a_warning(em: Emulator, tmp_path: Path, eso_reference: str) -> None:
    report = go(tmp_path, eso_reference)
    assert report["ok"], json.dumps(report)
    (gen,) = report["generators"]
    assert gen["tokenType"] == "access" and gen["identity"].startswith("servicePrincipal client reference-client")
    assert any("ignoring managedIdentity, workloadIdentity" in w for w in report["warnings"])
    (token_req,) = [r for r in em.requests if r.endpoint == "acr.token"]
    assert token_req.form["scope"] == "repository:foo:pull,push"


def test_eso_dockerconfigjson_example(em: Emulator, tmp_path: Path, eso_reference: str) -> None:
    report = go(tmp_path, eso_reference, eso_fixture("generator-acr-example.yaml"))
    assert report["ok"], json.dumps(report)
    obj = em.get_object("secrets", "default", "azurecr-credentials")
    assert obj is not None and obj["type"] == "kubernetes.io/dockerconfigjson"
    doc = json.loads(secret_data(em, "default", "azurecr-credentials")[".dockerconfigjson"])
    entry = doc["auths"]["myregistry.azurecr.io"]
    assert entry["username"] == "00000000-0000-0000-0000-000000000000"
    assert entry["password"] in em.issued_secrets()
    assert set(entry) == {"username", "password"}  # the example template has no "auth" field


def test_eso_argocd_helm_repository_example(em: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tenant = "11111111-2222-3333-4444-111111111111"
    em.add_managed_identity(tenant_id=tenant, client_id=tenant)  # the snippet uses the same GUID for both
    em.add_registry("example.azurecr.io", tenant=tenant)
    monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", em.imds_url)
    report = go(tmp_path, eso_fixture("generator-acr-argocd-helm-repo.yaml"))
    assert report["ok"], json.dumps(report)
    obj = em.get_object("secrets", "default", "azurecr-credentials")
    assert obj is not None and obj["type"] == "Opaque"
    assert obj["metadata"]["labels"]["argocd.argoproj.io/secret-type"] == "repository"
    data = secret_data(em, "default", "azurecr-credentials")
    assert {k: v for k, v in data.items() if k != "password"} == {
        "name": "example.azurecr.io", "url": "example.azurecr.io", "username": "00000000-0000-0000-0000-000000000000",
        "enableOCI": "true", "type": "helm"}
    assert data["password"] in em.issued_secrets()


# ------------------------------------------------------------------------------------- fan-out


@pytest.fixture
def second_cluster(em: Emulator, tmp_path: Path) -> Iterator[tuple[Emulator, str]]:
    with Emulator() as other:
        other.add_namespace("team-a")
        other.add_namespace("edge")
        yield other, other.write_kubeconfig(tmp_path / "edge.kubeconfig")


def test_fan_out_to_namespaces_and_two_clusters(em: Emulator, tmp_path: Path,
                                                second_cluster: tuple[Emulator, str]) -> None:
    other, kubeconfig = second_cluster
    for ns in ("team-a", "team-b"):
        em.add_namespace(ns)
    cluster = f"apiVersion: acr-refresh/v1alpha1\nkind: Cluster\nmetadata: {{name: edge}}\nspec:\n" \
              f"  kubeconfig: {{path: {kubeconfig}}}\n"
    report = go(tmp_path, acr_generator(), cluster,
                kube_secret(spec="clusters: [default, edge]\nnamespaces: [team-a, team-b]\n"
                                 "excludeNamespaces: [team-b]\n"))
    assert report["ok"], json.dumps(report)
    assert [(t["cluster"], t["namespace"], t["status"]) for t in report["generators"][0]["targets"]] == [
        ("default", "team-a", "written"), ("edge", "team-a", "written")]
    assert em.get_object("secrets", "team-b", "pull") is None
    a = secret_data(em, "team-a", "pull")[".dockerconfigjson"]
    b = secret_data(em, "team-a", "pull", cluster=other)[".dockerconfigjson"]
    assert a == b  # one mint, written to both clusters
    assert em.counts["acr.exchange"] == 1


def test_namespace_selector_picks_up_new_namespaces(em: Emulator, tmp_path: Path) -> None:
    em.add_namespace("team-a", {"pull": "yes", "tier": "prod"})
    em.add_namespace("team-b", {"pull": "yes", "tier": "dev"})
    em.add_namespace("other", {"tier": "prod"})
    spec = "namespaceSelector:\n  matchLabels: {pull: 'yes'}\n  matchExpressions:\n" \
           "    - {key: tier, operator: In, values: [prod, dev]}\n"
    docs = (acr_generator(), kube_secret(spec=spec))
    assert [s for s, _ in statuses(go(tmp_path, *docs))] == ["team-a", "team-b"]
    em.add_namespace("team-c", {"pull": "yes", "tier": "dev"})
    report = go(tmp_path, *docs)
    assert statuses(report) == [("team-a", "fresh"), ("team-b", "fresh"), ("team-c", "written")]


def test_image_pull_secrets_patch_is_idempotent_and_keeps_other_entries(em: Emulator, tmp_path: Path) -> None:
    em.add_namespace("team-a")
    em.add_service_account("team-a", "default", image_pull_secrets=["someone-elses"])
    em.add_service_account("team-a", "builder")
    docs = (acr_generator(), kube_secret(spec="namespaces: [team-a]\nserviceAccounts: ['*']\n"))
    for _ in range(3):
        assert go(tmp_path, *docs, force=True)["ok"]
    default = em.get_object("serviceaccounts", "team-a", "default")
    builder = em.get_object("serviceaccounts", "team-a", "builder")
    assert default is not None and builder is not None
    assert [e["name"] for e in default["imagePullSecrets"]] == ["someone-elses", "pull"]
    assert [e["name"] for e in builder["imagePullSecrets"]] == ["pull"]


# ------------------------------------------------------------------------------------ Key Vault


def test_key_vault_value_content_type_tags_and_expiry(em: Emulator, tmp_path: Path, vault: str) -> None:
    spec = 'secretName: registry-login\nvalue: "{{ .username }}:{{ .password }}"\ncontentType: text/plain\n' \
           "tags: {owner: platform}\n"
    report = go(tmp_path, acr_generator(), vault_secret(spec=spec))
    assert report["ok"], json.dumps(report)
    secret = em.vault_secret(vault, "registry-login")
    assert secret is not None
    username, _, password = secret["value"].partition(":")
    assert username == "00000000-0000-0000-0000-000000000000" and password in em.issued_secrets()
    assert secret["contentType"] == "text/plain"
    assert secret["tags"]["owner"] == "platform"
    assert secret["tags"]["acr-refresh-generator"] == "default/gen"
    assert secret["tags"]["acr-refresh-registry"] == REGISTRY
    expires = report["generators"][0]["expiresAt"]
    from datetime import datetime

    assert secret["attributes"]["exp"] == int(datetime.fromisoformat(expires.replace("Z", "+00:00")).timestamp())
    assert secret["attributes"]["nbf"] < secret["attributes"]["exp"]


def test_fresh_targets_are_not_rewritten_and_cause_no_mint_until_forced(em: Emulator, tmp_path: Path,
                                                                        vault: str) -> None:
    em.add_namespace("team-a")
    docs = (acr_generator(), kube_secret(spec="namespaces: [team-a]"), vault_secret(spec="secretName: pw"))
    assert go(tmp_path, *docs)["ok"]
    before = em.get_object("secrets", "team-a", "pull")
    em.reset_counts()
    report = go(tmp_path, *docs)
    assert report["generators"][0]["status"] == "fresh"
    assert statuses(report) == [("team-a", "fresh"), ("pw", "fresh")]
    assert em.counts["entra.token"] <= 1  # only for the Key Vault read
    assert em.counts["acr.exchange"] == 0 and em.counts["kube.secret.apply"] == 0
    assert em.counts["kv.secret.set"] == 0
    assert em.get_object("secrets", "team-a", "pull") == before
    em.reset_counts()
    report = go(tmp_path, *docs, force=True)
    assert statuses(report) == [("team-a", "written"), ("pw", "written")]
    assert em.counts["acr.exchange"] == 1 and em.vault_version_count(vault, "pw") == 2


def test_changed_inputs_make_a_target_stale(em: Emulator, tmp_path: Path) -> None:
    em.add_namespace("team-a")
    assert go(tmp_path, acr_generator(), kube_secret(spec="namespaces: [team-a]"))["ok"]
    spec = "namespaces: [team-a]\ntemplate:\n  type: kubernetes.io/dockerconfigjson\n  metadata:\n" \
           "    labels: {team: a}\n"
    report = go(tmp_path, acr_generator(), kube_secret(spec=spec))
    assert statuses(report) == [("team-a", "written")]
    obj = em.get_object("secrets", "team-a", "pull")
    assert obj is not None and obj["metadata"]["labels"]["team"] == "a"


# ------------------------------------------------------------------------------- contained failures


def test_type_conflict_forbidden_namespace_and_vault_403_fail_alone(em: Emulator, tmp_path: Path, vault: str) -> None:
    from tests.conftest import SP_CLIENT

    for ns in ("ok-ns", "typed", "locked"):
        em.add_namespace(ns)
    em.add_secret("typed", "pull", {"username": "x"}, type="Opaque")
    em.forbid_namespace("locked")
    em.forbid_vault(vault, SP_CLIENT)
    report = go(tmp_path, acr_generator(), kube_secret(spec="namespaces: [ok-ns, typed, locked]"),
                vault_secret(spec="secretName: pw"))
    assert report["ok"] is False
    targets = {(t.get("namespace") or t.get("secretName")): t for t in report["generators"][0]["targets"]}
    assert targets["ok-ns"]["status"] == "written"
    assert targets["typed"]["status"] == "failed" and "has type Opaque" in targets["typed"]["error"]
    assert targets["locked"]["status"] == "failed" and "403" in targets["locked"]["error"]
    assert targets["pw"]["status"] == "failed" and "Forbidden" in targets["pw"]["error"]
    assert secret_data(em, "typed", "pull") == {"username": "x"}  # untouched


def test_cli_exit_code_is_1_when_a_target_fails(em: Emulator, tmp_path: Path) -> None:
    from tests.test_cli import call

    em.add_namespace("ok-ns")
    config = write_config(tmp_path, acr_generator(), kube_secret(spec="namespaces: [ok-ns, missing-ns]"))
    code, out = call("run", "--config", str(config), "--output", "json")
    assert code == 1
    assert statuses(json.loads(out)) == [("ok-ns", "written"), ("missing-ns", "failed")]


def test_failed_mint_writes_nothing_and_keeps_the_good_secret(em: Emulator, tmp_path: Path) -> None:
    em.add_namespace("team-a")
    docs = (acr_generator(), kube_secret(spec="namespaces: [team-a]"))
    assert go(tmp_path, *docs)["ok"]
    good = em.get_object("secrets", "team-a", "pull")
    em.fail("acr.exchange", status=503, count=None)
    report = go(tmp_path, *docs, force=True)
    em.clear_faults()
    assert report["generators"][0]["status"] == "failed"
    (target,) = report["generators"][0]["targets"]
    assert target["status"] == "failed" and "previous value kept" in target["error"]
    assert em.get_object("secrets", "team-a", "pull") == good


def test_eso_managed_secret_is_not_fought_over_unless_taken_over(em: Emulator, tmp_path: Path) -> None:
    em.add_namespace("apps")
    owner = {"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "name": "pull", "uid": "1234",
             "controller": True}
    em.add_secret("apps", "pull", {".dockerconfigjson": "{}"}, type="kubernetes.io/dockerconfigjson",
                  owner_references=[owner], managed_by="external-secrets")
    docs = (acr_generator(), kube_secret(spec="namespaces: [apps]"))
    report = go(tmp_path, *docs)
    (target,) = report["generators"][0]["targets"]
    assert target["status"] == "failed" and "External Secrets Operator" in target["error"]
    assert "--take-over" in target["error"]
    report = go(tmp_path, *docs, take_over=frozenset({"apps/pull"}))
    assert statuses(report) == [("apps", "written")]
    assert statuses(go(tmp_path, *docs)) == [("apps", "fresh")]  # ours now: no --take-over needed


def test_creation_policies_merge_and_none(em: Emulator, tmp_path: Path) -> None:
    es = textwrap.dedent("""\
        apiVersion: external-secrets.io/v1beta1
        kind: ExternalSecret
        metadata: {name: NAME}
        spec:
          dataFrom:
            - sourceRef:
                generatorRef: {apiVersion: generators.external-secrets.io/v1alpha1, kind: ACRAccessToken, name: gen}
          target: {creationPolicy: POLICY}
        """)
    report = go(tmp_path, acr_generator(), es.replace("NAME", "merge").replace("POLICY", "Merge"),
                es.replace("NAME", "none").replace("POLICY", "None"))
    targets = {t["name"]: t for t in report["generators"][0]["targets"]}
    assert targets["merge"]["status"] == "failed" and "never creates" in targets["merge"]["error"]
    assert targets["none"]["status"] == "skipped"
    assert em.get_object("secrets", "default", "none") is None


def test_refresh_interval_zero_creates_once(em: Emulator, tmp_path: Path) -> None:
    es = textwrap.dedent("""\
        apiVersion: external-secrets.io/v1
        kind: ExternalSecret
        metadata: {name: once}
        spec:
          refreshInterval: "0"
          dataFrom:
            - sourceRef:
                generatorRef: {apiVersion: generators.external-secrets.io/v1alpha1, kind: ACRAccessToken, name: gen}
        """)
    assert statuses(go(tmp_path, acr_generator(), es)) == [("default", "written")]
    assert statuses(go(tmp_path, acr_generator(), es, min_remaining=None)) == [("default", "fresh")]


def test_dry_run_mints_but_writes_nothing(em: Emulator, tmp_path: Path, vault: str) -> None:
    em.add_namespace("team-a")
    report = go(tmp_path, acr_generator(), kube_secret(spec="namespaces: [team-a]"),
                vault_secret(spec="secretName: pw"), dry_run=True)
    assert report["ok"] and report["dryRun"]
    assert statuses(report) == [("team-a", "skipped"), ("pw", "skipped")]
    assert em.counts["acr.exchange"] == 1
    assert em.get_object("secrets", "team-a", "pull") is None and em.vault_secret(vault, "pw") is None


def test_prune_deletes_only_our_secrets_whose_target_is_gone(em: Emulator, tmp_path: Path) -> None:
    for ns in ("team-a", "team-b"):
        em.add_namespace(ns)
        em.add_service_account(ns, "default")
    em.add_secret("team-a", "not-ours", {"k": "v"})
    assert go(tmp_path, acr_generator(), kube_secret(spec="namespaces: [team-a, team-b]\nserviceAccounts: [default]"))[
        "ok"]
    docs = (acr_generator(), kube_secret(spec="namespaces: [team-a]\nserviceAccounts: [default]"))
    report = go(tmp_path, *docs, prune=True, dry_run=True)
    assert [(p["namespace"], p["status"]) for p in report["pruned"]] == [("team-b", "skipped")]
    assert em.get_object("secrets", "team-b", "pull") is not None
    report = go(tmp_path, *docs, prune=True)
    assert [(p["namespace"], p["status"]) for p in report["pruned"]] == [("team-b", "deleted")]
    assert em.get_object("secrets", "team-b", "pull") is None
    assert em.get_object("secrets", "team-a", "pull") is not None
    assert em.get_object("secrets", "team-a", "not-ours") is not None
    sa = em.get_object("serviceaccounts", "team-b", "default")
    assert sa is not None and not sa.get("imagePullSecrets")


def test_aks_cluster_with_entra_token(em: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Emulator() as aks:
        aks.add_tenant(TENANT)
        aks.add_namespace("apps")
        aks.enable_aks_auth(tenant=TENANT)
        em.add_managed_identity(tenant_id=TENANT, client_id=MI_CLIENT)
        monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", aks.imds_url)
        aks.add_managed_identity(tenant_id=TENANT, client_id=MI_CLIENT)
        ca = base64.b64encode(Path(aks.ca_bundle_path).read_bytes()).decode()
        cluster = textwrap.dedent(f"""\
            apiVersion: acr-refresh/v1alpha1
            kind: Cluster
            metadata: {{name: prod-aks}}
            spec:
              aks:
                server: {aks.kube_url}
                allowCustomServer: true  # the emulator listens on 127.0.0.1, not an AKS domain
                certificateAuthorityData: {ca}
                tenantId: {TENANT}
                auth: {{managedIdentity: {{identityId: {MI_CLIENT}}}}}
            """)
        report = go(tmp_path, acr_generator(), cluster, kube_secret(spec="clusters: [prod-aks]\nnamespaces: [apps]"))
        assert report["ok"], report
        assert aks.get_object("secrets", "apps", "pull") is not None
        (imds,) = [r for r in aks.requests if r.endpoint == "mi.imds" and "resource" in r.query]
        assert imds.query["resource"] == "6dae42f8-4368-4678-94ff-3960e28e3630"


def test_nothing_secret_in_logs_or_report_across_delivery(em: Emulator, tmp_path: Path, vault: str,
                                                          caplog: pytest.LogCaptureFixture,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    from acr_refresh.cli import main

    caplog.set_level("DEBUG")
    em.add_namespace("team-a")
    em.add_namespace("locked")
    em.forbid_namespace("locked")
    config = write_config(tmp_path, acr_generator(), kube_secret(spec="namespaces: [team-a, locked]"),
                          vault_secret(spec="secretName: pw"))
    assert main(["run", "--config", str(config), "--output", "json", "--log-format", "json",
                 "--log-level", "debug"]) == 1
    captured = capsys.readouterr()
    everything = captured.out + captured.err + caplog.text
    leaked = [s for s in em.issued_secrets() | {SP_SECRET} if s in everything]
    assert not leaked
