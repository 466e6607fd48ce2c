"""JUnit XML: one testcase per (check, subject), failures where CI should go red."""

from __future__ import annotations

import defusedxml.ElementTree as SafeET
import pytest

from feedmgr.findings import Finding, Report, Severity
from feedmgr.render.junit import render_report

REPORT = Report(
    "preflight",
    (
        Finding("cert.identity", Severity.FAIL, "psn1:8443", "name not in SAN", "reissue"),
        Finding("cert.expiring", Severity.WARN, "psn1:8443", "expires in 40 days", "renew"),
        Finding("feed.os-lag", Severity.INFO, "macOS 26.1", "known", ""),
    ),
)


@pytest.mark.parametrize(
    ("fail_on", "failures"),
    [(Severity.FAIL, ["cert.identity"]), (Severity.WARN, ["cert.identity", "cert.expiring"])],
)
def test_failures_follow_fail_on(fail_on: Severity, failures: list[str]) -> None:
    """fail findings are failures; warn findings only with --fail-on warn."""
    root = SafeET.fromstring(render_report(REPORT, fail_on))
    failed = [
        case.get("classname", "").removeprefix("feedmgr.")
        for case in root.iter("testcase")
        if case.find("failure") is not None
    ]
    assert failed == failures
    assert root.get("failures") == str(len(failures))


def test_one_suite_per_area_and_one_case_per_check_and_subject() -> None:
    """Findings group into suites by area; each (check, subject) is one testcase named by
    its subject."""
    root = SafeET.fromstring(render_report(REPORT))
    suites = {s.get("name"): len(list(s.iter("testcase"))) for s in root.iter("testsuite")}
    assert suites == {"cert": 2, "feed": 1}
    names = [c.get("name") for c in root.iter("testcase")]
    assert names == ["psn1:8443", "psn1:8443", "macOS 26.1"]


def test_fix_and_message_are_in_the_failure_text() -> None:
    """A CI reader sees what is wrong and how to fix it."""
    root = SafeET.fromstring(render_report(REPORT))
    failure = next(root.iter("failure"))
    assert failure.get("message") == "name not in SAN"
    assert "fix: reissue" in (failure.text or "")


def test_markup_in_subjects_is_escaped() -> None:
    """Subjects and messages with XML metacharacters stay well-formed."""
    report = Report("t", (Finding("x.y", Severity.FAIL, "<a&b>", 'say "hi" <now>', ""),))
    root = SafeET.fromstring(render_report(report))
    assert next(root.iter("testcase")).get("name") == "<a&b>"


def test_control_characters_from_outside_text_keep_the_xml_well_formed() -> None:
    """A certificate name with ESC/BEL (not allowed in XML 1.0) is written escaped, so CI
    parsers still read the report."""
    hostile = "psn1\x1b]0;pwned\x07"
    report = Report("t", (Finding("cert.identity", Severity.FAIL, hostile, hostile, "\x9b"),))
    root = SafeET.fromstring(render_report(report))
    case = next(root.iter("testcase"))
    assert case.get("name") == "psn1\\u001b]0;pwned\\u0007"
    failure = case.find("failure")
    assert failure is not None
    assert failure.text == "psn1\\u001b]0;pwned\\u0007\nfix: \\u009b"


def test_findings_of_one_check_and_subject_are_one_case_that_fails_if_any_does() -> None:
    """A certificate checked against its FQDN (passes) and its IP (fails) gives one
    testcase, failing, with both messages: two same-named cases would let a CI system keep
    the passing one (docs/preflight.md: one testcase per (check, subject))."""
    report = Report(
        "preflight",
        (
            Finding("cert.identity", Severity.INFO, "psn1 (psn.pem)", "psn1.corp.example ok", ""),
            Finding(
                "cert.identity", Severity.FAIL, "psn1 (psn.pem)", "10.1.1.21 not in SAN", "add"
            ),
            Finding("cert.chain", Severity.INFO, "psn1 (psn.pem)", "verified", ""),
        ),
    )
    root = SafeET.fromstring(render_report(report))
    cases = [(c.get("classname"), c.get("name")) for c in root.iter("testcase")]
    assert cases == [
        ("feedmgr.cert.identity", "psn1 (psn.pem)"),
        ("feedmgr.cert.chain", "psn1 (psn.pem)"),
    ]
    assert (root.get("tests"), root.get("failures")) == ("2", "1")
    failure = next(root.iter("failure"))
    assert failure.get("message") == "10.1.1.21 not in SAN"
    assert failure.text == "INFO: psn1.corp.example ok\nFAIL: 10.1.1.21 not in SAN\nfix: add"
