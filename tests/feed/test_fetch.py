"""The online client against real HTTPS servers on loopback (trustme certificates)."""

from __future__ import annotations

import contextlib
import hashlib
import ssl
import time
from dataclasses import replace
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
import trustme
from pytest_httpserver import HTTPServer

from feedmgr.errors import (
    InputRejected,
    IntegrityError,
    NetworkError,
    SchemaError,
)
from feedmgr.feed.download import (
    STALE_TEMP_SECONDS,
    TEMP_PREFIX,
    TEMP_SUFFIX,
    remove_stale_downloads,
)
from feedmgr.feed.fetch import FeedClient, FetchSettings
from feedmgr.feed.index import PackageRef
from feedmgr.net.transport import TransportSettings
from tests.feed.netserver import (
    ConnectProxy,
    Packages,
    ScriptedServer,
    atom_index,
)

BASE = "https://feeds.example.net/posture/index.xml"
DIGEST = "ab" * 32


class Sleeps:
    """A recording stand-in for time.sleep: tests assert the waits, without waiting."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    """Recorded backoff waits."""
    return Sleeps()


@pytest.fixture
def fetch_settings(ca_bundle: Path, sleeps: Sleeps) -> FetchSettings:
    """Client settings trusting the test CA, with short timeouts and recorded sleeps."""
    return FetchSettings(
        TransportSettings(
            ca_bundle=ca_bundle, connect_timeout=2, read_timeout=2, retries=2, sleep=sleeps
        )
    )


def _transport(settings: FetchSettings, **changes: object) -> FetchSettings:
    """``settings`` with some transport settings changed."""
    return replace(settings, transport=replace(settings.transport, **changes))  # type: ignore[arg-type]


# -- the index over HTTPS -------------------------------------------------------------------


def _serve_package(server: HTTPServer, data: bytes, path: str = "/pkg/feed.zip") -> None:
    server.expect_request(path).respond_with_data(data, content_type="application/zip")


def test_happy_path_resolves_and_downloads(
    https_server: HTTPServer, packages: Packages, fetch_settings: FetchSettings, tmp_path: Path
) -> None:
    """Index -> newest package -> download: size and sha256 match, the file lives in the
    given directory only while in use."""
    package = packages.new
    https_server.expect_request("/index.xml").respond_with_data(
        atom_index([packages.old.entry("pkg/old.zip"), package.entry("pkg/feed.zip")]),
        headers={"ETag": '"idx-1"'},
    )
    _serve_package(https_server, package.data)
    with FeedClient(fetch_settings) as client:
        result = client.resolve_index(https_server.url_for("/index.xml"))
        assert result.package.version == package.version
        assert result.package.url == https_server.url_for("/pkg/feed.zip")
        assert [u.etag for u in result.cache_updates] == ['"idx-1"']
        with client.download(result.package, tmp_path) as download:
            assert download.path.parent == tmp_path
            assert download.path.read_bytes() == package.data
            assert download.sha256 == package.sha256
    assert list(tmp_path.iterdir()) == []


def test_not_modified_index_costs_one_conditional_request(
    https_server: HTTPServer, packages: Packages, fetch_settings: FetchSettings
) -> None:
    """With a cached ETag and Last-Modified, an unchanged index is one 304 answered from cache."""
    body = atom_index([packages.new.entry("feed.zip")])
    https_server.expect_request(
        "/index.xml", headers={"If-None-Match": '"v7"', "If-Modified-Since": "Tue, 24 Nov 2026"}
    ).respond_with_data("", status=304)
    url = https_server.url_for("/index.xml")

    def cache(asked: str) -> tuple[str | None, str | None, bytes] | None:
        return ('"v7"', "Tue, 24 Nov 2026", body) if asked == url else None

    with FeedClient(fetch_settings) as client:
        result = client.resolve_index(url, cache)
    assert result.package.version == packages.new.version
    assert result.not_modified == (url,)
    assert result.cache_updates == ()
    assert len(https_server.log) == 1
    assert https_server.log[0][1].status_code == 304


def test_alternate_link_chain_is_followed(
    https_server: HTTPServer, packages: Packages, fetch_settings: FetchSettings
) -> None:
    """index -> alternate -> alternate -> package entry; hrefs resolve per document."""
    https_server.expect_request("/index.xml").respond_with_data(
        atom_index(alternates=["hop/one.xml"])
    )
    https_server.expect_request("/hop/one.xml").respond_with_data(
        atom_index(alternates=["../final/two.xml"])
    )
    https_server.expect_request("/final/two.xml").respond_with_data(
        atom_index([packages.new.entry("feed.zip")])
    )
    with FeedClient(fetch_settings) as client:
        result = client.resolve_index(https_server.url_for("/index.xml"))
    assert result.package.url == https_server.url_for("/final/feed.zip")
    assert result.documents == tuple(
        https_server.url_for(p) for p in ("/index.xml", "/hop/one.xml", "/final/two.xml")
    )


def test_alternate_link_loop_is_refused(
    https_server: HTTPServer, fetch_settings: FetchSettings
) -> None:
    """Alternate links that lead back to a visited document are a loop, not followed forever."""
    https_server.expect_request("/a.xml").respond_with_data(atom_index(alternates=["b.xml"]))
    https_server.expect_request("/b.xml").respond_with_data(atom_index(alternates=["a.xml"]))
    with FeedClient(fetch_settings) as client, pytest.raises(InputRejected) as caught:
        client.resolve_index(https_server.url_for("/a.xml"))
    assert caught.value.details["reason"] == "alternate-loop"
    assert len(https_server.log) == 2


def test_alternate_links_deeper_than_five_hops_are_refused(
    https_server: HTTPServer, packages: Packages, fetch_settings: FetchSettings
) -> None:
    """Five alternate hops are followed; a sixth is refused."""
    for number in range(7):
        https_server.expect_request(f"/{number}.xml").respond_with_data(
            atom_index(alternates=[f"{number + 1}.xml"])
        )
    https_server.expect_request("/7.xml").respond_with_data(
        atom_index([packages.new.entry("f.zip")])
    )
    with FeedClient(fetch_settings) as client:
        assert client.resolve_index(https_server.url_for("/2.xml")).package.version
        with pytest.raises(InputRejected) as caught:
            client.resolve_index(https_server.url_for("/1.xml"))
    assert caught.value.details["reason"] == "too-many-hops"


def test_document_without_package_or_alternate_is_rejected(
    https_server: HTTPServer, fetch_settings: FetchSettings
) -> None:
    """An index offering neither a package nor a link to follow is bad content."""
    https_server.expect_request("/i.xml").respond_with_data(atom_index())
    with FeedClient(fetch_settings) as client, pytest.raises(SchemaError, match="no package"):
        client.resolve_index(https_server.url_for("/i.xml"))


def test_oversized_index_is_refused(
    https_server: HTTPServer, fetch_settings: FetchSettings
) -> None:
    """An index larger than the index limit is refused while reading, not loaded whole."""
    https_server.expect_request("/i.xml").respond_with_data(b"<feed>" + b" " * 5000)
    client_settings = replace(fetch_settings, max_index_bytes=1000)
    with FeedClient(client_settings) as client, pytest.raises(InputRejected, match="larger"):
        client.resolve_index(https_server.url_for("/i.xml"))


# -- redirects, TLS, status codes, retries --------------------------------------------------


def test_redirect_loop_is_refused(https_server: HTTPServer, fetch_settings: FetchSettings) -> None:
    """Redirects that come back to a URL already visited stop with a network error."""
    https_server.expect_request("/a").respond_with_data("", status=302, headers={"Location": "/b"})
    https_server.expect_request("/b").respond_with_data(
        "", status=301, headers={"Location": https_server.url_for("/a")}
    )
    with FeedClient(fetch_settings) as client, pytest.raises(NetworkError) as caught:
        client.resolve_index(https_server.url_for("/a"))
    assert caught.value.details["reason"] == "redirect-loop"


def test_redirect_to_plain_http_is_refused(
    https_server: HTTPServer, fetch_settings: FetchSettings
) -> None:
    """A redirect to http:// is never followed."""
    https_server.expect_request("/i.xml").respond_with_data(
        "", status=302, headers={"Location": "http://127.0.0.1:9/i.xml"}
    )
    with FeedClient(fetch_settings) as client, pytest.raises(NetworkError) as caught:
        client.resolve_index(https_server.url_for("/i.xml"))
    assert caught.value.details["reason"] == "insecure-redirect"
    assert "not https://" in caught.value.problem


def test_redirect_within_https_is_followed_and_links_resolve_against_the_target(
    https_server: HTTPServer, packages: Packages, fetch_settings: FetchSettings
) -> None:
    """After a redirect, relative hrefs resolve against the final document URL."""
    https_server.expect_request("/old/i.xml").respond_with_data(
        "", status=308, headers={"Location": "/new/i.xml"}
    )
    https_server.expect_request("/new/i.xml").respond_with_data(
        atom_index([packages.new.entry("f.zip")])
    )
    with FeedClient(fetch_settings) as client:
        result = client.resolve_index(https_server.url_for("/old/i.xml"))
    assert result.package.url == https_server.url_for("/new/f.zip")


def test_untrusted_certificate_is_refused(https_server: HTTPServer, sleeps: Sleeps) -> None:
    """Without the test CA (system store only) the loopback certificate is not trusted;
    TLS failures are not retried."""
    https_server.expect_request("/i.xml").respond_with_data(atom_index())
    with (
        FeedClient(FetchSettings(TransportSettings(sleep=sleeps))) as client,
        pytest.raises(NetworkError) as caught,
    ):
        client.resolve_index(https_server.url_for("/i.xml"))
    assert caught.value.details["reason"] == "tls"
    assert "--ca-bundle" in caught.value.problem
    assert sleeps.calls == []


def test_certificate_for_another_host_is_refused(
    tls_ca: trustme.CA, fetch_settings: FetchSettings
) -> None:
    """A certificate from a trusted CA but for another name is refused (no CN fallback)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls_ca.issue_cert("feeds.example.net", common_name="127.0.0.1").configure_cert(context)
    server = ScriptedServer(context)
    server.start()
    try:
        with FeedClient(fetch_settings) as client, pytest.raises(NetworkError) as caught:
            client.resolve_index(server.url_for("/i.xml"))
    finally:
        server.stop()
    assert caught.value.details["reason"] == "tls"
    assert "not valid for this host" in caught.value.problem


def test_server_error_then_success_is_retried_with_backoff(
    https_server: HTTPServer, packages: Packages, fetch_settings: FetchSettings, sleeps: Sleeps
) -> None:
    """A 500 is retried after the backoff delay; the next 200 succeeds."""
    https_server.expect_ordered_request("/i.xml").respond_with_data("boom", status=500)
    https_server.expect_ordered_request("/i.xml").respond_with_data(
        atom_index([packages.new.entry("f.zip")])
    )
    with FeedClient(fetch_settings) as client:
        result = client.resolve_index(https_server.url_for("/i.xml"))
    assert result.package.version == packages.new.version
    assert sleeps.calls == [1.0]


def test_too_many_requests_honoursretry_after(
    https_server: HTTPServer, packages: Packages, fetch_settings: FetchSettings, sleeps: Sleeps
) -> None:
    """A 429 with Retry-After: 7 waits 7 s (not the backoff) before retrying."""
    https_server.expect_ordered_request("/i.xml").respond_with_data(
        "", status=429, headers={"Retry-After": "7"}
    )
    https_server.expect_ordered_request("/i.xml").respond_with_data(
        atom_index([packages.new.entry("f.zip")])
    )
    with FeedClient(fetch_settings) as client:
        client.resolve_index(https_server.url_for("/i.xml"))
    assert sleeps.calls == [7.0]


def test_retry_after_beyond_the_patience_limit_gives_up(
    https_server: HTTPServer, fetch_settings: FetchSettings, sleeps: Sleeps
) -> None:
    """A server asking for an hour's wait gets a clear 'try again later', not an hour's wait."""
    https_server.expect_request("/i.xml").respond_with_data(
        "", status=503, headers={"Retry-After": "3600"}
    )
    with FeedClient(fetch_settings) as client, pytest.raises(NetworkError, match="later"):
        client.resolve_index(https_server.url_for("/i.xml"))
    assert sleeps.calls == []


def test_persistent_server_errors_give_up_after_the_retries(
    https_server: HTTPServer, fetch_settings: FetchSettings, sleeps: Sleeps
) -> None:
    """A server that keeps failing is tried retries+1 times with doubling backoff."""
    https_server.expect_request("/i.xml").respond_with_data("", status=502)
    with FeedClient(fetch_settings) as client, pytest.raises(NetworkError) as caught:
        client.resolve_index(https_server.url_for("/i.xml"))
    assert caught.value.details["status"] == 502
    assert len(https_server.log) == 3
    assert sleeps.calls == [1.0, 2.0]


@pytest.mark.parametrize("status", [400, 403, 404, 410])
def test_other_client_errors_are_not_retried(
    https_server: HTTPServer, fetch_settings: FetchSettings, sleeps: Sleeps, status: int
) -> None:
    """4xx other than 429 is final: one request, no backoff."""
    https_server.expect_request("/i.xml").respond_with_data("", status=status)
    with FeedClient(fetch_settings) as client, pytest.raises(NetworkError) as caught:
        client.resolve_index(https_server.url_for("/i.xml"))
    assert caught.value.details["status"] == status
    assert len(https_server.log) == 1
    assert sleeps.calls == []


def test_connection_refused_is_retried_then_reported(
    fetch_settings: FetchSettings, sleeps: Sleeps
) -> None:
    """Nothing listening: retried with backoff, then one network error."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with FeedClient(fetch_settings) as client, pytest.raises(NetworkError) as caught:
        client.resolve_index(f"https://127.0.0.1:{port}/i.xml")
    assert caught.value.details["reason"] == "connection"
    assert sleeps.calls == [1.0, 2.0]


def test_slow_server_times_out(
    scripted: ScriptedServer, fetch_settings: FetchSettings, sleeps: Sleeps
) -> None:
    """A server that does not answer within the read timeout fails with a timeout error."""

    def stall(handler: BaseHTTPRequestHandler) -> None:
        time.sleep(3)
        handler.send_response(200)
        handler.end_headers()

    scripted.routes["/i.xml"] = stall
    quick = _transport(fetch_settings, read_timeout=0.3, retries=1)
    started = time.monotonic()
    with FeedClient(quick) as client, pytest.raises(NetworkError) as caught:
        client.resolve_index(scripted.url_for("/i.xml"))
    assert caught.value.details["reason"] == "timeout"
    assert time.monotonic() - started < 2.5
    assert sleeps.calls == [1.0]


def test_proxy_setting_tunnels_through_connect(
    https_server: HTTPServer,
    packages: Packages,
    fetch_settings: FetchSettings,
    connect_proxy: ConnectProxy,
) -> None:
    """With a proxy configured, the client asks it for a CONNECT tunnel to the server."""
    https_server.expect_request("/i.xml").respond_with_data(
        atom_index([packages.new.entry("f.zip")])
    )
    with FeedClient(_transport(fetch_settings, proxy=connect_proxy.url)) as client:
        client.resolve_index(https_server.url_for("/i.xml"))
    assert connect_proxy.targets == [f"127.0.0.1:{https_server.port}"]


def test_https_proxy_environment_is_honoured(
    https_server: HTTPServer,
    packages: Packages,
    fetch_settings: FetchSettings,
    connect_proxy: ConnectProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """HTTPS_PROXY is used when no proxy is configured; NO_PROXY exempts a host."""
    https_server.expect_request("/i.xml").respond_with_data(
        atom_index([packages.new.entry("f.zip")])
    )
    monkeypatch.setenv("HTTPS_PROXY", connect_proxy.url)
    with FeedClient(fetch_settings) as client:
        client.resolve_index(https_server.url_for("/i.xml"))
    assert len(connect_proxy.targets) == 1
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with FeedClient(fetch_settings) as client:
        client.resolve_index(https_server.url_for("/i.xml"))
    assert len(connect_proxy.targets) == 1


# -- the package download -------------------------------------------------------------------


def _ref(url: str, data: bytes, length: int | None = -1, digest: str | None = None) -> PackageRef:
    return PackageRef(
        url,
        "1.0",
        digest or hashlib.sha256(data).hexdigest(),
        len(data) if length == -1 else length,
        url,
    )


@pytest.mark.parametrize(
    ("body_delta", "reason"),
    [(-100, "truncated"), (+100, "too-large")],
)
def test_body_shorter_or_longer_than_announced_is_rejected(
    https_server: HTTPServer,
    fetch_settings: FetchSettings,
    tmp_path: Path,
    body_delta: int,
    reason: str,
) -> None:
    """A body shorter or longer than the enclosure length is bad content; no file remains."""
    data = bytes(range(256)) * 40
    served = data[:body_delta] if body_delta < 0 else data + b"x" * body_delta
    _serve_package(https_server, served)
    ref = _ref(https_server.url_for("/pkg/feed.zip"), data)
    with FeedClient(fetch_settings) as client, pytest.raises(IntegrityError) as caught:  # noqa: SIM117
        with client.download(ref, tmp_path):
            pass
    assert caught.value.details["reason"] == reason
    assert list(tmp_path.iterdir()) == []


def test_unannounced_oversize_body_stops_at_the_absolute_cap(
    scripted: ScriptedServer, fetch_settings: FetchSettings, tmp_path: Path
) -> None:
    """Without a length in the index, a body without Content-Length stops at the absolute cap."""

    def endless(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.end_headers()
        for _ in range(100):
            handler.wfile.write(b"z" * 1024)

    scripted.routes["/f.zip"] = endless
    ref = _ref(scripted.url_for("/f.zip"), b"", length=None)
    capped = replace(fetch_settings, max_download_bytes=10_000)
    with FeedClient(capped) as client, pytest.raises(IntegrityError) as caught:  # noqa: SIM117
        with client.download(ref, tmp_path):
            pass
    assert caught.value.details["reason"] == "too-large"
    assert "feed.max_download_bytes" in caught.value.problem
    assert list(tmp_path.iterdir()) == []


def test_announced_length_over_the_cap_is_refused_before_any_request(
    https_server: HTTPServer, fetch_settings: FetchSettings, tmp_path: Path
) -> None:
    """An enclosure length above feed.max_download_bytes is refused without downloading."""
    ref = _ref(https_server.url_for("/pkg/feed.zip"), b"", length=10**9)
    with FeedClient(replace(fetch_settings, max_download_bytes=10**6)) as client:  # noqa: SIM117
        with pytest.raises(InputRejected, match="exceeds the download cap"):
            with client.download(ref, tmp_path):
                pass
    assert https_server.log == []


def test_wrong_sha256_is_rejected(
    https_server: HTTPServer, fetch_settings: FetchSettings, tmp_path: Path
) -> None:
    """A body whose sha256 differs from the index is rejected and removed."""
    data = b"PK" + b"\0" * 500
    _serve_package(https_server, data)
    ref = _ref(https_server.url_for("/pkg/feed.zip"), data, digest="0" * 64)
    with FeedClient(fetch_settings) as client, pytest.raises(IntegrityError) as caught:  # noqa: SIM117
        with client.download(ref, tmp_path):
            pass
    assert caught.value.details["reason"] == "sha256"
    assert list(tmp_path.iterdir()) == []


def _dropping_server(data: bytes, *, ranges: bool, drops: int = 1) -> tuple[object, list[int]]:
    """A script that drops the connection mid-body ``drops`` times, then serves the rest."""
    count = [0]

    def script(handler: BaseHTTPRequestHandler) -> None:
        wanted = handler.headers.get("Range")
        start = 0
        if ranges and wanted:
            start = int(wanted.removeprefix("bytes=").rstrip("-"))
            handler.send_response(206)
            handler.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            handler.send_response(200)
        handler.send_header("Content-Length", str(len(data) - start))
        handler.send_header("ETag", '"pkg-1"')
        if ranges:
            handler.send_header("Accept-Ranges", "bytes")
        handler.end_headers()
        body = data[start:]
        if count[0] < drops:
            count[0] += 1
            handler.wfile.write(body[: len(body) // 2])
            handler.wfile.flush()
            handler.close_connection = True
            handler.connection.close()
            return
        handler.wfile.write(body)

    return script, count


def test_dropped_connection_is_resumed_with_range(
    scripted: ScriptedServer, fetch_settings: FetchSettings, tmp_path: Path
) -> None:
    """After a dropped connection the download resumes with Range/If-Range and completes."""
    data = bytes(range(256)) * 1600
    script, _ = _dropping_server(data, ranges=True)
    scripted.routes["/f.zip"] = script  # type: ignore[assignment]
    ref = _ref(scripted.url_for("/f.zip"), data)
    with FeedClient(fetch_settings) as client, client.download(ref, tmp_path) as download:
        assert download.path.read_bytes() == data
        assert download.resumed == 1
    second = scripted.seen[1][1]
    assert second["Range"].startswith("bytes=")
    assert int(second["Range"].removeprefix("bytes=").rstrip("-")) > 0
    assert second["If-Range"] == '"pkg-1"'
    assert list(tmp_path.iterdir()) == []


def test_dropped_connection_without_range_support_restarts(
    scripted: ScriptedServer, fetch_settings: FetchSettings, tmp_path: Path
) -> None:
    """A server that ignores Range sends the whole file again; the download starts over."""
    data = bytes(range(256)) * 1600
    script, _ = _dropping_server(data, ranges=False)
    scripted.routes["/f.zip"] = script  # type: ignore[assignment]
    ref = _ref(scripted.url_for("/f.zip"), data)
    with FeedClient(fetch_settings) as client, client.download(ref, tmp_path) as download:
        assert download.path.read_bytes() == data
        assert download.resumed == 0


def test_connection_that_keeps_dropping_gives_up(
    scripted: ScriptedServer, fetch_settings: FetchSettings, tmp_path: Path, sleeps: Sleeps
) -> None:
    """Drops beyond the retry budget end in a network error and no temporary file."""
    data = bytes(range(256)) * 1600
    script, _ = _dropping_server(data, ranges=True, drops=99)
    scripted.routes["/f.zip"] = script  # type: ignore[assignment]
    ref = _ref(scripted.url_for("/f.zip"), data)
    with FeedClient(fetch_settings) as client, pytest.raises(NetworkError) as caught:  # noqa: SIM117
        with client.download(ref, tmp_path):
            pass
    assert caught.value.details["reason"] == "dropped"
    assert sleeps.calls == [1.0, 2.0]
    assert list(tmp_path.iterdir()) == []


def test_progress_is_reported_while_downloading(
    https_server: HTTPServer, packages: Packages, fetch_settings: FetchSettings, tmp_path: Path
) -> None:
    """The progress callback sees the growing byte count and the announced total."""
    _serve_package(https_server, packages.new.data)
    ref = _ref(https_server.url_for("/pkg/feed.zip"), packages.new.data)
    seen: list[tuple[int, int | None]] = []
    with FeedClient(fetch_settings) as client:  # noqa: SIM117
        with client.download(ref, tmp_path, progress=lambda d, t: seen.append((d, t))):
            pass
    assert seen[-1] == (len(packages.new.data), len(packages.new.data))


def test_stale_temporary_downloads_are_removed(tmp_path: Path) -> None:
    """Temporary downloads of dead processes (older than a day) are cleaned; fresh ones stay."""
    old = tmp_path / f"{TEMP_PREFIX}old{TEMP_SUFFIX}"
    fresh = tmp_path / f"{TEMP_PREFIX}fresh{TEMP_SUFFIX}"
    other = tmp_path / "keep.txt"
    for path in (old, fresh, other):
        path.write_bytes(b"x")
    now = time.time()
    import os

    os.utime(old, (now - STALE_TEMP_SECONDS - 10, now - STALE_TEMP_SECONDS - 10))
    remove_stale_downloads(tmp_path, now)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([fresh.name, other.name])


def test_unusable_ca_bundle_is_reported(tmp_path: Path) -> None:
    """A CA bundle that is missing (usage error) or holds no certificate (rejected input)."""
    from feedmgr.errors import UsageError

    with pytest.raises(UsageError, match="cannot read"):
        FeedClient(FetchSettings(TransportSettings(ca_bundle=tmp_path / "missing.pem")))
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    with pytest.raises(InputRejected, match="PEM"):
        FeedClient(FetchSettings(TransportSettings(ca_bundle=junk)))


def _changing_server(first: bytes, later: bytes, resumed_etag: str, later_etag: str) -> object:
    """A script whose file changes while it is being downloaded: the first answer (ETag
    "v1") drops mid-body; a Range request then gets a 206 of ``later`` labelled
    ``resumed_etag``; a request without Range gets ``later`` whole, labelled ``later_etag``."""

    def script(handler: BaseHTTPRequestHandler) -> None:
        wanted = handler.headers.get("Range")
        if wanted:
            start = int(wanted.removeprefix("bytes=").rstrip("-"))
            body = later[start:]
            handler.send_response(206)
            handler.send_header("Content-Range", f"bytes {start}-{len(later) - 1}/{len(later)}")
            handler.send_header("ETag", resumed_etag)
        elif not hasattr(handler.server, "dropped"):
            handler.server.dropped = True  # type: ignore[attr-defined]
            handler.send_response(200)
            handler.send_header("Content-Length", str(len(first)))
            handler.send_header("ETag", '"v1"')
            handler.end_headers()
            handler.wfile.write(first[: len(first) // 2])
            handler.wfile.flush()
            handler.close_connection = True
            handler.connection.close()
            return
        else:
            body = later
            handler.send_response(200)
            handler.send_header("ETag", later_etag)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return script


@pytest.mark.parametrize("resumed_etag", ['"v2"', 'W/"v1"'], ids=["other-strong-etag", "weak-etag"])
def test_a_resumed_part_with_another_validator_restarts_the_download(
    scripted: ScriptedServer, fetch_settings: FetchSettings, tmp_path: Path, resumed_etag: str
) -> None:
    """RFC 9110 section 15.3.7.3: parts are combined only when they carry the same strong
    validator. A 206 labelled with another ETag (or a weak one) is not spliced onto the
    first part; the download starts again from byte 0 and gets the whole current file."""
    first = bytes(range(256)) * 1600
    later = bytes(reversed(range(256))) * 1600
    scripted.routes["/f.zip"] = _changing_server(first, later, resumed_etag, '"v2"')  # type: ignore[assignment]
    ref = _ref(scripted.url_for("/f.zip"), later)
    with FeedClient(fetch_settings) as client, client.download(ref, tmp_path) as download:
        assert download.path.read_bytes() == later
        assert download.resumed == 0
    assert [("Range" in headers, headers.get("If-Range")) for _, headers in scripted.seen] == [
        (False, None),
        (True, '"v1"'),
        (False, None),
    ]
    assert list(tmp_path.iterdir()) == []


def test_a_file_that_keeps_changing_is_a_network_error(
    scripted: ScriptedServer, fetch_settings: FetchSettings, tmp_path: Path
) -> None:
    """When the restarted download meets another mismatched part, feedmgr gives up with a
    network error (exit 4) rather than blaming the content or splicing."""
    first = bytes(range(256)) * 1600
    later = bytes(reversed(range(256))) * 1600

    dropping = _changing_server(first, later, '"v3"', '"v2"')

    def script(handler: BaseHTTPRequestHandler) -> None:
        # Every full answer drops mid-body, every resumed one carries another ETag.
        if not handler.headers.get("Range"):
            with contextlib.suppress(AttributeError):
                del handler.server.dropped  # type: ignore[attr-defined]
        dropping(handler)  # type: ignore[operator]

    scripted.routes["/f.zip"] = script
    ref = _ref(scripted.url_for("/f.zip"), first)
    with FeedClient(fetch_settings) as client, pytest.raises(NetworkError) as caught:  # noqa: SIM117
        with client.download(ref, tmp_path):
            pass
    assert caught.value.details["reason"] == "changed"
    assert list(tmp_path.iterdir()) == []
