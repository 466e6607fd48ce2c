"""Keep glibc from handing megabyte buffers back to the kernel between payload members.

Verifying a feed allocates and frees a few buffers of about a member's size for every
member (compressed bytes, decompressed bytes). glibc serves such sizes with ``mmap``, or
trims them off the top of the heap as soon as they are free, so every member page-faults
its buffers in afresh: about 3 s of system CPU per GiB of payload, a fifth of an ingest.
Raising the two thresholds keeps freed memory in the heap for the next member. Peak memory
does not grow (the memory kept was in use a moment earlier); it is merely not returned.

Elsewhere (macOS, Windows, musl) this does nothing and says so.
"""

from __future__ import annotations

import ctypes
import sys

# mallopt parameters from glibc's <malloc.h>.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
# glibc refuses an mmap threshold above 32 MiB on 64-bit systems; payload documents are at
# most that size, so every one of them is served from the heap.
_MMAP_THRESHOLD = 32 * 1024 * 1024
_TRIM_THRESHOLD = 128 * 1024 * 1024


def keep_freed_buffers() -> bool:
    """Ask the C allocator to keep freed buffers for reuse; True when it agreed."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    # musl has a mallopt that ignores everything and returns 0, like a refusal.
    return bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD)
    )


def release_freed_memory() -> None:
    """Hand free heap memory back to the kernel now (glibc ``malloc_trim``).

    Called before a member larger than any before it: the buffers kept for reuse are too
    small for it, and would stay resident beside its own (a kept 23 MiB buffer beside a new
    32 MiB one took an ingest over 100 MB). Members arrive in no order of size, so this
    happens a few times per process, not per member. Elsewhere this does nothing.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        malloc_trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return
    malloc_trim(0)
