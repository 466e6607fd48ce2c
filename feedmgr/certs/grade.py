"""Grading: turn a certificate bundle (from files or a probe) into findings and a Report."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from cryptography import x509

from feedmgr.certs.chain import analyse_chain, x509_second
from feedmgr.certs.checks import PROBE_CHECK, CertContext, presented_identities, run_checks
from feedmgr.certs.identity import IpReference, Reference, dns_reference, parse_ip
from feedmgr.certs.load import (
    CertBundle,
    bundle_from,
    fingerprint,
    load_anchors,
    load_bundle,
    parse_certificates,
    short_name,
    system_anchors,
)
from feedmgr.certs.probe import ProbeResult, ProbeTarget, probe_all
from feedmgr.errors import InputRejected
from feedmgr.findings import Finding, Report, Severity


@dataclass(frozen=True)
class Trust:
    """The trust anchors paths are built to, and where they came from."""

    anchors: tuple[x509.Certificate, ...]
    source: str

    @classmethod
    def from_options(cls, ca_paths: Sequence[Path]) -> Trust:
        """``--ca`` files when given, else the system trust store.

        Raises:
            ParseError: when a ``--ca`` file is unreadable or holds no certificate.
        """
        if ca_paths:
            return cls(load_anchors(ca_paths), ", ".join(str(p) for p in ca_paths))
        anchors, path = system_anchors()
        return cls(anchors, f"system store {path}" if path else "none found")


@dataclass(frozen=True)
class GradeOptions:
    """What "now" is and whether the public-CA rules apply."""

    now: dt.datetime
    public_ca: bool = False


def grade_bundle(
    bundle: CertBundle,
    references: Sequence[Reference],
    trust: Trust,
    options: GradeOptions,
    label: str | None = None,
) -> tuple[Finding, ...]:
    """Every check of the table on one bundle, "now" taken at X.509's one-second resolution."""
    now = x509_second(options.now)
    chain = analyse_chain(bundle.leaf, bundle.presented, trust.anchors, now)
    ctx = CertContext(
        label=label or bundle.source,
        leaf=bundle.leaf,
        presented=bundle.presented,
        references=tuple(references),
        now=now,
        chain=chain,
        public_ca=options.public_ca,
        sent_twice=bundle.sent_twice,
    )
    return run_checks(ctx)


def leaf_facts(bundle: CertBundle) -> dict[str, str]:
    """Human-readable facts about the leaf, for the report header."""
    leaf = bundle.leaf
    ids = presented_identities(leaf)
    san = [f"DNS:{d}" for d in ids.dns] + [f"IP:{ip}" for ip in ids.ips]
    return {
        "subject": leaf.subject.rfc4514_string() or "(empty)",
        "issuer": leaf.issuer.rfc4514_string() or "(empty)",
        "valid": f"{leaf.not_valid_before_utc.isoformat()} .. "
        f"{leaf.not_valid_after_utc.isoformat()}",
        "san": ", ".join(san) or "(none)",
        "sha256": fingerprint(leaf),
        "chain": str(len(bundle.presented)) + " more certificate(s)",
    }


def check_files(
    cert_path: Path,
    chain_paths: Sequence[Path],
    references: Sequence[Reference],
    ca_paths: Sequence[Path],
    options: GradeOptions,
) -> Report:
    """``feedmgr cert check``: load CERT (and chains), grade it, return the Report.

    Raises:
        ParseError: when a file is unreadable or holds no valid certificate.
        InputRejected: when the leaf is ambiguous.
    """
    bundle = load_bundle(cert_path, chain_paths)
    trust = Trust.from_options(ca_paths)
    findings = grade_bundle(bundle, references, trust, options)
    facts = {
        "file": str(cert_path),
        **leaf_facts(bundle),
        "references": ", ".join(str(r) for r in references) or "(none)",
        "trust anchors": trust.source,
        "now": options.now.isoformat(),
        "public CA rules": "on" if options.public_ca else "off",
    }
    return Report(f"cert check: {cert_path}", findings, facts)


def probe_references(
    target: ProbeTarget, extra_ips: Sequence[IpReference]
) -> tuple[Reference, ...]:
    """What the agent reaches a probed PSN by: ``--servername`` (else the host) and ``--ip``."""
    refs: list[Reference] = []
    if target.servername:
        refs.append(dns_reference(target.servername))
    else:
        address = parse_ip(target.host)
        refs.append(IpReference(address) if address else dns_reference(target.host))
    refs.extend(ref for ref in extra_ips if ref not in refs)
    return tuple(refs)


def probe_failure(result: ProbeResult, timeout: float) -> Finding:
    """The ``cert.probe`` finding for a target that gave no certificate."""
    kind = result.error.value if result.error else "unknown"
    return Finding(
        PROBE_CHECK,
        Severity.FAIL,
        result.target.label,
        f"no certificate: {result.detail}",
        "check that the PSN is up and the port is open from here (posture uses 443, 8443 and 8905)",
        {
            "error": kind,
            "detail": result.detail,
            "timeout_s": timeout,
            "elapsed_s": round(result.elapsed, 3),
        },
    )


def _bundle_from_probe(result: ProbeResult) -> CertBundle:
    label = result.target.label
    certs = [
        cert
        for index, der in enumerate(result.chain_der)
        for cert in parse_certificates(der, f"{label} (presented certificate #{index + 1})")
    ]
    # TLS sends the leaf first (RFC 8446 4.4.2); keep the rest in the order sent.
    bundle = bundle_from(certs[:1], label, certs[1:])
    seen: list[x509.Certificate] = []
    twice: list[str] = []
    for cert in certs:
        if cert in seen and short_name(cert) not in twice:
            twice.append(short_name(cert))
        seen.append(cert)
    return replace(bundle, sent_twice=tuple(twice))


@dataclass(frozen=True)
class GradedTarget:
    """What probing one target found: its findings and, when a chain came back, the leaf."""

    label: str
    findings: tuple[Finding, ...]
    leaf: Mapping[str, str] | None
    summary: str


def grade_probes(
    targets: Sequence[ProbeTarget],
    extra_ips: Sequence[IpReference],
    trust: Trust,
    options: GradeOptions,
    timeout: float,
) -> list[GradedTarget]:
    """Probe every target concurrently and grade what each presents, in target order."""
    graded: list[GradedTarget] = []
    for result in probe_all(targets, timeout):
        label = result.target.label
        if not result.ok:
            error = result.error.value if result.error else "?"
            graded.append(
                GradedTarget(
                    label, (probe_failure(result, timeout),), None, f"no certificate ({error})"
                )
            )
            continue
        try:
            bundle = _bundle_from_probe(result)
        except InputRejected as exc:
            failure = Finding(
                PROBE_CHECK,
                Severity.FAIL,
                label,
                exc.problem,
                "check what the server presents",
                {"error": "malformed"},
            )
            graded.append(GradedTarget(label, (failure,), None, "malformed certificate"))
            continue
        refs = probe_references(result.target, extra_ips)
        summary = leaf_facts(bundle)
        graded.append(
            GradedTarget(
                label,
                grade_bundle(bundle, refs, trust, options, label=label),
                summary,
                f"{summary['subject']} | {summary['san']} | {result.protocol} | "
                f"{len(result.chain_der)} certificate(s) presented"
                + ("" if result.chain_complete else " (leaf only: no chain API)"),
            )
        )
    return graded


def probe_targets(
    targets: Sequence[ProbeTarget],
    extra_ips: Sequence[IpReference],
    ca_paths: Sequence[Path],
    options: GradeOptions,
    timeout: float,
) -> Report:
    """``feedmgr cert probe``: probe every target concurrently, grade what each presents.

    Raises:
        ParseError: when a ``--ca`` file is unreadable.
    """
    trust = Trust.from_options(ca_paths)
    findings: list[Finding] = []
    facts: dict[str, str] = {
        "trust anchors": trust.source,
        "now": options.now.isoformat(),
        "timeout": f"{timeout:g}s",
    }
    for target in grade_probes(targets, extra_ips, trust, options, timeout):
        findings.extend(target.findings)
        facts[target.label] = target.summary
    return Report("cert probe", tuple(findings), facts)
