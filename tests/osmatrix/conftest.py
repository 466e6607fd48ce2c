"""Catalogs built in code for the OS-matrix tests."""

from __future__ import annotations

import json
from typing import Any

import pytest

from feedmgr.feed.payload import OsCatalog, load_catalog
from tests.conftest import REPO


def make_catalog(*nodes: dict[str, Any]) -> OsCatalog:
    """An OsCatalog from node dicts (validated exactly as a feed payload is)."""
    document = {"format": "feedmgr-os-catalog/1", "nodes": list(nodes)}
    return load_catalog(json.dumps(document).encode(), "test catalog")


def mac(major: int, low: str, high: str, **extra: Any) -> dict[str, Any]:
    """A "Mac OSX <major>" node under "Mac OSX"."""
    return {
        "name": f"Mac OSX {major}",
        "family": "macos",
        "parent": "Mac OSX",
        "min_version": low,
        "max_version": high,
        **extra,
    }


MAC_ROOT: dict[str, Any] = {"name": "Mac OSX", "family": "macos"}


@pytest.fixture(scope="session")
def sample_catalog() -> OsCatalog:
    """The sample feed's OS catalog (feeds/sample/src/os/catalog.json)."""
    path = REPO / "feeds" / "sample" / "src" / "os" / "catalog.json"
    return load_catalog(path.read_bytes(), str(path))
