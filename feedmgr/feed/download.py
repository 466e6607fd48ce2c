"""The resumable package download: stream into a temporary file, bounded and checked.

The package streams into a temporary file, bounded by the announced length and an absolute
cap, resumes with ``Range`` (RFC 9110 section 14) after a dropped connection when the server
allows it, and must match the announced sha256. docs/online-updates.md ("Network
behaviour") describes it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import requests

from feedmgr.errors import InputRejected, IntegrityError, NetworkError, StoreError, UsageError
from feedmgr.feed.index import PackageRef
from feedmgr.net.transport import BodyDropped, HttpsClient

TEMP_PREFIX = ".feedmgr-download-"
TEMP_SUFFIX = ".part"
# A temporary download older than this belongs to a process that died; remove it.
STALE_TEMP_SECONDS = 24 * 3600

_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")

Progress = Callable[[int, int | None], None]


@dataclass(frozen=True)
class Download:
    """A package downloaded and checked against its size and sha256."""

    path: Path
    size: int
    sha256: str
    resumed: int


@contextlib.contextmanager
def download_package(
    client: HttpsClient,
    package: PackageRef,
    directory: Path,
    *,
    cap: int,
    progress: Progress | None = None,
) -> Iterator[Download]:
    """Download ``package`` into a temporary file in ``directory``, checked completely.

    ``cap`` bounds a package whose index announces no length (feed.max_download_bytes).
    The file exists only inside the ``with`` block; it is removed on every exit.

    Raises:
        IntegrityError: larger or shorter than announced, or the wrong sha256.
        InputRejected: the announced length exceeds the absolute cap.
        NetworkError: the server cannot be reached or keeps dropping the connection.
        UsageError: no temporary file can be made in ``directory``.
        StoreError: ``directory`` cannot take the package (a full disk, a file-size limit).
    """
    if package.length is not None and package.length > cap:
        raise InputRejected(
            package.url,
            f"announced size of {package.length} bytes exceeds the download cap of "
            f"{cap} bytes (feed.max_download_bytes)",
            reason="too-large",
        )
    remove_stale_downloads(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX, dir=directory)
    except OSError as exc:
        raise UsageError(
            str(directory), f"cannot create a temporary file ({exc.strerror})"
        ) from exc
    path = Path(name)
    try:
        handle = os.fdopen(fd, "w+b")
        try:
            size, digest, resumed = _download_into(
                client, _TempFile(handle, directory), package, cap, progress
            )
            with _temp_writes(directory):
                handle.flush()
                os.fsync(handle.fileno())
        finally:
            # After a failed write, closing flushes the buffer again and fails again; that
            # second error would hide the first, and the file is removed anyway.
            with contextlib.suppress(OSError):
                handle.close()
        yield Download(path, size, digest, resumed)
    finally:
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def _temp_writes(directory: Path) -> Iterator[None]:
    """Turn a failed write of the temporary download into a ``StoreError`` naming
    ``directory`` (the home): the package may be fine, the disk cannot take it."""
    try:
        yield
    except OSError as exc:
        raise StoreError(
            str(directory), f"cannot write the download into the store ({exc.strerror or exc})"
        ) from exc


@dataclass(frozen=True)
class _TempFile:
    """The temporary download file; its writes fail as ``StoreError`` naming the home.

    Only the file's own calls are wrapped: requests' exceptions are ``OSError`` too, and
    they must stay network errors.
    """

    handle: IO[bytes]
    directory: Path

    def write(self, data: bytes) -> None:
        """Append ``data``."""
        with _temp_writes(self.directory):
            self.handle.write(data)

    def restart(self) -> None:
        """Empty the file, to download again from its first byte."""
        with _temp_writes(self.directory):
            self.handle.seek(0)
            self.handle.truncate()


def _download_into(
    client: HttpsClient,
    handle: _TempFile,
    package: PackageRef,
    cap: int,
    progress: Progress | None,
) -> tuple[int, str, int]:
    transfer = _Transfer(handle, package, cap, progress)
    # One deadline for the whole package, resumed requests included.
    deadline = client.deadline(package.url)
    failures = 0
    restarted = False
    while True:
        response, _ = client.request(package.url, transfer.headers(), deadline)
        with response:
            try:
                transfer.start(response)
            except _FileChanged as exc:
                if restarted:
                    raise NetworkError(
                        package.url,
                        f"the file changed on the server during the download ({exc}), again "
                        "after starting over; try later",
                        reason="changed",
                    ) from None
                restarted = True
                transfer.restart()
                continue
            try:
                transfer.pump(client.chunks(response, deadline))
            except BodyDropped as exc:
                failures += 1
                if failures > client.settings.retries:
                    raise NetworkError(
                        package.url,
                        f"connection dropped after {transfer.received} bytes; gave up "
                        f"after {failures} attempts",
                        reason="dropped",
                    ) from exc
                deadline.wait(client.backoff(failures - 1))
                continue
        return transfer.finish()


class _FileChanged(Exception):
    """A resumed part does not carry the validator of the part before it."""


class _Transfer:
    """The state of one package download across resumed requests."""

    def __init__(
        self, handle: _TempFile, package: PackageRef, cap: int, progress: Progress | None
    ) -> None:
        self.handle = handle
        self.package = package
        self.progress = progress
        self.limit = package.length if package.length is not None else cap
        self.what = (
            f"the {self.limit} bytes the index announces"
            if package.length is not None
            else f"the download cap of {self.limit} bytes (feed.max_download_bytes)"
        )
        self.received = 0
        self.digest = hashlib.sha256()
        self.validator: str | None = None
        self.resumed = 0

    def headers(self) -> dict[str, str]:
        """Request headers: no content coding (byte ranges must mean file bytes), Range."""
        headers = {"Accept": "application/zip, */*;q=0.1"}
        if self.received:
            headers["Range"] = f"bytes={self.received}-"
            if self.validator:
                headers["If-Range"] = self.validator
        return headers

    def restart(self) -> None:
        """Forget what was received: the next request asks for the whole file."""
        self.handle.restart()
        self.digest = hashlib.sha256()
        self.received = 0
        self.validator = None

    def start(self, response: requests.Response) -> None:
        """Check the response status and length before reading its body.

        Raises:
            _FileChanged: a resumed part carries another validator than the first part.
        """
        url = self.package.url
        status = response.status_code
        if status == 206 and self.received:
            _check_same_file(self.validator, response)
            start = _range_start(response.headers.get("Content-Range"))
            if start != self.received:
                raise NetworkError(
                    url,
                    f"server resumed at byte {start}, expected {self.received}",
                    reason="bad-range",
                )
            self.resumed += 1
        elif status == 200:
            if self.received:
                # The server ignored Range (or the file changed): start again.
                self.restart()
        else:
            raise NetworkError(
                url, f"unexpected HTTP {status} for the package", reason="http-status"
            )
        coding = response.headers.get("Content-Encoding", "identity").strip().lower()
        if coding != "identity":
            # The sha256 covers the file's bytes; an encoded body is not those bytes.
            raise NetworkError(
                url,
                f"the server sent the package with content coding {coding!r} although "
                "feedmgr asks for identity",
                reason="content-coding",
            )
        if self.validator is None:
            self.validator = _range_validator(response)
        announced = response.headers.get("Content-Length", "")
        if announced.isdigit() and self.received + int(announced) > self.limit:
            raise IntegrityError(
                url,
                f"server sends {self.received + int(announced)} bytes, more than {self.what}",
                reason="too-large",
            )

    def pump(self, chunks: Iterator[bytes]) -> None:
        """Copy the body to the file, never past the limit."""
        for chunk in chunks:
            if self.received + len(chunk) > self.limit:
                raise IntegrityError(
                    self.package.url, f"body is larger than {self.what}", reason="too-large"
                )
            self.handle.write(chunk)
            self.digest.update(chunk)
            self.received += len(chunk)
            if self.progress is not None:
                self.progress(self.received, self.package.length)

    def finish(self) -> tuple[int, str, int]:
        """Check the complete body: length and sha256."""
        package = self.package
        if package.length is not None and self.received < package.length:
            raise IntegrityError(
                package.url,
                f"body is {self.received} bytes, shorter than the {package.length} the index "
                "announces",
                reason="truncated",
            )
        actual = self.digest.hexdigest()
        if actual != package.sha256:
            raise IntegrityError(
                package.url,
                f"sha256 is {actual}, the index announces {package.sha256}",
                reason="sha256",
            )
        return self.received, actual, self.resumed


def _range_start(value: str | None) -> int | None:
    match = _CONTENT_RANGE.match((value or "").strip())
    return int(match.group(1)) if match else None


def _check_same_file(sent: str | None, response: requests.Response) -> None:
    """RFC 9110 section 15.3.7.3: a 206 part is combined with the earlier one only when both
    carry the same strong validator; a server may answer If-Range with a part of a file
    that changed meanwhile (a CDN, a mirror), and splicing the two makes neither.

    Raises:
        _FileChanged: the part's ETag (or Last-Modified date) differs from ``sent``.
    """
    if sent is None:
        # Nothing to compare with (the server gave no validator); the sha256 still decides.
        return
    if sent.startswith('"'):
        etag = response.headers.get("ETag")
        if etag != sent:
            raise _FileChanged(f"ETag {etag or 'missing'}, the first part had {sent}")
        return
    modified = response.headers.get("Last-Modified")
    if modified != sent:
        raise _FileChanged(f"Last-Modified {modified or 'missing'}, the first part had {sent}")


def _range_validator(response: requests.Response) -> str | None:
    # RFC 9110 section 13.1.5: If-Range needs a strong ETag or a Last-Modified date.
    etag = response.headers.get("ETag")
    if etag and not etag.startswith("W/"):
        return etag
    return response.headers.get("Last-Modified")


def remove_stale_downloads(directory: Path, now: float | None = None) -> None:
    """Delete temporary downloads left in ``directory`` by processes that died."""
    moment = time.time() if now is None else now
    with contextlib.suppress(OSError):
        for entry in directory.glob(f"{TEMP_PREFIX}*{TEMP_SUFFIX}"):
            with contextlib.suppress(OSError):
                if moment - entry.stat().st_mtime > STALE_TEMP_SECONDS:
                    entry.unlink()
