"""The deployment file model: defaults agree with the commands preflight stands for."""

from __future__ import annotations

from feedmgr.deployment import Deployment
from feedmgr.osmatrix.lag import LagPolicy


def test_feed_thresholds_default_to_those_of_os_lag() -> None:
    """A deployment file without thresholds judges lag and staleness like 'feedmgr os lag'."""
    policy = LagPolicy()
    feed = Deployment().feed
    assert (feed.max_lag_days, feed.stale_days) == (policy.max_days, policy.stale_days)
