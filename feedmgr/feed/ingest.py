"""Offline ingest: verify a package completely, then activate it atomically.

Everything runs under the store lock, so concurrent updates are serialised and the version
comparison with the active feed cannot race.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from feedmgr.errors import StoreError, VersionRejected
from feedmgr.feed.archive import ArchiveLimits
from feedmgr.feed.manifest_fast import ManifestView
from feedmgr.feed.package import PackageReader, SignedManifest, check_dates
from feedmgr.feed.signing import TrustedKey
from feedmgr.feed.store import FeedStore, StoredFeed, StoreWriter


class IngestStatus(StrEnum):
    """What an update did."""

    ACTIVATED = "activated"
    REACTIVATED = "reactivated"
    UNCHANGED = "unchanged"
    REPAIRED = "repaired"


@dataclass(frozen=True)
class IngestOutcome:
    """The result of one update."""

    status: IngestStatus
    feed: StoredFeed
    previous: StoredFeed | None
    signed_by: TrustedKey | None
    # Stored blobs that were missing or damaged and now hold the bytes just verified.
    repaired: Sequence[Path] = field(default_factory=tuple)


def _same_content_or_reject(stored: StoredFeed, signed: SignedManifest, subject: str) -> None:
    if stored.manifest_sha256 != signed.sha256:
        raise VersionRejected(
            subject,
            f"version {stored.version} is already in the store with different content; "
            "a publisher must give changed content a new version",
        )


def ingest_package(
    store: FeedStore,
    path: Path,
    *,
    extra_keys: Sequence[TrustedKey] = (),
    allow_unsigned: bool = False,
    allow_downgrade: bool = False,
    now: datetime | None = None,
    limits: ArchiveLimits | None = None,
    source: str | None = None,
    older_is_unchanged: bool = False,
) -> IngestOutcome:
    """Verify ``path`` and make it the active feed.

    ``source`` is what the history records as the feed's origin (default: the file's
    absolute path; the online client passes the package URL). With ``older_is_unchanged``
    (the online client, which chose the package before taking the lock), a package older
    than the active feed is ``UNCHANGED`` instead of rejected: another run activated a
    newer feed meanwhile.

    Raises:
        InputRejected: the package breaks a rule (nothing in the store changes).
        VersionRejected: expired, older than the active feed without ``allow_downgrade``,
            or a known version with different content.
        StoreError: the store is locked for too long, damaged, or cannot be written.
    """
    subject = str(path)
    with store.writer() as writer, PackageReader(path, limits) as reader:
        keys = [*writer.trusted_keys(), *extra_keys]
        signed = reader.read_signed_manifest(keys, allow_unsigned=allow_unsigned)
        manifest = signed.manifest
        reader.check_members(manifest)
        check_dates(manifest, subject, now)
        active = writer.active()
        if active is not None and active.parsed_version == manifest.parsed_version:
            _same_content_or_reject(active, signed, subject)
            # Re-hashing the stored blobs costs a read of the payload, far less than
            # verifying the package again, which only a damaged store needs.
            if not store.damaged_files(active):
                return IngestOutcome(IngestStatus.UNCHANGED, active, active, signed.signer)
            repaired = _restore(store, writer, reader, manifest)
            return IngestOutcome(IngestStatus.REPAIRED, active, active, signed.signer, repaired)
        if (
            active is not None
            and manifest.parsed_version < active.parsed_version
            and not allow_downgrade
        ):
            if older_is_unchanged:
                return IngestOutcome(IngestStatus.UNCHANGED, active, active, signed.signer)
            raise VersionRejected(
                subject,
                f"feed {manifest.version} is older than the active feed {active.version} "
                "(use --allow-downgrade to install it anyway, or 'feedmgr rollback')",
            )
        known = writer.feed_by_version(manifest.version)
        if known is not None:
            _same_content_or_reject(known, signed, subject)
            # Already stored: verify the package anyway, then switch without re-storing,
            # unless the stored payload rotted meanwhile.
            if store.damaged_files(known):
                repaired = _restore(store, writer, reader, manifest)
            else:
                reader.stream_payload(manifest)
                repaired = []
            writer.activate(known, "update")
            return IngestOutcome(IngestStatus.REACTIVATED, known, active, signed.signer, repaired)
        with _writing_into(store):
            staging = writer.new_staging()
            try:
                reader.stream_payload(manifest, staging)
                feed, repaired = writer.commit_feed(
                    manifest_raw=signed.raw,
                    manifest_sha256=signed.sha256,
                    signature=signed.signature,
                    signer=signed.signer.fingerprint if signed.signer else None,
                    version=manifest.version,
                    publisher=manifest.publisher,
                    published=manifest.published,
                    expires=manifest.expires,
                    files={name: (e.sha256, e.size) for name, e in manifest.files.items()},
                    source=source or str(path.resolve()),
                    staging=staging,
                )
            finally:
                staging.discard()
        return IngestOutcome(IngestStatus.ACTIVATED, feed, active, signed.signer, repaired)


def _restore(
    store: FeedStore, writer: StoreWriter, reader: PackageReader, manifest: ManifestView
) -> list[Path]:
    """Verify the package's payload into staging and put back the stored blobs that are
    missing or damaged.

    Raises:
        InputRejected: a payload member breaks a rule.
        StoreError: the store cannot be written.
    """
    with _writing_into(store):
        staging = writer.new_staging()
        try:
            reader.stream_payload(manifest, staging)
            return writer.restore_blobs(staging)
        finally:
            staging.discard()


@contextmanager
def _writing_into(store: FeedStore) -> Iterator[None]:
    """Turn an ``OSError`` into a ``StoreError`` naming the store."""
    try:
        yield
    except OSError as exc:
        # A full disk or a failing one: the package is fine, the store cannot take it.
        raise StoreError(
            str(store.home), f"cannot write the feed into the store ({exc.strerror or exc})"
        ) from exc
