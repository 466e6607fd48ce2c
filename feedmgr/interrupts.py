"""Holding Ctrl-C back while a step that must not be cut in two runs.

Python raises ``KeyboardInterrupt`` between any two bytecodes, so a Ctrl-C that lands just
after ``COMMIT`` returned would run the clean-up meant for a failed commit, and remove the
blobs of a feed that is already active. Inside ``sigint_deferred()`` a Ctrl-C is only
noted; the caller decides what it means once the step is over. ``sigint_held()`` blocks the
signal itself while worker processes start, so that they start with it blocked.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from concurrent.futures import Executor
from contextlib import contextmanager
from types import FrameType


class InterruptNote:
    """Whether a Ctrl-C came while it was deferred."""

    def __init__(self) -> None:
        self.came = False

    def _note(self, _signum: int, _frame: FrameType | None) -> None:
        self.came = True


@contextmanager
def sigint_deferred() -> Iterator[InterruptNote]:
    """Note Ctrl-C instead of raising it until the block ends.

    Python runs signal handlers in the main thread only, so from another thread (where no
    ``KeyboardInterrupt`` can be raised) this changes nothing.
    """
    note = InterruptNote()
    if threading.current_thread() is not threading.main_thread():
        yield note
        return
    previous = signal.signal(signal.SIGINT, note._note)
    try:
        yield note
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def sigint_held() -> Iterator[None]:
    """Block SIGINT in this thread (and so in processes started meanwhile) until the block
    ends; one that came meanwhile is delivered then, not lost.

    A worker started inside ignores SIGINT before unblocking it: a Ctrl-C is then the
    parent's alone to handle (one "interrupted" line) instead of also killing a
    half-started worker that would print its own traceback.
    """
    if not hasattr(signal, "pthread_sigmask"):  # Windows: no signal masks, no process groups
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def ignore_sigint_in_worker() -> None:
    """First step of a worker started inside ``sigint_held()``: ignore Ctrl-C (discarding
    one already pending), then unblock it."""
    if hasattr(signal, "pthread_sigmask"):
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def quiet_resource_tracker() -> None:
    """Keep multiprocessing's resource tracker from warning about semaphores it cleans up.

    A Ctrl-C can land while a pool's queue semaphore is between being registered with the
    tracker and being given its clean-up (or between unlinking and unregistering it); the
    tracker then unlinks it itself at shutdown, and says so with a UserWarning on stderr
    below "interrupted" (1 run in about 120 under load). Nothing is left behind, so the
    warning is noise. The tracker is a separate interpreter started with this one's -W
    options: call this before the first pool is created.
    """
    import sys

    option = "ignore:resource_tracker:UserWarning"
    if option not in sys.warnoptions:
        sys.warnoptions.append(option)


def start_pool_workers(pool: Executor, count: int) -> None:
    """Start ``count`` worker processes of ``pool`` now, inside ``sigint_held()``; their
    initialiser must call ``ignore_sigint_in_worker()`` first.

    A Ctrl-C then reaches this process alone (one "interrupted" line, the pool shut down)
    instead of also killing a half-started interpreter that would print its own traceback,
    and one that came meanwhile is delivered here afterwards, not lost.

    Create the pool inside ``sigint_held()`` as well, after ``quiet_resource_tracker()``.
    """
    import os

    with sigint_held():
        # A pool starts a process per task submitted while none is idle.
        for _ in range(count):
            pool.submit(os.getpid)
