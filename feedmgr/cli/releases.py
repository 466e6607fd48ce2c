"""``feedmgr releases``: import and list OS release catalogs (what exists in the world)."""

from __future__ import annotations

from pathlib import Path

import click

from feedmgr.cli._common import AppContext, emit, format_option
from feedmgr.escape import join_lines


@click.group("releases", epilog="Example: feedmgr releases import --sofa macos_data_feed.json")
def releases() -> None:
    """Import and list OS release catalogs used by 'feedmgr os lag'."""


@releases.command(
    "import",
    short_help="Import a SOFA feed or a release catalog file.",
    epilog="Example: feedmgr releases import --sofa macos_data_feed.json",
)
@click.option(
    "--sofa",
    "sofa",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A SOFA macOS feed file (macos_data_feed.json, v1 or v2).",
)
@click.option(
    "--catalog",
    "catalog",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A release catalog in feedmgr's own format (feedmgr-os-releases/1).",
)
@format_option
@click.pass_obj
def import_releases(
    app: AppContext, *, sofa: Path | None, catalog: Path | None, output_format: str
) -> None:
    """Store a release catalog in the feedmgr home for later 'os lag' runs.

    A SOFA import replaces the previous SOFA import; a catalog file is stored under its own
    name (manual-<name>.json), replacing an earlier import of the same name.
    """
    from feedmgr.errors import UsageError
    from feedmgr.osmatrix.releases import (
        import_sofa,
        parse_release_catalog,
        save_release_catalog,
    )
    from feedmgr.render.json import dumps

    if (sofa is None) == (catalog is None):
        raise UsageError("releases import", "give exactly one of --sofa FILE or --catalog FILE")
    source = sofa if sofa is not None else catalog
    assert source is not None
    try:
        data = source.read_bytes()
    except OSError as exc:
        raise UsageError(str(source), f"cannot read: {exc.strerror}") from exc
    if sofa is not None:
        imported = import_sofa(data, str(source))
        name = "sofa-macos"
    else:
        imported = parse_release_catalog(data, str(source))
        name = "manual-" + "".join(c if c.isalnum() or c in "-_" else "-" for c in source.stem)
    target = save_release_catalog(app.home, name[:80], imported)
    as_of = imported.as_of.isoformat() if imported.as_of else None
    if output_format == "json":
        emit(
            dumps(
                {
                    "imported": len(imported.releases),
                    "as_of": as_of,
                    "stored": str(target),
                    "source": str(source),
                }
            )
        )
        return
    emit(f"imported {len(imported.releases)} releases (as of {as_of}) from {source} -> {target}\n")


@releases.command(
    "list",
    short_help="List the OS releases feedmgr knows.",
    epilog="Example: feedmgr releases list --family macos --format json",
)
@click.option(
    "--family",
    "family",
    type=click.Choice(["macos", "windows", "linux"]),
    help="Only this OS family.",
)
@click.option(
    "--no-shipped",
    "no_shipped",
    is_flag=True,
    help="Leave out the snapshot shipped with feedmgr.",
)
@format_option
@click.pass_obj
def list_releases(
    app: AppContext, *, family: str | None, no_shipped: bool, output_format: str
) -> None:
    """List the known OS releases: imported catalogs merged over the shipped snapshot."""
    from feedmgr.osmatrix.releases import load_release_catalogs
    from feedmgr.render.json import dumps

    merged = load_release_catalogs(app.home, include_shipped=not no_shipped)
    entries = merged.for_family(family) if family else merged.sorted()
    as_of = merged.as_of.isoformat() if merged.as_of else None
    if output_format == "json":
        emit(
            dumps(
                {
                    "schema": "feedmgr-os-releases-list/1",
                    "as_of": as_of,
                    "releases": [r.to_json() for r in entries],
                }
            )
        )
        return
    lines = [f"OS releases known to feedmgr (as of {as_of or 'unknown'})", ""]
    width = max((len(r.label) for r in entries), default=0)
    lines.extend(f"{r.label.ljust(width)}  {r.released.isoformat()}" for r in entries)
    if not entries:
        lines.append("(no releases)")
    emit(join_lines(lines))
