"""CLI test fixtures: loopback network (netserver.py) and built feeds (feedkit.py)."""

from tests.cli.feedkit import make_feed, sample_feed  # noqa: F401 - re-exported as fixtures
from tests.feed.netserver import (  # noqa: F401 - re-exported as fixtures
    _no_proxy_environment,
    _session_https_server,
    ca_bundle,
    connect_proxy,
    https_server,
    packages,
    scripted,
    server_context,
    tls_ca,
)
