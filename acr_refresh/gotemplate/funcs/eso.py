"""ESO's own template functions (runtime/template/v2 of ESO v2.9.0): PKCS#12, PEM, JWK, YAML and RSA.

Built on cryptography and PyYAML. Output is what ESO's Go writes: PEM blocks with 64-column base64, private
keys as PKCS#8 ``PRIVATE KEY``, PKCS#12 as base64 (go-pkcs12's Modern profile: AES-256-CBC, SHA-256 MAC).
``toYaml`` is sigs.k8s.io/yaml's Marshal: encoding/json, read back by yaml.v2 (integers that fit 64 bits stay
integers), then yaml.v2's Marshal with its key order, quoting and line folding (checked against the Go oracle on
tests/gotemplate/yaml_corpus.json); ``fromYaml`` is its Unmarshal into a map (numbers become float64; on error the
map holds ``Error``, a soft failure).
"""

from __future__ import annotations

import base64
import json
import math
import re
from typing import Any

from ..errors import FuncError
from ..values import StrList, from_bytes, to_bytes
from . import Func, Soft
from .sprig_encoding import from_json, to_json

_PEM = re.compile(rb"-----BEGIN ([^\n-]*)-----\r?\n(.*?)-----END \1-----[ \t]*\r?\n?", re.S)


def pem_blocks(data: bytes) -> tuple[list[tuple[str, bytes]], bytes]:
    """encoding/pem.Decode repeatedly: (type, DER) of each block, and the rest after the last one."""
    out: list[tuple[str, bytes]] = []
    rest = data
    while True:
        m = _PEM.search(rest)
        if not m:
            return out, rest
        body = re.sub(rb"^[A-Za-z0-9-]+:.*\n", b"", m.group(2), flags=re.M)  # headers
        try:
            der = base64.b64decode(b"".join(body.split()), validate=True)
        except ValueError:
            rest = rest[m.end():]
            continue
        out.append((m.group(1).decode("ascii", "replace"), der))
        rest = rest[m.end():]


def pem_encode(kind: str, der: bytes) -> str:
    b64 = base64.b64encode(der).decode("ascii")
    return f"-----BEGIN {kind}-----\n" + "".join(b64[i:i + 64] + "\n" for i in range(0, len(b64), 64)) + \
        f"-----END {kind}-----\n"


def _trim_junk(s: str) -> str:
    i = s.find("-----BEGIN")
    return s if i < 0 else s[i:]


def filter_pem(kind: str, data: str) -> str:
    blocks, rest = pem_blocks(to_bytes(_trim_junk(data)))
    chosen = [pem_encode(t, der) for t, der in blocks if t.lower() == kind.lower()]
    if not chosen and rest:
        raise FuncError("error filtering pem: found junk")
    return "".join(chosen)


def _load_cert(der: bytes) -> Any:
    from cryptography import x509

    try:
        return x509.load_der_x509_certificate(der)
    except ValueError:
        raise FuncError("x509: malformed certificate") from None


def _key_ids(cert: Any) -> tuple[bytes | None, bytes | None]:
    from cryptography import x509

    try:
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    except x509.ExtensionNotFound:
        aki = None
    try:
        ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        ski = None
    return aki, ski


def cert_chain(data: bytes) -> list[Any]:
    """ESO's fetchX509CertChains: order the certificates leaf first, by authority/subject key ids."""
    certs = [_load_cert(der) for _, der in pem_blocks(data)[0]]
    ids = [_key_ids(c) for c in certs]
    parent: dict[int, int] = {}
    is_parent = set()
    for i in range(len(certs)):
        for j in range(len(certs)):
            if i != j and ids[i][0] == ids[j][1]:
                is_parent.add(j)
                parent[i] = j
                break
    leaves = [i for i in range(len(certs)) if i not in is_parent]
    if len(leaves) > 1:
        raise FuncError("found multiple leaf or disjunct certificates")
    if not leaves:
        raise FuncError("no leaf certificate found")
    chain: list[Any] = []
    node: int | None = leaves[0]
    while node is not None:
        if len(chain) >= len(certs):
            raise FuncError("constructing chain resulted in cycle")
        chain.append(certs[node])
        node = parent.get(node)
    return chain


def _der(cert: Any) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding

    return bytes(cert.public_bytes(Encoding.DER))


def _is_root(cert: Any) -> bool:
    aki, ski = _key_ids(cert)
    return aki is None or aki == ski


def filter_cert_chain(kind: str, data: str) -> str:
    chain = cert_chain(to_bytes(data))
    if kind == "leaf":
        aki, ski = _key_ids(chain[0])
        return pem_encode("CERTIFICATE", _der(chain[0])) if aki is not None and aki != ski else ""
    if kind == "intermediate":
        out = []
        for c in chain[1:]:
            if _is_root(c):
                break
            out.append(pem_encode("CERTIFICATE", _der(c)))
        return "".join(out)
    if kind == "root":
        return pem_encode("CERTIFICATE", _der(chain[-1])) if _is_root(chain[-1]) else ""
    return ""


def cert_sans(data: str) -> StrList:
    from cryptography import x509

    blocks, _ = pem_blocks(to_bytes(_trim_junk(data)))
    if not blocks:
        raise FuncError("failed to decode PEM block")
    try:
        cert = x509.load_der_x509_certificate(blocks[0][1])
    except ValueError:
        raise FuncError("failed to parse certificate") from None
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return StrList()
    out = StrList(san.get_values_for_type(x509.DNSName))
    out.extend(str(ip) for ip in san.get_values_for_type(x509.IPAddress))
    out.extend(san.get_values_for_type(x509.RFC822Name))
    out.extend(san.get_values_for_type(x509.UniformResourceIdentifier))
    return out


def _pkcs8(key: Any) -> str:
    from cryptography.hazmat.primitives import serialization as ser

    return str(key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption()).decode("ascii"))


def _load_p12(data: str, password: str, what: str) -> Any:
    from cryptography.hazmat.primitives.serialization import pkcs12

    try:
        return pkcs12.load_key_and_certificates(to_bytes(data), to_bytes(password))
    except ValueError:
        raise FuncError(f"unable to decode pkcs12{what} with password: pkcs12: decryption password incorrect "
                        "or data malformed") from None


def pkcs12_key(password: str, data: str) -> str:
    key, _, _ = _load_p12(data, password, "")
    if key is None:
        raise FuncError("unable to decode pkcs12 with password: pkcs12: private key missing")
    return _pkcs8(key)


def pkcs12_cert(password: str, data: str) -> str:
    _, cert, cas = _load_p12(data, password, " certificate")
    if cert is None:
        raise FuncError("unable to decode pkcs12 certificate with password: pkcs12: certificate missing")
    pem = "".join(pem_encode("CERTIFICATE", _der(c)) for c in [cert, *cas])
    try:
        return "".join(pem_encode("CERTIFICATE", _der(c)) for c in cert_chain(to_bytes(pem)))
    except FuncError:
        return pem


def _parse_private_key(der: bytes) -> Any:
    from cryptography.hazmat.primitives import serialization as ser

    try:
        return ser.load_der_private_key(der, password=None)
    except (ValueError, TypeError):
        raise FuncError("unable to parse private key type") from None


def _first_cert(pem: str) -> Any:
    blocks, rest = pem_blocks(to_bytes(pem))
    if not blocks:
        raise FuncError("runtime error: invalid memory address or nil pointer dereference")
    return _load_cert(blocks[0][1]), rest


def _to_p12(cert: Any, key_pem: str, cas: list[Any], password: str) -> str:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.serialization import PrivateFormat, pkcs12

    blocks, _ = pem_blocks(to_bytes(key_pem))
    if not blocks:
        raise FuncError("runtime error: invalid memory address or nil pointer dereference")
    key = _parse_private_key(blocks[0][1])
    enc = (PrivateFormat.PKCS12.encryption_builder().kdf_rounds(2048)
           .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC).hmac_hash(hashes.SHA256())
           .build(to_bytes(password)))
    return base64.b64encode(pkcs12.serialize_key_and_certificates(None, key, cert, cas or None, enc)).decode("ascii")


def _ca_certs(data: bytes) -> list[Any]:
    blocks, rest = pem_blocks(data)
    if rest.strip():
        raise FuncError("runtime error: invalid memory address or nil pointer dereference")
    return [_load_cert(der) for _, der in blocks]


def pem_to_p12(cert: str, key: str, password: str, full: bool) -> str:
    c, rest = _first_cert(cert)
    return _to_p12(c, key, _ca_certs(rest) if full else [], password)


def truststore_p12(cert: str, password: str) -> str:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.serialization import PrivateFormat, pkcs12

    cas = _ca_certs(to_bytes(cert))
    enc = (PrivateFormat.PKCS12.encryption_builder().kdf_rounds(2048)
           .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC).hmac_hash(hashes.SHA256())
           .build(to_bytes(password)))
    return base64.b64encode(pkcs12.serialize_java_truststore(
        [pkcs12.PKCS12Certificate(c, None) for c in cas], enc)).decode("ascii")


def _b64url(s: Any) -> int:
    if not isinstance(s, str):
        raise FuncError("failed to parse key: required field missing")
    raw = base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
    return int.from_bytes(raw, "big")


def _jwk(text: str, private: bool) -> Any:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    try:
        k = json.loads(text)
    except json.JSONDecodeError:
        raise FuncError("failed to parse key: invalid JSON") from None
    if not isinstance(k, dict):
        raise FuncError("failed to parse key: not a JSON object")
    kty = k.get("kty")
    try:
        if kty == "RSA":
            pub = rsa.RSAPublicNumbers(_b64url(k.get("e")), _b64url(k.get("n")))
            if not private or "d" not in k:
                return pub.public_key()
            p, q, d = _b64url(k.get("p")), _b64url(k.get("q")), _b64url(k.get("d"))
            return rsa.RSAPrivateNumbers(p, q, d, rsa.rsa_crt_dmp1(d, p), rsa.rsa_crt_dmq1(d, q),
                                         rsa.rsa_crt_iqmp(p, q), pub).private_key()
        if kty == "EC":
            curve = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1(), "P-521": ec.SECP521R1()}.get(str(k.get("crv")))
            if curve is None:
                raise FuncError("failed to parse key: unsupported curve")
            epub = ec.EllipticCurvePublicNumbers(_b64url(k.get("x")), _b64url(k.get("y")), curve)
            if not private or "d" not in k:
                return epub.public_key()
            return ec.EllipticCurvePrivateNumbers(_b64url(k.get("d")), epub).private_key()
        if kty == "OKP" and k.get("crv") == "Ed25519":
            if private and "d" in k:
                return ed25519.Ed25519PrivateKey.from_private_bytes(_b64url(k["d"]).to_bytes(32, "big"))
            return ed25519.Ed25519PublicKey.from_public_bytes(_b64url(k.get("x")).to_bytes(32, "big"))
    except (ValueError, TypeError):
        raise FuncError("failed to parse key: invalid key material") from None
    raise FuncError("failed to parse key: unsupported kty")


def jwk_public(text: str) -> str:
    from cryptography.hazmat.primitives import serialization as ser

    key = _jwk(text, False)
    key = key.public_key() if hasattr(key, "private_bytes") else key
    return str(key.public_bytes(ser.Encoding.PEM, ser.PublicFormat.SubjectPublicKeyInfo).decode("ascii"))


def jwk_private(text: str) -> str:
    key = _jwk(text, True)
    if not hasattr(key, "private_bytes"):
        raise FuncError("x509: unknown key type while marshaling PKCS#8")
    return _pkcs8(key)


def rsa_decrypt(scheme: str, hash_name: str, data: str, key_pem: str) -> str:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    if scheme == "None":
        return data
    if scheme != "RSA-OAEP":
        raise FuncError(f"decryption scheme {scheme} is not supported")
    blocks, _ = pem_blocks(to_bytes(key_pem))
    if not blocks:
        raise FuncError("failed to decode PEM block")
    key = _parse_private_key(blocks[0][1])
    if not isinstance(key, rsa.RSAPrivateKey):
        raise FuncError("could not parse RSA private key")
    algos = {"SHA1": hashes.SHA1(), "SHA512": hashes.SHA512()}  # noqa: S303 - ESO's OAEP scheme names SHA1
    algo = algos.get(hash_name, hashes.SHA256())
    try:
        out = key.decrypt(to_bytes(data), padding.OAEP(padding.MGF1(algo), algo, None))
    except ValueError:
        raise FuncError("error decrypting data with RSA: crypto/rsa: decryption error") from None
    return from_bytes(out)


# ------------------------------------------------------------------------------------------------ YAML


def _yaml_loader() -> Any:
    import yaml

    class Loader(yaml.SafeLoader):
        bool_values = {**yaml.SafeLoader.bool_values, "y": True, "n": False}  # YAML 1.1 as yaml.v2 reads it

    # yaml.v2 into interface{} keeps timestamps as strings
    Loader.yaml_implicit_resolvers = {k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
                                      for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
    for first in "yYnN":
        Loader.yaml_implicit_resolvers[first] = [("tag:yaml.org,2002:bool", re.compile(r"^(?:y|Y|n|N)$")),
                                                 *Loader.yaml_implicit_resolvers.get(first, [])]
    return Loader


def yaml_v2_loader() -> Any:
    """A PyYAML loader reading YAML as yaml.v2 does (YAML 1.1 booleans, timestamps kept as strings)."""
    return _yaml_loader()


# yaml.v2's implicit types (resolve.go): what a plain scalar would read back as, so Marshal quotes it
_V2_SPECIAL = frozenset("y Y yes Yes YES true True TRUE on On ON n N no No NO false False FALSE off Off OFF "
                        "~ null Null NULL .nan .NaN .NAN .inf .Inf .INF +.inf +.Inf +.INF -.inf -.Inf -.INF"
                        .split()) | {""}
_V2_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_V2_BASE60 = re.compile(r"[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?")
_V2_TIME = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})"
                      r"(?:(?:[Tt](\d{1,2}):(\d{1,2}):(\d{1,2})(?:[.,]\d+)?(?:Z|[-+]\d\d:\d\d))"
                      r"|(?: (\d{1,2}):(\d{1,2}):(\d{1,2})(?:[.,]\d+)?))?")


def _go_parse_int(s: str, signed: bool) -> bool:
    """strconv.ParseInt(s, 0, 64) (or ParseUint) succeeds."""
    neg = False
    if signed and s[:1] in ("+", "-"):
        neg, s = s[0] == "-", s[1:]
    base = 10
    if s[:1] == "0":
        base, s = (8, s[1:]) if len(s) < 3 or s[1] not in "xXoObB" else ({"x": 16, "o": 8, "b": 2}[s[1].lower()], s[2:])
        if base == 8 and s == "" :
            return True
    if not s:
        return False
    try:
        n = int(s, base)
    except ValueError:
        return False
    if not s.isalnum():  # int() accepts signs and spaces that Go does not
        return False
    limit = 2 ** 63 if signed else 2 ** 64
    return n <= limit if neg else n < limit


def _v2_is_str(s: str) -> bool:
    """yaml.v2's resolve("", s) gives !!str, and s is no base-60 float: Marshal may write it plain."""
    if s in _V2_SPECIAL:
        return False
    c = s[0]
    if c == ".":
        return not (_V2_FLOAT.fullmatch(s) and math.isfinite(float(s)))
    if c in "+-" or (c.isdigit() and c.isascii()):
        m = _V2_TIME.fullmatch(s)
        if m and _valid_time(m):
            return False
        plain = s.replace("_", "")
        if _go_parse_int(plain, True) or _go_parse_int(plain, False):
            return False
        if _V2_FLOAT.fullmatch(plain) and math.isfinite(float(plain)):
            return False
        if (plain.startswith("0b") and _go_parse_int(plain, False)) or (plain.startswith("-0b") and \
                _go_parse_int("-0b" + plain[3:], True)):
            return False
        return not _V2_BASE60.fullmatch(s)
    return True


def _valid_time(m: re.Match[str]) -> bool:
    import datetime

    try:
        datetime.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return False
    hms = [int(x) for x in (m.group(4, 5, 6) if m.group(4) else m.group(7, 8, 9)) if x is not None]
    return not hms or (hms[0] < 24 and hms[1] < 60 and hms[2] < 60)


def _v2_key_cmp(a: str, b: str) -> int:
    """yaml.v2's keyList.Less for string keys (sorter.go): letters by code point, digit runs by value."""
    def less(x: str, y: str) -> bool:
        for i in range(min(len(x), len(y))):
            if x[i] == y[i]:
                continue
            xl, yl = x[i].isalpha(), y[i].isalpha()
            if xl and yl:
                return x[i] < y[i]
            if xl or yl:
                return yl
            xn = yn = 0
            if x[i] == "0" or y[i] == "0":
                j = i - 1
                while j >= 0 and x[j].isdigit():
                    if x[j] != "0":
                        xn = yn = 1
                        break
                    j -= 1
            xi = i
            while xi < len(x) and x[xi].isdigit():
                xn = _wrap64(xn * 10 + ord(x[xi]) - 48)
                xi += 1
            yi = i
            while yi < len(y) and y[yi].isdigit():
                yn = _wrap64(yn * 10 + ord(y[yi]) - 48)
                yi += 1
            if xn != yn:
                return xn < yn
            if xi != yi:
                return xi < yi
            return x[i] < y[i]
        return len(x) < len(y)
    return -1 if less(a, b) else 1 if less(b, a) else 0


def _wrap64(n: int) -> int:
    return (n + 2 ** 63) % 2 ** 64 - 2 ** 63


class _V2Float(float):
    """A float64 that yaml.v2 decoded from JSON (integral JSON numbers within 64 bits stay integers)."""


def _v2_number(text: str) -> Any:
    if not any(c in text for c in ".eE"):
        n = int(text)
        if -2 ** 63 <= n < 2 ** 64:
            return n
    return _V2Float(text)


def _v2_astral(s: str) -> bool:
    """Characters yaml.v2's emitter finds unprintable though PyYAML prints them: only double quotes hold them."""
    return any(c == "\x85" or c == "\ufeff" or c >= "\U00010000" for c in s)


def _yaml_node(v: Any) -> Any:
    import yaml
    from yaml.nodes import MappingNode, ScalarNode, SequenceNode

    from ..values import go_float

    str_tag = "tag:yaml.org,2002:str"
    if isinstance(v, dict):
        import functools

        keys = sorted(v, key=functools.cmp_to_key(_v2_key_cmp))
        return MappingNode("tag:yaml.org,2002:map", [(_yaml_node(k), _yaml_node(v[k])) for k in keys],
                           flow_style=False)
    if isinstance(v, list):
        return SequenceNode("tag:yaml.org,2002:seq", [_yaml_node(x) for x in v], flow_style=False)
    if v is None or isinstance(v, bool):
        return ScalarNode(str_tag, "null" if v is None else "true" if v else "false")
    if isinstance(v, _V2Float):
        return ScalarNode(str_tag, go_float(v))
    if isinstance(v, int):
        return ScalarNode(str_tag, str(v))
    assert isinstance(v, str), yaml  # JSON gives nothing else
    style = "|" if "\n" in v else None if _v2_is_str(v) and not _v2_astral(v) else '"'
    return ScalarNode(str_tag, v, style=style)


def _v2_printable(c: str) -> bool:
    return c == "\n" or " " <= c <= "~" or "\xa0" <= c <= "\ud7ff" or ("\ue000" <= c <= "\ufffd" and c != "\ufeff")


_BREAKS = "\r\n\x85\u2028\u2029"
_ESC = {"\0": "0", "\a": "a", "\b": "b", "\t": "t", "\n": "n", "\v": "v", "\f": "f", "\r": "r", "\x1b": "e",
        '"': '"', "\\": "\\", "\x85": "N", "\xa0": "_", "\u2028": "L", "\u2029": "P"}


def _yaml_emitter() -> Any:
    """PyYAML's emitter (a port of libyaml's, as yaml.v2's is) with yaml.v2's quoting and line breaking."""
    import yaml

    class Emitter(yaml.emitter.Emitter):
        def analyze_scalar(self, scalar: str) -> Any:
            a = super().analyze_scalar(scalar)
            if _v2_astral(scalar):
                a.allow_flow_plain = a.allow_block_plain = a.allow_single_quoted = a.allow_block = False
            return a

        def check_simple_key(self) -> bool:
            ev = self.event
            if isinstance(ev, yaml.ScalarEvent) and ev.value == "":
                return True  # libyaml: an empty scalar is a simple key ("": v)
            return bool(super().check_simple_key())

        def _put(self, text: str) -> None:
            self.column += len(text)
            self.stream.write(text)

        def write_double_quoted(self, text: str, split: bool = True) -> None:
            self.write_indicator('"', True)
            spaces = False
            for i, ch in enumerate(text):
                if not _v2_printable(ch) or ch in _BREAKS or ch in '"\\':
                    code = ord(ch)
                    esc = _ESC.get(ch) or (f"x{code:02X}" if code <= 0xFF else f"u{code:04X}" if code <= 0xFFFF
                                           else f"U{code:08X}")
                    self._put("\\" + esc)
                    spaces = False
                elif ch == " ":
                    if split and not spaces and self.column > self.best_width and 0 < i < len(text) - 1:
                        self.write_indent()
                        if text[i + 1] == " ":
                            self._put("\\")
                    else:
                        self._put(" ")
                    spaces = True
                else:
                    self._put(ch)
                    spaces = False
            self.write_indicator('"', False)

        def write_single_quoted(self, text: str, split: bool = True) -> None:
            self.write_indicator("'", True)
            spaces = breaks = False
            for i, ch in enumerate(text):
                if ch == " ":
                    if split and not spaces and self.column > self.best_width and 0 < i < len(text) - 1 \
                            and text[i + 1] != " ":
                        self.write_indent()
                    else:
                        self._put(" ")
                    spaces = True
                elif ch in _BREAKS:
                    if not breaks and ch == "\n":
                        self.write_line_break()
                    self.write_line_break(ch)
                    self.indention = breaks = True
                else:
                    if breaks:
                        self.write_indent()
                    self._put("''" if ch == "'" else ch)
                    self.indention = spaces = breaks = False
            self.write_indicator("'", False)

    class Dumper(Emitter, yaml.serializer.Serializer, yaml.representer.SafeRepresenter, yaml.resolver.BaseResolver):
        def __init__(self, stream: Any, **kw: Any) -> None:
            Emitter.__init__(self, stream, allow_unicode=True, width=80, indent=2)
            yaml.serializer.Serializer.__init__(self)
            yaml.representer.SafeRepresenter.__init__(self)
            yaml.resolver.BaseResolver.__init__(self)

    return Dumper


def to_yaml(v: Any) -> Any:
    """sigs.k8s.io/yaml's Marshal: encoding/json, read back by yaml.v2 (ints kept), yaml.v2's Marshal."""
    import yaml

    try:
        text = to_json(v, html=False)
    except FuncError as exc:
        return Soft("", f"value cannot be encoded as YAML ({exc})")
    if any(c == "\x7f" or "\x80" <= c <= "\x84" or "\x86" <= c <= "\x9f" or c in "\ufffe\uffff"
           for c in text):
        return Soft("", "value cannot be encoded as YAML (control characters are not allowed)")
    data = json.loads(text.replace("\x85", " "), parse_int=_v2_number, parse_float=_v2_number)
    out = yaml.serialize(_yaml_node(data), Dumper=_yaml_emitter())
    if out.endswith("\n...\n"):
        out = out[:-4]
    return out.removesuffix("\n")


def _to_json_value(v: Any) -> Any:
    """YAML value -> JSON value as sigs.k8s.io/yaml converts it: keys to strings, numbers to float64."""
    if isinstance(v, dict):
        return {(k if isinstance(k, str) else json.dumps(k) if isinstance(k, bool) or k is None else str(k)):
                _to_json_value(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_to_json_value(x) for x in v]
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, bytes):  # yaml.v2 decodes !!binary into a string of those bytes
        return v.decode("utf-8", "replace")
    return str(v)


_LIBYAML_PROBLEMS = {"mapping values are not allowed here": "mapping values are not allowed in this context"}


def _nonfinite(v: Any) -> str:
    """Go's json.Marshal refuses NaN and infinities: the first one found, as its error names it."""
    if isinstance(v, dict):
        return next((x for x in map(_nonfinite, v.values()) if x), "")
    if isinstance(v, list):
        return next((x for x in map(_nonfinite, v) if x), "")
    if isinstance(v, float) and not math.isfinite(v):
        return "NaN" if math.isnan(v) else "+Inf" if v > 0 else "-Inf"
    return ""


def from_yaml(s: str) -> Any:
    import yaml

    try:
        # yaml.v2's Unmarshal reads the first document only
        v = next(iter(yaml.load_all(s, Loader=_yaml_loader())), None)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = _LIBYAML_PROBLEMS.get(str(getattr(exc, "problem", "")), getattr(exc, "problem", "invalid"))
        return Soft({"Error": f"error converting YAML to JSON: yaml: {where}{problem}"},
                    "input is not valid YAML")
    except RecursionError:
        return Soft({"Error": "error converting YAML to JSON: nested too deeply"}, "input nested too deeply")
    if v is None:
        return {}
    if not isinstance(v, dict):
        kind = "array" if isinstance(v, list) else "string" if isinstance(v, str) else "number" \
            if isinstance(v, int | float) and not isinstance(v, bool) else "bool"
        return Soft({"Error": f"error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {kind} into "
                              "Go value of type map[string]interface {}"}, "YAML is not a mapping")
    jv = _to_json_value(v)
    bad = _nonfinite(jv)
    if bad:
        return Soft({"Error": f"error converting YAML to JSON: json: unsupported value: {bad}"},
                    "YAML holds a number JSON cannot")
    return from_json(json.dumps(jv))


FUNCS: dict[str, Func] = {
    "pkcs12key": Func("s", lambda a: pkcs12_key("", a[0])),
    "pkcs12keyPass": Func("ss", lambda a: pkcs12_key(a[0], a[1])),
    "pkcs12cert": Func("s", lambda a: pkcs12_cert("", a[0])),
    "pkcs12certPass": Func("ss", lambda a: pkcs12_cert(a[0], a[1])),
    "pemToPkcs12": Func("ss", lambda a: pem_to_p12(a[0], a[1], "", False)),
    "pemToPkcs12Pass": Func("sss", lambda a: pem_to_p12(a[0], a[1], a[2], False)),
    "fullPemToPkcs12": Func("ss", lambda a: pem_to_p12(a[0], a[1], "", True)),
    "fullPemToPkcs12Pass": Func("sss", lambda a: pem_to_p12(a[0], a[1], a[2], True)),
    "pemTruststoreToPKCS12": Func("s", lambda a: truststore_p12(a[0], "")),
    "pemTruststoreToPKCS12Pass": Func("ss", lambda a: truststore_p12(a[0], a[1])),
    "filterPEM": Func("ss", lambda a: filter_pem(a[0], a[1])),
    "filterCertChain": Func("ss", lambda a: filter_cert_chain(a[0], a[1])),
    "certSANs": Func("s", lambda a: cert_sans(a[0])),
    "jwkPublicKeyPem": Func("s", lambda a: jwk_public(a[0])),
    "jwkPrivateKeyPem": Func("s", lambda a: jwk_private(a[0])),
    "toYaml": Func("a", lambda a: to_yaml(a[0])),
    "fromYaml": Func("s", lambda a: from_yaml(a[0])),
    "rsaDecrypt": Func("ssss", lambda a: rsa_decrypt(a[0], a[1], a[2], a[3])),
}
