"""How feed verification shares its work: when worker processes start and how."""

from __future__ import annotations

import threading

import pytest

import feedmgr.feed.package
from feedmgr.feed.package import (
    FORKED_PARALLEL_MIN_BYTES,
    PARALLEL_MIN_BYTES,
    worker_start,
)


def test_linux_with_one_thread_forks_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    """A forked worker starts in milliseconds, so it pays from a much smaller feed."""
    monkeypatch.setattr(feedmgr.feed.package.sys, "platform", "linux")
    monkeypatch.setattr(feedmgr.feed.package.threading, "active_count", lambda: 1)
    assert worker_start() == ("fork", FORKED_PARALLEL_MIN_BYTES)
    assert FORKED_PARALLEL_MIN_BYTES < PARALLEL_MIN_BYTES


@pytest.mark.parametrize("platform", ["darwin", "win32"])
def test_macos_and_windows_spawn_workers(platform: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """macOS system frameworks do not survive a fork and Windows has none."""
    monkeypatch.setattr(feedmgr.feed.package.sys, "platform", platform)
    monkeypatch.setattr(feedmgr.feed.package.threading, "active_count", lambda: 1)
    assert worker_start() == ("spawn", PARALLEL_MIN_BYTES)


def test_a_second_thread_rules_out_fork(monkeypatch: pytest.MonkeyPatch) -> None:
    """A lock held by another thread at the fork would stay held in the worker for ever."""
    monkeypatch.setattr(feedmgr.feed.package.sys, "platform", "linux")
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        assert worker_start() == ("spawn", PARALLEL_MIN_BYTES)
    finally:
        release.set()
        other.join()
