"""The HTTPS transport: one verified session with proxy, retries and bounded reads.

docs/online-updates.md ("Network behaviour") describes it; in short:

* HTTPS only, for every request and every redirect; TLS is verified against the system store
  or a given CA bundle, never against the certificate's CN (RFC 9525 section 6.3: only
  subjectAltName identifies a server).
* Connection errors, 429 and 5xx are retried with exponential backoff, honouring
  ``Retry-After`` (RFC 9110 section 10.2.3); other 4xx are final.
* ``HttpsClient.get`` fetches a whole document, conditionally (ETag / Last-Modified, RFC 9110
  section 13), bounded by a size cap; ``request`` and ``chunks`` are the streaming pieces
  for callers that write to disk (the resumable package download).

Nothing here knows about feeds or settings files; callers pass ``TransportSettings``.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter

from feedmgr import __version__
from feedmgr.errors import InputRejected, NetworkError, UsageError

if TYPE_CHECKING:
    from feedmgr.config import Config

MAX_REDIRECTS = 10
CHUNK = 64 * 1024

# OpenSSL X509_V_ERR_HOSTNAME_MISMATCH and X509_V_ERR_IP_ADDRESS_MISMATCH.
_NAME_MISMATCH = (62, 64)

Sleep = Callable[[float], None]


@dataclass(frozen=True)
class TransportSettings:
    """How the client talks to servers. ``sleep`` is injectable so tests do not wait."""

    ca_bundle: Path | None = None
    proxy: str | None = None
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    retries: int = 3
    backoff: float = 1.0
    max_retry_after: float = 120.0
    sleep: Sleep = field(default=time.sleep, compare=False)


def transport_settings(
    config: Config, *, ca_bundle: Path | None = None, proxy: str | None = None
) -> TransportSettings:
    """Settings from the command line (``ca_bundle``, ``proxy``) over the config file over
    the defaults."""
    return TransportSettings(
        ca_bundle=ca_bundle if ca_bundle is not None else config.ca_bundle,
        proxy=proxy if proxy is not None else config.proxy,
    )


@dataclass(frozen=True)
class Document:
    """A whole document fetched by ``HttpsClient.get``.

    ``not_modified`` is True when the server answered 304 to the validators sent; ``body``
    is then empty and the caller uses its cached copy.
    """

    url: str
    final_url: str
    body: bytes
    etag: str | None
    last_modified: str | None
    not_modified: bool = False


class BodyDropped(Exception):
    """The connection broke while reading a body (the caller decides whether to retry)."""


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


def _connection_problem(exc: BaseException, settings: TransportSettings) -> tuple[str, str]:
    if isinstance(exc, requests.exceptions.ProxyError):
        return "proxy", f"cannot use the proxy ({_innermost(exc)})"
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "timeout", f"no connection within {settings.connect_timeout:g} s"
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return "timeout", f"the server did not answer within {settings.read_timeout:g} s"
    inner = _innermost(exc)
    text = getattr(inner, "strerror", None) or str(inner)
    return "connection", f"cannot connect ({text})"


def retry_after(value: str | None) -> float | None:
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


# -- TLS ------------------------------------------------------------------------------------


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


class _RefuseAdapter(HTTPAdapter):
    """Refuses every plain-http request (a second line of defence behind the URL checks)."""

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        raise NetworkError(
            str(request.url), "plain http:// is never used; only https://", reason="insecure"
        )


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


# -- the client -----------------------------------------------------------------------------


class HttpsClient:
    """An HTTPS session for one command. Use as a context manager."""

    def __init__(self, settings: TransportSettings | None = None) -> None:
        """Prepare the session (no network traffic yet).

        Raises:
            UsageError, InputRejected: the CA bundle is unusable.
        """
        self.settings = settings or TransportSettings()
        self.session = requests.Session()
        self.session.headers["User-Agent"] = f"feedmgr/{__version__}"
        adapter = _ContextAdapter(ssl_context(self.settings.ca_bundle))
        self.session.mount("https://", adapter)
        # Plain http is never used; an adapter that always fails makes that certain.
        self.session.mount("http://", _RefuseAdapter())
        self._proxies = {"https": self.settings.proxy} if self.settings.proxy else {}

    def __enter__(self) -> HttpsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close pooled connections."""
        self.session.close()

    def backoff(self, attempt: int) -> float:
        """The wait before retry number ``attempt`` (0-based): exponential."""
        return float(self.settings.backoff * 2**attempt)

    # -- one request, with retries and redirects --

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
                delay = self.backoff(attempt)
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
                wanted = retry_after(response.headers.get("Retry-After"))
                delay = self.backoff(attempt) if wanted is None else wanted
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
        the final URL. Only 200, 206 and 304 come back; the caller closes the response and
        reads its body with ``chunks``.

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

    def chunks(self, response: requests.Response) -> Iterator[bytes]:
        """The body of ``response`` in pieces of at most ``CHUNK`` bytes.

        Raises:
            BodyDropped: the connection broke or stalled while reading.
        """
        try:
            yield from response.iter_content(CHUNK)
        except _DROPPED as exc:
            raise BodyDropped(str(exc)) from exc

    # -- a whole document --

    def get(
        self,
        url: str,
        *,
        max_bytes: int,
        accept: str = "*/*",
        etag: str | None = None,
        last_modified: str | None = None,
        what: str = "the document",
    ) -> Document:
        """GET a whole document of at most ``max_bytes``, conditionally when ``etag`` or
        ``last_modified`` (validators of a cached copy) are given. A dropped connection is
        retried like a failed request. ``what`` names the document in error messages.

        Raises:
            NetworkError: as for ``request``; a 304 to an unconditional request, a 206, or
                a connection that keeps dropping.
            InputRejected: the body is larger than ``max_bytes`` (reason ``size``).
        """
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        attempt = 0
        while True:
            response, final_url = self.request(url, headers)
            with response:
                if response.status_code == 304:
                    if not (etag or last_modified):
                        raise NetworkError(
                            url, "server answered 304 Not Modified to an unconditional request"
                        )
                    return Document(url, final_url, b"", etag, last_modified, not_modified=True)
                if response.status_code != 200:
                    raise NetworkError(
                        url,
                        f"unexpected HTTP {response.status_code} for {what}",
                        reason="http-status",
                    )
                try:
                    body = self._read_whole(response, url, max_bytes, what)
                except BodyDropped as exc:
                    if attempt >= self.settings.retries:
                        raise NetworkError(
                            url, f"connection dropped while reading {what} ({exc})"
                        ) from exc
                    self.settings.sleep(self.backoff(attempt))
                    attempt += 1
                    continue
                return Document(
                    url,
                    final_url,
                    body,
                    response.headers.get("ETag"),
                    response.headers.get("Last-Modified"),
                )

    def _read_whole(self, response: requests.Response, url: str, limit: int, what: str) -> bytes:
        body = bytearray()
        for chunk in self.chunks(response):
            body += chunk
            if len(body) > limit:
                raise InputRejected(
                    url, f"{what} is larger than {limit} bytes; refusing it", reason="size"
                )
        return bytes(body)
