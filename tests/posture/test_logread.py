"""Opening logs as admins have them: BOMs, UTF-16, DART zips, and what cannot be read."""

from __future__ import annotations

import codecs
import io
import zipfile
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedmgr.errors import ParseError
from feedmgr.posture.launchd import MAX_LINE, read_chunks
from feedmgr.posture.logread import chunks, open_logs, sniff_encoding, utf8_chunks
from feedmgr.posture.logscan import LogScan, scan_chunks

Asset = Callable[[str], Path]


def _scan_file(path: Path) -> list[tuple[str, str, LogScan]]:
    with ExitStack() as stack:
        return [
            (log.name, log.encoding, scan_chunks(chunks(log), log.name))
            for log in open_logs(path, stack)
            if not log.problem
        ]


@pytest.mark.parametrize(
    ("codec", "bom", "expected"),
    [
        ("utf-8", codecs.BOM_UTF8, "utf-8"),
        ("utf-16-le", codecs.BOM_UTF16_LE, "utf-16-le"),
        ("utf-16-be", codecs.BOM_UTF16_BE, "utf-16-be"),
        ("utf-16-le", b"", "utf-16-le"),
        ("utf-16-be", b"", "utf-16-be"),
    ],
)
def test_encodings_give_the_same_scan(
    asset: Asset, tmp_path: Path, codec: str, bom: bytes, expected: str
) -> None:
    """unified_log.log in UTF-8 with BOM, or UTF-16 LE/BE with or without BOM, yields the
    same two documents and requirement as the plain UTF-8 file (was: '0 documents')."""
    text = asset("posture/unified_log.log").read_text()
    path = tmp_path / "unified_log.log"
    path.write_bytes(bom + text.replace("\n", "\r\n").encode(codec))
    [(_, encoding, scan)] = _scan_file(path)
    assert encoding == expected
    assert (scan.documents, scan.lines) == (2, 71)
    assert [f.item.name for f in scan.packages] == ["macOS-Service-Requirement"]
    assert [n for n, _, _ in scan.result_lines] == [69, 70, 71]


def test_bom_does_not_hide_the_first_timestamp(asset: Asset, tmp_path: Path) -> None:
    """A genuine syslog status line as the first line after a UTF-8 BOM keeps its
    timestamp and is a result line."""
    line = asset("posture/logs/macos-system.log").read_text().splitlines()[30]
    path = tmp_path / "system.log"
    path.write_bytes(codecs.BOM_UTF8 + line.encode() + b"\n")
    [(_, _, scan)] = _scan_file(path)
    assert [(n, t) for n, t, _ in scan.result_lines] == [(1, "Feb 17 18:49:05")]


def _bundle(tmp_path: Path, members: dict[str, bytes], name: str = "dart.zip") -> Path:
    path = tmp_path / name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bundle:
        for member, data in members.items():
            bundle.writestr(member, data)
    return path


def test_dart_zip_reads_its_posture_logs(asset: Asset, tmp_path: Path) -> None:
    """A DART bundle passed directly: its posture logs (macOS unified_log.log, system.log,
    a UTF-16 Windows ISE Posture export) are read, other members are not."""
    bundle = _bundle(
        tmp_path,
        {
            "DARTBundle/Cisco Secure Client/ISE Posture/unified_log.log": asset(
                "posture/unified_log.log"
            ).read_bytes(),
            "DARTBundle/System/system.log": asset("posture/logs/macos-system.log").read_bytes(),
            "DARTBundle/Cisco Secure Client/AnyConnect_ISEPosture.txt": codecs.BOM_UTF16_LE
            + asset("posture/ise-psc.log").read_text().encode("utf-16-le"),
            "DARTBundle/Cisco Secure Client/ACManifestVPN.xml": b"<vpn/>",
        },
    )
    scans = _scan_file(bundle)
    assert [name.split("!", 1)[1] for name, _, _ in scans] == [
        "DARTBundle/Cisco Secure Client/ISE Posture/unified_log.log",
        "DARTBundle/System/system.log",
        "DARTBundle/Cisco Secure Client/AnyConnect_ISEPosture.txt",
    ]
    assert [s.documents for _, _, s in scans] == [2, 0, 1]
    assert scans[2][1] == "utf-16-le"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 64, "not a text log (binary content)"),
        (b"PK\x03\x04 not really a zip", "damaged or unsupported zip"),
    ],
)
def test_unreadable_files_are_refused(tmp_path: Path, content: bytes, problem: str) -> None:
    """A binary file or a damaged zip is a ParseError naming the file, never an empty scan."""
    path = tmp_path / "unified_log.log"
    path.write_bytes(content)
    with pytest.raises(ParseError) as caught:
        _scan_file(path)
    assert caught.value.subject == str(path)
    assert caught.value.problem.startswith(problem)


def test_zip_without_posture_logs_names_its_members(tmp_path: Path) -> None:
    """A zip holding no posture log is refused, listing what it does hold."""
    bundle = _bundle(tmp_path, {"feed/index.xml": b"<feed/>"})
    with pytest.raises(ParseError, match=r"zip holds no posture log .*members: feed/index.xml"):
        _scan_file(bundle)


def _encrypt_flag(bundle: Path, member: bytes) -> None:
    """Set the encryption bit (general purpose flag bit 0) of one member, in its local and
    central headers, as DART's 'Enable Bundle Encryption' leaves it."""
    data = bytearray(bundle.read_bytes())
    for signature, flag, name in ((b"PK\x03\x04", 6, 30), (b"PK\x01\x02", 8, 46)):
        at = data.find(signature)
        while data[at + name : at + name + len(member)] != member:
            at = data.find(signature, at + 1)
        data[at + flag] |= 0x1
    bundle.write_bytes(bytes(data))


def test_unreadable_members_are_named_and_the_rest_read(asset: Asset, tmp_path: Path) -> None:
    """An encrypted member and a binary member come with their problem; the readable posture
    log beside them is still read."""
    bundle = _bundle(
        tmp_path,
        {
            "a/unified_log.log": b"x\n",
            "b/system.log": bytes(range(256)) * 64,
            "c/ise-psc.log": asset("posture/ise-psc.log").read_bytes(),
        },
    )
    _encrypt_flag(bundle, b"a/unified_log.log")
    with ExitStack() as stack:
        logs = [(log.name.split("!")[1], log.problem) for log in open_logs(bundle, stack)]
    assert logs == [
        ("a/unified_log.log", "encrypted (DART 'Enable Bundle Encryption')"),
        ("b/system.log", "not a text log (binary content); give the log file or a DART zip"),
        ("c/ise-psc.log", ""),
    ]


@settings(max_examples=200)
@given(st.binary(max_size=200))
def test_sniffing_is_total(head: bytes) -> None:
    """Any leading bytes give one of the three encodings and a BOM length within them."""
    encoding, bom = sniff_encoding(head)
    assert encoding in ("utf-8", "utf-16-le", "utf-16-be")
    assert 0 <= bom <= min(3, len(head))


@settings(max_examples=150)
@given(
    st.lists(
        st.sampled_from(
            [
                b"Feb 17 18:49:05 host csc_iseagentd[1]: MSG_SU_STEP_STATUS",
                b"<check>",
                b"\n",
                b"\r",
                b"\r\n",
                "\u00e9t\u00e9 \u2603".encode(),
                b"\xff\xfe",  # not UTF-8
                b"\xe2\x82",  # a character cut short
                b"x" * (MAX_LINE + 3),  # longer than MAX_LINE
            ]
        ),
        max_size=20,
    ),
    st.sampled_from([3, 16, 1000, MAX_LINE + 10]),
)
def test_utf8_chunks_are_what_the_text_reader_gives(parts: list[bytes], size: int) -> None:
    """Reading UTF-8 as bytes while it is ASCII gives the very chunks (lines, CR/CRLF, bad
    bytes, over-long lines cut) that decoding it with TextIOWrapper gives."""
    data = b"".join(parts)
    text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", errors="replace", newline=None)
    got = [
        c if isinstance(c, str) else c.decode("ascii") for c in utf8_chunks(io.BytesIO(data), size)
    ]
    assert got == list(read_chunks(text, size))
