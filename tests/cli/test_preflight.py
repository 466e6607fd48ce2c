"""``feedmgr preflight``: one deployment file, every area's checks, four report formats."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import defusedxml.ElementTree as SafeET
import pytest

from tests.certs.factory import Leaf, pki, write_pem
from tests.certs.servers import serve_chain
from tests.conftest import REPO, RunCli
from tests.render.browser import chromium, find_chromium, has_colour, png_pixels

SAMPLE = REPO / "feeds" / "sample"
EXAMPLES = REPO / "docs" / "examples"
POSTURE_DATA = REPO / "tests" / "data" / "posture"


@pytest.fixture
def deployment_dir(tmp_path: Path, run_cli: RunCli) -> Path:
    """A folder with a policy, an inventory, certificates and launchctl captures, and a
    store holding the sample feed."""
    assert run_cli("trust", "add", SAMPLE / "demo-publisher.pub.pem").code == 0
    assert run_cli("update", "--offline", SAMPLE / "sample-feed.zip").code == 0
    folder = tmp_path / "deploy"
    folder.mkdir()
    for name in ("cp-policy.yaml", "endpoints-ise.csv", "macos-service-condition.yaml"):
        shutil.copy(EXAMPLES / name, folder / name)
    shutil.copy(POSTURE_DATA / "dumpstate.txt", folder / "dumpstate.txt")
    hierarchy = pki()
    good = hierarchy.leaf(Leaf(dns=("psn1.corp.example",)))
    write_pem(folder / "psn1.pem", good.cert, hierarchy.intermediate.cert)
    cn_only = hierarchy.leaf(Leaf(san=False, cn="psn2.corp.example"), slot=2)
    write_pem(folder / "psn2.pem", cn_only.cert, hierarchy.intermediate.cert)
    write_pem(folder / "root.pem", hierarchy.root.cert)
    return folder


FULL = """
name = "Campus ISE"

[feed]
max_lag_days = 30

[provisioning]
policy = "cp-policy.yaml"
inventory = "endpoints-ise.csv"
preset = "ise"

[[psn]]
name = "psn1"
fqdn = "psn1.corp.example"
certificates = ["psn1.pem"]
ca = ["root.pem"]

[[psn]]
name = "psn2"
fqdn = "psn2.corp.example"
certificates = ["psn2.pem"]
ca = ["root.pem"]

[posture]
conditions = ["macos-service-condition.yaml"]
dumpstate = ["dumpstate.txt"]
"""


def _write(folder: Path, text: str) -> Path:
    path = folder / "deployment.toml"
    path.write_text(text)
    return path


def test_every_area_reports_into_one_json_report(deployment_dir: Path, run_cli: RunCli) -> None:
    """Feed lag, CP gaps, certificate problems and posture results arrive in one report."""
    result = run_cli("preflight", _write(deployment_dir, FULL), "--format", "json")
    assert result.code == 1, result.err
    document = result.json()
    assert document["schema"] == "feedmgr-report/1"
    checks = {f["check"] for f in document["findings"]}
    assert {
        "feed.os-lag",
        "cp.uncovered",
        "cp.os-unknown",
        "cert.no-san",
        "posture.policy",
    } <= checks
    subjects = {f["subject"] for f in document["findings"] if f["check"] == "cert.no-san"}
    assert subjects == {"psn2 (psn2.pem)"}
    assert document["facts"]["posture macos-service-condition.yaml"] == "Compliant"


def test_text_report_is_grouped_by_area_with_fixes(deployment_dir: Path, run_cli: RunCli) -> None:
    """The text report has one heading per area and a fix line under the failures."""
    result = run_cli("preflight", _write(deployment_dir, FULL))
    assert result.code == 1
    for area in ("== feed", "== cp", "== cert", "== posture"):
        assert area in result.out
    assert "fix: " in result.out


def test_junit_has_a_testcase_per_finding(deployment_dir: Path, run_cli: RunCli) -> None:
    """JUnit output parses, and its failures are the fail findings."""
    path = _write(deployment_dir, FULL)
    report = run_cli("preflight", path, "--format", "json").json()
    out = deployment_dir / "preflight.xml"
    result = run_cli("preflight", path, "--format", "junit", "-o", out)
    assert result.code == 1
    root = SafeET.fromstring(out.read_text())
    assert int(root.get("tests")) == len(report["findings"])
    assert int(root.get("failures")) == report["summary"]["fail"]


def test_a_section_that_cannot_run_is_a_finding(deployment_dir: Path, run_cli: RunCli) -> None:
    """A missing policy file fails its section; the other sections still run."""
    text = FULL.replace('policy = "cp-policy.yaml"', 'policy = "missing.yaml"')
    result = run_cli("preflight", _write(deployment_dir, text), "--format", "json")
    assert result.code == 1
    findings = result.json()["findings"]
    broken = [f for f in findings if f["check"] == "preflight.section"]
    assert [f["subject"] for f in broken] == ["provisioning"]
    assert "missing.yaml" in broken[0]["message"]
    assert any(f["check"] == "cert.no-san" for f in findings)


def test_fail_on_warn_tightens_the_exit_code(deployment_dir: Path, run_cli: RunCli) -> None:
    """Warnings alone exit 0, or 1 with --fail-on warn."""
    path = _write(deployment_dir, "[feed]\nmax_lag_days = 3650\n")
    relaxed = run_cli("preflight", path, "--format", "json")
    assert relaxed.code == 0, relaxed.out
    assert relaxed.json()["summary"]["warn"] > 0
    assert relaxed.json()["summary"]["fail"] == 0
    assert run_cli("preflight", path, "--fail-on", "warn").code == 1


def test_live_probe_of_a_psn(deployment_dir: Path, run_cli: RunCli, tmp_path: Path) -> None:
    """A PSN discovered by IP is probed on loopback and its certificate graded."""
    hierarchy = pki()
    leaf = hierarchy.leaf(Leaf(dns=(), ips=("127.0.0.1",), cn="127.0.0.1"), slot=3)
    with serve_chain(tmp_path, leaf, [hierarchy.intermediate.cert]) as server:
        text = (
            '[[psn]]\nname = "lab"\nips = ["127.0.0.1"]\ndiscovery = "ip"\n'
            f'probe_ports = [{server.port}]\nca = ["root.pem"]\n'
        )
        result = run_cli("preflight", _write(deployment_dir, text), "--format", "json")
    findings = result.json()["findings"]
    probe = [f for f in findings if f["subject"].startswith("127.0.0.1:")]
    assert probe, findings
    assert not [f for f in probe if f["severity"] == "fail"], probe


def test_invalid_deployment_file_exits_3(deployment_dir: Path, run_cli: RunCli) -> None:
    """A deployment file that is not valid exits 3 naming the file and the field."""
    path = _write(deployment_dir, '[[psn]]\nname = "x"\n')
    result = run_cli("preflight", path)
    assert result.code == 3
    assert result.err.startswith(f"feedmgr: error: {path}: ")
    assert "psn.0: psn 'x': discovery by FQDN needs 'fqdn'" in result.err
    assert run_cli("preflight", _write(deployment_dir, "not = [toml")).code == 3


@pytest.mark.skipif(find_chromium() is None, reason="headless Chromium not installed")
def test_html_report_renders_in_chromium(
    deployment_dir: Path, run_cli: RunCli, tmp_path: Path
) -> None:
    """The HTML report loads offline in Chromium with its heatmap, timeline and cert table."""
    out = deployment_dir / "report.html"
    result = run_cli("preflight", _write(deployment_dir, FULL), "--format", "html", "-o", out)
    assert result.code == 1
    browser = find_chromium()
    assert browser is not None
    dom = chromium(browser, tmp_path / "profile", "--dump-dom", out.as_uri()).stdout
    for section in ("summary", "coverage", "timeline", "certificates", "findings"):
        assert f'id="{section}"' in dom
    assert 'data-outcome="os-unknown"' in dom
    assert 'class="release unknown"' in dom
    shot = tmp_path / "preflight.png"
    chromium(
        browser,
        tmp_path / "profile",
        f"--screenshot={shot}",
        "--window-size=1280,2400",
        out.as_uri(),
    )
    _w, _h, rows = png_pixels(shot)
    assert has_colour(rows, (0xFE, 0xCD, 0xCA))
    artifacts = REPO / "artifacts"
    artifacts.mkdir(exist_ok=True)
    shutil.copy(shot, artifacts / "preflight-report.png")
    shutil.copy(out, artifacts / "preflight-report.html")
    assert json.loads(
        run_cli("preflight", deployment_dir / "deployment.toml", "--format", "json").out
    )


WAZUH_CONDITIONS = """\
format: feedmgr-posture/1
conditions:
  - name: wazuh
    service: com.wazuh.agent
    service_type: daemon
    operator: running
requirements:
  - name: wazuh-running
    os: [Mac OSX]
    conditions: [wazuh]
    criteria: wazuh
    message: start the Wazuh agent
policies:
  - name: wazuh-policy
    requirement: wazuh-running
    enforcement: mandatory
    os: [Mac OSX]
"""


@pytest.mark.parametrize(("given", "status"), [("with", "Compliant"), ("without", None)])
def test_posture_print_capture_from_catalina_needs_its_target(
    deployment_dir: Path, run_cli: RunCli, given: str, status: str | None
) -> None:
    """A print capture of macOS 10.15 names the label alone (real Catalina output); with
    its target ('system/LABEL=FILE', as for 'posture eval --print') it decides the
    condition, without it the section reports the capture as not print output."""
    (deployment_dir / "wazuh.yaml").write_text(WAZUH_CONDITIONS)
    # The published excerpt stops before the job block's own closing brace (SOURCES).
    excerpt = (POSTURE_DATA / "real/print-system-wazuh-catalina-excerpt.txt").read_text()
    (deployment_dir / "print-wazuh.txt").write_text(excerpt + "}\n")
    capture = "system/com.wazuh.agent=print-wazuh.txt" if given == "with" else "print-wazuh.txt"
    text = f'[posture]\nconditions = ["wazuh.yaml"]\nprint = ["{capture}"]\n'

    result = run_cli("preflight", _write(deployment_dir, text), "--format", "json")

    document = result.json()
    if status is not None:
        assert document["facts"]["posture wazuh.yaml"] == status, result.out
    else:
        assert "posture wazuh.yaml" not in document["facts"]
        assert "give the target: --print system/LABEL=FILE" in result.out


def test_posture_results_name_the_condition_file_as_written(
    deployment_dir: Path, run_cli: RunCli
) -> None:
    """Two condition files with the same name in different folders keep apart: a fact per
    file and posture.policy / posture.fleet subjects that start with the path as the
    deployment file writes it, so JUnit has one test case per (check, subject)."""
    example = (EXAMPLES / "macos-service-condition.yaml").read_text()
    for folder, text in (
        ("prod", example),
        ("staging", example.replace("com.apple.sysmond", "com.example.missing")),
    ):
        (deployment_dir / folder).mkdir()
        (deployment_dir / folder / "conds.yaml").write_text(text)
    shutil.copytree(EXAMPLES / "fleet-bundles", deployment_dir / "bundles")
    text = (
        "[posture]\n"
        'conditions = ["prod/conds.yaml", "./staging/conds.yaml"]\n'
        'dumpstate = ["dumpstate.txt"]\n'
        'fleet = "bundles"\n'
        "fleet_max_age_days = 3650\n"
    )
    path = _write(deployment_dir, text)
    document = run_cli("preflight", path, "--format", "json").json()
    assert document["facts"]["posture prod/conds.yaml"] == "Compliant"
    assert document["facts"]["posture ./staging/conds.yaml"] == "NonCompliant"
    assert "fleet prod/conds.yaml" in document["facts"]
    assert "fleet ./staging/conds.yaml" in document["facts"]
    policies = {
        f["subject"]: f["severity"] for f in document["findings"] if f["check"] == "posture.policy"
    }
    assert policies == {
        "prod/conds.yaml: macOS-Service-PosturePolicy": "info",
        "./staging/conds.yaml: macOS-Service-PosturePolicy": "fail",
    }
    fleet = {f["subject"] for f in document["findings"] if f["check"] == "posture.fleet"}
    assert fleet == {
        "prod/conds.yaml: macOS-Service-Requirement",
        "./staging/conds.yaml: macOS-Service-Requirement",
    }
    junit = SafeET.fromstring(run_cli("preflight", path, "--format", "junit").out)
    names = [
        (case.get("classname"), case.get("name"))
        for case in junit.iter("testcase")
        if case.get("classname", "").startswith("feedmgr.posture")
    ]
    assert len(names) == len(set(names))
    assert ("feedmgr.posture.policy", "./staging/conds.yaml: macOS-Service-PosturePolicy") in names


def test_a_bad_list_domain_is_an_invalid_deployment_file(
    deployment_dir: Path, run_cli: RunCli
) -> None:
    """'[posture] list = ["gui/abc=..."]' exits 3 with one line naming the file and the
    field, before any section runs."""
    path = _write(
        deployment_dir,
        '[posture]\nconditions = ["macos-service-condition.yaml"]\n'
        'list = ["gui/abc=captures/dumpstate.txt"]\n',
    )
    result = run_cli("preflight", path)
    assert result.code == 3
    assert result.out == ""
    assert result.err == (
        f"feedmgr: error: {path}: posture.list.0: 'gui/abc' is not a launchd domain: "
        "expected system, gui/UID or user/UID\n"
    )
