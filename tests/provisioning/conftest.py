"""Policies, catalogs and a table-driven OS classifier built in code for provisioning tests."""

from __future__ import annotations

import json
from typing import Any

import pytest

from feedmgr.feed.payload import OsCatalog, load_catalog
from feedmgr.provisioning.interface import Placement
from feedmgr.provisioning.policy import Policy, parse_policy
from tests.conftest import REPO


class TableClassifier:
    """An OsClassifier from a table: OS string -> chain (deepest first); others unknown."""

    def __init__(self, table: dict[str, tuple[str, ...]]) -> None:
        self.table = table

    def place(self, os_string: str) -> Placement:
        """Look the string up; unknown strings are not classified."""
        chain = self.table.get(os_string, ())
        reason = "" if chain else "the feed does not know this version"
        return Placement(os_string, os_string, chain, reason=reason)


def rule(
    name: str,
    oses: list[str],
    groups: list[str] | str = "Any",
    *,
    enabled: bool = True,
    conditions: list[str] | None = None,
    **results: Any,
) -> dict[str, Any]:
    """A rule document; results default to a complete, current agent configuration."""
    full = {
        "agent_configuration": "Secure Client 5.1.10",
        "agent_package": "CiscoSecureClient 5.1.10.233",
        "agent_version": "5.1.10.233",
        "compliance_module_version": "4.3.4200.0",
        **results,
    }
    document: dict[str, Any] = {
        "name": name,
        "enabled": enabled,
        "identity_groups": groups,
        "operating_systems": oses,
        "results": {k: v for k, v in full.items() if v is not None},
    }
    if conditions:
        document["other_conditions"] = conditions
    return document


def policy(*rules: dict[str, Any]) -> Policy:
    """A Policy from rule documents, parsed exactly as a JSON file is."""
    document = {"format": "feedmgr-cp-policy/1", "rules": list(rules)}
    return parse_policy(json.dumps(document).encode(), "test policy", as_json=True)


def make_catalog(*nodes: dict[str, Any]) -> OsCatalog:
    """An OsCatalog from node dicts."""
    document = {"format": "feedmgr-os-catalog/1", "nodes": list(nodes)}
    return load_catalog(json.dumps(document).encode(), "test catalog")


def mac_node(major: int, high: str, **extra: Any) -> dict[str, Any]:
    """A "Mac OSX <major>" node under "Mac OSX" with module minimum 4.3.<major>00.0."""
    return {
        "name": f"Mac OSX {major}",
        "family": "macos",
        "parent": "Mac OSX",
        "min_version": f"{major}.0",
        "max_version": high,
        "min_agent_version": "5.0.0",
        "min_compliance_module_version": f"4.3.{major}00.0",
        **extra,
    }


@pytest.fixture
def catalog() -> OsCatalog:
    """macOS 15 and 26 under "Mac OSX", Windows 11 under "Windows All"."""
    return make_catalog(
        {"name": "Mac OSX", "family": "macos"},
        mac_node(15, "15.7.2"),
        mac_node(26, "26.1", min_agent_version="5.1.10"),
        {"name": "Windows All", "family": "windows"},
        {
            "name": "Windows 11 (All)",
            "family": "windows",
            "parent": "Windows All",
            "min_version": "10.0.22000",
            "max_version": "10.0.26200",
        },
    )


@pytest.fixture
def classifier() -> TableClassifier:
    """Classifies "mac15", "mac26" and "win11"; everything else is unknown to the feed."""
    return TableClassifier(
        {
            "mac15": ("Mac OSX 15", "Mac OSX"),
            "mac26": ("Mac OSX 26", "Mac OSX"),
            "win11": ("Windows 11 (All)", "Windows All"),
        }
    )


@pytest.fixture(scope="session")
def sample_catalog() -> OsCatalog:
    """The sample feed's OS catalog."""
    path = REPO / "feeds" / "sample" / "src" / "os" / "catalog.json"
    return load_catalog(path.read_bytes(), str(path))
