"""Text and JSON shapes of the coverage matrix and of a match explanation."""

from __future__ import annotations

from feedmgr.feed.payload import OsCatalog
from feedmgr.provisioning.audit import audit, explain
from feedmgr.provisioning.classify import FeedClassifier
from feedmgr.provisioning.inventory import InventoryCounts
from feedmgr.provisioning.render import (
    coverage_json,
    explanation_json,
    render_explanation,
    render_matrix,
)
from tests.provisioning.conftest import TableClassifier, policy, rule

POLICY = policy(
    rule("tahoe", ["Mac OSX 26"], ["Staff"], conditions=["c"]),
    rule("mac", ["Mac OSX"], ["Staff"]),
    rule("win", ["Windows All"], ["Staff"], enabled=False),
)


def test_matrix_shows_rules_and_gaps(catalog: OsCatalog, classifier: TableClassifier) -> None:
    """Each row shows the deciding rule or the gap, per group column."""
    text = render_matrix(audit(POLICY, catalog, classifier))
    lines = text.splitlines()
    assert lines[0].split() == ["OS", "Staff"]
    assert any(line.startswith("Mac OSX 15") and line.endswith("mac") for line in lines)
    assert any("Mac OSX 26" in line and "mac (+cond)" in line for line in lines)
    assert any("Windows 11 (All)" in line and "GAP (disabled rule)" in line for line in lines)


def test_matrix_with_inventory_shows_counts(
    catalog: OsCatalog, classifier: TableClassifier
) -> None:
    """With an inventory every cell carries its endpoint count, unknown OSes get a row."""
    counts = InventoryCounts("i.csv", {("mac15", "Staff"): 7, ("mac30", "Staff"): 2}, rows=9)
    text = render_matrix(audit(POLICY, catalog, classifier, inventory=counts))
    assert "mac [7]" in text
    assert any(line.startswith("mac30") and "UNKNOWN OS [2]" in line for line in text.splitlines())
    assert "[n] endpoints" in text


def test_coverage_json_lists_every_cell(catalog: OsCatalog, classifier: TableClassifier) -> None:
    """The JSON matrix has one cell per row x group with its outcome and rule."""
    document = coverage_json(audit(POLICY, catalog, classifier))
    assert document["groups"] == ["Staff"]
    assert [r["kind"] for r in document["rows"]] == ["node"] * 3 + ["next-release"] * 2
    assert len(document["cells"]) == 5
    first = document["cells"][1]
    assert first == {
        "os": "Mac OSX 26",
        "group": "Staff",
        "outcome": "matched",
        "rule": "mac",
        "conditional_rules": ["tahoe"],
        "problems": [],
    }


def test_explanation_text_and_json(catalog: OsCatalog, classifier: TableClassifier) -> None:
    """The explanation lists each rule with its verdict, the outcome and the result."""
    decision, findings = explain(POLICY, catalog, classifier, "mac26", "Staff")
    text = render_explanation(decision, findings)
    assert "1. tahoe: conditional" in text
    assert "2. mac: match" in text
    assert "outcome: matched" in text
    assert "may get instead (rule 1 'tahoe')" in text
    document = explanation_json(decision, findings)
    assert document["rule"] == "mac"
    assert [s["verdict"] for s in document["steps"]] == ["conditional", "match", "disabled"]
    assert document["os"]["classified_as"] == ["Mac OSX 26", "Mac OSX"]


def test_cells_with_result_problems_are_marked(
    catalog: OsCatalog, classifier: TableClassifier
) -> None:
    """A cell whose rule gives too old a module shows "!" and lists the problem in JSON."""
    old = policy(rule("a rule with a rather long name", ["Mac OSX"], agent_version="5.0.0"))
    coverage = audit(old, catalog, classifier)
    line = next(x for x in render_matrix(coverage).splitlines() if x.startswith("Mac OSX 26"))
    assert line.endswith(" !")
    cells = {c["os"]: c for c in coverage_json(coverage)["cells"]}
    assert cells["Mac OSX 26"]["problems"] == ["cp.agent-too-old"]
    assert cells["Mac OSX 15"]["problems"] == []


def test_matrix_marks_next_release_rows_and_agentless_devices(catalog: OsCatalog) -> None:
    """Text and JSON tell next-release rows and devices no agent runs on from gaps."""
    counts = InventoryCounts(
        "i.csv", {("macOS 26.1", "Staff"): 2, ("Android 14", "Staff"): 3}, rows=5
    )
    coverage = audit(POLICY, catalog, FeedClassifier(catalog), inventory=counts)
    lines = render_matrix(coverage).splitlines()
    assert any(
        line.startswith("Mac OSX: next release") and line.endswith("NEXT mac") for line in lines
    )
    assert any(
        line.startswith("Android (no posture agent)") and "NO POSTURE AGENT [3]" in line
        for line in lines
    )
    document = coverage_json(coverage)
    kinds = {r["os"]: r["kind"] for r in document["rows"]}
    assert kinds["Mac OSX: next release"] == "next-release"
    assert kinds["Android (no posture agent)"] == "not-posture-capable"
    cells = {(c["os"], c["group"]): c for c in document["cells"]}
    assert cells[("Android (no posture agent)", "Staff")]["outcome"] == "not-posture-capable"
    assert "endpoints" not in cells[("Mac OSX: next release", "Staff")]


def test_matrix_shows_endpoints_with_no_os_recorded_as_cannot_tell(catalog: OsCatalog) -> None:
    """Blank OS cells get their own row, "CANNOT TELL" cells and a legend entry saying no
    OS was recorded; the JSON gives them their own row kind and outcome, never
    not-posture-capable (the verdict for iOS, Android and printers)."""
    counts = InventoryCounts(
        "i.csv", {("macOS 26.1", "Staff"): 2, ("", "Staff"): 3, ("iOS 18.1", "Staff"): 1}, rows=6
    )
    coverage = audit(POLICY, catalog, FeedClassifier(catalog), inventory=counts)
    text = render_matrix(coverage)
    assert any(
        line.startswith("(no OS recorded)") and "CANNOT TELL [3]" in line
        for line in text.splitlines()
    )
    assert "NO POSTURE AGENT [3]" not in text
    assert "CANNOT TELL no OS recorded: cannot tell" in " ".join(text.split())
    document = coverage_json(coverage)
    kinds = {r["os"]: r["kind"] for r in document["rows"]}
    assert kinds["(no OS recorded)"] == "os-blank"
    cells = {(c["os"], c["group"]): c for c in document["cells"]}
    assert cells[("(no OS recorded)", "Staff")]["outcome"] == "os-blank"
    assert cells[("(no OS recorded)", "Staff")]["endpoints"] == 3
