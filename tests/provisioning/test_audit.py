"""The coverage audit: every OS row x group through the engine, each gap as its finding."""

from __future__ import annotations

import json
from typing import Any

import pytest

from feedmgr.feed.payload import OsCatalog
from feedmgr.findings import Severity
from feedmgr.provisioning.audit import (
    CHECKS,
    RowKind,
    audit,
    explain,
    minimums,
    node_chain,
    package_platform,
)
from feedmgr.provisioning.classify import FeedClassifier
from feedmgr.provisioning.engine import Outcome
from feedmgr.provisioning.inventory import InventoryCounts
from feedmgr.provisioning.policy import Policy, parse_policy
from tests.provisioning.conftest import TableClassifier, mac_node, make_catalog, policy, rule

COMPLETE = policy(
    rule("mac", ["Mac OSX"], ["Staff"]),
    rule("win", ["Windows All"], ["Staff"]),
)


def _checks(pol: Policy, catalog: OsCatalog, classifier: TableClassifier, **kw: Any) -> set[str]:
    return {f.check for f in audit(pol, catalog, classifier, **kw).report.findings}


def test_complete_policy_has_no_findings(catalog: OsCatalog, classifier: TableClassifier) -> None:
    """A policy covering every OS row for every group, with current versions, is clean."""
    coverage = audit(COMPLETE, catalog, classifier)
    assert coverage.report.findings == ()
    assert [r.label for r in coverage.rows] == [
        "Mac OSX 15",
        "Mac OSX 26",
        "Windows 11 (All)",
        "Mac OSX: next release",
        "Windows All: next release",
    ]
    assert coverage.groups == ("Staff",)
    assert coverage.cell("Mac OSX 26", "Staff").decision.matched is not None


@pytest.mark.parametrize(
    ("rules", "check", "subject"),
    [
        ([rule("mac", ["Mac OSX"], ["Staff"])], "cp.uncovered", "Windows 11 (All)"),
        (
            [rule("mac", ["Mac OSX"]), rule("win", ["Windows All"], conditions=["c"])],
            "cp.conditional",
            "Windows 11 (All)",
        ),
        (
            [rule("mac", ["Mac OSX"]), rule("win", ["Windows All"], enabled=False)],
            "cp.disabled-only",
            "Windows 11 (All)",
        ),
        (
            [rule("mac", ["Mac OSX"]), rule("win", ["Windows All"], agent_package=None)],
            "cp.no-agent",
            "Windows 11 (All)",
        ),
        (
            [
                rule("mac", ["Mac OSX"], compliance_module_version="4.3.2000.0"),
                rule("win", ["Windows All"]),
            ],
            "cp.module-too-old",
            "Mac OSX 26",
        ),
        (
            [rule("mac", ["Mac OSX"], agent_version="5.1.5.0"), rule("win", ["Windows All"])],
            "cp.agent-too-old",
            "Mac OSX 26",
        ),
        (
            [rule("mac", ["Mac OSX"]), rule("win", ["Windows All"]), rule("x", ["Mac OSX 99"])],
            "cp.unknown-node",
            "rule 3 'x'",
        ),
        (
            [rule("mac", ["Mac OSX"]), rule("tahoe", ["Mac OSX 26"]), rule("w", ["Windows All"])],
            "cp.shadowed",
            "rule 2 'tahoe'",
        ),
    ],
)
def test_each_gap_gives_its_finding(
    catalog: OsCatalog,
    classifier: TableClassifier,
    rules: list[dict[str, Any]],
    check: str,
    subject: str,
) -> None:
    """Each kind of gap produces exactly its check id, with the documented severity."""
    report = audit(policy(*rules), catalog, classifier).report
    assert {f.check for f in report.findings} == {check}
    (finding,) = report.by_check(check)
    assert finding.subject == subject
    assert finding.severity is CHECKS[check].severity
    assert finding.fix


def test_module_too_old_names_got_and_minimum(
    catalog: OsCatalog, classifier: TableClassifier
) -> None:
    """The version finding says what the rule gives and what the feed requires."""
    pol = policy(rule("mac", ["Mac OSX"], compliance_module_version="4.3.2000.0"))
    (finding,) = audit(pol, catalog, classifier).report.by_check("cp.module-too-old")
    assert finding.data["got"] == "4.3.2000.0"
    assert finding.data["minimum"] == "4.3.2600.0"
    assert "requires at least 4.3.2600.0 for Mac OSX 26" in finding.message


def test_rule_after_a_conditional_one_is_not_shadowed(
    catalog: OsCatalog, classifier: TableClassifier
) -> None:
    """Conditional rules never shadow: evaluation goes on when their conditions fail."""
    pol = policy(rule("c", ["Mac OSX"], conditions=["x"]), rule("mac", ["Mac OSX"]))
    assert "cp.shadowed" not in _checks(pol, catalog, classifier)


def test_any_group_rule_is_not_shadowed_by_named_groups(
    catalog: OsCatalog, classifier: TableClassifier
) -> None:
    """An Any rule after group rules still catches groups no rule names: not shadowed."""
    pol = policy(rule("staff", ["Mac OSX"], ["Staff"]), rule("rest", ["Mac OSX"]))
    assert "cp.shadowed" not in _checks(pol, catalog, classifier)


def test_inventory_counts_and_unknown_os_rows(
    catalog: OsCatalog, classifier: TableClassifier
) -> None:
    """Inventory OS strings map to rows; unknown ones get a row and cp.os-unknown with counts."""
    counts = InventoryCounts(
        "inv.csv",
        {
            ("mac26", "Staff"): 5,
            ("mac27", "Staff"): 3,
            ("mac27", "Guests"): 2,
            ("win11", "Guests"): 1,
        },
        rows=11,
    )
    coverage = audit(COMPLETE, catalog, classifier, inventory=counts)
    assert coverage.groups == ("Staff", "Guests")
    assert coverage.cell("Mac OSX 26", "Staff").endpoints == 5
    assert coverage.cell("mac27", "Guests").decision.outcome is Outcome.OS_UNKNOWN
    (unknown,) = coverage.report.by_check("cp.os-unknown")
    assert unknown.data["endpoints"] == 5
    assert unknown.data["groups"] == ["Staff", "Guests"]
    assert unknown.data["os_strings"] == ["mac27"]
    (uncovered,) = [f for f in coverage.report.by_check("cp.uncovered") if "Windows" in f.subject]
    assert uncovered.data["groups"] == ["Guests"]
    assert uncovered.data["endpoints"] == 1
    assert coverage.report.facts["endpoints"] == 11
    assert coverage.report.exit_code() == 1


def test_alike_rows_merge_into_one_finding(catalog: OsCatalog, classifier: TableClassifier) -> None:
    """The same gap on several OS rows is one finding listing the rows."""
    pol = policy(rule("win", ["Windows All"]))
    (finding,) = audit(pol, catalog, classifier).report.by_check("cp.uncovered")
    assert finding.subject == "Mac OSX 15, Mac OSX 26"
    assert finding.data["os"] == ["Mac OSX 15", "Mac OSX 26"]


def test_no_groups_named_gives_one_any_column(
    catalog: OsCatalog, classifier: TableClassifier
) -> None:
    """With only Any rules and no inventory, the matrix has a single "any group" column."""
    coverage = audit(policy(rule("all", ["Mac OSX", "Windows All"])), catalog, classifier)
    assert coverage.groups == (None,)
    assert coverage.report.findings == ()


def test_extra_groups_are_evaluated(catalog: OsCatalog, classifier: TableClassifier) -> None:
    """--group adds a column; a group no rule names is uncovered by group-only rules."""
    coverage = audit(COMPLETE, catalog, classifier, extra_groups=["Contractors"])
    assert coverage.groups == ("Staff", "Contractors")
    assert coverage.report.by_check("cp.uncovered")[0].severity is Severity.FAIL


def test_minimums_take_the_deepest_value(catalog: OsCatalog) -> None:
    """Minimum versions come from the deepest node of the chain that sets them."""
    mins = minimums(catalog, node_chain(catalog, "Mac OSX 26"))
    assert mins is not None
    assert (str(mins.agent), mins.agent_from) == ("5.1.10", "Mac OSX 26")
    assert minimums(catalog, ()) is None
    assert node_chain(catalog, "Mac OSX 15") == ("Mac OSX 15", "Mac OSX")


def test_explain_reports_result_problems(catalog: OsCatalog, classifier: TableClassifier) -> None:
    """explain() evaluates one case and lists its result's problems."""
    pol = policy(rule("mac", ["Mac OSX"], agent_version="5.0.0"))
    decision, findings = explain(pol, catalog, classifier, "mac26", "Staff")
    assert decision.matched is not None
    assert [f.check for f in findings] == ["cp.agent-too-old"]


def _configured(*rules: dict[str, Any], **configurations: dict[str, Any]) -> Policy:
    """A policy whose rules name agent configurations defined once, as ISE models it."""
    document = {
        "format": "feedmgr-cp-policy/1",
        "agent_configurations": [{"name": n, **c} for n, c in configurations.items()],
        "rules": list(rules),
    }
    return parse_policy(json.dumps(document).encode(), "test policy", as_json=True)


def _named(name: str, oses: list[str], configuration: str, **extra: Any) -> dict[str, Any]:
    results: dict[str, Any] = {"agent_configuration": configuration, **extra}
    return {"name": name, "identity_groups": "Any", "operating_systems": oses, "results": results}


CURRENT_MAC = {
    "agent_package": "CiscoSecureClientDesktopMacOSX 5.1.10.233",
    "compliance_module": "CiscoSecureClientComplianceModulemacOS 4.3.4200.0",
    "posture_profile": "Posture profile",
    "modules": ["ISE Posture"],
}
CURRENT_WIN = {
    **CURRENT_MAC,
    "agent_package": "CiscoSecureClientDesktopWindows 5.1.10.233",
    "compliance_module": "CiscoSecureClientComplianceModuleWindows 4.3.4300.0",
}


def test_policy_copied_from_ises_screens_is_clean(
    catalog: OsCatalog, classifier: TableClassifier
) -> None:
    """Rules whose result only names a defined agent configuration get an agent: no
    cp.no-agent on any OS (the table of ISE's CP policy shows only that name)."""
    pol = _configured(
        _named("mac", ["Mac OSX"], "Mac"),
        _named("win", ["Windows All"], "Win"),
        Mac=CURRENT_MAC,
        Win=CURRENT_WIN,
    )
    assert audit(pol, catalog, classifier).report.findings == ()


@pytest.mark.parametrize(
    ("configuration", "check", "says"),
    [
        (
            {**CURRENT_MAC, "agent_package": "CiscoSecureClientDesktopMacOSX 5.1.5.65"},
            "cp.agent-too-old",
            "gives agent 5.1.5.65, the feed requires at least 5.1.10 for Mac OSX 26",
        ),
        (
            {**CURRENT_MAC, "compliance_module_version": "4.3.2000.0"},
            "cp.module-too-old",
            "gives compliance module 4.3.2000.0, the feed requires at least 4.3.2600.0",
        ),
        (
            {**CURRENT_MAC, "modules": ["Network Access Manager"]},
            "cp.no-agent",
            "leave out ISE Posture",
        ),
    ],
)
def test_version_and_agent_checks_read_the_named_configuration(
    catalog: OsCatalog,
    classifier: TableClassifier,
    configuration: dict[str, Any],
    check: str,
    says: str,
) -> None:
    """cp.agent-too-old, cp.module-too-old and cp.no-agent judge the agent configuration
    the rule names, not fields written in the rule."""
    pol = _configured(
        _named("mac", ["Mac OSX"], "Mac"),
        _named("win", ["Windows All"], "Win"),
        Mac=configuration,
        Win=CURRENT_WIN,
    )
    findings = audit(pol, catalog, classifier).report.by_check(check)
    assert findings
    assert says in findings[0].message


def test_native_supplicant_configuration_alone_is_no_agent(
    catalog: OsCatalog, classifier: TableClassifier
) -> None:
    """A result with only a native supplicant configuration installs no posture agent."""
    pol = _configured(
        _named("mac", ["Mac OSX"], "Mac"),
        {
            "name": "win",
            "identity_groups": "Any",
            "operating_systems": ["Windows All"],
            "results": {"native_supplicant_configuration": "Windows WPA2"},
        },
        Mac=CURRENT_MAC,
    )
    (finding,) = audit(pol, catalog, classifier).report.by_check("cp.no-agent")
    assert finding.subject == "Windows 11 (All)"
    assert "native supplicant configuration 'Windows WPA2'" in finding.message


def test_too_old_shared_configuration_names_every_rule_a_fix_reaches(
    catalog: OsCatalog, classifier: TableClassifier
) -> None:
    """Upgrading a shared agent configuration changes every rule naming it, so the
    finding says which other rules (and OSes) the fix reaches."""
    old_mac = {**CURRENT_MAC, "agent_package": "CiscoSecureClientDesktopMacOSX 5.1.5.65"}
    pol = _configured(
        _named("tahoe", ["Mac OSX 26"], "Old"),
        _named("sequoia", ["Mac OSX 15"], "Old"),
        _named("win", ["Windows All"], "Win"),
        Old=old_mac,
        Win=CURRENT_WIN,
    )
    (finding,) = audit(pol, catalog, classifier).report.by_check("cp.agent-too-old")
    assert "'Old' is also the result of rule 2 'sequoia'" in finding.message


PER_VERSION_THEN_UMBRELLA = [
    rule("sequoia", ["Mac OSX 15"]),
    rule("tahoe", ["Mac OSX 26"]),
    rule("later macOS", ["Mac OSX"]),
    rule("win", ["Windows All"]),
]


def _next_feed(catalog: OsCatalog) -> OsCatalog:
    """The catalog a later feed brings: macOS 27 added as a new child of "Mac OSX"."""
    nodes = [n.model_dump(exclude_none=True) for n in catalog.nodes]
    return make_catalog(*nodes, mac_node(27, "27.0"))


def test_umbrella_rule_after_per_version_rules_is_never_advised_away(
    catalog: OsCatalog, classifier: TableClassifier
) -> None:
    """A rule on "Mac OSX" after rules for every known macOS is cp.future-only (info),
    not cp.shadowed, and its advice is to keep it, never to delete it."""
    report = audit(policy(*PER_VERSION_THEN_UMBRELLA), catalog, classifier).report
    assert report.by_check("cp.shadowed") == ()
    (finding,) = report.by_check("cp.future-only")
    assert finding.severity is Severity.INFO
    assert finding.subject == "rule 3 'later macOS'"
    assert finding.data["umbrellas"] == ["Mac OSX"]
    assert "delete" not in finding.fix
    assert "keep it" in finding.fix
    assert report.exit_code() == 0


def test_keeping_the_umbrella_rule_covers_the_next_macos(
    catalog: OsCatalog, classifier: TableClassifier
) -> None:
    """Once the next feed adds macOS 27, the kept umbrella rule gives it an agent; the
    policy without it (what "delete it" used to advise) leaves macOS 27 bypassing posture."""
    later = _next_feed(catalog)
    later_classifier = TableClassifier({**classifier.table, "mac27": ("Mac OSX 27", "Mac OSX")})
    kept = audit(policy(*PER_VERSION_THEN_UMBRELLA), later, later_classifier)
    assert kept.cell("Mac OSX 27", None).decision.matched is not None
    assert kept.cell("Mac OSX 27", None).decision.matched.name == "later macOS"
    deleted = [r for r in PER_VERSION_THEN_UMBRELLA if r["name"] != "later macOS"]
    gone = audit(policy(*deleted), later, later_classifier)
    assert gone.cell("Mac OSX 27", None).decision.outcome is Outcome.UNCOVERED
    assert [f.subject for f in gone.report.by_check("cp.uncovered")] == ["Mac OSX 27"]


def test_next_release_rows_show_what_a_later_feed_release_would_get(
    catalog: OsCatalog, classifier: TableClassifier
) -> None:
    """The matrix has one next-release row per umbrella node, decided by the rules on
    that umbrella (or a gap), and such a row is never a finding by itself."""
    coverage = audit(
        policy(rule("tahoe", ["Mac OSX 26"]), rule("w", ["Windows All"])), catalog, classifier
    )
    mac_next = coverage.cell("Mac OSX: next release", None).decision
    win_next = coverage.cell("Windows All: next release", None).decision
    assert mac_next.outcome is Outcome.UNCOVERED
    assert win_next.matched is not None
    assert win_next.matched.name == "w"
    subjects = " ".join(f.subject for f in coverage.report.findings)
    assert "next release" not in subjects


def test_version_rule_after_the_umbrella_stays_shadowed(
    catalog: OsCatalog, classifier: TableClassifier
) -> None:
    """A version rule after the umbrella rule is truly dead (a later feed's releases go
    to the umbrella too): cp.shadowed, whose advice never says to narrow the umbrella."""
    pol = policy(
        rule("mac", ["Mac OSX"]), rule("tahoe", ["Mac OSX 26"]), rule("w", ["Windows All"])
    )
    (finding,) = audit(pol, catalog, classifier).report.by_check("cp.shadowed")
    assert "do not narrow an umbrella rule" in finding.fix


def test_uncovered_advice_names_the_umbrella_so_the_next_release_is_covered(
    catalog: OsCatalog, classifier: TableClassifier
) -> None:
    """The fix for an uncovered Windows row names "Windows All"; following it covers
    the release the next feed adds too, which a rule on the version node would not."""
    pol = policy(rule("mac", ["Mac OSX"]))
    (finding,) = audit(pol, catalog, classifier).report.by_check("cp.uncovered")
    assert "'Windows All'" in finding.fix
    followed = audit(
        policy(rule("mac", ["Mac OSX"]), rule("w", ["Windows All"])), catalog, classifier
    )
    assert followed.cell("Windows All: next release", None).decision.outcome is Outcome.MATCHED
    on_version = audit(
        policy(rule("mac", ["Mac OSX"]), rule("w", ["Windows 11 (All)"])), catalog, classifier
    )
    assert on_version.cell("Windows All: next release", None).decision.outcome is Outcome.UNCOVERED


def test_enabling_advice_says_which_cases_the_rule_would_take_over(
    catalog: OsCatalog, classifier: TableClassifier
) -> None:
    """When enabling a disabled rule would also take cases another rule decides today,
    the cp.disabled-only fix says so and offers a rule that changes nothing else."""
    pol = policy(
        rule("old win", ["Windows 11 (All)"], enabled=False, agent_version="5.0.0.0"),
        rule("mac", ["Mac OSX"]),
        rule("staff win", ["Windows All"], ["Staff"]),
    )
    (finding,) = audit(pol, catalog, classifier, extra_groups=["Guests"]).report.by_check(
        "cp.disabled-only"
    )
    assert "also takes Windows 11 (All) (Staff) from rule 3 'staff win'" in finding.fix
    assert "'Windows All'" in finding.fix


def test_devices_no_agent_runs_on_are_counted_apart(catalog: OsCatalog) -> None:
    """iOS, Android, Chrome OS, printers and phones are one info finding per kind with
    counts per OS string, never cp.os-unknown, and fail nothing."""
    counts = InventoryCounts(
        "inv.csv",
        {
            ("macOS 26.1", "Staff"): 3,
            ("iOS 17.5.1", "Staff"): 4,
            ("iPadOS 18.2", "Staff"): 1,
            ("Android 14", "Guests"): 2,
            ("Chrome OS 126.0", "Staff"): 1,
            ("HP-Printer", "Printers"): 5,
        },
        rows=16,
    )
    pol = policy(rule("mac", ["Mac OSX"]), rule("win", ["Windows All"]))
    coverage = audit(pol, catalog, FeedClassifier(catalog), inventory=counts)
    report = coverage.report
    assert report.by_check("cp.os-unknown") == ()
    assert report.exit_code() == 0
    found = {f.subject: f for f in report.by_check("cp.not-posture-capable")}
    assert set(found) == {
        "iOS/iPadOS (no posture agent)",
        "Android (no posture agent)",
        "Chrome OS (no posture agent)",
        "printer/phone (no posture agent)",
    }
    ios = found["iOS/iPadOS (no posture agent)"]
    assert ios.severity is Severity.INFO
    assert ios.data["endpoints_by_os_string"] == {"iOS 17.5.1": 4, "iPadOS 18.2": 1}
    assert ios.data["endpoints"] == 5
    assert "feed" not in ios.fix.replace("feed update", "")
    cell = coverage.cell("printer/phone (no posture agent)", "Printers")
    assert cell.decision.outcome is Outcome.NOT_POSTURE_CAPABLE
    assert cell.endpoints == 5


def test_endpoints_with_no_os_recorded_are_a_cannot_tell_warning(catalog: OsCatalog) -> None:
    """A blank OS cell is its own verdict: PostureOS stays empty until the agent reports,
    so a PC or Mac that hit a CP gap looks exactly like that. Those endpoints are neither
    covered, nor a gap, nor devices no agent runs on: one cp.os-blank warning says the
    audit cannot tell, lists them with --examples, and advises what tells them apart."""
    counts = InventoryCounts(
        "inv.csv",
        {
            ("macOS 26.1", "Staff"): 3,
            ("Android 14", "Staff"): 2,
            ("", "Staff"): 6,
            ("   ", "Guests"): 1,
        },
        rows=12,
        columns={"os": "PostureOS", "group": "IdentityGroup"},
        examples={("", "Staff"): ("AA:BB:CC:00:00:09",), ("   ", "Guests"): ("printer-2f",)},
    )
    pol = policy(rule("mac", ["Mac OSX"]), rule("win", ["Windows All"]))
    coverage = audit(pol, catalog, FeedClassifier(catalog), inventory=counts, examples=5)
    report = coverage.report
    (blank,) = report.by_check("cp.os-blank")
    assert blank.severity is Severity.WARN
    assert blank.subject == "(no OS recorded)"
    assert blank.data["endpoints"] == 7
    assert blank.data["endpoints_by_group"] == {"Staff": 6, "Guests": 1}
    assert blank.data["examples"] == ["AA:BB:CC:00:00:09", "printer-2f"]
    assert "cannot tell" in blank.message
    assert "PostureOS" in blank.message
    assert "AA:BB:CC:00:00:09" in blank.message
    # The advice names what tells them apart; it no longer swaps the OS column of every row.
    assert "EndPointPolicy" in blank.fix
    assert "--examples" in blank.fix
    assert "provisioning match" in blank.fix
    assert "--os-column EndpointOperatingSystem" not in blank.fix
    # Only the Android phones are devices no agent runs on.
    (agentless,) = report.by_check("cp.not-posture-capable")
    assert agentless.data["endpoints"] == 2
    row = next(r for r in coverage.rows if r.label == "(no OS recorded)")
    assert row.kind is RowKind.OS_BLANK
    cell = coverage.cell("(no OS recorded)", "Staff")
    assert cell.decision.outcome is Outcome.OS_BLANK
    assert cell.endpoints == 6
    # Neither a gap nor covered: no fail finding counts them.
    assert report.exit_code() == 0
    assert all("(no OS recorded)" not in f.subject for f in report.findings if f is not blank)


def test_blank_os_cell_names_the_mapped_column(catalog: OsCatalog) -> None:
    """With a generic inventory the message names the file's own OS column, not PostureOS."""
    counts = InventoryCounts(
        "inv.csv", {("", "Staff"): 1}, rows=1, columns={"os": "os", "group": "group"}
    )
    pol = policy(rule("mac", ["Mac OSX"]))
    (blank,) = audit(pol, catalog, FeedClassifier(catalog), inventory=counts).report.by_check(
        "cp.os-blank"
    )
    assert "'os'" in blank.message
    assert "PostureOS" not in blank.message


def test_match_explains_an_agentless_device_without_failing(catalog: OsCatalog) -> None:
    """Explaining an Android phone says the agent does not run on it: an info, no gap."""
    pol = policy(rule("mac", ["Mac OSX"]))
    decision, findings = explain(pol, catalog, FeedClassifier(catalog), "Android 14", "Staff")
    assert decision.outcome is Outcome.NOT_POSTURE_CAPABLE
    assert [f.check for f in findings] == ["cp.not-posture-capable"]
    assert findings[0].severity is Severity.INFO


def test_conditional_advice_adds_the_fallback_rule_on_the_umbrella(
    catalog: OsCatalog, classifier: TableClassifier
) -> None:
    """The cp.conditional fix asks for the unconditional fallback on the umbrella node, so
    endpoints failing the conditions on the next release still get an agent."""
    pol = policy(rule("mac", ["Mac OSX"]), rule("win", ["Windows All"], conditions=["c"]))
    (finding,) = audit(pol, catalog, classifier).report.by_check("cp.conditional")
    assert "on 'Windows All' after the conditional ones" in finding.fix


@pytest.mark.parametrize(
    ("rules", "warns"),
    [
        ([rule("tahoe", ["Mac OSX 26"]), rule("w", ["Windows All"])], True),
        ([rule("mac", ["Mac OSX"]), rule("w", ["Windows All"])], False),
    ],
)
def test_feed_update_advice_says_when_the_update_alone_leaves_a_gap(
    catalog: OsCatalog, rules: list[dict[str, Any]], warns: bool
) -> None:
    """For a macOS release the feed does not know, "update the feed" also asks for a rule
    on "Mac OSX" when no rule there would take the release once the feed adds it: the
    update alone would only turn cp.os-unknown into cp.uncovered."""
    counts = InventoryCounts("i.csv", {("macOS 27.0", "Staff"): 2}, rows=2)
    pol = policy(*rules)
    coverage = audit(pol, catalog, FeedClassifier(catalog), inventory=counts)
    (finding,) = coverage.report.by_check("cp.os-unknown")
    assert ("add a rule for these groups on 'Mac OSX'" in finding.fix) is warns
    _decision, explained = explain(pol, catalog, FeedClassifier(catalog), "macOS 27.0", "Staff")
    assert ("on 'Mac OSX'" in explained[0].fix) is warns


def _raise_max(catalog: OsCatalog, node: str, high: str) -> OsCatalog:
    """The catalog a later feed ships: ``node``'s max_version raised to ``high``."""
    nodes = [
        {**n.model_dump(mode="json", exclude_none=True), "max_version": high}
        if n.name == node
        else n.model_dump(mode="json", exclude_none=True)
        for n in catalog.nodes
    ]
    return make_catalog(*nodes)


@pytest.mark.parametrize(
    ("rules", "case", "after"),
    [
        (
            [rule("w11", ["Windows 11 (All)"], ["Contractors"]), rule("w", ["Windows All"])],
            ("Windows 11 Pro 10.0.28000", "Contractors"),
            ("Windows 11 (All)", "10.0.28000", "rule 1 'w11'"),
        ),
        (
            [rule("tahoe", ["Mac OSX 26"]), rule("sequoia", ["Mac OSX 15"])],
            ("macOS Sequoia 15.7.3", "Staff"),
            ("Mac OSX 15", "15.7.3", "rule 2 'sequoia'"),
        ),
    ],
)
def test_point_release_advice_names_the_rule_that_takes_it_after_the_update(
    catalog: OsCatalog,
    rules: list[dict[str, Any]],
    case: tuple[str, str],
    after: tuple[str, str, str],
) -> None:
    """A point release the feed does not know yet lands, after the update, on the node of
    its line, where an existing rule takes it: the advice says so and asks for no new
    umbrella rule, and the updated catalog indeed matches that rule."""
    (os_string, group), (node, high, taker) = case, after
    pol = policy(*rules)
    _decision, (finding,) = explain(pol, catalog, FeedClassifier(catalog), os_string, group)
    assert finding.check == "cp.os-unknown"
    assert "add a rule" not in finding.fix
    assert f"adds this release to {node!r}, where {taker} takes these groups" in finding.fix
    later = _raise_max(catalog, node, high)
    decision, problems = explain(pol, later, FeedClassifier(later), os_string, group)
    assert decision.outcome is Outcome.MATCHED
    assert decision.matched is not None
    assert decision.matched.title == taker
    assert problems == []


def test_new_major_advice_puts_the_umbrella_rule_after_per_version_rules(
    catalog: OsCatalog,
) -> None:
    """A new major the feed will add as a new node that no rule takes: the advice asks for
    a rule on the umbrella after any per-version rules (as cp.uncovered does), so it does
    not shadow them."""
    pol = policy(rule("tahoe", ["Mac OSX 26"]), rule("sequoia", ["Mac OSX 15"]))
    _decision, (finding,) = explain(pol, catalog, FeedClassifier(catalog), "macOS 27.0", "Staff")
    assert "add a rule for these groups on 'Mac OSX' after any per-version rules" in finding.fix
    assert "as a new node under 'Mac OSX'" in finding.fix


@pytest.mark.parametrize(
    ("os_string", "cause"),
    [
        ("macOS 10.15.7", "older"),
        ("Windows Server 2022 Datacenter", "not-classifiable"),
        ("HP LaserJet", "unparseable"),
        ("Linux 6.8.0", "unparseable"),
    ],
)
def test_os_no_feed_update_adds_is_not_told_to_update_the_feed(
    sample_catalog: OsCatalog, os_string: str, cause: str
) -> None:
    """An OS older than the feed's oldest node, a Windows Server or an unreadable OS string
    is not lag: the cp.os-unknown fix says a feed update will not change it and what to do
    instead, never "update the posture feed"."""
    counts = InventoryCounts("i.csv", {(os_string, "Staff"): 1}, rows=1)
    pol = policy(rule("mac", ["Mac OSX"]), rule("win", ["Windows All"]))
    coverage = audit(pol, sample_catalog, FeedClassifier(sample_catalog), inventory=counts)
    (finding,) = coverage.report.by_check("cp.os-unknown")
    assert finding.data["cause"] == cause
    assert "a feed update will not change this" in finding.fix
    assert "update the posture feed" not in finding.fix
    assert "os lag" not in finding.fix or cause == "older"


@pytest.mark.parametrize(
    ("name", "family"),
    [
        ("CiscoSecureClientDesktopWindows 5.1.10.233", "windows"),
        ("CiscoSecureClientDesktopMacOSX 5.1.10.233", "macos"),
        ("CiscoSecureClientDesktopLinux64 5.1.10.233", "linux"),
        ("CiscoSecureClientComplianceModulemacOS 4.3.4200.0", "macos"),
        ("CiscoSecureClientComplianceModuleWindows 4.3.4300.0", "windows"),
        ("AnyConnectComplianceModuleOSX 4.3.2000.0", "macos"),
        ("AnyConnectComplianceModuleDarwin 4.3.2000.0", None),
        ("CiscoSecureClient 5.1.10.233", None),
    ],
)
def test_package_platform_is_read_from_cisco_package_names(name: str, family: str | None) -> None:
    """Cisco's package names say their platform; a name without one says nothing."""
    found = package_platform(name)
    assert (found[0] if found else None) == family


@pytest.mark.parametrize(
    ("results", "package"),
    [
        (
            {"agent_package": "CiscoSecureClientDesktopWindows 5.1.10.233"},
            "CiscoSecureClientDesktopWindows 5.1.10.233",
        ),
        (
            {
                "agent_package": "CiscoSecureClientDesktopMacOSX 5.1.10.233",
                "compliance_module": "CiscoSecureClientComplianceModuleWindows 4.3.100.0",
            },
            "CiscoSecureClientComplianceModuleWindows 4.3.100.0",
        ),
    ],
)
def test_agent_configuration_for_another_platform_fails_instead_of_comparing_versions(
    catalog: OsCatalog, results: dict[str, str], package: str
) -> None:
    """A Windows agent or compliance module on a Mac OSX rule is a fail naming the rule, the
    OS and the package's platform (ISE offers only agents of the endpoint's OS); its
    versions are not compared with the macOS minimums."""
    document = {
        "format": "feedmgr-cp-policy/1",
        "agent_configurations": [
            {"name": "AC", "posture_profile": "P", "compliance_module": "x 4.3.100.0", **results}
        ],
        "rules": [
            {
                "name": "mac",
                "identity_groups": "Any",
                "operating_systems": ["Mac OSX"],
                "results": {"agent_configuration": "AC"},
            }
        ],
    }
    pol = parse_policy(json.dumps(document).encode(), "p.json", as_json=True)
    report = audit(pol, catalog, FeedClassifier(catalog)).report
    (finding,) = report.by_check("cp.wrong-platform")
    assert finding.severity is Severity.FAIL
    assert "rule 1 'mac'" in finding.message
    assert f"{package!r}, built for Windows, to macOS endpoints" in finding.message
    assert finding.data["package_platform"] == "windows"
    assert report.by_check("cp.module-too-old") == ()
