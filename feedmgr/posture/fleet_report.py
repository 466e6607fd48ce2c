"""The fleet result as JSON (``feedmgr-posture-fleet/1``, docs/json-output.md), text, and
findings (``posture.fleet``, ``posture.fleet-bundles``) for JUnit, HTML and preflight."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from feedmgr.escape import join_lines
from feedmgr.findings import Finding, Report, Severity
from feedmgr.posture.fleet import FleetResult, MacVerdict, RequirementSummary, Tally
from feedmgr.posture.model import GLOB_READING, Enforcement

SCHEMA = "feedmgr-posture-fleet/1"
FLEET_CHECK = "posture.fleet"
BUNDLES_CHECK = "posture.fleet-bundles"
TEXT_LIST_LIMIT = 25


def _counts(tally: Tally) -> dict[str, Any]:
    return {
        "pass": tally.passed,
        "fail": tally.failed,
        "cannot_tell": tally.cannot_tell,
        "not_applicable": tally.not_applicable,
        "fail_percent": round(tally.fail_percent, 2),
    }


def _mac(mac: MacVerdict, index: int) -> dict[str, Any]:
    return {
        "host": mac.host,
        "id": mac.mac_id,
        "serial": mac.serial,
        "macos": mac.version,
        "build": mac.build,
        "collected": mac.collected.isoformat().replace("+00:00", "Z"),
        "bundle": mac.bundle,
        "evidence": mac.requirement_notes[index],
    }


def _enforcement(summary: RequirementSummary) -> str:
    enforcement = summary.plan.enforcement
    return enforcement.value if enforcement is not None else "none"


def fleet_json(result: FleetResult, conditions_file: str) -> dict[str, Any]:
    """The documented JSON document of a fleet run."""
    requirements = []
    for index, summary in enumerate(result.requirements):
        requirements.append(
            {
                "name": summary.plan.requirement.name,
                "enforcement": _enforcement(summary),
                "policies": [p.name for p in summary.plan.policies],
                "conditions": list(summary.plan.requirement.conditions),
                "message": summary.plan.requirement.message,
                "agent_reading": not _glob_names(result, summary),
                **_counts(summary.tally),
                "blocking": summary.blocking,
                "by_macos": [
                    {"macos": version, **_counts(tally)}
                    for version, tally in summary.by_version.items()
                ],
                "failing": [_mac(m, index) for m in summary.failing],
                "cannot_tell_macs": [_mac(m, index) for m in summary.cannot_tell],
            }
        )
    return {
        "schema": SCHEMA,
        "file": conditions_file,
        "now": result.now.isoformat().replace("+00:00", "Z"),
        "max_age_days": result.max_age.total_seconds() / 86400,
        "fail_over_percent": result.fail_over,
        "blocking": bool(result.blocking),
        "nothing_evaluated": result.nothing_evaluated,
        "warnings": [c.glob_warning for c in result.spec.conditions if c.is_glob],
        "bundles": {
            "read": result.read,
            "macs": len(result.macs),
            "stale": len(result.stale),
            "duplicates": len(result.duplicates),
            "unreadable": len(result.unreadable),
        },
        "requirements": requirements,
        "conditions": [
            {
                "name": condition.name,
                "service": condition.service,
                "operator": condition.operator.value,
                "service_type": condition.service_type.value,
                "glob": condition.is_glob,
                "agent_reading": not condition.is_glob,
                **_counts(tally),
            }
            for condition, tally in zip(result.spec.conditions, result.conditions, strict=True)
        ],
        "stale": [
            {
                "host": m.host,
                "id": m.mac_id,
                "bundle": m.bundle,
                "collected": m.collected.isoformat().replace("+00:00", "Z"),
                "age_days": round((result.now - m.collected).total_seconds() / 86400, 1),
            }
            for m in result.stale
        ],
        "duplicates": [
            {
                "host": d.verdict.host,
                "id": d.verdict.mac_id,
                "bundle": d.verdict.bundle,
                "kept": d.kept,
            }
            for d in result.duplicates
        ],
        "unreadable": [{"bundle": p.name, "problem": p.problem} for p in result.unreadable],
    }


def describe_age(age: timedelta) -> str:
    """An age in the largest unit that states it exactly: ``14 days``, ``36 hours`` (``36h``
    is not ``1 days``), ``90 minutes``; else seconds."""
    seconds = age.total_seconds()
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        count = seconds / size
        if count >= 1 and count.is_integer():
            return f"{int(count)} {unit}" + ("" if count == 1 else "s")
    return f"{seconds:g} seconds"


def _line(tally: Tally) -> str:
    text = f"pass {tally.passed}, fail {tally.failed}, cannot tell {tally.cannot_tell}"
    if tally.not_applicable:
        text += f", not applicable {tally.not_applicable}"
    return text


def _listed(items: list[str], total: int, what: str) -> list[str]:
    """Lines for the first ``TEXT_LIST_LIMIT`` of ``total`` items (``items``: those)."""
    lines = [f"    {item}" for item in items]
    if total > TEXT_LIST_LIMIT:
        lines.append(f"    ... and {total - TEXT_LIST_LIMIT} more {what} (--format json lists all)")
    return lines


def render_fleet_text(result: FleetResult, conditions_file: str) -> str:
    """The human-readable fleet report."""
    lines = [
        f"Fleet posture pre-check: {conditions_file}",
        f"  bundles read {result.read}; Macs evaluated {len(result.macs)}; stale "
        f"{len(result.stale)}; duplicates {len(result.duplicates)}; unreadable "
        f"{len(result.unreadable)}",
        "",
        "Requirements",
    ]
    for index, summary in enumerate(result.requirements):
        tally = summary.tally
        if result.nothing_evaluated:
            lines.append(
                f"  [cannot tell] {summary.plan.requirement.name} ({_enforcement(summary)}): "
                "no Mac was evaluated"
            )
            continue
        verdict = "BLOCKING" if summary.blocking else "ok" if not tally.failed else "fails"
        lines.append(
            f"  [{verdict}] {summary.plan.requirement.name} ({_enforcement(summary)}): "
            f"{_line(tally)} ({tally.fail_percent:.1f}% fail)"
        )
        globs = _glob_names(result, summary)
        if globs:
            lines.append(f"    {_glob_caveat(globs)}")
        versions = "; ".join(
            f"{version}: {t.passed}/{t.failed}/{t.cannot_tell}"
            for version, t in summary.by_version.items()
        )
        if versions:
            lines.append(f"    by macOS (pass/fail/cannot tell): {versions}")
        if summary.failing:
            lines.append("    failing Macs:")
            lines += _listed(
                [
                    f"  {m.host} ({m.mac_id}, macOS {m.version}): {m.requirement_notes[index]}"
                    for m in summary.failing[:TEXT_LIST_LIMIT]
                ],
                len(summary.failing),
                "failing Macs",
            )
        if summary.cannot_tell:
            lines.append("    cannot tell:")
            lines += _listed(
                [
                    f"  {m.host} ({m.mac_id}): {m.requirement_notes[index]}"
                    for m in summary.cannot_tell[:TEXT_LIST_LIMIT]
                ],
                len(summary.cannot_tell),
                "Macs",
            )
    lines += ["", "Conditions"]
    for condition, tally in zip(result.spec.conditions, result.conditions, strict=True):
        lines.append(
            f"  {condition.name} ({condition.operator.ise_name} {condition.service}): "
            f"{_line(tally)}"
            + (f" [{GLOB_READING}: the agent takes the glob literally]" * condition.is_glob)
        )
    problems = _bundle_lines(result)
    if problems:
        lines += ["", "Bundles left out", *problems]
    lines += ["", _verdict(result)]
    return join_lines(lines)


def _glob_names(result: FleetResult, summary: RequirementSummary) -> list[str]:
    """The glob conditions a requirement's verdict rests on."""
    names = set(summary.plan.requirement.conditions)
    return [c.name for c in result.spec.conditions if c.name in names and c.is_glob]


def _glob_caveat(globs: list[str]) -> str:
    return (
        f"{GLOB_READING}: its glob condition(s) {', '.join(globs)} are matched by feedmgr; ISE "
        "and the agent take a glob literally (CSCwf01373), so the agent would judge these "
        "Macs on a job of that literal name"
    )


def _bundle_lines(result: FleetResult) -> list[str]:
    lines: list[str] = []
    if result.unreadable:
        lines.append(f"  unreadable ({len(result.unreadable)}):")
        lines += _listed(
            [f"  {p.name}: {p.problem}" for p in result.unreadable[:TEXT_LIST_LIMIT]],
            len(result.unreadable),
            "unreadable",
        )
    if result.stale:
        lines.append(f"  stale, older than {describe_age(result.max_age)} ({len(result.stale)}):")
        lines += _listed(
            [
                f"  {m.bundle}: {m.host}, collected {m.collected:%Y-%m-%d %H:%M}Z"
                for m in result.stale[:TEXT_LIST_LIMIT]
            ],
            len(result.stale),
            "stale",
        )
    if result.duplicates:
        lines.append(f"  duplicates, superseded by a newer bundle ({len(result.duplicates)}):")
        lines += _listed(
            [
                f"  {d.verdict.bundle}: {d.verdict.host} (newer: {d.kept})"
                for d in result.duplicates[:TEXT_LIST_LIMIT]
            ],
            len(result.duplicates),
            "duplicates",
        )
    return lines


def _macs(count: int) -> str:
    return f"{count} Mac" if count == 1 else f"{count} Macs"


def _nothing_why(result: FleetResult) -> str:
    if not result.read:
        return "no bundle was found"
    return (
        f"{result.read} bundle(s) read: {len(result.unreadable)} unreadable, "
        f"{len(result.stale)} stale, {len(result.duplicates)} duplicate(s)"
    )


def _verdict(result: FleetResult) -> str:
    if result.nothing_evaluated:
        return (
            "Verdict: no Mac was evaluated: cannot tell whether enforcing would make Macs "
            f"NonCompliant ({_nothing_why(result)})"
        )
    blocking = result.blocking
    if not blocking:
        unsure = [s for s in result.requirements if s.tally.cannot_tell]
        # "No Mac would go NonCompliant" holds for the Macs judged; say how many could not be.
        caveat = "; cannot tell for " + ", ".join(
            f"{s.plan.requirement.name} on {_macs(s.tally.cannot_tell)}" for s in unsure
        )
        return (
            "Verdict: no mandatory requirement would make Macs NonCompliant"
            + (f" beyond {result.fail_over:g}%" if result.fail_over else "")
            + (caveat if unsure else "")
        )
    names = ", ".join(
        f"{b.plan.requirement.name} ({_macs(b.tally.failed)}, {b.tally.fail_percent:.1f}%)"
        for b in blocking
    )
    return f"Verdict: enforcing would make Macs NonCompliant: {names}"


def _bundles_fix(result: FleetResult) -> str:
    """What brings the left-out Macs back: collecting again fixes a bad or stale bundle,
    not an archive whose member names, links or damage kept its bundles from being read."""
    advice = []
    if result.stale or any(not p.in_export for p in result.unreadable):
        advice.append("re-run the collect script on those Macs through the MDM")
    if any(p.in_export for p in result.unreadable):
        advice.append(
            "export the bundles again as regular files with relative names, in an archive "
            "that is whole (or pass the folder itself): the archive or folder, not the "
            "bundles, kept those from being read"
        )
    return "; ".join(advice)


def fleet_report(result: FleetResult, conditions_file: str) -> Report:
    """The fleet run as findings: ``posture.fleet`` per requirement (fail when blocking or
    when no Mac was evaluated, warn when Macs fail without blocking, info otherwise) and one
    ``posture.fleet-bundles`` (warn when bundles were unreadable, info when stale or
    duplicated ones were left out)."""
    if result.nothing_evaluated:
        findings = _nothing_evaluated(result, conditions_file)
    else:
        findings = _requirement_findings(result, conditions_file)
    left_out = len(result.unreadable) + len(result.stale) + len(result.duplicates)
    if left_out:
        named = ", ".join(f"{p.name} ({p.problem})" for p in result.unreadable[:5])
        findings.append(
            Finding(
                BUNDLES_CHECK,
                Severity.WARN if result.unreadable else Severity.INFO,
                conditions_file,
                f"{len(result.unreadable)} unreadable, {len(result.stale)} stale, "
                f"{len(result.duplicates)} duplicate bundle(s) left out of "
                f"{result.read} read" + (f"; unreadable: {named}" if named else ""),
                _bundles_fix(result),
                {
                    "unreadable": [p.name for p in result.unreadable],
                    "stale": [m.bundle for m in result.stale],
                    "duplicates": [d.verdict.bundle for d in result.duplicates],
                },
            )
        )
    facts = {
        "conditions": conditions_file,
        "Macs evaluated": str(len(result.macs)),
        "bundles read": str(result.read),
    }
    return Report(f"posture fleet: {conditions_file}", tuple(findings), facts)


def _nothing_evaluated(result: FleetResult, conditions_file: str) -> list[Finding]:
    """One failing ``posture.fleet`` per requirement (one for the file when it has none):
    with no Mac evaluated the pre-check cannot tell, and must not pass a gate."""
    message = (
        "no Mac was evaluated: cannot tell whether enforcing it would make Macs "
        f"NonCompliant ({_nothing_why(result)})"
    )
    fix = (
        "point the pre-check at the folder or archive holding the Macs' bundles"
        if not result.read
        else "give the pre-check bundles it can read, collected within the maximum age "
        "(see posture.fleet-bundles for why each was left out)"
    )
    subjects: list[tuple[str, str, RequirementSummary | None]] = [
        (f"{conditions_file}: {s.plan.requirement.name}", s.plan.requirement.name, s)
        for s in result.requirements
    ] or [(conditions_file, "", None)]
    return [
        Finding(
            FLEET_CHECK,
            Severity.FAIL,
            subject,
            message,
            fix,
            {
                "requirement": name,
                "enforcement": _enforcement(summary) if summary is not None else "none",
                "pass": 0,
                "fail": 0,
                "cannot_tell": 0,
                "blocking": False,
                "nothing_evaluated": True,
                "failing_hosts": [],
            },
        )
        for subject, name, summary in subjects
    ]


def _requirement_findings(result: FleetResult, conditions_file: str) -> list[Finding]:
    findings = []
    for summary in result.requirements:
        tally = summary.tally
        if summary.blocking:
            severity = Severity.FAIL
        elif tally.failed and summary.plan.enforcement is not Enforcement.AUDIT:
            severity = Severity.WARN
        else:
            severity = Severity.INFO
        hosts = ", ".join(m.host for m in summary.failing[:5])
        more = f" and {len(summary.failing) - 5} more" if len(summary.failing) > 5 else ""
        message = (
            f"{_enforcement(summary)} requirement: {tally.failed} of {tally.judged} Macs fail "
            f"({tally.fail_percent:.1f}%), {tally.cannot_tell} cannot tell"
            + (f"; failing: {hosts}{more}" if hosts else "")
        )
        globs = _glob_names(result, summary)
        if globs:
            # The counts are not what enforcing it would do: never let them read as "ok".
            message += f" ({_glob_caveat(globs)})"
            severity = max(severity, Severity.WARN)
        findings.append(
            Finding(
                FLEET_CHECK,
                severity,
                f"{conditions_file}: {summary.plan.requirement.name}",
                message,
                summary.plan.requirement.message if tally.failed else "",
                {
                    "requirement": summary.plan.requirement.name,
                    "enforcement": _enforcement(summary),
                    "pass": tally.passed,
                    "fail": tally.failed,
                    "cannot_tell": tally.cannot_tell,
                    "blocking": summary.blocking,
                    "nothing_evaluated": False,
                    "failing_hosts": [m.host for m in summary.failing],
                    "agent_reading": not globs,
                },
            )
        )
    return findings
