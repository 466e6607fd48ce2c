"""The HTML report as a document: sections present, data escaped, nothing fetched."""

from __future__ import annotations

import re
from datetime import date

from feedmgr.findings import Finding, Report, Severity
from feedmgr.render.html import CertificateRow, HtmlSections, TimelinePoint, render_html

COVERAGE = {
    "rows": [{"os": "Mac OSX 26"}, {"os": "macOS 26.2 (unknown)"}],
    "groups": ["Employees", None],
    "cells": [
        {
            "os": "Mac OSX 26",
            "group": "Employees",
            "outcome": "matched",
            "rule": "Mac-Emp",
            "endpoints": 12,
        },
        {"os": "Mac OSX 26", "group": None, "outcome": "uncovered", "rule": None, "endpoints": 3},
        {
            "os": "macOS 26.2 (unknown)",
            "group": "Employees",
            "outcome": "os-unknown",
            "endpoints": 7,
        },
        {"os": "macOS 26.2 (unknown)", "group": None, "outcome": "os-unknown", "endpoints": 0},
    ],
}


def _report() -> Report:
    return Report(
        "Campus preflight",
        (
            Finding("cp.uncovered", Severity.FAIL, "Mac OSX 26 / Any", "no rule", "add a rule"),
            Finding("cert.expiring", Severity.WARN, "psn1:8443", "<script>alert(1)</script>", ""),
        ),
        {"feed": "2026.11.25"},
    )


def test_all_sections_render_with_their_data() -> None:
    """Banner, heatmap, timeline, certificates and findings all appear."""
    html = render_html(
        _report(),
        HtmlSections(
            coverage=COVERAGE,
            timeline=[
                TimelinePoint("macOS 26", "macOS 26.1", date(2025, 11, 3), True),
                TimelinePoint("macOS 26", "macOS 26.2", date(2025, 12, 12), False),
            ],
            certificates=[
                CertificateRow(
                    "psn1:8443", "psn1.example.com", "2027-01-01", Severity.WARN, ("cert.expiring",)
                )
            ],
        ),
    )
    for section in ("summary", "coverage", "timeline", "certificates", "findings"):
        assert f'id="{section}"' in html
    assert html.count('class="gap"') == 1
    assert html.count('class="os-unknown"') == 2
    assert "Mac-Emp [12]" in html
    assert 'class="release unknown"' in html


def test_untrusted_text_is_escaped() -> None:
    """A message containing markup is shown as text, never executed."""
    html = render_html(_report())
    assert "<script>" not in html
    assert "&lt;script&gt;" in html


def test_the_document_is_self_contained() -> None:
    """No external URLs, scripts or stylesheets: it opens offline."""
    html = render_html(_report(), HtmlSections(coverage=COVERAGE))
    assert not re.search(r"""(src|href)=["']?https?:""", html)
    assert "<script" not in html
    assert "default-src 'none'" in html


def test_banner_reflects_the_worst_severity() -> None:
    """The banner is red with failures and green without findings."""
    assert 'class="banner fail"' in render_html(_report())
    assert 'class="banner ok"' in render_html(Report("empty"))


def test_bidi_and_control_characters_are_shown_escaped() -> None:
    """A subject with a right-to-left override or ESC is shown as escapes, so the browser
    shows the name as it is, not reversed."""
    report = Report(
        "t", (Finding("cert.identity", Severity.FAIL, "psn1\u202egpj.exe\x1b[2J", "bad", ""),)
    )
    html = render_html(report)
    assert "\u202e" not in html
    assert "\x1b" not in html
    assert "psn1\\u202egpj.exe\\u001b[2J" in html


def test_heatmap_shows_next_release_rows_and_agentless_devices_apart() -> None:
    """Next-release rows and devices no posture agent runs on are drawn distinctly from
    gaps (their own row class, cell class and label); a result with a problem shows "!"."""
    coverage = {
        "rows": [
            {"os": "Mac OSX: next release", "kind": "next-release"},
            {"os": "Android (no posture agent)", "kind": "not-posture-capable"},
        ],
        "groups": ["Employees"],
        "cells": [
            {
                "os": "Mac OSX: next release",
                "group": "Employees",
                "outcome": "matched",
                "rule": "later macOS",
                "problems": ["cp.no-agent"],
            },
            {
                "os": "Android (no posture agent)",
                "group": "Employees",
                "outcome": "not-posture-capable",
                "endpoints": 4,
            },
        ],
    }
    html = render_html(_report(), HtmlSections(coverage=coverage))
    assert '<tr class="next-release" data-kind="next-release">' in html
    assert "next release: later macOS !" in html
    assert (
        'class="not-posture-capable" data-outcome="not-posture-capable">no posture agent [4]'
        in html
    )
    assert 'class="gap"' not in html


def test_heatmap_does_not_grey_out_endpoints_with_no_os_recorded() -> None:
    """A blank-OS row is not drawn as "no posture agent" (grey, not a gap): its cells say
    the audit cannot tell, in a class of their own that the legend explains."""
    coverage = {
        "rows": [{"os": "(no OS recorded)", "kind": "os-blank"}],
        "groups": ["Employees"],
        "cells": [
            {
                "os": "(no OS recorded)",
                "group": "Employees",
                "outcome": "os-blank",
                "endpoints": 2,
            },
        ],
    }
    html = render_html(_report(), HtmlSections(coverage=coverage))
    assert 'class="os-blank" data-outcome="os-blank">cannot tell (no OS recorded) [2]' in html
    assert "no posture agent [2]" not in html
    assert 'class="not-posture-capable"' not in html
    assert 'class="gap"' not in html
    assert "no OS recorded: cannot tell" in html
