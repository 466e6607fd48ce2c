"""The CLI shell: global options, help, version, error mapping, start-up cost."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from feedmgr import __version__
from tests.conftest import RunCli


def test_version_prints_package_version(run_cli: RunCli) -> None:
    """``feedmgr --version`` prints the version and exits 0."""
    result = run_cli("--version", use_home=False)
    assert result.code == 0
    assert __version__ in result.out


def test_help_lists_every_command_group(run_cli: RunCli) -> None:
    """``--help`` lists the commands with their one-line help."""
    result = run_cli("--help", use_home=False)
    assert result.code == 0
    for name in ("update", "status", "history", "rollback", "feed", "trust"):
        assert f"  {name} " in result.out


def test_unknown_command_is_a_usage_error(run_cli: RunCli) -> None:
    """An unknown command exits 2 (usage error)."""
    result = run_cli("no-such-command")
    assert result.code == 2
    assert "No such command" in result.err


def test_help_and_version_do_not_import_heavy_libraries() -> None:
    """--help and --version never import cryptography, requests, rich or pydantic."""
    probe = (
        "import sys\n"
        "from feedmgr.cli import main\n"
        "for argv in (['--help'], ['--version']):\n"
        "    assert main(argv) == 0\n"
        "names = ('cryptography', 'requests', 'rich', 'pydantic')\n"
        "heavy = [m for m in names if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True)


def test_missing_input_file_is_one_line_exit_3(run_cli: RunCli, tmp_path: Path) -> None:
    """A feed path that does not exist: exit 3, one line naming the file."""
    missing = tmp_path / "nope.zip"
    result = run_cli("update", "--offline", missing)
    assert result.code == 3
    assert (
        result.err
        == f"feedmgr: error: {missing}: cannot read the file (No such file or directory)\n"
    )


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ("cert", "check", "nope.pem"),
            "feedmgr: error: cert check: Invalid value for 'CERT': File 'nope.pem' does not "
            "exist. (see 'feedmgr cert check --help')",
        ),
        (
            ("--no-such-option",),
            "feedmgr: error: feedmgr: No such option '--no-such-option'. (see 'feedmgr --help')",
        ),
    ],
)
def test_a_bad_command_line_is_one_error_line(
    run_cli: RunCli, args: tuple[str, ...], line: str
) -> None:
    """A usage error is one line in feedmgr's form (README: errors are one line), naming
    the command and its help, not click's Usage/Try/Error block; exit 2."""
    result = run_cli(*args)
    assert result.code == 2
    assert result.err == line + "\n"


def test_debug_adds_a_traceback(run_cli: RunCli, tmp_path: Path) -> None:
    """--debug prints the traceback before the one-line error."""
    result = run_cli("--debug", "update", "--offline", tmp_path / "nope.zip")
    assert result.code == 3
    assert "Traceback (most recent call last)" in result.err
    assert result.err.rstrip().splitlines()[-1].startswith("feedmgr: error: ")


def test_python_dash_m_runs_the_cli(tmp_path: Path) -> None:
    """``python -m feedmgr`` is the same program, with the same exit codes."""
    result = subprocess.run(
        [sys.executable, "-m", "feedmgr", "--home", str(tmp_path), "rollback"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("feedmgr: error: ")


def test_home_comes_from_the_environment(
    run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FEEDMGR_HOME picks the store when --home is absent."""
    from tests.conftest import REPO

    monkeypatch.setenv("FEEDMGR_HOME", str(tmp_path / "envhome"))
    key = REPO / "feeds" / "sample" / "demo-publisher.pub.pem"
    assert run_cli("trust", "add", key, use_home=False).code == 0
    assert (tmp_path / "envhome" / "store.sqlite3").exists()
