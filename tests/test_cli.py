"""The command line: exit codes, JSON output, options from the environment, validate's plan."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from acr_refresh import __version__
from acr_refresh.cli import main
from acr_refresh.emulator import Emulator
from tests.bad_configs import BAD_CONFIGS, bad_config_docs
from tests.conftest import acr_generator, write_config


def call(*argv: str, environ: dict[str, str] | None = None) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), environ=environ, stdout=out)
    return code, out.getvalue()


def test_help_and_version() -> None:
    result = subprocess.run([sys.executable, "-m", "acr_refresh", "--help"], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0
    for words in ("run", "validate", "ACR_REFRESH_", "Exit status"):
        assert words in result.stdout
    result = subprocess.run([sys.executable, "-m", "acr_refresh", "run", "--help"], capture_output=True, text=True,
                            check=False)
    for flag in ("--config", "--generator", "--dry-run", "--strict", "--concurrency", "--output", "--log-format",
                 "--deadline", "--force", "--take-over", "--min-remaining"):
        assert flag in result.stdout
    assert main(["--version"]) == 0


def test_validate_prints_plan_text_and_json(tmp_path: Path) -> None:
    config = write_config(tmp_path, acr_generator("a", scope="repository:team/app:pull"), """\
        apiVersion: external-secrets.io/v1beta1
        kind: SecretStore
        metadata: {name: vault}
        spec: {}
        """)
    code, text = call("validate", "--config", str(config))
    assert code == 0
    assert "default/a: access token for myregistry.azurecr.io scope repository:team/app:pull" in text
    assert "not handled: 1" in text
    code, out = call("validate", "--config", str(config), "--output", "json")
    plan = json.loads(out)
    assert code == 0 and plan["ok"] is True
    assert plan["generators"][0]["auth"] == {"kind": "servicePrincipal", "tenantId": plan["generators"][0]["auth"][
        "tenantId"], "clientId": "env SP_ID", "clientSecret": "env SP_SECRET"}
    assert plan["notHandled"][0]["kind"] == "SecretStore"


def test_invalid_config_exits_2_with_one_json_document(tmp_path: Path) -> None:
    config = write_config(tmp_path, acr_generator(registry="https://evil.example"))
    code, out = call("run", "--config", str(config), "--output", "json")
    assert code == 2
    doc = json.loads(out)
    assert doc["ok"] is False and "spec.registry" in doc["error"] and "config.yaml: document 1" in doc["error"]
    code, out = call("validate", "--config", str(config), "--output", "json")
    assert code == 2 and json.loads(out)["ok"] is False


def test_missing_config_is_a_usage_error() -> None:
    code, out = call("run", "--output", "json", environ={})
    assert code == 2 and "ACR_REFRESH_CONFIG" in json.loads(out)["error"]


def test_unknown_generator_is_a_usage_error(tmp_path: Path) -> None:
    config = write_config(tmp_path, acr_generator("a"))
    code, out = call("run", "--config", str(config), "--generator", "default/nope", "--output", "json")
    assert code == 2 and "unknown generator 'default/nope'" in json.loads(out)["error"]


def test_bad_option_values_exit_2() -> None:
    assert call("run", "--concurrency", "0")[0] == 2
    assert call("run", "--deadline", "soon")[0] == 2
    code, _ = call("run", environ={"ACR_REFRESH_CONCURRENCY": "lots", "ACR_REFRESH_CONFIG": "x"})
    assert code == 2


def test_strict_turns_warnings_into_exit_2(tmp_path: Path) -> None:
    auth = "managedIdentity: {}\nworkloadIdentity: {}\n"
    config = write_config(tmp_path, acr_generator("a", auth=auth))
    assert call("validate", "--config", str(config))[0] == 0
    code, out = call("validate", "--config", str(config), "--strict", "--output", "json")
    assert code == 2 and "ignoring workloadIdentity" in json.loads(out)["error"]
    assert call("validate", "--config", str(config), environ={"ACR_REFRESH_STRICT": "true"})[0] == 2


def test_run_exit_codes_and_options_from_environment(em: Emulator, tmp_path: Path) -> None:
    config = write_config(tmp_path, acr_generator("good"), acr_generator("bad", registry="missing.azurecr.io"))
    env = {"ACR_REFRESH_CONFIG": str(config), "ACR_REFRESH_OUTPUT": "json", "ACR_REFRESH_CONCURRENCY": "2",
           "SP_ID": "0f6c2e54-1b5f-4c4e-9a53-aaaaaaaaaaaa", "SP_SECRET": "sp-secret-Q8~xYz.0123456789abcdef"}
    code, out = call("run", environ=env)
    assert code == 1
    assert [g["status"] for g in json.loads(out)["generators"]] == ["ok", "failed"]
    code, out = call("run", environ={**env, "ACR_REFRESH_GENERATOR": "default/good"})
    assert code == 0 and [g["name"] for g in json.loads(out)["generators"]] == ["good"]
    code, out = call("run", "--generator", "good", "--output", "text", environ=env)
    assert code == 0 and "ok            default/good (refresh token, myregistry.azurecr.io)" in out


def test_json_report_shape(em: Emulator, tmp_path: Path) -> None:
    config = write_config(tmp_path, acr_generator("a"))
    code, out = call("run", "--config", str(config), "--output", "json", "--dry-run")
    report = json.loads(out)
    assert code == 0
    assert set(report) == {"ok", "dryRun", "startedAt", "durationSeconds", "warnings", "generators"}
    assert report["dryRun"] is True and report["startedAt"].endswith("Z")
    gen = report["generators"][0]
    assert set(gen) == {"namespace", "name", "registry", "tokenType", "identity", "expiresAt", "status", "error",
                        "targets"}


def test_version_string() -> None:
    result = subprocess.run([sys.executable, "-m", "acr_refresh", "--version"], capture_output=True, text=True,
                            check=False)
    assert result.stdout.strip() == f"acr-refresh {__version__}"


def test_shards_cover_every_generator_exactly_once(tmp_path: Path) -> None:
    from acr_refresh.config import load_config
    from acr_refresh.run import select

    config = load_config(write_config(tmp_path, *(acr_generator(f"g{i}") for i in range(200))))
    for count in (1, 2, 3, 7):
        seen = [g.key for index in range(count) for g in select(config, (), (index, count))]
        assert sorted(seen) == sorted(g.key for g in config.generators)
        assert len(seen) == len(set(seen)) == 200
    sizes = [len(select(config, (), (i, 4))) for i in range(4)]
    assert min(sizes) > 25  # a hash that spreads, not one that piles up


def test_shards_need_job_completion_index(tmp_path: Path) -> None:
    config = write_config(tmp_path, acr_generator("a"))
    code, out = call("run", "--config", str(config), "--shards", "3", "--output", "json", environ={})
    assert code == 2 and "JOB_COMPLETION_INDEX" in json.loads(out)["error"]
    code, out = call("run", "--config", str(config), "--shards", "3", "--output", "json", "--dry-run",
                     environ={"JOB_COMPLETION_INDEX": "5"})
    assert code == 2
    assert call("run", "--shard", "3/3")[0] == 2


def test_plan_lists_targets_and_clusters() -> None:
    from pathlib import Path as _Path

    examples = _Path(__file__).resolve().parent.parent / "examples"
    code, out = call("validate", "--config", str(examples), "--output", "json")
    plan = json.loads(out)
    assert code == 0
    kinds = sorted((t["kind"], t["source"]) for t in plan["targets"])
    assert kinds == [("KeyVaultSecret", "KeyVaultSecret/acr-refresh/demo-registry-password"),
                     ("KubernetesSecret", "ExternalSecret/acr-refresh/azurecr-credentials"),
                     ("KubernetesSecret", "KubernetesSecret/acr-refresh/demo-pull-secret")]
    fanout = next(t for t in plan["targets"] if t["source"].startswith("KubernetesSecret/"))
    assert fanout["namespaceSelector"] == "acr-refresh/pull=true" and fanout["serviceAccounts"] == ["default"]
    assert "secret acr-refresh/acr-sp" in json.dumps(plan) and "demo-client-secret" not in json.dumps(plan)


# ----------------------------------------------------------------- issue 11: refused, never a traceback


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_refused_config_exits_2_naming_file_document_field_and_does_nothing(em: Emulator, tmp_path: Path,
                                                                           case: str) -> None:
    config = write_config(tmp_path, *bad_config_docs(case))
    field = BAD_CONFIGS[case][1]
    em.reset_counts()
    for args in (("validate",), ("run", "--force", "--prune")):
        code, out = call(*args, "--config", str(config), "--output", "json")
        error = json.loads(out)["error"]
        assert code == 2 and "config.yaml: document 2" in error and f"{field}: " in error, (args, error)
    assert not em.requests  # nothing minted, read, written or pruned


@pytest.mark.parametrize("value", ["9999999999999h", "2562048h", "1" * 400 + "s"])
@pytest.mark.parametrize("option", ["deadline", "min-remaining"])
def test_durations_too_large_in_options_exit_2(tmp_path: Path, option: str, value: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    # Before: OverflowError escaped argparse's type conversion (a traceback, exit 1).
    config = write_config(tmp_path, acr_generator("a"))
    assert call("run", "--config", str(config), f"--{option}", value)[0] == 2
    assert f"--{option}" in capsys.readouterr().err
    name = "ACR_REFRESH_" + option.upper().replace("-", "_")
    assert call("run", "--config", str(config), environ={name: value})[0] == 2
    assert f"{name}: duration" in capsys.readouterr().err
