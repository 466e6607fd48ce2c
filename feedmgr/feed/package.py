"""Verify a feed package: structure, manifest, signature, freshness, every payload byte.

The cheap checks (archive structure, manifest schema, signature, member list, dates) run
before any payload is decompressed, so a forged or hostile package costs almost nothing.
Payload members are then streamed once: hashed, counted, schema-checked and handed to a sink
(the store's staging area during ingest, nothing during ``feed verify``).
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing import get_context
from pathlib import Path
from typing import Protocol

from feedmgr.errors import (
    ArchiveError,
    IntegrityError,
    SchemaError,
    SignatureError,
    VersionRejected,
)
from feedmgr.feed.archive import ArchiveLimits, SafeZip
from feedmgr.feed.manifest import MANIFEST_NAME, SIGNATURE_NAME, Manifest, parse_manifest
from feedmgr.feed.payload import (
    CATALOG_PATH,
    MAX_JSON_PAYLOAD_BYTES,
    is_payload_path,
    member_problem,
)
from feedmgr.feed.signing import TrustedKey, verify_signature
from feedmgr.parallel import worker_processes_allowed

MAX_MANIFEST_BYTES = 16 * 1024 * 1024
MAX_SIGNATURE_BYTES = 4096
# Clocks disagree; a feed stamped a little in the future is clock skew, not an attack.
ALLOWED_CLOCK_SKEW = timedelta(hours=24)
# Documents parsed but not yet validated; each is at most MAX_JSON_PAYLOAD_BYTES.
_VALIDATION_BACKLOG = 2
# Below this much payload a validation process costs more to start than it saves.
PROCESS_VALIDATION_MIN_BYTES = 64 * 1024 * 1024


class PayloadSink(Protocol):
    """Receives each payload member while it is verified (the store's staging area)."""

    def begin(self, path: str) -> Callable[[bytes], object]:
        """Start a member; return the function that takes its chunks."""
        ...

    def end(self, path: str, sha256: str, size: int) -> None:
        """The member is complete and verified."""
        ...


@dataclass(frozen=True)
class SignedManifest:
    """A manifest whose bytes verified (or were explicitly accepted unsigned)."""

    manifest: Manifest
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

    def check_members(self, manifest: Manifest) -> None:
        """Every payload member is listed, every listed file is present and allowed.

        Raises:
            ArchiveError: an unlisted or missing member, or a size that disagrees.
            SchemaError: a listed path this format does not allow.
        """
        present = set(self.archive.members) - {MANIFEST_NAME, SIGNATURE_NAME}
        listed = set(manifest.files)
        for name in sorted(present - listed):
            raise ArchiveError(self.subject, f"member {name!r} is not listed in the manifest")
        for name in sorted(listed - present):
            raise ArchiveError(self.subject, f"manifest lists {name!r} but the archive lacks it")
        if CATALOG_PATH not in listed:
            raise SchemaError(self.subject, f"the manifest does not list {CATALOG_PATH}")
        for name in sorted(listed):
            if not is_payload_path(name):
                raise SchemaError(self.subject, f"{name}: not a payload file this format allows")
            entry = manifest.files[name]
            if entry.size > MAX_JSON_PAYLOAD_BYTES:
                raise SchemaError(self.subject, f"{name}: {entry.size} bytes, over the limit")
            if self.archive.members[name].size != entry.size:
                raise IntegrityError(
                    self.subject,
                    f"{name}: archive holds {self.archive.members[name].size} bytes, "
                    f"manifest says {entry.size}",
                )

    def stream_payload(self, manifest: Manifest, sink: PayloadSink | None = None) -> None:
        """Stream, hash and schema-check every payload member, feeding ``sink``.

        Digest and schema checks run beside the decompression: in a worker process for large
        feeds when ``feedmgr.parallel`` allows worker processes (validation holds the GIL, so a
        thread cannot run in parallel with decompression), else in a worker thread. At most
        ``_VALIDATION_BACKLOG`` documents wait for validation, which bounds memory.

        Raises:
            ArchiveError, IntegrityError, SchemaError: on the first bad member.
        """
        total = sum(entry.size for entry in manifest.files.values())
        executor: Executor
        if worker_processes_allowed() and total >= PROCESS_VALIDATION_MIN_BYTES:
            executor = ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn"))
        else:
            executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="validate")
        with executor:
            pending: deque[tuple[str, Future[tuple[str, str] | None]]] = deque()
            try:
                for name in sorted(manifest.files):
                    data = self._read_member(name, manifest, sink)
                    expected = manifest.files[name].sha256
                    pending.append((name, executor.submit(member_problem, name, data, expected)))
                    while len(pending) > _VALIDATION_BACKLOG:
                        self._raise_if_bad(*pending.popleft())
                while pending:
                    self._raise_if_bad(*pending.popleft())
            finally:
                for _name, future in pending:
                    future.cancel()

    def _raise_if_bad(self, name: str, future: Future[tuple[str, str] | None]) -> None:
        problem = future.result()
        if problem is None:
            return
        kind, message = problem
        if kind == "integrity":
            raise IntegrityError(self.subject, message, member=name)
        raise SchemaError(self.subject, message, member=name)

    def _read_member(self, name: str, manifest: Manifest, sink: PayloadSink | None) -> bytes:
        entry = manifest.files[name]
        size = 0
        chunks: list[bytes] = []
        write = sink.begin(name) if sink is not None else None
        for chunk in self.archive.stream(name):
            size += len(chunk)
            chunks.append(chunk)
            if write is not None:
                write(chunk)
        if size != entry.size:
            raise IntegrityError(
                self.subject,
                f"{name}: sha256/size do not match the manifest "
                f"(got {size} bytes, expected {entry.size})",
            )
        # The staged blob is keyed by the manifest's digest before the worker confirms it;
        # a mismatch fails the whole ingest, so no wrongly keyed blob is ever committed.
        if sink is not None:
            sink.end(name, entry.sha256, size)
        return b"".join(chunks)


def check_dates(manifest: Manifest, subject: str, now: datetime | None = None) -> None:
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
    sink: PayloadSink | None = None,
) -> SignedManifest:
    """Run every check on a package file and return its verified manifest.

    Raises:
        InputRejected (a subclass of it): the first rule the package breaks.
    """
    with PackageReader(path, limits) as reader:
        signed = reader.read_signed_manifest(keys, allow_unsigned=allow_unsigned)
        reader.check_members(signed.manifest)
        check_dates(signed.manifest, str(path), now)
        reader.stream_payload(signed.manifest, sink)
    return signed
