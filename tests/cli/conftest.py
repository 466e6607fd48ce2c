"""CLI test fixtures: built feeds (feedkit.py); the network ones come from tests/conftest.py."""

from tests.cli.feedkit import make_feed, sample_feed  # noqa: F401 - re-exported as fixtures
