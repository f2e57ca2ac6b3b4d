"""Token hygiene end to end: servers that echo what they were sent, long and odd error texts, secrets too
short to scrub, and values read back that are not secret. Real clients against the emulator (and, for the
echoing Kubernetes API, a stand-in behind the emulator's kube port that answers every write with the
object it was sent, as an admission webhook or a validation message may)."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from acr_refresh.config import load_config
from acr_refresh.emulator import Emulator
from acr_refresh.emulator.web import Request, Response
from acr_refresh.run import run
from tests.conftest import REGISTRY, SP_CLIENT, SP_SECRET, TENANT, acr_generator, fast_services, write_config

VAULT = "hygienevault.vault.azure.net"
_B64_RUN = re.compile(r"[A-Za-z0-9+/]{8,}={0,2}")


def _decodings(text: str, depth: int) -> list[bytes]:
    """``text`` and every base64 run in it decoded at each of its four character offsets, ``depth`` deep."""
    found = [text.encode()]
    if depth == 0:
        return found
    for run_ in _B64_RUN.findall(text):
        body = run_.rstrip("=")
        for offset in range(4):
            chunk = body[offset:]
            chunk = chunk[: len(chunk) - len(chunk) % 4]
            try:
                decoded = base64.b64decode(chunk)
            except (binascii.Error, ValueError):
                continue
            found += _decodings(decoded.decode("latin-1"), depth - 1)
    return found


def leaks(text: str, secret: str, window: int = 8) -> bool:
    """Whether ``text`` shows any ``window`` consecutive bytes of ``secret``: plain, or inside base64 (twice
    encoded too: a dockerconfigjson ``auth`` inside a Secret's data), decoded at every character offset."""
    pieces = {secret[i:i + window].encode() for i in range(len(secret) - window + 1)}
    return any(p in h for h in _decodings(text, 2) for p in pieces)


def everything(report: dict, caplog: pytest.LogCaptureFixture) -> str:
    return json.dumps(report) + "\n" + "\n".join(r.getMessage() for r in caplog.records)


def kube_secret(name: str = "pull", template: str = "") -> str:
    return (f"apiVersion: acr-refresh/v1alpha1\nkind: KubernetesSecret\nmetadata: {{name: {name}}}\nspec:\n"
            f"  generatorRef: {{name: gen}}\n  namespaces: [default]\n{template}")


class EchoingApiServer:
    """Behind the emulator's kube port: no Secret exists, and every write is refused with a ``Status``
    whose message carries the object's ``data`` exactly as sent (base64)."""

    def __init__(self) -> None:
        self.echoed: list[str] = []

    def forward(self, req: Request) -> Response:
        if req.method == "GET":
            return Response.json(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                       "reason": "NotFound", "code": 404, "message": "secrets not found"})
        body = req.json() if req.body else {}
        data = body.get("data", {}) if isinstance(body, dict) else {}
        message = "Secret is invalid: " + "; ".join(f'data[{k}]: Invalid value: "{v}"' for k, v in data.items())
        self.echoed.append(message)
        return Response.json(422, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Invalid",
                                   "code": 422, "message": message})


@pytest.fixture
def echo_em(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[tuple[Emulator, EchoingApiServer]]:
    echo = EchoingApiServer()
    with Emulator(kube_upstream=echo) as emulator:  # type: ignore[arg-type]  # any object with forward()
        emulator.add_tenant(TENANT)
        emulator.add_service_principal(TENANT, SP_CLIENT, SP_SECRET)
        emulator.add_registry(REGISTRY, tenant=TENANT)
        for key, value in emulator.env().items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("KUBECONFIG", emulator.write_kubeconfig(tmp_path / "kubeconfig"))
        monkeypatch.setenv("SP_ID", SP_CLIENT)
        monkeypatch.setenv("SP_SECRET", SP_SECRET)
        yield emulator, echo


def _minted_tokens(em: Emulator) -> list[str]:
    return [t for t in em.issued_secrets() if t.startswith("eyJ")]


@pytest.mark.parametrize("template", [
    "",  # the default dockerconfigjson: base64 of the JSON, which holds the token and base64(user:password)
    "  template:\n    data:\n      token: '{{ .password }}'\n",  # base64 of the token alone
    "  template:\n    data:\n      double: '{{ .password | b64enc }}'\n",  # base64 of base64: a whole value
], ids=["dockerconfigjson", "token", "b64enc-token"])
def test_an_api_server_echoing_secret_data_in_its_error_shows_no_part_of_the_token(
        echo_em: tuple[Emulator, EchoingApiServer], tmp_path: Path, caplog: pytest.LogCaptureFixture,
        template: str) -> None:
    em, echo = echo_em
    caplog.set_level(logging.DEBUG)
    config = load_config(write_config(tmp_path, acr_generator(), kube_secret(template=template)))
    report = run(config, services=fast_services()).to_dict()
    (target,) = report["generators"][0]["targets"]
    assert target["status"] == "failed" and "422" in target["error"] and "[REDACTED]" in target["error"]
    assert echo.echoed, "the stand-in must have echoed the data"
    tokens = _minted_tokens(em)
    assert tokens
    out = everything(report, caplog)
    for token in tokens:
        assert any(leaks(message, token) for message in echo.echoed)  # the stand-in did echo it
        assert not leaks(out, token), "a piece of a token shows in the report or logs"


def test_registry_error_code_and_long_messages_are_scrubbed_before_they_are_cut(
        em: Emulator, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    # A JWT-shaped value in the error code (cut at 60 characters before) and one placed so that cutting the
    # message at 200 characters keeps 89 characters of it.
    jwt = ("eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJhdWQiOiJodHRwczovL2V4YW1wbGUiLCJzdWIiOiJlY2hvZWQtdG9rZW4tMDAwMDAw"
           "MDAwMDAwMDAwMDAwIn0.c2lnbmF0dXJlLXRoYXQtaXMtbG9uZy1lbm91Z2gtdG8tbWF0dGVyLXRvby0wMDAwMDAwMA")
    em.fail("acr.exchange", status=401, count=None,
            body={"errors": [{"code": jwt, "message": "x" * 110 + " " + jwt, "detail": None}]})
    config = load_config(write_config(tmp_path, acr_generator()))
    report = run(config, services=fast_services()).to_dict()
    gen = report["generators"][0]
    assert gen["status"] == "failed" and "401" in gen["error"]
    out = everything(report, caplog)
    header, payload, _ = jwt.split(".")
    assert payload[:12] not in out and header[:30] not in out


def test_a_client_secret_too_short_to_scrub_fails_its_generator_before_any_request(
        em: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    short = "Sh0rt~secret1"  # 13 characters
    em.add_service_principal(TENANT, "11111111-0000-0000-0000-00000000dddd", short)
    monkeypatch.setenv("SHORT_ID", "11111111-0000-0000-0000-00000000dddd")
    monkeypatch.setenv("SHORT_SECRET", short)
    weak = acr_generator("weak", auth="servicePrincipal:\n  secretRef:\n    clientId: {env: SHORT_ID}\n"
                                      "    clientSecret: {env: SHORT_SECRET}\n")
    config = load_config(write_config(tmp_path, acr_generator(), weak))
    report = run(config, services=fast_services()).to_dict()
    by_name = {g["name"]: g for g in report["generators"]}
    assert by_name["gen"]["status"] == "ok"
    assert by_name["weak"]["status"] == "failed"
    assert "env SHORT_SECRET" in by_name["weak"]["error"] and "shorter than 16 characters" in by_name["weak"]["error"]
    sent = [r for r in em.requests if r.endpoint == "entra.token"]
    assert len(sent) == 1 and sent[0].form.get("client_id") == SP_CLIENT  # only the good generator asked
    assert short not in everything(report, caplog)


def test_a_value_read_back_from_key_vault_is_not_treated_as_secret(
        em: Emulator, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Freshness comes from properties alone: one list per vault per run, never a value read, so a stored
    login server is not redacted from later log lines, and the job needs no right to read values."""
    vault = em.add_vault(VAULT, tenant=TENANT)
    vault.denied_actions[SP_CLIENT] = {"getSecret"}  # a role that may list and set, but never read a value
    kv = ("apiVersion: acr-refresh/v1alpha1\nkind: KeyVaultSecret\nmetadata: {name: NAME}\nspec:\n"
          f"  generatorRef: {{name: gen}}\n  vaultUrl: https://{VAULT}/\n  tenantId: {TENANT}\n"
          "  secretName: NAME\n  value: VALUE\n  auth:\n    servicePrincipal:\n      secretRef:\n"
          "        clientId: {env: SP_ID}\n        clientSecret: {env: SP_SECRET}\n")
    docs = [acr_generator(), kv.replace("NAME", "login-server").replace("VALUE", "'{{ .registry }}'"),
            kv.replace("NAME", "password").replace("VALUE", "'{{ .password }}'")]
    for i in range(30):  # unrelated secrets, so the listing takes two pages (Key Vault serves 25 per page)
        em.set_vault_secret(VAULT, f"other-{i:02d}", f"unrelated value {i:02d}")
    config = load_config(write_config(tmp_path, *docs))
    first = run(config, services=fast_services()).to_dict()
    assert [t["status"] for t in first["generators"][0]["targets"]] == ["written", "written"]
    em.reset_counts()
    caplog.clear()
    caplog.set_level(logging.INFO)
    second = run(config, services=fast_services()).to_dict()
    assert [t["status"] for t in second["generators"][0]["targets"]] == ["fresh", "fresh"]
    # Two pages, for two targets (the challenge was answered in the first run and is cached per host).
    assert em.counts["kv.secret.get"] == 0 and em.counts["kv.secret.list"] == 2
    logging.getLogger("acr_refresh.test").info("registry %s", REGISTRY)
    assert any(f"registry {REGISTRY}" in r.getMessage() for r in caplog.records)
    from acr_refresh import redact

    assert redact.scrub(f"login server {REGISTRY}") == f"login server {REGISTRY}"
    assert second["generators"][0]["status"] == "fresh"
