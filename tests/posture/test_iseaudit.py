"""ISE posture audit syslog: segments put back together, per OS and status, never
postured endpoints, and the CP prediction beside them."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from feedmgr.posture.iseaudit import Prediction, parse_attributes, read_audit

Asset = Callable[[str], Path]

HEADER = "<181>Mar  3 09:12:{s:02d} ise-psn1 CISE_Posture_and_Client_Provisioning_Audit"


def _posture_message(n: int, mac: str, os: str, status: str, report: str = "") -> str:
    """A constructed posture audit message: the genuine ISE header layout (see SOURCES)
    with the attribute names SIEM parsers document for this category."""
    body = (
        f"2026-03-03 09:12:{n:02d}.100 +00:00 00000{n:05d} 80002 NOTICE Posture: "
        f"Endpoint posture report, ConfigVersionId=12, MacAddress={mac}, "
        f"OperatingSystem={os}, PostureAgentVersion=5.1.10.233, PostureStatus={status}, "
        f"PosturePolicyMatched=macOS-Service-PosturePolicy, UserName=ruben,"
    )
    if report:
        body += f" PostureReport={report},"
    return f"{HEADER.format(s=n)} {1000 + n:010d} 1 0 {body}"


def test_genuine_four_segment_message_gives_the_endpoint_and_status(asset: Asset) -> None:
    """The genuine 4-segment CISE_Passed_Authentications message: the endpoint (segment 1)
    and PostureAssessmentStatus=NotApplicable (segment 2) belong to one message, so the
    endpoint is listed as never postured, at the message's first line and ISE time."""
    lines = asset("posture/logs/ise-syslog-passed-auth.log").read_text().splitlines()
    summary = read_audit(lines, "x")
    assert (summary.messages, summary.posture_messages, summary.incomplete) == (1, 1, 0)
    (endpoint,) = summary.endpoints
    assert (endpoint.endpoint, endpoint.status, endpoint.line, endpoint.time) == (
        "90-1B-0E-34-EA-92",
        "NotApplicable",
        1,
        "2019-04-24 15:00:48.610 +00:00",
    )
    assert summary.by_os[0].never_postured == (endpoint,)


def test_rfc3339_headers_as_rsyslog_files_them_are_read(asset: Asset) -> None:
    """The genuine 4-segment message with the RFC 3339 header rsyslog's RSYSLOG_FileFormat
    writes (no PRI, 'YYYY-MM-DDThh:mm:ss+00:00 HOST TAG') gives the same endpoint."""
    lines = asset("posture/logs/ise-syslog-passed-auth-rfc3339.log").read_text().splitlines()
    summary = read_audit(lines, "x")
    assert (summary.messages, summary.posture_messages, summary.unreadable) == (1, 1, 0)
    (endpoint,) = summary.endpoints
    assert (endpoint.endpoint, endpoint.status, endpoint.time) == (
        "90-1B-0E-34-EA-92",
        "NotApplicable",
        "2019-04-24 15:00:48.610 +00:00",
    )


_BSD = re.compile(r"^<\d+>[A-Z][a-z]{2} +\d+ [\d:]+ (?P<host>\S+) (?P<tag>\S+) (?P<msg>.*)$")


def _rfc3339(line: str, stamp: str) -> str:
    """A constructed message's header as RSYSLOG_FileFormat writes it: no PRI,
    'TIMESTAMP HOST TAG MSG'."""
    bsd = _BSD.match(line)
    assert bsd is not None
    return f"{stamp} {bsd['host']} {bsd['tag']} {bsd['msg']}"


def _rfc5424(line: str, stamp: str) -> str:
    """A constructed message's header as rsyslog's RSYSLOG_SyslogProtocol23Format writes it:
    '<PRI>1 TIMESTAMP HOST APP-NAME PROCID MSGID SD MSG', the tag as APP-NAME."""
    bsd = _BSD.match(line)
    assert bsd is not None
    return f"<181>1 {stamp} {bsd['host']} {bsd['tag']} - - - {bsd['msg']}"


def test_a_file_mixing_header_forms_keeps_every_endpoint() -> None:
    """BSD, RFC 3339 (with or without fraction, Z or offset) and RFC 5424 headers in one
    file are all read: no endpoint is dropped."""
    lines = [
        _posture_message(1, "AA:BB:CC:00:00:01", "Mac OSX 15.6.1", "Compliant"),
        _rfc3339(
            _posture_message(2, "AA:BB:CC:00:00:02", "Mac OSX 26.2", "Unknown"),
            "2024-02-06T22:16:22+00:00",
        ),
        _rfc3339(
            _posture_message(3, "AA:BB:CC:00:00:03", "Mac OSX 26.2", "NonCompliant"),
            "2024-02-06T22:16:23.123456Z",
        ),
        _rfc5424(
            _posture_message(4, "AA:BB:CC:00:00:04", "Mac OSX 14.3.1", "Compliant"),
            "2024-02-06T22:16:24.5-08:00",
        ),
    ]
    summary = read_audit(lines, "x")
    assert [e.endpoint for e in summary.endpoints] == [
        "AA:BB:CC:00:00:01",
        "AA:BB:CC:00:00:02",
        "AA:BB:CC:00:00:03",
        "AA:BB:CC:00:00:04",
    ]
    assert summary.unreadable == 0


def test_a_line_with_an_ise_category_that_cannot_be_read_is_counted() -> None:
    """A line that names a CISE_ category but whose header is in no known form is counted
    as unreadable, never silently skipped; other lines are not."""
    lines = [
        _posture_message(1, "AA:BB:CC:00:00:01", "Mac OSX 15.6.1", "Compliant"),
        "06/02/2024 22:16:22 ise01 CISE_Posture_and_Client_Provisioning_Audit 0000000002 1 0 x",
        "Mar  3 09:13:00 ise-psn1 sshd[42]: not an ISE message",
    ]
    summary = read_audit(lines, "x")
    assert (summary.messages, summary.unreadable) == (1, 1)


def test_segments_out_of_order_and_missing(asset: Asset) -> None:
    """Segments arriving out of order are still put together; a message missing a segment
    is counted incomplete, not read as a whole."""
    lines = asset("posture/logs/ise-syslog-passed-auth.log").read_text().splitlines()
    assert read_audit([lines[2], lines[0], lines[3], lines[1]], "x").posture_messages == 1
    partial = read_audit(lines[:3], "x")
    assert (partial.messages, partial.incomplete) == (0, 1)


def test_audit_message_without_posture_status(asset: Asset) -> None:
    """The genuine EPS audit message is an ISE message but says nothing about posture."""
    lines = asset("posture/logs/ise-syslog-eps-audit.log").read_text().splitlines()
    summary = read_audit(lines, "x")
    assert (summary.messages, summary.posture_messages, summary.endpoints) == (1, 0, ())


def test_summary_per_os_and_status_with_the_cp_prediction() -> None:
    """Constructed posture messages: the last message per endpoint wins; counts per OS and
    status; never-postured endpoints on an OS the CP prediction calls uncovered confirm the
    gap, those on a covered OS are not explained by CP."""
    lines = [
        _posture_message(1, "AA:BB:CC:00:00:01", "Mac OSX 15.6.1", "Pending"),
        _posture_message(2, "AA:BB:CC:00:00:01", "Mac OSX 15.6.1", "Compliant"),
        _posture_message(3, "AA:BB:CC:00:00:02", "Mac OSX 15.6.1", "NonCompliant"),
        _posture_message(4, "AA:BB:CC:00:00:03", "Mac OSX 26.2", "Unknown"),
        _posture_message(5, "AA:BB:CC:00:00:04", "Mac OSX 26.2", "NotApplicable"),
        _posture_message(6, "AA:BB:CC:00:00:05", "Mac OSX 15.6.1", "NotApplicable"),
        "Mar  3 09:13:00 ise-psn1 sshd[42]: not an ISE message",
    ]
    predictions = {
        "Mac OSX 15.6.1": Prediction("matched", "macOS", ""),
        "Mac OSX 26.2": Prediction("os-unknown", "", "the feed does not know this version"),
    }
    summary = read_audit(lines, "x", predictions.__getitem__)
    assert summary.statuses == {"Compliant": 1, "NonCompliant": 1, "NotApplicable": 2, "Unknown": 1}
    sequoia, tahoe = summary.by_os
    assert sequoia.statuses == {"Compliant": 1, "NonCompliant": 1, "NotApplicable": 1}
    assert [e.endpoint for e in sequoia.never_postured] == ["AA:BB:CC:00:00:05"]
    assert not sequoia.confirmed_gap
    assert [e.endpoint for e in tahoe.never_postured] == ["AA:BB:CC:00:00:03", "AA:BB:CC:00:00:04"]
    assert tahoe.confirmed_gap


def test_posture_report_attribute_is_read() -> None:
    """The PostureReport of a constructed message gives the policy and requirement result."""
    report = (
        "macOS-Service-PosturePolicy\\;Failed\\;(macOS-Service-Requirement:Mandatory:Failed:"
        "Passed_Conditions[]:Failed_Conditions[macOS-Service-Condition]:Skipped_Conditions[])"
    )
    lines = [_posture_message(1, "AA:BB:CC:00:00:09", "Mac OSX 14.3.1", "NonCompliant", report)]
    (endpoint,) = read_audit(lines, "x").endpoints
    (result,) = endpoint.results
    assert (result.policy, result.status, result.failed) == (
        "macOS-Service-PosturePolicy",
        "Failed",
        ("macOS-Service-Condition",),
    )


def test_attributes_keep_escaped_commas() -> None:
    """A value with an escaped comma stays one value; repeated keys keep the first."""
    assert parse_attributes("A=1\\, 2, B=x, A=3,") == {"A": "1, 2", "B": "x"}


@settings(max_examples=200)
@given(st.lists(st.text(max_size=80) | st.sampled_from([_posture_message(1, "m", "o", "s")])))
def test_reading_is_total(lines: list[str]) -> None:
    """Any text is read without error."""
    assert read_audit(lines, "x").lines == len(lines)
