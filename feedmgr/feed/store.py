"""The versioned feed store: SQLite for the catalog, content-addressed blobs for payloads.

Layout under the home directory::

    store.sqlite3      feeds, their files, activations (history + active pointer), trusted keys
    blobs/ab/cdef...   payload files named by their sha256
    staging/<id>/      payload of an ingest in progress (removed by the next writer if it died)
    store.lock         held by writers (update, rollback, trust changes)

Why it survives ``kill -9`` at any moment: blobs are fully written and fsynced before they are
renamed into ``blobs/``; a feed becomes visible and active in one SQLite transaction that
commits only after its blobs are in place. A crash before the commit leaves the previous feed
active and at most some unreferenced blobs and a staging folder, which the next writer
removes under the lock. A blob already stored is checked against the verified bytes before
a feed relies on it, and replaced when it differs (bit rot, a stray write).
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import re
import shutil
import sqlite3
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from packaging.version import Version

from feedmgr.errors import StoreError, StoreLockedError, UsageError
from feedmgr.feed.signing import TrustedKey
from feedmgr.interrupts import sigint_deferred
from feedmgr.pep440 import parse_pep440

SCHEMA_VERSION = 1
DEFAULT_LOCK_TIMEOUT = 60.0
LOCK_TIMEOUT_VARIABLE = "FEEDMGR_LOCK_TIMEOUT"
_SYNC_THREADS = 8
# The only names feedmgr creates under staging/ and blobs/ (uuid4().hex, a sha256 split 2+62).
_STAGING_NAME = re.compile(r"[0-9a-f]{32}")
_BLOB_PREFIX = re.compile(r"[0-9a-f]{2}")
_BLOB_REST = re.compile(r"[0-9a-f]{62}")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS feeds(
    id INTEGER PRIMARY KEY,
    version TEXT NOT NULL UNIQUE,
    publisher TEXT NOT NULL,
    published TEXT NOT NULL,
    expires TEXT NOT NULL,
    manifest BLOB NOT NULL,
    manifest_sha256 TEXT NOT NULL,
    signature BLOB,
    signer TEXT,
    source TEXT NOT NULL,
    ingested_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS feed_files(
    feed_id INTEGER NOT NULL REFERENCES feeds(id),
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    PRIMARY KEY(feed_id, path)
);
CREATE TABLE IF NOT EXISTS activations(
    id INTEGER PRIMARY KEY,
    feed_id INTEGER NOT NULL REFERENCES feeds(id),
    action TEXT NOT NULL,
    at TEXT NOT NULL,
    previous_version TEXT
);
CREATE TABLE IF NOT EXISTS trusted_keys(
    fingerprint TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    pem BLOB NOT NULL,
    added_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS http_cache(
    url TEXT PRIMARY KEY,
    etag TEXT,
    last_modified TEXT,
    body BLOB NOT NULL,
    fetched_at TEXT NOT NULL
);
"""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class FileRef:
    """A payload file of a stored feed."""

    path: str
    sha256: str
    size: int


@dataclass(frozen=True)
class StoredFeed:
    """A feed held in the store."""

    id: int
    version: str
    publisher: str
    published: datetime
    expires: datetime
    manifest_sha256: str
    signer: str | None
    source: str
    ingested_at: datetime
    files: Mapping[str, FileRef] = field(default_factory=dict)

    @property
    def parsed_version(self) -> Version:
        """The version as a packaging Version, for ordering."""
        return Version(self.version)


@dataclass(frozen=True)
class Activation:
    """One entry of the activation history."""

    at: datetime
    action: str
    version: str
    previous_version: str | None


class FeedStore:
    """Reads the store without side effects; ``writer()`` takes the lock for changes."""

    def __init__(self, home: Path, lock_timeout: float | None = None) -> None:
        self.home = home
        self.db_path = home / "store.sqlite3"
        self.blob_dir = home / "blobs"
        self.staging_dir = home / "staging"
        self.lock_path = home / "store.lock"
        self.lock_timeout = lock_timeout if lock_timeout is not None else _lock_timeout_setting()

    # -- reading -------------------------------------------------------------------------

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection | None]:
        if not self.db_path.exists():
            yield None
            return
        conn = self._open_for_reading()
        try:
            yield conn
        except sqlite3.DatabaseError as exc:
            raise StoreError(str(self.db_path), f"store database is damaged ({exc})") from exc
        finally:
            conn.close()

    def _open_for_reading(self) -> sqlite3.Connection:
        for attempt in range(2):
            try:
                conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=30)
            except sqlite3.Error as exc:
                raise StoreError(str(self.db_path), f"cannot open the store ({exc})") from exc
            try:
                conn.row_factory = sqlite3.Row
                _check_schema(conn, self.db_path)
            except sqlite3.DatabaseError as exc:
                conn.close()
                if attempt == 0 and _hot_journal(exc):
                    self._roll_back_interrupted_write()
                    continue
                raise StoreError(str(self.db_path), f"store database is damaged ({exc})") from exc
            except BaseException:
                conn.close()
                raise
            return conn
        raise AssertionError("unreachable: the second attempt returns or raises")

    def _roll_back_interrupted_write(self) -> None:
        # A writer killed mid-transaction leaves a hot rollback journal that a read-only
        # connection may not replay (SQLITE_READONLY_ROLLBACK). Any read on a read-write
        # connection replays it under SQLite's own locks: the store is as it was before
        # that write, which is exactly what the write's atomicity promises.
        try:
            conn = sqlite3.connect(self.db_path, timeout=30)
            try:
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            finally:
                conn.close()
        except sqlite3.Error as exc:
            raise StoreError(
                str(self.db_path),
                "an interrupted write must be rolled back, and this user cannot write the "
                f"store ({exc}); run any feedmgr command as the store's owner",
            ) from exc

    def active(self) -> StoredFeed | None:
        """The active feed, or None when nothing was ever ingested."""
        with self._read() as conn:
            return None if conn is None else _active(conn)

    def feeds(self) -> list[StoredFeed]:
        """Every stored feed, oldest version first."""
        with self._read() as conn:
            if conn is None:
                return []
            rows = conn.execute("SELECT * FROM feeds").fetchall()
            return sorted((_feed(conn, row) for row in rows), key=lambda f: f.parsed_version)

    def get(self, version: str) -> StoredFeed:
        """The stored feed with this version.

        Raises:
            UsageError: no such version in the store.
        """
        with self._read() as conn:
            found = None if conn is None else _feed_by_version(conn, version)
        if found is None:
            stored = ", ".join(f.version for f in self.feeds()) or "none"
            raise UsageError(version, f"not in the store (stored versions: {stored})")
        return found

    def activations(self) -> list[Activation]:
        """The activation history, oldest first."""
        with self._read() as conn:
            return [] if conn is None else _activations(conn)

    def trusted_keys(self) -> list[TrustedKey]:
        """Publisher keys trusted for every update."""
        with self._read() as conn:
            return [] if conn is None else _keys(conn)

    def cached_response(self, url: str) -> tuple[str | None, str | None, bytes] | None:
        """(etag, last_modified, body) stored for ``url`` by the online client, if any."""
        with self._read() as conn:
            if conn is None:
                return None
            row = conn.execute(
                "SELECT etag, last_modified, body FROM http_cache WHERE url = ?", (url,)
            ).fetchone()
            return None if row is None else (row["etag"], row["last_modified"], row["body"])

    def blob_path(self, sha256: str) -> Path:
        """Where the blob with this digest lives."""
        return self.blob_dir / sha256[:2] / sha256[2:]

    def read_payload(self, feed: StoredFeed, path: str) -> bytes:
        """A payload file of a stored feed, checked against its digest.

        Raises:
            UsageError: the feed has no such file.
            StoreError: the blob is missing or its content changed.
        """
        ref = feed.files.get(path)
        if ref is None:
            raise UsageError(f"feed {feed.version}", f"has no payload file {path}")
        blob = self.blob_path(ref.sha256)
        try:
            data = blob.read_bytes()
        except OSError as exc:
            raise StoreError(
                str(blob), f"payload {path} of feed {feed.version} is missing"
            ) from exc
        if hashlib.sha256(data).hexdigest() != ref.sha256:
            raise StoreError(str(blob), f"payload {path} of feed {feed.version} is damaged")
        return data

    def damaged_files(self, feed: StoredFeed) -> list[str]:
        """Payload paths of ``feed`` whose blob is missing or altered (empty when sound)."""
        problems = []
        for ref in feed.files.values():
            blob = self.blob_path(ref.sha256)
            try:
                with blob.open("rb") as handle:
                    digest = hashlib.file_digest(handle, "sha256").hexdigest()
            except OSError:
                problems.append(ref.path)
                continue
            if digest != ref.sha256:
                problems.append(ref.path)
        return sorted(problems)

    # -- writing -------------------------------------------------------------------------

    @contextlib.contextmanager
    def writer(self) -> Iterator[StoreWriter]:
        """Take the store lock, open the database for writing, clear leftovers of crashes.

        Raises:
            StoreLockedError: another process held the lock longer than the timeout.
            StoreError: the store cannot be created or is damaged.
        """
        from filelock import FileLock, Timeout

        try:
            self.home.mkdir(parents=True, exist_ok=True)
            self.blob_dir.mkdir(exist_ok=True)
            self.staging_dir.mkdir(exist_ok=True)
        except OSError as exc:
            raise StoreError(str(self.home), f"cannot create the store ({exc.strerror})") from exc
        lock = FileLock(str(self.lock_path), timeout=self.lock_timeout)
        try:
            lock.acquire()
        except Timeout:
            raise StoreLockedError(
                str(self.home),
                f"store is locked by another feedmgr process (waited {self.lock_timeout:g} s)",
            ) from None
        except OSError as exc:
            # A store shared read-only with this user: reading it works, changing it does not.
            raise StoreError(
                str(self.home), f"cannot write the store ({exc.strerror or exc})"
            ) from exc
        try:
            conn = sqlite3.connect(self.db_path, timeout=30, isolation_level=None)
        except sqlite3.Error as exc:
            lock.release()
            raise StoreError(str(self.db_path), f"cannot open the store ({exc})") from exc
        try:
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            _ensure_schema(conn, self.db_path)
            writer = StoreWriter(self, conn)
            try:
                writer.remove_leftovers()
            except OSError as exc:
                raise StoreError(
                    str(self.home), f"cannot write the store ({exc.strerror or exc})"
                ) from exc
            yield writer
        except sqlite3.DatabaseError as exc:
            raise _database_error(self.db_path, exc) from exc
        finally:
            conn.close()
            lock.release()


def _lock_timeout_setting() -> float:
    """Seconds a writer waits for the lock: ``FEEDMGR_LOCK_TIMEOUT``, else the default.

    Raises:
        UsageError: the variable is not a finite number of seconds >= 0.
    """
    text = os.environ.get(LOCK_TIMEOUT_VARIABLE)
    if not text:
        return DEFAULT_LOCK_TIMEOUT
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    # filelock reads a negative timeout as "wait forever": a stuck writer would hang every
    # cron job behind it, so a wait without end is not offered.
    if not math.isfinite(seconds) or seconds < 0:
        raise UsageError(
            LOCK_TIMEOUT_VARIABLE,
            f"{text!r} is not a number of seconds (a decimal number >= 0, e.g. 30 or 2.5)",
        )
    return seconds


def _hot_journal(exc: sqlite3.DatabaseError) -> bool:
    return getattr(exc, "sqlite_errorname", "") == "SQLITE_READONLY_ROLLBACK"


# SQLite result codes that mean the database could not be written, not that it is damaged.
_WRITE_FAILURES = {"SQLITE_FULL", "SQLITE_IOERR", "SQLITE_READONLY", "SQLITE_CANTOPEN"}


def _database_error(path: Path, exc: sqlite3.DatabaseError) -> StoreError:
    # Extended codes name the primary one first: SQLITE_IOERR_WRITE is an SQLITE_IOERR.
    primary = "_".join(getattr(exc, "sqlite_errorname", "").split("_")[:2])
    if primary in _WRITE_FAILURES:
        return StoreError(str(path), f"cannot write the store database ({exc})")
    return StoreError(str(path), f"store database is damaged ({exc})")


class Staging:
    """Payload blobs of one ingest, written and fsynced before anything is committed.

    The verifiers (this process and its workers) write each member into ``directory``;
    fsync waits on the disk, not the CPU, so it runs on a small thread pool while the next
    members are verified, and ``flush()`` waits for all of them before the commit. A blob
    the store holds already is read back and checked on the same pool, meanwhile
    (``stored_intact``).
    """

    def __init__(self, directory: Path, stored: Callable[[str], Path]) -> None:
        self.directory = directory
        self.directory.mkdir()
        self.blobs: dict[str, Path] = {}
        self._stored = stored
        self._pool = ThreadPoolExecutor(max_workers=_SYNC_THREADS, thread_name_prefix="fsync")
        self._syncs: list[Future[None]] = []
        self._checks: dict[str, Future[bool]] = {}

    def add(self, sha256: str, staged: str) -> None:
        """A member verified as ``sha256`` sits in ``directory / staged``."""
        file = self.directory / staged
        if sha256 in self.blobs:
            file.unlink()
            return
        self.blobs[sha256] = file
        self._syncs.append(self._pool.submit(_sync_file, file))
        stored = self._stored(sha256)
        if stored.exists():
            self._checks[sha256] = self._pool.submit(_holds, stored, sha256, file)

    def flush(self) -> None:
        """Wait until every staged blob is on disk.

        Raises:
            OSError: an fsync failed.
        """
        for future in self._syncs:
            future.result()
        self._syncs.clear()

    def stored_intact(self) -> dict[str, bool]:
        """For each staged blob the store held when it was staged: whether the stored one
        has the verified size and digest."""
        return {sha256: check.result() for sha256, check in self._checks.items()}

    def discard(self) -> None:
        """Remove everything staged (after a rejected or failed ingest)."""
        self._pool.shutdown(wait=True, cancel_futures=False)
        shutil.rmtree(self.directory, ignore_errors=True)


def _sync_file(path: Path) -> None:
    # fsync needs a writable descriptor on Windows; on POSIX any descriptor of the file will do.
    with path.open("r+b") as handle:
        os.fsync(handle.fileno())


def _unpublish(blobs: list[Path]) -> None:
    for blob in blobs:
        with contextlib.suppress(OSError):  # what stays is removed as a leftover next time
            blob.unlink()


class StoreWriter:
    """Changes to the store, valid only inside ``FeedStore.writer()``."""

    def __init__(self, store: FeedStore, conn: sqlite3.Connection) -> None:
        self.store = store
        self.conn = conn

    def active(self) -> StoredFeed | None:
        """The active feed, read under the lock."""
        return _active(self.conn)

    def feed_by_version(self, version: str) -> StoredFeed | None:
        """A stored feed by exact version string, under the lock."""
        return _feed_by_version(self.conn, version)

    def trusted_keys(self) -> list[TrustedKey]:
        """Trusted keys, read under the lock."""
        return _keys(self.conn)

    def remove_leftovers(self) -> None:
        """Delete staging folders of dead ingests and blobs no stored feed references.

        Only names feedmgr gives are touched (``staging/<32 hex>``, ``blobs/<2 hex>/<62
        hex>``): a home pointed at an existing folder keeps whatever else it holds.
        """
        for entry in self.store.staging_dir.iterdir():
            if _STAGING_NAME.fullmatch(entry.name) and entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
        referenced = {row[0] for row in self.conn.execute("SELECT sha256 FROM feed_files")}
        for prefix in self.store.blob_dir.iterdir():
            if not (_BLOB_PREFIX.fullmatch(prefix.name) and prefix.is_dir()):
                continue
            for blob in prefix.iterdir():
                if (
                    _BLOB_REST.fullmatch(blob.name)
                    and prefix.name + blob.name not in referenced
                    and blob.is_file()
                ):
                    blob.unlink(missing_ok=True)

    def new_staging(self) -> Staging:
        """A fresh staging area for one ingest."""
        return Staging(self.store.staging_dir / uuid.uuid4().hex, self.store.blob_path)

    def _publish_blobs(self, staging: Staging) -> tuple[list[Path], list[Path]]:
        """Move the staged blobs into place where the store lacks them or holds other bytes.

        Returns the blobs that were missing (now published) and the ones replaced because
        their stored bytes differed from the verified ones (repaired). A blob already
        stored is trusted only after its size and sha256 are checked: bit rot or a stray
        write under ``blobs/`` must never sit behind a feed that was just verified.
        """
        staging.flush()
        intact = staging.stored_intact()
        published: list[Path] = []
        repaired: list[Path] = []
        try:
            for sha256, staged in staging.blobs.items():
                target = self.store.blob_path(sha256)
                if intact.get(sha256, False):
                    continue
                target.parent.mkdir(exist_ok=True)
                # A rename over the damaged blob: readers see the old or the new file whole.
                staged.replace(target)
                (repaired if sha256 in intact else published).append(target)
            # The renames must be durable before the database points at the blobs.
            touched = {target.parent for target in [*published, *repaired]}
            touched.add(self.store.blob_dir)
            with ThreadPoolExecutor(max_workers=_SYNC_THREADS) as pool:
                list(pool.map(_fsync_dir, touched))
        except BaseException:
            # A repaired blob now holds verified bytes a stored feed refers to: it stays.
            _unpublish(published)
            raise
        return published, repaired

    def restore_blobs(self, staging: Staging) -> list[Path]:
        """Put the verified blobs of a feed already stored back where they are missing or
        damaged; return the blobs written.

        Raises:
            OSError: writing or syncing a blob failed.
        """
        published, repaired = self._publish_blobs(staging)
        return sorted([*published, *repaired])

    def commit_feed(
        self,
        *,
        manifest_raw: bytes,
        manifest_sha256: str,
        signature: bytes | None,
        signer: str | None,
        version: str,
        publisher: str,
        published: str,
        expires: str,
        files: Mapping[str, tuple[str, int]],
        source: str,
        staging: Staging,
    ) -> tuple[StoredFeed, list[Path]]:
        """Move staged blobs into place, then record and activate the feed atomically.

        Returns the feed and the stored blobs that were damaged and now hold the verified
        bytes (a payload shared with a stored feed).

        A Ctrl-C meanwhile is honoured (``KeyboardInterrupt``, the store unchanged) when it
        came before the commit and ignored once the feed is active: raised just after
        ``COMMIT``, it would run the clean-up of a failed commit and remove the blobs of the
        feed that was just activated.
        """
        with sigint_deferred() as interrupt:
            new_blobs, repaired = self._publish_blobs(staging)
            try:
                if interrupt.came:  # during the publishing: nothing is committed yet
                    raise KeyboardInterrupt
                previous = self.active()
                self.conn.execute("BEGIN IMMEDIATE")
                cursor = self.conn.execute(
                    "INSERT INTO feeds(version, publisher, published, expires, manifest,"
                    " manifest_sha256, signature, signer, source, ingested_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        version,
                        publisher,
                        published,
                        expires,
                        manifest_raw,
                        manifest_sha256,
                        signature,
                        signer,
                        source,
                        _now(),
                    ),
                )
                feed_id = cursor.lastrowid
                self.conn.executemany(
                    "INSERT INTO feed_files(feed_id, path, sha256, size) VALUES (?, ?, ?, ?)",
                    [(feed_id, path, sha, size) for path, (sha, size) in sorted(files.items())],
                )
                self._record_activation(feed_id, "update", previous)
                self.conn.execute("COMMIT")
            except BaseException:
                # SQLite rolls back by itself after some failures (a full disk, an I/O error).
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                # No feed references the new blobs: leave the blob store as it was.
                _unpublish(new_blobs)
                raise
            feed = _feed_by_version(self.conn, version)
            assert feed is not None
            return feed, repaired

    def _record_activation(
        self, feed_id: int | None, action: str, previous: StoredFeed | None
    ) -> None:
        self.conn.execute(
            "INSERT INTO activations(feed_id, action, at, previous_version) VALUES (?, ?, ?, ?)",
            (feed_id, action, _now(), previous.version if previous else None),
        )

    def activate(self, feed: StoredFeed, action: str) -> None:
        """Make a stored feed the active one (rollback, re-activation)."""
        previous = self.active()
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            self._record_activation(feed.id, action, previous)
            self.conn.execute("COMMIT")
        except BaseException:
            # SQLite rolls back by itself after some failures (a full disk, an I/O error).
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise

    def add_key(self, key: TrustedKey) -> bool:
        """Trust a key; False when it was already trusted."""
        cursor = self.conn.execute(
            "INSERT OR IGNORE INTO trusted_keys(fingerprint, name, algorithm, pem, added_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (key.fingerprint, key.name, key.algorithm, key.pem, _now()),
        )
        return cursor.rowcount == 1

    def remove_key(self, fingerprint: str) -> None:
        """Stop trusting a key."""
        self.conn.execute("DELETE FROM trusted_keys WHERE fingerprint = ?", (fingerprint,))

    def save_response(
        self, url: str, etag: str | None, last_modified: str | None, body: bytes
    ) -> None:
        """Remember a fetched document for conditional requests."""
        self.conn.execute(
            "INSERT OR REPLACE INTO http_cache(url, etag, last_modified, body, fetched_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (url, etag, last_modified, body, _now()),
        )


def _holds(blob: Path, sha256: str, staged: Path) -> bool:
    """True when ``blob`` has the size of the verified ``staged`` file and the digest
    ``sha256``; False when it differs or cannot be read."""
    try:
        if blob.stat().st_size != staged.stat().st_size:
            return False
        with blob.open("rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest() == sha256
    except OSError:
        return False


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _check_schema(conn: sqlite3.Connection, path: Path) -> None:
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if row is None:
        raise StoreError(str(path), "not a feedmgr store (no schema version)")
    if int(row[0]) > SCHEMA_VERSION:
        raise StoreError(str(path), f"store schema {row[0]} is newer than this feedmgr knows")


def _ensure_schema(conn: sqlite3.Connection, path: Path) -> None:
    conn.executescript("BEGIN IMMEDIATE;" + _SCHEMA + "COMMIT;")
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if row is None:
        conn.execute(
            "INSERT INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
        )
    _check_schema(conn, path)


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _feed(conn: sqlite3.Connection, row: sqlite3.Row) -> StoredFeed:
    files = {
        r["path"]: FileRef(r["path"], r["sha256"], r["size"])
        for r in conn.execute(
            "SELECT path, sha256, size FROM feed_files WHERE feed_id = ?", (row["id"],)
        )
    }
    return StoredFeed(
        id=row["id"],
        version=row["version"],
        publisher=row["publisher"],
        published=_parse_time(row["published"]),
        expires=_parse_time(row["expires"]),
        manifest_sha256=row["manifest_sha256"],
        signer=row["signer"],
        source=row["source"],
        ingested_at=_parse_time(row["ingested_at"]),
        files=files,
    )


def _feed_by_version(conn: sqlite3.Connection, version: str) -> StoredFeed | None:
    row = conn.execute("SELECT * FROM feeds WHERE version = ?", (version,)).fetchone()
    if row is None:
        # Versions are compared as versions: "1.0" and "1.0.0" are the same feed version.
        wanted = parse_pep440(version)
        for candidate in conn.execute("SELECT * FROM feeds"):
            if wanted is not None and Version(candidate["version"]) == wanted:
                return _feed(conn, candidate)
        return None
    return _feed(conn, row)


def _active(conn: sqlite3.Connection) -> StoredFeed | None:
    row = conn.execute(
        "SELECT feeds.* FROM activations JOIN feeds ON feeds.id = activations.feed_id"
        " ORDER BY activations.id DESC LIMIT 1"
    ).fetchone()
    return None if row is None else _feed(conn, row)


def _activations(conn: sqlite3.Connection) -> list[Activation]:
    return [
        Activation(_parse_time(r["at"]), r["action"], r["version"], r["previous_version"])
        for r in conn.execute(
            "SELECT activations.at, activations.action, feeds.version,"
            " activations.previous_version FROM activations"
            " JOIN feeds ON feeds.id = activations.feed_id ORDER BY activations.id"
        )
    ]


def _keys(conn: sqlite3.Connection) -> list[TrustedKey]:
    return [
        TrustedKey(r["fingerprint"], r["algorithm"], bytes(r["pem"]), r["name"])
        for r in conn.execute("SELECT * FROM trusted_keys ORDER BY added_at, fingerprint")
    ]
