"""URL checks and display for settings and the transport (no third-party imports)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from feedmgr.errors import UsageError


def has_bad_characters(text: str) -> bool:
    """True when ``text`` holds C0 controls, DEL or lone surrogates (never valid in a URL)."""
    return any(ord(ch) < 0x20 or ord(ch) == 0x7F or 0xD800 <= ord(ch) <= 0xDFFF for ch in text)


def check_https_url(text: str, subject: str, *, what: str = "feeds are fetched") -> str:
    """Return ``text`` when it is an absolute ``https://`` URL with a host.

    ``what`` names the traffic in the refusal of another scheme ("<what> over HTTPS only").

    Raises:
        UsageError: any other URL (``http://`` included: feeds are fetched over HTTPS only).
    """
    if has_bad_characters(text) or any(ch.isspace() for ch in text):
        raise UsageError(subject, f"{text!r} is not a valid URL (control characters or spaces)")
    try:
        parts = urlsplit(text)
        host = parts.hostname
    except ValueError as exc:
        raise UsageError(subject, f"{text!r} is not a valid URL ({exc})") from exc
    if parts.scheme.lower() != "https":
        raise UsageError(subject, f"{text!r} is not an https:// URL; {what} over HTTPS only")
    if not host:
        raise UsageError(subject, f"{text!r} has no host name")
    return text


def check_proxy_url(text: str, subject: str) -> str:
    """Return ``text`` when it is an ``http://`` or ``https://`` proxy URL with a host.

    Raises:
        UsageError: another scheme or no host.
    """
    if has_bad_characters(text) or any(ch.isspace() for ch in text):
        raise UsageError(subject, "the proxy URL contains control characters or spaces")
    try:
        parts = urlsplit(text)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise UsageError(subject, f"not a valid proxy URL ({exc})") from exc
    if parts.scheme.lower() not in ("http", "https") or not host:
        raise UsageError(subject, "a proxy must be given as http://HOST:PORT or https://HOST:PORT")
    return text


def redact_proxy(text: str) -> str:
    """The proxy URL with any password replaced by ``***`` (for display)."""
    parts = urlsplit(text)
    if parts.password is None:
        return text
    netloc = parts.netloc.rsplit("@", 1)
    user = (parts.username or "") + ":***"
    return parts._replace(netloc=f"{user}@{netloc[-1]}").geturl()


# scheme://user:password@ in free text (an exception's message quoting a URL).
_USERINFO_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]*):[^/\s@]*@")


def mask_passwords(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ``***``."""
    return _USERINFO_PASSWORD.sub(r"\1:***@", text)
