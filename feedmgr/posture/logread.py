"""Open a posture log as the admin has it: a text file in UTF-8 (with or without a BOM) or
UTF-16 (Windows event exports; LE or BE, with or without a BOM), or a DART bundle (zip)
whose posture logs are read in turn.

Anything that cannot be read as a log is refused with one :class:`ParseError` naming the
file and the problem, so that an unreadable input never looks like a clean log.
"""

from __future__ import annotations

import codecs
import io
import itertools
import re
import zipfile
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import IO, cast

from feedmgr.errors import ParseError
from feedmgr.posture.launchd import CHUNK, cut_piece, read_chunks

SNIFF_BYTES = 64 * 1024
# A member larger than this is refused rather than inflated (zip bombs); DART bundles hold
# logs of some hundred MiB at most.
MAX_MEMBER_BYTES = 2 * 1024 * 1024 * 1024
MAX_MEMBERS = 100_000
# DART bundle members that hold posture text: the macOS unified log and system.log, the
# Windows event exports (AnyConnect_ISEPosture.txt, Cisco Secure Client - ISE Posture.txt),
# the agent's own logs (csc_ise*), and ISE's ise-psc.log when an admin zips it.
_POSTURE_MEMBER = re.compile(
    r"(?:^|/)(?:[^/]*iseposture[^/]*|[^/]*ise[ _-]?posture[^/]*|csc_ise[^/]*|unified_log[^/]*|"
    r"system\.log|ise-psc[^/]*)\.(?:txt|log)$|(?:^|/)(?:unified_log|system\.log|ise-psc\.log)$",
    re.IGNORECASE,
)
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


@dataclass(frozen=True)
class LogText:
    """One log: its name (``bundle.zip!member`` for a bundle member), the encoding it was
    decoded with, and a stream of its text; or, for a bundle member that cannot be read
    (encrypted, binary, oversized), the ``problem`` and an empty stream."""

    name: str
    encoding: str
    stream: IO[str]
    problem: str = ""


def sniff_encoding(head: bytes) -> tuple[str, int]:
    """The encoding of text starting with ``head`` and the length of its BOM.

    UTF-8 and UTF-16 BOMs decide; without one, text whose even (odd) bytes are mostly NUL
    is UTF-16 BE (LE), as Windows writes ASCII in UTF-16; anything else is UTF-8.
    """
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8", 3
    if head.startswith(codecs.BOM_UTF16_LE):
        return "utf-16-le", 2
    if head.startswith(codecs.BOM_UTF16_BE):
        return "utf-16-be", 2
    sample = head[: len(head) - len(head) % 2]
    if len(sample) >= 4:
        pairs = len(sample) // 2
        even_nul = sample[0::2].count(0)
        odd_nul = sample[1::2].count(0)
        if odd_nul > pairs * 0.3 and even_nul < pairs * 0.05:
            return "utf-16-le", 0
        if even_nul > pairs * 0.3 and odd_nul < pairs * 0.05:
            return "utf-16-be", 0
    return "utf-8", 0


def _binary(head: bytes, encoding: str) -> bool:
    """True when decoded text would be mostly not text (an image, an executable...)."""
    text = head[: SNIFF_BYTES - SNIFF_BYTES % 2].decode(encoding, errors="replace")
    if not text:
        return False
    odd = sum(1 for c in text if (c < " " and c not in "\t\r\n\f\v") or c == "\ufffd")
    return odd > len(text) * 0.1


def _text_stream(raw: io.BufferedIOBase, name: str, stack: ExitStack) -> LogText:
    buffered = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw)
    head = buffered.peek(SNIFF_BYTES)[:SNIFF_BYTES]
    encoding, bom = sniff_encoding(head)
    if _binary(head[bom:], encoding):
        raise ParseError(name, "not a text log (binary content); give the log file or a DART zip")
    buffered.read(bom)
    stream = io.TextIOWrapper(buffered, encoding=encoding, errors="replace", newline=None)
    return LogText(name, encoding, stack.enter_context(stream))


def _members(bundle: zipfile.ZipFile, name: str) -> list[zipfile.ZipInfo]:
    infos = bundle.infolist()
    if len(infos) > MAX_MEMBERS:
        raise ParseError(name, f"zip has more than {MAX_MEMBERS} members")
    chosen = [i for i in infos if not i.is_dir() and _POSTURE_MEMBER.search(i.filename)]
    if not chosen:
        listed = ", ".join(i.filename for i in infos[:10]) or "none"
        raise ParseError(
            name,
            "zip holds no posture log (looked for *ISEPosture*.txt, unified_log.log, "
            f"system.log, ise-psc.log); members: {listed}",
        )
    return chosen


def _member(bundle: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, stack: ExitStack) -> LogText:
    """One bundle member as a log, or as a problem: DART may encrypt some logs, and a
    bundle's other posture logs are still worth reading."""
    member = f"{name}!{info.filename}"
    problem = ""
    if info.flag_bits & 0x1:
        problem = "encrypted (DART 'Enable Bundle Encryption')"
    elif info.file_size > MAX_MEMBER_BYTES:
        problem = "larger than 2 GiB"
    else:
        # ZipExtFile is a BufferedIOBase; typeshed only says IO[bytes].
        stream = cast(io.BufferedIOBase, stack.enter_context(bundle.open(info)))
        try:
            return _text_stream(stream, member, stack)
        except ParseError as exc:
            problem = exc.problem
    return LogText(member, "", io.StringIO(""), problem)


def open_logs(path: Path, stack: ExitStack) -> Iterator[LogText]:
    """The logs in ``path``: the file itself, or each posture log of a DART zip (a member
    that cannot be read comes with its ``problem``). Streams are closed with ``stack``.

    Raises:
        ParseError: when the file cannot be opened, is binary, is a damaged zip or a zip
            without posture logs.
    """
    name = str(path)
    try:
        raw = stack.enter_context(path.open("rb"))
        magic = raw.read(4)
        raw.seek(0)
    except OSError as exc:
        raise ParseError(name, f"cannot read: {exc.strerror or exc}") from exc
    if magic not in _ZIP_MAGIC:
        yield _text_stream(raw, name, stack)
        return
    try:
        bundle = stack.enter_context(zipfile.ZipFile(raw))
        for info in _members(bundle, name):
            yield _member(bundle, info, name, stack)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError) as exc:
        raise ParseError(name, f"damaged or unsupported zip: {exc}") from exc
    except RuntimeError as exc:  # zipfile: encrypted member without a password
        raise ParseError(name, f"cannot read zip member: {exc}") from exc


def _pieces(raw: IO[bytes], size: int) -> Iterator[bytes | str]:
    """What ``TextIOWrapper(raw, "utf-8", errors="replace", newline=None).read(size)``
    returns call by call, except that while the text is ASCII without a CR the pieces are
    the bytes themselves, undecoded (the same characters): the scan looks for candidate
    lines in bytes, so decoding all and encoding back would be two passes for nothing."""
    while block := raw.read(size):
        if block.isascii() and b"\r" not in block:
            yield block
            continue
        # From here on, exactly what TextIOWrapper does: decode, CR and CRLF to LF.
        decoder = io.IncrementalNewlineDecoder(
            codecs.getincrementaldecoder("utf-8")(errors="replace"), translate=True
        )
        text = decoder.decode(block)
        done = False
        while text or not done:
            while len(text) < size and not done:
                more = raw.read(size)
                done = not more
                text += decoder.decode(more, final=done)
            if text:
                yield text[:size]
                text = text[size:]
        return


def utf8_chunks(raw: IO[bytes], size: int = CHUNK) -> Iterator[bytes | str]:
    """read_chunks of the UTF-8 text in ``raw`` (as TextIOWrapper decodes it: invalid bytes
    replaced, universal newlines): the same chunks, as bytes while the text is ASCII."""
    pieces = _pieces(raw, size)
    carry = b""
    skipping = False
    for piece in pieces:
        if isinstance(piece, str):
            # The text stops being plain ASCII: the rest is decoded text.
            text_carry = carry.decode("ascii")
            for text in itertools.chain([piece], cast(Iterator[str], pieces)):
                chunk, text_carry, skipping = cut_piece(text_carry, text, skipping, "\n")
                if chunk is not None:
                    yield chunk
            if text_carry:
                yield text_carry + "\n"
            return
        data, carry, skipping = cut_piece(carry, piece, skipping, b"\n")
        if data is not None:
            yield data
    if carry:
        yield carry + b"\n"


def chunks(log: LogText) -> Iterator[bytes | str]:
    """The log's text in chunks that end at line ends (bounded memory, see read_chunks):
    str, or ASCII bytes for UTF-8 text that is plain ASCII (no decoding needed).

    Raises:
        ParseError: when reading fails midway (an I/O error, a zip member that does not
            match its checksum).
    """
    try:
        if log.encoding == "utf-8" and isinstance(log.stream, io.TextIOWrapper):
            # Nothing was read through the wrapper yet: its buffer is at the text's start.
            yield from utf8_chunks(log.stream.buffer)
        else:
            yield from read_chunks(log.stream)
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise ParseError(log.name, f"read failed: {exc}") from exc
