"""What every command shares: the context object, common options, output helpers."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from feedmgr.escape import escape_controls

if TYPE_CHECKING:
    from feedmgr.findings import Report, Severity
    from feedmgr.render import OutputFormat

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class AppContext:
    """Global options, passed to every command with ``pass_obj``."""

    # --home as given; ``home`` resolves it when a command first needs the store.
    home_option: str | None = None
    debug: bool = False
    verbosity: int = 0

    @cached_property
    def home(self) -> Path:
        """The store directory (``resolve_home``). Resolved on first use: finding the
        platform's data directory imports platformdirs (5 ms), which commands that never
        touch the store (posture parse-log, cert check...) need not pay."""
        return resolve_home(self.home_option)

    @property
    def quiet(self) -> bool:
        """True when the user asked for less output (``-q``)."""
        return self.verbosity < 0

    def note(self, message: str) -> None:
        """Print a side note on stderr unless ``-q`` was given."""
        if not self.quiet:
            click.echo(f"feedmgr: {escape_controls(message)}", err=True)

    def warn(self, message: str) -> None:
        """Print a warning on stderr; warnings are never silenced."""
        click.echo(f"feedmgr: warning: {escape_controls(message)}", err=True)


def resolve_home(option: str | None) -> Path:
    """The store directory: ``--home``/``FEEDMGR_HOME``, else the platform user data dir."""
    if option:
        return Path(option).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("feedmgr", appauthor=False))


def format_option(func: F) -> F:
    """Add ``--format text|json`` to a command (as keyword ``output_format``)."""
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help="Output format.",
    )(func)


def trust_option(help_text: str) -> Callable[[F], F]:
    """``--trust KEY.pem`` (repeatable, keyword ``trust``): extra publisher keys for one run."""
    return click.option(
        "--trust",
        "trust",
        multiple=True,
        type=click.Path(dir_okay=False, path_type=Path),
        help=help_text,
    )


def feed_ref_option(help_text: str) -> Callable[[F], F]:
    """``--feed VERSION|FILE.zip`` (keyword ``feed_ref``): another feed than the active one."""
    return click.option("--feed", "feed_ref", metavar="VERSION|FILE.zip", help=help_text)


def emit(text: str) -> None:
    """Write command output to stdout without adding a newline. Control characters other
    than line feeds are escaped: outside text must not drive the terminal (the escapes
    are valid inside JSON strings, so JSON output keeps its values)."""
    click.echo(escape_controls(text, keep_newlines=True), nl=False)


def output_format(value: str) -> OutputFormat:
    """Turn the ``--format`` string into the enum."""
    from feedmgr.render import OutputFormat

    return OutputFormat(value)


def finish_report(report: Report, fmt: str, fail_on: Severity | None = None) -> None:
    """Render a report to stdout and exit with the code its worst finding asks for."""
    from feedmgr.findings import Severity

    emit(output_format(fmt).to_renderer()(report))
    code = report.exit_code(fail_on if fail_on is not None else Severity.FAIL)
    if code:
        raise click.exceptions.Exit(int(code))


def secret_prompt() -> Callable[[str], str] | None:
    """A prompt that does not echo what is typed, or None when stdin is not a terminal."""
    if not sys.stdin.isatty():
        return None

    def ask(text: str) -> str:
        return str(click.prompt(text, hide_input=True, err=True))

    return ask


def no_color() -> bool:
    """True when colour is unwanted: ``NO_COLOR`` set (https://no-color.org) or not a tty."""
    return bool(os.environ.get("NO_COLOR")) or not sys.stdout.isatty()
