"""Shared test fixtures: running the CLI in-process, a fresh store home, test data."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from feedmgr.cli import main
from tests.feed.factory import Publisher

# The loopback network fixtures (HTTPS server, CONNECT proxy, test CA) serve the feed,
# CLI and docs tests alike; its autouse fixture keeps a developer's proxy out of all tests.
pytest_plugins = ("tests.feed.netserver",)

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class CliResult:
    """What one CLI run produced."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        """stdout parsed as JSON."""
        return json.loads(self.out)


RunCli = Callable[..., CliResult]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An empty store directory."""
    return tmp_path / "home"


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str], home: Path) -> RunCli:
    """Run ``feedmgr --home HOME ARGS...`` in-process and capture its output."""

    def run(*args: str | Path, use_home: bool = True) -> CliResult:
        argv = [str(a) for a in args]
        if use_home:
            argv = ["--home", str(home), *argv]
        capsys.readouterr()
        code = main(argv)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture
def asset() -> Callable[[str], Path]:
    """Path of a static sample under tests/data/."""

    def find(name: str) -> Path:
        path = DATA / name
        assert path.exists(), f"missing test asset {name}"
        return path

    return find


@pytest.fixture
def publisher(tmp_path: Path) -> Publisher:
    """A fresh Ed25519 feed publisher key pair."""
    return Publisher.create(tmp_path / "keys")


@pytest.fixture
def trusted_home(run_cli: RunCli, publisher: Publisher, home: Path) -> Path:
    """A store that trusts ``publisher``."""
    assert run_cli("trust", "add", publisher.public_pem).code == 0
    return home


# Hypothesis' 200 ms deadline turns a busy CI machine into flaky failures ("failed on the
# first call but did not on a subsequent one"); the properties themselves do not depend on
# speed, so the deadline is off for every property test.
# CI and plain `pytest` use a derandomized profile: the same examples every run, and no
# example database, so a green main stays green on a fresh machine. The deep profile searches
# for new failures with random examples (README "Tests": `--hypothesis-profile=feedmgr-deep`);
# a failure it finds becomes an `@example` on the property test.
settings.register_profile("feedmgr", deadline=None, derandomize=True, database=None)
settings.register_profile(
    "feedmgr-deep", deadline=None, derandomize=False, max_examples=5000, print_blob=True
)
settings.load_profile("feedmgr")
