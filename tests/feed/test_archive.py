"""The safe zip reader on its own: name rules, limits, and arbitrary bytes."""

from __future__ import annotations

import io
import warnings
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedmgr.errors import ArchiveError, InputRejected
from feedmgr.feed.archive import ArchiveLimits, SafeZip, check_member_name
from feedmgr.feed.manifest import parse_manifest
from tests.feed.factory import RawMember, write_zip


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
                b"".join(archive.stream(name))
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
