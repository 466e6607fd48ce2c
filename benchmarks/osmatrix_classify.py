"""Throughput of parse_os_string + OsTree.classify (what a provisioning audit does per key).

Run: python benchmarks/osmatrix_classify.py [N]
Prints one Markdown table row for benchmarks/osmatrix.md.
"""

from __future__ import annotations

import os
import platform
import random
import sys
import time
from pathlib import Path

from feedmgr.feed.payload import load_catalog
from feedmgr.osmatrix import OsTree, parse_os_string

ROOT = Path(__file__).resolve().parent.parent


def sample_strings(count: int) -> list[str]:
    """Realistic OS strings, mostly distinct (versions and builds vary)."""
    rng = random.Random(7)  # reproducible test data, not cryptography
    out = []
    for _ in range(count):
        kind = rng.random()
        if kind < 0.5:
            major = rng.choice([13, 14, 15, 26])
            out.append(f"macOS {major}.{rng.randint(0, 8)}.{rng.randint(0, 3)}")
        elif kind < 0.9:
            build = rng.choice([19045, 22621, 22631, 26100, 26200])
            out.append(f"Windows 11 Enterprise 10.0.{build}.{rng.randint(1, 7000)}")
        else:
            out.append(f"Ubuntu {rng.choice(['22.04', '24.04'])}.{rng.randint(0, 5)} LTS")
    return out


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    catalog_path = ROOT / "feeds" / "sample" / "src" / "os" / "catalog.json"
    tree = OsTree(load_catalog(catalog_path.read_bytes(), str(catalog_path)))
    strings = sample_strings(count)
    start = time.perf_counter()
    classified = 0
    for text in strings:
        if tree.classify(parse_os_string(text)) is not None:
            classified += 1
    elapsed = time.perf_counter() - start
    rate = count / elapsed
    print(
        f"| {count:,} strings | {elapsed:.2f} s | {rate:,.0f} /s | {classified:,} classified "
        f"| Python {platform.python_version()}, {os.cpu_count()} cores |"
    )


if __name__ == "__main__":
    main()
