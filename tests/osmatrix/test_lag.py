"""Lag findings: unknown releases, expired and stale feeds, an old release catalog."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from feedmgr.findings import Severity
from feedmgr.osmatrix.lag import (
    catalog_age_findings,
    feed_age_findings,
    lag_report,
    os_lag_findings,
)
from feedmgr.osmatrix.releases import Release, ReleaseCatalog
from feedmgr.osmatrix.version import parse_version
from tests.osmatrix.conftest import MAC_ROOT, mac, make_catalog

CATALOG = make_catalog(MAC_ROOT, mac(14, "14.0", "14.8.2"), mac(15, "15.0", "15.6"))


def releases(*entries: tuple[str, str]) -> ReleaseCatalog:
    """A macOS catalog from (version, release date) pairs."""
    return ReleaseCatalog(
        tuple(Release("macos", parse_version(v), date.fromisoformat(d)) for v, d in entries),
        date(2025, 9, 1),
    )


@pytest.mark.parametrize(
    ("today", "severity"),
    [
        (date(2025, 8, 20), Severity.WARN),
        (date(2025, 9, 19), Severity.WARN),
        (date(2025, 9, 20), Severity.FAIL),
    ],
)
def test_unknown_release_warns_then_fails(today: date, severity: Severity) -> None:
    """15.7 on a feed knowing 15.0-15.6: WARN up to max_days after release, FAIL after."""
    findings = os_lag_findings(CATALOG, releases(("15.7", "2025-08-20")), today=today, max_days=30)
    assert [(f.check, f.severity, f.subject) for f in findings] == [
        ("feed.os-lag", severity, "macOS 15.7")
    ]
    assert findings[0].data["days_since_release"] == (today - date(2025, 8, 20)).days


@pytest.mark.parametrize(
    "version",
    ["15.6", "15.6.1", "14.8.2", "13.7.8", "15.5"],
)
def test_known_or_dropped_releases_are_not_lag(version: str) -> None:
    """Classified releases (15.6.1 is a point of 15.6) and pre-feed releases yield nothing."""
    findings = os_lag_findings(CATALOG, releases((version, "2025-01-01")), today=date(2026, 1, 1))
    assert findings == ()


def test_future_releases_are_ignored() -> None:
    """A release dated after today is not lag yet."""
    findings = os_lag_findings(CATALOG, releases(("26.0", "2025-09-15")), today=date(2025, 9, 1))
    assert findings == ()


def test_families_the_feed_lacks_are_skipped() -> None:
    """Windows releases are not lag for a macOS-only feed."""
    catalog = ReleaseCatalog(
        (Release("windows", parse_version("10.0.26200"), date(2025, 9, 30)),), None
    )
    assert os_lag_findings(CATALOG, catalog, today=date(2026, 1, 1)) == ()


NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("published", "expires", "expected"),
    [
        ("2026-05-01", "2027-05-01", []),
        ("2026-05-01", "2026-06-01", [("feed.expired", Severity.FAIL)]),
        ("2026-05-01", "2026-06-10", [("feed.expired", Severity.WARN)]),
        ("2026-03-01", "2027-03-01", [("feed.stale", Severity.WARN)]),
        (
            "2025-01-01",
            "2026-01-01",
            [("feed.expired", Severity.FAIL), ("feed.stale", Severity.WARN)],
        ),
    ],
)
def test_feed_age_findings(
    published: str, expires: str, expected: list[tuple[str, Severity]]
) -> None:
    """Expired fails, expiring within 14 days warns, published over 60 days ago warns."""
    findings = feed_age_findings(
        published=datetime.fromisoformat(published).replace(tzinfo=UTC),
        expires=datetime.fromisoformat(expires).replace(tzinfo=UTC),
        now=NOW,
    )
    assert [(f.check, f.severity) for f in findings] == expected


def test_old_release_catalog_warns() -> None:
    """A catalog older than 90 days warns that newer releases are invisible."""
    old = ReleaseCatalog((), date(2026, 1, 1))
    assert [f.check for f in catalog_age_findings(old, today=date(2026, 6, 1))] == [
        "releases.stale"
    ]
    assert catalog_age_findings(old, today=date(2026, 2, 1)) == ()


def test_lag_report_collects_everything() -> None:
    """The report holds all checks and its exit code follows the worst finding."""
    report = lag_report(
        CATALOG,
        releases(("15.7", "2025-08-20")),
        published=datetime(2025, 9, 1, tzinfo=UTC),
        expires=datetime(2026, 8, 1, tzinfo=UTC),
        now=datetime(2025, 10, 1, tzinfo=UTC),
    )
    assert {f.check for f in report.findings} == {"feed.os-lag"}
    assert report.worst is Severity.FAIL
    assert int(report.exit_code()) == 1
