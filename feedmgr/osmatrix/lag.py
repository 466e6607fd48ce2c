"""Lag findings: released OS versions the feed cannot classify, and the feed's own age.

Check ids (docs/os-matrix.md):

- ``feed.os-lag``: a released version no node classifies. WARN while the release is at most
  ``max_days`` old (the vendor still has time to ship a feed), FAIL after.
- ``feed.expired``: FAIL once the feed's ``expires`` has passed; WARN within
  ``expiring_days`` of it.
- ``feed.stale``: WARN when the feed was published more than ``stale_days`` ago.
- ``releases.stale``: WARN when the newest release catalog is older than
  ``catalog_max_age_days``: lag detection only sees releases the catalog lists.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from feedmgr.findings import Finding, Report, Severity
from feedmgr.osmatrix.classify import OsTree
from feedmgr.osmatrix.identifier import OsIdentifier
from feedmgr.osmatrix.releases import Release, ReleaseCatalog

if TYPE_CHECKING:
    from feedmgr.feed.payload import OsCatalog

DEFAULT_MAX_DAYS = 30
DEFAULT_STALE_DAYS = 60
DEFAULT_EXPIRING_DAYS = 14
DEFAULT_CATALOG_MAX_AGE_DAYS = 90
BYPASS = "Bypassing Cisco Secure Client Scan"
FAMILY_NAMES = {"macos": "macOS", "windows": "Windows", "linux": "Linux"}


@dataclass(frozen=True)
class LagPolicy:
    """The thresholds of the lag checks, in days."""

    max_days: int = DEFAULT_MAX_DAYS
    stale_days: int = DEFAULT_STALE_DAYS
    expiring_days: int = DEFAULT_EXPIRING_DAYS
    catalog_max_age_days: int = DEFAULT_CATALOG_MAX_AGE_DAYS


def release_identifier(release: Release) -> OsIdentifier:
    """The identifier an endpoint on this release would report."""
    product = FAMILY_NAMES[release.family]
    return OsIdentifier(
        family=release.family,
        version=release.version,
        product=product,
        raw=release.label,
        build=release.build,
    )


def os_lag_findings(
    catalog: OsCatalog,
    releases: ReleaseCatalog,
    *,
    today: date,
    max_days: int = DEFAULT_MAX_DAYS,
) -> tuple[Finding, ...]:
    """One ``feed.os-lag`` finding per released version the feed cannot classify.

    Releases older than everything the feed knows for their family are skipped: a feed that
    dropped Big Sur is a support decision, not lag. Releases dated after ``today`` are skipped.
    Families the feed does not list at all are skipped too.
    """
    tree = OsTree(catalog)
    findings: list[Finding] = []
    for release in releases.sorted():
        os_id = release_identifier(release)
        floor = tree.known_min(os_id)
        if floor is None or release.version < floor or release.released > today:
            continue
        if tree.classify(os_id) is not None:
            continue
        days = (today - release.released).days
        severity = Severity.FAIL if days > max_days else Severity.WARN
        known = tree.known_max(os_id)
        nearest = tree.nearest_below(os_id)
        knows = (
            f"its newest nearby version is {nearest[1]} ({nearest[0].name})"
            if nearest is not None
            else f"it knows {FAMILY_NAMES[release.family]} only from {floor}"
        )
        findings.append(
            Finding(
                check="feed.os-lag",
                severity=severity,
                subject=release.label,
                message=(
                    f"released {release.released.isoformat()} ({days} days ago) but the feed "
                    f"cannot classify it ({knows}): endpoints on it match no OS condition "
                    f'and get "{BYPASS}" (got {days} days, limit {max_days})'
                ),
                fix=(
                    "install a posture feed that lists this version "
                    "(feedmgr update ...; in ISE: Administration > System > Settings > "
                    "Posture > Updates)"
                ),
                data={
                    "family": release.family,
                    "version": str(release.version),
                    "build": release.build,
                    "released": release.released.isoformat(),
                    "days_since_release": days,
                    "max_days": max_days,
                    "feed_knows_up_to": str(known) if known is not None else None,
                },
            )
        )
    return tuple(findings)


def feed_age_findings(
    *,
    published: datetime,
    expires: datetime,
    now: datetime,
    stale_days: int = DEFAULT_STALE_DAYS,
    expiring_days: int = DEFAULT_EXPIRING_DAYS,
    subject: str = "active feed",
) -> tuple[Finding, ...]:
    """``feed.expired`` and ``feed.stale`` for a feed's publication and expiry times."""
    findings: list[Finding] = []
    dates = {"published": published.isoformat(), "expires": expires.isoformat()}
    if now >= expires:
        findings.append(
            Finding(
                "feed.expired",
                Severity.FAIL,
                subject,
                f"expired on {expires.date().isoformat()} ({(now - expires).days} days ago)",
                fix="install a current feed (feedmgr update)",
                data={**dates, "days_expired": (now - expires).days},
            )
        )
    elif (expires - now).days < expiring_days:
        findings.append(
            Finding(
                "feed.expired",
                Severity.WARN,
                subject,
                f"expires on {expires.date().isoformat()}, in {(expires - now).days} days "
                f"(warning threshold {expiring_days} days)",
                fix="install a newer feed before it expires (feedmgr update)",
                data={**dates, "days_left": (expires - now).days},
            )
        )
    age = (now - published).days
    if age > stale_days:
        findings.append(
            Finding(
                "feed.stale",
                Severity.WARN,
                subject,
                f"published {published.date().isoformat()}, {age} days ago "
                f"(got {age} days, limit {stale_days})",
                fix="check for a newer posture feed (feedmgr update)",
                data={**dates, "age_days": age, "stale_days": stale_days},
            )
        )
    return tuple(findings)


def catalog_age_findings(
    releases: ReleaseCatalog, *, today: date, max_age_days: int = DEFAULT_CATALOG_MAX_AGE_DAYS
) -> tuple[Finding, ...]:
    """``releases.stale`` when the release catalog may be missing recent releases."""
    if releases.as_of is None:
        return ()
    age = (today - releases.as_of).days
    if age <= max_age_days:
        return ()
    return (
        Finding(
            "releases.stale",
            Severity.WARN,
            "release catalog",
            f"reflects releases up to {releases.as_of.isoformat()}, {age} days ago: newer OS "
            "releases are invisible to the lag check",
            fix="refresh the release data: feedmgr releases update (online), or feedmgr "
            "releases import --sofa macos_data_feed.json / --windows windows.json (offline)",
            data={"as_of": releases.as_of.isoformat(), "age_days": age},
        ),
    )


def lag_report(
    catalog: OsCatalog,
    releases: ReleaseCatalog,
    *,
    published: datetime,
    expires: datetime,
    now: datetime | None = None,
    policy: LagPolicy | None = None,
    feed_label: str = "active feed",
    facts: dict[str, object] | None = None,
) -> Report:
    """All lag checks in one report: OS lag, feed expiry and staleness, catalog age."""
    policy = policy or LagPolicy()
    moment = now or datetime.now(UTC)
    today = moment.date()
    findings: Iterable[Finding] = (
        *feed_age_findings(
            published=published,
            expires=expires,
            now=moment,
            stale_days=policy.stale_days,
            expiring_days=policy.expiring_days,
            subject=feed_label,
        ),
        *os_lag_findings(catalog, releases, today=today, max_days=policy.max_days),
        *catalog_age_findings(releases, today=today, max_age_days=policy.catalog_max_age_days),
    )
    all_facts: dict[str, object] = {
        "feed": feed_label,
        "today": today.isoformat(),
        "releases checked": len(releases.releases),
        "release catalog as of": releases.as_of.isoformat() if releases.as_of else "unknown",
        "max days": policy.max_days,
        **(facts or {}),
    }
    return Report("OS release lag", tuple(findings), all_facts)
