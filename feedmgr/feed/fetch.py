"""The online feed client: read the Atom index over HTTPS, download and check the package.

docs/online-updates.md describes the behaviour; in short:

* HTTPS only, for the index, every alternate link, the package and every redirect; TLS is
  verified against the system store or a given CA bundle, never against the certificate's
  CN (RFC 9525 section 6.3: only subjectAltName identifies a server).
* The index is Atom (RFC 4287), parsed with defusedxml. A document without package entries
  is followed through its ``alternate`` link, at most ``max_hops`` times, never in a loop.
  Package entries carry ``<link rel="enclosure">`` plus ``cpm:version`` and ``cpm:sha256``
  in the ``http://www.cisco.com/cpm/update/1.0`` namespace.
* Connection errors, 429 and 5xx are retried with exponential backoff, honouring
  ``Retry-After`` (RFC 9110 section 10.2.3); other 4xx are final.
* Index documents are fetched conditionally (ETag / Last-Modified, RFC 9110 section 13);
  the caller stores the new validators only when the whole operation succeeded.
* The package streams into a temporary file, bounded by the announced length and an
  absolute cap, resumes with ``Range`` (RFC 9110 section 14) after a dropped connection
  when the server allows it, and must match the announced sha256.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import ssl
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit
from xml.etree.ElementTree import Element
from xml.etree.ElementTree import ParseError as XmlParseError

import requests
from defusedxml import ElementTree as SafeElementTree
from defusedxml.common import DefusedXmlException
from packaging.version import InvalidVersion, Version
from requests.adapters import HTTPAdapter

if TYPE_CHECKING:
    from feedmgr.feed.ingest import IngestOutcome
    from feedmgr.feed.package import SignedManifest
    from feedmgr.feed.signing import TrustedKey
    from feedmgr.feed.store import StoredFeed

from feedmgr import __version__
from feedmgr.config import DEFAULT_MAX_DOWNLOAD_BYTES, Config, check_https_url
from feedmgr.errors import (
    FeedmgrError,
    InputRejected,
    IntegrityError,
    NetworkError,
    ParseError,
    SchemaError,
    UsageError,
)

ATOM_NS = "http://www.w3.org/2005/Atom"
UPDATE_NS = "http://www.cisco.com/cpm/update/1.0"
PACKAGE_TYPE = "application/zip"
MAX_INDEX_BYTES = 4 * 1024 * 1024
MAX_ALTERNATE_HOPS = 5
MAX_REDIRECTS = 10
CHUNK = 64 * 1024
TEMP_PREFIX = ".feedmgr-download-"
TEMP_SUFFIX = ".part"
# A temporary download older than this belongs to a process that died; remove it.
STALE_TEMP_SECONDS = 24 * 3600

# OpenSSL X509_V_ERR_HOSTNAME_MISMATCH and X509_V_ERR_IP_ADDRESS_MISMATCH.
_NAME_MISMATCH = (62, 64)
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")

Sleep = Callable[[float], None]
Progress = Callable[[int, int | None], None]
CacheLookup = Callable[[str], tuple[str | None, str | None, bytes] | None]


def _atom(name: str) -> str:
    return f"{{{ATOM_NS}}}{name}"


def _cpm(name: str) -> str:
    return f"{{{UPDATE_NS}}}{name}"


# -- the index ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PackageRef:
    """A feed package announced by the index."""

    url: str
    version: str
    sha256: str
    length: int | None
    index_url: str

    @property
    def parsed_version(self) -> Version:
        """The announced version, for ordering."""
        return Version(self.version)


@dataclass(frozen=True)
class IndexDocument:
    """What one Atom document offers: package entries and alternate links (resolved)."""

    packages: tuple[PackageRef, ...]
    alternates: tuple[str, ...]

    def newest(self) -> PackageRef | None:
        """The package with the highest version, None when there is none."""
        return max(self.packages, key=lambda p: p.parsed_version, default=None)


def _resolve(base: str, href: str | None, subject: str, what: str) -> str:
    if href is None or not href.strip():
        raise SchemaError(subject, f"{what} has no href")
    target = urljoin(base, href.strip())
    try:
        check_https_url(target, subject)
    except UsageError:
        raise InputRejected(
            subject, f"{what} points to {target!r}, which is not an https:// URL; refusing it"
        ) from None
    return target


def _rel(link: Element) -> str:
    # RFC 4287 section 4.2.7.2: a link without rel is an alternate link.
    return (link.get("rel") or "alternate").strip()


def _text(entry: Element, name: str) -> str | None:
    node = entry.find(_cpm(name))
    if node is None or node.text is None:
        return None
    return node.text.strip()


def _entry_name(entry: Element, number: int) -> str:
    node = entry.find(_atom("id"))
    if node is not None and node.text and node.text.strip():
        return f"entry {node.text.strip()!r}"
    return f"entry #{number}"


def _package(entry: Element, enclosure: Element, url: str, name: str) -> PackageRef:
    target = _resolve(url, enclosure.get("href"), url, f"{name}: the enclosure")
    version = _text(entry, "version")
    if not version:
        raise SchemaError(url, f"{name}: no cpm:version ({{{UPDATE_NS}}}version)")
    try:
        Version(version)
    except InvalidVersion:
        raise SchemaError(url, f"{name}: cpm:version {version!r} is not a version") from None
    digest = _text(entry, "sha256")
    if not digest or not _SHA256.match(digest):
        raise SchemaError(url, f"{name}: cpm:sha256 must be 64 hexadecimal digits")
    length_text = enclosure.get("length")
    length = None
    if length_text is not None and length_text.strip():
        cleaned = length_text.strip()
        if not cleaned.isascii() or not cleaned.isdigit():
            raise SchemaError(url, f"{name}: enclosure length {length_text!r} is not a number")
        length = int(cleaned)
    return PackageRef(target, version, digest.lower(), length, url)


def parse_index(body: bytes, url: str) -> IndexDocument:
    """Parse one Atom index document fetched from ``url`` (relative links resolve against it).

    Raises:
        ParseError: not well-formed XML, or XML with a DTD or entities (refused by defusedxml).
        SchemaError: not an Atom feed, or a package entry without a valid version/sha256.
        InputRejected: a link that is not https://.
    """
    try:
        root = SafeElementTree.fromstring(body, forbid_dtd=True)
    except (XmlParseError, DefusedXmlException, ValueError, LookupError) as exc:
        raise ParseError(url, f"the index is not well-formed, safe XML ({exc})") from exc
    if root.tag != _atom("feed"):
        raise SchemaError(url, f"not an Atom feed (root element {root.tag!r})")
    alternates = [
        _resolve(url, link.get("href"), url, "an alternate link")
        for link in root.findall(_atom("link"))
        if _rel(link) == "alternate"
    ]
    packages: list[PackageRef] = []
    for number, entry in enumerate(root.findall(_atom("entry")), start=1):
        name = _entry_name(entry, number)
        links = entry.findall(_atom("link"))
        enclosures = [
            link
            for link in links
            if _rel(link) == "enclosure"
            and (link.get("type") or PACKAGE_TYPE).strip().lower() == PACKAGE_TYPE
        ]
        if len(enclosures) > 1:
            raise SchemaError(url, f"{name}: more than one application/zip enclosure")
        if enclosures:
            packages.append(_package(entry, enclosures[0], url, name))
        else:
            alternates += [
                _resolve(url, link.get("href"), url, f"{name}: the alternate link")
                for link in links
                if _rel(link) == "alternate"
            ]
    by_version: dict[Version, PackageRef] = {}
    for package in packages:
        other = by_version.setdefault(package.parsed_version, package)
        if other.sha256 != package.sha256:
            raise SchemaError(
                url, f"two entries announce version {package.version} with different sha256"
            )
    return IndexDocument(tuple(packages), tuple(alternates))


# -- settings and results -------------------------------------------------------------------


@dataclass(frozen=True)
class FetchSettings:
    """How the client talks to servers. ``sleep`` is injectable so tests do not wait."""

    ca_bundle: Path | None = None
    proxy: str | None = None
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    retries: int = 3
    backoff: float = 1.0
    max_retry_after: float = 120.0
    max_download_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES
    max_index_bytes: int = MAX_INDEX_BYTES
    max_hops: int = MAX_ALTERNATE_HOPS
    sleep: Sleep = field(default=time.sleep, compare=False)


def settings_for(
    config: Config, *, ca_bundle: Path | None = None, proxy: str | None = None
) -> FetchSettings:
    """Settings from the command line over the config file over the defaults."""
    return FetchSettings(
        ca_bundle=ca_bundle if ca_bundle is not None else config.ca_bundle,
        proxy=proxy if proxy is not None else config.proxy,
        max_download_bytes=config.max_download_bytes,
    )


@dataclass(frozen=True)
class CachedDocument:
    """A fetched index document and its validators, to remember for conditional GETs."""

    url: str
    etag: str | None
    last_modified: str | None
    body: bytes


@dataclass(frozen=True)
class IndexResult:
    """The newest package of an index, and how it was found."""

    package: PackageRef
    documents: tuple[str, ...]
    not_modified: tuple[str, ...]
    cache_updates: tuple[CachedDocument, ...]


@dataclass(frozen=True)
class Download:
    """A package downloaded and checked against its size and sha256."""

    path: Path
    size: int
    sha256: str
    resumed: int


class _BodyDropped(Exception):
    """The connection broke while reading a body."""


_DROPPED = (
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ContentDecodingError,
)


# -- errors ---------------------------------------------------------------------------------


def _innermost(exc: BaseException) -> BaseException:
    seen: set[int] = set()
    current: BaseException = exc
    while id(current) not in seen:
        seen.add(id(current))
        nested = next((a for a in current.args if isinstance(a, BaseException)), None)
        nested = nested or getattr(current, "reason", None) or current.__cause__
        if not isinstance(nested, BaseException):
            break
        current = nested
    return current


def _tls_problem(exc: BaseException) -> str:
    inner = _innermost(exc)
    if isinstance(inner, ssl.SSLCertVerificationError):
        detail = (inner.verify_message or str(inner)).rstrip(".")
        if inner.verify_code in _NAME_MISMATCH:
            return f"TLS certificate is not valid for this host ({detail})"
        return (
            f"TLS certificate not trusted ({detail}); if the server uses a private CA, "
            "pass --ca-bundle FILE or set feed.ca_bundle"
        )
    return f"TLS handshake failed ({inner})"


def _connection_problem(exc: BaseException, settings: FetchSettings) -> tuple[str, str]:
    if isinstance(exc, requests.exceptions.ProxyError):
        return "proxy", f"cannot use the proxy ({_innermost(exc)})"
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "timeout", f"no connection within {settings.connect_timeout:g} s"
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return "timeout", f"the server did not answer within {settings.read_timeout:g} s"
    inner = _innermost(exc)
    text = getattr(inner, "strerror", None) or str(inner)
    return "connection", f"cannot connect ({text})"


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def _as_remote(exc: FeedmgrError, url: str) -> FeedmgrError:
    """The same rejection, named after the URL instead of the temporary file."""
    clone = type(exc)(url, exc.problem, **exc.details)
    clone.__cause__ = exc
    return clone


# -- the client -----------------------------------------------------------------------------


class _ContextAdapter(HTTPAdapter):
    """An adapter whose connections (direct and through proxies) use our SSL context."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ssl_context"] = self._context
        super().init_poolmanager(*args, **kwargs)

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        kwargs["ssl_context"] = self._context
        return super().proxy_manager_for(proxy, **kwargs)


def ssl_context(ca_bundle: Path | None) -> ssl.SSLContext:
    """A verifying client context: the system store, or only ``ca_bundle`` when given.

    Raises:
        UsageError: the CA bundle file cannot be read.
        InputRejected: the CA bundle holds no usable certificate.
    """
    if ca_bundle is None:
        context = ssl.create_default_context()
    else:
        # With a bundle, only the bundle is trusted (not the system store as well).
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        try:
            context.load_verify_locations(cafile=str(ca_bundle))
        except ssl.SSLError as exc:
            raise InputRejected(
                str(ca_bundle), f"not a PEM bundle of CA certificates ({exc.reason or exc})"
            ) from exc
        except OSError as exc:
            raise UsageError(str(ca_bundle), f"cannot read the CA bundle ({exc.strerror})") from exc
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    # RFC 9525 section 6.3: the CN is not an identity; only subjectAltName counts.
    context.hostname_checks_common_name = False
    return context


class FeedClient:
    """An HTTPS session for one command. Use as a context manager."""

    def __init__(self, settings: FetchSettings | None = None) -> None:
        """Prepare the session (no network traffic yet).

        Raises:
            UsageError, InputRejected: the CA bundle is unusable.
        """
        self.settings = settings or FetchSettings()
        self.session = requests.Session()
        self.session.headers["User-Agent"] = f"feedmgr/{__version__}"
        adapter = _ContextAdapter(ssl_context(self.settings.ca_bundle))
        self.session.mount("https://", adapter)
        # Plain http is never used; an adapter that always fails makes that certain.
        self.session.mount("http://", _RefuseAdapter())
        self._proxies = {"https": self.settings.proxy} if self.settings.proxy else {}

    def __enter__(self) -> FeedClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close pooled connections."""
        self.session.close()

    # -- one request, with retries and redirects --

    def _backoff(self, attempt: int) -> float:
        return float(self.settings.backoff * 2**attempt)

    def _send(self, url: str, headers: dict[str, str]) -> requests.Response:
        settings = self.settings
        attempt = 0
        while True:
            try:
                response = self.session.get(
                    url,
                    headers=headers,
                    stream=True,
                    allow_redirects=False,
                    timeout=(settings.connect_timeout, settings.read_timeout),
                    proxies=self._proxies,
                )
            except requests.exceptions.SSLError as exc:
                raise NetworkError(url, _tls_problem(exc), reason="tls") from exc
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
                reason, problem = _connection_problem(exc, settings)
                if attempt >= settings.retries:
                    tries = f" (gave up after {attempt + 1} attempts)" if attempt else ""
                    raise NetworkError(url, problem + tries, reason=reason) from exc
                delay = self._backoff(attempt)
            else:
                status = response.status_code
                if status != 429 and not 500 <= status <= 599:
                    return response
                response.close()
                if attempt >= settings.retries:
                    raise NetworkError(
                        url,
                        f"server answered HTTP {status} {response.reason} "
                        f"(gave up after {attempt + 1} attempts)",
                        reason="http-status",
                        status=status,
                    )
                wanted = _retry_after(response.headers.get("Retry-After"))
                delay = self._backoff(attempt) if wanted is None else wanted
                if delay > settings.max_retry_after:
                    raise NetworkError(
                        url,
                        f"server answered HTTP {status} and asks to retry after {delay:.0f} s; "
                        "try again later",
                        reason="http-status",
                        status=status,
                        retry_after=delay,
                    )
            settings.sleep(delay)
            attempt += 1

    def request(self, url: str, headers: dict[str, str]) -> tuple[requests.Response, str]:
        """GET ``url`` following redirects (https only, no loops); return the response and
        the final URL. Only 200, 206 and 304 come back; the caller closes the response.

        Raises:
            NetworkError: unreachable, TLS failure, redirect to http or in a loop, an HTTP
                error status (after retries for 429/5xx).
        """
        chain = [url]
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            response = self._send(current, headers)
            if response.is_redirect:
                response.close()
                target = urljoin(current, response.headers["location"])
                if urlsplit(target).scheme.lower() != "https":
                    raise NetworkError(
                        current,
                        f"redirects to {target}, which is not https://; refusing to follow",
                        reason="insecure-redirect",
                    )
                if target in chain:
                    raise NetworkError(
                        url,
                        f"redirect loop ({' -> '.join([*chain, target])})",
                        reason="redirect-loop",
                    )
                chain.append(target)
                current = target
                continue
            if response.status_code in (200, 206, 304):
                return response, current
            response.close()
            status = response.status_code
            raise NetworkError(
                current,
                f"server answered HTTP {status} {response.reason}",
                reason="http-status",
                status=status,
            )
        raise NetworkError(url, f"more than {MAX_REDIRECTS} redirects", reason="redirects")

    # -- the index --

    def _read_document(self, response: requests.Response, url: str) -> bytes:
        limit = self.settings.max_index_bytes
        body = bytearray()
        try:
            for chunk in response.iter_content(CHUNK):
                body += chunk
                if len(body) > limit:
                    raise InputRejected(
                        url, f"the index is larger than {limit} bytes; refusing it", reason="size"
                    )
        except _DROPPED as exc:
            raise _BodyDropped(str(exc)) from exc
        return bytes(body)

    def fetch_document(
        self, url: str, cache: CacheLookup
    ) -> tuple[str, bytes, CachedDocument | None]:
        """Fetch one index document conditionally; return (final URL, body, cache update).

        The cache update is None when the server answered 304 (the cached body is returned)
        or sent no validators.

        Raises:
            NetworkError: as for ``request``; also a 304 to an unconditional request.
            InputRejected: the document is larger than the index limit.
        """
        cached = cache(url)
        headers = {"Accept": "application/atom+xml, application/xml;q=0.9, */*;q=0.1"}
        if cached is not None:
            etag, last_modified, _ = cached
            if etag:
                headers["If-None-Match"] = etag
            if last_modified:
                headers["If-Modified-Since"] = last_modified
        attempt = 0
        while True:
            response, final_url = self.request(url, headers)
            with response:
                if response.status_code == 304:
                    if cached is None:
                        raise NetworkError(
                            url, "server answered 304 Not Modified to an unconditional request"
                        )
                    return final_url, cached[2], None
                if response.status_code != 200:
                    raise NetworkError(
                        url,
                        f"unexpected HTTP {response.status_code} for the index",
                        reason="http-status",
                    )
                try:
                    body = self._read_document(response, url)
                except _BodyDropped as exc:
                    if attempt >= self.settings.retries:
                        raise NetworkError(
                            url, f"connection dropped while reading the index ({exc})"
                        ) from exc
                    self.settings.sleep(self._backoff(attempt))
                    attempt += 1
                    continue
                etag = response.headers.get("ETag")
                last_modified = response.headers.get("Last-Modified")
            update = (
                CachedDocument(url, etag, last_modified, body) if etag or last_modified else None
            )
            return final_url, body, update

    def resolve_index(self, url: str, cache: CacheLookup | None = None) -> IndexResult:
        """Follow the index from ``url`` to its newest package.

        Raises:
            NetworkError: a document cannot be fetched.
            InputRejected: a document is invalid, the alternate links loop or go deeper than
                ``max_hops``, or no document offers a package.
        """
        lookup: CacheLookup = cache or _no_cache
        visited: list[str] = []
        not_modified: list[str] = []
        updates: list[CachedDocument] = []
        current = url
        for _ in range(self.settings.max_hops + 1):
            if current in visited:
                raise InputRejected(
                    url,
                    f"alternate links form a loop ({' -> '.join([*visited, current])})",
                    reason="alternate-loop",
                )
            final_url, body, update = self.fetch_document(current, lookup)
            visited.append(current)
            if final_url != current and final_url in visited:
                raise InputRejected(
                    url,
                    f"alternate links form a loop ({' -> '.join([*visited, final_url])})",
                    reason="alternate-loop",
                )
            if update is None:
                if lookup(current) is not None:
                    not_modified.append(current)
            else:
                updates.append(update)
            document = parse_index(body, final_url)
            newest = document.newest()
            if newest is not None:
                return IndexResult(newest, tuple(visited), tuple(not_modified), tuple(updates))
            if not document.alternates:
                raise SchemaError(
                    final_url, "no package entry (enclosure) and no alternate link to follow"
                )
            current = document.alternates[0]
        raise InputRejected(
            url,
            f"more than {self.settings.max_hops} alternate links to follow; giving up",
            reason="too-many-hops",
        )

    # -- the package --

    @contextlib.contextmanager
    def download(
        self, package: PackageRef, directory: Path, progress: Progress | None = None
    ) -> Iterator[Download]:
        """Download ``package`` into a temporary file in ``directory``, checked completely.

        The file exists only inside the ``with`` block; it is removed on every exit.

        Raises:
            IntegrityError: larger or shorter than announced, or the wrong sha256.
            InputRejected: the announced length exceeds the absolute cap.
            NetworkError: the server cannot be reached or keeps dropping the connection.
        """
        cap = self.settings.max_download_bytes
        if package.length is not None and package.length > cap:
            raise InputRejected(
                package.url,
                f"announced size of {package.length} bytes exceeds the download cap of "
                f"{cap} bytes (feed.max_download_bytes)",
                reason="too-large",
            )
        remove_stale_downloads(directory)
        try:
            directory.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX, dir=directory)
        except OSError as exc:
            raise UsageError(
                str(directory), f"cannot create a temporary file ({exc.strerror})"
            ) from exc
        path = Path(name)
        try:
            with os.fdopen(fd, "w+b") as handle:
                size, digest, resumed = self._download_into(handle, package, progress)
                handle.flush()
                os.fsync(handle.fileno())
            yield Download(path, size, digest, resumed)
        finally:
            path.unlink(missing_ok=True)

    def _download_into(
        self, handle: IO[bytes], package: PackageRef, progress: Progress | None
    ) -> tuple[int, str, int]:
        transfer = _Transfer(handle, package, self.settings.max_download_bytes, progress)
        failures = 0
        while True:
            response, _ = self.request(package.url, transfer.headers())
            with response:
                transfer.start(response)
                try:
                    transfer.pump(response)
                except _DROPPED as exc:
                    failures += 1
                    if failures > self.settings.retries:
                        raise NetworkError(
                            package.url,
                            f"connection dropped after {transfer.received} bytes; gave up "
                            f"after {failures} attempts",
                            reason="dropped",
                        ) from exc
                    self.settings.sleep(self._backoff(failures - 1))
                    continue
            return transfer.finish()


class _Transfer:
    """The state of one package download across resumed requests."""

    def __init__(
        self, handle: IO[bytes], package: PackageRef, cap: int, progress: Progress | None
    ) -> None:
        self.handle = handle
        self.package = package
        self.progress = progress
        self.limit = package.length if package.length is not None else cap
        self.what = (
            f"the {self.limit} bytes the index announces"
            if package.length is not None
            else f"the download cap of {self.limit} bytes (feed.max_download_bytes)"
        )
        self.received = 0
        self.digest = hashlib.sha256()
        self.validator: str | None = None
        self.resumed = 0

    def headers(self) -> dict[str, str]:
        """Request headers: no content coding (byte ranges must mean file bytes), Range."""
        headers = {"Accept-Encoding": "identity", "Accept": "application/zip, */*;q=0.1"}
        if self.received:
            headers["Range"] = f"bytes={self.received}-"
            if self.validator:
                headers["If-Range"] = self.validator
        return headers

    def start(self, response: requests.Response) -> None:
        """Check the response status and length before reading its body."""
        url = self.package.url
        status = response.status_code
        if status == 206 and self.received:
            start = _range_start(response.headers.get("Content-Range"))
            if start != self.received:
                raise NetworkError(
                    url,
                    f"server resumed at byte {start}, expected {self.received}",
                    reason="bad-range",
                )
            self.resumed += 1
        elif status == 200:
            if self.received:
                # The server ignored Range (or the file changed): start again.
                self.handle.seek(0)
                self.handle.truncate()
                self.digest = hashlib.sha256()
                self.received = 0
        else:
            raise NetworkError(
                url, f"unexpected HTTP {status} for the package", reason="http-status"
            )
        if self.validator is None:
            self.validator = _range_validator(response)
        announced = response.headers.get("Content-Length", "")
        if announced.isdigit() and self.received + int(announced) > self.limit:
            raise IntegrityError(
                url,
                f"server sends {self.received + int(announced)} bytes, more than {self.what}",
                reason="too-large",
            )

    def pump(self, response: requests.Response) -> None:
        """Copy the body to the file, never past the limit."""
        for chunk in response.iter_content(CHUNK):
            if self.received + len(chunk) > self.limit:
                raise IntegrityError(
                    self.package.url, f"body is larger than {self.what}", reason="too-large"
                )
            self.handle.write(chunk)
            self.digest.update(chunk)
            self.received += len(chunk)
            if self.progress is not None:
                self.progress(self.received, self.package.length)

    def finish(self) -> tuple[int, str, int]:
        """Check the complete body: length and sha256."""
        package = self.package
        if package.length is not None and self.received < package.length:
            raise IntegrityError(
                package.url,
                f"body is {self.received} bytes, shorter than the {package.length} the index "
                "announces",
                reason="truncated",
            )
        actual = self.digest.hexdigest()
        if actual != package.sha256:
            raise IntegrityError(
                package.url,
                f"sha256 is {actual}, the index announces {package.sha256}",
                reason="sha256",
            )
        return self.received, actual, self.resumed


class _RefuseAdapter(HTTPAdapter):
    """Refuses every plain-http request (a second line of defence behind the URL checks)."""

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        raise NetworkError(
            str(request.url), "plain http:// is never used; only https://", reason="insecure"
        )


def _no_cache(url: str) -> None:
    del url


def _range_start(value: str | None) -> int | None:
    match = _CONTENT_RANGE.match((value or "").strip())
    return int(match.group(1)) if match else None


def _range_validator(response: requests.Response) -> str | None:
    # RFC 9110 section 13.1.5: If-Range needs a strong ETag or a Last-Modified date.
    etag = response.headers.get("ETag")
    if etag and not etag.startswith("W/"):
        return etag
    return response.headers.get("Last-Modified")


def remove_stale_downloads(directory: Path, now: float | None = None) -> None:
    """Delete temporary downloads left in ``directory`` by processes that died."""
    moment = time.time() if now is None else now
    with contextlib.suppress(OSError):
        for entry in directory.glob(f"{TEMP_PREFIX}*{TEMP_SUFFIX}"):
            with contextlib.suppress(OSError):
                if moment - entry.stat().st_mtime > STALE_TEMP_SECONDS:
                    entry.unlink()


# -- what the commands run ------------------------------------------------------------------


def check_package_version(path: Path, package: PackageRef) -> None:
    """The package's manifest must carry the version the index announced.

    Raises:
        InputRejected: the package cannot be read, or its version differs.
    """
    from feedmgr.feed.archive import SafeZip
    from feedmgr.feed.manifest import MANIFEST_NAME, parse_manifest
    from feedmgr.feed.package import MAX_MANIFEST_BYTES

    try:
        with SafeZip(path) as archive:
            manifest = parse_manifest(
                archive.read_small(MANIFEST_NAME, MAX_MANIFEST_BYTES), str(path)
            )
    except InputRejected as exc:
        raise _as_remote(exc, package.url) from exc
    if manifest.parsed_version != package.parsed_version:
        raise IntegrityError(
            package.url,
            f"the index announces version {package.version} but the package holds "
            f"{manifest.version}",
            reason="version",
        )


def save_cache(home: Path, updates: Sequence[CachedDocument]) -> None:
    """Remember fetched index documents for the next conditional GET.

    Raises:
        StoreError: the store cannot be written.
    """
    if not updates:
        return
    from feedmgr.feed.store import FeedStore

    with FeedStore(home).writer() as writer:
        for update in updates:
            writer.save_response(update.url, update.etag, update.last_modified, update.body)


def copy_atomically(source: Path, output: Path) -> None:
    """Copy ``source`` to ``output`` through a temporary file beside it and a rename.

    Raises:
        UsageError: the output cannot be written.
    """
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=".feedmgr-", suffix=".part", dir=output.parent)
    except OSError as exc:
        raise UsageError(str(output), f"cannot write here ({exc.strerror})") from exc
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as target, source.open("rb") as origin:
            shutil.copyfileobj(origin, target, CHUNK)
            target.flush()
            os.fsync(target.fileno())
        tmp.chmod(0o644)
        tmp.replace(output)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UsageError(str(output), f"cannot write here ({exc.strerror})") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class UpdateCheck:
    """The newest package of the index next to the active feed."""

    index: IndexResult
    active: StoredFeed | None

    @property
    def package(self) -> PackageRef:
        """The newest package the index offers."""
        return self.index.package

    @property
    def newer(self) -> bool:
        """True when the index offers a version newer than the active feed."""
        return self.active is None or self.package.parsed_version > self.active.parsed_version


def check_update(home: Path, client: FeedClient, url: str) -> UpdateCheck:
    """Resolve the index (conditionally, with the store's cache) and compare versions.

    Raises:
        NetworkError, InputRejected: as for ``FeedClient.resolve_index``.
        StoreError: the store is damaged.
    """
    from feedmgr.feed.store import FeedStore

    store = FeedStore(home)
    index = client.resolve_index(url, store.cached_response)
    return UpdateCheck(index, store.active())


@dataclass(frozen=True)
class OnlineOutcome:
    """What ``online_update`` did: ``ingest`` is None when nothing newer was offered."""

    check: UpdateCheck
    ingest: IngestOutcome | None
    download: Download | None


def online_update(
    home: Path,
    client: FeedClient,
    url: str,
    *,
    extra_keys: Sequence[TrustedKey] = (),
    allow_unsigned: bool = False,
    allow_downgrade: bool = False,
    progress: Progress | None = None,
) -> OnlineOutcome:
    """Fetch the newest package when it is newer than the active feed and ingest it exactly
    as ``update --offline`` does. The index cache is saved only after success.

    Raises:
        NetworkError: a server cannot be reached or fails.
        InputRejected: the index or the package is bad (the store is unchanged).
        StoreError: the store is locked or damaged.
    """
    from feedmgr.feed.ingest import ingest_package
    from feedmgr.feed.store import FeedStore

    check = check_update(home, client, url)
    package = check.package
    wanted = check.newer or (
        allow_downgrade
        and check.active is not None
        and package.parsed_version != check.active.parsed_version
    )
    if not wanted:
        save_cache(home, check.index.cache_updates)
        return OnlineOutcome(check, None, None)
    with client.download(package, home, progress) as download:
        check_package_version(download.path, package)
        try:
            outcome = ingest_package(
                FeedStore(home),
                download.path,
                extra_keys=extra_keys,
                allow_unsigned=allow_unsigned,
                allow_downgrade=allow_downgrade,
                source=package.url,
            )
        except InputRejected as exc:
            raise _as_remote(exc, package.url) from exc
    save_cache(home, check.index.cache_updates)
    return OnlineOutcome(check, outcome, download)


@dataclass(frozen=True)
class Fetched:
    """A package downloaded, verified completely and written for an air-gapped network."""

    package: PackageRef
    download: Download
    signed: SignedManifest
    output: Path


def download_newest(
    home: Path,
    client: FeedClient,
    url: str,
    output: Path,
    *,
    extra_keys: Sequence[TrustedKey] = (),
    progress: Progress | None = None,
) -> Fetched:
    """Download the newest package, verify it with the store's keys plus ``extra_keys``
    (``verify_package``: structure, signature, dates, every payload byte), then write it to
    ``output`` atomically. Nothing is written when any check fails.

    Raises:
        NetworkError, InputRejected: as for ``online_update``.
        UsageError: the output cannot be written.
    """
    from feedmgr.feed.package import verify_package
    from feedmgr.feed.store import FeedStore

    store = FeedStore(home)
    index = client.resolve_index(url, store.cached_response)
    package = index.package
    keys = [*store.trusted_keys(), *extra_keys]
    with client.download(package, home, progress) as download:
        check_package_version(download.path, package)
        try:
            signed = verify_package(download.path, keys)
        except InputRejected as exc:
            raise _as_remote(exc, package.url) from exc
        copy_atomically(download.path, output)
    save_cache(home, index.cache_updates)
    return Fetched(package, download, signed, output)
