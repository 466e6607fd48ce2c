"""The CLI shell: global options, help, version, error mapping, start-up cost."""

from __future__ import annotations

import subprocess
import sys

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
