"""URL checks and display: credentials are refused and never shown."""

from __future__ import annotations

import pytest

from feedmgr.errors import UsageError
from feedmgr.net.urls import check_https_url, redact_url

PASSWORD = "Secr3tPW"  # the value that must never be shown


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://feeds.example.net/i.xml", "https://feeds.example.net/i.xml"),
        ("http://user:secret@proxy.example:3128", "http://user:***@proxy.example:3128"),
        ("https://admin:Secr3tPW@ise.example/admin/", "https://admin:***@ise.example/admin/"),
        ("https://admin@ise.example", "https://admin@ise.example"),
        ("https://a:b@c@ise.example/x@y", "https://a:***@ise.example/x@y"),
        ("https://a:b c@[::1/x", "https://a:***@[::1/x"),
        ("https://[::1]:8443/p?q=a:b@c", "https://[::1]:8443/p?q=a:b@c"),
        ("not a url", "not a url"),
    ],
)
def test_redact_url_hides_the_password_of_any_url(url: str, shown: str) -> None:
    """The userinfo password (everything after the first ':' up to the last '@' of the
    authority, RFC 3986 section 3.2.1) is shown as ***, even in text that does not parse."""
    assert redact_url(url) == shown


@pytest.mark.parametrize(
    "url",
    [
        f"https://admin:{PASSWORD}@feeds.example.net/i.xml",
        f"http://admin:{PASSWORD}@feeds.example.net/i.xml",
        f"https://admin:{PASSWORD}@feeds example.net/i.xml",
        f"https://admin:{PASSWORD}@[::1/i.xml",
        "https://admin@feeds.example.net/i.xml",
    ],
)
def test_https_url_with_credentials_is_refused_without_repeating_them(url: str) -> None:
    """A URL carrying user:password@ is refused first, whatever else is wrong with it, and
    the error does not repeat the password."""
    with pytest.raises(UsageError) as caught:
        check_https_url(url, "--url")
    assert "credentials" in caught.value.problem
    assert PASSWORD not in caught.value.diagnostics()
