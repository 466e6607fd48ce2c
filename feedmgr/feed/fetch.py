"""The online feed client: read the Atom index over HTTPS, download and check the package.

docs/online-updates.md describes the behaviour. The pieces live beside this module:
``feedmgr.net.transport`` (TLS, proxy, retries, bounded reads), ``feedmgr.feed.index`` (the
Atom index) and ``feedmgr.feed.download`` (the resumable download). This module ties them
to the store: ``check_update``, ``online_update`` and ``download_newest`` are what the
commands run.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from feedmgr.config import DEFAULT_MAX_DOWNLOAD_BYTES, Config
from feedmgr.errors import FeedmgrError, InputRejected, IntegrityError, StoreError, UsageError
from feedmgr.feed.download import Download, Progress, download_package
from feedmgr.feed.index import (
    MAX_ALTERNATE_HOPS,
    MAX_INDEX_BYTES,
    CachedDocument,
    CacheLookup,
    IndexResult,
    PackageRef,
    resolve_index,
)
from feedmgr.net.transport import CHUNK, HttpsClient, TransportSettings, transport_settings

if TYPE_CHECKING:
    from feedmgr.feed.ingest import IngestOutcome
    from feedmgr.feed.lifecycle import RollbackHold
    from feedmgr.feed.package import SignedManifest
    from feedmgr.feed.signing import TrustedKey
    from feedmgr.feed.store import StoredFeed


@dataclass(frozen=True)
class FetchSettings:
    """The transport's settings plus the feed's own limits."""

    transport: TransportSettings = field(default_factory=TransportSettings)
    max_download_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES
    max_index_bytes: int = MAX_INDEX_BYTES
    max_hops: int = MAX_ALTERNATE_HOPS


def settings_for(
    config: Config, *, ca_bundle: Path | None = None, proxy: str | None = None
) -> FetchSettings:
    """Settings from the command line over the config file over the defaults."""
    return FetchSettings(
        transport_settings(config, ca_bundle=ca_bundle, proxy=proxy),
        max_download_bytes=config.max_download_bytes,
    )


class FeedClient(HttpsClient):
    """An HTTPS session for one command that knows the feed index and package limits."""

    def __init__(self, settings: FetchSettings | None = None) -> None:
        """Prepare the session (no network traffic yet).

        Raises:
            UsageError, InputRejected: the CA bundle is unusable.
        """
        self.feed_settings = settings or FetchSettings()
        super().__init__(self.feed_settings.transport)

    def __enter__(self) -> FeedClient:
        return self

    def resolve_index(
        self, url: str, cache: CacheLookup | None = None, *, prereleases: bool = False
    ) -> IndexResult:
        """Follow the index from ``url`` to its newest package (``index.resolve_index``)."""
        return resolve_index(
            self,
            url,
            cache,
            max_hops=self.feed_settings.max_hops,
            max_bytes=self.feed_settings.max_index_bytes,
            prereleases=prereleases,
        )

    def download(
        self, package: PackageRef, directory: Path, progress: Progress | None = None
    ) -> AbstractContextManager[Download]:
        """Download and check ``package`` (``download.download_package``), capped by
        ``max_download_bytes``."""
        return download_package(
            self, package, directory, cap=self.feed_settings.max_download_bytes, progress=progress
        )


def _as_remote(exc: FeedmgrError, url: str) -> FeedmgrError:
    """The same rejection, named after the URL instead of the temporary file."""
    clone = type(exc)(url, exc.problem, **exc.details)
    clone.__cause__ = exc
    return clone


# -- what the commands run ------------------------------------------------------------------


def check_package_version(path: Path, package: PackageRef) -> None:
    """The package's manifest must carry the version the index announced.

    Raises:
        InputRejected: the package cannot be read, or its version differs.
    """
    from feedmgr.feed.archive import SafeZip
    from feedmgr.feed.manifest_fast import MANIFEST_NAME, parse_manifest
    from feedmgr.feed.package import MAX_MANIFEST_BYTES

    try:
        with SafeZip(path) as archive:
            manifest = parse_manifest(
                archive.read_small(MANIFEST_NAME, MAX_MANIFEST_BYTES), str(path)
            )
    except InputRejected as exc:
        raise _as_remote(exc, package.url) from exc
    if manifest.parsed_version != package.parsed_version:
        raise IntegrityError(
            package.url,
            f"the index announces version {package.version} but the package holds "
            f"{manifest.version}",
            reason="version",
        )


def save_cache(home: Path, updates: Sequence[CachedDocument]) -> None:
    """Remember fetched index documents for the next conditional GET.

    Raises:
        StoreError: the store cannot be written.
    """
    if not updates:
        return
    from feedmgr.feed.store import FeedStore

    with FeedStore(home).writer() as writer:
        for update in updates:
            writer.save_response(update.url, update.etag, update.last_modified, update.body)


def check_output_folder(output: Path) -> None:
    """``output``'s folder must exist: it is not created, since a mistyped path or a USB
    stick that is not mounted would otherwise put the package on the local disk.

    Raises:
        UsageError: the folder does not exist.
    """
    if not output.parent.is_dir():
        raise UsageError(str(output.parent), "no such folder for the package")


def copy_atomically(source: Path, output: Path) -> None:
    """Copy ``source`` to ``output`` through a temporary file beside it and a rename.

    ``output``'s folder must exist (``check_output_folder``).

    Raises:
        UsageError: the output cannot be written, or its folder does not exist.
    """
    from feedmgr.atomic import write_atomically

    def copy(target: BinaryIO) -> None:
        with source.open("rb") as origin:
            shutil.copyfileobj(origin, target, CHUNK)

    try:
        write_atomically(output, copy)
    except FileNotFoundError as exc:
        check_output_folder(output)
        raise UsageError(str(output), f"cannot write here ({exc.strerror})") from exc
    except OSError as exc:
        raise UsageError(str(output), f"cannot write here ({exc.strerror})") from exc


@dataclass(frozen=True)
class UpdateCheck:
    """The newest package of the index next to the active feed."""

    index: IndexResult
    active: StoredFeed | None

    @property
    def package(self) -> PackageRef:
        """The newest package the index offers."""
        return self.index.package

    @property
    def newer(self) -> bool:
        """True when the index offers a version newer than the active feed."""
        return self.active is None or self.package.parsed_version > self.active.parsed_version


def check_update(
    home: Path, client: FeedClient, url: str, *, prereleases: bool = False
) -> UpdateCheck:
    """Resolve the index (conditionally, with the store's cache) and compare versions.
    Pre-releases count only with ``prereleases`` (``IndexDocument.newest``).

    Raises:
        NetworkError, InputRejected: as for ``FeedClient.resolve_index``.
        StoreError: the store is damaged.
    """
    from feedmgr.feed.store import FeedStore

    store = FeedStore(home)
    index = client.resolve_index(url, store.cached_response, prereleases=prereleases)
    return UpdateCheck(index, store.active())


@dataclass(frozen=True)
class OnlineOutcome:
    """What ``online_update`` did: ``ingest`` is None when nothing newer was offered, or
    when the offer is ``held`` by an earlier rollback."""

    check: UpdateCheck
    ingest: IngestOutcome | None
    download: Download | None
    held: RollbackHold | None = None


def held_by_rollback(
    home: Path, check: UpdateCheck, *, allow_rolled_back: bool = False
) -> RollbackHold | None:
    """The rollback hold that keeps ``check``'s newer offer out, None when it may proceed.

    After ``feedmgr rollback`` away from version X, an online update would otherwise put X
    back at its next scheduled run. An offer newer than X, or ``allow_rolled_back``, lifts
    the hold.

    Raises:
        StoreError: the store is damaged.
    """
    from feedmgr.feed.lifecycle import rollback_hold
    from feedmgr.feed.store import FeedStore

    if allow_rolled_back or not check.newer:
        return None
    hold = rollback_hold(FeedStore(home))
    if hold is None or check.package.parsed_version > hold.parsed_version:
        return None
    return hold


def online_update(
    home: Path,
    client: FeedClient,
    url: str,
    *,
    extra_keys: Sequence[TrustedKey] = (),
    allow_unsigned: bool = False,
    allow_downgrade: bool = False,
    allow_rolled_back: bool = False,
    prereleases: bool = False,
    progress: Progress | None = None,
) -> OnlineOutcome:
    """Fetch the newest package when it is newer than the active feed and ingest it exactly
    as ``update --offline`` does. The index cache is saved only after success.

    When the index offers the active version, the active feed's stored blobs are re-hashed;
    damaged ones are repaired from the downloaded package (status ``repaired``). An offer
    not newer than a version the admin rolled back from is held (``held_by_rollback``).

    Raises:
        NetworkError: a server cannot be reached or fails.
        InputRejected: the index or the package is bad (the store is unchanged).
        StoreError: the store is locked or damaged (also when the active feed's payload is
            damaged and the index offers another version to repair it from).
    """
    from feedmgr.feed.ingest import ingest_package
    from feedmgr.feed.store import FeedStore

    check = check_update(home, client, url, prereleases=prereleases)
    package = check.package
    active = check.active
    wanted = check.newer or (
        allow_downgrade and active is not None and package.parsed_version != active.parsed_version
    )
    if not wanted and active is not None:
        # "unchanged" must not hide a rotten store: re-hash the active feed's blobs (a read
        # of its payload), as update --offline does for the same version.
        damaged = FeedStore(home).damaged_files(active)
        if damaged and package.parsed_version != active.parsed_version:
            raise StoreError(
                f"feed {active.version}",
                f"the active feed's stored payload is damaged ({', '.join(damaged)}) and the "
                f"index offers only {package.version}; ingest the package of "
                f"{active.version} again (update --offline FEED.zip) to repair it",
            )
        wanted = bool(damaged)
    held = held_by_rollback(home, check, allow_rolled_back=allow_rolled_back)
    if not wanted or held is not None:
        save_cache(home, check.index.cache_updates)
        return OnlineOutcome(check, None, None, held)
    with client.download(package, home, progress) as download:
        check_package_version(download.path, package)
        try:
            outcome = ingest_package(
                FeedStore(home),
                download.path,
                extra_keys=extra_keys,
                allow_unsigned=allow_unsigned,
                allow_downgrade=allow_downgrade,
                source=package.url,
                # The offer was compared with the active feed before the download; under
                # the store lock another run may have activated a newer one meanwhile.
                older_is_unchanged=True,
            )
        except InputRejected as exc:
            raise _as_remote(exc, package.url) from exc
    save_cache(home, check.index.cache_updates)
    return OnlineOutcome(check, outcome, download)


@dataclass(frozen=True)
class Fetched:
    """A package downloaded, verified completely and written for an air-gapped network."""

    package: PackageRef
    download: Download
    signed: SignedManifest
    output: Path
    skipped_prerelease: PackageRef | None = None


def download_newest(
    home: Path,
    client: FeedClient,
    url: str,
    output: Path,
    *,
    extra_keys: Sequence[TrustedKey] = (),
    prereleases: bool = False,
    progress: Progress | None = None,
) -> Fetched:
    """Download the newest package, verify it with the store's keys plus ``extra_keys``
    (``verify_package``: structure, signature, dates, every payload byte), then write it to
    ``output`` atomically. Nothing is written when any check fails.

    Raises:
        NetworkError, InputRejected: as for ``online_update``.
        UsageError: the output cannot be written, or its folder does not exist (checked
            before any network traffic).
    """
    from feedmgr.feed.package import verify_package
    from feedmgr.feed.store import FeedStore

    check_output_folder(output)
    store = FeedStore(home)
    index = client.resolve_index(url, store.cached_response, prereleases=prereleases)
    package = index.package
    keys = [*store.trusted_keys(), *extra_keys]
    with client.download(package, home, progress) as download:
        check_package_version(download.path, package)
        try:
            signed = verify_package(download.path, keys)
        except InputRejected as exc:
            raise _as_remote(exc, package.url) from exc
        copy_atomically(download.path, output)
    save_cache(home, index.cache_updates)
    return Fetched(package, download, signed, output, index.skipped_prerelease)
