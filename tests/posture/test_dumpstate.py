"""A large dumpstate file parsed in two halves at once gives exactly the one-pass result."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

import feedmgr.posture.dumpstate
from feedmgr.errors import ParseError
from feedmgr.parallel import allow_worker_processes, worker_processes_allowed
from feedmgr.posture.dumpstate import block_start_after, open_dumpstate
from feedmgr.posture.launchd import JobRecord, iter_blocks, open_text
from tests.processes import interrupt_when_workers_start

# These tests fork on purpose (the production code forks only when fork_is_safe()); pytest's
# own threads must not turn Python 3.12's warning about forking a threaded process into a
# failure here.
pytestmark = pytest.mark.filterwarnings(
    r"ignore:This process \(pid=\d+\) is multi-threaded:DeprecationWarning"
)


EXAMPLE = Path(__file__).resolve().parents[2] / "docs/examples/macos-service-condition.yaml"


def _wanted(label: str) -> bool:
    # Jobs of the 8th and the 34th of 40 copies: some in each half.
    return label.endswith((".7.svc", ".33.svc"))


@pytest.fixture
def forks(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Split from 1 byte on, as the CLI does (workers allowed); the pids forked."""
    monkeypatch.setattr(feedmgr.posture.dumpstate, "SPLIT_MIN_BYTES", 1)
    monkeypatch.setattr(feedmgr.posture.dumpstate, "fork_is_safe", lambda: True)
    allowed_before = worker_processes_allowed()
    allow_worker_processes()
    forked: list[int] = []
    real_fork = os.fork

    def fork() -> int:
        pid = real_fork()
        if pid:
            forked.append(pid)
        return pid

    monkeypatch.setattr(feedmgr.posture.dumpstate.os, "fork", fork)
    yield forked
    allow_worker_processes(allowed_before)


def _dumpstate(sample: Path, copies: int) -> str:
    """The sample dumpstate's blocks repeated, each copy's jobs renamed ``...N.svc``."""
    text = sample.read_text()
    return "".join(
        re.sub(r"^(system|gui/501)/([^ ]+) = \{", rf"\1/\2.{n}.svc = {{", text, flags=re.M)
        for n in range(copies)
    )


def _one_pass(path: Path) -> list[JobRecord]:
    with open_text(path) as handle:
        return list(iter_blocks(handle, str(path), wanted=_wanted))


def _split(path: Path) -> list[JobRecord]:
    with ExitStack() as stack:
        return list(open_dumpstate(stack, path, _wanted))


def _outcome(parse: Callable[[Path], list[JobRecord]], path: Path) -> object:
    try:
        return parse(path)
    except ParseError as exc:
        return (exc.subject, exc.problem)


def test_two_halves_give_the_one_pass_records(
    forks: list[int], asset: Callable[[str], Path], tmp_path: Path
) -> None:
    path = tmp_path / "dumpstate.txt"
    path.write_text(_dumpstate(asset("posture/dumpstate.txt"), 40))

    records = _split(path)

    assert forks, "the second half was not parsed by a worker"
    assert records == _one_pass(path)
    labels = {record.label for record in records}
    assert {"com.apple.sysmond.7.svc", "com.apple.sysmond.33.svc"} <= labels
    # Line numbers of the second half count from the top of the file.
    lines = path.read_text().splitlines()
    for record in records:
        assert lines[record.line - 1].startswith(f"{record.domain}/{record.label} = {{")


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (lambda text: text + "}\n", "closes no block"),
        (lambda text: text[: text.rindex("}")], "is not closed"),
        (lambda text: text.replace("}\n\n", "}\n}\n\n", 1), "line 13: '}' closes no block"),
    ],
    ids=["stray brace at the end", "truncated", "damage in the first half"],
)
def test_broken_dumpstates_fail_as_in_one_pass(
    forks: list[int],
    asset: Callable[[str], Path],
    tmp_path: Path,
    damage: Callable[[str], str],
    problem: str,
) -> None:
    path = tmp_path / "dumpstate.txt"
    path.write_text(damage(_dumpstate(asset("posture/dumpstate.txt"), 40)))

    expected = _outcome(_one_pass, path)
    assert isinstance(expected, tuple)
    assert problem in expected[1]
    assert _outcome(_split, path) == expected


def test_a_block_start_inside_a_block_is_not_trusted(
    forks: list[int], asset: Callable[[str], Path], tmp_path: Path
) -> None:
    """An unindented line ending in '{' inside a job looks like a block start; splitting
    there, the first half ends inside a block, and the file is parsed in one pass."""
    sample = asset("posture/dumpstate.txt")
    wrapper = (
        "system/com.apple.wrapper.7.svc = {\n\tstate = running\n"
        + "\tfiller = x\n" * 2000
        + "decoy = {\n\t}\n}\n\n"
    )
    text = _dumpstate(sample, 20) + wrapper + _dumpstate(sample, 20)
    path = tmp_path / "dumpstate.txt"
    path.write_text(text)
    with path.open("rb") as raw:
        split = block_start_after(raw.fileno(), len(text) // 2, len(text))
    assert split is not None
    assert text[split:].startswith("decoy = {")

    records = _split(path)

    assert records == _one_pass(path)
    assert "com.apple.wrapper.7.svc" in {record.label for record in records}


@pytest.mark.parametrize(
    "decoy",
    ["cleanup() {", "system/com.apple.decoy.7.svc = {"],
    ids=["sh function", "job header"],
)
def test_a_block_start_inside_an_arguments_block_is_not_trusted(
    forks: list[int], asset: Callable[[str], Path], tmp_path: Path, decoy: str
) -> None:
    """A multi-line 'sh -c' argument prints its lines from column 0; one ending in '{'
    near the middle looks like a block start. Split there, the first half ends inside the
    arguments block, so the file is parsed in one pass: the wrapping job is read whole and
    the decoy is no job."""
    sample = asset("posture/dumpstate.txt")
    script = "\n".join([decoy, "  rm -f /tmp/x", "}; trap cleanup EXIT"])
    wrapper = (
        "system/com.apple.wrapper.7.svc = {\n\tstate = running\n\targuments = {\n"
        + "\t\t/bin/sh\n\t\t-c\n"
        + "\t\t# filler\n" * 2000
        + script
        + "\n\t}\n\tpid = 77\n}\n\n"
    )
    text = _dumpstate(sample, 20) + wrapper + _dumpstate(sample, 20)
    path = tmp_path / "dumpstate.txt"
    path.write_text(text)
    with path.open("rb") as raw:
        split = block_start_after(raw.fileno(), len(text) // 2, len(text))
    assert split is not None
    assert text[split:].startswith(decoy)

    records = _split(path)

    assert records == _one_pass(path)
    wrapped = {record.label: record for record in records}["com.apple.wrapper.7.svc"]
    assert (wrapped.state, wrapped.pid) == ("running", 77)
    assert "com.apple.decoy.7.svc" not in {record.label for record in records}


def test_no_worker_when_processes_are_not_allowed(
    forks: list[int], asset: Callable[[str], Path], tmp_path: Path
) -> None:
    allow_worker_processes(False)
    path = tmp_path / "dumpstate.txt"
    path.write_text(_dumpstate(asset("posture/dumpstate.txt"), 10))

    assert _split(path) == _one_pass(path)
    assert forks == []


def test_the_worker_is_reaped(
    forks: list[int], asset: Callable[[str], Path], tmp_path: Path
) -> None:
    path = tmp_path / "dumpstate.txt"
    path.write_text(_dumpstate(asset("posture/dumpstate.txt"), 10))
    _split(path)
    assert forks
    for pid in forks:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_ctrl_c_while_the_halves_are_parsed_prints_one_line(
    asset: Callable[[str], Path], tmp_path: Path
) -> None:
    """Ctrl-C (SIGINT to the process group, as a terminal sends it) once the worker for the
    second half is forked: one "interrupted" line and exit 130, no worker traceback, and no
    worker left behind."""
    path = tmp_path / "dumpstate.txt"
    path.write_text(_dumpstate(asset("posture/dumpstate.txt"), 6000))
    assert path.stat().st_size > feedmgr.posture.dumpstate.SPLIT_MIN_BYTES
    command = [
        sys.executable, "-m", "feedmgr", "posture", "eval",
        str(EXAMPLE), "--dumpstate", str(path),
    ]  # fmt: skip
    interrupted = 0
    for delay in (0.0, 0.02, 0.05):
        group, code, err = interrupt_when_workers_start(command, delay)
        if code in {0, 1}:  # finished before the signal came
            continue
        interrupted += 1
        assert code == 130, err
        assert err == "feedmgr: interrupted\n"
        with pytest.raises(ProcessLookupError):
            os.killpg(group, 0)  # the whole group is gone: no worker left
    assert interrupted >= 2
