"""Reading text inputs: UTF-8, with or without a leading byte-order mark.

Windows editors (Notepad before Windows 10 1903, Excel's "CSV UTF-8", PowerShell 5's
``Out-File -Encoding utf8``) start UTF-8 files with the byte-order mark EF BB BF. It is a
signature, not text (Unicode Standard, section 23.8), so every text input - launchctl
captures, YAML, TOML, JSON, PEM, CSV - is read through these helpers, which drop it. Agent
logs, which may also be UTF-16, are sniffed by ``feedmgr.posture.logread`` (same rule for
the UTF-8 BOM).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import IO

UTF8_BOM = b"\xef\xbb\xbf"
# The codec that decodes UTF-8 and drops one leading BOM.
_ENCODING = "utf-8-sig"


def without_bom(data: bytes) -> bytes:
    """``data`` without one leading UTF-8 byte-order mark (for parsers that take bytes)."""
    return data[len(UTF8_BOM) :] if data.startswith(UTF8_BOM) else data


def decode_text(data: bytes) -> str:
    """UTF-8 ``data`` as text, a leading byte-order mark dropped.

    Raises:
        UnicodeDecodeError: the bytes are not UTF-8 (callers name the file).
    """
    return data.decode(_ENCODING)


def open_text(path: Path) -> IO[str]:
    """Open ``path`` for reading as UTF-8 text, a leading byte-order mark dropped and
    undecodable bytes replaced (for line parsers that must not fail on content).

    Raises:
        OSError: the file cannot be opened.
    """
    return path.open(encoding=_ENCODING, errors="replace")


def wrap_text(binary: IO[bytes], *, at_start: bool = True) -> io.TextIOWrapper:
    """``binary`` read as ``open_text`` reads a file; ``at_start=False`` for a stream that
    begins inside a file, where U+FEFF is text (a zero-width no-break space), not a mark.
    """
    return io.TextIOWrapper(binary, encoding=_ENCODING if at_start else "utf-8", errors="replace")
