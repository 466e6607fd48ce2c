"""The certificate export: the client's POST (Cisco's request schema, the 403 explained)
and the reader of its ZIP answer, against whatever bytes arrive."""

from __future__ import annotations

import contextlib
import io
import time
import zipfile
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from hypothesis import example, given
from hypothesis import strategies as st

from feedmgr.certs.load import fingerprint
from feedmgr.errors import ExitCode, InputRejected, NetworkError
from feedmgr.ise.client import Credentials, IseClient
from feedmgr.ise.export import read_export
from feedmgr.ise.models import SystemCertificate
from feedmgr.net.transport import TransportSettings
from tests.certs.factory import Leaf, pki
from tests.feed.netserver import ScriptedServer
from tests.ise.fakeise import EXPORT, PASSWORD, USER, FakeIse, export_zip


def _client(url: str, ca_bundle: Path) -> IseClient:
    return IseClient(url, Credentials(USER, PASSWORD), TransportSettings(ca_bundle=ca_bundle))


def _pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def test_export_sends_cisco_request_and_finds_the_leaf(fake_ise: FakeIse, ca_bundle: Path) -> None:
    """The export asks for the certificate only (Cisco's request schema: export, id,
    hostName) and finds the leaf in a ZIP that also carries its issuing CA."""
    leaf = pki().leaf(Leaf(dns=("psn1.corp.example",)), slot=31)
    fake_ise.exports({"id-eap": export_zip({"eap.pem": _pem(pki().intermediate.cert, leaf.cert)})})
    listed = SystemCertificate.model_validate(
        {"id": "id-eap", "sha256Fingerprint": fingerprint(leaf.cert).upper()}
    )
    with _client(fake_ise.url, ca_bundle) as client:
        bundle = client.export_certificate("psn1", listed)
    assert bundle.leaf == leaf.cert
    assert bundle.presented == (pki().intermediate.cert,)
    assert fake_ise.export_requests == [
        {"export": "CERTIFICATE", "id": "id-eap", "hostName": "psn1"}
    ]


def test_refused_export_is_explained_without_the_password(
    fake_ise: FakeIse, ca_bundle: Path
) -> None:
    """ISE's 403 on the export says the account may not export (a read-only role), exit 4."""
    fake_ise.exports({}, status=403)
    listed = SystemCertificate.model_validate({"id": "id-eap"})
    with _client(fake_ise.url, ca_bundle) as client, pytest.raises(NetworkError) as caught:
        client.export_certificate("psn1", listed)
    assert caught.value.details["status"] == 403
    assert "refused to export" in caught.value.problem
    assert "read-only" in caught.value.problem
    assert PASSWORD not in str(caught.value)


def test_slow_export_fails_once_without_resending(
    scripted: ScriptedServer, ca_bundle: Path
) -> None:
    """An export that ISE received but does not answer within the read timeout fails with
    exit 4 and is not sent again (a POST may have reached the server)."""

    def stall(handler: BaseHTTPRequestHandler) -> None:
        time.sleep(1.5)
        handler.send_response(200)
        handler.end_headers()

    scripted.routes[EXPORT] = stall
    listed = SystemCertificate.model_validate({"id": "id-eap"})
    settings = TransportSettings(ca_bundle=ca_bundle, read_timeout=0.3, retries=3)
    with (
        IseClient(scripted.url_for(""), Credentials(USER, PASSWORD), settings) as client,
        pytest.raises(NetworkError) as caught,
    ):
        client.export_certificate("psn1", listed)
    assert caught.value.exit_code == ExitCode.NETWORK
    assert "did not answer within 0.3 s" in caught.value.problem
    assert [path for path, _ in scripted.seen] == [EXPORT]


def _zip_of(members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in dict(members).items():
            # zipfile cannot write some names: it refuses some (ValueError), and a name that
            # starts with NUL, cut there to nothing, fails inside it (IndexError).
            with contextlib.suppress(ValueError, IndexError):
                archive.writestr(name, data)
    return buffer.getvalue()


zips = st.lists(st.tuples(st.text(min_size=1, max_size=12), st.binary(max_size=64)), max_size=3)


@given(st.one_of(st.binary(max_size=256), zips.map(_zip_of)))
@example(_zip_of([("\x00", b"")]))
def test_any_answer_is_a_bundle_or_rejected(body: bytes) -> None:
    """Whatever bytes the export answers, reading them gives a certificate bundle or an
    input error (exit 3), never another exception."""
    with contextlib.suppress(InputRejected):
        read_export(body, "https://ise.example/export", None)
