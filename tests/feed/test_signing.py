"""Publisher keys: which algorithms sign feeds, and what verification refuses."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from feedmgr.errors import InputRejected, SignatureError
from feedmgr.feed.signing import (
    PrivateKey,
    load_private_key,
    load_public_key,
    public_key_of,
    sign,
    verify_signature,
)

ACCEPTED: dict[str, Callable[[], PrivateKey]] = {
    "ed25519": ed25519.Ed25519PrivateKey.generate,
    "ecdsa-p256": lambda: ec.generate_private_key(ec.SECP256R1()),
    "rsa-pss-3072": lambda: rsa.generate_private_key(public_exponent=65537, key_size=3072),
}


def _public_pem(key: object) -> bytes:
    return key.public_key().public_bytes(  # type: ignore[attr-defined, no-any-return]
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.mark.parametrize("algorithm", sorted(ACCEPTED))
def test_accepted_algorithms_sign_and_verify(algorithm: str) -> None:
    """Ed25519, ECDSA P-256 and RSA-PSS 3072 signatures verify with the matching key."""
    key = ACCEPTED[algorithm]()
    trusted = public_key_of(key)
    data = b'{"manifest": true}'
    assert verify_signature(sign(key, data), data, [trusted], "feed.zip") == trusted


@pytest.mark.parametrize("algorithm", sorted(ACCEPTED))
def test_one_changed_byte_fails_verification(algorithm: str) -> None:
    """A signature over other bytes does not verify."""
    key = ACCEPTED[algorithm]()
    signature = sign(key, b"original")
    with pytest.raises(SignatureError, match="does not verify"):
        verify_signature(signature, b"0riginal", [public_key_of(key)], "feed.zip")


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048), "too small"),
        (lambda: ec.generate_private_key(ec.SECP384R1()), "only P-256"),
    ],
)
def test_weak_or_unexpected_keys_are_refused(make: Callable[[], object], reason: str) -> None:
    """RSA below 3072 bits and curves other than P-256 cannot become trusted keys."""
    with pytest.raises(InputRejected, match=reason):
        load_public_key(_public_pem(make()), "key.pem")


def test_garbage_is_not_a_key() -> None:
    """Text that is not PEM is rejected naming the file."""
    with pytest.raises(InputRejected, match="not a PEM public key") as info:
        load_public_key(b"hello", "key.pem")
    assert info.value.subject == "key.pem"
    with pytest.raises(InputRejected, match="private key"):
        load_private_key(b"hello", "key.pem")


def test_no_trusted_keys_says_how_to_add_one() -> None:
    """Verification without any trusted key explains 'feedmgr trust add'."""
    key = ed25519.Ed25519PrivateKey.generate()
    with pytest.raises(SignatureError, match="feedmgr trust add"):
        verify_signature(sign(key, b"x"), b"x", [], "feed.zip")


def test_fingerprint_is_stable_and_names_the_key() -> None:
    """The same public key always has the same sha256 fingerprint."""
    key = ed25519.Ed25519PrivateKey.generate()
    first = load_public_key(_public_pem(key), "a.pem")
    second = load_public_key(_public_pem(key), "b.pem")
    assert first.fingerprint == second.fingerprint
    assert first.fingerprint.startswith("sha256:")
    assert len(first.short_id) == 16


def test_trust_cli_add_list_remove(run_cli: object, tmp_path: object) -> None:
    """trust add is idempotent, list shows the key, remove by fingerprint prefix works."""
    from pathlib import Path

    from tests.conftest import RunCli

    assert isinstance(tmp_path, Path)
    cli: RunCli = run_cli  # type: ignore[assignment]
    pem = tmp_path / "k.pem"
    pem.write_bytes(_public_pem(ed25519.Ed25519PrivateKey.generate()))
    added = cli("trust", "add", pem, "--name", "vendor", "--format", "json").json()
    assert added["added"] is True
    assert cli("trust", "add", pem, "--format", "json").json()["added"] is False
    listed = cli("trust", "list", "--format", "json").json()
    assert [k["name"] for k in listed] == ["vendor"]
    assert cli("trust", "remove", "sha256:ab").code == 2
    prefix = added["fingerprint"][:20]
    assert cli("trust", "remove", prefix).code == 0
    assert cli("trust", "list", "--format", "json").json() == []


def test_a_pem_file_with_two_public_keys_is_refused() -> None:
    """A key bundle (current + next key) is refused, not trusted by its first key alone."""
    bundle = _public_pem(ed25519.Ed25519PrivateKey.generate()) + _public_pem(
        ec.generate_private_key(ec.SECP256R1())
    )
    with pytest.raises(InputRejected, match="2 keys in the file; give one key per file"):
        load_public_key(bundle, "keys.pem")


def _wrapped(text: bytes, width: int, newline: bytes) -> bytes:
    return b"".join(text[i : i + width] + newline for i in range(0, len(text), width))


@pytest.mark.parametrize(
    ("width", "newline"),
    [(76, b"\n"), (64, b"\n"), (64, b"\r\n"), (4, b"\n")],
    ids=["coreutils-base64", "openssl-base64", "windows-certutil", "every-4"],
)
def test_a_line_wrapped_signature_verifies(width: int, newline: bytes) -> None:
    """base64 tools wrap lines (RFC 4648 3.3 lets a format allow it): the signature holds."""
    import base64

    from feedmgr.feed.signing import decode_signature

    key = ed25519.Ed25519PrivateKey.generate()
    data = b'{"manifest": true}'
    raw = key.sign(data)
    text = _wrapped(base64.b64encode(raw), width, newline)
    assert decode_signature(text, "feed.zip") == raw
    trusted = load_public_key(_public_pem(key), "pub.pem")
    assert verify_signature(text, data, [trusted], "feed.zip") == trusted


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (b"YWJj ZGVm", "a space at offset 4"),
        (b"YWJj\tZGVm", "a tab at offset 4"),
        (b"YWJj%ZGVm", "'%' at offset 4"),
        (b"YWJjZGV", "its length or its '=' padding is wrong"),
        (b"YW=jZGVm", "its length or its '=' padding is wrong"),
    ],
)
def test_a_signature_that_is_not_base64_says_what_is_wrong(text: bytes, problem: str) -> None:
    """Characters outside the base64 alphabet and line breaks are named, with their offset."""
    from feedmgr.feed.signing import decode_signature

    with pytest.raises(SignatureError, match=f"manifest.sig is not base64: {problem}"):
        decode_signature(text, "feed.zip")
