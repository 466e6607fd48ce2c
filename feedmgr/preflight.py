"""Pre-deployment preflight: run every check a deployment file asks for into one Report.

Sections (docs/preflight.md): the feed (lag against released OS versions, expiry,
staleness), client-provisioning coverage, PSN certificates (files and live probes) and
macOS service posture conditions. A section that cannot run (a missing file, no active
feed, an unreadable policy) becomes a ``preflight.section`` fail finding; it never stops the
other sections. A section the file leaves out is reported as ``preflight.skipped`` (info).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from feedmgr.deployment import (
    Deployment,
    FeedSection,
    IseSection,
    PostureSection,
    ProvisioningSection,
    PsnSection,
    deployment_path,
)
from feedmgr.errors import FeedmgrError, InputRejected
from feedmgr.feed.access import FeedView
from feedmgr.findings import Finding, Report, Severity
from feedmgr.osmatrix.releases import Release
from feedmgr.posture.model import PostureSpec
from feedmgr.render.html import CertificateRow, HtmlSections, TimelinePoint

SECTION_CHECK = "preflight.section"
SKIPPED_CHECK = "preflight.skipped"
CONDITIONS_CHECK = "posture.conditions"


@dataclass
class _Outcome:
    findings: list[Finding] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PreflightResult:
    """The report, plus the data the HTML report draws."""

    report: Report
    sections: HtmlSections


class _Run:
    """One preflight run: where files are, which store, what "now" is."""

    def __init__(self, base: Path, home: Path, now: datetime) -> None:
        self.base = base
        self.home = home
        self.now = now
        self.outcome = _Outcome()
        self.coverage: dict[str, Any] | None = None
        self.timeline: list[TimelinePoint] = []
        self.certificates: list[CertificateRow] = []
        self.feed: FeedView | None = None
        self.fleet: list[dict[str, Any]] = []

    def path(self, value: str) -> Path:
        """A path from the deployment file, relative to its folder."""
        return deployment_path(value, self.base)

    def existing(self, value: str, what: str) -> Path:
        """A path that must name an existing file.

        Raises:
            InputRejected: the file does not exist.
        """
        path = self.path(value)
        if not path.is_file():
            raise InputRejected(str(path), f"{what}: no such file")
        return path

    def guarded(self, section: str, step: Callable[[], None]) -> None:
        """Run one section; its errors become a finding instead of ending the run."""
        try:
            step()
        except FeedmgrError as exc:
            self.outcome.findings.append(
                Finding(
                    SECTION_CHECK,
                    Severity.FAIL,
                    section,
                    f"could not run: {exc.diagnostics()}",
                    "fix the input named above, then rerun preflight",
                    {"section": section, "exit_code": int(exc.exit_code)},
                )
            )

    def skipped(self, section: str, why: str) -> None:
        """Record a section the deployment file does not ask for."""
        self.outcome.findings.append(
            Finding(SKIPPED_CHECK, Severity.INFO, section, why, "", {"section": section})
        )


def _feed(run: _Run, section: FeedSection) -> None:
    from feedmgr.feed.access import open_feed
    from feedmgr.osmatrix.classify import classify
    from feedmgr.osmatrix.lag import LagPolicy, lag_report, release_identifier
    from feedmgr.osmatrix.releases import load_release_catalogs

    package = str(run.existing(section.package, "feed package")) if section.package else None
    trust = [run.existing(k, "trusted key") for k in section.trust]
    view = open_feed(run.home, package, trust=trust, allow_unsigned=section.allow_unsigned)
    run.feed = view
    releases = load_release_catalogs(
        run.home,
        [run.existing(r, "release catalog") for r in section.releases],
        include_shipped=section.shipped_releases,
    )
    report = lag_report(
        view.catalog,
        releases,
        published=view.published,
        expires=view.expires,
        now=run.now,
        policy=LagPolicy(max_days=section.max_lag_days, stale_days=section.stale_days),
        feed_label=f"feed {view.version}",
    )
    run.outcome.findings.extend(report.findings)
    run.outcome.facts["feed"] = f"{view.version} ({view.source}), expires {view.expires:%Y-%m-%d}"
    for release in releases.sorted():
        known = classify(view.catalog, release_identifier(release)) is not None
        run.timeline.append(
            TimelinePoint(_timeline_row(release), release.label, release.released, known)
        )


def _timeline_row(release: Release) -> str:
    if release.family == "macos":
        return f"macOS {release.version.major}"
    if release.family == "windows":
        return " ".join(release.label.split()[:2])
    return release.family


def _provisioning(run: _Run, section: ProvisioningSection) -> None:
    from feedmgr.provisioning.audit import audit
    from feedmgr.provisioning.classify import FeedClassifier
    from feedmgr.provisioning.inventory import preset, read_inventory
    from feedmgr.provisioning.policy import load_policy
    from feedmgr.provisioning.render import coverage_json

    if run.feed is None:
        raise InputRejected("provisioning", "needs a feed to classify OS versions, and none opened")
    policy = load_policy(run.existing(section.policy, "CP policy"))
    counts = None
    if section.inventory:
        columns = preset(section.preset).with_overrides(
            os=section.os_column, group=section.group_column
        )
        counts = read_inventory(run.existing(section.inventory, "inventory"), columns)
    coverage = audit(
        policy,
        run.feed.catalog,
        FeedClassifier(run.feed.catalog),
        inventory=counts,
        extra_groups=section.groups,
    )
    run.outcome.findings.extend(coverage.report.findings)
    run.coverage = coverage_json(coverage)


def _not_after(leaf: dict[str, str] | None) -> str:
    if not leaf:
        return "-"
    return leaf.get("valid", "").split("..")[-1].strip()[:10] or "-"


def _psn(run: _Run, psn: PsnSection) -> None:
    from feedmgr.certs.grade import GradeOptions, Trust, grade_bundle, grade_probes, leaf_facts
    from feedmgr.certs.identity import IpReference, Reference, dns_reference, parse_ip
    from feedmgr.certs.load import load_bundle
    from feedmgr.certs.probe import ProbeTarget

    ips: list[IpReference] = []
    for text in psn.ips:
        address = parse_ip(text)
        if address is None:
            raise InputRejected(f"psn {psn.name}", f"{text!r} is not an IP address")
        ips.append(IpReference(address))
    references: list[Reference] = []
    if psn.discovery in ("fqdn", "both") and psn.fqdn:
        references.append(dns_reference(psn.fqdn))
    if psn.discovery in ("ip", "both"):
        references.extend(ips)
    options = GradeOptions(now=run.now, public_ca=psn.public_ca)
    trust = Trust.from_options([run.existing(c, "CA file") for c in psn.ca])
    chains = [run.existing(c, "chain file") for c in psn.chain]
    for cert in psn.certificates:
        path = run.existing(cert, "certificate")
        bundle = load_bundle(path, chains)
        label = f"{psn.name} ({path.name})"
        found = grade_bundle(bundle, references, trust, options, label=label)
        _certificate_row(run, label, found, leaf_facts(bundle))
    if psn.probe_ports:
        host = psn.fqdn or psn.ips[0]
        targets = [ProbeTarget(host, port, psn.fqdn) for port in psn.probe_ports]
        extra = ips if psn.discovery in ("ip", "both") else []
        for target in grade_probes(targets, extra, trust, options, psn.timeout):
            _certificate_row(run, f"{psn.name} {target.label}", target.findings, target.leaf)


def _certificate_row(
    run: _Run,
    label: str,
    findings: Sequence[Finding],
    leaf: Any,
    reported: Sequence[Finding] = (),
) -> None:
    """Add ``findings`` to the report and a row for the certificate to the HTML report;
    ``reported`` are findings about it that are already in the report."""
    run.outcome.findings.extend(findings)
    problems = [f for f in (*findings, *reported) if f.severity > Severity.INFO]
    worst = max((f.severity for f in problems), default=None)
    run.certificates.append(
        CertificateRow(
            target=label,
            identity=leaf.get("san", "-") if leaf else "(no certificate)",
            not_after=_not_after(leaf),
            worst=worst,
            checks=tuple(sorted({f.check for f in problems})),
        )
    )


def _ise(
    run: _Run,
    section: IseSection,
    hand_written: Sequence[PsnSection],
    prompt: Callable[[str], str] | None,
) -> None:
    from feedmgr.ise.connect import IseTarget, connect
    from feedmgr.ise.preflight import grade_from_ise

    target = IseTarget.from_section(section, run.base)
    with connect(run.home, target, prompt=prompt) as client:
        outcome = grade_from_ise(client, section, run.base, hand_written, run.now)
    run.outcome.facts.update(outcome.facts)
    run.outcome.findings.extend(outcome.findings)
    for row in outcome.rows:
        _certificate_row(run, row.label, (), row.leaf, row.findings)


def _posture(run: _Run, section: PostureSection) -> None:
    from feedmgr.posture.collect import file_streams, list_option, print_option
    from feedmgr.posture.evaluate import evaluate_spec, gather, to_report
    from feedmgr.posture.files import load_spec

    captures = bool(section.dumpstate or section.lists or section.prints)
    fleet = [run.path(p) for p in section.fleet_paths]
    for missing in (p for p in fleet if not p.exists()):
        raise InputRejected(str(missing), "fleet bundles: no such folder or archive")
    # Each result is named by the condition file's path as the deployment file writes it:
    # two files of one name in different folders must stay two subjects and two facts.
    for name in section.conditions:
        path = run.existing(name, "posture condition file")
        spec = load_spec(path)
        if fleet:
            _fleet(run, section, spec, name, fleet)
        if not captures and not fleet:
            run.outcome.findings.append(
                Finding(
                    CONDITIONS_CHECK,
                    Severity.INFO,
                    name,
                    f"valid: {len(spec.conditions)} condition(s), "
                    f"{len(spec.requirements)} requirement(s); no launchctl captures to "
                    "evaluate them against",
                    "capture a Mac with 'feedmgr posture collect-script' to evaluate them",
                )
            )
        if not captures:
            continue
        with ExitStack() as stack:
            streams = file_streams(
                stack,
                spec,
                dumpstates=[run.existing(d, "dumpstate capture") for d in section.dumpstate],
                lists=[list_option(value, run.base) for value in section.lists],
                prints=[print_option(value, run.base) for value in section.prints],
            )
            evidence = gather(spec, streams)
        result = evaluate_spec(spec, evidence, section.identity_group)
        report = to_report(result, name)
        run.outcome.findings.extend(
            replace(f, subject=f"{name}: {f.subject}")
            for f in report.findings
            if f.check == "posture.policy"
        )
        run.outcome.facts[f"posture {name}"] = result.status.value


def _fleet(
    run: _Run, section: PostureSection, spec: PostureSpec, name: str, bundles: list[Path]
) -> None:
    from datetime import timedelta

    from feedmgr.posture.fleet import run_fleet
    from feedmgr.posture.fleet_report import fleet_json, fleet_report

    result = run_fleet(
        spec,
        bundles,
        now=run.now,
        max_age=timedelta(days=section.fleet_max_age_days),
        fail_over=section.fleet_fail_over,
    )
    run.outcome.findings.extend(fleet_report(result, name).findings)
    run.fleet.append(fleet_json(result, name))
    run.outcome.facts[f"fleet {name}"] = (
        f"{len(result.macs)} Macs, {len(result.blocking)} blocking requirement(s)"
    )


def run_preflight(
    deployment: Deployment,
    base: Path,
    home: Path,
    *,
    now: datetime | None = None,
    ise_prompt: Callable[[str], str] | None = None,
) -> PreflightResult:
    """Run every section of ``deployment`` (paths relative to ``base``) against the store.

    ``ise_prompt`` asks for the ISE password (without echo) when ``[ise]``'s environment
    variable is unset; without it, that is a section finding.
    """
    run = _Run(base, home, now or datetime.now(UTC))
    run.outcome.facts["deployment"] = deployment.name
    feed = deployment.feed
    run.guarded("feed", lambda: _feed(run, feed))
    if deployment.provisioning is not None:
        provisioning = deployment.provisioning
        run.guarded("provisioning", lambda: _provisioning(run, provisioning))
    else:
        run.skipped("provisioning", "no [provisioning] section in the deployment file")
    if deployment.ise is not None:
        ise, hand_written = deployment.ise, deployment.psn
        run.guarded("ise", lambda: _ise(run, ise, hand_written, ise_prompt))
    elif not deployment.psn:
        run.skipped("psn", "no [[psn]] entries and no [ise] section in the deployment file")
    for psn in deployment.psn:
        run.guarded(f"psn {psn.name}", lambda psn=psn: _psn(run, psn))  # type: ignore[misc]
    if deployment.posture is not None:
        posture = deployment.posture
        run.guarded("posture", lambda: _posture(run, posture))
    else:
        run.skipped("posture", "no [posture] section in the deployment file")
    report = Report(f"preflight: {deployment.name}", tuple(run.outcome.findings), run.outcome.facts)
    return PreflightResult(
        report,
        HtmlSections(
            coverage=run.coverage,
            timeline=run.timeline,
            certificates=run.certificates,
            fleet=run.fleet,
        ),
    )
