"""ClusterGenerator and ClusterExternalSecret in config: read through the namespaced parsers, errors naming
the field the user wrote; ORed selectors in our KubernetesSecret too. (End to end: tests/integration/
test_cluster_external_secret.py.) ESO v2.9.0: apis/generators/v1alpha1/types_cluster.go,
apis/externalsecrets/v1/clusterexternalsecret_types.go, runtime/esutils/resolvers/generator.go."""

from __future__ import annotations

from pathlib import Path

import pytest

from acr_refresh.config import (
    ClusterGeneratorInstance,
    ConfigError,
    LabelSelector,
    ServicePrincipal,
    WorkloadIdentity,
    load_config,
)
from acr_refresh.config.cluster import NAME_LABEL
from acr_refresh.plan import plan_dict, plan_text
from acr_refresh.run import select
from acr_refresh.schema import config_schema
from tests.conftest import acr_generator, write_config

CG = """\
apiVersion: generators.external-secrets.io/v1alpha1
kind: ClusterGenerator
metadata: {name: acr}
spec:
  kind: ACRAccessToken
  generator:
    acrAccessTokenSpec:
      registry: myregistry.azurecr.io
      tenantId: 72f988bf-86f1-41af-91ab-2d7cd011db47
      auth:
        servicePrincipal:
          secretRef:
            clientId: {name: az, key: id}
            clientSecret: {name: az, key: secret}
"""
CES = """\
apiVersion: external-secrets.io/v1
kind: ClusterExternalSecret
metadata: {name: creds}
spec:
  namespaces: [team-a]
  namespaceSelectors:
  - matchLabels: {pull: "yes"}
  externalSecretSpec:
    target: {name: pull}
    dataFrom:
    - sourceRef:
        generatorRef: {apiVersion: generators.external-secrets.io/v1alpha1, kind: ClusterGenerator, name: acr}
"""


def load(tmp_path: Path, *docs: str, strict: bool = False):  # type: ignore[no-untyped-def]
    return load_config(write_config(tmp_path, *docs), strict=strict)


def test_cluster_generator_is_instantiated_in_each_namespace(tmp_path: Path) -> None:
    config = load(tmp_path, CG, CES)
    (cg,) = config.cluster_generators
    assert config.generators == ()  # a CES's instances are found by a run
    inst = cg.instantiate("team-b")
    assert isinstance(inst, ClusterGeneratorInstance) and inst.key == "ClusterGenerator/acr@team-b"
    assert isinstance(inst.auth, ServicePrincipal) and inst.auth.client_secret.namespace == "team-b"
    (kt,) = config.kube_targets
    assert kt.key == "ClusterExternalSecret/creds" and kt.per_namespace and kt.secret_name == "pull"
    assert kt.generator_for("team-b") == "ClusterGenerator/acr@team-b"
    assert kt.selectors == (LabelSelector(((NAME_LABEL, "team-a"),)), LabelSelector((("pull", "yes"),)))
    assert config.generator("ClusterGenerator/acr@x") == cg.instantiate("x")


def test_workload_identity_service_account_moves_to_the_consuming_namespace(tmp_path: Path) -> None:
    doc = CG.replace("""        servicePrincipal:
          secretRef:
            clientId: {name: az, key: id}
            clientSecret: {name: az, key: secret}
""", "        workloadIdentity: {serviceAccountRef: {name: puller, namespace: elsewhere}}\n")
    config = load(tmp_path, doc, CES)
    assert any("serviceAccountRef.namespace is ignored" in w for w in config.warnings)
    auth = config.cluster_generators[0].instantiate("team-a").auth
    assert isinstance(auth, WorkloadIdentity) and auth.service_account is not None
    assert (auth.service_account.namespace, auth.service_account.name) == ("team-a", "puller")


@pytest.mark.parametrize(("doc", "field", "why"), [
    (CG.replace("myregistry.azurecr.io", "https://x.azurecr.io"), "spec.generator.acrAccessTokenSpec.registry",
     "not a URL"),
    (CG.replace("      tenantId: 72f988bf-86f1-41af-91ab-2d7cd011db47\n", ""),
     "spec.generator.acrAccessTokenSpec.tenantId", "is required"),
    (CG.replace("acrAccessTokenSpec:", "passwordSpec:"), "spec.generator.acrAccessTokenSpec", "is required"),
    (CES.replace("target: {name: pull}", "target: {name: Pull}"), "spec.externalSecretSpec.target.name",
     "not a valid Secret name"),
    (CES.replace("metadata: {name: creds}", "metadata: {name: creds, namespace: x}"), "metadata.namespace",
     "cluster-scoped"),
    (CES.replace("spec:\n", "spec:\n  externalSecretName: Bad_Name\n"), "spec.externalSecretName", "not a valid"),
    (CES.replace("  namespaces: [team-a]\n", "  namespaces: [Team]\n"), "spec.namespaces[0]", "not a valid"),
    (CES.replace('{pull: "yes"}', '{pull: "yes"}\n    matchExpressions: [{key: k, operator: Is}]'),
     "spec.namespaceSelectors[0].matchExpressions[0].operator", "must be one of"),
])
def test_errors_name_the_field_the_user_wrote(tmp_path: Path, doc: str, field: str, why: str) -> None:
    docs = (doc, CES) if doc.startswith("apiVersion: generators") else (CG, doc)
    with pytest.raises(ConfigError) as info:
        load(tmp_path, *docs)
    assert info.value.field == field and why in str(info.value)
    assert "(ClusterGenerator " in str(info.value) or "(ClusterExternalSecret " in str(info.value)


def test_typos_inside_the_wrapped_specs_are_warned_with_the_full_path(tmp_path: Path) -> None:
    cg = CG.replace("      registry:", "      registryy: x\n      registry:")
    ces = CES.replace("    target: {name: pull}", "    target: {name: pull}\n    refreshIntervl: 1h")
    warnings = load(tmp_path, cg, ces).warnings
    assert any("spec.generator.acrAccessTokenSpec.registryy" in w and "(ClusterGenerator acr)" in w for w in warnings)
    assert any("spec.externalSecretSpec.refreshIntervl" in w and "(ClusterExternalSecret creds)" in w
               for w in warnings)


def test_other_cluster_generator_kinds_are_not_handled_and_so_are_their_consumers(tmp_path: Path) -> None:
    password = CG.replace("kind: ACRAccessToken", "kind: Password").replace("acrAccessTokenSpec:", "passwordSpec:")
    password = password.split("    passwordSpec:")[0] + "    passwordSpec: {length: 42}\n"
    config = load(tmp_path, password, CES)
    assert config.kube_targets == ()
    reasons = sorted(u.reason for u in config.unhandled)
    assert reasons == ["ClusterGenerator of kind Password is not handled by acr-refresh",
                       "fed by ClusterGenerator acr of kind Password, not an ACRAccessToken"]


def test_a_missing_cluster_generator_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no ClusterGenerator acr") as info:
        load(tmp_path, CES)
    assert info.value.field == "spec.externalSecretSpec.dataFrom.sourceRef.generatorRef.name"


def test_an_external_secret_on_a_cluster_generator_is_known_from_the_config(tmp_path: Path) -> None:
    es = ("apiVersion: external-secrets.io/v1beta1\nkind: ExternalSecret\nmetadata: {name: es, namespace: team-a}\n"
          "spec:\n  dataFrom:\n  - sourceRef:\n      generatorRef: {apiVersion: generators.external-secrets.io/"
          "v1alpha1, kind: ClusterGenerator, name: acr}\n")
    config = load(tmp_path, CG, es)
    assert [g.key for g in config.generators] == ["ClusterGenerator/acr@team-a"]
    assert [g.key for g in select(config, ("ClusterGenerator/acr",))] == ["ClusterGenerator/acr@team-a"]
    assert config.kube_targets[0].generator == "ClusterGenerator/acr@team-a"


def test_a_namespaced_generator_ref_in_a_ces_warns_when_no_namespace_has_it(tmp_path: Path) -> None:
    ces = CES.replace("kind: ClusterGenerator, name: acr", "kind: ACRAccessToken, name: gen")
    assert any("no ACRAccessToken named gen" in w for w in load(tmp_path, ces).warnings)
    config = load(tmp_path, acr_generator(namespace="team-a"), ces)
    assert not config.warnings and config.kube_targets[0].generator_for("team-b") == "team-b/gen"


def test_kubernetes_secret_takes_several_ored_selectors(tmp_path: Path) -> None:
    ks = ("apiVersion: acr-refresh/v1alpha1\nkind: KubernetesSecret\nmetadata: {name: pull}\nspec:\n"
          "  generatorRef: {name: gen}\n  namespaceSelector: {matchLabels: {a: '1'}}\n"
          "  namespaceSelectors:\n  - matchLabels: {b: '2'}\n  - matchExpressions: [{key: c, operator: Exists}]\n")
    config = load(tmp_path, acr_generator(), ks, strict=True)
    (kt,) = config.kube_targets
    assert kt.namespaces == () and len(kt.selectors) == 3
    assert [s.matches({"c": ""}) for s in kt.selectors] == [False, False, True]
    target = plan_dict(config)["targets"][0]
    assert target["namespaceSelectors"] == ["a=1", "b=2", "c"] and target["namespaceSelector"] == "a=1"
    assert "namespaces matching 'a=1' or 'b=2' or 'c'" in plan_text(config)


def test_plan_names_cluster_generators_and_per_namespace_generators(tmp_path: Path) -> None:
    config = load(tmp_path, CG, CES)
    plan = plan_dict(config)
    (cg,) = plan["clusterGenerators"]
    assert cg["key"] == "ClusterGenerator/acr" and "<namespace>" in cg["auth"]["clientSecret"]
    assert plan["targets"][0]["generator"] == "ClusterGenerator/acr@<namespace>"
    assert "ClusterGenerator/acr: refresh token for myregistry.azurecr.io" in plan_text(config)


def test_schema_knows_the_cluster_kinds() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    import yaml

    schema = config_schema()
    for doc in (CG, CES):
        jsonschema.validate(yaml.safe_load(doc), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(yaml.safe_load(CES.replace("namespaces:", "namespacez:")), schema)
