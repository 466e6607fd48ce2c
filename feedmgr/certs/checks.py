"""The certificate check table: one small function per stable check id, each returning Findings.

Every check is pure: it reads a :class:`CertContext` (the leaf, the presented chain, the
reference identities, "now", the path-building result) and yields findings whose ``data``
carries the facts a JSON consumer or a test needs. The table :data:`CHECKS` is the single
list of ids; ``docs/certificates.md`` documents each one.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from feedmgr.certs.chain import ChainAnalysis, ChainStatus, validation_time
from feedmgr.certs.identity import (
    IpReference,
    PatternKind,
    Presented,
    Reference,
    classify_pattern,
    match_reference,
    parse_ip,
)
from feedmgr.certs.limits import (
    GOOD_CURVES,
    MIN_RSA_BITS,
    RENEW_LEAF_FIX,
    WEAK_HASHES,
    renewal_fix,
)
from feedmgr.certs.load import fingerprint, self_issued, short_name
from feedmgr.certs.refusal import explain_refusal
from feedmgr.errors import UsageError
from feedmgr.findings import Finding, Severity

UTC = dt.UTC
DAY = 86_400

# Apple, "Requirements for trusted certificates in iOS 13 and macOS 10.15" (HT210176):
# EKU serverAuth and <= 825 days for certificates with notBefore on or after 2019-07-01.
APPLE_2019 = dt.datetime(2019, 7, 1, tzinfo=UTC)
MAX_DAYS_PRIVATE = 825
# Apple HT211025: <= 398 days for publicly trusted certificates issued on or after 2020-09-01.
APPLE_2020 = dt.datetime(2020, 9, 1, tzinfo=UTC)
MAX_DAYS_PUBLIC = 398
# CA/Browser Forum ballot SC-081v3 (Baseline Requirements 2.1.5): (issued from, max days).
SC081_STEPS = (
    (dt.datetime(2029, 3, 15, tzinfo=UTC), 47),
    (dt.datetime(2027, 3, 15, tzinfo=UTC), 100),
    (dt.datetime(2026, 3, 15, tzinfo=UTC), 200),
)
# testssl.sh's defaults: warn within 60 days of expiry, fail within 30.
EXPIRY_WARN_DAYS = 60
EXPIRY_FAIL_DAYS = 30


@dataclass(frozen=True)
class CertContext:
    """Everything the checks read about one graded certificate.

    ``label`` names the subject of the findings (a file path or ``host:port``);
    ``presented`` is every other certificate that came with the leaf, in order.
    """

    label: str
    leaf: x509.Certificate
    presented: tuple[x509.Certificate, ...]
    references: tuple[Reference, ...]
    now: dt.datetime
    chain: ChainAnalysis
    public_ca: bool = False
    sent_twice: tuple[str, ...] = ()

    @cached_property
    def identities(self) -> Presented:
        """The leaf's SAN entries and subject CNs."""
        return presented_identities(self.leaf)

    @cached_property
    def issuing_cas(self) -> tuple[x509.Certificate, ...]:
        """CA certificates above the leaf: the built path, then any other presented ones."""
        seen: list[x509.Certificate] = []
        for cert in (*self.chain.path[1:], *self.presented):
            if cert not in seen and cert != self.leaf:
                seen.append(cert)
        return tuple(seen)


def presented_identities(cert: x509.Certificate) -> Presented:
    """The dNSName and iPAddress SAN entries and the subject CNs of a certificate."""
    cns = tuple(
        str(attr.value) for attr in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    )
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return Presented(common_names=cns)
    return Presented(
        dns=tuple(san.get_values_for_type(x509.DNSName)),
        ips=tuple(
            ip
            for ip in san.get_values_for_type(x509.IPAddress)
            if isinstance(ip, ipaddress.IPv4Address | ipaddress.IPv6Address)
        ),
        common_names=cns,
        has_san=True,
    )


def _describe(cert: x509.Certificate) -> dict[str, Any]:
    return {"cert_subject": cert.subject.rfc4514_string(), "sha256": fingerprint(cert)}


_short = short_name


def validity_seconds(cert: x509.Certificate) -> int:
    """The validity period, inclusive of both ends (notAfter - notBefore + 1 second)."""
    delta = cert.not_valid_after_utc - cert.not_valid_before_utc
    return int(delta.total_seconds()) + 1


def _days(seconds: float) -> float:
    return round(seconds / DAY, 2)


def _finding(
    ctx: CertContext,
    check: str,
    severity: Severity,
    message: str,
    fix: str = "",
    **data: Any,
) -> Finding:
    return Finding(check, severity, ctx.label, message, fix, data)


def _san_summary(ids: Presented) -> str:
    parts = [f"DNS:{name}" for name in ids.dns] + [f"IP:{ip}" for ip in ids.ips]
    return ", ".join(parts) if parts else "none"


# -- identity ----------------------------------------------------------------------------


def check_identity(ctx: CertContext) -> Iterator[Finding]:
    """``cert.identity``: each reference identity must match a SAN entry (RFC 9525)."""
    ids = ctx.identities
    for ref in ctx.references:
        result = match_reference(ids, ref)
        data: dict[str, Any] = {
            "reference": str(ref),
            "reference_type": ref.kind,
            "matched_by": result.matched_by,
            "san_dns": list(ids.dns),
            "san_ip": [str(ip) for ip in ids.ips],
            "near_misses": [
                {"presented": m.presented, "reason": m.reason} for m in result.near_misses
            ],
        }
        if result.matched:
            yield _finding(
                ctx, "cert.identity", Severity.INFO, f"{ref} matches {result.matched_by}", **data
            )
            continue
        entry = f"IP:{ref}" if isinstance(ref, IpReference) else f"DNS:{ref}"
        message = f"{ref} matches no subjectAltName entry (got {_san_summary(ids)})"
        if result.near_misses:
            message += "; " + "; ".join(f"{m.presented}: {m.reason}" for m in result.near_misses)
        yield _finding(
            ctx,
            "cert.identity",
            Severity.FAIL,
            message,
            f"reissue the certificate with {entry} in the subjectAltName",
            **data,
        )


def check_ip_as_dns(ctx: CertContext) -> Iterator[Finding]:
    """``cert.ip-as-dns``: an IP literal written in a dNSName SAN entry."""
    ids = ctx.identities
    for pattern in ids.dns:
        if classify_pattern(pattern) is not PatternKind.IP_LITERAL:
            continue
        address = parse_ip(pattern.rstrip("."))
        in_ip_san = address is not None and any(ip.packed == address.packed for ip in ids.ips)
        yield _finding(
            ctx,
            "cert.ip-as-dns",
            Severity.WARN,
            f"dNSName SAN {pattern!r} is an IP address; clients ignore it "
            "(and service-identity rejects the whole certificate)",
            f"put the address in an iPAddress SAN entry (IP:{address}) instead of DNS:{pattern}",
            dns_san=pattern,
            also_in_ip_san=in_ip_san,
        )


def check_no_san(ctx: CertContext) -> Iterator[Finding]:
    """``cert.no-san``: no subjectAltName, or one without DNS or IP entries."""
    ids = ctx.identities
    if not ids.has_san:
        message = "the certificate has no subjectAltName extension"
    elif not ids.dns and not ids.ips:
        message = "the subjectAltName has no DNS or IP entries"
    else:
        return
    yield _finding(
        ctx,
        "cert.no-san",
        Severity.FAIL,
        f"{message}; RFC 9525 clients and macOS never use the CN",
        "reissue the certificate with every PSN FQDN and IP the agent uses in the subjectAltName",
        has_san=ids.has_san,
        common_names=list(ids.common_names),
    )


def check_cn_only_match(ctx: CertContext) -> Iterator[Finding]:
    """``cert.cn-only-match``: a reference identity found only in the subject CN."""
    for ref in ctx.references:
        result = match_reference(ctx.identities, ref)
        if result.matched or result.cn_match is None:
            continue
        yield _finding(
            ctx,
            "cert.cn-only-match",
            Severity.FAIL,
            f"{ref} is only in the subject CN ({result.cn_match}); macOS 10.15+ and RFC 9525 "
            "clients ignore the CN, so the agent on a Mac rejects this certificate",
            f"add {'IP' if isinstance(ref, IpReference) else 'DNS'}:{ref} to the subjectAltName",
            reference=str(ref),
            common_name=result.cn_match,
        )


def check_wildcard_cn(ctx: CertContext) -> Iterator[Finding]:
    """``cert.wildcard-cn``: a wildcard in the subject CN (Windows EAP supplicants reject it)."""
    for cn in ctx.identities.common_names:
        if "*" in cn:
            yield _finding(
                ctx,
                "cert.wildcard-cn",
                Severity.WARN,
                f"subject CN {cn!r} holds a wildcard; Windows EAP supplicants reject it",
                "put a real host name in the CN and keep the wildcard only in the SAN",
                common_name=cn,
            )


# -- time --------------------------------------------------------------------------------


# Role of a presented certificate that the verified path does without (a stale cross-sign,
# an old intermediate). Clients build the valid path, so its problems cannot fail the
# handshake for them; older stacks that take the chain as sent can still trip over it.
UNUSED = "unused"
_UNUSED_NOTE = (
    "; it is presented but not on the verified path: current clients build the path without "
    "it, older TLS stacks (OpenSSL 1.0.x, GnuTLS before 3.6.14) may not"
)
# Removing a certificate some endpoints still chain through would make things worse for
# them (an old root store relying on a cross-sign), hence the condition.
_UNUSED_FIX = (
    "clients that trust {anchor} build the path without it: stop sending it (remove it from "
    "ISE's trusted certificates for this chain) unless endpoints without that root still "
    "need it; an expired certificate helps none"
)


def _role(ctx: CertContext, cert: x509.Certificate, above_leaf: str) -> str:
    if ctx.chain.status is ChainStatus.VERIFIED and cert in ctx.chain.unused:
        return UNUSED
    return above_leaf


def _cert_finding(
    ctx: CertContext,
    check: str,
    severity: Severity,
    message: str,
    fix: str,
    *,
    role: str,
    cert: x509.Certificate,
    **data: Any,
) -> Finding:
    """A finding about one certificate; at most a warning when the path does without it."""
    if role == UNUSED:
        anchor = _short(ctx.chain.anchor) if ctx.chain.anchor else "the trust anchor"
        severity, message = min(severity, Severity.WARN), message + _UNUSED_NOTE
        fix = _UNUSED_FIX.format(anchor=anchor)
    return _finding(ctx, check, severity, message, fix, role=role, **data, **_describe(cert))


ANCHOR = "trust anchor"


def _timed(ctx: CertContext) -> Iterator[tuple[str, x509.Certificate]]:
    yield "leaf", ctx.leaf
    for cert in ctx.presented:
        yield _role(ctx, cert, "chain"), cert
    # The root at the end of the path counts whether it was sent or only given with --ca:
    # when it expires, every endpoint refuses the PSN at once.
    anchor = ctx.chain.anchor
    if anchor is not None and anchor != ctx.leaf and anchor not in ctx.presented:
        yield ANCHOR, anchor


def check_expired(ctx: CertContext) -> Iterator[Finding]:
    """``cert.expired``: notAfter is in the past (leaf or any presented certificate)."""
    for role, cert in _timed(ctx):
        if ctx.now > cert.not_valid_after_utc:
            yield _cert_finding(
                ctx,
                "cert.expired",
                Severity.FAIL,
                f"{role} certificate {_short(cert)} expired on "
                f"{cert.not_valid_after_utc.isoformat()}",
                renewal_fix(
                    role,
                    cert,
                    RENEW_LEAF_FIX,
                ),
                role=role,
                cert=cert,
                not_after=cert.not_valid_after_utc.isoformat(),
                now=ctx.now.isoformat(),
            )


def check_not_yet_valid(ctx: CertContext) -> Iterator[Finding]:
    """``cert.not-yet-valid``: notBefore is in the future."""
    for role, cert in _timed(ctx):
        if ctx.now < cert.not_valid_before_utc:
            yield _cert_finding(
                ctx,
                "cert.not-yet-valid",
                Severity.FAIL,
                f"{role} certificate {_short(cert)} is not valid before "
                f"{cert.not_valid_before_utc.isoformat()}",
                "check the clocks of the CA and the PSN (NTP), or wait until notBefore",
                role=role,
                cert=cert,
                not_before=cert.not_valid_before_utc.isoformat(),
                now=ctx.now.isoformat(),
            )


def check_expiring(ctx: CertContext) -> Iterator[Finding]:
    """``cert.expiring``: fewer than 60 days left (warn), fewer than 30 (fail)."""
    for role, cert in _timed(ctx):
        left = (cert.not_valid_after_utc - ctx.now).total_seconds()
        if left < 0 or left >= EXPIRY_WARN_DAYS * DAY:
            continue
        yield _cert_finding(
            ctx,
            "cert.expiring",
            Severity.FAIL if left < EXPIRY_FAIL_DAYS * DAY else Severity.WARN,
            f"{role} certificate {_short(cert)} expires in {_days(left)} days "
            f"({cert.not_valid_after_utc.isoformat()})",
            renewal_fix(
                role,
                cert,
                "renew now; ISE keeps serving the old certificate until the new one is bound",
            ),
            role=role,
            cert=cert,
            days_left=_days(left),
            not_after=cert.not_valid_after_utc.isoformat(),
        )


# -- policy ------------------------------------------------------------------------------


_EKU_NAMES = {
    ExtendedKeyUsageOID.SERVER_AUTH.dotted_string: "serverAuth",
    ExtendedKeyUsageOID.CLIENT_AUTH.dotted_string: "clientAuth",
    ExtendedKeyUsageOID.CODE_SIGNING.dotted_string: "codeSigning",
    ExtendedKeyUsageOID.EMAIL_PROTECTION.dotted_string: "emailProtection",
    ExtendedKeyUsageOID.TIME_STAMPING.dotted_string: "timeStamping",
    ExtendedKeyUsageOID.OCSP_SIGNING.dotted_string: "OCSPSigning",
    ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE.dotted_string: "anyExtendedKeyUsage",
}


# pxGrid authenticates in both directions, so a Multi-Use certificate bound to it needs
# clientAuth beside serverAuth: a serverAuth-only reissue would break pxGrid.
_EKU_FIX = (
    "reissue with extendedKeyUsage serverAuth (AD CS: a template based on 'Web Server'); keep "
    "clientAuth too if the certificate is also bound to ISE's pxGrid usage"
)


def check_eku(ctx: CertContext) -> Iterator[Finding]:
    """``cert.eku``: serverAuth in the EKU (required by Apple from 2019-07-01)."""
    leaf = ctx.leaf
    try:
        eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        if leaf.not_valid_before_utc > APPLE_2019:
            yield _finding(
                ctx,
                "cert.eku",
                Severity.FAIL,
                "no extendedKeyUsage; Apple requires id-kp-serverAuth in certificates issued "
                "on or after 2019-07-01",
                _EKU_FIX,
                usages=None,
            )
        return
    usages = [_EKU_NAMES.get(oid.dotted_string, oid.dotted_string) for oid in eku]
    if ExtendedKeyUsageOID.SERVER_AUTH not in list(eku):
        yield _finding(
            ctx,
            "cert.eku",
            Severity.FAIL,
            f"extendedKeyUsage lacks serverAuth (got {', '.join(usages) or 'none'})",
            _EKU_FIX,
            usages=usages,
        )


def _validity_text(seconds: int, limit_days: int) -> str:
    # Rounded to days, a validity just past the limit would print as "825.0 days, more than
    # 825": at the limit, the seconds over it are shown.
    whole, rest = divmod(seconds, DAY)
    if whole == limit_days:
        return f"{whole} days and {rest} s"
    return f"{_days(seconds)} days"


def _span_seconds(cert: x509.Certificate) -> int:
    """notAfter - notBefore, as Apple's trustd measures validity (no second added)."""
    delta = cert.not_valid_after_utc - cert.not_valid_before_utc
    return int(delta.total_seconds())


def _too_long(
    ctx: CertContext,
    check: str,
    *,
    seconds: int,
    limit_days: int,
    allowed: int,
    rule: str,
    fix: str,
) -> Iterator[Finding]:
    if seconds > allowed:
        yield _finding(
            ctx,
            check,
            Severity.FAIL,
            f"validity is {_validity_text(seconds, limit_days)}, "
            f"more than {limit_days} days ({rule})",
            fix,
            validity_days=_days(seconds),
            limit_days=limit_days,
            not_before=ctx.leaf.not_valid_before_utc.isoformat(),
        )


# Apple's trustd (SecPolicyServer.c, SecPolicyCheckOtherTrustValidityPeriodMaximums):
# certificates under a CA that is not preinstalled, issued after 2019-07-01 00:00 UTC, fail
# when notAfter - notBefore exceeds 825 days plus one hour of slip. So an openssl
# "-days 825" certificate passes on macOS, and so must it here.
APPLE_825_SLIP = 3600


def check_validity_825(ctx: CertContext) -> Iterator[Finding]:
    """``cert.validity-825``: at most 825 days (and Apple's hour of slip) for certificates
    issued after 2019-07-01."""
    if ctx.leaf.not_valid_before_utc > APPLE_2019:
        yield from _too_long(
            ctx,
            "cert.validity-825",
            seconds=_span_seconds(ctx.leaf),
            limit_days=MAX_DAYS_PRIVATE,
            allowed=MAX_DAYS_PRIVATE * DAY + APPLE_825_SLIP,
            rule="Apple: certificates issued after 2019-07-01; macOS allows one hour over",
            fix="reissue with a validity of at most 825 days; macOS and iOS reject longer ones",
        )


def check_validity_398(ctx: CertContext) -> Iterator[Finding]:
    """``cert.validity-398``: public CAs, at most 398 days from 2020-09-01 (Apple's trustd:
    notAfter - notBefore, no slip)."""
    if ctx.public_ca and ctx.leaf.not_valid_before_utc >= APPLE_2020:
        yield from _too_long(
            ctx,
            "cert.validity-398",
            seconds=_span_seconds(ctx.leaf),
            limit_days=MAX_DAYS_PUBLIC,
            allowed=MAX_DAYS_PUBLIC * DAY,
            rule="Apple: publicly trusted certificates issued on or after 2020-09-01",
            fix="reissue with a validity of at most 398 days",
        )


def check_sc081(ctx: CertContext) -> Iterator[Finding]:
    """``cert.sc081``: public CAs, 200/100/47 days from 2026-03-15/2027-03-15/2029-03-15,
    counted as the Baseline Requirements count validity: both ends included."""
    if not ctx.public_ca:
        return
    issued = ctx.leaf.not_valid_before_utc
    for since, days in SC081_STEPS:
        if issued >= since:
            yield from _too_long(
                ctx,
                "cert.sc081",
                seconds=validity_seconds(ctx.leaf),
                limit_days=days,
                allowed=days * DAY,
                rule=f"CA/B Forum SC-081: public certificates issued from {since.date()}",
                fix=f"reissue with a validity of at most {days} days and automate renewal",
            )
            return


# -- keys and signatures -----------------------------------------------------------------


def _keyed(ctx: CertContext) -> Iterator[tuple[str, x509.Certificate]]:
    yield "leaf", ctx.leaf
    for cert in ctx.issuing_cas:
        yield _role(ctx, cert, "issuing CA"), cert


def _public_key(cert: x509.Certificate) -> object | None:
    try:
        return cert.public_key()
    except (ValueError, UnsupportedAlgorithm):
        return None


def check_key_size(ctx: CertContext) -> Iterator[Finding]:
    """``cert.key-size``: RSA keys under 2048 bits on the leaf or an issuing CA."""
    for role, cert in _keyed(ctx):
        key = _public_key(cert)
        if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS:
            yield _cert_finding(
                ctx,
                "cert.key-size",
                Severity.FAIL,
                f"{role} {_short(cert)} has a {key.key_size}-bit RSA key; "
                f"Apple requires at least {MIN_RSA_BITS}",
                "reissue with an RSA key of 2048 bits or more (or ECDSA P-256/P-384)",
                role=role,
                cert=cert,
                key_bits=key.key_size,
            )


def check_key_type(ctx: CertContext) -> Iterator[Finding]:
    """``cert.key-type``: DSA keys, which TLS clients cannot use (any size)."""
    for role, cert in _keyed(ctx):
        key = _public_key(cert)
        if isinstance(key, dsa.DSAPublicKey):
            yield _cert_finding(
                ctx,
                "cert.key-type",
                Severity.FAIL,
                f"{role} {_short(cert)} has a {key.key_size}-bit DSA key; TLS 1.3 has no DSA "
                "signatures (RFC 8446 4.2.3) and the macOS and Windows TLS stacks refuse DSA "
                "certificates",
                "reissue with an ECDSA P-256/P-384 or RSA 2048+ key (new key pair and CSR)"
                if role == "leaf"
                else "have the CA reissue its certificate with an ECDSA or RSA 2048+ key",
                role=role,
                cert=cert,
                key_bits=key.key_size,
            )


def check_curve(ctx: CertContext) -> Iterator[Finding]:
    """``cert.curve``: EC keys not on P-256, P-384 or P-521; EdDSA keys (few clients)."""
    for role, cert in _keyed(ctx):
        key = _public_key(cert)
        if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name not in GOOD_CURVES:
            yield _cert_finding(
                ctx,
                "cert.curve",
                Severity.FAIL,
                f"{role} {_short(cert)} uses curve {key.curve.name}; TLS clients accept only "
                "P-256, P-384 and P-521",
                "reissue with an ECDSA P-256 or P-384 key",
                role=role,
                cert=cert,
                curve=key.curve.name,
            )
        elif isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            name = "Ed25519" if isinstance(key, ed25519.Ed25519PublicKey) else "Ed448"
            yield _cert_finding(
                ctx,
                "cert.curve",
                Severity.WARN,
                f"{role} {_short(cert)} has an {name} key; most TLS clients and supplicants "
                "do not accept EdDSA certificates",
                "reissue with an ECDSA P-256/P-384 or RSA 2048+ key",
                role=role,
                cert=cert,
                curve=name,
            )


def check_signature_hash(ctx: CertContext) -> Iterator[Finding]:
    """``cert.signature-hash``: SHA-1 or MD5 signatures on the leaf or an intermediate.

    Self-signed roots are skipped: their own signature is never checked by clients.
    """
    for role, cert in _keyed(ctx):
        if role != "leaf" and self_issued(cert):
            continue
        try:
            algorithm = cert.signature_hash_algorithm
        except UnsupportedAlgorithm:
            yield _cert_finding(
                ctx,
                "cert.signature-hash",
                Severity.WARN,
                f"{role} {_short(cert)} is signed with an algorithm feedmgr does not know "
                f"({cert.signature_algorithm_oid.dotted_string})",
                "reissue with a SHA-256 signature",
                role=role,
                cert=cert,
                hash=None,
            )
            continue
        if algorithm is not None and algorithm.name in WEAK_HASHES:
            yield _cert_finding(
                ctx,
                "cert.signature-hash",
                Severity.FAIL,
                f"{role} {_short(cert)} is signed with {algorithm.name.upper()}; Apple and "
                "modern clients require SHA-2",
                "reissue (or have the CA reissue its intermediate) with SHA-256",
                role=role,
                cert=cert,
                hash=algorithm.name,
            )


def check_basic_constraints(ctx: CertContext) -> Iterator[Finding]:
    """``cert.basic-constraints``: the leaf says it is a CA."""
    try:
        bc = ctx.leaf.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return
    if bc.ca:
        yield _finding(
            ctx,
            "cert.basic-constraints",
            Severity.FAIL,
            "the server certificate has basicConstraints cA=TRUE; clients refuse a CA "
            "certificate as a TLS server certificate",
            "reissue as an end-entity certificate (cA=FALSE)",
            ca=True,
            path_length=bc.path_length,
        )


def check_key_usage(ctx: CertContext) -> Iterator[Finding]:
    """``cert.key-usage``: keyUsage without digitalSignature, or with keyCertSign, on a leaf."""
    try:
        ku = ctx.leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return
    if not ku.digital_signature:
        yield _finding(
            ctx,
            "cert.key-usage",
            Severity.FAIL,
            "keyUsage lacks digitalSignature; TLS 1.3 and ECDHE handshakes need it",
            "reissue with keyUsage digitalSignature (plus keyEncipherment for RSA)",
            missing="digitalSignature",
        )
    if ku.key_cert_sign:
        yield _finding(
            ctx,
            "cert.key-usage",
            Severity.FAIL,
            "keyUsage has keyCertSign on a server certificate",
            "reissue without keyCertSign; only CA certificates sign certificates",
            unexpected="keyCertSign",
        )


# -- chain -------------------------------------------------------------------------------


def check_chain(ctx: CertContext) -> Iterator[Finding]:
    """``cert.chain``: the path to a trust anchor builds; intermediates present and ordered."""
    chain = ctx.chain
    data: dict[str, Any] = {
        "status": chain.status.value,
        "path": list(chain.path_order),
        "presented": list(chain.presented_order),
        "misordered": chain.misordered,
        "root_presented": chain.root_presented,
        "unused": [c.subject.rfc4514_string() for c in chain.unused],
        "reason": chain.reason,
    }
    status = chain.status
    fix_intermediate = (
        "serve the full chain: import the issuing intermediate(s) into ISE's trusted store "
        "so the PSN sends them with its certificate; if the missing issuer is a root, give "
        "it with --ca and make sure the endpoints trust it"
    )
    if status is ChainStatus.VERIFIED:
        anchor = chain.anchor
        yield _finding(
            ctx,
            "cert.chain",
            Severity.INFO,
            f"path verified to trust anchor {_short(anchor) if anchor else _short(ctx.leaf)}",
            **data,
        )
    elif status is ChainStatus.MISSING_INTERMEDIATE:
        yield _finding(
            ctx,
            "cert.chain",
            Severity.FAIL,
            f"missing intermediate: the issuer of {_short(chain.path[-1])} "
            f"({chain.missing_issuer}) was not presented and is not a trust anchor",
            fix_intermediate,
            missing_issuer=chain.missing_issuer,
            **data,
        )
    elif status is ChainStatus.UNTRUSTED_ROOT:
        yield _finding(
            ctx,
            "cert.chain",
            Severity.FAIL,
            f"the chain ends at {_short(chain.path[-1])}, which is not a trust anchor",
            "pass the issuing root with --ca, and make sure endpoints trust it",
            **data,
        )
    elif status is ChainStatus.REFUSED:
        refusal = explain_refusal(chain.path, chain.reason, validation_time(ctx.leaf, ctx.now))
        yield _finding(
            ctx,
            "cert.chain",
            Severity.FAIL,
            f"a path to {_short(chain.path[-1])} exists but path validation refused it: "
            f"{refusal.reason}",
            refusal.fix,
            culprit=_short(refusal.culprit) if refusal.culprit is not None else None,
            culprit_role=refusal.culprit_role,
            **data,
        )
    else:
        yield _finding(
            ctx,
            "cert.chain",
            Severity.WARN,
            "no trust anchors: no --ca given and no system trust store found",
            "pass the issuing root CA with --ca",
            **data,
        )
    if chain.misordered:
        yield _finding(
            ctx,
            "cert.chain",
            Severity.WARN,
            "intermediates are presented out of order (got "
            f"{' > '.join(chain.presented_order)}; expected {' > '.join(chain.path_order)})",
            "present the chain leaf first, each certificate followed by its issuer",
            **data,
        )
    if ctx.sent_twice:
        yield _finding(
            ctx,
            "cert.chain",
            Severity.WARN,
            f"the server sends {', '.join(ctx.sent_twice)} more than once; TLS 1.2 requires "
            "each certificate to certify the one before it (RFC 5246 7.4.2), which a repeated "
            "certificate breaks",
            "have the server send each certificate once, leaf first, each followed by its issuer",
            sent_twice=list(ctx.sent_twice),
            **data,
        )
    if chain.unused:
        yield _finding(
            ctx,
            "cert.chain",
            Severity.INFO,
            f"{len(chain.unused)} presented certificate(s) are not on the path: "
            + ", ".join(_short(c) for c in chain.unused),
            "remove certificates that do not belong to this chain",
            **data,
        )


@dataclass(frozen=True)
class Check:
    """One entry of the check table: a stable id, a one-line summary, the function."""

    id: str
    summary: str
    run: Callable[[CertContext], Iterable[Finding]]


CHECKS: tuple[Check, ...] = (
    Check("cert.identity", "every FQDN/IP the agent uses matches a SAN (RFC 9525)", check_identity),
    Check("cert.ip-as-dns", "IP literal written in a dNSName SAN", check_ip_as_dns),
    Check("cert.no-san", "no subjectAltName DNS/IP entries", check_no_san),
    Check("cert.cn-only-match", "name present only in the CN", check_cn_only_match),
    Check("cert.wildcard-cn", "wildcard in the subject CN", check_wildcard_cn),
    Check("cert.expired", "notAfter in the past", check_expired),
    Check("cert.not-yet-valid", "notBefore in the future", check_not_yet_valid),
    Check("cert.expiring", "expires within 60 (warn) / 30 (fail) days", check_expiring),
    Check("cert.eku", "serverAuth EKU (Apple, from 2019-07-01)", check_eku),
    Check("cert.validity-825", "validity <= 825 days (Apple)", check_validity_825),
    Check("cert.validity-398", "validity <= 398 days (public CAs)", check_validity_398),
    Check("cert.sc081", "CA/B SC-081 validity limits (public CAs)", check_sc081),
    Check("cert.key-size", "RSA >= 2048 on leaf and issuing CAs", check_key_size),
    Check("cert.key-type", "no DSA keys (unusable in TLS)", check_key_type),
    Check("cert.curve", "EC keys on P-256/384/521 only", check_curve),
    Check("cert.signature-hash", "no SHA-1/MD5 signatures", check_signature_hash),
    Check("cert.basic-constraints", "the leaf is not a CA", check_basic_constraints),
    Check("cert.key-usage", "digitalSignature, no keyCertSign on the leaf", check_key_usage),
    Check("cert.chain", "path to a trust anchor builds, intermediates ordered", check_chain),
)

# Not in the table: produced by the probe when a target cannot be graded at all.
PROBE_CHECK = "cert.probe"
CHECK_IDS: frozenset[str] = frozenset({*(c.id for c in CHECKS), PROBE_CHECK})


def run_checks(ctx: CertContext, checks: Sequence[Check] = CHECKS) -> tuple[Finding, ...]:
    """Run every check of the table on one context, in table order."""
    return tuple(finding for check in checks for finding in check.run(ctx))


def parse_at(text: str) -> dt.datetime:
    """Parse ``--at``: an ISO date (midnight UTC) or date-time (naive means UTC).

    Raises:
        UsageError: when ``text`` is not an ISO 8601 date or date-time.
    """
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise UsageError(
            f"--at {text}", "expected an ISO date such as 2026-05-01 or 2026-05-01T12:00Z"
        ) from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
