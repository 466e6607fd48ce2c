"""The bundle collect script on a stand-in Mac, and the bundle parser on good and bad files."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feedmgr.posture.bundle import BundleError, parse_bundle
from feedmgr.posture.collect import bundle_script
from feedmgr.posture.model import Operator, PostureSpec, ServiceCondition, ServiceType
from tests.posture.fakemac import DATA, Mac, run_script

pytestmark = pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX shell")

SYSMOND = ServiceCondition("sysmond", "com.apple.sysmond", Operator.RUNNING)
ISE = ServiceCondition(
    "ise", "com.cisco.secureclient.iseposture", Operator.RUNNING, ServiceType.USER_AGENT
)
ZOOM = ServiceCondition("zoom", "us.zoom.*", Operator.NOT_LOADED)
# Real captures pasted by macOS users (tests/data/posture/real/SOURCES); expected values are
# read off those texts by hand.
REAL = DATA / "real"


def _spec(*conditions: ServiceCondition) -> PostureSpec:
    return PostureSpec(conditions, (), ())


def _collect(tmp_path: Path, spec: PostureSpec | None, mac: Mac | None = None) -> bytes:
    run = run_script(bundle_script(spec), tmp_path, mac)
    assert run.returncode == 0, run.stderr
    return run.stdout.encode()


def test_bundle_holds_the_macs_identity_and_the_named_services_only(tmp_path: Path) -> None:
    """The bundle names the Mac (host, serial, hardware UUID, macOS version and build, time)
    and keeps only the list rows of the services the conditions name, with the total count."""
    bundle = parse_bundle(_collect(tmp_path, _spec(SYSMOND, ZOOM)), "mac01")
    mac = Mac()
    assert (bundle.host, bundle.serial, bundle.hardware_uuid) == (mac.host, mac.serial, mac.uuid)
    assert (bundle.product, bundle.version, bundle.build) == ("macOS", "14.3.1", "23D60")
    assert bundle.collected.isoformat() == "2026-12-01T09:30:00+00:00"
    assert (bundle.console_user, bundle.console_uid) == ("tester", 501)
    system, gui = bundle.lists
    assert (system.domain, system.jobs) == ("system", 7)
    assert [line.split("\t")[2] for line in system.lines[1:]] == [
        "com.apple.sysmond",
        "us.zoom.ZoomDaemon",
    ]
    assert (gui.domain, gui.jobs) == ("gui/501", 4)
    assert [line.split("\t")[2] for line in gui.lines[1:]] == ["us.zoom.updater"]


def test_bundle_reads_ioreg_tree_lines_too(tmp_path: Path) -> None:
    """Serial and hardware UUID are found whether ioreg indents with spaces or, as
    'ioreg -l' prints them, behind '|' tree lines."""
    mac = Mac(ioreg_indent="    | |   ")
    bundle = parse_bundle(_collect(tmp_path, _spec(SYSMOND), mac), "m")
    assert (bundle.serial, bundle.hardware_uuid) == (mac.serial, mac.uuid)


def test_bundle_prints_each_exact_label_in_the_domains_its_type_allows(tmp_path: Path) -> None:
    """launchctl print runs for exact labels only: system and gui/UID for daemon-or-agent,
    gui/UID alone for a user agent; a job launchctl cannot find is recorded as absent."""
    bundle = parse_bundle(_collect(tmp_path, _spec(SYSMOND, ISE, ZOOM)), "mac01")
    prints = {p.target: p.absent for p in bundle.prints}
    assert prints == {
        "system/com.apple.sysmond": False,
        "gui/501/com.apple.sysmond": True,
        "gui/501/com.cisco.secureclient.iseposture": False,
    }
    assert bundle.plists == (
        str(tmp_path / "home/Library/LaunchAgents/com.cisco.secureclient.iseposture.plist"),
    )


def test_bundle_is_a_few_kilobytes(tmp_path: Path) -> None:
    """A bundle for three services stays a few KB, far from a dumpstate."""
    assert len(_collect(tmp_path, _spec(SYSMOND, ISE, ZOOM))) < 8 * 1024


def test_bundle_at_the_login_window_has_no_gui_domain(tmp_path: Path) -> None:
    """With nobody logged in (console owned by root) the bundle has no gui list and says so."""
    bundle = parse_bundle(_collect(tmp_path, _spec(ISE), Mac(console_user="root")), "m")
    assert bundle.console_uid is None
    assert [s.domain for s in bundle.lists] == ["system"]
    assert bundle.missing_domains(ISE) == ("gui (no console user)",)


def test_bundle_labels_cannot_run_commands(tmp_path: Path) -> None:
    """A label with shell syntax reaches launchctl and the filter quoted: nothing runs."""
    odd = ServiceCondition("odd", "com.x$(touch pwned)", Operator.LOADED, ServiceType.DAEMON)
    bundle = parse_bundle(_collect(tmp_path, _spec(odd)), "m")
    assert not (tmp_path / "pwned").exists()
    assert [p.target for p in bundle.prints] == ["system/com.x$(touch pwned)"]
    assert bundle.filters == ("com.x$(touch pwned)",)


@pytest.mark.parametrize(
    "label",
    ["com.a\\cb", "com.x\\nq", "com.it's", 'com."dq"', "com.x`touch pwned`", "-n"],
)
def test_bundle_keeps_odd_labels_verbatim(tmp_path: Path, label: str) -> None:
    """Backslashes, quotes and backquotes in a label reach the bundle as written: no shell
    (dash's echo reads backslash escapes) turns them into other text, cuts a line or runs
    anything."""
    odd = ServiceCondition("odd", label, Operator.LOADED, ServiceType.DAEMON)
    bundle = parse_bundle(_collect(tmp_path, _spec(odd)), "m")
    assert not (tmp_path / "pwned").exists()
    assert bundle.filters == (label,)
    assert [p.target for p in bundle.prints] == [f"system/{label}"]


@pytest.mark.parametrize("name", ["keep $(touch pwned)", "it's `touch pwned`", "-dir"])
def test_bundle_script_output_dir_is_inert(tmp_path: Path, name: str) -> None:
    """An --output-dir with shell syntax, quotes or a leading dash is used as the folder
    name it is, and nothing in it runs."""
    work = tmp_path / "work"
    work.mkdir()
    run = run_script(bundle_script(_spec(SYSMOND), name), work)
    assert run.returncode == 0, run.stderr
    assert not (work / "pwned").exists()
    assert (work / name / "posture-bundle.txt").read_text() == run.stdout


def test_bundle_script_refuses_to_run_as_a_user(tmp_path: Path) -> None:
    """Run without root, the script stops before collecting anything (launchctl would list
    the user's domain as if it were the system's)."""
    script = bundle_script(_spec(SYSMOND)).replace('"$(id -u)" != 0', '"$(id -u)" != 7')
    run = run_script(script, tmp_path)
    assert run.returncode == 1
    assert run.stdout == ""
    assert "run as root" in run.stderr


def test_bundle_script_keeps_a_copy_in_the_output_dir(tmp_path: Path) -> None:
    """With --output-dir the Mac keeps the same bundle as DIR/posture-bundle.txt."""
    keep = tmp_path / "keep dir"
    run = run_script(bundle_script(_spec(SYSMOND), str(keep)), tmp_path)
    assert (keep / "posture-bundle.txt").read_text() == run.stdout


@pytest.mark.parametrize("shell", ["dash", "bash"])
def test_bundle_script_is_posix(tmp_path: Path, shell: str) -> None:
    """The script parses in each POSIX shell installed (macOS runs it with /bin/sh)."""
    binary = shutil.which(shell)
    if binary is None:
        pytest.skip(f"{shell} not installed")
    args = [binary, "sh", "-n"] if shell == "busybox" else [binary, "-n"]
    subprocess.run(args, input=bundle_script(_spec(SYSMOND, ZOOM)), text=True, check=True)


def _good(tmp_path: Path) -> bytes:
    return _collect(tmp_path, _spec(SYSMOND))


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda b: b[: b.index(b"@@ print")], "truncated: no '@@ end' line"),
        (lambda b: b.replace(b"bundle/1", b"bundle/2", 1), "format version '2' is not supported"),
        (lambda b: b"\x89PNG\r\n\x1a\n\0\0" + b, "binary data"),
        (lambda b: b"\xff\xfe" + b, "not UTF-8 text"),
        (lambda b: b.replace(b"kernel = Darwin", b"kernel = Linux"), "not from a Mac"),
        (lambda b: b.replace(b"product = macOS", b"product = "), "header 'product' is missing"),
        (lambda b: b.replace(b"version = 14.3.1", b"version = 14.x"), "is not a version number"),
        (lambda b: b.replace(b"T09:30:00Z", b""), "has no time zone"),
        (lambda b: b"PID\tStatus\tLabel\n412\t0\tcom.apple.sysmond\n", "not a feedmgr-posture"),
        (lambda b: b + b"x" * (1024 * 1024), "too large"),
    ],
)
def test_bad_bundles_are_named_with_their_problem(
    tmp_path: Path, change: Callable[[bytes], bytes], problem: str
) -> None:
    """Truncated, wrong-version, binary, non-Mac and malformed bundles raise one BundleError
    whose message says what is wrong."""
    with pytest.raises(BundleError) as caught:
        parse_bundle(change(_good(tmp_path)), "mac07.txt")
    assert problem in caught.value.problem
    assert caught.value.subject == "mac07.txt"


def test_mdm_log_lines_around_the_bundle_are_ignored(tmp_path: Path) -> None:
    """A bundle kept in an MDM log, behind a 'Script result: ' prefix and a log line, with
    lines after '@@ end', parses the same; evidence line numbers stay the file's."""
    good = _good(tmp_path)
    plain = parse_bundle(good, "m")
    wrapped = parse_bundle(
        b"Executing Policy posture\nScript result: " + good + b"\n\nDone.\n", "m"
    )
    assert wrapped.host == plain.host
    assert [s.first_line - 1 for s in wrapped.lists] == [s.first_line for s in plain.lists]


def test_real_list_capture_rows_survive_the_bundle(tmp_path: Path) -> None:
    """Every row of a real system list capture (macOS 15) is kept unchanged by a '*' bundle,
    and the job count is its number of rows."""
    capture = REAL / "list-system-sequoia.txt"
    bundle = parse_bundle(_collect(tmp_path, None, Mac(system_list=capture)), "m")
    system = bundle.lists[0]
    assert system.lines == tuple(capture.read_text().splitlines())
    assert system.jobs == 30
    assert bundle.filters == ("*",)


WINDOWSERVER = ServiceCondition(
    "ws", "com.apple.WindowServer", Operator.RUNNING, ServiceType.DAEMON
)
FINDER = ServiceCondition("finder", "com.apple.Finder", Operator.RUNNING, ServiceType.USER_AGENT)
WAZUH = ServiceCondition("wazuh", "com.wazuh.agent", Operator.RUNNING, ServiceType.DAEMON)


@pytest.mark.parametrize(
    ("sw_vers", "shown"),
    [
        ("sw_vers-10.12.6-sierra.txt", ("Mac OS X", "10.12.6", "16G29", "10.12.6")),
        ("sw_vers-11.2.3.txt", ("macOS", "11.2.3", "20D91", "11.2.3")),
        ("sw_vers-13.3.1-rsr.txt", ("macOS", "13.3.1", "22E772610a", "13.3.1 (a)")),
    ],
)
def test_bundle_from_real_tool_output(
    tmp_path: Path, sw_vers: str, shown: tuple[str, str, str, str]
) -> None:
    """On a Mac whose tools print real captures, the bundle records the product, version and
    build sw_vers shows (old 'Mac OS X' and Rapid Security Response builds included, the
    response letter kept so the fleet's macOS breakdown tells those Macs apart), the
    hardware UUID from ioreg, and the list rows of the named services, which then pass."""
    from feedmgr.posture.fleet import Outcome, judge, plan

    mac = Mac(
        system_list=REAL / "list-system-sequoia.txt",
        gui_list=REAL / "list-user-elcapitan.txt",
        sw_vers=REAL / sw_vers,
        ioreg=REAL / "ioreg-rd1-uuid-line.txt",
    )
    spec = _spec(WINDOWSERVER, FINDER)
    bundle = parse_bundle(_collect(tmp_path, spec, mac), "m")
    assert (bundle.product, bundle.version, bundle.build, bundle.release) == shown
    assert judge(spec, plan(spec), bundle).version == shown[3]
    assert (bundle.serial, bundle.hardware_uuid) == ("", "E646F33F-0C8D-XXXX-YYYY-8BB62B8C33CD")
    system, gui = bundle.lists
    assert (system.jobs, system.lines[1:]) == (30, ("282\t-11\tcom.apple.WindowServer",))
    assert (gui.domain, gui.jobs, gui.lines[1:]) == ("gui/501", 34, ("279\t0\tcom.apple.Finder",))
    assert judge(spec, plan(spec), bundle).conditions == (Outcome.PASS, Outcome.PASS)


def test_bundle_reads_a_real_ioreg_tree(tmp_path: Path) -> None:
    """From real 'ioreg -c IOPlatformExpertDevice -d 2' output (tree lines, properties eight
    spaces in, long lines cut at the terminal width) the script takes the serial and UUID
    strings as printed (the poster masked both as '...')."""
    mac = Mac(ioreg=REAL / "ioreg-d2-imacpro1-1.txt")
    bundle = parse_bundle(_collect(tmp_path, _spec(SYSMOND), mac), "m")
    assert (bundle.serial, bundle.hardware_uuid) == ("...", "...")


def test_bundle_of_a_mac_before_big_sur_is_judged(tmp_path: Path) -> None:
    """A Mac before macOS 11 prints its job block under the bare label: the fleet check
    reads it as the printed target and judges the daemon running (PID 1061), instead of
    counting the whole bundle unreadable."""
    from feedmgr.posture.fleet import Outcome, judge, plan

    closed = tmp_path / "print.txt"
    # The published excerpt stops before the job block's own closing brace (SOURCES).
    closed.write_text((REAL / "print-system-wazuh-catalina-excerpt.txt").read_text() + "}\n")
    mac = Mac(
        sw_vers=REAL / "sw_vers-10.12.6-sierra.txt", printed=(("system/com.wazuh.agent", closed),)
    )
    spec = _spec(WAZUH)
    bundle = parse_bundle(_collect(tmp_path, spec, mac), "m")
    (block,) = bundle.prints
    assert (block.target, block.absent) == ("system/com.wazuh.agent", False)
    verdict = judge(spec, plan(spec), bundle)
    assert verdict.conditions == (Outcome.PASS,)
    (record,) = (r for _, stream in bundle.streams() for r in stream if r.source == "print")
    assert (record.target, record.pid, record.last_exit_code) == ("system/com.wazuh.agent", 1061, 0)


@given(st.binary(max_size=2048))
def test_parser_never_fails_otherwise_on_arbitrary_bytes(data: bytes) -> None:
    """Any bytes either parse or raise BundleError, never another exception."""
    with contextlib.suppress(BundleError):
        parse_bundle(data, "fuzz")


_SAMPLE = (
    "feedmgr-posture-bundle/1\ncollected = 2026-12-01T09:30:00Z\nhost = m\nkernel = Darwin\n"
    "product = macOS\nversion = 14.3.1\nfilter = *\n@@ list system jobs=1\nPID\tStatus\tLabel\n"
    "412\t0\tcom.apple.sysmond\n@@ print system/com.apple.sysmond\n"
    "system/com.apple.sysmond = {\n\tstate = running\n}\n@@ end\n"
)


@given(st.integers(0, len(_SAMPLE)), st.text(max_size=40))
def test_parser_and_evaluation_survive_any_splice(cut: int, insert: str) -> None:
    """A bundle with any text spliced in parses and evaluates, or raises a ParseError."""
    from feedmgr.errors import ParseError
    from feedmgr.posture.fleet import judge, plan

    spec = _spec(SYSMOND, ZOOM)
    text = _SAMPLE[:cut] + insert + _SAMPLE[cut:]
    with contextlib.suppress(ParseError):
        judge(spec, plan(spec), parse_bundle(text.encode(), "fuzz"))


def test_example_bundles_are_what_the_script_writes(tmp_path: Path) -> None:
    """docs/examples/fleet-bundles/ holds exactly what the collect script writes for the
    example conditions on the stand-in Macs (plus one bundle cut off in transfer)."""
    from tests.posture.fakemac import example_fleet

    folder = DATA.parent.parent.parent / "docs" / "examples" / "fleet-bundles"
    expected = example_fleet(tmp_path)
    assert sorted(p.name for p in folder.iterdir()) == sorted(expected)
    for name, text in expected.items():
        assert (folder / name).read_text() == text, name


@pytest.mark.parametrize(
    "pattern",
    ["us.zoom.*", "com.apple.?ysmond", "com.[ab]pple.*", "com.[!x]pple.sysmond", "a[*]b", "*"],
)
def test_shell_filter_keeps_what_fnmatch_matches(pattern: str) -> None:
    """The script's case pattern keeps every label fnmatch matches (a pattern the shell
    would read differently keeps everything), so the filter never hides a job."""
    import fnmatch

    from feedmgr.posture.collect import _case_pattern

    labels = ["us.zoom.ZoomDaemon", "com.apple.sysmond", "com.bpple.x", "a*b", "aXb", "x y"]
    script = "for l in " + " ".join(f"'{label}'" for label in labels) + "; do "
    script += f'case "$l" in {_case_pattern(pattern)}) echo "$l" ;; esac; done'
    kept = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True)
    matched = {label for label in labels if fnmatch.fnmatchcase(label, pattern)}
    assert matched <= set(kept.stdout.splitlines())
