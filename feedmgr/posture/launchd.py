"""Streaming parsers for ``launchctl list``, ``launchctl print`` and ``launchctl dumpstate``.

Each parser reads its input line by line (a file in ``CHUNK``-sized pieces) and yields one
``JobRecord`` per launchd job, so memory stays bounded whatever the input size (a line
spanning pieces is cut at ``MAX_LINE``). The only exception a parser raises is
``feedmgr.errors.ParseError``.

Facts encoded here (Apple ``launchctl(1)``, observed output of macOS 12-15):
- ``print``/``dumpstate`` blocks open with ``DOMAIN/LABEL = {`` at column 0 and close with a
  ``}`` line; up to macOS 10.15 ``launchctl print`` opened with the bare ``LABEL = {``
  (tests/data/posture/real/), so there the printed target names the domain. Nested blocks
  (``endpoints = {``, ``event triggers = {``...) can hold their own ``state = `` lines, so
  only the job block's own (depth 1) keys are read. Arguments and environment values are
  printed raw, so inside those blocks only the ``}`` at the opener's indent is structure.
- Domains: ``system`` holds daemons; ``gui/UID`` and ``user/UID`` hold a user's agents;
  ``type = LaunchDaemon`` / ``type = LaunchAgent`` in the block is more precise.
- ``launchctl list`` prints ``PID Status Label``; PID ``-`` means not running; a negative
  status means the last instance was killed by that signal, otherwise it is the exit code.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, replace
from itertools import compress, count
from operator import itemgetter
from pathlib import Path
from typing import IO, AnyStr, Protocol

from feedmgr import textio
from feedmgr.errors import ParseError
from feedmgr.posture.model import JobKind

MAX_LINE = 64 * 1024
# Inputs are read in chunks of this many characters and split into lines in C: per-line
# Python work is the cost that matters on a 100 MB dumpstate (benchmarks/posture.md).
CHUNK = 1024 * 1024
BATCH = 4096
_SERVICE_HEADER = re.compile(
    r"^(?P<domain>system|(?:gui|user|login|pid|session)/[^/\s]+)/(?P<label>\S(?:.*\S)?) = \{$"
)
# What opens a domain's own block rather than a job's: ``launchctl print system`` (macOS 11+),
# ``com.apple.xpc.launchd.domain.system`` (dumpstate, and print before macOS 11).
_DOMAIN_HEADER = re.compile(
    r"^(?:system|(?:gui|user|login|pid|session)/[^/\s]+|com\.apple\.xpc\.launchd\.domain\.\S+)"
    r" = \{$"
)
# A reverse-DNS name alone: how ``launchctl print`` headed a job up to macOS 10.15.
_BARE_LABEL_HEADER = re.compile(r"^(?P<label>[\w-]+(?:\.[\w-]+)+) = \{$")
# Blocks whose lines are strings launchd prints raw (``%s`` after the indent): a job's
# argument vector and environments. An ``sh -c`` script argument prints its own lines, braces
# and all, from column 0, so inside these blocks only the closing brace at the opener's own
# indent ends the block (decompiled launchd, ``arguments = {`` ... ``"%s"`` ... ``"}"``).
_STRING_BLOCKS = frozenset(
    f"{name} = {{"
    for name in (
        "arguments",
        "controller-supplied arguments",
        "environment",
        "inherited environment",
        "default environment",
        "global environment",
        "controller-supplied environment",
    )
)
_USER_DOMAIN = re.compile(r"^(?:gui|user)/\d+$")
_DOMAIN = re.compile(r"^(?:system|(?:gui|user)/\d+)$")
# The last character of a line that may open or close a block once stripped: a brace, or
# any character str.strip() removes (Unicode whitespace; a test checks the list).
_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004"
    "\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_MAY_MATTER = frozenset("{}" + _WHITESPACE)
_LAST_CHAR = itemgetter(slice(-1, None))
_KEYS = ("state = ", "pid = ", "type = ", "last exit code = ", "last terminating signal = ")
_LEADING_INT = re.compile(r"^-?[0-9]{1,18}")
_NUMBER = re.compile(r"-?[0-9]{1,18}")


@dataclass(frozen=True)
class JobRecord:
    """What one input says about one launchd job in one domain.

    ``state`` is launchd's own word (``running``, ``not running``, ``waiting``, ``exited``,
    ``spawn scheduled``...), None when the input does not say (``launchctl list``).
    ``signal`` is set when the last instance was killed by a signal.
    """

    domain: str
    label: str
    source: str
    origin: str
    line: int
    state: str | None = None
    pid: int | None = None
    last_exit_code: int | None = None
    signal: int | None = None
    job_type: str | None = None

    @property
    def target(self) -> str:
        """``DOMAIN/LABEL``, the name ``launchctl print`` takes."""
        return f"{self.domain}/{self.label}"

    @property
    def kind(self) -> JobKind:
        """Daemon or user agent: from ``type = Launch...`` when known, else the domain."""
        if self.job_type == "LaunchDaemon":
            return JobKind.DAEMON
        if self.job_type == "LaunchAgent":
            return JobKind.USER_AGENT
        return domain_kind(self.domain)

    @property
    def running(self) -> bool:
        """Running: ``state = running``, or a PID where the input gives no state."""
        if self.state is not None:
            return self.state == "running"
        return self.pid is not None

    def describe(self) -> str:
        """Evidence text: ``gui/501/com.apple.sysmond: state = running, pid 412``."""
        parts = [f"state = {self.state}" if self.state is not None else None]
        if self.pid is not None:
            parts.append(f"pid {self.pid}")
        elif self.state is None:
            parts.append("not running (pid -)")
        if self.last_exit_code is not None:
            parts.append(f"last exit code = {self.last_exit_code}")
        if self.signal is not None:
            parts.append(f"killed by signal {self.signal}")
        if self.job_type is not None:
            parts.append(f"type = {self.job_type}")
        return f"{self.target}: " + ", ".join(p for p in parts if p)

    def merged(self, other: JobRecord) -> JobRecord:
        """This record with gaps filled from ``other`` (same job, a lower-priority input)."""
        # A print/dumpstate block always states its exit history ("(never exited)" is None
        # there); only a list record may take it from elsewhere.
        block = self.source.split("+")[0] != "list"
        return replace(
            self,
            source=f"{self.source}+{other.source}",
            state=self.state if self.state is not None else other.state,
            pid=self.pid if self.pid is not None else other.pid,
            last_exit_code=(
                self.last_exit_code
                if self.last_exit_code is not None or block
                else other.last_exit_code
            ),
            signal=self.signal if self.signal is not None or block else other.signal,
            job_type=self.job_type if self.job_type is not None else other.job_type,
        )


@dataclass(frozen=True)
class PlistFile:
    """A launchd property list found on disk: ``/Library/LaunchDaemons/LABEL.plist``.

    The label is taken from the file name (the usual convention; the plist's own ``Label``
    key is authoritative), the kind from the directory: ``LaunchDaemons`` or
    ``LaunchAgents``.
    """

    path: str
    label: str
    kind: JobKind


_PLIST_DIRS = {"LaunchDaemons": JobKind.DAEMON, "LaunchAgents": JobKind.USER_AGENT}


def iter_plists(lines: Iterable[str]) -> Iterator[PlistFile]:
    """Plist files from a listing with one path per line (what ``collect-script`` writes).

    Lines that are not paths to ``.plist`` files are skipped; this never raises.
    """
    for raw in (line for batch in _batches(lines) for line in batch):
        path = raw.strip()
        if not path.endswith(".plist") or "/" not in path:
            continue
        directory, _, name = path.rpartition("/")
        kind = _PLIST_DIRS.get(directory.rpartition("/")[2], JobKind.UNKNOWN)
        yield PlistFile(path, name.removesuffix(".plist"), kind)


def domain_kind(domain: str) -> JobKind:
    """``system`` -> daemon, ``gui/UID`` and ``user/UID`` -> user agent, else unknown."""
    if domain == "system":
        return JobKind.DAEMON
    if _USER_DOMAIN.match(domain):
        return JobKind.USER_AGENT
    return JobKind.UNKNOWN


def check_target_or_none(target: str) -> str | None:
    """``target`` when it is a ``DOMAIN/LABEL`` ``launchctl print`` takes (``system/LABEL``,
    ``gui/UID/LABEL``, ``user/UID/LABEL``), else None."""
    named = _SERVICE_HEADER.match(f"{target} = {{")
    return target if named is not None and _DOMAIN.match(named.group("domain")) else None


def check_domain_or_none(domain: str) -> str | None:
    """``domain`` when it is one ``launchctl list`` can be run in (``system``, ``gui/UID``,
    ``user/UID``), else None."""
    return domain if _DOMAIN.match(domain) else None


class Readable(Protocol):
    """A text stream: what ``open()`` returns, a subprocess pipe, ``io.StringIO``."""

    def read(self, size: int = -1, /) -> str:
        """Read up to ``size`` characters."""
        ...


def read_chunks(handle: Readable, size: int = CHUNK) -> Iterator[str]:
    """A text stream as chunks of about ``size`` characters, each ending at a line end.

    A line longer than ``MAX_LINE`` that straddles chunks is cut there and the rest of it
    skipped, so memory stays bounded by ``CHUNK + MAX_LINE`` whatever the input.
    """
    carry = ""
    skipping = False
    while piece := handle.read(size):
        chunk, carry, skipping = cut_piece(carry, piece, skipping, "\n")
        if chunk is not None:
            yield chunk
    if carry:
        yield carry + "\n"


def cut_piece(
    carry: AnyStr, piece: AnyStr, skipping: bool, newline: AnyStr
) -> tuple[AnyStr | None, AnyStr, bool]:
    """One step of read_chunks (also on bytes): given the unfinished line ``carry``, the next
    ``piece`` read and whether the rest of an over-long line is being skipped, return the
    chunk of whole lines to pass on (or None), the new carry and skipping."""
    if skipping:
        newline_at = piece.find(newline)
        if newline_at == -1:
            return None, carry, True
        piece = piece[newline_at:]
    last = piece.rfind(newline)
    chunk = None
    if last != -1:
        chunk = carry + piece[: last + 1]
        carry = piece[:0]
    carry += piece[last + 1 :]
    if len(carry) > MAX_LINE:
        return chunk, carry[:MAX_LINE], True
    return chunk, carry, False


def read_lines(handle: Readable) -> Iterator[str]:
    """Lines of a text stream, each ending in a newline, cut to ``MAX_LINE`` characters."""
    for chunk in read_chunks(handle):
        for line in chunk[:-1].split("\n"):
            yield line[:MAX_LINE] + "\n"


def _batches(source: Iterable[str]) -> Iterator[list[str]]:
    """Lists of lines: per chunk of a text stream (the fast path: split in C, no per-line
    generator step), or ``BATCH`` lines at a time from any line iterable."""
    if isinstance(source, io.TextIOBase):
        for chunk in read_chunks(source):
            yield chunk[:-1].split("\n")
        return
    batch: list[str] = []
    for line in source:
        batch.append(line)
        if len(batch) == BATCH:
            yield batch
            batch = []
    yield batch


def open_text(path: Path) -> IO[str]:
    """Open an input for the parsers: UTF-8 (a leading BOM dropped), undecodable bytes
    replaced, never fails on content.

    Raises:
        ParseError: when the file cannot be opened.
    """
    try:
        return textio.open_text(path)
    except OSError as exc:
        raise ParseError(str(path), f"cannot read: {exc.strerror or exc}") from exc


def _int(value: str) -> int | None:
    match = _LEADING_INT.match(value)
    return int(match.group()) if match else None


def _signal(value: str) -> int | None:
    # "Killed: 9" / "Terminated: 15": the number comes last.
    tail = value.rsplit(":", 1)[-1].strip()
    return int(tail) if _NUMBER.fullmatch(tail) else None


def iter_blocks(
    lines: Iterable[str],
    origin: str,
    source: str = "dumpstate",
    wanted: Callable[[str], bool] | None = None,
    bare: tuple[str, str] | None = None,
) -> Iterator[JobRecord]:
    """Job records of ``launchctl dumpstate`` or ``launchctl print`` text, streamed.

    Blocks that are not jobs (``com.apple.xpc.launchd.domain.system = {``) and lines
    outside blocks are skipped; so are jobs whose label ``wanted`` rejects (their
    structure is still checked). ``bare`` is the (domain, label) of a ``print`` target: a
    block headed by that label alone (macOS 10.15 and older) is that job.

    Raises:
        ParseError: for a ``}`` that closes no block, a block still open at the end (the
            output was truncated), or text without a single job block (no verdict may
            come from a file that holds no evidence: ``launchctl print system`` output or a
            pre-macOS 11 print block would otherwise read as "nothing is loaded").
    """
    scan = yield from scan_blocks(lines, origin, source, wanted, bare)
    if scan.jobs == 0:
        raise ParseError(origin, _no_job_problem(scan.first_other))


def _no_job_problem(first_other: tuple[int, str] | None) -> str:
    """Why text without job blocks is not a dumpstate, from its first top-level block."""
    if first_other is None:
        return "no 'NAME = {' block found: not launchctl dumpstate/print output"
    line, header = first_other
    shown = header[:200]
    if _DOMAIN_HEADER.match(header):
        return (
            f"holds no DOMAIN/LABEL = {{ job block: line {line} {shown!r} opens a domain, "
            "so this is 'launchctl print DOMAIN' output, which does not give each job's "
            "state; capture 'sudo launchctl dumpstate', or give 'launchctl list' output "
            "as --list"
        )
    bare = _BARE_LABEL_HEADER.match(header)
    if bare is not None:
        label = bare.group("label")
        return (
            f"holds no DOMAIN/LABEL = {{ job block: line {line} {shown!r} names a job "
            "without its domain, as 'launchctl print' did up to macOS 10.15; give it as "
            f"--print system/{label}=FILE (or gui/UID/{label}=FILE for an agent)"
        )
    return (
        f"holds no DOMAIN/LABEL = {{ job block (line {line} opens {shown!r}): "
        "not launchctl dumpstate output"
    )


@dataclass(frozen=True)
class BlockScan:
    """What ``scan_blocks`` saw in its part of the text: how many lines, how many
    top-level job blocks, and the first top-level block that is not a job (its line and
    header), if any."""

    lines: int
    jobs: int
    first_other: tuple[int, str] | None


def scan_blocks(  # noqa: PLR0912, PLR0915 - one streaming state machine
    lines: Iterable[str],
    origin: str,
    source: str = "dumpstate",
    wanted: Callable[[str], bool] | None = None,
    bare: tuple[str, str] | None = None,
) -> Generator[JobRecord, None, BlockScan]:
    """``iter_blocks`` on a part of the text that starts outside any block: the records,
    then (returned) what the part held. A part without blocks is no error here.

    Raises:
        ParseError: for a ``}`` that closes no block or a block still open at the end.
    """
    depth = 0
    jobs = 0
    first_other: tuple[int, str] | None = None
    header_line = 0
    header = ""
    domain = label = ""
    fields: dict[str, str] = {}
    in_job = False
    # Inside a block of raw strings (arguments, environments): the one line that closes it.
    string_closer: str | None = None
    lines_before = 0
    for batch in _batches(lines):
        # Most lines (keys of jobs no condition names) end in a character that is neither a
        # brace nor blank: they cannot open or close a block, so only the others reach the
        # loop, picked out in C. The lines passed over matter only as keys of a wanted job.
        done = -1
        for index in compress(count(), map(_MAY_MATTER.__contains__, map(_LAST_CHAR, batch))):
            if in_job and depth == 1 and index > done + 1:
                _read_keys(batch[done + 1 : index], fields)
            done = index
            if string_closer is not None:
                if batch[index].rstrip() == string_closer:
                    depth -= 1
                    string_closer = None
                continue
            text = batch[index].strip()
            if not text:
                continue
            if text[-1] == "{":
                depth += 1
                if depth == 1:
                    header_line, header = lines_before + index + 1, text
                    job = _job_of(text, bare)
                    in_job = job is not None and (wanted is None or wanted(job[1]))
                    if job is not None:
                        jobs += 1
                        domain, label = job
                        fields = {}
                    elif first_other is None:
                        first_other = (header_line, text)
                elif text in _STRING_BLOCKS:
                    raw = batch[index]
                    string_closer = raw[: len(raw) - len(raw.lstrip())] + "}"
                continue
            if text[-1] == "}" and (closes := 1 if text == "}" else _glued_closers(text)):
                depth -= closes
                if depth < 0:
                    number = lines_before + index + 1
                    raise ParseError(origin, f"line {number}: '}}' closes no block")
                if depth == 0 and in_job:
                    in_job = False
                    yield _record(
                        domain=domain,
                        label=label,
                        source=source,
                        origin=origin,
                        line=header_line,
                        fields=fields,
                    )
                continue
            if depth == 1 and in_job:
                _read_keys((text,), fields)
        if in_job and depth == 1:
            _read_keys(batch[done + 1 :], fields)
        lines_before += len(batch)
    if depth > 0:
        raise ParseError(
            origin,
            f"truncated: block {header[:200]!r} opened at line {header_line} is not closed",
        )
    return BlockScan(lines_before, jobs, first_other)


def _job_of(header: str, bare: tuple[str, str] | None) -> tuple[str, str] | None:
    """(domain, label) of a block header naming a job, else None."""
    match = _SERVICE_HEADER.match(header)
    if match is not None:
        return match.group("domain"), match.group("label")
    if bare is not None and header == f"{bare[1]} = {{":
        return bare
    return None


def _read_keys(lines: Iterable[str], fields: dict[str, str]) -> None:
    """Record the job keys (``state = running``...) among ``lines``; a key's first
    occurrence counts."""
    for raw in lines:
        text = raw.strip()
        if text.startswith(_KEYS):
            key, _, value = text.partition(" = ")
            fields.setdefault(key, value)


def _glued_closers(text: str) -> int:
    """How many ``}`` end a line after whitespace: ``"key" => \t\t\t}``.

    launchctl prints an empty value (binary data it does not show) with no line end, so the
    ``}`` closing the enclosing block lands on the same line (seen in real dumpstates, in
    ``event triggers`` descriptors). ``a = {}`` or ``x}`` close nothing.
    """
    count = 0
    while text.endswith("}"):
        if text == "}":
            return count + 1
        if text[-2] not in " \t":
            break
        count += 1
        text = text[:-1].rstrip()
    return count


def _record(
    *, domain: str, label: str, source: str, origin: str, line: int, fields: dict[str, str]
) -> JobRecord:
    exit_text = fields.get("last exit code")
    pid_text = fields.get("pid")
    signal_text = fields.get("last terminating signal")
    return JobRecord(
        domain=domain,
        label=label,
        source=source,
        origin=origin,
        line=line,
        state=fields.get("state"),
        pid=_int(pid_text) if pid_text is not None else None,
        last_exit_code=_int(exit_text) if exit_text is not None else None,
        signal=_signal(signal_text) if signal_text is not None else None,
        job_type=fields.get("type"),
    )


def iter_print(lines: Iterable[str], origin: str, target: str | None = None) -> Iterator[JobRecord]:
    """Job records of ``launchctl print DOMAIN/LABEL`` output (normally exactly one).

    ``target`` is the ``DOMAIN/LABEL`` that was printed, when known: up to macOS 10.15 the
    block names the label alone (``com.wazuh.agent = {``), and the target gives its domain.

    Raises:
        ParseError: as ``iter_blocks``, or when the text holds no ``DOMAIN/LABEL`` block.
    """
    named = _SERVICE_HEADER.match(f"{target} = {{") if target is not None else None
    bare = (named.group("domain"), named.group("label")) if named is not None else None
    found = False
    scan = scan_blocks(lines, origin, source="print", bare=bare)
    for record in scan:
        found = True
        yield record
    if not found and target is None:
        raise ParseError(
            origin,
            "no 'DOMAIN/LABEL = {' block: not launchctl print output (up to macOS 10.15 the "
            "block names the label alone; then give the target: --print system/LABEL=FILE)",
        )
    if not found:
        raise ParseError(origin, f"no block for {target}: not launchctl print {target} output")


def iter_list(lines: Iterable[str], origin: str, domain: str = "system") -> Iterator[JobRecord]:
    """Job records of ``launchctl list`` output; ``domain`` is where it was run.

    ``sudo launchctl list`` lists the ``system`` domain; run as a user it lists that user's
    ``gui/UID`` domain.

    Raises:
        ParseError: when the ``PID Status Label`` header is missing or a line is not
            ``PID STATUS LABEL`` with PID ``-`` or a number and STATUS ``-`` or a number.
    """
    header_seen = False
    number = 0
    for raw in (line for batch in _batches(lines) for line in batch):
        number += 1
        text = raw.strip()
        if not text:
            continue
        if not header_seen:
            if text.split() != ["PID", "Status", "Label"]:
                raise ParseError(
                    origin,
                    f"line {number}: expected the 'PID Status Label' header of launchctl list",
                )
            header_seen = True
            continue
        parts = text.split("\t") if "\t" in text else text.split(None, 2)
        parts = [p.strip() for p in parts]
        if len(parts) != 3 or not parts[2]:
            raise ParseError(
                origin, f"line {number}: expected 'PID Status Label', got {text[:80]!r}"
            )
        pid_text, status_text, label = parts
        pid = _list_int(pid_text, origin, number, "PID")
        status = _list_int(status_text, origin, number, "status")
        yield JobRecord(
            domain=domain,
            label=label,
            source="list",
            origin=origin,
            line=number,
            pid=pid,
            last_exit_code=status if status is not None and status >= 0 else None,
            signal=-status if status is not None and status < 0 else None,
        )
    if not header_seen:
        raise ParseError(origin, "empty: expected launchctl list output")


def _list_int(text: str, origin: str, number: int, what: str) -> int | None:
    if text == "-":
        return None
    if not _NUMBER.fullmatch(text):
        raise ParseError(
            origin, f"line {number}: {what} must be '-' or a number, got {text[:40]!r}"
        )
    return int(text)
