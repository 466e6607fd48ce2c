"""Loading certificates from PEM (one or many), DER or PKCS#7, and finding the leaf.

The leaf is found, not assumed to be first: PKCS#7 bags are unordered, and exported
``fullchain`` files come in every order. The leaf is the certificate that issued none of the
others (signatures checked, not only names).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

from feedmgr.errors import InputRejected, ParseError

# A certificate bundle larger than this is not a server chain; refuse it before parsing.
MAX_FILE_BYTES = 4 * 1024 * 1024
# Server chains are a handful of certificates; anything far beyond is a mistake or hostile
# (leaf finding is quadratic in signature checks).
MAX_BUNDLE_CERTS = 64

_T = TypeVar("_T")
# What cryptography raises for input it cannot parse (several are not ValueErrors). TypeError
# comes from its Python-side value types: a Name attribute encoded as BIT STRING under an OID
# other than x500UniqueIdentifier, or a nameConstraints iPAddress of the wrong length.
_BAD_INPUT = (
    ValueError,
    TypeError,
    UnsupportedAlgorithm,
    x509.InvalidVersion,
    x509.UnsupportedGeneralNameType,
    x509.DuplicateExtension,
)

# OpenSSL trims trailing whitespace from the BEGIN line, and certificates pasted from mail
# or a CA's web page often carry some: such a block is read, not skipped.
_PEM_BLOCK = re.compile(
    rb"-----BEGIN ([A-Z0-9 #]+)-----[ \t]*\r?\n(.*?)-----END \1-----", re.DOTALL
)
_PEM_BEGIN = re.compile(rb"-----BEGIN ([A-Z0-9 #]+)-----")
_CERT_LABELS = {b"CERTIFICATE", b"X509 CERTIFICATE"}
_PKCS7_LABELS = {b"PKCS7", b"PKCS #7 SIGNED DATA", b"CMS"}


@dataclass(frozen=True)
class CertBundle:
    """A server certificate and the other certificates that came with it.

    ``presented`` keeps the order of the input (file order, or the order a server sent),
    without the leaf and without duplicates; ``source`` names where it came from;
    ``sent_twice`` names the certificates a server sent more than once (a file's duplicates
    do not matter: ISE builds the chain it serves itself).
    """

    leaf: x509.Certificate
    presented: tuple[x509.Certificate, ...]
    source: str
    sent_twice: tuple[str, ...] = ()


def short_name(cert: x509.Certificate) -> str:
    """The certificate's first subject CN, else its whole subject: how messages name it."""
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(cns[0].value) if cns else cert.subject.rfc4514_string() or "(empty subject)"


def fingerprint(cert: x509.Certificate) -> str:
    """The SHA-256 fingerprint as lower-case hex (how certificates are named in JSON)."""
    return cert.fingerprint(hashes.SHA256()).hex()


def _quiet_load(loader: Callable[[bytes], _T], blob: bytes) -> _T:
    # cryptography warns (CryptographyDeprecationWarning) about RFC 5280 violations such as
    # negative serial numbers; those certificates are still graded, so silence the warning.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return loader(blob)


def _parse_lazy_fields(cert: x509.Certificate) -> None:
    # cryptography parses names and extensions lazily; parsing them here makes a malformed
    # field an input error naming the file, not an exception in the middle of a check.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _ = cert.extensions, cert.serial_number
        _ = cert.not_valid_before_utc, cert.not_valid_after_utc
        _ = cert.subject.rfc4514_string(), cert.issuer.rfc4514_string()


def _touch(cert: x509.Certificate, source: str, index: int) -> x509.Certificate:
    try:
        _parse_lazy_fields(cert)
    except _BAD_INPUT as exc:
        raise ParseError(source, f"certificate #{index + 1} is malformed: {exc}") from exc
    return cert


def _pkcs7(
    loader: Callable[[bytes], list[x509.Certificate]], blob: bytes, source: str
) -> list[x509.Certificate]:
    try:
        return list(_quiet_load(loader, blob))
    except _BAD_INPUT as exc:
        raise ParseError(source, f"not a readable PKCS#7 bundle: {exc}") from exc


def _pem(label: bytes, body: bytes) -> bytes:
    # Rebuild the block under the label cryptography expects (aliases such as "X509
    # CERTIFICATE" or "CMS" carry the same DER).
    return b"-----BEGIN " + label + b"-----\n" + body + b"-----END " + label + b"-----\n"


def _certificate_block(body: bytes, number: int, source: str) -> list[x509.Certificate]:
    pem = _pem(b"CERTIFICATE", body)
    try:
        return [_quiet_load(x509.load_pem_x509_certificate, pem)]
    except _BAD_INPUT as exc:
        # Some CA web front ends label a PKCS#7 chain "CERTIFICATE" (the "PKCS7
        # certificate" entry of the ArchiveTeam file format wiki); read it as what it is.
        try:
            return list(_quiet_load(pkcs7.load_pem_pkcs7_certificates, _pem(b"PKCS7", body)))
        except _BAD_INPUT:
            pass
        raise ParseError(source, f"PEM certificate #{number} is malformed: {exc}") from exc


def _refuse_broken_blocks(data: bytes, starts: set[int], source: str) -> None:
    # A certificate block that is not read whole (no END line, text after its BEGIN line, a
    # BEGIN inside another block) would otherwise vanish, and the chain would be judged
    # without it: "missing intermediate" for a certificate that is in the file.
    for begin in _PEM_BEGIN.finditer(data):
        label = begin.group(1)
        if begin.start() in starts or label not in _CERT_LABELS | _PKCS7_LABELS:
            continue
        line = data.count(b"\n", 0, begin.start()) + 1
        raise ParseError(
            source,
            f"line {line}: the {label.decode()} PEM block is incomplete (no END line, "
            "text after its BEGIN line, or it starts inside another block)",
        )


def parse_certificates(data: bytes, source: str) -> tuple[x509.Certificate, ...]:
    """All certificates in ``data``: PEM (any number of blocks), DER or PKCS#7 (PEM or DER).

    Non-certificate PEM blocks (a private key in the same file) are skipped.

    Raises:
        ParseError: when no certificate can be read, or any certificate is malformed.
    """
    if len(data) > MAX_FILE_BYTES:
        raise ParseError(source, f"file too large for a certificate ({len(data)} bytes)")
    certs: list[x509.Certificate] = []
    if b"-----BEGIN " in data:
        blocks = list(_PEM_BLOCK.finditer(data))
        _refuse_broken_blocks(data, {match.start() for match in blocks}, source)
        for match in blocks:
            label, body = match.group(1), match.group(2)
            if label in _CERT_LABELS:
                certs.extend(_certificate_block(body, len(certs) + 1, source))
            elif label in _PKCS7_LABELS:
                pem = _pem(b"PKCS7", body)
                certs.extend(_pkcs7(pkcs7.load_pem_pkcs7_certificates, pem, source))
        if not certs:
            raise ParseError(source, "no PEM certificate found")
    else:
        try:
            certs.append(_quiet_load(x509.load_der_x509_certificate, data))
        except _BAD_INPUT:
            try:
                certs.extend(_quiet_load(pkcs7.load_der_pkcs7_certificates, data))
            except _BAD_INPUT as exc:
                raise ParseError(source, "not a certificate: neither PEM, DER nor PKCS#7") from exc
    return tuple(_touch(cert, source, i) for i, cert in enumerate(certs))


def read_certificates(path: Path) -> tuple[x509.Certificate, ...]:
    """Read and parse a certificate file.

    Raises:
        ParseError: when the file cannot be read or holds no valid certificate.
    """
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ParseError(str(path), f"cannot read: {exc.strerror or exc}") from exc
    return parse_certificates(data, str(path))


def issued(issuer: x509.Certificate, cert: x509.Certificate) -> bool:
    """True when ``issuer`` signed ``cert`` (names chain and the signature verifies)."""
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except InvalidSignature:
        return False
    except (ValueError, TypeError, UnsupportedAlgorithm):
        # cryptography cannot check SHA-1/MD5 (or exotic) signatures; those certificates are
        # exactly the ones we must still place in the chain to report them, so fall back to
        # the key identifiers (RFC 5280 4.2.1.1) when both are present, else to the names.
        return _key_ids_agree(issuer, cert)
    return True


def _key_ids_agree(issuer: x509.Certificate, cert: x509.Certificate) -> bool:
    try:
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
        ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        return True
    return aki.key_identifier is None or aki.key_identifier == ski.digest


def self_issued(cert: x509.Certificate) -> bool:
    """True for a self-signed certificate (a root, or a self-signed server certificate)."""
    return issued(cert, cert)


def is_ca(cert: x509.Certificate) -> bool:
    """True when basicConstraints says cA=TRUE."""
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return False
    return constraints.ca


def dedupe(certs: Iterable[x509.Certificate]) -> tuple[x509.Certificate, ...]:
    """The certificates in order, each identical one kept only the first time."""
    seen: set[bytes] = set()
    out: list[x509.Certificate] = []
    for cert in certs:
        key = cert.fingerprint(hashes.SHA256())
        if key not in seen:
            seen.add(key)
            out.append(cert)
    return tuple(out)


def find_leaf(
    candidates: Sequence[x509.Certificate], others: Sequence[x509.Certificate], source: str
) -> x509.Certificate:
    """The server certificate among ``candidates``: the one that issued no other certificate.

    ``others`` are further certificates (a separate chain file) that can be issuers but are
    not considered as the leaf. A lone candidate is the leaf whatever it is.

    Raises:
        InputRejected: when several certificates could be the leaf.
    """
    if len(candidates) == 1:
        return candidates[0]
    pool = dedupe([*candidates, *others])
    leaves = [
        cert
        for cert in dedupe(candidates)
        if not any(issued(cert, other) for other in pool if other is not cert)
    ]
    if len(leaves) > 1:
        # Prefer end-entity certificates: a bundle may carry an unrelated root.
        non_ca = [cert for cert in leaves if not is_ca(cert)]
        leaves = non_ca or leaves
    if len(leaves) == 1:
        return leaves[0]
    names = "; ".join(cert.subject.rfc4514_string() or "(empty subject)" for cert in leaves)
    if not leaves:
        raise InputRejected(source, "no certificate stands at the end of a chain (issuer loop)")
    raise InputRejected(
        source,
        f"holds {len(leaves)} possible server certificates ({names}); give one leaf per file",
        subjects=[cert.subject.rfc4514_string() for cert in leaves],
    )


def _limit_chain_size(count: int, source: str) -> None:
    if count > MAX_BUNDLE_CERTS:
        raise InputRejected(
            source, f"{count} certificates is not a server chain (at most {MAX_BUNDLE_CERTS})"
        )


def bundle_from(
    certs: Sequence[x509.Certificate],
    source: str,
    extra: Sequence[x509.Certificate] = (),
) -> CertBundle:
    """Find the leaf among ``certs`` and keep everything else, in order, as presented.

    Raises:
        InputRejected: when the leaf is ambiguous or there are too many certificates.
    """
    _limit_chain_size(len(certs) + len(extra), source)
    leaf = find_leaf(certs, extra, source)
    rest = tuple(c for c in dedupe([*certs, *extra]) if c != leaf)
    return CertBundle(leaf=leaf, presented=rest, source=source)


def load_bundle(cert_path: Path, chain_paths: Sequence[Path] = ()) -> CertBundle:
    """Read CERT and any ``--chain`` files, and find the leaf in CERT.

    Raises:
        ParseError: when a file is unreadable or holds no valid certificate.
        InputRejected: when the leaf is ambiguous.
    """
    certs = read_certificates(cert_path)
    _limit_chain_size(len(certs), str(cert_path))
    extra: list[x509.Certificate] = []
    for path in chain_paths:
        extra.extend(read_certificates(path))
        # Blame the file that makes the chain too long, not CERT.
        _limit_chain_size(len(certs) + len(extra), str(path))
    return bundle_from(certs, str(cert_path), extra)


def load_anchors(paths: Sequence[Path]) -> tuple[x509.Certificate, ...]:
    """Trust anchors from ``--ca`` files (every certificate in each file is an anchor).

    Raises:
        ParseError: when a file is unreadable or holds no valid certificate.
    """
    return dedupe(cert for path in paths for cert in read_certificates(path))


def system_anchors() -> tuple[tuple[x509.Certificate, ...], str | None]:
    """The system trust store (OpenSSL's default CA file) and its path, or ``((), None)``.

    Certificates in the system file that do not parse are skipped: it is not user input.
    """
    import ssl

    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile):
        if not candidate:
            continue
        path = Path(candidate)
        try:
            data = path.read_bytes()
        except OSError:
            continue
        anchors: list[x509.Certificate] = []
        for match in _PEM_BLOCK.finditer(data):
            if match.group(1) in _CERT_LABELS:
                try:
                    anchor = _quiet_load(
                        x509.load_pem_x509_certificate, _pem(b"CERTIFICATE", match.group(2))
                    )
                    _parse_lazy_fields(anchor)
                except _BAD_INPUT:
                    continue
                anchors.append(anchor)
        if anchors:
            return tuple(anchors), str(path)
    return (), None
