"""Status, history and rollback of the stored feeds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from packaging.version import Version

from feedmgr.errors import StoreError, UsageError
from feedmgr.feed.payload import AvChart, ComplianceModules, OsCatalog, validate_payload
from feedmgr.feed.payload_fast import (
    AV_CHART_PATH,
    CATALOG_PATH,
    CHECKS_PATH,
    COMPLIANCE_PATH,
    condition_count,
)
from feedmgr.feed.store import FeedStore, StoredFeed


def feed_document(feed: StoredFeed) -> dict[str, Any]:
    """The JSON shape of a stored feed (documented in docs/json-output.md)."""
    return {
        "version": feed.version,
        "publisher": feed.publisher,
        "published": feed.published.isoformat(),
        "expires": feed.expires.isoformat(),
        "signer": feed.signer,
        "source": feed.source,
        "ingested_at": feed.ingested_at.isoformat(),
        "files": len(feed.files),
    }


def payload_counts(store: FeedStore, feed: StoredFeed) -> dict[str, int]:
    """How many OS nodes, modules, AV products and predefined conditions the feed carries.

    Raises:
        StoreError: a payload blob is missing or damaged.
    """
    counts = {"os_nodes": 0, "compliance_modules": 0, "av_products": 0, "conditions": 0}
    subject = f"feed {feed.version}"
    for path in sorted(feed.files):
        data = store.read_payload(feed, path)
        # A 32 MiB condition document is counted without building its object tree.
        fast = condition_count(data) if CHECKS_PATH.match(path) else None
        if fast is not None:
            counts["conditions"] += fast
            continue
        model = validate_payload(path, data, subject)
        if path == CATALOG_PATH and isinstance(model, OsCatalog):
            counts["os_nodes"] = len(model.nodes)
        elif path == COMPLIANCE_PATH and isinstance(model, ComplianceModules):
            counts["compliance_modules"] = len(model.modules)
        elif path == AV_CHART_PATH and isinstance(model, AvChart):
            counts["av_products"] = sum(len(v.products) for v in model.vendors)
        elif isinstance(model, dict):
            counts["conditions"] += len(model["conditions"])
    return counts


@dataclass(frozen=True)
class StatusSummary:
    """What ``feedmgr status`` reports."""

    active: StoredFeed | None
    stored: int
    counts: dict[str, int]
    age_days: int | None
    expires_in_days: int | None
    damaged: list[str] | None

    def to_json(self) -> dict[str, Any]:
        """The documented JSON shape."""
        return {
            "active": feed_document(self.active) if self.active else None,
            "stored_versions": self.stored,
            "age_days": self.age_days,
            "expires_in_days": self.expires_in_days,
            "counts": self.counts,
            "damaged_files": self.damaged,
        }


def status(store: FeedStore, *, verify: bool = False, now: datetime | None = None) -> StatusSummary:
    """Summarise the store; ``verify`` re-hashes every payload blob of the active feed."""
    moment = now or datetime.now(UTC)
    active = store.active()
    stored = len(store.feeds())
    if active is None:
        return StatusSummary(None, stored, {}, None, None, [] if verify else None)
    damaged = store.damaged_files(active) if verify else None
    counts = payload_counts(store, active) if not damaged else {}
    return StatusSummary(
        active=active,
        stored=stored,
        counts=counts,
        age_days=(moment - active.published).days,
        expires_in_days=(active.expires - moment).days,
        damaged=damaged,
    )


def previous_feed(store: FeedStore) -> StoredFeed:
    """The feed that was active before the current one.

    Raises:
        UsageError: there is no earlier feed to return to.
    """
    active = store.active()
    if active is None:
        raise UsageError(str(store.home), "no active feed, nothing to roll back")
    for activation in reversed(store.activations()):
        if activation.version != active.version:
            return store.get(activation.version)
    raise UsageError(str(store.home), f"feed {active.version} is the only feed ever activated")


def rollback(store: FeedStore, version: str | None = None) -> tuple[StoredFeed, StoredFeed | None]:
    """Activate a stored feed again (the previous one when ``version`` is None).

    Returns the feed now active and the one it replaced.

    Raises:
        UsageError: unknown version, or nothing to roll back to.
        StoreError: the target's payload is missing or damaged in the store.
    """
    target = store.get(version) if version is not None else previous_feed(store)
    damaged = store.damaged_files(target)
    if damaged:
        raise StoreError(
            f"feed {target.version}",
            f"cannot roll back: damaged payload {', '.join(damaged)}; ingest the feed's "
            "package again (update --offline FEED.zip --allow-downgrade) to repair it",
        )
    with store.writer() as writer:
        current = writer.active()
        if current is not None and current.id == target.id:
            return target, current
        writer.activate(target, "rollback")
    return target, current


@dataclass(frozen=True)
class RollbackHold:
    """A rollback the admin made: online updates must not undo it by themselves."""

    version: str
    at: datetime

    @property
    def parsed_version(self) -> Version:
        """The version rolled back from, for ordering."""
        return Version(self.version)


def rollback_hold(store: FeedStore) -> RollbackHold | None:
    """The hold left by the latest rollbacks, None when the last activation was no rollback.

    The activation history already records every rollback and the feed it left, so the
    hold needs no state of its own: it lasts until the next activation that is not a
    rollback (any update, online or offline). After several rollbacks in a row it covers
    the highest version left.

    Raises:
        StoreError: the store is damaged.
    """
    held: RollbackHold | None = None
    for activation in reversed(store.activations()):
        if activation.action != "rollback":
            break
        if activation.previous_version is None:
            continue
        candidate = RollbackHold(activation.previous_version, activation.at)
        if held is None or candidate.parsed_version > held.parsed_version:
            held = candidate
    return held
