"""Verify payload members one by one: decompress, hash, schema-check and stage each.

The same code runs in the ingesting process and in its worker processes. A worker opens the
package file itself (sending the decompressed payload through a pipe would cost as much as
decompressing it) and refuses to go on if the file is not the one the ingesting process
checked. This module imports neither cryptography nor the store, so a worker starts fast.

Verdicts cross the process boundary as plain data: a problem is ``(kind, message)`` and the
ingesting process raises the matching error.
"""

from __future__ import annotations

import hashlib
import os
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Literal

from feedmgr.errors import ArchiveError
from feedmgr.feed.archive import ArchiveLimits, FileIdentity, SafeZip
from feedmgr.feed.payload_fast import (
    CHECKS_PATH,
    MAX_JSON_PAYLOAD_BYTES,
    certainly_valid,
    schema_refusal,
)
from feedmgr.heap import keep_freed_buffers, release_freed_memory
from feedmgr.interrupts import ignore_sigint_in_worker

ProblemKind = Literal["archive", "integrity", "schema"]
# hashlib and file writes let go of the GIL, msgspec does not while it checks: from this size
# a member is hashed and staged on a thread beside its schema check (a 32 MiB document: 30 ms
# of sha256 and 10-90 ms of writing beside 80-100 ms of checking). Below it, starting a
# thread costs more than it hides.
_BESIDE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class MemberTask:
    """One payload member to verify, with what the signed manifest says about it."""

    name: str
    sha256: str
    size: int


@dataclass(frozen=True)
class MemberVerdict:
    """The outcome for one member: staged file name (when staging) or the problem found."""

    name: str
    sha256: str
    staged: str | None = None
    problem: tuple[ProblemKind, str] | None = None


class MemberVerifier:
    """Verifies members of one open archive, writing each into ``staging_dir`` if given.

    Staged files are written but not fsynced: the ingesting process syncs them all on its
    own threads, where waiting for the disk costs no CPU.
    """

    def __init__(self, archive: SafeZip, staging_dir: Path | None) -> None:
        self.archive = archive
        self.staging_dir = staging_dir
        self._largest = 0
        self._models_started = False

    def verify(self, task: MemberTask) -> MemberVerdict:
        """Decompress, hash and schema-check one member; stage it when it is good.

        Raises:
            OSError: writing the staged copy failed (a store problem, not the package's).
        """
        # Buffers kept for reuse are too small for a member larger than all before it, and
        # no use to the many small objects of a decoded catalog, module list or AV chart.
        model = not CHECKS_PATH.match(task.name)
        if task.size > self._largest or (model and not self._models_started):
            release_freed_memory()
        self._largest = max(self._largest, task.size)
        self._models_started = self._models_started or model
        try:
            data = self.archive.read_small(task.name, MAX_JSON_PAYLOAD_BYTES)
        except ArchiveError as exc:
            return MemberVerdict(task.name, task.sha256, None, ("archive", exc.problem))
        staged = self.staging_dir / uuid.uuid4().hex if self.staging_dir is not None else None
        got, accepted = _digest_and_check(
            data, task.sha256, staged, partial(certainly_valid, task.name, data)
        )
        problem: tuple[ProblemKind, str] | None = None
        if got != task.sha256:
            problem = (
                "integrity",
                f"{task.name}: sha256/size do not match the manifest "
                f"(got {got[:16]}.../{len(data)}, expected {task.sha256[:16]}...)",
            )
        elif not accepted and (refusal := schema_refusal(task.name, data)) is not None:
            problem = ("schema", refusal)
        if staged is None:
            return MemberVerdict(task.name, task.sha256, None, problem)
        if problem is not None:
            staged.unlink(missing_ok=True)
            return MemberVerdict(task.name, task.sha256, None, problem)
        return MemberVerdict(task.name, task.sha256, staged.name)


def _digest_and_check(
    data: bytes, expected: str, staged: Path | None, check: Callable[[], bool]
) -> tuple[str, bool]:
    """The sha256 of ``data`` and the result of ``check()``; ``data`` written to ``staged``
    when its digest is ``expected``.

    From ``_BESIDE_BYTES`` on, hashing and writing run on a thread beside ``check``: both
    let go of the GIL, so on a core this process would not otherwise use. ``check`` must be
    bounded in time and memory (msgspec's acceptance test): it runs on bytes that may turn
    out not to match the manifest, which then get no other check.

    Raises:
        OSError: writing ``staged`` failed.
    """

    def digest_and_stage() -> str:
        digest = hashlib.sha256(data).hexdigest()
        if staged is not None and digest == expected:
            with staged.open("wb") as handle:
                handle.write(data)
        return digest

    if len(data) < _BESIDE_BYTES:
        return digest_and_stage(), check()
    outcome: list[str | OSError] = []

    def run() -> None:
        try:
            outcome.append(digest_and_stage())
        except OSError as exc:
            outcome.append(exc)

    beside = threading.Thread(target=run, name="digest-and-stage")
    beside.start()
    try:
        accepted = check()
    finally:
        beside.join()
    if isinstance(outcome[0], OSError):
        raise outcome[0]
    return outcome[0], accepted


class ArchiveWorker:
    """A worker's own handle on the package, opened on first use and checked to be the
    same file (device, inode, size, modification time) the ingesting process verified."""

    def __init__(
        self, identity: FileIdentity, limits: ArchiveLimits, staging_dir: Path | None
    ) -> None:
        self.identity = identity
        self.limits = limits
        self.staging_dir = staging_dir
        self._verifier: MemberVerifier | None = None

    def __call__(self, tasks: Sequence[MemberTask]) -> list[MemberVerdict]:
        """Verify ``tasks`` in order.

        Raises:
            ArchiveError: the package file changed since the ingesting process opened it.
            OSError: writing a staged copy failed.
        """
        if self._verifier is None:
            archive = SafeZip(Path(self.identity.path), self.limits)
            if archive.identity != self.identity:
                archive.close()
                raise ArchiveError(
                    self.identity.path, "the file changed while it was being verified"
                )
            self._verifier = MemberVerifier(archive, self.staging_dir)
        return [self._verifier.verify(task) for task in tasks]

    def close(self) -> None:
        """Close the package file."""
        if self._verifier is not None:
            self._verifier.archive.close()
            self._verifier = None


_process_worker: ArchiveWorker | None = None


def verify_in_worker_process(
    identity: FileIdentity,
    limits: ArchiveLimits,
    staging_dir: Path | None,
    tasks: Sequence[MemberTask],
) -> list[MemberVerdict]:
    """Entry point for a worker process: one ``ArchiveWorker`` for the life of the process
    (a pool lives for one ingest, so the archive and staging folder never change)."""
    global _process_worker  # noqa: PLW0603 - one open archive per worker process
    if _process_worker is None:
        _process_worker = ArchiveWorker(identity, limits, staging_dir)
    return _process_worker(tasks)


def start_worker_process() -> None:
    """Initialiser of each worker process.

    A worker holds both ends of its task queue, so if the ingesting process dies (kill -9,
    a crash) the worker would wait for its next batch for ever, holding the package open. A
    watcher thread ends the worker as soon as its parent is gone.
    """
    ignore_sigint_in_worker()  # started inside sigint_held(): a Ctrl-C is the parent's
    # Imported here, in worker processes only: the ingesting process does not need them.
    import multiprocessing
    import threading

    keep_freed_buffers()
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(
            target=_exit_with_parent, args=(parent.sentinel,), name="parent-watch", daemon=True
        ).start()


def _exit_with_parent(sentinel: int) -> None:
    import multiprocessing.connection

    multiprocessing.connection.wait([sentinel])
    # Nothing of this worker's is worth finishing: its staging folder is discarded anyway.
    os._exit(1)


def available_cores() -> int:
    """CPU cores this process may run on."""
    if hasattr(os, "process_cpu_count"):  # Python 3.13+
        return os.process_cpu_count() or 1
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
