"""Benchmark certificate grading and the concurrent probe (run: python benchmarks/certs_bench.py).

Prints a markdown table; the numbers in benchmarks/certs.md come from this script.
Everything runs on loopback with certificates generated on the fly.
"""

from __future__ import annotations

import contextlib
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from feedmgr.certs.grade import GradeOptions, check_files, probe_targets  # noqa: E402
from feedmgr.certs.identity import reference  # noqa: E402
from feedmgr.certs.load import system_anchors  # noqa: E402
from feedmgr.certs.probe import ProbeTarget, probe_all  # noqa: E402
from tests.certs.factory import NOW, Leaf, pki, write_pem  # noqa: E402
from tests.certs.servers import serve_chain, silent_server  # noqa: E402


def timed(
    label: str, rows: list[tuple[str, str]], func: Callable[[], object], repeat: int = 1
) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        func()
    elapsed = time.perf_counter() - start
    per = elapsed / repeat
    rows.append((label, f"{per * 1000:.1f} ms" if per < 1 else f"{per:.2f} s"))
    return per


def main() -> None:
    rows: list[tuple[str, str]] = []
    ca = pki()
    leaf = ca.leaf(Leaf(dns=("psn1.corp.example", "*.corp.example"), ips=("10.1.1.21",)))
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        full = write_pem(tmp_path / "full.pem", ca.root.cert, leaf.cert, ca.intermediate.cert)
        root = write_pem(tmp_path / "root.pem", ca.root.cert)
        refs = [reference("psn1.corp.example"), reference("10.1.1.21")]
        options = GradeOptions(NOW, public_ca=True)
        timed(
            "cert check: load 3-cert PEM, find leaf, all checks, path build (--ca)",
            rows,
            lambda: check_files(full, [], refs, [root], options),
            repeat=200,
        )
        timed("load the system trust store", rows, system_anchors, repeat=20)
        anchors, _ = system_anchors()
        rows.append(("system trust store size", f"{len(anchors)} certificates"))
        timed(
            "cert check with the system store (no --ca)",
            rows,
            lambda: check_files(full, [], refs, [], options),
            repeat=20,
        )
        with contextlib.ExitStack() as stack:
            servers = [
                stack.enter_context(serve_chain(tmp_path, leaf, [ca.intermediate.cert]))
                for _ in range(16)
            ]
            targets = [ProbeTarget(s.host, s.port, "psn1.corp.example") for s in servers]
            timed("probe 16 live loopback PSNs (fetch chains)", rows, lambda: probe_all(targets))
            timed(
                "probe + grade 16 live loopback PSNs",
                rows,
                lambda: probe_targets(targets, [], [root], GradeOptions(NOW), timeout=5),
            )
        with contextlib.ExitStack() as stack:
            silent = [stack.enter_context(silent_server()) for _ in range(32)]
            dead = [ProbeTarget("127.0.0.1", int(t.rsplit(":", 1)[1])) for t in silent]
            timed(
                "probe 32 silent targets, --timeout 1 (16 at a time)",
                rows,
                lambda: probe_all(dead, timeout=1.0),
            )
    print(f"Python {platform.python_version()} on {platform.machine()}, {platform.system()}\n")
    print("| measurement | result |\n|---|---|")
    for label, value in rows:
        print(f"| {label} | {value} |")


if __name__ == "__main__":
    main()
