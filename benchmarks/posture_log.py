"""Benchmark: ``feedmgr posture parse-log`` on a 50 MB log of real-shaped lines, against
``grep`` scanning the same file.

The log is built from genuine text: the macOS ``system.log`` lines of Cisco Secure Client's
posture agent in ``tests/data/posture/logs/macos-system.log`` (syslog prefix, csc_iseagentd
debug lines, MSG_SU_STEP_STATUS updates), with the field document's Secure Client excerpt
(``tests/data/posture/unified_log.log``: createCheckXMLString, processPostureData,
SMP_initCheck XML, doCheck / completeCheck) inserted every 1 480 lines (about 340 KB),
timestamps advancing. Then, alternating, ``--runs`` times each:

1. ``feedmgr posture parse-log FILE --format json`` in a fresh interpreter: wall and CPU
   time of the whole process, and of the command alone (``main()`` timed inside the
   interpreter: the scan, its lazy imports and the JSON output, without interpreter
   start-up and the CLI's imports); then the same command on the 37-line genuine
   ``macos-system.log``: what start-up costs; and, in another interpreter, the scan alone
   (``open_logs`` + ``scan_chunks``, timed after the imports);
2. ``grep -c -i -E '<cleanmachines>|compliant|docheck|msg_su_step_status' FILE``: grep
   finding the lines parse-log reports on;
3. ``grep -c -i -F -e NEEDLE ... FILE`` with parse-log's own needles: grep selecting the
   very lines parse-log looks at outside XML (the counts must agree);
4. ``grep -c '</cleanmachines>' FILE``: grep's fastest scan (one fixed string);
5. the floor any Python program stands on: ``python -c pass`` (the interpreter starting and
   stopping), and a Python process that only reads the file and counts one fixed string
   (``bytes.count``, a C loop): what no parser written in Python can go below.

The children run after one warm-up, without PYTHONDONTWRITEBYTECODE: modules load from
.pyc files as in an installed feedmgr. Prints the machine, the load average before and
after, and a Markdown table (median and worst run) for benchmarks/posture.md.

Usage: python benchmarks/posture_log.py [--size-mb 50] [--runs 5] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.host import cpu_model, grep_version  # noqa: E402

SYSLOG = REPO / "tests/data/posture/logs/macos-system.log"
EXCERPT = REPO / "tests/data/posture/unified_log.log"
GREP_CANDIDATES = ["grep", "-c", "-i", "-E", "<cleanmachines>|compliant|docheck|msg_su_step_status"]
GREP_FIXED = ["grep", "-c", "</cleanmachines>"]


def grep_needles() -> list[str]:
    """grep selecting exactly the lines parse-log looks at outside XML (its needles)."""
    from feedmgr.posture.logscan import _NEEDLES

    return ["grep", "-c", "-i", "-F", *(arg for needle in _NEEDLES for arg in ("-e", needle))]


INNER = (
    "import sys, time\n"
    "from feedmgr.cli import main\n"
    "start, cpu = time.perf_counter(), time.process_time()\n"
    "try:\n"
    "    main(['posture', 'parse-log', sys.argv[1], '--format', 'json'])\n"
    "except SystemExit as exc:\n"
    "    code = exc.code\n"
    "wall, cpu = time.perf_counter() - start, time.process_time() - cpu\n"
    "sys.stderr.write(f'INNER {wall:.4f} {cpu:.4f}\\n')\n"
)
# The scan alone: open, read and scan the log, modules already imported (no JSON output).
SCAN = (
    "import sys, time\n"
    "from contextlib import ExitStack\n"
    "from pathlib import Path\n"
    "from feedmgr.posture.logread import chunks, open_logs\n"
    "from feedmgr.posture.logscan import scan_chunks\n"
    "start, cpu = time.perf_counter(), time.process_time()\n"
    "with ExitStack() as stack:\n"
    "    for log in open_logs(Path(sys.argv[1]), stack):\n"
    "        scan_chunks(chunks(log), log.name)\n"
    "wall, cpu = time.perf_counter() - start, time.process_time() - cpu\n"
    "sys.stderr.write(f'INNER {wall:.4f} {cpu:.4f}\\n')\n"
)


# The least a Python program can do with the file: read it and count one fixed string.
FLOOR = "import sys\nprint(open(sys.argv[1], 'rb').read().count(b'</cleanmachines>'))\n"


def build(path: Path, size: int) -> dict[str, int]:
    """Write about ``size`` bytes of real-shaped log lines; return what it holds."""
    syslog = SYSLOG.read_text().splitlines()
    excerpt = EXCERPT.read_text()
    bodies = [line.split(" ", 3)[3] for line in syslog]  # "host proc[pid]: message"
    written = documents = lines = 0
    second = 0
    with path.open("w") as out:
        while written < size:
            block = []
            for body in bodies * 40:
                second += 1
                day = 17 + second // 86400 % 10
                clock = f"{second // 3600 % 24:02d}:{second // 60 % 60:02d}:{second % 60:02d}"
                stamp = f"Feb {day:2d} {clock}"
                block.append(f"{stamp} {body}\n")
            block.append(excerpt)
            documents += excerpt.count("</cleanmachines>")
            text = "".join(block)
            out.write(text)
            written += len(text.encode())
            lines += text.count("\n")
    return {"bytes": written, "lines": lines, "documents": documents}


# As installed, feedmgr's modules are byte-compiled: an environment that forbids writing
# .pyc files would charge compiling every module to every run.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(command: list[str]) -> tuple[float, float, str, str]:
    """Wall seconds, CPU seconds (user + sys of the child), stdout, stderr."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=ENV)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu, done.stdout, done.stderr


def machine() -> str:
    return (
        f"{platform.system()} {platform.release()}, {os.cpu_count()} CPU {cpu_model()}, "
        f"Python {platform.python_version()}, {grep_version()}"
    )


def print_table(runs: int, walls: dict[str, list[float]], cpus: dict[str, list[float]]) -> None:
    """The Markdown table for benchmarks/posture.md: median and worst run of each row."""
    print(f"| what (runs: {runs}) | wall s median | wall s worst | CPU s median | CPU s worst |")
    print("|---|---:|---:|---:|---:|")
    labels = {
        "feedmgr": "feedmgr posture parse-log --format json (whole process)",
        "inner": "  of which the command itself (no interpreter start-up)",
        "scan": "  of which open, read and scan (no imports, no JSON output)",
        "startup": "feedmgr posture parse-log on the 37-line genuine log (start-up)",
        "grep -ciE": "grep -c -i -E '<cleanmachines>|compliant|docheck|msg_su_step_status'",
        "grep -ciF": "grep -c -i -F with parse-log's needles (the lines it looks at)",
        "grep -c": "grep -c '</cleanmachines>'",
        "python pass": "python -c pass (interpreter start-up and exit)",
        "python count": "python reading the file, counting '</cleanmachines>' (bytes.count)",
    }
    for key, label in labels.items():
        cpu = cpus.get(key)
        cpu_cells = f"{statistics.median(cpu):.2f} | {max(cpu):.2f}" if cpu else "- | -"
        print(
            f"| {label} | {statistics.median(walls[key]):.2f} | {max(walls[key]):.2f} "
            f"| {cpu_cells} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=50)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", type=Path, default=None)
    args = parser.parse_args()
    if args.runs < 3:
        parser.error("--runs must be at least 3")
    work = args.keep or Path(tempfile.mkdtemp(prefix="feedmgr-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    log = work / "system.log"
    shape = build(log, int(args.size_mb * 1_000_000))
    print(f"machine: {machine()}")
    print(f"load average before: {os.getloadavg()}")
    print(
        f"input: {shape['bytes'] / 1e6:.1f} MB, {shape['lines']} lines, "
        f"{shape['documents']} documents"
    )
    feedmgr = [sys.executable, "-c", INNER, str(log)]
    startup = [sys.executable, "-c", INNER, str(SYSLOG)]
    scan_only = [sys.executable, "-c", SCAN, str(log)]
    timed([*GREP_FIXED, str(log)])  # warm the page cache
    timed(startup)  # write the .pyc files
    keys = (
        "feedmgr",
        "inner",
        "scan",
        "startup",
        "grep -ciE",
        "grep -ciF",
        "grep -c",
        "python pass",
        "python count",
    )
    walls: dict[str, list[float]] = {key: [] for key in keys}
    cpus: dict[str, list[float]] = {key: [] for key in keys}

    def run(key: str, command: list[str]) -> tuple[str, str]:
        wall, cpu, out, err = timed(command)
        walls[key].append(wall)
        cpus[key].append(cpu)
        return out, err

    def inner(key: str, err: str) -> None:
        wall, cpu = err.rsplit("INNER ", 1)[1].split()
        walls[key].append(float(wall))
        cpus[key].append(float(cpu))

    for _ in range(args.runs):
        out, err = run("feedmgr", feedmgr)
        inner("inner", err)
        document = json.loads(out)
        inner("scan", timed(scan_only)[3])
        run("startup", startup)
        grep_out, _ = run("grep -ciE", [*GREP_CANDIDATES, str(log)])
        needles_out, _ = run("grep -ciF", [*grep_needles(), str(log)])
        fixed_out, _ = run("grep -c", [*GREP_FIXED, str(log)])
        run("python pass", [sys.executable, "-c", "pass"])
        floor_out, _ = run("python count", [sys.executable, "-c", FLOOR, str(log)])
    print(f"load average after: {os.getloadavg()}")
    print(
        f"parse-log: {document['documents']} whole documents, {document['documents_cut']} cut, "
        f"{len(document['problems'])} problems; grep -c '</cleanmachines>': {fixed_out.strip()}; "
        f"grep -ciE candidates: {grep_out.strip()} lines; "
        f"grep -ciF parse-log's needles: {needles_out.strip()} lines; "
        f"python counting '</cleanmachines>': {floor_out.strip()}"
    )
    print()
    print_table(args.runs, walls, cpus)
    if args.keep is None:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
