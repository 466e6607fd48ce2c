"""Why path validation refused a chain, said in the admin's words, with the certificate to fix.

cryptography's verifier says *what* it refused ("Forbidden signature algorithm: ..." followed
by a Rust debug dump, "no permitted name constraints matched SAN") but not *which*
certificate; the fix depends on it: a SHA-1 leaf is reissued by the PSN's owner, a SHA-1
intermediate by the CA. The culprit is found here by looking at the path itself.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import SignatureAlgorithmOID

from feedmgr.certs.limits import GOOD_CURVES, MIN_RSA_BITS, RENEW_LEAF_FIX, renewal_fix
from feedmgr.certs.load import self_issued, short_name

# What cryptography's web PKI policy accepts on a path (and what browsers accept).
_PERMITTED_SIGNATURES = frozenset(
    {
        SignatureAlgorithmOID.RSA_WITH_SHA256,
        SignatureAlgorithmOID.RSA_WITH_SHA384,
        SignatureAlgorithmOID.RSA_WITH_SHA512,
        SignatureAlgorithmOID.RSASSA_PSS,
        SignatureAlgorithmOID.ECDSA_WITH_SHA256,
        SignatureAlgorithmOID.ECDSA_WITH_SHA384,
        SignatureAlgorithmOID.ECDSA_WITH_SHA512,
    }
)
_EDDSA = {SignatureAlgorithmOID.ED25519: "Ed25519", SignatureAlgorithmOID.ED448: "Ed448"}
# The verifier's messages for a refused path (cryptography-x509-verification).
_NOT_VALID = "not valid at validation time"
_SIGNATURE = "Forbidden signature algorithm"
_PUBLIC_KEY = ("Forbidden public key algorithm", "key is too weak")
_NAME_CONSTRAINT = "name constraint"
# A Rust Debug dump (``AlgorithmIdentifier { oid: ... }``) means nothing to an admin.
_DEBUG_DUMP = re.compile(r"\s*\b[A-Z][A-Za-z]+ \{.*", re.DOTALL)

GENERIC_FIX = (
    "fix the certificate the reason names: reissue the PSN certificate if the reason is about "
    "the PSN certificate, otherwise have the CA reissue its certificate (key size, signature "
    "algorithm, basicConstraints, keyUsage, validity)"
)


@dataclass(frozen=True)
class Refusal:
    """A refused path explained: the reason, the fix, and the certificate at fault if known."""

    reason: str
    fix: str
    culprit: x509.Certificate | None = None
    culprit_role: str | None = None


def brief(reason: str | None, limit: int = 160) -> str:
    """The verifier's reason without its generic prefixes or debug dumps, on one line."""
    text = (reason or "unknown reason").replace("validation failed: ", "")
    text = text.replace("candidates exhausted: ", "")
    text = _DEBUG_DUMP.sub("", text).rstrip(": ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def explain_refusal(
    path: Sequence[x509.Certificate], reason: str | None, at: dt.datetime
) -> Refusal:
    """Explain why the verifier refused ``path`` (leaf first, anchor last) at time ``at``."""
    text = reason or ""
    if _NOT_VALID in text:
        return _out_of_validity(path, at) or _generic(reason)
    if _SIGNATURE in text:
        return _weak_signature(path) or _generic(reason)
    if any(marker in text for marker in _PUBLIC_KEY):
        return _weak_key(path) or _generic(reason)
    if _NAME_CONSTRAINT in text:
        return _outside_constraints(path, reason)
    return _generic(reason)


def _generic(reason: str | None) -> Refusal:
    return Refusal(brief(reason), GENERIC_FIX)


def _role(path: Sequence[x509.Certificate], cert: x509.Certificate) -> str:
    if cert is path[0]:
        return "leaf"
    if cert is path[-1] and self_issued(cert):
        return "trust anchor"
    return "issuing CA"


def _out_of_validity(path: Sequence[x509.Certificate], at: dt.datetime) -> Refusal | None:
    for cert in path:
        role = _role(path, cert)
        if at > cert.not_valid_after_utc:
            return Refusal(
                f"{role} {short_name(cert)} expired on {cert.not_valid_after_utc.isoformat()}",
                renewal_fix(role, cert, RENEW_LEAF_FIX),
                cert,
                role,
            )
        if at < cert.not_valid_before_utc:
            return Refusal(
                f"{role} {short_name(cert)} is not valid before "
                f"{cert.not_valid_before_utc.isoformat()}",
                "check the clocks of the CA and the PSN (NTP), or wait until notBefore",
                cert,
                role,
            )
    return None


def _weak_signature(path: Sequence[x509.Certificate]) -> Refusal | None:
    # The anchor's own signature is never checked: trust in it is not derived from it.
    for cert in path[:-1] if len(path) > 1 else path:
        if cert.signature_algorithm_oid in _PERMITTED_SIGNATURES:
            continue
        role = _role(path, cert)
        return Refusal(
            f"{role} {short_name(cert)} is signed with {_signature_name(cert)}, which path "
            "validation forbids (RSA or ECDSA with SHA-256/384/512 only)",
            "reissue the PSN certificate with a SHA-256 signature"
            if role == "leaf"
            else f"have the CA reissue {short_name(cert)} with a SHA-256 signature, then "
            "import it into ISE's trusted certificates",
            cert,
            role,
        )
    return None


def _signature_name(cert: x509.Certificate) -> str:
    try:
        algorithm = cert.signature_hash_algorithm
    except UnsupportedAlgorithm:
        return f"an unknown algorithm ({cert.signature_algorithm_oid.dotted_string})"
    if algorithm is None:
        return _EDDSA.get(cert.signature_algorithm_oid, "a signature without a hash")
    return algorithm.name.upper()


def _weak_key(path: Sequence[x509.Certificate]) -> Refusal | None:
    # The verifier checks the keys of the CAs (they sign); the PSN's own key has its own
    # checks (cert.key-size, cert.curve, cert.key-type).
    for cert in path[1:]:
        described = _unpermitted_key(cert)
        if described is None:
            continue
        role = _role(path, cert)
        return Refusal(
            f"{role} {short_name(cert)} has {described}, which path validation forbids "
            f"(RSA {MIN_RSA_BITS}+ or ECDSA P-256/P-384/P-521 only)",
            f"have the CA reissue {short_name(cert)} with an RSA 2048+ or ECDSA P-256/P-384 key "
            "and reissue the certificates under it",
            cert,
            role,
        )
    return None


def _unpermitted_key(cert: x509.Certificate) -> str | None:
    try:
        key = cert.public_key()
    except (ValueError, UnsupportedAlgorithm):
        return "a key of an unknown algorithm"
    if isinstance(key, rsa.RSAPublicKey):
        return None if key.key_size >= MIN_RSA_BITS else f"a {key.key_size}-bit RSA key"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return None if key.curve.name in GOOD_CURVES else f"an EC key on {key.curve.name}"
    if isinstance(key, dsa.DSAPublicKey):
        return "a DSA key"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "an Ed25519 key"
    if isinstance(key, ed448.Ed448PublicKey):
        return "an Ed448 key"
    return "a key of an algorithm TLS certificates do not use"


def _outside_constraints(path: Sequence[x509.Certificate], reason: str | None) -> Refusal:
    leaf = path[0]
    for ca in path[1:]:
        try:
            constraints = ca.extensions.get_extension_for_class(x509.NameConstraints).value
        except x509.ExtensionNotFound:
            continue
        outside = _names_outside(leaf, constraints)
        named = f" ({', '.join(outside)})" if outside else ""
        return Refusal(
            f"names of the PSN certificate{named} are outside the name constraints of "
            f"{short_name(ca)}",
            f"reissue the PSN certificate with only names {short_name(ca)} permits, or from a "
            "CA whose name constraints permit them; do not widen the CA's constraints, which "
            "protect every certificate under it",
            leaf,
            "leaf",
        )
    return Refusal(
        brief(reason),
        "reissue the PSN certificate with only names the issuing CAs' name constraints permit",
        leaf,
        "leaf",
    )


def _names_outside(leaf: x509.Certificate, constraints: x509.NameConstraints) -> list[str]:
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    permitted = constraints.permitted_subtrees or []
    excluded = constraints.excluded_subtrees or []
    outside: list[str] = []
    for name in san:
        if not isinstance(name, x509.DNSName | x509.IPAddress):
            continue
        kind = type(name)
        allowed = [p for p in permitted if isinstance(p, kind)]
        blocked = [e for e in excluded if isinstance(e, kind)]
        inside = not allowed or any(_within(name, p) for p in allowed)
        if not inside or any(_within(name, e) for e in blocked):
            outside.append(str(name.value))
    return outside


def _within(name: x509.GeneralName, subtree: x509.GeneralName) -> bool:
    # RFC 5280 4.2.1.10: a dNSName constraint covers the name itself and every name below
    # it (a leading dot, common in practice, covers only names below); an iPAddress
    # constraint is an address and mask.
    if isinstance(name, x509.DNSName) and isinstance(subtree, x509.DNSName):
        host, base = name.value.lower().rstrip("."), subtree.value.lower().rstrip(".")
        if base.startswith("."):
            return host.endswith(base)
        return not base or host == base or host.endswith("." + base)
    if isinstance(name, x509.IPAddress) and isinstance(subtree, x509.IPAddress):
        network = subtree.value
        return (
            isinstance(network, ipaddress.IPv4Network | ipaddress.IPv6Network)
            and isinstance(name.value, ipaddress.IPv4Address | ipaddress.IPv6Address)
            and name.value in network
        )
    return False
