"""What the benchmarks print about the machine they ran on."""

from __future__ import annotations

import subprocess
from pathlib import Path


def cpu_model(default: str = "") -> str:
    """The CPU's model name from /proc/cpuinfo, else ``default``."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return default


def grep_version() -> str:
    """The first line of ``grep --version`` (the tool the posture benchmarks compare with)."""
    out = subprocess.run(["grep", "--version"], capture_output=True, text=True, check=False).stdout
    return out.splitlines()[0] if out else "grep"
