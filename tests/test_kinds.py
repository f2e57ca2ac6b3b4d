"""Documents that almost match a kind we or ESO define are refused in config (exit 2), naming the document;
kinds ESO defines that we do not act on stay "not handled"."""

from __future__ import annotations

from pathlib import Path

import pytest

from acr_refresh.cli import main
from acr_refresh.config import ConfigError, load_config
from tests.conftest import acr_generator, write_config

NEAR_MISSES = [
    ("generators.external-secrets.io/v1alpha1", "ACRAcessToken", "kind", "ACRAccessToken"),
    ("generators.external-secret.io/v1alpha1", "ACRAccessToken", "apiVersion", "generators.external-secrets.io"),
    ("external-secrets.io/v1beta2", "ExternalSecret", "apiVersion", "v1beta1"),
    ("external-secrets.io/v1", "ExternalSecrets", "kind", "ExternalSecret"),
    ("externalsecrets.io/v1", "ExternalSecret", "apiVersion", "external-secrets.io"),
    ("acr-refresh/v1alpha2", "KubernetesSecret", "apiVersion", "v1alpha1"),
    ("acr-refrsh/v1alpha1", "KubernetesSecret", "apiVersion", "acr-refresh"),
]


@pytest.mark.parametrize("api,kind,field,hint", NEAR_MISSES, ids=[f"{a}:{k}" for a, k, _, _ in NEAR_MISSES])
def test_a_near_miss_is_refused_naming_document_and_field(tmp_path: Path, api: str, kind: str, field: str,
                                                          hint: str, capsys: pytest.CaptureFixture[str]) -> None:
    doc = f"apiVersion: {api}\nkind: {kind}\nmetadata: {{name: x}}\nspec: {{}}\n"
    path = write_config(tmp_path, acr_generator(), doc)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    text = str(err.value)
    assert "document 2" in text and field in text and hint in text, text
    assert main(["validate", "--config", str(path)]) == 2
    assert main(["run", "--config", str(path), "--prune"]) == 2


@pytest.mark.parametrize("api,kind", [("external-secrets.io/v1", "SecretStore"),
                                      ("generators.external-secrets.io/v1alpha1", "Password"),
                                      ("v1", "ConfigMap"), ("apps/v1", "Deployment")])
def test_other_kinds_stay_not_handled(tmp_path: Path, api: str, kind: str) -> None:
    doc = f"apiVersion: {api}\nkind: {kind}\nmetadata: {{name: x}}\n"
    config = load_config(write_config(tmp_path, acr_generator(), doc))
    assert [u.kind for u in config.unhandled] == [kind]


def test_run_warns_about_kinds_it_does_not_act_on(tmp_path: Path) -> None:
    from acr_refresh.run import RunOptions, run

    doc = "apiVersion: generators.external-secrets.io/v1alpha1\nkind: Password\nmetadata: {name: pw}\n"
    report = run(load_config(write_config(tmp_path, doc)), RunOptions())
    assert any("Password" in w and "not handled" in w for w in report.warnings)
