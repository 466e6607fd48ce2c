"""Release catalogs: which OS versions exist in the world, and when they came out.

Two inputs, one model:

- our own format ``feedmgr-os-releases/1`` (docs/os-matrix.md), used for the shipped snapshot
  (``feedmgr/osmatrix/data/*.json``, the same files as ``feeds/releases/``), for Windows and
  for manual entries;
- third-party documents read by :mod:`feedmgr.osmatrix.sources`: the SOFA macOS feed and
  endoflife.date's Windows data (``feedmgr releases import`` / ``releases update``).

Imported catalogs live in ``<home>/releases/*.json`` in our format; :func:`load_release_catalogs`
merges them over the shipped snapshot.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from feedmgr.atomic import write_bytes_atomically
from feedmgr.errors import ParseError, SchemaError, StoreError
from feedmgr.osmatrix.identifier import FAMILIES, Family, windows_marketing, windows_release_id
from feedmgr.osmatrix.version import OsVersion, parse_version
from feedmgr.textio import without_bom

FORMAT = "feedmgr-os-releases/1"
MAX_CATALOG_BYTES = 64 * 1024 * 1024  # SOFA's full feed is about 0.5 MB; far above any real one
RELEASES_DIR = "releases"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,80}$")


@dataclass(frozen=True)
class Release:
    """One released OS version."""

    family: Family
    version: OsVersion
    released: date
    build: str | None = None
    name: str | None = None
    source: str | None = None

    @property
    def label(self) -> str:
        """ "macOS 26.2 (25C56)", "Windows 11 24H2 (10.0.26100)"."""
        if self.name:
            base = self.name
        elif self.family == "macos":
            base = f"macOS {self.version}"
        elif self.family == "windows" and len(self.version.parts) >= 3:
            build = self.version.parts[2]
            rid = windows_release_id(build)
            base = f"{windows_marketing(build)} {rid}" if rid else f"Windows {self.version}"
        else:
            base = f"{self.family} {self.version}"
        if self.build:
            return f"{base} ({self.build})"
        if self.family == "windows" and str(self.version) not in base:
            return f"{base} ({self.version})"
        return base

    def to_json(self) -> dict[str, Any]:
        """The entry as written in a ``feedmgr-os-releases/1`` document."""
        entry: dict[str, Any] = {"family": self.family, "version": str(self.version)}
        if self.build:
            entry["build"] = self.build
        entry["released"] = self.released.isoformat()
        if self.name:
            entry["name"] = self.name
        if self.source:
            entry["source"] = self.source
        return entry


@dataclass(frozen=True)
class ReleaseCatalog:
    """A set of releases and the date the set reflects (``as_of``)."""

    releases: tuple[Release, ...]
    as_of: date | None = None
    description: str = ""

    def for_family(self, family: str) -> tuple[Release, ...]:
        """Releases of one family, oldest version first."""
        return tuple(sorted((r for r in self.releases if r.family == family), key=_order))

    def sorted(self) -> tuple[Release, ...]:
        """Every release, by family then version."""
        return tuple(sorted(self.releases, key=_order))

    def to_bytes(self) -> bytes:
        """Serialise in our format (stable order, two-space indent)."""
        document: dict[str, Any] = {"format": FORMAT}
        if self.as_of is not None:
            document["as_of"] = self.as_of.isoformat()
        document["description"] = self.description
        document["releases"] = [r.to_json() for r in self.sorted()]
        return (json.dumps(document, indent=2) + "\n").encode()


def _order(release: Release) -> tuple[int, OsVersion]:
    return (FAMILIES.index(release.family), release.version)


def merge(catalogs: Iterable[ReleaseCatalog], description: str = "") -> ReleaseCatalog:
    """Union of catalogs; one entry per (family, version), first seen wins, gaps filled later.

    ``as_of`` is the newest of the inputs.
    """
    by_key: dict[tuple[str, OsVersion], Release] = {}
    as_of: date | None = None
    for catalog in catalogs:
        if catalog.as_of is not None and (as_of is None or catalog.as_of > as_of):
            as_of = catalog.as_of
        for release in catalog.releases:
            key = (release.family, release.version)
            known = by_key.get(key)
            if known is None:
                by_key[key] = release
            elif (known.build is None and release.build) or (known.name is None and release.name):
                by_key[key] = replace(
                    known, build=known.build or release.build, name=known.name or release.name
                )
    return ReleaseCatalog(tuple(by_key.values()), as_of, description)


# --- our own format -------------------------------------------------------------------------


@functools.cache
def _models() -> tuple[type[Any], type[Any]]:
    """The pydantic models of our format (built lazily: pydantic stays out of --help)."""
    from pydantic import AfterValidator, Field

    from feedmgr.feed._model import EdgeModel

    def _version(value: str) -> str:
        try:
            parse_version(value)
        except ParseError:
            raise ValueError(f"{value!r} is not a numeric OS version") from None
        return value

    class ReleaseEntry(EdgeModel):
        family: Literal["macos", "windows", "linux"]
        version: Annotated[str, AfterValidator(_version)]
        released: date
        build: Annotated[str, Field(pattern=r"^[A-Za-z0-9.]{1,20}$")] | None = None
        name: Annotated[str, Field(min_length=1, max_length=100)] | None = None
        source: Annotated[str, Field(min_length=1, max_length=300)] | None = None

    class ReleaseDocument(EdgeModel):
        format: Literal["feedmgr-os-releases/1"]
        as_of: date | None = None
        description: Annotated[str, Field(max_length=2000)] = ""
        releases: list[ReleaseEntry]

    return ReleaseEntry, ReleaseDocument


def parse_release_catalog(data: bytes, subject: str) -> ReleaseCatalog:
    """Parse a ``feedmgr-os-releases/1`` document.

    Raises:
        SchemaError: when the bytes are too large, not JSON, or not following the format.
    """
    from pydantic import ValidationError

    from feedmgr.feed.manifest import describe_validation_error

    if len(data) > MAX_CATALOG_BYTES:
        raise SchemaError(subject, f"{len(data)} bytes, over the {MAX_CATALOG_BYTES} limit")
    _entry, document_model = _models()
    try:
        document = document_model.model_validate_json(without_bom(data))
    except ValidationError as exc:
        raise SchemaError(subject, describe_validation_error(exc)) from exc
    releases = tuple(
        Release(e.family, parse_version(e.version), e.released, e.build, e.name, e.source)
        for e in document.releases
    )
    return ReleaseCatalog(releases, document.as_of, document.description)


# --- shipped snapshot and the store ---------------------------------------------------------


def shipped_release_catalog() -> ReleaseCatalog:
    """The snapshot shipped inside the package (``feedmgr/osmatrix/data/*.json``)."""
    folder = resources.files("feedmgr.osmatrix") / "data"
    catalogs = [
        parse_release_catalog(item.read_bytes(), f"feedmgr/osmatrix/data/{item.name}")
        for item in sorted(folder.iterdir(), key=lambda i: i.name)
        if item.name.endswith(".json")
    ]
    return merge(catalogs, "shipped snapshot")


def releases_dir(home: Path) -> Path:
    """Where imported release catalogs are kept."""
    return home / RELEASES_DIR


def save_release_catalog(home: Path, name: str, catalog: ReleaseCatalog) -> Path:
    """Write a catalog as ``<home>/releases/<name>.json`` atomically.

    Raises:
        StoreError: when the directory cannot be created or written.
    """
    if not _NAME.match(name):
        raise StoreError(name, "not a usable catalog name")
    folder = releases_dir(home)
    target = folder / f"{name}.json"
    try:
        write_bytes_atomically(target, catalog.to_bytes(), create_folder=True)
    except OSError as exc:
        raise StoreError(str(target), f"cannot write release catalog: {exc.strerror}") from exc
    return target


def imported_catalog_paths(home: Path) -> tuple[Path, ...]:
    """The imported catalogs in the store, by name."""
    folder = releases_dir(home)
    if not folder.is_dir():
        return ()
    return tuple(sorted(p for p in folder.glob("*.json") if p.is_file()))


def read_release_file(path: Path) -> ReleaseCatalog:
    """Read one catalog file in our format.

    Raises:
        InputRejected: (SchemaError) for an invalid document; UsageError when unreadable.
    """
    from feedmgr.errors import UsageError

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(str(path), f"cannot read: {exc.strerror}") from exc
    return parse_release_catalog(data, str(path))


def release_catalogs(
    home: Path, extra: Iterable[Path] = (), *, include_shipped: bool = True
) -> list[ReleaseCatalog]:
    """Every catalog in merge order: ``extra`` files, imported catalogs, the snapshot.

    Raises:
        SchemaError: when a catalog file is invalid (it names the file).
    """
    catalogs = [read_release_file(p) for p in extra]
    catalogs.extend(read_release_file(p) for p in imported_catalog_paths(home))
    if include_shipped:
        catalogs.append(shipped_release_catalog())
    return catalogs


def load_release_catalogs(
    home: Path, extra: Iterable[Path] = (), *, include_shipped: bool = True
) -> ReleaseCatalog:
    """Everything we know, merged (first catalog wins, later ones fill gaps).

    Raises:
        SchemaError: when a catalog file is invalid (it names the file).
    """
    catalogs = release_catalogs(home, extra, include_shipped=include_shipped)
    return merge(catalogs, "merged release catalogs")


def by_family(catalogs: Iterable[ReleaseCatalog]) -> dict[Family, ReleaseCatalog]:
    """One merged catalog per OS family, dated and described by the catalogs it came from.

    This is what ``feedmgr releases export`` writes (``macos.json``, ``windows.json``): a
    family's ``as_of`` is the newest date of the catalogs that list it, so a fresh macOS
    feed does not make old Windows data look current.
    """
    catalogs = list(catalogs)
    result: dict[Family, ReleaseCatalog] = {}
    for family in FAMILIES:
        parts = [
            ReleaseCatalog(c.for_family(family), c.as_of, c.description)
            for c in catalogs
            if c.for_family(family)
        ]
        if parts:
            description = " + ".join(dict.fromkeys(p.description for p in parts if p.description))
            result[family] = merge(parts, description[:2000])
    return result
