"""``feedmgr checks``: list every check id with its severity, meaning and fix."""

from __future__ import annotations

import click

from feedmgr.cli._common import emit


@click.command(epilog="Example: feedmgr checks --format markdown > docs/checks.md")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
    help="Output format.",
)
def checks(*, output_format: str) -> None:
    """List every check id feedmgr can report (the check reference)."""
    from dataclasses import asdict

    from feedmgr.checks import REGISTRY, render_markdown
    from feedmgr.render.json import dumps

    if output_format == "json":
        emit(dumps([asdict(spec) for spec in REGISTRY]))
    elif output_format == "markdown":
        emit(render_markdown())
    else:
        width = max(len(spec.id) for spec in REGISTRY)
        emit(
            "".join(
                f"{s.id:<{width}}  {s.severity}\n{'':<{width}}  {s.meaning}\n" for s in REGISTRY
            )
        )
