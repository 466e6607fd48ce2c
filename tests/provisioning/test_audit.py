"""The coverage audit: every OS row x group through the engine, each gap as its finding."""

from __future__ import annotations

from typing import Any

import pytest

from feedmgr.feed.payload import OsCatalog
from feedmgr.findings import Severity
from feedmgr.provisioning.audit import CHECKS, audit, explain, minimums, node_chain
from feedmgr.provisioning.engine import Outcome
from feedmgr.provisioning.inventory import InventoryCounts
from feedmgr.provisioning.policy import Policy
from tests.provisioning.conftest import TableClassifier, policy, rule

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
    assert [r.label for r in coverage.rows] == ["Mac OSX 15", "Mac OSX 26", "Windows 11 (All)"]
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
    (uncovered,) = coverage.report.by_check("cp.uncovered")
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
