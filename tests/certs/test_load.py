"""Loading certificates in every container, and finding the leaf wherever it sits."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from hypothesis import example, given, settings
from hypothesis import strategies as st

from feedmgr.certs.load import (
    find_leaf,
    load_bundle,
    parse_certificates,
    read_certificates,
)
from feedmgr.errors import InputRejected, ParseError
from tests.certs.factory import Leaf, make_ca, make_leaf, pki, write_der, write_p7b, write_pem


def _pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


Writer = Callable[[Path], Path]


def _writers() -> list[tuple[str, Callable[[Path, list[x509.Certificate]], Path]]]:
    return [
        ("pem leaf first", lambda p, cs: write_pem(p, *cs)),
        ("pem reversed", lambda p, cs: write_pem(p, *reversed(cs))),
        ("pem leaf in the middle", lambda p, cs: write_pem(p, cs[1], cs[0], cs[2])),
        ("pkcs7 der", lambda p, cs: write_p7b(p, *reversed(cs))),
        ("pkcs7 pem", lambda p, cs: write_p7b(p, cs[2], cs[0], cs[1], pem=True)),
    ]


@pytest.mark.parametrize(("label", "writer"), _writers(), ids=[w[0] for w in _writers()])
def test_leaf_is_found_not_assumed_first(
    tmp_path: Path, label: str, writer: Callable[[Path, list[x509.Certificate]], Path]
) -> None:
    """Whatever the container and order, the leaf is the certificate that issued nothing."""
    ca = pki()
    leaf = ca.leaf()
    path = writer(tmp_path / "bundle", [leaf.cert, ca.intermediate.cert, ca.root.cert])
    bundle = load_bundle(path)
    assert bundle.leaf == leaf.cert, label
    assert set(bundle.presented) == {ca.intermediate.cert, ca.root.cert}


@pytest.mark.parametrize("label", [b"PKCS7", b"CMS", b"PKCS #7 SIGNED DATA"])
def test_pkcs7_pem_labels(tmp_path: Path, label: bytes) -> None:
    """PEM PKCS#7 loads under each label OpenSSL and Windows use."""
    ca = pki()
    leaf = ca.leaf()
    pem = write_p7b(tmp_path / "b.p7b", ca.intermediate.cert, leaf.cert, pem=True).read_bytes()
    path = tmp_path / "relabelled.p7b"
    path.write_bytes(pem.replace(b"PKCS7", label))
    assert load_bundle(path).leaf == leaf.cert


def test_der_single_certificate(tmp_path: Path) -> None:
    """A DER file holds exactly one certificate, which is the leaf."""
    leaf = pki().leaf()
    bundle = load_bundle(write_der(tmp_path / "leaf.cer", leaf.cert))
    assert bundle.leaf == leaf.cert
    assert bundle.presented == ()


def test_chain_file_supplies_issuers_but_not_the_leaf(tmp_path: Path) -> None:
    """--chain certificates are issuers only; the order of the chain files is kept."""
    ca = pki()
    leaf = ca.leaf()
    cert = write_pem(tmp_path / "leaf.pem", leaf.cert)
    chain = write_p7b(tmp_path / "chain.p7b", ca.root.cert, ca.intermediate.cert)
    bundle = load_bundle(cert, [chain])
    assert bundle.leaf == leaf.cert
    assert bundle.presented == (ca.root.cert, ca.intermediate.cert)


def test_private_key_blocks_are_skipped(tmp_path: Path) -> None:
    """An ISE export with the key in the same PEM still loads; the key is ignored."""
    leaf = pki().leaf()
    path = tmp_path / "export.pem"
    path.write_bytes(leaf.key_pem() + leaf.pem())
    assert read_certificates(path) == (leaf.cert,)


@pytest.mark.parametrize(
    "wrap",
    [
        pytest.param(lambda pem: pem.replace(b"\n", b"\r\n"), id="crlf"),
        pytest.param(
            lambda pem: b"Bag Attributes\n    friendlyName: psn\n" + pem, id="openssl bag"
        ),
        pytest.param(lambda pem: pem.replace(b"CERTIFICATE", b"X509 CERTIFICATE"), id="x509 label"),
        pytest.param(lambda pem: pem + b"-----BEGIN CERTIFICATE-----\nAAAA\n", id="unterminated"),
    ],
)
def test_pem_variants(tmp_path: Path, wrap: Callable[[bytes], bytes]) -> None:
    """CRLF line ends, OpenSSL bag attributes and the old X509 label all load."""
    leaf = pki().leaf()
    path = tmp_path / "variant.pem"
    path.write_bytes(wrap(leaf.pem()))
    assert read_certificates(path) == (leaf.cert,)


def test_duplicates_are_dropped(tmp_path: Path) -> None:
    """The same intermediate twice is presented once."""
    ca = pki()
    leaf = ca.leaf()
    path = write_pem(tmp_path / "dup.pem", leaf.cert, ca.intermediate.cert, ca.intermediate.cert)
    assert load_bundle(path).presented == (ca.intermediate.cert,)


def test_sha1_chain_leaf_found(tmp_path: Path) -> None:
    """A leaf under a SHA-1 intermediate (signature not checkable) is still found."""
    root = make_ca("Weak Root", key_kind="rsa2048", slot=30)
    inter = make_ca("Weak Issuing", issuer=root, key_kind="rsa2048", slot=31, digest="sha1")
    leaf = make_leaf(Leaf(digest="sha1"), inter, slot=32)
    path = write_pem(tmp_path / "weak.pem", inter.cert, leaf.cert, root.cert)
    assert load_bundle(path).leaf == leaf.cert


def test_two_unrelated_leaves_rejected(tmp_path: Path) -> None:
    """Two possible server certificates in one file are an input error naming both."""
    ca = pki()
    one = ca.leaf(Leaf(dns=("a.corp.example",), cn="a.corp.example"), slot=2)
    two = ca.leaf(Leaf(dns=("b.corp.example",), cn="b.corp.example"), slot=3)
    path = write_pem(tmp_path / "two.pem", one.cert, two.cert, ca.intermediate.cert)
    with pytest.raises(InputRejected) as info:
        load_bundle(path)
    assert info.value.subject == str(path)
    assert len(info.value.details["subjects"]) == 2


def test_unrelated_root_does_not_hide_the_leaf() -> None:
    """A bundle with an unrelated CA certificate still yields the end-entity leaf."""
    ca = pki()
    other = make_ca("Unrelated Root", slot=40)
    leaf = ca.leaf()
    assert find_leaf([other.cert, leaf.cert], [], "x") == leaf.cert


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "neither PEM, DER nor PKCS#7"),
        (b"hello world", "neither PEM, DER nor PKCS#7"),
        (b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "no PEM certificate"),
        (b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "malformed"),
        (b"-----BEGIN PKCS7-----\nAAAA\n-----END PKCS7-----\n", "PKCS#7"),
        (b"\x30\x82\x01\x00" + b"\x00" * 20, "neither PEM, DER nor PKCS#7"),
    ],
)
def test_unparseable_input_names_the_file(tmp_path: Path, content: bytes, problem: str) -> None:
    """Garbage is a ParseError (exit 3) whose subject is the file and problem says why."""
    path = tmp_path / "bad.pem"
    path.write_bytes(content)
    with pytest.raises(ParseError) as info:
        read_certificates(path)
    assert info.value.subject == str(path)
    assert problem in info.value.problem


def test_truncated_pem_is_rejected(tmp_path: Path) -> None:
    """A PEM cut in half is rejected with the file named, never a traceback."""
    pem = pki().leaf().pem()
    path = tmp_path / "cut.pem"
    path.write_bytes(pem[: len(pem) // 2] + b"\n-----END CERTIFICATE-----\n")
    with pytest.raises(ParseError):
        read_certificates(path)


def test_unreadable_file(tmp_path: Path) -> None:
    """A directory or missing path is a ParseError, not an OSError."""
    with pytest.raises(ParseError):
        read_certificates(tmp_path)


@settings(max_examples=200)
@given(data=st.binary(max_size=512))
def test_parser_raises_only_parse_error(data: bytes) -> None:
    """No byte string makes the parser raise anything but ParseError."""
    try:
        certs = parse_certificates(data, "fuzz")
    except ParseError:
        return
    assert certs


@settings(max_examples=500)
@given(cut=st.integers(min_value=0, max_value=2000), flip=st.integers(0, 255))
@example(cut=12, flip=1)  # version v2 where v3 is expected: cryptography's InvalidVersion
@example(cut=884, flip=165)  # an x400Address SAN: UnsupportedGeneralNameType
@example(cut=396, flip=14)  # two subjectKeyIdentifier extensions: DuplicateExtension
def test_mangled_real_certificate(cut: int, flip: int) -> None:
    """A real DER certificate truncated or with one byte changed still only raises ParseError."""
    der = bytearray(pki().leaf().cert.public_bytes(serialization.Encoding.DER))
    position = cut % len(der)
    der[position] = flip
    for blob in (bytes(der), bytes(der[:cut])):
        with contextlib.suppress(ParseError):
            parse_certificates(blob, "fuzz")
