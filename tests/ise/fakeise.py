"""A loopback HTTPS server that plays ISE's API, on pytest-httpserver.

Every JSON answer is first checked against Cisco's published schema for that operation
(tests/data/ise, via tests/ise/schema.py): the fake cannot drift from the real API without
the test failing. Answers meant to be off-spec say so with ``off_spec=True``.
"""

from __future__ import annotations

import base64
import io
import json
import zipfile
from dataclasses import dataclass, field
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.ise.schema import assert_follows

USER = "feedmgr-ro"
PASSWORD = "S3cret-pw-4-tests"

NODES = "/api/v1/deployment/node"
CERTS = "/api/v1/certs/system-certificate/"
PROXY = "/api/v1/system-settings/proxy"
INFO = "/ers/config/deploymentinfo/getAllInfo"
EXPORT = "/api/v1/certs/system-certificate/export"

SCHEMAS = {
    NODES: "deployment-node.response",
    PROXY: "system-settings-proxy.response",
    INFO: "ers-deploymentinfo-getallinfo.response",
}


def node(
    hostname: str,
    services: list[str],
    *,
    roles: list[str] | None = None,
    status: str | None = "Connected",
    ip: str = "10.1.1.20",
    fqdn: str | None = None,
) -> dict[str, Any]:
    """A node as ``GET /api/v1/deployment/node`` lists it."""
    document: dict[str, Any] = {
        "hostname": hostname,
        "fqdn": fqdn or f"{hostname}.corp.example",
        "ipAddress": ip,
        "roles": roles or [],
        "services": services,
    }
    if status is not None:
        document["nodeStatus"] = status
    return document


def certificate(name: str, used_by: str, expires: str, **extra: Any) -> dict[str, Any]:
    """A system certificate's metadata as ISE lists it."""
    return {
        "id": f"id-{name}",
        "friendlyName": name,
        "issuedTo": f"{name}.corp.example",
        "issuedBy": "Corp Issuing CA 1",
        "validFrom": "Mon Jan 05 09:00:00 UTC 2026",
        "expirationDate": expires,
        "keySize": 2048,
        "signatureAlgorithm": "SHA256withRSA",
        "sha256Fingerprint": "ab" * 32,
        "selfSigned": False,
        "usedBy": used_by,
        "groupTag": "Default Portal Certificate Group" if "Portal" in used_by else "",
        "portalsUsingTheTag": "Sponsor Portal, Client Provisioning Portal"
        if "Portal" in used_by
        else "",
        "serialNumberDecimalFormat": "1234567890",
        **extra,
    }


def export_zip(members: dict[str, bytes]) -> bytes:
    """A ZIP as ISE's export answers: Cisco documents "a ZIP file containing only the
    certificate" (PEM) without naming the member, so tests name it as they like."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def basic(user: str, password: str) -> str:
    """The Authorization header value for HTTP Basic."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@dataclass
class FakeIse:
    """The routes of one fake ISE on an ``HTTPServer``."""

    server: HTTPServer
    seen: list[tuple[str, str | None]] = field(default_factory=list)
    export_requests: list[dict[str, Any]] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The base URL (https://127.0.0.1:PORT)."""
        return self.server.url_for("/").rstrip("/")

    def answer(
        self,
        path: str,
        document: object,
        *,
        schema: str | None = None,
        status: int = 200,
        query: dict[str, str] | None = None,
        off_spec: bool = False,
    ) -> None:
        """Serve ``document`` as JSON at ``path`` to an authenticated GET."""
        name = schema or SCHEMAS.get(path)
        if not off_spec and status == 200:
            assert name is not None, f"no schema known for {path}"
            assert_follows(document, name)
        body = json.dumps(document)

        def handler(request: Request) -> Response:
            self.seen.append((request.full_path, request.headers.get("Authorization")))
            if request.headers.get("Authorization") != basic(USER, PASSWORD):
                return Response("", status=401)
            return Response(body, status=status, content_type="application/json")

        self.server.expect_request(path, method="GET", query_string=query).respond_with_handler(
            handler
        )

    def certificates(self, hostname: str, pages: list[list[dict[str, Any]]]) -> None:
        """Serve ``pages`` of certificates for ``hostname``, linked by ``nextPage``."""
        path = CERTS + hostname
        for number, items in enumerate(pages, start=1):
            document: dict[str, Any] = {"response": items, "version": "1.0.0"}
            if number < len(pages):
                document["nextPage"] = {
                    "rel": "next",
                    "href": f"{self.url}{path}?page={number + 1}&size=100",
                    "type": "application/json",
                }
            if number > 1:
                document["previousPage"] = {
                    "rel": "previous",
                    "href": f"{self.url}{path}?page={number - 1}&size=100",
                    "type": "application/json",
                }
            self.answer(
                path,
                document,
                schema="system-certificate.response",
                query={"page": str(number), "size": "100"},
            )

    def exports(self, answers: dict[str, bytes], *, status: int = 200) -> None:
        """Answer the certificate export: the ZIP ``answers`` holds for the requested id (404
        for another id), or a bare ``status``. Each request body is checked against Cisco's
        request schema and recorded in ``export_requests``."""

        def handler(request: Request) -> Response:
            if request.headers.get("Authorization") != basic(USER, PASSWORD):
                return Response("", status=401)
            body = request.get_json()
            assert_follows(body, "system-certificate-export.request")
            self.export_requests.append(body)
            if status != 200:
                return Response("", status=status)
            answer = answers.get(body["id"])
            if answer is None:
                return Response("", status=404)
            return Response(answer, status=200, content_type="application/octet-stream")

        self.server.expect_request(EXPORT, method="POST").respond_with_handler(handler)

    def status(self, path: str, status: int, body: str = "") -> None:
        """Answer ``path`` with a bare HTTP status (what ISE does with an API disabled)."""
        self.server.expect_request(path).respond_with_data(body, status=status)
