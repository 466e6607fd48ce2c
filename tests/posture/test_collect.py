"""Evidence collection: live launchctl runs through an injected runner, and the script."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from feedmgr.errors import UsageError
from feedmgr.posture.collect import (
    LaunchctlFailed,
    collect_script,
    default_uid,
    list_option,
    live_plists,
    live_streams,
    print_option,
    subprocess_runner,
    system_runner,
)
from feedmgr.posture.evaluate import evaluate_condition, gather
from feedmgr.posture.model import JobKind, Operator, PostureSpec, ServiceCondition, ServiceType

Asset = Callable[[str], Path]


class FakeLaunchctl:
    """A runner answering from canned files and recording each call."""

    def __init__(self, outputs: dict[tuple[str, ...], Path]) -> None:
        self.outputs = outputs
        self.calls: list[tuple[str, ...]] = []

    def __call__(self, args: Sequence[str]) -> Iterator[str]:
        self.calls.append(tuple(args))
        path = self.outputs.get(tuple(args))
        if path is None:
            raise LaunchctlFailed("launchctl " + " ".join(args), "exit status 113")
        yield from path.read_text().splitlines()


def _spec(*conditions: ServiceCondition) -> PostureSpec:
    return PostureSpec(conditions, (), ())


def test_live_streams_print_each_exact_label_in_its_domains(asset: Asset) -> None:
    """Live collection runs dumpstate, list, and print for exact labels in the allowed domains."""
    runner = FakeLaunchctl(
        {
            ("dumpstate",): asset("posture/dumpstate.txt"),
            ("list",): asset("posture/list-system.txt"),
            ("print", "gui/501/com.cisco.secureclient.iseposture"): asset(
                "posture/print-gui-iseposture.txt"
            ),
        }
    )
    condition = ServiceCondition("c", "com.cisco.secureclient.iseposture", Operator.RUNNING)
    spec = _spec(
        condition,
        ServiceCondition("d", "com.apple.sysmond", Operator.LOADED, ServiceType.DAEMON),
        ServiceCondition("z", "us.zoom.*", Operator.NOT_LOADED),
    )
    evidence = gather(spec, live_streams(spec, runner, uid=501, as_root=True))
    assert runner.calls == [
        ("dumpstate",),
        ("list",),
        ("print", "system/com.cisco.secureclient.iseposture"),
        ("print", "gui/501/com.cisco.secureclient.iseposture"),
        ("print", "system/com.apple.sysmond"),
    ]
    result = evaluate_condition(condition, evidence)
    assert result.passed
    assert [r.source for r in result.deciding] == ["print+dumpstate"]


@pytest.mark.skipif(shutil.which("false") is None, reason="needs false(1)")
def test_subprocess_runner_reports_failure() -> None:
    """A launchctl that exits non-zero raises LaunchctlFailed with the status."""
    run = subprocess_runner(shutil.which("false") or "false")
    with pytest.raises(LaunchctlFailed, match="exit status 1"):
        list(run(["print", "system/x"]))


def test_subprocess_runner_reports_stderr_even_when_large() -> None:
    """A launchctl that writes much to stderr does not stall; its first words are reported."""
    script = "import sys; sys.stderr.write('Could not find service' + 'x' * 200000); sys.exit(113)"
    run = subprocess_runner(sys.executable)
    with pytest.raises(LaunchctlFailed, match="exit status 113: Could not find service"):
        list(run(["-c", script]))


def test_subprocess_runner_streams_stdout() -> None:
    """The subprocess runner yields stdout lines as they come."""
    run = subprocess_runner(sys.executable)
    assert list(run(["-c", "print('a'); print('b')"])) == ["a\n", "b\n"]


def test_subprocess_runner_missing_binary_is_usage_error(tmp_path: Path) -> None:
    """A launchctl path that does not exist is a usage error naming it."""
    with pytest.raises(UsageError, match="cannot run"):
        list(subprocess_runner(str(tmp_path / "nope"))(["list"]))


def test_system_runner_off_macos(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without $FEEDMGR_LAUNCHCTL, --live off macOS is a usage error saying what to do."""
    monkeypatch.delenv("FEEDMGR_LAUNCHCTL", raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    with pytest.raises(UsageError, match="collect-script"):
        system_runner()


def test_collect_script_quotes_labels() -> None:
    """Labels reach the shell quoted, so odd characters cannot run commands."""
    spec = _spec(ServiceCondition("c", "com.x$(touch pwned)", Operator.LOADED, ServiceType.DAEMON))
    script = collect_script(spec, "my conditions.yaml")
    assert "system/'com.x$(touch pwned)'" in script
    assert "gui/" not in script.split("print", 1)[1].split("\n", 1)[0]
    if shutil.which("sh"):
        subprocess.run(["sh", "-n"], input=script, text=True, check=True)


HOSTILE_FILE_NAMES = [
    "c$HOME`id -un`.yaml",
    'it\'s "quoted" $(touch pwned).yaml',
    "back\\slash\\c\\n.yaml",
    "two\nlines.yaml",
]


def _run_collect_script(script: str, work: Path) -> str:
    """Run a collect script with /bin/sh and stand-ins for the macOS tools it calls."""
    bin_dir = work / "bin"
    bin_dir.mkdir()
    stand_ins = {
        "sudo": 'exec "$@"',
        "launchctl": 'case "$1" in print) printf "%s = {\\n}\\n" "$2" ;;'
        ' *) echo "PID Status Label" ;; esac',
        "stat": "echo tester",
        "hostname": "echo mac01",
        "id": "echo 501",
        "dscl": "echo 'NFSHomeDirectory: /nonexistent'",
    }
    for name, body in stand_ins.items():
        tool = bin_dir / name
        tool.write_text(f"#!/bin/sh\n{body}\n")
        tool.chmod(0o755)
    (work / "collect.sh").write_text(script)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    run = subprocess.run(
        ["/bin/sh", "collect.sh"], cwd=work, env=env, capture_output=True, text=True, check=True
    )
    return run.stdout


@pytest.mark.skipif(not Path("/bin/sh").exists(), reason="needs /bin/sh")
@pytest.mark.parametrize("file_name", HOSTILE_FILE_NAMES)
def test_collect_script_prints_the_eval_command_with_every_word_inert(
    tmp_path: Path, file_name: str
) -> None:
    """Run with /bin/sh, the script prints an eval command that a shell reads back as the
    condition file's name and the capture paths verbatim: nothing in the name (or in a
    label) is expanded or run, neither by the script nor by pasting the command."""
    label = "com.x`touch pwned-label`\\c"
    spec = _spec(ServiceCondition("c", label, Operator.LOADED, ServiceType.DAEMON))
    out = _run_collect_script(collect_script(spec, file_name), tmp_path)
    command = out.split("Evaluate with:\n", 1)[1]
    words = shlex.split(command)
    assert words[:4] == ["feedmgr", "posture", "eval", file_name]
    printed = words[words.index("--print") + 1]
    assert printed.startswith(f"system/{label}=feedmgr-posture-mac01-")
    assert not list(tmp_path.glob("pwned*"))


def test_collect_script_without_file_skips_prints() -> None:
    """Without a condition file the script captures dumpstate and list only."""
    script = collect_script(None)
    assert "launchctl dumpstate" in script
    assert "launchctl print" not in script


@pytest.mark.parametrize(("sudo_uid", "expected"), [("501", 501), ("", None), ("x", None)])
def test_default_uid_prefers_the_sudo_caller(
    monkeypatch: pytest.MonkeyPatch, sudo_uid: str, expected: int | None
) -> None:
    """Under sudo, --live looks at the caller's gui/UID domain, not root's."""
    monkeypatch.setenv("SUDO_UID", sudo_uid)
    assert default_uid() == (expected if expected is not None else os.getuid())


def test_print_option_forms(tmp_path: Path) -> None:
    """--print takes FILE or DOMAIN/LABEL=FILE (the target, for macOS 10.15 and older); a
    file whose name has '=' still works."""
    plain = tmp_path / "print.txt"
    odd = tmp_path / "a=b.txt"
    for path in (plain, odd):
        path.write_text("system/com.x = {\n}\n")
    assert print_option(str(plain)) == (None, plain)
    assert print_option(f"system/com.wazuh.agent={plain}") == ("system/com.wazuh.agent", plain)
    assert print_option(f"gui/501/com.x.agent={plain}") == ("gui/501/com.x.agent", plain)
    assert print_option(str(odd)) == (None, odd)
    assert print_option("print.txt", tmp_path) == (None, plain)
    for bad in ("system", "pid/1/com.x", "gui/me/com.x"):
        with pytest.raises(UsageError, match="is not a launchctl print target"):
            print_option(f"{bad}={plain}")
    with pytest.raises(UsageError, match="no such file"):
        print_option(f"system/com.x={tmp_path / 'missing.txt'}")


def test_list_option_forms(tmp_path: Path) -> None:
    """--list takes FILE (system) or DOMAIN=FILE; a file whose name has '=' still works."""
    plain = tmp_path / "list.txt"
    odd = tmp_path / "a=b.txt"
    for path in (plain, odd):
        path.write_text("PID\tStatus\tLabel\n")
    assert list_option(str(plain)) == ("system", plain)
    assert list_option(f"gui/501={plain}") == ("gui/501", plain)
    assert list_option(str(odd)) == ("system", odd)
    with pytest.raises(UsageError, match="'pid/1' is not a launchd domain"):
        list_option(f"pid/1={plain}")


def test_capture_paths_in_a_deployment_file_expand_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A capture path in a deployment file (base given) expands ~ as the file's other paths
    do, with or without a domain prefix; a relative one is under the file's folder."""
    home = tmp_path / "home"
    (home / "captures").mkdir(parents=True)
    capture = home / "captures" / "list.txt"
    capture.write_text("PID\tStatus\tLabel\n")
    monkeypatch.setenv("HOME", str(home))
    base = tmp_path / "deploy"
    assert list_option("~/captures/list.txt", base) == ("system", capture)
    assert list_option("gui/501=~/captures/list.txt", base) == ("gui/501", capture)
    assert print_option("system/com.x=~/captures/list.txt", base) == ("system/com.x", capture)
    assert list_option("list.txt", home / "captures") == ("system", capture)


@pytest.mark.parametrize(("as_root", "domain"), [(True, "system"), (False, "gui/501")])
def test_live_list_domain_follows_the_user(asset: Asset, as_root: bool, domain: str) -> None:
    """launchctl list run as root lists daemons (system), as a user that user's agents."""
    runner = FakeLaunchctl(
        {("dumpstate",): asset("posture/dumpstate.txt"), ("list",): asset("posture/list-gui.txt")}
    )
    spec = _spec(ServiceCondition("c", "com.example.terminated.agent", Operator.LOADED))
    evidence = gather(spec, live_streams(spec, runner, uid=501, as_root=as_root))
    assert [r.target for r in evidence.records] == [f"{domain}/com.example.terminated.agent"]


def test_live_plists_lists_the_five_directories(tmp_path: Path) -> None:
    """Live plist discovery looks in ~/Library/LaunchAgents and the four system directories."""
    root, home = tmp_path / "root", tmp_path / "home"
    for directory, name in [
        (home / "Library/LaunchAgents", "com.example.user.plist"),
        (root / "Library/LaunchDaemons", "com.example.daemon.plist"),
        (root / "System/Library/LaunchAgents", "com.apple.agent.plist"),
        (root / "Library/LaunchDaemons", "README.txt"),
    ]:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text("<plist/>")
    found = {p.label: p.kind for p in live_plists(home, root)}
    assert found == {
        "com.example.user": JobKind.USER_AGENT,
        "com.example.daemon": JobKind.DAEMON,
        "com.apple.agent": JobKind.USER_AGENT,
    }


def test_live_print_before_big_sur_decides_the_condition(asset: Asset, tmp_path: Path) -> None:
    """On a Mac before macOS 11, '--live' reads the print block launchctl opens with the bare
    label (real Catalina output) as the printed job: the daemon runs, decided by print."""
    real = asset("posture/real/print-system-wazuh-catalina-excerpt.txt")
    printed = tmp_path / "print.txt"
    # The published excerpt stops before the job block's own closing brace (SOURCES).
    printed.write_text(real.read_text() + "}\n")
    runner = FakeLaunchctl(
        {
            ("dumpstate",): asset("posture/dumpstate.txt"),
            ("list",): asset("posture/real/list-system-sequoia.txt"),
            ("print", "system/com.wazuh.agent"): printed,
        }
    )
    condition = ServiceCondition("w", "com.wazuh.agent", Operator.RUNNING, ServiceType.DAEMON)
    spec = _spec(condition)
    result = evaluate_condition(
        condition, gather(spec, live_streams(spec, runner, 501, as_root=True))
    )
    assert result.passed
    assert [(r.source, r.target, r.pid) for r in result.deciding] == [
        ("print", "system/com.wazuh.agent", 1061)
    ]
