"""Benchmark: ingest realistic feeds vs. ``unzip -tq`` on the same file; peak memory.

Target (issue 15): ingest time <= 1.5 x ``unzip -tq`` time, peak RSS < 100 MB, for every
feed the format allows, including 32 MiB documents.

    python benchmarks/ingest_1gib.py [--size-mib 33 64 75 120 250 1024] [--workdir DIR] [--runs 3]

For each size, generates a signed feed whose payload is about that many MiB of documents
shaped like real posture content (``benchmarks/realistic_feed.py``: many small condition,
AV product and OS node objects, zip about 8:1, documents from 4 KiB up to the 32 MiB limit;
33 MiB is the smallest feed holding a 32 MiB document; up to ``PARALLEL_MIN_BYTES``, 128
MiB, one process verifies the feed alone, above it with worker processes),
then ``--runs`` times, alternating, times ``unzip -tq FEED`` and ``feedmgr --home NEW update
--offline FEED`` (fresh processes), each ingest's ratio taken against the ``unzip`` run just
before it. Peak RSS is the largest single process of each ingest (feedmgr or a worker, from
``wait4``); one more, untimed ingest samples the summed PSS of feedmgr and its workers. Prints
the median and the worst of the runs, the machine and the load average.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ed25519

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.realistic_feed import make_source  # noqa: E402
from feedmgr.feed.build import build_package  # noqa: E402
from feedmgr.feed.signing import public_key_of  # noqa: E402


def load() -> str:
    """The 1, 5 and 15 minute load averages."""
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def machine() -> str:
    """Python version, core count and CPU."""
    cpu = platform.processor() or platform.machine()
    return f"Python {platform.python_version()}, {os.cpu_count()} cores, {cpu}"


# An installed feedmgr loads its modules from .pyc files; without them (this environment sets
# PYTHONDONTWRITEBYTECODE) every run would compile all of them first (about 20 ms).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB, largest process of the tree) of one run."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, env=ENV)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise subprocess.CalledProcessError(process.returncode, command)
    return elapsed, usage.ru_maxrss / 1024


def _pss_kib(pid: int) -> int:
    # PSS splits pages shared by feedmgr and its workers (the interpreter, libraries) between
    # them, so the sum over the tree is the memory the ingest really holds.
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _tree(pid: int) -> list[int]:
    pids = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in children:
            pids.extend(_tree(int(child)))
    return pids


def sampled_pss_mib(command: list[str]) -> float:
    """Run ``command``; the peak of the summed PSS of its process tree, sampled every 20 ms
    (not timed: on 2 cores the sampler's reads of /proc take CPU from the ingest)."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, env=ENV)
    peak = 0
    while process.poll() is None:
        with contextlib.suppress(OSError):
            peak = max(peak, sum(_pss_kib(p) for p in _tree(process.pid)))
        time.sleep(0.02)
    if process.returncode:
        raise subprocess.CalledProcessError(process.returncode, command)
    return peak / 1024


def bench(root: Path, size_mib: int, runs: int) -> None:
    """Generate one feed of ``size_mib`` MiB payload, time it, print the table row."""
    # Generated in a child process: a process forked from this one would otherwise start
    # with the generator's memory, and its ru_maxrss would report that instead of its own.
    subprocess.run(
        [sys.executable, __file__, "--generate", str(size_mib), "--workdir", str(root)],
        check=True,
    )
    payload, largest, zip_bytes = (int(x) for x in (root / "sizes").read_text().split())
    feed = root / "feed.zip"
    pub = root / "pub.pem"
    unzips, ingests, ratios, peaks, loads = [], [], [], [], []
    for run in range(runs + 1):
        home = root / f"home-{run}"
        cmd = [sys.executable, "-m", "feedmgr", "--home", str(home)]
        subprocess.run(
            [*cmd, "trust", "add", str(pub)], check=True, stdout=subprocess.DEVNULL, env=ENV
        )
        update = [*cmd, "update", "--offline", str(feed)]
        if run < runs:
            loads.append(load())
            unzip = timed(["unzip", "-tq", str(feed)])[0]
            ingest, peak = timed(update)
            unzips.append(unzip)
            ingests.append(ingest)
            ratios.append(ingest / unzip)
            peaks.append(peak)
            print(
                f"  run {run + 1}: unzip {unzip:.2f} s, ingest {ingest:.2f} s, "
                f"{ingest / unzip:.2f}x, peak RSS {peak:.0f} MiB, load {loads[-1]}",
                flush=True,
            )
        else:
            pss = sampled_pss_mib(update)
        shutil.rmtree(home)
    feed.unlink()
    med, worst = statistics.median(ratios), max(ratios)
    print(
        f"| {payload / 2**20:.0f} MiB payload, largest document {largest / 2**20:.1f} MiB, "
        f"zip {payload / zip_bytes:.1f}:1 "
        f"| {statistics.median(unzips):.2f} / {max(unzips):.2f} s "
        f"| {statistics.median(ingests):.2f} / {max(ingests):.2f} s "
        f"| {med:.2f}x / {worst:.2f}x | {statistics.median(peaks):.0f} / {max(peaks):.0f} MiB "
        f"| {pss:.0f} MiB | {', '.join(loads)} |"
    )
    print(
        f"  target: ratio <= 1.5 (median {'met' if med <= 1.5 else 'NOT met'}, worst "
        f"{'met' if worst <= 1.5 else 'NOT met'}), peak RSS < 100 MiB "
        f"({'met' if max(peaks) < 100 else 'NOT met'} per process, "
        f"{'met' if pss < 100 else 'NOT met'} summed over feedmgr and its workers)",
        flush=True,
    )


def generate(root: Path, size_mib: int) -> None:
    """Write ``root/feed.zip`` (about ``size_mib`` MiB of payload), its ``pub.pem`` and
    ``sizes`` (payload bytes, largest document bytes, zip bytes)."""
    key = ed25519.Ed25519PrivateKey.generate()
    src = make_source(root, size_mib, REPO / "feeds" / "sample" / "src")
    sizes = [p.stat().st_size for p in src.rglob("*.json")]
    feed = root / "feed.zip"
    build_package(src, feed, key)
    shutil.rmtree(src)
    (root / "pub.pem").write_bytes(public_key_of(key).pem)
    (root / "sizes").write_text(f"{sum(sizes)} {max(sizes)} {feed.stat().st_size}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, nargs="+", default=[33, 64, 75, 120, 250, 1024])
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--generate", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate:
        generate(args.workdir, args.generate)
        return
    print(f"machine: {machine()}; shared with other jobs; load before: {load()}")
    print(
        "| payload | `unzip -tq` median / worst | `update --offline` median / worst "
        "| ratio median / worst | peak RSS median / worst | peak PSS feedmgr + workers "
        "| load (1/5/15 min) per run |"
    )
    print("|---|---:|---:|---:|---:|---:|---|")
    for size in args.size_mib:
        root = Path(tempfile.mkdtemp(prefix="feedmgr-bench-", dir=args.workdir))
        try:
            bench(root, size, args.runs)
        finally:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
