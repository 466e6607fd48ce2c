"""Certificates generated in code for the tests: a small CA hierarchy and leaf recipes.

Nothing here is committed as PEM: every certificate is built with ``cryptography`` when the
tests run, relative to a fixed "now", so nothing expires in the repository.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)

PrivateKey = (
    rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | dsa.DSAPrivateKey
)


@cache
def key(kind: str = "ec256", slot: int = 0) -> PrivateKey:
    """A private key of a kind (``rsa2048``, ``rsa1024``, ``dsa2048``, ``ec256``,
    ``ec-secp256k1``, ``ed25519``), cached per slot so that distinct certificates can have
    distinct keys."""
    if kind.startswith("rsa"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(kind[3:]))
    if kind.startswith("dsa"):
        return dsa.generate_private_key(key_size=int(kind[3:]))
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    curves: dict[str, ec.EllipticCurve] = {
        "ec256": ec.SECP256R1(),
        "ec384": ec.SECP384R1(),
        "ec-secp256k1": ec.SECP256K1(),
    }
    return ec.generate_private_key(curves[kind])


def _name(cn: str | None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "feedmgr tests")]
    if cn is not None:
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


@dataclass(frozen=True)
class Issued:
    """A certificate with its private key."""

    cert: x509.Certificate
    key: PrivateKey

    def pem(self) -> bytes:
        """The certificate as PEM."""
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        """The private key as unencrypted PKCS#8 PEM."""
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def _sign_hash(signer: PrivateKey) -> hashes.HashAlgorithm | None:
    if isinstance(signer, ed25519.Ed25519PrivateKey):
        return None
    return hashes.SHA256()


def _der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    body = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _tlv(tag: int, body: bytes) -> bytes:
    return bytes([tag]) + _der_length(len(body)) + body


# sha256WithRSAEncryption and its SHA-1 / MD5 siblings (RFC 8017 appendix A.2.4): the OIDs
# have the same length, so the algorithm can be swapped inside the TBS without re-encoding.
_RSA_SHA256 = bytes.fromhex("06092a864886f70d01010b0500")
_RSA_WEAK = {
    "sha1": (bytes.fromhex("06092a864886f70d0101050500"), hashes.SHA1()),  # noqa: S303 - the point
    "md5": (bytes.fromhex("06092a864886f70d0101040500"), hashes.MD5()),  # noqa: S303 - the point
}


# ecdsa-with-SHA256 (RFC 5758 3.2), as cryptography encodes it.
_ECDSA_SHA256 = bytes.fromhex("300a06082a8648ce3d040302")


def patched(cert: x509.Certificate, signer: PrivateKey, old: bytes, new: bytes) -> bytes:
    """The DER of ``cert`` with ``old`` replaced by ``new`` (same length) in its TBS, signed
    again by ``signer`` (EC P-256), so that only the malformation differs from a good one."""
    if len(old) != len(new) or not isinstance(signer, ec.EllipticCurvePrivateKey):
        raise ValueError("patched() swaps bytes of equal length under an EC signer")
    tbs = cert.tbs_certificate_bytes
    assert tbs.count(old) == 1, "the bytes to patch must occur exactly once"
    tbs = tbs.replace(old, new)
    signature = signer.sign(tbs, ec.ECDSA(hashes.SHA256()))
    return _tlv(0x30, tbs + _ECDSA_SHA256 + _tlv(0x03, b"\x00" + signature))


def _finish(builder: x509.CertificateBuilder, signer: PrivateKey, digest: str) -> x509.Certificate:
    """Sign; for SHA-1/MD5 (which cryptography refuses to sign with) re-sign the TBS by hand."""
    cert = builder.sign(signer, _sign_hash(signer))
    if digest == "sha256":
        return cert
    if not isinstance(signer, rsa.RSAPrivateKey):
        raise ValueError("weak-hash test certificates need an RSA issuer")
    algorithm, hash_algorithm = _RSA_WEAK[digest]
    tbs = cert.tbs_certificate_bytes
    assert tbs.count(_RSA_SHA256) == 1
    tbs = tbs.replace(_RSA_SHA256, algorithm)
    signature = signer.sign(tbs, padding.PKCS1v15(), hash_algorithm)
    der = _tlv(0x30, tbs + _tlv(0x30, algorithm) + _tlv(0x03, b"\x00" + signature))
    return x509.load_der_x509_certificate(der)


def make_ca(
    cn: str = "Test Root CA",
    *,
    issuer: Issued | None = None,
    key_kind: str = "ec256",
    slot: int = 0,
    digest: str = "sha256",
    not_before: dt.datetime = NOW - 365 * DAY,
    days: int = 3650,
    extensions: Sequence[x509.ExtensionType] = (),
) -> Issued:
    """A root CA (``issuer`` None) or an intermediate CA signed by ``issuer``, with any
    ``extensions`` added (non-critical) after the usual CA ones."""
    own = key(key_kind, slot)
    signer = issuer.key if issuer else own
    public = own.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(issuer.cert.subject if issuer else _name(cn))
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + days * DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False,
        )
    for extension in extensions:
        builder = builder.add_extension(extension, critical=False)
    return Issued(_finish(builder, signer, digest), own)


@dataclass(frozen=True)
class Leaf:
    """A recipe for a server certificate: every knob a check looks at."""

    dns: Sequence[str] = ("psn1.corp.example",)
    ips: Sequence[str] = ()
    uris: Sequence[str] = ()
    cn: str | None = "psn1.corp.example"
    san: bool = True
    key_kind: str = "ec256"
    digest: str = "sha256"
    not_before: dt.datetime = NOW - 10 * DAY
    days: int = 365
    extra_seconds: int = 0
    eku: Sequence[x509.ObjectIdentifier] | None = (ExtendedKeyUsageOID.SERVER_AUTH,)
    ca: bool = False
    key_usage: dict[str, bool] | None = field(
        default_factory=lambda: {"digital_signature": True, "key_encipherment": True}
    )


def make_leaf(recipe: Leaf, issuer: Issued, slot: int = 1) -> Issued:
    """Issue the server certificate a recipe describes."""
    own = key(recipe.key_kind, slot)
    public = own.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(recipe.cn))
        .issuer_name(issuer.cert.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(recipe.not_before)
        .not_valid_after(
            recipe.not_before + recipe.days * DAY + dt.timedelta(seconds=recipe.extra_seconds)
        )
        .add_extension(x509.BasicConstraints(ca=recipe.ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False,
        )
    )
    if recipe.san:
        general: list[x509.GeneralName] = [x509.DNSName(d) for d in recipe.dns]
        general += [x509.IPAddress(ipaddress.ip_address(i)) for i in recipe.ips]
        general += [x509.UniformResourceIdentifier(u) for u in recipe.uris]
        builder = builder.add_extension(x509.SubjectAlternativeName(general), critical=False)
    if recipe.eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(recipe.eku)), critical=False)
    if recipe.key_usage is not None:
        flags: dict[str, Any] = dict.fromkeys(
            (
                "digital_signature",
                "content_commitment",
                "key_encipherment",
                "data_encipherment",
                "key_agreement",
                "key_cert_sign",
                "crl_sign",
            ),
            False,
        )
        flags.update(recipe.key_usage)
        builder = builder.add_extension(
            x509.KeyUsage(**flags, encipher_only=False, decipher_only=False), critical=True
        )
    return Issued(_finish(builder, issuer.key, recipe.digest), own)


@dataclass(frozen=True)
class Pki:
    """A root, an intermediate under it, and helpers to issue leaves under the intermediate."""

    root: Issued
    intermediate: Issued

    def leaf(self, recipe: Leaf | None = None, slot: int = 1) -> Issued:
        """A server certificate issued by the intermediate."""
        return make_leaf(recipe or Leaf(), self.intermediate, slot)


@cache
def pki() -> Pki:
    """The default test hierarchy (EC P-256, SHA-256)."""
    root = make_ca("Test Root CA", slot=10)
    return Pki(root, make_ca("Test Issuing CA", issuer=root, slot=11))


def write_pem(path: Path, *certs: x509.Certificate) -> Path:
    """Write certificates as concatenated PEM."""
    path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs))
    return path


def write_der(path: Path, cert: x509.Certificate) -> Path:
    """Write one certificate as DER."""
    path.write_bytes(cert.public_bytes(serialization.Encoding.DER))
    return path


def write_p7b(path: Path, *certs: x509.Certificate, pem: bool = False) -> Path:
    """Write certificates as a PKCS#7 bundle (DER, or PEM with ``pem=True``)."""
    encoding = serialization.Encoding.PEM if pem else serialization.Encoding.DER
    path.write_bytes(pkcs7.serialize_certificates(list(certs), encoding))
    return path


@cache
def malformed_nc_ca() -> Issued:
    """A root whose nameConstraints permit a bare 4-octet iPAddress (RFC 5280 4.2.1.10
    wants 8 or 32 octets: address and mask), the shape of x509-limbo's
    ``rfc5280::nc::invalid-ipv4-address``."""
    # NameConstraints ::= SEQUENCE { permittedSubtrees [0] { GeneralSubtree { [7] 127.0.0.1 } } }
    value = bytes.fromhex("300aa0083006" + "87047f000001")
    return make_ca(
        "Malformed NC Root",
        slot=95,
        # Unrecognized to the builder, so its bytes go out as they are.
        extensions=(x509.UnrecognizedExtension(x509.oid.ExtensionOID.NAME_CONSTRAINTS, value),),
    )


def bit_string_name_leaf() -> bytes:
    """A server certificate (DER) whose subject holds an organizationalUnitName encoded as
    BIT STRING: only x500UniqueIdentifier may be a BIT STRING, and cryptography raises
    TypeError (not ValueError) when it meets one."""
    ca = pki()
    unique = x509.NameAttribute(
        NameOID.X500_UNIQUE_IDENTIFIER, b"\x00\x01", _type=x509.name._ASN1Type.BitString
    )
    leaf = ca.leaf()
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([*leaf.cert.subject, unique]))
        .issuer_name(ca.intermediate.cert.subject)
        .public_key(leaf.key.public_key())
        .serial_number(7)
        .not_valid_before(NOW - DAY)
        .not_valid_after(NOW + 90 * DAY)
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("psn1.corp.example")]), critical=False
        )
    )
    cert = builder.sign(ca.intermediate.key, hashes.SHA256())
    # 2.5.4.45 (x500UniqueIdentifier) -> 2.5.4.11 (organizationalUnitName), same length.
    return patched(
        cert, ca.intermediate.key, bytes.fromhex("060355042d"), bytes.fromhex("060355040b")
    )
