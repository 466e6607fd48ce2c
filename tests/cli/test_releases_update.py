"""``feedmgr releases update`` against a loopback HTTPS server serving the real documents."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from feedmgr.feed.store import FeedStore
from tests.conftest import REPO, RunCli
from tests.feed.netserver import ConnectProxy, ScriptedServer, drip

RELEASES = REPO / "tests" / "data" / "releases"
SOFA_FILE = RELEASES / "sofa-v2-macos-2026-08-22.json"
WINDOWS_FILE = RELEASES / "endoflife-windows-2026-05-01.md"
SOFA_PATH = "/v2/macos_data_feed.json"
WINDOWS_PATH = "/products/windows.md"


def serve(server: HTTPServer, sofa: bytes | None = None, windows: bytes | None = None) -> None:
    """The two documents, with ETags, as their publishers serve them."""
    server.expect_request(SOFA_PATH).respond_with_data(
        sofa if sofa is not None else SOFA_FILE.read_bytes(),
        content_type="application/json",
        headers={"ETag": '"sofa-1"'},
    )
    server.expect_request(WINDOWS_PATH).respond_with_data(
        windows if windows is not None else WINDOWS_FILE.read_bytes(),
        content_type="text/markdown",
        headers={"ETag": '"windows-1"'},
    )


@pytest.fixture
def configured(run_cli: RunCli, https_server: HTTPServer) -> HTTPServer:
    """A home whose releases.* URLs point at the loopback server."""
    for key, path in (("releases.sofa_url", SOFA_PATH), ("releases.windows_url", WINDOWS_PATH)):
        assert run_cli("config", "set", key, https_server.url_for(path)).code == 0
    return https_server


def stored(home: Path) -> dict[str, bytes]:
    """The release catalogs in the home, by file name."""
    folder = home / "releases"
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*"))} if folder.is_dir() else {}


def test_update_stores_both_real_documents(
    run_cli: RunCli, configured: HTTPServer, ca_bundle: Path
) -> None:
    """SOFA's feed and endoflife.date's page are fetched, validated and stored; list shows them."""
    serve(configured)
    result = run_cli("releases", "update", "--ca-bundle", ca_bundle, "--format", "json")
    assert result.code == 0, result.err
    names = [s["name"] for s in result.json()["sources"]]
    assert names == ["sofa-macos", "endoflife-windows"]
    latest = json.loads(SOFA_FILE.read_bytes())["OSVersions"][0]["Latest"]
    listed = run_cli("releases", "list", "--no-shipped", "--format", "json").json()["releases"]
    by_version = {r["version"]: r for r in listed}
    assert by_version[latest["ProductVersion"]]["released"] == latest["ReleaseDate"][:10]
    assert by_version[latest["ProductVersion"]]["build"] == latest["Build"]
    assert configured.url_for(SOFA_PATH) in by_version[latest["ProductVersion"]]["source"]
    assert by_version["10.0.28000"]["released"] == "2026-02-10"


def test_second_update_is_two_304s_and_changes_nothing(
    run_cli: RunCli, configured: HTTPServer, ca_bundle: Path, home: Path
) -> None:
    """The stored ETags are sent back; 304 answers reuse the cached documents."""
    serve(configured)
    assert run_cli("releases", "update", "--ca-bundle", ca_bundle).code == 0
    before = stored(home)
    configured.clear()
    for path, etag in ((SOFA_PATH, '"sofa-1"'), (WINDOWS_PATH, '"windows-1"')):
        configured.expect_request(path, headers={"If-None-Match": etag}).respond_with_data(
            "", status=304
        )
    result = run_cli("releases", "update", "--ca-bundle", ca_bundle)
    assert result.code == 0, result.err
    assert result.out.count("not modified") == 2
    assert result.out.count("unchanged") == 2
    assert [resp.status_code for _request, resp in configured.log] == [304, 304]
    assert stored(home) == before


def test_check_reports_and_stores_nothing(
    run_cli: RunCli, configured: HTTPServer, ca_bundle: Path, home: Path
) -> None:
    """--check says how many releases are new and leaves the home as it was."""
    serve(configured)
    result = run_cli("releases", "update", "--check", "--ca-bundle", ca_bundle, "--format", "json")
    assert result.code == 0, result.err
    sofa = result.json()["sources"][0]
    assert sofa["new_releases"] == sofa["releases"] > 100
    assert stored(home) == {}
    assert FeedStore(home).cached_response(configured.url_for(SOFA_PATH)) is None


Setup = Callable[[HTTPServer], None]


def _ios_as_sofa(server: HTTPServer) -> None:
    serve(server, sofa=(RELEASES / "sofa-v2-ios-2025-09-20.json").read_bytes())


def _tvos_as_sofa(server: HTTPServer) -> None:
    serve(server, sofa=(RELEASES / "sofa-v2-tvos-2026-08-22.json").read_bytes())


def _sofa_as_windows(server: HTTPServer) -> None:
    serve(server, windows=SOFA_FILE.read_bytes())


def _html_error_page(server: HTTPServer) -> None:
    serve(server, sofa=b"<html><body>Service Unavailable</body></html>")


def _windows_404(server: HTTPServer) -> None:
    server.expect_request(SOFA_PATH).respond_with_data(SOFA_FILE.read_bytes())
    server.expect_request(WINDOWS_PATH).respond_with_data("gone", status=404)


def _sofa_to_http(server: HTTPServer) -> None:
    server.expect_request(SOFA_PATH).respond_with_data(
        "", status=302, headers={"Location": "http://127.0.0.1:9/feed.json"}
    )


@pytest.mark.parametrize(
    "case",
    [
        (_ios_as_sofa, 3, "iOS and iPadOS"),
        (_tvos_as_sofa, 3, "tvOS"),
        (_sofa_as_windows, 3, "Windows"),
        (_html_error_page, 3, "not a JSON document"),
        (_windows_404, 4, "HTTP 404"),
        (_sofa_to_http, 4, "https"),
    ],
    ids=["ios-feed", "tvos-feed", "sofa-as-windows", "html", "windows-404", "redirect-to-http"],
)
def test_failures_exit_3_or_4_and_keep_the_stored_catalogs(
    run_cli: RunCli,
    configured: HTTPServer,
    ca_bundle: Path,
    home: Path,
    case: tuple[Setup, int, str],
) -> None:
    """Bad content is exit 3, network is exit 4: one line, catalogs and cache untouched."""
    older = RELEASES / "sofa-v1-macos-2024-04-10.json"
    assert run_cli("releases", "import", "--sofa", older).code == 0
    before = stored(home)
    setup, code, words = case
    setup(configured)
    result = run_cli("releases", "update", "--ca-bundle", ca_bundle)
    assert result.code == code, result.err
    assert result.err.count("\n") == 1
    assert result.err.startswith("feedmgr: error: ")
    assert words in result.err
    assert stored(home) == before
    assert FeedStore(home).cached_response(configured.url_for(SOFA_PATH)) is None


def test_oversized_document_is_rejected(
    run_cli: RunCli,
    configured: HTTPServer,
    ca_bundle: Path,
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A document over the size cap is exit 3 and nothing is stored."""
    monkeypatch.setattr("feedmgr.osmatrix.online.MAX_DOCUMENT_BYTES", 100_000)
    serve(configured)
    result = run_cli("releases", "update", "--ca-bundle", ca_bundle)
    assert result.code == 3, result.err
    assert stored(home) == {}


def test_untrusted_server_is_a_network_error(
    run_cli: RunCli, configured: HTTPServer, home: Path
) -> None:
    """Without the CA bundle the loopback certificate is not trusted: exit 4, nothing stored."""
    serve(configured)
    result = run_cli("releases", "update")
    assert result.code == 4
    assert "certificate" in result.err
    assert stored(home) == {}


def test_proxy_is_used(
    run_cli: RunCli, configured: HTTPServer, ca_bundle: Path, connect_proxy: ConnectProxy
) -> None:
    """--proxy tunnels both requests through the proxy."""
    serve(configured)
    result = run_cli("releases", "update", "--proxy", connect_proxy.url, "--ca-bundle", ca_bundle)
    assert result.code == 0, result.err
    assert connect_proxy.targets == [f"127.0.0.1:{configured.port}"] * 2


@pytest.mark.parametrize("key", ["releases.sofa_url", "releases.windows_url"])
def test_release_urls_must_be_https(run_cli: RunCli, key: str) -> None:
    """A plain-http release URL is refused when it is set (exit 2)."""
    assert run_cli("config", "set", key, "http://sofafeed.example/feed.json").code == 2


@pytest.mark.parametrize("slow", [SOFA_PATH, WINDOWS_PATH])
def test_dripping_server_is_cut_off_at_the_deadline(
    run_cli: RunCli, scripted: ScriptedServer, ca_bundle: Path, home: Path, slow: str
) -> None:
    """A server dripping either document is cut off at network.deadline: exit 4, one line,
    nothing stored, nothing cached."""
    documents = {SOFA_PATH: SOFA_FILE.read_bytes(), WINDOWS_PATH: WINDOWS_FILE.read_bytes()}
    for path, body in documents.items():
        # the other document arrives in one piece, the slow one a byte every 20 ms
        scripted.routes[path] = drip(body, every=0.02, size=1 if path == slow else len(body))
        key = "releases.sofa_url" if path == SOFA_PATH else "releases.windows_url"
        assert run_cli("config", "set", key, scripted.url_for(path)).code == 0
    assert run_cli("config", "set", "network.deadline", "1").code == 0
    started = time.monotonic()
    result = run_cli("releases", "update", "--ca-bundle", ca_bundle)
    assert result.code == 4, result.err
    assert time.monotonic() - started < 5
    assert result.err.count("\n") == 1
    assert "network.deadline" in result.err
    assert result.err.startswith(f"feedmgr: error: {scripted.url_for(slow)}: ")
    assert stored(home) == {}
    assert FeedStore(home).cached_response(scripted.url_for(SOFA_PATH)) is None


def test_a_newer_last_check_alone_is_stored(
    run_cli: RunCli, configured: HTTPServer, ca_bundle: Path, home: Path
) -> None:
    """The same releases with a later LastCheck move the catalog's as_of (the real feed with
    only LastCheck advanced a day, as SOFA does every few hours), so releases.stale stays
    quiet while updates run."""
    serve(configured)
    assert run_cli("releases", "update", "--ca-bundle", ca_bundle).code == 0
    document = json.loads(SOFA_FILE.read_bytes())
    document["LastCheck"] = "2026-08-23T06:45:03+00:00"
    configured.clear()
    serve(configured, sofa=json.dumps(document).encode())
    result = run_cli("releases", "update", "--ca-bundle", ca_bundle, "--format", "json")
    assert result.code == 0, result.err
    sofa = result.json()["sources"][0]
    assert (sofa["new_releases"], sofa["changed"], sofa["as_of"]) == (0, True, "2026-08-23")
    stored_as_of = json.loads((home / "releases" / "sofa-macos.json").read_bytes())["as_of"]
    assert stored_as_of == "2026-08-23"


@pytest.mark.parametrize(
    ("newer", "older"),
    [
        ("sofa-v2-macos-2026-08-22.json", "sofa-v2-macos-2025-09-20.json"),
        ("sofa-v1-macos-2026-08-22.json", "sofa-v1-macos-2024-04-10.json"),
    ],
    ids=["v2", "v1"],
)
def test_an_older_document_does_not_replace_newer_stored_data(  # noqa: PLR0917 - fixtures
    run_cli: RunCli,
    configured: HTTPServer,
    ca_bundle: Path,
    home: Path,
    newer: str,
    older: str,
) -> None:
    """A stale mirror serving an older SOFA document (as of an earlier date) leaves the stored
    catalog as it is and says so plainly; exit 0, and no "new releases, stored" claim."""
    serve(configured, sofa=(RELEASES / newer).read_bytes())
    assert run_cli("releases", "update", "--ca-bundle", ca_bundle).code == 0
    kept = stored(home)
    as_of = json.loads(kept["sofa-macos.json"])["as_of"]
    # The file names carry the day each document was fetched from SOFA.
    assert as_of > older.removesuffix(".json")[-10:]
    configured.clear()
    serve(configured, sofa=(RELEASES / older).read_bytes())
    result = run_cli("releases", "update", "--ca-bundle", ca_bundle)
    assert result.code == 0, result.err
    sofa_line = next(line for line in result.out.splitlines() if line.startswith("sofa-macos"))
    assert f"older than the stored catalog (as of {as_of}): kept the stored one" in sofa_line
    assert "stored" not in sofa_line.replace("the stored catalog", "").replace("the stored one", "")
    assert stored(home) == kept
    document = run_cli("releases", "update", "--ca-bundle", ca_bundle, "--format", "json").json()
    sofa = document["sources"][0]
    assert (sofa["changed"], sofa["older_than_stored"], sofa["stored_as_of"]) == (
        False,
        True,
        as_of,
    )
    assert stored(home) == kept
