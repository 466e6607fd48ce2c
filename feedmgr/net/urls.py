"""URL checks and display for settings and the transport (no third-party imports)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from feedmgr.errors import UsageError


def has_bad_characters(text: str) -> bool:
    """True when ``text`` holds C0 controls, DEL or lone surrogates (never valid in a URL)."""
    return any(ord(ch) < 0x20 or ord(ch) == 0x7F or 0xD800 <= ord(ch) <= 0xDFFF for ch in text)


def redact_url(text: str) -> str:
    """``text`` with the password of its userinfo replaced by ``***`` (for display).

    Works on any text, parsable or not, so that an error about a malformed URL can show it:
    the authority runs from ``://`` to the first ``/``, ``?`` or ``#``, its userinfo up to
    the last ``@`` in it, and the password from the first ``:`` of the userinfo (RFC 3986
    section 3.2.1, and how urllib.parse splits it). The user name is kept.
    """
    start = text.find("://")
    if start < 0:
        return text
    start += 3
    end = min((i for i in (text.find(c, start) for c in "/?#") if i >= 0), default=len(text))
    at = text.rfind("@", start, end)
    user, colon, _ = text[start : max(at, start)].partition(":")
    if at < 0 or not colon:
        return text
    return f"{text[:start]}{user}:***{text[at:]}"


def has_userinfo(text: str) -> bool:
    """True when the authority of ``text`` carries ``user[:password]@``."""
    start = text.find("://")
    if start < 0:
        return False
    start += 3
    end = min((i for i in (text.find(c, start) for c in "/?#") if i >= 0), default=len(text))
    return "@" in text[start:end]


def check_https_url(text: str, subject: str, *, what: str = "feeds are fetched") -> str:
    """Return ``text`` when it is an absolute ``https://`` URL with a host and no userinfo.

    ``what`` names the traffic in the refusal of another scheme ("<what> over HTTPS only").
    Credentials are checked first, so that no later message repeats them; every message
    shows the URL through ``redact_url``. ``details["reason"]`` says what is wrong.

    Raises:
        UsageError: any other URL (``http://`` included: feeds are fetched over HTTPS only),
            or one carrying ``user:password@`` (feedmgr never sends credentials in a URL).
    """
    shown = redact_url(text)
    if has_userinfo(text):
        raise UsageError(
            subject,
            f"{shown!r} carries credentials (user:password@); feedmgr sends none in a URL",
            reason="credentials",
        )
    if has_bad_characters(text) or any(ch.isspace() for ch in text):
        raise UsageError(
            subject,
            f"{shown!r} is not a valid URL (control characters or spaces)",
            reason="invalid",
        )
    try:
        parts = urlsplit(text)
        host = parts.hostname
    except ValueError as exc:
        raise UsageError(
            subject, f"{shown!r} is not a valid URL ({exc})", reason="invalid"
        ) from exc
    if parts.scheme.lower() != "https":
        raise UsageError(
            subject, f"{shown!r} is not an https:// URL; {what} over HTTPS only", reason="scheme"
        )
    if not host:
        raise UsageError(subject, f"{shown!r} has no host name", reason="invalid")
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


# scheme://user:password@ in free text (an exception's message quoting a URL).
_USERINFO_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]*):[^/\s@]*@")


def mask_passwords(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ``***``."""
    return _USERINFO_PASSWORD.sub(r"\1:***@", text)
