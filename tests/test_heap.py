"""The allocator setting that stops every payload member from page-faulting its buffers."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

# Allocates and frees buffers of a payload member's size, as verifying members does, and
# prints the page faults that cost (the last 50 of 60 rounds, after the heap has grown).
_ROUNDS = """
import resource, sys
from feedmgr.heap import keep_freed_buffers
if sys.argv[1] == "keep":
    assert keep_freed_buffers()
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for round in range(60):
    if round == 10:
        before = faults()
    compressed = bytes(700_000)
    document = bytearray(1_048_576) + compressed
    del compressed, document
print(faults() - before)
"""


def _faults(mode: str) -> int:
    run = subprocess.run(
        [sys.executable, "-c", _ROUNDS, mode], capture_output=True, text=True, check=True
    )
    return int(run.stdout)


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
    reason="the setting exists in glibc only",
)
def test_freed_member_buffers_are_reused_without_page_faults() -> None:
    """Without the setting each round faults its megabytes in again; with it, almost none."""
    default = _faults("default")
    kept = _faults("keep")

    assert default > 50 * 256  # at least a MiB (256 pages) per round
    assert kept < default / 20


@pytest.mark.skipif(sys.platform.startswith("linux"), reason="tests the fallback elsewhere")
def test_other_platforms_are_told_it_did_nothing() -> None:
    """Off Linux the function changes nothing and returns False."""
    from feedmgr.heap import keep_freed_buffers

    assert keep_freed_buffers() is False
