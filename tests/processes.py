"""Watching real feedmgr processes from tests."""

from __future__ import annotations

from pathlib import Path


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
