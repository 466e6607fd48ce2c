"""Make outside text safe to print: the one helper every message and text report uses.

Servers, files and captures control much of what feedmgr prints (HTTP reason phrases and
headers, URLs, XML text, zip member names, certificate fields, OS strings, launchd labels,
CSV fields). Printed raw, an ESC sequence rewrites the terminal or its title, a CR or LF
forges a second ``feedmgr: error:`` line for a log reader, and a bidi override makes text
read differently from what it is (CVE-2021-42574, "Trojan Source"). docs/online-updates.md
("Escaping") lists what is escaped and how.
"""

from __future__ import annotations

from collections.abc import Iterable

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _unsafe(code: int) -> bool:
    return (
        code < 0x20  # C0 controls, ESC included
        or 0x7F <= code <= 0x9F  # DEL and the C1 controls (CSI is 0x9B)
        or code in (0x061C, 0x200E, 0x200F, 0x2028, 0x2029)  # ALM, LRM, RLM, line breaks
        or 0x202A <= code <= 0x202E  # bidi embeddings and overrides
        or 0x2066 <= code <= 0x2069  # bidi isolates
        or 0xD800 <= code <= 0xDFFF  # lone surrogates (undecodable bytes) cannot be printed
    )


def escape_controls(text: str, *, keep_newlines: bool = False) -> str:
    r"""``text`` with every control, bidi and line-breaking character written as an escape.

    ``\n``, ``\r`` and ``\t`` become those two characters; anything else becomes ``\uXXXX``,
    which reads the same in Python and inside a JSON string. Backslashes are left alone
    (Windows paths stay readable), so escaping twice changes nothing. With
    ``keep_newlines`` the line feeds of multi-line output stay.
    """
    if text.isprintable() and text.isascii():
        return text
    out: list[str] = []
    for char in text:
        code = ord(char)
        if not _unsafe(code) or (keep_newlines and char == "\n"):
            out.append(char)
        else:
            out.append(_NAMED.get(char) or f"\\u{code:04x}")
    return "".join(out)


def join_lines(lines: Iterable[str]) -> str:
    """Lines of a text report, each escaped (a field cannot start a line), joined, with a
    final newline."""
    return "".join(escape_controls(line) + "\n" for line in lines)
