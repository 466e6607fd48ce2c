"""The check table: (certificate recipe, reference identities, expected check ids)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID

from feedmgr.certs.checks import CHECK_IDS, CHECKS, parse_at
from feedmgr.certs.grade import GradeOptions, Trust, grade_bundle
from feedmgr.certs.identity import reference
from feedmgr.certs.load import CertBundle
from feedmgr.errors import UsageError
from feedmgr.findings import Finding, Severity
from tests.certs.factory import DAY, NOW, Leaf, make_ca, make_leaf, pki

UTC = dt.UTC


def grade(
    recipe: Leaf,
    refs: Sequence[str] = ("psn1.corp.example",),
    *,
    public_ca: bool = False,
    now: dt.datetime = NOW,
) -> tuple[Finding, ...]:
    """Issue the recipe under the test PKI and grade it against the test root."""
    ca = pki()
    leaf = ca.leaf(recipe, slot=5)
    bundle = CertBundle(leaf.cert, (ca.intermediate.cert,), "psn.pem")
    trust = Trust((ca.root.cert,), "test root")
    return grade_bundle(
        bundle, [reference(r) for r in refs], trust, GradeOptions(now, public_ca=public_ca)
    )


def problems(findings: Sequence[Finding]) -> dict[str, str]:
    """check id -> worst severity label, for findings above info."""
    worst: dict[str, Severity] = {}
    for f in findings:
        if f.severity > Severity.INFO:
            worst[f.check] = max(worst.get(f.check, f.severity), f.severity)
    return {check: severity.label for check, severity in worst.items()}


OTHER_CN = "ISE PSN"
BEFORE_SC081 = dt.datetime(2026, 3, 1, tzinfo=UTC)
CASES: list[tuple[str, Leaf, tuple[str, ...], dict[str, str]]] = [
    ("exact name", Leaf(), ("psn1.corp.example",), {}),
    (
        "several names and an IP",
        Leaf(dns=("psn1.corp.example", "psn2.corp.example"), ips=("10.1.1.21",)),
        ("psn1.corp.example", "psn2.corp.example", "10.1.1.21"),
        {},
    ),
    ("ipv6 in iPAddress", Leaf(ips=("2001:db8::21",)), ("2001:db8::21",), {}),
    ("wildcard one label", Leaf(dns=("*.corp.example",), cn=OTHER_CN), ("psn1.corp.example",), {}),
    (
        "wildcard not bare domain",
        Leaf(dns=("*.corp.example",), cn=OTHER_CN),
        ("corp.example",),
        {"cert.identity": "fail"},
    ),
    (
        "wildcard not two labels",
        Leaf(dns=("*.corp.example",), cn=OTHER_CN),
        ("a.psn1.corp.example",),
        {"cert.identity": "fail"},
    ),
    (
        "partial wildcard",
        Leaf(dns=("psn*.corp.example",), cn=OTHER_CN),
        ("psn1.corp.example",),
        {"cert.identity": "fail"},
    ),
    (
        "IDN reference as A-label",
        Leaf(dns=("xn--bcher-kva.corp.example",), cn=OTHER_CN),
        ("bücher.corp.example",),
        {},
    ),
    ("case and trailing dot", Leaf(dns=("PSN1.Corp.Example",)), ("psn1.corp.example.",), {}),
    (
        "IP only in dNSName",
        Leaf(dns=("psn1.corp.example", "10.1.1.21")),
        ("10.1.1.21",),
        {"cert.identity": "fail", "cert.ip-as-dns": "warn"},
    ),
    (
        "IP in both",
        Leaf(dns=("10.1.1.21",), ips=("10.1.1.21",), cn=OTHER_CN),
        ("10.1.1.21",),
        {"cert.ip-as-dns": "warn"},
    ),
    ("IP reference never matches a DNS name", Leaf(), ("10.1.1.21",), {"cert.identity": "fail"}),
    (
        "no SAN at all",
        Leaf(san=False),
        ("psn1.corp.example",),
        {"cert.no-san": "fail", "cert.identity": "fail", "cert.cn-only-match": "fail"},
    ),
    (
        "name only in CN",
        Leaf(dns=("other.corp.example",)),
        ("psn1.corp.example",),
        {"cert.identity": "fail", "cert.cn-only-match": "fail"},
    ),
    (
        "wildcard CN",
        Leaf(dns=("*.corp.example",), cn="*.corp.example"),
        ("psn1.corp.example",),
        {"cert.wildcard-cn": "warn"},
    ),
    (
        "expired",
        Leaf(not_before=NOW - 400 * DAY, days=365),
        ("psn1.corp.example",),
        {"cert.expired": "fail"},
    ),
    (
        "not yet valid",
        Leaf(not_before=NOW + 5 * DAY),
        ("psn1.corp.example",),
        {"cert.not-yet-valid": "fail"},
    ),
    (
        "expiring in 45 days",
        Leaf(not_before=NOW - 320 * DAY, days=365),
        ("psn1.corp.example",),
        {"cert.expiring": "warn"},
    ),
    (
        "expiring in 10 days",
        Leaf(not_before=NOW - 355 * DAY, days=365),
        ("psn1.corp.example",),
        {"cert.expiring": "fail"},
    ),
    ("no EKU after 2019-07-01", Leaf(eku=None), ("psn1.corp.example",), {"cert.eku": "fail"}),
    (
        "no EKU before 2019-07-01",
        Leaf(eku=None, not_before=dt.datetime(2019, 6, 30, tzinfo=UTC), days=3000),
        ("psn1.corp.example",),
        {},
    ),
    (
        "clientAuth only",
        Leaf(eku=(ExtendedKeyUsageOID.CLIENT_AUTH,)),
        ("psn1.corp.example",),
        {"cert.eku": "fail"},
    ),
    (
        "anyExtendedKeyUsage only",
        Leaf(eku=(ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,)),
        ("psn1.corp.example",),
        {"cert.eku": "fail"},
    ),
    ("826 days", Leaf(days=826), ("psn1.corp.example",), {"cert.validity-825": "fail"}),
    (
        "826 days before 2019-07-01",
        Leaf(not_before=dt.datetime(2019, 6, 30, tzinfo=UTC), days=3000),
        ("psn1.corp.example",),
        {},
    ),
    ("RSA 1024 leaf", Leaf(key_kind="rsa1024"), ("psn1.corp.example",), {"cert.key-size": "fail"}),
    ("RSA 2048 leaf", Leaf(key_kind="rsa2048"), ("psn1.corp.example",), {}),
    ("P-384 leaf", Leaf(key_kind="ec384"), ("psn1.corp.example",), {}),
    (
        "secp256k1 leaf",
        Leaf(key_kind="ec-secp256k1"),
        ("psn1.corp.example",),
        {"cert.curve": "fail"},
    ),
    ("Ed25519 leaf", Leaf(key_kind="ed25519"), ("psn1.corp.example",), {"cert.curve": "warn"}),
    ("leaf is a CA", Leaf(ca=True), ("psn1.corp.example",), {"cert.basic-constraints": "fail"}),
    (
        "keyUsage without digitalSignature",
        Leaf(key_usage={"key_encipherment": True}),
        ("psn1.corp.example",),
        {"cert.key-usage": "fail"},
    ),
    (
        "keyCertSign on a leaf",
        Leaf(key_usage={"digital_signature": True, "key_cert_sign": True}),
        ("psn1.corp.example",),
        {"cert.key-usage": "fail"},
    ),
    ("no keyUsage at all", Leaf(key_usage=None), ("psn1.corp.example",), {}),
    ("DSA leaf", Leaf(key_kind="dsa2048"), ("psn1.corp.example",), {"cert.key-type": "fail"}),
]


@pytest.mark.parametrize(("label", "recipe", "refs", "expected"), CASES, ids=[c[0] for c in CASES])
def test_recipe_table(
    label: str, recipe: Leaf, refs: tuple[str, ...], expected: dict[str, str]
) -> None:
    """Each certificate recipe yields exactly the expected warn/fail check ids."""
    assert problems(grade(recipe, refs)) == expected, label


@pytest.mark.parametrize(
    ("recipe", "public_ca", "now", "expected"),
    [
        (Leaf(not_before=BEFORE_SC081, days=400), False, NOW, {}),
        (Leaf(not_before=BEFORE_SC081, days=400), True, NOW, {"cert.validity-398": "fail"}),
        # Apple's trustd: notAfter - notBefore over 398 days, no slip.
        (Leaf(not_before=BEFORE_SC081, days=398), True, NOW, {}),
        (
            Leaf(not_before=BEFORE_SC081, days=398, extra_seconds=1),
            True,
            NOW,
            {"cert.validity-398": "fail"},
        ),
        # Issued after 2026-03-15 by a public CA, 400 days breaks both limits.
        (Leaf(days=400), True, NOW, {"cert.validity-398": "fail", "cert.sc081": "fail"}),
        # Apple's trustd (SecPolicyCheckOtherTrustValidityPeriodMaximums): notAfter -
        # notBefore over 825 days plus one hour of slip; openssl's "-days 825" passes.
        (Leaf(days=825), False, NOW, {}),
        (Leaf(days=825, extra_seconds=3600), False, NOW, {}),
        (Leaf(days=825, extra_seconds=3601), False, NOW, {"cert.validity-825": "fail"}),
        # SC-081: 200 days for certificates issued from 2026-03-15.
        (Leaf(not_before=dt.datetime(2026, 3, 14, tzinfo=UTC), days=300), True, NOW, {}),
        (
            Leaf(not_before=dt.datetime(2026, 3, 15, tzinfo=UTC), days=201),
            True,
            NOW,
            {"cert.sc081": "fail"},
        ),
        (
            Leaf(not_before=dt.datetime(2026, 3, 15, tzinfo=UTC), days=200, extra_seconds=-1),
            True,
            NOW,
            {},
        ),
        (Leaf(not_before=dt.datetime(2026, 3, 15, tzinfo=UTC), days=201), False, NOW, {}),
        # 100 days from 2027-03-15, 47 days from 2029-03-15.
        (
            Leaf(not_before=dt.datetime(2027, 3, 15, tzinfo=UTC), days=101),
            True,
            dt.datetime(2027, 4, 1, tzinfo=UTC),
            {"cert.sc081": "fail"},
        ),
        (
            Leaf(not_before=dt.datetime(2027, 3, 15, tzinfo=UTC), days=100, extra_seconds=-1),
            True,
            dt.datetime(2027, 4, 1, tzinfo=UTC),
            {},
        ),
        (
            Leaf(not_before=dt.datetime(2029, 3, 15, tzinfo=UTC), days=48),
            True,
            dt.datetime(2029, 3, 20, tzinfo=UTC),
            {"cert.sc081": "fail", "cert.expiring": "warn"},
        ),
        (
            Leaf(not_before=dt.datetime(2029, 3, 15, tzinfo=UTC), days=47, extra_seconds=-1),
            True,
            dt.datetime(2029, 3, 20, tzinfo=UTC),
            {"cert.expiring": "warn"},
        ),
    ],
)
def test_validity_limits(
    recipe: Leaf, public_ca: bool, now: dt.datetime, expected: dict[str, str]
) -> None:
    """Apple's limits measure notAfter - notBefore as its trustd does (825 days with an hour of
    slip, 398 without); SC-081 counts both ends (notAfter - notBefore + 1 s) as the Baseline
    Requirements do; public-CA limits need the flag."""
    assert problems(grade(recipe, public_ca=public_ca, now=now)) == expected


@pytest.mark.parametrize(
    ("recipe", "shown"),
    [
        (Leaf(days=825, extra_seconds=3601), "validity is 825 days and 3601 s, more than 825 days"),
        (Leaf(days=900), "validity is 900.0 days, more than 825 days"),
    ],
)
def test_validity_message_does_not_contradict_itself(recipe: Leaf, shown: str) -> None:
    """One second over the limit reads as such, not as '825.0 days, more than 825'."""
    (finding,) = [f for f in grade(recipe) if f.check == "cert.validity-825"]
    assert finding.message.startswith(shown)


@pytest.mark.parametrize(
    ("days_left", "expected"),
    [(61, None), (60, None), (59.9, "warn"), (30, "warn"), (29.9, "fail"), (0.1, "fail")],
)
def test_expiry_thresholds(days_left: float, expected: str | None) -> None:
    """Warn with fewer than 60 days left, fail with fewer than 30 (--at sets now)."""
    not_after = NOW + dt.timedelta(days=days_left)
    recipe = Leaf(not_before=not_after - 200 * DAY, days=200)
    assert problems(grade(recipe)).get("cert.expiring") == expected


# The shapes of x509-limbo's rfc5280::validity cases, moved inside the test PKI's validity.
EDGE = dt.datetime(2026, 4, 1, tzinfo=UTC)
MS = dt.timedelta(milliseconds=1)
SECOND = dt.timedelta(seconds=1)


@pytest.mark.parametrize(
    ("recipe", "now", "expected"),
    [
        # x509-limbo rfc5280::validity::notafter-exact and notafter-fractional: valid.
        (Leaf(not_before=EDGE - 31 * DAY, days=31), EDGE, None),
        (Leaf(not_before=EDGE - 31 * DAY, days=31), EDGE + 5 * MS, None),
        (Leaf(not_before=EDGE - 31 * DAY, days=31), EDGE + 999 * MS, None),
        # expired-1-second: notAfter's second is over.
        (Leaf(not_before=EDGE - 31 * DAY, days=31), EDGE + SECOND, "cert.expired"),
        # notbefore-exact: valid; notbefore-fractional: 00:00:00.999 is before 00:00:01.
        (Leaf(not_before=EDGE, days=30), EDGE, None),
        (Leaf(not_before=EDGE + SECOND, days=30), EDGE + 999 * MS, "cert.not-yet-valid"),
        (Leaf(not_before=EDGE + SECOND, days=30), EDGE + SECOND + 999 * MS, None),
    ],
    ids=[
        "notAfter exact",
        "5 ms into notAfter",
        "999 ms into notAfter",
        "1 s after notAfter",
        "notBefore exact",
        "999 ms before notBefore's second",
        "inside notBefore's second",
    ],
)
def test_validity_has_one_second_resolution(
    recipe: Leaf, now: dt.datetime, expected: str | None
) -> None:
    """X.509 times have whole seconds and both ends are inclusive: a moment inside notAfter's
    second is not expired, one before notBefore's second is not yet valid."""
    findings = grade(recipe, now=now)
    validity = {f.check for f in findings} & {"cert.expired", "cert.not-yet-valid"}
    assert validity == ({expected} if expected else set())
    chain = [f for f in findings if f.check == "cert.chain"]
    assert chain[0].data["status"] == "verified"


def test_weak_hash_and_weak_ca_key_in_chain() -> None:
    """SHA-1 on an intermediate and RSA-1024 on an issuing CA are reported for that CA."""
    root = make_ca("Weak Root", key_kind="rsa1024", slot=70)
    inter = make_ca("Weak Issuing", issuer=root, key_kind="rsa2048", slot=71, digest="sha1")
    leaf = make_leaf(Leaf(digest="md5"), inter, slot=72)
    bundle = CertBundle(leaf.cert, (inter.cert,), "weak.pem")
    findings = grade_bundle(
        bundle, [reference("psn1.corp.example")], Trust((root.cert,), "t"), GradeOptions(NOW)
    )
    hashes = {
        (f.data["role"], f.data["hash"]) for f in findings if f.check == "cert.signature-hash"
    }
    assert hashes == {("leaf", "md5"), ("issuing CA", "sha1")}
    sizes = [
        (f.data["cert_subject"], f.data["key_bits"]) for f in findings if f.check == "cert.key-size"
    ]
    assert sizes == [("CN=Weak Root,O=feedmgr tests", 1024)]
    chain = [f for f in findings if f.check == "cert.chain"]
    assert chain[0].severity is Severity.FAIL
    assert chain[0].data["status"] == "refused"


def test_dsa_leaf_fix_names_usable_key_types() -> None:
    """A DSA leaf fails cert.key-type, whatever its size, and the fix names key types that
    every TLS client accepts."""
    (finding,) = [f for f in grade(Leaf(key_kind="dsa2048")) if f.check == "cert.key-type"]
    assert finding.severity is Severity.FAIL
    assert finding.data["role"] == "leaf"
    assert finding.data["key_bits"] == 2048
    assert "TLS 1.3" in finding.message
    assert "ECDSA P-256/P-384 or RSA 2048+" in finding.fix


@pytest.mark.parametrize(("new_root_trusted", "severity"), [(True, "warn"), (False, "fail")])
def test_expired_certificate_off_the_verified_path_is_a_warning(
    new_root_trusted: bool, severity: str
) -> None:
    """An expired cross-sign the PSN still sends is a warning when a valid path exists
    without it (clients build that path), and a failure when the path needs it."""
    old_root = make_ca("Legacy Root", slot=110, not_before=NOW - 3000 * DAY, days=3650)
    new_root = make_ca("Current Root", slot=111)
    cross = make_ca("Current Root", issuer=old_root, slot=111, not_before=NOW - 900 * DAY, days=800)
    issuing = make_ca("Current Issuing", issuer=new_root, slot=112)
    leaf = make_leaf(Leaf(), issuing, slot=113)
    anchors = (new_root.cert, old_root.cert) if new_root_trusted else (old_root.cert,)
    findings = grade_bundle(
        CertBundle(leaf.cert, (issuing.cert, cross.cert), "psn.pem"),
        [reference("psn1.corp.example")],
        Trust(anchors, "t"),
        GradeOptions(NOW),
    )
    (expired,) = [f for f in findings if f.check == "cert.expired"]
    assert expired.severity.label == severity
    assert expired.data["sha256"] == cross.cert.fingerprint(hashes.SHA256()).hex()
    if new_root_trusted:
        assert expired.data["role"] == "unused"
        assert "not on the verified path" in expired.message
        assert expired.fix.startswith("clients that trust Current Root build the path")
        assert "stop sending it" in expired.fix
    assert problems(findings).get("cert.chain") == (None if new_root_trusted else "fail")


def test_identity_finding_data() -> None:
    """A failed identity carries the reference, the SANs and the near misses as data."""
    findings = grade(Leaf(dns=("*.corp.example",), cn=OTHER_CN), ["a.b.corp.example"])
    (identity,) = [f for f in findings if f.check == "cert.identity"]
    assert identity.severity is Severity.FAIL
    assert identity.data["reference"] == "a.b.corp.example"
    assert identity.data["reference_type"] == "dns"
    assert identity.data["san_dns"] == ["*.corp.example"]
    assert identity.data["near_misses"] == [
        {"presented": "*.corp.example", "reason": "wildcard matches exactly one label"}
    ]
    assert "DNS:a.b.corp.example" in identity.fix


def test_eku_data_names_usages() -> None:
    """cert.eku says which usages the certificate has, by name."""
    findings = grade(Leaf(eku=(ExtendedKeyUsageOID.CLIENT_AUTH,)))
    (eku,) = [f for f in findings if f.check == "cert.eku"]
    assert eku.data["usages"] == ["clientAuth"]
    assert "got clientAuth" in eku.message


def test_matches_are_reported_as_info() -> None:
    """A matching reference is an info finding naming the SAN entry that matched."""
    findings = grade(
        Leaf(dns=("*.corp.example",), ips=("10.1.1.21",)), ["psn1.corp.example", "10.1.1.21"]
    )
    matched = {f.data["matched_by"] for f in findings if f.check == "cert.identity"}
    assert matched == {"DNS:*.corp.example", "IP:10.1.1.21"}


def test_every_check_id_is_documented() -> None:
    """docs/certificates.md names every check id of the table and the probe."""
    from tests.conftest import REPO

    text = (REPO / "docs" / "certificates.md").read_text(encoding="utf-8")
    assert {c.id for c in CHECKS} <= CHECK_IDS
    missing = [check for check in sorted(CHECK_IDS) if f"`{check}`" not in text]
    assert not missing


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-05-01", dt.datetime(2026, 5, 1, tzinfo=UTC)),
        ("2026-05-01T12:30", dt.datetime(2026, 5, 1, 12, 30, tzinfo=UTC)),
        ("2026-05-01T12:30:00Z", dt.datetime(2026, 5, 1, 12, 30, tzinfo=UTC)),
        ("2026-05-01T14:30:00+02:00", dt.datetime(2026, 5, 1, 12, 30, tzinfo=UTC)),
    ],
)
def test_parse_at(text: str, expected: dt.datetime) -> None:
    """--at takes an ISO date or date-time; naive values are UTC."""
    assert parse_at(text) == expected


@pytest.mark.parametrize("text", ["tomorrow", "2026-13-01", ""])
def test_parse_at_rejects(text: str) -> None:
    """A --at that is not ISO 8601 is a usage error."""
    with pytest.raises(UsageError):
        parse_at(text)


def test_trust_anchor_given_with_ca_is_checked_for_expiry() -> None:
    """A root given only as a trust anchor counts for expiry as if it had been sent: when it
    expires, every endpoint refuses the PSN; the fix renews the root on the endpoints."""
    root = make_ca("Old Root CA", slot=94, not_before=NOW - 100 * DAY, days=120)
    inter = make_ca("Corp Issuing CA", issuer=root, slot=95)
    leaf = make_leaf(Leaf(), inter, slot=96)
    for presented, label in (((inter.cert,), "anchor only"), ((inter.cert, root.cert), "sent")):
        findings = grade_bundle(
            CertBundle(leaf.cert, presented, "psn.pem"),
            [reference("psn1.corp.example")],
            Trust((root.cert,), "t"),
            GradeOptions(NOW),
        )
        (expiring,) = [f for f in findings if f.check == "cert.expiring"]
        assert expiring.severity is Severity.FAIL, label
        assert "Old Root CA expires in 20.0 days" in expiring.message, label
        assert "renew the root CA" in expiring.fix, label
    later = grade_bundle(
        CertBundle(leaf.cert, (inter.cert,), "psn.pem"),
        [reference("psn1.corp.example")],
        Trust((root.cert,), "t"),
        GradeOptions(NOW + 30 * DAY),
    )
    (expired,) = [f for f in later if f.check == "cert.expired"]
    assert expired.data["role"] == "trust anchor"
    assert "trust anchor certificate Old Root CA expired" in expired.message
