"""The HTTPS transport: one verified session with proxy, retries and bounded reads.

docs/online-updates.md ("Network behaviour") describes it; in short:

* HTTPS only, for every request and every redirect; TLS is verified against the system store
  or a given CA bundle, never against the certificate's CN (RFC 9525 section 6.3: only
  subjectAltName identifies a server).
* Connection errors, 429 and 5xx are retried with exponential backoff, honouring
  ``Retry-After`` (RFC 9110 section 10.2.3); other 4xx are final. A POST is not idempotent
  (RFC 9110 section 9.2.2): it is retried only when the connection was never made, so it
  cannot have reached the server, and it follows no redirect.
* Every transfer (one ``get``, or one streamed download across its resumed requests) has an
  overall deadline, and once a body has had ``rate_grace`` seconds it must keep up a minimum
  average rate; before that, each request must have its TLS handshake and response headers
  within ``rate_grace``, on the wall clock. Past any of these, the transfer fails at once
  and is not retried. This defeats the "slow retrieval" attack of the TUF threat model (a
  server that drips bytes) and slow-loris servers that stall before the body.
* Bodies are asked for and counted as sent (``Accept-Encoding: identity``), so limits and
  rates apply to what crosses the network; ``get`` still decodes a gzip or deflate body of a
  server that ignores the request.
* ``HttpsClient.get`` fetches a whole document, conditionally (ETag / Last-Modified, RFC 9110
  section 13), bounded by a size cap; ``post`` sends a JSON body and reads the whole answer
  under the same cap; ``request`` and ``chunks`` are the streaming pieces for callers that
  write to disk (the resumable package download).

Nothing here knows about feeds or settings files; callers pass ``TransportSettings``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import ssl
import time
import zlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter

from feedmgr import __version__
from feedmgr.errors import InputRejected, NetworkError, UsageError
from feedmgr.net import DEFAULT_DEADLINE_SECONDS, DEFAULT_MIN_RATE, RATE_GRACE_SECONDS
from feedmgr.net.urls import check_proxy_url, has_userinfo, mask_passwords, redact_url

if TYPE_CHECKING:
    from feedmgr.config import Config

MAX_REDIRECTS = 10
CHUNK = 64 * 1024

# OpenSSL X509_V_ERR_HOSTNAME_MISMATCH and X509_V_ERR_IP_ADDRESS_MISMATCH.
_NAME_MISMATCH = (62, 64)

Sleep = Callable[[float], None]
Clock = Callable[[], float]


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
    deadline: float = DEFAULT_DEADLINE_SECONDS
    min_rate: int = DEFAULT_MIN_RATE
    rate_grace: float = RATE_GRACE_SECONDS
    # How the user names a CA bundle, for the advice on an untrusted certificate.
    ca_setting: str = "--ca-bundle FILE or set feed.ca_bundle"
    sleep: Sleep = field(default=time.sleep, compare=False)
    clock: Clock = field(default=time.monotonic, compare=False)


def transport_settings(
    config: Config, *, ca_bundle: Path | None = None, proxy: str | None = None
) -> TransportSettings:
    """Settings from the command line (``ca_bundle``, ``proxy``) over the config file over
    the defaults."""
    return TransportSettings(
        ca_bundle=ca_bundle if ca_bundle is not None else config.ca_bundle,
        proxy=proxy if proxy is not None else config.proxy,
        deadline=config.deadline,
        min_rate=config.min_rate,
        rate_grace=RATE_GRACE_SECONDS,
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


# What requests and urllib3 raise for a request they cannot even build (a URL or proxy
# they cannot parse, a header they refuse), before anything is sent.
_UNBUILDABLE = (
    requests.exceptions.InvalidURL,
    requests.exceptions.InvalidSchema,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidHeader,
    requests.exceptions.URLRequired,
    urllib3.exceptions.LocationValueError,
)

# What reading a body raises when the connection breaks or stalls (urllib3 wraps most).
_DROPPED = (urllib3.exceptions.HTTPError, OSError)


class Deadline:
    """The time budget of one transfer: its requests, redirects, retry waits and bodies."""

    def __init__(self, settings: TransportSettings, url: str) -> None:
        """Start the clock for a transfer of ``url``."""
        self.settings = settings
        self.url = url
        self.end = settings.clock() + settings.deadline

    def remaining(self) -> float:
        """Seconds left (negative once passed)."""
        return self.end - self.settings.clock()

    def expired(self) -> NetworkError:
        """The error for a transfer that ran out of time."""
        return NetworkError(
            self.url,
            f"the transfer did not finish within {self.settings.deadline:g} s "
            "(network.deadline); the server is too slow or stalls",
            reason="deadline",
        )

    def check(self) -> None:
        """Raise the deadline error when no time is left.

        Raises:
            NetworkError: reason ``deadline``.
        """
        if self.remaining() <= 0:
            raise self.expired()

    def timeouts(self) -> tuple[float, float]:
        """(connect, read) timeouts for one request: the settings, cut to the time left."""
        left = max(self.remaining(), 0.001)
        return min(self.settings.connect_timeout, left), min(self.settings.read_timeout, left)

    def wait(self, delay: float) -> None:
        """Sleep ``delay`` seconds before a retry, unless that passes the deadline.

        Raises:
            NetworkError: reason ``deadline``.
        """
        if delay >= self.remaining():
            raise self.expired()
        self.settings.sleep(delay)


class _RateMeter:
    """The average rate of one body since its headers arrived (the TUF slow-retrieval check)."""

    def __init__(self, settings: TransportSettings, url: str) -> None:
        self.settings = settings
        self.url = url
        self.started = settings.clock()
        self.received = 0

    def due(self) -> float:
        """When the rate falls below the minimum if nothing more arrives."""
        if self.settings.min_rate <= 0:
            return math.inf
        needed = self.received / self.settings.min_rate
        return self.started + max(self.settings.rate_grace, needed)

    def too_slow(self) -> NetworkError:
        elapsed = max(self.settings.clock() - self.started, 1e-9)
        return NetworkError(
            self.url,
            f"the server sent {self.received} bytes in {elapsed:.0f} s, slower than the "
            f"minimum of {self.settings.min_rate} bytes/s (network.min_rate); giving up",
            reason="too-slow",
        )


class _ResponseWait:
    """The time one request (one hop, one try) may take until its response headers are in.

    With a minimum rate on, the TLS handshake and the headers must be complete within
    ``rate_grace`` of sending the request (a response that has not begun has a rate of 0);
    the handshake has all that time (``connect_timeout`` is for TCP), each read of the
    headers at most ``read_timeout`` too. Always, they end at the transfer's deadline.
    ``_BoundedSSLSocket`` applies this on the wall clock, so a server dripping its handshake
    or headers cannot stretch it read by read.
    """

    def __init__(self, deadline: Deadline) -> None:
        settings = deadline.settings
        self.settings = settings
        self.bounded = settings.min_rate > 0
        grace = settings.rate_grace if self.bounded else math.inf
        self.end = min(deadline.end, settings.clock() + grace)
        # The last TLS operation: "handshake" or "headers", and whether this limit (rather
        # than the socket's own timeout, whose expiry is retried) set its timeout.
        self.stage = ""
        self.cut = False

    def timeout(self, stage: str, own: float | None) -> float:
        """The socket timeout for the next blocking TLS operation in ``stage``; ``own`` is
        the socket's.

        Raises:
            TimeoutError: the limit has passed.
        """
        self.stage = stage
        left = self.end - self.settings.clock()
        self.cut = own is None or left <= own or (self.bounded and stage == "handshake")
        if left <= 0:
            raise TimeoutError("the time to receive the response headers has passed")
        return left if self.cut or own is None else own

    def too_slow(self, url: str) -> NetworkError | None:
        """The error for a request that timed out at this limit (None: another timeout)."""
        if not (self.bounded and self.cut):
            return None
        what = {
            "handshake": "did not complete the TLS handshake",
            "headers": "did not send its response headers",
        }[self.stage]
        return NetworkError(
            url,
            f"the server {what} within {self.settings.rate_grace:g} s of the request "
            "(network.min_rate); the server is too slow or stalls",
            reason="too-slow",
        )


# The wait of the request this thread is sending, read by the sockets it uses.
_RESPONSE_WAIT: ContextVar[_ResponseWait | None] = ContextVar("response_wait", default=None)


class _BoundedSSLSocket(ssl.SSLSocket):
    """A TLS socket whose handshake and reads, while a request waits for its response, end
    at that request's limit (``_ResponseWait``). Each blocking call of an SSL socket has
    one overall timeout, and http.client reads the headers through ``recv_into``."""

    @contextlib.contextmanager
    def _bounded(self, stage: str) -> Iterator[None]:
        wait = _RESPONSE_WAIT.get()
        if wait is None:
            yield
            return
        own = self.gettimeout()
        self.settimeout(wait.timeout(stage, own))
        try:
            yield
        finally:
            # The body's reads (``chunks``) use the connection's own timeout again.
            self.settimeout(own)

    def do_handshake(self, block: bool = False) -> None:
        with self._bounded("handshake"):
            super().do_handshake(block)

    def recv_into(self, buffer: Any, nbytes: int | None = None, flags: int = 0) -> int:
        with self._bounded("headers"):
            return super().recv_into(buffer, nbytes, flags)


# -- errors ---------------------------------------------------------------------------------


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and what it wraps (requests -> urllib3 -> socket), outermost first."""
    chain = [exc]
    while True:
        current = chain[-1]
        nested = next((a for a in current.args if isinstance(a, BaseException)), None)
        nested = nested or getattr(current, "reason", None) or current.__cause__
        if not isinstance(nested, BaseException) or any(nested is seen for seen in chain):
            return chain
        chain.append(nested)


def _innermost(exc: BaseException) -> BaseException:
    return _causes(exc)[-1]


def _never_sent(exc: BaseException) -> bool:
    """True when a failed request cannot have reached the server: no connection (or proxy
    tunnel) was ever made. Only then may a non-idempotent request be sent again."""
    if isinstance(exc, requests.exceptions.ConnectTimeout | requests.exceptions.ProxyError):
        return True
    return any(isinstance(c, urllib3.exceptions.NewConnectionError) for c in _causes(exc))


def _tls_problem(exc: BaseException, settings: TransportSettings) -> str:
    inner = _innermost(exc)
    if isinstance(inner, ssl.SSLCertVerificationError):
        detail = (inner.verify_message or str(inner)).rstrip(".")
        if inner.verify_code in _NAME_MISMATCH:
            return f"TLS certificate is not valid for this host ({detail})"
        if settings.ca_bundle is not None:
            # The bundle is the whole trust, so either it lacks the issuing CA or the server
            # does not send the intermediates between its certificate and the bundle's CA.
            return (
                f"TLS certificate not trusted ({detail}) by the CA bundle {settings.ca_bundle}; "
                "check that the bundle holds the CA that issued the server's chain, and that "
                "the server sends its intermediate CA certificates (servers often send only "
                "their own)"
            )
        return (
            f"TLS certificate not trusted ({detail}); if the server uses a private CA, "
            f"pass {settings.ca_setting}"
        )
    return f"TLS handshake failed ({inner})"


def _connection_problem(exc: BaseException, settings: TransportSettings) -> tuple[str, str]:
    if isinstance(exc, requests.exceptions.ProxyError):
        return "proxy", f"cannot use the proxy ({mask_passwords(str(_innermost(exc)))})"
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "timeout", f"no connection within {settings.connect_timeout:g} s"
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return "timeout", f"the server did not answer within {settings.read_timeout:g} s"
    inner = _innermost(exc)
    text = getattr(inner, "strerror", None) or str(inner)
    return "connection", f"cannot connect ({mask_passwords(text)})"


_TUNNEL_REFUSED = re.compile(r"Tunnel connection failed: (4\d\d)\b ?(.*)", re.DOTALL)


def _proxy_refusal(exc: BaseException) -> tuple[int, str] | None:
    """(status, reason phrase) when a proxy answered CONNECT with a final 4xx (not 429)."""
    match = _TUNNEL_REFUSED.search(str(_innermost(exc)))
    if match is None or match.group(1) == "429":
        return None
    return int(match.group(1)), match.group(2).strip()


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
    """An adapter whose connections (direct and through proxies) use our SSL context, and
    only its trust.

    requests hands urllib3 a CA file for every verified request: ``verify`` when it is a
    path (``$REQUESTS_CA_BUNDLE``/``$CURL_CA_BUNDLE`` with ``trust_env``), else its own
    default bundle (certifi's). urllib3 loads that file into the context it is given, ours,
    which would then trust those CAs too, for the rest of the session: a given CA bundle
    would no longer be the only trust. So no CA file is ever passed on.
    """

    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context
        super().__init__(max_retries=0)

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        # Verification is never turned off: CERT_NONE would be set on the shared context.
        kwargs["verify"] = True
        return super().send(request, *args, **kwargs)

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        conn.cert_reqs = "CERT_REQUIRED"
        conn.ca_certs = None
        conn.ca_cert_dir = None

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> Any:
        host, pool = super().build_connection_pool_key_attributes(request, True, cert)
        kwargs: dict[str, Any] = {
            k: v for k, v in pool.items() if k not in ("ca_certs", "ca_cert_dir")
        }
        return host, kwargs

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
        if not _has_system_store(context):
            _trust_certifi(context)
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


def _has_system_store(context: ssl.SSLContext) -> bool:
    """Whether OpenSSL found any trust store: certificates loaded (a CA file, the Windows
    store) or a CA directory it reads on demand."""
    if context.cert_store_stats()["x509_ca"]:
        return True
    paths = ssl.get_default_verify_paths()
    if paths.cafile is not None:
        return True
    directory = Path(paths.capath) if paths.capath else None
    return directory is not None and directory.is_dir() and any(directory.iterdir())


def _trust_certifi(context: ssl.SSLContext) -> None:
    # A Python whose OpenSSL has no store at all (python.org's macOS builds until "Install
    # Certificates.command" runs) would refuse every server; requests itself uses certifi's
    # bundle there, and so does feedmgr, only then.
    import certifi

    context.load_verify_locations(cafile=certifi.where())


# -- the proxy from the environment ---------------------------------------------------------

# docs/online-updates.md: HTTPS_PROXY (lower case first, as curl and urllib read it) and
# NO_PROXY. feedmgr speaks only HTTPS, so HTTP_PROXY is never relevant; ALL_PROXY is not
# read: it is where SOCKS proxies usually live, which feedmgr does not support.
PROXY_VARIABLES = ("https_proxy", "HTTPS_PROXY")


@dataclass(frozen=True)
class EnvironmentProxy:
    """The proxy the environment names, and the variable it came from."""

    variable: str
    url: str


def environment_proxy() -> EnvironmentProxy | None:
    """The HTTPS proxy of ``$https_proxy`` / ``$HTTPS_PROXY``, checked as ``--proxy`` is.
    A value without a scheme is an ``http://`` proxy (as curl and requests read it).

    Raises:
        UsageError: the variable names a proxy feedmgr cannot use (SOCKS, another scheme,
            no host, a bad port); the error names the variable, not its value.
    """
    for variable in PROXY_VARIABLES:
        value = os.environ.get(variable, "").strip()
        if not value:
            continue
        url = value if "://" in value else f"http://{value}"
        try:
            check_proxy_url(url, variable)
        except UsageError as exc:
            raise UsageError(
                variable,
                f"{exc.problem}; fix or unset the variable, or give --proxy / feed.proxy",
            ) from exc
        return EnvironmentProxy(variable, url)
    return None


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
        # Nothing is taken from the environment behind feedmgr's back: requests would read
        # $REQUESTS_CA_BUNDLE / $CURL_CA_BUNDLE (trust), ~/.netrc (credentials) and every
        # *_PROXY variable. The proxy from the environment is chosen in ``proxy_for``.
        self.session.trust_env = False
        self.session.headers["User-Agent"] = f"feedmgr/{__version__}"
        context = ssl_context(self.settings.ca_bundle)
        context.sslsocket_class = _BoundedSSLSocket
        adapter = _ContextAdapter(context)
        self.session.mount("https://", adapter)
        # Plain http is never used; an adapter that always fails makes that certain.
        self.session.mount("http://", _RefuseAdapter())
        self._environment_proxy = None if self.settings.proxy else environment_proxy()

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

    def _send_once(
        self, method: str, url: str, headers: dict[str, str], deadline: Deadline, body: bytes | None
    ) -> requests.Response:
        """One request. Failures worth a retry propagate as requests' ConnectionError/Timeout.

        Raises:
            NetworkError: a TLS failure, an undecodable redirect, a proxy refusing CONNECT.
        """
        received: list[requests.Response] = []

        def keep(response: requests.Response, **_: object) -> None:
            received.append(response)

        proxy = self.proxy_for(url)
        proxies = {"https": proxy} if proxy else {}
        wait = _ResponseWait(deadline)
        bound = _RESPONSE_WAIT.set(wait)
        try:
            return self.session.request(
                method,
                url,
                data=body,
                headers={"Accept-Encoding": "identity", **headers},
                stream=True,
                allow_redirects=False,
                timeout=deadline.timeouts(),
                proxies=proxies,
                hooks={"response": keep},
            )
        except requests.exceptions.Timeout as exc:
            # A server that accepted the connection and then stalls is too slow, not
            # unreachable: final, like a body below the minimum rate.
            deadline.check()
            slow = wait.too_slow(url)
            if slow is not None:
                raise slow from exc
            raise
        except requests.exceptions.SSLError as exc:
            raise NetworkError(url, _tls_problem(exc, self.settings), reason="tls") from exc
        except (*_UNBUILDABLE, ValueError) as exc:
            # requests decodes and parses a redirect's Location even when not following it,
            # after the response arrived (the hook kept it, so it can be closed).
            for unread in received:
                unread.close()
            if received and isinstance(exc, UnicodeError):
                raise NetworkError(
                    url, "the server redirects to a Location that is not UTF-8", reason="redirect"
                ) from exc
            # Every URL and proxy is checked before it gets here; what is left (a Location
            # that does not parse) came from the server.
            what = "the server redirects to a Location that" if received else "this URL"
            raise NetworkError(
                url,
                f"{what} is not a URL a request can be sent to ({type(exc).__name__}: "
                f"{mask_passwords(str(exc))})",
                reason="invalid-url",
            ) from exc
        except requests.exceptions.ProxyError as exc:
            refusal = _proxy_refusal(exc)
            if refusal is None:
                raise
            # A proxy's 4xx to CONNECT (403 policy, 407 credentials) will not change on
            # retry; only the user can fix it.
            status, text = refusal
            raise NetworkError(
                redact_url(self.proxy_for(url) or "the proxy"),
                f"the proxy refused the tunnel to {urlsplit(url).netloc} (HTTP {status} "
                f"{text}); check {self._proxy_setting()} and its credentials",
                reason="proxy-refused",
                status=status,
            ) from exc
        finally:
            _RESPONSE_WAIT.reset(bound)

    def _send(
        self,
        url: str,
        headers: dict[str, str],
        deadline: Deadline,
        *,
        method: str = "GET",
        body: bytes | None = None,
    ) -> requests.Response:
        """Send with retries; a POST only when it cannot have reached the server."""
        settings = self.settings
        idempotent = method in ("GET", "HEAD")
        attempt = 0
        while True:
            deadline.check()
            try:
                response = self._send_once(method, url, headers, deadline, body)
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
                deadline.check()
                reason, problem = _connection_problem(exc, settings)
                if not idempotent and not _never_sent(exc):
                    raise NetworkError(
                        url,
                        f"{problem}; a {method} that may have reached the server is not sent again",
                        reason=reason,
                    ) from exc
                if attempt >= settings.retries:
                    tries = f" (gave up after {attempt + 1} attempts)" if attempt else ""
                    raise NetworkError(url, problem + tries, reason=reason) from exc
                delay = self.backoff(attempt)
            else:
                status = response.status_code
                if not idempotent or (status != 429 and not 500 <= status <= 599):
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
            deadline.wait(delay)
            attempt += 1

    def proxy_for(self, url: str) -> str | None:
        """The proxy a request for ``url`` goes through: the configured one, else the
        environment's (HTTPS_PROXY, honouring NO_PROXY), else None."""
        if self.settings.proxy:
            return self.settings.proxy
        found = self._environment_proxy
        if found is None or requests.utils.should_bypass_proxies(url, no_proxy=None):
            return None
        return found.url

    def _proxy_setting(self) -> str:
        """Where the user sets the proxy in use: the variable it came from, else the options."""
        if not self.settings.proxy and self._environment_proxy is not None:
            return self._environment_proxy.variable
        return "feed.proxy / --proxy"

    def deadline(self, url: str) -> Deadline:
        """Start the clock of a new transfer of ``url`` (pass it to ``request``/``chunks``)."""
        return Deadline(self.settings, url)

    def request(
        self, url: str, headers: dict[str, str], deadline: Deadline | None = None
    ) -> tuple[requests.Response, str]:
        """GET ``url`` following redirects (https only, no loops); return the response and
        the final URL. Only 200, 206 and 304 come back; the caller closes the response and
        reads its body with ``chunks``. ``deadline`` spans several requests of one transfer
        (a resumed download); without it the request is a transfer of its own.

        Raises:
            NetworkError: unreachable, TLS failure, redirect to http or in a loop, an HTTP
                error status (after retries for 429/5xx), the deadline passed.
        """
        deadline = deadline or self.deadline(url)
        chain = [url]
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            response = self._send(current, headers, deadline)
            if response.is_redirect:
                response.close()
                # As requests does: the Location's bytes are UTF-8 (RFC 3986 section 3.2.2).
                target = urljoin(current, self.session.get_redirect_target(response) or "")
                if urlsplit(target).scheme.lower() != "https":
                    raise NetworkError(
                        current,
                        f"redirects to {redact_url(target)}, which is not https://; "
                        "refusing to follow",
                        reason="insecure-redirect",
                    )
                if has_userinfo(target):
                    # requests would send them as Basic auth; feedmgr sends no credentials
                    # a server hands it (and every URL it shows stays free of them).
                    raise NetworkError(
                        current,
                        f"redirects to {redact_url(target)}, a URL with credentials; "
                        "refusing to follow",
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
            raise _status_error(current, response)
        raise NetworkError(url, f"more than {MAX_REDIRECTS} redirects", reason="redirects")

    def chunks(self, response: requests.Response, deadline: Deadline) -> Iterator[bytes]:
        """The body of ``response`` as sent (no content decoding), in pieces of at most
        ``CHUNK`` bytes, each yielded as soon as it arrives.

        Raises:
            BodyDropped: the connection broke, or stalled for ``read_timeout``.
            NetworkError: the transfer's deadline passed, or the body arrives slower than
                ``min_rate`` (reasons ``deadline``, ``too-slow``); final, not to be retried.
        """
        meter = _RateMeter(self.settings, deadline.url)
        raw = response.raw
        sock = _socket_of(response)
        while True:
            if raw.length_remaining == 0:
                # All the announced bytes are here: a late last byte is no reason to fail.
                return
            now = self.settings.clock()
            if now >= meter.due():
                raise meter.too_slow()
            deadline.check()
            # The socket waits no longer than the next moment a check could fail, so a
            # server that drips bytes or stalls is caught on time, not after read_timeout.
            wait = min(self.settings.read_timeout, deadline.end - now, meter.due() - now)
            if sock is not None:
                # The reader closes the socket once the whole body has arrived.
                with contextlib.suppress(OSError):
                    sock.settimeout(max(wait, 0.001))
            try:
                data = raw.read1(CHUNK, decode_content=False)
            except _DROPPED as exc:
                if self.settings.clock() >= meter.due():
                    raise meter.too_slow() from exc
                deadline.check()
                raise BodyDropped(str(exc) or type(exc).__name__) from exc
            if not data:
                return
            meter.received += len(data)
            yield data

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
        deadline = self.deadline(url)
        attempt = 0
        while True:
            response, final_url = self.request(url, headers, deadline)
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
                    body = self._read_whole(response, deadline, max_bytes, what)
                except BodyDropped as exc:
                    if attempt >= self.settings.retries:
                        raise NetworkError(
                            url, f"connection dropped while reading {what} ({exc})"
                        ) from exc
                    deadline.wait(self.backoff(attempt))
                    attempt += 1
                    continue
                return _document(url, final_url, response, body, limit=max_bytes, what=what)

    def post(
        self, url: str, payload: object, *, max_bytes: int, accept: str, what: str
    ) -> Document:
        """POST ``payload`` as JSON and read the whole answer (at most ``max_bytes``). Sent
        once unless the connection was never made; a redirect is refused, not followed (the
        body would be dropped or resent elsewhere). ``what`` names the answer in errors.

        Raises:
            NetworkError: unreachable, TLS failure, an HTTP status other than 200, a
                redirect, a connection dropped mid-answer, the deadline passed.
            InputRejected: the answer is larger than ``max_bytes`` (reason ``size``).
        """
        deadline = self.deadline(url)
        headers = {"Accept": accept, "Content-Type": "application/json"}
        body = json.dumps(payload).encode()
        with self._send(url, headers, deadline, method="POST", body=body) as response:
            if response.is_redirect:
                target = urljoin(url, self.session.get_redirect_target(response) or "")
                raise NetworkError(
                    url,
                    f"redirects the POST to {redact_url(target)}; not following",
                    reason="redirect",
                )
            if response.status_code != 200:
                raise _status_error(url, response)
            try:
                answer = self._read_whole(response, deadline, max_bytes, what)
            except BodyDropped as exc:
                raise NetworkError(
                    url,
                    f"connection dropped while reading {what} ({exc}); a POST is not sent again",
                ) from exc
            return _document(url, url, response, answer, limit=max_bytes, what=what)

    def _read_whole(
        self, response: requests.Response, deadline: Deadline, limit: int, what: str
    ) -> bytes:
        body = bytearray()
        for chunk in self.chunks(response, deadline):
            body += chunk
            if len(body) > limit:
                raise _too_large(deadline.url, limit, what)
        return bytes(body)


def _socket_of(response: requests.Response) -> Any:
    """The socket a streamed response reads from, or None when it cannot be found.

    http.client hands the socket to the response's reader and forgets it on the connection
    when the server will close after this response (HTTP/1.0, ``Connection: close``), so
    the reader (``SocketIO``) is asked first. Without a socket only ``read_timeout`` bounds a
    stalled read; tests/net/test_transport.py shows both kinds of server are covered.
    """
    reader = getattr(getattr(response.raw, "_fp", None), "fp", None)
    sock = getattr(getattr(reader, "raw", None), "_sock", None)
    if sock is None:
        sock = getattr(response.raw.connection, "sock", None)
    return sock if callable(getattr(sock, "settimeout", None)) else None


def _status_error(url: str, response: requests.Response) -> NetworkError:
    status = response.status_code
    return NetworkError(
        url, f"server answered HTTP {status} {response.reason}", reason="http-status", status=status
    )


def _document(
    url: str, final_url: str, response: requests.Response, body: bytes, *, limit: int, what: str
) -> Document:
    return Document(
        url,
        final_url,
        _decoded(body, response.headers.get("Content-Encoding"), url, limit, what),
        response.headers.get("ETag"),
        response.headers.get("Last-Modified"),
    )


def _too_large(url: str, limit: int, what: str) -> InputRejected:
    return InputRejected(url, f"{what} is larger than {limit} bytes; refusing it", reason="size")


def _decoded(body: bytes, coding: str | None, url: str, limit: int, what: str) -> bytes:
    """The body without its content coding: some servers (static hosts holding
    pre-compressed files) send gzip even to ``Accept-Encoding: identity``."""
    name = (coding or "identity").strip().lower()
    if name == "identity":
        return body
    if name not in ("gzip", "x-gzip", "deflate"):
        raise NetworkError(
            url,
            f"the server sent {what} with content coding {name!r}, which feedmgr cannot "
            "decode (it asks for identity)",
            reason="content-coding",
        )
    wbits = zlib.MAX_WBITS | 16 if "gzip" in name else zlib.MAX_WBITS
    # RFC 9110 section 8.4.1.2: "deflate" is the zlib format, yet some servers send it raw.
    if name == "deflate" and body[:1] and (body[0] & 0x0F) != 8:
        wbits = -zlib.MAX_WBITS
    decoder = zlib.decompressobj(wbits)
    try:
        decoded = decoder.decompress(body, limit + 1)
    except zlib.error as exc:
        raise NetworkError(
            url, f"{what} is not valid {name} data ({exc})", reason="content-coding"
        ) from exc
    if len(decoded) > limit:
        raise _too_large(url, limit, what)
    if not decoder.eof:
        raise NetworkError(
            url, f"{what} ends in the middle of its {name} data", reason="content-coding"
        )
    return decoded
