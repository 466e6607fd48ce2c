"""Publisher keys and manifest signatures.

Accepted algorithms (docs/feed-format.md): Ed25519; ECDSA on P-256 with SHA-256;
RSA-PSS with SHA-256 and keys of at least 3072 bits. Anything else is refused when the key
is loaded, so an untrusted algorithm can never verify a feed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from feedmgr.errors import InputRejected, SignatureError
from feedmgr.textio import without_bom

PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey
PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

MIN_RSA_BITS = 3072
MAX_SIGNATURE_TEXT = 4096


@dataclass(frozen=True)
class TrustedKey:
    """A publisher public key we accept signatures from."""

    fingerprint: str
    algorithm: str
    pem: bytes
    name: str = ""

    @property
    def short_id(self) -> str:
        """First 16 hex digits of the fingerprint, for display."""
        return self.fingerprint.removeprefix("sha256:")[:16]


def _algorithm(key: PublicKey) -> str:
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "ed25519"
    if isinstance(key, ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, ec.SECP256R1):
            raise ValueError(f"EC curve {key.curve.name} is not accepted (only P-256)")
        return "ecdsa-p256-sha256"
    if key.key_size < MIN_RSA_BITS:
        raise ValueError(f"RSA key of {key.key_size} bits is too small (at least {MIN_RSA_BITS})")
    return f"rsa-pss-sha256-{key.key_size}"


def _fingerprint(key: PublicKey) -> str:
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "sha256:" + hashlib.sha256(der).hexdigest()


_PEM_BEGIN = re.compile(rb"^-----BEGIN [^\r\n]*-----", re.MULTILINE)


def read_key_file(path: Path) -> bytes:
    """Read a key file.

    Raises:
        InputRejected: the file cannot be read.
    """
    try:
        return without_bom(path.read_bytes())
    except OSError as exc:
        raise InputRejected(str(path), f"cannot read the key file ({exc.strerror})") from exc


def load_public_key(pem: bytes, subject: str, name: str = "") -> TrustedKey:
    """Parse a PEM public key and check that its algorithm is accepted.

    Raises:
        InputRejected: not a PEM public key, more than one PEM block, or an
            algorithm/size feeds may not use.
    """
    # cryptography reads the first PEM block and ignores the rest: a bundle of the current
    # and the next key would be trusted as its first key alone, without a word.
    blocks = len(_PEM_BEGIN.findall(pem))
    if blocks > 1:
        raise InputRejected(subject, f"{blocks} keys in the file; give one key per file")
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise InputRejected(subject, f"not a PEM public key: {exc}") from exc
    if not isinstance(key, ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        raise InputRejected(subject, f"{type(key).__name__} keys are not accepted for feeds")
    try:
        algorithm = _algorithm(key)
    except ValueError as exc:
        raise InputRejected(subject, str(exc)) from exc
    canonical = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return TrustedKey(_fingerprint(key), algorithm, canonical, name)


def load_private_key(pem: bytes, subject: str) -> PrivateKey:
    """Parse an unencrypted PEM private key of an accepted algorithm.

    Raises:
        InputRejected: not a usable private key.
    """
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise InputRejected(subject, f"not an unencrypted PEM private key: {exc}") from exc
    if not isinstance(
        key, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    ):
        raise InputRejected(subject, f"{type(key).__name__} keys are not accepted for feeds")
    try:
        _algorithm(key.public_key())
    except ValueError as exc:
        raise InputRejected(subject, str(exc)) from exc
    return key


def public_key_of(private_key: PrivateKey) -> TrustedKey:
    """The TrustedKey matching a private key."""
    public = private_key.public_key()
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return load_public_key(pem, "private key")


def sign(private_key: PrivateKey, data: bytes) -> bytes:
    """Sign ``data`` and return the ``manifest.sig`` content (base64 and a newline)."""
    if isinstance(private_key, ed25519.Ed25519PrivateKey):
        raw = private_key.sign(data)
    elif isinstance(private_key, ec.EllipticCurvePrivateKey):
        raw = private_key.sign(data, ec.ECDSA(hashes.SHA256()))
    else:
        raw = private_key.sign(
            data,
            padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH),
            hashes.SHA256(),
        )
    return base64.b64encode(raw) + b"\n"


def _verify_one(key: TrustedKey, signature: bytes, data: bytes) -> bool:
    public = serialization.load_pem_public_key(key.pem)
    try:
        if isinstance(public, ed25519.Ed25519PublicKey):
            public.verify(signature, data)
        elif isinstance(public, ec.EllipticCurvePublicKey):
            public.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        elif isinstance(public, rsa.RSAPublicKey):
            public.verify(
                signature,
                data,
                padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO),
                hashes.SHA256(),
            )
        else:  # pragma: no cover - load_public_key never admits other types
            return False
    except (InvalidSignature, ValueError):
        return False
    return True


def decode_signature(text: bytes, subject: str) -> bytes:
    """Decode ``manifest.sig``: base64, surrounding whitespace allowed, and line breaks
    (LF or CRLF) inside, as ``base64``, ``openssl base64`` and ``certutil`` wrap it (RFC
    4648 section 3.3 lets a format allow them). Any other character is refused.

    Raises:
        SignatureError: empty, oversized or not strict base64 (saying what is wrong).
    """
    if len(text) > MAX_SIGNATURE_TEXT:
        raise SignatureError(subject, "manifest.sig is too large to be a signature")
    body = text.strip()
    stray = _NOT_BASE64.search(body)
    if stray is not None:
        offset = len(text) - len(text.lstrip()) + stray.start()
        raise SignatureError(
            subject, f"manifest.sig is not base64: {_shown_byte(stray[0][0])} at offset {offset}"
        )
    try:
        raw = base64.b64decode(_LINE_BREAK.sub(b"", body), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureError(
            subject, "manifest.sig is not base64: its length or its '=' padding is wrong"
        ) from exc
    if not raw:
        raise SignatureError(subject, "manifest.sig is empty")
    return raw


# Anything but the standard alphabet, '=' and line breaks; a CR only as part of CRLF.
_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/=\r\n]|\r(?!\n)")
_LINE_BREAK = re.compile(rb"\r?\n")
_BYTE_NAMES = {0x20: "a space", 0x09: "a tab", 0x0D: "a carriage return without a line feed"}


def _shown_byte(byte: int) -> str:
    if byte in _BYTE_NAMES:
        return _BYTE_NAMES[byte]
    if 0x21 <= byte <= 0x7E:
        return repr(chr(byte))
    return f"byte 0x{byte:02x}"


def verify_signature(
    signature_text: bytes, data: bytes, keys: Sequence[TrustedKey], subject: str
) -> TrustedKey:
    """Return the trusted key whose signature over ``data`` is ``signature_text``.

    Raises:
        SignatureError: no trusted keys, a malformed signature, or no key verifies it.
    """
    raw = decode_signature(signature_text, subject)
    if not keys:
        raise SignatureError(
            subject,
            "no trusted publisher keys: add one with 'feedmgr trust add KEY.pem' or pass --trust",
        )
    for key in keys:
        if _verify_one(key, raw, data):
            return key
    raise SignatureError(
        subject, f"signature does not verify with any of the {len(keys)} trusted publisher key(s)"
    )
