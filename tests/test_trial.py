"""validate's trial render: every template once with placeholder outputs of the real shapes, so what a run
would find only after minting is found by ``validate`` and ``GET /api/plan``."""

from __future__ import annotations

import base64
import json
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import azure.functions as func
import pytest

import function_app
from acr_refresh import acr, render, trial
from acr_refresh.cli import main
from acr_refresh.config import load_config
from acr_refresh.errors import ConfigError
from tests.conftest import acr_generator, write_config

ROOT = Path(__file__).resolve().parent.parent


def validate(config: Path, *extra: str) -> tuple[int, dict]:
    import io

    out = io.StringIO()
    code = main(["validate", "--config", str(config), "--output", "json", *extra], environ={}, stdout=out)
    return code, json.loads(out.getvalue())


def es(data: str, name: str = "es") -> str:
    return textwrap.dedent(f"""\
        apiVersion: external-secrets.io/v1
        kind: ExternalSecret
        metadata: {{name: {name}}}
        spec:
          dataFrom:
            - sourceRef: {{generatorRef: {{kind: ACRAccessToken, name: gen}}}}
          target:
            template:
              data:
        """) + textwrap.indent(textwrap.dedent(data), "        ")


def test_placeholders_have_the_real_shapes() -> None:
    config = load_config(write_config(Path(__import__("tempfile").mkdtemp()),
                                      acr_generator("gen", scope="repository:team/app:pull")))
    (gen,) = config.generators
    out = trial.placeholder_outputs(gen)
    assert out["username"] == acr.ACR_USERNAME == "00000000-0000-0000-0000-000000000000"
    parts = out["password"].split(".")
    assert len(parts) == 3 and all(p and set(p) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                                       "0123456789-_") for p in parts)
    header = json.loads(base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)))
    claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    assert header["alg"] == "RS256" and claims["aud"] == gen.registry and claims["exp"] > claims["iat"]
    assert acr.jwt_times(out["password"])[1] is not None  # our own JWT reader takes it for a token
    assert out["registry"] == "myregistry.azurecr.io" and out["tokenType"] == "access"
    expires = datetime.strptime(out["expiresAt"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert expires > datetime.now(UTC)


def test_limits_are_the_ones_a_run_enforces() -> None:
    assert (trial.MAX_SECRET_DATA, trial.MAX_VAULT_VALUE) == (render.MAX_SECRET_DATA, render.MAX_VAULT_VALUE)


@pytest.mark.parametrize(
    ("doc", "field", "words"),
    [
        (es("bad: '{{ index (splitList \".\" .password) 5 }}'\n"), "spec.target.template.data.bad",
         "index out of range: 5"),
        (es("ok: '{{ .registry }}'\nwhen: '{{ .expiresAt.Unix }}'\n"), "spec.target.template.data.when",
         "can't evaluate field Unix in type string"),
        (es("sig: '{{ index (splitList \".\" .password) 2 }}'\n"), None, None),  # a JWT has three parts
        ("apiVersion: acr-refresh/v1alpha1\nkind: KeyVaultSecret\nmetadata: {name: kv}\nspec:\n"
         "  generatorRef: {name: gen}\n  vaultUrl: https://myvault.vault.azure.net/\n  secretName: s\n"
         "  value: '{{ .expiresAt.Unix }}'\n", "spec.value", "can't evaluate field Unix"),
        ("apiVersion: acr-refresh/v1alpha1\nkind: KubernetesSecret\nmetadata: {name: ks}\nspec:\n"
         "  generatorRef: {name: gen}\n  template:\n    metadata:\n"
         "      labels: {part: '{{ index (splitList \"-\" .username) 9 }}'}\n",
         "spec.template.metadata.labels.part", "index out of range: 9"),
        ("apiVersion: acr-refresh/v1alpha1\nkind: KeyVaultSecret\nmetadata: {name: kv}\nspec:\n"
         "  generatorRef: {name: gen}\n  vaultUrl: https://myvault.vault.azure.net/\n  secretName: s\n"
         "  value: '{{ printf \"%10000s%10000s%10000s\" .username .username .username }}'\n",
         "spec.value", "larger than 25 KiB"),
    ],
)
def test_validate_finds_what_only_a_run_would_find(tmp_path: Path, doc: str, field: str | None,
                                                    words: str | None) -> None:
    config = write_config(tmp_path, acr_generator("gen"), doc)
    load_config(config)  # the static check passes: before, validate said ok and the run failed after minting
    code, answer = validate(config)
    if field is None:
        assert code == 0 and answer["ok"] is True
        return
    assert code == 2, answer
    error = answer["error"]
    assert "config.yaml: document 2" in error and f"{field}: " in error and words in error, error
    assert "trial render with placeholder credentials" in error


def test_plan_endpoint_trial_renders_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write_config(tmp_path, acr_generator("gen"), es("bad: '{{ index (splitList \".\" .password) 3 }}'\n"))
    monkeypatch.setenv("ACR_REFRESH_CONFIG", str(config))
    resp = function_app.plan_http(func.HttpRequest(method="GET", url="/api/plan", body=b""))
    error = json.loads(resp.get_body())["error"]
    assert resp.status_code == 503 and "spec.target.template.data.bad" in error and "index out of range" in error


def test_examples_and_eso_manifests_pass_the_trial(tmp_path: Path) -> None:
    assert validate(ROOT / "examples")[0] == 0
    eso = ROOT / "tests/fixtures/eso"
    docs = ["\n".join(line for line in (eso / n).read_text().splitlines() if "{%" not in line)
            for n in ("generator-acr-example.yaml", "generator-acr-argocd-helm-repo.yaml")]
    for i, text in enumerate(docs):
        config = write_config(tmp_path, acr_generator("my-azurecr"), text, name=f"eso{i}.yaml")
        code, answer = validate(config)
        assert code == 0, answer


def test_fan_out_renders_each_template_once(tmp_path: Path) -> None:
    docs = [acr_generator("gen")] + [
        f"apiVersion: acr-refresh/v1alpha1\nkind: KubernetesSecret\nmetadata: {{name: ks{i}}}\nspec:\n"
        "  generatorRef: {name: gen}\n  template: {data: {token: '{{ .password | b64enc }}'}}\n" for i in range(300)]
    config = load_config(write_config(tmp_path, *docs))
    assert trial.trial_config(config) is config  # no warnings: the same object


@pytest.mark.skipif(trial._soft_failure_hook() is None, reason="the engine does not report soft failures yet")
def test_soft_failures_are_warnings_naming_key_and_function(tmp_path: Path) -> None:
    config = write_config(tmp_path, acr_generator("gen"), es("raw: '{{ .password | b64dec }}'\n"))
    code, answer = validate(config)
    assert code == 0 and any("spec.target.template.data.raw" in w and "b64dec" in w for w in answer["warnings"])
    code, answer = validate(config, "--strict")
    assert code == 2 and "b64dec" in answer["error"]


def test_trial_errors_are_config_errors(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, acr_generator("gen"), es("x: '{{ index .password 99999 }}'\n")))
    with pytest.raises(ConfigError) as info:
        trial.trial_config(config)
    assert info.value.field == "spec.target.template.data.x"
