"""``feedmgr releases import|list`` end to end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, RunCli


def sofa_document(*releases: tuple[str, str, str]) -> dict[str, Any]:
    """A minimal SOFA v2-style macOS feed: (ProductVersion, Build, ReleaseDate) entries."""
    entries = [
        {
            "UpdateName": f"macOS Tahoe {v}",
            "ProductName": "macOS",
            "ProductVersion": v,
            "Build": b,
            "ReleaseDate": f"{d}T00:00:00Z",
            "CVEs": {},
        }
        for v, b, d in releases
    ]
    return {
        "Version": "2.0",
        "LastCheck": "2026-03-10T08:00:00+00:00",
        "OSVersions": [
            {"OSVersion": "macOS 26", "Latest": entries[0], "SecurityReleases": entries}
        ],
    }


def test_import_sofa_then_list(run_cli: RunCli, tmp_path: Path) -> None:
    """A SOFA import is stored in the home and merged into 'releases list'."""
    sofa = tmp_path / "macos_data_feed.json"
    sofa.write_text(json.dumps(sofa_document(("26.3.1", "25D99", "2026-03-05"))))
    imported = run_cli("releases", "import", "--sofa", sofa, "--format", "json")
    assert imported.code == 0, imported.err
    assert imported.json()["imported"] == 1
    assert imported.json()["as_of"] == "2026-03-10"
    listed = run_cli("releases", "list", "--family", "macos", "--format", "json").json()
    versions = [r["version"] for r in listed["releases"]]
    assert "26.3.1" in versions
    assert "26.2" in versions  # the shipped snapshot is still there
    assert listed["as_of"] == "2026-08-22"  # the newer of the import and the snapshot


def test_imported_sofa_release_drives_lag(
    run_cli: RunCli, tmp_path: Path, sample_feed: Path
) -> None:
    """After a SOFA import, os lag reports its releases the feed cannot classify."""
    del sample_feed
    sofa = tmp_path / "macos_data_feed.json"
    sofa.write_text(json.dumps(sofa_document(("26.3.1", "25D99", "2026-03-05"))))
    assert run_cli("releases", "import", "--sofa", sofa).code == 0
    result = run_cli("os", "lag", "--no-shipped", "--as-of", "2026-03-10", "--format", "json")
    subjects = [f["subject"] for f in result.json()["findings"] if f["check"] == "feed.os-lag"]
    assert subjects == ["macOS Tahoe 26.3.1 (25D99)"]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("not json", "not a SOFA macOS feed"),
        ('{"OSVersions": "x"}', "OSVersions"),
        ('{"OSVersions": [{"OSVersion": "macOS 26", "SecurityReleases": []}]}', "names macOS"),
        (
            '{"OSVersions": [{"OSVersion": "x", "SecurityReleases": [{"UpdateName": "macOS 26",'
            ' "ProductVersion": "banana", "ReleaseDate": "2026-01-01"}]}]}',
            "OSVersions[0]",
        ),
    ],
)
def test_import_bad_sofa_is_rejected(
    run_cli: RunCli, tmp_path: Path, content: str, problem: str
) -> None:
    """A broken SOFA file exits 3 with one error line naming the file and the problem."""
    sofa = tmp_path / "bad.json"
    sofa.write_text(content)
    result = run_cli("releases", "import", "--sofa", sofa)
    assert result.code == 3
    assert str(sofa) in result.err
    assert problem in result.err


def test_import_own_catalog_and_reject_bad_fields(run_cli: RunCli, tmp_path: Path) -> None:
    """--catalog validates our format; a bad field is named in the error."""
    good = tmp_path / "win.json"
    good.write_text(
        json.dumps(
            {
                "format": "feedmgr-os-releases/1",
                "releases": [
                    {"family": "windows", "version": "10.0.26300", "released": "2026-09-30"}
                ],
            }
        )
    )
    imported = run_cli("releases", "import", "--catalog", good)
    assert imported.code == 0
    # One release, and a catalog without as_of: no "1 releases", no "(as of None)".
    assert imported.out.startswith("imported 1 release from ")
    assert "None" not in imported.out
    listed = run_cli("releases", "list", "--family", "windows", "--no-shipped")
    assert "10.0.26300" in listed.out
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "feedmgr-os-releases/1", "releases": [{"family": "beos"}]}')
    result = run_cli("releases", "import", "--catalog", bad)
    assert result.code == 3
    assert "releases.0.family" in result.err


@pytest.mark.parametrize(
    "args",
    [(), ("--sofa", "a.json", "--catalog", "b.json"), ("--sofa", "a.json", "--windows", "b.md")],
    ids=["none", "sofa-and-catalog", "sofa-and-windows"],
)
def test_import_needs_exactly_one_source(run_cli: RunCli, args: tuple[str, ...]) -> None:
    """Giving none or several of --sofa/--windows/--catalog is a usage error."""
    assert run_cli("releases", "import", *args).code == 2


RELEASES = REPO / "tests" / "data" / "releases"


@pytest.mark.parametrize(
    "name",
    [
        "sofa-v1-ios-2024-04-10.json",
        "sofa-v2-ios-2025-09-20.json",
        "sofa-v2-tvos-2026-08-22.json",
        "sofa-v2-watchos-2026-08-22.json",
        "sofa-v2-visionos-2026-08-22.json",
        "sofa-v2-safari-2026-08-22.json",
        "sofa-v1-rss-2024-06-15.xml",
    ],
)
def test_import_of_another_platforms_feed_changes_nothing(
    run_cli: RunCli, tmp_path: Path, name: str
) -> None:
    """A real non-macOS SOFA feed given as --sofa exits 3, one line, the good import stays."""
    good = RELEASES / "sofa-v2-macos-2026-08-22.json"
    assert run_cli("releases", "import", "--sofa", good).code == 0
    stored = tmp_path / "home" / "releases" / "sofa-macos.json"
    before = stored.read_bytes()
    renamed = tmp_path / "macos_data_feed.json"  # the file name must not decide
    renamed.write_bytes((RELEASES / name).read_bytes())
    result = run_cli("releases", "import", "--sofa", renamed)
    assert result.code == 3
    assert result.err.count("\n") == 1
    assert result.err.startswith(f"feedmgr: error: {renamed}: ")
    assert stored.read_bytes() == before


def test_import_skips_undated_entries_and_says_so(run_cli: RunCli) -> None:
    """Spring 2024's feed with one "Preinstalled" date imports; the skipped entry is reported."""
    path = RELEASES / "sofa-v1-macos-2024-04-10.json"
    result = run_cli("releases", "import", "--sofa", path, "--format", "json")
    assert result.code == 0, result.err
    assert [s["version"] for s in result.json()["skipped"]] == ["12.0"]
    assert "Preinstalled" in result.json()["skipped"][0]["reason"]
    text = run_cli("releases", "import", "--sofa", path)
    assert "1 entry skipped" in text.out


def test_rsr_entries_keep_their_own_dates(run_cli: RunCli) -> None:
    """13.4.1, 13.4.1 (a) and 13.4.1 (c) are three releases with the dates SOFA gives them."""
    path = RELEASES / "sofa-v1-macos-2024-04-10.json"
    assert run_cli("releases", "import", "--sofa", path).code == 0
    listed = run_cli("releases", "list", "--family", "macos", "--no-shipped", "--format", "json")
    dates = {r["version"]: r["released"] for r in listed.json()["releases"]}
    assert dates["13.4.1"] == "2023-06-21"
    assert dates["13.4.1 (a)"] == "2023-07-10"
    assert dates["13.4.1 (c)"] == "2023-07-12"


def test_import_windows_page(run_cli: RunCli) -> None:
    """endoflife.date's Windows page imports as Windows releases, 26H1 included."""
    path = RELEASES / "endoflife-windows-2026-05-01.md"
    assert run_cli("releases", "import", "--windows", path).code == 0
    listed = run_cli("releases", "list", "--family", "windows", "--no-shipped")
    assert "Windows 11 26H1 (10.0.28000)" in listed.out


def test_shipped_snapshot_is_the_documented_refresh_of_real_documents(
    run_cli: RunCli, tmp_path: Path
) -> None:
    """feeds/releases/ is byte for byte what scripts/refresh-release-snapshot.sh's commands
    make of the real SOFA feed and endoflife.date page kept in tests/data/releases."""
    shipped = REPO / "feeds" / "releases"
    labels = {
        family: json.loads((shipped / f"{family}.json").read_bytes())["releases"][0]["source"]
        for family in ("macos", "windows")
    }
    sofa = RELEASES / "sofa-v2-macos-2026-08-22.json"
    windows = RELEASES / "endoflife-windows-2026-05-01.md"
    assert run_cli("releases", "import", "--sofa", sofa, "--source", labels["macos"]).code == 0
    assert (
        run_cli("releases", "import", "--windows", windows, "--source", labels["windows"]).code == 0
    )
    out = tmp_path / "out"
    assert run_cli("releases", "export", "--no-shipped", "-o", out).code == 0
    for family in ("macos", "windows"):
        assert (out / f"{family}.json").read_bytes() == (shipped / f"{family}.json").read_bytes()
    script = (REPO / "scripts" / "refresh-release-snapshot.sh").read_text()
    assert "releases export --no-shipped" in script


def test_export_makes_its_folder_but_not_a_missing_parent(run_cli: RunCli, tmp_path: Path) -> None:
    """export -o DIR creates DIR itself, but a DIR whose parent is missing (a typo, an
    unmounted disk) is a usage error naming the parent, and nothing is created."""
    made = tmp_path / "catalogs"
    assert run_cli("releases", "export", "-o", made).code == 0
    assert sorted(p.name for p in made.iterdir()) == ["macos.json", "windows.json"]
    missing = tmp_path / "media" / "usb" / "catalogs"
    result = run_cli("releases", "export", "-o", missing)
    assert result.code == 2, result.err
    assert result.err == f"feedmgr: error: {missing.parent}: no such folder for the catalogs\n"
    assert not (tmp_path / "media").exists()


def test_an_older_sofa_import_keeps_the_stored_newer_one(run_cli: RunCli, home: Path) -> None:
    """Importing an older SOFA copy (an old file carried over) keeps the newer stored data
    and says so; --allow-older replaces it on purpose."""
    data = REPO / "tests" / "data" / "releases"
    newer = run_cli("releases", "import", "--sofa", data / "sofa-v2-macos-2026-08-22.json")
    assert newer.code == 0, newer.err
    older = run_cli("releases", "import", "--sofa", data / "sofa-v2-macos-2025-09-20.json")
    assert older.code == 0, older.err
    assert older.out.startswith("kept the stored catalog (as of 2026-08-22): ")
    assert "is older (as of 2025-09-20); --allow-older replaces it" in older.out
    stored = json.loads((home / "releases" / "sofa-macos.json").read_text())
    assert stored["as_of"] == "2026-08-22"
    forced = run_cli(
        "releases", "import", "--sofa", data / "sofa-v2-macos-2025-09-20.json",
        "--allow-older", "--format", "json",
    )  # fmt: skip
    assert forced.code == 0, forced.err
    assert forced.json()["as_of"] == "2025-09-20"
    stored = json.loads((home / "releases" / "sofa-macos.json").read_text())
    assert stored["as_of"] == "2025-09-20"
