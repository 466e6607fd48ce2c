"""The shared text-input helpers (feedmgr.textio)."""

from __future__ import annotations

from pathlib import Path

import pytest

from feedmgr.feed.manifest import parse_manifest
from feedmgr.textio import UTF8_BOM, decode_text, open_text, without_bom
from tests.feed.netserver import Packages


def test_one_leading_bom_is_dropped_and_nothing_else() -> None:
    """Only a leading BOM goes; a second one, or one inside the text, is content."""
    assert decode_text(UTF8_BOM + b"PID\tStatus") == "PID\tStatus"
    assert decode_text(UTF8_BOM * 2 + b"x") == "\ufeffx"
    assert decode_text(b"a" + UTF8_BOM) == "a\ufeff"
    assert without_bom(UTF8_BOM + b"{}") == b"{}"
    assert without_bom(b"{}") == b"{}"


def test_text_that_is_not_utf8_is_still_refused() -> None:
    """The BOM does not loosen decoding: other bytes must still be UTF-8."""
    with pytest.raises(UnicodeDecodeError):
        decode_text(UTF8_BOM + b"\xff")


def test_streamed_text_drops_the_bom(tmp_path: Path) -> None:
    """open_text (line parsers) drops the BOM and replaces undecodable bytes."""
    path = tmp_path / "capture.txt"
    path.write_bytes(UTF8_BOM + b"PID\tStatus\tLabel\r\n-\t0\tcom.example\xff\n")
    with open_text(path) as handle:
        assert handle.read() == "PID\tStatus\tLabel\n-\t0\tcom.example\ufffd\n"


def test_manifest_with_a_bom_parses_the_same(packages: Packages, tmp_path: Path) -> None:
    """A manifest.json saved with a BOM is the same manifest."""
    import zipfile

    path = tmp_path / "feed.zip"
    path.write_bytes(packages.new.data)
    with zipfile.ZipFile(path) as archive:
        data = archive.read("manifest.json")
    assert parse_manifest(UTF8_BOM + data, "m") == parse_manifest(data, "m")
