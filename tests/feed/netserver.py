"""Loopback network fixtures: HTTPS servers with trustme certificates, a CONNECT proxy, feeds.

Shared by tests/feed and tests/cli (their conftest.py files re-export the fixtures). Nothing
here reaches beyond 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.sax.saxutils import quoteattr

import pytest
import trustme
from pytest_httpserver import HTTPServer

from feedmgr.feed.build import build_package
from feedmgr.feed.index import ATOM_NS, UPDATE_NS
from feedmgr.feed.signing import load_private_key, read_key_file

REPO = Path(__file__).resolve().parent.parent.parent
SAMPLE = REPO / "feeds" / "sample"
PUBLIC_KEY = SAMPLE / "demo-publisher.pub.pem"
OLD_VERSION = "2026.11.25"
NEW_VERSION = "2026.12.01"
_PROXY_VARIABLES = (
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
)


@dataclass(frozen=True)
class Entry:
    """One package entry of a test index."""

    href: str
    version: str
    sha256: str
    length: int | None


def atom_index(entries: Sequence[Entry] = (), alternates: Sequence[str] = ()) -> bytes:
    """An Atom feed document in the format docs/online-updates.md defines."""
    parts = [
        f'<feed xmlns="{ATOM_NS}" xmlns:cpm="{UPDATE_NS}">',
        "<title>test posture feed</title><id>urn:test:index</id>",
        "<updated>2026-11-25T00:00:00Z</updated>",
    ]
    parts += [f'<link rel="alternate" href={quoteattr(href)}/>' for href in alternates]
    for number, entry in enumerate(entries):
        length = f" length={quoteattr(str(entry.length))}" if entry.length is not None else ""
        parts += [
            f"<entry><id>urn:test:{number}</id><title>feed {entry.version}</title>",
            "<updated>2026-11-25T00:00:00Z</updated>",
            f'<link rel="enclosure" type="application/zip" href={quoteattr(entry.href)}{length}/>',
            f"<cpm:version>{entry.version}</cpm:version><cpm:sha256>{entry.sha256}</cpm:sha256>",
            "</entry>",
        ]
    parts.append("</feed>")
    return "\n".join(parts).encode()


@dataclass(frozen=True)
class Package:
    """A built feed package and what an index says about it."""

    version: str
    data: bytes

    @property
    def sha256(self) -> str:
        """The package digest."""
        return hashlib.sha256(self.data).hexdigest()

    def entry(self, href: str, length: int | None = -1) -> Entry:
        """An index entry for this package (length defaults to the real one)."""
        return Entry(href, self.version, self.sha256, len(self.data) if length == -1 else length)


@dataclass(frozen=True)
class Packages:
    """The test packages: two signed versions and one signed by an untrusted key."""

    old: Package
    new: Package
    rogue: Package


def _build(src: Path, out: Path, version: str, key_path: Path) -> Package:
    work = out.parent / f"src-{version}-{key_path.stem}"
    shutil.copytree(src, work)
    meta = work / "feed.toml"
    meta.write_text(
        meta.read_text(encoding="utf-8").replace(OLD_VERSION, version, 1), encoding="utf-8"
    )
    key = load_private_key(read_key_file(key_path), str(key_path))
    build_package(work, out, key)
    return Package(version, out.read_bytes())


@pytest.fixture(scope="session")
def packages(tmp_path_factory: pytest.TempPathFactory) -> Packages:
    """Signed feed packages built in code from feeds/sample/src."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    base = tmp_path_factory.mktemp("packages")
    rogue_key = base / "rogue.key.pem"
    rogue_key.write_bytes(
        ed25519.Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    demo_key = SAMPLE / "demo-publisher.key.pem"
    return Packages(
        old=_build(SAMPLE / "src", base / "old.zip", OLD_VERSION, demo_key),
        new=_build(SAMPLE / "src", base / "new.zip", NEW_VERSION, demo_key),
        rogue=_build(SAMPLE / "src", base / "rogue.zip", NEW_VERSION, rogue_key),
    )


@pytest.fixture(scope="session")
def tls_ca() -> trustme.CA:
    """A throw-away certificate authority."""
    return trustme.CA()


@pytest.fixture(scope="session")
def ca_bundle(tls_ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test CA as a PEM file, for --ca-bundle."""
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    tls_ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture(scope="session")
def server_context(tls_ca: trustme.CA) -> ssl.SSLContext:
    """Server-side TLS context with a certificate for 127.0.0.1 and localhost."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls_ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


@pytest.fixture(scope="session")
def _session_https_server(server_context: ssl.SSLContext) -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", port=0, ssl_context=server_context)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


@pytest.fixture
def https_server(_session_https_server: HTTPServer) -> Iterator[HTTPServer]:
    """A pytest-httpserver HTTPS server on loopback, cleared for each test."""
    _session_https_server.clear()
    yield _session_https_server
    _session_https_server.clear()


@pytest.fixture(autouse=True)
def _no_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's proxy settings must not reroute loopback test traffic."""
    for name in _PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


# -- a scripted server for what pytest-httpserver cannot do (dropped connections, stalls) --

Script = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class ScriptedServer:
    """A threaded HTTPS server whose answers are Python functions, keyed by path."""

    context: ssl.SSLContext
    routes: dict[str, Script] = field(default_factory=dict)
    seen: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def start(self) -> None:
        """Listen on an ephemeral loopback port."""
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.seen.append((self.path, dict(self.headers.items())))
                script = owner.routes.get(self.path)
                if script is None:
                    self.send_error(404)
                    return
                script(self)

            # Scripts answer a POST as a GET; its body is left unread.
            do_POST = do_GET

            def log_message(self, format: str, *args: object) -> None:
                del format, args

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        server.block_on_close = False
        server.socket = self.context.wrap_socket(server.socket, server_side=True)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()

    def url_for(self, path: str) -> str:
        """The https URL of ``path`` on this server."""
        return f"https://127.0.0.1:{self._server.server_address[1]}{path}"


def drip(
    body: bytes, *, every: float, size: int = 1, headers: Sequence[tuple[str, str]] = ()
) -> Script:
    """A script that sends correct headers, then ``body`` ``size`` bytes every ``every``
    seconds (``every`` <= 0: headers, then silence until the client hangs up): a
    slow-retrieval attacker, or a slow but honest link."""

    def script(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.flush()
        try:
            if every <= 0:
                # Blocks until the client closes the connection (or 60 s, a safety net).
                handler.connection.settimeout(60)
                handler.connection.recv(1)
                return
            for start in range(0, len(body), size):
                handler.wfile.write(body[start : start + size])
                handler.wfile.flush()
                time.sleep(every)
        except OSError:
            return

    return script


@pytest.fixture
def scripted(server_context: ssl.SSLContext) -> Iterator[ScriptedServer]:
    """A scripted HTTPS server on loopback."""
    server = ScriptedServer(server_context)
    server.start()
    yield server
    server.stop()


def slow_head(head: bytes, *, seconds: float) -> Script:
    """A script that sends the raw response ``head`` (status line and headers) spread evenly
    over ``seconds``: a slow-loris server that keeps every read short yet the whole long."""

    def script(handler: BaseHTTPRequestHandler) -> None:
        with contextlib.suppress(OSError):
            for start in range(len(head)):
                handler.wfile.write(head[start : start + 1])
                handler.wfile.flush()
                time.sleep(seconds / len(head))

    return script


# -- a raw TCP server, for what no HTTP server does (stall or drip the TLS handshake) ------

Serve = Callable[[socket.socket], None]


class RawServer:
    """A loopback TCP server that hands each accepted connection to ``serve`` in a thread and
    counts the connections (a retry shows as a second one)."""

    def __init__(self, serve: Serve) -> None:
        self.accepted = 0
        self._serve = serve
        self._listener = socket.create_server(("127.0.0.1", 0))
        threading.Thread(target=self._accept, daemon=True).start()

    def url_for(self, path: str) -> str:
        """The https URL of ``path`` on this server."""
        return f"https://127.0.0.1:{self._listener.getsockname()[1]}{path}"

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            self._serve(conn)

    def close(self) -> None:
        """Stop accepting."""
        self._listener.close()


def until_hangup(conn: socket.socket) -> None:
    """Read and ignore whatever the client sends until it closes (60 s at most)."""
    conn.settimeout(60)
    while conn.recv(65536):
        pass


def tls_then_silence(context: ssl.SSLContext) -> Serve:
    """Complete the TLS handshake, read the request, never answer."""

    def serve(conn: socket.socket) -> None:
        with context.wrap_socket(conn, server_side=True) as tls:
            until_hangup(tls)

    return serve


def dripped_handshake(context: ssl.SSLContext, *, every: float) -> Serve:
    """A real TLS server whose handshake bytes leave one every ``every`` seconds."""

    def serve(conn: socket.socket) -> None:
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = context.wrap_bio(incoming, outgoing, server_side=True)
        conn.settimeout(60)
        while True:
            try:
                tls.do_handshake()
                done = True
            except ssl.SSLWantReadError:
                done = False
            for byte in outgoing.read():
                conn.sendall(bytes([byte]))
                time.sleep(every)
            if done:
                until_hangup(conn)
                return
            data = conn.recv(65536)
            if not data:
                return
            incoming.write(data)

    return serve


@pytest.fixture
def raw_server() -> Iterator[Callable[[Serve], RawServer]]:
    """Start ``RawServer``s on loopback; they are closed after the test."""
    started: list[RawServer] = []

    def start(serve: Serve) -> RawServer:
        started.append(RawServer(serve))
        return started[-1]

    yield start
    for server in started:
        server.close()


# -- a CONNECT proxy ------------------------------------------------------------------------


class ConnectProxy:
    """A tiny HTTP CONNECT proxy on loopback that records the tunnels asked of it."""

    def __init__(self) -> None:
        self.targets: list[str] = []
        # A status line such as b"407 Proxy Authentication Required" refuses every tunnel.
        self.refusal: bytes | None = None
        self.authorizations: list[str | None] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        """The proxy URL to configure."""
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._tunnel, args=(conn,), daemon=True).start()

    def _tunnel(self, conn: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = conn.recv(4096)
            if not chunk:
                conn.close()
                return
            head += chunk
        method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ", 2)
        authorization = next(
            (
                line.split(b":", 1)[1].strip().decode()
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"proxy-authorization:")
            ),
            None,
        )
        if method != "CONNECT":
            conn.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            conn.close()
            return
        self.targets.append(target)
        self.authorizations.append(authorization)
        if self.refusal is not None:
            conn.sendall(b"HTTP/1.1 " + self.refusal + b"\r\nContent-Length: 0\r\n\r\n")
            conn.close()
            return
        host, port = target.rsplit(":", 1)
        upstream = socket.create_connection((host, int(port)))
        conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        back = threading.Thread(target=_pipe, args=(upstream, conn), daemon=True)
        back.start()
        _pipe(conn, upstream)
        back.join(timeout=5)
        upstream.close()
        conn.close()

    def close(self) -> None:
        """Stop accepting."""
        self._closed = True
        self._listener.close()


def _pipe(source: socket.socket, target: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            target.sendall(chunk)
    except OSError:
        pass
    finally:
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def connect_proxy() -> Iterator[ConnectProxy]:
    """A recording CONNECT proxy on loopback."""
    proxy = ConnectProxy()
    yield proxy
    proxy.close()


def leftovers(home: Path) -> list[str]:
    """Temporary files a failed or finished run left in ``home`` (must be none)."""
    if not home.exists():
        return []
    names = [p.name for p in home.iterdir() if p.name.startswith(".") or p.suffix == ".part"]
    staging = home / "staging"
    if staging.exists():
        names += [f"staging/{p.name}" for p in staging.iterdir()]
    return sorted(names)
