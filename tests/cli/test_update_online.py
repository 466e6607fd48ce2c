"""``feedmgr update`` (online), ``update --check`` and ``download`` against loopback HTTPS."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from feedmgr.feed.store import FeedStore
from tests.conftest import RunCli
from tests.feed.netserver import (
    NEW_VERSION,
    OLD_VERSION,
    PUBLIC_KEY,
    ConnectProxy,
    Entry,
    Packages,
    ScriptedServer,
    atom_index,
    drip,
    leftovers,
    until_hangup,
)

INDEX = "/posture-update.xml"


@dataclass(frozen=True)
class Net:
    """The loopback HTTPS server, the test packages and the CA bundle that trusts the server."""

    server: HTTPServer
    packages: Packages
    ca_bundle: Path


@pytest.fixture
def net(https_server: HTTPServer, packages: Packages, ca_bundle: Path) -> Net:
    """Everything an online test needs, in one fixture."""
    return Net(https_server, packages, ca_bundle)


@pytest.fixture
def with_old_feed(run_cli: RunCli, packages: Packages, tmp_path: Path) -> Path:
    """A home whose active feed is the older package, ingested offline."""
    old = tmp_path / "old.zip"
    old.write_bytes(packages.old.data)
    result = run_cli("update", "--offline", old, "--trust", PUBLIC_KEY)
    assert result.code == 0, result.err
    return old


def _offer(server: HTTPServer, packages: Packages, etag: str = '"index-1"') -> None:
    server.expect_request(INDEX).respond_with_data(
        atom_index([packages.old.entry("feeds/old.zip"), packages.new.entry("feeds/new.zip")]),
        content_type="application/atom+xml",
        headers={"ETag": etag},
    )
    server.expect_request("/feeds/new.zip").respond_with_data(
        packages.new.data, content_type="application/zip"
    )


def _online(server: HTTPServer, ca_bundle: Path, *args: str | Path) -> list[str | Path]:
    return ["--url", server.url_for(INDEX), "--ca-bundle", ca_bundle, *args]


def _active(home: Path) -> str | None:
    feed = FeedStore(home).active()
    return feed.version if feed else None


@pytest.mark.usefixtures("with_old_feed")
def test_update_downloads_verifies_and_activates_the_newer_feed(
    run_cli: RunCli,
    net: Net,
    home: Path,
) -> None:
    """The newest package of the index is fetched and ingested like --offline does."""
    https_server, packages, ca_bundle = net.server, net.packages, net.ca_bundle
    _offer(https_server, packages)
    args = _online(https_server, ca_bundle, "--trust", PUBLIC_KEY, "--format", "json")
    result = run_cli("update", *args)
    assert result.code == 0, result.err
    document = result.json()
    assert document["status"] == "activated"
    assert (document["version"], document["previous"]) == (NEW_VERSION, OLD_VERSION)
    assert document["url"] == https_server.url_for("/feeds/new.zip")
    assert document["sha256"] == packages.new.sha256
    assert _active(home) == NEW_VERSION
    assert leftovers(home) == []
    history = run_cli("history", "--format", "json").json()
    sources = {feed["version"]: feed["source"] for feed in history["feeds"]}
    assert sources[NEW_VERSION] == https_server.url_for("/feeds/new.zip")


def test_update_text_output_names_the_feed(
    run_cli: RunCli, https_server: HTTPServer, packages: Packages, ca_bundle: Path, home: Path
) -> None:
    """Text output says what was activated and what was active before."""
    _offer(https_server, packages)
    result = run_cli("update", *_online(https_server, ca_bundle, "--trust", PUBLIC_KEY))
    assert result.code == 0, result.err
    assert result.out.startswith(f"activated: feed {NEW_VERSION}")
    assert "previous: none" in result.out


def test_unchanged_index_costs_one_304(
    run_cli: RunCli,
    https_server: HTTPServer,
    packages: Packages,
    ca_bundle: Path,
    home: Path,
) -> None:
    """After an update, the next run sends the stored ETag, gets one 304 and downloads nothing."""
    _offer(https_server, packages)
    assert run_cli("update", *_online(https_server, ca_bundle, "--trust", PUBLIC_KEY)).code == 0
    https_server.clear()
    https_server.expect_request(INDEX, headers={"If-None-Match": '"index-1"'}).respond_with_data(
        "", status=304
    )
    result = run_cli("update", *_online(https_server, ca_bundle, "--format", "json"))
    assert result.code == 0, result.err
    assert result.json()["status"] == "unchanged"
    assert [(r.path, resp.status_code) for r, resp in https_server.log] == [(INDEX, 304)]


@pytest.mark.usefixtures("with_old_feed")
def test_check_shows_both_versions_and_downloads_nothing(
    run_cli: RunCli,
    net: Net,
    home: Path,
) -> None:
    """--check exits 0, reports the active and the offered version, fetches only the index."""
    https_server, packages, ca_bundle = net.server, net.packages, net.ca_bundle
    _offer(https_server, packages)
    result = run_cli("update", "--check", *_online(https_server, ca_bundle, "--format", "json"))
    assert result.code == 0, result.err
    document = result.json()
    assert document["status"] == "update-available"
    assert (document["active"], document["available"]) == (OLD_VERSION, NEW_VERSION)
    assert [r.path for r, _ in https_server.log] == [INDEX]
    assert _active(home) == OLD_VERSION


def test_check_says_up_to_date_when_nothing_newer(
    run_cli: RunCli,
    https_server: HTTPServer,
    packages: Packages,
    ca_bundle: Path,
    with_old_feed: Path,
) -> None:
    """--check against an index whose newest feed is the active one says 'up to date'."""
    https_server.expect_request(INDEX).respond_with_data(
        atom_index([packages.old.entry("feeds/old.zip")])
    )
    result = run_cli("update", "--check", *_online(https_server, ca_bundle))
    assert result.code == 0, result.err
    assert result.out.startswith(f"up to date: feed {OLD_VERSION}")


def test_download_writes_the_verified_package_for_offline_use(
    run_cli: RunCli,
    net: Net,
    home: Path,
) -> None:
    """download -o writes exactly the verified package; update --offline then takes it."""
    https_server, packages, ca_bundle = net.server, net.packages, net.ca_bundle
    tmp_path = home.parent
    _offer(https_server, packages)
    output = tmp_path / "carry" / "feed.zip"
    output.parent.mkdir()
    args = _online(https_server, ca_bundle, "-o", output, "--trust", PUBLIC_KEY, "--format", "json")
    result = run_cli("download", *args)
    assert result.code == 0, result.err
    assert result.json()["version"] == NEW_VERSION
    assert output.read_bytes() == packages.new.data
    assert sorted(p.name for p in output.parent.iterdir()) == ["feed.zip"]
    assert leftovers(home) == []
    air_gapped = tmp_path / "air-gapped"
    offline = run_cli(
        "--home", air_gapped, "update", "--offline", output, "--trust", PUBLIC_KEY, use_home=False
    )
    assert offline.code == 0, offline.err
    assert _active(air_gapped) == NEW_VERSION


def test_download_refuses_a_missing_output_folder(run_cli: RunCli, net: Net, home: Path) -> None:
    """download -o into a folder that does not exist (a USB stick that is not mounted) is a
    usage error naming the folder, as for feed build: the folder is not created, nothing is
    downloaded."""
    usb = home.parent / "media" / "usb"
    _offer(net.server, net.packages)
    output = usb / "posture-feed.zip"
    result = run_cli("download", *_online(net.server, net.ca_bundle, "-o", output))
    assert result.code == 2, result.err
    assert result.err == f"feedmgr: error: {usb}: no such folder for the package\n"
    assert not (home.parent / "media").exists()
    assert net.server.log == []


def test_download_refuses_a_package_signed_by_an_untrusted_key(
    run_cli: RunCli,
    net: Net,
    home: Path,
) -> None:
    """A package that fails verification is not written; exit 3, one line naming the URL."""
    https_server, packages, ca_bundle = net.server, net.packages, net.ca_bundle
    tmp_path = home.parent
    https_server.expect_request(INDEX).respond_with_data(
        atom_index([packages.rogue.entry("rogue.zip")])
    )
    https_server.expect_request("/rogue.zip").respond_with_data(packages.rogue.data)
    output = tmp_path / "feed.zip"
    result = run_cli("download", *_online(https_server, ca_bundle, "-o", output))
    assert result.code == 3
    assert result.err.count("\n") == 1
    assert result.err.startswith(f"feedmgr: error: {https_server.url_for('/rogue.zip')}: ")
    assert not output.exists()
    assert list(tmp_path.glob(".feedmgr-*")) == []
    assert leftovers(home) == []


Setup = Callable[[HTTPServer, Packages], None]


def _index_with(entry: Entry) -> Setup:
    def setup(server: HTTPServer, packages: Packages) -> None:
        del packages
        server.expect_request(INDEX).respond_with_data(atom_index([entry]))

    return setup


def _wrong_sha(server: HTTPServer, packages: Packages) -> None:
    entry = packages.new.entry("new.zip")
    server.expect_request(INDEX).respond_with_data(
        atom_index([Entry(entry.href, entry.version, "0" * 64, entry.length)])
    )
    server.expect_request("/new.zip").respond_with_data(packages.new.data)


def _truncated(server: HTTPServer, packages: Packages) -> None:
    server.expect_request(INDEX).respond_with_data(atom_index([packages.new.entry("new.zip")]))
    server.expect_request("/new.zip").respond_with_data(packages.new.data[:-200])


def _oversize(server: HTTPServer, packages: Packages) -> None:
    server.expect_request(INDEX).respond_with_data(atom_index([packages.new.entry("new.zip")]))
    server.expect_request("/new.zip").respond_with_data(packages.new.data + b"\0" * 4096)


def _rogue(server: HTTPServer, packages: Packages) -> None:
    server.expect_request(INDEX).respond_with_data(atom_index([packages.rogue.entry("r.zip")]))
    server.expect_request("/r.zip").respond_with_data(packages.rogue.data)


def _version_lie(server: HTTPServer, packages: Packages) -> None:
    entry = packages.new.entry("new.zip")
    server.expect_request(INDEX).respond_with_data(
        atom_index([Entry(entry.href, "2027.1", entry.sha256, entry.length)])
    )
    server.expect_request("/new.zip").respond_with_data(packages.new.data)


def _not_found(server: HTTPServer, packages: Packages) -> None:
    del packages
    server.expect_request(INDEX).respond_with_data("gone", status=404)


def _to_http(server: HTTPServer, packages: Packages) -> None:
    del packages
    server.expect_request(INDEX).respond_with_data(
        "", status=301, headers={"Location": "http://127.0.0.1:9/index.xml"}
    )


def _loop(server: HTTPServer, packages: Packages) -> None:
    del packages
    server.expect_request(INDEX).respond_with_data("", status=302, headers={"Location": "/b"})
    server.expect_request("/b").respond_with_data("", status=302, headers={"Location": INDEX})


def _not_atom(server: HTTPServer, packages: Packages) -> None:
    del packages
    server.expect_request(INDEX).respond_with_data("<html><body>maintenance</body></html>")


@pytest.mark.usefixtures("with_old_feed")
@pytest.mark.parametrize(
    "case",
    [
        (_wrong_sha, 3, "sha256"),
        (_truncated, 3, "shorter than"),
        (_oversize, 3, "more than"),
        (_rogue, 3, "signature"),
        (_version_lie, 3, "announces version 2027.1"),
        (_not_atom, 3, "not an Atom feed"),
        (_not_found, 4, "HTTP 404"),
        (_to_http, 4, "not https://"),
        (_loop, 4, "redirect loop"),
    ],
    ids=[
        "wrong-sha256",
        "truncated",
        "oversize",
        "untrusted-signer",
        "version-mismatch",
        "not-atom",
        "404",
        "redirect-to-http",
        "redirect-loop",
    ],
)
def test_failures_exit_3_or_4_and_change_nothing(
    run_cli: RunCli, net: Net, home: Path, case: tuple[Setup, int, str]
) -> None:
    """Bad content exits 3, network/remote failures exit 4: one line, store and home unchanged."""
    setup, code, words = case
    https_server = net.server
    setup(https_server, net.packages)
    before = FeedStore(home).feeds()
    result = run_cli("update", *_online(https_server, net.ca_bundle, "--trust", PUBLIC_KEY))
    assert result.code == code, result.err
    assert result.err.count("\n") == 1
    assert result.err.startswith("feedmgr: error: ")
    assert words in result.err
    assert "Traceback" not in result.err
    assert FeedStore(home).feeds() == before
    assert _active(home) == OLD_VERSION
    assert leftovers(home) == []
    assert FeedStore(home).cached_response(https_server.url_for(INDEX)) is None


def test_untrusted_server_certificate_exits_4(
    run_cli: RunCli, https_server: HTTPServer, packages: Packages, home: Path
) -> None:
    """Without --ca-bundle, the loopback test certificate is not trusted: exit 4, a hint."""
    _offer(https_server, packages)
    result = run_cli("update", "--url", https_server.url_for(INDEX))
    assert result.code == 4
    assert "TLS certificate not trusted" in result.err
    assert "--ca-bundle" in result.err
    assert leftovers(home) == []


@pytest.mark.parametrize(
    "args",
    [
        ("update", "--url", "http://127.0.0.1:9/index.xml"),
        ("download", "--url", "http://127.0.0.1:9/index.xml", "-o", "x.zip"),
        ("update", "--url", "ftp://example.net/index.xml"),
        ("update", "--url", "https://127.0.0.1:9/i.xml", "--proxy", "socks5://127.0.0.1:9"),
    ],
)
def test_non_https_urls_are_usage_errors(run_cli: RunCli, args: tuple[str, ...]) -> None:
    """A plain-http (or other scheme) index URL or a bad proxy URL is refused before any I/O."""
    result = run_cli(*args)
    assert result.code == 2
    assert result.err.startswith("feedmgr: error: ")


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("HTTPS_PROXY", "socks5h://127.0.0.1:1080"),
        ("HTTPS_PROXY", "http://proxy.corp.example:port"),
        ("https_proxy", "http://[::1"),
    ],
)
@pytest.mark.parametrize("command", [("update", "--check"), ("download", "-o", "x.zip")])
def test_unusable_proxy_variable_is_a_usage_error(
    run_cli: RunCli,
    monkeypatch: pytest.MonkeyPatch,
    *,
    variable: str,
    value: str,
    command: tuple[str, ...],
) -> None:
    """A proxy variable feedmgr cannot use is refused like a bad --proxy: exit 2, one line
    naming the variable, before any traffic."""
    monkeypatch.setenv(variable, value)
    result = run_cli(*command, "--url", "https://127.0.0.1:9/index.xml")
    assert result.code == 2, result.err
    lines = result.err.splitlines()
    assert lines == [lines[0]]
    assert lines[0].startswith(f"feedmgr: error: {variable}: ")


@pytest.mark.parametrize("command", [("update", "--check"), ("download", "-o", "x.zip")])
def test_index_url_with_credentials_is_refused_without_echo(
    run_cli: RunCli, command: tuple[str, ...]
) -> None:
    """An index URL carrying user:password@ is refused before any traffic (exit 2): no Basic
    auth is sent to a feed server, and the password is not printed."""
    result = run_cli(*command, "--url", "https://u:Secr3tPW@127.0.0.1:9/index.xml")
    assert result.code == 2
    assert "credentials" in result.err
    assert "Secr3tPW" not in result.err + result.out


def test_online_options_conflict_with_offline(run_cli: RunCli, tmp_path: Path) -> None:
    """--check with --offline is a usage error."""
    result = run_cli("update", "--offline", tmp_path / "f.zip", "--check")
    assert result.code == 2
    assert "online" in result.err


def test_settings_supply_url_and_ca_bundle(
    run_cli: RunCli, https_server: HTTPServer, packages: Packages, ca_bundle: Path
) -> None:
    """feed.url and feed.ca_bundle from 'config set' are used when no option is given."""
    _offer(https_server, packages)
    assert run_cli("config", "set", "feed.url", https_server.url_for(INDEX)).code == 0
    assert run_cli("config", "set", "feed.ca_bundle", ca_bundle).code == 0
    result = run_cli("update", "--check", "--format", "json")
    assert result.code == 0, result.err
    assert result.json()["available"] == NEW_VERSION


def test_proxy_option_is_honoured(
    run_cli: RunCli,
    https_server: HTTPServer,
    packages: Packages,
    ca_bundle: Path,
    connect_proxy: ConnectProxy,
) -> None:
    """--proxy sends the requests through the proxy's CONNECT tunnel."""
    _offer(https_server, packages)
    result = run_cli(
        "update", "--check", "--proxy", connect_proxy.url, *_online(https_server, ca_bundle)
    )
    assert result.code == 0, result.err
    assert connect_proxy.targets == [f"127.0.0.1:{https_server.port}"]


def test_proxy_refusing_the_tunnel_exits_4_at_once_without_the_password(
    run_cli: RunCli, https_server: HTTPServer, ca_bundle: Path, connect_proxy: ConnectProxy
) -> None:
    """A proxy answering CONNECT with 407 stops the command after one attempt: exit 4, one
    line naming the proxy with its password hidden."""
    connect_proxy.refusal = b"407 Proxy Authentication Required"
    proxy = connect_proxy.url.replace("http://", "http://ops:hunter2@")
    result = run_cli("update", "--check", "--proxy", proxy, *_online(https_server, ca_bundle))
    assert result.code == 4
    assert result.err.startswith(
        f"feedmgr: error: {connect_proxy.url.replace('http://', 'http://ops:***@')}: "
        "the proxy refused the tunnel"
    )
    assert result.err.count("\n") == 1
    assert "hunter2" not in result.err
    assert len(connect_proxy.targets) == 1
    assert https_server.log == []


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("verbosity", "shown"), [(0, True), (-1, False)])
def test_progress_bar_only_on_a_terminal_without_quiet(
    monkeypatch: pytest.MonkeyPatch, verbosity: int, shown: bool
) -> None:
    """A progress bar is drawn on stderr when it is a terminal, and never with -q."""
    import sys

    from feedmgr.cli._common import AppContext
    from feedmgr.cli.download import _progress

    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    progress = _progress(AppContext(home_option=".", verbosity=verbosity))
    assert (progress is not None) is shown
    if progress is not None:
        progress(50, 100)
        progress.close()
        assert "50%" in terminal.getvalue()


def test_progress_bar_is_silent_when_stderr_is_not_a_terminal(
    run_cli: RunCli, https_server: HTTPServer, packages: Packages, ca_bundle: Path
) -> None:
    """Redirected stderr gets no progress bar, only errors and notes."""
    _offer(https_server, packages)
    result = run_cli("update", *_online(https_server, ca_bundle, "--trust", PUBLIC_KEY))
    assert result.code == 0
    assert "downloading" not in result.err
    assert json.dumps(result.err) == '""'


def test_alternate_chain_and_429_are_handled_end_to_end(
    run_cli: RunCli, net: Net, home: Path
) -> None:
    """The vendor layout (index -> alternate document -> package) works through a 429."""
    server, packages = net.server, net.packages
    server.expect_ordered_request(INDEX).respond_with_data(
        "", status=429, headers={"Retry-After": "0"}
    )
    server.expect_ordered_request(INDEX).respond_with_data(
        atom_index(alternates=["content/feed.xml"])
    )
    server.expect_ordered_request("/content/feed.xml").respond_with_data(
        atom_index([packages.new.entry("new.zip")])
    )
    server.expect_ordered_request("/content/new.zip").respond_with_data(packages.new.data)
    result = run_cli("update", *_online(server, net.ca_bundle, "--trust", PUBLIC_KEY))
    assert result.code == 0, result.err
    assert _active(home) == NEW_VERSION


def test_dropped_download_is_retried_end_to_end(
    run_cli: RunCli, scripted: ScriptedServer, packages: Packages, ca_bundle: Path, home: Path
) -> None:
    """A connection dropped mid-package is retried and the feed is activated (the Range
    resume itself is tested in tests/feed/test_fetch.py)."""
    data = packages.new.data
    dropped = [False]

    def index(handler: BaseHTTPRequestHandler) -> None:
        body = atom_index([packages.new.entry("new.zip")])
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def package(handler: BaseHTTPRequestHandler) -> None:
        wanted = handler.headers.get("Range")
        start = int(wanted.removeprefix("bytes=").rstrip("-")) if wanted else 0
        handler.send_response(206 if start else 200)
        if start:
            handler.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        handler.send_header("Content-Length", str(len(data) - start))
        handler.send_header("ETag", '"p"')
        handler.end_headers()
        if not dropped[0]:
            dropped[0] = True
            handler.wfile.write(data[: len(data) // 2])
            handler.connection.close()
            return
        handler.wfile.write(data[start:])

    scripted.routes["/index.xml"] = index
    scripted.routes["/new.zip"] = package
    result = run_cli(
        "update",
        "--url",
        scripted.url_for("/index.xml"),
        "--ca-bundle",
        ca_bundle,
        "--trust",
        PUBLIC_KEY,
    )
    assert result.code == 0, result.err
    assert _active(home) == NEW_VERSION
    assert dropped[0]
    assert leftovers(home) == []


def _serve(body: bytes) -> Callable[[BaseHTTPRequestHandler], None]:
    def script(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return script


@pytest.mark.usefixtures("with_old_feed")
@pytest.mark.parametrize("slow", ["/index.xml", "/hop.xml", "/new.zip"])
def test_dripping_server_fails_at_the_configured_deadline(
    run_cli: RunCli,
    *,
    scripted: ScriptedServer,
    packages: Packages,
    ca_bundle: Path,
    home: Path,
    slow: str,
) -> None:
    """A server dripping the index, an alternate hop or the package one byte at a time is cut
    off at network.deadline (1 s here): exit 4, one line, store unchanged, no partial file."""
    documents = {
        "/index.xml": atom_index(alternates=["hop.xml"]),
        "/hop.xml": atom_index([packages.new.entry("new.zip")]),
        "/new.zip": packages.new.data,
    }
    for path, body in documents.items():
        scripted.routes[path] = drip(body, every=0.02) if path == slow else _serve(body)
    assert run_cli("config", "set", "network.deadline", "1").code == 0
    before = FeedStore(home).feeds()
    started = time.monotonic()
    result = run_cli(
        "update",
        "--url",
        scripted.url_for("/index.xml"),
        "--ca-bundle",
        ca_bundle,
        "--trust",
        PUBLIC_KEY,
    )
    assert result.code == 4, result.err
    assert time.monotonic() - started < 5
    assert result.err == (
        f"feedmgr: error: {scripted.url_for(slow)}: the transfer did not finish within 1 s "
        "(network.deadline); the server is too slow or stalls\n"
    )
    assert FeedStore(home).feeds() == before
    assert _active(home) == OLD_VERSION
    assert leftovers(home) == []
    assert FeedStore(home).cached_response(scripted.url_for("/index.xml")) is None


@pytest.mark.usefixtures("with_old_feed")
@pytest.mark.parametrize("silent", ["/index.xml", "/hop.xml", "/new.zip"])
def test_server_never_sending_headers_fails_at_the_response_limit(
    run_cli: RunCli,
    monkeypatch: pytest.MonkeyPatch,
    *,
    scripted: ScriptedServer,
    packages: Packages,
    ca_bundle: Path,
    home: Path,
    silent: str,
) -> None:
    """A server that takes the request for the index, an alternate hop or the package and
    never answers fails once the response limit (the 20 s rate grace, 0.5 s here) is over,
    well before network.deadline and without retries: exit 4, one line naming the URL, store
    unchanged, no partial file."""
    monkeypatch.setattr("feedmgr.net.transport.RATE_GRACE_SECONDS", 0.5)
    documents = {
        "/index.xml": atom_index(alternates=["hop.xml"]),
        "/hop.xml": atom_index([packages.new.entry("new.zip")]),
        "/new.zip": packages.new.data,
    }
    for path, body in documents.items():
        scripted.routes[path] = (
            (lambda handler: until_hangup(handler.connection)) if path == silent else _serve(body)
        )
    assert run_cli("config", "set", "network.deadline", "10").code == 0
    before = FeedStore(home).feeds()
    started = time.monotonic()
    result = run_cli(
        "update",
        "--url",
        scripted.url_for("/index.xml"),
        "--ca-bundle",
        ca_bundle,
        "--trust",
        PUBLIC_KEY,
    )
    assert result.code == 4, result.err
    assert time.monotonic() - started < 5
    assert result.err == (
        f"feedmgr: error: {scripted.url_for(silent)}: the server did not send its response "
        "headers within 0.5 s of the request (network.min_rate); the server is too slow or "
        "stalls\n"
    )
    assert [path for path, _ in scripted.seen].count(silent) == 1
    assert FeedStore(home).feeds() == before
    assert _active(home) == OLD_VERSION
    assert leftovers(home) == []
    assert FeedStore(home).cached_response(scripted.url_for("/index.xml")) is None


def _damage_catalog_blob(home: Path) -> Path:
    """Flip one byte of the stored sample OS catalog (bit rot) and return the blob's path."""
    from tests.feed.test_ingest import catalog_blob, flip_one_byte

    blob = catalog_blob(home)
    flip_one_byte(blob)
    return blob


def test_online_update_repairs_a_damaged_active_feed_it_would_call_unchanged(
    run_cli: RunCli, net: Net, home: Path, with_old_feed: Path
) -> None:
    """When the index offers the active version and a stored blob of it rotted, update
    downloads the package and repairs the store as --offline does, instead of 'unchanged'."""
    del with_old_feed
    net.server.expect_request(INDEX).respond_with_data(
        atom_index([net.packages.old.entry("feeds/old.zip")])
    )
    net.server.expect_request("/feeds/old.zip").respond_with_data(net.packages.old.data)
    blob = _damage_catalog_blob(home)
    result = run_cli("update", *_online(net.server, net.ca_bundle, "--trust", PUBLIC_KEY))
    assert result.code == 0, result.err
    assert result.out.startswith(f"repaired: feed {OLD_VERSION} is active")
    package_url = net.server.url_for("/feeds/old.zip")
    assert f"repaired damaged blob {blob} with the bytes verified from {package_url}" in result.err
    assert run_cli("status", "--verify").code == 0
    again = run_cli("update", *_online(net.server, net.ca_bundle, "--format", "json"))
    assert again.json()["status"] == "unchanged"


def test_online_update_never_calls_a_damaged_store_unchanged(
    run_cli: RunCli, net: Net, home: Path
) -> None:
    """When the index offers only an older feed, a damaged active feed cannot be repaired
    from it: update says the store is damaged (exit 5), never 'unchanged'."""
    newer = home.parent / "new.zip"
    newer.write_bytes(net.packages.new.data)
    assert run_cli("update", "--offline", newer, "--trust", PUBLIC_KEY).code == 0
    net.server.expect_request(INDEX).respond_with_data(
        atom_index([net.packages.old.entry("feeds/old.zip")])
    )
    _damage_catalog_blob(home)
    result = run_cli("update", *_online(net.server, net.ca_bundle))
    assert result.code == 5, result.err
    assert "unchanged" not in result.out + result.err
    assert result.err.startswith(f"feedmgr: error: feed {NEW_VERSION}: ")
    assert "damaged" in result.err
    assert len(result.err.splitlines()) == 1


PRE_VERSION = "2027.1.0rc1"


@pytest.fixture
def pre_package(packages: Packages, tmp_path: Path) -> bytes:
    """A signed package of the pre-release 2027.1.0rc1 (demo publisher key)."""
    from tests.feed.netserver import SAMPLE, _build

    return _build(
        SAMPLE / "src", tmp_path / "pre.zip", PRE_VERSION, SAMPLE / "demo-publisher.key.pem"
    ).data


def _offer_with_pre(net: Net, pre: bytes) -> None:
    import hashlib

    pre_entry = Entry("feeds/pre.zip", PRE_VERSION, hashlib.sha256(pre).hexdigest(), len(pre))
    net.server.expect_request(INDEX).respond_with_data(
        atom_index([net.packages.new.entry("feeds/new.zip"), pre_entry]),
        content_type="application/atom+xml",
    )
    net.server.expect_request("/feeds/new.zip").respond_with_data(net.packages.new.data)
    net.server.expect_request("/feeds/pre.zip").respond_with_data(pre)


@pytest.mark.usefixtures("with_old_feed")
def test_update_skips_a_pre_release_and_check_says_so(
    run_cli: RunCli, net: Net, home: Path, pre_package: bytes
) -> None:
    """A pre-release feed is neither offered by --check nor installed by update unless --pre
    is given (PEP 440); --check names the pre-release it skipped."""
    _offer_with_pre(net, pre_package)
    checked = run_cli("update", "--check", *_online(net.server, net.ca_bundle))
    assert checked.code == 0, checked.err
    assert checked.out.splitlines() == [
        f"update available: feed {NEW_VERSION} (active: {OLD_VERSION})",
        f"skipped: pre-release feed {PRE_VERSION} is offered too (use --pre to take it)",
    ]
    as_json = run_cli("update", "--check", *_online(net.server, net.ca_bundle, "--format", "json"))
    assert (as_json.json()["available"], as_json.json()["skipped_prerelease"]) == (
        NEW_VERSION,
        PRE_VERSION,
    )
    result = run_cli("update", *_online(net.server, net.ca_bundle, "--trust", PUBLIC_KEY))
    assert result.code == 0, result.err
    assert result.out.startswith(f"activated: feed {NEW_VERSION}")
    assert f"pre-release feed {PRE_VERSION}" in result.err
    assert _active(home) == NEW_VERSION
    pre = run_cli("update", "--pre", *_online(net.server, net.ca_bundle, "--trust", PUBLIC_KEY))
    assert pre.code == 0, pre.err
    assert pre.out.startswith(f"activated: feed {PRE_VERSION}")
    assert _active(home) == PRE_VERSION


def test_pre_is_for_online_updates(run_cli: RunCli, tmp_path: Path) -> None:
    """--pre with --offline is a usage error (an offline package is chosen by its path)."""
    result = run_cli("update", "--offline", tmp_path / "feed.zip", "--pre")
    assert result.code == 2
    assert "--pre" in result.err


@pytest.mark.usefixtures("with_old_feed")
def test_a_feed_activated_meanwhile_makes_the_slow_download_unchanged(
    run_cli: RunCli, net: Net, home: Path, tmp_path: Path
) -> None:
    """Two updates at once: while this one downloads 2026.12.01, another run activates
    2027.1.0. Checked again under the store lock, the download is an older offer, which
    docs/online-updates.md reports as unchanged (exit 0), not a downgrade refusal."""
    from werkzeug import Request, Response

    from feedmgr.feed.ingest import ingest_package
    from feedmgr.feed.signing import load_public_key, read_key_file
    from tests.feed.netserver import SAMPLE, _build

    newest = _build(
        SAMPLE / "src", tmp_path / "newest.zip", "2027.1.0", SAMPLE / "demo-publisher.key.pem"
    )
    key = load_public_key(read_key_file(PUBLIC_KEY), str(PUBLIC_KEY))

    def other_run_wins(request: Request) -> Response:
        del request
        ingest_package(FeedStore(home), tmp_path / "newest.zip", extra_keys=[key])
        return Response(net.packages.new.data, content_type="application/zip")

    net.server.expect_request(INDEX).respond_with_data(
        atom_index([net.packages.new.entry("feeds/new.zip")])
    )
    net.server.expect_request("/feeds/new.zip").respond_with_handler(other_run_wins)
    result = run_cli("update", *_online(net.server, net.ca_bundle, "--trust", PUBLIC_KEY))
    assert result.code == 0, result.err
    assert (
        result.out
        == f"unchanged: feed {newest.version} is active; the index offers {NEW_VERSION}\n"
    )
    assert _active(home) == newest.version
    assert leftovers(home) == []


@pytest.fixture
def rolled_back(run_cli: RunCli, net: Net, home: Path, with_old_feed: Path) -> None:
    """The admin updated online to 2026.12.01, then rolled back to 2026.11.25 (guide 02)."""
    del with_old_feed
    _offer(net.server, net.packages)
    assert run_cli("update", *_online(net.server, net.ca_bundle, "--trust", PUBLIC_KEY)).code == 0
    assert run_cli("rollback").code == 0
    assert _active(home) == OLD_VERSION
    net.server.clear()


@pytest.mark.usefixtures("rolled_back")
def test_a_scheduled_update_does_not_undo_a_rollback(run_cli: RunCli, net: Net, home: Path) -> None:
    """After 'feedmgr rollback' away from 2026.12.01, the next (cron) update does not put it
    back: it reports the offer as held, exit 0, naming the version and the way out."""
    from datetime import UTC, datetime

    _offer(net.server, net.packages)
    args = _online(net.server, net.ca_bundle, "--trust", PUBLIC_KEY)
    result = run_cli("update", *args)
    assert result.code == 0, result.err
    today = datetime.now(UTC).date().isoformat()
    assert result.out == (
        f"held: the index offers feed {NEW_VERSION}, but feed {NEW_VERSION} was rolled back "
        f"from on {today}; not installing it (--allow-rolled-back, or a feed newer than "
        f"{NEW_VERSION}, lifts the hold)\n"
    )
    assert _active(home) == OLD_VERSION
    assert "/feeds/new.zip" not in [r.path for r, _ in net.server.log]
    as_json = run_cli("update", *args, "--format", "json").json()
    assert (as_json["status"], as_json["version"], as_json["held_version"]) == (
        "held",
        OLD_VERSION,
        NEW_VERSION,
    )
    checked = run_cli("update", "--check", *_online(net.server, net.ca_bundle, "--format", "json"))
    assert (checked.json()["status"], checked.json()["held_version"]) == ("held", NEW_VERSION)
    lifted = run_cli("update", *args, "--allow-rolled-back")
    assert lifted.code == 0, lifted.err
    assert lifted.out.startswith(f"reactivated: feed {NEW_VERSION}")
    assert _active(home) == NEW_VERSION


@pytest.mark.usefixtures("rolled_back")
def test_a_feed_newer_than_the_rolled_back_one_lifts_the_hold(
    run_cli: RunCli, net: Net, home: Path, tmp_path: Path
) -> None:
    """A feed newer than the version rolled back from is installed as usual; after it, the
    hold is gone."""
    import hashlib

    from tests.feed.netserver import SAMPLE, _build

    newest = _build(
        SAMPLE / "src", tmp_path / "newest.zip", "2027.1.0", SAMPLE / "demo-publisher.key.pem"
    )
    digest = hashlib.sha256(newest.data).hexdigest()
    net.server.expect_request(INDEX).respond_with_data(
        atom_index([Entry("feeds/newest.zip", "2027.1.0", digest, len(newest.data))])
    )
    net.server.expect_request("/feeds/newest.zip").respond_with_data(newest.data)
    result = run_cli("update", *_online(net.server, net.ca_bundle, "--trust", PUBLIC_KEY))
    assert result.code == 0, result.err
    assert result.out.startswith("activated: feed 2027.1.0")
    assert _active(home) == "2027.1.0"


def test_the_hold_covers_the_highest_version_left_by_rollbacks_in_a_row(
    run_cli: RunCli, home: Path, tmp_path: Path, packages: Packages
) -> None:
    """Two rollbacks in a row (2027.1.0 -> 2026.12.01 -> 2026.11.25) hold everything up to
    2027.1.0; an update that is not a rollback ends the hold."""
    from feedmgr.feed.lifecycle import rollback_hold
    from tests.feed.netserver import SAMPLE, _build

    newest = _build(
        SAMPLE / "src", tmp_path / "newest.zip", "2027.1.0", SAMPLE / "demo-publisher.key.pem"
    )
    for data, name in ((packages.old.data, "o"), (packages.new.data, "n"), (newest.data, "x")):
        (tmp_path / f"{name}.zip").write_bytes(data)
        ingest = run_cli("update", "--offline", tmp_path / f"{name}.zip", "--trust", PUBLIC_KEY)
        assert ingest.code == 0, ingest.err
    assert rollback_hold(FeedStore(home)) is None
    assert run_cli("rollback").code == 0
    assert run_cli("rollback", OLD_VERSION).code == 0
    hold = rollback_hold(FeedStore(home))
    assert hold is not None
    assert hold.version == "2027.1.0"
    again = run_cli("update", "--offline", tmp_path / "n.zip", "--trust", PUBLIC_KEY)
    assert again.code == 0, again.err
    assert rollback_hold(FeedStore(home)) is None
