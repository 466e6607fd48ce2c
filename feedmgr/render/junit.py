"""JUnit XML rendering of reports, for CI systems.

One ``<testsuite>`` per area (the part of the check id before the first dot), one
``<testcase>`` per (check, subject). ``fail`` findings are ``<failure>``s; ``warn`` findings
are ``<failure>``s too when the report is judged with ``--fail-on warn``, otherwise they
pass with the warning in ``<system-out>``; ``info`` findings pass.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict

from feedmgr.escape import escape_controls
from feedmgr.findings import Finding, Report, Severity


def _case(finding: Finding, fail_on: Severity) -> ET.Element:
    # XML 1.0 cannot carry most control characters, and CI pages show these texts: outside
    # text in findings is escaped as in the text report.
    subject, message = escape_controls(finding.subject), escape_controls(finding.message)
    case = ET.Element(
        "testcase", {"classname": f"feedmgr.{finding.check}", "name": subject or finding.check}
    )
    body = message + (f"\nfix: {escape_controls(finding.fix)}" if finding.fix else "")
    if finding.severity >= fail_on:
        failure = ET.SubElement(
            case, "failure", {"message": message, "type": finding.severity.label}
        )
        failure.text = body
    else:
        out = ET.SubElement(case, "system-out")
        out.text = f"{finding.severity.label.upper()}: {body}"
    return case


def render_report(report: Report, fail_on: Severity = Severity.FAIL) -> str:
    """The report as a JUnit XML document."""
    by_area: dict[str, list[Finding]] = defaultdict(list)
    for finding in report.findings:
        by_area[finding.check.split(".", 1)[0]].append(finding)
    failures = sum(1 for f in report.findings if f.severity >= fail_on)
    root = ET.Element(
        "testsuites",
        {"name": report.title, "tests": str(len(report.findings)), "failures": str(failures)},
    )
    for area, findings in by_area.items():
        suite = ET.SubElement(
            root,
            "testsuite",
            {
                "name": area,
                "tests": str(len(findings)),
                "failures": str(sum(1 for f in findings if f.severity >= fail_on)),
                "errors": "0",
                "skipped": "0",
            },
        )
        suite.extend(_case(f, fail_on) for f in findings)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
