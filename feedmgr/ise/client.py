"""An ISE API client over feedmgr's HTTPS transport (feedmgr.net.transport).

HTTP Basic auth, bound to the ISE origin: the credentials go only to the scheme, host and
port the user named, never to a host a redirect or a paging link points at. Every response
is bounded, parsed as JSON and validated against the models in feedmgr.ise.models; paging
is followed to the end, up to ``MAX_PAGES``.

Errors: ``NetworkError`` (exit 4) for an unreachable ISE and for HTTP errors, with 401,
403 and 404 explained in one line with what to enable; ``SchemaError`` (exit 3) for a
response that does not follow Cisco's published schema.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import quote, urlencode, urljoin, urlsplit

import requests
from pydantic import BaseModel, ValidationError
from requests.auth import AuthBase, HTTPBasicAuth

from feedmgr.certs.load import CertBundle
from feedmgr.errors import NetworkError, SchemaError, UsageError
from feedmgr.feed.manifest import describe_validation_error
from feedmgr.ise.export import MAX_EXPORT_BYTES, read_export
from feedmgr.ise.models import (
    DeploymentInfoResponse,
    Node,
    NodeList,
    ProxyResponse,
    ProxySettings,
    SystemCertificate,
    SystemCertificatePage,
)
from feedmgr.ise.url import check_ise_url
from feedmgr.net.transport import HttpsClient, TransportSettings

NODES_PATH = "/api/v1/deployment/node"
SYSTEM_CERTIFICATES_PATH = "/api/v1/certs/system-certificate/"
PROXY_PATH = "/api/v1/system-settings/proxy"
DEPLOYMENT_INFO_PATH = "/ers/config/deploymentinfo/getAllInfo"
EXPORT_PATH = "/api/v1/certs/system-certificate/export"

# A node list or a page of certificates is a few kilobytes; 4 MiB leaves room for very
# large deployments while keeping a misbehaving server from filling memory.
MAX_RESPONSE_BYTES = 4 * 1024 * 1024
PAGE_SIZE = 100
MAX_PAGES = 50

API_SETTINGS = "Administration > System > Settings > API Settings > API Service Settings"

ModelT = TypeVar("ModelT", bound=BaseModel)


@dataclass(frozen=True)
class Credentials:
    """An ISE admin account. The password never appears in repr or in any message."""

    username: str
    password: str = field(repr=False)


class _OriginBoundBasicAuth(AuthBase):
    """HTTP Basic auth sent only to one origin (scheme, host, port)."""

    def __init__(self, origin: tuple[str, str, int], credentials: Credentials) -> None:
        self._origin = origin
        self._basic = HTTPBasicAuth(credentials.username, credentials.password)

    def __repr__(self) -> str:
        return f"<basic auth for {self._origin[1]}>"

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if request.url is not None and _origin(request.url) == self._origin:
            signed: requests.PreparedRequest = self._basic(request)
            return signed
        request.headers.pop("Authorization", None)
        return request


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port or 443


class IseClient:
    """Read-only access to one ISE deployment's APIs. Use as a context manager."""

    def __init__(
        self, base_url: str, credentials: Credentials, settings: TransportSettings
    ) -> None:
        """Prepare the session (no traffic yet).

        Raises:
            UsageError: the base URL is not https://HOST[:PORT]; the CA bundle is unusable.
            InputRejected: the CA bundle holds no certificate.
        """
        self.base_url = check_ise_url(base_url, "[ise] url")
        self.credentials = credentials
        self._http = HttpsClient(settings)
        self._http.session.auth = _OriginBoundBasicAuth(_origin(self.base_url), credentials)

    def __repr__(self) -> str:
        return f"IseClient({self.base_url!r}, user={self.credentials.username!r})"

    def __enter__(self) -> IseClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close pooled connections."""
        self._http.close()

    # -- the operations --

    def nodes(self) -> list[Node]:
        """Every node of the deployment."""
        return self._get(NODES_PATH, NodeList, "the node list").response

    def system_certificates(self, hostname: str) -> list[SystemCertificate]:
        """Every system certificate of one node, all pages.

        Raises:
            SchemaError: more than ``MAX_PAGES`` pages, a paging loop, or a next-page link
                that leaves the ISE origin.
        """
        what = f"the system certificates of {hostname}"
        url: str | None = self._url(
            SYSTEM_CERTIFICATES_PATH + quote(hostname, safe=""),
            {"page": 1, "size": PAGE_SIZE},
        )
        seen: set[str] = set()
        certificates: list[SystemCertificate] = []
        while url is not None:
            if len(seen) >= MAX_PAGES:
                raise SchemaError(url, f"{what} run past {MAX_PAGES} pages; refusing to go on")
            seen.add(url)
            page = self._fetch(url, SystemCertificatePage, what)
            certificates += page.response
            url = self._next_page(url, page, seen, what)
        return certificates

    def export_certificate(self, hostname: str, certificate: SystemCertificate) -> CertBundle:
        """The certificate itself (without its private key), exported by ISE as a ZIP.

        Raises:
            NetworkError: ISE cannot be reached or refuses (403: the account may not
                export; ``details["status"]`` says which).
            InputRejected: the answer is not a safe zip holding that certificate.
            UsageError: ISE gave the certificate no id to export it by.
        """
        if not certificate.id:
            raise UsageError(
                hostname, "ISE lists a certificate without an id; it cannot be exported"
            )
        what = f"the export of certificate {certificate.id} of {hostname}"
        url = self._url(EXPORT_PATH)
        # Cisco's request schema (tests/data/ise): export and id required, hostName named
        # required by the endpoint's description. CERTIFICATE: never the private key.
        payload = {"export": "CERTIFICATE", "id": certificate.id, "hostName": hostname}
        try:
            document = self._http.post(
                url,
                payload,
                max_bytes=MAX_EXPORT_BYTES,
                accept="application/zip, application/octet-stream",
                what=what,
            )
        except NetworkError as exc:
            exported = f"certificate {certificate.id} of {hostname}"
            raise _explained(exc, url, self.credentials.username, exported) from exc
        return read_export(document.body, f"{url} ({what})", certificate.sha256_hex)

    def proxy(self) -> ProxySettings:
        """The proxy ISE uses for its own outbound traffic (posture updates included)."""
        return self._get(PROXY_PATH, ProxyResponse, "the proxy settings").response

    def deployment_info(self) -> DeploymentInfoResponse:
        """ERS deployment information (its ``postureInfo`` part)."""
        return self._get(DEPLOYMENT_INFO_PATH, DeploymentInfoResponse, "the deployment info")

    # -- plumbing --

    def _url(self, path: str, query: dict[str, int] | None = None) -> str:
        return self.base_url + path + (f"?{urlencode(query)}" if query else "")

    def _next_page(
        self, url: str, page: SystemCertificatePage, seen: set[str], what: str
    ) -> str | None:
        link = page.next_page
        if link is None or not link.href or not page.response:
            return None
        target = urljoin(url, link.href)
        if _origin(target) != _origin(self.base_url):
            raise SchemaError(url, f"{what}: the next-page link leaves {self.base_url}")
        if target in seen:
            raise SchemaError(url, f"{what}: the next-page link points back to a page read")
        return target

    def _get(self, path: str, model: type[ModelT], what: str) -> ModelT:
        return self._fetch(self._url(path), model, what)

    def _fetch(self, url: str, model: type[ModelT], what: str) -> ModelT:
        try:
            document = self._http.get(
                url, max_bytes=MAX_RESPONSE_BYTES, accept="application/json", what=what
            )
        except NetworkError as exc:
            raise _explained(exc, url, self.credentials.username) from exc
        return parse_response(document.body, model, url, what)


def parse_response(body: bytes, model: type[ModelT], url: str, what: str) -> ModelT:
    """``body`` as JSON validated into ``model``.

    Raises:
        SchemaError: not JSON, or not following the model (Cisco's published schema).
    """
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        start = body[:1].decode("ascii", "replace")
        raise SchemaError(url, f"{what} is not JSON (starts with {start!r})") from exc
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise SchemaError(
            url, f"{what} does not follow Cisco's schema: {describe_validation_error(exc)}"
        ) from exc


def _explained(
    exc: NetworkError, url: str, username: str, exported: str | None = None
) -> NetworkError:
    """``exc`` with ISE's 401, 403 and 404 said in words; ``exported`` names the certificate
    of an export request."""
    status = exc.details.get("status")
    ers = "/ers/" in url
    api = "ERS" if ers else "Open API"
    if status == 401:
        problem = (
            f"HTTP 401: ISE did not accept the credentials of {username!r}: check the "
            f"password and that the account is an ISE admin user, and that {api} is enabled "
            f"in {API_SETTINGS}"
        )
    elif status == 403 and url.endswith(EXPORT_PATH):
        problem = (
            f"HTTP 403: ISE refused to export the certificate to {username!r} (a read-only "
            "account such as ERS Operator may read the certificate list but not export)"
        )
    elif status == 404 and url.endswith(EXPORT_PATH):
        # The lists came from the same Open API, so it is enabled: docs/ise.md.
        problem = (
            "HTTP 404: ISE does not offer the certificate export (a release without POST "
            f"{EXPORT_PATH}) or does not know {exported or 'the certificate'}"
        )
    elif status == 403:
        problem = (
            f"HTTP 403: {username!r} may not use this API; put the account in the "
            "ERS Operator admin group (read-only, enough for feedmgr) or ERS Admin"
        )
    elif status == 404:
        problem = f"HTTP 404: the {api} is not available: enable {api} in {API_SETTINGS}" + (
            "" if ers else "; the node list needs ISE 3.1 patch 1 or later"
        )
    else:
        return exc
    return NetworkError(url, problem, reason="http-status", status=status)
