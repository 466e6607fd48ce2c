"""Plain-text rendering of reports: worst first, each finding with its fix."""

from __future__ import annotations

from collections.abc import Sequence

from feedmgr.escape import join_lines
from feedmgr.findings import Finding, Report, Severity

_TAGS = {Severity.FAIL: "FAIL", Severity.WARN: "WARN", Severity.INFO: "info"}


def aligned(rows: Sequence[Sequence[str]]) -> list[str]:
    """Rows (the header first) as lines of left-aligned columns two spaces apart, without
    trailing blanks (unescaped: the caller joins lines with ``join_lines``)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def render_finding(finding: Finding) -> list[str]:
    """One finding as a headline and, when there is one, an indented fix line (unescaped:
    the caller joins lines with ``join_lines``)."""
    lines = [f"{_TAGS[finding.severity]:<4}  {finding.check}  {finding.subject}: {finding.message}"]
    if finding.fix:
        lines.append(f"      fix: {finding.fix}")
    return lines


def render_report(report: Report) -> str:
    """The whole report: facts, findings worst first (stable within a severity), summary."""
    lines = [report.title]
    for key, value in report.facts.items():
        lines.append(f"  {key}: {value}")
    ordered = sorted(report.findings, key=lambda f: -f.severity)
    if ordered:
        lines.append("")
        lines.extend(line for f in ordered for line in render_finding(f))
    counts = report.counts()
    lines.append("")
    lines.append(f"{counts['fail']} fail, {counts['warn']} warn, {counts['info']} info")
    return join_lines(lines)


def render_grouped(report: Report) -> str:
    """The report grouped by area (the check id's prefix), worst area first, worst first."""
    areas: dict[str, list[Finding]] = {}
    for finding in report.findings:
        areas.setdefault(finding.check.split(".", 1)[0], []).append(finding)
    ordered = sorted(areas.items(), key=lambda item: -max(f.severity for f in item[1]))
    lines = [report.title]
    lines.extend(f"  {key}: {value}" for key, value in report.facts.items())
    for area, findings in ordered:
        per_severity = {s: sum(1 for f in findings if f.severity is s) for s in Severity}
        summary = ", ".join(
            f"{n} {s.label}" for s, n in sorted(per_severity.items(), reverse=True) if n
        )
        lines.append("")
        lines.append(f"== {area} ({summary})")
        lines.extend(
            line for f in sorted(findings, key=lambda f: -f.severity) for line in render_finding(f)
        )
    counts = report.counts()
    lines.append("")
    lines.append(f"{counts['fail']} fail, {counts['warn']} warn, {counts['info']} info")
    return join_lines(lines)
