"""The forms a secret travels in, and scrub-before-truncate: nothing shows, whole or in part."""

from __future__ import annotations

import base64
import re
import secrets

import pytest

from acr_refresh import redact
from acr_refresh.acr import ACR_USERNAME
from acr_refresh.errors import truncate

TOKEN_BITS = re.compile(r"[A-Za-z0-9+/]+")


def _opaque() -> str:
    return "opaque-" + secrets.token_urlsafe(30)


def _jwt() -> str:
    def part(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    return ".".join([part(b'{"alg":"RS256","typ":"JWT"}'), part(b'{"sub":"' + secrets.token_hex(40).encode() + b'"}'),
                     part(secrets.token_bytes(64))])


@pytest.mark.parametrize("make", [_opaque, _jwt], ids=["opaque", "jwt"])
@pytest.mark.parametrize("before", [b"", b"a", b"ab", b"abc", b'{"auths":{"r":{"auth":"'])
@pytest.mark.parametrize("after", [b"", b"x", b"xy", b'"}}}'])
def test_no_character_that_carries_a_bit_of_the_token_survives_in_base64(make, before: bytes, after: bytes) -> None:
    token = make()
    redact.register(token)
    encoded = base64.b64encode(before + token.encode() + after).decode()
    text = f"server said: {encoded} (end)"
    out = redact.scrub(text)
    assert redact.REDACTED in out
    head, _, tail = out.partition(redact.REDACTED)
    kept_before = head[len("server said: "):]
    kept_after = tail[: -len(" (end)")]
    # Character i carries bits [6i, 6i + 6): none of them may overlap the token's bits.
    first_token_bit, end_token_bit = 8 * len(before), 8 * (len(before) + len(token.encode()))
    assert 6 * len(kept_before) <= first_token_bit
    assert 6 * (len(encoded) - len(kept_after.rstrip("="))) >= end_token_bit
    assert encoded.startswith(kept_before) and encoded.endswith(kept_after)


def test_dockerconfigjson_auth_is_registered_as_username_password() -> None:
    token = _opaque()
    redact.register(token)
    redact.register(f"{ACR_USERNAME}:{token}")
    auth = base64.b64encode(f"{ACR_USERNAME}:{token}".encode()).decode()
    assert redact.scrub(f'"auth":"{auth}"') == f'"auth":"{redact.REDACTED}"'


def test_a_whole_written_value_is_scrubbed_in_base64_but_stays_readable_in_plain() -> None:
    value = "myregistry.azurecr.io/team/app"  # written into a Secret, but not itself a secret
    redact.register_encoded(value)
    echoed = base64.b64encode(value.encode()).decode()
    assert redact.scrub(f"data: {echoed}") == f"data: {redact.REDACTED}"
    assert redact.scrub(f"registry {value}") == f"registry {value}"


def test_scrub_comes_before_truncation_so_no_prefix_of_a_jwt_is_left() -> None:
    jwt = _jwt()
    message = "x" * 110 + " " + jwt  # a cut at 200 characters keeps 89 characters of the token
    out = truncate(message)
    assert jwt[:20] not in out and redact.REDACTED in out


def test_a_jwt_cut_short_by_someone_else_is_still_caught() -> None:
    jwt = _jwt()
    header, payload, _ = jwt.split(".")
    assert redact.scrub(f"said {header}.{payload[:30]}") == f"said {redact.REDACTED}"


def test_clip_scrubs_registered_secrets_before_cutting_them_in_two() -> None:
    secret = _opaque()
    redact.register(secret)
    pad = "y" * (60 - len(secret) // 2)
    assert redact.clip(pad + secret, 60) == pad + redact.REDACTED  # cut first, half of it would be left
