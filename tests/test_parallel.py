"""Where feedmgr may fork its worker processes."""

from __future__ import annotations

import sys
import threading

import pytest

from feedmgr.parallel import fork_is_safe


def test_linux_with_one_thread_may_fork(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    assert fork_is_safe()


@pytest.mark.parametrize("platform", ["darwin", "win32"])
def test_macos_and_windows_never_fork(platform: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """macOS system frameworks do not survive a fork and Windows has none."""
    monkeypatch.setattr(sys, "platform", platform)
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    assert not fork_is_safe()


def test_a_second_thread_rules_out_fork(monkeypatch: pytest.MonkeyPatch) -> None:
    """A lock held by another thread at the fork would stay held in the worker for ever."""
    monkeypatch.setattr(sys, "platform", "linux")
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        assert not fork_is_safe()
    finally:
        release.set()
        other.join()
