"""Third-party release documents, read from real files (tests/data/releases/SOURCES).

Expected values are read off the documents themselves (the JSON/YAML, not feedmgr).
"""

from __future__ import annotations

import contextlib
import itertools
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from feedmgr.errors import SchemaError
from feedmgr.osmatrix.parse import parse_os_string
from feedmgr.osmatrix.sources import import_endoflife_windows, import_sofa
from feedmgr.osmatrix.version import parse_version
from tests.conftest import REPO

RELEASES = REPO / "tests" / "data" / "releases"
SOFA_V1_2024 = RELEASES / "sofa-v1-macos-2024-04-10.json"
SOFA_V2_2026 = RELEASES / "sofa-v2-macos-2026-08-22.json"
WINDOWS_PAGE = RELEASES / "endoflife-windows-2026-05-01.md"
MACOS_FEEDS = sorted(RELEASES.glob("sofa-v*-macos-*.json"))
OTHER_FEEDS = sorted(p for p in RELEASES.glob("sofa-*") if "-macos-" not in p.name)


def raw(path: Path) -> Any:
    """The document as plain JSON."""
    return json.loads(path.read_bytes())


def sofa_entries(path: Path) -> list[dict[str, Any]]:
    """Every SecurityReleases entry of a real SOFA feed."""
    return [e for o in raw(path)["OSVersions"] for e in o["SecurityReleases"]]


@pytest.mark.parametrize("path", MACOS_FEEDS, ids=lambda p: p.name)
def test_every_real_macos_feed_imports(path: Path) -> None:
    """v1 and v2 feeds from 2024 to 2026 import: every dated entry becomes a release."""
    result = import_sofa(path.read_bytes(), path.name)
    dated = {
        str(parse_version(e["ProductVersion"]))
        for e in sofa_entries(path)
        if e.get("ReleaseDate", "")[:4].isdigit()
        and "Rapid Security" not in e.get("UpdateName", "")
    }
    imported = {str(r.version) for r in result.catalog.releases}
    reported = {s.version for s in result.skipped}
    assert dated - reported <= imported
    assert not imported & reported
    assert all(r.source and path.name in r.source for r in result.catalog.releases)


@pytest.mark.parametrize("path", OTHER_FEEDS, ids=lambda p: p.name)
def test_non_macos_sofa_documents_are_rejected(path: Path) -> None:
    """SOFA's iOS, tvOS, watchOS, visionOS, Safari and RSS feeds are not macOS: rejected."""
    with pytest.raises(SchemaError) as info:
        import_sofa(path.read_bytes(), path.name)
    assert "macOS" in info.value.problem


def test_ios_feed_is_named_by_its_own_fields() -> None:
    """The rejection quotes the field that says what the document is ("iOS and iPadOS")."""
    path = RELEASES / "sofa-v2-ios-2025-09-20.json"
    product = raw(path)["OSVersions"][0]["SecurityReleases"][0]["ProductName"]
    with pytest.raises(SchemaError) as info:
        import_sofa(path.read_bytes(), "macos_data_feed.json")  # the file name lies
    assert repr(product) in info.value.problem


def test_preinstalled_entry_is_skipped_and_reported() -> None:
    """Spring 2024's "Preinstalled" date skips that entry only; the rest of the feed imports."""
    undated = [e for e in sofa_entries(SOFA_V1_2024) if not e["ReleaseDate"][:4].isdigit()]
    assert [e["ReleaseDate"] for e in undated] == ["Preinstalled"]
    result = import_sofa(SOFA_V1_2024.read_bytes(), SOFA_V1_2024.name)
    assert len(result.skipped) == 1
    assert result.skipped[0].version == str(parse_version(undated[0]["ProductVersion"]))
    assert "Preinstalled" in result.summary()
    assert parse_version(undated[0]["ProductVersion"]) not in {
        r.version for r in result.catalog.releases
    }


def test_dates_contradicting_version_order_are_reported_not_imported() -> None:
    """The 2026 feed dates a dozen 2022-23 releases a year late (12.6 on 2024-06-12, after
    12.6.2): exactly those are skipped, and the 2024 feed has them earlier."""

    def dates(path: Path) -> dict[str, str]:
        return {
            str(parse_version(e["ProductVersion"])): e["ReleaseDate"][:10]
            for e in sofa_entries(path)
            if "Rapid Security" not in e.get("UpdateName", "")
        }

    old, new = dates(SOFA_V1_2024), dates(SOFA_V2_2026)
    result = import_sofa(SOFA_V2_2026.read_bytes(), SOFA_V2_2026.name)
    skipped = {s.version for s in result.skipped if "cannot be right" in s.reason}
    assert skipped
    assert skipped == {v for v in new if v in old and new[v] > old[v]}
    assert "12.6" in skipped


def test_rapid_security_responses_are_their_own_versions() -> None:
    """'Rapid Security Response macOS Ventura 13.4.1 (c)' is 13.4.1 (c) with its own date."""
    catalog = import_sofa(SOFA_V1_2024.read_bytes(), SOFA_V1_2024.name).catalog
    by_version = {str(r.version): r for r in catalog.releases}
    for entry in sofa_entries(SOFA_V1_2024):
        if entry["ProductVersion"] != "13.4.1":
            continue
        name = entry["UpdateName"]
        key = f"13.4.1 {name[-3:]}" if "Rapid Security" in name else "13.4.1"
        assert by_version[key].released == date.fromisoformat(entry["ReleaseDate"][:10])
    assert {"13.4.1", "13.4.1 (a)", "13.4.1 (c)"} <= set(by_version)


def test_rsr_release_matches_what_os_resolve_parses() -> None:
    """An imported RSR and the OS string an endpoint reports for it are the same version."""
    catalog = import_sofa(SOFA_V1_2024.read_bytes(), SOFA_V1_2024.name).catalog
    rsr = next(r for r in catalog.releases if r.version.rsr == "c")
    assert parse_os_string("macOS Ventura 13.4.1 (c)").version == rsr.version


def test_background_security_improvements_keep_their_build_case() -> None:
    """v2's BSIs are 26.3.2 (a) / 26.3.1 (a) with PostingDate and the build as Apple writes it."""
    document = raw(SOFA_V2_2026)["BackgroundSecurityImprovements"]
    catalog = import_sofa(SOFA_V2_2026.read_bytes(), SOFA_V2_2026.name).catalog
    by_version = {str(r.version): r for r in catalog.releases}
    for entries in document.values():
        for entry in entries:
            release = by_version[f"{entry['Version']} {entry['VersionExtra']}"]
            assert release.build == entry["Build"]
            assert release.released == date.fromisoformat(entry["PostingDate"])
    assert by_version["26.3.2 (a)"].build == "25D771400a"


def test_v2_last_check_is_the_catalog_date() -> None:
    """A v2 feed's LastCheck is the date the catalog reflects."""
    catalog = import_sofa(SOFA_V2_2026.read_bytes(), SOFA_V2_2026.name).catalog
    assert catalog.as_of == date.fromisoformat(raw(SOFA_V2_2026)["LastCheck"][:10])


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"[]", "not a JSON object"),
        (b'{"OSVersions": 3}', "OSVersions"),
        (b'{"OSName": "tvOS", "OSVersions": []}', "tvOS"),
        (b'{"OSVersions": [{"Latest": {"ProductVersion": "15.1"}}]}', "names macOS"),
        (
            b'{"OSVersions": [{"SecurityReleases": [{"UpdateName": "macOS 15",'
            b' "ProductVersion": "x", "ReleaseDate": "2025-01-01"}]}]}',
            "ProductVersion",
        ),
        (b"\xff\xfe", "not a JSON document"),
        (b"[" * 100_000, "nested too deeply"),
    ],
)
def test_hostile_sofa_documents_are_rejected(content: bytes, problem: str) -> None:
    """Broken or foreign documents raise SchemaError naming what is wrong."""
    with pytest.raises(SchemaError) as info:
        import_sofa(content, "feed.json")
    assert problem in info.value.problem


def windows_cycles() -> list[dict[str, Any]]:
    """The release cycles of the real endoflife.date Windows page."""
    front = WINDOWS_PAGE.read_text().split("---")[1]
    cycles: list[dict[str, Any]] = yaml.safe_load(front)["releases"]
    return cycles


def test_endoflife_windows_page_gives_one_release_per_build() -> None:
    """Every Windows 10/11 build of the page is one release dated by its general cycle."""
    catalog = import_endoflife_windows(WINDOWS_PAGE.read_bytes(), WINDOWS_PAGE.name).catalog
    by_build = {r.version.parts[2]: r for r in catalog.releases}
    for cycle in windows_cycles():
        latest = str(cycle["latest"])
        if not latest.startswith("10.0."):
            continue
        build = int(latest.split(".")[2])
        assert build in by_build
        if "iot" not in cycle["releaseCycle"] and "lts" not in cycle["releaseCycle"]:
            assert by_build[build].released == cycle["releaseDate"]
    assert by_build[26200].name == "Windows 11 25H2"
    assert by_build[28000].name == "Windows 11 26H1"


def api_document() -> bytes:
    """The real page's cycles in the shape of endoflife.date's API v1 (api_v1/openapi.yml)."""
    releases = [
        {
            "name": c["releaseCycle"],
            "codename": None,
            "label": c["releaseLabel"],
            "releaseDate": c["releaseDate"].isoformat(),
            "isLts": bool(c.get("lts")),
            "latest": {"name": str(c["latest"]), "date": None, "link": None},
        }
        for c in windows_cycles()
    ]
    document = {
        "schema_version": "1.2.0",
        "generated_at": "2026-08-22T08:52:34+00:00",
        "last_modified": "2026-05-01T09:58:42+00:00",
        "result": {"name": "windows", "label": "Microsoft Windows", "releases": releases},
    }
    return json.dumps(document).encode()


def test_endoflife_api_document_reads_like_the_page() -> None:
    """The API form of the same data gives the same releases as the product page."""
    from_page = import_endoflife_windows(WINDOWS_PAGE.read_bytes(), "page").catalog
    from_api = import_endoflife_windows(api_document(), "api").catalog
    assert {(r.version, r.released) for r in from_api.releases} == {
        (r.version, r.released) for r in from_page.releases
    }


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (SOFA_V2_2026.read_bytes(), "result.name windows"),
        (b"---\npermalink: /macos\nreleases: []\n---\n", "permalink /windows"),
        (b'{"result": {"name": "windows", "releases": []}}', "no release cycles"),
        (b"---\n: [\n---\n", "not YAML"),
        (b"---\n" + b"[" * 100_000 + b"\n---\n", "nested too deeply"),
        (b'{"result": ' * 50_000, "nested too deeply"),
    ],
)
def test_non_windows_documents_are_rejected(content: bytes, problem: str) -> None:
    """A SOFA feed or another product's page given as Windows data is rejected."""
    with pytest.raises(SchemaError) as info:
        import_endoflife_windows(content, "windows.json")
    assert problem in info.value.problem


_DATES = st.one_of(
    st.dates(min_value=date(2001, 1, 1), max_value=date(2030, 12, 31)).map(
        lambda d: f"{d.isoformat()}T00:00:00Z"
    ),
    st.sampled_from(["Preinstalled", "", "TBD", None]),
)


@st.composite
def sofa_feeds(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, str | None]]:
    """A v2-shaped macOS feed with distinct versions and any mix of dates and junk dates."""
    versions = draw(
        st.lists(
            st.tuples(st.integers(11, 30), st.integers(0, 9), st.integers(0, 9)),
            min_size=1,
            max_size=20,
            unique=True,
        )
    )
    dates = {f"{a}.{b}.{c}": draw(_DATES) for a, b, c in versions}
    entries = [
        {"UpdateName": f"macOS {v}", "ProductName": "macOS", "ProductVersion": v, "ReleaseDate": d}
        for v, d in dates.items()
    ]
    return {"OSVersions": [{"OSVersion": "macOS", "SecurityReleases": entries}]}, dates


@given(sofa_feeds())
def test_every_entry_is_imported_or_reported(
    feed: tuple[dict[str, Any], dict[str, str | None]],
) -> None:
    """Each entry is either a release with its own date or a skipped entry, none is lost, and
    what is imported never dates a lower version after a higher one of its major."""
    document, dates = feed
    dated = {v for v, d in dates.items() if d and d[:4].isdigit()}
    data = json.dumps(document).encode()
    if not dated:
        with pytest.raises(SchemaError, match="no macOS release"):
            import_sofa(data, "feed.json")
        return
    result = import_sofa(data, "feed.json")
    imported = {str(r.version) for r in result.catalog.releases}
    reported = {s.version for s in result.skipped}
    assert imported | reported == set(dates)
    assert not imported & reported
    assert set(dates) - dated <= reported
    for release in result.catalog.releases:
        assert release.released.isoformat() == str(dates[str(release.version)])[:10]
    ordered = sorted(result.catalog.releases, key=lambda r: r.version)
    for low, high in itertools.combinations(ordered, 2):
        if low.version.major == high.version.major:
            assert low.released <= high.released


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(_JSON)
def test_readers_are_total_on_any_json(document: object) -> None:
    """Any JSON document either reads or raises SchemaError, for both readers."""
    data = json.dumps(document).encode()
    for reader in (import_sofa, import_endoflife_windows):
        with contextlib.suppress(SchemaError):
            reader(data, "doc.json")


@given(st.binary(max_size=300))
def test_readers_are_total_on_any_bytes(data: bytes) -> None:
    """Arbitrary bytes (YAML front matter included) never crash a reader."""
    for reader in (import_sofa, import_endoflife_windows):
        with contextlib.suppress(SchemaError):
            reader(data, "doc")
        with contextlib.suppress(SchemaError):
            reader(b"---\n" + data + b"\n---\n", "doc.md")
