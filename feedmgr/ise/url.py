"""The ISE base URL rule, shared by the deployment file model and the client (no
third-party imports: loading a deployment file must not pull in requests)."""

from __future__ import annotations

from urllib.parse import urlsplit

from feedmgr.errors import UsageError
from feedmgr.net.urls import check_https_url, has_userinfo, redact_url


def check_ise_url(url: str, subject: str) -> str:
    """The ISE base URL without a trailing slash: https, a host, no path beyond ``/``.

    Raises:
        UsageError: not an https URL with a host, or with a path, query, fragment or
            credentials (which the message does not repeat).
    """
    # Credentials first: no other message may repeat a password written into the URL.
    if has_userinfo(url):
        raise UsageError(
            subject,
            f"{redact_url(url)!r} carries credentials; give the user as username (--username) "
            "and the password in the variable password_env names (--password-env)",
            reason="credentials",
        )
    check_https_url(url, subject, what="ISE is read")
    parts = urlsplit(url)
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise UsageError(
            subject, f"{url!r}: give only https://HOST[:PORT] of the ISE PAN", reason="path"
        )
    return f"{parts.scheme.lower()}://{parts.netloc}"
