"""Benchmark: ``feedmgr posture fleet`` over 20,000 generated Mac bundles in one run.

Target (issue #16): 20,000 bundles evaluated in one run in under 30 s with peak RSS under
300 MB on a 2-core machine.

The bundles follow ``feedmgr-posture-bundle/1`` exactly as ``collect-script --bundle``
writes it, built from the real captures in tests/data/posture (the ``launchctl list`` header
and rows, the ``launchctl print`` blocks of sysmond, the Secure Client ISE posture agent and
the MDM client agent) with per-Mac states. The fleet is mixed the way a real one is:
- macOS versions and builds from feedmgr's shipped release snapshot (13.x to Tahoe 26.x,
  weighted towards the newer ones);
- 8 % of Macs without the Secure Client posture agent, 3 % with sysmond stopped, 20 % with
  Zoom's daemon loaded, 5 % whose MDM agent last exited 78, 10 % at the login window (no
  console user, so no gui domain);
- 5 % stale (collected 20 to 90 days ago), 4 % duplicates (an older bundle of a Mac that
  also has a current one), 3 % unreadable (truncated, binary, format version 2, from Linux).
The bundles are written as a folder and as one .tar.gz; each is evaluated ``--runs`` times
by a fresh ``python -m feedmgr posture fleet ... --format json`` process (its output, with
every failing Mac, goes to /dev/null; it judges the bundles in worker processes, one per
core); wall and CPU time (workers included) and the largest process's peak RSS
(``ru_maxrss`` from wait4) are recorded, and one more run per input samples the summed RSS
of feedmgr and its workers. The load average is printed before every run: the machine is
shared, so other work shows up in the wall times (CPU time shows the work itself).

Usage: python benchmarks/posture_fleet.py [--bundles 20000] [--runs 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.host import cpu_model  # noqa: E402

DATA = REPO / "tests" / "data" / "posture"
CONDITIONS = """\
format: feedmgr-posture/1
conditions:
  - {name: sysmond, service: com.apple.sysmond, operator: running}
  - {name: iseposture, service: com.cisco.secureclient.iseposture, operator: running,
     service_type: user-agent}
  - {name: zoom, service: "us.zoom.*", operator: not-loaded}
  - {name: mdm, service: com.apple.mdmclient.agent, operator: exit-code, exit_code: 0}
requirements:
  - {name: sysmond-running, conditions: [sysmond], criteria: sysmond, message: m}
  - {name: secure-client, conditions: [iseposture], criteria: iseposture, message: m}
  - {name: no-zoom, conditions: [zoom], criteria: zoom, message: m}
  - {name: mdm-healthy, conditions: [mdm], criteria: mdm, message: m}
policies:
  - {name: p1, requirement: sysmond-running, enforcement: mandatory}
  - {name: p2, requirement: secure-client, enforcement: mandatory}
  - {name: p3, requirement: no-zoom, enforcement: optional}
  - {name: p4, requirement: mdm-healthy, enforcement: audit}
"""
FILTERS = [
    "com.apple.mdmclient.agent",
    "com.apple.sysmond",
    "com.cisco.secureclient.iseposture",
    "us.zoom.*",
]


def _block(text: str, target: str) -> str:
    start = text.index(f"{target} = {{\n")
    return text[start : text.index("\n}\n", start) + 3]


def _with(block: str, state: str, pid: int | None, code: str) -> str:
    block = re.sub(r"(?m)^\tstate = .*$", f"\tstate = {state}", block)
    block = re.sub(r"(?m)^\tpid = .*\n", "", block)
    if pid is not None:
        block = block.replace("\trun", f"\tpid = {pid}\n\trun", 1)
    return re.sub(r"(?m)^\tlast exit code = .*$", f"\tlast exit code = {code}", block)


class Generator:
    """Builds one bundle text per Mac from the real captures."""

    def __init__(self, seed: int) -> None:
        dumpstate = (DATA / "dumpstate.txt").read_text()
        self.random = random.Random(seed)
        self.sysmond = _block(dumpstate, "system/com.apple.sysmond")
        self.mdm = _block(dumpstate, "gui/501/com.apple.mdmclient.agent")
        self.zoom = _block(dumpstate, "system/us.zoom.ZoomDaemon")
        self.ise = (DATA / "print-gui-iseposture.txt").read_text()
        self.header = (DATA / "list-system.txt").read_text().splitlines()[0]
        releases = json.loads((REPO / "feedmgr/osmatrix/data/macos.json").read_text())
        pool = [
            (r["version"], r["build"])
            for r in releases["releases"]
            if r.get("build") and int(r["version"].split(".")[0]) >= 13
        ]
        # Newer releases are where most of a managed fleet is.
        self.versions = pool
        self.weights = [1 + i for i in range(len(pool))]

    def bundle(self, serial: str, uuid: str, collected: datetime) -> str:
        r = self.random
        version, build = r.choices(self.versions, self.weights)[0]
        at_login_window = r.random() < 0.10
        uid = r.choice([501, 502, 503])
        lines = [
            "feedmgr-posture-bundle/1",
            "generator = feedmgr 0.1.0",
            f"collected = {collected:%Y-%m-%dT%H:%M:%SZ}",
            f"host = {serial.lower()}.corp.example",
            f"serial = {serial}",
            f"hardware_uuid = {uuid}",
            "kernel = Darwin",
            "product = macOS",
            f"version = {version}",
            f"build = {build}",
            f"console_user = {'' if at_login_window else 'user' + str(uid)}",
            f"console_uid = {'' if at_login_window else uid}",
            *(f"filter = {f}" for f in FILTERS),
        ]
        sysmond_running = r.random() >= 0.03
        zoom = r.random() < 0.20
        system_rows = [
            f"{r.randint(300, 900)}\t0\tcom.apple.sysmond"
            if sysmond_running
            else "-\t0\tcom.apple.sysmond"
        ]
        if zoom:
            system_rows.append(f"{r.randint(300, 900)}\t0\tus.zoom.ZoomDaemon")
        lines += [f"@@ list system jobs={r.randint(380, 620)}", self.header, *system_rows]
        ise = r.random() >= 0.08
        mdm_code = "78: EX_CONFIG" if r.random() < 0.05 else "0"
        if not at_login_window:
            gui_rows = [f"-\t{mdm_code.split(':', maxsplit=1)[0]}\tcom.apple.mdmclient.agent"]
            if ise:
                gui_rows.append(f"{r.randint(500, 3000)}\t0\tcom.cisco.secureclient.iseposture")
            lines += [f"@@ list gui/{uid} jobs={r.randint(90, 260)}", self.header, *gui_rows]
        pid = r.randint(300, 900)
        sysmond = (
            _with(self.sysmond, "running", pid, "(never exited)")
            if sysmond_running
            else _with(self.sysmond, "not running", None, "0")
        )
        lines += ["@@ print system/com.apple.sysmond", sysmond.rstrip("\n")]
        if not at_login_window:
            gui = f"gui/{uid}"
            lines.append(f"@@ print {gui}/com.apple.sysmond absent")
            mdm = _with(self.mdm, "not running", None, mdm_code).replace("gui/501", gui)
            lines += [f"@@ print {gui}/com.apple.mdmclient.agent", mdm.rstrip("\n")]
            if ise:
                block = _with(self.ise, "running", r.randint(500, 3000), "(never exited)")
                lines += [
                    f"@@ print {gui}/com.cisco.secureclient.iseposture",
                    block.replace("gui/501", gui).rstrip("\n"),
                ]
            else:
                lines.append(f"@@ print {gui}/com.cisco.secureclient.iseposture absent")
        lines.append("@@ plists")
        lines.append("/System/Library/LaunchDaemons/com.apple.sysmond.plist")
        lines.append("/System/Library/LaunchAgents/com.apple.mdmclient.agent.plist")
        if zoom:
            lines.append("/Library/LaunchDaemons/us.zoom.ZoomDaemon.plist")
        lines.append("@@ end")
        return "\n".join(lines) + "\n"


def _corrupt(text: str, kind: int) -> bytes:
    data = text.encode()
    if kind == 0:
        return data[: len(data) // 2]  # cut off in transfer
    if kind == 1:
        return b"\x1f\x8b\x08\x00" + bytes(
            random.Random(len(data)).randrange(256) for _ in range(2048)
        )
    if kind == 2:
        return data.replace(b"bundle/1", b"bundle/2", 1)
    return data.replace(b"kernel = Darwin", b"kernel = Linux").replace(
        b"product = macOS", b"product = Ubuntu"
    )


def generate(folder: Path, count: int, now: datetime, seed: int = 16) -> dict[str, int]:
    """Write ``count`` bundle files into ``folder``; returns how many of each kind."""
    generator = Generator(seed)
    r = random.Random(seed + 1)
    kinds = {"current": 0, "stale": 0, "duplicate": 0, "unreadable": 0}
    folder.mkdir(parents=True, exist_ok=True)
    macs: list[tuple[str, str]] = []
    for index in range(count):
        roll = r.random()
        if roll < 0.04 and macs:
            serial, uuid = r.choice(macs)
            when = now - timedelta(days=r.uniform(3, 12))  # older than the current one
            text, kind = generator.bundle(serial, uuid, when), "duplicate"
        else:
            serial = f"C02{index:07d}"
            uuid = f"{index:08X}-37F1-5E2B-9C1D-{r.getrandbits(48):012X}"
            stale = 0.04 <= roll < 0.09
            age = timedelta(days=r.uniform(20, 90)) if stale else timedelta(hours=r.uniform(0, 48))
            text = generator.bundle(serial, uuid, now - age)
            kind = "stale" if stale else "current"
            macs.append((serial, uuid))
        path = folder / f"{serial}-{index}.txt"
        if 0.09 <= roll < 0.12:
            path.write_bytes(_corrupt(text, index % 4))
            kind = "unreadable"
        else:
            path.write_text(text)
        kinds[kind] += 1
    return kinds


def _machine() -> str:
    model = cpu_model()
    return f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores" + (
        f" ({model})" if model else ""
    )


def _tree_rss(pid: int) -> int:
    """Summed VmRSS (KiB) of ``pid`` and its descendants, from /proc."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
        pending.extend(int(child) for child in children)
    return total


def _run_once(conditions: Path, target: Path, *, sample: bool = False) -> dict[str, float]:
    """One fresh feedmgr process: wall and CPU seconds (its workers included), the largest
    single process's peak RSS, and with ``sample`` the peak summed RSS of the process tree
    (sampled every 50 ms; not timed, the sampling takes CPU)."""
    command = [
        sys.executable,
        "-m",
        "feedmgr",
        "posture",
        "fleet",
        str(conditions),
        str(target),
        "--format",
        "json",
    ]
    peak_tree = 0
    start = time.perf_counter()
    with Path(os.devnull).open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink)
        while True:
            # wait4 (not poll) reaps the process, so its rusage is kept.
            pid, status, usage = os.wait4(process.pid, os.WNOHANG if sample else 0)
            if pid:
                break
            peak_tree = max(peak_tree, _tree_rss(process.pid))
            time.sleep(0.05)
        process.returncode = os.waitstatus_to_exitcode(status)
    return {
        "wall": time.perf_counter() - start,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss": usage.ru_maxrss / 1024,
        "tree": peak_tree / 1024,
        "exit": os.waitstatus_to_exitcode(status),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundles", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, default=None, help="write the bundles here")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="feedmgr-fleet-"))
    now = datetime.now(UTC)
    folder = work / "bundles"
    if folder.exists():
        shutil.rmtree(folder)
    kinds = generate(folder, args.bundles, now)
    conditions = work / "conditions.yaml"
    conditions.write_text(CONDITIONS)
    archive = work / "bundles.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="bundles")
    size = sum(p.stat().st_size for p in folder.iterdir())
    print(f"machine: {_machine()}")
    print(
        f"bundles: {args.bundles} files, {size / 1e6:.1f} MB ({size / args.bundles / 1024:.1f} KiB "
        f"each on average), archive {archive.stat().st_size / 1e6:.1f} MB; kinds {kinds}"
    )
    print("the machine is shared with other jobs: load averages below are the whole machine's")
    rows = []
    for label, target in (("folder", folder), (".tar.gz", archive)):
        runs = []
        for number in range(args.runs):
            load = " ".join(f"{x:.2f}" for x in os.getloadavg())
            run = _run_once(conditions, target)
            print(
                f"  {label} run {number + 1}: {run['wall']:.2f} s wall, {run['cpu']:.2f} s CPU, "
                f"peak RSS {run['rss']:.0f} MiB (largest process), exit {run['exit']:.0f}, "
                f"load average before: {load}"
            )
            runs.append(run)
        sampled = _run_once(conditions, target, sample=True)
        print(f"  {label} sampled run: peak summed RSS {sampled['tree']:.0f} MiB")
        walls = [r["wall"] for r in runs]
        cpus = [r["cpu"] for r in runs]
        rows.append(
            f"| {args.bundles:,} bundles, {label} | {statistics.median(walls):.1f} s | "
            f"{max(walls):.1f} s | {statistics.median(cpus):.1f} s | "
            f"{max(r['rss'] for r in runs):.0f} MiB | {sampled['tree']:.0f} MiB |"
        )
    print()
    print(
        "| input | median wall | worst wall | median CPU | peak RSS (largest process) "
        "| peak summed RSS (process tree) |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    print("\n".join(rows))
    if args.keep is None:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
