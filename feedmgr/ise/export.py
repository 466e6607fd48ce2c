"""The certificate ISE exports (``POST /api/v1/certs/system-certificate/export``).

Cisco documents the answer to ``"export": "CERTIFICATE"`` as a ZIP file holding only the
certificate (PEM); feedmgr never asks for the private key. The ZIP goes through the feed
archive's safe reader (feedmgr.feed.archive: member names, types, sizes, ratio, overlap)
with limits sized for one certificate, and its members through feedmgr.certs.load, so a
hostile answer is an input error (exit 3), never a crash or a file written outside a
temporary directory.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from cryptography import x509

from feedmgr.certs.load import (
    MAX_FILE_BYTES,
    CertBundle,
    bundle_from,
    fingerprint,
    parse_certificates,
)
from feedmgr.errors import ArchiveError, InputRejected, ParseError
from feedmgr.feed.archive import ArchiveLimits, SafeZip

# A certificate and its chain in PEM are a few kilobytes; the ZIP answer is capped well
# above that, and so are its members.
MAX_EXPORT_BYTES = 1024 * 1024
EXPORT_LIMITS = ArchiveLimits(
    max_members=16,
    max_member_size=MAX_FILE_BYTES,
    max_total_size=MAX_FILE_BYTES,
)


def read_export(body: bytes, subject: str, expected_sha256: str | None) -> CertBundle:
    """The certificate bundle in an export answer ``body``.

    Every file member must hold certificates (PEM, DER or PKCS#7); the leaf is found as
    ``feedmgr cert check`` finds it. When ISE listed a fingerprint, the leaf must have it.

    Raises:
        ArchiveError: the answer is not a zip that follows the archive rules.
        ParseError: a member holds no certificate, or a malformed one.
        InputRejected: no leaf or several, or a leaf other than the one ISE lists.
    """
    with tempfile.TemporaryDirectory(prefix="feedmgr-ise-export-") as scratch:
        path = Path(scratch) / "export.zip"
        path.write_bytes(body)
        try:
            with SafeZip(path, EXPORT_LIMITS) as archive:
                contents = {n: archive.read_small(n, MAX_FILE_BYTES) for n in archive.members}
        except ArchiveError as exc:
            raise ArchiveError(subject, exc.problem, **exc.details) from exc
    if not contents:
        raise ArchiveError(subject, "the export holds no file")
    certificates: list[x509.Certificate] = []
    for name, data in sorted(contents.items()):
        try:
            certificates += parse_certificates(data, subject)
        except ParseError as exc:
            raise ParseError(subject, f"member {name!r}: {exc.problem}") from exc
    bundle = bundle_from(certificates, subject)
    leaf = fingerprint(bundle.leaf)
    if expected_sha256 is not None and leaf != expected_sha256:
        raise InputRejected(
            subject,
            f"the export holds certificate sha256 {leaf[:16]}..., not the "
            f"{expected_sha256[:16]}... ISE lists under that id",
        )
    return bundle
