"""The store's own rules: who may write it, how long a writer waits, what it may delete."""

from __future__ import annotations

import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import RunCli
from tests.feed.factory import Publisher, build_feed
from tests.processes import as_unprivileged_user

Runner = Callable[..., subprocess.CompletedProcess[str]]


def _read_only_for_others(top: Path) -> None:
    for path in [top, *top.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        extra = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH
        if path.is_dir():
            extra |= stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH
        path.chmod(mode | extra)


@pytest.fixture
def shared_home() -> Iterator[Path]:
    """A store home in a folder of its own under the system's temporary folder (the test's
    tmp_path is private to this user)."""
    shared = Path(tempfile.mkdtemp(prefix="feedmgr-shared-"))
    try:
        yield shared / "home"
    finally:
        for path in [shared, *shared.rglob("*")]:
            if path.is_dir():
                path.chmod(0o755)
        shutil.rmtree(shared)


@pytest.fixture
def unwritable_home(run_cli: RunCli, shared_home: Path, publisher: Publisher) -> Runner:
    """A store holding two feeds, and a runner of ``feedmgr --home HOME ...`` as a user who
    can read that store but not write it."""
    home = shared_home
    shared = home.parent
    assert run_cli("--home", home, "trust", "add", publisher.public_pem, use_home=False).code == 0
    for version in ("1.0", "2.0"):
        package = build_feed(shared, publisher, version)
        assert run_cli("--home", home, "update", "--offline", package, use_home=False).code == 0
    shutil.copy(publisher.public_pem, shared / "publisher.pub.pem")
    prefix = as_unprivileged_user()
    if prefix:
        _read_only_for_others(shared)
    else:
        for path in [home, *home.rglob("*")]:
            path.chmod(0o555 if path.is_dir() else 0o444)

    def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "feedmgr", "--home", str(home), *map(str, args)]
        return subprocess.run(
            [*prefix, *command],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
            cwd=shared,
        )

    return run


@pytest.mark.parametrize(
    "args",
    [
        ("update", "--offline", "feed-2.0.zip"),
        ("trust", "add", "publisher.pub.pem", "--name", "again"),
        ("rollback", "1.0"),
    ],
    ids=["update", "trust-add", "rollback"],
)
def test_a_store_the_user_cannot_write_is_a_store_error(
    unwritable_home: Runner, shared_home: Path, args: tuple[str, ...]
) -> None:
    """Writing a store this user may only read exits 5 with one line naming the store."""
    result = unwritable_home(*args)
    assert result.returncode == 5, result.stderr
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"feedmgr: error: {shared_home}")
    assert "internal error" not in result.stderr


def test_reading_a_store_the_user_cannot_write_works(unwritable_home: Runner) -> None:
    """status needs no write access: the reader of a shared store sees the active feed."""
    result = unwritable_home("status")
    assert result.returncode == 0, result.stderr
    assert "active feed: 2.0" in result.stdout


@pytest.mark.parametrize("value", ["30s", "abc", "nan", "inf", "-1", "1e999", " "])
@pytest.mark.parametrize("command", ["status", "trust-add"])
def test_a_bad_lock_timeout_is_a_usage_error(
    run_cli: RunCli, publisher: Publisher, monkeypatch: pytest.MonkeyPatch, value: str, command: str
) -> None:
    """FEEDMGR_LOCK_TIMEOUT that is not a finite number of seconds >= 0 exits 2 naming it."""
    monkeypatch.setenv("FEEDMGR_LOCK_TIMEOUT", value)
    args = ["status"] if command == "status" else ["trust", "add", publisher.public_pem]
    result = run_cli(*args)
    assert result.code == 2, result.err
    assert result.err.startswith("feedmgr: error: FEEDMGR_LOCK_TIMEOUT: ")
    assert result.err.count("\n") == 1


@pytest.mark.parametrize("value", ["0", "2.5", "600"])
def test_a_lock_timeout_in_seconds_is_accepted(
    run_cli: RunCli, publisher: Publisher, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    """FEEDMGR_LOCK_TIMEOUT takes a number of seconds, 0 meaning 'do not wait'."""
    monkeypatch.setenv("FEEDMGR_LOCK_TIMEOUT", value)
    assert run_cli("trust", "add", publisher.public_pem).code == 0


def test_first_write_keeps_the_users_files_under_staging_and_blobs(
    run_cli: RunCli, home: Path, publisher: Publisher
) -> None:
    """--home on an existing folder: files feedmgr did not create survive the first write."""
    users = {
        "staging/cp-policy-drafts/cp-policy.yaml": "draft policy\n",
        "staging/notes.txt": "notes\n",
        "blobs/exports/endpoints.csv": "endpoint export\n",
        "blobs/ab/readme.txt": "not a blob\n",
        "blobs/ab/" + "c" * 61: "one hex digit short of a blob name\n",
    }
    for name, text in users.items():
        (home / name).parent.mkdir(parents=True, exist_ok=True)
        (home / name).write_text(text)

    assert run_cli("trust", "add", publisher.public_pem).code == 0

    assert {name: (home / name).read_text() for name in users} == users


def test_leftovers_of_a_dead_ingest_are_removed(
    tmp_path: Path, run_cli: RunCli, trusted_home: Path, publisher: Publisher
) -> None:
    """A staging folder and an unreferenced blob, as a killed ingest leaves them, go away."""
    assert run_cli("update", "--offline", build_feed(tmp_path, publisher, "1.0")).code == 0
    dead = trusted_home / "staging" / ("0123456789abcdef" * 2)
    dead.mkdir()
    (dead / "member-1").write_bytes(b"half written")
    orphan = trusted_home / "blobs" / "ee" / ("e" * 62)
    orphan.parent.mkdir()
    orphan.write_bytes(b"no feed refers to this")

    assert run_cli("trust", "add", publisher.public_pem, "--name", "again").code == 0

    assert not dead.exists()
    assert not orphan.exists()
