"""The posture bundle: one small text file per Mac, written by ``collect-script --bundle``.

Format ``feedmgr-posture-bundle/1`` (docs/posture.md, "Bundle format"): a first line naming
the format, ``key = value`` header lines (collection time, host, serial, hardware UUID,
kernel, macOS product/version/build, console user, the service patterns the bundle was
filtered for), then sections opened by ``@@`` lines:

- ``@@ list DOMAIN jobs=N``: the ``launchctl list`` header and the rows whose label a filter
  pattern matches (N counts every row launchctl printed); ``@@ list DOMAIN failed`` when
  launchctl could not list the domain;
- ``@@ print DOMAIN/LABEL``: the whole ``launchctl print`` output; ``... absent`` when
  launchctl has no such job;
- ``@@ plists``: the launchd plist files (one path per line) whose label a filter matches;
- ``@@ end``: the last line. A bundle without it was cut off in transfer.

``parse_bundle`` never raises anything but ``BundleError``; whatever is wrong with a bundle
(binary, truncated, another format version, not from a Mac) is its one-line message.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from feedmgr.errors import ParseError
from feedmgr.posture.launchd import JobRecord, PlistFile, iter_list, iter_plists, iter_print
from feedmgr.posture.model import ServiceCondition, ServiceType

FORMAT = "feedmgr-posture-bundle"
VERSION = 1
MAX_BUNDLE_BYTES = 1024 * 1024
"""A bundle is a few KB; anything over 1 MiB is not one (and is not read whole)."""

_HEADER_KEYS = frozenset(
    {
        "collected",
        "host",
        "serial",
        "hardware_uuid",
        "kernel",
        "product",
        "version",
        "build",
        "version_extra",
        "console_user",
        "console_uid",
        "filter",
        "generator",
    }
)
# Lines an MDM log may put before the bundle; the format line must come within them.
_LEAD_LINES = 10
_REQUIRED = ("collected", "host", "kernel", "product", "version")
# sw_vers -productName: "Mac OS X" up to 10.15 (and 11.x in compatibility mode), "macOS" since.
_MAC_PRODUCTS = frozenset({"macOS", "Mac OS X"})
_VERSION = re.compile(r"^\d{1,3}(?:\.\d{1,3}){0,2}$")
# sw_vers -productVersionExtra (macOS 13+): "(a)" once a Rapid Security Response or
# Background Security Improvement is applied. Older sw_vers know no such flag; whatever
# they print instead is not a response letter and is not taken as one.
_VERSION_EXTRA = re.compile(r"^\([a-z]\)$")
_LIST = re.compile(
    r"^@@ list (?P<domain>system|gui/\d+) (?:jobs=(?P<jobs>\d+)|(?P<failed>failed))$"
)
_PRINT = re.compile(r"^@@ print (?P<target>(?:system|gui/\d+)/\S.*?)(?P<absent> absent)?$")


class BundleError(ParseError):
    """A file that is not a usable posture bundle; the message says why."""


@dataclass(frozen=True)
class ListSection:
    """One domain's ``launchctl list`` rows kept by the filter; ``jobs`` counts them all
    (None: launchctl failed). ``first_line`` is the bundle line of the ``@@`` opener."""

    domain: str
    jobs: int | None
    lines: tuple[str, ...]
    first_line: int

    @property
    def failed(self) -> bool:
        """True when launchctl could not list the domain on the Mac."""
        return self.jobs is None

    def describe(self) -> str:
        """``list system (412 jobs)``: how evidence names this input."""
        return f"list {self.domain} ({self.jobs} jobs)"


@dataclass(frozen=True)
class PrintSection:
    """``launchctl print TARGET`` output, or nothing when the job is absent.
    ``first_line`` is the bundle line of the ``@@`` opener."""

    target: str
    lines: tuple[str, ...]
    first_line: int

    @property
    def absent(self) -> bool:
        """True when launchctl had no such job."""
        return not self.lines


@dataclass(frozen=True)
class Bundle:
    """One Mac's bundle, parsed."""

    name: str
    collected: datetime
    host: str
    serial: str
    hardware_uuid: str
    product: str
    version: str
    build: str
    version_extra: str
    console_user: str
    console_uid: int | None
    filters: tuple[str, ...]
    lists: tuple[ListSection, ...]
    prints: tuple[PrintSection, ...]
    plists: tuple[str, ...] | None

    @property
    def release(self) -> str:
        """The macOS release as `os resolve` names it: ``13.3.1 (a)`` with a Rapid Security
        Response, else the version."""
        return f"{self.version} {self.version_extra}" if self.version_extra else self.version

    @property
    def mac_id(self) -> str:
        """The stable identity used to find duplicates: hardware UUID, else serial, else host."""
        return self.hardware_uuid or self.serial or self.host

    @property
    def version_key(self) -> tuple[int, ...]:
        """The macOS version as numbers, for ordering (never compared as strings)."""
        return tuple(int(part) for part in self.version.split("."))

    def domains(self) -> frozenset[str]:
        """The domains whose ``launchctl list`` the bundle holds."""
        return frozenset(s.domain for s in self.lists if not s.failed)

    def covers(self, condition: ServiceCondition) -> bool:
        """True when the bundle kept the jobs this condition looks at: its filters hold the
        condition's service (or ``*``), or, for an exact label, a pattern matching it."""
        if "*" in self.filters or condition.service in self.filters:
            return True
        return not condition.is_glob and any(
            fnmatch.fnmatchcase(condition.service, pattern) for pattern in self.filters
        )

    def missing_domains(self, condition: ServiceCondition) -> tuple[str, ...]:
        """Domains the condition looks at that the bundle says nothing about: ``system``
        for daemons, the console user's ``gui`` domain for user agents (none when nobody
        was logged in at collection time). A domain whose list is missing still counts as
        known for an exact label that ``launchctl print`` answered for (present or absent)."""
        suffix = "/" + condition.service
        printed = frozenset(
            p.target.removesuffix(suffix)
            for p in self.prints
            if not condition.is_glob and p.target.endswith(suffix)
        )
        have = self.domains() | printed
        missing = []
        if condition.service_type is not ServiceType.USER_AGENT and "system" not in have:
            missing.append("system")
        if condition.service_type is not ServiceType.DAEMON and not any(
            d.startswith("gui/") for d in have
        ):
            missing.append("gui (no console user)" if self.console_uid is None else "gui")
        return tuple(missing)

    def streams(self) -> list[tuple[str, Iterator[JobRecord]]]:
        """Record streams for ``evaluate.gather``; record line numbers count from the start
        of their section (``line_of`` turns them into the bundle's own)."""
        streams: list[tuple[str, Iterator[JobRecord]]] = []
        for section in self.lists:
            if not section.failed:
                records = iter_list(section.lines, self.name, section.domain)
                streams.append((section.describe(), records))
        for block in self.prints:
            if not block.absent:
                records = iter_print(block.lines, self.name, block.target)
                streams.append((f"print {block.target}", records))
        return streams

    def line_of(self, record: JobRecord) -> int:
        """The bundle line a record of ``streams`` came from."""
        if record.source.startswith("print"):
            sections = [p.first_line for p in self.prints if p.target == record.target]
        else:
            sections = [s.first_line for s in self.lists if s.domain == record.domain]
        return record.line + (sections[0] if sections else 0)

    def plist_files(self) -> list[PlistFile]:
        """The plist files the bundle lists."""
        return list(iter_plists(self.plists or ()))


def parse_bundle(data: bytes, name: str) -> Bundle:
    """Parse one bundle file.

    Raises:
        BundleError: the file is too large, binary, not UTF-8, not a bundle, of another
            format version, truncated, from another system than macOS, or malformed.
    """
    if len(data) > MAX_BUNDLE_BYTES:
        raise BundleError(name, f"too large for a bundle ({len(data)} bytes, limit 1 MiB)")
    if b"\0" in data:
        raise BundleError(name, "binary data (NUL bytes): not a posture bundle")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BundleError(
            name, f"not UTF-8 text (byte {exc.start}): not a posture bundle"
        ) from None
    lines = text.removeprefix("\ufeff").splitlines()
    if not lines:
        raise BundleError(name, "empty file")
    # MDM logs may put their own lines (or a prefix such as "Script result: ") before the
    # bundle and after it; line numbers stay those of the file.
    start = next((i for i, line in enumerate(lines[:_LEAD_LINES]) if FORMAT + "/" in line), None)
    if start is None:
        raise BundleError(name, f"not a {FORMAT} file (first line {lines[0][:60]!r})")
    _check_format(lines[start][lines[start].index(FORMAT) :], name)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].strip() == "@@ end"), None)
    if end is None:
        raise BundleError(name, "truncated: no '@@ end' line")
    header, body_start = _header(lines, start + 1, end, name)
    lists: list[ListSection] = []
    prints: list[PrintSection] = []
    plists: list[str] | None = None
    for opener, number, content in _sections(lines, body_start, end, name):
        if (match := _LIST.match(opener)) is not None:
            jobs = None if match.group("failed") else int(match.group("jobs"))
            lists.append(ListSection(match.group("domain"), jobs, content, number))
        elif (match := _PRINT.match(opener)) is not None:
            if match.group("absent") and content:
                raise BundleError(name, f"line {number}: an absent job has print output")
            prints.append(PrintSection(match.group("target"), content, number))
        elif opener == "@@ plists":
            plists = [*(plists or []), *content]
        else:
            raise BundleError(name, f"line {number}: unknown section {opener[:60]!r}")
    return _bundle(name, header, lists, prints, plists)


def _check_format(first: str, name: str) -> None:
    head, _, version = first.strip().removeprefix("\ufeff").partition("/")
    if head != FORMAT:
        raise BundleError(name, f"not a {FORMAT} file (first line {first[:60]!r})")
    if version != str(VERSION):
        raise BundleError(
            name, f"format version {version[:20]!r} is not supported (expected {VERSION})"
        )


def _header(lines: list[str], number: int, end: int, name: str) -> tuple[dict[str, list[str]], int]:
    header: dict[str, list[str]] = {}
    while number < end and not lines[number].startswith("@@"):
        line = lines[number]
        number += 1
        if not line.strip() or line.startswith("#"):
            continue
        key, sep, value = line.partition(" = ")
        if not sep and line.endswith(" ="):
            key, sep, value = line[:-2], " =", ""
        if not sep or key not in _HEADER_KEYS:
            raise BundleError(name, f"line {number}: expected 'key = value', got {line[:60]!r}")
        header.setdefault(key, []).append(value.strip())
    return header, number


def _sections(
    lines: list[str], start: int, end: int, name: str
) -> Iterator[tuple[str, int, tuple[str, ...]]]:
    """(opening line, its 1-based number, content lines) per section before ``@@ end``."""
    number = start
    while number < end:
        opener = lines[number]
        if not opener.startswith("@@"):
            raise BundleError(name, f"line {number + 1}: expected a '@@' section line")
        first = number + 1
        number = first
        while number < end and not lines[number].startswith("@@"):
            number += 1
        yield opener.rstrip(), first, tuple(lines[first:number])


def _one(header: dict[str, list[str]], key: str) -> str:
    values = header.get(key, [""])
    return values[-1]


def _bundle(
    name: str,
    header: dict[str, list[str]],
    lists: list[ListSection],
    prints: list[PrintSection],
    plists: list[str] | None,
) -> Bundle:
    for key in _REQUIRED:
        if not _one(header, key):
            raise BundleError(name, f"header '{key}' is missing or empty")
    kernel, product = _one(header, "kernel"), _one(header, "product")
    if kernel != "Darwin" or product not in _MAC_PRODUCTS:
        raise BundleError(
            name, f"not from a Mac (kernel {kernel[:40]!r}, product {product[:40]!r})"
        )
    version = _one(header, "version")
    if not _VERSION.match(version):
        raise BundleError(name, f"macOS version {version[:40]!r} is not a version number")
    collected_text = _one(header, "collected")
    try:
        collected = datetime.fromisoformat(collected_text)
    except ValueError:
        raise BundleError(
            name, f"collection time {collected_text[:40]!r} is not an ISO 8601 time"
        ) from None
    if collected.tzinfo is None:
        raise BundleError(name, f"collection time {collected_text!r} has no time zone")
    uid_text = _one(header, "console_uid")
    if uid_text and not uid_text.isdigit():
        raise BundleError(name, f"console_uid {uid_text[:20]!r} is not a number")
    seen: set[str] = set()
    for section in lists:
        if section.domain in seen:
            raise BundleError(name, f"line {section.first_line}: list {section.domain} twice")
        seen.add(section.domain)
    return Bundle(
        name=name,
        collected=collected.astimezone(UTC),
        host=_one(header, "host"),
        serial=_one(header, "serial"),
        hardware_uuid=_one(header, "hardware_uuid").upper(),
        product=product,
        version=version,
        build=_one(header, "build"),
        version_extra=extra if _VERSION_EXTRA.match(extra := _one(header, "version_extra")) else "",
        console_user=_one(header, "console_user"),
        console_uid=int(uid_text) if uid_text else None,
        filters=tuple(header.get("filter", ["*"])),
        lists=tuple(lists),
        prints=tuple(prints),
        plists=tuple(plists) if plists is not None else None,
    )
