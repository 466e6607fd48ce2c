"""The ``feedmgr`` command line: a thin click layer over the library.

Sub-commands are imported only when they run, so ``feedmgr --help`` and ``--version`` stay
fast and never import cryptography, requests or pydantic.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Sequence

import click

from feedmgr import __version__
from feedmgr.cli._common import AppContext
from feedmgr.errors import ExitCode, FeedmgrError
from feedmgr.escape import escape_controls
from feedmgr.parallel import allow_worker_processes

# name -> (module:attribute, one-line help). The help is kept here so that listing commands
# does not import them.
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "update": ("feedmgr.cli.feed:update", "Ingest a posture feed (offline zip or online)."),
    "download": (
        "feedmgr.cli.download:download",
        "Download and verify the newest feed for an air-gapped network.",
    ),
    "status": ("feedmgr.cli.feed:status", "Show the active feed."),
    "history": ("feedmgr.cli.feed:history", "List stored feeds and activations."),
    "rollback": ("feedmgr.cli.feed:rollback", "Activate an earlier stored feed."),
    "feed": ("feedmgr.cli.feed:feed", "Build, verify and compare feed packages."),
    "trust": ("feedmgr.cli.trust:trust", "Manage trusted feed publisher keys."),
    "config": ("feedmgr.cli.config:config", "Show and change settings (config.toml)."),
    "os": ("feedmgr.cli.os:os_group", "Resolve OS strings, list the OS matrix, detect lag."),
    "releases": ("feedmgr.cli.releases:releases", "Import and list OS release catalogs."),
    "provisioning": (
        "feedmgr.cli.provisioning:provisioning",
        "Audit client-provisioning coverage: who would bypass posture.",
    ),
    "cert": ("feedmgr.cli.cert:cert", "Grade PSN certificates for the posture agent."),
    "posture": (
        "feedmgr.cli.posture:posture",
        "Model, render and evaluate macOS service posture conditions.",
    ),
    "preflight": (
        "feedmgr.cli.preflight:preflight",
        "Run every check a deployment file names, into one report (text, JSON, JUnit, HTML).",
    ),
    "checks": ("feedmgr.cli.checks:checks", "List every check id with its severity and fix."),
    "ise": ("feedmgr.cli.ise:ise_group", "Show what ISE reports: nodes, system certificates."),
}


class LazyGroup(click.Group):
    """A group whose sub-commands are imported on first use."""

    def __init__(self, *args: object, lazy: dict[str, tuple[str, str]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            import importlib

            module_name, attribute = self.lazy[cmd_name][0].split(":")
            command = getattr(importlib.import_module(module_name), attribute)
            if not isinstance(command, click.Command):  # pragma: no cover - wiring mistake
                raise TypeError(f"{module_name}:{attribute} is not a click command")
            return command
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, self.lazy[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(
    cls=LazyGroup,
    lazy=LAZY_COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="Example: feedmgr --home ./store update --offline feeds/sample/sample-feed.zip "
    "--trust feeds/sample/demo-publisher.pub.pem",
)
@click.version_option(__version__, "--version", prog_name="feedmgr")
@click.option(
    "--home",
    "home",
    type=click.Path(file_okay=False, path_type=str),
    envvar="FEEDMGR_HOME",
    help="Store directory (default: $FEEDMGR_HOME, else the user data dir).",
)
@click.option("--debug", "debug", is_flag=True, help="Show tracebacks on errors.")
@click.option("-q", "--quiet", "quiet", count=True, help="Say less (no progress, no notes).")
@click.option("-v", "--verbose", "verbose", count=True, help="Say more.")
@click.pass_context
def root(ctx: click.Context, *, home: str | None, debug: bool, quiet: int, verbose: int) -> None:
    """feedmgr keeps Cisco ISE posture honest: feeds, OS matrix, provisioning, certificates."""
    ctx.obj = AppContext(home_option=home, debug=debug, verbosity=verbose - quiet)


def _usage_problem(exc: click.ClickException) -> str:
    """A bad command line in feedmgr's one-line error form (README: errors are one line),
    naming the command and where its help is, instead of click's three-line usage block."""
    message = escape_controls(exc.format_message())
    ctx = exc.ctx if isinstance(exc, click.UsageError) else None
    if ctx is None:
        return message
    path = ctx.command_path
    where = path.removeprefix("feedmgr ") if path != "feedmgr" else "feedmgr"
    return f"{where}: {message} (see '{path} --help')"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return the exit code (callable from tests and ``python -m``)."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    # The CLI's entry points (console script, python -m feedmgr) are import-safe.
    allow_worker_processes()
    try:
        with root.make_context("feedmgr", args) as ctx:
            root.invoke(ctx)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        click.echo(f"feedmgr: error: {_usage_problem(exc)}", err=True)
        return int(ExitCode.USAGE)
    except click.exceptions.Abort:
        click.echo("feedmgr: aborted", err=True)
        return 130
    except FeedmgrError as exc:
        if debug:
            traceback.print_exc()
        click.echo(f"feedmgr: error: {exc.diagnostics()}", err=True)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("feedmgr: interrupted", err=True)
        return 130
    except Exception as exc:
        if debug:
            traceback.print_exc()
        click.echo(
            f"feedmgr: error: internal error: {type(exc).__name__}: {escape_controls(str(exc))} "
            "(this is a bug; rerun with --debug for a traceback)",
            err=True,
        )
        return int(ExitCode.INTERNAL)
    return int(ExitCode.OK)
