"""Write files so that readers see the old content or the new, never a part of either."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def write_atomically(
    path: Path,
    write: Callable[[BinaryIO], object],
    *,
    mode: int = 0o644,
    create_folder: bool = False,
) -> None:
    """Create ``path`` through a temporary file beside it, fsync it, then rename it in place.

    ``write`` receives the open binary file. On any failure (or interruption) the temporary
    file is removed and ``path`` is untouched. The folder must exist unless
    ``create_folder`` is set, which is for folders feedmgr owns (inside the home): a folder
    a user named that is missing (a typo, a USB stick not mounted) must not be created, or
    the file would land somewhere nobody looks.

    Raises:
        FileNotFoundError: the folder does not exist (and ``create_folder`` is not set).
        OSError: the folder or the file cannot be written (callers map it to their error).
    """
    if create_folder:
        path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.chmod(mode)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes_atomically(
    path: Path, data: bytes, *, mode: int = 0o644, create_folder: bool = False
) -> None:
    """``write_atomically`` for bytes already in memory.

    Raises:
        OSError: as ``write_atomically``.
    """
    write_atomically(
        path, lambda handle: handle.write(data), mode=mode, create_folder=create_folder
    )


def write_text_atomically(
    path: Path, text: str, *, mode: int = 0o644, create_folder: bool = False
) -> None:
    """``write_atomically`` for UTF-8 text.

    Raises:
        OSError: as ``write_atomically``.
    """
    write_bytes_atomically(path, text.encode("utf-8"), mode=mode, create_folder=create_folder)
