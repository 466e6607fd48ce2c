"""Benchmark: cold start of ``feedmgr --version`` and ``feedmgr --help``.

Target (issue 15): ``feedmgr --version`` under 150 ms (goal 100 ms); ``--help`` imports
neither cryptography, requests, rich nor pydantic (that part is also a unit test).

    python benchmarks/cold_start.py [--runs 30]

Runs the installed console script ``feedmgr`` (falling back to ``python -m feedmgr``) as a
fresh process each time, after ``python -c pass`` as the anchor, and prints the median and
the worst wall time per command, with the machine and its load.
"""

from __future__ import annotations

import argparse
import os
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
    print(
        f"machine: Python {platform.python_version()}, {platform.machine()}, "
        f"{os.cpu_count()} cores shared with other jobs; load before: "
        + "/".join(f"{x:.1f}" for x in os.getloadavg())
    )
    print("| command | median | worst | x `python -c pass` (median) | machine load |")
    print("|---|---:|---:|---:|---|")
    anchor = 0.0
    for name, command in (
        ("`python -c pass`", [sys.executable, "-c", "pass"]),
        ("`feedmgr --version`", [*base, "--version"]),
        ("`feedmgr --help`", [*base, "--help"]),
    ):
        load = "/".join(f"{x:.1f}" for x in os.getloadavg())
        times = measure(command, args.runs)
        median = statistics.median(times) * 1000
        anchor = anchor or median
        print(
            f"| {name} | {median:.0f} ms | {max(times) * 1000:.0f} ms "
            f"| {median / anchor:.2f}x | {load} |"
        )


if __name__ == "__main__":
    main()
