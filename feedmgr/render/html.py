"""A self-contained HTML report: inline CSS and SVG, no scripts, no network at view time.

Sections: a summary banner; the client-provisioning coverage matrix as a heatmap (OS rows x
identity groups, gaps in red, endpoint counts); the feed's OS coverage against released OS
versions on a timeline; a certificate table per PSN and port; the fleet posture pre-check (a
pass/fail/cannot-tell bar per requirement, the failing Macs); every finding with its fix.
Sections without data are left out.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from feedmgr.escape import escape_controls
from feedmgr.findings import Finding, Report, Severity


@dataclass(frozen=True)
class TimelinePoint:
    """One released OS version, and whether the feed classifies it.

    ``row`` groups points on one line of the timeline ("macOS 15", "Windows 11").
    """

    row: str
    label: str
    released: date
    classified: bool


@dataclass(frozen=True)
class CertificateRow:
    """One graded certificate: where it was seen and what was found."""

    target: str
    identity: str
    not_after: str
    worst: Severity | None
    checks: tuple[str, ...]


@dataclass(frozen=True)
class HtmlSections:
    """Optional visual sections next to the findings."""

    coverage: Mapping[str, Any] | None = None
    timeline: Sequence[TimelinePoint] = ()
    certificates: Sequence[CertificateRow] = ()
    # feedmgr-posture-fleet/1 documents (docs/json-output.md), one per condition file.
    fleet: Sequence[Mapping[str, Any]] = ()
    extra_facts: Mapping[str, str] = field(default_factory=dict)


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1b1f24;
background:#f6f7f9}
main{max-width:1200px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:18px;margin:32px 0 8px}
.banner{padding:16px 20px;border-radius:8px;color:#fff;margin-bottom:16px}
.banner.fail{background:#b42318}.banner.warn{background:#b54708}.banner.ok{background:#067647}
.banner .counts{font-size:15px;margin-top:6px}
.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;font-size:14px}
table{border-collapse:collapse;font-size:13px;background:#fff}
th,td{border:1px solid #d0d5dd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#eef0f3}
td.matched{background:#d1fadf}td.conditional{background:#fef0c7}
td.gap,td.os-unknown,td.disabled-only{background:#fecdca;color:#7a271a;font-weight:600}
td.not-posture-capable{background:#eaecf0;color:#475467}
td.os-blank{background:repeating-linear-gradient(45deg,#fff,#fff 4px,#fef0c7 4px,#fef0c7 8px);
color:#93370d}
tr.next-release th,tr.next-release td{border-style:dashed;font-style:italic}
.sev{display:inline-block;border-radius:4px;padding:0 6px;font-size:12px;font-weight:700;color:#fff}
.sev.fail{background:#b42318}.sev.warn{background:#b54708}.sev.info{background:#475467}
.finding{background:#fff;border:1px solid #d0d5dd;border-radius:6px;padding:8px 12px;margin:6px 0}
.finding .fix{color:#344054;margin-top:4px}.finding code{font-size:12px}
.legend{font-size:12px;color:#475467;margin-top:6px}
.bar-row{display:grid;grid-template-columns:260px 1fr 260px;gap:8px;align-items:center;margin:4px 0;
font-size:13px}
.bar{display:flex;height:18px;border-radius:4px;overflow:hidden;background:#eaecf0}
.bar .pass{background:#12b76a}.bar .fail{background:#d92d20}.bar .unknown{background:#f79009}
svg text{font-size:11px;font-family:inherit}
"""

_OUTCOME_CLASS = {
    "matched": "matched",
    "conditional": "conditional",
    "uncovered": "gap",
    "os-unknown": "os-unknown",
    "disabled-only": "disabled-only",
    "not-posture-capable": "not-posture-capable",
    "os-blank": "os-blank",
}


def escape(text: str) -> str:
    """HTML-escape outside text, its control and bidi characters first written as escapes
    (a bidi override would make a name read differently in the browser too)."""
    return html.escape(escape_controls(text, keep_newlines=True))


def _banner(report: Report) -> str:
    counts = report.counts()
    worst = report.worst
    state = "fail" if worst is Severity.FAIL else "warn" if worst is Severity.WARN else "ok"
    headline = {
        "fail": "Problems found: some endpoints or PSNs will fail posture",
        "warn": "Warnings found: review before deploying",
        "ok": "No problems found",
    }[state]
    return (
        f'<section class="banner {state}" id="summary"><h1>{escape(headline)}</h1>'
        f'<div class="counts"><span data-count="fail">{counts["fail"]} fail</span> · '
        f'<span data-count="warn">{counts["warn"]} warn</span> · '
        f'<span data-count="info">{counts["info"]} info</span></div></section>'
    )


def _facts(report: Report, extra: Mapping[str, str]) -> str:
    items = {**{k: str(v) for k, v in report.facts.items()}, **extra}
    if not items:
        return ""
    rows = "".join(f"<div>{escape(k)}</div><div>{escape(v)}</div>" for k, v in items.items())
    return f'<section class="facts" id="facts">{rows}</section>'


def _cell_label(cell: Mapping[str, Any], *, next_release: bool = False) -> str:
    outcome = cell.get("outcome", "")
    if outcome == "matched":
        label = str(cell.get("rule") or "")
    elif outcome == "conditional":
        rules = cell.get("conditional_rules") or ["?"]
        label = f"conditional: {rules[0]}"
    elif outcome == "os-unknown":
        label = "UNKNOWN OS"
    elif outcome == "disabled-only":
        label = "GAP (disabled rule)"
    elif outcome == "not-posture-capable":
        label = "no posture agent"
    elif outcome == "os-blank":
        label = "cannot tell (no OS recorded)"
    else:
        label = "GAP"
    if next_release:
        label = f"next release: {label}"
    if cell.get("problems"):
        # As in the text matrix: the result this cell gets has a problem (see the findings).
        label += " !"
    if "endpoints" in cell:
        label += f" [{cell['endpoints']}]"
    return label


def _coverage(coverage: Mapping[str, Any] | None) -> str:
    if not coverage:
        return ""
    groups = list(coverage.get("groups", []))
    cells = {(c["os"], c["group"]): c for c in coverage.get("cells", [])}
    head = "".join(f"<th>{escape(g if g is not None else 'Any')}</th>" for g in groups)
    body = []
    for row in coverage.get("rows", []):
        kind = str(row.get("kind", "node"))
        tds = []
        for group in groups:
            cell = cells.get((row["os"], group), {})
            css = _OUTCOME_CLASS.get(str(cell.get("outcome", "")), "gap")
            label = _cell_label(cell, next_release=kind == "next-release")
            tds.append(
                f'<td class="{css}" data-outcome="{escape(str(cell.get("outcome", "")))}">'
                f"{escape(label)}</td>"
            )
        body.append(
            f'<tr class="{escape(kind)}" data-kind="{escape(kind)}">'
            f"<th>{escape(row['os'])}</th>{''.join(tds)}</tr>"
        )
    return (
        '<section id="coverage"><h2>Client-provisioning coverage</h2>'
        f'<table class="heatmap"><thead><tr><th>OS</th>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
        '<div class="legend">Green: the first matching rule. Amber: only conditional rules. '
        "Red: no enabled rule (the endpoint bypasses posture) or an OS the feed does not "
        "know. !: the result given has a problem (see the findings). Grey: devices the "
        "posture agent does not run on (iOS, Android, printers...): not a gap. Hatched: "
        "no OS recorded: cannot tell (devices no agent runs on, or PCs and Macs that never "
        "ran the agent; see cp.os-blank). Dashed rows: "
        "what a release a later feed adds under that umbrella node would get. [n]: "
        "endpoints in the inventory.</div></section>"
    )


def _timeline(points: Sequence[TimelinePoint]) -> str:
    if not points:
        return ""
    ordered = sorted(points, key=lambda p: p.released)
    first, last = ordered[0].released.toordinal(), ordered[-1].released.toordinal()
    span = max(last - first, 1)
    width, left, row_height = 1000, 150, 18
    families = sorted({p.row for p in ordered})
    height = 40 + row_height * len(families)
    marks = []
    for year in range(ordered[0].released.year, ordered[-1].released.year + 2):
        x = left + (date(year, 1, 1).toordinal() - first) / span * (width - left - 20)
        if left <= x <= width - 30:
            marks.append(
                f'<line x1="{x:.1f}" y1="20" x2="{x:.1f}" y2="{height - 10}" stroke="#d0d5dd"/>'
                f'<text x="{x + 2:.1f}" y="14">{year}</text>'
            )
    dots = []
    for point in ordered:
        y = 30 + row_height * families.index(point.row)
        x = left + (point.released.toordinal() - first) / span * (width - left - 20)
        colour = "#067647" if point.classified else "#d92d20"
        state = "classified" if point.classified else "unknown to the feed"
        dots.append(
            f'<circle class="release {"known" if point.classified else "unknown"}" '
            f'cx="{x:.1f}" cy="{y}" r="5" fill="{colour}"><title>{escape(point.label)} '
            f"({point.released.isoformat()}): {state}</title></circle>"
        )
    labels = "".join(
        f'<text x="4" y="{34 + row_height * i}">{escape(f)}</text>' for i, f in enumerate(families)
    )
    unknown = sum(1 for p in ordered if not p.classified)
    return (
        '<section id="timeline"><h2>OS releases against the feed</h2>'
        f'<svg role="img" viewBox="0 0 {width} {height}" width="100%">'
        f"{''.join(marks)}{labels}{''.join(dots)}</svg>"
        f'<div class="legend">{len(ordered)} releases; {unknown} the feed cannot classify '
        "(red: those endpoints would bypass posture).</div></section>"
    )


def _certificates(rows: Sequence[CertificateRow]) -> str:
    if not rows:
        return ""
    body = []
    for row in rows:
        sev = row.worst.label if row.worst is not None else "ok"
        badge = f'<span class="sev {sev}">{sev.upper()}</span>' if row.worst else "ok"
        body.append(
            f"<tr><td>{escape(row.target)}</td><td>{escape(row.identity)}</td>"
            f"<td>{escape(row.not_after)}</td><td>{badge} "
            f"{escape(', '.join(row.checks))}</td></tr>"
        )
    return (
        '<section id="certificates"><h2>PSN certificates</h2><table><thead><tr>'
        "<th>PSN / port or file</th><th>Identity (SAN)</th><th>Expires</th><th>Issues</th>"
        f"</tr></thead><tbody>{''.join(body)}</tbody></table></section>"
    )


FLEET_TABLE_LIMIT = 1000
"""Failing Macs shown per requirement; the JSON report lists all."""


def _bar(requirement: Mapping[str, Any], nothing_evaluated: bool) -> str:
    total = requirement["pass"] + requirement["fail"] + requirement["cannot_tell"]
    parts = []
    for key, css in (("pass", "pass"), ("fail", "fail"), ("cannot_tell", "unknown")):
        share = 100.0 * requirement[key] / total if total else 0.0
        if share:
            parts.append(
                f'<span class="{css}" data-part="{css}" style="width:{share:.3f}%" '
                f'title="{requirement[key]} {key.replace("_", " ")}"></span>'
            )
    if nothing_evaluated:
        state = "cannot-tell"
    elif requirement["blocking"]:
        state = "blocking"
    else:
        state = "fails" if requirement["fail"] else "ok"
    return (
        f'<div class="bar-row" data-requirement="{escape(requirement["name"])}" '
        f'data-state="{state}"><div><strong>{escape(requirement["name"])}</strong> '
        f"({escape(requirement['enforcement'])})</div>"
        f'<div class="bar">{"".join(parts)}</div>'
        f"<div>{requirement['pass']} pass · {requirement['fail']} fail · "
        f"{requirement['cannot_tell']} cannot tell</div></div>"
    )


def _left_out_detail(kind: str, item: Mapping[str, Any]) -> str:
    if kind == "unreadable":
        return str(item["problem"])
    if kind == "stale":
        return f"collected {item['collected']}"
    return f"superseded by {item['kept']}"


def _fleet_one(document: Mapping[str, Any]) -> str:
    rows = []
    shown = 0
    hidden = 0
    for requirement in document["requirements"]:
        for mac in requirement["failing"]:
            if shown >= FLEET_TABLE_LIMIT:
                hidden += 1
                continue
            shown += 1
            rows.append(
                f'<tr class="failing-mac"><td>{escape(mac["host"])}</td>'
                f"<td>{escape(mac['id'])}</td><td>{escape(mac['macos'])}</td>"
                f"<td>{escape(requirement['name'])}</td><td>{escape(mac['evidence'])}</td></tr>"
            )
    table = (
        "<table><thead><tr><th>Mac</th><th>Id</th><th>macOS</th><th>Requirement</th>"
        f"<th>Evidence</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        if rows
        else "<p>No Mac was evaluated: cannot tell.</p>"
        if document["nothing_evaluated"]
        else "<p>No Mac fails a requirement.</p>"
    )
    more = (
        f'<div class="legend">{hidden} more failing Macs: see the JSON report.</div>'
        if hidden
        else ""
    )
    bundles = document["bundles"]
    left_out = "".join(
        f'<tr class="left-out"><td>{escape(kind)}</td><td>{escape(item["bundle"])}</td>'
        f"<td>{escape(_left_out_detail(kind, item))}</td></tr>"
        for kind in ("unreadable", "stale", "duplicates")
        for item in document[kind][:FLEET_TABLE_LIMIT]
    )
    left_table = (
        "<h3>Bundles left out</h3><table><thead><tr><th>Why</th><th>Bundle</th><th>Detail</th>"
        f"</tr></thead><tbody>{left_out}</tbody></table>"
        if left_out
        else ""
    )
    return (
        f"<h3>{escape(document['file'])}</h3>"
        f'<div class="legend">{bundles["macs"]} Macs evaluated from {bundles["read"]} bundles; '
        f"{bundles['stale']} stale, {bundles['duplicates']} duplicates, "
        f"{bundles['unreadable']} unreadable. Green: pass, red: fail, amber: cannot tell.</div>"
        f"{''.join(_bar(r, document['nothing_evaluated']) for r in document['requirements'])}"
        f"<h3>Failing Macs</h3>{table}{more}{left_table}"
    )


def _fleet(documents: Sequence[Mapping[str, Any]]) -> str:
    if not documents:
        return ""
    return (
        '<section id="fleet"><h2>Fleet posture pre-check</h2>'
        f"{''.join(_fleet_one(d) for d in documents)}</section>"
    )


def _finding(finding: Finding) -> str:
    sev = finding.severity.label
    fix = f'<div class="fix">Fix: {escape(finding.fix)}</div>' if finding.fix else ""
    return (
        f'<div class="finding" data-check="{escape(finding.check)}" data-severity="{sev}">'
        f'<span class="sev {sev}">{sev.upper()}</span> <code>{escape(finding.check)}</code> '
        f"<strong>{escape(finding.subject)}</strong>: {escape(finding.message)}{fix}</div>"
    )


def render_html(report: Report, sections: HtmlSections | None = None) -> str:
    """The whole report as one self-contained HTML document."""
    parts = sections or HtmlSections()
    findings = sorted(report.findings, key=lambda f: (-f.severity, f.check, f.subject))
    listing = "".join(_finding(f) for f in findings) or "<p>No findings.</p>"
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">"
        f"<title>{escape(report.title)}</title><style>{_CSS}</style></head><body><main>"
        f"{_banner(report)}{_facts(report, parts.extra_facts)}{_coverage(parts.coverage)}"
        f"{_timeline(parts.timeline)}{_certificates(parts.certificates)}{_fleet(parts.fleet)}"
        f'<section id="findings"><h2>Findings</h2>{listing}</section>'
        "</main></body></html>\n"
    )


def render_report(report: Report) -> str:
    """The report alone (no visual sections) as HTML."""
    return render_html(report)
