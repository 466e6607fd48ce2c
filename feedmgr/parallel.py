"""Whether feedmgr may start worker processes in this program, and how.

A spawned worker re-imports the program's ``__main__`` module, which is only safe when that
module guards its work with ``if __name__ == "__main__":`` (the multiprocessing rule). The
feedmgr CLI is such a program and allows workers at start-up; a library caller with a
guarded entry point may call ``allow_worker_processes()`` too. This module stays tiny so the
CLI can import it without slowing ``feedmgr --help``.
"""

from __future__ import annotations

_allowed = False


def allow_worker_processes(allowed: bool = True) -> None:
    """Allow (or forbid) worker processes for the rest of this program's life."""
    global _allowed  # noqa: PLW0603 - one process-wide switch, set at start-up
    _allowed = allowed


def worker_processes_allowed() -> bool:
    """True when ``allow_worker_processes()`` was called."""
    return _allowed


def fork_is_safe() -> bool:
    """True where a worker may be forked rather than spawned: on Linux (macOS system
    frameworks do not survive a fork; Windows has none) while this process runs a single
    thread, so no lock another thread holds is copied into the worker, held for ever.

    A forked worker starts in milliseconds with every module imported; a spawned one needs
    an interpreter start and its imports (about 0.1 s of CPU).
    """
    import sys
    import threading

    return sys.platform == "linux" and threading.active_count() == 1
