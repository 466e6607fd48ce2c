"""Feeds built in code from a copy of the sample source, for end-to-end CLI tests (OS matrix)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import pytest

from tests.conftest import REPO, RunCli

SAMPLE = REPO / "feeds" / "sample"
DEMO_KEY = SAMPLE / "demo-publisher.key.pem"
DEMO_PUB = SAMPLE / "demo-publisher.pub.pem"

CatalogEdit = Callable[[dict[str, Any]], None]


class FeedFactory(Protocol):
    """Builds (and optionally ingests) a feed zip from the sample source."""

    def __call__(
        self,
        version: str,
        *,
        edit: CatalogEdit | None = None,
        published: str = "2026-10-01T00:00:00Z",
        expires: str = "2035-01-01T00:00:00Z",
        ingest: bool = True,
    ) -> Path: ...


def set_max(name: str, max_version: str) -> CatalogEdit:
    """An edit setting one node's max_version."""

    def edit(catalog: dict[str, Any]) -> None:
        for node in catalog["nodes"]:
            if node["name"] == name:
                node["max_version"] = max_version

    return edit


def drop_node(name: str) -> CatalogEdit:
    """An edit removing one node."""

    def edit(catalog: dict[str, Any]) -> None:
        catalog["nodes"] = [n for n in catalog["nodes"] if n["name"] != name]

    return edit


@pytest.fixture
def make_feed(tmp_path: Path, run_cli: RunCli) -> FeedFactory:
    """Build a signed feed from an edited copy of feeds/sample/src; ingest it by default."""

    def build(
        version: str,
        *,
        edit: CatalogEdit | None = None,
        published: str = "2026-10-01T00:00:00Z",
        expires: str = "2035-01-01T00:00:00Z",
        ingest: bool = True,
    ) -> Path:
        src = tmp_path / f"src-{version}"
        shutil.copytree(SAMPLE / "src", src)
        (src / "feed.toml").write_text(
            f'version = "{version}"\npublisher = "test publisher"\n'
            f'published = "{published}"\nexpires = "{expires}"\n'
        )
        catalog_path = src / "os" / "catalog.json"
        catalog = json.loads(catalog_path.read_text())
        if edit is not None:
            edit(catalog)
        catalog_path.write_text(json.dumps(catalog, indent=2))
        package = tmp_path / f"feed-{version}.zip"
        built = run_cli("feed", "build", src, "-o", package, "--key", DEMO_KEY)
        assert built.code == 0, built.err
        if ingest:
            done = run_cli("update", "--offline", package, "--trust", DEMO_PUB)
            assert done.code == 0, done.err
        return package

    return build


@pytest.fixture
def sample_feed(make_feed: FeedFactory) -> Path:
    """The sample feed's catalog, ingested and active."""
    return make_feed("2026.10.1")
