"""Minimal JWT (JWS compact, HS256) encoding and checking for the emulator's own tokens.

Each emulated issuer (Entra ID, the registry token service, the Kubernetes API server) signs with its
own random key, so a token can only be accepted by the service that is meant to accept it: an ACR
refresh token presented as an Entra ID access token fails the signature check, as it would in Azure.
Real services sign with RS256 and publish keys; HS256 is enough here because only the emulator checks
signatures, the code under test only reads the (unverified) claims.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from typing import Any


class JWTError(ValueError):
    """The string is not a JWT, or its signature does not match the key."""


def b64url_encode(data: bytes) -> str:
    """URL-safe base64 without padding, as JWS uses it."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Inverse of :func:`b64url_encode`; raises :class:`JWTError` on malformed input."""
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise JWTError("bad base64url segment") from exc


def new_key() -> bytes:
    """A fresh 256-bit HMAC key."""
    return secrets.token_bytes(32)


def encode(claims: dict[str, Any], key: bytes, *, kid: str | None = None, typ: str = "JWT") -> str:
    """Sign ``claims`` with HS256 under ``key``; returns ``header.payload.signature``."""
    header: dict[str, Any] = {"alg": "HS256", "typ": typ}
    if kid:
        header["kid"] = kid
    signing_input = (
        b64url_encode(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + b64url_encode(json.dumps(claims, separators=(",", ":")).encode())
    )
    signature = hmac.new(key, signing_input.encode("ascii"), hashlib.sha256).digest()
    return signing_input + "." + b64url_encode(signature)


def unverified_claims(token: str) -> dict[str, Any]:
    """The payload of a JWS compact token without checking its signature.

    Raises :class:`JWTError` when ``token`` is not three base64url segments with a JSON object payload.
    """
    parts = token.split(".")
    if len(parts) != 3 or not all(parts[:2]):
        raise JWTError("not a JWT (expected header.payload.signature)")
    try:
        header = json.loads(b64url_decode(parts[0]))
        claims = json.loads(b64url_decode(parts[1]))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise JWTError("JWT segment is not JSON") from exc
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise JWTError("JWT header or payload is not a JSON object")
    return claims


def decode(token: str, key: bytes) -> dict[str, Any]:
    """Claims of ``token`` after checking its HS256 signature against ``key``.

    Time claims (``exp``/``nbf``) are NOT checked here: callers compare them with the emulator's clock.
    Raises :class:`JWTError` when the token is malformed, not HS256, or signed with another key.
    """
    claims = unverified_claims(token)
    header_b64, payload_b64, sig_b64 = token.split(".")
    header = json.loads(b64url_decode(header_b64))
    if header.get("alg") != "HS256":
        raise JWTError("unexpected JWT algorithm")
    expected = hmac.new(key, f"{header_b64}.{payload_b64}".encode("ascii"), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, b64url_decode(sig_b64)):
        raise JWTError("JWT signature does not match")
    return claims


def audiences(claims: dict[str, Any]) -> list[str]:
    """The ``aud`` claim as a list (JWT allows a single string or an array)."""
    aud = claims.get("aud")
    if isinstance(aud, str):
        return [aud]
    if isinstance(aud, list):
        return [a for a in aud if isinstance(a, str)]
    return []


def decode_rs256(token: str, jwks: dict[str, Any]) -> dict[str, Any]:
    """Claims of ``token`` after checking its RS256 signature against a JWKS document (``{"keys": [...]}``),
    as Entra checks a federated assertion against the issuer's published keys. The key is chosen by ``kid``
    (any RSA key when the token has none). Time claims are not checked here. Raises :class:`JWTError`."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    claims = unverified_claims(token)
    header_b64, payload_b64, sig_b64 = token.split(".")
    header = json.loads(b64url_decode(header_b64))
    if header.get("alg") != "RS256":
        raise JWTError("unexpected JWT algorithm")
    keys = [k for k in (jwks.get("keys") or []) if isinstance(k, dict) and k.get("kty") == "RSA"]
    kid = header.get("kid")
    candidates = [k for k in keys if kid is None or k.get("kid") == kid]
    if not candidates:
        raise JWTError("no published key matches the token's kid")
    signed = f"{header_b64}.{payload_b64}".encode("ascii")
    signature = b64url_decode(sig_b64)
    for jwk in candidates:
        try:
            numbers = rsa.RSAPublicNumbers(int.from_bytes(b64url_decode(jwk["e"]), "big"),
                                           int.from_bytes(b64url_decode(jwk["n"]), "big"))
            numbers.public_key().verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
            return claims
        except (InvalidSignature, KeyError, ValueError, TypeError):
            continue
    raise JWTError("JWT signature does not match any published key")
