"""PEP 440 version text read from files and the network, judged without ever raising.

``packaging.version.Version`` refuses text that is no version with ``InvalidVersion``, but a
release number longer than Python converts to an int (4,300 digits, CPython's guard against
quadratic-time conversion) raises a plain ``ValueError`` from inside it, which a caller
catching ``InvalidVersion`` turned into an internal error. Every test of outside text goes
through here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # packaging costs 5 ms to import; most commands never need it
    from packaging.version import Version

# A version string longer than this is shown shortened in messages.
_SHOWN_CHARACTERS = 60


def parse_pep440(text: str) -> Version | None:
    """``text`` as a ``Version``, or None when it is not a PEP 440 version.

    Surrounding whitespace is refused although packaging strips it: the text itself is
    what gets stored and printed ("2026.12.1\n" would be kept with its line feed).
    """
    from packaging.version import Version

    if text != text.strip():
        return None
    try:
        return Version(text)
    except ValueError:  # InvalidVersion is one, and so is the int conversion limit
        return None


def is_pep440(text: str) -> bool:
    """True when ``text`` is a PEP 440 version."""
    return parse_pep440(text) is not None


def shown(text: str) -> str:
    """``text`` quoted for a message, shortened when it is long."""
    if len(text) <= _SHOWN_CHARACTERS:
        return repr(text)
    return f"{text[:_SHOWN_CHARACTERS]!r}... ({len(text)} characters)"
