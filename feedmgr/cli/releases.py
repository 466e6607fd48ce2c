"""``feedmgr releases``: import and list OS release catalogs (what exists in the world)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from feedmgr.cli._common import AppContext, emit, format_option
from feedmgr.cli.download import ca_bundle_option, proxy_option
from feedmgr.escape import join_lines

if TYPE_CHECKING:
    from feedmgr.osmatrix.sources import SourceImport


@click.group("releases", epilog="Example: feedmgr releases import --sofa macos_data_feed.json")
def releases() -> None:
    """Import and list OS release catalogs used by 'feedmgr os lag'."""


@releases.command(
    "import",
    short_help="Import a SOFA feed, endoflife.date Windows data or a catalog file.",
    epilog="Example: feedmgr releases import --sofa macos_data_feed.json",
)
@click.option(
    "--sofa",
    "sofa",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A SOFA macOS feed file (macos_data_feed.json, v1 or v2).",
)
@click.option(
    "--windows",
    "windows",
    type=click.Path(dir_okay=False, path_type=Path),
    help="endoflife.date's Windows data (API document or the products/windows.md page).",
)
@click.option(
    "--catalog",
    "catalog",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A release catalog in feedmgr's own format (feedmgr-os-releases/1).",
)
@click.option(
    "--source",
    "source_label",
    help="Where the file came from, recorded on each release (default: the file's path).",
)
@click.option(
    "--allow-older",
    "allow_older",
    is_flag=True,
    help="Replace the stored SOFA or Windows data even with an older document.",
)
@format_option
@click.pass_obj
def import_releases(
    app: AppContext,
    *,
    sofa: Path | None,
    windows: Path | None,
    catalog: Path | None,
    source_label: str | None,
    allow_older: bool,
    output_format: str,
) -> None:
    """Store a release catalog in the feedmgr home for later 'os lag' runs.

    A SOFA import replaces the previous SOFA import (sofa-macos.json), a Windows import the
    previous one (endoflife-windows.json); a catalog file is stored under its own name
    (manual-<name>.json). Entries without a usable date are skipped and reported. A document
    that is not what the option names (SOFA's iOS feed given as --sofa) is exit 3 and the
    store is left as it was. A SOFA or Windows document older than the stored one (an old
    copy carried over) is not stored unless ``--allow-older``, as ``releases update`` keeps
    newer data from a stale mirror.
    """
    from feedmgr.errors import UsageError
    from feedmgr.osmatrix.releases import parse_release_catalog, save_release_catalog
    from feedmgr.osmatrix.sources import (
        ENDOFLIFE_CATALOG,
        SOFA_CATALOG,
        SourceImport,
        import_endoflife_windows,
        import_sofa,
    )

    given = [
        (flag, path)
        for flag, path in (("sofa", sofa), ("windows", windows), ("catalog", catalog))
        if path
    ]
    if len(given) != 1:
        raise UsageError(
            "releases import", "give exactly one of --sofa FILE, --windows FILE or --catalog FILE"
        )
    kind, source = given[0]
    try:
        data = source.read_bytes()
    except OSError as exc:
        raise UsageError(str(source), f"cannot read: {exc.strerror}") from exc
    if kind == "sofa":
        result = import_sofa(data, str(source), source_label)
        name = SOFA_CATALOG
    elif kind == "windows":
        result = import_endoflife_windows(data, str(source), source_label)
        name = ENDOFLIFE_CATALOG
    else:
        result = SourceImport(parse_release_catalog(data, str(source)), kind="catalog")
        name = "manual-" + "".join(c if c.isalnum() or c in "-_" else "-" for c in source.stem)
    if kind != "catalog" and not allow_older:
        from feedmgr.osmatrix.online import stored_catalog

        stored = stored_catalog(app.home, name)
        new_as_of, stored_as_of = result.catalog.as_of, stored.as_of if stored else None
        if new_as_of is not None and stored_as_of is not None and new_as_of < stored_as_of:
            emit_kept(str(source), new_as_of.isoformat(), stored_as_of.isoformat(), output_format)
            return
    target = save_release_catalog(app.home, name[:80], result.catalog)
    emit_import(result, str(source), target, output_format)


def emit_kept(source: str, as_of: str, stored_as_of: str, output_format: str) -> None:
    """Report an import not stored because the stored data is newer."""
    from feedmgr.render.json import dumps

    if output_format == "json":
        emit(
            dumps(
                {
                    "imported": 0,
                    "older_than_stored": True,
                    "as_of": as_of,
                    "stored_as_of": stored_as_of,
                    "source": source,
                }
            )
        )
        return
    emit(
        f"kept the stored catalog (as of {stored_as_of}): {source} is older (as of {as_of}); "
        "--allow-older replaces it\n"
    )


def emit_import(result: SourceImport, source: str, target: Path, output_format: str) -> None:
    """Report one stored import: counts, date, where it went, what was skipped."""
    from feedmgr.render.json import dumps

    as_of = result.catalog.as_of.isoformat() if result.catalog.as_of else None
    if output_format == "json":
        emit(
            dumps(
                {
                    "imported": len(result.catalog.releases),
                    "skipped": [
                        {"where": s.where, "version": s.version, "reason": s.reason}
                        for s in result.skipped
                    ],
                    "as_of": as_of,
                    "stored": str(target),
                    "source": source,
                }
            )
        )
        return
    # A catalog of our own format may leave out as_of: say nothing rather than "None".
    dated = f" (as of {as_of})" if as_of else ""
    emit(f"imported {result.summary()}{dated} from {source} -> {target}\n")


@releases.command(
    "update",
    short_help="Fetch current release data (SOFA macOS feed, endoflife.date Windows).",
    epilog="Example: feedmgr releases update --check --format json",
)
@click.option(
    "--check",
    "check",
    is_flag=True,
    help="Only say what an update would add; store nothing.",
)
@ca_bundle_option
@proxy_option
@format_option
@click.pass_obj
def update_releases(
    app: AppContext,
    *,
    check: bool,
    ca_bundle: Path | None,
    proxy: str | None,
    output_format: str,
) -> None:
    """Fetch SOFA's macOS feed (releases.sofa_url) and endoflife.date's Windows data
    (releases.windows_url) over HTTPS and replace the stored catalogs.

    Same network rules as 'feedmgr update': https only, --proxy / feed.proxy / HTTPS_PROXY,
    --ca-bundle / feed.ca_bundle, conditional GET, retries, a size cap. Nothing is stored
    unless both documents were fetched and validated. Exit 3 when a document is not what it
    should be, 4 when a server cannot be reached.
    """
    from datetime import UTC, datetime

    from feedmgr.config import load_config
    from feedmgr.net.transport import HttpsClient, transport_settings
    from feedmgr.net.urls import check_proxy_url
    from feedmgr.osmatrix.online import fetch_releases, release_sources, store_releases
    from feedmgr.render.json import dumps

    if proxy is not None:
        check_proxy_url(proxy, "--proxy")
    config = load_config(app.home)
    settings = transport_settings(config, ca_bundle=ca_bundle, proxy=proxy)
    today = datetime.now(UTC).date()
    with HttpsClient(settings) as client:
        fetched = fetch_releases(app.home, client, release_sources(config), today=today)
    if not check:
        store_releases(app.home, fetched)
    if output_format == "json":
        emit(dumps({"check": check, "sources": [item.to_json() for item in fetched]}))
        return
    lines = []
    for item in fetched:
        state = "not modified" if item.not_modified else "fetched"
        if item.kept_as_of is not None:
            outcome = (
                f"older than the stored catalog (as of {item.kept_as_of}): kept the stored one"
            )
        elif not item.changed:
            outcome = "unchanged"
        else:
            outcome = f"{item.added} new releases, " + (
                "not stored (--check)" if check else "stored"
            )
        lines.append(
            f"{item.source.name}: {item.source.url} {state}: {item.result.summary()} "
            f"(as of {item.result.catalog.as_of}); {outcome}"
        )
    emit(join_lines(lines))


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


@releases.command(
    "export",
    short_help="Write the known releases as one catalog file per OS family.",
    epilog="Example: feedmgr releases export --no-shipped -o feeds/releases",
)
@click.option(
    "-o",
    "--output-dir",
    "output_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for macos.json, windows.json (and linux.json when known).",
)
@click.option(
    "--no-shipped",
    "no_shipped",
    is_flag=True,
    help="Leave out the snapshot shipped with feedmgr (export the imports only).",
)
@format_option
@click.pass_obj
def export_releases(
    app: AppContext, *, output_dir: Path, no_shipped: bool, output_format: str
) -> None:
    """Write the releases feedmgr knows as feedmgr-os-releases/1 files, one per family.

    Each release keeps the source it was imported from. scripts/refresh-release-snapshot.sh
    uses this to rebuild the snapshot shipped with feedmgr from current SOFA and
    endoflife.date data.
    """
    from feedmgr.atomic import write_bytes_atomically
    from feedmgr.errors import StoreError, UsageError
    from feedmgr.osmatrix.releases import by_family, release_catalogs
    from feedmgr.render.json import dumps

    families = by_family(release_catalogs(app.home, include_shipped=not no_shipped))
    if not families:
        raise UsageError("releases export", "no releases known: import or update first")
    try:
        # The folder -o names is the output and may be made; its parent is not invented
        # (a mistyped path or an unmounted disk would hide the files).
        output_dir.mkdir(exist_ok=True)
    except FileNotFoundError as exc:
        raise UsageError(str(output_dir.parent), "no such folder for the catalogs") from exc
    except OSError as exc:
        raise StoreError(str(output_dir), f"cannot write: {exc.strerror}") from exc
    written = {}
    for family, catalog in families.items():
        target = output_dir / f"{family}.json"
        try:
            write_bytes_atomically(target, catalog.to_bytes())
        except OSError as exc:
            raise StoreError(str(target), f"cannot write: {exc.strerror}") from exc
        written[family] = (target, catalog)
    if output_format == "json":
        emit(
            dumps(
                {
                    "written": [
                        {
                            "family": family,
                            "path": str(target),
                            "releases": len(catalog.releases),
                            "as_of": catalog.as_of.isoformat() if catalog.as_of else None,
                        }
                        for family, (target, catalog) in written.items()
                    ]
                }
            )
        )
        return
    emit(
        "".join(
            f"{target}: {len(catalog.releases)} {family} releases"
            f" (as of {catalog.as_of.isoformat() if catalog.as_of else 'unknown'})\n"
            for family, (target, catalog) in written.items()
        )
    )
