"""``feedmgr feed diff``: what changed between two feeds (attached to the ``feed`` group)."""

from __future__ import annotations

from pathlib import Path

import click

from feedmgr.cli._common import AppContext, emit, format_option, trust_option


@click.command(
    "diff",
    short_help="Compare two feeds: OS nodes and module minimums.",
    epilog="Example: feedmgr feed diff 2026.10.01 2026.11.25 --format json",
)
@click.argument("old", required=False)
@click.argument("new", required=False)
@trust_option("Also trust this PEM public key for zip arguments (repeatable).")
@click.option(
    "--exit-code",
    "exit_code",
    is_flag=True,
    help="Exit 1 when the feeds differ (like 'git diff --exit-code').",
)
@format_option
@click.pass_obj
def diff(
    app: AppContext,
    *,
    old: str | None,
    new: str | None,
    trust: tuple[Path, ...],
    exit_code: bool,
    output_format: str,
) -> None:
    """Compare two feeds: OS nodes added, removed or changed, module minimums changed.

    OLD and NEW are stored versions or feed .zip files. NEW defaults to the active feed;
    with no argument at all, OLD is the stored feed just below the active one.
    """
    from feedmgr.errors import UsageError
    from feedmgr.feed.access import open_feed
    from feedmgr.feed.store import FeedStore
    from feedmgr.osmatrix.diff import diff_feeds
    from feedmgr.render.json import dumps

    if old is None:
        store = FeedStore(app.home)
        active = store.active()
        if active is None:
            raise UsageError(str(app.home), "no active feed: give OLD and NEW feeds to compare")
        older = [f for f in store.feeds() if f.parsed_version < active.parsed_version]
        if not older:
            raise UsageError(
                f"feed {active.version}", "no older stored feed to compare with: give OLD"
            )
        old = older[-1].version
    old_view = open_feed(app.home, old, trust=trust)
    new_view = open_feed(app.home, new, trust=trust)
    result = diff_feeds(
        old_view.catalog,
        new_view.catalog,
        old_modules=old_view.compliance,
        new_modules=new_view.compliance,
        old_label=old_view.version,
        new_label=new_view.version,
    )
    emit(dumps(result.to_json()) if output_format == "json" else result.render_text())
    if exit_code and not result.empty:
        raise click.exceptions.Exit(1)
