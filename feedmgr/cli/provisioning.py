"""``feedmgr provisioning``: client-provisioning coverage audit and one-case explanation."""

from __future__ import annotations

from pathlib import Path

import click

from feedmgr.cli._common import AppContext, emit, feed_ref_option, format_option

feed_option = feed_ref_option(
    "Feed to classify against: a stored version or a package file (default: active)."
)


@click.group(epilog="Example: feedmgr provisioning audit cp-policy.yaml --inventory endpoints.csv")
def provisioning() -> None:
    """Audit client-provisioning coverage: who would bypass posture."""


@provisioning.command(
    epilog="Example: feedmgr provisioning audit docs/examples/cp-policy.yaml "
    "--inventory docs/examples/endpoints-ise.csv --preset ise"
)
@click.argument("policy", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--inventory",
    "inventory",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Endpoint inventory CSV: counts endpoints per OS and identity group.",
)
@click.option(
    "--preset",
    "preset",
    type=click.Choice(["generic", "ise"]),
    default="generic",
    show_default=True,
    help="Inventory column names: generic (os, group, mac, host) or ise (Context Visibility).",
)
@click.option("--os-column", "os_column", metavar="HEADER", help="Inventory column of the OS.")
@click.option(
    "--group-column", "group_column", metavar="HEADER", help="Inventory column of the group."
)
@click.option("--mac-column", "mac_column", metavar="HEADER", help="Inventory MAC column.")
@click.option("--host-column", "host_column", metavar="HEADER", help="Inventory host column.")
@click.option(
    "--examples",
    "examples",
    type=click.IntRange(0, 20),
    default=0,
    show_default=True,
    help="Name up to N affected endpoints (MAC, else host column) per finding.",
)
@click.option(
    "--group",
    "groups",
    multiple=True,
    metavar="NAME",
    help="Also evaluate this identity group (repeatable).",
)
@feed_option
@format_option
@click.pass_obj
def audit(
    app: AppContext,
    *,
    policy: Path,
    inventory: Path | None,
    preset: str,
    os_column: str | None,
    group_column: str | None,
    mac_column: str | None,
    host_column: str | None,
    examples: int,
    groups: tuple[str, ...],
    feed_ref: str | None,
    output_format: str,
) -> None:
    """Evaluate every OS of the feed (and of the inventory) x every identity group against
    the CP policy, top-down and first match wins, as ISE does; report every gap.

    Exits 1 when any fail finding exists (uncovered, unknown OS, outdated versions...).
    """
    from feedmgr.feed.access import open_feed
    from feedmgr.provisioning.audit import audit as run_audit
    from feedmgr.provisioning.classify import FeedClassifier
    from feedmgr.provisioning.inventory import preset as column_preset
    from feedmgr.provisioning.inventory import read_inventory
    from feedmgr.provisioning.policy import load_policy
    from feedmgr.provisioning.render import coverage_json, render_matrix
    from feedmgr.render.json import dumps, report_document
    from feedmgr.render.text import render_report

    rules = load_policy(policy)
    feed = open_feed(app.home, feed_ref)
    counts = None
    if inventory is not None:
        columns = column_preset(preset).with_overrides(
            os=os_column, group=group_column, mac=mac_column, host=host_column
        )
        counts = read_inventory(inventory, columns, examples=examples)
    coverage = run_audit(
        rules,
        feed.catalog,
        FeedClassifier(feed.catalog),
        inventory=counts,
        extra_groups=groups,
        facts={"feed": feed.version},
        examples=examples,
    )
    report = coverage.report
    if output_format == "json":
        emit(dumps({**report_document(report), "matrix": coverage_json(coverage)}))
    else:
        emit(render_matrix(coverage) + "\n" + render_report(report))
    code = report.exit_code()
    if code:
        raise click.exceptions.Exit(int(code))


@provisioning.command(
    epilog='Example: feedmgr provisioning match cp-policy.yaml --os "macOS 26.1" --group Employees'
)
@click.argument("policy", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--os", "os_string", required=True, help="The endpoint's OS string.")
@click.option("--group", "group", help="The endpoint's identity group (omit: no named group).")
@feed_option
@format_option
@click.pass_obj
def match(
    app: AppContext,
    *,
    policy: Path,
    os_string: str,
    group: str | None,
    feed_ref: str | None,
    output_format: str,
) -> None:
    """Explain one case: each rule considered, why it did or did not match, the result.

    Exits 1 when the endpoint would bypass posture or its result fails a check; a device
    the posture agent does not run on (iOS, Android, a printer...) exits 0 and says so.
    """
    from feedmgr.errors import UsageError
    from feedmgr.feed.access import open_feed
    from feedmgr.findings import Severity
    from feedmgr.provisioning.audit import explain
    from feedmgr.provisioning.classify import FeedClassifier
    from feedmgr.provisioning.engine import Outcome
    from feedmgr.provisioning.policy import load_policy
    from feedmgr.provisioning.render import explanation_json, render_explanation
    from feedmgr.render.json import dumps

    if not os_string.strip():
        # An empty --os is a slip on the command line, not an endpoint with a blank OS cell
        # (that verdict, "cannot tell", belongs to inventory rows: cp.os-blank).
        raise UsageError("--os", 'an OS string is required, e.g. --os "macOS 26.1"')
    rules = load_policy(policy)
    feed = open_feed(app.home, feed_ref)
    decision, findings = explain(
        rules, feed.catalog, FeedClassifier(feed.catalog), os_string, group
    )
    if output_format == "json":
        emit(dumps({"feed": feed.version, **explanation_json(decision, findings)}))
    else:
        emit(render_explanation(decision, findings))
    bypass = decision.outcome not in (
        Outcome.MATCHED,
        Outcome.CONDITIONAL,
        Outcome.NOT_POSTURE_CAPABLE,
    )
    if bypass or any(f.severity is Severity.FAIL for f in findings):
        raise click.exceptions.Exit(1)
