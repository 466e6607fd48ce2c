"""Log scanning: the field document's Secure Client and ISE logs, truncation, garbage."""

from __future__ import annotations

import json
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedmgr.posture.agentxml import AgentCheck, AgentPackage, packages_for
from feedmgr.posture.files import spec_from_document
from feedmgr.posture.logscan import Reported, parse_posture_report, scan_chunks, scan_log

Asset = Callable[[str], Path]


def _scan(text: str) -> Any:
    return scan_log(text.splitlines(keepends=True), "log")


def test_unified_log_gives_back_the_field_document(
    asset: Asset, field_document: dict[str, Any]
) -> None:
    """unified_log.log yields exactly the example's requirement and condition, no problems."""
    scan = _scan(asset("posture/unified_log.log").read_text())
    expected = packages_for(spec_from_document(field_document, "x"))
    assert tuple(f.item for f in scan.packages) == expected
    assert scan.packages[0].count == 2
    assert [f.item for f in scan.checks] == list(expected[0].checks)
    assert scan.checks[0].count == 4  # two standalone, two inside packages
    assert scan.documents == 2
    assert scan.ise_versions == ("ISE: 3.3.0.430",)
    assert scan.problems == ()
    texts = [text for _, _, text in scan.result_lines]
    assert len(texts) == 3
    assert all("doCheck" in t or "completeCheck" in t for t in texts)


def test_ise_psc_log_without_opening_tag(asset: Asset, field_document: dict[str, Any]) -> None:
    """ise-psc.log's first document lost <cleanmachines> with its log prefix; its package
    is still recovered, and the StatusUtil line is reported as a result line."""
    scan = _scan(asset("posture/ise-psc.log").read_text())
    expected = packages_for(spec_from_document(field_document, "x"))
    assert tuple(f.item for f in scan.packages) == expected
    assert scan.packages[0].count == 2
    # The first document lost its opening: it is not a whole document.
    assert (scan.documents, scan.documents_cut) == (1, 1)
    assert [line for line, _ in scan.problems] == [2]
    assert any("posture.util.Status" in text for _, _, text in scan.result_lines)


def test_truncated_xml_is_a_problem_not_a_crash(asset: Asset) -> None:
    """A log cut inside a package keeps what came before and reports the cut."""
    text = asset("posture/unified_log.log").read_text()
    cut = text[: text.index("<param>", text.index("<package>"))]
    scan = _scan(cut)
    assert len(scan.checks) == 1  # the standalone check before the cut
    assert scan.packages == ()
    assert [p for _, p in scan.problems] == [
        "<package> at line 15: truncated: the log ends at line 27 before </package>",
        "<cleanmachines> at line 11: cut: the log ends at line 27 before </cleanmachines>; "
        "not counted as a whole document",
    ]
    assert (scan.documents, scan.documents_cut) == (0, 1)


def test_log_line_inside_xml_means_truncated() -> None:
    """A timestamped line before </check> ends that check as truncated; scanning goes on."""
    text = (
        "<check>\n<id>a</id>\n"
        "[Tue Feb 27 10:30:58.646 2024][csc_ise]Function: doCheck\n"
        "<check><id>b</id><category>3</category><type>301</type><param>com.b</param>"
        "<operation>loaded</operation><value>0</value></check>\n"
    )
    scan = _scan(text)
    assert [f.item.name for f in scan.checks] == ["b"]
    assert scan.problems[0][1].startswith("<check> at line 1: truncated: a log line starts")
    assert scan.result_lines == (
        (
            3,
            "Tue Feb 27 10:30:58.646 2024",
            "[Tue Feb 27 10:30:58.646 2024][csc_ise]Function: doCheck",
        ),
    )


def test_xml_with_a_timestamp_on_every_line(asset: Asset, field_document: dict[str, Any]) -> None:
    """When every XML line carries a log prefix (as 'log show' prints), the XML after the
    prefixes is still put together."""
    text = asset("posture/ise-psc.log").read_text()
    start = text.index("<cleanmachines>")
    xml = text[start : text.index("</cleanmachines>", start) + len("</cleanmachines>")]
    stamped = "".join(
        f"2024-02-27 10:30:58.{n:03d} Df csc_iseagentd[412:1a2b] {line}\n"
        for n, line in enumerate(xml.splitlines())
    )
    scan = _scan(stamped)
    expected = packages_for(spec_from_document(field_document, "x"))
    assert tuple(f.item for f in scan.packages) == expected
    assert scan.problems == ()


def test_reopened_tag_means_truncated() -> None:
    """A second <package> before </package> marks the first one truncated."""
    scan = _scan("<package><id>1</id>\n<package>\n")
    assert [p for _, p in scan.problems] == [
        "<package> at line 1: truncated: a new <package> or document edge at line 2",
        "<package> at line 2: truncated: the log ends at line 2 before </package>",
    ]


def test_bad_check_is_reported_with_its_line() -> None:
    """A complete but invalid check is a problem naming the line and the reason, every time."""
    scan = _scan("noise\n<check><id>x</id><category>9</category></check>\n")
    assert scan.problems == ((2, "<check> at line 2: check 'x': missing <type>"),)


@settings(max_examples=300)
@given(
    st.lists(
        st.sampled_from(
            [
                "<cleanmachines>",
                "</cleanmachines>",
                "<package>",
                "</package>",
                "<check>",
                "</check>",
                "<id>a</id>",
                "<criteria>(a)</criteria>",
                "<name>n</name>",
                "<category>3</category>",
                "<type>303</type>",
                "<param>p</param>",
                "<operation>running</operation>",
                "<value>0</value>",
                "<description/>",
                "<optional>0</optional>",
                "[Tue Feb 27 10:30:58.646 2024] doCheck",
                "2024-02-27 10:30:58.659 DEBUG x",
                "<!DOCTYPE x [<!ENTITY a 'b'>]>",
                "&a;",
                "\x00\xff",
                "\n",
            ]
        )
        | st.text(max_size=20),
        max_size=40,
    )
)
def test_scan_never_raises(parts: list[str]) -> None:
    """Whatever the text (XML pieces, truncation, log lines, garbage), scanning completes."""
    text = "".join(parts)
    scan = scan_log(text.splitlines(keepends=True), "log")
    assert scan.lines == len(text.splitlines())


# --- Logs as they really come (issue 18) ----------------------------------------------

SYSLOG_STATUS_LINE = 31  # macos-system.log: the first MSG_SU_STEP_STATUS line


def _field_xml(asset: Asset) -> str:
    """The field document's whole <cleanmachines> document (ise-psc.log, second one)."""
    text = asset("posture/ise-psc.log").read_text()
    start = text.index("<cleanmachines>")
    return text[start : text.index("</cleanmachines>", start) + len("</cleanmachines>")]


def test_macos_syslog_lines_give_timestamped_results_and_agent_status(asset: Asset) -> None:
    """Genuine system.log lines (Feb 17 18:49:05 MacBook-Pro csc_iseagentd[1152]: ...) are
    recognised: the three MSG_SU_STEP_STATUS lines are result lines with their timestamps,
    and the agent status is reported as logged (Status 6, Compliant 3, the description)."""
    scan = _scan(asset("posture/logs/macos-system.log").read_text())
    assert [(n, t) for n, t, _ in scan.result_lines] == [
        (31, "Feb 17 18:49:05"),
        (33, "Feb 17 18:19:05"),
        (35, "Feb 17 17:49:05"),
    ]
    first = scan.outcome.agent_status[0]
    assert (first.status, first.compliant, first.description, first.line) == (
        6,
        3,
        "System scan not required on current Wi-Fi.",
        31,
    )
    assert scan.known_format
    assert scan.problems == ()


def test_a_syslog_line_inside_a_document_cuts_it(
    asset: Asset, field_document: dict[str, Any]
) -> None:
    """A genuine syslog line landing inside an open <package> cuts it: the document is
    counted as cut, not whole, and its requirement is seen once (the whole copy), not 2x."""
    status_line = asset("posture/logs/macos-system.log").read_text().splitlines()[30]
    xml = _field_xml(asset).splitlines()
    cut = [*xml[:12], status_line, *xml[12:]]
    scan = _scan("\n".join([*cut, *xml]) + "\n")
    expected = packages_for(spec_from_document(field_document, "x"))
    assert (scan.documents, scan.documents_cut) == (1, 1)
    assert tuple(f.item for f in scan.packages) == expected
    assert scan.packages[0].count == 1
    assert scan.problems[0] == (
        5,
        "<package> at line 5: truncated: a log line starts at line 13 before </package>",
    )
    assert scan.problems[1][1].startswith(
        "<cleanmachines> at line 1: cut: a log line starts at line 13"
    )
    assert [n for n, _, _ in scan.result_lines] == [13]


@pytest.mark.parametrize(
    "prefix",
    [
        "Feb 27 10:30:58 MacBook-Pro csc_iseagentd[512]: ",
        "<181>Feb 27 10:30:58 ise-psn CISE_Posture 0000000959 1 0 ",
        "2024-02-27 10:30:58.576123-0800 0x1a2b Default 0x0 412 0 csc_iseagentd: ",
        "2024-02-27T10:30:58.576Z localhost csc_iseagentd[412]: ",
        "[Tue Feb 27 10:30:58.576 2024][csc_iseagent]Function: SMP_initCheck ",
    ],
)
def test_xml_with_any_prefix_on_every_line(
    asset: Asset, field_document: dict[str, Any], prefix: str
) -> None:
    """XML whose every line carries a syslog, ISE syslog, unified-log, ISO or Secure Client
    prefix is put back together: one whole document, the field document's package."""
    stamped = "".join(f"{prefix}{line}\n" for line in _field_xml(asset).splitlines())
    scan = _scan(stamped)
    assert tuple(f.item for f in scan.packages) == packages_for(
        spec_from_document(field_document, "x")
    )
    assert (scan.documents, scan.documents_cut, scan.problems) == (1, 0, ())


def _one_line(xml: str) -> str:
    return "".join(line.strip() for line in xml.splitlines())


@pytest.mark.parametrize(
    "flatten",
    [
        pytest.param(_one_line, id="one-line"),
        pytest.param(lambda x: x.replace("\n", "#012"), id="rsyslog-#012"),
        pytest.param(
            lambda x: (
                json.dumps({"message": x})[1:-1].replace("<", "\\u003c").replace(">", "\\u003e")
            ),
            id="json-escaped",
        ),
    ],
)
def test_one_line_documents_count_once(
    asset: Asset, field_document: dict[str, Any], flatten: Callable[[str], str]
) -> None:
    """Fifty documents flattened onto one line each (forwarders, JSON shippers) count as
    fifty documents, and the requirement as seen fifty times (was: 100 documents)."""
    line = "Feb 27 10:30:58 fwd csc_iseagentd[512]: " + flatten(_field_xml(asset))
    scan = _scan("\n".join([line] * 50) + "\n")
    assert (scan.documents, scan.documents_cut) == (50, 0)
    assert scan.packages[0].item == packages_for(spec_from_document(field_document, "x"))[0]
    assert scan.packages[0].count == 50
    assert scan.problems == ()
    # "non compliant" in the requirement's message is XML, not a result line.
    assert scan.result_lines == ()


def test_backslashes_in_a_plain_check_stay_as_they_are() -> None:
    """A registry-style value with backslash-n in plain XML is not taken for a JSON escape
    (constructed check, category 2)."""
    scan = _scan(
        "<check><id>Reg</id><category>2</category><type>201</type>"
        "<param>HKLM\\SOFTWARE\\nvidia</param></check>\n"
    )
    assert scan.checks[0].item == AgentCheck("Reg", 2, 201, (("param", "HKLM\\SOFTWARE\\nvidia"),))


def test_checks_of_every_category_are_extracted(asset: Asset) -> None:
    """A requirement with a service check and a check of another category (constructed:
    the field document's package with a second check, category 1, type 101) is extracted
    whole; the other check keeps its category, type and fields and is not evaluated."""
    other = (
        "<check><id>Cisco-File-Check</id><category>1</category><type>101</type>"
        "<param>/Applications/Cisco</param><operation>exists</operation></check>"
    )
    xml = _field_xml(asset).replace(
        "<criteria>(macOS-Service-Condition)</criteria>",
        other + "<criteria>(macOS-Service-Condition &amp; Cisco-File-Check)</criteria>",
    )
    scan = _scan(xml)
    assert scan.problems == ()
    package = scan.packages[0].item
    assert isinstance(package, AgentPackage)
    assert [c.name for c in package.checks] == ["macOS-Service-Condition"]
    assert package.other_checks == (
        AgentCheck(
            "Cisco-File-Check",
            1,
            101,
            (("param", "/Applications/Cisco"), ("operation", "exists")),
        ),
    )


def test_posture_report_in_the_ise_report_columns() -> None:
    """A PostureReport value (constructed from the field document's Posture Report table:
    policy, requirement, Mandatory, Passed, passed condition) is split into its columns."""
    value = (
        "macOS-Service-PosturePolicy\\;Passed\\;(macOS-Service-Requirement:Mandatory:Passed:"
        "Passed_Conditions[macOS-Service-Condition]:Failed_Conditions[]:Skipped_Conditions[])"
    )
    (result,) = parse_posture_report(value, 7)
    assert (result.policy, result.status, result.requirement, result.enforcement) == (
        "macOS-Service-PosturePolicy",
        "Passed",
        "macOS-Service-Requirement",
        "Mandatory",
    )
    assert (result.passed, result.failed, result.skipped) == (("macOS-Service-Condition",), (), ())


def test_outcome_lines_status_policy_and_cp_bypass() -> None:
    """The posture status, matched policies and the CP bypass the field document names
    ("Bypassing Cisco Secure Client Scan") are reported with line and time (constructed
    lines in ise-psc.log and Secure Client shapes)."""
    text = (
        "2024-02-27 10:31:06.044 DEBUG [exec-8][[]] cisco.cpm.posture.util.StatusUtil "
        "PostureStatus=Compliant, PosturePolicyMatched=macOS-Service-PosturePolicy\n"
        "[Tue Feb 27 10:35:00.100 2024][csc_iseagent]Function: x :: Bypassing Cisco Secure "
        "Client Scan\n"
    )
    outcome = _scan(text).outcome
    assert outcome.final_status == Reported("Compliant", 1, "2024-02-27 10:31:06.044")
    assert outcome.policies_matched[0].value == "macOS-Service-PosturePolicy"
    assert outcome.cp_decision[0].line == 2
    assert outcome.cp_decision[0].value.startswith("no client-provisioning policy matched")


def test_windows_event_export_blocks() -> None:
    """A Windows event export (constructed in DART's block layout around the field
    document's check XML): the check is extracted, the result line gets the block's Date
    and Time, and a separator inside open XML cuts it."""
    text = (
        "******************************************\n\n"
        "Date\t\t: 02/27/2024\nTime\t\t: 10:30:58\nType\t\t: Information\n"
        "Source\t\t: csc_iseagentd\n\n"
        "Description\t: Function: createCheckXMLString\n"
        "<check>\n<id>macOS-Service-Condition</id>\n<category>3</category>\n<type>303</type>\n"
        "<param>com.apple.sysmond</param>\n<operation>running</operation>\n<value>0</value>\n"
        "</check>\n\n"
        "******************************************\n\n"
        "Date\t\t: 02/27/2024\nTime\t\t: 10:30:59\n"
        "Description\t: Function: doCheck\n<check>\n<id>cut</id>\n"
        "******************************************\n"
    )
    scan = _scan(text)
    assert [f.item.name for f in scan.checks] == ["macOS-Service-Condition"]
    assert [(n, t) for n, t, _ in scan.result_lines] == [(22, "02/27/2024 10:30:59")]
    assert scan.problems == (
        (23, "<check> at line 23: truncated: a new event starts at line 25 before </check>"),
    )


@settings(max_examples=200)
@given(
    st.lists(
        st.sampled_from(
            [
                "<cleanmachines>",
                "</cleanmachines>",
                "<package><id>1</id><name>n</name><description/><optional>0</optional>",
                "<check><id>a</id><category>3</category><type>303</type><param>p</param>"
                "<operation>running</operation><value>0</value></check>",
                "<criteria>(a)</criteria></package>",
                "<version2>ISE: 3.3</version2>",
                "Feb 17 18:49:05 MacBook-Pro csc_iseagentd[1152]: MSG_SU_STEP_STATUS, "
                "{Status:6,Compliant:3}",
                "Feb 17 18:49:05 MacBook-Pro syslogd[342]: ASL Sender Statistics",
                "2024-02-27 10:30:58.658 DEBUG PostureStatus=Compliant",
                "Feb 17 18:49:05 host csc_iseagentd[1]: endpoint is NonCompliant",
                "[Tue Feb 27 10:30:58.646 2024][csc_eliseposture]Function: doCheck",
                "Feb 17 18:49:05 host csc_iseagentd[1]: Bypassing Cisco Secure Client Scan",
                "Feb 17 18:49:05 fwd x[1]: \\u003ccleanmachines\\u003e\\u003cversion2\\u003eISE: 3"
                "\\u003c/version2\\u003e\\u003c/cleanmachines\\u003e",
                "Feb 17 18:49:05 fwd x[1]: #012<check><id>a</id><category>1</category>"
                "<type>101</type></check>#012",
                "plain text",
                "",
            ]
        ),
        max_size=30,
    )
)
def test_chunked_scan_equals_line_by_line(lines: list[str]) -> None:
    """The fast path (only candidate lines looked at) finds exactly what looking at every
    line finds."""
    text = "\n".join(lines) + "\n"
    assert scan_chunks([text], "log") == scan_chunks([text], "log", every_line=True)


@settings(max_examples=200)
@given(
    st.lists(
        st.sampled_from(
            [
                "<cleanmachines>",
                "</cleanmachines>",
                "<check><id>a</id><category>3</category><type>303</type><param>p</param>"
                "<operation>running</operation><value>0</value></check>",
                "Feb 17 18:49:05 MacBook-Pro csc_iseagentd[1152]: MSG_SU_STEP_STATUS, "
                "{Status:6,Compliant:3}",
                "Feb 17 18:49:05 host csc_iseagentd[1]: Function: doChec\u212a",  # KELVIN SIGN
                "Feb 17 18:49:05 host csc_iseagentd[1]: \u0130 NonCompliant \u00e9t\u00e9",
                "Feb 17 18:49:05 host x[1]: \u00fcber <version2>ISE: 3.3</version2>",
                "Feb 17 18:49:05 host x[1]: lone \ud800 surrogate",
                "Feb 17 18:49:05 host x[1]: MSG_SU_STEP_STATUS cut short",
                "Feb 17 18:49:05 fwd x[1]: \\u003cversion2\\u003eISE: 3.3\\u003c/version2\\u003e",
                "plain text \u2603",
                "",
            ]
        ),
        max_size=30,
    ),
    st.lists(st.integers(min_value=0, max_value=30), max_size=4),
)
def test_fast_path_equals_line_by_line_across_chunks_and_non_ascii(
    lines: list[str], cuts: list[int]
) -> None:
    """Non-ASCII text (case folding that makes ASCII letters, lone surrogates) and XML left
    open at a chunk's end give what looking at every line gives, from text or its bytes."""
    edges = sorted({0, len(lines), *(c for c in cuts if c < len(lines))})
    chunks = ["".join(f"{line}\n" for line in lines[a:b]) for a, b in pairwise(edges)]
    expected = scan_chunks(chunks, "log", every_line=True)
    assert scan_chunks(chunks, "log") == expected
    assert scan_chunks([c.encode("utf-8", "surrogatepass") for c in chunks], "log") == expected


@pytest.mark.parametrize(
    "words",
    [
        "doCheck",
        "completeCheck",
        "CheckSvc.cpp",
        "check result",
        "CheckResult",
        "cisco.cpm.posture.util.StatusUtil",
        "MSG_SU_STEP_STATUS",
        "NonCompliant",
        "Posture Status is",
        "PostureStatus",
        "PostureReport",
        "Bypassing Cisco Secure Client Scan",
        "Your network is NOT CONFIGURED TO USE Cisco ISE Posture Agent",
    ],
)
def test_every_result_word_is_found_in_a_large_log(words: str) -> None:
    """A lone line with any result word, in any case, amid thousands of other lines, is
    reported (the candidate search must not miss it)."""
    filler = "Feb 17 18:49:05 MacBook-Pro csc_iseagentd[1152]: adapter en0, operStatus=1\n"
    text = filler * 5000 + f"Feb 17 18:49:06 MacBook-Pro csc_iseagentd[1152]: {words}\n"
    scan = scan_chunks([text], "log")
    assert [number for number, _, _ in scan.result_lines] == [5001]


def test_a_json_escaped_fragment_without_document_names_is_found() -> None:
    """A forwarder's JSON-escaped line holding only <version2> (no <cleanmachines>, no
    <check>) amid other lines gives the ISE version and an open document, as when every
    line is looked at."""
    filler = "Feb 17 18:49:05 MacBook-Pro csc_iseagentd[1152]: adapter en0, operStatus=1\n"
    line = "Feb 17 18:49:06 fwd x[1]: \\u003cversion2\\u003eISE: 3.3\\u003c/version2\\u003e\n"
    text = filler * 100 + line + filler
    scan = scan_chunks([text], "log")
    assert scan.ise_versions == ("ISE: 3.3",)
    assert scan == scan_chunks([text], "log", every_line=True)
