"""Refused paths explained: which certificate is at fault, and a fix that mends that one."""

from __future__ import annotations

import datetime as dt
import ipaddress

import pytest
from cryptography import x509

from feedmgr.certs.grade import GradeOptions, Trust, grade_bundle
from feedmgr.certs.identity import reference
from feedmgr.certs.load import CertBundle
from feedmgr.certs.refusal import brief
from feedmgr.findings import Finding, Severity
from tests.certs.factory import DAY, NOW, Issued, Leaf, make_ca, make_leaf


def chain_finding(leaf: Issued, inter: Issued, root: Issued, now: dt.datetime = NOW) -> Finding:
    """The failing cert.chain finding of grading ``leaf`` over ``inter`` against ``root``."""
    bundle = CertBundle(leaf.cert, (inter.cert,), "psn.pem")
    findings = grade_bundle(
        bundle, [reference("psn1.corp.example")], Trust((root.cert,), "t"), GradeOptions(now)
    )
    (refused,) = [f for f in findings if f.check == "cert.chain" and f.severity > Severity.INFO]
    assert refused.data["status"] == "refused"
    return refused


def test_sha1_leaf_is_reissued_not_its_ca() -> None:
    """A SHA-1 signed PSN certificate under a sound CA: the fix reissues the PSN
    certificate, and the reason names it in words, not the verifier's debug dump."""
    root = make_ca("Corp Root CA", key_kind="rsa2048", slot=80)
    inter = make_ca("Corp Issuing CA", issuer=root, key_kind="rsa2048", slot=81)
    leaf = make_leaf(Leaf(digest="sha1"), inter, slot=82)
    refused = chain_finding(leaf, inter, root)
    assert "leaf psn1.corp.example is signed with SHA1" in refused.message
    assert "{" not in refused.message
    assert refused.fix.startswith("reissue the PSN certificate with a SHA-256 signature")
    assert refused.data["culprit_role"] == "leaf"


def test_sha1_intermediate_is_reissued_by_the_ca() -> None:
    """A SHA-1 signed intermediate: the CA reissues that intermediate."""
    root = make_ca("Corp Root CA", key_kind="rsa2048", slot=80)
    inter = make_ca("Old Issuing CA", issuer=root, key_kind="rsa2048", slot=83, digest="sha1")
    leaf = make_leaf(Leaf(), inter, slot=84)
    refused = chain_finding(leaf, inter, root)
    assert "issuing CA Old Issuing CA is signed with SHA1" in refused.message
    assert refused.fix.startswith("have the CA reissue Old Issuing CA")
    assert refused.data["culprit"] == "Old Issuing CA"


@pytest.mark.parametrize(
    ("key_kind", "described"),
    [("rsa1024", "a 1024-bit RSA key"), ("ed25519", "an Ed25519 key")],
)
def test_weak_ca_key_names_the_ca(key_kind: str, described: str) -> None:
    """An intermediate whose key the verifier forbids is named with its key."""
    root = make_ca("Corp Root CA", slot=85)
    inter = make_ca("Weak Issuing CA", issuer=root, key_kind=key_kind, slot=86)
    leaf = make_leaf(Leaf(), inter, slot=87)
    refused = chain_finding(leaf, inter, root)
    assert f"issuing CA Weak Issuing CA has {described}" in refused.message
    assert refused.fix.startswith("have the CA reissue Weak Issuing CA")


def test_name_outside_constraints_reissues_the_leaf_and_names_the_name() -> None:
    """A PSN name outside the intermediate's permitted subtree: the leaf is reissued, the
    constraint is not to be widened, and the offending name is named."""
    root = make_ca("Corp Root CA", slot=88)
    constraints = x509.NameConstraints(
        permitted_subtrees=[x509.DNSName("corp.example")], excluded_subtrees=None
    )
    inter = make_ca("Constrained CA", issuer=root, slot=89, extensions=[constraints])
    leaf = make_leaf(Leaf(dns=("psn1.corp.example", "ise.corp-guest.example")), inter, slot=90)
    refused = chain_finding(leaf, inter, root)
    assert "(ise.corp-guest.example) are outside the name constraints of Constrained CA" in (
        refused.message
    )
    assert "psn1.corp.example," not in refused.message
    assert refused.fix.startswith("reissue the PSN certificate with only names")
    assert "do not widen" in refused.fix


def test_expired_root_is_named_with_a_root_fix() -> None:
    """At a time past the root's notAfter (inside the leaf's validity) the refused path
    names the root, and the fix renews the root on the endpoints, not the PSN."""
    root = make_ca("Old Root CA", slot=91, not_before=NOW - 100 * DAY, days=120)
    inter = make_ca("Corp Issuing CA", issuer=root, slot=92)
    leaf = make_leaf(Leaf(), inter, slot=93)
    refused = chain_finding(leaf, inter, root, now=NOW + 30 * DAY)
    assert "trust anchor Old Root CA expired on" in refused.message
    assert "renew the root CA" in refused.fix


@pytest.mark.parametrize(
    ("name", "constraint", "inside"),
    [
        # RFC 5280 4.2.1.10: host.example.com covers itself and names below it.
        ("host.example.com", "host.example.com", True),
        ("www.host.example.com", "host.example.com", True),
        ("myhost.example.com", "host.example.com", False),
        ("host.example.com", ".example.com", True),
        ("example.com", ".example.com", False),
        ("HOST.Example.COM.", "host.example.com", True),
    ],
)
def test_dns_constraint_matching(name: str, constraint: str, inside: bool) -> None:
    """Which PSN names a dNSName constraint covers, as RFC 5280 defines it."""
    from feedmgr.certs.refusal import _within

    assert _within(x509.DNSName(name), x509.DNSName(constraint)) is inside


def test_ip_constraint_matching() -> None:
    """An iPAddress constraint is a network: addresses in it are inside."""
    from feedmgr.certs.refusal import _within

    subtree = x509.IPAddress(ipaddress.ip_network("10.1.0.0/16"))
    assert _within(x509.IPAddress(ipaddress.ip_address("10.1.2.3")), subtree)
    assert not _within(x509.IPAddress(ipaddress.ip_address("10.2.0.1")), subtree)


def test_brief_drops_debug_dumps() -> None:
    """The verifier's Rust debug text is cut; its words are kept."""
    reason = (
        "validation failed: candidates exhausted: Forbidden signature algorithm: "
        "AlgorithmIdentifier { oid: DefinedByMarker(PhantomData), params: RsaWithSha1(None) }"
    )
    assert brief(reason) == "Forbidden signature algorithm"
