"""``feedmgr os``: resolve OS strings, show the supported-OS matrix, detect release lag."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from feedmgr.cli._common import AppContext, emit, finish_report, format_option
from feedmgr.cli._common import feed_ref_option as shared_feed_ref_option
from feedmgr.cli._common import trust_option as shared_trust_option

if TYPE_CHECKING:
    from feedmgr.feed.access import FeedView

feed_ref_option = shared_feed_ref_option(
    "Use this stored feed version or feed .zip instead of the active feed."
)
trust_option = shared_trust_option(
    "Also trust this PEM public key when --feed is a zip (repeatable)."
)


def _open(app: AppContext, feed_ref: str | None, trust: tuple[Path, ...]) -> FeedView:
    from feedmgr.feed.access import open_feed

    return open_feed(app.home, feed_ref, trust=trust)


def _label(view: FeedView) -> str:
    where = "" if view.source == "store" else f" ({view.source})"
    return f"feed {view.version}{where}"


@click.group("os", epilog='Example: feedmgr os resolve "Mac OSX 15.6.1"')
def os_group() -> None:
    """Resolve OS strings, list the supported-OS matrix, detect new-release lag."""


@os_group.command(
    "resolve",
    short_help="Classify one OS string against the feed's OS tree.",
    epilog='Example: feedmgr os resolve "macOS 26.1 (25B78)" --format json',
)
@click.argument("os_string")
@feed_ref_option
@trust_option
@format_option
@click.pass_obj
def resolve(
    app: AppContext,
    *,
    os_string: str,
    feed_ref: str | None,
    trust: tuple[Path, ...],
    output_format: str,
) -> None:
    """Classify one OS string against the feed's OS tree.

    Exit 0 when the feed classifies it (the node chain is shown), 1 when it would not be
    classified (the endpoint bypasses posture), 3 when the string cannot be parsed.
    """
    from feedmgr.osmatrix.parse import parse_os_string
    from feedmgr.osmatrix.resolve import resolve as resolve_os
    from feedmgr.render.json import dumps

    parse_os_string(os_string)  # an unparseable string is exit 3 even without a feed
    view = _open(app, feed_ref, trust)
    result = resolve_os(view.catalog, os_string, _label(view))
    emit(dumps(result.to_json()) if output_format == "json" else result.render_text())
    if not result.classified:
        raise click.exceptions.Exit(1)


@os_group.command(
    "list",
    short_help="Show the supported-OS matrix of the feed.",
    epilog="Example: feedmgr os list --family macos --format json",
)
@click.option(
    "--family",
    "family",
    type=click.Choice(["macos", "windows", "linux"]),
    help="Only this OS family.",
)
@feed_ref_option
@trust_option
@format_option
@click.pass_obj
def list_matrix(
    app: AppContext,
    *,
    family: str | None,
    feed_ref: str | None,
    trust: tuple[Path, ...],
    output_format: str,
) -> None:
    """Show the supported-OS matrix: node, parent, versions, minimum agent/module, release."""
    from feedmgr.osmatrix.matrix import MATRIX_SCHEMA, render_matrix_text, supported_matrix
    from feedmgr.render.json import dumps

    view = _open(app, feed_ref, trust)
    rows = supported_matrix(view.catalog, family)
    if output_format == "json":
        emit(
            dumps(
                {
                    "schema": MATRIX_SCHEMA,
                    "feed": {
                        "version": view.version,
                        "publisher": view.publisher,
                        "source": view.source,
                    },
                    "family": family,
                    "nodes": [row.to_json() for row in rows],
                }
            )
        )
        return
    emit(render_matrix_text(rows, f"Supported OS matrix of {_label(view)}"))


@os_group.command(
    "lag",
    short_help="Find released OS versions the feed cannot classify.",
    epilog="Example: feedmgr os lag --max-days 14 --releases my-releases.json --format json",
)
@click.option(
    "--max-days",
    "max_days",
    type=click.IntRange(min=0),
    default=30,
    show_default=True,
    help="A release unknown to the feed is a warning up to this many days, a failure after.",
)
@click.option(
    "--stale-days",
    "stale_days",
    type=click.IntRange(min=0),
    default=60,
    show_default=True,
    help="Warn (feed.stale) when the feed was published longer ago than this.",
)
@click.option(
    "--releases",
    "release_files",
    multiple=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="An extra release catalog (feedmgr-os-releases/1 JSON), repeatable.",
)
@click.option(
    "--no-shipped",
    "no_shipped",
    is_flag=True,
    help="Ignore the release snapshot shipped with feedmgr (use imported/--releases only).",
)
@click.option(
    "--as-of",
    "as_of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Evaluate as on this date (default: today, UTC).",
)
@feed_ref_option
@trust_option
@format_option
@click.pass_obj
def lag(
    app: AppContext,
    *,
    max_days: int,
    stale_days: int,
    release_files: tuple[Path, ...],
    no_shipped: bool,
    as_of: datetime | None,
    feed_ref: str | None,
    trust: tuple[Path, ...],
    output_format: str,
) -> None:
    """Find released OS versions the feed cannot classify, and an expired or stale feed.

    Findings: feed.os-lag (warn, fail after --max-days), feed.expired, feed.stale,
    releases.stale. Exit 1 when any finding fails.
    """
    from datetime import UTC, time

    from feedmgr.osmatrix.lag import LagPolicy, lag_report
    from feedmgr.osmatrix.releases import load_release_catalogs

    view = _open(app, feed_ref, trust)
    releases = load_release_catalogs(app.home, release_files, include_shipped=not no_shipped)
    now = datetime.combine(as_of.date(), time(12), UTC) if as_of is not None else datetime.now(UTC)
    report = lag_report(
        view.catalog,
        releases,
        published=view.published,
        expires=view.expires,
        now=now,
        policy=LagPolicy(max_days=max_days, stale_days=stale_days),
        feed_label=_label(view),
    )
    finish_report(report, output_format)
