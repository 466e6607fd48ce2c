"""Verify a feed package: structure, manifest, signature, freshness, every payload byte.

The cheap checks (archive structure, manifest schema, signature, member list, dates) run
before any payload is decompressed, so a forged or hostile package costs almost nothing.
Payload members are then streamed once: hashed, counted, schema-checked and, during an
ingest, written to the store's staging area (``feedmgr.feed.members`` does the per-member
work, here or in worker processes).
"""

from __future__ import annotations

import hashlib
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from queue import SimpleQueue
from typing import Protocol

from feedmgr.errors import (
    ArchiveError,
    InputRejected,
    IntegrityError,
    SchemaError,
    SignatureError,
    VersionRejected,
)
from feedmgr.feed.archive import ArchiveLimits, SafeZip, quoted
from feedmgr.feed.manifest_fast import MANIFEST_NAME, SIGNATURE_NAME, ManifestView, parse_manifest
from feedmgr.feed.members import (
    ArchiveWorker,
    MemberTask,
    MemberVerdict,
    MemberVerifier,
    ProblemKind,
    available_cores,
    start_worker_process,
    verify_in_worker_process,
)
from feedmgr.feed.payload_fast import (
    CATALOG_PATH,
    CHECKS_PATH,
    MAX_JSON_PAYLOAD_BYTES,
    is_payload_path,
    max_payload_bytes,
)
from feedmgr.feed.signing import TrustedKey, verify_signature
from feedmgr.heap import keep_freed_buffers
from feedmgr.interrupts import quiet_resource_tracker, sigint_held, start_pool_workers
from feedmgr.parallel import fork_is_safe, worker_processes_allowed

MAX_MANIFEST_BYTES = 16 * 1024 * 1024
MAX_SIGNATURE_BYTES = 4096
# Clocks disagree; a feed stamped a little in the future is clock skew, not an attack.
ALLOWED_CLOCK_SKEW = timedelta(hours=24)
# Workers start only when this much payload can be verified beside the largest document
# (which one process verifies alone whatever happens). A spawned worker costs an interpreter
# start and its imports (about 0.1 s of CPU, 0.1-0.2 s before its first member), and on a
# shared 2-core machine the second core is often busy: measured on realistic feeds
# (benchmarks/README.md), at load 4 to 5 this process alone was faster at 64, 75 and 128 MiB,
# a spawned worker at 250 MiB. A forked one is at work about 10 ms after the fork, every
# module already imported; with 5 MiB beside an 18 MiB document it was still 4% slower
# than this process alone, with 34 MiB beside a 32 MiB one 25% faster.
PARALLEL_MIN_BYTES = 128 * 1024 * 1024
FORKED_PARALLEL_MIN_BYTES = 16 * 1024 * 1024
# More processes would each hold a document in memory while the disk becomes the limit.
MAX_WORKER_PROCESSES = 3
# Members travel to workers in batches of about this much payload.
_BATCH_BYTES = 2 * 1024 * 1024


class StagingArea(Protocol):
    """Where verified payload members are written during an ingest (the store's staging)."""

    directory: Path

    def add(self, sha256: str, staged: str) -> None:
        """A member verified as ``sha256`` was written to ``directory / staged``."""
        ...


@dataclass(frozen=True)
class SignedManifest:
    """A manifest whose bytes verified (or were explicitly accepted unsigned)."""

    manifest: ManifestView
    raw: bytes
    signature: bytes | None
    signer: TrustedKey | None

    @property
    def sha256(self) -> str:
        """Digest of the exact manifest bytes: the identity of the feed's content."""
        return hashlib.sha256(self.raw).hexdigest()


class PackageReader:
    """Step-by-step verification of one package; ``verify_package`` runs all steps."""

    def __init__(self, path: Path, limits: ArchiveLimits | None = None) -> None:
        self.path = path
        self.subject = str(path)
        self.archive = SafeZip(path, limits)

    def __enter__(self) -> PackageReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.archive.close()

    def read_signed_manifest(
        self, keys: Sequence[TrustedKey], *, allow_unsigned: bool = False
    ) -> SignedManifest:
        """Read ``manifest.json``, check its schema and its signature.

        Raises:
            ArchiveError, SchemaError, SignatureError: as the checks fail.
        """
        raw = self.archive.read_small(MANIFEST_NAME, MAX_MANIFEST_BYTES)
        manifest = parse_manifest(raw, self.subject)
        if SIGNATURE_NAME not in self.archive.members:
            if allow_unsigned:
                return SignedManifest(manifest, raw, None, None)
            raise SignatureError(
                self.subject, "the feed is not signed (no manifest.sig); refusing it"
            )
        signature = self.archive.read_small(SIGNATURE_NAME, MAX_SIGNATURE_BYTES)
        if allow_unsigned and not keys:
            return SignedManifest(manifest, raw, signature, None)
        try:
            signer = verify_signature(signature, raw, keys, self.subject)
        except SignatureError:
            if allow_unsigned:
                return SignedManifest(manifest, raw, signature, None)
            raise
        return SignedManifest(manifest, raw, signature, signer)

    def check_members(self, manifest: ManifestView) -> None:
        """Every payload member is listed, every listed file is present and allowed.

        Raises:
            ArchiveError: an unlisted or missing member, or a size that disagrees.
            SchemaError: a listed path this format does not allow.
        """
        present = set(self.archive.members) - {MANIFEST_NAME, SIGNATURE_NAME}
        listed = set(manifest.files)
        for name in sorted(present - listed):
            raise ArchiveError(self.subject, f"member {quoted(name)} is not listed in the manifest")
        for name in sorted(listed - present):
            raise ArchiveError(
                self.subject, f"manifest lists {quoted(name)} but the archive lacks it"
            )
        if CATALOG_PATH not in listed:
            raise SchemaError(self.subject, f"the manifest does not list {CATALOG_PATH}")
        for name in sorted(listed):
            if not is_payload_path(name):
                raise SchemaError(self.subject, f"{name}: not a payload file this format allows")
            entry = manifest.files[name]
            if entry.size > max_payload_bytes(name):
                raise SchemaError(
                    self.subject,
                    f"{name}: {entry.size} bytes, over the limit of {max_payload_bytes(name)}",
                )
            if self.archive.members[name].size != entry.size:
                raise IntegrityError(
                    self.subject,
                    f"{name}: archive holds {self.archive.members[name].size} bytes, "
                    f"manifest says {entry.size}",
                )

    def verify(
        self,
        keys: Sequence[TrustedKey],
        *,
        allow_unsigned: bool = False,
        now: datetime | None = None,
    ) -> SignedManifest:
        """Run every check, in order, without staging anything.

        Raises:
            InputRejected (a subclass of it): the first rule the package breaks.
        """
        signed = self.read_signed_manifest(keys, allow_unsigned=allow_unsigned)
        self.check_members(signed.manifest)
        check_dates(signed.manifest, self.subject, now)
        self.stream_payload(signed.manifest)
        return signed

    def read_verified(self, name: str, manifest: ManifestView) -> bytes:
        """Read one small payload member again, checked against the manifest's digest.

        Raises:
            ArchiveError: the member is missing, too large or damaged.
            IntegrityError: its bytes are not the ones the manifest lists.
        """
        data = self.archive.read_small(name, MAX_JSON_PAYLOAD_BYTES)
        if hashlib.sha256(data).hexdigest() != manifest.files[name].sha256:
            raise IntegrityError(
                self.subject, f"{name}: changed since it was verified", member=name
            )
        return data

    def stream_payload(self, manifest: ManifestView, staging: StagingArea | None = None) -> None:
        """Decompress, hash and schema-check every payload member, staging each if asked.

        For larger feeds the work is shared with worker processes when ``feedmgr.parallel``
        allows them (schema validation holds the GIL, so threads would mostly take turns),
        else with one worker thread. Everyone takes the largest batch left, so the two or
        three largest documents start at once and the small ones fill the gaps.

        Raises:
            ArchiveError, IntegrityError, SchemaError: on the first bad member found.
            OSError: writing a staged copy failed.
        """
        # The catalog, modules and AV chart are decoded whole (about 5 times their size in
        # objects), so they come last, in one batch, whoever takes it (MemberVerifier
        # releases the buffers the condition documents left first): taken before a 32 MiB
        # document they made 102 MiB; a 3.9 MiB chart after 81 MiB of buffers kept for
        # reuse made 109 MiB.
        tasks = [
            MemberTask(name, entry.sha256, entry.size)
            for name, entry in sorted(
                manifest.files.items(), key=lambda item: (-item[1].size, item[0])
            )
        ]
        batches = _batches([task for task in tasks if CHECKS_PATH.match(task.name)])
        if modelled := [task for task in tasks if not CHECKS_PATH.match(task.name)]:
            batches.append(modelled)
        shared = _SharedBatches(batches)
        staging_dir = staging.directory if staging is not None else None
        own = MemberVerifier(self.archive, staging_dir)
        with self._workers(manifest, staging_dir) as workers:
            if workers is None:
                while (batch := shared.take()) is not None:
                    self._accept([own.verify(task) for task in batch], staging)
                return
            done: SimpleQueue[list[MemberVerdict]] = SimpleQueue()
            with ThreadPoolExecutor(workers.count, thread_name_prefix="feed-worker") as feeders:
                fed = [
                    feeders.submit(_feed_worker, workers, shared, done)
                    for _ in range(workers.count)
                ]
                try:
                    while (batch := shared.take()) is not None:
                        self._accept([own.verify(task) for task in batch], staging)
                        while not done.empty():
                            self._accept(done.get(), staging)
                    for future in fed:
                        future.result()
                    while not done.empty():
                        self._accept(done.get(), staging)
                finally:
                    # A problem or a Ctrl-C here: the workers finish the batch they hold
                    # and take no other.
                    shared.close()

    @contextmanager
    def _workers(
        self, manifest: ManifestView, staging_dir: Path | None
    ) -> Iterator[_Workers | None]:
        sizes = [entry.size for entry in manifest.files.values()]
        limits = self.archive.limits
        identity = self.archive.identity
        count = min(available_cores() - 1, MAX_WORKER_PROCESSES)
        processes = worker_processes_allowed() and count > 0
        # A worker thread takes turns with this one for the GIL and holds a second document
        # in this process's memory: only where a spawned worker would pay.
        start_method, min_bytes = worker_start() if processes else ("", PARALLEL_MIN_BYTES)
        if sum(sizes) - max(sizes, default=0) < min_bytes:
            yield None
            return
        keep_freed_buffers()
        if processes:
            # Imported here: a feed verified in this process alone never needs them (16 ms).
            from concurrent.futures import ProcessPoolExecutor
            from multiprocessing import get_context

            quiet_resource_tracker()
            with sigint_held():  # see start_pool_workers
                pool = ProcessPoolExecutor(
                    max_workers=count,
                    mp_context=get_context(start_method),
                    initializer=start_worker_process,
                )
            with pool:
                start_pool_workers(pool, count)
                work = partial(verify_in_worker_process, identity, limits, staging_dir)
                yield _Workers(lambda batch: pool.submit(work, batch).result(), count)
        else:
            worker = ArchiveWorker(identity, limits, staging_dir)
            try:
                yield _Workers(worker, 1)
            finally:
                worker.close()

    def _accept(self, verdicts: list[MemberVerdict], staging: StagingArea | None) -> None:
        for verdict in verdicts:
            if verdict.problem is not None:
                kind, message = verdict.problem
                raise _PROBLEM_ERRORS[kind](self.subject, message, member=verdict.name)
            if staging is not None and verdict.staged is not None:
                staging.add(verdict.sha256, verdict.staged)


_PROBLEM_ERRORS: dict[ProblemKind, type[InputRejected]] = {
    "archive": ArchiveError,
    "integrity": IntegrityError,
    "schema": SchemaError,
}


@dataclass(frozen=True)
class _Workers:
    """Workers helping one ``stream_payload`` call: ``work`` verifies a batch in one of
    them and waits for its verdicts."""

    work: Callable[[Sequence[MemberTask]], list[MemberVerdict]]
    count: int


class _SharedBatches:
    """The batches still to verify, largest first, taken by this process and the threads
    that feed its workers."""

    def __init__(self, batches: deque[list[MemberTask]]) -> None:
        self._batches = batches
        self._lock = threading.Lock()

    def take(self) -> list[MemberTask] | None:
        """The largest batch left, or None when there is none (or the work was stopped)."""
        with self._lock:
            return self._batches.popleft() if self._batches else None

    def close(self) -> None:
        """Stop handing out batches."""
        with self._lock:
            self._batches.clear()


def _feed_worker(
    workers: _Workers, batches: _SharedBatches, done: SimpleQueue[list[MemberVerdict]]
) -> None:
    # One thread per worker keeps it busy: a batch is handed over the moment the worker
    # finishes the last one, not when this process next looks up from its own member.
    # A problem, or a worker that failed (the package changed, a worker died), stops
    # everyone after the batch in hand; the failure is raised to stream_payload.
    try:
        while (batch := batches.take()) is not None:
            verdicts = workers.work(batch)
            done.put(verdicts)
            if any(verdict.problem is not None for verdict in verdicts):
                batches.close()
    except BaseException:
        batches.close()
        raise


def worker_start() -> tuple[str, int]:
    """How worker processes start here, and the payload beside the largest document from
    which they pay off.

    A forked worker starts in about 10 ms with every module already imported; a spawned one
    needs an interpreter start and its imports (about 0.1 s of CPU, 0.1-0.2 s before its
    first member). Fork is used where ``feedmgr.parallel.fork_is_safe()``.
    """
    if fork_is_safe():
        return "fork", FORKED_PARALLEL_MIN_BYTES
    return "spawn", PARALLEL_MIN_BYTES


def _batches(tasks: list[MemberTask]) -> deque[list[MemberTask]]:
    batches: deque[list[MemberTask]] = deque()
    current: list[MemberTask] = []
    size = 0
    for task in tasks:
        current.append(task)
        size += task.size
        if size >= _BATCH_BYTES:
            batches.append(current)
            current, size = [], 0
    if current:
        batches.append(current)
    return batches


def check_dates(manifest: ManifestView, subject: str, now: datetime | None = None) -> None:
    """The feed must not be expired, nor published in the future.

    Raises:
        VersionRejected: expired, or dates out of order.
    """
    moment = now or datetime.now(UTC)
    if manifest.expires_at <= manifest.published_at:
        raise VersionRejected(subject, "expires before it was published")
    if manifest.expires_at <= moment:
        raise VersionRejected(subject, f"feed {manifest.version} expired on {manifest.expires}")
    if manifest.published_at > moment + ALLOWED_CLOCK_SKEW:
        raise VersionRejected(subject, f"published in the future ({manifest.published})")


def verify_package(
    path: Path,
    keys: Sequence[TrustedKey],
    *,
    allow_unsigned: bool = False,
    now: datetime | None = None,
    limits: ArchiveLimits | None = None,
) -> SignedManifest:
    """Run every check on a package file and return its verified manifest.

    Raises:
        InputRejected (a subclass of it): the first rule the package breaks.
    """
    with PackageReader(path, limits) as reader:
        return reader.verify(keys, allow_unsigned=allow_unsigned, now=now)
