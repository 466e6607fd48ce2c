"""The HTTPS transport: Retry-After, whole-document GETs, deadlines, proxies."""

from __future__ import annotations

import gzip
import socket
import ssl
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from feedmgr.errors import InputRejected, NetworkError, UsageError
from feedmgr.net.transport import HttpsClient, TransportSettings, retry_after, ssl_context
from tests.feed.netserver import (
    ConnectProxy,
    RawServer,
    ScriptedServer,
    Serve,
    drip,
    dripped_handshake,
    slow_head,
    tls_then_silence,
    until_hangup,
)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("7", 7.0),
        ("0", 0.0),
        ("soon", None),
        (format_datetime(datetime(2000, 1, 1, tzinfo=UTC), usegmt=True), 0.0),
    ],
)
def test_retry_after_values(header: str | None, expected: float | None) -> None:
    """Retry-After is delta-seconds or an HTTP date (a past date means now); junk is ignored."""
    assert retry_after(header) == expected


def test_retry_after_future_date() -> None:
    """A Retry-After date in the future gives the seconds until then."""
    moment = datetime.now(UTC) + timedelta(seconds=90)
    value = retry_after(format_datetime(moment, usegmt=True))
    assert value is not None
    assert 80 <= value <= 91


# -- deadlines and the minimum rate (slow retrieval) ---------------------------------------


class Sleeps:
    """A recording stand-in for time.sleep: tests assert the waits, without waiting."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def _client(ca_bundle: Path, sleeps: Sleeps, **changes: Any) -> HttpsClient:
    return HttpsClient(TransportSettings(ca_bundle=ca_bundle, sleep=sleeps, **changes))


def test_defaults_fail_a_silent_body_well_within_a_minute() -> None:
    """By default a body that stops after its headers fails at the rate check after 20 s,
    before the 30 s read timeout; the settings file offers the same defaults."""
    from feedmgr.config import load_config

    settings = TransportSettings()
    assert settings.min_rate > 0
    assert settings.rate_grace == 20 < settings.read_timeout
    config = load_config(Path("/nonexistent"))
    assert (
        (config.deadline, config.min_rate)
        == (settings.deadline, settings.min_rate)
        == (
            900,
            1024,
        )
    )


def test_headers_then_silence_fails_on_the_minimum_rate(
    scripted: ScriptedServer, ca_bundle: Path
) -> None:
    """A server that sends headers and then nothing fails once the rate grace is over, not
    after read_timeout and retries; it is not retried."""
    sleeps = Sleeps()
    scripted.routes["/data.json"] = drip(b"x" * 5000, every=0)
    started = time.monotonic()
    with (
        _client(ca_bundle, sleeps, rate_grace=0.5) as client,
        pytest.raises(NetworkError) as caught,
    ):
        client.get(scripted.url_for("/data.json"), max_bytes=10_000)
    assert caught.value.details["reason"] == "too-slow"
    assert "network.min_rate" in caught.value.problem
    assert time.monotonic() - started < 5
    assert sleeps.calls == []
    assert len(scripted.seen) == 1


StartRaw = Callable[[Serve], RawServer]


@pytest.mark.parametrize(
    ("stage", "problem"),
    [
        ("silent", "did not complete the TLS handshake within 0.5 s of the request"),
        ("handshake", "did not complete the TLS handshake within 0.5 s of the request"),
        ("headers", "did not send its response headers within 0.5 s of the request"),
        ("dripped-headers", "did not send its response headers within 0.5 s of the request"),
    ],
)
def test_server_stalling_before_its_headers_fails_at_the_response_limit(
    raw_server: StartRaw,
    *,
    scripted: ScriptedServer,
    server_context: ssl.SSLContext,
    ca_bundle: Path,
    stage: str,
    problem: str,
) -> None:
    """A server that accepts the connection and then never completes the TLS handshake,
    completes it one byte at a time, never sends response headers, or drips them, fails once
    the request has had rate_grace (0.5 s here) for its handshake and headers: at once, not
    after connect and read timeouts, and not retried."""
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n" + b"X-Pad: slow\r\n" * 50 + b"\r\n"
    scripted.routes["/slow-head"] = slow_head(head, seconds=5)
    servers: dict[str, Serve] = {
        "silent": until_hangup,
        "handshake": dripped_handshake(server_context, every=0.01),
        "headers": tls_then_silence(server_context),
    }
    raw = raw_server(servers[stage]) if stage in servers else None
    url = raw.url_for("/d") if raw else scripted.url_for("/slow-head")
    sleeps = Sleeps()
    started = time.monotonic()
    with (
        _client(ca_bundle, sleeps, rate_grace=0.5, connect_timeout=2, read_timeout=2) as client,
        pytest.raises(NetworkError) as caught,
    ):
        client.get(url, max_bytes=100)
    assert time.monotonic() - started < 1.5
    assert caught.value.subject == url
    assert caught.value.details["reason"] == "too-slow"
    assert f"the server {problem} (network.min_rate)" in caught.value.problem
    assert sleeps.calls == []
    assert (raw.accepted if raw else len(scripted.seen)) == 1


def test_slow_loris_redirect_chain_fails_at_the_overall_deadline(
    scripted: ScriptedServer, ca_bundle: Path
) -> None:
    """Redirect hops each sending their headers inside the per-request limit (1.5 s of
    1.95 s) are cut off at network.deadline (2 s) counted from the first request, not at the
    end of the hop that passes it."""
    for hop in range(10):
        head = f"HTTP/1.1 302 Found\r\nLocation: /hop{hop + 1}\r\nConnection: close\r\n\r\n"
        scripted.routes[f"/hop{hop}"] = slow_head(head.encode(), seconds=1.5)
    started = time.monotonic()
    with (
        _client(ca_bundle, Sleeps(), rate_grace=1.95, deadline=2) as client,
        pytest.raises(NetworkError) as caught,
    ):
        client.get(scripted.url_for("/hop0"), max_bytes=100)
    assert caught.value.subject == scripted.url_for("/hop0")
    assert caught.value.details["reason"] == "deadline"
    assert 1.9 < time.monotonic() - started < 2.7
    assert [path for path, _ in scripted.seen] == ["/hop0", "/hop1"]


def test_dripped_headers_end_at_the_deadline_without_a_minimum_rate(
    scripted: ScriptedServer, ca_bundle: Path
) -> None:
    """With the minimum rate off (network.min_rate 0), response headers dripped a byte every
    few milliseconds still end at network.deadline (1 s here), not when the server is done."""
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n" + b"X-Pad: slow\r\n" * 50 + b"\r\n"
    scripted.routes["/d"] = slow_head(head, seconds=5)
    started = time.monotonic()
    with (
        _client(ca_bundle, Sleeps(), deadline=1, min_rate=0, read_timeout=2) as client,
        pytest.raises(NetworkError) as caught,
    ):
        client.get(scripted.url_for("/d"), max_bytes=100)
    assert caught.value.details["reason"] == "deadline"
    assert 0.9 < time.monotonic() - started < 1.5


def test_byte_dripping_server_fails_at_the_overall_deadline(
    scripted: ScriptedServer, ca_bundle: Path
) -> None:
    """A server dripping one byte every 20 ms (fast enough for any minimum rate we disable
    here) is cut off at the transfer deadline."""
    scripted.routes["/data.json"] = drip(b"y" * 2000, every=0.02)
    started = time.monotonic()
    with (
        _client(ca_bundle, Sleeps(), deadline=1, min_rate=0) as client,
        pytest.raises(NetworkError) as caught,
    ):
        client.get(scripted.url_for("/data.json"), max_bytes=10_000)
    assert caught.value.details["reason"] == "deadline"
    assert "network.deadline" in caught.value.problem
    assert 0.9 < time.monotonic() - started < 4


def test_body_slower_than_the_minimum_rate_fails(scripted: ScriptedServer, ca_bundle: Path) -> None:
    """One byte every 50 ms (20 bytes/s) is below a 100 bytes/s minimum after the grace."""
    scripted.routes["/data.json"] = drip(b"z" * 400, every=0.05)
    with (
        _client(ca_bundle, Sleeps(), rate_grace=0.5, min_rate=100) as client,
        pytest.raises(NetworkError) as caught,
    ):
        client.get(scripted.url_for("/data.json"), max_bytes=10_000)
    assert caught.value.details["reason"] == "too-slow"


def test_slow_but_steady_body_above_the_minimum_rate_completes(
    scripted: ScriptedServer, ca_bundle: Path
) -> None:
    """300 bytes every 100 ms (3000 bytes/s) meets a 1000 bytes/s minimum: no false alarm
    although the body takes longer than the grace."""
    body = bytes(range(256)) * 12
    scripted.routes["/data.json"] = drip(body, every=0.1, size=300)
    with _client(ca_bundle, Sleeps(), rate_grace=0.3, min_rate=1000, deadline=30) as client:
        document = client.get(scripted.url_for("/data.json"), max_bytes=10_000)
    assert document.body == body


def test_retry_wait_past_the_deadline_fails_at_once(
    https_server: HTTPServer, ca_bundle: Path
) -> None:
    """A 503 asking to retry after 30 s, with 5 s of deadline left, fails now without waiting."""
    sleeps = Sleeps()
    https_server.expect_request("/d").respond_with_data(
        "", status=503, headers={"Retry-After": "30"}
    )
    with _client(ca_bundle, sleeps, deadline=5) as client, pytest.raises(NetworkError) as caught:
        client.get(https_server.url_for("/d"), max_bytes=100)
    assert caught.value.details["reason"] == "deadline"
    assert sleeps.calls == []


# -- content coding --------------------------------------------------------------------------


def test_identity_is_asked_and_a_gzip_body_is_decoded_within_the_cap(
    https_server: HTTPServer, ca_bundle: Path
) -> None:
    """The client asks for identity; a server that gzips anyway is decoded, and a gzip bomb
    is refused at the size cap instead of filling memory."""
    plain = b'{"releases": []}' * 10
    https_server.expect_request(
        "/small.json", headers={"Accept-Encoding": "identity"}
    ).respond_with_data(gzip.compress(plain), headers={"Content-Encoding": "gzip"})
    https_server.expect_request("/bomb.json").respond_with_data(
        gzip.compress(b"\0" * 1_000_000), headers={"Content-Encoding": "gzip"}
    )
    with _client(ca_bundle, Sleeps()) as client:
        assert client.get(https_server.url_for("/small.json"), max_bytes=1000).body == plain
        with pytest.raises(InputRejected) as caught:
            client.get(https_server.url_for("/bomb.json"), max_bytes=100_000)
    assert caught.value.details["reason"] == "size"


# -- proxies ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "refusal", [b"407 Proxy Authentication Required", b"403 Forbidden"], ids=["407", "403"]
)
def test_proxy_refusing_connect_is_final_and_hides_the_password(
    connect_proxy: ConnectProxy, ca_bundle: Path, refusal: bytes
) -> None:
    """A proxy answering CONNECT with 403 or 407 is asked once, not retried; the error names
    the proxy with its password replaced."""
    connect_proxy.refusal = refusal
    port = connect_proxy.url.rsplit(":", 1)[1]
    proxy = f"http://alice:s3cret@127.0.0.1:{port}"
    sleeps = Sleeps()
    with _client(ca_bundle, sleeps, proxy=proxy) as client, pytest.raises(NetworkError) as caught:
        client.get("https://feeds.example.net/index.xml", max_bytes=100)
    error = caught.value
    assert error.subject == f"http://alice:***@127.0.0.1:{port}"
    assert error.details == {"reason": "proxy-refused", "status": int(refusal[:3])}
    assert "s3cret" not in error.diagnostics()
    assert refusal.decode() in error.problem
    assert connect_proxy.targets == ["feeds.example.net:443"]
    assert connect_proxy.authorizations[0] is not None
    assert sleeps.calls == []


def test_proxy_failing_with_a_server_error_is_retried(
    connect_proxy: ConnectProxy, ca_bundle: Path
) -> None:
    """A 502 from the proxy (its upstream failed) may be transient: it is retried."""
    connect_proxy.refusal = b"502 Bad Gateway"
    sleeps = Sleeps()
    with (
        _client(ca_bundle, sleeps, proxy=connect_proxy.url, retries=2) as client,
        pytest.raises(NetworkError) as caught,
    ):
        client.get("https://feeds.example.net/index.xml", max_bytes=100)
    assert caught.value.details["reason"] == "proxy"
    assert len(connect_proxy.targets) == 3
    assert sleeps.calls == [1.0, 2.0]


def test_redirect_to_a_location_that_is_not_utf8_is_a_network_error(
    scripted: ScriptedServer, ca_bundle: Path
) -> None:
    """A Location header with bytes that are not UTF-8 is refused, not a crash."""

    def redirect(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(302)
        handler.send_header("Location", "https://x.example/\x9b2J")
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    scripted.routes["/d"] = redirect
    with _client(ca_bundle, Sleeps()) as client, pytest.raises(NetworkError) as caught:
        client.get(scripted.url_for("/d"), max_bytes=100)
    assert caught.value.details["reason"] == "redirect"


def test_a_complete_body_is_not_failed_by_a_deadline_passing_after_it(
    https_server: HTTPServer, ca_bundle: Path
) -> None:
    """When every announced byte has arrived, a deadline or rate check falling due while the
    caller is still busy with the last piece does not fail the transfer."""
    now = [0.0]
    https_server.expect_request("/d").respond_with_data(b"x" * 100)
    settings = TransportSettings(ca_bundle=ca_bundle, deadline=5, clock=lambda: now[0])
    with HttpsClient(settings) as client:
        deadline = client.deadline(https_server.url_for("/d"))
        response, _ = client.request(https_server.url_for("/d"), {}, deadline)
        with response:
            received = b""
            for piece in client.chunks(response, deadline):
                received += piece
                now[0] += 60  # the caller took a minute writing it to disk
    assert received == b"x" * 100


# -- POST: a JSON body, sent once unless it cannot have reached the server ----------------


def test_post_sends_json_and_reads_the_answer(https_server: HTTPServer, ca_bundle: Path) -> None:
    """A POST carries its payload as JSON and returns the whole answer."""
    https_server.expect_request(
        "/export", method="POST", json={"id": "c1"}, headers={"Content-Type": "application/json"}
    ).respond_with_data(b"PK\x05\x06" + bytes(18), content_type="application/zip")
    with _client(ca_bundle, Sleeps()) as client:
        document = client.post(
            https_server.url_for("/export"),
            {"id": "c1"},
            max_bytes=1024,
            accept="application/zip",
            what="the export",
        )
    assert document.body.startswith(b"PK")


def test_post_answered_503_is_not_sent_again(https_server: HTTPServer, ca_bundle: Path) -> None:
    """A POST that reached the server is not repeated, even on a 503 that a GET would retry."""
    https_server.expect_request("/export", method="POST").respond_with_data("busy", status=503)
    sleeps = Sleeps()
    with _client(ca_bundle, sleeps) as client, pytest.raises(NetworkError) as caught:
        client.post(
            https_server.url_for("/export"), {}, max_bytes=1024, accept="*/*", what="the export"
        )
    assert caught.value.details["status"] == 503
    assert len(https_server.log) == 1
    assert sleeps.calls == []


def test_post_dropped_after_sending_is_not_sent_again(
    ca_bundle: Path, server_context: ssl.SSLContext
) -> None:
    """A connection the server closes after reading the request fails the POST at once."""
    requests_seen: list[bytes] = []
    context = server_context
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                raw, _ = listener.accept()
            except OSError:
                return
            try:
                with context.wrap_socket(raw, server_side=True) as conn:
                    requests_seen.append(conn.recv(65536))
            except OSError:
                continue

    threading.Thread(target=serve, daemon=True).start()
    url = f"https://127.0.0.1:{listener.getsockname()[1]}/export"
    sleeps = Sleeps()
    try:
        with _client(ca_bundle, sleeps) as client, pytest.raises(NetworkError) as caught:
            client.post(url, {"id": "c1"}, max_bytes=1024, accept="*/*", what="the export")
    finally:
        listener.close()
    assert "not sent again" in caught.value.problem
    assert len(requests_seen) == 1
    assert sleeps.calls == []


def test_post_to_a_closed_port_is_retried(ca_bundle: Path) -> None:
    """A POST whose connection was refused never reached a server, so it is tried again."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sleeps = Sleeps()
    with _client(ca_bundle, sleeps, retries=2) as client, pytest.raises(NetworkError) as caught:
        client.post(f"https://127.0.0.1:{port}/export", {}, max_bytes=1024, accept="*/*", what="it")
    assert "gave up after 3 attempts" in caught.value.problem
    assert len(sleeps.calls) == 2


def test_post_redirect_is_not_followed(https_server: HTTPServer, ca_bundle: Path) -> None:
    """A redirected POST is refused: following it would drop or resend the body elsewhere."""
    https_server.expect_request("/export", method="POST").respond_with_data(
        "", status=307, headers={"Location": "/elsewhere"}
    )
    with _client(ca_bundle, Sleeps()) as client, pytest.raises(NetworkError) as caught:
        client.post(
            https_server.url_for("/export"), {}, max_bytes=1024, accept="*/*", what="the export"
        )
    assert caught.value.details["reason"] == "redirect"
    assert len(https_server.log) == 1


def test_post_answer_over_the_cap_is_refused(https_server: HTTPServer, ca_bundle: Path) -> None:
    """A POST's answer is bounded like a GET's."""
    https_server.expect_request("/export", method="POST").respond_with_data(b"x" * 5000)
    with _client(ca_bundle, Sleeps()) as client, pytest.raises(InputRejected) as caught:
        client.post(
            https_server.url_for("/export"), {}, max_bytes=1024, accept="*/*", what="the export"
        )
    assert caught.value.details["reason"] == "size"


# -- trust: a CA bundle is the only trust, whatever the environment or requests' defaults --


@pytest.fixture(scope="module")
def other_ca_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A PEM file of a CA that signed nothing the test servers present."""
    import trustme

    path = tmp_path_factory.mktemp("other-ca") / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(path))
    return path


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
def test_ca_bundle_variables_do_not_widen_a_given_bundle(
    https_server: HTTPServer,
    ca_bundle: Path,
    other_ca_bundle: Path,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
) -> None:
    """With a CA bundle given, a server whose CA only $REQUESTS_CA_BUNDLE / $CURL_CA_BUNDLE
    names is not trusted: the bundle is the whole trust (docs/online-updates.md)."""
    monkeypatch.setenv(variable, str(ca_bundle))
    https_server.expect_request("/index.xml").respond_with_data("ok")
    with (
        _client(other_ca_bundle, Sleeps()) as client,
        pytest.raises(NetworkError) as caught,
    ):
        client.get(https_server.url_for("/index.xml"), max_bytes=100)
    assert caught.value.details["reason"] == "tls"
    assert https_server.log == []


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
def test_ca_bundle_variables_are_not_read_without_a_bundle(
    https_server: HTTPServer, ca_bundle: Path, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    """Without a CA bundle the system store alone is trusted: a private CA named only in
    $REQUESTS_CA_BUNDLE / $CURL_CA_BUNDLE does not make its servers trusted."""
    monkeypatch.setenv(variable, str(ca_bundle))
    https_server.expect_request("/index.xml").respond_with_data("ok")
    with (
        HttpsClient(TransportSettings(sleep=Sleeps())) as client,
        pytest.raises(NetworkError) as caught,
    ):
        client.get(https_server.url_for("/index.xml"), max_bytes=100)
    assert caught.value.details["reason"] == "tls"


def test_requests_default_bundle_does_not_widen_a_given_bundle(
    https_server: HTTPServer,
    ca_bundle: Path,
    other_ca_bundle: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With a CA bundle given, a CA in requests' own default bundle (certifi's Mozilla list,
    here replaced by the test CA) is not trusted either."""
    import requests.adapters

    monkeypatch.setattr(requests.adapters, "DEFAULT_CA_BUNDLE_PATH", str(ca_bundle))
    https_server.expect_request("/index.xml").respond_with_data("ok")
    with _client(other_ca_bundle, Sleeps()) as client, pytest.raises(NetworkError) as caught:
        client.get(https_server.url_for("/index.xml"), max_bytes=100)
    assert caught.value.details["reason"] == "tls"
    assert https_server.log == []


# -- the proxy from the environment: HTTPS_PROXY / NO_PROXY, checked like --proxy ----------


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("HTTPS_PROXY", "socks5h://127.0.0.1:1080"),
        ("https_proxy", "socks5://alice:s3cret@127.0.0.1:1080"),
        ("HTTPS_PROXY", "http://proxy.corp.example:port"),
        ("HTTPS_PROXY", "ftp://proxy.corp.example:21"),
        ("HTTPS_PROXY", "http://[::1"),
        ("HTTPS_PROXY", "http://:3128"),
    ],
)
def test_unusable_proxy_from_the_environment_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    """A proxy variable feedmgr cannot use (SOCKS, another scheme, a bad port or address) is
    refused before any traffic as --proxy is (exit 2), naming the variable, not its value."""
    monkeypatch.setenv(variable, value)
    with pytest.raises(UsageError) as caught:
        HttpsClient(TransportSettings())
    assert caught.value.subject == variable
    assert "http://HOST:PORT" in caught.value.problem or "proxy URL" in caught.value.problem
    assert "s3cret" not in caught.value.diagnostics()


def test_configured_proxy_makes_the_environment_irrelevant(
    https_server: HTTPServer, ca_bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a proxy configured, a broken HTTPS_PROXY is neither checked nor used."""
    monkeypatch.setenv("HTTPS_PROXY", "socks5h://127.0.0.1:1080")
    with HttpsClient(TransportSettings(ca_bundle=ca_bundle, proxy="http://127.0.0.1:9")) as client:
        assert client.proxy_for(https_server.url_for("/")) == "http://127.0.0.1:9"


def test_all_proxy_and_http_proxy_are_not_read(
    https_server: HTTPServer, ca_bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only HTTPS_PROXY names a proxy: ALL_PROXY (even a SOCKS one) and HTTP_PROXY are
    ignored, and the request goes direct."""
    monkeypatch.setenv("ALL_PROXY", "socks5h://127.0.0.1:1")
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:1")
    https_server.expect_request("/index.xml").respond_with_data("ok")
    with _client(ca_bundle, Sleeps()) as client:
        assert client.get(https_server.url_for("/index.xml"), max_bytes=100).body == b"ok"


def test_proxy_variable_without_a_scheme_is_an_http_proxy(
    connect_proxy: ConnectProxy, ca_bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTPS_PROXY=HOST:PORT (no scheme, as curl and most tools accept it) is an http://
    proxy."""
    monkeypatch.setenv("HTTPS_PROXY", connect_proxy.url.removeprefix("http://"))
    with _client(ca_bundle, Sleeps()) as client:
        assert client.proxy_for("https://feeds.example.net/") == connect_proxy.url


def test_proxy_refusal_names_the_variable_it_came_from(
    connect_proxy: ConnectProxy, ca_bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 407 from a proxy taken from HTTPS_PROXY says to check HTTPS_PROXY, not feed.proxy."""
    connect_proxy.refusal = b"407 Proxy Authentication Required"
    monkeypatch.setenv("HTTPS_PROXY", connect_proxy.url)
    with _client(ca_bundle, Sleeps()) as client, pytest.raises(NetworkError) as caught:
        client.get("https://feeds.example.net/index.xml", max_bytes=100)
    assert "check HTTPS_PROXY and its credentials" in caught.value.problem
    assert "feed.proxy" not in caught.value.problem


@pytest.mark.parametrize("location", ["https://[::1/x", "https://bob:pw@/x"])
def test_redirect_to_an_unparsable_url_is_a_network_error(
    scripted: ScriptedServer, ca_bundle: Path, location: str
) -> None:
    """A redirect to a URL requests cannot build a request for is a remote error (exit 4),
    not an internal one, and a password in it is not repeated."""
    head = f"HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n"
    scripted.routes["/index.xml"] = slow_head(head.encode(), seconds=0.01)
    with _client(ca_bundle, Sleeps()) as client, pytest.raises(NetworkError) as caught:
        client.get(scripted.url_for("/index.xml"), max_bytes=100)
    assert caught.value.details["reason"] in ("invalid-url", "insecure-redirect")
    assert ":pw@" not in caught.value.diagnostics()


def test_redirect_to_a_url_with_credentials_is_not_followed(
    https_server: HTTPServer, ca_bundle: Path
) -> None:
    """A redirect to https://user:password@... is refused (requests would send them as Basic
    auth), and the error shows the target without its password."""
    https_server.expect_request("/index.xml").respond_with_data(
        "", status=302, headers={"Location": f"https://bob:pw@127.0.0.1:{https_server.port}/x"}
    )
    with _client(ca_bundle, Sleeps()) as client, pytest.raises(NetworkError) as caught:
        client.get(https_server.url_for("/index.xml"), max_bytes=100)
    assert caught.value.details["reason"] == "insecure-redirect"
    assert f"https://bob:***@127.0.0.1:{https_server.port}/x" in caught.value.problem
    assert ":pw@" not in caught.value.diagnostics()
    assert len(https_server.log) == 1


def test_untrusted_server_with_a_bundle_given_suggests_the_intermediate(
    https_server: HTTPServer, other_ca_bundle: Path
) -> None:
    """With a CA bundle given, an untrusted certificate is blamed on the bundle's content or
    on a server not sending its intermediate CA, not answered with 'pass --ca-bundle'."""
    https_server.expect_request("/index.xml").respond_with_data("ok")
    with _client(other_ca_bundle, Sleeps()) as client, pytest.raises(NetworkError) as caught:
        client.get(https_server.url_for("/index.xml"), max_bytes=100)
    problem = caught.value.problem
    assert problem.startswith("TLS certificate not trusted (")
    assert str(other_ca_bundle) in problem
    assert "intermediate" in problem
    assert "pass --ca-bundle" not in problem


def test_a_python_without_any_trust_store_falls_back_to_certifi(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Where OpenSSL finds no store at all (python.org's macOS builds before 'Install
    Certificates'), the public CAs requests would trust (certifi's) are trusted, so that
    feedmgr does not refuse every public server there."""
    import ssl

    import certifi

    empty = tmp_path / "certs"
    empty.mkdir()
    nowhere = ssl.DefaultVerifyPaths(None, str(empty), "SSL_CERT_FILE", "", "SSL_CERT_DIR", "")
    monkeypatch.setattr(ssl, "get_default_verify_paths", lambda: nowhere)
    monkeypatch.setattr(ssl.SSLContext, "load_default_certs", lambda self, purpose=None: None)
    context = ssl_context(None)
    public = Path(certifi.where()).read_text(encoding="ascii").count("BEGIN CERTIFICATE")
    assert context.cert_store_stats()["x509_ca"] == public


def test_a_system_store_is_not_widened_with_certifi() -> None:
    """Where OpenSSL has a store, it alone is trusted: certifi's bundle is not added."""
    import ssl

    system = ssl.create_default_context().cert_store_stats()["x509_ca"]
    assert ssl_context(None).cert_store_stats()["x509_ca"] == system
