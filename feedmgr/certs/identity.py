"""RFC 9525 service identity matching, written out by hand so every rule is visible and tested.

The rules (RFC 9525 sections 6.3 and 6.4, which obsolete RFC 6125):

* DNS reference identities match only dNSName subjectAltName entries; the subject Common Name
  is never used (section 6.3; Apple enforces this since iOS 13 / macOS 10.15).
* A wildcard counts only when it is exactly ``*`` and the complete left-most label; it
  matches exactly one label, so ``*.example.com`` matches neither ``example.com`` nor
  ``a.b.example.com``. Partial wildcards (``f*o.example.com``, ``www*.example.com``) and
  wildcards in any other label are invalid and never match.
* Labels compare case-insensitively as ASCII, after converting U-labels of the reference
  identity to A-labels (IDNA). A presented dNSName must already be in A-label form.
* An IP reference identity matches only an iPAddress SAN, octet for octet, never a wildcard
  and never an IP literal written into a dNSName.
* One trailing dot (an absolute name, ``psn.example.com.``) is removed from both sides before
  comparison, as TLS clients do for SNI.

Python's own ``ssl`` module still falls back to the CN (``hostname_checks_common_name``),
``service_identity`` rejects a whole certificate over one IP-in-dNSName entry, and
``cryptography``'s verifier does not report *why* a name failed; hence this module.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from enum import StrEnum

from feedmgr.errors import UsageError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_MAX_NAME = 253
_MAX_LABEL = 63
# Letters, digits, hyphen (RFC 1123) plus underscore, which real internal names carry and
# which TLS libraries accept in certificates.
_LABEL = re.compile(r"[a-z0-9_-]+\Z")


class PatternKind(StrEnum):
    """What a presented dNSName entry is, as far as matching goes."""

    EXACT = "exact"
    WILDCARD = "wildcard"
    PARTIAL_WILDCARD = "partial-wildcard"
    MISPLACED_WILDCARD = "misplaced-wildcard"
    IP_LITERAL = "ip-literal"
    INVALID = "invalid"


@dataclass(frozen=True)
class DnsReference:
    """A DNS name the posture agent uses to reach a PSN, normalised for matching.

    ``name`` is lower-case ASCII (A-labels) without a trailing dot; ``text`` is what the user
    wrote.
    """

    name: str
    text: str = field(default="", compare=False)

    def __str__(self) -> str:
        return self.name

    @property
    def kind(self) -> str:
        """``dns``: the JSON tag of this reference type."""
        return "dns"


@dataclass(frozen=True)
class IpReference:
    """An IP address the posture agent uses to reach a PSN."""

    address: IPAddress

    def __str__(self) -> str:
        return str(self.address)

    @property
    def kind(self) -> str:
        """``ip``: the JSON tag of this reference type."""
        return "ip"


Reference = DnsReference | IpReference


@dataclass(frozen=True)
class Presented:
    """The identities a certificate presents: SAN entries (the only ones that count) and CNs."""

    dns: tuple[str, ...] = ()
    ips: tuple[IPAddress, ...] = ()
    common_names: tuple[str, ...] = ()
    has_san: bool = False


@dataclass(frozen=True)
class NearMiss:
    """A presented identity that looks as if it was meant to match but does not, and why."""

    presented: str
    reason: str


@dataclass(frozen=True)
class IdentityMatch:
    """The outcome of matching one reference identity against one certificate."""

    reference: Reference
    matched_by: str | None
    near_misses: tuple[NearMiss, ...] = ()
    cn_match: str | None = None

    @property
    def matched(self) -> bool:
        """True when a SAN entry matches the reference identity."""
        return self.matched_by is not None


def _strip_dot(name: str) -> str:
    return name[:-1] if name.endswith(".") else name


def parse_ip(text: str) -> IPAddress | None:
    """The IP address ``text`` spells (dotted quad or IPv6), or None when it is not one."""
    candidate = text.strip()
    if candidate.startswith("[") and candidate.endswith("]"):
        candidate = candidate[1:-1]
    try:
        return ipaddress.ip_address(candidate)
    except ValueError:
        return None


def _valid_ascii_name(name: str) -> bool:
    if not name or len(name) > _MAX_NAME or not name.isascii():
        return False
    return all(0 < len(label) <= _MAX_LABEL and _LABEL.match(label) for label in name.split("."))


def dns_reference(text: str) -> DnsReference:
    """Normalise a DNS name typed by the user: A-labels, lower case, no trailing dot.

    Raises:
        UsageError: when ``text`` is not a usable host name (empty, bad characters, an IDN
            that does not convert, a wildcard).
    """
    raw = text.strip()
    name = _strip_dot(raw)
    if not name.isascii():
        import idna

        try:
            name = idna.encode(name, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError, ValueError) as exc:
            raise UsageError(text, f"not a valid internationalised host name: {exc}") from exc
    name = name.lower()
    if "*" in name:
        raise UsageError(text, "a reference host name cannot hold a wildcard")
    if not _valid_ascii_name(name):
        raise UsageError(
            text, "not a valid host name (letters, digits, '-' in dot-separated labels)"
        )
    return DnsReference(name=name, text=text)


def reference(text: str) -> Reference:
    """A reference identity from text: an IP literal becomes an IP reference, else a name.

    Raises:
        UsageError: when ``text`` is neither an IP address nor a valid host name.
    """
    address = parse_ip(text)
    if address is not None:
        return IpReference(address)
    return dns_reference(text)


def classify_pattern(pattern: str) -> PatternKind:
    """Say what a presented dNSName entry is (exact name, valid wildcard, mistake...)."""
    name = _strip_dot(pattern).lower()
    if parse_ip(name) is not None:
        return PatternKind.IP_LITERAL
    if "*" not in name:
        return PatternKind.EXACT if _valid_ascii_name(name) else PatternKind.INVALID
    first, _, rest = name.partition(".")
    if "*" in rest:
        return PatternKind.MISPLACED_WILDCARD
    if first != "*":
        return PatternKind.PARTIAL_WILDCARD
    # RFC 9525 6.3: the wildcard must be followed by at least one further label.
    if not rest or not _valid_ascii_name(rest):
        return PatternKind.INVALID
    return PatternKind.WILDCARD


def match_dns(pattern: str, name: str) -> bool:
    """True when the dNSName ``pattern`` matches the normalised reference ``name``.

    Never raises: any malformed pattern or name simply does not match.
    """
    kind = classify_pattern(pattern)
    wanted = _strip_dot(name).lower()
    if not _valid_ascii_name(wanted):
        return False
    presented = _strip_dot(pattern).lower()
    if kind is PatternKind.EXACT:
        return presented == wanted
    if kind is PatternKind.WILDCARD:
        first, _, suffix = wanted.partition(".")
        # Exactly one label: the reference's left-most label is replaced, the rest equal.
        return bool(first) and suffix == presented[2:]
    return False


def match_ip(presented: IPAddress, address: IPAddress) -> bool:
    """True when an iPAddress SAN equals the reference address octet for octet.

    An IPv4 address never matches its IPv4-mapped IPv6 form: the octet strings differ.
    """
    return presented.packed == address.packed


def _naive_glob(pattern: str, name: str) -> bool:
    """What a lax matcher would accept: ``*`` as any run of characters within one label."""
    regex = "[^.]*".join(re.escape(part) for part in pattern.split("*"))
    return re.fullmatch(regex, name) is not None


def _dns_near_misses(presented: Presented, name: str) -> tuple[NearMiss, ...]:
    """Presented dNSNames that were evidently meant to cover ``name`` but do not."""
    misses: list[NearMiss] = []
    for pattern in presented.dns:
        kind = classify_pattern(pattern)
        lowered = _strip_dot(pattern).lower()
        suffix = lowered.partition(".")[2]
        if kind is PatternKind.WILDCARD:
            if name == suffix:
                misses.append(NearMiss(pattern, "wildcard does not match the bare domain"))
            elif name.endswith("." + suffix):
                misses.append(NearMiss(pattern, "wildcard matches exactly one label"))
        elif "*" in lowered and _naive_glob(lowered, name):
            reason = {
                PatternKind.PARTIAL_WILDCARD: "partial wildcard is invalid and never matches",
                PatternKind.MISPLACED_WILDCARD: "wildcard not in the left-most label never matches",
            }.get(kind, "invalid wildcard never matches")
            misses.append(NearMiss(pattern, reason))
    return tuple(misses)


def match_reference(presented: Presented, ref: Reference) -> IdentityMatch:
    """Match one reference identity against a certificate's presented identities.

    Only SAN entries can match; the CN is consulted solely to explain a failure
    (``cn_match``), because macOS and RFC 9525 never use it.
    """
    if isinstance(ref, IpReference):
        for address in presented.ips:
            if match_ip(address, ref.address):
                return IdentityMatch(ref, f"IP:{address}")
        misses = tuple(
            NearMiss(pattern, "IP literal in a dNSName SAN is ignored by clients")
            for pattern in presented.dns
            if (literal := parse_ip(pattern)) is not None and match_ip(literal, ref.address)
        )
        cn = next(
            (
                cn
                for cn in presented.common_names
                if (value := parse_ip(cn)) is not None and match_ip(value, ref.address)
            ),
            None,
        )
        return IdentityMatch(ref, None, misses, cn)
    for pattern in presented.dns:
        if match_dns(pattern, ref.name):
            return IdentityMatch(ref, f"DNS:{pattern}")
    cn = next((cn for cn in presented.common_names if match_dns(cn, ref.name)), None)
    return IdentityMatch(ref, None, _dns_near_misses(presented, ref.name), cn)
