"""Atomic writes: readers see the old file or the new one; folders are not invented."""

from __future__ import annotations

from pathlib import Path

import pytest

from feedmgr.atomic import write_bytes_atomically


def test_a_missing_folder_is_not_created(tmp_path: Path) -> None:
    """Writing into a folder that does not exist fails and creates nothing: where a user
    chose the path, a mistyped or unmounted folder must not swallow the file."""
    target = tmp_path / "media" / "usb" / "feed.zip"
    with pytest.raises(FileNotFoundError):
        write_bytes_atomically(target, b"data")
    assert list(tmp_path.iterdir()) == []


def test_a_folder_feedmgr_owns_is_created_on_request(tmp_path: Path) -> None:
    """With create_folder (folders inside the home), missing folders are made."""
    target = tmp_path / "home" / "releases" / "sofa-macos.json"
    write_bytes_atomically(target, b"{}", create_folder=True)
    assert target.read_bytes() == b"{}"
    assert [p.name for p in target.parent.iterdir()] == ["sofa-macos.json"]
