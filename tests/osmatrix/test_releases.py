"""Release catalogs: our format, SOFA import, merging, the shipped snapshot."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from feedmgr.errors import SchemaError
from feedmgr.osmatrix.releases import (
    Release,
    ReleaseCatalog,
    load_release_catalogs,
    merge,
    parse_release_catalog,
    save_release_catalog,
    shipped_release_catalog,
)
from feedmgr.osmatrix.version import OsVersion, parse_version
from tests.conftest import REPO

DATA = REPO / "feedmgr" / "osmatrix" / "data"


def test_shipped_snapshot_matches_feeds_releases() -> None:
    """The package data and feeds/releases/ hold the same files, byte for byte."""
    shipped = sorted(p.name for p in DATA.glob("*.json"))
    public = sorted(p.name for p in (REPO / "feeds" / "releases").glob("*.json"))
    assert shipped == public == ["macos.json", "windows.json"]
    for name in shipped:
        assert (DATA / name).read_bytes() == (REPO / "feeds" / "releases" / name).read_bytes()


SOFA_2026 = REPO / "tests" / "data" / "releases" / "sofa-v2-macos-2026-08-22.json"


def test_snapshot_holds_every_latest_release_of_the_real_feed() -> None:
    """Each macOS major's Latest in SOFA's 2026-08-22 feed is in the snapshot, date and build."""
    catalog = shipped_release_catalog()
    shipped = {(r.family, r.version): r for r in catalog.releases}
    for os_version in json.loads(SOFA_2026.read_bytes())["OSVersions"]:
        latest = os_version["Latest"]
        release = shipped[("macos", parse_version(latest["ProductVersion"]))]
        assert release.released == date.fromisoformat(latest["ReleaseDate"][:10])
        assert release.build == latest["Build"]
    assert catalog.as_of == date(2026, 8, 22)


def test_every_shipped_release_names_its_source() -> None:
    """Nothing in the snapshot is invented: every release names the document it came from."""
    for release in shipped_release_catalog().releases:
        assert release.source is not None
        assert "macadmins/sofa" in release.source or "endoflife-date/" in release.source


def test_snapshot_builds_match_their_major() -> None:
    """Every macOS build in the snapshot belongs to its major (Darwin 20-24 -> 11-15, 25 -> 26)."""
    for release in shipped_release_catalog().for_family("macos"):
        if release.build is None:
            continue
        darwin = int(release.build[:2])
        expected = darwin - 9 if darwin <= 24 else darwin + 1
        assert release.version.major == expected, release


def test_own_format_round_trips() -> None:
    """Serialising a catalog and parsing it back gives the same releases."""
    catalog = ReleaseCatalog(
        (Release("macos", OsVersion.of(26, 0, 1, rsr="a"), date(2025, 10, 1), "25A8364"),),
        date(2025, 10, 2),
        "test",
    )
    again = parse_release_catalog(catalog.to_bytes(), "round trip")
    assert again == catalog


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ({"format": "other", "releases": []}, "format"),
        ({"format": "feedmgr-os-releases/1", "releases": [{"family": "macos"}]}, "releases.0"),
        (
            {
                "format": "feedmgr-os-releases/1",
                "releases": [{"family": "macos", "version": "x", "released": "2025-01-01"}],
            },
            "numeric OS version",
        ),
        (
            {
                "format": "feedmgr-os-releases/1",
                "releases": [
                    {"family": "macos", "version": "15", "released": "2025-01-01", "extra": 1}
                ],
            },
            "extra",
        ),
    ],
)
def test_own_format_rejects_invalid_documents(document: object, problem: str) -> None:
    """Invalid catalogs raise SchemaError naming the field."""
    with pytest.raises(SchemaError) as info:
        parse_release_catalog(json.dumps(document).encode(), "bad.json")
    assert problem in info.value.problem


def test_merge_prefers_first_and_fills_gaps() -> None:
    """Merging keeps one entry per version, fills a missing build, keeps the newest as_of."""
    first = ReleaseCatalog((Release("macos", OsVersion.of(15, 6, 1), date(2025, 8, 20)),), None)
    second = ReleaseCatalog(
        (Release("macos", OsVersion.of(15, 6, 1, 0), date(2025, 8, 21), "24G90"),),
        date(2025, 9, 1),
    )
    merged = merge([first, second])
    assert len(merged.releases) == 1
    assert merged.releases[0].build == "24G90"
    assert merged.releases[0].released == date(2025, 8, 20)
    assert merged.as_of == date(2025, 9, 1)


def test_saved_catalogs_load_before_the_snapshot(tmp_path: Path) -> None:
    """Catalogs saved in the home are merged with the snapshot; --no-shipped leaves it out."""
    mine = ReleaseCatalog(
        (Release("windows", OsVersion.of(10, 0, 26300), date(2026, 9, 30)),), date(2026, 10, 1)
    )
    save_release_catalog(tmp_path, "manual-test", mine)
    everything = load_release_catalogs(tmp_path)
    only_mine = load_release_catalogs(tmp_path, include_shipped=False)
    assert len(only_mine.releases) == 1
    assert len(everything.releases) == len(shipped_release_catalog().releases) + 1
    assert everything.as_of == date(2026, 10, 1)
