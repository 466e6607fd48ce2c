"""Path building: verified, missing or misordered intermediates, untrusted roots."""

from __future__ import annotations

from functools import cache

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from feedmgr.certs.chain import ChainStatus, analyse_chain, validation_time
from tests.certs.factory import DAY, NOW, Issued, Leaf, make_ca, make_leaf, pki


@cache
def deep() -> tuple[Issued, Issued, Issued, Issued]:
    """root -> policy CA -> issuing CA -> leaf (two intermediates, so order can be wrong)."""
    root = make_ca("Deep Root", slot=80)
    policy = make_ca("Deep Policy CA", issuer=root, slot=81)
    issuing = make_ca("Deep Issuing CA", issuer=policy, slot=82)
    return root, policy, issuing, make_leaf(Leaf(), issuing, slot=83)


def test_verified_path() -> None:
    """Leaf plus its intermediate reaches the --ca root: verified, in order."""
    ca = pki()
    leaf = ca.leaf()
    result = analyse_chain(leaf.cert, [ca.intermediate.cert], [ca.root.cert], NOW)
    assert result.status is ChainStatus.VERIFIED
    assert result.path == (leaf.cert, ca.intermediate.cert, ca.root.cert)
    assert not result.misordered
    assert result.anchor == ca.root.cert


def test_missing_intermediate_is_named() -> None:
    """Without the intermediate the path stops, naming the issuer that is missing."""
    ca = pki()
    result = analyse_chain(ca.leaf().cert, [], [ca.root.cert], NOW)
    assert result.status is ChainStatus.MISSING_INTERMEDIATE
    assert result.missing_issuer == "CN=Test Issuing CA,O=feedmgr tests"


def test_missing_middle_intermediate() -> None:
    """With only the lower of two intermediates, the upper one is reported missing."""
    root, _policy, issuing, leaf = deep()
    result = analyse_chain(leaf.cert, [issuing.cert], [root.cert], NOW)
    assert result.status is ChainStatus.MISSING_INTERMEDIATE
    assert result.missing_issuer == "CN=Deep Policy CA,O=feedmgr tests"


@pytest.mark.parametrize(
    ("order", "misordered"),
    [(("issuing", "policy"), False), (("policy", "issuing"), True)],
)
def test_misordered_intermediates(order: tuple[str, str], misordered: bool) -> None:
    """All intermediates present but upside down: the path verifies, the order is flagged."""
    root, policy, issuing, leaf = deep()
    certs = {"issuing": issuing.cert, "policy": policy.cert}
    result = analyse_chain(leaf.cert, [certs[name] for name in order], [root.cert], NOW)
    assert result.status is ChainStatus.VERIFIED
    assert result.misordered is misordered
    assert result.path_order == (
        "CN=Deep Issuing CA,O=feedmgr tests",
        "CN=Deep Policy CA,O=feedmgr tests",
        "CN=Deep Root,O=feedmgr tests",
    )


def test_untrusted_root() -> None:
    """A chain ending at a root that is not an anchor is reported as untrusted."""
    ca = pki()
    other = make_ca("Other Root", slot=84)
    result = analyse_chain(ca.leaf().cert, [ca.intermediate.cert, ca.root.cert], [other.cert], NOW)
    assert result.status is ChainStatus.UNTRUSTED_ROOT
    assert result.path[-1] == ca.root.cert
    assert result.root_presented


def test_unused_certificate_listed() -> None:
    """A presented certificate that is not on the path is listed as unused."""
    ca = pki()
    stray = make_ca("Stray CA", slot=85)
    result = analyse_chain(ca.leaf().cert, [stray.cert, ca.intermediate.cert], [ca.root.cert], NOW)
    assert result.status is ChainStatus.VERIFIED
    assert result.unused == (stray.cert,)


def test_no_anchors() -> None:
    """Without anchors nothing can verify; that is its own status, not a crash."""
    ca = pki()
    result = analyse_chain(ca.leaf().cert, [ca.intermediate.cert], [], NOW)
    assert result.status is ChainStatus.NO_ANCHORS


def test_self_signed_leaf_pinned_as_anchor() -> None:
    """ISE's self-signed certificate given as its own --ca verifies (trust is pinned)."""
    self_signed = make_ca("psn1.corp.example", slot=86)
    result = analyse_chain(self_signed.cert, [], [self_signed.cert], NOW)
    assert result.status is ChainStatus.VERIFIED


def test_expired_leaf_does_not_break_the_path() -> None:
    """Expiry is cert.expired's finding: the path is built inside the leaf's validity."""
    ca = pki()
    leaf = ca.leaf(Leaf(not_before=NOW - 200 * DAY, days=100), slot=6)
    assert validation_time(leaf.cert, NOW) == leaf.cert.not_valid_after_utc
    result = analyse_chain(leaf.cert, [ca.intermediate.cert], [ca.root.cert], NOW)
    assert result.status is ChainStatus.VERIFIED


def test_ca_refusal_reason_passed_on() -> None:
    """A complete path the verifier refuses (RSA-1024 CA) keeps the verifier's reason."""
    root = make_ca("Small Root", key_kind="rsa2048", slot=87)
    inter = make_ca("Small Issuing", issuer=root, key_kind="rsa1024", slot=88)
    leaf = make_leaf(Leaf(), inter, slot=89)
    result = analyse_chain(leaf.cert, [inter.cert], [root.cert], NOW)
    assert result.status is ChainStatus.REFUSED
    assert result.reason is not None
    assert "weak" in result.reason.lower()


@pytest.mark.parametrize(
    ("usages", "status"),
    [
        ((ExtendedKeyUsageOID.SERVER_AUTH,), ChainStatus.VERIFIED),
        ((ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH), ChainStatus.VERIFIED),
        ((ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,), ChainStatus.VERIFIED),
        ((ExtendedKeyUsageOID.CLIENT_AUTH,), ChainStatus.REFUSED),
    ],
    ids=["serverAuth only", "serverAuth and clientAuth", "anyEKU", "clientAuth only"],
)
def test_ca_eku_is_checked_with_server_semantics(
    usages: tuple[x509.ObjectIdentifier, ...], status: ChainStatus
) -> None:
    """An issuing CA restricted to serverAuth (as Microsoft's and DigiCert's TLS CAs are)
    verifies a server certificate; one restricted to clientAuth cannot issue one."""
    root = pki().root
    issuing = make_ca(
        f"EKU Issuing {len(usages)} {usages[0].dotted_string}",
        issuer=root,
        slot=90 + len(usages),
        extensions=(x509.ExtendedKeyUsage(list(usages)),),
    )
    leaf = make_leaf(Leaf(), issuing, slot=93)
    result = analyse_chain(leaf.cert, [issuing.cert], [root.cert], NOW)
    assert result.status is status, result.reason
    if status is ChainStatus.REFUSED:
        assert "serverAuth" in (result.reason or "")


def test_verified_path_skips_an_expired_cross_sign() -> None:
    """Two paths: through an expired cross-signed CA and through the same CA's self-signed
    root in the store. The verified path is the valid one; the cross-sign is unused."""
    old_root = make_ca("Old Root", slot=100, not_before=NOW - 3000 * DAY, days=3650)
    new_root = make_ca("New Root", slot=101)
    cross = make_ca("New Root", issuer=old_root, slot=101, not_before=NOW - 2000 * DAY, days=1000)
    issuing = make_ca("Issuing Under New Root", issuer=new_root, slot=102)
    leaf = make_leaf(Leaf(), issuing, slot=103)
    result = analyse_chain(
        leaf.cert, [issuing.cert, cross.cert], [new_root.cert, old_root.cert], NOW
    )
    assert result.status is ChainStatus.VERIFIED
    assert result.path == (leaf.cert, issuing.cert, new_root.cert)
    assert result.unused == (cross.cert,)
