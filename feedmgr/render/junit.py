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


def _case(findings: list[Finding], fail_on: Severity) -> ET.Element:
    """One test case for every finding of one (check, subject): a CI system keys its tests
    by name, so two same-named cases (one per name a certificate is checked against, say)
    would have one hide the other. It fails when any of them does."""
    first = findings[0]
    # XML 1.0 cannot carry most control characters, and CI pages show these texts: outside
    # text in findings is escaped as in the text report.
    subject = escape_controls(first.subject)
    case = ET.Element(
        "testcase", {"classname": f"feedmgr.{first.check}", "name": subject or first.check}
    )
    bodies = []
    for finding in findings:
        fix = f"\nfix: {escape_controls(finding.fix)}" if finding.fix else ""
        bodies.append((finding.severity, escape_controls(finding.message) + fix))
    labelled = "\n".join(f"{severity.label.upper()}: {body}" for severity, body in bodies)
    failing = [f for f in findings if f.severity >= fail_on]
    if failing:
        worst = max(failing, key=lambda f: f.severity)
        failure = ET.SubElement(
            case,
            "failure",
            {"message": escape_controls(worst.message), "type": worst.severity.label},
        )
        failure.text = bodies[0][1] if len(bodies) == 1 else labelled
    else:
        out = ET.SubElement(case, "system-out")
        out.text = labelled
    return case


def render_report(report: Report, fail_on: Severity = Severity.FAIL) -> str:
    """The report as a JUnit XML document."""
    by_area: dict[str, dict[tuple[str, str], list[Finding]]] = defaultdict(dict)
    for finding in report.findings:
        area = by_area[finding.check.split(".", 1)[0]]
        area.setdefault((finding.check, finding.subject), []).append(finding)

    def failed(cases: list[list[Finding]]) -> int:
        return sum(1 for case in cases if any(f.severity >= fail_on for f in case))

    every_case = [case for area in by_area.values() for case in area.values()]
    root = ET.Element(
        "testsuites",
        {"name": report.title, "tests": str(len(every_case)), "failures": str(failed(every_case))},
    )
    for area_name, cases in by_area.items():
        grouped = list(cases.values())
        suite = ET.SubElement(
            root,
            "testsuite",
            {
                "name": area_name,
                "tests": str(len(grouped)),
                "failures": str(failed(grouped)),
                "errors": "0",
                "skipped": "0",
            },
        )
        suite.extend(_case(case, fail_on) for case in grouped)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
