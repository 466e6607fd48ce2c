"""Bundle files from directories, ``.tar``/``.tar.gz`` and ``.zip`` archives and gzipped
single bundles, read safely.

Nothing is ever extracted to disk: archive members are read into memory one at a time, at
most ``MAX_BUNDLE_BYTES`` (+1, to notice a larger one) each. A member with an unsafe name
(absolute, ``..``, control characters, backslashes: ``feed.archive.check_member_name`` once
``.`` components are dropped), a link, a device, an oversized member, a damaged or truncated
archive, or an archive over ``max_members`` / ``max_total_bytes`` becomes a ``Problem``
naming it; the run goes on with the rest.
"""

from __future__ import annotations

import gzip
import os
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from feedmgr.feed.archive import check_member_name
from feedmgr.posture.bundle import MAX_BUNDLE_BYTES


@dataclass(frozen=True)
class FleetLimits:
    """Bounds that keep a hostile archive from exhausting memory or time."""

    max_members: int = 1_000_000
    max_total_bytes: int = 8 * 1024 * 1024 * 1024
    max_bundle_bytes: int = MAX_BUNDLE_BYTES


@dataclass(frozen=True)
class Problem:
    """Something that could not be read as a bundle, and why.

    ``in_export`` is true when the problem lies in how the bundles were exported (an
    archive's member names, links, encryption, damage; links in a folder), not in a bundle:
    collecting again on the Mac does not fix it.
    """

    name: str
    problem: str
    in_export: bool = False


@dataclass(frozen=True)
class Item:
    """One candidate bundle: where it came from and its bytes."""

    name: str
    data: bytes


Read = Item | Problem

_GZIP = b"\x1f\x8b"
_ZIP = b"PK\x03\x04"
_EMPTY_ZIP = b"PK\x05\x06"


def read_sources(paths: Sequence[Path], limits: FleetLimits | None = None) -> Iterator[Read]:
    """Every candidate bundle of ``paths`` (directories walked recursively, archives by
    content, other files as bundles), in a stable order."""
    bounds = limits or FleetLimits()
    for path in paths:
        if path.is_dir():
            yield from _directory(path, bounds)
        else:
            yield from _file(path, str(path), bounds)


def _directory(root: Path, limits: FleetLimits) -> Iterator[Read]:
    for folder, dirs, files in os.walk(root, onerror=None, followlinks=False):
        dirs.sort()
        for name in sorted(files):
            if name.startswith("."):
                continue
            path = Path(folder) / name
            yield from _file(path, str(path), limits)


def _file(path: Path, name: str, limits: FleetLimits) -> Iterator[Read]:
    try:
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            yield Problem(name, "a symbolic link (not followed)", in_export=True)
            return
        if not stat.S_ISREG(info.st_mode):
            yield Problem(name, "not a regular file", in_export=True)
            return
        with path.open("rb") as handle:
            magic = handle.read(262)
            if _is_archive(magic):
                handle.seek(0)
                yield from _archive(handle, magic, name, limits)
                return
            if info.st_size > limits.max_bundle_bytes:
                yield Problem(name, _too_large(info.st_size, limits))
                return
            handle.seek(0)
            yield Item(name, handle.read(limits.max_bundle_bytes + 1))
    except OSError as exc:
        yield Problem(name, f"cannot read: {exc.strerror or exc}")


def _is_archive(magic: bytes) -> bool:
    return magic.startswith((_GZIP, _ZIP, _EMPTY_ZIP)) or magic[257:262] == b"ustar"


def _too_large(size: int, limits: FleetLimits) -> str:
    return f"too large for a bundle ({size} bytes, limit {limits.max_bundle_bytes})"


def unsafe_member_name(name: str) -> str | None:
    """Why an archive member name is unsafe, or None. The feed archive rules
    (``check_member_name``), except that ``.`` and empty components are dropped first: tar
    and shutil.make_archive name the members of ``tar czf all.tgz -C DIR .`` ``./mac.txt``,
    and members are only read into memory, never written to a path."""
    if name.startswith("/"):
        return check_member_name(name)
    kept = [part for part in name.split("/") if part not in ("", ".")]
    return check_member_name("/".join(kept))


def _export_problem(name: str, problem: str) -> Problem:
    return Problem(name, problem, in_export=True)


def _archive(handle: IO[bytes], magic: bytes, name: str, limits: FleetLimits) -> Iterator[Read]:
    if magic.startswith((_ZIP, _EMPTY_ZIP)):
        yield from _zip(handle, name, limits)
    elif magic.startswith(_GZIP) and not _gzipped_tar(handle):
        yield from _gzipped_bundle(handle, name, limits)
    else:
        yield from _tar(handle, name, limits)


def _gzipped_tar(handle: IO[bytes]) -> bool:
    try:
        head = gzip.GzipFile(fileobj=handle).read(262)
    except (OSError, EOFError, zlib.error):
        head = b""
    handle.seek(0)
    return head[257:262] == b"ustar"


def _gzipped_bundle(handle: IO[bytes], name: str, limits: FleetLimits) -> Iterator[Read]:
    """One bundle compressed with gzip (``bundle.txt.gz``), inflated no further than the
    bundle limit."""
    try:
        data = gzip.GzipFile(fileobj=handle).read(limits.max_bundle_bytes + 1)
    except (OSError, EOFError, zlib.error) as exc:
        yield _export_problem(name, f"damaged gzip file: {exc}")
        return
    if len(data) > limits.max_bundle_bytes:
        yield Problem(name, f"inflates to more than {limits.max_bundle_bytes} bytes: not a bundle")
        return
    yield Item(name, data)


def _tar(handle: IO[bytes], name: str, limits: FleetLimits) -> Iterator[Read]:
    members = total = 0
    try:
        # Stream mode ("r|*"): members are read in order and never seeked back to, so a
        # gzip stream is decompressed once and memory holds one member at a time.
        with tarfile.open(fileobj=handle, mode="r|*") as archive:
            for member in archive:
                members += 1
                if members > limits.max_members:
                    yield _export_problem(
                        name, f"more than {limits.max_members} members: rest not read"
                    )
                    return
                label = f"{name}:{member.name}"
                if member.isdir():
                    continue
                unsafe = unsafe_member_name(member.name)
                if unsafe is not None:
                    yield _export_problem(label, f"unsafe member name: {unsafe}")
                    continue
                if not member.isreg():
                    yield _export_problem(label, "not a regular file (link or device)")
                    continue
                if member.size > limits.max_bundle_bytes:
                    yield Problem(label, _too_large(member.size, limits))
                    continue
                total += member.size
                if total > limits.max_total_bytes:
                    yield _export_problem(
                        name, f"over {limits.max_total_bytes} bytes: rest not read"
                    )
                    return
                stream = archive.extractfile(member)
                if stream is None:
                    continue
                yield Item(label, stream.read(limits.max_bundle_bytes + 1))
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        yield _export_problem(
            name, f"damaged or truncated archive after {members} member(s): {exc}"
        )


def _zip(handle: IO[bytes], name: str, limits: FleetLimits) -> Iterator[Read]:
    try:
        archive = zipfile.ZipFile(handle)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        yield _export_problem(name, f"damaged zip archive: {exc}")
        return
    with archive:
        infos = archive.infolist()
        if len(infos) > limits.max_members:
            yield _export_problem(name, f"more than {limits.max_members} members: rest not read")
            infos = infos[: limits.max_members]
        total = 0
        for info in infos:
            label = f"{name}:{info.filename}"
            if info.is_dir():
                continue
            unsafe = unsafe_member_name(info.filename)
            if unsafe is not None:
                yield _export_problem(label, f"unsafe member name: {unsafe}")
                continue
            # Only the file-type bits: zip writers that set permissions alone leave them 0.
            kind = stat.S_IFMT((info.external_attr >> 16) & 0xFFFF)
            if kind and kind != stat.S_IFREG:
                yield _export_problem(label, "not a regular file (link or device)")
                continue
            if info.flag_bits & 0x1:
                yield _export_problem(label, "encrypted member")
                continue
            if info.file_size > limits.max_bundle_bytes:
                yield Problem(label, _too_large(info.file_size, limits))
                continue
            total += info.file_size
            if total > limits.max_total_bytes:
                yield _export_problem(name, f"over {limits.max_total_bytes} bytes: rest not read")
                return
            try:
                with archive.open(info) as stream:
                    # The declared size may lie (a zip bomb): read no more than the limit.
                    data = stream.read(limits.max_bundle_bytes + 1)
            except (zipfile.BadZipFile, OSError, zlib.error, NotImplementedError, EOFError) as exc:
                yield _export_problem(label, f"damaged member: {exc}")
                continue
            yield Item(label, data)
