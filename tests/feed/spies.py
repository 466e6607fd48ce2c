"""Where an ingest's verification work went: process pools started, batches a thread took."""

from __future__ import annotations

import concurrent.futures
import threading
from typing import Any

import pytest

import feedmgr.feed.package


def spy_process_pools(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The start method of every process pool started from now on, in order.

    The pool is imported where it is started (a feed verified in one process never needs
    it), so it is spied on in concurrent.futures.
    """
    started: list[str] = []
    real_pool = concurrent.futures.ProcessPoolExecutor

    def spy(*args: Any, **kwargs: Any) -> Any:
        started.append(kwargs["mp_context"].get_start_method())
        return real_pool(*args, **kwargs)

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", spy)
    return started


def spy_worker_threads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of the thread behind each batch a worker thread (the stand-in for worker
    processes) verifies from now on."""
    names: list[str] = []
    real_worker = feedmgr.feed.package.ArchiveWorker

    class SpiedWorker(real_worker):  # type: ignore[misc,valid-type]
        def __call__(self, tasks: Any) -> Any:
            names.append(threading.current_thread().name)
            return super().__call__(tasks)

    monkeypatch.setattr(feedmgr.feed.package, "ArchiveWorker", SpiedWorker)
    return names
