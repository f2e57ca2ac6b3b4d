"""ESO's own template functions (runtime/template/v2 of ESO v2.9.0): PKCS#12, PEM, JWK, YAML and RSA.

Built on cryptography and PyYAML. Output is what ESO's Go writes: PEM blocks with 64-column base64, private
keys as PKCS#8 ``PRIVATE KEY``, PKCS#12 as base64 (go-pkcs12's Modern profile: AES-256-CBC, SHA-256 MAC).
``toYaml`` is sigs.k8s.io/yaml's Marshal (the value through JSON, then YAML with sorted keys, literal blocks for
multi-line strings); ``fromYaml`` is its Unmarshal into a map (numbers become float64; on error the map holds
``Error``, a soft failure).
"""

from __future__ import annotations

import base64
import json
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
        pass

    # yaml.v2 into interface{} keeps timestamps as strings
    Loader.yaml_implicit_resolvers = {k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
                                      for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
    return Loader


def _yaml_dumper() -> Any:
    import yaml

    class Dumper(yaml.SafeDumper):
        def increase_indent(self, flow: bool = False, indentless: bool = False) -> Any:
            return super().increase_indent(flow, indentless)

    def str_repr(dumper: Any, s: str) -> Any:
        if "\n" in s and not any(c in s for c in "\t\r") and s == s.rstrip(" ") and "\n " not in s[:1]:
            return dumper.represent_scalar("tag:yaml.org,2002:str", s, style="|")
        return dumper.represent_scalar("tag:yaml.org,2002:str", s)

    def float_repr(dumper: Any, f: float) -> Any:
        from ..values import go_float

        text = go_float(f)
        if re.fullmatch(r"-?\d+", text):
            text = text  # integral floats come from JSON as integers: yaml.v2 writes them so
        return dumper.represent_scalar("tag:yaml.org,2002:float", text)

    Dumper.add_representer(str, str_repr)
    Dumper.add_representer(float, float_repr)
    return Dumper


def _jsonish(v: Any) -> Any:
    """The value after sigs.k8s.io/yaml's json.Marshal + YAML decode: JSON numbers as int where integral."""
    if isinstance(v, dict):
        return {k: _jsonish(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_jsonish(x) for x in v]
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e21:
        return int(v)
    return v


def to_yaml(v: Any) -> Any:
    import yaml

    try:
        data = _jsonish(json.loads(to_json(v, html=False)))
    except FuncError as exc:
        return Soft("", f"value cannot be encoded as YAML ({exc})")
    text = yaml.dump(data, Dumper=_yaml_dumper(), default_flow_style=False, sort_keys=True, allow_unicode=True,
                     width=80)
    if text.endswith("\n...\n"):
        text = text[:-4]
    return text.removesuffix("\n")


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
    if isinstance(v, bytes):
        return base64.b64encode(v).decode("ascii")
    return str(v)


def from_yaml(s: str) -> Any:
    import yaml

    try:
        v = yaml.load(s, Loader=_yaml_loader())  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        return Soft({"Error": f"error converting YAML to JSON: yaml: {where}{getattr(exc, 'problem', 'invalid')}"},
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
    return from_json(json.dumps(_to_json_value(v)))


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
