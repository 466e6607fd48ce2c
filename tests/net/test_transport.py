"""The HTTPS transport: Retry-After, whole-document GETs, deadlines, proxies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from feedmgr.net.transport import retry_after


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("7", 7.0),
        ("0", 0.0),
        ("soon", None),
        (format_datetime(datetime(2000, 1, 1, tzinfo=UTC), usegmt=True), 0.0),
    ],
)
def test_retry_after_values(header: str | None, expected: float | None) -> None:
    """Retry-After is delta-seconds or an HTTP date (a past date means now); junk is ignored."""
    assert retry_after(header) == expected


def test_retry_after_future_date() -> None:
    """A Retry-After date in the future gives the seconds until then."""
    moment = datetime.now(UTC) + timedelta(seconds=90)
    value = retry_after(format_datetime(moment, usegmt=True))
    assert value is not None
    assert 80 <= value <= 91
