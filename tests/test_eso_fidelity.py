"""ESO fidelity in config: every field of ESO v2.9.0's kinds has a fate, and each fate is what the loader does.

Expected behaviour is derived from ESO's code, cited per test: apis/externalsecrets/v1/externalsecret_types.go
and externalsecret_validator.go, runtime/esutils/utils.go (RewriteMap), pkg/controllers/externalsecret/
externalsecret_controller_template.go (ApplyTemplate, setMetadata).
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from acr_refresh.clouds import PUBLIC
from acr_refresh.config import ConfigError, Generator, ManagedIdentity, fates, load_config
from acr_refresh.config.model import Rewrite
from acr_refresh.config.rewrite import compile_go_regexp, go_expand, rename, replace_all
from acr_refresh.render import render_secret

ROOT = Path(__file__).resolve().parents[1]
GEN = """\
apiVersion: generators.external-secrets.io/v1alpha1
kind: ACRAccessToken
metadata: {name: acr, namespace: apps}
spec:
  registry: myregistry.azurecr.io
  auth: {managedIdentity: {}}
"""


def es(spec: str = "", *, meta: str = "", version: str = "v1") -> str:
    body = textwrap.indent(textwrap.dedent(spec), "  ")
    return textwrap.dedent(f"""\
        apiVersion: external-secrets.io/{version}
        kind: ExternalSecret
        metadata:
          name: pull
          namespace: apps
        """) + textwrap.indent(textwrap.dedent(meta), "  ") + textwrap.dedent("""\
        spec:
          dataFrom:
          - sourceRef:
              generatorRef:
                apiVersion: generators.external-secrets.io/v1alpha1
                kind: ACRAccessToken
                name: acr
        """) + body


def load(tmp_path: Path, doc: str, **kw: object):  # type: ignore[no-untyped-def]
    path = tmp_path / "config.yaml"
    path.write_text(GEN + "---\n" + doc)
    return load_config(path, **kw)  # type: ignore[arg-type]


def refused(tmp_path: Path, doc: str, field: str, words: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, doc)
    text = str(info.value)
    assert field in text and words in text, text
    assert "config.yaml" in text and "document 2" in text, text
    return info.value


# --------------------------------------------------------------------------------------------- the data


def test_every_crd_path_has_a_fate() -> None:
    assert fates.missing_fates() == []


def test_every_fate_is_one_of_the_five() -> None:
    for kind in ("ACRAccessToken", "ClusterGenerator", "ExternalSecret", "ClusterExternalSecret"):
        for path, (fate, note) in fates.entries(kind).items():
            assert fate in (*fates.FATES, "as"), (kind, path, fate)
            if fate in ("refused", "limited", "not-handled", "ignored"):
                assert note, f"{kind} {path}: a {fate} field needs its reason"


def test_no_fate_is_declared_for_a_path_no_schema_has() -> None:
    """A fate for a field ESO does not have would document something that does not exist (typo guard)."""
    for kind, versions in fates.crd_paths().items():
        crd = {p for ps in versions.values() for p in ps}
        for path in fates.entries(kind):
            base = path.removesuffix(".**").removesuffix("[]")
            if path.startswith("metadata.") or path.endswith(".env"):
                continue  # ObjectMeta is not in the CRDs; env is our extension
            assert base in crd, f"{kind}: {path} is in no CRD version"


def test_compatibility_doc_is_fresh() -> None:
    doc = (ROOT / "docs" / "eso-compatibility.md").read_text()
    assert doc == fates.markdown(), "docs/eso-compatibility.md is stale: python -m acr_refresh.config > it"


def test_doc_generator_runs_as_a_module() -> None:
    out = subprocess.run([sys.executable, "-m", "acr_refresh.config"], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert out.stdout.startswith("# ESO compatibility")


# ------------------------------------------------------------------------------------------ unknown fields


@pytest.mark.parametrize(("spec", "field", "hint"), [
    ("refreshIntervl: 1h\n", "spec.refreshIntervl", "refreshInterval"),
    ("target: {nmae: x}\n", "spec.target.nmae", "name"),
    ("target: {template: {metdata: {}}}\n", "spec.target.template.metdata", "metadata"),
])
def test_a_typo_is_a_warning_naming_the_closest_field(tmp_path: Path, spec: str, field: str, hint: str) -> None:
    config = load(tmp_path, es(spec))
    warning = next(w for w in config.warnings if field in w)
    assert f"did you mean {hint}?" in warning and "config.yaml" in warning
    with pytest.raises(ConfigError, match=re.escape(field)):
        load(tmp_path, es(spec), strict=True)


def test_a_typo_in_the_generator_is_named_too(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(GEN.replace("registry:", "tenantID: x\n  registry:"))
    config = load_config(path)
    assert any("spec.tenantID" in w and "did you mean tenantId?" in w for w in config.warnings)


def test_a_v1_field_in_a_v1beta1_document_is_named(tmp_path: Path) -> None:
    doc = es("syncWindows: {kind: deny, windows: [{schedule: '@daily', duration: 1h}]}\n", version="v1beta1")
    config = load(tmp_path, doc)
    assert any("spec.syncWindows" in w and "exists in ExternalSecret v1" in w for w in config.warnings)


def test_server_set_metadata_and_status_are_warned_not_refused(tmp_path: Path) -> None:
    config = load(tmp_path, es("", meta="uid: 1234\nresourceVersion: '7'\n") + "status: {refreshTime: x}\n")
    text = " ".join(config.warnings)
    assert "metadata.uid is ignored" in text and "status is ignored" in text


def test_a_clean_manifest_gives_no_warning(tmp_path: Path) -> None:
    config = load(tmp_path, es("refreshInterval: 1h\ntarget: {name: x, creationPolicy: Owner}\n"))
    assert config.warnings == ()


def test_a_store_fed_external_secret_is_not_checked(tmp_path: Path) -> None:
    """It is ESO's to run: its fields are none of our business (no warnings, so --strict stays usable)."""
    doc = textwrap.dedent("""\
        apiVersion: external-secrets.io/v1
        kind: ExternalSecret
        metadata: {name: db, namespace: apps}
        spec:
          secretStoreRef: {name: vault, kind: SecretStore}
          refreshIntervl: 1h
          data: [{secretKey: password, remoteRef: {key: db}}]
        """)
    config = load(tmp_path, doc, strict=True)
    assert [u.kind for u in config.unhandled] == ["ExternalSecret"]


# ------------------------------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(("spec", "field", "words"), [
    ("target: {manifest: {apiVersion: v1, kind: ConfigMap}}\n", "spec.target.manifest", "no place for a credential"),
    ("target: {immutable: true}\n", "spec.target.immutable", "cannot live in an immutable Secret"),
    ("target: {template: {templateFrom: [{literal: 'a: b', target: spec.x}]}}\n",
     "spec.target.template.templateFrom[0].target", "not allowed when targeting a Secret"),
    ("target: {creationPolicy: Merge, deletionPolicy: Delete}\n", "spec.target.deletionPolicy",
     "deletionPolicy=Delete must not be used"),
    ("target: {creationPolicy: None, deletionPolicy: Delete}\n", "spec.target.deletionPolicy",
     "deletionPolicy=Delete must not be used"),
    ("target: {creationPolicy: CreateOrMerge, deletionPolicy: Delete}\n", "spec.target.deletionPolicy",
     "deletionPolicy=Delete must not be used"),
    ("target: {creationPolicy: None, deletionPolicy: Merge}\n", "spec.target.deletionPolicy",
     "deletionPolicy=Merge must not be used"),
    ("target: {deletionPolicy: Sometimes}\n", "spec.target.deletionPolicy", "must be one of Retain, Delete, Merge"),
    ("refreshPolicy: Hourly\n", "spec.refreshPolicy", "must be one of Periodic, CreatedOnce, OnChange"),
    ("target: {template: {type: bootstrap.kubernetes.io/token}}\n", "spec.target.template.type", "not allowed"),
    ("syncWindows: {kind: sometimes, windows: [{schedule: '@daily', duration: 1h}]}\n", "spec.syncWindows.kind",
     "allow or deny"),
    ("syncWindows: {kind: allow, windows: []}\n", "spec.syncWindows.windows", "at least one"),
    ("syncWindows: {kind: allow, windows: [{schedule: '61 * * * *', duration: 1h}]}\n",
     "spec.syncWindows.windows[0].schedule", "above maximum (59)"),
    ("syncWindows: {kind: allow, windows: [{schedule: '0 22 * *', duration: 1h}]}\n",
     "spec.syncWindows.windows[0].schedule", "expected exactly 5 fields"),
    ("syncWindows: {kind: allow, windows: [{schedule: '@fortnightly', duration: 1h}]}\n",
     "spec.syncWindows.windows[0].schedule", "unrecognized descriptor"),
    ("syncWindows: {kind: allow, windows: [{schedule: '@daily'}]}\n", "spec.syncWindows.windows[0].duration",
     "required"),
    ("target: {template: {metadata: {finalizers: ['Not A Name']}}}\n",
     "spec.target.template.metadata.finalizers[0]", "not a valid finalizer"),
])
def test_refused_with_the_reason(tmp_path: Path, spec: str, field: str, words: str) -> None:
    refused(tmp_path, es(spec), field, words)


def test_rewrite_merge_is_refused(tmp_path: Path) -> None:
    doc = es().replace("name: acr\n", "name: acr\n    rewrite:\n    - merge: {into: all}\n")
    refused(tmp_path, doc, "spec.dataFrom[0].rewrite[0].merge", "not JSON")


@pytest.mark.parametrize("spec", [
    "refreshPolicy: CreatedOnce\ntarget: {immutable: true}\n",
    "refreshInterval: 0s\ntarget: {immutable: true}\n",
    "refreshInterval: 0\ntarget: {immutable: true}\n",
])
def test_immutable_is_accepted_for_a_create_once_target(tmp_path: Path, spec: str) -> None:
    (target,) = load(tmp_path, es(spec)).kube_targets
    assert target.immutable


@pytest.mark.parametrize("policy", ["Owner", "Orphan", "Merge", "CreateOrMerge", "None"])
def test_every_creation_policy_of_eso_is_accepted(tmp_path: Path, policy: str) -> None:
    (target,) = load(tmp_path, es(f"target: {{creationPolicy: {policy}}}\n")).kube_targets
    assert target.creation_policy == policy


def test_a_window_that_keeps_a_refresh_from_happening_is_warned(tmp_path: Path) -> None:
    spec = "syncWindows: {kind: deny, windows: [{schedule: '0 0 * * *', duration: 12h}]}\n"
    config = load(tmp_path, es(spec))
    assert any("spec.syncWindows" in w for w in config.warnings), config.warnings


def test_sync_windows_outside_periodic_warn(tmp_path: Path) -> None:
    spec = "refreshPolicy: CreatedOnce\nsyncWindows: {kind: deny, windows: [{schedule: '@daily', duration: 1h}]}\n"
    config = load(tmp_path, es(spec))
    assert any("Periodic refresh policy only" in w for w in config.warnings)


# -------------------------------------------------------------------------------- rewrite (Go semantics)

# Go's regexp.Expand: cases from Go's regexp/all_test.go (expandTests) and ESO's utils_test.go RewriteRegexp.
EXPAND = [
    # (pattern, template, input, want)
    (r"(\w+)@(\w+)", "$2@$1", "user@host", "host@user"),
    (r"(?P<first>\w+)-(?P<second>\w+)", "${second}_${first}", "ab-cd", "cd_ab"),
    (r"(\w+)", "$1x", "abc", ""),           # $1x names group "1x", which does not exist
    (r"(\w+)", "${1}x", "abc", "abcx"),
    (r"(a)", "$$1", "a", "$1"),
    (r"(a)", "$", "a", "$"),                 # malformed: $ kept
    (r"(a)", "${1", "a", "${1"),             # malformed: no closing brace
    (r"(a)", "$9", "a", ""),                 # out of range: empty
    (r"^", "x-", "password", "x-password"),
    (r"pass", "", "password", "word"),
    (r"x*", "-", "abc", "-a-b-c-"),          # empty matches, as Go
    (r"x*", "-", "abxd", "-a-b-d-"),         # no empty match right after a match (Python's sub: -a-b--d-)
    (r"(.*)", "x$1", "abc", "xabc"),         # once (Python's sub: xabcx)
    (r"x*", "-", "xa", "-a-"),
    (r"(?<k>user)", "login${k}", "username", "loginusername"),  # Go 1.22's (?<name>)
]


@pytest.mark.parametrize(("pattern", "template", "text", "want"), EXPAND)
def test_go_replace_all(pattern: str, template: str, text: str, want: str) -> None:
    assert replace_all(compile_go_regexp(pattern), template, text) == want


@pytest.mark.parametrize("pattern", [r"(?=x)", r"(?!x)", r"(?<=x)", r"(a)\1", r"(?>a)", r"a*+", r"\p{L}", r"a\Z"])
def test_patterns_go_cannot_compile_are_refused(pattern: str) -> None:
    with pytest.raises(ValueError):
        compile_go_regexp(pattern)


def test_go_expand_on_a_match() -> None:
    m = re.search(r"(a)(b)?", "a")
    assert m is not None
    assert go_expand("[$1][$2]", m) == "[a][]"


def test_rename_in_order_and_collisions() -> None:
    steps = (Rewrite(regexp_source="^", regexp_target="acr-"), Rewrite(transform="{{ .value | upper }}"))
    assert rename(steps, ("username", "password")) == [("username", "ACR-USERNAME"), ("password", "ACR-PASSWORD")]
    with pytest.raises(ValueError, match="both named"):
        rename((Rewrite(regexp_source=".*", regexp_target="same"),), ("username", "password"))
    with pytest.raises(ValueError, match="not a valid Secret key"):
        rename((Rewrite(regexp_source="user", regexp_target="a b"),), ("username", "password"))


def _generator() -> Generator:
    return Generator(namespace="apps", name="acr", registry="myregistry.azurecr.io", auth=ManagedIdentity(),
                     cloud=PUBLIC)


OUT = {"username": "00000000-0000-0000-0000-000000000000", "password": "tok", "registry": "myregistry.azurecr.io",
       "tokenType": "refresh", "expiresAt": "2026-12-02T00:00:00Z"}


def test_rewrite_renames_the_secret_keys(tmp_path: Path) -> None:
    """ESO: RewriteMap runs on the generator's map before ApplyTemplate; with no template the keys are copied."""
    doc = es().replace("name: acr\n", "name: acr\n    rewrite:\n    - regexp: {source: '(.*)', target: 'docker-$1'}\n"
                                      "    - transform: {template: '{{ .value | upper }}'}\n")
    (target,) = load(tmp_path, doc).kube_targets
    now = datetime(2026, 12, 1, tzinfo=UTC)
    secret = render_secret(target, _generator(), "apps", dict(OUT), now, now + timedelta(hours=3))
    assert secret.data == {"DOCKER-USERNAME": OUT["username"], "DOCKER-PASSWORD": "tok"}


def test_templates_see_the_renamed_keys(tmp_path: Path) -> None:
    doc = es("target: {template: {data: {pw: '{{ .pass }}'}}}\n").replace(
        "name: acr\n", "name: acr\n    rewrite:\n    - regexp: {source: word, target: ''}\n")
    (target,) = load(tmp_path, doc).kube_targets
    now = datetime(2026, 12, 1, tzinfo=UTC)
    assert render_secret(target, _generator(), "apps", dict(OUT), now, now).data == {"pw": "tok"}
    refused(tmp_path, doc.replace(".pass", ".password"), "spec.target.template.data.pw", "password")


# ---------------------------------------------------------------------------------------- copied metadata


def test_external_secret_metadata_is_copied_without_a_template(tmp_path: Path) -> None:
    """ESO's setMetadata: no template → the ExternalSecret's labels and annotations are merged into the Secret's.
    Our control annotations are read, not copied; values are literal (a '{{' is not a template there)."""
    meta = ("labels: {team: a, tier: '{{ x }}'}\n"
            "annotations: {note: hello, acr-refresh/min-remaining: 30m}\n")
    (target,) = load(tmp_path, es("", meta=meta)).kube_targets
    now = datetime(2026, 12, 1, tzinfo=UTC)
    secret = render_secret(target, _generator(), "apps", dict(OUT), now, now)
    assert secret.labels["team"] == "a" and secret.labels["tier"] == "{{ x }}"
    assert secret.annotations["note"] == "hello" and "acr-refresh/min-remaining" not in secret.annotations
    assert secret.data == {"username": OUT["username"], "password": "tok"}


def test_with_a_template_the_metadata_is_not_copied(tmp_path: Path) -> None:
    (target,) = load(tmp_path, es("target: {template: {type: Opaque}}\n", meta="labels: {team: a}\n")).kube_targets
    now = datetime(2026, 12, 1, tzinfo=UTC)
    assert "team" not in render_secret(target, _generator(), "apps", dict(OUT), now, now).labels


def test_finalizers_and_immutable_reach_the_manifest(tmp_path: Path) -> None:
    spec = ("refreshPolicy: CreatedOnce\n"
            "target: {immutable: true, template: {metadata: {finalizers: [example.com/keep]}}}\n")
    (target,) = load(tmp_path, es(spec)).kube_targets
    now = datetime(2026, 12, 1, tzinfo=UTC)
    body = render_secret(target, _generator(), "apps", dict(OUT), now, now).manifest()
    assert body["metadata"]["finalizers"] == ["example.com/keep"] and body["immutable"] is True


# ---------------------------------------------------------------------- the cluster kinds and references

CLUSTER_GENERATOR = """\
apiVersion: generators.external-secrets.io/v1alpha1
kind: ClusterGenerator
metadata: {name: cg, labls: {a: b}}
spec:
  kind: ACRAccessToken
  generator:
    acrAccessTokenSpec:
      registry: myregistry.azurecr.io
      regsitry: x
      auth: {managedIdentity: {}}
"""
CLUSTER_EXTERNAL_SECRET = """\
apiVersion: external-secrets.io/v1
kind: ClusterExternalSecret
metadata: {name: ces, annotaions: {x: y}}
spec:
  namespaces: [apps]
  namespaceSelectors: [{matchLabels: {t: b}, matchExpresions: []}]
  externalSecretMetadata: {labels: {l: v}, annotatons: {}}
  externalSecretSpec:
    refreshIntervl: 1h
    dataFrom:
    - sourceRef: {generatorRef: {apiVersion: generators.external-secrets.io/v1alpha1, kind: ClusterGenerator, name: cg}}
status: {foo: 1}
"""


def test_cluster_kinds_have_their_fates_applied(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(CLUSTER_GENERATOR + "---\n" + CLUSTER_EXTERNAL_SECRET)
    warnings = load_config(path).warnings
    for field, hint in (("metadata.labls", "labels"), ("spec.generator.acrAccessTokenSpec.regsitry", "registry"),
                        ("metadata.annotaions", "annotations"), ("spec.namespaceSelectors[0].matchExpresions",
                                                                 "matchExpressions"),
                        ("spec.externalSecretMetadata.annotatons", "annotations"),
                        ("spec.externalSecretSpec.refreshIntervl", "refreshInterval")):
        named = [w for w in warnings if f"unknown field {field} " in w]
        assert len(named) == 1 and f"did you mean {hint}?" in named[0], (field, warnings)
    assert any("status is ignored" in w for w in warnings)
    path.write_text(CLUSTER_GENERATOR + "---\n" + CLUSTER_EXTERNAL_SECRET.replace("{name: ces,",
                                                                                 "{name: ces, generateName: c-,"))
    with pytest.raises(ConfigError, match="metadata.generateName: is refused"):
        load_config(path)


@pytest.mark.parametrize(("ref", "words"), [
    ("{knd: ACRAccessToken, name: acr}", "is required: the generator's kind, e.g. ACRAccessToken (the reference "
                                         "has knd: a typo of kind?)"),
    ("{kind: ACRAccesToken, name: acr}", "'ACRAccesToken' is not a generator kind of ESO; did you mean "
                                         "ACRAccessToken?"),
    ("{kind: [x], name: acr}", "is not a generator kind of ESO"),
])
def test_a_generator_ref_kind_typo_is_refused_not_left_unhandled(tmp_path: Path, ref: str, words: str) -> None:
    doc = es().replace("""      generatorRef:
        apiVersion: generators.external-secrets.io/v1alpha1
        kind: ACRAccessToken
        name: acr
""", f"      generatorRef: {ref}\n")
    refused(tmp_path, doc, "spec.dataFrom[0].sourceRef.generatorRef.kind", words)


def test_a_selector_of_typos_does_not_select_every_namespace(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(CLUSTER_GENERATOR + "---\n" + CLUSTER_EXTERNAL_SECRET.replace(
        "  namespaces: [apps]\n", "  namespaceSelector: {matchLabel: {team: a}}\n"))
    with pytest.raises(ConfigError, match="would select every namespace"):
        load_config(path)
