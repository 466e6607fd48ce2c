"""build -> verify -> update -> status -> rollback, through the CLI as a user runs it."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from tests.conftest import REPO, RunCli
from tests.feed.factory import Publisher, write_source

SAMPLE = REPO / "feeds" / "sample"


def test_round_trip_build_verify_update_status_rollback(
    tmp_path: Path, run_cli: RunCli, publisher: Publisher
) -> None:
    """A user builds two feeds, verifies, ingests both, checks status and rolls back."""
    key = publisher.private_pem(tmp_path)
    packages = []
    for version in ("2026.10.1", "2026.11.1"):
        src = write_source(tmp_path, version)
        out = tmp_path / f"{version}.zip"
        built = run_cli("feed", "build", src, "-o", out, "--key", key)
        assert built.code == 0, built.err
        packages.append(out)

    verified = run_cli("feed", "verify", packages[0], "--trust", publisher.public_pem)
    assert verified.code == 0
    assert "valid:" in verified.out
    assert run_cli("trust", "add", publisher.public_pem).code == 0
    for package in packages:
        assert run_cli("update", "--offline", package).code == 0

    status = run_cli("status", "--format", "json").json()
    assert status["active"]["version"] == "2026.11.1"
    assert status["stored_versions"] == 2
    assert status["counts"]["os_nodes"] == 14

    rolled = run_cli("rollback", "--format", "json")
    assert rolled.code == 0
    assert rolled.json() == {
        "status": "rolled-back",
        "version": "2026.10.1",
        "previous": "2026.11.1",
    }
    assert run_cli("status", "--format", "json").json()["active"]["version"] == "2026.10.1"

    forward = run_cli("rollback", "2026.11.1")
    assert forward.code == 0
    history = run_cli("history", "--format", "json").json()
    assert [a["action"] for a in history["activations"]] == [
        "update",
        "update",
        "rollback",
        "rollback",
    ]


def test_build_is_deterministic(tmp_path: Path, run_cli: RunCli, publisher: Publisher) -> None:
    """Building the same source twice gives byte-identical packages."""
    key = publisher.private_pem(tmp_path)
    src = write_source(tmp_path, "1.0")
    first, second = tmp_path / "a.zip", tmp_path / "b.zip"
    assert run_cli("feed", "build", src, "-o", first, "--key", key).code == 0
    assert run_cli("feed", "build", src, "-o", second, "--key", key).code == 0
    assert first.read_bytes() == second.read_bytes()


def test_shipped_sample_feed_is_the_build_of_its_source(tmp_path: Path, run_cli: RunCli) -> None:
    """feeds/sample/sample-feed.zip is exactly what building feeds/sample/src gives."""
    out = tmp_path / "rebuilt.zip"
    key = SAMPLE / "demo-publisher.key.pem"
    assert run_cli("feed", "build", SAMPLE / "src", "-o", out, "--key", key).code == 0
    assert out.read_bytes() == (SAMPLE / "sample-feed.zip").read_bytes()


def test_build_refuses_an_invalid_source(
    tmp_path: Path, run_cli: RunCli, publisher: Publisher
) -> None:
    """A payload that fails its schema stops the build with exit 3 naming the file."""
    key = publisher.private_pem(tmp_path)
    src = write_source(tmp_path, "1.0", extra_files={"checks/broken.json": b"{not json"})
    result = run_cli("feed", "build", src, "-o", tmp_path / "x.zip", "--key", key)
    assert result.code == 3
    assert "broken.json" in result.err
    assert not (tmp_path / "x.zip").exists()


def test_quick_start_from_the_readme_works(tmp_path: Path) -> None:
    """The README's quick start (trust the demo key, ingest the sample, status) succeeds."""
    home = tmp_path / "demo-home"
    for args in (
        ["trust", "add", str(SAMPLE / "demo-publisher.pub.pem")],
        ["update", "--offline", str(SAMPLE / "sample-feed.zip")],
        ["status"],
    ):
        result = subprocess.run(
            [sys.executable, "-m", "feedmgr", "--home", str(home), *args],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
    assert "active feed: 2026.11.25" in result.stdout


def test_damaged_blob_is_reported_and_blocks_rollback(
    tmp_path: Path, run_cli: RunCli, trusted_home: Path, publisher: Publisher
) -> None:
    """An altered payload blob makes status --verify exit 5 and rollback refuse it."""
    from tests.feed.factory import build_feed

    assert run_cli("update", "--offline", build_feed(tmp_path, publisher, "1.0")).code == 0
    assert run_cli("update", "--offline", build_feed(tmp_path, publisher, "2.0")).code == 0
    blobs = sorted((trusted_home / "blobs").rglob("*"))
    files = [b for b in blobs if b.is_file()]
    for blob in files:
        blob.write_bytes(b"tampered")
    verified = run_cli("status", "--verify")
    assert verified.code == 5
    assert "DAMAGED" in verified.out
    refused = run_cli("rollback")
    assert refused.code == 5
    assert "damaged payload" in refused.err


def test_damaged_database_is_a_store_error(tmp_path: Path, run_cli: RunCli, home: Path) -> None:
    """A store database that is not SQLite gives exit 5 and one line, no traceback."""
    home.mkdir()
    (home / "store.sqlite3").write_bytes(b"garbage" * 1000)
    result = run_cli("status")
    assert result.code == 5
    assert result.err.startswith("feedmgr: error: ")
    assert "Traceback" not in result.err


def test_status_of_an_empty_store(run_cli: RunCli, home: Path) -> None:
    """status on a fresh home says there is no feed and creates nothing."""
    result = run_cli("status")
    assert result.code == 0
    assert "no active feed" in result.out
    assert not home.exists()


def test_rollback_with_nothing_to_return_to(tmp_path: Path, run_cli: RunCli, home: Path) -> None:
    """rollback on an empty store, or to an unknown version, is a usage error (exit 2)."""
    assert run_cli("rollback").code == 2
    sample = tmp_path / "copy"
    shutil.copytree(SAMPLE, sample)
    assert run_cli("trust", "add", sample / "demo-publisher.pub.pem").code == 0
    assert run_cli("update", "--offline", sample / "sample-feed.zip").code == 0
    unknown = run_cli("rollback", "1999.1")
    assert unknown.code == 2
    assert "not in the store" in unknown.err
    # sqlite3's own context manager ends the transaction but leaves the connection open.
    with closing(sqlite3.connect(home / "store.sqlite3")) as conn:
        assert conn.execute("SELECT COUNT(*) FROM activations").fetchone()[0] == 1


def test_build_into_a_missing_folder_is_a_usage_error(
    tmp_path: Path, run_cli: RunCli, publisher: Publisher
) -> None:
    """-o in a folder that does not exist: exit 2 naming the folder, which is not created."""
    missing = tmp_path / "no-such-dir" / "sub"
    result = run_cli(
        "feed",
        "build",
        write_source(tmp_path, "1.0"),
        "-o",
        missing / "feed.zip",
        "--key",
        publisher.private_pem(tmp_path),
    )
    assert result.code == 2
    assert result.err == f"feedmgr: error: {missing}: no such folder for the package\n"
    assert not missing.parent.exists()


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_build_into_an_unwritable_folder_is_a_usage_error(
    tmp_path: Path, run_cli: RunCli, publisher: Publisher
) -> None:
    """-o in a folder no file can be created in (even by root): exit 2, one line."""
    output = Path("/proc/self/feed.zip")
    result = run_cli(
        "feed",
        "build",
        write_source(tmp_path, "1.0"),
        "-o",
        output,
        "--key",
        publisher.private_pem(tmp_path),
    )
    assert result.code == 2
    assert result.err.startswith(f"feedmgr: error: {output}: cannot write the package (")
    assert result.err.count("\n") == 1


def test_build_with_an_unreadable_source_file_names_it(publisher: Publisher) -> None:
    """A payload file the user cannot read is rejected input naming it (exit 3), not an
    internal error. As root, file modes stop nothing: the build then runs as nobody."""
    import stat
    import tempfile

    from tests.processes import as_unprivileged_user

    shared = Path(tempfile.mkdtemp(prefix="feedmgr-build-"))
    try:
        source = write_source(shared, "1.0")
        key = publisher.private_pem(shared)
        for path in [shared, *shared.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        unreadable = next(p for p in sorted(source.rglob("*.json")) if p.is_file())
        unreadable.chmod(0)
        prefix = as_unprivileged_user()
        command = [sys.executable, "-m", "feedmgr", "feed", "build", str(source)]
        command += ["-o", str(shared / "feed.zip"), "--key", str(key)]
        result = subprocess.run(
            [*prefix, *command], capture_output=True, text=True, check=False, cwd=shared
        )
        assert result.returncode == 3, result.stderr
        assert result.stderr == f"feedmgr: error: {unreadable}: cannot read (Permission denied)\n"
        assert not (shared / "feed.zip").exists()
        assert stat.S_IMODE(unreadable.stat().st_mode) == 0
    finally:
        for path in [shared, *shared.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        shutil.rmtree(shared)
