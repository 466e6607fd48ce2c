"""``feedmgr posture``: render, parse-log, eval (files and --live), collect-script."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, RunCli

EXAMPLE = REPO / "docs/examples/macos-service-condition.yaml"
Asset = Callable[[str], Path]


def _inputs(asset: Asset) -> list[str]:
    return [
        "--dumpstate",
        str(asset("posture/dumpstate.txt")),
        "--list",
        str(asset("posture/list-system.txt")),
        "--list",
        f"gui/501={asset('posture/list-gui.txt')}",
    ]


def _conditions(tmp_path: Path, *conditions: dict[str, object], criteria: str) -> Path:
    document = {
        "format": "feedmgr-posture/1",
        "conditions": list(conditions),
        "requirements": [{"name": "req", "criteria": criteria, "message": "fix it"}],
        "policies": [{"name": "pol", "requirement": "req"}],
    }
    path = tmp_path / "conditions.yaml"
    path.write_text(yaml.dump(document))
    return path


@pytest.mark.parametrize(
    "command", ["render", "parse-log", "audit-syslog", "eval", "collect-script"]
)
def test_help_has_an_example(run_cli: RunCli, command: str) -> None:
    """Every posture command's --help shows an example line."""
    result = run_cli("posture", command, "--help")
    assert result.code == 0
    assert "Example: feedmgr posture" in result.out


def test_render_prints_the_agent_document(run_cli: RunCli, asset: Asset) -> None:
    """posture render prints the <cleanmachines> document exactly as ISE logs it."""
    result = run_cli("posture", "render", EXAMPLE)
    assert result.code == 0
    log = asset("posture/ise-psc.log").read_text()
    start = log.index("<cleanmachines>")
    assert result.out == log[start : log.index("</cleanmachines>", start) + 17]


def test_render_json(run_cli: RunCli) -> None:
    """posture render --format json lists the packages with ISE names."""
    result = run_cli("posture", "render", EXAMPLE, "--format", "json")
    (package,) = result.json()["packages"]
    assert package["criteria"] == "(macOS-Service-Condition)"
    assert package["checks"][0]["operator_ise"] == "Loaded & Running"


def test_render_warns_about_globs(run_cli: RunCli, tmp_path: Path) -> None:
    """A glob service renders (taken literally by the agent) with a warning on stderr."""
    path = _conditions(
        tmp_path,
        {"name": "zoom", "service": "us.zoom.*", "operator": "not-loaded"},
        criteria="zoom",
    )
    result = run_cli("posture", "render", path)
    assert result.code == 0
    assert "<param>us.zoom.*</param>" in result.out
    assert "feedmgr: warning: zoom: service 'us.zoom.*' is a glob" in result.err


@pytest.mark.parametrize("log", ["posture/unified_log.log", "posture/ise-psc.log"])
def test_parse_log_round_trips_the_example(run_cli: RunCli, asset: Asset, log: str) -> None:
    """parse-log finds in both field-document logs what render produces (exit 0, 'same')."""
    result = run_cli("posture", "parse-log", asset(log), "--against", EXAMPLE)
    assert result.code == 0, result.out
    assert "macOS-Service-Requirement: same" in result.out
    assert "macOS-Service-Condition: com.apple.sysmond, Loaded & Running" in result.out
    document = run_cli("posture", "parse-log", asset(log), "--format", "json").json()
    assert document["schema"] == "feedmgr-posture-log/1"
    assert document["requirements"][0]["message"] == "macOS Service is non compliant"
    assert document["conditions"][0]["service"] == "com.apple.sysmond"


def test_parse_log_against_a_different_file_fails(
    run_cli: RunCli, asset: Asset, tmp_path: Path
) -> None:
    """A condition file that differs from what the agent received exits 1 with 'differs'."""
    document = yaml.safe_load(EXAMPLE.read_text())
    document["conditions"][0]["operator"] = "loaded"
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.dump(document))
    result = run_cli("posture", "parse-log", asset("posture/unified_log.log"), "--against", changed)
    assert result.code == 1
    assert "macOS-Service-Requirement: differs" in result.out


@pytest.mark.parametrize(
    ("received", "named"),
    [
        ("<operation>Loaded_with_exit_code</operation>", "operation='Loaded_with_exit_code'"),
        ("<type>304</type>", "received type 304"),
    ],
    ids=["operation", "type"],
)
def test_parse_log_keeps_a_requirement_with_an_unknown_service_check(
    run_cli: RunCli, asset: Asset, tmp_path: Path, received: str, named: str
) -> None:
    """A real log whose service check has an <operation> or <type> feedmgr does not know
    still lists the requirement, counts its documents whole, shows the check as received
    and not recognised, and --against says 'differs' naming the check, not 'missing'."""
    original = asset("posture/unified_log.log").read_text()
    tag = "<operation>running</operation>" if "operation" in received else "<type>303</type>"
    log = tmp_path / "unified_log.log"
    log.write_text(original.replace(tag, received))
    whole = run_cli("posture", "parse-log", asset("posture/unified_log.log"), "--format", "json")

    document = run_cli("posture", "parse-log", log, "--format", "json").json()
    assert [r["name"] for r in document["requirements"]] == ["macOS-Service-Requirement"]
    assert (document["documents"], document["documents_cut"]) == (
        whole.json()["documents"],
        whole.json()["documents_cut"],
    )
    (check,) = document["requirements"][0]["other_checks"]
    assert (check["category"], check["evaluated"]) == (3, False)
    assert check["unrecognised"]

    result = run_cli("posture", "parse-log", log, "--against", EXAMPLE)
    assert result.code == 1
    assert "macOS-Service-Requirement: differs" in result.out
    assert "missing" not in result.out
    assert "check 'macOS-Service-Condition': the log's check is not recognised" in result.out
    assert named in result.out
    assert "Service checks not recognised (1)" in result.out


def test_parse_log_against_names_what_differs(
    run_cli: RunCli, asset: Asset, tmp_path: Path
) -> None:
    """--against names each field that differs: the operator and the exit code."""
    document = yaml.safe_load(EXAMPLE.read_text())
    document["conditions"][0]["operator"] = "exit-code"
    document["conditions"][0]["exit_code"] = 3
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.dump(document))
    log = asset("posture/unified_log.log")
    result = run_cli("posture", "parse-log", log, "--against", changed)
    assert result.code == 1
    assert (
        "operator of check 'macOS-Service-Condition': log 'running', file 'exit-code'" in result.out
    )
    assert "exit code of check 'macOS-Service-Condition': log 0, file 3" in result.out
    against = run_cli("posture", "parse-log", log, "--against", changed, "--format", "json")
    assert against.json()["against"]["differences"]["macOS-Service-Requirement"] == [
        "operator of check 'macOS-Service-Condition': log 'running', file 'exit-code'",
        "exit code of check 'macOS-Service-Condition': log 0, file 3",
    ]


def test_parse_log_against_a_file_with_nothing_to_compare_says_so(
    run_cli: RunCli, asset: Asset, tmp_path: Path
) -> None:
    """--against a file whose only policy is disabled renders no package: the output says
    plainly that nothing was compared, in text and JSON, instead of an empty section."""
    document = yaml.safe_load(EXAMPLE.read_text())
    document["policies"][0]["enabled"] = False
    disabled = tmp_path / "disabled.yaml"
    disabled.write_text(yaml.dump(document))
    log = asset("posture/unified_log.log")
    result = run_cli("posture", "parse-log", log, "--against", disabled)
    assert result.code == 0
    assert f"Compared with {disabled}: nothing was compared: the file renders no package" in (
        result.out
    )
    against = run_cli("posture", "parse-log", log, "--against", disabled, "--format", "json")
    assert against.json()["against"]["requirements"] == {}
    assert against.json()["against"]["note"].startswith("nothing was compared")


def test_parse_log_survives_garbage_inside_a_text_log(run_cli: RunCli, tmp_path: Path) -> None:
    """Stray bytes and truncated XML inside a text log are scanned without error (exit 0)."""
    path = tmp_path / "garbage.log"
    path.write_bytes(
        b"2024-02-27 10:30:58.658 DEBUG [x] posture\n\xff\xfe\x00 junk\n"
        b"<cleanmachines>\n<package>\n<check>\n\xff\x00"
    )
    result = run_cli("posture", "parse-log", path, "--format", "json")
    assert result.code == 0
    assert result.json()["problems"]
    assert result.json()["documents_cut"] == 1


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (os.urandom(4096), "not a text log (binary content)"),
        (b"", "no posture content and no line in a known log format (0 lines read)"),
        (b"hello\nworld\n", "no posture content and no line in a known log format (2 lines"),
        (b"PK\x03\x04 cut zip", "damaged or unsupported zip"),
    ],
)
def test_parse_log_refuses_what_it_cannot_read(
    run_cli: RunCli, tmp_path: Path, content: bytes, problem: str
) -> None:
    """Binary data, an empty file, text in no known log format and a damaged zip exit 3
    with one line naming the file, never a silent '0 documents'."""
    path = tmp_path / "input.log"
    path.write_bytes(content)
    result = run_cli("posture", "parse-log", path)
    assert result.code == 3
    assert result.out == ""
    assert result.err.startswith(f"feedmgr: error: {path}: {problem}")
    assert result.err.count("\n") == 1


def test_parse_log_reads_a_dart_zip_and_says_which_members(
    run_cli: RunCli, asset: Asset, tmp_path: Path
) -> None:
    """A DART bundle passed directly is opened; its posture logs are read and named, in
    text and JSON, and --against looks across them."""
    import zipfile

    bundle = tmp_path / "DART.zip"
    with zipfile.ZipFile(bundle, "w") as archive:
        archive.write(asset("posture/unified_log.log"), "Secure Client/unified_log.log")
        archive.write(asset("posture/logs/macos-system.log"), "System/system.log")
        archive.writestr("Secure Client/ACManifestVPN.xml", "<vpn/>")
    result = run_cli("posture", "parse-log", bundle, "--against", EXAMPLE)
    assert result.code == 0, result.err
    assert result.out.startswith(
        f"DART bundle {bundle}: read Secure Client/unified_log.log, System/system.log\n"
    )
    assert "macOS-Service-Requirement: same" in result.out
    document = run_cli("posture", "parse-log", bundle, "--format", "json").json()
    assert document["schema"] == "feedmgr-posture-bundle/1"
    assert document["members_read"] == ["Secure Client/unified_log.log", "System/system.log"]
    assert [log["documents"] for log in document["logs"]] == [2, 0]
    status = document["logs"][1]["outcome"]["agent_status"][0]
    assert status["description"] == "System scan not required on current Wi-Fi."


def test_parse_log_bundle_with_only_unreadable_posture_logs_exits_3(
    run_cli: RunCli, tmp_path: Path
) -> None:
    """A DART zip whose only posture log is binary (encrypted by the agent) exits 3 naming
    the member and why, not '0 documents'."""
    import zipfile

    bundle = tmp_path / "DART.zip"
    with zipfile.ZipFile(bundle, "w") as archive:
        archive.writestr("ISE Posture/unified_log.log", bytes(range(256)) * 64)
    result = run_cli("posture", "parse-log", bundle)
    assert result.code == 3
    assert result.err == (
        f"feedmgr: error: {bundle}: no readable posture log in the bundle "
        "(ISE Posture/unified_log.log: not a text log (binary content); give the log file "
        "or a DART zip)\n"
    )


def test_parse_log_names_checks_it_does_not_evaluate(run_cli: RunCli, tmp_path: Path) -> None:
    """A check of another category is listed with its category and type and marked as not
    evaluated, in text and JSON (constructed package)."""
    path = tmp_path / "ise-psc.log"
    path.write_text(
        "2024-02-27 10:30:58.658 DEBUG [x] cisco.cpm.posture.runtime.PostureHandler\n"
        "<package><id>7</id><name>AV</name><description>d</description><optional>0</optional>"
        "<check><id>AV-Check</id><category>5</category><type>501</type><param>x</param></check>"
        "<criteria>(AV-Check)</criteria></package>\n"
    )
    result = run_cli("posture", "parse-log", path)
    assert result.code == 0, result.err
    assert "Other checks (1): extracted, not evaluated" in result.out
    assert "AV-Check: category 5, type 501, param='x'" in result.out
    (other,) = run_cli("posture", "parse-log", path, "--format", "json").json()["other_checks"]
    assert (other["category"], other["type"], other["evaluated"]) == (5, 501, False)


CP_POLICY = """
format: feedmgr-cp-policy/1
rules:
  - name: macOS
    identity_groups: Any
    operating_systems: ["Mac OSX"]
    results:
      agent_configuration: Secure Client 5.1.10
      agent_package: CiscoSecureClient 5.1.10.233
      agent_version: "5.1.10.233"
      compliance_module_version: "4.3.4200.0"
"""


def _audit_line(n: int, mac: str, os_string: str, status: str) -> str:
    return (
        f"<181>Mar  3 09:12:{n:02d} ise-psn1 CISE_Posture_and_Client_Provisioning_Audit "
        f"{n:010d} 1 0 2026-03-03 09:12:{n:02d}.100 +00:00 00000{n:05d} 80002 NOTICE "
        f"Posture: report, MacAddress={mac}, OperatingSystem={os_string}, PostureStatus={status},"
    )


@pytest.mark.usefixtures("sample_feed")
def test_audit_syslog_confirms_a_predicted_cp_gap(run_cli: RunCli, tmp_path: Path) -> None:
    """Constructed posture audit syslog: macOS 26.2 endpoints never postured beside the CP
    audit's 'os-unknown' for 26.2 on the 2026.10.1 feed is a confirmed gap (exit 1); the
    compliant 15.6.1 Mac is covered by the 'macOS' rule."""
    log = tmp_path / "ise.log"
    log.write_text(
        "\n".join(
            [
                _audit_line(1, "AA:BB:CC:00:00:01", "Mac OSX 15.6.1", "Compliant"),
                _audit_line(2, "AA:BB:CC:00:00:02", "macOS 26.2", "NotApplicable"),
            ]
        )
        + "\n"
    )
    policy = tmp_path / "cp.yaml"
    policy.write_text(CP_POLICY)
    result = run_cli("posture", "audit-syslog", log, "--cp-policy", policy)
    assert result.code == 1, result.err
    assert "AA:BB:CC:00:00:02: macOS 26.2, NotApplicable" in result.out
    document = run_cli(
        "posture", "audit-syslog", log, "--cp-policy", policy, "--format", "json"
    ).json()
    by_os = {o["os"]: o for o in document["by_os"]}
    assert by_os["macOS 26.2"]["cp_prediction"]["outcome"] == "os-unknown"
    assert by_os["macOS 26.2"]["confirmed_gap"] is True
    assert by_os["Mac OSX 15.6.1"]["cp_prediction"]["rule"] == "macOS"
    assert document["statuses"] == {"Compliant": 1, "NotApplicable": 1}


def test_audit_syslog_reads_rfc3339_headers_and_counts_unreadable_lines(
    run_cli: RunCli, tmp_path: Path
) -> None:
    """A file mixing BSD headers with the RFC 3339 header rsyslog's RSYSLOG_FileFormat writes
    keeps both endpoints (the second never postured); a CISE_ line in no known header form
    is counted as unreadable in the text and the JSON, not silently dropped."""
    rfc3339 = _audit_line(2, "AA:BB:CC:00:00:02", "Mac OSX 26.2", "Unknown").replace(
        "<181>Mar  3 09:12:02 ", "2024-02-06T22:16:22+00:00 "
    )
    garbled = "ise01 at 22:16 CISE_Posture_and_Client_Provisioning_Audit 0000000003 1 0 x"
    log = tmp_path / "ise.log"
    log.write_text(
        "\n".join(
            [_audit_line(1, "AA:BB:CC:00:00:01", "Mac OSX 15.6.1", "Compliant"), rfc3339, garbled]
        )
        + "\n"
    )
    result = run_cli("posture", "audit-syslog", log)
    assert result.code == 0, result.err
    assert f"{log}: 3 lines, 2 ISE message(s), 2 with a posture status" in result.out
    assert "AA:BB:CC:00:00:02: Mac OSX 26.2, Unknown" in result.out
    assert "1 line(s) name an ISE category but could not be read" in result.out
    document = run_cli("posture", "audit-syslog", log, "--format", "json").json()
    assert document["unreadable_lines"] == 1
    assert document["statuses"] == {"Compliant": 1, "Unknown": 1}


def test_audit_syslog_with_only_unreadable_ise_lines_says_so(
    run_cli: RunCli, tmp_path: Path
) -> None:
    """A file whose ISE lines are all in an unknown header form exits 3 saying how many."""
    log = tmp_path / "ise.log"
    log.write_text("ise01 at 22:16 CISE_Posture_and_Client_Provisioning_Audit 1 1 0 x\n")
    result = run_cli("posture", "audit-syslog", log)
    assert result.code == 3
    assert "1 line(s) name an ISE category but their syslog header is in no form" in result.err


def test_audit_syslog_refuses_a_file_without_ise_messages(run_cli: RunCli, asset: Asset) -> None:
    """A file with no ISE syslog message (the macOS system.log) exits 3 with one line."""
    path = asset("posture/logs/macos-system.log")
    result = run_cli("posture", "audit-syslog", path)
    assert result.code == 3
    assert result.err.startswith(f"feedmgr: error: {path}: no ISE syslog message in 37 lines")


def test_eval_compliant_with_evidence(run_cli: RunCli, asset: Asset) -> None:
    """eval passes the example with evidence, the criteria result and a Compliant report."""
    result = run_cli("posture", "eval", EXAMPLE, *_inputs(asset))
    assert result.code == 0, result.err
    assert "PASS  macOS-Service-Condition" in result.out
    assert "system/com.apple.sysmond: state = running, pid 412" in result.out
    assert "(macOS-Service-Condition) -> true" in result.out
    assert "Posture Status: Compliant" in result.out
    assert "macOS-Service-PosturePolicy  macOS-Service-Requirement  Mandatory" in result.out


def test_eval_non_compliant_exits_1(run_cli: RunCli, asset: Asset, tmp_path: Path) -> None:
    """A failed mandatory policy is NonCompliant (exit 1); JSON shows the ISE report fields."""
    path = _conditions(
        tmp_path,
        {"name": "zoom", "service": "us.zoom.*", "operator": "not-loaded"},
        {
            "name": "posture",
            "service": "com.cisco.secureclient.iseposture",
            "operator": "running",
            "service_type": "user-agent",
        },
        criteria="posture & zoom",
    )
    result = run_cli("posture", "eval", path, *_inputs(asset), "--format", "json")
    assert result.code == 1
    document = result.json()
    assert document["posture_status"] == "NonCompliant"
    (policy,) = document["policies"]
    assert (policy["status"], policy["passed_conditions"], policy["failed_conditions"]) == (
        "Failed",
        ["posture"],
        ["zoom"],
    )
    zoom = document["conditions"][0]
    assert zoom["glob"] is True
    assert {e["target"] for e in zoom["evidence"]} == {
        "system/us.zoom.ZoomDaemon",
        "gui/501/us.zoom.updater",
    }
    text = run_cli("posture", "eval", path, *_inputs(asset)).out
    assert "us.zoom.* (glob), Not Loaded" in text
    with_plists = run_cli(
        "posture", "eval", path, *_inputs(asset), "--plists", asset("posture/plists.txt")
    )
    assert "plist: /Library/LaunchDaemons/us.zoom.ZoomDaemon.plist" in with_plists.out
    assert "remediation (message text only): fix it" in text


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        ([], "give --live, or at least one of --dumpstate, --list, --print"),
        (["--live", "--dumpstate", "{dump}"], "give --live, or at least one of"),
        (["--list", "pid/1={dump}"], "--list: 'pid/1' is not a launchd domain"),
        (["--list", "gui/501=/no/such/file"], "--list: /no/such/file: no such file"),
        (["--list", "system=/no/such/file"], "--list: /no/such/file: no such file"),
    ],
)
def test_eval_usage_errors(run_cli: RunCli, asset: Asset, args: list[str], problem: str) -> None:
    """Contradictory or missing inputs are usage errors (exit 2) with one line."""
    dump = str(asset("posture/dumpstate.txt"))
    result = run_cli("posture", "eval", EXAMPLE, *(a.format(dump=dump) for a in args))
    assert result.code == 2
    assert problem in result.err


def test_live_off_macos_is_a_usage_error(run_cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> None:
    """--live on Linux without an injected launchctl says why and what to do instead."""
    monkeypatch.delenv("FEEDMGR_LAUNCHCTL", raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    result = run_cli("posture", "eval", EXAMPLE, "--live")
    assert result.code == 2
    assert "feedmgr: error: --live: needs macOS (this is linux)" in result.err


def _fake_launchctl(tmp_path: Path, asset: Asset, *, bare_print: bool = False) -> Path:
    """A stand-in launchctl answering from the sample captures; with ``bare_print`` its
    print opens the block with the label alone, as launchctl did up to macOS 10.15."""
    script = tmp_path / "launchctl"
    bare = "sed '1s|^.*/||' " if bare_print else "cat "
    script.write_text(
        "#!/bin/sh\n"
        'case "$1" in\n'
        f"  dumpstate) cat '{asset('posture/dumpstate.txt')}' ;;\n"
        f"  list) cat '{asset('posture/list-system.txt')}' ;;\n"
        "  print)\n"
        f'    awk -v t="$2 = {{" \'$0 == t {{ p = 1 }} p {{ print }} p && $0 == "}}" {{ exit }}\' '
        f"'{asset('posture/dumpstate.txt')}' > \"$0.out\"\n"
        f'    if [ -s "$0.out" ]; then {bare}"$0.out";'
        ' rm -f "$0.out"\n'
        '    else rm -f "$0.out"; echo "Could not find service \\"$2\\"" >&2;'
        " exit 113; fi ;;\n"
        '  asuser) shift 2; exec "$@" ;;\n'
        "  *) exit 64 ;;\n"
        "esac\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def test_live_runs_the_injected_launchctl(
    run_cli: RunCli, asset: Asset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--live runs $FEEDMGR_LAUNCHCTL dumpstate / list / print DOMAIN/LABEL for each label."""
    monkeypatch.setenv("FEEDMGR_LAUNCHCTL", str(_fake_launchctl(tmp_path, asset)))
    path = _conditions(
        tmp_path,
        {"name": "posture", "service": "com.cisco.secureclient.iseposture", "operator": "running"},
        criteria="posture",
    )
    result = run_cli("posture", "eval", path, "--live", "--uid", "501", "--format", "json")
    assert result.code == 0, result.err
    document = result.json()
    assert "launchctl print gui/501/com.cisco.secureclient.iseposture" in document["inputs"]
    (evidence,) = document["conditions"][0]["evidence"]
    assert evidence["source"] == "print+dumpstate"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("conditions: [", "not valid YAML"),
        (
            "format: feedmgr-posture/1\n"
            "conditions:\n- {name: a, service: b, operator: exit-code}\n",
            "conditions[0] (a).exit_code: required for operator exit-code",
        ),
    ],
)
def test_invalid_condition_file_exits_3(
    run_cli: RunCli, tmp_path: Path, content: str, problem: str
) -> None:
    """An invalid condition file: exit 3, 'feedmgr: error: FILE: item: reason', no traceback."""
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    for command in ("render", "collect-script"):
        result = run_cli("posture", command, path)
        assert result.code == 3
        assert result.err.startswith(f"feedmgr: error: {path}: ")
        assert problem in result.err
        assert "Traceback" not in result.err


def test_eval_marks_a_glob_verdict_as_feedmgrs_reading(
    run_cli: RunCli, asset: Asset, tmp_path: Path
) -> None:
    """A glob service ('us.zoom.*') is evaluated as feedmgr's extension, but the agent takes
    it literally (CSCwf01373): eval warns on stderr and marks the condition, the
    requirement and the posture status as feedmgr's reading, in text and JSON."""
    conditions = _conditions(
        tmp_path,
        {"name": "NoZoom", "service": "us.zoom.*", "operator": "not-loaded"},
        {"name": "Sysmond", "service": "com.apple.sysmond", "operator": "running"},
        criteria="NoZoom & Sysmond",
    )
    dumpstate = asset("posture/dumpstate.txt")
    result = run_cli("posture", "eval", conditions, "--dumpstate", dumpstate)
    assert result.code == 1
    assert result.err.startswith(
        "feedmgr: warning: NoZoom: service 'us.zoom.*' is a glob; ISE and the agent match "
        "exact labels only (CSCwf01373)"
    )
    assert "feedmgr's reading, not the agent's" in result.err
    assert "Sysmond" not in result.err
    assert (
        "        feedmgr's reading, not the agent's: the agent takes 'us.zoom.*' literally"
        in result.out
    )
    assert "[feedmgr's reading, not the agent's: glob NoZoom]" in result.out
    assert "  (feedmgr's reading, not the agent's: glob condition(s) NoZoom" in result.out

    document = run_cli(
        "posture", "eval", conditions, "--dumpstate", dumpstate, "--format", "json"
    ).json()
    assert document["agent_reading"] is False
    assert [c["agent_reading"] for c in document["conditions"]] == [False, True]
    assert document["requirements"][0]["agent_reading"] is False
    (warning,) = document["warnings"]
    assert warning.startswith("NoZoom: service 'us.zoom.*' is a glob")


def test_eval_without_globs_is_the_agents_reading(run_cli: RunCli, asset: Asset) -> None:
    """Exact labels only: no warning, and the JSON says the verdict is the agent's reading."""
    inputs = _inputs(asset)
    result = run_cli("posture", "eval", EXAMPLE, *inputs, "--format", "json")
    assert result.code == 0
    assert "warning" not in result.err
    assert result.json()["agent_reading"] is True
    assert result.json()["warnings"] == []


def test_truncated_dumpstate_exits_3(run_cli: RunCli, asset: Asset, tmp_path: Path) -> None:
    """A dumpstate cut off inside a block is rejected (exit 3) naming file and block."""
    text = asset("posture/dumpstate.txt").read_text()
    cut = tmp_path / "cut.txt"
    cut.write_text(text[: text.index("state = running")])
    result = run_cli("posture", "eval", EXAMPLE, "--dumpstate", cut)
    assert result.code == 3
    assert f"feedmgr: error: {cut}: truncated: block 'system/com.apple.sysmond = {{'" in result.err


def test_print_of_a_domain_as_dumpstate_gives_no_verdict(run_cli: RunCli, tmp_path: Path) -> None:
    """'launchctl print system' output given as --dumpstate holds no job's state: exit 3
    naming the file and what to capture, not 'Compliant' because nothing was read."""
    capture = tmp_path / "print-system.txt"
    capture.write_text(
        "system = {\n\ttype = system\n\tservices = {\n"
        "\t\t     412      -\tcom.apple.sysmond\n\t\t     501      -\tus.zoom.ZoomDaemon\n"
        "\t}\n}\n"
    )
    conditions = _conditions(
        tmp_path,
        {"name": "NoZoom", "service": "us.zoom.ZoomDaemon", "operator": "not-loaded"},
        criteria="NoZoom",
    )
    result = run_cli("posture", "eval", conditions, "--dumpstate", capture)
    assert result.code == 3
    assert result.err.startswith(f"feedmgr: error: {capture}: holds no DOMAIN/LABEL = {{ job")
    assert "launchctl print DOMAIN" in result.err
    assert "Compliant" not in result.out


@pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX shell")
@pytest.mark.parametrize("bare_print", [False, True], ids=["macOS 11+", "macOS 10.15 and older"])
def test_collect_script_runs_and_its_output_evaluates(
    run_cli: RunCli,
    asset: Asset,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    bare_print: bool,
) -> None:
    """The collect script, run with stand-ins for sudo/launchctl/stat/hostname, captures
    files that 'posture eval' then evaluates with the command the script prints; also
    when launchctl print names the label alone (up to macOS 10.15), since the command
    gives each print file its target."""
    script = run_cli("posture", "collect-script", EXAMPLE).out
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _fake_launchctl(bin_dir, asset, bare_print=bare_print)
    stand_ins = {
        "sudo": 'exec "$@"',
        "stat": "echo tester",
        "hostname": "echo mac01",
        "id": "echo 501",
        "dscl": "echo 'NFSHomeDirectory: /Users/tester'",
    }
    for name, body in stand_ins.items():
        tool = bin_dir / name
        tool.write_text(f"#!/bin/sh\n{body}\n")
        tool.chmod(0o755)
    work = tmp_path / "work"
    work.mkdir()
    (work / "collect.sh").write_text(script)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    run = subprocess.run(
        ["sh", "collect.sh"], cwd=work, env=env, capture_output=True, text=True, check=True
    )
    command = run.stdout.splitlines()[-1].split()
    assert command[:3] == ["feedmgr", "posture", "eval"]
    assert "--print" in command
    assert "--plists" in command
    printed = command[command.index("--print") + 1]
    assert printed.startswith("system/com.apple.sysmond=")
    if bare_print:
        assert (work / printed.partition("=")[2]).read_text().startswith("com.apple.sysmond = {")
    monkeypatch.chdir(work)
    result = run_cli(*command[1:], "--format", "json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["posture_status"] == "Compliant"
    (condition,) = report["conditions"]
    # Records of one job merge; print, read first, is named first.
    sources = {(e["source"].split("+")[0], e["target"], e["state"]) for e in condition["evidence"]}
    assert ("print", "system/com.apple.sysmond", "running") in sources


def test_posture_help_stays_light() -> None:
    """'feedmgr posture --help' imports neither pydantic nor yaml nor defusedxml."""
    probe = (
        "import sys\n"
        "from feedmgr.cli import main\n"
        "assert main(['posture', '--help']) == 0\n"
        "names = ('pydantic', 'yaml', 'defusedxml')\n"
        "heavy = [m for m in names if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True)


def test_commands_without_the_store_never_resolve_its_home(asset: Asset, tmp_path: Path) -> None:
    """'posture parse-log' never touches the store, so it does not pay for finding the
    platform's data directory (platformdirs); 'status' does."""
    probe = (
        "import sys\n"
        "from feedmgr.cli import main\n"
        f"assert main(['posture', 'parse-log', {str(asset('posture/ise-psc.log'))!r}]) == 0\n"
        "assert 'platformdirs' not in sys.modules\n"
        "main(['status'])\n"
        "assert 'platformdirs' in sys.modules\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "FEEDMGR_HOME"}
    env |= {"HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data")}
    subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, env=env)
