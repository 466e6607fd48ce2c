"""Live TLS probe: connect, take the chain the server actually presents, without trusting it.

The handshake runs with verification off (``CERT_NONE``, security level 0) so that even a
broken or weak chain is fetched and then graded by the check table; nothing is sent after
the handshake. The presented chain comes from OpenSSL's ``SSL_get_peer_cert_chain`` through
``SSLSocket.get_unverified_chain()`` (public from Python 3.13; the same method exists on the
private ``_sslobj`` since 3.10). Where neither exists, only the leaf is available and the
result says so.

Several targets are probed concurrently in threads; each step is bounded by the timeout, so
a dead or silent target becomes a ``cert.probe`` finding rather than a hang.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum

from feedmgr.certs.identity import dns_reference, parse_ip
from feedmgr.errors import UsageError

DEFAULT_PORT = 443
# The ports posture uses: 8443 client-provisioning portal, 8905 and 443 posture module to PSN.
POSTURE_PORTS = (443, 8443, 8905)
DEFAULT_TIMEOUT = 5.0
MAX_WORKERS = 16


class ProbeError(StrEnum):
    """Why a probe got no certificate."""

    DNS = "dns"
    REFUSED = "refused"
    TIMEOUT = "timeout"
    UNREACHABLE = "unreachable"
    TLS = "tls"
    NO_CERTIFICATE = "no-certificate"


@dataclass(frozen=True)
class ProbeTarget:
    """Where to connect: host (name or IP), port, and the SNI name to send (if any)."""

    host: str
    port: int
    servername: str | None = None

    @property
    def label(self) -> str:
        """``host:port``, IPv6 hosts in brackets: the subject of the findings."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def sni(self) -> str | None:
        """The name sent in SNI: ``servername``, else the host when it is a name."""
        if self.servername:
            return self.servername
        return None if parse_ip(self.host) is not None else self.host


@dataclass(frozen=True)
class ProbeResult:
    """What one probe got: the presented chain as DER (leaf first) or an error.

    ``chain_complete`` is False when only the leaf could be read (no chain API).
    """

    target: ProbeTarget
    chain_der: tuple[bytes, ...] = ()
    protocol: str | None = None
    cipher: str | None = None
    error: ProbeError | None = None
    detail: str = ""
    elapsed: float = 0.0
    chain_complete: bool = True

    @property
    def ok(self) -> bool:
        """True when a certificate was received."""
        return self.error is None and bool(self.chain_der)


def parse_target(text: str, default_port: int = DEFAULT_PORT) -> tuple[str, int | None]:
    """Split ``HOST[:PORT]`` (``[v6]:PORT`` for IPv6) into host and port (None if absent).

    Raises:
        UsageError: for an empty host, a bad port or a malformed name.
    """
    raw = text.strip()
    port: int | None = None
    if raw.startswith("["):
        host, _, rest = raw[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise UsageError(text, "expected [IPv6]:PORT")
            port = _port(rest[1:], text)
    elif raw.count(":") == 1:
        host, _, port_text = raw.partition(":")
        port = _port(port_text, text)
    else:
        host = raw  # a bare name, or a bare IPv6 address
    if not host:
        raise UsageError(text, "no host given")
    if parse_ip(host) is None:
        dns_reference(host)  # raises UsageError for a malformed name
    return host, port


def _port(value: str, text: str) -> int:
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise UsageError(text, f"bad port {value!r}: expected 1-65535")
    return int(value)


def _client_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    # Fetch first, grade afterwards: the chain is not trusted here, it is inspected.
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    # Security level 0 so that weak keys and SHA-1 chains are received and then reported.
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    return context


def _presented_chain(tls: ssl.SSLSocket) -> tuple[tuple[bytes, ...], bool]:
    """The chain as sent (DER, leaf first), and whether it is the whole chain."""
    getter = getattr(tls, "get_unverified_chain", None)  # public from Python 3.13
    if getter is None:
        getter = getattr(getattr(tls, "_sslobj", None), "get_unverified_chain", None)
    if getter is not None:
        try:
            ders = tuple(_der(item) for item in getter() or ())
        except (AttributeError, TypeError, ValueError, ssl.SSLError):
            ders = ()
        if ders:
            return ders, True
    leaf = tls.getpeercert(binary_form=True)
    return ((leaf,) if leaf else ()), False


def _der(item: object) -> bytes:
    if isinstance(item, bytes):
        return item
    # Python 3.10-3.12: _ssl.Certificate objects.
    encoding = ssl._ssl.ENCODING_DER  # type: ignore[attr-defined]
    return bytes(item.public_bytes(encoding))  # type: ignore[attr-defined]


def probe(target: ProbeTarget, timeout: float = DEFAULT_TIMEOUT) -> ProbeResult:
    """Connect to one target and read the certificate chain it presents. Never raises."""
    start = time.monotonic()

    def failed(kind: ProbeError, detail: str) -> ProbeResult:
        return ProbeResult(target, error=kind, detail=detail, elapsed=time.monotonic() - start)

    try:
        raw = socket.create_connection((target.host, target.port), timeout=timeout)
    except socket.gaierror as exc:
        return failed(ProbeError.DNS, f"cannot resolve {target.host}: {exc.strerror or exc}")
    except TimeoutError:
        return failed(ProbeError.TIMEOUT, f"no TCP connection within {timeout:g}s")
    except ConnectionRefusedError:
        return failed(ProbeError.REFUSED, "connection refused")
    except OSError as exc:
        return failed(ProbeError.UNREACHABLE, exc.strerror or str(exc))
    try:
        with raw:
            raw.settimeout(max(timeout - (time.monotonic() - start), 0.05))
            with _client_context().wrap_socket(raw, server_hostname=target.sni) as tls:
                ders, complete = _presented_chain(tls)
                cipher = tls.cipher()
                protocol = tls.version()
    except TimeoutError:
        return failed(ProbeError.TIMEOUT, f"no TLS handshake within {timeout:g}s")
    except ssl.SSLError as exc:
        return failed(ProbeError.TLS, f"TLS handshake failed: {exc.reason or exc}")
    except OSError as exc:
        return failed(ProbeError.TLS, f"connection closed during the handshake: {exc}")
    if not ders:
        return failed(ProbeError.NO_CERTIFICATE, "the server presented no certificate")
    return ProbeResult(
        target,
        chain_der=ders,
        protocol=protocol,
        cipher=cipher[0] if cipher else None,
        elapsed=time.monotonic() - start,
        chain_complete=complete,
    )


def probe_all(
    targets: Sequence[ProbeTarget],
    timeout: float = DEFAULT_TIMEOUT,
    workers: int = MAX_WORKERS,
) -> tuple[ProbeResult, ...]:
    """Probe every target concurrently; results come back in the order of ``targets``."""
    if not targets:
        return ()
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(targets)))) as pool:
        return tuple(pool.map(lambda t: probe(t, timeout), targets))
