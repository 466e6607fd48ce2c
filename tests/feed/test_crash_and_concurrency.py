"""The store survives kill -9 at any moment and a full disk; concurrent updates are serialised."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.feed.factory import Publisher, build_feed, snapshot
from tests.processes import has_children

# Verify even these small feeds the way larger ones are: shared out in one-member batches
# with a worker process (forked, as on Linux whenever feedmgr runs a single thread).
_SHARED_VERIFICATION = (
    "import feedmgr.feed.package as package; "
    "package.PARALLEL_MIN_BYTES = package.FORKED_PARALLEL_MIN_BYTES = 0; "
    "package._BATCH_BYTES = 1; "
    "package.available_cores = lambda: 2; "
)
_RUN_CLI = "from feedmgr.launcher import run; run()"


with_and_without_workers = pytest.mark.parametrize(
    "shared", [False, True], ids=["in-process", "with-workers"]
)


def command(home: Path, *args: str | Path, shared: bool = False, setup: str = "") -> list[str]:
    """The command line of ``feedmgr --home HOME ARGS``, as ``python -m feedmgr`` runs it
    but with workers if ``shared``, after running the Python statements ``setup``."""
    launcher = ["-m", "feedmgr"]
    if shared or setup:
        launcher = ["-c", setup + (_SHARED_VERIFICATION if shared else "") + _RUN_CLI]
    return [sys.executable, *launcher, "--home", str(home), *map(str, args)]


def feedmgr(
    home: Path, *args: str | Path, shared: bool = False, setup: str = ""
) -> subprocess.Popen[str]:
    """Start feedmgr as a real process, in a session of its own (as a terminal would)."""
    return subprocess.Popen(
        command(home, *args, shared=shared, setup=setup),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def run(home: Path, *args: str | Path, shared: bool = False) -> subprocess.CompletedProcess[str]:
    """Run feedmgr to completion."""
    return subprocess.run(
        command(home, *args, shared=shared),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def bulky_feed(directory: Path, publisher: Publisher, version: str, documents: int = 40) -> Path:
    """A feed with enough payload that ingesting it takes a noticeable time."""
    rng = random.Random(version)
    conditions = [
        {
            "name": f"pc_bulk_{i}",
            "kind": "file",
            "platforms": ["windows"],
            "description": "".join(rng.choice("abcdefghij ") for _ in range(400)),
        }
        for i in range(300)
    ]
    extra = {
        f"checks/bulk-{n:03d}.json": json.dumps(
            {"format": "feedmgr-checks/1", "conditions": conditions}
        ).encode()
        for n in range(documents)
    }
    return build_feed(directory, publisher, version, extra_files=extra)


def status(home: Path) -> dict[str, object]:
    """``status --verify --format json``, asserting the store is sound."""
    result = run(home, "status", "--verify", "--format", "json")
    assert result.returncode == 0, result.stderr
    document: dict[str, object] = json.loads(result.stdout)
    assert document["damaged_files"] == []
    return document


@pytest.mark.slow
@with_and_without_workers
def test_kill_during_ingest_leaves_previous_feed_active(
    shared: bool, tmp_path: Path, publisher: Publisher
) -> None:
    """kill -9 at many points of an ingest: the old or the new feed is active, never a mix."""
    home = tmp_path / "home"
    assert run(home, "trust", "add", publisher.public_pem).returncode == 0
    first = bulky_feed(tmp_path, publisher, "1.0")
    started = time.monotonic()
    assert run(home, "update", "--offline", first, shared=shared).returncode == 0
    # Spread the kills over the time a whole ingest takes on this machine.
    full = time.monotonic() - started
    seen_versions = set()
    fractions = [0.2, 0.4, 0.55, 0.65, 0.75, 0.85, 0.92, 1.0]
    for attempt, delay in enumerate(full * f for f in fractions):
        version = f"2.{attempt}"
        package = bulky_feed(tmp_path, publisher, version)
        process = feedmgr(home, "update", "--offline", package, shared=shared)
        time.sleep(delay)
        os.kill(process.pid, signal.SIGKILL)
        # Returns once every process holding feedmgr's output is gone: workers included.
        process.communicate(timeout=60)
        active = status(home)["active"]
        assert isinstance(active, dict)
        seen_versions.add(active["version"])
        assert active["version"] in {"1.0", *(f"2.{n}" for n in range(attempt + 1))}
    # After all the crashes, a normal update still works and leaves nothing behind.
    final = bulky_feed(tmp_path, publisher, "3.0")
    result = run(home, "update", "--offline", final)
    assert result.returncode == 0, result.stderr
    assert status(home)["active"]["version"] == "3.0"  # type: ignore[index]
    assert not any((home / "staging").iterdir())
    referenced = run(home, "history", "--format", "json")
    assert referenced.returncode == 0


# Per start method: when to send the Ctrl-C after the first worker appears (covering its
# start-up and its work) and how many documents make the work last that long. A forked
# worker needs no interpreter start and imports nothing, so its whole run is shorter.
_CTRL_C_PLANS = {
    "spawn": ((0.0, 0.05, 0.1, 0.2, 0.3), 160),
    "fork": ((0.0, 0.01, 0.03, 0.06, 0.1), 320),
}


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("method", sorted(_CTRL_C_PLANS))
def test_ctrl_c_during_shared_verification_prints_one_line(
    tmp_path: Path, publisher: Publisher, method: str
) -> None:
    """Ctrl-C (SIGINT to the whole process group, as a terminal sends it) while workers
    start or verify: one "interrupted" line, exit 130, no worker traceback, the store
    unchanged; a Ctrl-C that comes while the workers start is not lost."""
    home = tmp_path / "home"
    assert run(home, "trust", "add", publisher.public_pem).returncode == 0
    assert run(home, "update", "--offline", bulky_feed(tmp_path, publisher, "1.0")).returncode == 0
    active, interrupted = "1.0", 0
    delays, documents = _CTRL_C_PLANS[method]
    setup = f"import feedmgr.feed.package as p; p.worker_start = lambda: ({method!r}, 0); "
    for attempt, delay in enumerate(delays):
        # A signal landing while the finished process tears its interpreter down would kill
        # it silently (CPython restores the default handler there): the payload is large
        # enough that most signals land during the work.
        package = bulky_feed(tmp_path, publisher, f"2.{attempt}", documents=documents)
        process = feedmgr(home, "update", "--offline", package, shared=True, setup=setup)
        while not has_children(process.pid) and process.poll() is None:
            time.sleep(0.002)
        time.sleep(delay)
        os.killpg(process.pid, signal.SIGINT)
        _out, err = process.communicate(timeout=120)
        if process.returncode == 0 and delay > 0:  # finished before the signal came
            active = f"2.{attempt}"
            continue
        interrupted += 1
        assert process.returncode == 130, err
        assert err == "feedmgr: interrupted\n"
        assert status(home)["active"]["version"] == active  # type: ignore[index]
        assert not any((home / "staging").iterdir())
    assert interrupted >= 3


@pytest.mark.slow
def test_concurrent_updates_are_serialised_and_none_is_lost(
    tmp_path: Path, publisher: Publisher
) -> None:
    """Four updates started together all succeed, one at a time; every feed is stored."""
    home = tmp_path / "home"
    assert run(home, "trust", "add", publisher.public_pem).returncode == 0
    packages = [bulky_feed(tmp_path, publisher, f"1.{n}") for n in range(4)]
    processes = [feedmgr(home, "update", "--offline", p, "--allow-downgrade") for p in packages]
    for process in processes:
        _out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
    history = json.loads(run(home, "history", "--format", "json").stdout)
    assert sorted(f["version"] for f in history["feeds"]) == ["1.0", "1.1", "1.2", "1.3"]
    assert len(history["activations"]) == 4
    status(home)


@pytest.mark.slow
def test_concurrent_same_feed_activates_once(tmp_path: Path, publisher: Publisher) -> None:
    """The same package ingested three times at once: one activation, two 'unchanged'."""
    home = tmp_path / "home"
    assert run(home, "trust", "add", publisher.public_pem).returncode == 0
    package = bulky_feed(tmp_path, publisher, "1.0")
    processes = [
        feedmgr(home, "update", "--offline", package, "--format", "json") for _ in range(3)
    ]
    statuses = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        statuses.append(json.loads(out)["status"])
    assert sorted(statuses) == ["activated", "unchanged", "unchanged"]


# Runs the CLI with files limited to 64 KiB, as a nearly full disk would: the store's
# database fits, the bulky feed's 150 KiB payload files do not.
_SMALL_DISK = (
    "import resource, signal, sys; "
    "signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
    "resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536)); "
)


@pytest.mark.skipif(sys.platform == "win32", reason="file size limits are POSIX")
@with_and_without_workers
def test_disk_full_during_ingest_is_a_store_error(
    shared: bool, tmp_path: Path, publisher: Publisher
) -> None:
    """A write that fails while staging exits 5 with one line; the store is as it was."""
    home = tmp_path / "home"
    assert run(home, "trust", "add", publisher.public_pem).returncode == 0
    assert run(home, "update", "--offline", build_feed(tmp_path, publisher, "1.0")).returncode == 0
    before = snapshot(home)
    package = bulky_feed(tmp_path, publisher, "2.0")

    result = subprocess.run(
        command(home, "update", "--offline", package, shared=shared, setup=_SMALL_DISK),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )

    assert result.returncode == 5, result.stderr
    assert result.stderr == (
        f"feedmgr: error: {home}: cannot write the feed into the store (File too large)\n"
    )
    assert snapshot(home) == before
    assert status(home)["active"]["version"] == "1.0"  # type: ignore[index]


@pytest.mark.skipif(sys.platform == "win32", reason="file size limits are POSIX")
def test_database_write_failure_is_not_called_damage(tmp_path: Path, publisher: Publisher) -> None:
    """When SQLite cannot write (its journal hits the limit), the message says so, not
    "damaged", and the store still works afterwards."""
    home = tmp_path / "home"
    assert run(home, "trust", "add", publisher.public_pem).returncode == 0
    before = snapshot(home)
    tiny_files = _SMALL_DISK.replace("65536, 65536", "4096, 4096")

    result = subprocess.run(
        command(
            home, "update", "--offline", build_feed(tmp_path, publisher, "1.0"), setup=tiny_files
        ),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )

    assert result.returncode == 5, result.stderr
    assert result.stderr.startswith(
        f"feedmgr: error: {home / 'store.sqlite3'}: cannot write the store database"
    )
    assert snapshot(home) == before
    assert status(home)["active"] is None


def test_lock_held_too_long_is_a_store_error(tmp_path: Path, publisher: Publisher) -> None:
    """When another process holds the store lock past the timeout, update exits 5."""
    from filelock import FileLock

    home = tmp_path / "home"
    assert run(home, "trust", "add", publisher.public_pem).returncode == 0
    package = build_feed(tmp_path, publisher, "1.0")
    with FileLock(str(home / "store.lock")):
        result = subprocess.run(
            [sys.executable, "-m", "feedmgr", "--home", str(home), "update", "--offline", package],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "FEEDMGR_LOCK_TIMEOUT": "0.5"},
        )
    assert result.returncode == 5
    assert "locked by another feedmgr process" in result.stderr


def test_reading_after_a_writer_died_mid_transaction_rolls_its_write_back(
    tmp_path: Path, publisher: Publisher
) -> None:
    """A writer killed after its change reached the database file leaves a hot journal:
    `status` replays it and shows the store as it was, instead of calling it damaged."""
    home = tmp_path / "home"
    assert run(home, "trust", "add", publisher.public_pem).returncode == 0
    assert run(home, "update", "--offline", build_feed(tmp_path, publisher, "1.0")).returncode == 0
    before = status(home)
    # A one-page cache makes SQLite spill the change into the database file before the
    # commit, as a long ingest's commit does; _exit then stands in for kill -9.
    dying_writer = (
        "import os, sqlite3, sys\n"
        "conn = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "conn.execute('PRAGMA cache_size = 1')\n"
        "conn.execute('BEGIN IMMEDIATE')\n"
        "conn.execute(\"UPDATE feeds SET publisher = 'half-written'\")\n"
        "for n in range(2000):\n"
        "    conn.execute('INSERT INTO meta VALUES (?, ?)', (f'junk{n}', 'x' * 500))\n"
        "os._exit(9)\n"
    )
    db = home / "store.sqlite3"
    subprocess.run([sys.executable, "-c", dying_writer, str(db)], check=False, timeout=60)
    assert (home / "store.sqlite3-journal").exists()
    after = status(home)
    assert after["active"] == before["active"]


# Sends SIGINT to feedmgr itself the moment SQLite's COMMIT of an ingest returns: the one
# moment a Ctrl-C can come that the timed test above only hits by chance.
_CTRL_C_AFTER_COMMIT = (
    "import os, signal, sqlite3\n"
    "_connect = sqlite3.connect\n"
    "class _Connection(sqlite3.Connection):\n"
    "    def execute(self, sql, *args):\n"
    "        cursor = super().execute(sql, *args)\n"
    "        if sql == 'COMMIT':\n"
    "            os.kill(os.getpid(), signal.SIGINT)\n"
    "        return cursor\n"
    "sqlite3.connect = lambda *a, **k: _connect(*a, factory=_Connection, **k)\n"
)


def test_ctrl_c_just_after_the_commit_keeps_the_activated_feed_whole(
    tmp_path: Path, publisher: Publisher
) -> None:
    """A Ctrl-C that lands just after the commit comes too late to stop the update: the new
    feed is active with every payload file in place, and feedmgr says so (exit 0). Before,
    the clean-up of a failed commit ran and removed the active feed's blobs."""
    home = tmp_path / "home"
    assert run(home, "trust", "add", publisher.public_pem).returncode == 0
    package = build_feed(tmp_path, publisher, "2.0")
    result = subprocess.run(
        command(home, "update", "--offline", package, setup=_CTRL_C_AFTER_COMMIT),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("activated: feed 2.0")
    assert status(home)["active"]["version"] == "2.0"  # type: ignore[index]
