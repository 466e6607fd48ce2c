"""``feedmgr os resolve|list|lag`` end to end against an ingested feed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.feedkit import DEMO_PUB, FeedFactory, set_max
from tests.conftest import RunCli


@pytest.mark.usefixtures("sample_feed")
@pytest.mark.parametrize(
    ("os_string", "code", "node"),
    [
        ("Mac OSX 15.6.1", 0, "Mac OSX 15"),
        ("macOS 26.1 (25B78)", 0, "Mac OSX 26"),
        ("macOS Tahoe 26.0.1 (a)", 0, "Mac OSX 26"),
        ("Windows 11 Enterprise 10.0.26100", 0, "Windows 11 (All)"),
        ("Windows 11 25H2", 0, "Windows 11 (All)"),
        ("Windows 10 (All)", 0, "Windows 10 (All)"),
        ("Ubuntu 22.04.4 LTS", 0, "Ubuntu 22.04"),
        ("macOS 26.2", 1, None),
        ("Mac OS X 10.15.7", 1, None),
        ("Windows 11 10.0.26300", 1, None),
    ],
)
def test_resolve_exit_code_and_node(
    run_cli: RunCli, os_string: str, code: int, node: str | None
) -> None:
    """Exit 0 with the classifying node when the feed knows the OS, 1 when it does not."""
    result = run_cli("os", "resolve", os_string, "--format", "json")
    assert result.code == code, result.err
    document = result.json()
    assert document["schema"] == "feedmgr-os-resolve/1"
    assert document["node"] == node
    assert document["classified"] is (node is not None)


@pytest.mark.usefixtures("sample_feed")
def test_resolve_text_shows_the_node_chain(run_cli: RunCli) -> None:
    """The text output names the chain from the node up to the root."""
    result = run_cli("os", "resolve", "Mac OSX 15.6.1")
    assert result.code == 0
    assert "Mac OSX 15 -> Mac OSX" in result.out
    assert "15.0 - 15.7.2" in result.out


@pytest.mark.usefixtures("sample_feed")
def test_resolve_unknown_version_says_it_would_bypass_posture(run_cli: RunCli) -> None:
    """An unknown version exits 1 and says the endpoint would not be classified."""
    result = run_cli("os", "resolve", "macOS 26.2")
    assert result.code == 1
    assert "would not be classified" in result.out
    assert "Bypassing Cisco Secure Client Scan" in result.out
    assert "up to 26.1" in result.out


@pytest.mark.usefixtures("sample_feed")
def test_resolve_unknown_point_release_names_the_nearest_node(run_cli: RunCli) -> None:
    """15.7.3 on a feed knowing 15.0-15.7.2 points at Mac OSX 15, not at Tahoe."""
    result = run_cli("os", "resolve", "macOS 15.7.3 (24G419)", "--format", "json")
    assert result.code == 1
    document = result.json()
    assert document["nearest_node"] == {"name": "Mac OSX 15", "max_version": "15.7.2"}
    assert "it knows Mac OSX 15 up to 15.7.2" in document["message"]


@pytest.mark.parametrize("os_string", ["garbage", "Windows 22H2", "macOS Sequoia 26.1", ""])
def test_resolve_unparseable_string_exits_3_without_traceback(
    run_cli: RunCli, os_string: str
) -> None:
    """An unparseable string is rejected input (exit 3), one error line, no traceback."""
    result = run_cli("os", "resolve", os_string)
    assert result.code == 3
    assert result.err.startswith("feedmgr: error: ")
    assert "Traceback" not in result.err
    assert result.err.count("\n") == 1


def test_resolve_without_active_feed_is_a_usage_error(run_cli: RunCli) -> None:
    """With an empty store, resolve explains that a feed must be ingested first (exit 2)."""
    result = run_cli("os", "resolve", "macOS 15.1")
    assert result.code == 2
    assert "no active feed" in result.err


def test_resolve_against_a_zip_feed(run_cli: RunCli, make_feed: FeedFactory) -> None:
    """--feed accepts a feed zip, verified with --trust, without ingesting it."""
    package = make_feed("2026.11.1", edit=set_max("Mac OSX 26", "26.2"), ingest=False)
    result = run_cli("os", "resolve", "macOS 26.2", "--feed", package, "--trust", DEMO_PUB)
    assert result.code == 0, result.err
    assert "Mac OSX 26 -> Mac OSX" in result.out


@pytest.mark.usefixtures("sample_feed")
def test_list_shows_the_matrix(run_cli: RunCli) -> None:
    """The matrix lists every node with parent, range, minimums and release date."""
    result = run_cli("os", "list")
    assert result.code == 0
    for text in ("Mac OSX 15 (Sequoia)", "15.0 - 15.7.2", "5.1.5", "4.3.3600.0", "2024-09-16"):
        assert text in result.out
    assert "Windows 11 (All)" in result.out


@pytest.mark.usefixtures("sample_feed")
def test_list_family_filter_and_json(run_cli: RunCli) -> None:
    """--family keeps one family; JSON rows carry the documented fields."""
    document = run_cli("os", "list", "--family", "macos", "--format", "json").json()
    assert document["schema"] == "feedmgr-os-matrix/1"
    names = [row["name"] for row in document["nodes"]]
    assert names[0] == "Mac OSX"
    assert names[1:] == [f"Mac OSX {m}" for m in (11, 12, 13, 14, 15, 26)]
    root = document["nodes"][0]
    assert root["covers"] == "11.0 - 26.1"
    assert {row["family"] for row in document["nodes"]} == {"macos"}


def _checks(document: dict[str, object]) -> list[tuple[str, str, str]]:
    findings = document["findings"]
    assert isinstance(findings, list)
    return [(f["check"], f["severity"], f["subject"]) for f in findings]


@pytest.mark.usefixtures("sample_feed")
@pytest.mark.parametrize(
    ("as_of", "severity", "code"),
    [("2025-12-20", "warn", 0), ("2026-01-20", "fail", 1)],
)
def test_lag_warns_then_fails_after_max_days(
    run_cli: RunCli, as_of: str, severity: str, code: int
) -> None:
    """A release the feed lacks warns within --max-days of its release and fails after."""
    result = run_cli("os", "lag", "--as-of", as_of, "--max-days", "30", "--format", "json")
    assert result.code == code
    checks = _checks(result.json())
    assert ("feed.os-lag", severity, "macOS Tahoe 26.2") in checks
    assert ("feed.os-lag", severity, "macOS Sequoia 15.7.3") in checks


def test_lag_is_clean_for_a_current_feed(run_cli: RunCli, make_feed: FeedFactory) -> None:
    """A feed that knows every catalogued release has no os-lag finding (exit 0)."""

    def current(catalog: dict[str, object]) -> None:
        set_max("Mac OSX 26", "26.2")(catalog)
        set_max("Mac OSX 15", "15.7.3")(catalog)
        set_max("Mac OSX 14", "14.8.3")(catalog)

    make_feed("2026.11.2", edit=current)
    result = run_cli("os", "lag", "--as-of", "2025-12-26", "--format", "json")
    assert result.code == 0, result.out
    assert not [c for c in _checks(result.json()) if c[0] == "feed.os-lag"]


@pytest.mark.usefixtures("sample_feed")
@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        ("2035-02-01", ("feed.expired", "fail", "feed 2026.10.1")),
        ("2034-12-25", ("feed.expired", "warn", "feed 2026.10.1")),
        ("2027-01-15", ("feed.stale", "warn", "feed 2026.10.1")),
    ],
)
def test_lag_reports_expired_and_stale_feeds(
    run_cli: RunCli, as_of: str, expected: tuple[str, str, str]
) -> None:
    """feed.expired fails after expiry (warns 14 days before); feed.stale warns after 60 days."""
    result = run_cli("os", "lag", "--as-of", as_of, "--format", "json")
    assert expected in _checks(result.json())


@pytest.mark.usefixtures("sample_feed")
def test_lag_uses_extra_release_catalogs(run_cli: RunCli, tmp_path: Path) -> None:
    """--releases adds a catalog; --no-shipped leaves the snapshot out."""
    extra = tmp_path / "mine.json"
    extra.write_text(
        json.dumps(
            {
                "format": "feedmgr-os-releases/1",
                "as_of": "2026-03-01",
                "releases": [{"family": "macos", "version": "26.3", "released": "2026-02-20"}],
            }
        )
    )
    result = run_cli(
        "os",
        "lag",
        "--releases",
        extra,
        "--no-shipped",
        "--as-of",
        "2026-03-01",
        "--format",
        "json",
    )
    assert result.code == 0
    lag = [c for c in _checks(result.json()) if c[0] == "feed.os-lag"]
    assert lag == [("feed.os-lag", "warn", "macOS 26.3")]


@pytest.mark.usefixtures("sample_feed")
def test_lag_text_output_names_the_bypass(run_cli: RunCli) -> None:
    """The text report explains the consequence and the fix."""
    result = run_cli("os", "lag", "--as-of", "2026-02-01")
    assert result.code == 1
    assert "FAIL  feed.os-lag  macOS Tahoe 26.2: released 2025-12-12" in result.out
    assert "Bypassing Cisco Secure Client Scan" in result.out
    assert "15.7.2 (Mac OSX 15)" in result.out


def test_real_process_rejects_unparseable_string(tmp_path: Path) -> None:
    """`python -m feedmgr os resolve` in a real process: exit 3, one line, no traceback."""
    result = subprocess.run(
        [sys.executable, "-m", "feedmgr", "--home", str(tmp_path), "os", "resolve", "Amiga 4"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 3
    assert result.stderr == "feedmgr: error: 'Amiga 4': not a macOS, Windows or Linux OS string\n"


def test_os_help_does_not_import_heavy_libraries() -> None:
    """`feedmgr os --help` and `releases --help` import neither pydantic nor cryptography."""
    probe = (
        "import sys\n"
        "from feedmgr.cli import main\n"
        "for argv in (['os', '--help'], ['os', 'lag', '--help'], ['releases', '--help']):\n"
        "    assert main(argv) == 0\n"
        "heavy = [m for m in ('cryptography', 'pydantic', 'requests') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True)


@pytest.mark.usefixtures("sample_feed")
@pytest.mark.parametrize(
    ("os_string", "build", "letter"),
    [
        ("macOS 26.3.2 (a) (25D771400a)", "25D771400a", "a"),
        ("macOS 13.4.1 (c) (22F770820d)", "22F770820d", "c"),
    ],
)
def test_resolve_keeps_the_build_as_written(
    run_cli: RunCli, os_string: str, build: str, letter: str
) -> None:
    """Builds are case-sensitive: the BSI build 25D771400a is reported as given."""
    parsed = run_cli("os", "resolve", os_string, "--format", "json").json()["parsed"]
    assert parsed["build"] == build
    assert parsed["rapid_security_response"] == letter


@pytest.mark.usefixtures("sample_feed")
@pytest.mark.parametrize(
    "os_string",
    [
        "Windows 10 Enterprise 2016 LTSB",
        "Microsoft Windows [Version 10.0.19045.3570]",
        "Microsoft Windows [versão 10.0.19044.1706]",
        "Microsoft Windows [Versión 10.0.26100.4652]",
    ],
)
def test_resolve_accepts_what_windows_writes(run_cli: RunCli, os_string: str) -> None:
    """The AD/registry LTSB form and `ver` output (localized too) no longer exit 3."""
    assert run_cli("os", "resolve", os_string).code in (0, 1)


@pytest.mark.usefixtures("sample_feed")
@pytest.mark.parametrize(("today", "stale"), [("2026-11-20", False), ("2026-12-01", True)])
def test_fresh_install_release_data_ends_2026_08_22(
    run_cli: RunCli, today: str, stale: bool
) -> None:
    """The shipped snapshot reflects SOFA's check of 2026-08-22: no releases.stale within 90
    days of it, a warning after (on 2026-12-01, 101 days), pointing at 'releases update'."""
    result = run_cli("os", "lag", "--as-of", today, "--format", "json")
    found = [f for f in result.json()["findings"] if f["check"] == "releases.stale"]
    assert bool(found) is stale
    if stale:
        assert found[0]["data"] == {"as_of": "2026-08-22", "age_days": 101}
        assert "feedmgr releases update" in found[0]["fix"]
