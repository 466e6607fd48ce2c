"""The shared escaping of outside text (feedmgr.escape)."""

from __future__ import annotations

import json
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feedmgr.escape import escape_controls, join_lines


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("Not Found", "Not Found"),
        ("C:\\feeds\\posture.zip", "C:\\feeds\\posture.zip"),
        ("café ✓ 日本", "café ✓ 日本"),
        ("a\rb\nc\td", "a\\rb\\nc\\td"),
        ("\x1b]0;pwned\x07", "\\u001b]0;pwned\\u0007"),
        ("\x00\x7f", "\\u0000\\u007f"),
        ("\x85\x9b2J", "\\u0085\\u009b2J"),
        ("\u202egpj.exe", "\\u202egpj.exe"),
        (
            "\u2066\u2067\u2068\u2069\u202a\u202b\u202c\u202d",
            "\\u2066\\u2067\\u2068\\u2069\\u202a\\u202b\\u202c\\u202d",
        ),
        ("\u200e\u200f\u061c", "\\u200e\\u200f\\u061c"),
        ("line\u2028break\u2029", "line\\u2028break\\u2029"),
        ("\udcff", "\\udcff"),
    ],
)
def test_controls_bidi_and_line_breaks_are_escaped(raw: str, shown: str) -> None:
    """C0, DEL, C1, bidi controls, Unicode line breaks and lone surrogates are escaped;
    printable text, non-ASCII letters and backslashes are not."""
    assert escape_controls(raw) == shown


def test_multi_line_output_keeps_its_line_feeds_only() -> None:
    """keep_newlines leaves line feeds (multi-line output) but escapes CR and the rest."""
    assert escape_controls("a\nb\r\n\x1b", keep_newlines=True) == "a\nb\\r\n\\u001b"


def test_report_lines_cannot_start_a_new_line() -> None:
    """join_lines escapes a line feed inside one line, so a field cannot forge a line."""
    assert join_lines(["title", "  os: x\nfeedmgr: error: forged"]) == (
        "title\n  os: x\\nfeedmgr: error: forged\n"
    )


def _terminal_safe(text: str) -> bool:
    return all(
        unicodedata.category(ch) not in ("Cc", "Cs", "Zl", "Zp")
        and ch not in "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
        for ch in text
    )


@given(st.text())
def test_escaped_text_is_terminal_safe_and_escaping_is_idempotent(text: str) -> None:
    """Whatever the input, the result has no control, bidi, line-break or surrogate
    character, and escaping it again changes nothing."""
    shown = escape_controls(text)
    assert _terminal_safe(shown)
    assert escape_controls(shown) == shown


@given(st.text())
def test_escaping_json_output_keeps_its_values(text: str) -> None:
    """JSON text escaped for the terminal still parses to the same value."""
    document = json.dumps({"value": text}, indent=2)
    assert json.loads(escape_controls(document, keep_newlines=True)) == {"value": text}
