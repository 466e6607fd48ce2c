"""``feedmgr posture``: model, render and evaluate macOS service posture conditions."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click

from feedmgr.cli._common import AppContext, emit, feed_ref_option, format_option
from feedmgr.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from feedmgr.posture.model import PostureSpec

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
    """Extract the conditions and requirements the agent received, the lines about check
    results and the posture outcome from a Secure Client log (unified_log.log, system.log,
    AnyConnect_ISEPosture.txt), an ISE ise-psc.log, or a whole DART bundle (.zip).

    UTF-8 (with or without BOM) and UTF-16 are decoded. Truncated or damaged XML is listed
    under problems; an unreadable file, or one with no line of any known log format, exits 3.
    """
    from contextlib import ExitStack

    from feedmgr.errors import ParseError
    from feedmgr.posture.logread import chunks, open_logs
    from feedmgr.posture.logscan import LogScan, scan_chunks
    from feedmgr.posture.report import (
        BUNDLE_SCHEMA,
        render_comparison,
        render_scan_text,
        scan_json,
    )

    scans: list[tuple[LogScan, str]] = []
    skipped: list[tuple[str, str]] = []
    prefix = len(str(log_file)) + 1
    with ExitStack() as stack:
        for log in open_logs(log_file, stack):
            if log.problem:
                skipped.append((log.name[prefix:], log.problem))
                continue
            scan = scan_chunks(chunks(log), log.name)
            if not scan.recognised and not scan.known_format:
                raise ParseError(
                    log.name,
                    f"no posture content and no line in a known log format ({scan.lines} "
                    "lines read): not a Secure Client or ISE log",
                )
            scans.append((scan, log.encoding))
    if not scans:
        listed = "; ".join(f"{member}: {problem}" for member, problem in skipped)
        raise ParseError(str(log_file), f"no readable posture log in the bundle ({listed})")
    members = [s.origin[prefix:] for s, _ in scans if s.origin != str(log_file)]
    comparison = None
    differing: dict[str, tuple[str, ...]] = {}
    if against is not None:
        from feedmgr.posture.agentxml import packages_for
        from feedmgr.posture.files import load_spec
        from feedmgr.posture.logscan import compare, differences
        from feedmgr.posture.report import NOTHING_COMPARED

        expected = packages_for(load_spec(against))
        comparison = compare([s for s, _ in scans], expected)
        differing = differences([s for s, _ in scans], expected)
    if output_format == "json":
        from feedmgr.render.json import dumps

        documents = [scan_json(scan, encoding) for scan, encoding in scans]
        document: dict[str, object] = (
            {
                "schema": BUNDLE_SCHEMA,
                "bundle": str(log_file),
                "members_read": members,
                "members_skipped": [{"member": m, "problem": p} for m, p in skipped],
                "logs": documents,
            }
            if members
            else documents[0]
        )
        if comparison is not None:
            document["against"] = {
                "file": str(against),
                "requirements": dict(comparison),
                "differences": {name: list(lines) for name, lines in differing.items()},
                "note": None if comparison else NOTHING_COMPARED,
            }
        emit(dumps(document))
    else:
        texts = [f"DART bundle {log_file}: read {', '.join(members)}\n"] if members else []
        texts += [f"  skipped {member}: {problem}\n" for member, problem in skipped]
        texts += [render_scan_text(scan) for scan, _ in scans]
        if comparison is not None:
            texts.append(render_comparison(comparison, str(against), differing))
        emit("\n".join(texts))
    if comparison is not None and any(state != "same" for state in comparison.values()):
        raise click.exceptions.Exit(int(ExitCode.CHECKS_FAILED))


@posture.command(
    "audit-syslog",
    epilog="Example: feedmgr posture audit-syslog ise-posture.log --cp-policy cp-policy.yaml",
)
@click.argument("log_file", type=_FILE)
@click.option(
    "--cp-policy",
    "cp_policy",
    type=_FILE,
    help="CP policy to set beside the field: predicted gaps per OS (as 'provisioning audit').",
)
@click.option(
    "--group",
    "group",
    default=None,
    help="Identity group for the CP prediction (default: a group no rule names).",
)
@feed_ref_option("Feed to classify OS strings against with --cp-policy (default: active).")
@format_option
@click.pass_obj
def audit_syslog(
    app: AppContext,
    *,
    log_file: Path,
    cp_policy: Path | None,
    group: str | None,
    feed_ref: str | None,
    output_format: str,
) -> None:
    """Summarise ISE posture audit syslog (CISE_Posture_and_Client_Provisioning_Audit, as a
    syslog server or SIEM keeps it) per OS and posture status, and list endpoints never
    postured (NotApplicable, Unknown). With --cp-policy, each OS gets the CP audit's
    prediction beside it: never-postured endpoints on an OS no rule covers confirm the gap.

    Exits 1 when --cp-policy is given and a gap is confirmed by the field; 3 when the file
    is unreadable or holds no ISE syslog message at all.
    """
    from contextlib import ExitStack

    from feedmgr.errors import ParseError
    from feedmgr.posture.iseaudit import read_audit
    from feedmgr.posture.launchd import read_lines
    from feedmgr.posture.logread import open_logs
    from feedmgr.posture.report import audit_json, render_audit_text

    predict = None
    if cp_policy is not None:
        from feedmgr.feed.access import open_feed
        from feedmgr.posture.iseaudit import cp_predictor
        from feedmgr.provisioning.policy import load_policy

        rules = load_policy(cp_policy)
        predict = cp_predictor(rules, open_feed(app.home, feed_ref).catalog, group)

    with ExitStack() as stack:
        log = next(open_logs(log_file, stack))
        if log.problem or log.name != str(log_file):
            raise ParseError(str(log_file), "give the syslog file itself, not a zip")
        summary = read_audit(read_lines(log.stream), log.name, predict)
    if not summary.messages:
        unread = (
            f"; {summary.unreadable} line(s) name an ISE category but their syslog header is "
            "in no form feedmgr reads (BSD, RFC 3339, RFC 5424)"
            if summary.unreadable
            else ""
        )
        raise ParseError(
            summary.origin,
            f"no ISE syslog message in {summary.lines} lines (expected lines such as "
            "'<181>Feb 26 22:15:22 HOST CISE_Posture_and_Client_Provisioning_Audit ...')" + unread,
        )
    policy_name = str(cp_policy) if cp_policy is not None else None
    if output_format == "json":
        from feedmgr.render.json import dumps

        emit(dumps(audit_json(summary, policy_name)))
    else:
        emit(render_audit_text(summary, policy_name))
    if any(o.confirmed_gap for o in summary.by_os):
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
    "--print",
    "prints",
    multiple=True,
    metavar="[DOMAIN/LABEL=]FILE",
    help="launchctl print DOMAIN/LABEL output; give the target (system/com.example.agent=FILE) "
    "for a capture from macOS 10.15 or older, which names the label alone.",
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
@click.pass_obj
def eval_command(
    app: AppContext,
    *,
    condition_file: Path,
    dumpstates: tuple[Path, ...],
    lists: tuple[str, ...],
    prints: tuple[str, ...],
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
        print_option,
        read_plists,
        system_runner,
        user_home,
    )
    from feedmgr.posture.evaluate import evaluate_spec, gather
    from feedmgr.posture.files import load_spec
    from feedmgr.posture.report import eval_json, render_eval_text

    spec = load_spec(condition_file)
    list_files = [list_option(value) for value in lists]
    print_files = [print_option(value) for value in prints]
    given = bool(dumpstates or list_files or print_files)
    if live == given:
        raise UsageError(
            "posture eval", "give --live, or at least one of --dumpstate, --list, --print"
        )
    _warn_globs(app, spec)
    plists = read_plists(plists_file) if plists_file is not None else None
    with ExitStack() as stack:
        if live:
            user = uid if uid is not None else default_uid()
            streams = live_streams(spec, system_runner(), user)
            plists = live_plists(user_home(user))
        else:
            streams = file_streams(
                stack, spec, dumpstates=dumpstates, lists=list_files, prints=print_files
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


def _warn_globs(app: AppContext, spec: PostureSpec) -> None:
    # Every verdict on a glob condition is feedmgr's extension: say so once per condition,
    # whatever the output format, so nobody enforces it believing the agent agrees.
    for condition in spec.conditions:
        if condition.is_glob:
            app.warn(condition.glob_warning)


@posture.command(
    "collect-script",
    epilog="Example: feedmgr posture collect-script docs/examples/macos-service-condition.yaml "
    "> collect.sh",
)
@click.argument("condition_file", type=_FILE, required=False)
@click.option(
    "--bundle",
    "bundle",
    is_flag=True,
    help="Write one compact bundle for 'posture fleet' on stdout instead (for an MDM, as root).",
)
@click.option(
    "--output-dir",
    "output_dir",
    default=None,
    metavar="DIR",
    help="With --bundle: also keep the bundle as DIR/posture-bundle.txt on the Mac.",
)
def collect_script_command(
    *, condition_file: Path | None, bundle: bool, output_dir: str | None
) -> None:
    """Print the shell script an admin runs on a Mac to capture launchctl dumpstate, list
    and print output for 'posture eval'. With CONDITION_FILE it also prints each service.

    With --bundle, the script an MDM runs as root on every Mac instead: it prints one small
    feedmgr-posture-bundle/1 (the launchctl rows, print blocks and plists of the services
    CONDITION_FILE names, macOS version, host, serial, hardware UUID, time) for 'posture fleet'.
    """
    from feedmgr.posture.collect import bundle_script, collect_script

    if output_dir is not None and not bundle:
        raise UsageError("--output-dir", "only applies with --bundle")
    spec = None
    if condition_file is not None:
        from feedmgr.posture.files import load_spec

        spec = load_spec(condition_file)
    if bundle:
        emit(bundle_script(spec, output_dir))
        return
    emit(collect_script(spec, str(condition_file) if condition_file else "CONDITIONS.yaml"))


def _max_age(value: str) -> timedelta:
    """``14d``, ``36h`` or a number of days."""
    text = value.strip().lower()
    unit = {"d": 86400, "h": 3600}.get(text[-1:], 86400)
    number = text[:-1] if text[-1:] in ("d", "h") else text
    try:
        seconds = float(number) * unit
    except ValueError:
        raise UsageError("--max-age", f"{value!r} is not an age: use e.g. 14d or 36h") from None
    if not 0 < seconds <= 3650 * 86400:
        raise UsageError("--max-age", f"{value!r} must be more than 0 and at most 3650 days")
    return timedelta(seconds=seconds)


@posture.command(
    "fleet",
    epilog="Example: feedmgr posture fleet docs/examples/macos-service-condition.yaml "
    "bundles/ mdm-export.zip --format html > fleet.html",
)
@click.argument("condition_file", type=_FILE)
@click.argument(
    "bundles",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, path_type=Path),
    metavar="BUNDLE_DIR_OR_ARCHIVE...",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "junit", "html"]),
    default="text",
    show_default=True,
    help="Report format.",
)
@click.option(
    "--max-age",
    "max_age",
    default="14d",
    show_default=True,
    metavar="AGE",
    help="Bundles collected longer ago are stale and left out (e.g. 14d, 36h).",
)
@click.option(
    "--fail-over",
    "fail_over",
    type=click.FloatRange(0, 100),
    default=0.0,
    show_default=True,
    metavar="PERCENT",
    help="Tolerate a mandatory requirement failing on up to this share of Macs.",
)
@click.pass_obj
def fleet_command(
    app: AppContext,
    *,
    condition_file: Path,
    bundles: tuple[Path, ...],
    output_format: str,
    max_age: str,
    fail_over: float,
) -> None:
    """Pre-check CONDITION_FILE against every Mac's bundle (from 'collect-script --bundle'):
    per requirement and condition, how many Macs pass, fail or cannot be told, which ones
    fail and why, by macOS version. Stale, duplicate and unreadable bundles are reported,
    never fatal.

    Exits 1 when a mandatory requirement fails on any Mac (on more than --fail-over percent),
    or when no Mac could be evaluated (nothing readable and fresh: it cannot tell).
    """
    from datetime import UTC, datetime

    from feedmgr.posture.files import load_spec
    from feedmgr.posture.fleet import run_fleet
    from feedmgr.posture.fleet_report import fleet_json, fleet_report, render_fleet_text

    spec = load_spec(condition_file)
    age = _max_age(max_age)
    _warn_globs(app, spec)
    result = run_fleet(spec, bundles, now=datetime.now(UTC), max_age=age, fail_over=fail_over)
    name = str(condition_file)
    if output_format == "json":
        from feedmgr.render.json import dumps

        emit(dumps(fleet_json(result, name)))
    elif output_format == "junit":
        from feedmgr.render.junit import render_report as render_junit

        emit(render_junit(fleet_report(result, name)))
    elif output_format == "html":
        from feedmgr.render.html import HtmlSections, render_html

        sections = HtmlSections(fleet=[fleet_json(result, name)])
        emit(render_html(fleet_report(result, name), sections))
    else:
        emit(render_fleet_text(result, name))
    if result.fails_gate:
        raise click.exceptions.Exit(int(ExitCode.CHECKS_FAILED))
