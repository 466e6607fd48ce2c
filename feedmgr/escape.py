"""Make outside text safe to print: the one helper every message and text report uses.

Servers, files and captures control much of what feedmgr prints (HTTP reason phrases and
headers, URLs, XML text, zip member names, certificate fields, OS strings, launchd labels,
CSV fields). Printed raw, an ESC sequence rewrites the terminal or its title, a CR or LF
forges a second ``feedmgr: error:`` line for a log reader, and a bidi override makes text
read differently from what it is (CVE-2021-42574, "Trojan Source"). docs/online-updates.md
("Escaping") lists what is escaped and how.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# Besides the C0 controls (U+0000 to U+001F, ESC included):
_UNSAFE_ABOVE_C0 = (
    "\x7f-\x9f"  # DEL and the C1 controls (CSI is U+009B)
    "\u061c\u200e\u200f"  # bidi marks: ALM, LRM, RLM
    "\u202a-\u202e"  # bidi embeddings and overrides
    "\u2066-\u2069"  # bidi isolates
    "\u2028\u2029"  # line and paragraph separators
    "\ud800-\udfff"  # lone surrogates (undecodable bytes) cannot be printed
)
_UNSAFE = re.compile(f"[\x00-\x1f{_UNSAFE_ABOVE_C0}]")
_UNSAFE_BUT_LINE_FEED = re.compile(f"[\x00-\x09\x0b-\x1f{_UNSAFE_ABOVE_C0}]")


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    return _NAMED.get(char) or f"\\u{ord(char):04x}"


def escape_controls(text: str, *, keep_newlines: bool = False) -> str:
    r"""``text`` with every control, bidi and line-breaking character written as an escape.

    ``\n``, ``\r`` and ``\t`` become those two characters; anything else becomes ``\uXXXX``,
    which reads the same in Python and inside a JSON string. Backslashes are left alone
    (Windows paths stay readable), so escaping twice changes nothing. With
    ``keep_newlines`` the line feeds of multi-line output stay.
    """
    return (_UNSAFE_BUT_LINE_FEED if keep_newlines else _UNSAFE).sub(_escaped, text)


def join_lines(lines: Iterable[str]) -> str:
    """Lines of a text report, each escaped (a field cannot start a line), joined, with a
    final newline."""
    return "".join(escape_controls(line) + "\n" for line in lines)
