"""Watching real feedmgr processes from tests."""

from __future__ import annotations

from pathlib import Path


def interrupt_when_workers_start(command: list[str], delay: float) -> tuple[int, int, str]:
    """Run ``command`` in a process group of its own and send the group SIGINT (as a
    terminal's Ctrl-C does) ``delay`` seconds after its first child appears; its pid (the
    group's id), exit code and stderr."""
    import os
    import signal
    import subprocess
    import time

    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    while not has_children(process.pid) and process.poll() is None:
        time.sleep(0.001)
    time.sleep(delay)
    os.killpg(process.pid, signal.SIGINT)
    _out, err = process.communicate(timeout=120)
    return process.pid, process.returncode, err


def has_children(pid: int) -> bool:
    """True once process ``pid`` has started a child (Linux /proc)."""
    try:
        return any((task / "children").read_text() for task in Path(f"/proc/{pid}/task").iterdir())
    except OSError:  # the process (or one of its threads) is gone
        return False


# As root, file modes stop nothing: a test about a file or store this user cannot read or
# write runs the CLI as nobody (setpriv, util-linux).
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def as_unprivileged_user() -> list[str]:
    """The command prefix that runs a process as a user file modes apply to: nothing when
    this process is not root, else setpriv to nobody.

    Skips the test when that is impossible: no setpriv, or an interpreter nobody cannot run
    (a Python installed under /root links a libpython nobody may not read).
    """
    import os
    import shutil
    import subprocess
    import sys

    import pytest

    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: no user that file modes apply to")
    probe = subprocess.run(
        [*NOBODY, sys.executable, "-c", "import feedmgr"],
        capture_output=True,
        text=True,
        check=False,
        cwd="/",
    )
    if probe.returncode != 0:
        reason = (probe.stderr.strip().splitlines() or ["?"])[-1]
        pytest.skip(f"nobody cannot run this interpreter: {reason}")
    return NOBODY
