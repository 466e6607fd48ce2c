"""The check registry documents every check id the code can report, and docs/checks.md
is generated from it."""

from __future__ import annotations

import re

import pytest

from feedmgr.checks import REGISTRY, by_id, render_markdown
from tests.conftest import REPO, RunCli

CHECK_ID = re.compile(
    r"""["']((?:feed|releases|cp|cert|posture|preflight|ise)\.[a-z0-9]+(?:-[a-z0-9]+)*)["']"""
)
# Strings of the same shape that are not check ids: settings keys and a file name.
NOT_CHECKS = {
    "feed.url",
    "feed.proxy",
    "feed.ca_bundle",
    "feed.max_download_bytes",
    "feed.toml",
}


def _ids_in_code() -> set[str]:
    found: set[str] = set()
    for path in (REPO / "feedmgr").rglob("*.py"):
        if path.name == "checks.py" and path.parent.name == "feedmgr":
            continue
        found.update(CHECK_ID.findall(path.read_text(encoding="utf-8")))
    return found - NOT_CHECKS


def test_every_check_in_the_code_is_documented() -> None:
    """A check id used in feedmgr/ without a registry entry fails this test."""
    missing = _ids_in_code() - set(by_id())
    assert not missing, f"undocumented check ids: {sorted(missing)}"


def test_every_documented_check_exists_in_the_code() -> None:
    """The registry lists no check that the code never reports."""
    stale = set(by_id()) - _ids_in_code()
    assert not stale, f"documented but never reported: {sorted(stale)}"


def test_registry_ids_are_unique_and_complete() -> None:
    """Each entry has one id, a severity, a meaning, a fix and an existing doc page."""
    assert len(by_id()) == len(REGISTRY)
    for spec in REGISTRY:
        assert spec.severity
        assert spec.meaning
        assert spec.fix
        assert (REPO / "docs" / spec.doc).exists(), spec.doc


def test_docs_checks_md_is_generated_from_the_registry() -> None:
    """docs/checks.md is exactly what 'feedmgr checks --format markdown' prints."""
    assert (REPO / "docs" / "checks.md").read_text(encoding="utf-8") == render_markdown()


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
def test_checks_command_lists_every_id(run_cli: RunCli, fmt: str) -> None:
    """Every output format of 'feedmgr checks' names every check."""
    result = run_cli("checks", "--format", fmt)
    assert result.code == 0
    for spec in REGISTRY:
        assert spec.id in result.out
