"""Benchmark: cold start of ``feedmgr --version`` and ``feedmgr --help``.

Target (issue "Foundation"): median under 250 ms; neither imports cryptography, requests,
rich or pydantic (that part is also a unit test).

    python benchmarks/cold_start.py [--runs 30]

Runs the installed console script ``feedmgr`` (falling back to ``python -m feedmgr``) as a
fresh process each time and prints the median and 90th percentile wall time per command.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import statistics
import subprocess
import sys
import time


def measure(command: list[str], runs: int) -> list[float]:
    """Wall times of ``runs`` fresh executions, after one warm-up for the OS file cache."""
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    script = shutil.which("feedmgr")
    base = [script] if script else [sys.executable, "-m", "feedmgr"]
    print("| command | median | p90 | machine |")
    print("|---|---:|---:|---|")
    for flag in ("--version", "--help"):
        times = sorted(measure([*base, flag], args.runs))
        median = statistics.median(times) * 1000
        p90 = times[int(len(times) * 0.9) - 1] * 1000
        print(
            f"| `feedmgr {flag}` | {median:.0f} ms | {p90:.0f} ms | Python "
            f"{platform.python_version()}, {platform.machine()} |"
        )


if __name__ == "__main__":
    main()
