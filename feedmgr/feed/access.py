"""Read access to a feed's content for the other areas (OS matrix, provisioning, preflight).

A feed is named by reference: nothing (the active feed), a stored version, or a package
file. Package files are verified completely, with the store's trusted keys plus any given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from feedmgr.errors import UsageError
from feedmgr.feed.payload import ComplianceModules, OsCatalog, load_catalog, validate_payload
from feedmgr.feed.payload_fast import CATALOG_PATH, COMPLIANCE_PATH
from feedmgr.feed.store import FeedStore


@dataclass(frozen=True)
class FeedView:
    """The parts of a feed the checks read."""

    version: str
    publisher: str
    published: datetime
    expires: datetime
    source: str
    catalog: OsCatalog
    compliance: ComplianceModules | None


def _compliance(data: bytes | None, subject: str) -> ComplianceModules | None:
    if data is None:
        return None
    model = validate_payload(COMPLIANCE_PATH, data, subject)
    assert isinstance(model, ComplianceModules)
    return model


def _looks_like_file(ref: str) -> bool:
    return ref.endswith(".zip") or "/" in ref or Path(ref).is_file()


def open_feed(
    home: Path,
    ref: str | None = None,
    *,
    trust: Sequence[Path] = (),
    allow_unsigned: bool = False,
) -> FeedView:
    """Open the active feed (``ref`` None), a stored version, or a package file.

    Raises:
        UsageError: no active feed, or no such stored version.
        InputRejected: a package file that fails verification, or an unreadable key.
        StoreError: the store is damaged.
    """
    store = FeedStore(home)
    if ref is not None and _looks_like_file(ref):
        return _open_package(store, Path(ref), trust, allow_unsigned)
    if ref is None:
        feed = store.active()
        if feed is None:
            raise UsageError(
                str(home), "no active feed: ingest one with 'feedmgr update --offline FEED.zip'"
            )
    else:
        feed = store.get(ref)
    subject = f"feed {feed.version}"
    catalog = load_catalog(store.read_payload(feed, CATALOG_PATH), subject)
    compliance_data = (
        store.read_payload(feed, COMPLIANCE_PATH) if COMPLIANCE_PATH in feed.files else None
    )
    return FeedView(
        version=feed.version,
        publisher=feed.publisher,
        published=feed.published,
        expires=feed.expires,
        source="store",
        catalog=catalog,
        compliance=_compliance(compliance_data, subject),
    )


def _open_package(
    store: FeedStore, path: Path, trust: Sequence[Path], allow_unsigned: bool
) -> FeedView:
    from feedmgr.feed.package import PackageReader
    from feedmgr.feed.signing import load_public_key, read_key_file

    keys = [*store.trusted_keys()]
    for key_path in trust:
        keys.append(load_public_key(read_key_file(key_path), str(key_path)))
    with PackageReader(path) as reader:
        signed = reader.verify(keys, allow_unsigned=allow_unsigned)
        manifest = signed.manifest
        catalog_data = reader.read_verified(CATALOG_PATH, manifest)
        compliance = (
            reader.read_verified(COMPLIANCE_PATH, manifest)
            if COMPLIANCE_PATH in manifest.files
            else None
        )
    subject = str(path)
    catalog = load_catalog(catalog_data, subject)
    return FeedView(
        version=manifest.version,
        publisher=manifest.publisher,
        published=manifest.published_at,
        expires=manifest.expires_at,
        source=subject,
        catalog=catalog,
        compliance=_compliance(compliance, subject),
    )
