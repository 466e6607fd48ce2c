"""The safe zip reader on its own: name rules, limits, and arbitrary bytes."""

from __future__ import annotations

import contextlib
import io
import re
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedmgr.errors import ArchiveError, InputRejected
from feedmgr.feed.archive import ArchiveLimits, SafeZip, check_member_name
from feedmgr.feed.manifest import parse_manifest
from feedmgr.feed.package import verify_package
from feedmgr.feed.signing import load_public_key
from tests.feed.factory import HandMadeFeed, Publisher, RawMember, write_zip


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("os/catalog.json", None),
        ("checks/a-b_c.1.json", None),
        ("dir/", None),
        ("", "empty"),
        ("/abs", "absolute"),
        ("../x", "'..'"),
        ("a/./b", "'.'"),
        ("a//b", "empty"),
        ("C:/x", "drive letter"),
        ("c:x", "drive letter"),
        ("a\\b", "backslash"),
        ("a\x00b", "control"),
        ("a\nb", "control"),
    ],
)
def test_member_name_rules(name: str, problem: str | None) -> None:
    """Each unsafe name is refused with a reason; ordinary relative paths pass."""
    reason = check_member_name(name)
    if problem is None:
        assert reason is None
    else:
        assert reason is not None
        assert problem in reason


@pytest.mark.parametrize(
    ("limits", "expected"),
    [
        (ArchiveLimits(max_members=2), "more than the limit of 2"),
        (ArchiveLimits(max_member_size=1000), "per-member limit"),
        (ArchiveLimits(max_total_size=3000), "total uncompressed size"),
    ],
)
def test_limits_are_enforced_before_reading(
    tmp_path: Path, limits: ArchiveLimits, expected: str
) -> None:
    """Member count, member size and total size limits reject from the directory alone."""
    path = write_zip(
        tmp_path / "z.zip", [RawMember(f"checks/{n}.json", bytes(range(256)) * 8) for n in range(3)]
    )
    with pytest.raises(ArchiveError, match=expected):
        SafeZip(path, limits)


def test_directory_entries_are_allowed(tmp_path: Path) -> None:
    """Zip tools add folder entries; they are not members and do not count as payload."""
    path = write_zip(
        tmp_path / "z.zip", [RawMember("os/", b"", mode=0o040755), RawMember("os/a.json", b"{}")]
    )
    with SafeZip(path) as archive:
        assert list(archive.members) == ["os/a.json"]


# zipfile cuts names at NUL and cannot encode lone surrogates: keep to names it can write.
_names = st.text(
    st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), min_size=1, max_size=20
)


def _zip_bytes(names: list[str]) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w") as archive:
        warnings.simplefilter("ignore", UserWarning)
        for name in names:
            archive.writestr(name, b"{}")
    return buffer.getvalue()


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.binary(max_size=2048) | st.builds(_zip_bytes, st.lists(_names, max_size=4, unique=True))
)
def test_arbitrary_bytes_only_ever_raise_archive_error(tmp_path: Path, data: bytes) -> None:
    """Whatever the bytes, opening and reading them raises ArchiveError or succeeds."""
    path = tmp_path / "fuzz.zip"
    path.write_bytes(data)
    try:
        with SafeZip(path) as archive:
            for name in archive.members:
                archive.read_small(name, 1 << 20)
    except ArchiveError:
        pass


@given(st.binary(max_size=512) | st.text(max_size=300).map(str.encode))
def test_manifest_parser_is_total(data: bytes) -> None:
    """parse_manifest on any bytes returns a Manifest or raises its documented error."""
    try:
        parse_manifest(data, "feed.zip")
    except InputRejected as exc:
        subject = exc.subject
    else:
        subject = "feed.zip"
    assert subject == "feed.zip"


# -- member types (issue #14: other packers' zips) -----------------------------------------


def _typed_zip(path: Path, *members: tuple[str, int, int]) -> Path:
    """A zip whose members are (name, create_system, external_attr), as other tools write."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, system, attributes in members:
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.create_system = system
            info.external_attr = attributes
            archive.writestr(info, b"" if name.endswith("/") else b"{}")
    return path


UNIX, MSDOS, NTFS = 3, 0, 11
SEVEN_ZIP = 0x8000  # 7-Zip's "Unix extension" attribute bit
ARCHIVE, READ_ONLY, DIRECTORY = 0x20, 0x01, 0x10


@pytest.mark.parametrize(
    ("system", "attributes"),
    [
        (UNIX, 0o600 << 16),  # Python's writestr: permissions, no file-type bits
        (UNIX, 0),  # no mode at all
        (UNIX, 0o100644 << 16),  # Info-ZIP zip, shutil.make_archive
        (MSDOS, ARCHIVE),  # Windows tools: MS-DOS attributes only
        (MSDOS, ARCHIVE | READ_ONLY),
        (MSDOS, 0o600 << 16),  # Python's writestr on Windows
        (MSDOS, 0o100644 << 16 | SEVEN_ZIP | ARCHIVE),  # 7-Zip with a Unix mode
        (MSDOS, 0o644 << 16 | SEVEN_ZIP | ARCHIVE),  # 7-Zip, permissions only
        (MSDOS, 0o120777 << 16 | ARCHIVE),  # inconsistent with MS-DOS flags: ignored
        (NTFS, ARCHIVE),  # Windows XP's compressed folders
        (NTFS, 0o120777 << 16 | ARCHIVE),  # NTFS hosts carry no Unix mode
    ],
)
def test_regular_files_from_other_packers_are_accepted(
    tmp_path: Path, system: int, attributes: int
) -> None:
    """What Info-ZIP extracts as a regular file is accepted as one: no type bits, MS-DOS
    attributes, 7-Zip's Unix extension, hosts without Unix modes."""
    path = _typed_zip(tmp_path / "f.zip", ("os/catalog.json", system, attributes))
    with SafeZip(path) as archive:
        assert list(archive.members) == ["os/catalog.json"]


@pytest.mark.parametrize(
    ("system", "attributes", "problem"),
    [
        (UNIX, 0o120777 << 16, "symbolic link"),
        (UNIX, 0o020644 << 16, "character device"),
        (UNIX, 0o060644 << 16, "block device"),
        (UNIX, 0o010644 << 16, "FIFO"),
        (UNIX, 0o140755 << 16, "socket"),
        (UNIX, 0o160644 << 16, "unknown file type 0o160000"),
        (UNIX, 0o040755 << 16, "directory type"),
        (MSDOS, 0o120777 << 16 | SEVEN_ZIP | ARCHIVE, "symbolic link"),
        (MSDOS, 0o120644 << 16 | ARCHIVE, "symbolic link"),  # consistent owner bits
    ],
)
def test_special_members_are_refused(
    tmp_path: Path, system: int, attributes: int, problem: str
) -> None:
    """Symbolic links, devices, FIFOs, sockets and unknown types are refused by name."""
    path = _typed_zip(tmp_path / "f.zip", ("checks/x.json", system, attributes))
    with pytest.raises(ArchiveError) as caught, SafeZip(path):
        pass
    assert caught.value.problem.startswith(f"member 'checks/x.json': {problem}")
    assert caught.value.details["member"] == "checks/x.json"


@pytest.mark.parametrize(
    ("sample", "members"),
    [
        ("zip/winxp.zip", ["dir/bar", "hello", "readonly"]),
        ("zip/unix.zip", ["dir/bar", "hello", "readonly"]),
        ("zip/msdos.zip", ["a/gru\u2560\u00ean.png", "ab"]),
    ],
)
def test_real_zips_made_by_windows_and_info_zip_are_readable(
    asset: Callable[[str], Path], sample: str, members: list[str]
) -> None:
    """Zips from Windows XP's compressed folders (NTFS host), a Windows archiver (MS-DOS
    host, attributes only) and Info-ZIP on Unix pass the member checks, directory entries
    included."""
    with SafeZip(asset(sample)) as archive:
        assert sorted(archive.members) == members


_MEMBER = b", ".join(
    b'{"name": "pc_%d", "kind": "file", "platforms": ["macos"], "value": %d}' % (i, i * i % 977)
    for i in range(2000)
)


def _one_member_zip(path: Path, data: bytes = _MEMBER) -> tuple[bytearray, int, int]:
    """A zip of one deflated member; its bytes and the offsets of its local header and of
    its central directory entry (for patching one field)."""
    write_zip(path, [RawMember("checks/a.json", data)])
    raw = bytearray(path.read_bytes())
    return raw, raw.index(b"PK\x03\x04"), raw.index(b"PK\x01\x02")


def _patch(raw: bytearray, offsets: list[int], value: int) -> None:
    for offset in offsets:
        raw[offset : offset + 4] = value.to_bytes(4, "little")


def _read(path: Path) -> bytes:
    with SafeZip(path) as archive:
        return archive.read_small("checks/a.json", 1 << 24)


def test_deflated_member_reads_back_byte_for_byte(tmp_path: Path) -> None:
    """A deflated member is inflated to exactly the bytes that were zipped."""
    path = tmp_path / "ok.zip"
    _one_member_zip(path)
    assert _read(path) == _MEMBER


def test_wrong_crc_is_damaged_data(tmp_path: Path) -> None:
    """Intact deflate data whose CRC-32 disagrees with the directory is refused."""
    path = tmp_path / "crc.zip"
    raw, local, central = _one_member_zip(path)
    _patch(raw, [local + 14, central + 16], 0x12345678)
    path.write_bytes(raw)
    with pytest.raises(ArchiveError, match=r"damaged data \(Bad CRC-32"):
        _read(path)


def test_member_inflating_past_its_declared_size_is_refused(tmp_path: Path) -> None:
    """Deflate data that yields more bytes than the directory declares is refused without
    inflating the rest (a zip bomb that lies about its size)."""
    path = tmp_path / "long.zip"
    raw, local, central = _one_member_zip(path)
    _patch(raw, [local + 22, central + 24], len(_MEMBER) - 100)
    path.write_bytes(raw)
    with pytest.raises(ArchiveError, match="more data than its declared size"):
        _read(path)


def test_member_inflating_short_of_its_declared_size_is_refused(tmp_path: Path) -> None:
    """Deflate data that ends before the declared size is refused with both sizes."""
    path = tmp_path / "short.zip"
    raw, local, central = _one_member_zip(path)
    _patch(raw, [local + 22, central + 24], len(_MEMBER) + 100)
    path.write_bytes(raw)
    with pytest.raises(ArchiveError, match=rf"{len(_MEMBER)} bytes, but {len(_MEMBER) + 100}"):
        _read(path)


@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(position=st.integers(min_value=0, max_value=10_000), xor=st.integers(1, 255))
def test_any_flipped_byte_of_member_data_is_caught(tmp_path: Path, position: int, xor: int) -> None:
    """One corrupted byte in the deflate data: ArchiveError, or (where deflate cannot tell)
    the CRC still guarantees the original bytes; never other bytes, never another error."""
    path = tmp_path / "flip.zip"
    raw, local, _central = _one_member_zip(path)
    name_size, extra_size = (
        int.from_bytes(raw[local + o : local + o + 2], "little") for o in (26, 28)
    )
    start = local + 30 + name_size + extra_size
    compressed = int.from_bytes(raw[local + 18 : local + 22], "little")
    raw[start + position % compressed] ^= xor
    path.write_bytes(raw)
    with contextlib.suppress(ArchiveError):
        assert _read(path) == _MEMBER


def _zip_with_cp437_name(path: Path, name: str, extra: bytes = b"") -> Path:
    """A zip whose first member's name is stored in cp437 (general purpose flag bit 11 off),
    as legacy Windows packers write it, followed by an honest ASCII member."""
    placeholder = "_" * len(name.encode("cp437"))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo(placeholder, date_time=(2024, 1, 1, 0, 0, 0))
        info.extra = extra
        archive.writestr(info, b"notes")
        archive.writestr("os/catalog.json", b"{}")
    # zipfile would store a non-ASCII name as UTF-8 (flag bit 11 on): patch the bytes in.
    raw = path.read_bytes().replace(placeholder.encode(), name.encode("cp437"))
    path.write_bytes(raw)
    return path


def test_a_cp437_member_name_is_not_mistaken_for_an_overlap(tmp_path: Path) -> None:
    """A non-ASCII cp437 name is as many bytes as characters: no false 'overlap' refusal."""
    path = _zip_with_cp437_name(tmp_path / "legacy.zip", "Résumé.txt")
    with SafeZip(path) as archive:
        assert set(archive.members) == {"Résumé.txt", "os/catalog.json"}


def _unicode_path_extra(stored_name: bytes, unicode_name: str) -> bytes:
    """Info-ZIP Unicode Path extra field (0x7075): version 1, CRC-32 of the stored name,
    the name in UTF-8 (APPNOTE 4.6.9)."""
    import struct
    import zlib

    body = b"\x01" + struct.pack("<I", zlib.crc32(stored_name)) + unicode_name.encode()
    return struct.pack("<HH", 0x7075, len(body)) + body


def test_a_unicode_path_extra_field_names_the_member(tmp_path: Path) -> None:
    """A cp437 name with a valid Info-ZIP Unicode Path field is the member's name, as unzip
    and Python 3.13's zipfile name it (3.11 and 3.12 would keep the cp437 name): the same
    archive gives the same names on every Python."""
    stored = "Resume?.txt"
    extra = _unicode_path_extra(stored.encode("cp437"), "Résumé€.txt")
    path = _zip_with_cp437_name(tmp_path / "legacy.zip", stored, extra)
    with SafeZip(path) as archive:
        assert set(archive.members) == {"Résumé€.txt", "os/catalog.json"}


def test_a_stale_unicode_path_extra_field_is_ignored(tmp_path: Path) -> None:
    """A Unicode Path field whose CRC no longer matches the stored name (a tool renamed the
    member and left the field behind) does not rename it."""
    stored = "Resume?.txt"
    extra = _unicode_path_extra(b"another name", "Résumé€.txt")
    path = _zip_with_cp437_name(tmp_path / "legacy.zip", stored, extra)
    with SafeZip(path) as archive:
        assert set(archive.members) == {stored, "os/catalog.json"}


def test_an_unlisted_cp437_member_is_reported_as_unlisted(
    tmp_path: Path, publisher: Publisher
) -> None:
    """A stray legacy-named file in a feed is 'not listed in the manifest', by its name."""
    members = HandMadeFeed.sample().members(publisher)
    members.append(RawMember("R_sum_.txt", b"notes"))
    path = write_zip(tmp_path / "feed.zip", members)
    path.write_bytes(path.read_bytes().replace(b"R_sum_.txt", "Résumé.txt".encode("cp437")))
    trusted = load_public_key(publisher.public_pem.read_bytes(), "pub.pem")
    unlisted = re.escape("member 'Résumé.txt' is not listed in the manifest")
    with pytest.raises(ArchiveError, match=unlisted):
        verify_package(path, [trusted])
