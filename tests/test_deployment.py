"""The deployment file model: defaults agree with the commands preflight stands for."""

from __future__ import annotations

from pathlib import Path

import pytest

from feedmgr.deployment import Deployment, load_deployment
from feedmgr.errors import SchemaError
from feedmgr.osmatrix.lag import LagPolicy


def test_feed_thresholds_default_to_those_of_os_lag() -> None:
    """A deployment file without thresholds judges lag and staleness like 'feedmgr os lag'."""
    policy = LagPolicy()
    feed = Deployment().feed
    assert (feed.max_lag_days, feed.stale_days) == (policy.max_days, policy.stale_days)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[posture]\ncondition = ["a.yaml"]\n',
            "posture.condition: Extra inputs are not permitted (did you mean 'conditions'?)",
        ),
        (
            '[posture]\nconditions = ["a.yaml"]\ndumpstat = ["d.txt"]\n',
            "posture.dumpstat: Extra inputs are not permitted (did you mean 'dumpstate'?)",
        ),
        (
            '[posture]\nconditions = ["a.yaml"]\nlists = ["l.txt"]\n',
            "posture.lists: Extra inputs are not permitted (did you mean 'list'?)",
        ),
        (
            '[[psn]]\nname = "p"\nfdqn = "p.example"\ncertificates = ["c.pem"]\n',
            "psn.0.fdqn: Extra inputs are not permitted (did you mean 'fqdn'?)",
        ),
        ("[feed]\nbogus = 1\n", "feed.bogus: Extra inputs are not permitted"),
    ],
)
def test_an_unknown_key_is_named_first_with_the_key_it_may_mean(
    tmp_path: Path, text: str, expected: str
) -> None:
    """A misspelt key also leaves the key it meant missing; the error line names the
    unknown key (the typo) first and suggests the closest known key of that section."""
    path = tmp_path / "deployment.toml"
    path.write_text(text)
    with pytest.raises(SchemaError) as caught:
        load_deployment(path)
    assert caught.value.problem.startswith(expected), caught.value.problem
