"""Benchmark: parse and evaluate a large synthetic ``launchctl dumpstate``.

Generates a dumpstate of about ``--size-mb`` MB (default 100) of realistic job blocks, then
times, on the same file:
  1. ``feedmgr posture eval`` (streaming parse + evaluation of four conditions), in a fresh
     interpreter that reports its own peak RSS;
  2. the field document's "Loaded & Running" pipeline,
     ``grep -B 10 -A 10 -E "^\\s*state = running" <<< "$(cat FILE)" | grep -aiE "\\.*= {" |
     sed 's|.*/||;s| = {$||' | grep -i cisco`` (its sed fixed just enough to run), run by bash,
     with the peak RSS of bash and its children.
Prints a Markdown table row set for benchmarks/posture.md.

Prints the median and the worst of the runs, and the load average before each run.

Usage: python benchmarks/posture_dumpstate.py [--size-mb 100] [--keep DIR] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.host import cpu_model, grep_version  # noqa: E402

CONDITIONS = """\
format: feedmgr-posture/1
conditions:
  - {name: sysmond, service: com.apple.sysmond, operator: running}
  - {name: iseposture, service: com.cisco.secureclient.iseposture, operator: running,
     service_type: user-agent}
  - {name: zoom, service: "us.zoom.*", operator: not-loaded}
  - {name: mdm, service: com.apple.mdmclient.agent, operator: exit-code, exit_code: 0}
requirements:
  - {name: req, criteria: "sysmond & iseposture & zoom & mdm", message: fix}
"""

_STATES = ["running", "not running", "waiting", "exited", "spawn scheduled"]


def _block(target: str, kind: str, state: str, pid: int | None, code: str) -> str:
    label = target.rsplit("/", 1)[-1]
    lines = [
        f"{target} = {{",
        "\tactive count = 1",
        f"\tpath = /System/Library/{kind}s/{label}.plist",
        f"\ttype = {kind}",
        f"\tstate = {state}",
        "",
        f"\tprogram = /usr/libexec/{label}",
        "\targuments = {",
        f"\t\t/usr/libexec/{label}",
        "\t\t--daemon",
        "\t}",
        "",
        "\tdefault environment = {",
        "\t\tPATH => /usr/bin:/bin:/usr/sbin:/sbin",
        "\t}",
        "",
        "\tenvironment = {",
        f"\t\tXPC_SERVICE_NAME => {label}",
        "\t}",
        "",
        f"\tdomain = {target.rsplit('/', 1)[0]}",
        "\tasid = 100008",
        "\tminimum runtime = 10",
        "\texit timeout = 5",
        "\truns = 1",
    ]
    if pid is not None:
        lines.append(f"\tpid = {pid}")
    lines += [
        "\timmediate reason = ipc (mach)",
        "\tforks = 0",
        "\texecs = 1",
        "\tinitialized = 1",
        "\ttrampolined = 1",
        "\tstarted suspended = 0",
        "\tproxy started suspended = 0",
        f"\tlast exit code = {code}",
        "",
        "\tendpoints = {",
        f'\t\t"{label}.xpc" = {{',
        "\t\t\tport = 0x3b03",
        "\t\t\tactive = 1",
        "\t\t\tmanaged = 1",
        "\t\t\treset = 0",
        "\t\t\thide = 0",
        "\t\t\twatching = 1",
        "\t\t}",
        "\t}",
        "",
        "\tevent channels = {",
        '\t\t"com.apple.xpc.activity" = {',
        "\t\t\tport = 0x1a903",
        "\t\t\tactive = 0",
        "\t\t\tmanaged = 1",
        "\t\t}",
        "\t}",
        "",
        f"\tspawn type = {'daemon (3)' if kind == 'LaunchDaemon' else 'interactive (4)'}",
        "\tjetsam priority = 40",
        "\tjetsam memory limit (active) = 50",
        "\tjetsam memory limit (inactive) = 50",
        "\tjetsamproperties category = daemon",
        "\tjetsam thread limit = 32",
        "\tcpumon = default",
        "\tjob state = running" if state == "running" else "\tjob state = exited",
        "\tproperties = keepalive | runatload | inferred program | system service",
        "}",
        "",
    ]
    return "\n".join(lines) + "\n"


def generate(path: Path, size_mb: int) -> int:
    """Write a synthetic dumpstate of about ``size_mb`` MB; return the number of jobs."""
    target = size_mb * 1024 * 1024
    jobs = 0
    with path.open("w") as out:
        out.write("com.apple.xpc.launchd.domain.system = {\n\ttype = system\n\thandle = 0\n}\n\n")
        special = [
            _block("system/com.apple.sysmond", "LaunchDaemon", "running", 412, "(never exited)"),
            _block(
                "gui/501/com.cisco.secureclient.iseposture",
                "LaunchAgent",
                "running",
                612,
                "(never exited)",
            ),
            _block("gui/501/com.apple.mdmclient.agent", "LaunchAgent", "not running", None, "0"),
        ]
        written = 0
        while written < target:
            # the three jobs the conditions name sit at 1/4, 2/4 and 3/4 of the file
            if special and written >= target * (4 - len(special)) / 4:
                block = special.pop()
            else:
                domain = "system" if jobs % 3 else "gui/501"
                kind = "LaunchDaemon" if domain == "system" else "LaunchAgent"
                state = _STATES[jobs % len(_STATES)]
                pid = 1000 + jobs if state == "running" else None
                code = "(never exited)" if pid else f"{jobs % 4}: exit"
                block = _block(f"{domain}/com.vendor{jobs % 97}.svc{jobs}", kind, state, pid, code)
            out.write(block)
            written += len(block)
            jobs += 1
    return jobs


# CPU counts the worker feedmgr forks for the second half of a large dumpstate too
# (RUSAGE_CHILDREN, reaped before main returns); peak RSS is the larger of the two processes.
_FEEDMGR = """\
import os, resource, sys, time
from feedmgr.cli import main
def cpu_now():
    own, children = os.times(), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.user + own.system + children.ru_utime + children.ru_stime
start, cpu = time.perf_counter(), cpu_now()
code = main(["posture", "eval", sys.argv[1], "--dumpstate", sys.argv[2], "--format", "json"])
wall, cpu = time.perf_counter() - start, cpu_now() - cpu
rss = max(
    resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
)
sys.stderr.write(f"BENCH {wall} {cpu} {rss}\\n")
"""

PIPELINE = (
    'grep -B 10 -A 10 -E "^\\s*state = running" <<< "$(cat "$1")" | '
    "grep -aiE \"\\\\.*= {\" | sed 's|.*/||;s| = {$||' | grep -i cisco"
)


Measure = tuple[float, float, float]


def run_feedmgr(conditions: Path, dumpstate: Path) -> tuple[Measure, dict[str, object]]:
    """(wall s, CPU s, peak RSS MB) of parse + evaluate inside the interpreter, and the JSON."""
    run = subprocess.run(
        [sys.executable, "-c", _FEEDMGR, str(conditions), str(dumpstate)],
        capture_output=True,
        text=True,
        check=False,
    )
    line = next(x for x in run.stderr.splitlines() if x.startswith("BENCH "))
    _, wall, cpu, rss_kb = line.split()
    return (float(wall), float(cpu), int(rss_kb) / 1024), json.loads(run.stdout)


def run_pipeline(dumpstate: Path) -> tuple[Measure, str]:
    """(wall s, CPU s of bash and its children, largest child's peak RSS MB), and the output."""
    bash = shutil.which("bash") or "bash"
    probe = (
        "import resource, subprocess, sys, time\n"
        "start = time.perf_counter()\n"
        "out = subprocess.run(sys.argv[1:], capture_output=True, text=True).stdout\n"
        "elapsed = time.perf_counter() - start\n"
        "usage = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "cpu = usage.ru_utime + usage.ru_stime\n"
        "sys.stderr.write(f'BENCH {elapsed} {cpu} {usage.ru_maxrss}\\n')\n"
        "sys.stdout.write(out)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe, bash, "-c", PIPELINE, "pipeline", str(dumpstate)],
        capture_output=True,
        text=True,
        check=False,
    )
    line = next(x for x in run.stderr.splitlines() if x.startswith("BENCH "))
    _, wall, cpu, rss_kb = line.split()
    return (float(wall), float(cpu), int(rss_kb) / 1024), run.stdout


def _machine() -> str:
    cpu = cpu_model(platform.processor() or platform.machine())
    return (
        f"{platform.system()} {platform.release()}, {cpu}, Python {platform.python_version()}, "
        f"{grep_version()}"
    )


def main() -> None:
    """Generate, run both, print the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, default=None, help="keep files in this directory")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        work = args.keep or Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        dumpstate = work / "dumpstate.txt"
        conditions = work / "conditions.yaml"
        conditions.write_text(CONDITIONS)
        jobs = generate(dumpstate, args.size_mb)
        size = dumpstate.stat().st_size / 1024 / 1024
        lines = sum(1 for _ in dumpstate.open("rb"))
        load = (
            Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else "?"
        )
        print(f"machine: {_machine()}")
        print(f"input: {size:.1f} MB, {lines} lines, {jobs} job blocks")
        ours: list[Measure] = []
        pipe: list[Measure] = []
        result: dict[str, object] = {}
        output = ""
        loads: list[str] = []
        for _ in range(args.runs):
            loads.append("/".join(Path("/proc/loadavg").read_text().split()[:3]))
            measure, result = run_feedmgr(conditions, dumpstate)
            ours.append(measure)
            measure, output = run_pipeline(dumpstate)
            pipe.append(measure)
        print(
            f"load average before/after: {load} / {Path('/proc/loadavg').read_text().split()[:3]}"
        )
        print(
            f"feedmgr result: {result['posture_status']}, conditions: "
            + ", ".join(f"{c['name']}={c['passed']}" for c in result["conditions"])
        )  # type: ignore[attr-defined]
        print(f"pipeline output: {output.split()}")
        print()
        print(
            f"| what (runs: {args.runs}) | wall s median (worst) | CPU s median (worst) "
            "| peak RSS MB |"
        )
        print("|---|---:|---:|---:|")
        for name, rows in (
            ("feedmgr posture eval (parse + evaluate)", ours),
            ("field document grep -B 10 -A 10 pipeline", pipe),
        ):
            walls, cpus, rss = zip(*rows, strict=True)
            print(
                f"| {name} | {statistics.median(walls):.2f} ({max(walls):.2f}) "
                f"| {statistics.median(cpus):.2f} ({max(cpus):.2f}) | {max(rss):.1f} |"
            )
        # Each feedmgr run against the pipeline run right after it, on the same load.
        speedups = [p[0] / o[0] for o, p in zip(ours, pipe, strict=True)]
        print(
            f"\nfeedmgr faster than the pipeline (wall, run by run): median "
            f"{statistics.median(speedups):.2f}x, worst {min(speedups):.2f}x; loads per run: "
            + ", ".join(loads)
        )


if __name__ == "__main__":
    main()
