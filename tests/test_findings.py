"""Findings, severities and the exit code a report asks for."""

from __future__ import annotations

import json

import pytest

from feedmgr.errors import ExitCode
from feedmgr.findings import Finding, Report, Severity
from feedmgr.render import OutputFormat


def _finding(severity: Severity, check: str = "x.check") -> Finding:
    return Finding(check, severity, "subject", "message", "fix it")


@pytest.mark.parametrize(
    ("severities", "fail_on", "expected"),
    [
        ((), Severity.FAIL, ExitCode.OK),
        ((Severity.INFO, Severity.WARN), Severity.FAIL, ExitCode.OK),
        ((Severity.INFO, Severity.FAIL), Severity.FAIL, ExitCode.CHECKS_FAILED),
        ((Severity.WARN,), Severity.WARN, ExitCode.CHECKS_FAILED),
        ((Severity.INFO,), Severity.WARN, ExitCode.OK),
    ],
)
def test_exit_code_follows_worst_severity(
    severities: tuple[Severity, ...], fail_on: Severity, expected: ExitCode
) -> None:
    """A report exits 1 exactly when some finding reaches the fail-on severity."""
    report = Report("t", tuple(_finding(s) for s in severities))
    assert report.exit_code(fail_on) is expected


def test_severity_labels_round_trip() -> None:
    """Severities parse from their labels and refuse anything else."""
    for severity in Severity:
        assert Severity.from_label(severity.label) is severity
    with pytest.raises(ValueError, match="unknown severity"):
        Severity.from_label("fatal")


@pytest.mark.parametrize("fmt", list(OutputFormat))
def test_every_output_format_renders_every_finding(fmt: OutputFormat) -> None:
    """Each renderer shows every finding's check id, subject and fix."""
    report = Report("title", (_finding(Severity.WARN, "a.one"), _finding(Severity.FAIL, "b.two")))
    text = fmt.to_renderer()(report)
    for check in ("a.one", "b.two"):
        assert check in text
    assert "fix it" in text


def test_json_report_is_the_documented_shape() -> None:
    """The JSON report carries schema, summary counts and findings with severity labels."""
    report = Report("t", (_finding(Severity.FAIL),), {"feed": "1.0"})
    document = json.loads(OutputFormat.JSON.to_renderer()(report))
    assert document["schema"] == "feedmgr-report/1"
    assert document["summary"] == {"info": 0, "warn": 0, "fail": 1, "worst": "fail"}
    assert document["facts"] == {"feed": "1.0"}
    assert document["findings"][0]["severity"] == "fail"


def test_text_report_lists_worst_first() -> None:
    """The text report puts failures before warnings."""
    report = Report("t", (_finding(Severity.WARN, "w.w"), _finding(Severity.FAIL, "f.f")))
    text = OutputFormat.TEXT.to_renderer()(report)
    assert text.index("f.f") < text.index("w.w")
