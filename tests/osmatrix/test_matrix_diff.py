"""The supported-OS matrix and feed comparison."""

from __future__ import annotations

from feedmgr.feed.payload import ComplianceModules, OsCatalog
from feedmgr.osmatrix.diff import diff_feeds
from feedmgr.osmatrix.matrix import render_matrix_text, supported_matrix
from tests.osmatrix.conftest import MAC_ROOT, mac, make_catalog


def test_matrix_is_in_tree_order_with_versions_sorted_numerically() -> None:
    """Roots come first, children by minimum version (11 before 9 would be a string sort)."""
    catalog = make_catalog(
        MAC_ROOT,
        mac(26, "26.0", "26.1"),
        mac(11, "11.0", "11.7.10"),
        {"name": "Windows All", "family": "windows"},
        mac(15, "15.0", "15.7.2"),
    )
    names = [row.name for row in supported_matrix(catalog)]
    assert names == ["Mac OSX", "Mac OSX 11", "Mac OSX 15", "Mac OSX 26", "Windows All"]
    rows = supported_matrix(catalog, "macos")
    assert rows[0].range_text == "(11.0 - 26.1 via children)"
    assert rows[1].range_text == "11.0 - 11.7.10"
    text = render_matrix_text(rows, "title")
    assert "  Mac OSX 15" in text


def test_matrix_of_sample_feed_has_every_node(sample_catalog: OsCatalog) -> None:
    """Every catalog node appears exactly once."""
    rows = supported_matrix(sample_catalog)
    assert sorted(r.name for r in rows) == sorted(n.name for n in sample_catalog.nodes)


def test_diff_reports_added_removed_changed_and_modules() -> None:
    """Nodes are matched by name; field changes and module list changes are listed."""
    old = make_catalog(MAC_ROOT, mac(14, "14.0", "14.8"), mac(15, "15.0", "15.6"))
    new = make_catalog(
        MAC_ROOT,
        mac(15, "15.0", "15.7.2", min_compliance_module_version="4.3.3600.0"),
        mac(26, "26.0", "26.1"),
    )
    old_modules = ComplianceModules.model_validate(
        {
            "format": "feedmgr-compliance-modules/1",
            "modules": [{"platform": "macos", "version": "4.3.3000.0"}],
        }
    )
    new_modules = ComplianceModules.model_validate(
        {
            "format": "feedmgr-compliance-modules/1",
            "modules": [{"platform": "macos", "version": "4.3.3600.0"}],
        }
    )
    result = diff_feeds(old, new, old_modules=old_modules, new_modules=new_modules)
    assert [n.name for n in result.added] == ["Mac OSX 26"]
    assert [n.name for n in result.removed] == ["Mac OSX 14"]
    (change,) = result.changed
    assert change.name == "Mac OSX 15"
    assert change.minimums_changed
    assert {(f.field, f.old, f.new) for f in change.changes} == {
        ("max_version", "15.6", "15.7.2"),
        ("min_compliance_module_version", None, "4.3.3600.0"),
    }
    assert [(m.version, m.change) for m in result.modules] == [
        ("4.3.3600.0", "added"),
        ("4.3.3000.0", "removed"),
    ]
    assert not result.empty


def test_diff_of_identical_feeds_is_empty(sample_catalog: OsCatalog) -> None:
    """A feed compared with itself has no differences."""
    result = diff_feeds(sample_catalog, sample_catalog)
    assert result.empty
    assert "no differences" in result.render_text()
    assert result.to_json()["identical"] is True
