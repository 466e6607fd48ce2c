"""RFC 9525 identity matching: tables of (presented, reference, expected), plus properties."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from feedmgr.certs.identity import (
    DnsReference,
    IpReference,
    PatternKind,
    Presented,
    classify_pattern,
    dns_reference,
    match_dns,
    match_ip,
    match_reference,
    parse_ip,
    reference,
)
from feedmgr.errors import UsageError


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        ("psn1.corp.example", "psn1.corp.example", True),
        ("PSN1.Corp.Example", "psn1.corp.example", True),
        ("psn1.corp.example.", "psn1.corp.example", True),
        ("psn1.corp.example", "psn1.corp.example.", True),
        ("psn1.corp.example", "psn2.corp.example", False),
        ("psn1.corp.example", "corp.example", False),
        ("*.corp.example", "psn1.corp.example", True),
        ("*.CORP.example", "PSN1.corp.example", True),
        ("*.corp.example.", "psn1.corp.example", True),
        ("*.corp.example", "corp.example", False),
        ("*.corp.example", "a.psn1.corp.example", False),
        ("*.corp.example", "psn1.other.example", False),
        ("f*o.corp.example", "foo.corp.example", False),
        ("www*.corp.example", "www1.corp.example", False),
        ("*psn.corp.example", "xpsn.corp.example", False),
        ("psn*.corp.example", "psn1.corp.example", False),
        ("psn1.*.example", "psn1.corp.example", False),
        ("*.*.example", "psn1.corp.example", False),
        ("*", "psn1", False),
        ("*.", "psn1", False),
        ("**.corp.example", "a.corp.example", False),
        ("xn--bcher-kva.example", "xn--bcher-kva.example", True),
        ("*.xn--bcher-kva.example", "psn.xn--bcher-kva.example", True),
        ("bücher.example", "xn--bcher-kva.example", False),
        ("10.0.0.5", "10.0.0.5", False),
        ("", "psn1.corp.example", False),
        ("a..b", "a..b", False),
        ("psn1.corp.example", "", False),
    ],
)
def test_match_dns(pattern: str, name: str, expected: bool) -> None:
    """A dNSName matches per RFC 9525: whole left-most wildcard, one label, no partials."""
    assert match_dns(pattern, name) is expected


@pytest.mark.parametrize(
    ("pattern", "kind"),
    [
        ("psn1.corp.example", PatternKind.EXACT),
        ("*.corp.example", PatternKind.WILDCARD),
        ("f*o.corp.example", PatternKind.PARTIAL_WILDCARD),
        ("www*.corp.example", PatternKind.PARTIAL_WILDCARD),
        ("psn1.*.example", PatternKind.MISPLACED_WILDCARD),
        ("10.0.0.5", PatternKind.IP_LITERAL),
        ("10.0.0.5.", PatternKind.IP_LITERAL),
        ("fe80::1", PatternKind.IP_LITERAL),
        ("[::1]", PatternKind.IP_LITERAL),
        ("*", PatternKind.INVALID),
        ("bad name.example", PatternKind.INVALID),
        ("bücher.example", PatternKind.INVALID),
        ("", PatternKind.INVALID),
        ("a" * 64 + ".example", PatternKind.INVALID),
    ],
)
def test_classify_pattern(pattern: str, kind: PatternKind) -> None:
    """Presented dNSName entries are classified so mistakes can be named."""
    assert classify_pattern(pattern) is kind


@pytest.mark.parametrize(
    ("presented", "address", "expected"),
    [
        ("10.0.0.5", "10.0.0.5", True),
        ("10.0.0.5", "10.0.0.6", False),
        ("::ffff:10.0.0.5", "10.0.0.5", False),
        ("2001:db8::1", "2001:db8:0:0::1", True),
        ("2001:db8::1", "2001:db8::2", False),
    ],
)
def test_match_ip(presented: str, address: str, expected: bool) -> None:
    """An iPAddress SAN matches octet for octet; IPv4-mapped IPv6 is a different address."""
    assert match_ip(ipaddress.ip_address(presented), ipaddress.ip_address(address)) is expected


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("psn1.corp.example", "psn1.corp.example"),
        ("PSN1.Corp.Example.", "psn1.corp.example"),
        ("Bücher.example", "xn--bcher-kva.example"),
        ("bücher.example.", "xn--bcher-kva.example"),
        ("ise_psn.corp.example", "ise_psn.corp.example"),
    ],
)
def test_dns_reference_normalises(text: str, name: str) -> None:
    """Reference names become lower-case A-labels without a trailing dot."""
    assert dns_reference(text).name == name


@pytest.mark.parametrize(
    "text", ["", ".", "*.corp.example", "bad name", "a..b", "x" * 64 + ".example", "\u2028.x"]
)
def test_dns_reference_rejects(text: str) -> None:
    """A name the agent could not use is a usage error, not a silent non-match."""
    with pytest.raises(UsageError):
        dns_reference(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10.1.1.21", IpReference(ipaddress.ip_address("10.1.1.21"))),
        ("[2001:db8::1]", IpReference(ipaddress.ip_address("2001:db8::1"))),
        ("psn1.corp.example", DnsReference("psn1.corp.example", "psn1.corp.example")),
    ],
)
def test_reference_kinds(text: str, expected: object) -> None:
    """An IP literal given as a host becomes an IP reference (matched only by iPAddress)."""
    assert reference(text) == expected


@pytest.mark.parametrize(
    ("presented", "ref", "matched_by", "reasons", "cn"),
    [
        (
            Presented(dns=("*.corp.example",), has_san=True),
            "psn1.corp.example",
            "DNS:*.corp.example",
            [],
            None,
        ),
        (
            Presented(dns=("*.corp.example",), has_san=True),
            "corp.example",
            None,
            ["wildcard does not match the bare domain"],
            None,
        ),
        (
            Presented(dns=("*.corp.example",), has_san=True),
            "a.psn1.corp.example",
            None,
            ["wildcard matches exactly one label"],
            None,
        ),
        (
            Presented(dns=("psn*.corp.example",), has_san=True),
            "psn1.corp.example",
            None,
            ["partial wildcard is invalid and never matches"],
            None,
        ),
        (
            Presented(dns=("10.1.1.21",), has_san=True, common_names=("10.1.1.21",)),
            "10.1.1.21",
            None,
            ["IP literal in a dNSName SAN is ignored by clients"],
            "10.1.1.21",
        ),
        (
            Presented(dns=("psn1.*.example", "other*.corp.example"), has_san=True),
            "psn1.corp.example",
            None,
            ["wildcard not in the left-most label never matches"],
            None,
        ),
        (
            Presented(ips=(ipaddress.ip_address("10.1.1.21"),), has_san=True),
            "10.1.1.21",
            "IP:10.1.1.21",
            [],
            None,
        ),
        (
            Presented(common_names=("psn1.corp.example",)),
            "psn1.corp.example",
            None,
            [],
            "psn1.corp.example",
        ),
        (
            Presented(dns=("psn1.corp.example",), has_san=True),
            "10.1.1.21",
            None,
            [],
            None,
        ),
    ],
)
def test_match_reference(
    presented: Presented, ref: str, matched_by: str | None, reasons: list[str], cn: str | None
) -> None:
    """Only SAN entries match; near misses and CN-only names are explained, never accepted."""
    result = match_reference(presented, reference(ref))
    assert result.matched_by == matched_by
    assert [m.reason for m in result.near_misses] == reasons
    assert result.cn_match == cn


_labels = st.text(alphabet="abcxyz019-*_.Ä ", max_size=12)


@given(pattern=st.text(max_size=80), name=st.text(max_size=80))
def test_match_dns_never_raises(pattern: str, name: str) -> None:
    """No pattern or name makes the matcher raise; it only answers True or False."""
    assert match_dns(pattern, name) in (True, False)


@given(pattern=_labels, name=_labels)
def test_wildcard_never_matches_more_than_one_label(pattern: str, name: str) -> None:
    """A match never spans more labels than the pattern has (one label per wildcard)."""
    if match_dns(pattern, name):
        assert pattern.rstrip(".").count(".") == name.rstrip(".").count(".")
        assert "*" not in pattern or pattern.startswith("*.")


@given(text=st.text(max_size=80))
def test_reference_raises_only_usage_error(text: str) -> None:
    """Any text is an IP reference, a DNS reference, or a UsageError: nothing else escapes."""
    try:
        ref = reference(text)
    except UsageError:
        return
    assert isinstance(ref, DnsReference | IpReference)


@given(
    dns=st.lists(st.text(max_size=30), max_size=4),
    cns=st.lists(st.text(max_size=30), max_size=2),
    ref=st.sampled_from(["psn1.corp.example", "10.0.0.5", "2001:db8::5", "corp.example"]),
)
def test_match_reference_never_raises(dns: list[str], cns: list[str], ref: str) -> None:
    """Arbitrary SAN and CN strings never make matching raise."""
    presented = Presented(dns=tuple(dns), common_names=tuple(cns), has_san=True)
    result = match_reference(presented, reference(ref))
    assert result.matched in (True, False)


_label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
_domain = st.lists(_label, min_size=1, max_size=4).map(".".join)


@given(domain=_domain, label=_label, extra=_label)
def test_wildcard_matches_exactly_one_label(domain: str, label: str, extra: str) -> None:
    """``*.D`` matches ``L.D`` (any case) and never ``D`` or ``X.L.D``."""
    pattern = f"*.{domain}"
    assert match_dns(pattern, f"{label}.{domain}")
    assert match_dns(pattern.upper(), f"{label}.{domain}.")
    assert not match_dns(pattern, domain)
    assert not match_dns(pattern, f"{extra}.{label}.{domain}")


@given(domain=_domain, label=_label)
def test_exact_names_match_only_themselves(domain: str, label: str) -> None:
    """An exact dNSName matches the same name and no name below or beside it."""
    assume(parse_ip(domain) is None)  # an IP literal in a dNSName never matches (tested above)
    assert match_dns(domain, domain.upper())
    assert not match_dns(domain, f"{label}.{domain}")
    assert not match_dns(f"{label}.{domain}", domain)
