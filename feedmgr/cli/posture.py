"""``feedmgr posture``: model, render and evaluate macOS service posture conditions."""

from __future__ import annotations

from pathlib import Path

import click

from feedmgr.cli._common import AppContext, emit, format_option
from feedmgr.errors import ExitCode, UsageError

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.group(
    epilog="Example: feedmgr posture eval docs/examples/macos-service-condition.yaml "
    "--dumpstate dumpstate.txt"
)
def posture() -> None:
    """Model, render and evaluate macOS service posture conditions."""


@posture.command(
    epilog="Example: feedmgr posture render docs/examples/macos-service-condition.yaml"
)
@click.argument("condition_file", type=_FILE)
@click.option(
    "--ise-version",
    "ise_version",
    default="3.3.0.430",
    show_default=True,
    help="ISE version written in <version2>.",
)
@format_option
@click.pass_obj
def render(app: AppContext, *, condition_file: Path, ise_version: str, output_format: str) -> None:
    """Print the <cleanmachines> XML the posture agent receives for CONDITION_FILE.

    One <package> per requirement of an enabled macOS policy, one <check> per condition.
    With --format json, the same packages as JSON.
    """
    from feedmgr.posture.agentxml import packages_for, render_cleanmachines
    from feedmgr.posture.files import load_spec

    spec = load_spec(condition_file)
    for condition in spec.conditions:
        if condition.is_glob:
            app.warn(
                f"{condition.name}: service {condition.service!r} is a glob; ISE and the agent "
                "match exact labels only (CSCwf01373), so it will be taken literally"
            )
    if output_format == "json":
        from feedmgr.posture.report import package_json
        from feedmgr.render.json import dumps

        emit(dumps({"packages": [package_json(p) for p in packages_for(spec)]}))
        return
    emit(render_cleanmachines(spec, ise_version))


@posture.command(
    "parse-log",
    epilog="Example: feedmgr posture parse-log unified_log.log "
    "--against docs/examples/macos-service-condition.yaml",
)
@click.argument("log_file", type=_FILE)
@click.option(
    "--against",
    "against",
    type=_FILE,
    help="Condition file to compare with: exit 1 unless every package it renders is in the log.",
)
@format_option
def parse_log(*, log_file: Path, against: Path | None, output_format: str) -> None:
    """Extract the conditions and requirements the agent received from a Secure Client
    unified_log.log (DART bundle) or an ISE ise-psc.log, and the lines about check results.

    Never fails on log content: truncated or damaged XML is listed under problems.
    """
    from feedmgr.posture.launchd import open_text, read_lines
    from feedmgr.posture.logscan import scan_log
    from feedmgr.posture.report import render_scan_text, scan_json

    with open_text(log_file) as handle:
        scan = scan_log(read_lines(handle), str(log_file))
    comparison = None
    if against is not None:
        from feedmgr.posture.agentxml import packages_for
        from feedmgr.posture.files import load_spec
        from feedmgr.posture.logscan import compare

        comparison = compare(scan, packages_for(load_spec(against)))
    if output_format == "json":
        from feedmgr.render.json import dumps

        document = scan_json(scan)
        if comparison is not None:
            document["against"] = {"file": str(against), "requirements": dict(comparison)}
        emit(dumps(document))
    else:
        emit(render_scan_text(scan, comparison, str(against)))
    if comparison is not None and any(state != "same" for state in comparison.values()):
        raise click.exceptions.Exit(int(ExitCode.CHECKS_FAILED))


@posture.command(
    "eval",
    epilog="Example: feedmgr posture eval docs/examples/macos-service-condition.yaml "
    "--dumpstate dumpstate.txt --list system=list-system.txt --list gui/501=list-gui.txt",
)
@click.argument("condition_file", type=_FILE)
@click.option(
    "--dumpstate", "dumpstates", multiple=True, type=_FILE, help="launchctl dumpstate output."
)
@click.option(
    "--list",
    "lists",
    multiple=True,
    metavar="[DOMAIN=]FILE",
    help="launchctl list output; DOMAIN is system (default, as with sudo) or gui/UID.",
)
@click.option(
    "--print", "prints", multiple=True, type=_FILE, help="launchctl print DOMAIN/LABEL output."
)
@click.option(
    "--plists",
    "plists_file",
    type=_FILE,
    help="Listing of plist files (one path per line, as collect-script writes it).",
)
@click.option("--live", "live", is_flag=True, help="Run launchctl on this Mac instead.")
@click.option(
    "--uid",
    "uid",
    type=int,
    default=None,
    help="User for gui/UID with --live (default: the sudo caller, else you).",
)
@click.option(
    "--identity-group",
    "identity_group",
    default=None,
    help="Evaluate as an endpoint in this identity group (default: every policy applies).",
)
@format_option
def eval_command(
    *,
    condition_file: Path,
    dumpstates: tuple[Path, ...],
    lists: tuple[str, ...],
    prints: tuple[Path, ...],
    plists_file: Path | None,
    live: bool,
    uid: int | None,
    identity_group: str | None,
    output_format: str,
) -> None:
    """Evaluate CONDITION_FILE against launchd state: each condition with its evidence,
    each requirement's criteria, and the ISE-style posture report.

    Exits 1 when the endpoint is NonCompliant (a mandatory policy failed).
    """
    from contextlib import ExitStack

    from feedmgr.posture.collect import (
        default_uid,
        file_streams,
        list_option,
        live_plists,
        live_streams,
        read_plists,
        system_runner,
        user_home,
    )
    from feedmgr.posture.evaluate import evaluate_spec, gather
    from feedmgr.posture.files import load_spec
    from feedmgr.posture.report import eval_json, render_eval_text

    spec = load_spec(condition_file)
    list_files = [list_option(value) for value in lists]
    given = bool(dumpstates or list_files or prints)
    if live == given:
        raise UsageError(
            "posture eval", "give --live, or at least one of --dumpstate, --list, --print"
        )
    plists = read_plists(plists_file) if plists_file is not None else None
    with ExitStack() as stack:
        if live:
            user = uid if uid is not None else default_uid()
            streams = live_streams(spec, system_runner(), user)
            plists = live_plists(user_home(user))
        else:
            streams = file_streams(
                stack, spec, dumpstates=dumpstates, lists=list_files, prints=prints
            )
        evidence = gather(spec, streams, plists)
    result = evaluate_spec(spec, evidence, identity_group)
    if output_format == "json":
        from feedmgr.render.json import dumps

        emit(dumps(eval_json(result, str(condition_file))))
    else:
        emit(render_eval_text(result, str(condition_file)))
    if not result.compliant:
        raise click.exceptions.Exit(int(ExitCode.CHECKS_FAILED))


@posture.command(
    "collect-script",
    epilog="Example: feedmgr posture collect-script docs/examples/macos-service-condition.yaml "
    "> collect.sh",
)
@click.argument("condition_file", type=_FILE, required=False)
def collect_script_command(*, condition_file: Path | None) -> None:
    """Print the shell script an admin runs on a Mac to capture launchctl dumpstate, list
    and print output for 'posture eval'. With CONDITION_FILE it also prints each service.
    """
    from feedmgr.posture.collect import collect_script

    spec = None
    if condition_file is not None:
        from feedmgr.posture.files import load_spec

        spec = load_spec(condition_file)
    emit(collect_script(spec, str(condition_file) if condition_file else "CONDITIONS.yaml"))
