"""``feedmgr releases update``: current release data from SOFA and endoflife.date, online.

Both documents come through the shared HTTPS transport (:mod:`feedmgr.net.transport`:
https only, proxy, CA bundle, retries, size cap) and are fetched conditionally with the
validators kept in the store's HTTP cache, exactly like the feed index. Nothing is stored
until every document has been fetched and read: then each catalog is replaced atomically
and the cache remembers the new validators. A document that is not what its setting
promises (SOFA's iOS feed at ``releases.sofa_url``) is rejected like a bad file (exit 3).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from feedmgr.osmatrix.releases import (
    ReleaseCatalog,
    read_release_file,
    releases_dir,
    save_release_catalog,
)
from feedmgr.osmatrix.sources import (
    ENDOFLIFE_CATALOG,
    SOFA_CATALOG,
    SourceImport,
    import_endoflife_windows,
    import_sofa,
)

if TYPE_CHECKING:
    from feedmgr.config import Config
    from feedmgr.feed.index import CachedDocument
    from feedmgr.net.transport import HttpsClient

# SOFA's macOS feed is about 0.5 MB, endoflife.date's Windows document a few kB.
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024

Reader = Callable[[bytes, str, str | None], SourceImport]


@dataclass(frozen=True)
class ReleaseSource:
    """One online document and where its catalog is stored."""

    name: str
    url: str
    what: str
    read: Reader


def release_sources(config: Config) -> tuple[ReleaseSource, ...]:
    """SOFA's macOS feed and endoflife.date's Windows data, at the configured URLs."""
    return (
        ReleaseSource(
            SOFA_CATALOG,
            str(config.get("releases.sofa_url")),
            "the SOFA macOS feed",
            import_sofa,
        ),
        ReleaseSource(
            ENDOFLIFE_CATALOG,
            str(config.get("releases.windows_url")),
            "the endoflife.date Windows data",
            import_endoflife_windows,
        ),
    )


@dataclass(frozen=True)
class Fetched:
    """A document fetched and read, and how it compares with the stored catalog."""

    source: ReleaseSource
    result: SourceImport
    not_modified: bool
    added: int
    changed: bool
    cache: CachedDocument | None
    # The stored catalog's as_of when the document is older than it (a stale mirror or
    # CDN): the document is then not stored.
    kept_as_of: date | None = None

    def to_json(self) -> dict[str, object]:
        """The documented JSON shape of one source's outcome."""
        catalog = self.result.catalog
        return {
            "name": self.source.name,
            "url": self.source.url,
            "not_modified": self.not_modified,
            "releases": len(catalog.releases),
            "new_releases": self.added,
            "changed": self.changed,
            "as_of": catalog.as_of.isoformat() if catalog.as_of else None,
            "skipped": [str(s) for s in self.result.skipped],
            "older_than_stored": self.kept_as_of is not None,
            "stored_as_of": self.kept_as_of.isoformat() if self.kept_as_of else None,
        }


def stored_catalog(home: Path, name: str) -> ReleaseCatalog | None:
    """The release catalog stored under ``name`` in the home, or None."""
    path = releases_dir(home) / f"{name}.json"
    return read_release_file(path) if path.is_file() else None


def _facts(catalog: ReleaseCatalog | None) -> set[tuple[object, ...]]:
    if catalog is None:
        return set()
    return {(r.family, r.version, r.released, r.build) for r in catalog.releases}


def fetch_releases(
    home: Path, client: HttpsClient, sources: Sequence[ReleaseSource], *, today: date
) -> tuple[Fetched, ...]:
    """Fetch and read every source; store nothing.

    Raises:
        NetworkError: a server cannot be reached or answers with an error (exit 4).
        InputRejected: a document is too large, or not what its source promises (exit 3);
            the error names the URL.
    """
    from feedmgr.feed.index import CachedDocument
    from feedmgr.feed.store import FeedStore

    store = FeedStore(home)
    fetched = []
    for source in sources:
        cached = store.cached_response(source.url)
        etag, last_modified, body = cached if cached else (None, None, b"")
        document = client.get(
            source.url,
            max_bytes=MAX_DOCUMENT_BYTES,
            accept="application/json",
            etag=etag,
            last_modified=last_modified,
            what=source.what,
        )
        if not document.not_modified:
            body = document.body
        result = source.read(body, source.url, f"{source.url}, fetched {today.isoformat()}")
        stored = stored_catalog(home, source.name)
        before, after = _facts(stored), _facts(result.catalog)
        cache = (
            None
            if document.not_modified
            else CachedDocument(source.url, document.etag, document.last_modified, body)
        )
        new_as_of, stored_as_of = result.catalog.as_of, stored.as_of if stored else None
        if new_as_of is not None and stored_as_of is not None and new_as_of < stored_as_of:
            # A stale mirror or CDN: storing its document would throw away newer releases
            # and move as_of back.
            fetched.append(
                Fetched(source, result, document.not_modified, 0, False, cache, stored_as_of)
            )
            continue
        # A newer as_of alone (SOFA's LastCheck moves every few hours) is worth storing: it
        # is what keeps releases.stale quiet while the data is being kept current.
        moved = stored is None or stored_as_of != new_as_of
        fetched.append(
            Fetched(
                source,
                result,
                document.not_modified,
                len(after - before),
                after != before or moved,
                cache,
            )
        )
    return tuple(fetched)


def store_releases(home: Path, fetched: Sequence[Fetched]) -> None:
    """Replace each changed catalog atomically, then remember the documents' validators.

    Raises:
        StoreError: the home cannot be written.
    """
    from feedmgr.feed.fetch import save_cache

    for item in fetched:
        if item.changed:
            save_release_catalog(home, item.source.name, item.result.catalog)
    save_cache(home, [item.cache for item in fetched if item.cache is not None])
