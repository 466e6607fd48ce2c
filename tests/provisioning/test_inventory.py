"""The endpoint inventory reader: column maps, presets, streaming counts, bad input."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedmgr.errors import InputRejected, ParseError, UsageError
from feedmgr.provisioning import inventory
from feedmgr.provisioning.inventory import (
    NO_GROUP,
    ColumnMap,
    preset,
    read_inventory,
    read_inventory_bytes,
)
from tests.conftest import REPO

GENERIC = preset("generic")
ISE = preset("ise")


def _write(tmp_path: Path, text: str, name: str = "inv.csv", bom: bool = False) -> Path:
    path = tmp_path / name
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode())
    return path


def test_counts_per_os_and_group(tmp_path: Path) -> None:
    """Rows are counted per (OS string, group); other columns are ignored."""
    path = _write(
        tmp_path,
        "host,os,group\na,macOS 26.1,Employees\nb,macOS 26.1,Employees\nc,macOS 26.1,Guests\n"
        "d,Windows 11 Pro 10.0.26100,Employees\n",
    )
    counted = read_inventory(path, GENERIC)
    assert dict(counted.counts) == {
        ("macOS 26.1", "Employees"): 2,
        ("macOS 26.1", "Guests"): 1,
        ("Windows 11 Pro 10.0.26100", "Employees"): 1,
    }
    assert counted.rows == 4
    assert counted.os_strings() == ("macOS 26.1", "Windows 11 Pro 10.0.26100")
    assert counted.groups() == ("Employees", "Guests")
    assert counted.columns["os"] == "os"


def test_ise_preset_reads_the_shipped_full_export_example() -> None:
    """The ISE preset reads PostureOS, IdentityGroup, MACAddress and host-name from the
    example, which has the full Context Visibility export's 130 columns."""
    counted = read_inventory(REPO / "docs" / "examples" / "endpoints-ise.csv", ISE)
    assert counted.columns == {
        "os": "PostureOS",
        "group": "IdentityGroup",
        "mac": "MACAddress",
        "host": "host-name",
    }
    assert counted.rows == 10


def _real_header(name: str) -> list[str]:
    path = REPO / "tests" / "data" / "provisioning" / name
    return next(csv.reader(path.read_text(encoding="utf-8").splitlines()))


def _export(header: list[str], *rows: dict[str, str]) -> bytes:
    """A CSV with a real export's header and rows that fill the named columns."""
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(column, "") for column in header])
    return out.getvalue().encode()


def test_ise_preset_reads_a_real_ise_3_4_full_export() -> None:
    """A file with the real ISE 3.4 full export header is counted by PostureOS and
    IdentityGroup, even though the export has eight other OS-ish columns."""
    header = _real_header("ise-cv-full-export.header.csv")
    data = _export(
        header,
        {
            "MACAddress": "AA:BB:CC:00:00:01",
            "IdentityGroup": "Employees",
            "PostureOS": "macOS 26.1",
            "operating-system": "Apple macOS",
            "EndpointOperatingSystem": "Mac OS X 10.15.7",
        },
        {
            "MACAddress": "AA:BB:CC:00:00:02",
            "IdentityGroup": "'Employees'",
            "PostureOS": "'macOS 26.1'",
        },
    )
    counted = read_inventory_bytes(data, ISE, "full.csv", examples=2)
    assert dict(counted.counts) == {("macOS 26.1", "Employees"): 2}
    assert counted.examples[("macOS 26.1", "Employees")] == (
        "AA:BB:CC:00:00:01",
        "AA:BB:CC:00:00:02",
    )


@pytest.mark.parametrize("columns", [GENERIC, ISE])
def test_importable_export_is_refused_naming_the_export_to_run(columns: ColumnMap) -> None:
    """ISE's importable export (real header) has no OS column: the error says so, that
    MDMOSVersion is not one, and which export and preset to use instead."""
    header = _real_header("ise-cv-importable-export.header.csv")
    data = _export(
        header,
        {"MACAddress": "AA:BB:CC:00:00:01", "IdentityGroup": "Employees", "MDMOSVersion": ""},
    )
    with pytest.raises(InputRejected) as caught:
        read_inventory_bytes(data, columns, "endpoints.csv")
    problem = caught.value.problem
    assert caught.value.subject == "endpoints.csv"
    assert "importable Context Visibility endpoint export" in problem
    assert "MDMOSVersion" in problem
    assert "Context Visibility > Endpoints > Export > Export All" in problem
    assert "--preset ise" in problem


@pytest.mark.parametrize(
    "header",
    [
        "OperatingSystem,IdentityGroup",
        "Operating System,Identity Group",
        "PostureOS,Identity Group",
    ],
)
def test_ise_preset_takes_only_column_names_real_exports_use(header: str) -> None:
    """Spellings no real ISE export uses are not guessed at by --preset ise."""
    with pytest.raises(InputRejected, match=r"no (os|group) column"):
        read_inventory_bytes(f"{header}\nmacOS 26.1,Employees\n".encode(), ISE, "x.csv")


@pytest.mark.parametrize(
    ("text", "bom", "expected"),
    [
        ("OS;Group\nmacOS 15.1;Staff\n", False, {("macOS 15.1", "Staff"): 1}),
        ("OS\tGroup\nmacOS 15.1\tStaff\n", False, {("macOS 15.1", "Staff"): 1}),
        ("OS,Group\nmacOS 15.1,Staff\n", True, {("macOS 15.1", "Staff"): 1}),
        ("OS,Group\r\n macOS  15.1 , Staff \r\n", False, {("macOS 15.1", "Staff"): 1}),
        ("OS,Group\nmacOS 15.1,\n", False, {("macOS 15.1", NO_GROUP): 1}),
        ('OS,Group\n"Mac OSX, 15.1",Staff\n', False, {("Mac OSX, 15.1", "Staff"): 1}),
    ],
)
def test_dialects_bom_spacing_and_blank_groups(
    tmp_path: Path, text: str, bom: bool, expected: dict[tuple[str, str], int]
) -> None:
    """Semicolon/tab delimiters, a BOM, CRLF and stray spaces are handled; blank groups
    become "(none)"."""
    assert dict(read_inventory(_write(tmp_path, text, bom=bom), GENERIC).counts) == expected


def test_rows_with_the_wrong_field_count_are_skipped_and_counted(tmp_path: Path) -> None:
    """Rows whose field count differs from the header's are skipped; blank lines ignored."""
    path = _write(tmp_path, "os,group\nmacOS 15.1,A\n\nonly-one\nmacOS 15.1,A\na,b,c\n")
    counted = read_inventory(path, GENERIC)
    assert dict(counted.counts) == {("macOS 15.1", "A"): 2}
    assert counted.skipped == 2


def test_quoted_fields_may_hold_delimiters_quotes_and_newlines(tmp_path: Path) -> None:
    """RFC 4180 quoting: commas, doubled quotes and newlines inside a quoted field."""
    path = _write(tmp_path, 'os,group\n"macOS ""26"", x",A\n"two\nlines",B\n')
    counted = read_inventory(path, GENERIC)
    assert dict(counted.counts) == {('macOS "26", x', "A"): 1, ("two lines", "B"): 1}


def test_column_overrides_replace_the_preset(tmp_path: Path) -> None:
    """--os-column/--group-column name the headers exactly (case-insensitive)."""
    path = _write(tmp_path, "Posture OS,Dept\nmacOS 15.1,IT\n")
    columns = GENERIC.with_overrides(os="posture os", group="DEPT")
    assert dict(read_inventory(path, columns).counts) == {("macOS 15.1", "IT"): 1}


@pytest.mark.parametrize(
    ("text", "error", "expected"),
    [
        ("", InputRejected, "empty inventory"),
        ("host,group\nx,y\n", InputRejected, "no os column: expected 'os'"),
        ("os,dept\nx,y\n", InputRejected, "no group column"),
        ("os,os\nx,y\n", InputRejected, "no group column"),
        ("os,group\n", InputRejected, "no data rows after the header"),
        ("os,group\n\n\n", InputRejected, "no data rows after the header"),
        # Every data row skipped: nothing judged must not pass (docs/provisioning.md).
        (
            "os,group\nmacOS 26.2,Employees,\nmacOS 27.0,Guests,\n",
            InputRejected,
            r"no data row could be read: all 2 rows .* header's 2 \(2 with 3 fields\) "
            r"\(a delimiter at the end of each data row",
        ),
        ("os,group,host\nmacOS 26.2\n", InputRejected, "all 1 rows .*1 with 1 fields"),
    ],
)
def test_bad_inventories_are_rejected(
    tmp_path: Path, text: str, error: type[InputRejected], expected: str
) -> None:
    """Missing columns and malformed CSV are one clear rejected-input error."""
    path = _write(tmp_path, text)
    with pytest.raises(error, match=expected) as caught:
        read_inventory(path, GENERIC)
    assert caught.value.subject == str(path)


def test_non_utf8_inventory_is_rejected(tmp_path: Path) -> None:
    """Bytes that are not UTF-8 are a ParseError."""
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"os,group\nmac\xe9,x\n")
    with pytest.raises(ParseError, match="not UTF-8"):
        read_inventory(path, GENERIC)


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        pytest.param(
            'macOS 26.1,"' + "x" * (3 * 1024 * 1024) + '"\n',
            "a row longer than 1024 KiB",
            id="3 MiB field",
        ),
        pytest.param(
            'macOS 26.1,"Employees\n' + "macOS 26.1,Staff\n" * 9_000,
            "a value of 153010 characters in column 'group'",
            id="quote never closed",
        ),
    ],
)
def test_swallowed_rows_are_refused(tmp_path: Path, row: str, problem: str) -> None:
    """A quote never closed (pyarrow reads the rest of the file as one field) or a row longer
    than the reader's block is a malformed-CSV error saying what to look for, never a count
    of one endpoint in a group named after the rows it swallowed."""
    path = _write(tmp_path, "os,group\n" + row)
    with pytest.raises(ParseError, match=problem) as caught:
        read_inventory(path, GENERIC)
    assert "block size" not in caught.value.problem
    assert "quote left open" in caught.value.problem


def test_missing_inventory_file_is_rejected(tmp_path: Path) -> None:
    """A missing file is rejected input."""
    with pytest.raises(InputRejected, match="cannot read the inventory"):
        read_inventory(tmp_path / "nope.csv", GENERIC)


def test_distinct_key_limit_stops_a_runaway_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past MAX_DISTINCT_KEYS distinct pairs the reader stops instead of growing."""
    monkeypatch.setattr(inventory, "MAX_DISTINCT_KEYS", 10)
    data = "os,group\n" + "".join(f"os{i},g\n" for i in range(50))
    with pytest.raises(InputRejected, match="more than 10 distinct"):
        read_inventory_bytes(data.encode(), GENERIC, "big.csv")


def test_same_column_for_os_and_group_is_rejected(tmp_path: Path) -> None:
    """Mapping one column as both OS and group is refused."""
    path = _write(tmp_path, "os,group\nx,y\n")
    with pytest.raises(InputRejected, match="same column"):
        read_inventory(path, GENERIC.with_overrides(group="os"))


def test_unknown_preset_is_a_usage_error() -> None:
    """Asking for a preset that does not exist is a usage error."""
    with pytest.raises(UsageError, match="expected one of generic, ise"):
        preset("sccm")


def test_counts_stream_across_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Counting block by block gives the same totals as one pass."""
    monkeypatch.setattr(inventory, "_BLOCK", 64)
    data = "os,group\n" + "".join(f"os{i % 3},g{i % 2}\n" for i in range(100))
    counted = read_inventory_bytes(data.encode(), GENERIC, "x.csv")
    assert counted.rows == 100
    assert counted.counts[("os0", "g0")] == 17


@settings(deadline=None)  # the machine may be loaded; speed is not tested here
@given(
    st.lists(
        st.tuples(st.text(max_size=12), st.text(max_size=12)).filter(
            lambda row: "\x00" not in "".join(row) and "\r" not in "".join(row)
        ),
        max_size=30,
    )
)
def test_written_rows_read_back_exactly(rows: list[tuple[str, str]]) -> None:
    """Whatever csv.writer writes (quotes, commas, newlines) is counted back exactly, or
    refused when no row has an OS."""
    import csv
    import io
    from collections import Counter

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["os", "group"])
    writer.writerows(rows)
    expected: Counter[tuple[str, str]] = Counter()
    for os_string, group in rows:
        expected[inventory._clean((os_string, group))] += 1
    data = buffer.getvalue().encode()
    if not expected:
        with pytest.raises(InputRejected, match="no data rows"):
            read_inventory_bytes(data, GENERIC, "w.csv", delimiter=",")
        return
    if not any(os_string for os_string, _ in expected):
        # Documented refusal: an OS column blank in every row judges nothing.
        with pytest.raises(InputRejected, match="is empty in all"):
            read_inventory_bytes(data, GENERIC, "w.csv", delimiter=",")
        return
    counted = read_inventory_bytes(data, GENERIC, "w.csv", delimiter=",")
    assert dict(counted.counts) == dict(expected)


@settings(deadline=None)  # the machine may be loaded; speed is not tested here
@given(st.binary(max_size=400))
def test_no_bytes_make_the_reader_raise_anything_but_rejected_input(data: bytes) -> None:
    """Arbitrary bytes after a valid header count or raise InputRejected."""
    columns = ColumnMap(os=("os",), group=("group",))
    try:
        counted = read_inventory_bytes(b"os,group\n" + data, columns, "fuzz")
    except InputRejected:
        return
    assert counted.rows >= 0


def test_examples_keep_a_few_endpoint_ids_per_pair(tmp_path: Path) -> None:
    """With examples, up to N MACs (else hosts) are kept per (OS, group), none blank."""
    path = _write(
        tmp_path,
        "mac,host,os,group\nm3,h3,macOS 15.1,A\nm1,h1,macOS 15.1,A\nm2,h2,macOS 15.1,A\n"
        ",h4,macOS 26.1,A\n",
    )
    counted = read_inventory(path, GENERIC, examples=2)
    assert len(counted.examples[("macOS 15.1", "A")]) == 2
    assert ("macOS 26.1", "A") not in counted.examples
    by_host = read_inventory(path, GENERIC.with_overrides(mac="nothing"), examples=1)
    assert by_host.examples[("macOS 26.1", "A")] == ("h4",)
    assert read_inventory(path, GENERIC).examples == {}


def test_full_export_whose_posture_os_is_all_blank_is_refused_with_the_next_step() -> None:
    """A full export where no endpoint has a PostureOS yet (the agent never reported) is
    refused instead of passing with nothing judged; the error names the profiler column."""
    header = _real_header("ise-cv-full-export.header.csv")
    data = _export(
        header,
        {
            "MACAddress": "AA:BB:CC:00:00:01",
            "IdentityGroup": "Employees",
            "EndpointOperatingSystem": "Windows 11 Enterprise",
        },
        {"MACAddress": "AA:BB:CC:00:00:02", "IdentityGroup": "Guests"},
    )
    with pytest.raises(InputRejected) as caught:
        read_inventory_bytes(data, ISE, "full.csv")
    assert "'PostureOS' is empty in all 2 rows" in caught.value.problem
    assert "--os-column EndpointOperatingSystem" in caught.value.problem
    mapped = ISE.with_overrides(os="EndpointOperatingSystem")
    counted = read_inventory_bytes(data, mapped, "full.csv")
    assert counted.counts[("Windows 11 Enterprise", "Employees")] == 1
