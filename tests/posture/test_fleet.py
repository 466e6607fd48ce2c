"""The fleet pre-check over bundles the collect script wrote on stand-in Macs.

The Macs' launchd state is the real captures of tests/data/posture (or those captures with
a service removed, as on a Mac that does not have it); expected outcomes follow from the
captures and the operator rules of docs/posture.md.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from feedmgr.posture.files import load_spec
from feedmgr.posture.fleet import FleetResult, Outcome, os_covers, run_fleet
from feedmgr.posture.fleet_report import (
    BUNDLES_CHECK,
    fleet_json,
    fleet_report,
    render_fleet_text,
)
from feedmgr.posture.fleet_sources import FleetLimits
from tests.posture.fakemac import Fleet, make_fleet
from tests.processes import interrupt_when_workers_start

pytestmark = pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX shell")

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    """Bundles of five stand-in Macs (one twice) and four unreadable files."""
    return make_fleet(tmp_path_factory.mktemp("fleet"), NOW)


def _run(fleet: Fleet, *paths: Path, fail_over: float = 0.0, **kwargs: object) -> FleetResult:
    return run_fleet(
        fleet.spec,
        list(paths) or [fleet.folder],
        now=NOW,
        fail_over=fail_over,
        **kwargs,  # type: ignore[arg-type]
    )


def _counts(result: FleetResult) -> dict[str, tuple[int, int, int, int]]:
    return {
        s.plan.requirement.name: (
            s.tally.passed,
            s.tally.failed,
            s.tally.cannot_tell,
            s.tally.not_applicable,
        )
        for s in result.requirements
    }


def test_each_requirement_counts_pass_fail_and_cannot_tell(fleet: Fleet) -> None:
    """Three current Macs: a is complete, b lacks sysmond, c was at the login window (its
    user agent cannot be judged, but 'ise | sysmond' still passes on sysmond alone);
    mdm-ok only applies to macOS 15; the mdm daemon exited 78 and Zoom is loaded everywhere."""
    result = _run(fleet)
    assert [m.host for m in result.macs] == ["mac-a", "mac-b", "mac-c"]
    assert _counts(result) == {
        "sysmond-running": (2, 1, 0, 0),
        "ise-agent": (2, 0, 1, 0),
        "ise-or-sysmond": (3, 0, 0, 0),
        "mdm-ok": (0, 2, 0, 1),
        "no-zoom": (0, 3, 0, 0),
    }
    conditions = {
        c.name: (t.passed, t.failed, t.cannot_tell)
        for c, t in zip(fleet.spec.conditions, result.conditions, strict=True)
    }
    assert conditions == {
        "sysmond": (2, 1, 0),
        "ise": (2, 0, 1),
        "mdm": (0, 3, 0),
        "zoom": (0, 3, 0),
    }


def test_failing_macs_carry_the_evidence_from_their_bundle(fleet: Fleet) -> None:
    """A failing Mac names what is wrong and where in its bundle: sysmond absent from both
    captured lists (with their job counts), the mdm daemon's exit code 78 at its print block."""
    result = _run(fleet)
    sysmond = result.requirements[0]
    (failing,) = sysmond.failing
    assert failing.host == "mac-b"
    assert failing.requirement_notes[0] == (
        "sysmond: no daemon or user agent com.apple.sysmond loaded in list system (6 jobs), "
        "list gui/501 (4 jobs); no plist for it in the plist listing"
    )
    mdm = result.requirements[3]
    note = mdm.failing[0].requirement_notes[3]
    assert "last exit code = 78" in note
    bundle = fleet.folder / "mac-b.txt"
    line = int(note.rsplit(":", 1)[1].rstrip("]"))
    assert bundle.read_text().splitlines()[line - 1].endswith("com.apple.mdmclient.daemon = {")


def test_cannot_tell_says_what_was_not_captured(fleet: Fleet) -> None:
    """The login-window Mac's user-agent requirement is 'cannot tell', naming the missing
    gui domain, not a failure."""
    result = _run(fleet)
    (mac,) = result.requirements[1].cannot_tell
    assert mac.host == "mac-c"
    assert mac.requirement_notes[1].endswith("not captured: gui (no console user)")


def test_breakdown_by_macos_version(fleet: Fleet) -> None:
    """Each requirement's counts are split by macOS version, in version order."""
    sysmond = _run(fleet).requirements[0]
    assert {v: (t.passed, t.failed) for v, t in sysmond.by_version.items()} == {
        "14.3.1": (1, 0),
        "15.2": (1, 1),
    }
    assert list(sysmond.by_version) == ["14.3.1", "15.2"]


def test_stale_duplicate_and_unreadable_bundles_are_named(fleet: Fleet) -> None:
    """The older bundle of mac-a is a duplicate of the newer; mac-d is stale at 14 days; the
    truncated, binary, version-2 and Linux files are unreadable with their reasons."""
    result = _run(fleet)
    assert [(d.verdict.bundle, d.kept) for d in result.duplicates] == [
        (str(fleet.folder / "mac-a-old.txt"), str(fleet.folder / "mac-a-new.txt"))
    ]
    assert [m.host for m in result.stale] == ["mac-d"]
    problems = {Path(p.name).name: p.problem for p in result.unreadable}
    assert problems == {
        "cut.txt": "truncated: no '@@ end' line",
        "linux.txt": "not from a Mac (kernel 'Linux', product 'macOS')",
        "photo.jpg": "binary data (NUL bytes): not a posture bundle",
        "v2.txt": "format version '2' is not supported (expected 1)",
    }
    assert result.read == 9


def test_a_longer_max_age_keeps_the_old_mac(fleet: Fleet) -> None:
    """With --max-age 120 days mac-d counts again."""
    result = _run(fleet, max_age=timedelta(days=120))
    assert not result.stale
    assert len(result.macs) == 4


@pytest.mark.parametrize(
    ("max_age", "shown", "days"),
    [
        (timedelta(hours=36), "stale, older than 36 hours (1):", 1.5),
        (timedelta(days=14), "stale, older than 14 days (1):", 14.0),
        (timedelta(days=1), "stale, older than 1 day (", 1.0),
        (timedelta(hours=12), "stale, older than 12 hours (", 0.5),
        (timedelta(minutes=90), "stale, older than 90 minutes (", 0.0625),
    ],
)
def test_stale_bundles_show_the_maximum_age_as_given(
    fleet: Fleet, max_age: timedelta, shown: str, days: float
) -> None:
    """The stale list says the maximum age in the unit it was given in (36h is 36 hours,
    not '1 days'); JSON has it in days, fractions kept."""
    result = _run(fleet, max_age=max_age)
    assert shown in render_fleet_text(result, "c.yaml")
    assert fleet_json(result, "c.yaml")["max_age_days"] == days


@pytest.mark.parametrize(("fail_over", "blocking"), [(0.0, True), (33.0, True), (34.0, False)])
def test_fail_over_tolerates_a_share_of_failing_macs(
    fleet: Fleet, fail_over: float, blocking: bool
) -> None:
    """sysmond-running fails on 1 of 3 Macs (33.3%): blocking unless --fail-over is above."""
    result = _run(fleet, fail_over=fail_over)
    assert result.requirements[0].blocking is blocking


def test_only_mandatory_requirements_block(fleet: Fleet) -> None:
    """Optional (mdm-ok) and audit (no-zoom) requirements fail on every Mac without blocking."""
    blocking = {s.plan.requirement.name for s in _run(fleet).blocking}
    assert blocking == {"sysmond-running"}


def _tar(folder: Path, target: Path, extra: list[tuple[tarfile.TarInfo, bytes]]) -> Path:
    with tarfile.open(target, "w:gz") as archive:
        for path in sorted(folder.rglob("*.txt")):
            archive.add(path, arcname=f"export/{path.relative_to(folder)}")
        for info, data in extra:
            archive.addfile(info, io.BytesIO(data))
    return target


def test_archives_give_the_same_verdicts_as_the_folder(fleet: Fleet, tmp_path: Path) -> None:
    """A .tar.gz and a .zip of the bundles give the folder's counts, members named inside."""
    tgz = _tar(fleet.folder, tmp_path / "export.tar.gz", [])
    zipped = tmp_path / "export.zip"
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(fleet.folder.rglob("*.txt")):
            archive.write(path, f"export/{path.relative_to(fleet.folder)}")
    expected = _counts(_run(fleet))
    for archive_path in (tgz, zipped):
        result = _run(fleet, archive_path)
        assert _counts(result) == expected
        assert result.macs[0].bundle == f"{archive_path}:export/mac-a-new.txt"


def _member(
    name: str, data: bytes = b"", kind: bytes = tarfile.REGTYPE
) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    if kind == tarfile.SYMTYPE:
        info.linkname = "/etc/passwd"
    return info, data


def test_hostile_tar_members_are_reported_not_followed(fleet: Fleet, tmp_path: Path) -> None:
    """Traversal names, absolute names, links and oversized members are named as problems;
    nothing is written to disk and the good bundles still count."""
    good = (fleet.folder / "mac-b.txt").read_bytes()
    extra = [
        _member("../../etc/cron.d/evil", good),
        _member("/abs/bundle.txt", good),
        _member("link.txt", kind=tarfile.SYMTYPE),
        _member("huge.txt", b"x" * (2 * 1024 * 1024)),
    ]
    result = _run(fleet, _tar(fleet.folder, tmp_path / "bad.tar.gz", extra))
    problems = {p.name.split(":", 1)[1]: p.problem for p in result.unreadable}
    assert problems["../../etc/cron.d/evil"].startswith("unsafe member name")
    assert problems["/abs/bundle.txt"] == "unsafe member name: absolute member path"
    assert problems["link.txt"] == "not a regular file (link or device)"
    assert problems["huge.txt"] == "too large for a bundle (2097152 bytes, limit 1048576)"
    assert len(result.macs) == 3


def _archives_of_dot(folder: Path, target: Path) -> list[Path]:
    """The archives admins make of a folder of bundles, every member named ``./...``: GNU
    tar or bsdtar (``tar czf all.tgz -C DIR .``), Python's shutil.make_archive, and a zip
    whose writer kept the ``./`` prefix."""
    made = []
    tar = shutil.which("tar")
    if tar is not None:
        cli = target / "cli.tgz"
        subprocess.run([tar, "czf", str(cli), "-C", str(folder), "."], check=True)
        made.append(cli)
    made.append(Path(shutil.make_archive(str(target / "made"), "gztar", root_dir=folder)))
    dotted = target / "dotted.zip"
    with zipfile.ZipFile(dotted, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, f"./{path.relative_to(folder)}")
    made.append(dotted)
    return made


def test_archives_with_dot_slash_names_are_read(fleet: Fleet, tmp_path: Path) -> None:
    """An archive of a folder made the usual way ('tar czf all.tgz -C DIR .') names its
    members './mac.txt': a '.' component is harmless, and every bundle counts as in the
    folder."""
    expected = _run(fleet)
    for archive_path in _archives_of_dot(fleet.folder, tmp_path):
        result = _run(fleet, archive_path)
        assert _counts(result) == _counts(expected), archive_path
        assert len(result.unreadable) == len(expected.unreadable), result.unreadable
        assert not [p for p in result.unreadable if "unsafe" in p.problem]


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("./../evil.txt", "unsafe member name: member path has an empty, '.' or '..' component"),
        (
            "a/./../../evil.txt",
            "unsafe member name: member path has an empty, '.' or '..' component",
        ),
        ("/./abs.txt", "unsafe member name: absolute member path"),
        ("./dir\\evil.txt", "unsafe member name: member name contains a backslash"),
        ("./C:evil.txt", "unsafe member name: member path starts with a drive letter"),
        ("./ctl\x1b.txt", "unsafe member name: member name contains control characters"),
    ],
)
def test_dot_components_do_not_hide_an_unsafe_name(
    fleet: Fleet, tmp_path: Path, name: str, problem: str
) -> None:
    """Accepting './' does not let '..', absolute names, backslashes, drive letters or
    control characters through."""
    good = (fleet.folder / "mac-b.txt").read_bytes()
    tgz = tmp_path / "hostile.tar.gz"
    with tarfile.open(tgz, "w:gz") as archive:
        info, data = _member(name, good)
        archive.addfile(info, io.BytesIO(data))
    (unreadable,) = _run(fleet, tgz).unreadable
    assert unreadable.problem == problem


def test_archive_problems_do_not_send_the_admin_to_re_collect(fleet: Fleet, tmp_path: Path) -> None:
    """When the only unreadable members are so because of how the archive stores them
    (names, links), the advice is about the archive, not about collecting on the Macs."""
    good = (fleet.folder / "mac-b.txt").read_bytes()
    tgz = tmp_path / "export.tar.gz"
    with tarfile.open(tgz, "w:gz") as archive:
        for info, data in (
            _member("mac-b.txt", good),
            _member("../mac-x.txt", good),
            _member("link.txt", kind=tarfile.SYMTYPE),
        ):
            archive.addfile(info, io.BytesIO(data))
    result = _run(fleet, tgz)
    (finding,) = [f for f in fleet_report(result, "c.yaml").findings if f.check == BUNDLES_CHECK]
    assert "collect" not in finding.fix
    assert "archive" in finding.fix


def test_bundle_problems_still_ask_for_a_new_collection(fleet: Fleet) -> None:
    """Bundles that are unreadable for their content (cut, another format, not a Mac) are
    fixed by collecting again on those Macs."""
    result = _run(fleet)
    (finding,) = [f for f in fleet_report(result, "c.yaml").findings if f.check == BUNDLES_CHECK]
    assert "collect script" in finding.fix


def test_truncated_archive_keeps_what_was_read(fleet: Fleet, tmp_path: Path) -> None:
    """A .tar.gz cut in transfer reports the damage and keeps the members before the cut."""
    whole = _tar(fleet.folder, tmp_path / "whole.tar.gz", []).read_bytes()
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(whole[: len(whole) * 2 // 3])
    result = _run(fleet, cut)
    assert any(
        p.name == str(cut) and p.problem.startswith("damaged or truncated archive")
        for p in result.unreadable
    )
    assert result.read >= 2


def test_member_and_total_limits_stop_reading_an_archive(fleet: Fleet, tmp_path: Path) -> None:
    """An archive with more members than allowed is read up to the limit and reported."""
    tgz = _tar(fleet.folder, tmp_path / "many.tar.gz", [])
    result = _run(fleet, tgz, limits=FleetLimits(max_members=3))
    assert result.unreadable[-1].problem == "more than 3 members: rest not read"


def test_zip_bomb_member_is_not_inflated(tmp_path: Path, fleet: Fleet) -> None:
    """A zip member that inflates past the bundle limit is refused from its declared size;
    nothing larger than the limit is ever held in memory."""
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bomb.txt", b"\0" * (64 * 1024 * 1024))
    (problem,) = _run(fleet, bomb).unreadable
    assert problem.problem == "too large for a bundle (67108864 bytes, limit 1048576)"


@pytest.mark.parametrize(
    ("names", "version", "covers"),
    [
        (("Mac OSX",), (15, 2), True),
        (("Mac OSX 14",), (14, 3, 1), True),
        (("Mac OSX 14",), (15, 2), False),
        (("Mac OSX 10.15",), (10, 15, 7), True),
        (("Mac OSX 10.15",), (10, 14, 6), False),
        (("Windows All",), (15, 2), False),
        (("Windows All", "macOS 26"), (26, 1), True),
    ],
)
def test_os_names_cover_versions(
    names: tuple[str, ...], version: tuple[int, ...], covers: bool
) -> None:
    """The umbrella "Mac OSX" covers every version; "Mac OSX 14" only macOS 14.x."""
    assert os_covers(names, version) is covers


def _failed_system_list(text: str) -> str:
    start = text.index("@@ list system")
    return text[:start] + "@@ list system failed\n" + text[text.index("@@ list gui") :]


def test_a_failed_list_leaves_only_what_print_cannot_settle(fleet: Fleet) -> None:
    """When launchctl list failed for the system domain, exact labels are still decided by
    their launchctl print blocks (sysmond runs, the mdm daemon exited 78); a glob condition
    is decided only where the gui list shows a job (Zoom's updater is loaded there)."""
    from feedmgr.posture.bundle import parse_bundle
    from feedmgr.posture.fleet import judge, plan
    from feedmgr.posture.model import Operator, PostureSpec, ServiceCondition, ServiceType

    text = _failed_system_list((fleet.folder / "mac-a-new.txt").read_text())
    bundle = parse_bundle(text.encode(), "a.txt")
    verdict = judge(fleet.spec, plan(fleet.spec), bundle)
    outcomes = dict(zip([c.name for c in fleet.spec.conditions], verdict.conditions, strict=True))
    assert outcomes == {
        "sysmond": Outcome.PASS,
        "ise": Outcome.PASS,
        "mdm": Outcome.FAIL,
        "zoom": Outcome.FAIL,
    }
    daemons = ServiceCondition("d", "us.zoom.*", Operator.NOT_LOADED, ServiceType.DAEMON)
    spec = PostureSpec((daemons,), (), ())
    (outcome,) = judge(spec, plan(spec), bundle).conditions
    assert outcome is Outcome.CANNOT_TELL


def test_links_and_fifos_in_a_folder_are_not_read(fleet: Fleet, tmp_path: Path) -> None:
    """A symbolic link and a FIFO among the bundles are named, never followed or opened
    (opening a FIFO would block the run)."""

    folder = tmp_path / "mixed"
    shutil.copytree(fleet.folder, folder)
    (folder / "link.txt").symlink_to("/etc/passwd")
    os.mkfifo(folder / "pipe.txt")
    problems = {Path(p.name).name: p.problem for p in _run(fleet, folder).unreadable}
    assert problems["link.txt"] == "a symbolic link (not followed)"
    assert problems["pipe.txt"] == "not a regular file"


def test_a_bundle_from_the_future_is_unreadable(fleet: Fleet, tmp_path: Path) -> None:
    """A bundle dated more than a day after now cannot be ordered against others: named."""
    text = (fleet.folder / "mac-b.txt").read_text()
    future = text.replace(
        text.split("collected = ", 1)[1].split("\n", 1)[0], "2027-06-01T00:00:00Z"
    )
    (tmp_path / "future.txt").write_text(future)
    (problem,) = _run(fleet, tmp_path).unreadable
    assert problem.problem == "collected in the future (2027-06-01)"


def test_a_negated_condition_still_shows_its_evidence(fleet: Fleet) -> None:
    """Criteria '!zoom' over a Loaded condition fail when Zoom is loaded; the failing Mac's
    evidence is that passing condition with its bundle line, not an empty text."""
    from feedmgr.posture.criteria import parse_criteria
    from feedmgr.posture.model import Operator, PostureSpec, Requirement, ServiceCondition

    loaded = ServiceCondition("zoom", "us.zoom.ZoomDaemon", Operator.LOADED)
    requirement = Requirement("no-zoom", ("zoom",), parse_criteria("!zoom"), "remove Zoom")
    spec = PostureSpec((loaded,), (requirement,), ())
    result = run_fleet(spec, [fleet.folder], now=NOW)
    failing = result.requirements[0].failing[0]
    assert failing.requirement_notes[0].startswith("zoom: loaded: 1 job(s) [")


def test_worker_processes_give_the_same_result(
    fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Judged by two worker processes (as a large fleet is), the fleet's counts, failing
    Macs with their evidence, duplicates and unreadable bundles are those of a serial run."""
    from feedmgr.posture import fleet as module

    serial = _run(fleet, workers=0)
    monkeypatch.setattr(module, "SERIAL_BUNDLES", 3)
    monkeypatch.setattr(module, "BATCH", 2)
    parallel = _run(fleet, workers=2)
    assert parallel.macs == serial.macs
    assert parallel.requirements == serial.requirements
    assert parallel.duplicates == serial.duplicates
    assert parallel.unreadable == serial.unreadable
    assert parallel.stale == serial.stale


@pytest.mark.parametrize(
    ("mandatory_os", "blocking"), [("Mac OSX 15", True), ("Mac OSX 14", False)]
)
def test_only_macs_a_mandatory_policy_covers_count_as_noncompliant(
    fleet: Fleet, tmp_path: Path, mandatory_os: str, blocking: bool
) -> None:
    """sysmond-running mandatory for one macOS release and optional for the rest blocks only
    when its failing Mac (mac-b, 15.2) is on the mandatory release, as ISE would decide."""
    text = CONDITIONS_WITH_SPLIT_POLICY.replace("MANDATORY_OS", mandatory_os)
    path = tmp_path / "split.yaml"
    path.write_text(text)
    result = run_fleet(load_spec(path), [fleet.folder], now=NOW)
    assert result.requirements[0].plan.enforcement.value == "mandatory"
    assert result.requirements[0].blocking is blocking


CONDITIONS_WITH_SPLIT_POLICY = """\
format: feedmgr-posture/1
conditions:
  - {name: sysmond, service: com.apple.sysmond, operator: running}
requirements:
  - {name: sysmond-running, conditions: [sysmond], criteria: sysmond, message: m}
policies:
  - {name: strict, requirement: sysmond-running, enforcement: mandatory, os: [MANDATORY_OS]}
  - {name: lenient, requirement: sysmond-running, enforcement: optional, os: [Mac OSX]}
"""


def test_text_lists_25_failing_macs_and_counts_the_rest(fleet: Fleet, tmp_path: Path) -> None:
    """With 30 failing Macs the text report lists 25 and says how many more JSON has."""
    from feedmgr.posture.fleet_report import render_fleet_text

    text = (fleet.folder / "mac-b.txt").read_text()
    for number in range(30):
        (tmp_path / f"b{number}.txt").write_text(
            text.replace("UUID-B", f"UUID-B{number}").replace("host = mac-b", f"host = b{number}")
        )
    report = render_fleet_text(_run(fleet, tmp_path), "c.yaml")
    section = report.split("[BLOCKING] sysmond-running", 1)[1].split("\n  [", 1)[0]
    assert section.count("(UUID-B") == 25
    assert "... and 5 more failing Macs (--format json lists all)" in section


def test_gzipped_single_bundles_are_read_and_bombs_refused(fleet: Fleet, tmp_path: Path) -> None:
    """A bundle compressed alone (mac-b.txt.gz) counts like the plain file; a gzip that
    inflates past the bundle limit is refused without being inflated further."""
    import gzip

    (tmp_path / "mac-b.txt.gz").write_bytes(
        gzip.compress((fleet.folder / "mac-b.txt").read_bytes())
    )
    (tmp_path / "bomb.gz").write_bytes(gzip.compress(b"\0" * (64 * 1024 * 1024)))
    result = _run(fleet, tmp_path)
    assert [m.host for m in result.macs] == ["mac-b"]
    (problem,) = result.unreadable
    assert problem.problem == "inflates to more than 1048576 bytes: not a bundle"


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_ctrl_c_while_workers_start_prints_one_line(fleet: Fleet) -> None:
    """Ctrl-C (SIGINT to the process group, as a terminal sends it) the moment the worker
    processes appear: one "interrupted" line (besides the glob warning given first) and
    exit 130, no worker traceback."""
    setup = (
        "import feedmgr.posture.fleet as f; f.SERIAL_BUNDLES = 3; f.BATCH = 1; "
        "f.default_workers = lambda: 2; from feedmgr.launcher import run; run()"
    )
    command = [
        sys.executable, "-c", setup, "posture", "fleet", str(fleet.conditions), str(fleet.folder)
    ]  # fmt: skip
    interrupted = 0
    for delay in (0.0, 0.0, 0.01, 0.03):
        _, code, err = interrupt_when_workers_start(command, delay)
        if code != 130:  # finished before the signal came
            continue
        interrupted += 1
        # The fleet's glob condition is warned about before any work starts.
        lines = [line for line in err.splitlines() if not line.startswith("feedmgr: warning: ")]
        assert lines == ["feedmgr: interrupted"]
    assert interrupted >= 2
