"""Sprig's crypto, UUID and semver functions, on the cryptography and bcrypt libraries.

Keys and certificates come out as Go's encoders write them (PKCS#1 RSA, SEC 1 EC, PKCS#8 Ed25519, the
OpenSSL DSA form); ``genCA`` and friends return Sprig's certificate struct (``.Cert``, ``.Key``). Sprig's
soft failures (``htpasswd`` of a bad username, ``derivePassword`` of an unknown type) return its texts.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import ipaddress
import re
import secrets
import struct
import uuid
from typing import Any

from ..errors import FuncError
from ..values import to_bytes
from . import Func, Soft


class GoStruct(dict[str, Any]):
    """A Go struct value, read by field name (Sprig's certificate, semver's Version)."""

    go_type = "struct"
    go_kind = "struct"

    def __init__(self, go_type: str, fields: dict[str, Any], text: str | None = None) -> None:
        super().__init__(fields)
        self.go_type, self._text = go_type, text
        self.go_kind = "ptr" if go_type.startswith("*") else "struct"

    def go_string(self) -> str:
        return self._text if self._text is not None else "{" + " ".join(str(v) for v in self.values()) + "}"

    def __repr__(self) -> str:  # may hold a private key
        return f"GoStruct({self.go_type})"


def _bcrypt(s: str) -> str:
    import bcrypt

    return bcrypt.hashpw(to_bytes(s)[:72], bcrypt.gensalt(10, prefix=b"2a")).decode("ascii")


def htpasswd(user: str, password: str, algo: str) -> Any:
    if ":" in user:
        return Soft(f"invalid username: {user}", "username contains ':'")
    if algo == "sha":
        return f"{user}:{{SHA}}{base64.b64encode(hashlib.sha1(to_bytes(password)).digest()).decode()}"  # noqa: S324
    return f"{user}:{_bcrypt(password)}"


_TEMPLATES = {
    "maximum": ["anoxxxxxxxxxxxxxxxxx", "axxxxxxxxxxxxxxxxxno"],
    "long": ["CvcvnoCvcvCvcv", "CvcvCvcvnoCvcv", "CvcvCvcvCvcvno", "CvccnoCvcvCvcv", "CvccCvcvnoCvcv", "CvccCvcvCvcvno",
             "CvcvnoCvccCvcv", "CvcvCvccnoCvcv", "CvcvCvccCvcvno", "CvcvnoCvcvCvcc", "CvcvCvcvnoCvcc", "CvcvCvcvCvccno",
             "CvccnoCvccCvcv", "CvccCvccnoCvcv", "CvccCvccCvcvno", "CvcvnoCvccCvcc", "CvcvCvccnoCvcc", "CvcvCvccCvccno",
             "CvccnoCvcvCvcc", "CvccCvcvnoCvcc", "CvccCvcvCvccno"],
    "medium": ["CvcnoCvc", "CvcCvcno"], "short": ["Cvcn"], "basic": ["aaanaaan", "aannaaan", "aaannaaa"],
    "pin": ["nnnn"],
}
_CHARS = {"V": "AEIOU", "C": "BCDFGHJKLMNPQRSTVWXYZ", "v": "aeiou", "c": "bcdfghjklmnpqrstvwxyz",
          "A": "AEIOUBCDFGHJKLMNPQRSTVWXYZ", "a": "AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz",
          "n": "0123456789", "o": "@&%?,=[]_:-+*$#!'^~;()/.",
          "x": "AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz0123456789!@#$%^&*()"}


def derive_password(counter: int, kind: str, password: str, user: str, site: str) -> Any:
    """The Master Password algorithm (scrypt N=32768, r=8, p=2), as Sprig's derivePassword."""
    templates = _TEMPLATES.get(kind)
    if templates is None:
        return Soft(f"cannot find password template {kind}", "unknown password type")
    seed = b"com.lyndir.masterpassword"
    ub, sb = to_bytes(user), to_bytes(site)
    key = hashlib.scrypt(to_bytes(password), salt=seed + struct.pack(">I", len(ub)) + ub, n=32768, r=8, p=2,
                         maxmem=64 * 1024 * 1024, dklen=64)
    mac = hmac.new(key, seed + struct.pack(">I", len(sb)) + sb + struct.pack(">I", counter & 0xFFFFFFFF),
                   hashlib.sha256).digest()
    tpl = templates[mac[0] % len(templates)]
    return "".join(_CHARS[c][mac[i + 1] % len(_CHARS[c])] for i, c in enumerate(tpl))


def _pem_key(key: Any) -> str:
    from cryptography.hazmat.primitives import serialization as ser
    from cryptography.hazmat.primitives.asymmetric import ed25519

    fmt = ser.PrivateFormat.PKCS8 if isinstance(key, ed25519.Ed25519PrivateKey) else \
        ser.PrivateFormat.TraditionalOpenSSL
    return key.private_bytes(ser.Encoding.PEM, fmt, ser.NoEncryption()).decode("ascii")


def gen_private_key(kind: str) -> str:
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa

    if kind == "rsa":
        return _pem_key(rsa.generate_private_key(65537, 4096))
    if kind == "dsa":
        return _pem_key(dsa.generate_private_key(2048))
    if kind == "ecdsa":
        return _pem_key(ec.generate_private_key(ec.SECP256R1()))
    if kind == "ed25519":
        return _pem_key(ed25519.Ed25519PrivateKey.generate())
    return f"Unknown type {kind}"


def _parse_key(pem: str) -> Any:
    from cryptography.hazmat.primitives import serialization as ser

    if "-----BEGIN" not in pem:
        raise FuncError("no PEM data found")
    try:
        return ser.load_pem_private_key(to_bytes(pem), password=None)
    except (ValueError, TypeError):
        raise FuncError("invalid private key") from None


def _strs(v: Any, what: str) -> list[str]:
    if v is None:
        return []
    if not isinstance(v, list | tuple):
        raise FuncError(f"wrong type for value; expected []interface {{}}; got {what}")
    for x in v:
        if not isinstance(x, str):
            raise FuncError(f"error parsing {what}: value is not a string")
    return list(v)


def _cert(cn: str, ips: Any, dns: Any, days: int, key: Any, ca: GoStruct | None, is_ca: bool) -> GoStruct:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ed25519
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    try:
        ip_list = [ipaddress.ip_address(i) for i in _strs(ips, "ip")]
    except ValueError:
        raise FuncError("error parsing ip") from None
    names = _strs(dns, "alternate dns name")
    now = dt.datetime.now(dt.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]) if cn else x509.Name([])
    if ca is not None:
        ca_cert = x509.load_pem_x509_certificate(to_bytes(ca["Cert"]))
        issuer, signer = ca_cert.subject, _parse_key(ca["Key"])
    else:
        issuer, signer = subject, key
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
         .serial_number(secrets.randbits(127) + 1).not_valid_before(now)
         .not_valid_after(now + dt.timedelta(days=days)))
    usage = dict(digital_signature=True, content_commitment=False, key_encipherment=True, data_encipherment=False,
                 key_agreement=False, key_cert_sign=is_ca, crl_sign=False, encipher_only=False, decipher_only=False)
    b = b.add_extension(x509.KeyUsage(**usage), critical=True)
    if not is_ca:
        b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                            critical=False)
    b = b.add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in names] + [x509.IPAddress(i) for i in ip_list]
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    algo = None if isinstance(signer, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    cert = b.sign(signer, algo)
    from cryptography.hazmat.primitives.serialization import Encoding

    return GoStruct("sprig.certificate", {"Cert": cert.public_bytes(Encoding.PEM).decode(), "Key": _pem_key(key)})


def _rsa2048() -> Any:
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(65537, 2048)


def _ca_arg(v: Any) -> GoStruct:
    if not isinstance(v, GoStruct) or "Cert" not in v:
        raise FuncError("wrong type for value; expected sprig.certificate")
    return v


def build_custom_cert(b64cert: str, b64key: str) -> GoStruct:
    from cryptography import x509

    try:
        cert = base64.b64decode(b64cert, validate=True)
    except ValueError:
        raise FuncError("unable to decode base64 certificate") from None
    try:
        key = base64.b64decode(b64key, validate=True)
    except ValueError:
        raise FuncError("unable to decode base64 private key") from None
    try:
        x509.load_pem_x509_certificate(cert)
    except ValueError:
        raise FuncError("unable to decode certificate") from None
    _parse_key(key.decode("utf-8", "surrogateescape"))
    return GoStruct("sprig.certificate", {"Cert": cert.decode("utf-8", "surrogateescape"),
                                          "Key": key.decode("utf-8", "surrogateescape")})


def _aes_key(password: str) -> bytes:
    return (to_bytes(password) + bytes(32))[:32]


def encrypt_aes(password: str, plain: str) -> str:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    if plain == "":
        return ""
    data = to_bytes(plain)
    pad = 16 - len(data) % 16
    iv = secrets.token_bytes(16)
    enc = Cipher(algorithms.AES(_aes_key(password)), modes.CBC(iv)).encryptor()
    return base64.b64encode(iv + enc.update(data + bytes([pad]) * pad) + enc.finalize()).decode("ascii")


def decrypt_aes(password: str, crypt64: str) -> str:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    if crypt64 == "":
        return ""
    try:
        raw = base64.b64decode(crypt64, validate=True)
    except ValueError:
        raise FuncError("illegal base64 data") from None
    if len(raw) < 16 or len(raw) % 16:
        raise FuncError("crypto/cipher: input not full blocks")
    dec = Cipher(algorithms.AES(_aes_key(password)), modes.CBC(raw[:16])).decryptor()
    out = dec.update(raw[16:]) + dec.finalize()
    if not out or out[-1] > len(out):
        raise FuncError("runtime error: slice bounds out of range")
    return out[:len(out) - out[-1]].decode("utf-8", "surrogateescape")


# ------------------------------------------------------------------------------------------- semver

_SEMVER = re.compile(r"v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?"
                     r"(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?")


def parse_version(s: str) -> GoStruct:
    m = _SEMVER.fullmatch(s)
    if not m:
        raise FuncError("Invalid Semantic Version")
    major, minor, patch = int(m.group(1)), int((m.group(2) or ".0")[1:]), int((m.group(3) or ".0")[1:])
    pre, meta = m.group(5) or "", m.group(8) or ""
    text = f"{major}.{minor}.{patch}" + (f"-{pre}" if pre else "") + (f"+{meta}" if meta else "")
    return GoStruct("*semver.Version", {"Major": major, "Minor": minor, "Patch": patch, "Prerelease": pre,
                                        "Metadata": meta, "Original": s}, text)


def _pre_key(pre: str) -> tuple[Any, ...]:
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))


def compare(a: GoStruct, b: GoStruct) -> int:
    x, y = (a["Major"], a["Minor"], a["Patch"]), (b["Major"], b["Minor"], b["Patch"])
    if x != y:
        return -1 if x < y else 1
    pa, pb = a["Prerelease"], b["Prerelease"]
    if pa == pb:
        return 0
    if not pa or not pb:
        return 1 if not pa else -1
    return -1 if _pre_key(pa) < _pre_key(pb) else 1


def _check_one(op: str, ver: str, v: GoStruct) -> bool:
    parts = re.split(r"\.", re.sub(r"^v", "", ver.split("-")[0].split("+")[0]))
    wild = [p.lower() in ("x", "*") for p in parts] + [True] * (3 - len(parts))
    nums = [0 if w or i >= len(parts) else int(parts[i]) for i, w in enumerate(wild[:3])]
    pre = ver.split("-", 1)[1].split("+")[0] if "-" in ver else ""
    c = GoStruct("*semver.Version", {"Major": nums[0], "Minor": nums[1], "Patch": nums[2], "Prerelease": pre})
    if v["Prerelease"] and not pre:
        return False  # Masterminds: prereleases only match constraints that name one
    cmp = compare(v, c)
    first_wild = next((i for i, w in enumerate(wild[:3]) if w), 3)
    if op in ("", "=") and first_wild < 3:
        return all(v[k] == nums[i] for i, k in enumerate(("Major", "Minor", "Patch")[:first_wild]))
    if op == "!=" and first_wild < 3:
        return not all(v[k] == nums[i] for i, k in enumerate(("Major", "Minor", "Patch")[:first_wild]))
    if op in ("", "="):
        return cmp == 0
    if op == "!=":
        return cmp != 0
    if op == ">":
        if first_wild < 3:
            return v[("Major", "Minor", "Patch")[first_wild - 1]] > nums[first_wild - 1] if first_wild else False
        return cmp > 0
    if op == "<":
        return cmp < 0
    if op in (">=", "=>"):
        return cmp >= 0
    if op in ("<=", "=<"):
        if first_wild < 3 and first_wild > 0:
            k = ("Major", "Minor", "Patch")[first_wild - 1]
            return (all(v[kk] == nums[i] for i, kk in enumerate(("Major", "Minor", "Patch")[:first_wild - 1])) and \
                v[k] <= nums[first_wild - 1]) or compare(v, c) < 0
        return cmp <= 0
    if op in ("~", "~>"):
        if cmp < 0:
            return False
        if v["Major"] != nums[0]:
            return False
        return first_wild == 1 or v["Minor"] == nums[1]
    if op == "^":
        if cmp < 0:
            return False
        if nums[0] > 0 or first_wild <= 1:
            return v["Major"] == nums[0]
        if nums[1] > 0 or first_wild == 2:
            return v["Major"] == 0 and v["Minor"] == nums[1]
        return v["Major"] == 0 and v["Minor"] == 0 and v["Patch"] == nums[2]
    raise FuncError("improper constraint: " + op + ver)


_OPS = r"(=>|=<|>=|<=|!=|~>|[=<>~^]?)"
_VER = r"\s*(v?[0-9xX*]+(?:\.[0-9xX*]+)*(?:[-+][0-9A-Za-z.\-+]*)?)"


def semver_compare(constraint: str, version: str) -> bool:
    v = parse_version(version)
    for alt in constraint.split("||"):
        alt = alt.strip()
        hy = re.fullmatch(r"(\S+)\s+-\s+(\S+)", alt)
        terms = [(">=", hy.group(1)), ("<=", hy.group(2))] if hy else [
            (m.group(1), m.group(2)) for m in re.finditer(_OPS + _VER, alt)]
        if not terms:
            raise FuncError("improper constraint: " + alt)
        if all(_check_one(op, ver, v) for op, ver in terms):
            return True
    return False


def rand_bytes(n: int) -> str:
    if n < 0:
        raise FuncError("makeslice: len out of range")
    if n > 1024 * 1024:
        raise FuncError("count too large")
    return base64.b64encode(secrets.token_bytes(n)).decode("ascii")


FUNCS: dict[str, Func] = {
    "bcrypt": Func("s", lambda a: _bcrypt(a[0])),
    "htpasswd": Func("sss", lambda a: htpasswd(a[0], a[1], a[2])),
    "genPrivateKey": Func("s", lambda a: gen_private_key(a[0])),
    "derivePassword": Func("issss", lambda a: derive_password(a[0], a[1], a[2], a[3], a[4])),
    "buildCustomCert": Func("ss", lambda a: build_custom_cert(a[0], a[1])),
    "genCA": Func("si", lambda a: _cert(a[0], None, None, a[1], _rsa2048(), None, True)),
    "genCAWithKey": Func("sis", lambda a: _cert(a[0], None, None, a[1], _parse_key(a[2]), None, True)),
    "genSelfSignedCert": Func("slli", lambda a: _cert(a[0], a[1], a[2], a[3], _rsa2048(), None, False)),
    "genSelfSignedCertWithKey": Func("sllis", lambda a: _cert(a[0], a[1], a[2], a[3], _parse_key(a[4]), None,
                                                              False)),
    "genSignedCert": Func("sllia", lambda a: _cert(a[0], a[1], a[2], a[3], _rsa2048(), _ca_arg(a[4]), False)),
    "genSignedCertWithKey": Func("slliaS".replace("S", "s"), lambda a: _cert(a[0], a[1], a[2], a[3],
                                                                            _parse_key(a[5]), _ca_arg(a[4]), False)),
    "encryptAES": Func("ss", lambda a: encrypt_aes(a[0], a[1])),
    "decryptAES": Func("ss", lambda a: decrypt_aes(a[0], a[1])),
    "randBytes": Func("i", lambda a: rand_bytes(a[0])),
    "uuidv4": Func("", lambda a: str(uuid.uuid4())),
    "semver": Func("s", lambda a: parse_version(a[0])),
    "semverCompare": Func("ss", lambda a: semver_compare(a[0], a[1])),
}
