"""Benchmark: counting a large endpoint inventory per (OS, identity group).

Generates an ISE Context Visibility style CSV (default 2,000,000 rows), then runs each
reader in a fresh subprocess and reports wall time and peak RSS:

- ``duckdb``: the reference, ``SELECT os, group, count(*) ... GROUP BY`` over the CSV;
- ``feedmgr``: feedmgr's reader (pyarrow streaming CSV, grouped per block; what ships);
- ``csv``: the fastest standard-library loop (``csv.reader`` + ``itemgetter`` +
  ``Counter``, all in C);
- ``csv-dict``: the naive ``csv.DictReader`` loop;
- ``pyarrow``: ``pyarrow.csv.open_csv`` streaming batches, grouped per batch;
- ``polars``: ``scan_csv(...).group_by(...).len()`` with the streaming engine;
- ``audit``: the whole ``feedmgr provisioning audit`` command (inventory + feed + policy).

Usage (benchmark-only dependencies: ``pip install -e '.[bench]'``)::

    python benchmarks/provisioning_inventory.py                 # 2,000,000 rows, all readers
    python benchmarks/provisioning_inventory.py --rows 200000 --repeat 1 --only csv duckdb

Results are recorded in benchmarks/provisioning.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HEADER = ["MACAddress", "EndPointPolicy", "IdentityGroup", "PostureOS", "host-name"]
GROUPS = [
    "Employees",
    "Contractors",
    "Guests",
    "Workstation",
    "Profiled",
    "Unknown",
    "BYOD",
    "Executives",
    "Lab",
    "Kiosks",
]


def _os_strings() -> list[str]:
    """About 200 distinct OS strings as endpoints report them."""
    out: list[str] = []
    for major, minors in ((13, 7), (14, 8), (15, 7), (26, 2)):
        for minor in range(minors + 1):
            out.append(f"macOS {major}.{minor}")
            for patch in range(1, 4):
                out.append(f"Mac OSX {major}.{minor}.{patch}")
    for build in (19044, 19045, 22621, 22631, 26100, 26200):
        for edition in ("Pro", "Enterprise", "Education"):
            for ubr in (1, 2000, 4351):
                out.append(
                    f"Windows {'11' if build > 22000 else '10'} {edition} 10.0.{build}.{ubr}"
                )
    out += ["Ubuntu 22.04.4", "Ubuntu 24.04.1", "Red Hat Enterprise Linux 9.4", "Linux", ""]
    return out


# The other columns of a full ISE Context Visibility endpoint export (22 in all, about 230
# bytes a row): the reader must pass over them.
WIDE_HEADER = [
    *HEADER,
    "EndPointProfilerServer", "LogicalProfile", "PortalUser", "Location", "DeviceType",
    "ipAddress", "Description", "Total Certainty Factor", "StaticAssignment",
    "StaticGroupAssignment", "MatchedPolicy", "ElapsedDays", "InactiveDays", "UpdateTime",
    "CreateTime", "DeviceRegistrationStatus", "BYODRegistration",
]  # fmt: skip


def _wide(i: int, rng: random.Random) -> str:
    day = f"2026-{rng.randint(1, 11):02d}-{rng.randint(1, 28):02d}"
    return (
        f",psn-{i % 4 + 1}.example.com,Workstations,user{i % 5000},"
        f"Location#All Locations#Site{i % 12},Device Type#All Device Types,"
        f"10.{i >> 16 & 0xFF}.{i >> 8 & 0xFF}.{i & 0xFF},,{rng.choice((20, 30, 40, 70))},"
        f"false,false,Microsoft-Workstation,{rng.randint(0, 400)},{rng.randint(0, 90)},"
        f"{day} 10:{i % 60:02d}:00.000,{day} 09:00:00.000,NotRegistered,Unknown"
    )


def generate(path: Path, rows: int, seed: int = 7, *, wide: bool = False) -> None:
    """Write a deterministic inventory CSV of ``rows`` endpoints (22 columns if ``wide``)."""
    rng = random.Random(seed)
    oses = _os_strings()
    weights = [1.0 / (i + 1) for i in range(len(oses))]
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(",".join(WIDE_HEADER if wide else HEADER) + "\r\n")
        chunk: list[str] = []
        os_pick = rng.choices(oses, weights, k=rows)
        group_pick = rng.choices(GROUPS, k=rows)
        for i in range(rows):
            mac = f"{i >> 16 & 0xFF:02X}:{i >> 8 & 0xFF:02X}:{i & 0xFF:02X}:AA:BB:CC"
            rest = _wide(i, rng) if wide else ""
            chunk.append(f"{mac},Workstation,{group_pick[i]},{os_pick[i]},host-{i}{rest}\r\n")
            if len(chunk) == 50_000:
                out.write("".join(chunk))
                chunk.clear()
        out.write("".join(chunk))


# --- readers, each run in its own process -------------------------------------------------


def run_duckdb(csv_path: Path) -> int:
    import duckdb

    query = (
        "SELECT PostureOS, IdentityGroup, count(*) "
        "FROM read_csv(?, header=true, all_varchar=true) GROUP BY ALL"
    )
    return len(duckdb.execute(query, [str(csv_path)]).fetchall())


def run_feedmgr(csv_path: Path) -> int:
    from feedmgr.provisioning.inventory import preset, read_inventory

    return len(read_inventory(csv_path, preset("ise")).counts)


def run_csv(csv_path: Path) -> int:
    import csv
    from operator import itemgetter

    with csv_path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        getter = itemgetter(header.index("PostureOS"), header.index("IdentityGroup"))
        return len(Counter(map(getter, reader)))


def run_csv_dict(csv_path: Path) -> int:
    import csv

    counts: Counter[tuple[str, str]] = Counter()
    with csv_path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            counts[(row["PostureOS"], row["IdentityGroup"])] += 1
    return len(counts)


def run_pyarrow(csv_path: Path) -> int:
    import pyarrow as pa
    from pyarrow import csv as pacsv

    counts: Counter[tuple[str, str]] = Counter()
    options = pacsv.ConvertOptions(
        include_columns=["PostureOS", "IdentityGroup"],
        column_types={"PostureOS": pa.string(), "IdentityGroup": pa.string()},
        strings_can_be_null=False,
    )
    reader = pacsv.open_csv(
        csv_path, read_options=pacsv.ReadOptions(block_size=8 << 20), convert_options=options
    )
    for batch in reader:
        table = pa.Table.from_batches([batch])
        grouped = table.group_by(["PostureOS", "IdentityGroup"]).aggregate([("PostureOS", "count")])
        for os_name, group, n in zip(
            grouped["PostureOS"].to_pylist(),
            grouped["IdentityGroup"].to_pylist(),
            grouped["PostureOS_count"].to_pylist(),
            strict=True,
        ):
            counts[(os_name, group)] += n
    return len(counts)


def run_polars(csv_path: Path) -> int:
    import polars as pl

    frame = (
        pl.scan_csv(csv_path, infer_schema=False)
        .group_by(["PostureOS", "IdentityGroup"])
        .len()
        .collect(engine="streaming")
    )
    return frame.height


READERS = {
    "duckdb": run_duckdb,
    "feedmgr": run_feedmgr,
    "csv": run_csv,
    "csv-dict": run_csv_dict,
    "pyarrow": run_pyarrow,
    "polars": run_polars,
}


_MODULES = {
    "duckdb": "duckdb",
    "feedmgr": "feedmgr.provisioning.inventory",
    "csv": "csv",
    "csv-dict": "csv",
    "pyarrow": "pyarrow.csv",
    "polars": "polars",
}


def child(method: str, csv_path: Path) -> None:
    """Run one reader in this process and print time and peak RSS as JSON.

    The reader's library is imported before the clock starts: "work" is reading and
    counting only; the process wall time in the table includes start-up and imports.
    """
    import importlib

    importlib.import_module(_MODULES[method])
    start = time.perf_counter()
    distinct = READERS[method](csv_path)
    seconds = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": seconds, "peak_mb": peak_kib / 1024, "distinct": distinct}))


def _audit_home(tmp: Path) -> Path:
    """A store with the sample feed active, for the end-to-end audit run."""
    home = tmp / "home"
    feed = REPO / "feeds" / "sample" / "sample-feed.zip"
    key = REPO / "feeds" / "sample" / "demo-publisher.pub.pem"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "feedmgr",
            "--home",
            str(home),
            "-q",
            "update",
            "--offline",
            str(feed),
            "--trust",
            str(key),
        ],
        check=True,
        capture_output=True,
    )
    return home


def main() -> None:
    """Generate the CSV, run every reader ``--repeat`` times, print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--csv", type=Path, help="Use (or create) this CSV file.")
    parser.add_argument("--only", nargs="*", help="Run only these readers (and audit).")
    parser.add_argument(
        "--columns", type=int, choices=(5, 22), default=22, help="22: a full endpoint export"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.csv)
        return
    with tempfile.TemporaryDirectory(prefix="feedmgr-bench-") as tmp_name:
        tmp = Path(tmp_name)
        csv_path = args.csv or tmp / "inventory.csv"
        if not csv_path.exists():
            start = time.perf_counter()
            generate(csv_path, args.rows, wide=args.columns == 22)
            print(
                f"generated {args.rows} rows in {time.perf_counter() - start:.1f}s", file=sys.stderr
            )
        size_mb = csv_path.stat().st_size / 1e6
        methods = [m for m in (*READERS, "audit") if not args.only or m in args.only]
        policy = REPO / "docs" / "examples" / "cp-policy.yaml"
        home = _audit_home(tmp) if "audit" in methods else None
        results: dict[str, list[dict[str, float]]] = {}
        loads: list[str] = []
        # Round by round, every reader once: each is compared with the DuckDB run of its own
        # round, under the same load from whatever else the machine is doing.
        for _ in range(args.repeat):
            loads.append("/".join(f"{x:.1f}" for x in os.getloadavg()))
            for method in methods:
                if method == "audit":
                    command = [
                        sys.executable,
                        "-m",
                        "feedmgr",
                        "--home",
                        str(home),
                        "provisioning",
                        "audit",
                        str(policy),
                        "--inventory",
                        str(csv_path),
                        "--preset",
                        "ise",
                        "--format",
                        "json",
                    ]
                else:
                    command = [sys.executable, __file__, "--child", method, "--csv", str(csv_path)]
                # RUSAGE_CHILDREN keeps the maximum over all children: measure each run in a
                # fresh helper process so one reader's peak never hides another's.
                wrapper = [
                    sys.executable,
                    "-c",
                    "import json,resource,subprocess,sys,time;"
                    "s=time.perf_counter();d=subprocess.run(sys.argv[1:],capture_output=True,text=True);"
                    "w=time.perf_counter()-s;"
                    "u=resource.getrusage(resource.RUSAGE_CHILDREN);p=u.ru_maxrss/1024;"
                    "c=u.ru_utime+u.ru_stime;"
                    "print(json.dumps({'wall':w,'cpu':c,'process_peak_mb':p,'rc':d.returncode,"
                    "'out':d.stdout[:300],'err':d.stderr[-300:]}))",
                    *command,
                ]
                raw = subprocess.run(wrapper, capture_output=True, text=True, check=True).stdout
                outer = json.loads(raw)
                if outer["rc"] not in (0, 1):
                    raise SystemExit(f"{method} failed: {outer['err']}")
                entry = {
                    "wall": outer["wall"],
                    "cpu": outer["cpu"],
                    "process_peak_mb": outer["process_peak_mb"],
                }
                if outer["out"].startswith('{"seconds"'):
                    entry.update(json.loads(outer["out"]))
                results.setdefault(method, []).append(entry)
        duck = results.get("duckdb")
        print(
            f"\n{args.rows:,} rows, {args.columns} columns, {size_mb:.0f} MB CSV, "
            f"{os.cpu_count()} CPUs shared with other jobs, {args.repeat} rounds; load average "
            f"(1/5/15 min) per round: {', '.join(loads)}\n"
        )
        print(
            "| reader | process wall s median (worst) | x duckdb median (worst) "
            "| process CPU s median (worst) | peak RSS MB (worst) |"
        )
        print("| --- | ---: | ---: | ---: | ---: |")
        for method, runs in results.items():
            walls = [r["wall"] for r in runs]
            cpus = [r["cpu"] for r in runs]
            peak = max(r["process_peak_mb"] for r in runs)
            ratio = "-"
            if duck:
                ratios = [r["wall"] / d["wall"] for r, d in zip(runs, duck, strict=True)]
                ratio = f"{statistics.median(ratios):.2f} ({max(ratios):.2f})"
            print(
                f"| {method} | {statistics.median(walls):.2f} ({max(walls):.2f}) | {ratio} "
                f"| {statistics.median(cpus):.2f} ({max(cpus):.2f}) | {peak:.0f} |"
            )


if __name__ == "__main__":
    main()
