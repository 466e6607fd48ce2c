"""``feedmgr posture fleet`` and ``collect-script --bundle`` from the command line, and the
fleet section of ``preflight``."""

from __future__ import annotations

import shutil
import tarfile
from datetime import UTC, datetime
from pathlib import Path

import defusedxml.ElementTree as SafeET
import pytest

from tests.conftest import REPO, RunCli
from tests.posture.fakemac import Fleet, make_fleet, run_script
from tests.render.browser import chromium, find_chromium, has_colour, png_pixels

pytestmark = pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX shell")

EXAMPLE = REPO / "docs/examples/macos-service-condition.yaml"
FAIL_RED = (0xD9, 0x2D, 0x20)
PASS_GREEN = (0x12, 0xB7, 0x6A)
UNKNOWN_AMBER = (0xF7, 0x90, 0x09)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    """The stand-in fleet, dated relative to the real clock (the CLI judges age by it)."""
    return make_fleet(tmp_path_factory.mktemp("cli-fleet"), datetime.now(UTC))


def test_fleet_help_has_an_example(run_cli: RunCli) -> None:
    """posture fleet --help shows an example line."""
    result = run_cli("posture", "fleet", "--help")
    assert result.code == 0
    assert "Example: feedmgr posture fleet" in result.out


def test_text_report_names_failing_macs_and_exits_1(run_cli: RunCli, fleet: Fleet) -> None:
    """A mandatory requirement failing on a Mac exits 1; the text names the Mac, its
    evidence, the macOS breakdown and every bundle left out."""
    result = run_cli("posture", "fleet", fleet.conditions, fleet.folder)
    assert result.code == 1, result.err
    out = result.out
    assert "[BLOCKING] sysmond-running (mandatory): pass 2, fail 1, cannot tell 0" in out
    assert "by macOS (pass/fail/cannot tell): 14.3.1: 1/0/0; 15.2: 1/1/0" in out
    assert "mac-b (UUID-B, macOS 15.2): sysmond: no daemon or user agent com.apple.sysmond" in out
    assert "mac-c (UUID-C): ise: " in out
    assert "cut.txt: truncated: no '@@ end' line" in out
    assert "mac-d.txt: mac-d, collected" in out
    assert "mac-a-old.txt: mac-a (newer: " in out
    assert out.rstrip().endswith(
        "Verdict: enforcing would make Macs NonCompliant: sysmond-running (1 Mac, 33.3%)"
    )


def test_bundle_file_name_cannot_forge_a_report_line(
    run_cli: RunCli, fleet: Fleet, tmp_path: Path
) -> None:
    """A file in the bundle folder whose name holds a newline is named escaped on its own
    line: it cannot start a made-up line of the text report."""
    folder = tmp_path / "bundles"
    shutil.copytree(fleet.folder, folder)
    (folder / "x\nFORGED LINE").write_text("not a bundle\n")
    result = run_cli("posture", "fleet", fleet.conditions, folder)
    assert result.code == 1, result.err
    assert "x\\nFORGED LINE" in result.out
    assert not any(line.startswith("FORGED") for line in result.out.splitlines())


def _no_mac_sources(fleet: Fleet, root: Path) -> dict[str, Path]:
    """Bundle paths from which no Mac can be evaluated: a folder whose only bundle is
    unreadable, a folder of stale bundles only, an empty folder, and a .tar.gz cut before
    its first member ends."""
    unreadable = root / "unreadable"
    unreadable.mkdir()
    shutil.copy(fleet.folder / "cut.txt", unreadable)
    stale = root / "stale"
    stale.mkdir()
    shutil.copy(fleet.folder / "mac-d.txt", stale)
    empty = root / "empty"
    empty.mkdir()
    whole = root / "whole.tar.gz"
    with tarfile.open(whole, "w:gz") as archive:
        archive.add(fleet.folder / "mac-b.txt", arcname="mac-b.txt")
        archive.add(fleet.folder / "mac-a-new.txt", arcname="mac-a-new.txt")
    cut = root / "cut.tar.gz"
    cut.write_bytes(whole.read_bytes()[:200])
    return {"unreadable": unreadable, "stale": stale, "empty": empty, "cut archive": cut}


@pytest.mark.parametrize("case", ["unreadable", "stale", "empty", "cut archive"])
def test_no_mac_evaluated_cannot_pass(
    run_cli: RunCli, fleet: Fleet, tmp_path: Path, case: str
) -> None:
    """When no Mac was evaluated the pre-check answers nothing: it says so, shows every
    requirement as cannot tell, exits 1, and JUnit has a failure per requirement."""
    source = _no_mac_sources(fleet, tmp_path)[case]
    result = run_cli("posture", "fleet", fleet.conditions, source)
    assert result.code == 1, result.out
    out = result.out
    assert "Macs evaluated 0" in out
    assert "[ok]" not in out
    assert "[cannot tell] sysmond-running (mandatory): no Mac was evaluated" in out
    assert out.rstrip().splitlines()[-1].startswith("Verdict: no Mac was evaluated: cannot tell")
    junit = run_cli("posture", "fleet", fleet.conditions, source, "--format", "junit")
    assert junit.code == 1
    root = SafeET.fromstring(junit.out)
    cases = [c for c in root.iter("testcase") if c.get("classname") == "feedmgr.posture.fleet"]
    assert len(cases) == 5
    assert all(case.find("failure") is not None for case in cases)
    document = run_cli("posture", "fleet", fleet.conditions, source, "--format", "json").json()
    assert document["nothing_evaluated"] is True
    assert document["bundles"]["macs"] == 0
    html = run_cli("posture", "fleet", fleet.conditions, source, "--format", "html").out
    assert html.count('data-state="cannot-tell"') == 5
    assert "No Mac was evaluated: cannot tell." in html


def test_macs_evaluated_are_not_nothing(run_cli: RunCli, fleet: Fleet) -> None:
    """A run that evaluated Macs says nothing_evaluated false."""
    document = run_cli(
        "posture", "fleet", fleet.conditions, fleet.folder, "--format", "json"
    ).json()
    assert document["nothing_evaluated"] is False


def test_fail_over_turns_the_exit_to_0(run_cli: RunCli, fleet: Fleet) -> None:
    """--fail-over 34 tolerates one failing Mac in three: exit 0."""
    result = run_cli("posture", "fleet", fleet.conditions, fleet.folder, "--fail-over", "34")
    assert result.code == 0
    assert "Verdict: no mandatory requirement would make Macs NonCompliant beyond 34%" in result.out


def test_json_is_the_documented_contract(run_cli: RunCli, fleet: Fleet) -> None:
    """--format json has the documented top-level keys and per-requirement fields."""
    document = run_cli(
        "posture", "fleet", fleet.conditions, fleet.folder, "--format", "json"
    ).json()
    assert document["schema"] == "feedmgr-posture-fleet/1"
    assert document["bundles"] == {
        "read": 9,
        "macs": 3,
        "stale": 1,
        "duplicates": 1,
        "unreadable": 4,
    }
    sysmond = document["requirements"][0]
    assert {k: sysmond[k] for k in ("name", "enforcement", "pass", "fail", "cannot_tell")} == {
        "name": "sysmond-running",
        "enforcement": "mandatory",
        "pass": 2,
        "fail": 1,
        "cannot_tell": 0,
    }
    assert sysmond["blocking"] is True
    assert [m["host"] for m in sysmond["failing"]] == ["mac-b"]
    assert sysmond["failing"][0]["macos"] == "15.2"
    assert [v["macos"] for v in sysmond["by_macos"]] == ["14.3.1", "15.2"]
    assert {u["problem"] for u in document["unreadable"]} >= {
        "format version '2' is not supported (expected 1)"
    }


def test_junit_has_a_failure_per_blocking_requirement(run_cli: RunCli, fleet: Fleet) -> None:
    """--format junit: the blocking requirement is a <failure>, the others pass."""
    result = run_cli("posture", "fleet", fleet.conditions, fleet.folder, "--format", "junit")
    root = SafeET.fromstring(result.out)
    failures = [
        case.get("name") for case in root.iter("testcase") if case.find("failure") is not None
    ]
    assert failures == [f"{fleet.conditions}: sysmond-running"]


def test_a_glob_requirement_is_marked_feedmgrs_reading(run_cli: RunCli, fleet: Fleet) -> None:
    """The fleet's 'us.zoom.*' condition is matched by feedmgr, not by the agent, which takes
    it literally (CSCwf01373): fleet warns, and text, JSON and JUnit mark the requirement and
    the condition as feedmgr's reading (at least a warning finding, whatever the counts)."""
    result = run_cli("posture", "fleet", fleet.conditions, fleet.folder)
    assert "feedmgr: warning: zoom: service 'us.zoom.*' is a glob" in result.err
    out = result.out
    caveat = "    feedmgr's reading, not the agent's: its glob condition(s) zoom are matched"
    no_zoom = out[out.index("] no-zoom (audit)") :]
    assert no_zoom.splitlines()[1].startswith(caveat)
    assert out.count(caveat) == 1
    assert "[feedmgr's reading, not the agent's: the agent takes the glob literally]" in out

    document = run_cli(
        "posture", "fleet", fleet.conditions, fleet.folder, "--format", "json"
    ).json()
    reading = {r["name"]: r["agent_reading"] for r in document["requirements"]}
    assert reading == {
        "sysmond-running": True,
        "ise-agent": True,
        "ise-or-sysmond": True,
        "mdm-ok": True,
        "no-zoom": False,
    }
    assert {c["name"]: c["glob"] for c in document["conditions"]}["zoom"] is True
    assert document["warnings"][0].startswith("zoom: service 'us.zoom.*' is a glob")

    junit = run_cli("posture", "fleet", fleet.conditions, fleet.folder, "--format", "junit")
    assert "its glob condition(s) zoom are matched by feedmgr" in junit.out
    findings = run_cli("posture", "fleet", fleet.conditions, fleet.folder, "--format", "html")
    assert "its glob condition(s) zoom are matched by feedmgr" in findings.out


@pytest.mark.parametrize(
    ("value", "problem"), [("soon", "is not an age"), ("0d", "must be more than 0")]
)
def test_bad_max_age_is_a_usage_error(
    run_cli: RunCli, fleet: Fleet, value: str, problem: str
) -> None:
    """An unparseable or zero --max-age exits 2 with one line naming the option."""
    result = run_cli("posture", "fleet", fleet.conditions, fleet.folder, "--max-age", value)
    assert result.code == 2
    assert result.err.startswith("feedmgr: error: --max-age: ")
    assert problem in result.err


def test_missing_bundle_folder_is_a_usage_error(run_cli: RunCli, tmp_path: Path) -> None:
    """A bundle path that does not exist exits 2 naming it."""
    result = run_cli("posture", "fleet", EXAMPLE, tmp_path / "nope")
    assert result.code == 2
    assert "nope" in result.err


def test_collect_script_bundle_runs_and_fleet_reads_it(run_cli: RunCli, tmp_path: Path) -> None:
    """The script 'collect-script --bundle' prints, run on a stand-in Mac, gives a bundle
    that 'posture fleet' judges Compliant for the field document's condition (sysmond runs)."""
    script = run_cli("posture", "collect-script", EXAMPLE, "--bundle").out
    run = run_script(script, tmp_path)
    assert run.returncode == 0, run.stderr
    folder = tmp_path / "bundles"
    folder.mkdir()
    (folder / "mac01.txt").write_text(run.stdout)
    result = run_cli("posture", "fleet", EXAMPLE, folder, "--max-age", "3650d")
    assert result.code == 0, result.out
    assert "macOS-Service-Requirement (mandatory): pass 1, fail 0, cannot tell 0" in result.out


def test_output_dir_needs_bundle(run_cli: RunCli) -> None:
    """--output-dir without --bundle is a usage error."""
    result = run_cli("posture", "collect-script", EXAMPLE, "--output-dir", "/tmp/x")
    assert result.code == 2
    assert "only applies with --bundle" in result.err


def test_preflight_runs_the_fleet_check(run_cli: RunCli, fleet: Fleet, tmp_path: Path) -> None:
    """[posture] fleet = "bundles/" adds the fleet findings to preflight, and the blocking
    requirement fails the run."""
    folder = tmp_path / "deploy"
    shutil.copytree(fleet.folder, folder / "bundles")
    shutil.copy(fleet.conditions, folder / "conditions.yaml")
    (folder / "deployment.toml").write_text(
        '[posture]\nconditions = ["conditions.yaml"]\nfleet = "bundles/"\n'
    )
    result = run_cli("preflight", folder / "deployment.toml", "--format", "json")
    document = result.json()
    fleet_findings = {
        f["subject"].rsplit(": ", 1)[1]: f["severity"]
        for f in document["findings"]
        if f["check"] == "posture.fleet"
    }
    assert fleet_findings["sysmond-running"] == "fail"
    assert fleet_findings["ise-agent"] == "info"
    assert any(f["check"] == "posture.fleet-bundles" for f in document["findings"])
    assert result.code == 1
    html = run_cli("preflight", folder / "deployment.toml", "--format", "html").out
    assert '<section id="fleet">' in html
    assert html.count('class="bar-row"') == 5


def test_preflight_fails_when_no_mac_was_evaluated(
    run_cli: RunCli, fleet: Fleet, tmp_path: Path
) -> None:
    """In preflight, a fleet folder from which no Mac could be evaluated makes each
    posture.fleet finding a fail (cannot tell), and the run exits 1."""
    folder = tmp_path / "deploy"
    (folder / "bundles").mkdir(parents=True)
    shutil.copy(fleet.folder / "cut.txt", folder / "bundles")
    shutil.copy(fleet.conditions, folder / "conditions.yaml")
    (folder / "deployment.toml").write_text(
        '[posture]\nconditions = ["conditions.yaml"]\nfleet = "bundles/"\n'
    )
    result = run_cli("preflight", folder / "deployment.toml", "--format", "json")
    document = result.json()
    fleet_findings = [f for f in document["findings"] if f["check"] == "posture.fleet"]
    assert len(fleet_findings) == 5
    assert {f["severity"] for f in fleet_findings} == {"fail"}
    assert all("no Mac was evaluated" in f["message"] for f in fleet_findings)
    assert result.code == 1


def test_preflight_names_a_missing_fleet_folder(run_cli: RunCli, tmp_path: Path) -> None:
    """A fleet folder that does not exist is a preflight.section failure naming it."""
    shutil.copy(EXAMPLE, tmp_path / "c.yaml")
    (tmp_path / "d.toml").write_text('[posture]\nconditions = ["c.yaml"]\nfleet = "gone/"\n')
    document = run_cli("preflight", tmp_path / "d.toml", "--format", "json").json()
    (section,) = [
        f
        for f in document["findings"]
        if f["check"] == "preflight.section" and f["subject"] == "posture"
    ]
    assert "gone: fleet bundles: no such folder or archive" in section["message"]


BROWSER = find_chromium()


@pytest.mark.skipif(BROWSER is None, reason="headless Chromium not installed")
def test_html_report_in_chromium(run_cli: RunCli, fleet: Fleet, tmp_path: Path) -> None:
    """The HTML report loads offline in Chromium with one bar per requirement and the
    failing Macs in a table; the screenshot shows the pass, fail and cannot-tell colours."""
    assert BROWSER is not None
    html = run_cli("posture", "fleet", fleet.conditions, fleet.folder, "--format", "html").out
    page = tmp_path / "fleet.html"
    page.write_text(html, encoding="utf-8")
    dom = chromium(BROWSER, tmp_path / "profile", "--dump-dom", page.as_uri()).stdout
    assert dom.count('class="bar-row"') == 5
    assert 'data-requirement="sysmond-running" data-state="blocking"' in dom
    assert dom.count('class="failing-mac"') == 1 + 2 + 3  # sysmond, mdm-ok, no-zoom
    assert dom.count('class="left-out"') == 6
    shot = tmp_path / "fleet.png"
    chromium(
        BROWSER,
        tmp_path / "profile",
        f"--screenshot={shot}",
        "--window-size=1280,1000",
        page.as_uri(),
    )
    _width, _height, rows = png_pixels(shot)
    assert has_colour(rows, FAIL_RED)
    assert has_colour(rows, PASS_GREEN)
    assert has_colour(rows, UNKNOWN_AMBER)
    artifacts = REPO / "artifacts"
    artifacts.mkdir(exist_ok=True)
    shutil.copy(shot, artifacts / "fleet-report.png")
