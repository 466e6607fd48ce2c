"""How feed verification shares its work: when worker processes start and how."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

import feedmgr.feed.package
from feedmgr.feed.package import (
    FORKED_PARALLEL_MIN_BYTES,
    PARALLEL_MIN_BYTES,
    worker_start,
)
from tests.conftest import RunCli
from tests.feed.factory import Publisher, build_feed
from tests.feed.spies import spy_process_pools, spy_worker_threads

# These tests fork on purpose (the production code forks only when fork_is_safe()); pytest's
# own threads must not turn Python 3.12's warning about forking a threaded process into a
# failure here.
pytestmark = pytest.mark.filterwarnings(
    r"ignore:This process \(pid=\d+\) is multi-threaded:DeprecationWarning"
)


def test_forked_workers_pay_from_a_smaller_feed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A forked worker starts in milliseconds, so it pays from a much smaller feed."""
    monkeypatch.setattr(feedmgr.feed.package, "fork_is_safe", lambda: True)
    assert worker_start() == ("fork", FORKED_PARALLEL_MIN_BYTES)
    assert FORKED_PARALLEL_MIN_BYTES < PARALLEL_MIN_BYTES


def test_spawned_workers_where_fork_is_unsafe(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(feedmgr.feed.package, "fork_is_safe", lambda: False)
    assert worker_start() == ("spawn", PARALLEL_MIN_BYTES)


def _documents(*sizes: int) -> dict[str, bytes]:
    """Condition documents of about these sizes, compressing like real ones (not 200:1)."""
    rng = random.Random(7)
    documents = {}
    for n, size in enumerate(sizes):
        conditions = [
            {
                "name": f"pc_{n}_{i}",
                "kind": "file",
                "platforms": ["macos"],
                "description": "".join(rng.choice("abcdefghij ") for _ in range(90)),
            }
            for i in range(size // 150)
        ]
        documents[f"checks/doc-{n}.json"] = json.dumps(
            {"format": "feedmgr-checks/1", "conditions": conditions}
        ).encode()
    return documents


@pytest.mark.parametrize(
    ("sizes", "workers"),
    [((600_000,), False), ((600_000, 60_000), False), ((300_000, 300_000), True)],
    ids=["one large document", "little beside the largest", "two large documents"],
)
def test_workers_start_for_the_payload_beside_the_largest_document(  # noqa: PLR0917 - fixtures
    sizes: tuple[int, ...],
    workers: bool,
    tmp_path: Path,
    run_cli: RunCli,
    trusted_home: Path,
    publisher: Publisher,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The largest document is verified by one process whatever happens: a worker starts
    only when enough payload can be verified beside it (here 200 kB instead of 16 MiB)."""
    monkeypatch.setattr(feedmgr.feed.package, "worker_start", lambda: ("fork", 200_000))
    monkeypatch.setattr(feedmgr.feed.package, "available_cores", lambda: 2)
    started = spy_process_pools(monkeypatch)
    feed = build_feed(tmp_path, publisher, "1.0", extra_files=_documents(*sizes))

    assert run_cli("update", "--offline", feed).code == 0
    assert started == (["fork"] if workers else [])
    status = run_cli("status", "--verify", "--format", "json").json()
    assert status["damaged_files"] == []


def test_a_library_caller_without_processes_gets_a_thread_only_for_large_feeds(
    tmp_path: Path,
    run_cli: RunCli,
    trusted_home: Path,
    publisher: Publisher,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without worker processes a worker thread mostly waits for the GIL and holds a second
    document in the same process: it starts only from PARALLEL_MIN_BYTES beside the
    largest document, whatever a forked worker would have needed."""
    monkeypatch.setattr(feedmgr.feed.package, "worker_processes_allowed", lambda: False)
    monkeypatch.setattr(feedmgr.feed.package, "worker_start", lambda: ("fork", 200_000))
    threads = spy_worker_threads(monkeypatch)
    feed = build_feed(tmp_path, publisher, "1.0", extra_files=_documents(300_000, 300_000))

    assert run_cli("update", "--offline", feed).code == 0
    assert threads == []

    monkeypatch.setattr(feedmgr.feed.package, "PARALLEL_MIN_BYTES", 200_000)
    feed = build_feed(tmp_path, publisher, "1.1", extra_files=_documents(300_000, 300_001))
    assert run_cli("update", "--offline", feed).code == 0
    assert threads
    assert all(name.startswith("feed-worker") for name in threads)


def test_text_not_yet_flushed_is_printed_once_with_forked_workers(
    tmp_path: Path, publisher: Publisher
) -> None:
    """A library caller's output still in stdout's buffer when workers are forked is not
    printed again by each worker as it ends: multiprocessing flushes the buffers before it
    forks (and a worker flushes its copies when it ends)."""
    feed = build_feed(tmp_path, publisher, "1.0", extra_files=_documents(300_000, 300_000))
    program = (
        "import sys\n"
        "from pathlib import Path\n"
        "import feedmgr.feed.package as package\n"
        "from feedmgr.parallel import allow_worker_processes\n"
        "package.worker_start = lambda: ('fork', 0)\n"
        "package.available_cores = lambda: 2\n"
        "allow_worker_processes()\n"
        "sys.stdout.write('before|')\n"
        f"package.verify_package(Path({str(feed)!r}), [], allow_unsigned=True)\n"
        "sys.stdout.write('after')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True
    )
    assert result.stdout == "before|after"
