"""Config loading and validation: every refusal names the file, the document and the field."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from acr_refresh.clouds import CHINA, PUBLIC, US_GOVERNMENT
from acr_refresh.config import (
    ManagedIdentity,
    SecretRef,
    ServiceAccountRef,
    ServicePrincipal,
    WorkloadIdentity,
    check_registry,
    check_scope,
    load_config,
)
from acr_refresh.errors import ConfigError

TENANT = "11111111-2222-3333-4444-555555555555"
CLIENT = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"


def write(tmp_path: Path, text: str, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def generator(spec: str, *, name: str = "gen", extra_meta: str = "") -> str:
    return textwrap.dedent(
        f"""\
        apiVersion: generators.external-secrets.io/v1alpha1
        kind: ACRAccessToken
        metadata:
          name: {name}
        {extra_meta}
        spec:
        """
    ) + textwrap.indent(textwrap.dedent(spec), "  ")


MI = """\
registry: myregistry.azurecr.io
auth:
  managedIdentity: {}
"""


def load_spec(tmp_path: Path, spec: str, **kw: object) -> object:
    return load_config(write(tmp_path, generator(spec)), **kw)  # type: ignore[arg-type]


def refuse(tmp_path: Path, spec: str, field: str, words: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_spec(tmp_path, spec)
    err = info.value
    text = str(err)
    assert "config.yaml: document 1 (ACRAccessToken default/gen)" in text, text
    assert err.field == field, text
    assert words in text, text
    return err


# ------------------------------------------------------------------------------------------ accepted


def test_eso_reference_manifest_with_three_auth_blocks_takes_service_principal_and_warns(tmp_path: Path) -> None:
    # ESO's reference generator manifest lists all three auth blocks; ESO takes the first.
    path = write(
        tmp_path,
        f"""\
        apiVersion: generators.external-secrets.io/v1alpha1
        kind: ACRAccessToken
        metadata:
          name: my-azurecr
        spec:
          tenantId: {TENANT}
          registry: example.azurecr.io
          scope: "repository:foo:pull"
          environmentType: "PublicCloud"
          auth:
            servicePrincipal:
              secretRef:
                clientSecret:
                  name: az-secret
                  key: clientsecret
                clientId:
                  name: az-secret
                  key: clientid
            managedIdentity:
              identityId: "{CLIENT}"
            workloadIdentity:
              serviceAccountRef:
                name: "my-service-account"
                audiences: []
        """,
    )
    config = load_config(path)
    (gen,) = config.generators
    assert gen.key == "default/my-azurecr"
    assert gen.auth == ServicePrincipal(
        client_id=SecretRef("default", "az-secret", "clientid"),
        client_secret=SecretRef("default", "az-secret", "clientsecret"),
    )
    assert gen.scope == "repository:foo:pull" and gen.token_type == "access"
    assert gen.entra_scope == "https://containerregistry.azure.net/.default"
    assert any("ignoring managedIdentity, workloadIdentity" in w for w in config.warnings)
    with pytest.raises(ConfigError, match="--strict"):
        load_config(path, strict=True)


def test_managed_identity_forms(tmp_path: Path) -> None:
    docs = []
    for i, ident in enumerate(["", CLIENT, "/subscriptions/x/resourceGroups/rg/providers/"
                                          "Microsoft.ManagedIdentity/userAssignedIdentities/id"]):
        docs.append(generator(f"registry: r{i}xxxx.azurecr.io\nauth:\n  managedIdentity:\n"
                              f"    identityId: \"{ident}\"\n", name=f"g{i}"))
    config = load_config(write(tmp_path, "---\n".join(docs)))
    sys_, by_client, by_resource = (g.auth for g in config.generators)
    assert isinstance(sys_, ManagedIdentity) and not sys_.client_id and not sys_.resource_id
    assert isinstance(by_client, ManagedIdentity) and by_client.client_id == CLIENT
    assert isinstance(by_resource, ManagedIdentity) and by_resource.resource_id.startswith("/subscriptions/")


def test_workload_identity_service_account_namespace_and_audiences(tmp_path: Path) -> None:
    spec = """\
    registry: myregistry.azurecr.io
    auth:
      workloadIdentity:
        serviceAccountRef:
          name: puller
          namespace: other
          audiences: ["extra"]
    """
    # ESO reads the ServiceAccount in the generator's namespace whatever this says: another one is refused.
    err = refuse(tmp_path, spec, "spec.auth.workloadIdentity.serviceAccountRef.namespace", "own namespace")
    assert "'default'" in str(err)
    (gen,) = load_spec(tmp_path, spec.replace("namespace: other", "namespace: default")).generators  # type: ignore[attr-defined]
    assert gen.auth == WorkloadIdentity(ServiceAccountRef("default", "puller", ("extra",)))


def test_ambient_workload_identity_and_env_refs(tmp_path: Path) -> None:
    spec = f"""\
    registry: myregistry.azurecr.io
    tenantId: {TENANT}
    auth:
      servicePrincipal:
        secretRef:
          clientId: {{env: SP_ID}}
          clientSecret: {{env: SP_SECRET}}
    """
    (gen,) = load_spec(tmp_path, spec).generators  # type: ignore[attr-defined]
    assert gen.auth.client_id == SecretRef(env="SP_ID")
    (gen2,) = load_spec(tmp_path, "registry: a1234.azurecr.io\nauth:\n  workloadIdentity: {}\n").generators  # type: ignore[attr-defined]
    assert gen2.auth == WorkloadIdentity()


def test_directory_sorted_json_and_list_and_other_groups_not_handled(tmp_path: Path) -> None:
    (tmp_path / "b.json").write_text(json.dumps({
        "apiVersion": "generators.external-secrets.io/v1alpha1", "kind": "ACRAccessToken",
        "metadata": {"name": "from-json", "namespace": "team"},
        "spec": {"registry": "myregistry.azurecr.io", "auth": {"managedIdentity": {}}},
    }))
    write(tmp_path, generator(MI, name="from-yaml") + textwrap.dedent("""\
        ---
        apiVersion: external-secrets.io/v1beta1
        kind: SecretStore
        metadata: {name: vault}
        spec: {}
        ---
        apiVersion: v1
        kind: List
        items:
          - apiVersion: v1
            kind: ConfigMap
            metadata: {name: cm}
        """), name="a.yaml")
    (tmp_path / "notes.txt").write_text("ignored")
    config = load_config(tmp_path)
    assert [g.key for g in config.generators] == ["default/from-yaml", "team/from-json"]
    assert [u.kind for u in config.unhandled] == ["SecretStore", "ConfigMap"]
    assert config.files == (str(tmp_path / "a.yaml"), str(tmp_path / "b.json"))


def test_clouds_and_arm_audience_annotation(tmp_path: Path) -> None:
    docs = [
        generator("registry: gov12.azurecr.us\nenvironmentType: USGovernmentCloud\nauth: {managedIdentity: {}}\n",
                  name="gov", extra_meta="  annotations: {acr-refresh/entra-audience: arm}"),
        generator("registry: cn123.azurecr.cn\nenvironmentType: ChinaCloud\nauth: {managedIdentity: {}}\n",
                  name="cn"),
        generator("registry: pub12.westeurope.geo.azurecr.io\nauth: {managedIdentity: {}}\n", name="geo"),
    ]
    gov, cn, geo = load_config(write(tmp_path, "---\n".join(docs))).generators
    assert gov.cloud is US_GOVERNMENT and gov.entra_scope == "https://management.usgovcloudapi.net/.default"
    assert cn.cloud is CHINA and cn.entra_scope == "https://containerregistry.azure.net/.default"
    assert geo.cloud is PUBLIC


def test_azure_stack_reads_environment_file(tmp_path: Path) -> None:
    env_file = tmp_path / "stack.json"
    env_file.write_text(json.dumps({
        "name": "AzureStackCloud",
        "activeDirectoryEndpoint": "https://login.stack.contoso.example/",
        "resourceManagerEndpoint": "https://management.stack.contoso.example/",
        "containerRegistryDNSSuffix": "azurecr.stack.contoso.example",
        "keyVaultDNSSuffix": "vault.stack.contoso.example",
    }))
    spec = f"registry: edge1.azurecr.stack.contoso.example\ntenantId: {TENANT}\nenvironmentType: AzureStackCloud\n" \
           "auth: {managedIdentity: {}}\n"
    config = load_config(write(tmp_path, generator(spec)), environ={"AZURE_ENVIRONMENT_FILEPATH": str(env_file)})
    cloud = config.generators[0].cloud
    assert cloud.authority_host == "login.stack.contoso.example"
    assert cloud.arm_resource == "https://management.stack.contoso.example/"
    with pytest.raises(ConfigError, match="AZURE_ENVIRONMENT_FILEPATH"):
        load_config(write(tmp_path, generator(spec)), environ={})


# ------------------------------------------------------------------------------------------ refused


def test_refuses_german_cloud(tmp_path: Path) -> None:
    refuse(tmp_path, "registry: a1234.azurecr.io\nenvironmentType: GermanCloud\nauth: {managedIdentity: {}}\n",
           "spec.environmentType", "closed in October 2021")


def test_refuses_unknown_environment(tmp_path: Path) -> None:
    refuse(tmp_path, "registry: a1234.azurecr.io\nenvironmentType: Mars\nauth: {managedIdentity: {}}\n",
           "spec.environmentType", "unknown environmentType")


def test_refuses_missing_auth(tmp_path: Path) -> None:
    refuse(tmp_path, "registry: a1234.azurecr.io\n", "spec.auth", "is required")


def test_refuses_empty_auth(tmp_path: Path) -> None:
    refuse(tmp_path, "registry: a1234.azurecr.io\nauth: {}\n", "spec.auth", "needs one of")


def test_refuses_unknown_auth_block(tmp_path: Path) -> None:
    refuse(tmp_path, "registry: a1234.azurecr.io\nauth: {podIdentity: {}}\n", "spec.auth.podIdentity",
           "unknown auth block")


def test_refuses_missing_registry(tmp_path: Path) -> None:
    refuse(tmp_path, "auth: {managedIdentity: {}}\n", "spec.registry", "is required")


def test_refuses_no_spec(tmp_path: Path) -> None:
    # ESO's generator test: no spec → error.
    path = write(tmp_path, "apiVersion: generators.external-secrets.io/v1alpha1\nkind: ACRAccessToken\n"
                           "metadata: {name: gen}\n")
    with pytest.raises(ConfigError, match=r"document 1 \(ACRAccessToken default/gen\): spec: is required"):
        load_config(path)


def test_refuses_empty_spec(tmp_path: Path) -> None:
    path = write(tmp_path, "apiVersion: generators.external-secrets.io/v1alpha1\nkind: ACRAccessToken\n"
                           "metadata: {name: gen}\nspec: {}\n")
    with pytest.raises(ConfigError, match="spec: is required"):
        load_config(path)


def test_refuses_service_principal_without_tenant(tmp_path: Path) -> None:
    refuse(tmp_path, "registry: a1234.azurecr.io\nauth:\n  servicePrincipal:\n    secretRef:\n"
                     "      clientId: {name: s, key: id}\n      clientSecret: {name: s, key: secret}\n",
           "spec.tenantId", "required with auth.servicePrincipal")


def test_refuses_secret_ref_without_key(tmp_path: Path) -> None:
    refuse(tmp_path, f"registry: a1234.azurecr.io\ntenantId: {TENANT}\nauth:\n  servicePrincipal:\n    secretRef:\n"
                     "      clientId: {name: s, key: id}\n      clientSecret: {name: s}\n",
           "spec.auth.servicePrincipal.secretRef.clientSecret.key", "is required")


def test_refuses_cross_namespace_secret_ref(tmp_path: Path) -> None:
    refuse(tmp_path, f"registry: a1234.azurecr.io\ntenantId: {TENANT}\nauth:\n  servicePrincipal:\n    secretRef:\n"
                     "      clientId: {name: s, key: id, namespace: kube-system}\n"
                     "      clientSecret: {name: s, key: secret}\n",
           "spec.auth.servicePrincipal.secretRef.clientId.namespace", "own namespace")


def test_refuses_bad_managed_identity_id(tmp_path: Path) -> None:
    refuse(tmp_path, "registry: a1234.azurecr.io\nauth:\n  managedIdentity: {identityId: not-a-guid}\n",
           "spec.auth.managedIdentity.identityId", "client ID (GUID)")


@pytest.mark.parametrize(
    ("registry", "words"),
    [
        ("https://myregistry.azurecr.io", "not a URL"),
        ("myregistry.azurecr.io/v2", "without a path"),
        ("myregistry.azurecr.io:443", "port"),
        ("user@myregistry.azurecr.io", "userinfo"),
        ("MyRegistry.azurecr.io", "lowercase"),
        ("myregistry.azurecr.io.", "end with a dot"),
        ("myregistry.evil.example", "must end in .azurecr.io"),
        ("myregistry.azurecr.us", "must end in .azurecr.io"),
        ("myregistry.westeurope.data.azurecr.io", "data (blob) endpoint"),
        ("a.b.c.azurecr.io", "regional"),
        ("myregistry.azurecr.io.evil.example", "must end in .azurecr.io"),
        ("127.0.0.1", "must end in .azurecr.io"),
        ("myr\u0435gistry.azurecr.io", "non-ASCII"),  # a Cyrillic look-alike of 'e'
        ("my_registry.azurecr.io", "valid DNS"),
        ("-bad.azurecr.io", "valid DNS"),
    ],
)
def test_refuses_registry(tmp_path: Path, registry: str, words: str) -> None:
    refuse(tmp_path, f"registry: {json.dumps(registry)}\nauth: {{managedIdentity: {{}}}}\n", "spec.registry", words)


@pytest.mark.parametrize(
    ("scope", "words"),
    [
        ("repository:*:pull", "wildcard"),
        ("repository:foo:*", "wildcard"),
        ("registry:catalog:*", "wildcard"),
        ("repository:foo:pull repository:bar:pull", "exactly one"),
        ("repository:Foo:pull", "lowercase"),
        ("repository:foo:fetch", "subset of"),
        ("repository:foo", "repository:<name>:<actions>"),
        ("registry:catalog:pull", "must be 'repository'"),
        ("repository:foo:pull,pull", "not repeat"),
        ("repository:foo::pull", "repository:<name>:<actions>"),
    ],
)
def test_refuses_scope(tmp_path: Path, scope: str, words: str) -> None:
    refuse(tmp_path, f"registry: a1234.azurecr.io\nscope: {json.dumps(scope)}\nauth: {{managedIdentity: {{}}}}\n",
           "spec.scope", words)


def test_scope_and_registry_checks_accept_the_good_forms() -> None:
    assert check_scope("repository:team/app-1:pull,push") is None
    assert check_scope("repository:a.b/c__d:metadata_read") is None
    assert check_registry("myregistry-abc123.azurecr.io", PUBLIC) is None
    assert check_registry("myregistry.eastus.geo.azurecr.io", PUBLIC) is None


def test_refuses_duplicates_naming_both_places(tmp_path: Path) -> None:
    path = write(tmp_path, generator(MI) + "---\n" + generator(MI))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "document 2" in str(info.value) and "duplicate ACRAccessToken default/gen" in str(info.value)
    assert "document 1" in str(info.value)


def test_refuses_bad_yaml_with_position(tmp_path: Path) -> None:
    path = write(tmp_path, "apiVersion: x\nkind: [unclosed\n")
    with pytest.raises(ConfigError, match=r"config.yaml: invalid YAML: .*line \d+"):
        load_config(path)


def test_refuses_bad_json(tmp_path: Path) -> None:
    path = write(tmp_path, "{not json", name="c.json")
    with pytest.raises(ConfigError, match="c.json: invalid JSON"):
        load_config(path)


def test_refuses_unknown_kind_in_our_group(tmp_path: Path) -> None:
    path = write(tmp_path, "apiVersion: acr-refresh/v1alpha1\nkind: KubernetesSecrt\nmetadata: {name: x}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.field == "kind" and "unknown kind 'KubernetesSecrt'" in str(info.value)


def test_refuses_non_mapping_document_and_missing_kind(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="document 1: expected a mapping"):
        load_config(write(tmp_path, "- a\n- b\n"))
    with pytest.raises(ConfigError, match="document 1: kind: is required"):
        load_config(write(tmp_path, "apiVersion: v1\n"))


def test_refuses_yaml_alias_bomb_and_non_utf8(tmp_path: Path) -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(20)
    )
    with pytest.raises(ConfigError, match="alias bomb"):
        load_config(write(tmp_path, bomb))
    (tmp_path / "bin.yaml").write_bytes(b"kind: \xff\xfe\n")
    with pytest.raises(ConfigError, match="not valid UTF-8"):
        load_config(tmp_path / "bin.yaml")


def test_refuses_missing_path_and_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "nope.yaml")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="holds no"):
        load_config(tmp_path / "empty")


def test_unknown_spec_field_is_a_warning_and_strict_error(tmp_path: Path) -> None:
    spec = MI + "regsitry: typo.azurecr.io\n"
    config = load_spec(tmp_path, spec)
    assert any("unknown field spec.regsitry" in w for w in config.warnings)  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="unknown field spec.regsitry"):
        load_spec(tmp_path, spec, strict=True)


def test_generator_lookup_by_key(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, generator(MI)))
    assert config.generator("default/gen") is config.generators[0]
    assert config.generator("gen") is config.generators[0]
    assert config.generator("other/gen") is None


def external_secret(template_data: str) -> str:
    return textwrap.dedent("""\
        apiVersion: external-secrets.io/v1beta1
        kind: ExternalSecret
        metadata: {name: es}
        spec:
          dataFrom:
            - sourceRef:
                generatorRef: {apiVersion: generators.external-secrets.io/v1alpha1, kind: ACRAccessToken, name: gen}
          target:
            template:
              data:
        """) + textwrap.indent(template_data, " " * 8)


def test_template_typo_is_found_before_any_mint(tmp_path: Path) -> None:
    path = write(tmp_path, generator(MI) + "---\n" + external_secret('password: "{{ .pasword }}"\n'))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    text = str(info.value)
    assert "document 2 (ExternalSecret default/es)" in text
    assert "spec.target.template.data.password" in text and 'no entry for key "pasword"' in text


def test_template_parse_error_and_unsupported_function(tmp_path: Path) -> None:
    for body, words in (('x: "{{ .password "\n', "template"), ('x: "{{ env \\"HOME\\" }}"\n', "unsupported function")):
        path = write(tmp_path, generator(MI) + "---\n" + external_secret(body))
        with pytest.raises(ConfigError, match=words):
            load_config(path)


def test_generator_ref_must_exist(tmp_path: Path) -> None:
    path = write(tmp_path, external_secret('password: "{{ .password }}"\n'))
    with pytest.raises(ConfigError, match="no ACRAccessToken default/gen"):
        load_config(path)


@pytest.mark.parametrize("registry", ["myregistry\n.azurecr.io", "my registry.azurecr.io", "myregistry.azurecr\t.io"])
def test_refuses_registry_with_whitespace_or_newlines(tmp_path: Path, registry: str) -> None:
    refuse(tmp_path, f"registry: {json.dumps(registry)}\nauth: {{managedIdentity: {{}}}}\n", "spec.registry",
           "whitespace")


# ----------------------------------------------------------------- issue 11: every bad input, a clear error


def refuse_text(tmp_path: Path, text: str, field: str | None, *words: str, name: str = "config.yaml") -> str:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text, name))
    message = str(info.value)
    assert info.value.field == field, message
    for w in words:
        assert w in message, message
    return message


ES_HEAD = """\
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: es}
"""


@pytest.mark.parametrize(
    ("data_from", "field", "words"),
    [
        ("- sourceRef:\n", "spec.dataFrom[0].sourceRef", "is empty; give generatorRef"),
        ("- sourceRef: {}\n", "spec.dataFrom[0].sourceRef", "is empty"),
        ("- sourceRef: gen\n", "spec.dataFrom[0].sourceRef", "must be a mapping, got string"),
        ("- sourceRef: {generatorRef: }\n", "spec.dataFrom[0].sourceRef.generatorRef", "is empty; give apiVersion"),
        ("- sourceRef: {generatorRef: [gen]}\n", "spec.dataFrom[0].sourceRef.generatorRef", "mapping, got list"),
        ("- my-azurecr\n", "spec.dataFrom[0]", "must be a mapping, got string"),
    ],
)
def test_empty_or_mistyped_source_ref_is_refused(tmp_path: Path, data_from: str, field: str, words: str) -> None:
    # Before: `sourceRef:` left empty raised AttributeError (a traceback, exit 1).
    text = generator(MI) + "---\n" + ES_HEAD + "spec:\n  dataFrom:\n" + textwrap.indent(data_from, "    ")
    refuse_text(tmp_path, text, field, "document 2 (ExternalSecret default/es)", words)


def test_source_ref_to_a_store_is_still_not_handled(tmp_path: Path) -> None:
    text = ES_HEAD + "spec:\n  dataFrom:\n    - sourceRef: {storeRef: {name: vault, kind: SecretStore}}\n"
    assert len(load_config(write(tmp_path, text)).unhandled) == 1


@pytest.mark.parametrize("spec", ["spec:\n", "spec: {}\n", "spec: null\n", ""])
def test_cluster_with_empty_spec_is_refused(tmp_path: Path, spec: str) -> None:
    # Before: `spec:` left empty raised AttributeError.
    text = "apiVersion: acr-refresh/v1alpha1\nkind: Cluster\nmetadata: {name: edge}\n" + spec
    refuse_text(tmp_path, text, "spec", "document 1 (Cluster edge)", "needs exactly one of inCluster")


TOO_LARGE = "9999999999999h"  # before: OverflowError from timedelta


def es_fed_by_gen(meta: str = "", spec: str = "") -> str:
    return generator(MI) + "---\n" + textwrap.dedent(f"""\
        apiVersion: external-secrets.io/v1
        kind: ExternalSecret
        metadata:
          name: es
        {meta}
        spec:
          dataFrom:
            - sourceRef: {{generatorRef: {{kind: ACRAccessToken, name: gen}}}}
        {spec}
        """)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (es_fed_by_gen(spec=f"  refreshInterval: {TOO_LARGE}"), "spec.refreshInterval"),
        (es_fed_by_gen(spec="  refreshInterval: 2562048h"), "spec.refreshInterval"),
        (es_fed_by_gen(meta=f"  annotations: {{acr-refresh/min-remaining: {TOO_LARGE}}}"),
         "metadata.annotations.acr-refresh/min-remaining"),
        (generator(MI) + "---\napiVersion: acr-refresh/v1alpha1\nkind: KubernetesSecret\nmetadata: {name: ks}\n"
         f"spec:\n  generatorRef: {{name: gen}}\n  refreshPolicy: {{minRemaining: {TOO_LARGE}}}\n",
         "spec.refreshPolicy.minRemaining"),
        (generator(MI) + "---\napiVersion: acr-refresh/v1alpha1\nkind: KeyVaultSecret\nmetadata: {name: kv}\n"
         "spec:\n  generatorRef: {name: gen}\n  vaultUrl: https://myvault.vault.azure.net/\n  secretName: s\n"
         f"  refreshPolicy: {{minRemaining: {'1' * 400}s}}\n", "spec.refreshPolicy.minRemaining"),
    ],
)
def test_durations_too_large_are_refused(tmp_path: Path, text: str, field: str) -> None:
    refuse_text(tmp_path, text, field, "document 2", "too large; the largest Go duration is 2562047h47m16.854775807s")


@pytest.mark.parametrize("value", ["true", "[1h]", "{a: b}", "1.5"])
def test_duration_of_another_type_is_refused(tmp_path: Path, value: str) -> None:
    refuse_text(tmp_path, es_fed_by_gen(spec=f"  refreshInterval: {value}"), "spec.refreshInterval", "duration")


def test_duration_zero_as_a_number_is_create_once(tmp_path: Path) -> None:
    (target,) = load_config(write(tmp_path, es_fed_by_gen(spec="  refreshInterval: 0"))).kube_targets
    assert target.refresh_interval is not None and not target.refresh_interval


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        ("apiVersion: v1\nkind: ConfigMap\nkind: Secret\nmetadata: {name: a}\n", "kind",
         "duplicate key 'kind' (line 3, column 1; first at line 2, column 1)"),
        (generator(MI).replace("registry:", "scope: repository:a:pull\n  registry: x.azurecr.io\n  registry:"),
         "spec.registry", "duplicate key 'registry'"),
        ("---\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: List\n"
         "items:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: b, labels: {x: '1', x: '2'}}\n",
         "items[0].metadata.labels.x", "document 2: items[0].metadata.labels.x: duplicate key 'x'"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata:\n  \"1\": a\n  1: b\n", "data.1",
         "duplicate key '1'"),
    ],
)
def test_duplicate_yaml_keys_are_refused(tmp_path: Path, text: str, field: str, words: str) -> None:
    # Before: accepted, the last value silently winning.
    refuse_text(tmp_path, text, field, words, "as kubectl requires")


def test_duplicate_json_keys_are_refused(tmp_path: Path) -> None:
    text = '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "name": "b"}}'
    refuse_text(tmp_path, text, None, "invalid JSON: duplicate key 'name'", name="c.json")


def test_yaml_merge_keys_may_be_overridden(tmp_path: Path) -> None:
    text = ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\nbase: &b {x: 1, y: 2}\n"
            "data:\n  <<: *b\n  x: 3\n")
    assert len(load_config(write(tmp_path, text)).unhandled) == 1
