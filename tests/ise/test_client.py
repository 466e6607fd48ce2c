"""``IseClient`` against a fake ISE: credentials stay with ISE, slow servers, proxies, and
whatever JSON arrives is either a valid model or a SchemaError."""

from __future__ import annotations

import contextlib
import json
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feedmgr.errors import ExitCode, NetworkError, SchemaError
from feedmgr.ise.client import Credentials, IseClient
from feedmgr.ise.models import NodeList, SystemCertificatePage
from feedmgr.net.transport import TransportSettings
from tests.feed.netserver import ConnectProxy, ScriptedServer
from tests.ise.fakeise import NODES, PASSWORD, USER, FakeIse, node
from tests.ise.schema import problems

CREDENTIALS = Credentials(USER, PASSWORD)
NODE_LIST = {"response": [node("ise-psn1", ["Session"])], "version": "1.0.0"}


def _no_sleep(_: float) -> None:
    return None


def _client(url: str, ca_bundle: Path, **settings: object) -> IseClient:
    return IseClient(
        url, CREDENTIALS, TransportSettings(ca_bundle=ca_bundle, sleep=_no_sleep, **settings)
    )


def test_credentials_do_not_follow_a_redirect_to_another_host(
    fake_ise: FakeIse, ca_bundle: Path
) -> None:
    """A redirect to another origin gets no Authorization header (and ISE's 401 explained)."""
    port = fake_ise.url.rsplit(":", 1)[1]
    fake_ise.server.expect_request(NODES).respond_with_data(
        "", status=302, headers={"Location": f"https://localhost:{port}/moved"}
    )
    fake_ise.answer("/moved", NODE_LIST, schema="deployment-node.response")
    with _client(fake_ise.url, ca_bundle) as client, pytest.raises(NetworkError) as caught:
        client.nodes()
    assert caught.value.details["status"] == 401
    assert fake_ise.seen == [("/moved?", None)]


def test_credentials_follow_a_redirect_on_the_same_origin(
    fake_ise: FakeIse, ca_bundle: Path
) -> None:
    """A redirect within ISE keeps the login: the moved node list is read."""
    fake_ise.server.expect_request(NODES).respond_with_data(
        "", status=302, headers={"Location": "/moved"}
    )
    fake_ise.answer("/moved", NODE_LIST, schema="deployment-node.response")
    with _client(fake_ise.url, ca_bundle) as client:
        assert [n.hostname for n in client.nodes()] == ["ise-psn1"]


def test_slow_server_is_a_network_error(scripted: ScriptedServer, ca_bundle: Path) -> None:
    """An ISE that does not answer within the read timeout exits 4 saying so."""

    def stall(handler: BaseHTTPRequestHandler) -> None:
        time.sleep(1.5)
        handler.send_response(200)
        handler.end_headers()

    scripted.routes[NODES] = stall
    base = scripted.url_for("")
    with (
        _client(base, ca_bundle, read_timeout=0.3, retries=0) as client,
        pytest.raises(NetworkError) as caught,
    ):
        client.nodes()
    assert caught.value.exit_code == ExitCode.NETWORK
    assert "did not answer within 0.3 s" in caught.value.problem


def test_proxy_setting_is_used(
    fake_ise: FakeIse, ca_bundle: Path, connect_proxy: ConnectProxy
) -> None:
    """With a proxy configured, ISE is reached through a CONNECT tunnel to its address."""
    fake_ise.answer(NODES, NODE_LIST)
    with _client(fake_ise.url, ca_bundle, proxy=connect_proxy.url) as client:
        client.nodes()
    assert connect_proxy.targets == [fake_ise.url.removeprefix("https://")]


def test_password_is_not_in_repr() -> None:
    """Neither the credentials nor the client show the password in their repr."""
    client = IseClient("https://ise.corp.example", CREDENTIALS, TransportSettings())
    with client:
        assert PASSWORD not in repr(CREDENTIALS) + repr(client)


def test_schema_validator_refuses_keywords_it_does_not_know() -> None:
    """The test validator fails on a schema keyword it does not implement, never passes it."""
    assert problems("x", {"type": "string", "pattern": "^y$"})
    assert not problems("x", {"type": "string", "enum": ["x"]})
    assert problems(True, {"type": "integer"})


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


@given(st.dictionaries(st.sampled_from(["response", "version", "nextPage"]), json_values))
def test_any_json_is_a_model_or_a_schema_error(document: dict[str, object]) -> None:
    """Arbitrary JSON objects parse into the models or fail with SchemaError (exit 3, the
    only exception let through), never with another exception."""
    for model in (NodeList, SystemCertificatePage):
        body = json.dumps(document).encode()
        with contextlib.suppress(SchemaError):
            _parse(body, model)


def _parse(body: bytes, model: type[NodeList] | type[SystemCertificatePage]) -> None:
    from feedmgr.ise.client import parse_response

    parse_response(body, model, "https://ise.example/x", "the test document")
