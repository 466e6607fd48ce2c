"""The deployment file model: defaults agree with the commands preflight stands for."""

from __future__ import annotations

from pathlib import Path

import pytest

from feedmgr.deployment import Deployment, load_deployment
from feedmgr.errors import SchemaError
from feedmgr.osmatrix.lag import LagPolicy
from tests.conftest import RunCli


def test_feed_thresholds_default_to_those_of_os_lag() -> None:
    """A deployment file without thresholds judges lag and staleness like 'feedmgr os lag'."""
    policy = LagPolicy()
    feed = Deployment().feed
    assert (feed.max_lag_days, feed.stale_days) == (policy.max_days, policy.stale_days)


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://ise-pan.corp.example", "not an https:// URL"),
        ("https://ise-pan.corp.example/admin/", "give only https://HOST[:PORT]"),
        ("https://admin:Secr3tPW@ise-pan.corp.example/admin/", "carries credentials"),
        ("https://admin:Secr3tPW@ise-pan.corp.example", "carries credentials"),
        ("ise-pan.corp.example", "not an https:// URL"),
    ],
)
def test_invalid_ise_url_is_an_invalid_deployment_file(
    tmp_path: Path, run_cli: RunCli, url: str, words: str
) -> None:
    """An [ise] url that is not https://HOST[:PORT] makes the file invalid (exit 3), in one
    line naming the file and the field, without repeating a password (docs/preflight.md)."""
    path = tmp_path / "deployment.toml"
    path.write_text(f'[ise]\nurl = "{url}"\nusername = "u"\n', encoding="utf-8")
    with pytest.raises(SchemaError) as caught:
        load_deployment(path)
    assert caught.value.subject == str(path)
    assert caught.value.problem.startswith("ise.url: ")
    assert words in caught.value.problem
    result = run_cli("preflight", path)
    assert result.code == 3
    assert result.err.startswith(f"feedmgr: error: {path}: ise.url: ")
    assert len(result.err.splitlines()) == 1
    assert "Secr3tPW" not in result.err + result.out
