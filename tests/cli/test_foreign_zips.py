"""A valid signed feed packed by other tools is accepted by ``update --offline`` (issue #14:
Python's writestr, Info-ZIP, shutil.make_archive, Windows and 7-Zip style entries)."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from feedmgr.feed.store import FeedStore
from tests.conftest import RunCli
from tests.feed.netserver import NEW_VERSION, PUBLIC_KEY, Packages

Repack = Callable[[Path, Path], None]


def _python_writestr(tree: Path, out: Path) -> None:
    # ZipFile.writestr with a plain name: mode 0600 and no file-type bits.
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in tree.rglob("*") if p.is_file()):
            archive.writestr(path.relative_to(tree).as_posix(), path.read_bytes())


def _info_zip(tree: Path, out: Path) -> None:
    # Info-ZIP Zip 3.0, recursing: directory entries plus members with full Unix modes.
    subprocess.run(["zip", "-q", "-r", "-X", str(out), "."], cwd=tree, check=True)


def _make_archive(tree: Path, out: Path) -> None:
    shutil.make_archive(str(out.with_suffix("")), "zip", root_dir=tree)


def _msdos_host(attributes: Callable[[bool], int]) -> Repack:
    def repack(tree: Path, out: Path) -> None:
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(tree.rglob("*")):
                name = path.relative_to(tree).as_posix() + ("/" if path.is_dir() else "")
                info = zipfile.ZipInfo(name, date_time=(2026, 12, 1, 12, 0, 0))
                info.create_system = 0  # "version made by": MS-DOS / FAT
                info.external_attr = attributes(path.is_dir())
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, b"" if path.is_dir() else path.read_bytes())

    return repack


# Windows tools (Explorer, .NET ZipFile): MS-DOS attributes only (archive 0x20, dir 0x10).
_windows = _msdos_host(lambda directory: 0x10 if directory else 0x20)
# 7-Zip: MS-DOS host, the Unix mode in the high bits, marked by the 0x8000 extension bit.
_seven_zip = _msdos_host(
    lambda directory: (
        ((0o40755 if directory else 0o100644) << 16) | 0x8000 | (0x10 if directory else 0x20)
    )
)


@pytest.mark.parametrize(
    "repack",
    [_python_writestr, _info_zip, _make_archive, _windows, _seven_zip],
    ids=["python-writestr", "info-zip", "shutil-make-archive", "windows", "7-zip"],
)
def test_signed_feed_repacked_by_another_tool_is_accepted(
    run_cli: RunCli, packages: Packages, tmp_path: Path, home: Path, repack: Repack
) -> None:
    """The same signed files, zipped by another packer, ingest and activate (exit 0)."""
    if repack is _info_zip and shutil.which("zip") is None:
        pytest.skip("Info-ZIP zip not installed (apt install zip); .ci/run installs it")
    tree = tmp_path / "tree"
    original = tmp_path / "original.zip"
    original.write_bytes(packages.new.data)
    with zipfile.ZipFile(original) as archive:
        archive.extractall(tree)
    repacked = tmp_path / "repacked.zip"
    repack(tree, repacked)
    result = run_cli("update", "--offline", repacked, "--trust", PUBLIC_KEY)
    assert result.code == 0, result.err
    active = FeedStore(home).active()
    assert active is not None
    assert active.version == NEW_VERSION
