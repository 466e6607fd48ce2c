"""Preflight's ``[ise]`` section: discover the PSNs from ISE and grade what they hold.

Per PSN (a node whose services include Session) and per usage:

* Portal and Admin certificates are graded live, through the same grading as
  ``feedmgr cert probe``: the PSN's FQDN on ``portal_port`` (what agents see, default 8443)
  and ``admin_port`` (443). The certificate presented must be one ISE lists for that usage.
* Every other certificate in use (EAP Authentication above all), and a Portal or Admin
  certificate the probe did not present, is exported from ISE (the certificate only, never
  its key) and graded exactly as ``feedmgr cert check`` grades a file, with the PSN's
  identities as ``--host``/``--ip``.
* When ISE refuses the export (HTTP 403, a read-only account), those certificates are graded
  from ISE's metadata only (their expiry date), and one ``ise.metadata-only`` finding says
  so and names the checks that leaves out.

Cisco's schemas: tests/data/ise (SOURCES there); details in docs/ise.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from feedmgr.certs.checks import CHECKS, EXPIRY_FAIL_DAYS, EXPIRY_WARN_DAYS
from feedmgr.certs.grade import GradeOptions, Trust, grade_bundle, grade_probes, leaf_facts
from feedmgr.certs.identity import IpReference, Reference, dns_reference, parse_ip
from feedmgr.certs.probe import ProbeTarget
from feedmgr.deployment import IseSection, PsnSection, deployment_path
from feedmgr.errors import InputRejected, NetworkError, SchemaError
from feedmgr.findings import Finding, Severity
from feedmgr.ise.client import IseClient
from feedmgr.ise.models import CONNECTED, Node, SystemCertificate

PORTAL = "Portal"
ADMIN = "Admin"
# Usages a TLS probe of the PSN can see, and where.
PROBED_USAGES = (PORTAL, ADMIN)
NOT_IN_USE = "Not in use"
METADATA_CHECKS = ("cert.expired", "cert.expiring")
LEFT_OUT = tuple(c.id for c in CHECKS if c.id not in METADATA_CHECKS)

# Java's Date.toString() ("Tue Oct 08 05:43:45 UTC 2024") and the form ISE's filters use.
_DATE_FORMATS = ("%a %b %d %H:%M:%S %Z %Y", "%Y-%m-%d %H:%M:%S")


@dataclass
class CertificateRow:
    """One graded certificate for the HTML report: label, findings, leaf facts."""

    label: str
    findings: tuple[Finding, ...]
    leaf: Mapping[str, str] | None


@dataclass
class IseOutcome:
    """What the ``[ise]`` section found."""

    findings: list[Finding] = field(default_factory=list)
    rows: list[CertificateRow] = field(default_factory=list)
    facts: dict[str, str] = field(default_factory=dict)


def parse_ise_date(text: str) -> dt.datetime | None:
    """An ISE certificate date as UTC, or None when its form (or time zone) is not known."""
    value = text.strip()
    for form in _DATE_FORMATS:
        try:
            parsed = dt.datetime.strptime(value, form)
        except ValueError:
            continue
        if "%Z" in form and value.split()[-2] not in ("UTC", "GMT"):
            return None
        return parsed.replace(tzinfo=dt.UTC)
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed.astimezone(dt.UTC)


def grade_from_ise(
    client: IseClient,
    section: IseSection,
    base: Path,
    hand_written: Sequence[PsnSection],
    now: dt.datetime,
) -> IseOutcome:
    """Discover the PSNs, compare them with the hand-written ``[[psn]]``, grade them.

    Raises:
        NetworkError, SchemaError: ISE could not be read (the caller turns it into a finding).
        ParseError: a ``psn_ca`` file is unreadable.
    """
    outcome = IseOutcome()
    nodes = client.nodes()
    psns = [node for node in nodes if node.is_psn]
    outcome.facts["ise"] = f"{client.base_url}: {len(nodes)} node(s), {len(psns)} PSN(s)"
    if not psns:
        outcome.findings.append(
            Finding(
                "ise.no-psn",
                Severity.WARN,
                client.base_url,
                f"ISE lists {len(nodes)} node(s) and none runs the Session service",
                "enable the Policy Service persona (Session services) on the nodes agents use",
                {"nodes": [node.hostname for node in nodes]},
            )
        )
    outcome.findings += _status_findings(psns)
    outcome.findings += _inventory_findings(psns, hand_written)
    trust = Trust.from_options([deployment_path(c, base) for c in section.psn_ca])
    options = GradeOptions(now=now, public_ca=section.public_ca)
    held = _HeldGrader(client, trust, options, outcome)
    for psn in psns:
        certificates = [cert for cert in client.system_certificates(psn.hostname) if _in_use(cert)]
        references = _references(psn, section)
        probed = _grade_live(
            psn, certificates, section, references, trust=trust, options=options, outcome=outcome
        )
        for cert in certificates:
            if cert.id is None or cert.id not in probed:
                held.grade(psn, cert, references)
    outcome.findings += held.refusal_findings()
    return outcome


def _references(psn: Node, section: IseSection) -> tuple[Reference, ...]:
    """The PSN's identities to grade, as ``cert check --host FQDN --ip ADDR`` would get them.

    Raises:
        SchemaError: ISE's ipAddress for the node is not an IP address (discovery by IP).
    """
    refs: list[Reference] = []
    if section.discovery in ("fqdn", "both"):
        refs.append(dns_reference(psn.fqdn))
    if section.discovery in ("ip", "both"):
        address = parse_ip(psn.ip_address)
        if address is None:
            raise SchemaError(psn.hostname, f"ISE's ipAddress {psn.ip_address!r} is not an IP")
        refs.append(IpReference(address))
    return tuple(refs)


def _label(psn: Node, cert: SystemCertificate) -> str:
    return f"{psn.hostname} {cert.friendly_name or cert.id or '?'} ({cert.used_by})"


@dataclass
class _HeldGrader:
    """Grades the certificates ISE holds from their export; after a 403 (the account may
    not export, which will not change during the run) from ISE's metadata only."""

    client: IseClient
    trust: Trust
    options: GradeOptions
    outcome: IseOutcome
    refusal: str | None = None
    metadata_only: list[tuple[str, SystemCertificate]] = field(default_factory=list)

    def grade(self, psn: Node, cert: SystemCertificate, references: Sequence[Reference]) -> None:
        """Export ``cert`` and grade it as ``cert check`` would, or fall back to metadata."""
        label = _label(psn, cert)
        if self.refusal is None and cert.id:
            try:
                bundle = self.client.export_certificate(psn.hostname, cert)
            except NetworkError as exc:
                if exc.details.get("status") != 403:
                    self._metadata(psn, cert, f"its export failed: {exc.problem}")
                    return
                self.refusal = exc.problem
            except InputRejected as exc:
                self.outcome.findings.append(_export_rejected(label, psn, exc))
                self._metadata(psn, cert, "its export could not be read")
                return
            else:
                found = grade_bundle(bundle, references, self.trust, self.options, label=label)
                self.outcome.rows.append(CertificateRow(label, found, leaf_facts(bundle)))
                self.outcome.findings += found
                return
        if self.refusal is None:
            self._metadata(psn, cert, "ISE gave it no id to export it by")
            return
        self.outcome.findings += _metadata_expiry(psn, cert, self.options.now)
        self.metadata_only.append((label, cert))

    def _metadata(self, psn: Node, cert: SystemCertificate, why: str) -> None:
        self.outcome.findings += _metadata_expiry(psn, cert, self.options.now)
        self.outcome.findings.append(_metadata_only(psn, cert, why))

    def refusal_findings(self) -> list[Finding]:
        """The one ``ise.metadata-only`` finding of a refused export, naming every
        certificate it left to metadata."""
        if self.refusal is None or not self.metadata_only:
            return []
        labels = [label for label, _ in self.metadata_only]
        unread = [label for label, cert in self.metadata_only if _expiry(cert) is None]
        note = (
            f"; the expiration date of {', '.join(unread)} was not understood, so expiry "
            "was not checked either"
            if unread
            else ""
        )
        return [
            Finding(
                "ise.metadata-only",
                Severity.INFO,
                self.client.base_url,
                f"ISE refused the certificate export ({self.refusal}); "
                f"{len(labels)} certificate(s) graded from ISE's metadata only "
                f"({'; '.join(labels)}){note}; left out: {', '.join(LEFT_OUT)}",
                "give feedmgr's account a role ISE lets export system certificates, or export "
                "them from ISE's System Certificates page and grade them with feedmgr cert check",
                {"reason": "export-refused", "certificates": labels, "left_out": list(LEFT_OUT)},
            )
        ]


def _export_rejected(label: str, psn: Node, exc: InputRejected) -> Finding:
    return Finding(
        "ise.export-rejected",
        Severity.WARN,
        label,
        f"ISE's export of the certificate is not a safe zip holding it: {exc.problem}",
        "export the certificate from ISE's System Certificates page and grade it with "
        "feedmgr cert check; check what answers on the PAN's API",
        {"hostname": psn.hostname, "problem": exc.problem},
    )


def _in_use(cert: SystemCertificate) -> bool:
    return any(usage != NOT_IN_USE for usage in cert.usages)


def _status_findings(psns: Sequence[Node]) -> list[Finding]:
    found = []
    for psn in psns:
        status = psn.node_status
        if status is None or status == CONNECTED:
            continue
        if status == "NotApplicable" and "Standalone" in psn.roles:
            continue
        found.append(
            Finding(
                "ise.psn-status",
                Severity.WARN,
                psn.fqdn,
                f"ISE reports the PSN as {status}, not Connected",
                "check the node in Administration > System > Deployment (replication, "
                "registration, upgrade) before relying on it for posture",
                {"hostname": psn.hostname, "node_status": status},
            )
        )
    return found


def _inventory_findings(psns: Sequence[Node], hand_written: Sequence[PsnSection]) -> list[Finding]:
    if not hand_written:
        return []
    known = {psn.fqdn.lower(): psn for psn in psns}
    by_host = {psn.hostname.lower(): psn for psn in psns}
    matched: set[str] = set()
    found = []
    for entry in hand_written:
        node = known.get((entry.fqdn or "").lower()) or by_host.get(entry.name.lower())
        if node is not None:
            matched.add(node.fqdn.lower())
            continue
        found.append(
            Finding(
                "ise.psn-unknown",
                Severity.WARN,
                f"psn {entry.name}",
                f"the deployment file lists {entry.fqdn or entry.name}, which ISE does not "
                "list as a Policy Service node",
                "correct or remove the [[psn]] entry (a typo, or a node that left the "
                "deployment), or enable Session services on that node",
                {"name": entry.name, "fqdn": entry.fqdn},
            )
        )
    for psn in psns:
        if psn.fqdn.lower() not in matched:
            found.append(
                Finding(
                    "ise.psn-unlisted",
                    Severity.INFO,
                    psn.fqdn,
                    "ISE lists this PSN but the deployment file has no [[psn]] for it; it is "
                    "graded from what ISE reports",
                    "add a [[psn]] entry if agents reach it by other names or IPs",
                    {"hostname": psn.hostname},
                )
            )
    return found


def _grade_live(
    psn: Node,
    certificates: Sequence[SystemCertificate],
    section: IseSection,
    references: Sequence[Reference],
    *,
    trust: Trust,
    options: GradeOptions,
    outcome: IseOutcome,
) -> set[str]:
    """Probe the Portal and Admin ports; return the ids of the certificates graded live."""
    if not section.probe:
        return set()
    ports = {PORTAL: section.portal_port, ADMIN: section.admin_port}
    usages = [u for u in PROBED_USAGES if any(u in c.usages for c in certificates)]
    ips = [ref for ref in references if isinstance(ref, IpReference)]
    # Reached as agents reach it: by name (SNI) unless discovery is by IP only.
    by_ip = section.discovery == "ip"
    host, servername = (psn.ip_address, None) if by_ip else (psn.fqdn, psn.fqdn)
    # Portal and Admin on one port (a common setup) are one certificate: probed and graded
    # once, or every finding would be reported twice.
    distinct = list(dict.fromkeys(ports[u] for u in usages))
    targets = [ProbeTarget(host, port, servername) for port in distinct]
    by_port = dict(
        zip(distinct, grade_probes(targets, ips, trust, options, section.timeout), strict=True)
    )
    graded_ids: set[str] = set()
    for port, graded in by_port.items():
        sharing = " and ".join(u for u in usages if ports[u] == port)
        outcome.rows.append(
            CertificateRow(f"{psn.hostname} {sharing} {graded.label}", graded.findings, graded.leaf)
        )
        outcome.findings += graded.findings
    for usage in usages:
        graded = by_port[ports[usage]]
        if graded.leaf is None:
            continue
        listed = [c for c in certificates if usage in c.usages]
        presented = graded.leaf.get("sha256", "")
        match = [c for c in listed if c.sha256_hex == presented]
        if match:
            graded_ids.update(c.id for c in match if c.id is not None)
        elif any(c.sha256_hex for c in listed):
            outcome.findings.append(_mismatch(psn, usage, graded.label, presented, listed))
    return graded_ids


def _mismatch(
    psn: Node, usage: str, where: str, presented: str, listed: Sequence[SystemCertificate]
) -> Finding:
    names = ", ".join(c.friendly_name or c.id or "?" for c in listed)
    return Finding(
        "ise.cert-mismatch",
        Severity.WARN,
        where,
        f"{psn.hostname} presents certificate sha256 {presented[:16]}... on {where}, which "
        f"is not the one ISE lists for {usage} ({names})",
        "check what answers on that port (a load balancer or another portal's certificate "
        "group tag) and bind the intended certificate in ISE",
        {"usage": usage, "presented_sha256": presented, "listed": names},
    )


def _expiry(cert: SystemCertificate) -> dt.datetime | None:
    return parse_ise_date(cert.expiration_date) if cert.expiration_date else None


def _metadata_data(psn: Node, cert: SystemCertificate) -> dict[str, object]:
    return {
        "hostname": psn.hostname,
        "used_by": cert.used_by,
        "friendly_name": cert.friendly_name,
        "expiration_date": cert.expiration_date,
    }


def _metadata_only(psn: Node, cert: SystemCertificate, why: str) -> Finding:
    unread = (
        ""
        if _expiry(cert) is not None
        else f"; its expiration date {cert.expiration_date!r} was not understood, so "
        "expiry was not checked either"
    )
    return Finding(
        "ise.metadata-only",
        Severity.INFO,
        _label(psn, cert),
        f"graded from ISE's metadata only ({why}){unread}; left out: {', '.join(LEFT_OUT)}",
        "grade the certificate file with feedmgr cert check (export it from ISE's "
        "System Certificates page) for the full checks",
        {**_metadata_data(psn, cert), "left_out": list(LEFT_OUT)},
    )


def _metadata_expiry(psn: Node, cert: SystemCertificate, now: dt.datetime) -> list[Finding]:
    expires = _expiry(cert)
    if expires is None:
        return []
    left = (expires - now).total_seconds() / 86_400
    if left >= EXPIRY_WARN_DAYS:
        return []
    severity = Severity.FAIL if left < EXPIRY_FAIL_DAYS else Severity.WARN
    state = "expired" if left < 0 else f"expires in {left:.0f} days"
    return [
        Finding(
            "ise.cert-expiring",
            severity,
            _label(psn, cert),
            f"ISE reports the certificate {state} ({expires.isoformat()})",
            "renew it and bind the new certificate to the same usages in ISE",
            {**_metadata_data(psn, cert), "days_left": round(left, 1)},
        )
    ]
