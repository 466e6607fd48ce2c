"""A captured ``launchctl dumpstate`` file, parsed in two halves at once where that is safe.

A dumpstate is large (100 MB on a busy Mac) and its parse is a Python loop over every line,
so one core is the limit. Its top-level blocks start at the beginning of a line, unindented
(``system/com.apple.foo = {``), and everything inside them is indented; so the file splits
at such a line near its middle, and a forked worker parses the second half while this
process parses the first. A worker forked from this process already holds the label filter
and every module it needs.

The split is trusted only when it is proven: the first half, parsed from the start of the
file, must end outside every block, which is exactly the state the second half's parse
starts from. On any doubt (a split inside a block, an error in either half, a worker that
did not report) the whole file is parsed again in one pass, so verdicts, record line
numbers and error messages are always those of the one-pass parse.
"""

from __future__ import annotations

import io
import os
import pickle
import signal
from collections.abc import Callable, Generator, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import replace
from pathlib import Path
from typing import IO, NoReturn

from feedmgr.errors import ParseError
from feedmgr.interrupts import ignore_sigint_in_worker, sigint_deferred, sigint_held
from feedmgr.parallel import fork_is_safe, worker_processes_allowed
from feedmgr.posture.launchd import BlockScan, JobRecord, iter_blocks, open_text, scan_blocks
from feedmgr.textio import wrap_text

# Below this a second process costs more than it saves: a fork and reading its result take
# a few milliseconds, and a 16 MiB dumpstate parses in about 0.12 s on one core.
SPLIT_MIN_BYTES = 16 * 1024 * 1024
# How far past the middle a block start is looked for before parsing in one pass.
_SPLIT_SEARCH_BYTES = 4 * 1024 * 1024
_READ_SIZE = 1024 * 1024

Wanted = Callable[[str], bool] | None


def open_dumpstate(stack: ExitStack, path: Path, wanted: Wanted = None) -> Iterator[JobRecord]:
    """The job records of a dumpstate file, parsed lazily as ``iter_blocks`` parses them.

    Raises:
        ParseError: the file cannot be opened (now), or its text is not a sound dumpstate
            (while the records are read).
    """
    handle = stack.enter_context(open_text(path))
    size = os.fstat(handle.fileno()).st_size
    if size < SPLIT_MIN_BYTES or not worker_processes_allowed():
        return iter_blocks(handle, str(path), wanted=wanted)
    return _split_or_whole(handle, path, size, wanted)


def _split_or_whole(handle: IO[str], path: Path, size: int, wanted: Wanted) -> Iterator[JobRecord]:
    # Decided when the records are read, where the fork happens: the parse is lazy.
    split = block_start_after(handle.fileno(), size // 2, size) if fork_is_safe() else None
    records = _in_two_halves(path, split, size, wanted) if split is not None else None
    if records is None:
        yield from iter_blocks(handle, str(path), wanted=wanted)
    else:
        yield from records


def block_start_after(fd: int, middle: int, size: int) -> int | None:
    """Offset of the first line after ``middle`` that opens a top-level block (unindented,
    ending in ``{``), when one is near."""
    window = os.pread(fd, min(_SPLIT_SEARCH_BYTES, size - middle), middle)
    at = window.find(b"\n")
    while at != -1:
        end = window.find(b"\n", at + 1)
        if end == -1:
            return None
        line = window[at + 1 : end]
        if line[:1] not in {b" ", b"\t", b"}", b"\r", b""} and line.rstrip().endswith(b"{"):
            return middle + at + 1
        at = end
    return None


def _in_two_halves(path: Path, split: int, size: int, wanted: Wanted) -> list[JobRecord] | None:
    """The records of the whole file, parsed as two halves at once; None when the split
    was not proven sound or either half failed (the caller then parses in one pass)."""
    reader, writer = os.pipe()
    pid: int | None = None
    try:
        # Ctrl-C is held back until the worker exists and this process holds no copy of
        # the pipe's write end, and the finally below reaps it: a Ctrl-C at any moment
        # leaves no worker behind.
        with sigint_held():
            try:
                pid = os.fork()
                if pid == 0:  # pragma: no cover - the worker; what it sends is checked here
                    _worker(reader, writer, part=(path, split, size), wanted=wanted)
            finally:
                os.close(writer)
        try:
            with _window(path, 0, split) as first_half:
                records, first = _drain(scan_blocks(first_half, str(path), "dumpstate", wanted))
        except ParseError:
            return None
        outcome = _received(reader)
    finally:
        os.close(reader)
        if pid is not None:
            _reap(pid)
    if outcome is None:
        return None
    later, later_jobs = outcome
    if first.jobs + later_jobs == 0:
        return None  # not a dumpstate: the one-pass parse says so
    return records + [replace(record, line=record.line + first.lines) for record in later]


def _worker(
    reader: int, writer: int, *, part: tuple[Path, int, int], wanted: Wanted
) -> NoReturn:  # pragma: no cover - runs in the forked worker
    code = 1
    try:
        ignore_sigint_in_worker()  # forked inside sigint_held(): a Ctrl-C is the parent's
        os.close(reader)
        path, start, end = part
        with _window(path, start, end) as second_half:
            parse = scan_blocks(second_half, str(path), "dumpstate", wanted)
            records, second = _drain(parse)
        with open(writer, "wb") as out:
            out.write(pickle.dumps((records, second.jobs)))
        code = 0
    except BaseException:  # noqa: S110 - the parent parses in one pass instead
        pass
    finally:
        os._exit(code)


def _drain(
    parse: Generator[JobRecord, None, BlockScan],
) -> tuple[list[JobRecord], BlockScan]:
    records: list[JobRecord] = []
    while True:
        try:
            records.append(next(parse))
        except StopIteration as done:
            return records, done.value


def _received(reader: int) -> tuple[list[JobRecord], int] | None:
    parts = []
    while chunk := os.read(reader, _READ_SIZE):
        parts.append(chunk)
    if not parts:
        return None  # the worker failed or died
    # Our own forked worker wrote it: the data is as trusted as this process's memory.
    outcome: tuple[list[JobRecord], int] = pickle.loads(b"".join(parts))  # noqa: S301
    return outcome


def _reap(pid: int) -> None:
    # Done or not needed any more (this process failed, or was interrupted): end it, and
    # wait for it even when a Ctrl-C comes meanwhile, which is honoured afterwards.
    with sigint_deferred() as interrupt:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    if interrupt.came:
        raise KeyboardInterrupt


@contextmanager
def _window(path: Path, start: int, end: int) -> Iterator[io.TextIOWrapper]:
    """Bytes ``start`` to ``end`` of ``path`` as text, read as ``open_text`` reads the file."""
    fd = os.open(path, os.O_RDONLY)
    try:
        binary = io.BufferedReader(_Window(fd, start, end), _READ_SIZE)
        yield wrap_text(binary, at_start=start == 0)
    finally:
        os.close(fd)


class _Window(io.RawIOBase):
    def __init__(self, fd: int, start: int, end: int) -> None:
        self._fd = fd
        self._position = start
        self._end = end

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        wanted = min(len(buffer), self._end - self._position)
        if wanted <= 0:
            return 0
        data = os.pread(self._fd, wanted, self._position)
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)
