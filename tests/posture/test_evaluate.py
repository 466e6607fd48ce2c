"""The evaluator: operator semantics, service types, globs, merging, criteria, policies,
and the cases where the field document's shell pipelines go wrong."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from feedmgr.findings import Severity
from feedmgr.posture.criteria import parse_criteria
from feedmgr.posture.evaluate import (
    Evidence,
    PolicyStatus,
    PostureStatus,
    evaluate_condition,
    evaluate_spec,
    gather,
    label_filter,
    to_report,
)
from feedmgr.posture.launchd import iter_blocks, iter_list, iter_plists
from feedmgr.posture.model import (
    Enforcement,
    Operator,
    Policy,
    PostureSpec,
    Requirement,
    ServiceCondition,
    ServiceType,
)

Asset = Callable[[str], Path]


def _condition(
    service: str,
    operator: Operator,
    service_type: ServiceType = ServiceType.DAEMON_OR_USER_AGENT,
    exit_code: int = 0,
    name: str = "c",
) -> ServiceCondition:
    return ServiceCondition(name, service, operator, service_type, exit_code)


def _spec(*conditions: ServiceCondition) -> PostureSpec:
    return PostureSpec(conditions, (), ())


def _evidence(asset: Asset, *conditions: ServiceCondition, lists: bool = True) -> Evidence:
    spec = _spec(*conditions)
    dumpstate = asset("posture/dumpstate.txt")
    streams = [("dumpstate", iter_blocks(dumpstate.read_text().splitlines(), "dumpstate.txt"))]
    if lists:
        system = asset("posture/list-system.txt").read_text().splitlines()
        gui = asset("posture/list-gui.txt").read_text().splitlines()
        streams.append(("list-system", iter_list(system, "list-system.txt", "system")))
        streams.append(("list-gui", iter_list(gui, "list-gui.txt", "gui/501")))
    return gather(spec, streams)


def _decide(asset: Asset, condition: ServiceCondition, lists: bool = True) -> bool:
    return evaluate_condition(condition, _evidence(asset, condition, lists=lists)).passed


D, A, DA = ServiceType.DAEMON, ServiceType.USER_AGENT, ServiceType.DAEMON_OR_USER_AGENT
R, L, NL, X, RX = (
    Operator.RUNNING,
    Operator.LOADED,
    Operator.NOT_LOADED,
    Operator.EXIT_CODE,
    Operator.RUNNING_OR_EXIT_CODE,
)


@pytest.mark.parametrize(
    ("condition", "passed"),
    [
        (_condition("com.apple.sysmond", R, DA, 0), True),
        (_condition("com.apple.sysmond", R, D, 0), True),
        (_condition("com.apple.sysmond", R, A, 0), False),  # a daemon, not a user agent
        (_condition("com.apple.sysmond", L, DA, 0), True),
        (_condition("com.apple.sysmond", NL, DA, 0), False),
        (_condition("com.apple.sysmond", NL, A, 0), True),  # no user agent of that name is loaded
        (_condition("com.apple.dhcp6d", NL, DA, 0), True),  # plist exists on disk, job not loaded
        (_condition("com.apple.dhcp6d", L, DA, 0), False),
        (_condition("com.apple.mdmclient.agent", X, A, 0), True),  # not running, last exit code = 0
        (_condition("com.apple.mdmclient.agent", X, A, 1), False),
        (_condition("com.apple.mdmclient.agent", R, A, 0), False),
        (_condition("com.apple.mdmclient.agent", RX, A, 0), True),
        (_condition("com.apple.mdmclient.daemon", X, D, 78), True),  # state = exited, 78: EX_CONFIG
        (_condition("com.apple.mdmclient.daemon", X, D, 0), False),
        (
            _condition("com.cisco.secureclient.iseposture", X, A, 0),
            False,
        ),  # running, so not "exit code"
        (_condition("com.cisco.secureclient.iseposture", RX, A, 5), True),
        (_condition("com.example.killed", X, D, 0), False),  # killed by signal 9: no exit code
        (_condition("com.example.killed", L, D, 0), True),
        (
            _condition("com.example.spawning", L, DA, 0),
            True,
        ),  # no type line, gui/501 domain: user agent
        (_condition("com.example.spawning", L, D, 0), False),
        (
            _condition("com.apple.xpc.example", L, DA, 0),
            False,
        ),  # pid/ domain: neither daemon nor agent
        (_condition("us.zoom.*", NL, DA, 0), False),  # the glob catches us.zoom.ZoomDaemon
        (_condition("us.zoom.*", R, D, 0), True),
        (_condition("us.zoom.*", X, A, 1), True),  # us.zoom.updater exited 1
        (_condition("com.nobody.*", NL, DA, 0), True),
        (_condition("com.apple.sysm?nd", R, DA, 0), True),
    ],
)
def test_operator_semantics(asset: Asset, condition: ServiceCondition, passed: bool) -> None:
    """Each operator decides as docs/posture.md says, for the right kind of job."""
    assert _decide(asset, condition) is passed


def test_evidence_text_names_domain_state_and_pid(asset: Asset) -> None:
    """Evidence reads like 'gui/501/LABEL: state = running, pid N' and says where it came from."""
    condition = _condition("com.cisco.secureclient.iseposture", R, A)
    result = evaluate_condition(condition, _evidence(asset, condition))
    (record,) = result.deciding
    assert record.describe().startswith(
        "gui/501/com.cisco.secureclient.iseposture: state = running, pid 612"
    )
    assert record.origin == "dumpstate.txt"
    assert record.source == "dumpstate+list"


def test_failure_reason_lists_inputs(asset: Asset) -> None:
    """A condition with no matching job says what was looked for and in which inputs."""
    condition = _condition("com.apple.dhcp6d", R)
    result = evaluate_condition(condition, _evidence(asset, condition))
    assert result.reason == (
        "no daemon or user agent com.apple.dhcp6d loaded in dumpstate, list-system, list-gui"
    )


def test_wrong_kind_jobs_are_reported_as_ignored(asset: Asset) -> None:
    """A job of the wrong kind does not count, but is shown as ignored evidence."""
    condition = _condition("com.apple.sysmond", R, A)
    result = evaluate_condition(condition, _evidence(asset, condition))
    assert not result.passed
    assert [r.target for r in result.ignored] == ["system/com.apple.sysmond"]


def test_gather_keeps_only_named_jobs(asset: Asset) -> None:
    """Only jobs some condition names are kept (memory does not grow with the input)."""
    evidence = _evidence(asset, _condition("us.zoom.*", L), _condition("com.apple.sysmond", L))
    assert [r.target for r in evidence.records] == [
        "system/com.apple.sysmond",
        "system/us.zoom.ZoomDaemon",
        "gui/501/us.zoom.updater",
    ]


def test_block_exit_history_beats_list_status(asset: Asset) -> None:
    """'(never exited)' in dumpstate is not overwritten by list's status column."""
    condition = _condition("com.apple.sysmond", L)
    (record,) = _evidence(asset, condition).records
    assert record.last_exit_code is None
    assert record.source == "dumpstate+list"


def test_list_only_evidence_is_enough(asset: Asset) -> None:
    """With only launchctl list, running is 'has a PID' and exit code is the status column."""
    spec = _spec(_condition("com.apple.mdmclient.daemon", X, D, 78))
    system = asset("posture/list-system.txt").read_text().splitlines()
    evidence = gather(spec, [("list", iter_list(system, "l", "system"))])
    assert evaluate_condition(spec.conditions[0], evidence).passed


# The field document's pipelines, and what they get wrong on the sample dumpstate.

_DOC_RUNNING = (
    # "Loaded & Running", with only the missing "|" of its sed fixed so that it runs.
    'grep -B 10 -A 10 -E "^\\s*state = running" <<< "$(cat "$1")" | '
    "grep -aiE \"\\\\.*= {\" | sed 's|.*/||;s| = {$||'"
)


def _pipeline(script: str, dumpstate: Path) -> set[str]:
    bash = shutil.which("bash")
    assert bash is not None
    run = subprocess.run(
        [bash, "-c", script, "pipeline", str(dumpstate)],
        capture_output=True,
        text=True,
        check=False,
    )
    return {line.strip() for line in run.stdout.splitlines() if line.strip()}


def test_field_document_running_pipeline_is_wrong_where_we_are_right(asset: Asset) -> None:
    """The document's grep -B 10 -A 10 pipeline calls a stopped job running (a nested
    'state = running' within 10 lines of its header), drags in the next job (-A 10), lists
    sub-blocks and endpoints as services, and misses a running job whose label is more than
    10 lines above its state; the evaluator gets each right."""
    dumpstate = asset("posture/dumpstate.txt")
    listed = _pipeline(_DOC_RUNNING, dumpstate)
    assert "com.example.shortnested" in listed
    assert {"arguments", "endpoints", '"com.example.nested.xpc"'} <= listed
    assert "com.apple.mdmclient.agent" in listed
    assert "com.example.farlabel" not in listed
    assert _decide(asset, _condition("com.apple.mdmclient.agent", R), lists=False) is False
    assert _decide(asset, _condition("com.example.shortnested", R), lists=False) is False
    assert _decide(asset, _condition("com.example.shortnested", X, D, 0), lists=False) is True
    assert _decide(asset, _condition("com.example.nested", R), lists=False) is False
    assert _decide(asset, _condition("com.example.nested.xpc", L), lists=False) is False
    assert _decide(asset, _condition("endpoints", L), lists=False) is False
    assert _decide(asset, _condition("com.example.farlabel", R), lists=False) is True


def test_field_document_loaded_pipeline_without_backslash_finds_nothing(asset: Asset) -> None:
    """'^s*state = ' (backslash lost) never matches the tab-indented state lines, so the
    document's 'loaded' pipeline lists nothing; the evaluator finds every loaded job."""
    script = (
        'grep -B 10 -A 10 -E \'^s*state = \' <<< "$(cat "$1")" | '
        "grep -aiE '\\\\.*= {' | sed 's|.*/||;s| = {$||'"
    )
    assert _pipeline(script, asset("posture/dumpstate.txt")) == set()
    for label in ("com.apple.sysmond", "com.example.nested", "com.apple.mdmclient.daemon"):
        assert _decide(asset, _condition(label, L), lists=False)


def test_field_document_sed_drops_the_domain(asset: Asset) -> None:
    """sed 's|.*/||' keeps only the label, losing system/ vs gui/501/ (daemon vs agent);
    the evaluator keeps the domain and uses it for the service type."""
    listed = _pipeline(_DOC_RUNNING, asset("posture/dumpstate.txt"))
    assert "com.apple.sysmond" in listed
    assert not any("/" in label for label in listed)
    assert _decide(asset, _condition("com.apple.sysmond", R, A), lists=False) is False


def test_field_document_exited_pipeline_keeps_the_wrong_part(asset: Asset) -> None:
    """The 'exit code' pipeline (grep "state = e" ... sed 's/.\\{3\\}$//') prints mangled
    header lines, not labels; the evaluator matches state = exited jobs by exit code."""
    script = (
        'grep -B 10 -A 10 "state = e" <<< "$(cat "$1")" | '
        "grep -aiE \"\\\\.*= {\" | sed 's/.\\{3\\}$//'"
    )
    listed = _pipeline(script, asset("posture/dumpstate.txt"))
    assert "system/com.apple.mdmclient.daemon" in listed  # the full target, not a label
    assert "com.apple.mdmclient.daemon" not in listed
    assert _decide(asset, _condition("com.apple.mdmclient.daemon", X, D, 78), lists=False)


def _full_spec(*policies: Policy, criteria: str = "up & !zoom") -> PostureSpec:
    conditions = (
        _condition("com.apple.sysmond", R, name="up"),
        _condition("us.zoom.*", L, name="zoom"),
    )
    requirement = Requirement(
        name="req",
        conditions=("up", "zoom"),
        criteria=parse_criteria(criteria),
        message="fix it",
    )
    return PostureSpec(conditions, (requirement,), policies)


@pytest.mark.parametrize(
    ("criteria", "enforcement", "status", "policy_status"),
    [
        ("up & !zoom", Enforcement.MANDATORY, PostureStatus.NON_COMPLIANT, PolicyStatus.FAILED),
        ("up & !zoom", Enforcement.OPTIONAL, PostureStatus.COMPLIANT, PolicyStatus.FAILED),
        ("up & !zoom", Enforcement.AUDIT, PostureStatus.COMPLIANT, PolicyStatus.FAILED),
        ("up & zoom", Enforcement.MANDATORY, PostureStatus.COMPLIANT, PolicyStatus.PASSED),
        ("up | !zoom", Enforcement.MANDATORY, PostureStatus.COMPLIANT, PolicyStatus.PASSED),
    ],
)
def test_policy_and_posture_status(
    asset: Asset,
    criteria: str,
    enforcement: Enforcement,
    status: PostureStatus,
    policy_status: PolicyStatus,
) -> None:
    """Only a failed mandatory policy makes the endpoint NonCompliant."""
    spec = _full_spec(Policy("pol", "req", enforcement), criteria=criteria)
    result = evaluate_spec(spec, _evidence(asset, *spec.conditions))
    assert result.status is status
    (policy,) = result.policies
    assert policy.status is policy_status
    assert (policy.passed, policy.failed) == (("up", "zoom"), ())


@pytest.mark.parametrize(
    ("policy", "group", "note"),
    [
        (Policy("p", "req", enabled=False), None, "policy disabled"),
        (Policy("p", "req", os=("Windows All",)), None, "policy is not for macOS (Windows All)"),
        (
            Policy("p", "req", identity_groups=("Staff",)),
            "Guests",
            "identity group Guests not in Staff",
        ),
    ],
)
def test_skipped_policies(asset: Asset, policy: Policy, group: str | None, note: str) -> None:
    """A policy that does not apply is Skipped with all its conditions, and says why."""
    spec = _full_spec(policy)
    result = evaluate_spec(spec, _evidence(asset, *spec.conditions), group)
    (skipped,) = result.policies
    assert (skipped.status, skipped.skipped, skipped.note) == (
        PolicyStatus.SKIPPED,
        ("up", "zoom"),
        note,
    )
    assert result.status is PostureStatus.NOT_APPLICABLE
    assert result.compliant


def test_requirements_without_policies_are_mandatory(asset: Asset) -> None:
    """A file without policies gets one mandatory policy per requirement."""
    spec = _full_spec()
    result = evaluate_spec(spec, _evidence(asset, *spec.conditions))
    assert [p.policy.name for p in result.policies] == ["req"]
    assert result.status is PostureStatus.NON_COMPLIANT
    assert not result.requirements[0].passed


@pytest.mark.parametrize(
    ("enforcement", "severity"),
    [
        (Enforcement.MANDATORY, Severity.FAIL),
        (Enforcement.OPTIONAL, Severity.WARN),
        (Enforcement.AUDIT, Severity.INFO),
    ],
)
def test_report_findings_follow_enforcement(
    asset: Asset, enforcement: Enforcement, severity: Severity
) -> None:
    """A failed policy is a fail (mandatory), warn (optional) or info (audit) finding,
    whose fix is the requirement's remediation message; conditions are info findings."""
    spec = _full_spec(Policy("pol", "req", enforcement))
    report = to_report(evaluate_spec(spec, _evidence(asset, *spec.conditions)), "t")
    (policy,) = report.by_check("posture.policy")
    # "up & !zoom" fails although no condition failed: zoom is loaded, so !zoom is false.
    assert (policy.severity, policy.fix, policy.data["failed_conditions"]) == (
        severity,
        "fix it",
        [],
    )
    assert "criteria (up & !zoom), failed conditions: none" in policy.message
    conditions = report.by_check("posture.condition")
    assert [c.subject for c in conditions] == ["up", "zoom"]
    assert {c.severity for c in conditions} == {Severity.INFO}
    assert report.exit_code() == (1 if severity is Severity.FAIL else 0)


@pytest.mark.parametrize(
    ("pattern", "label", "expected"),
    [
        ("us.zoom.*", "us.zoom.ZoomDaemon", True),
        ("us.zoom.*", "us.zoomx", False),
        ("us.zoom.*", "US.ZOOM.Daemon", False),  # labels are case-sensitive
        ("com.apple.sysm?nd", "com.apple.sysmond", True),
        ("com.[ab].x", "com.b.x", True),
        ("com.[ab].x", "com.c.x", False),
        ("com.apple.sysmond", "com.apple.sysmond.helper", False),
    ],
)
def test_label_filter_agrees_with_condition_matching(
    pattern: str, label: str, expected: bool
) -> None:
    """The compiled label filter keeps exactly the labels a condition matches."""
    condition = _condition(pattern, L)
    assert condition.matches(label) is expected
    assert label_filter(_spec(condition))(label) is expected


def _with_plists(asset: Asset, condition: ServiceCondition, listing: bool) -> str:
    evidence = _evidence(asset, condition)
    if listing:
        dumpstate = asset("posture/dumpstate.txt").read_text().splitlines()
        plists = asset("posture/plists.txt").read_text().splitlines()
        evidence = gather(
            _spec(condition),
            [("dumpstate", iter_blocks(dumpstate, "d"))],
            list(iter_plists(plists)),
        )
    return evaluate_condition(condition, evidence).reason


@pytest.mark.parametrize(
    ("condition", "listing", "suffix"),
    [
        (
            _condition("com.apple.dhcp6d", NL),
            True,
            "; plist present but not loaded: /System/Library/LaunchDaemons/com.apple.dhcp6d.plist",
        ),
        (
            _condition("com.apple.dhcp6d", R, D),
            True,
            "; plist present but not loaded: /System/Library/LaunchDaemons/com.apple.dhcp6d.plist",
        ),
        (_condition("com.apple.dhcp6d", R, A), True, "; no plist for it in the plist listing"),
        (_condition("com.example.absent", L), True, "; no plist for it in the plist listing"),
        (_condition("com.example.absent", L), False, "loaded in dumpstate, list-system, list-gui"),
        (_condition("com.apple.sysmond", R), True, "loaded and running (1 job(s))"),
    ],
)
def test_plist_listing_explains_not_loaded(
    asset: Asset, condition: ServiceCondition, listing: bool, suffix: str
) -> None:
    """With a plist listing, a job that is not loaded is told apart: plist present but not
    loaded, or no plist at all (the field document's two kinds of "not loaded")."""
    assert _with_plists(asset, condition, listing).endswith(suffix)


def test_failed_exit_code_condition_says_what_it_found(asset: Asset) -> None:
    """A job that exited with another code fails, and the reason shows the code it found."""
    condition = _condition("com.apple.mdmclient.daemon", X, D, 0)
    result = evaluate_condition(condition, _evidence(asset, condition))
    assert not result.passed
    assert "is loaded but not stopped with exit code 0" in result.reason
    assert "last exit code = 78" in result.reason
