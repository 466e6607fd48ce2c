"""Loading certificates in every container, and finding the leaf wherever it sits."""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from feedmgr.certs.grade import GradeOptions, Trust, grade_bundle
from feedmgr.certs.identity import IpReference, reference
from feedmgr.certs.load import (
    bundle_from,
    find_leaf,
    load_bundle,
    parse_certificates,
    read_certificates,
)
from feedmgr.errors import InputRejected, ParseError
from tests.certs.factory import NOW, Leaf, make_ca, make_leaf, pki, write_der, write_p7b, write_pem
from tests.conftest import DATA


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


def test_pkcs7_chain_under_a_certificate_label(tmp_path: Path) -> None:
    """A PKCS#7 chain labelled CERTIFICATE (as some CA web front ends write it) is read as
    the chain it holds, not refused as a malformed certificate."""
    ca = pki()
    leaf = ca.leaf()
    p7b = write_p7b(tmp_path / "certnew.p7b", leaf.cert, ca.intermediate.cert, pem=True)
    p7b.write_bytes(p7b.read_bytes().replace(b"PKCS7", b"CERTIFICATE"))
    assert set(read_certificates(p7b)) == {leaf.cert, ca.intermediate.cert}


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
        pytest.param(lambda pem: pem.replace(b"-----\n", b"----- \n", 1), id="space after BEGIN"),
        pytest.param(
            lambda pem: pem.replace(b"-----\n", b"-----\t \r\n", 1), id="tab and CRLF after BEGIN"
        ),
    ],
)
def test_pem_variants(tmp_path: Path, wrap: Callable[[bytes], bytes]) -> None:
    """CRLF line ends, OpenSSL bag attributes, the old X509 label and blanks after the BEGIN
    line (as OpenSSL accepts them) all load."""
    leaf = pki().leaf()
    path = tmp_path / "variant.pem"
    path.write_bytes(wrap(leaf.pem()))
    assert read_certificates(path) == (leaf.cert,)


def test_intermediate_with_blank_after_begin_is_on_the_path(tmp_path: Path) -> None:
    """An intermediate whose BEGIN line ends in a space (pasted from a mail or a web page)
    is read: the path verifies instead of reporting it missing."""
    ca = pki()
    leaf = ca.leaf()
    pasted = ca.intermediate.pem().replace(b"-----\n", b"----- \n", 1)
    path = tmp_path / "fullchain.pem"
    path.write_bytes(leaf.pem() + pasted)
    assert load_bundle(path).presented == (ca.intermediate.cert,)


@pytest.mark.parametrize(
    "tail",
    [
        pytest.param(b"-----BEGIN CERTIFICATE-----\nAAAA\n", id="no END line"),
        pytest.param(b"-----BEGIN CERTIFICATE----- issuing CA\nAAAA\n", id="text after BEGIN"),
        pytest.param(b"-----BEGIN PKCS7-----\nAAAA\n", id="PKCS7 without END"),
    ],
)
def test_incomplete_certificate_block_is_refused(tmp_path: Path, tail: bytes) -> None:
    """A certificate block that cannot be read whole is an error naming its line, never
    silently dropped (the chain would be judged without it)."""
    leaf = pki().leaf()
    path = tmp_path / "chain.pem"
    path.write_bytes(b"# chain\n" + leaf.pem() + tail)
    begin_line = 1 + leaf.pem().count(b"\n") + 1
    with pytest.raises(ParseError) as info:
        read_certificates(path)
    assert info.value.subject == str(path)
    assert info.value.problem.startswith(f"line {begin_line}: ")
    assert "PEM block is incomplete" in info.value.problem


def test_block_started_inside_another_is_refused(tmp_path: Path) -> None:
    """An unterminated block followed by a whole one names the inner BEGIN line."""
    ca = pki()
    path = tmp_path / "chain.pem"
    path.write_bytes(b"-----BEGIN CERTIFICATE-----\nAAAA\n" + ca.intermediate.pem())
    with pytest.raises(ParseError, match="line 3: the CERTIFICATE PEM block is incomplete"):
        read_certificates(path)


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


# -- only clean errors ---------------------------------------------------------------------
# Every parser that reads certificates (PEM, DER, PKCS#7, chains of files) either returns
# certificates that grade without an exception, or raises ParseError / InputRejected naming
# the file. The examples run on every machine; `--hypothesis-profile=feedmgr-deep` (README,
# "Tests") searches with many more.

REAL_CHAINS = DATA / "certs" / "chains"
REAL_CERTS: tuple[bytes, ...] = tuple(
    cert.public_bytes(serialization.Encoding.DER)
    for site in ("microsoft.com", "akamai.com", "fastly.com")
    for name in ("leaf.pem", "chain.pem")
    for cert in read_certificates(REAL_CHAINS / site / name)
)
MICROSOFT_LEAF = REAL_CERTS[0]
_CN_OID = bytes.fromhex("0603550403")
_AKI_OID = bytes.fromhex("0603551d23")
_SAN_OID = bytes.fromhex("0603551d11")


def _first_general_name(der: bytes) -> int:
    """Offset of the first GeneralName's tag in the subjectAltName of ``der``."""
    at = der.index(_SAN_OID) + len(_SAN_OID)
    if der[at] == 0x01:  # critical BOOLEAN
        at += 3
    for _ in range(2):  # the OCTET STRING, then the SEQUENCE OF GeneralName
        at += 1
        at += 1 + (der[at] & 0x7F if der[at] & 0x80 else 0)
    return at


# The known failures, placed on microsoft.com's leaf (the first one was found as cut=58,
# flip=3 on a generated leaf: the same byte, the tag of the issuer's first attribute value).
BIT_STRING_ISSUER_ATTRIBUTE = MICROSOFT_LEAF.index(_CN_OID) + len(_CN_OID)  # TypeError
VERSION_BYTE = 12  # v2 where v3 is expected: InvalidVersion
AKI_OID_LAST_BYTE = MICROSOFT_LEAF.index(_AKI_OID) + len(_AKI_OID) - 1  # -> a second SKI
SAN_FIRST_NAME_TAG = _first_general_name(MICROSOFT_LEAF)  # -> x400Address [3]


def _grade_quietly(certs: tuple[x509.Certificate, ...]) -> None:
    # What the loader accepted must grade: a crash here is exit 70 in `cert check`.
    bundle = bundle_from(certs[:1], "fuzz", certs[1:])
    grade_bundle(
        bundle,
        [reference("psn1.corp.example"), IpReference(ipaddress.ip_address("10.1.1.21"))],
        Trust(tuple(read_certificates(REAL_CHAINS / "microsoft.com" / "root.pem")), "t"),
        GradeOptions(NOW, public_ca=True),
    )


def _rejection(load: Callable[[], object]) -> InputRejected | None:
    try:
        load()
    except InputRejected as exc:
        return exc
    return None


def _parse_and_grade(blob: bytes) -> None:
    rejected = _rejection(lambda: parse_certificates(blob, "fuzz"))
    if rejected is not None:
        assert rejected.subject == "fuzz"
        return
    certs = parse_certificates(blob, "fuzz")
    assert certs
    with contextlib.suppress(InputRejected):
        _grade_quietly(certs)


@given(data=st.binary(max_size=512))
def test_parser_raises_only_parse_error(data: bytes) -> None:
    """No byte string makes the parser raise anything but ParseError."""
    _parse_and_grade(data)


@given(
    base=st.integers(0, len(REAL_CERTS) - 1),
    cut=st.integers(min_value=0, max_value=7000),
    flip=st.integers(0, 255),
)
@example(base=0, cut=BIT_STRING_ISSUER_ATTRIBUTE, flip=0x03)
@example(base=0, cut=VERSION_BYTE, flip=1)
@example(base=0, cut=AKI_OID_LAST_BYTE, flip=0x0E)
@example(base=0, cut=SAN_FIRST_NAME_TAG, flip=0xA3)
def test_mangled_real_certificate(base: int, cut: int, flip: int) -> None:
    """A real DER certificate truncated or with one byte changed is graded or rejected as
    input, never a crash."""
    der = bytearray(REAL_CERTS[base])
    der[cut % len(der)] = flip
    for blob in (bytes(der), bytes(der[:cut])):
        _parse_and_grade(blob)


def test_known_mangled_certificates_are_rejected() -> None:
    """Each known malformation of a real certificate is a ParseError naming the input."""
    for cut, flip in (
        (BIT_STRING_ISSUER_ATTRIBUTE, 0x03),
        (VERSION_BYTE, 1),
        (AKI_OID_LAST_BYTE, 0x0E),
        (SAN_FIRST_NAME_TAG, 0xA3),
    ):
        der = bytearray(MICROSOFT_LEAF)
        der[cut] = flip
        with pytest.raises(ParseError) as info:
            parse_certificates(bytes(der), "psn.cer")
        assert info.value.subject == "psn.cer"
        assert "malformed" in info.value.problem or "not a certificate" in info.value.problem


def _mangle(blob: bytes, position: int, flip: int) -> bytes:
    data = bytearray(blob)
    data[position % len(data)] = flip
    return bytes(data)


@given(position=st.integers(0, 20_000), flip=st.integers(0, 255), cut=st.integers(0, 20_000))
def test_mangled_pem_chain(position: int, flip: int, cut: int) -> None:
    """A real PEM chain with one character changed, or cut short, is graded or rejected."""
    pem = (REAL_CHAINS / "microsoft.com" / "chain.pem").read_bytes()
    pem = (REAL_CHAINS / "microsoft.com" / "leaf.pem").read_bytes() + pem
    _parse_and_grade(_mangle(pem, position, flip)[:cut] if cut else _mangle(pem, position, flip))


@given(position=st.integers(0, 20_000), flip=st.integers(0, 255), cut=st.integers(0, 20_000))
def test_mangled_pkcs7_bundle(position: int, flip: int, cut: int) -> None:
    """A real chain as DER PKCS#7 with one byte changed, or cut short, is graded or
    rejected."""
    certs = [
        *read_certificates(REAL_CHAINS / "akamai.com" / "leaf.pem"),
        *read_certificates(REAL_CHAINS / "akamai.com" / "chain.pem"),
    ]
    p7b = pkcs7.serialize_certificates(certs, serialization.Encoding.DER)
    _parse_and_grade(_mangle(p7b, position, flip)[:cut] if cut else _mangle(p7b, position, flip))


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(position=st.integers(0, 20_000), flip=st.integers(0, 255))
def test_mangled_chain_file_is_named(tmp_path: Path, position: int, flip: int) -> None:
    """CERT plus a damaged --chain file: the bundle loads, or the error names the chain
    file (the one holding the bad certificate), never CERT."""
    leaf = REAL_CHAINS / "microsoft.com" / "leaf.pem"
    chain = tmp_path / "chain.pem"
    chain.write_bytes(
        _mangle((REAL_CHAINS / "microsoft.com" / "chain.pem").read_bytes(), position, flip)
    )
    rejected = _rejection(lambda: load_bundle(leaf, [chain]))
    if rejected is not None:
        assert rejected.subject == str(chain)
        return
    bundle = load_bundle(leaf, [chain])
    _grade_quietly((bundle.leaf, *bundle.presented))
