"""``feedmgr feed diff`` end to end between stored feeds and zips."""

from __future__ import annotations

from typing import Any

import pytest

from tests.cli.feedkit import DEMO_PUB, FeedFactory, drop_node, set_max
from tests.conftest import RunCli


def _older(catalog: dict[str, Any]) -> None:
    drop_node("Mac OSX 26")(catalog)
    set_max("Mac OSX 15", "15.6.1")(catalog)
    for node in catalog["nodes"]:
        if node["name"] == "Mac OSX 14":
            node["min_compliance_module_version"] = "4.3.2900.0"


@pytest.fixture
def two_feeds(make_feed: FeedFactory) -> None:
    """An older feed (no Tahoe, Sequoia up to 15.6.1), then the sample catalog, both stored."""
    make_feed("2026.9.1", edit=_older, published="2026-09-01T00:00:00Z")
    make_feed("2026.10.1")


@pytest.mark.usefixtures("two_feeds")
def test_diff_defaults_to_previous_versus_active(run_cli: RunCli) -> None:
    """Without arguments the stored feed below the active one is compared with it."""
    result = run_cli("feed", "diff")
    assert result.code == 0, result.err
    assert "feed diff 2026.9.1 -> 2026.10.1" in result.out
    assert "+ Mac OSX 26  26.0 - 26.1" in result.out
    assert "max_version: 15.6.1 -> 15.7.2" in result.out
    assert "min_compliance_module_version: 4.3.2900.0 -> 4.3.3000.0  (minimum)" in result.out


@pytest.mark.usefixtures("two_feeds")
def test_diff_json_document(run_cli: RunCli) -> None:
    """The JSON document lists added, removed and changed nodes with field changes."""
    document = run_cli("feed", "diff", "2026.9.1", "2026.10.1", "--format", "json").json()
    assert document["schema"] == "feedmgr-feed-diff/1"
    assert [n["name"] for n in document["nodes_added"]] == ["Mac OSX 26"]
    assert document["nodes_removed"] == []
    changed = {c["name"]: c for c in document["nodes_changed"]}
    assert set(changed) == {"Mac OSX 14", "Mac OSX 15"}
    assert changed["Mac OSX 14"]["minimums_changed"] is True
    assert changed["Mac OSX 15"]["changes"] == [
        {"field": "max_version", "old": "15.6.1", "new": "15.7.2"}
    ]


@pytest.mark.usefixtures("two_feeds")
def test_diff_reversed_shows_removal(run_cli: RunCli) -> None:
    """Comparing new to old reports the Tahoe node as removed."""
    document = run_cli("feed", "diff", "2026.10.1", "2026.9.1", "--format", "json").json()
    assert [n["name"] for n in document["nodes_removed"]] == ["Mac OSX 26"]


@pytest.mark.usefixtures("two_feeds")
@pytest.mark.parametrize(("old", "code"), [("2026.9.1", 1), ("2026.10.1", 0)])
def test_diff_exit_code_flag(run_cli: RunCli, old: str, code: int) -> None:
    """--exit-code exits 1 only when the feeds differ."""
    result = run_cli("feed", "diff", old, "--exit-code")
    assert result.code == code
    if code == 0:
        assert "no differences" in result.out


def test_diff_against_a_zip(run_cli: RunCli, make_feed: FeedFactory) -> None:
    """A zip argument is verified with --trust and compared with the active feed."""
    make_feed("2026.10.1")
    package = make_feed("2026.11.1", edit=set_max("Mac OSX 26", "26.2"), ingest=False)
    result = run_cli("feed", "diff", "2026.10.1", package, "--trust", DEMO_PUB)
    assert result.code == 0, result.err
    assert "max_version: 26.1 -> 26.2" in result.out


@pytest.mark.parametrize("ingested", [0, 1])
def test_diff_without_anything_to_compare_is_a_usage_error(
    run_cli: RunCli, make_feed: FeedFactory, ingested: int
) -> None:
    """No active feed, or no older stored feed, and no OLD given: exit 2 with a hint."""
    if ingested:
        make_feed("2026.10.1")
    result = run_cli("feed", "diff")
    assert result.code == 2
    assert "give" in result.err


@pytest.mark.parametrize(
    "command",
    [
        ("os", "resolve"),
        ("os", "list"),
        ("os", "lag"),
        ("releases", "import"),
        ("releases", "list"),
        ("feed", "diff"),
    ],
)
def test_every_command_help_has_an_example(run_cli: RunCli, command: tuple[str, ...]) -> None:
    """--help of each command shows an example line and the --format option."""
    result = run_cli(*command, "--help", use_home=False)
    assert result.code == 0
    assert "Example: feedmgr " in result.out
    assert "--format" in result.out
