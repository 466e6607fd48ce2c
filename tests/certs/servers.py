"""Real TLS servers on loopback, serving generated chains, for the probe tests."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.certs.factory import Issued


@dataclass
class TlsServer:
    """A loopback TLS server: where it listens and the SNI names it was sent."""

    host: str
    port: int
    server_names: list[str | None] = field(default_factory=list)

    @property
    def target(self) -> str:
        """``127.0.0.1:PORT``."""
        return f"{self.host}:{self.port}"


def _handle(
    conn: socket.socket,
    context: ssl.SSLContext,
    barrier: threading.Barrier | None,
) -> None:
    with contextlib.suppress(OSError, threading.BrokenBarrierError), conn:
        conn.settimeout(10)
        if barrier is not None:
            barrier.wait(timeout=5)
        with context.wrap_socket(conn, server_side=True) as tls:
            # Wait for the client to close, so the handshake is never cut short.
            tls.recv(1)


@contextlib.contextmanager
def serve_chain(
    tmp_path: Path,
    leaf: Issued,
    chain: Sequence[x509.Certificate] = (),
    *,
    barrier: threading.Barrier | None = None,
) -> Iterator[TlsServer]:
    """Serve ``leaf`` followed by ``chain`` (in that order) until the block ends.

    ``barrier``: every connection waits on it before the handshake, so a test can prove
    that connections arrive concurrently.
    """
    certfile = tmp_path / f"server-{id(leaf)}.pem"
    certfile.write_bytes(
        leaf.pem() + b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain)
    )
    keyfile = tmp_path / f"server-{id(leaf)}.key"
    keyfile.write_bytes(leaf.key_pem())
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.set_ciphers("DEFAULT:@SECLEVEL=0")  # serve weak test chains too
    context.load_cert_chain(certfile, keyfile)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    server = TlsServer("127.0.0.1", listener.getsockname()[1])

    def remember(sock: ssl.SSLObject | ssl.SSLSocket, name: str | None, _: object) -> None:
        server.server_names.append(name)

    context.sni_callback = remember  # type: ignore[assignment]
    stop = threading.Event()
    workers: list[threading.Thread] = []

    def accept_loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            worker = threading.Thread(target=_handle, args=(conn, context, barrier), daemon=True)
            worker.start()
            workers.append(worker)

    thread = threading.Thread(target=accept_loop, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()
        for worker in workers:
            worker.join(timeout=5)


@contextlib.contextmanager
def silent_server() -> Iterator[str]:
    """A port that accepts TCP connections (kernel backlog) but never speaks TLS."""
    listener = socket.create_server(("127.0.0.1", 0))
    try:
        yield f"127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


def closed_port() -> str:
    """A loopback port with nothing listening (connection refused)."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    return f"127.0.0.1:{port}"
