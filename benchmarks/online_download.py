"""Download a large package over loopback HTTPS and report time and peak memory.

Shows that `FeedClient.download` streams to disk: the peak resident set size grows by a
small constant, not by the package size. Run: python benchmarks/online_download.py [MB ...]
"""

from __future__ import annotations

import hashlib
import resource
import ssl
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import trustme

from feedmgr.feed.fetch import FeedClient, FetchSettings
from feedmgr.feed.index import PackageRef
from feedmgr.net.transport import TransportSettings

BLOCK = bytes(range(256)) * 4096  # 1 MiB


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _serve(context: ssl.SSLContext, size_mib: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(size_mib * len(BLOCK)))
            self.end_headers()
            for _ in range(size_mib):
                self.wfile.write(BLOCK)

        def log_message(self, *args: object) -> None:
            del args

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def run(size_mib: int, ca_path: Path, context: ssl.SSLContext, work: Path) -> None:
    """Download ``size_mib`` MiB once and print one table row."""
    digest = hashlib.sha256()
    for _ in range(size_mib):
        digest.update(BLOCK)
    server = _serve(context, size_mib)
    url = f"https://127.0.0.1:{server.server_address[1]}/feed.zip"
    ref = PackageRef(url, "1", digest.hexdigest(), size_mib * len(BLOCK), url)
    before = _peak_mib()
    started = time.perf_counter()
    settings = FetchSettings(
        TransportSettings(ca_bundle=ca_path), max_download_bytes=2 * size_mib * len(BLOCK)
    )
    with FeedClient(settings) as client, client.download(ref, work) as download:
        assert download.size == ref.length
    elapsed = time.perf_counter() - started
    server.shutdown()
    server.server_close()
    print(
        f"| {size_mib} | {elapsed:.2f} | {size_mib / elapsed:.0f} | {before:.0f} | "
        f"{_peak_mib():.0f} |"
    )


def main() -> None:
    """Run the benchmark for each size given on the command line (MiB)."""
    sizes = [int(a) for a in sys.argv[1:]] or [16, 128, 512]
    ca = trustme.CA()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    with tempfile.TemporaryDirectory() as tmp:
        ca_path = Path(tmp) / "ca.pem"
        ca.cert_pem.write_to_path(str(ca_path))
        print("| package MiB | seconds | MiB/s | peak RSS before (MiB) | peak RSS after (MiB) |")
        print("| --- | --- | --- | --- | --- |")
        for size in sizes:
            run(size, ca_path, context, Path(tmp))


if __name__ == "__main__":
    main()
