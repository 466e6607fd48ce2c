"""Certification path building: does the presented chain reach a trust anchor, and if not, why.

Path validation is ``cryptography.x509.verification`` (a WebPKI path builder) against the
``--ca`` anchors or the system store, with TLS **server** semantics: a CA certificate that
carries an extendedKeyUsage must allow serverAuth (or anyExtendedKeyUsage), as several large
public TLS CAs restrict theirs. When it verifies, the path is the one the verifier built
(clients build the valid path, whatever else was presented); when it refuses, a structural
walk over the presented certificates says whether an intermediate is missing, the root is
untrusted, or the path is complete but refused (the verifier's reason is passed on).
Misordered intermediates are reported in every case: TLS 1.2 (RFC 5246 7.4.2) requires each
certificate to certify the one before it, and older supplicants enforce it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from feedmgr.certs.load import issued, self_issued

# RFC 5280 has no limit; 8 intermediates is far beyond any real PSN chain and bounds the walk.
MAX_DEPTH = 8


class ChainStatus(StrEnum):
    """The outcome of path building."""

    VERIFIED = "verified"
    MISSING_INTERMEDIATE = "missing-intermediate"
    UNTRUSTED_ROOT = "untrusted-root"
    REFUSED = "refused"
    NO_ANCHORS = "no-anchors"


@dataclass(frozen=True)
class ChainAnalysis:
    """What path building found.

    ``path`` runs from the leaf up to the last certificate found (the anchor included when
    reached); ``misordered`` is True when the intermediates on the path were presented in a
    different order; ``unused`` are presented certificates not on the path;
    ``missing_issuer`` names the issuer that could not be found; ``reason`` is the
    verifier's message when it refused.
    """

    status: ChainStatus
    path: tuple[x509.Certificate, ...]
    misordered: bool = False
    presented_order: tuple[str, ...] = ()
    path_order: tuple[str, ...] = ()
    unused: tuple[x509.Certificate, ...] = ()
    missing_issuer: str | None = None
    reason: str | None = None
    root_presented: bool = False

    @property
    def anchor(self) -> x509.Certificate | None:
        """The trust anchor the path reached, if any."""
        if self.status in (ChainStatus.VERIFIED, ChainStatus.REFUSED) and len(self.path) > 1:
            return self.path[-1]
        return None


def _name(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string() or "(empty subject)"


@dataclass(frozen=True)
class _Walk:
    path: tuple[x509.Certificate, ...]
    anchored: bool
    missing_issuer: str | None


def _walk(
    leaf: x509.Certificate,
    presented: Sequence[x509.Certificate],
    anchors: Sequence[x509.Certificate],
) -> _Walk:
    path = [leaf]
    current = leaf
    for _ in range(MAX_DEPTH + 1):
        anchor = next((a for a in anchors if issued(a, current)), None)
        if anchor is not None:
            if anchor != current:
                path.append(anchor)
            return _Walk(tuple(path), anchored=True, missing_issuer=None)
        if self_issued(current):
            return _Walk(tuple(path), anchored=False, missing_issuer=None)
        parent = next((p for p in presented if p not in path and issued(p, current)), None)
        if parent is None:
            return _Walk(tuple(path), False, current.issuer.rfc4514_string() or "(empty)")
        path.append(parent)
        current = parent
    return _Walk(tuple(path), anchored=False, missing_issuer=None)


def _misordered(path: Sequence[x509.Certificate], presented: Sequence[x509.Certificate]) -> bool:
    positions = [presented.index(cert) for cert in path[1:] if cert in presented]
    return positions != sorted(positions)


def _server_auth_ca(
    _policy: object, cert: x509.Certificate, eku: x509.ExtendedKeyUsage | None
) -> None:
    # The CA rule of cryptography's server verifier (EKU chaining, as browsers apply it): a
    # CA without the extension is unrestricted; one with it must list serverAuth or
    # anyExtendedKeyUsage to issue TLS server certificates.
    if eku is None:
        return
    usages = list(eku)
    if ExtendedKeyUsageOID.SERVER_AUTH in usages:
        return
    if ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in usages:
        return
    raise ValueError(
        f"CA {cert.subject.rfc4514_string()} restricts extendedKeyUsage without serverAuth"
    )


def _verify(
    leaf: x509.Certificate,
    presented: Sequence[x509.Certificate],
    anchors: Sequence[x509.Certificate],
    at: dt.datetime,
) -> tuple[tuple[x509.Certificate, ...], None] | tuple[None, str]:
    """Run cryptography's path builder: the verified path (leaf first, anchor last), or the
    reason it refused."""
    from cryptography.x509.verification import (
        Criticality,
        ExtensionPolicy,
        PolicyBuilder,
        Store,
        VerificationError,
    )

    # The server verifier proper also matches a subject name against the leaf's SAN, which is
    # cert.identity's job (RFC 9525, several names, near misses) and would turn a name
    # mismatch into a chain failure. So the client verifier builds the path, with the CA
    # policy's EKU rule switched to serverAuth: the same CA checks the server verifier makes.
    # The end-entity policy is permissive on purpose: EKU, SAN and key usage of the leaf
    # have their own checks with their own ids; here only the path counts.
    ca_policy = ExtensionPolicy.webpki_defaults_ca().may_be_present(
        x509.ExtendedKeyUsage, Criticality.AGNOSTIC, _server_auth_ca
    )
    builder = (
        PolicyBuilder()
        .store(Store(list(anchors)))
        .time(at)
        .max_chain_depth(MAX_DEPTH)
        .extension_policies(ca_policy=ca_policy, ee_policy=ExtensionPolicy.permit_all())
    )
    try:
        verified = builder.build_client_verifier().verify(leaf, list(presented))
    except VerificationError as exc:
        return None, str(exc)
    except (ValueError, TypeError) as exc:
        return None, f"{type(exc).__name__}: {exc}"
    return tuple(verified.chain), None


def x509_second(moment: dt.datetime) -> dt.datetime:
    """``moment`` at X.509 resolution: UTCTime and GeneralizedTime in certificates carry
    whole seconds (RFC 5280 4.1.2.5.1-2), so a time inside notAfter's second is not after it.
    Flooring, not rounding, is what RFC 5280 clients do (x509-limbo's
    ``rfc5280::validity::notafter-fractional`` / ``notbefore-fractional``)."""
    return moment.replace(microsecond=0)


def validation_time(leaf: x509.Certificate, now: dt.datetime) -> dt.datetime:
    """``now``, moved inside the leaf's validity so that expiry stays ``cert.expired``'s job."""
    return min(max(x509_second(now), leaf.not_valid_before_utc), leaf.not_valid_after_utc)


def analyse_chain(
    leaf: x509.Certificate,
    presented: Sequence[x509.Certificate],
    anchors: Sequence[x509.Certificate],
    now: dt.datetime,
) -> ChainAnalysis:
    """Build the path from ``leaf`` over ``presented`` to one of ``anchors`` and explain it."""
    presented = [cert for cert in presented if cert != leaf]
    verified, reason = (
        _verify(leaf, presented, anchors, validation_time(leaf, now)) if anchors else (None, None)
    )
    walk = _walk(leaf, presented, anchors)
    path = verified if verified is not None else walk.path
    on_path = set(path)
    base = ChainAnalysis(
        ChainStatus.NO_ANCHORS,
        path=path,
        misordered=_misordered(path, presented),
        presented_order=tuple(_name(c) for c in presented),
        path_order=tuple(_name(c) for c in path[1:]),
        unused=tuple(cert for cert in presented if cert not in on_path),
        root_presented=any(self_issued(c) for c in presented if c in on_path),
    )
    if not anchors:
        return base
    if verified is not None:
        return replace(base, status=ChainStatus.VERIFIED)
    if walk.missing_issuer is not None:
        return replace(
            base,
            status=ChainStatus.MISSING_INTERMEDIATE,
            missing_issuer=walk.missing_issuer,
            reason=reason,
        )
    if not walk.anchored:
        return replace(base, status=ChainStatus.UNTRUSTED_ROOT, reason=reason)
    return replace(base, status=ChainStatus.REFUSED, reason=reason)
