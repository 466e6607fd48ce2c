"""Numeric OS versions: ``15.6.1``, ``10.0.26100.4946``, ``26.0.1 (a)``.

Versions compare component by component as integers, never as text ("15.10" > "15.9"), and
trailing zeros do not matter ("15" == "15.0" == "15.0.0"). A rapid security response suffix
("(a)", "(b)") sorts just after its base release and before the next point release.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from feedmgr.errors import ParseError

MAX_COMPONENTS = 6
MAX_COMPONENT_DIGITS = 9

_VERSION = re.compile(
    r"^\s*(?P<dotted>\d{1,9}(?:\.\d{1,9}){0,5})\s*(?:\(\s*(?P<rsr>[a-z])\s*\))?\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True, order=False)
class OsVersion:
    """A dotted numeric version with an optional rapid-security-response letter.

    ``parts`` keeps the components as written (``(15, 0)`` for "15.0"); ordering and equality
    use ``key``, which drops trailing zeros, so "15.0" == "15".
    """

    parts: tuple[int, ...]
    rsr: str | None = None
    text: str | None = field(default=None, compare=False)
    key: tuple[tuple[int, ...], str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.parts or len(self.parts) > MAX_COMPONENTS:
            raise ValueError(f"a version has 1 to {MAX_COMPONENTS} components")
        if any(p < 0 for p in self.parts):
            raise ValueError("version components are never negative")
        if self.rsr is not None and not re.fullmatch(r"[a-z]", self.rsr):
            raise ValueError("a rapid security response is one lower-case letter")
        trimmed = list(self.parts)
        while len(trimmed) > 1 and trimmed[-1] == 0:
            trimmed.pop()
        object.__setattr__(self, "key", (tuple(trimmed), self.rsr or ""))

    @classmethod
    def of(cls, *parts: int, rsr: str | None = None) -> OsVersion:
        """Build a version from integers: ``OsVersion.of(15, 6, 1)``."""
        return cls(tuple(parts), rsr)

    @classmethod
    def from_dotted(cls, dotted: str, rsr: str | None = None) -> OsVersion:
        """Build from already-validated dotted digits, keeping the text ("22.04")."""
        return cls(tuple(int(p) for p in dotted.split(".")), rsr, dotted)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, OsVersion):
            return NotImplemented
        return self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __lt__(self, other: OsVersion) -> bool:
        return self.key < other.key

    def __le__(self, other: OsVersion) -> bool:
        return self.key <= other.key

    def __gt__(self, other: OsVersion) -> bool:
        return self.key > other.key

    def __ge__(self, other: OsVersion) -> bool:
        return self.key >= other.key

    @property
    def major(self) -> int:
        """The first component."""
        return self.parts[0]

    @property
    def base(self) -> OsVersion:
        """The version without its rapid-security-response letter."""
        return OsVersion(self.parts, None, self.text) if self.rsr else self

    def has_prefix(self, prefix: OsVersion) -> bool:
        """True when this version is ``prefix`` itself or one of its point releases.

        Compares the components as written: "15.7.2" and "15.7" have prefix "15.7", "15.70"
        does not, and "26.1" is not a point release of "26.0" (but "26.0.1" is).
        """
        if self.key[0] == prefix.key[0]:
            return True
        return self.parts[: len(prefix.parts)] == prefix.parts

    def __str__(self) -> str:
        text = self.text or ".".join(str(p) for p in self.parts)
        return f"{text} ({self.rsr})" if self.rsr else text


def parse_version(text: str) -> OsVersion:
    """Parse "15.6.1", "10.0.26100.4946" or "26.0.1 (a)".

    Raises:
        ParseError: when the text is not a dotted numeric version (at most six components of
            at most nine digits each, optionally followed by a one-letter RSR suffix).
    """
    match = _VERSION.match(text) if len(text) <= 100 else None
    if match is None:
        raise ParseError(repr(text[:100]), "not a numeric OS version like 15.6.1 or 10.0.26100")
    rsr = match["rsr"].lower() if match["rsr"] else None
    return OsVersion.from_dotted(match["dotted"], rsr)


def in_range(version: OsVersion, low: OsVersion, high: OsVersion) -> bool:
    """True when ``low <= version`` and ``version`` is at most ``high`` or a point release of it.

    This is the feed's range rule: ``max_version`` covers its own point releases, so the
    range 15.0-15.7 covers 15.7.2 and the range 10.0.22000-10.0.26200 covers 10.0.26200.6899.
    A rapid security response is covered when its base release is.
    """
    base = version.base
    return low.base <= base and (base <= high.base or base.has_prefix(high.base))
