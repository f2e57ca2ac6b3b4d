"""The Azure Functions app as the host sees it: indexed functions, bindings, and both triggers invoked with
real ``azure.functions`` request objects against the emulator."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import azure.functions as func
import pytest

import function_app
from acr_refresh import functions
from acr_refresh.emulator import Emulator
from acr_refresh.errors import ConfigError
from tests.bad_configs import BAD_CONFIGS, bad_config_docs
from tests.conftest import SP_SECRET, acr_generator, write_config


@pytest.fixture(autouse=True)
def fresh_instance() -> None:
    """Each test is a new Functions instance: a warm instance keeps Services (and cached tokens) between
    invocations, but each test has its own emulator with its own signing keys."""
    if functions._services is not None:
        functions._services.close()
    functions._services = None


def bindings() -> dict[str, list[dict]]:
    """The function.json documents the worker sends the host when it indexes the app."""
    return {f.get_function_name(): json.loads(f.get_function_json())["bindings"]
            for f in function_app.app.get_functions()}


def test_indexed_functions_and_bindings() -> None:
    found = bindings()
    assert set(found) == {"refresh_timer", "refresh_http", "plan_http"}
    (timer,) = found["refresh_timer"]
    assert timer["type"] == "timerTrigger" and timer["schedule"] == "%ACR_REFRESH_SCHEDULE%"
    assert timer["useMonitor"] is True and timer["runOnStartup"] is False
    http = {b["type"]: b for b in found["refresh_http"]}
    assert http["httpTrigger"]["route"] == "refresh" and http["httpTrigger"]["methods"] == ["POST"]
    assert http["httpTrigger"]["authLevel"] == "FUNCTION"
    plan = {b["type"]: b for b in found["plan_http"]}
    assert plan["httpTrigger"]["route"] == "plan" and plan["httpTrigger"]["methods"] == ["GET"]


def test_importing_the_app_does_not_import_heavy_sdks() -> None:
    code = ("import sys, function_app; heavy = [m for m in ('kubernetes', 'azure.identity', "
            "'azure.keyvault.secrets', 'requests', 'yaml') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(function_app.__file__).parent)
    assert out.stdout.strip() == "[]"


def post(body: bytes) -> func.HttpResponse:
    req = func.HttpRequest(method="POST", url="/api/refresh", body=body, headers={"content-type": "application/json"})
    return function_app.refresh_http(req)


@pytest.fixture
def app_config(em: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = write_config(tmp_path, acr_generator("good"), acr_generator("scoped", scope="repository:a/b:pull"))
    monkeypatch.setenv("ACR_REFRESH_CONFIG", str(path))
    return path


def test_http_refresh_ok_never_returns_a_token(em: Emulator, app_config: Path) -> None:
    resp = post(b'{"dryRun": true}')
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    body = resp.get_body().decode()
    report = json.loads(body)
    assert report["ok"] and [g["status"] for g in report["generators"]] == ["ok", "ok"]
    assert not [s for s in em.issued_secrets() | {SP_SECRET} if s in body]


def test_http_refresh_selected_generator_and_failures(em: Emulator, app_config: Path) -> None:
    resp = post(b'{"generators": ["default/scoped"]}')
    assert resp.status_code == 200
    assert [g["name"] for g in json.loads(resp.get_body())["generators"]] == ["scoped"]
    em.fail("acr.exchange", status=401, count=None)
    resp = post(b'{"force": true}')  # force: no reuse of the warm instance's tokens
    assert resp.status_code == 502
    assert all(g["status"] == "failed" for g in json.loads(resp.get_body())["generators"])


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1]", "JSON object"),
        (b'{"generator": ["x"]}', "unknown field(s): generator"),
        (b'{"dryRun": "yes"}', "dryRun must be true or false"),
        (b'{"generators": "default/good"}', "list of"),
        (b'{"generators": ["default/nope"]}', "unknown generator"),
        (b'{"dryRun": true, "pad": "' + b"x" * 20000 + b'"}', "larger than"),
    ],
)
def test_http_refresh_bad_body_is_400(em: Emulator, app_config: Path, body: bytes, words: str) -> None:
    resp = post(body)
    assert resp.status_code == 400
    assert words in json.loads(resp.get_body())["error"]


def test_http_refresh_invalid_config_is_503(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_config(tmp_path, acr_generator(registry="evil.example.com"))
    monkeypatch.setenv("ACR_REFRESH_CONFIG", str(path))
    resp = post(b"")
    assert resp.status_code == 503 and "spec.registry" in json.loads(resp.get_body())["error"]
    plan = function_app.plan_http(func.HttpRequest(method="GET", url="/api/plan", body=b""))
    assert plan.status_code == 503


def test_http_refresh_while_a_run_is_in_progress_is_409(em: Emulator, app_config: Path) -> None:
    assert functions._run_lock.acquire(blocking=False)
    try:
        resp = post(b"")
    finally:
        functions._run_lock.release()
    assert resp.status_code == 409


def test_plan_endpoint(app_config: Path) -> None:
    resp = function_app.plan_http(func.HttpRequest(method="GET", url="/api/plan", body=b""))
    plan = json.loads(resp.get_body())
    assert resp.status_code == 200 and [g["name"] for g in plan["generators"]] == ["good", "scoped"]


def timer_request(past_due: bool = False) -> func.TimerRequest:
    from azure.functions.timer import TimerRequest

    return TimerRequest(past_due=past_due)


def test_timer_runs_and_fails_the_invocation_after_attempting_everything(em: Emulator, app_config: Path,
                                                                          tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    function_app.refresh_timer(timer_request())
    path = write_config(tmp_path, acr_generator("good"), acr_generator("bad", registry="missing.azurecr.io"),
                        name="two.yaml")
    monkeypatch.setenv("ACR_REFRESH_CONFIG", str(path))
    em.reset_counts()
    with pytest.raises(functions.RunFailed) as info:
        function_app.refresh_timer(timer_request(past_due=True))
    # Only the bad generator failed: the good one was still minted (from the warm instance's token), and the
    # invocation fails only after everything was attempted.
    assert "1 failure(s): default/bad" in str(info.value)


def test_timer_skips_while_a_run_is_in_progress(em: Emulator, app_config: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    held = threading.Event()
    assert functions._run_lock.acquire(blocking=False)
    try:
        function_app.refresh_timer(timer_request())
        held.set()
    finally:
        functions._run_lock.release()
    assert held.is_set() and "skipping" in caplog.text
    assert em.counts["acr.exchange"] == 0


# ----------------------------------------------------------------- issue 11: refused, never a 500 or a crash


@pytest.mark.parametrize("body", [b"[" * 8000 + b"]" * 8000, b'{"generators": ' + b"[" * 5000 + b"]" * 5000 + b"}",
                                  b'{"force": ' + b'{"a": ' * 1500 + b"1" + b"}" * 1501])
def test_http_refresh_deeply_nested_body_is_400(em: Emulator, app_config: Path, body: bytes) -> None:
    # Before: RecursionError escaped the trigger (HTTP 500).
    resp = post(body)
    assert resp.status_code == 400 and "nested too deeply" in json.loads(resp.get_body())["error"]
    assert not em.requests


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_refused_config_is_503_and_fails_the_timer_doing_nothing(em: Emulator, tmp_path: Path, case: str,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_config(tmp_path, *bad_config_docs(case))
    monkeypatch.setenv("ACR_REFRESH_CONFIG", str(path))
    field = BAD_CONFIGS[case][1]
    em.reset_counts()
    resp = post(b'{"force": true}')
    error = json.loads(resp.get_body())["error"]
    assert resp.status_code == 503 and "config.yaml: document 2" in error and f"{field}: " in error, error
    plan = function_app.plan_http(func.HttpRequest(method="GET", url="/api/plan", body=b""))
    assert plan.status_code == 503 and f"{field}: " in json.loads(plan.get_body())["error"]
    with pytest.raises(ConfigError, match="document 2"):
        function_app.refresh_timer(timer_request())
    assert not em.requests  # nothing minted, read or written


@pytest.mark.parametrize("value", ["9999999999999h", "2562048h", "1" * 400 + "s"])
def test_deadline_setting_too_large_is_503_and_fails_the_timer(em: Emulator, app_config: Path, value: str,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # Before: OverflowError escaped (HTTP 500; the timer with a traceback that named nothing).
    monkeypatch.setenv("ACR_REFRESH_DEADLINE", value)
    resp = post(b"")
    error = json.loads(resp.get_body())["error"]
    assert resp.status_code == 503 and "ACR_REFRESH_DEADLINE" in error and "too large" in error, error
    with pytest.raises(ValueError, match="ACR_REFRESH_DEADLINE: duration .* is too large"):
        function_app.refresh_timer(timer_request())
    assert not em.requests
