"""``feedmgr download`` and the online branch of ``feedmgr update``: fetch feeds over HTTPS."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from feedmgr.cli._common import AppContext, emit, format_option, trust_option
from feedmgr.escape import join_lines

if TYPE_CHECKING:
    from feedmgr.feed.fetch import FeedClient, UpdateCheck
    from feedmgr.feed.index import PackageRef
    from feedmgr.feed.lifecycle import RollbackHold
    from feedmgr.feed.store import StoredFeed

F = TypeVar("F", bound=Callable[..., Any])

url_option = click.option(
    "--url",
    "url",
    metavar="URL",
    help="Feed index URL (https only; default: feed.url, else the vendor index).",
)
ca_bundle_option = click.option(
    "--ca-bundle",
    "ca_bundle",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Trust only the CA certificates in this PEM file (default: feed.ca_bundle, else "
    "the system store).",
)
pre_option = click.option(
    "--pre",
    "prereleases",
    is_flag=True,
    help="Also consider pre-release feeds (2027.1.0rc1); by default they are skipped unless "
    "the index offers nothing else.",
)
proxy_option = click.option(
    "--proxy",
    "proxy",
    metavar="URL",
    help="HTTPS proxy, http://HOST:PORT (default: feed.proxy, else HTTPS_PROXY/NO_PROXY).",
)


class _StderrProgress:
    """A one-line progress display on stderr (only used when stderr is a terminal)."""

    def __init__(self) -> None:
        self.shown = False

    def __call__(self, done: int, total: int | None) -> None:
        if total:
            width = 30
            filled = min(width, done * width // total)
            text = f"\rdownloading [{'#' * filled}{'.' * (width - filled)}] {done * 100 // total}%"
        else:
            text = f"\rdownloading {done / 1e6:.1f} MB"
        click.echo(text, nl=False, err=True)
        self.shown = True

    def close(self) -> None:
        if self.shown:
            click.echo("", err=True)


def _progress(app: AppContext) -> _StderrProgress | None:
    return _StderrProgress() if sys.stderr.isatty() and not app.quiet else None


def _client(
    app: AppContext, url: str | None, ca_bundle: Path | None, proxy: str | None
) -> tuple[FeedClient, str]:
    from feedmgr.config import load_config
    from feedmgr.feed.fetch import FeedClient, settings_for
    from feedmgr.net.urls import check_https_url, check_proxy_url

    config = load_config(app.home)
    index_url = check_https_url(url, "--url") if url is not None else config.feed_url
    if proxy is not None:
        check_proxy_url(proxy, "--proxy")
    return FeedClient(settings_for(config, ca_bundle=ca_bundle, proxy=proxy)), index_url


def online_update(
    app: AppContext,
    *,
    url: str | None,
    check: bool,
    ca_bundle: Path | None,
    proxy: str | None,
    trust: Sequence[Path],
    allow_unsigned: bool,
    allow_downgrade: bool,
    allow_rolled_back: bool,
    prereleases: bool,
    output_format: str,
) -> None:
    """The online branch of ``feedmgr update`` (called by ``feedmgr.cli.feed.update``)."""
    from feedmgr.feed import fetch
    from feedmgr.feed.signing import load_public_key, read_key_file
    from feedmgr.render.json import dumps

    keys = [load_public_key(read_key_file(path), str(path)) for path in trust]
    client, index_url = _client(app, url, ca_bundle, proxy)
    with client:
        if check:
            found = fetch.check_update(app.home, client, index_url, prereleases=prereleases)
            fetch.save_cache(app.home, found.index.cache_updates)
            held = fetch.held_by_rollback(app.home, found, allow_rolled_back=allow_rolled_back)
            _show_check(found, held, index_url, output_format)
            return
        progress = _progress(app)
        try:
            outcome = fetch.online_update(
                app.home,
                client,
                index_url,
                extra_keys=keys,
                allow_unsigned=allow_unsigned,
                allow_downgrade=allow_downgrade,
                allow_rolled_back=allow_rolled_back,
                prereleases=prereleases,
                progress=progress,
            )
        finally:
            if progress is not None:
                progress.close()
    package = outcome.check.package
    _note_skipped(app, outcome.check.index.skipped_prerelease)
    # After a download the store's answer counts: another run may have changed it meanwhile.
    active = outcome.ingest.feed if outcome.ingest is not None else outcome.check.active
    if outcome.held is not None:
        _show_held(outcome.held, package, active, index_url, output_format)
        return
    if outcome.ingest is None or outcome.ingest.status == "unchanged":
        if output_format == "json":
            emit(dumps(_nothing_installed("unchanged", active, package, index_url)))
        else:
            version = active.version if active else None
            emit(f"unchanged: feed {version} is active; the index offers {package.version}\n")
        return
    ingest = outcome.ingest
    feed = ingest.feed
    for blob in ingest.repaired:
        app.note(f"repaired damaged blob {blob} with the bytes verified from {package.url}")
    previous = ingest.previous.version if ingest.previous else None
    download = outcome.download
    if output_format == "json":
        emit(
            dumps(
                {
                    "status": ingest.status.value,
                    "version": feed.version,
                    "previous": previous,
                    "publisher": feed.publisher,
                    "expires": feed.expires.isoformat(),
                    "signer": ingest.signed_by.fingerprint if ingest.signed_by else None,
                    "url": package.url,
                    "index": index_url,
                    "bytes": download.size if download else None,
                    "sha256": package.sha256,
                }
            )
        )
        return
    if ingest.status == "repaired":
        emit(
            join_lines([f"repaired: feed {feed.version} is active, its stored payload whole again"])
        )
        return
    signer = ingest.signed_by.short_id if ingest.signed_by else "UNSIGNED"
    # The publisher is signed text from the package: a line feed in it is escaped.
    emit(
        join_lines(
            [
                f"{ingest.status.value}: feed {feed.version} from {feed.publisher} "
                f"(signed by {signer}, expires {feed.expires:%Y-%m-%d}); "
                f"previous: {previous or 'none'}"
            ]
        )
    )


def _held_text(held: RollbackHold, package: PackageRef) -> str:
    return (
        f"held: the index offers feed {package.version}, but feed {held.version} was rolled "
        f"back from on {held.at:%Y-%m-%d}; not installing it (--allow-rolled-back, or a feed "
        f"newer than {held.version}, lifts the hold)"
    )


def _show_held(
    held: RollbackHold,
    package: PackageRef,
    active: StoredFeed | None,
    index_url: str,
    output_format: str,
) -> None:
    from feedmgr.render.json import dumps

    if output_format == "json":
        document = _nothing_installed("held", active, package, index_url)
        document |= {"held_version": held.version, "rolled_back_at": held.at.isoformat()}
        emit(dumps(document))
        return
    emit(join_lines([_held_text(held, package)]))


def _nothing_installed(
    status: str, active: StoredFeed | None, package: PackageRef, index_url: str
) -> dict[str, object]:
    """The JSON of an online update that installed nothing: the active feed stays."""
    version = active.version if active else None
    return {
        "status": status,
        "version": version,
        "previous": version,
        "available": package.version,
        "url": package.url,
        "index": index_url,
    }


def _skipped_text(skipped: PackageRef) -> str:
    return f"skipped: pre-release feed {skipped.version} is offered too (use --pre to take it)"


def _note_skipped(app: AppContext, skipped: PackageRef | None) -> None:
    if skipped is not None:
        app.note(_skipped_text(skipped))


def _show_check(
    found: UpdateCheck, held: RollbackHold | None, index_url: str, output_format: str
) -> None:
    from feedmgr.render.json import dumps

    active = found.active.version if found.active else None
    package = found.package
    skipped = found.index.skipped_prerelease
    status = "held" if held else "update-available" if found.newer else "up-to-date"
    if output_format == "json":
        emit(
            dumps(
                {
                    "status": status,
                    "active": active,
                    "available": package.version,
                    "url": package.url,
                    "sha256": package.sha256,
                    "length": package.length,
                    "index": index_url,
                    "documents": list(found.index.documents),
                    "not_modified": list(found.index.not_modified),
                    "skipped_prerelease": skipped.version if skipped else None,
                    "held_version": held.version if held else None,
                }
            )
        )
        return
    if held is not None:
        lines = [_held_text(held, package)]
    elif found.newer:
        lines = [f"update available: feed {package.version} (active: {active or 'none'})"]
    else:
        lines = [f"up to date: feed {active} is active; the index offers {package.version}"]
    if skipped is not None:
        lines.append(_skipped_text(skipped))
    emit(join_lines(lines))


@click.command(
    epilog="Example: feedmgr download -o posture-feed.zip --trust publisher.pub.pem\n\n"
    "Then, in the air-gapped network: feedmgr update --offline posture-feed.zip"
)
@url_option
@click.option(
    "-o",
    "--output",
    "output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the verified package (written atomically).",
)
@trust_option("Also trust this PEM public key (repeatable; the store's trusted keys always count).")
@ca_bundle_option
@proxy_option
@pre_option
@format_option
@click.pass_obj
def download(
    app: AppContext,
    *,
    url: str | None,
    output: Path,
    trust: tuple[Path, ...],
    ca_bundle: Path | None,
    proxy: str | None,
    prereleases: bool,
    output_format: str,
) -> None:
    """Download and verify the newest feed for an air-gapped network.

    The package is checked against the index (size, sha256, version) and verified
    completely (signature, dates, every payload file) before it is written.
    """
    from feedmgr.feed import fetch
    from feedmgr.feed.signing import load_public_key, read_key_file
    from feedmgr.render.json import dumps

    keys = [load_public_key(read_key_file(path), str(path)) for path in trust]
    client, index_url = _client(app, url, ca_bundle, proxy)
    progress = _progress(app)
    with client:
        try:
            fetched = fetch.download_newest(
                app.home,
                client,
                index_url,
                output,
                extra_keys=keys,
                prereleases=prereleases,
                progress=progress,
            )
        finally:
            if progress is not None:
                progress.close()
    _note_skipped(app, fetched.skipped_prerelease)
    manifest = fetched.signed.manifest
    signer = fetched.signed.signer
    if output_format == "json":
        emit(
            dumps(
                {
                    "output": str(output),
                    "version": manifest.version,
                    "publisher": manifest.publisher,
                    "expires": manifest.expires,
                    "signer": signer.fingerprint if signer else None,
                    "url": fetched.package.url,
                    "sha256": fetched.download.sha256,
                    "bytes": fetched.download.size,
                }
            )
        )
        return
    emit(
        f"downloaded {output}: feed {manifest.version} from {manifest.publisher}, "
        f"{fetched.download.size} bytes, signed by {signer.short_id if signer else 'UNSIGNED'}; "
        f"ingest it with 'feedmgr update --offline {output}'\n"
    )


def online_options(func: F) -> F:
    """The options of the online branch of ``update``: --url, --check, --ca-bundle, --proxy,
    --allow-rolled-back, --pre."""
    func = pre_option(func)
    func = click.option(
        "--allow-rolled-back",
        "allow_rolled_back",
        is_flag=True,
        help="Install the offered feed even when 'feedmgr rollback' left that version (or a "
        "newer one) since the last update.",
    )(func)
    func = proxy_option(func)
    func = ca_bundle_option(func)
    func = click.option(
        "--check",
        "check",
        is_flag=True,
        help="Only say whether the index offers a newer feed (exit 0); download nothing.",
    )(func)
    return url_option(func)
