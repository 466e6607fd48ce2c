"""PEP 440 version text from outside is judged without raising, however long it is."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from packaging.version import InvalidVersion, Version

from feedmgr.pep440 import is_pep440, parse_pep440, shown

# CPython refuses to convert more than 4,300 digits to an int; packaging then raises a plain
# ValueError from inside Version().
HUGE_RELEASE = "4.3." + "1" * 5000


def test_a_release_number_past_the_int_limit_is_not_a_version() -> None:
    assert parse_pep440(HUGE_RELEASE) is None
    assert not is_pep440(HUGE_RELEASE)


def test_versions_parse_as_packaging_reads_them() -> None:
    assert parse_pep440("4.3.3000.0") == Version("4.3.3000.0")
    assert parse_pep440("5.1.10.233") == Version("5.1.10.233")
    assert parse_pep440("4.x") is None
    assert parse_pep440("") is None


@pytest.mark.parametrize("text", ["2026.12.1\n", " 1.0", "1.0 ", "\t1.0", "1.0\r\n", "1.0\u2028"])
def test_surrounding_whitespace_is_not_a_version(text: str) -> None:
    """packaging strips it, but the text would be stored and printed with it: refused."""
    assert parse_pep440(text) is None
    assert not is_pep440(text)


@given(st.text(max_size=30))
def test_agrees_with_packaging_on_any_short_text(text: str) -> None:
    """Without surrounding whitespace, a version is exactly what packaging accepts."""
    try:
        expected: Version | None = None if text != text.strip() else Version(text)
    except InvalidVersion:
        expected = None
    assert parse_pep440(text) == expected


def test_long_text_is_shortened_in_messages() -> None:
    assert shown("4.x") == "'4.x'"
    assert shown(HUGE_RELEASE) == f"{HUGE_RELEASE[:60]!r}... (5004 characters)"
