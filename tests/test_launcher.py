"""The console script's entry point: ``--version`` before any CLI import."""

from __future__ import annotations

import subprocess
import sys

from feedmgr import __version__


def test_version_is_answered_without_importing_click() -> None:
    """``python -m feedmgr --version`` prints click's version line, exit 0, and never
    imports click (the start-up cost the launcher exists to avoid)."""
    probe = (
        "import runpy, sys\n"
        "sys.argv = ['feedmgr', '--version']\n"
        "try:\n"
        "    runpy.run_module('feedmgr', run_name='__main__')\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
        "assert 'click' not in sys.modules\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True
    )
    assert result.stdout == f"feedmgr, version {__version__}\n"


def test_launcher_prints_what_the_click_cli_prints() -> None:
    """The launcher's version line is byte for byte the one click's --version prints."""
    from_click = subprocess.run(
        [sys.executable, "-c", "import sys; from feedmgr.cli import main; main(['--version'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    from_launcher = subprocess.run(
        [sys.executable, "-m", "feedmgr", "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert from_launcher == from_click


def test_other_arguments_reach_the_click_cli() -> None:
    """Anything but a lone --version goes to the click CLI (here: a usage error, exit 2)."""
    result = subprocess.run(
        [sys.executable, "-m", "feedmgr", "--version", "--no-such-option"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "No such option" in result.stderr
