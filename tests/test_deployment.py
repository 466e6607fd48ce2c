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


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (
            'list = ["gui/abc=captures/list.txt"]',
            "posture.list.0: 'gui/abc' is not a launchd domain: expected system, gui/UID or "
            "user/UID",
        ),
        (
            'list = ["list-system.txt", "usr/501=captures/list.txt"]',
            "posture.list.1: 'usr/501' is not a launchd domain",
        ),
        (
            'print = ["sytem/com.wazuh.agent=captures/print.txt"]',
            "posture.print.0: 'sytem/com.wazuh.agent' is not a launchctl print target",
        ),
        (
            'print = ["gui/x/com.wazuh.agent=captures/print.txt"]',
            "posture.print.0: 'gui/x/com.wazuh.agent' is not a launchctl print target",
        ),
    ],
)
def test_a_bad_capture_domain_or_target_is_rejected_when_the_file_is_loaded(
    tmp_path: Path, line: str, problem: str
) -> None:
    """A [posture] list or print value whose prefix is not a launchd domain (or print
    target) makes the deployment file invalid, naming the field; it is not left for the run
    to fail the whole posture section."""
    path = tmp_path / "deployment.toml"
    path.write_text(f'[posture]\nconditions = ["c.yaml"]\n{line}\n')
    with pytest.raises(SchemaError) as caught:
        load_deployment(path)
    assert caught.value.subject == str(path)
    assert caught.value.problem.startswith(problem), caught.value.problem


def test_capture_values_that_are_files_or_missing_files_still_load(tmp_path: Path) -> None:
    """Well-formed capture values load even when their files are missing (the run reports
    those), and a file whose own name holds '=' is taken as a file, as 'posture eval' does."""
    (tmp_path / "odd=name.txt").write_text("PID\tStatus\tLabel\n")
    path = tmp_path / "deployment.toml"
    path.write_text(
        '[posture]\nconditions = ["c.yaml"]\n'
        'list = ["gui/501=missing.txt", "odd=name.txt", "plain.txt"]\n'
        'print = ["system/com.wazuh.agent=missing.txt", "print.txt"]\n'
    )
    posture = load_deployment(path).posture
    assert posture is not None
    assert len(posture.lists) == 3


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
    debug = run_cli("--debug", "preflight", path)
    assert debug.code == 3
    assert "Traceback" in debug.err
    assert "Secr3tPW" not in debug.err + debug.out
