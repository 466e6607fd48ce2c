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
import signal
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from feedmgr.errors import ArchiveError
from feedmgr.feed.archive import ArchiveLimits, FileIdentity, SafeZip
from feedmgr.feed.payload_fast import MAX_JSON_PAYLOAD_BYTES, schema_problem
from feedmgr.heap import keep_freed_buffers, release_freed_memory

ProblemKind = Literal["archive", "integrity", "schema"]


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

    def verify(self, task: MemberTask) -> MemberVerdict:
        """Decompress, hash and schema-check one member; stage it when it is good.

        Raises:
            OSError: writing the staged copy failed (a store problem, not the package's).
        """
        if task.size > self._largest:
            self._largest = task.size
            release_freed_memory()
        try:
            data = self.archive.read_small(task.name, MAX_JSON_PAYLOAD_BYTES)
        except ArchiveError as exc:
            return MemberVerdict(task.name, task.sha256, None, ("archive", exc.problem))
        got = hashlib.sha256(data).hexdigest()
        if got != task.sha256:
            return MemberVerdict(
                task.name,
                task.sha256,
                None,
                (
                    "integrity",
                    f"{task.name}: sha256/size do not match the manifest "
                    f"(got {got[:16]}.../{len(data)}, expected {task.sha256[:16]}...)",
                ),
            )
        problem = schema_problem(task.name, data)
        if problem is not None:
            return MemberVerdict(task.name, task.sha256, None, ("schema", problem))
        if self.staging_dir is None:
            return MemberVerdict(task.name, task.sha256)
        staged = self.staging_dir / uuid.uuid4().hex
        with staged.open("wb") as handle:
            handle.write(data)
        return MemberVerdict(task.name, task.sha256, staged.name)


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
    if hasattr(signal, "pthread_sigmask"):
        # Started with SIGINT blocked (see ``_sigint_held``): a Ctrl-C is the parent's to
        # handle. Ignoring it first discards one already pending, then it may be unblocked.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
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
