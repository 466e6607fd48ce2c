"""The loopback network fixtures the guide's online pages need."""

from tests.feed.netserver import (  # noqa: F401 - re-exported as fixtures
    _no_proxy_environment,
    _session_https_server,
    ca_bundle,
    connect_proxy,
    https_server,
    packages,
    server_context,
    tls_ca,
)
