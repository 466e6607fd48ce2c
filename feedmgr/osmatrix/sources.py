"""Third-party release documents: the SOFA macOS feed and endoflife.date's Windows data.

Each reader turns the document its publisher really serves into a :class:`ReleaseCatalog`
whose releases name their source, and reports what it had to leave out. Both decide what a
document describes from the document's own fields, never from its file name: a user who
passes SOFA's iOS feed, or a URL that now serves something else, gets exit 3 and nothing
changes.

- SOFA (https://sofa.macadmins.io, repository macadmins/sofa): ``macos_data_feed.json`` v1
  and v2. ``OSVersions[].Latest`` and ``OSVersions[].SecurityReleases[]`` give versions and
  dates; v1 lists Rapid Security Responses with their base version in ``ProductVersion``
  and the letter only in ``UpdateName`` ("Rapid Security Response macOS Ventura 13.4.1
  (c)"); v2 lists Background Security Improvements in ``BackgroundSecurityImprovements``
  (``Version`` "26.3.2", ``VersionExtra`` "(a)", ``Build`` "25D771400a", ``PostingDate``).
- endoflife.date (repository endoflife-date/endoflife.date, ``products/windows.md``): the
  product page's front matter, or the API document generated from it
  (``/api/v1/products/windows``, ``result.releases[]``). Each release cycle ("11-24h2-e",
  "11-24h2-w", "11-24h2-iot-lts") names its build in ``latest``; the cycles of one build
  become one release.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from feedmgr.errors import ParseError, SchemaError
from feedmgr.osmatrix.identifier import windows_marketing, windows_release_id
from feedmgr.osmatrix.releases import MAX_CATALOG_BYTES, Release, ReleaseCatalog, merge
from feedmgr.osmatrix.version import OsVersion, parse_version
from feedmgr.textio import without_bom

SOFA = "SOFA"
ENDOFLIFE = "endoflife.date"
# The names each reader's catalog is stored under (<home>/releases/<name>.json), by
# 'releases import' and 'releases update' alike: either one replaces the other's.
SOFA_CATALOG = "sofa-macos"
ENDOFLIFE_CATALOG = "endoflife-windows"
# Every platform SOFA publishes a feed for; how its entries name themselves.
_PLATFORM = re.compile(
    r"(?<![A-Za-z])(macOS|Mac OS X|OS X|iOS|iPadOS|tvOS|watchOS|visionOS|Safari)(?![A-Za-z])"
)
_MACOS_NAMES = frozenset({"macOS", "Mac OS X", "OS X"})
_RSR_LETTER = re.compile(r"\(\s*([a-z])\s*\)\s*$")
_MAC_BUILD = re.compile(r"^[A-Za-z0-9]{3,12}$")
_WINDOWS_BUILD = re.compile(r"^10\.0\.(\d{5})$")
_ENDOFLIFE_CYCLE = re.compile(r"^(10|11)-([0-9]{2}h[12]|[0-9]{4})(?:-.+)?$", re.IGNORECASE)
_GENERAL_CYCLE = re.compile(r"^(10|11)-[0-9a-z]{4}(?:-[ew])?$", re.IGNORECASE)


@dataclass(frozen=True)
class Skipped:
    """An entry a reader left out, and why."""

    where: str
    version: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where} ({self.version}): {self.reason}"


@dataclass(frozen=True)
class SourceImport:
    """What a reader got out of a document: the catalog, and the entries it left out."""

    catalog: ReleaseCatalog
    skipped: tuple[Skipped, ...] = ()
    kind: str = SOFA

    def summary(self) -> str:
        """ "12 releases; 1 entry without a usable date skipped (...)"."""
        count = len(self.catalog.releases)
        text = f"{count} release{'' if count == 1 else 's'}"
        if self.skipped:
            noun = "entry" if len(self.skipped) == 1 else "entries"
            shown = "; ".join(str(s) for s in self.skipped[:3])
            more = f"; and {len(self.skipped) - 3} more" if len(self.skipped) > 3 else ""
            text += f"; {len(self.skipped)} {noun} skipped ({shown}{more})"
        return text


def _load_json(data: bytes, subject: str, what: str) -> Any:
    if len(data) > MAX_CATALOG_BYTES:
        raise SchemaError(subject, f"{len(data)} bytes, over the {MAX_CATALOG_BYTES} limit")
    try:
        return json.loads(without_bom(data))
    except (ValueError, UnicodeDecodeError) as exc:
        raise SchemaError(subject, f"not {what}: not a JSON document ({exc})") from None
    except RecursionError:
        raise SchemaError(subject, f"not {what}: nested too deeply") from None


def _date(value: object) -> date | None:
    """A SOFA or endoflife.date date ("2024-03-25T00:00:00Z", "2026-07-27"), else None."""
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
    except ValueError:
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None


def _text(entry: Mapping[str, Any], key: str) -> str | None:
    value = entry.get(key)
    return value.strip() if isinstance(value, str) and value.strip() else None


# --- SOFA -----------------------------------------------------------------------------------


def _sofa_entries(feed: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every release entry of the feed with where it is ("OSVersions[0].Latest")."""
    for os_index, os_version in enumerate(feed["OSVersions"]):
        if not isinstance(os_version, Mapping):
            continue
        releases = os_version.get("SecurityReleases")
        for index, entry in enumerate(releases if isinstance(releases, list) else []):
            if isinstance(entry, Mapping):
                yield f"OSVersions[{os_index}].SecurityReleases[{index}]", entry
        latest = os_version.get("Latest")
        if isinstance(latest, Mapping):
            yield f"OSVersions[{os_index}].Latest", latest


def _sofa_platform(feed: Any, subject: str) -> None:
    """Raise unless the document is SOFA's macOS feed, judged by its own fields."""
    if not isinstance(feed, Mapping):
        raise SchemaError(subject, "not a SOFA macOS feed: the document is not a JSON object")
    if "AppVersions" in feed and "OSVersions" not in feed:
        raise SchemaError(subject, "this is SOFA's Safari feed (AppVersions), not the macOS feed")
    if not isinstance(feed.get("OSVersions"), list):
        raise SchemaError(subject, "not a SOFA macOS feed: OSVersions is missing or not a list")
    os_name = feed.get("OSName")
    if isinstance(os_name, str) and os_name not in _MACOS_NAMES:
        raise SchemaError(subject, f"this is SOFA's {os_name} feed (OSName), not the macOS feed")
    says_macos = False
    for where, entry in _sofa_entries(feed):
        for key in ("ProductName", "UpdateName"):
            value = _text(entry, key)
            if value is None:
                continue
            named = {m.group(1) for m in _PLATFORM.finditer(value)}
            if named - _MACOS_NAMES:
                raise SchemaError(
                    subject,
                    f"this SOFA feed describes {value!r} ({where}.{key}), not macOS: "
                    "import SOFA's macos_data_feed.json",
                )
            says_macos = says_macos or bool(named)
    if not says_macos:
        raise SchemaError(
            subject, "not a SOFA macOS feed: no release entry names macOS (UpdateName)"
        )


def _sofa_version(entry: Mapping[str, Any], where: str, subject: str) -> OsVersion:
    """ProductVersion, with the RSR letter that v1 keeps only in UpdateName."""
    raw = entry.get("ProductVersion")
    if not isinstance(raw, str):
        raise SchemaError(subject, f"{where}.ProductVersion: missing or not text")
    try:
        version = parse_version(raw)
    except ParseError as exc:
        raise SchemaError(subject, f"{where}.ProductVersion: {exc.problem}") from exc
    name = _text(entry, "UpdateName") or ""
    letter = _RSR_LETTER.search(name)
    if version.rsr is None and letter and "rapid security response" in name.lower():
        version = OsVersion(version.parts, letter.group(1), version.text)
    return version


def _sofa_bsi(feed: Mapping[str, Any], source: str) -> Iterator[Release | Skipped]:
    """v2's Background Security Improvements: their own versions ("26.3.2 (a)")."""
    groups = feed.get("BackgroundSecurityImprovements")
    if not isinstance(groups, Mapping):
        return
    for major, entries in groups.items():
        for index, entry in enumerate(entries if isinstance(entries, list) else []):
            if not isinstance(entry, Mapping):
                continue
            where = f"BackgroundSecurityImprovements[{major}][{index}]"
            text = f"{entry.get('Version')} {entry.get('VersionExtra') or ''}".strip()
            try:
                version = parse_version(text)
            except ParseError:
                yield Skipped(where, text[:40], "not a version like 26.3.2 (a)")
                continue
            posted = _date(entry.get("PostingDate"))
            if posted is None:
                yield Skipped(where, str(version), f"PostingDate {entry.get('PostingDate')!r}")
                continue
            build = _text(entry, "Build")
            yield Release(
                "macos",
                version,
                posted,
                build if build and _MAC_BUILD.match(build) else None,
                f"macOS {version} (Background Security Improvement)",
                source,
            )


def _consistent_dates(releases: list[Release]) -> tuple[list[Release], list[Skipped]]:
    """Drop releases dated after a higher version of the same major.

    Apple ships the point releases of one major in version order, so such a date cannot be
    right. SOFA's feeds since 2025 carry a dozen of them (macOS 12.6 "2024-06-12", 12.6.2
    being "2022-12-13"; the 2024 feeds had 2022-09-12): a wrong date would make lag ages
    wrong, so the entry is reported instead of imported.
    """
    earliest_above: dict[Release, date] = {}
    by_major: dict[int, list[Release]] = {}
    for release in releases:
        if release.version.rsr is None:
            by_major.setdefault(release.version.major, []).append(release)
    for line in by_major.values():
        line.sort(key=lambda r: r.version, reverse=True)
        floor: date | None = None
        for release in line:
            if floor is not None:
                earliest_above[release] = floor
            floor = release.released if floor is None else min(floor, release.released)
    kept, dropped = [], []
    for release in releases:
        above = earliest_above.get(release)
        if above is not None and release.released > above:
            reason = (
                f"ReleaseDate {release.released} is later than a higher {release.version.major}.x "
                f"release ({above}): the feed's date cannot be right"
            )
            dropped.append(Skipped("SecurityReleases", str(release.version), reason))
        else:
            kept.append(release)
    return kept, dropped


def import_sofa(data: bytes, subject: str, source: str | None = None) -> SourceImport:
    """Read the macOS releases of a SOFA ``macos_data_feed.json`` (v1 or v2).

    ``source`` is recorded on every release (default: "SOFA <subject>"). Entries without a
    usable date (v1's ``"Preinstalled"``) are skipped and listed in the result; the rest
    imports. An entry dated after a higher version of its major is skipped and listed too
    (:func:`_consistent_dates`). Other SOFA fields are ignored on purpose: SOFA adds fields
    over time.

    Raises:
        SchemaError: when the document is too large, not JSON, not SOFA's macOS feed (the iOS,
            tvOS, watchOS, visionOS or Safari feed), has a version that is not one, or lists no
            release with a date.
    """
    feed = _load_json(data, subject, "a SOFA macOS feed")
    _sofa_platform(feed, subject)
    origin = source or f"{SOFA} {subject}"
    releases: list[Release] = []
    skipped: list[Skipped] = []
    for where, entry in _sofa_entries(feed):
        version = _sofa_version(entry, where, subject)
        released = _date(entry.get("ReleaseDate"))
        if released is None:
            value = entry.get("ReleaseDate")
            skipped.append(Skipped(where, str(version), f"ReleaseDate {value!r} is not a date"))
            continue
        build = _text(entry, "Build")
        releases.append(
            Release(
                "macos",
                version,
                released,
                build if build and _MAC_BUILD.match(build) else None,
                _text(entry, "UpdateName"),
                origin,
            )
        )
    releases, contradicted = _consistent_dates(releases)
    skipped.extend(contradicted)
    for item in _sofa_bsi(feed, origin):
        if isinstance(item, Release):
            releases.append(item)
        else:
            skipped.append(item)
    if not releases:
        raise SchemaError(subject, "the SOFA feed lists no macOS release with a release date")
    checked = _date(feed.get("LastCheck")) or _date(feed.get("lastCheck"))
    as_of = checked or max(r.released for r in releases)
    note = f"macOS releases from {origin}"
    return SourceImport(merge([ReleaseCatalog(tuple(releases), as_of, note)], note), tuple(skipped))


# --- endoflife.date -------------------------------------------------------------------------


def _endoflife_cycles(data: bytes, subject: str) -> list[Mapping[str, Any]]:
    """The release cycles of an API document or of the product page's front matter."""
    if len(data) > MAX_CATALOG_BYTES:
        raise SchemaError(subject, f"{len(data)} bytes, over the {MAX_CATALOG_BYTES} limit")
    if data.lstrip().startswith(b"---"):
        import yaml

        parts = data.decode("utf-8", "replace").split("---", 2)
        try:
            document = yaml.safe_load(parts[1]) if len(parts) == 3 else None
        except yaml.YAMLError as exc:
            raise SchemaError(subject, f"front matter is not YAML: {exc}") from None
        except RecursionError:
            raise SchemaError(subject, "front matter is nested too deeply") from None
        if not isinstance(document, Mapping) or document.get("permalink") != "/windows":
            raise SchemaError(subject, "not endoflife.date's Windows page (permalink /windows)")
        cycles = document.get("releases")
        key = "releaseCycle"
    else:
        document = _load_json(data, subject, "endoflife.date Windows data")
        result = document.get("result") if isinstance(document, Mapping) else None
        if not isinstance(result, Mapping) or result.get("name") != "windows":
            raise SchemaError(
                subject, "not endoflife.date's Windows product document (result.name windows)"
            )
        cycles = result.get("releases")
        key = "name"
    if not isinstance(cycles, list) or not cycles:
        raise SchemaError(subject, "the document lists no release cycles")
    return [{**c, "cycle": c.get(key)} for c in cycles if isinstance(c, Mapping)]


def import_endoflife_windows(data: bytes, subject: str, source: str | None = None) -> SourceImport:
    """Read the Windows 10/11 feature releases of endoflife.date's Windows data.

    One release per NT build (10.0.<build>), dated by the earliest general-availability
    cycle of that build (IoT and LTSC cycles only when no other cycle has the build).
    Cycles before Windows 10 (NT 6.x and older) are not posture client versions the feed
    ranges use and are skipped, as are cycles without a usable date or build.

    Raises:
        SchemaError: when the document is not endoflife.date's Windows data, or yields no
            Windows 10/11 release.
    """
    origin = source or f"{ENDOFLIFE} {subject}"
    # build -> (0 for a general-availability cycle else 1, release date): the smallest wins
    best: dict[int, tuple[int, date]] = {}
    skipped: list[Skipped] = []
    for index, cycle in enumerate(_endoflife_cycles(data, subject)):
        name = str(cycle.get("cycle"))
        where = f"releases[{index}] {name}"
        latest = cycle.get("latest")
        if isinstance(latest, Mapping):  # API v1: {"name": "10.0.26100", "date", "link"}
            latest = latest.get("name")
        found = _WINDOWS_BUILD.match(str(latest)) if latest is not None else None
        if not _ENDOFLIFE_CYCLE.match(name) or found is None:
            skipped.append(Skipped(where, str(latest), "not a Windows 10/11 feature release"))
            continue
        released = _date(cycle.get("releaseDate"))
        if released is None:
            skipped.append(Skipped(where, str(latest), "releaseDate is not a date"))
            continue
        build = int(found.group(1))
        rank = (0 if _GENERAL_CYCLE.match(name) else 1, released)
        best[build] = min(best.get(build, rank), rank)
    releases = []
    for build, (_general, released) in best.items():
        rid = windows_release_id(build)
        label = f"{windows_marketing(build)} {rid}" if rid else windows_marketing(build)
        releases.append(
            Release("windows", OsVersion((10, 0, build)), released, None, label, origin)
        )
    if not releases:
        raise SchemaError(subject, "the document lists no Windows 10/11 release")
    as_of = max(r.released for r in releases)
    note = f"Windows releases from {origin}"
    catalog = ReleaseCatalog(tuple(releases), as_of, note)
    return SourceImport(catalog, tuple(skipped), ENDOFLIFE)
