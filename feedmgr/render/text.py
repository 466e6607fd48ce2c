"""Plain-text rendering of reports: worst first, each finding with its fix."""

from __future__ import annotations

from feedmgr.findings import Finding, Report, Severity

_TAGS = {Severity.FAIL: "FAIL", Severity.WARN: "WARN", Severity.INFO: "info"}


def render_finding(finding: Finding) -> str:
    """One finding as a headline and, when there is one, an indented fix line."""
    line = f"{_TAGS[finding.severity]:<4}  {finding.check}  {finding.subject}: {finding.message}"
    if finding.fix:
        line += f"\n      fix: {finding.fix}"
    return line


def render_report(report: Report) -> str:
    """The whole report: facts, findings worst first (stable within a severity), summary."""
    lines = [report.title]
    for key, value in report.facts.items():
        lines.append(f"  {key}: {value}")
    ordered = sorted(report.findings, key=lambda f: -f.severity)
    if ordered:
        lines.append("")
        lines.extend(render_finding(f) for f in ordered)
    counts = report.counts()
    lines.append("")
    lines.append(f"{counts['fail']} fail, {counts['warn']} warn, {counts['info']} info")
    return "\n".join(lines) + "\n"
