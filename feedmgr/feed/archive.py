"""A zip reader that refuses hostile archives before reading a single payload byte.

Rules (docs/feed-format.md, "Archive rules"): member names are relative POSIX paths without
``..``, ``.``, empty components, drive letters, backslashes or control characters; no two
names equal (also after case folding: they would collide on macOS and Windows); only
regular files and directory entries (no symlinks, devices, FIFOs); no encryption; only
stored or deflated members; bounded member count, member size, total size and compression
ratio; members may not overlap (a zip-bomb technique). Member data is read whole, and its size
and CRC are enforced while reading.
"""

from __future__ import annotations

import itertools
import os
import stat
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from isal import isal_zlib

from feedmgr.errors import ArchiveError

_LOCAL_HEADER_SIZE = 30
# python-isal's stubs declare its exception class as an instance.
_INFLATE_ERROR: type[Exception] = isal_zlib.error  # type: ignore[assignment]


@dataclass(frozen=True)
class ArchiveLimits:
    """Bounds that keep a hostile archive from exhausting disk, memory or time."""

    max_members: int = 10_000
    max_member_size: int = 256 * 1024 * 1024
    max_total_size: int = 8 * 1024 * 1024 * 1024
    # Deflate cannot exceed about 1032:1; real JSON payloads stay far below 100:1.
    max_ratio: int = 200
    # Tiny members compress absurdly well (a file of spaces); the ratio only matters above this.
    ratio_floor: int = 64 * 1024


def quoted(name: str) -> str:
    """A member name in quotes for a message, its backslashes left as they are (repr()
    would double them); control characters are escaped where the message is printed
    (``FeedmgrError.diagnostics``)."""
    return f"'{name}'"


def check_member_name(name: str) -> str | None:
    """Return why a member name is unsafe, or None when it is acceptable."""
    if not name:
        return "empty member name"
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in name):
        return "member name contains control characters"
    if "\\" in name:
        return "member name contains a backslash"
    if name.startswith("/"):
        return "absolute member path"
    if len(name) >= 2 and name[1] == ":" and name[0].isalpha():
        return "member path starts with a drive letter"
    parts = name.rstrip("/").split("/")
    if any(part in ("", ".", "..") for part in parts):
        return "member path has an empty, '.' or '..' component"
    return None


# Hosts ("version made by", APPNOTE 4.4.2) whose external attributes carry a Unix mode in
# their high 16 bits, as Info-ZIP UnZip's mapattr() (unix/unix.c) reads them: VMS, Unix,
# Atari, QDOS, Acorn, BeOS, Tandem, THEOS, AtheOS.
_UNIX_MODE_HOSTS = frozenset({2, 3, 5, 12, 13, 16, 17, 18, 30})
_MSDOS_HOST = 0
_MSDOS_READONLY = 0x01
_MSDOS_DIRECTORY = 0x10
# 7-Zip (and p7zip) mark a Unix mode stored by an MS-DOS host with this attribute bit.
_UNIX_EXTENSION = 0x8000
_SPECIAL_TYPES = {
    stat.S_IFLNK: "symbolic link",
    stat.S_IFCHR: "character device",
    stat.S_IFBLK: "block device",
    stat.S_IFIFO: "FIFO (named pipe)",
    stat.S_IFSOCK: "socket",
}


def unix_mode(info: zipfile.ZipInfo) -> int:
    """The Unix mode a member carries, 0 when it carries none, read as Info-ZIP reads it.

    A Unix-like host stores the mode in the high 16 bits. An MS-DOS host (Windows tools,
    PKZip for Unix, 7-Zip) may too: it counts when 7-Zip's Unix-extension bit is set, or,
    as in Info-ZIP, when the owner bits agree with the MS-DOS read-only and directory flags.
    Other hosts (NTFS, HPFS, Macintosh...) carry no Unix mode.
    """
    high = (info.external_attr >> 16) & 0xFFFF
    if info.create_system in _UNIX_MODE_HOSTS:
        return high
    if info.create_system != _MSDOS_HOST or not high:
        return 0
    dos = info.external_attr & 0xFFFF
    if dos & _UNIX_EXTENSION:
        return high
    directory = bool(dos & _MSDOS_DIRECTORY) or info.filename.endswith("/")
    writable = not dos & _MSDOS_READONLY
    owner = 0o400 | (0o200 if writable else 0) | (0o100 if directory else 0)
    return high if high & 0o700 == owner else 0


# General purpose flag bit 11 (APPNOTE 4.4.4): the name is UTF-8; without it, cp437.
_UTF8_NAME = 0x800
_UNICODE_PATH = 0x7075


def _stored_name(info: zipfile.ZipInfo) -> bytes:
    """The member name's bytes as the archive stores them (zipfile decoded them as UTF-8
    or, without flag bit 11, as cp437, which maps every byte one to one)."""
    if info.flag_bits & _UTF8_NAME:
        return info.orig_filename.encode("utf-8", "surrogateescape")
    return info.orig_filename.encode("cp437")


def _name_by_unicode_path(archive: zipfile.ZipFile) -> None:
    """Name each member by its valid Info-ZIP Unicode Path field, as ``unzip`` and Python
    3.13's zipfile do; Python 3.11 and 3.12 keep the stored cp437 name. The same archive
    must give the same member names, checks and messages on every Python."""
    renamed = False
    for info in archive.infolist():
        unicode_name = _unicode_path(info)
        if unicode_name is not None and info.filename != unicode_name:
            info.filename = unicode_name
            renamed = True
    if renamed:
        archive.NameToInfo = {info.filename: info for info in archive.infolist()}


def _unicode_path(info: zipfile.ZipInfo) -> str | None:
    """The name in an Info-ZIP Unicode Path extra field (APPNOTE 4.6.9: version 1, CRC-32
    of the stored name, the UTF-8 name), when one is present and still matches the stored
    name; None otherwise."""
    extra = info.extra
    while len(extra) >= 4:
        header_id, size = struct.unpack("<HH", extra[:4])
        body, extra = extra[4 : 4 + size], extra[4 + size :]
        if header_id != _UNICODE_PATH or len(body) < 5 or body[0] != 1:
            continue
        (crc,) = struct.unpack("<I", body[1:5])
        if crc != zlib.crc32(_stored_name(info)):
            return None  # the name was changed by a tool that left the field behind
        try:
            return body[5:].decode("utf-8")
        except UnicodeDecodeError:
            return None
    return None


def _check_type(info: zipfile.ZipInfo) -> str | None:
    """Why a member is not a regular file or directory entry, None when it is one.

    No type bits at all (Python's ``writestr``, MS-DOS hosts) mean a regular file, as for
    Info-ZIP and every other unzip; only explicit special types are refused.
    """
    kind = stat.S_IFMT(unix_mode(info))
    if kind in _SPECIAL_TYPES:
        return _SPECIAL_TYPES[kind]
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        return f"unknown file type {kind:#o} in its Unix mode"
    if info.is_dir():
        return "directory entry with data" if info.file_size else None
    if kind == stat.S_IFDIR:
        return "directory type on an entry whose name does not end in '/'"
    return None


@dataclass(frozen=True)
class FileIdentity:
    """Which file was opened: a worker that reopens it by path checks it got the same one."""

    path: str
    device: int
    inode: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path, handle: IO[bytes]) -> FileIdentity:
        """The identity of the open ``handle`` of ``path``."""
        info = os.fstat(handle.fileno())
        # Absolute: a worker reopening a relative path could start in another directory.
        return cls(str(path.absolute()), info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)


@dataclass(frozen=True)
class Member:
    """A checked file member of the archive."""

    name: str
    size: int
    compressed_size: int


class SafeZip:
    """An opened, structurally checked feed archive. Use as a context manager."""

    def __init__(self, path: Path, limits: ArchiveLimits | None = None) -> None:
        """Open ``path`` and check every structural rule.

        Raises:
            ArchiveError: the file is not a readable zip or breaks a rule.
        """
        self.path = path
        self.subject = str(path)
        self.limits = limits or ArchiveLimits()
        try:
            self._file = path.open("rb")
        except OSError as exc:
            raise ArchiveError(self.subject, f"cannot read the file ({exc.strerror})") from exc
        try:
            self.identity = FileIdentity.of(path, self._file)
            self._zip = zipfile.ZipFile(self._file)
            _name_by_unicode_path(self._zip)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError) as exc:
            self._file.close()
            raise ArchiveError(self.subject, f"not a readable zip archive ({exc})") from exc
        except OSError as exc:
            self._file.close()
            raise ArchiveError(self.subject, f"cannot read the file ({exc.strerror})") from exc
        try:
            self.members = self._check_structure()
        except ArchiveError:
            self.close()
            raise

    def __enter__(self) -> SafeZip:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the underlying file."""
        self._zip.close()
        self._file.close()

    def _reject(self, problem: str, member: str | None = None) -> ArchiveError:
        where = f"member {quoted(member)}: " if member is not None else ""
        return ArchiveError(self.subject, where + problem, member=member)

    def _check_structure(self) -> dict[str, Member]:
        infos = self._zip.infolist()
        limits = self.limits
        if len(infos) > limits.max_members:
            raise self._reject(f"{len(infos)} members, more than the limit of {limits.max_members}")
        seen: set[str] = set()
        folded: set[str] = set()
        members: dict[str, Member] = {}
        total = 0
        for info in infos:
            name = info.filename
            problem = check_member_name(name)
            if problem:
                raise self._reject(problem, name)
            if name in seen:
                raise self._reject("duplicate member name", name)
            if name.casefold() in folded:
                raise self._reject("member name differs from another only by case", name)
            seen.add(name)
            folded.add(name.casefold())
            problem = _check_type(info)
            if problem:
                raise self._reject(problem, name)
            if info.flag_bits & 0x1:
                raise self._reject("encrypted members are not allowed", name)
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise self._reject(f"compression method {info.compress_type} is not allowed", name)
            if info.is_dir():
                continue
            if info.file_size > limits.max_member_size:
                raise self._reject(
                    f"{info.file_size} bytes uncompressed, over the per-member limit of "
                    f"{limits.max_member_size}",
                    name,
                )
            total += info.file_size
            if total > limits.max_total_size:
                raise self._reject(
                    f"total uncompressed size exceeds the limit of {limits.max_total_size} bytes"
                )
            if info.file_size > limits.ratio_floor and (
                info.compress_size == 0 or info.file_size / info.compress_size > limits.max_ratio
            ):
                raise self._reject(
                    f"compression ratio {info.file_size}:{info.compress_size} exceeds "
                    f"{limits.max_ratio}:1 (zip bomb?)",
                    name,
                )
            members[name] = Member(name, info.file_size, info.compress_size)
        self._check_overlap(infos)
        return members

    def _check_overlap(self, infos: list[zipfile.ZipInfo]) -> None:
        ordered = sorted(infos, key=lambda i: i.header_offset)
        for current, following in itertools.pairwise(ordered):
            end = (
                current.header_offset
                + _LOCAL_HEADER_SIZE
                + len(_stored_name(current))
                + current.compress_size
            )
            if end > following.header_offset:
                raise self._reject("overlaps the next member (zip bomb?)", current.filename)

    def read_small(self, name: str, limit: int) -> bytes:
        """Read a whole member that must not exceed ``limit`` bytes, in one piece.

        One read decompresses the member straight into a single buffer: every member is
        needed whole (to parse it), and reading it in chunks only to join them costs a copy.

        Raises:
            ArchiveError: the member is missing, too large, truncated, longer than declared
                or damaged (bad deflate data or CRC).
        """
        member = self.members.get(name)
        if member is None:
            raise self._reject("required member is missing", name)
        if member.size > limit:
            raise self._reject(f"{member.size} bytes, more than the {limit} allowed", name)
        try:
            with self._zip.open(name) as handle:
                info = self._zip.getinfo(name)
                if info.compress_type == zipfile.ZIP_DEFLATED:
                    data = self._inflate(info)
                else:
                    handle_io: IO[bytes] = handle
                    # One byte more than declared shows a member that runs on.
                    data = handle_io.read(member.size + 1)
        except (zipfile.BadZipFile, zlib.error, _INFLATE_ERROR, EOFError, ValueError) as exc:
            raise self._reject(f"damaged data ({exc})", name) from exc
        except OSError as exc:
            raise self._reject(f"read failed ({exc})", name) from exc
        if len(data) > member.size:
            raise self._reject("more data than its declared size", name)
        if len(data) != member.size:
            raise self._reject(f"{len(data)} bytes, but {member.size} declared", name)
        return data

    def _inflate(self, info: zipfile.ZipInfo) -> bytes:
        # zipfile inflates with zlib in 64 KiB steps and joins them; one call into ISA-L
        # (python-isal) inflates the same member in about half the CPU time (measured in
        # benchmarks/README.md). zipfile.open, called before this, has checked the local
        # header; the data starts after its name and extra field.
        fd = self._file.fileno()
        header = os.pread(fd, _LOCAL_HEADER_SIZE, info.header_offset)
        if len(header) != _LOCAL_HEADER_SIZE:
            raise EOFError("truncated local header")
        name_size, extra_size = struct.unpack_from("<HH", header, 26)
        start = info.header_offset + _LOCAL_HEADER_SIZE + name_size + extra_size
        compressed = os.pread(fd, info.compress_size, start)
        if len(compressed) != info.compress_size:
            raise EOFError("truncated member data")
        inflater = isal_zlib.decompressobj(-zlib.MAX_WBITS)
        # One byte more than declared shows a member that runs on.
        data = inflater.decompress(compressed, info.file_size + 1)
        if len(data) <= info.file_size and not inflater.eof:
            raise EOFError("compressed data ends before the end of the stream")
        # ISA-L's CRC-32 takes a tenth of zlib's time (1.4 ms against 13 ms for 32 MiB).
        if len(data) == info.file_size and isal_zlib.crc32(data) != info.CRC:
            raise zipfile.BadZipFile(f"Bad CRC-32 for file {info.filename!r}")
        return data
