"""Log scanning: the field document's Secure Client and ISE logs, truncation, garbage."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from feedmgr.posture.agentxml import packages_for
from feedmgr.posture.files import spec_from_document
from feedmgr.posture.logscan import scan_log

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
    texts = [text for _, text in scan.result_lines]
    assert len(texts) == 3
    assert all("doCheck" in t or "completeCheck" in t for t in texts)


def test_ise_psc_log_without_opening_tag(asset: Asset, field_document: dict[str, Any]) -> None:
    """ise-psc.log's first document lost <cleanmachines> with its log prefix; its package
    is still recovered, and the StatusUtil line is reported as a result line."""
    scan = _scan(asset("posture/ise-psc.log").read_text())
    expected = packages_for(spec_from_document(field_document, "x"))
    assert tuple(f.item for f in scan.packages) == expected
    assert scan.packages[0].count == 2
    assert scan.problems == ()
    assert any("posture.util.Status" in text for _, text in scan.result_lines)


def test_truncated_xml_is_a_problem_not_a_crash(asset: Asset) -> None:
    """A log cut inside a package keeps what came before and reports the cut."""
    text = asset("posture/unified_log.log").read_text()
    cut = text[: text.index("<param>", text.index("<package>"))]
    scan = _scan(cut)
    assert len(scan.checks) == 1  # the standalone check before the cut
    assert scan.packages == ()
    assert [p for _, p in scan.problems] == [
        "<package> at line 15: truncated: the log ends before it is closed"
    ]


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
    assert scan.result_lines == ((3, "[Tue Feb 27 10:30:58.646 2024][csc_ise]Function: doCheck"),)


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
        "<package> at line 1: truncated: a new <package> starts at line 2",
        "<package> at line 2: truncated: the log ends before it is closed",
    ]


def test_bad_check_is_reported_with_its_line() -> None:
    """A complete but invalid check is a problem naming the line and the reason, every time."""
    scan = _scan("noise\n<check><id>x</id><category>9</category></check>\n")
    assert scan.problems == (
        (2, "<check> at line 2: check 'x': category 9 is not a service check (3)"),
    )


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
