"""Text and JSON shapes of a coverage audit and of one ``match`` explanation."""

from __future__ import annotations

from typing import Any

from feedmgr.escape import join_lines
from feedmgr.findings import Finding
from feedmgr.provisioning.audit import ANY_COLUMN, Cell, Coverage, RowKind
from feedmgr.provisioning.engine import Decision, Outcome

_CELL_WIDTH = 24
_ROW_WIDTH = 32


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def cell_text(cell: Cell, *, counts: bool, kind: RowKind = RowKind.NODE) -> str:
    """What one matrix cell shows: the deciding rule, or the kind of gap; on a next-release
    row "NEXT" first (what a release a later feed adds would get)."""
    decision = cell.decision
    outcome = decision.outcome
    matched = decision.matched
    if outcome is Outcome.NOT_POSTURE_CAPABLE:
        text = "NO POSTURE AGENT"
    elif outcome is Outcome.OS_BLANK:
        text = "CANNOT TELL"
    elif outcome is Outcome.MATCHED and matched is not None:
        text = matched.name
        if decision.conditional:
            text = f"{text} (+cond)"
    elif outcome is Outcome.CONDITIONAL:
        text = "COND " + decision.conditional[0].name
    elif outcome is Outcome.DISABLED_ONLY:
        text = "GAP (disabled rule)"
    elif outcome is Outcome.OS_UNKNOWN:
        text = "UNKNOWN OS"
    else:
        text = "GAP"
    if kind is RowKind.NEXT_RELEASE:
        text = f"NEXT {text}"
    if cell.problems:
        text = f"{text} !"
    suffix = f" [{cell.endpoints}]" if counts else ""
    if cell.problems:
        # Keep the "!" visible when the rule name is cut short.
        return _fit(text[:-2], _CELL_WIDTH - len(suffix) - 2) + " !" + suffix
    return _fit(text, _CELL_WIDTH - len(suffix)) + suffix


def render_matrix(coverage: Coverage) -> str:
    """The coverage matrix: OS rows x group columns, each cell the rule or the gap."""
    titles = [g if g is not None else ANY_COLUMN for g in coverage.groups]
    body = [
        [
            cell_text(
                coverage.cell(row.label, group),
                counts=coverage.has_inventory and row.kind is not RowKind.NEXT_RELEASE,
                kind=row.kind,
            )
            for group in coverage.groups
        ]
        for row in coverage.rows
    ]
    first = min(_ROW_WIDTH, max([len("OS"), *(len(r.label) for r in coverage.rows)]))
    widths = [
        max(len(_fit(t, _CELL_WIDTH)), *(len(line[i]) for line in body))
        for i, t in enumerate(titles)
    ]
    head = "  ".join(
        [f"{'OS':<{first}}", *(f"{_fit(t, w):<{w}}" for t, w in zip(titles, widths, strict=True))]
    )
    lines = [head.rstrip()]
    lines.append("  ".join(["-" * first, *("-" * w for w in widths)]))
    for row, line in zip(coverage.rows, body, strict=True):
        cells = (f"{text:<{w}}" for text, w in zip(line, widths, strict=True))
        lines.append("  ".join([f"{_fit(row.label, first):<{first}}", *cells]).rstrip())
    legend = (
        "cells: the first matching rule; (+cond) conditional rules come first; COND only "
        "conditional rules; GAP no enabled rule; UNKNOWN OS the feed does not classify it; "
        "NEXT (rows 'X: next release') what a release a later feed adds under umbrella X "
        "would get; NO POSTURE AGENT devices the posture agent does not run on (not a gap); "
        "CANNOT TELL no OS recorded: cannot tell (devices no agent runs on, or PCs and Macs "
        "that never ran the agent; see cp.os-blank); ! the result has a problem (see the "
        "findings)"
    )
    if coverage.has_inventory:
        legend += "; [n] endpoints in the inventory"
    lines.append("")
    lines.append(legend)
    return join_lines(lines)


def coverage_json(coverage: Coverage) -> dict[str, Any]:
    """The matrix as JSON: rows, groups, and one entry per cell."""
    cells = []
    for row in coverage.rows:
        for group in coverage.groups:
            cell = coverage.cell(row.label, group)
            decision = cell.decision
            matched = decision.matched
            entry: dict[str, Any] = {
                "os": row.label,
                "group": group,
                "outcome": decision.outcome.value,
                "rule": matched.name if matched is not None else None,
                "conditional_rules": [r.name for r in decision.conditional],
                "problems": list(cell.problems),
            }
            if coverage.has_inventory and row.kind is not RowKind.NEXT_RELEASE:
                entry["endpoints"] = cell.endpoints
            cells.append(entry)
    return {
        "rows": [
            {
                "os": row.label,
                "kind": row.kind.value,
                "classified_as": list(row.placement.chain),
                "os_strings": list(row.os_strings),
            }
            for row in coverage.rows
        ],
        "groups": list(coverage.groups),
        "cells": cells,
    }


def explanation_json(decision: Decision, findings: list[Finding]) -> dict[str, Any]:
    """The ``match`` explanation as JSON."""
    placement = decision.case.placement
    matched = decision.matched
    return {
        "os": {
            "input": placement.text,
            "label": placement.label,
            "classified_as": list(placement.chain),
            "reason": placement.reason or None,
        },
        "group": decision.case.group,
        "outcome": decision.outcome.value,
        "steps": [
            {
                "rule": s.rule.name,
                "number": s.rule.number,
                "verdict": s.verdict.value,
                "why": s.reason,
            }
            for s in decision.steps
        ],
        "rule": matched.name if matched is not None else None,
        "results": matched.results.describe() if matched is not None else None,
        "problems": [f.to_json() for f in findings],
    }


_OUTCOME_TEXT = {
    Outcome.MATCHED: "matched",
    Outcome.CONDITIONAL: "covered only conditionally",
    Outcome.UNCOVERED: 'no rule matches: "Bypassing Cisco Secure Client Scan"',
    Outcome.DISABLED_ONLY: 'no enabled rule matches: "Bypassing Cisco Secure Client Scan"',
    Outcome.OS_UNKNOWN: 'OS unknown to the feed: "Bypassing Cisco Secure Client Scan"',
    Outcome.NOT_POSTURE_CAPABLE: "not posture-capable",
    Outcome.OS_BLANK: "cannot tell",
}


def render_explanation(decision: Decision, findings: list[Finding]) -> str:
    """The ``match`` explanation as text: the OS, each rule considered, the result."""
    from feedmgr.render.text import render_finding

    placement = decision.case.placement
    group = decision.case.group
    if placement.classified:
        where = " -> ".join(placement.chain)
    elif placement.blank or not placement.posture_capable:
        where = f"none ({placement.reason})"
    else:
        where = f"not classified ({placement.reason})"
    lines = [
        f"OS: {placement.text!r} = {placement.label}; feed node: {where}",
        f"identity group: {group if group is not None else '(none given)'}",
        "",
    ]
    for step in decision.steps:
        lines.append(f"  {step.rule.number:>3}. {step.rule.name}: {step.verdict.value}")
        lines.append(f"       {step.reason}")
    lines.append("")
    matched = decision.matched
    outcome = _OUTCOME_TEXT[decision.outcome]
    if decision.outcome is Outcome.NOT_POSTURE_CAPABLE:
        outcome += f": {placement.reason}; no CP rule or feed update changes that"
    lines.append(f"outcome: {outcome}")
    if matched is not None:
        lines.append(f"result ({matched.title}): {matched.results.describe()}")
    for rule in decision.conditional:
        lines.append(f"may get instead ({rule.title}): {rule.results.describe()}")
    if findings:
        lines.append("")
        lines.extend(line for f in findings for line in render_finding(f))
    return join_lines(lines)
