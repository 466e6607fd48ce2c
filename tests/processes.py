"""Watching real feedmgr processes from tests."""

from __future__ import annotations

from pathlib import Path


def has_children(pid: int) -> bool:
    """True once process ``pid`` has started a child (Linux /proc)."""
    try:
        return any((task / "children").read_text() for task in Path(f"/proc/{pid}/task").iterdir())
    except OSError:  # the process (or one of its threads) is gone
        return False
