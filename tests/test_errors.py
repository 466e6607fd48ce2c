"""The error hierarchy: what crosses a process boundary arrives intact."""

from __future__ import annotations

import pickle

import pytest

import feedmgr.errors
from feedmgr.errors import FeedmgrError


def _all_errors() -> list[type[FeedmgrError]]:
    return [
        cls
        for cls in vars(feedmgr.errors).values()
        if isinstance(cls, type) and issubclass(cls, FeedmgrError)
    ]


@pytest.mark.parametrize("cls", _all_errors(), ids=lambda cls: cls.__name__)
def test_errors_survive_pickling(cls: type[FeedmgrError]) -> None:
    """A worker process's error reaches the CLI with its class, subject, problem, details."""
    error = cls("feed.zip", "member 'x': damaged data", member="x")

    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes

    assert type(copy) is cls
    assert copy.diagnostics() == "feed.zip: member 'x': damaged data"
    assert copy.details == {"member": "x"}
    assert copy.exit_code == error.exit_code
