"""Benchmark: ingest a ~1 GiB feed vs. ``unzip -tq`` on the same file; peak RSS of ingest.

Target (issue "Foundation"): ingest time <= 1.5 x ``unzip -tq`` time, peak RSS < 100 MB.

    python benchmarks/ingest_1gib.py [--size-mib 1024] [--workdir DIR] [--runs 3]

Generates a signed feed whose zip is about ``--size-mib`` MiB (1,000+ predefined-condition
files with hard-to-compress text, so the zip is as large as the payload), then times
``unzip -tq FEED`` and ``feedmgr --home NEW update --offline FEED`` (each in a fresh
process, best of ``--runs``), reading the peak RSS of the largest process from
``resource.getrusage(RUSAGE_CHILDREN)``, then ingests once more while sampling the summed
PSS of feedmgr and its workers. Prints a Markdown table row.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import platform
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ed25519

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from feedmgr.feed.build import build_package  # noqa: E402

FILE_BYTES = 1024 * 1024


def make_source(root: Path, size_mib: int) -> Path:
    """A feed source of about ``size_mib`` MiB of payload."""
    src = root / "src"
    shutil.copytree(REPO / "feeds" / "sample" / "src", src)
    (src / "feed.toml").write_text(
        'version = "9999.1"\npublisher = "benchmark"\n'
        'published = "2026-01-01T00:00:00Z"\nexpires = "2099-01-01T00:00:00Z"\n'
    )
    rng = random.Random(1)
    for n in range(size_mib):
        conditions = []
        size = 0
        i = 0
        while size < FILE_BYTES:
            # Random base64 text: compresses only ~25%, so the zip stays near the payload size.
            text = base64.b64encode(rng.randbytes(1200)).decode()
            conditions.append(
                {
                    "name": f"pc_bench_{n}_{i}",
                    "kind": "file",
                    "platforms": ["windows", "macos"],
                    "description": text,
                    "definition": {"path": f"C:/bench/{n}/{i}", "exists": True},
                }
            )
            size += len(text) + 160
            i += 1
        document = {"format": "feedmgr-checks/1", "conditions": conditions}
        (src / "checks" / f"bench-{n:04d}.json").write_text(json.dumps(document))
    return src


def _pss_kib(pid: int) -> int:
    # PSS splits pages shared by feedmgr and its workers (the interpreter, libraries) between
    # them, so the sum over the tree is the memory the ingest really holds (RSS would count
    # shared pages once per process).
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


def run_sampling_rss(command: list[str]) -> tuple[float, int]:
    """Run ``command``; return its wall time and the peak of the summed PSS (KiB) of its
    process tree (feedmgr plus its workers), sampled every 20 ms."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    peak = 0
    while process.poll() is None:
        with contextlib.suppress(OSError):
            peak = max(peak, sum(_pss_kib(p) for p in _tree(process.pid)))
        time.sleep(0.02)
    elapsed = time.perf_counter() - started
    if process.returncode:
        raise subprocess.CalledProcessError(process.returncode, command)
    return elapsed, peak


def best_of(runs: int, command: list[str], env: dict[str, str] | None = None) -> float:
    """Shortest wall time of ``runs`` executions (each must succeed)."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="feedmgr-bench-", dir=args.workdir))
    try:
        key = ed25519.Ed25519PrivateKey.generate()
        src = make_source(root, args.size_mib)
        feed = root / "feed.zip"
        build_package(src, feed, key)
        shutil.rmtree(src)
        pub = root / "pub.pem"
        from feedmgr.feed.signing import public_key_of

        pub.write_bytes(public_key_of(key).pem)
        zip_mib = feed.stat().st_size / 2**20

        unzip = best_of(args.runs, ["unzip", "-tq", str(feed)])
        ingest_times = []
        tree_peaks = []
        # The timed runs go unobserved: on a 2-core machine the PSS sampler's reads of
        # /proc take CPU from the ingest. One more run, sampled, measures the summed memory.
        for run in range(args.runs + 1):
            home = root / f"home-{run}"
            cmd = [sys.executable, "-m", "feedmgr", "--home", str(home)]
            subprocess.run([*cmd, "trust", "add", str(pub)], check=True, stdout=subprocess.DEVNULL)
            update = [*cmd, "update", "--offline", str(feed)]
            if run < args.runs:
                ingest_times.append(best_of(1, update))
            else:
                tree_peaks.append(run_sampling_rss(update)[1])
            shutil.rmtree(home)
        ingest = min(ingest_times)
        # ru_maxrss of children is the largest single process (feedmgr or one of its
        # workers; unzip is far smaller); the sampled tree peak adds up their PSS.
        peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        tree_mib = max(tree_peaks) / 1024
        ratio = ingest / unzip
        cpu = platform.processor() or platform.machine()
        print(
            f"| {zip_mib:.0f} MiB zip | {unzip:.2f} s | {ingest:.2f} s | {ratio:.2f}x "
            f"| {peak_mib:.0f} MiB | {tree_mib:.0f} MiB | Python {platform.python_version()}, "
            f"{os.cpu_count()} cores, {cpu} |"
        )
        print(
            f"target: ratio <= 1.5 ({'met' if ratio <= 1.5 else 'NOT met'}), "
            f"peak RSS < 100 MiB ({'met' if peak_mib < 100 else 'NOT met'} per process, "
            f"{'met' if tree_mib < 100 else 'NOT met'} summed over feedmgr and its workers)"
        )
        print("every ingest run: " + ", ".join(f"{t:.2f} s" for t in ingest_times))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
