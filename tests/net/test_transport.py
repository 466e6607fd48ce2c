"""The HTTPS transport: Retry-After, whole-document GETs, deadlines, proxies."""

from __future__ import annotations

import gzip
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from feedmgr.errors import InputRejected, NetworkError
from feedmgr.net.transport import HttpsClient, TransportSettings, retry_after
from tests.feed.netserver import ScriptedServer, drip


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
