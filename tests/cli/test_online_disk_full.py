"""Online ``update`` and ``download`` when the disk cannot take the package.

README, exit codes: 5 means the store cannot be written (a full disk); a ``-o`` output that
cannot be written is a usage error (2, "cannot write here"). Two real mechanisms: a small
tmpfs (needs root and mount rights, skipped otherwise) and a file-size limit
(RLIMIT_FSIZE, which makes writes past it fail with EFBIG when SIGXFSZ is ignored).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import resource
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from feedmgr.feed.store import FeedStore
from tests.conftest import REPO, RunCli
from tests.feed.factory import Publisher, build_feed
from tests.feed.netserver import Entry, atom_index, leftovers
from tests.feed.test_package import _documents

INDEX = "/index.xml"


@dataclass(frozen=True)
class BigFeed:
    """A signed package of about a megabyte, offered by the loopback server."""

    data: bytes
    index_url: str


@pytest.fixture
def big_feed(
    https_server: HTTPServer, publisher: Publisher, tmp_path: Path, trusted_home: Path
) -> BigFeed:
    """A package far larger than the space the tests leave for it, trusted by the home."""
    del trusted_home
    path = build_feed(tmp_path / "build", publisher, "3.0", extra_files=_documents(3_000_000))
    data = path.read_bytes()
    entry = Entry("feed-3.0.zip", "3.0", hashlib.sha256(data).hexdigest(), len(data))
    https_server.expect_request(INDEX).respond_with_data(
        atom_index([entry]), content_type="application/atom+xml"
    )
    https_server.expect_request("/feed-3.0.zip").respond_with_data(
        data, content_type="application/zip"
    )
    return BigFeed(data, https_server.url_for(INDEX))


def _limited_run(limit: int, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """``python -m feedmgr ARGS`` with files capped at ``limit`` bytes (EFBIG past it)."""

    def cap_files() -> None:
        # Ignored, SIGXFSZ no longer kills the process; the write fails with EFBIG instead.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run(
        [sys.executable, "-m", "feedmgr", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        # Runs in the child between fork and exec; the limit then holds for feedmgr alone.
        preexec_fn=cap_files,
        check=False,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )


@pytest.mark.parametrize("command", ["update", "download"])
def test_a_download_that_does_not_fit_is_a_store_error_naming_the_home(
    command: str, big_feed: BigFeed, home: Path, ca_bundle: Path, publisher: Publisher
) -> None:
    """When the home cannot take the package (writes fail with EFBIG), update and download
    exit 5 with one line naming the home, not an internal error; nothing is left behind."""
    extra = ["-o", home.parent / "out" / "feed.zip"] if command == "download" else []
    (home.parent / "out").mkdir()
    before = sorted(p.name for p in home.iterdir())
    result = _limited_run(
        len(big_feed.data) // 2,
        "--home", home, command, "--url", big_feed.index_url, "--ca-bundle", ca_bundle,
        *extra,
    )  # fmt: skip
    assert result.returncode == 5, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"feedmgr: error: {home}: ")
    assert "internal error" not in result.stderr
    assert sorted(p.name for p in home.iterdir()) == before
    assert leftovers(home) == []
    assert list((home.parent / "out").iterdir()) == []
    assert FeedStore(home).active() is None


@contextlib.contextmanager
def _small_tmpfs(size: str) -> Iterator[Path]:
    """A freshly mounted tmpfs of ``size``; skips the test where mounting is not allowed."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mountpoint = Path(tempfile.mkdtemp(prefix="feedmgr-tmpfs-"))
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mountpoint)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        mountpoint.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", str(mountpoint)], check=True)
        mountpoint.rmdir()


def test_update_into_a_full_filesystem_exits_5(
    run_cli: RunCli, big_feed: BigFeed, home: Path, ca_bundle: Path, publisher: Publisher
) -> None:
    """On a real filesystem too small for the package, update exits 5 naming the home
    (ENOSPC), and the store stays as it was."""
    with _small_tmpfs("512k") as small:
        small_home = small / "home"
        trust = run_cli("--home", small_home, "trust", "add", publisher.public_pem, use_home=False)
        assert trust.code == 0, trust.err
        result = run_cli(
            "--home", small_home, "update", "--url", big_feed.index_url, "--ca-bundle", ca_bundle,
            use_home=False,
        )  # fmt: skip
        assert result.code == 5, result.err
        assert result.err.startswith(f"feedmgr: error: {small_home}: ")
        assert "No space left on device" in result.err
        assert len(result.err.splitlines()) == 1
        assert leftovers(small_home) == []
        assert FeedStore(small_home).active() is None


def test_download_to_a_full_target_is_a_usage_error(
    run_cli: RunCli, big_feed: BigFeed, ca_bundle: Path
) -> None:
    """download -o onto a full filesystem exits 2 "cannot write here" naming the output, as
    other -o errors do, and leaves no partial file there."""
    with _small_tmpfs("512k") as small:
        output = small / "feed.zip"
        result = run_cli(
            "download", "--url", big_feed.index_url, "--ca-bundle", ca_bundle, "-o", output
        )
        assert result.code == 2, result.err
        assert result.err.startswith(f"feedmgr: error: {output}: cannot write here")
        assert list(small.iterdir()) == []
