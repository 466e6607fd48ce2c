"""JSON rendering of reports: a stable, documented contract (docs/json-output.md)."""

from __future__ import annotations

import json
from typing import Any

from feedmgr.findings import Report

REPORT_SCHEMA = "feedmgr-report/1"


def dumps(document: Any) -> str:
    """Serialise a JSON document the way every command prints it."""
    return json.dumps(document, indent=2, sort_keys=False, default=str) + "\n"


def report_document(report: Report) -> dict[str, Any]:
    """The report as a JSON-ready dict."""
    worst = report.worst
    return {
        "schema": REPORT_SCHEMA,
        "title": report.title,
        "facts": dict(report.facts),
        "summary": {**report.counts(), "worst": worst.label if worst is not None else None},
        "findings": [f.to_json() for f in report.findings],
    }


def render_report(report: Report) -> str:
    """The report as pretty-printed JSON text."""
    return dumps(report_document(report))
