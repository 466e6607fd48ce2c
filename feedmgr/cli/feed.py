"""Commands that change or show the feed store: update, status, history, rollback, feed."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from feedmgr.cli._common import AppContext, emit, format_option
from feedmgr.cli._common import trust_option as shared_trust_option
from feedmgr.cli.download import online_options
from feedmgr.cli.feed_diff import diff
from feedmgr.escape import join_lines

if TYPE_CHECKING:
    from feedmgr.feed.signing import TrustedKey

_UNSIGNED_WARNING = (
    "--allow-unsigned: the feed's signature is NOT verified; anyone could have written it. "
    "Use this only for feeds you built yourself."
)


def _extra_keys(paths: Sequence[Path]) -> list[TrustedKey]:
    from feedmgr.feed.signing import load_public_key, read_key_file

    return [load_public_key(read_key_file(path), str(path)) for path in paths]


trust_option = shared_trust_option("Also trust this PEM public key for this run (repeatable).")
unsigned_option = click.option(
    "--allow-unsigned",
    "allow_unsigned",
    is_flag=True,
    help="Accept a feed without a valid signature (loudly warned; not for production).",
)


@click.command(
    epilog="Examples: feedmgr update --offline posture-feed.zip --trust publisher.pub.pem\n\n"
    "feedmgr update --check --format json"
)
@click.option(
    "--offline",
    "offline",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Ingest this feed package (zip) instead of fetching online.",
)
@online_options
@trust_option
@unsigned_option
@click.option(
    "--allow-downgrade",
    "allow_downgrade",
    is_flag=True,
    help="Accept a feed older than the active one.",
)
@format_option
@click.pass_obj
def update(
    app: AppContext,
    *,
    offline: Path | None,
    trust: tuple[Path, ...],
    allow_unsigned: bool,
    allow_downgrade: bool,
    output_format: str,
    url: str | None,
    check: bool,
    ca_bundle: Path | None,
    proxy: str | None,
    allow_rolled_back: bool,
    prereleases: bool,
) -> None:
    """Verify a posture feed and make it the active one.

    Without --offline, the feed index is fetched over HTTPS and the newest package is
    downloaded when it is newer than the active feed. Every check (archive safety, digests,
    signature, schemas, expiry, version order) passes before anything becomes visible; on
    any failure the store is left exactly as it was.
    """
    from feedmgr.errors import UsageError
    from feedmgr.feed.ingest import ingest_package
    from feedmgr.feed.store import FeedStore
    from feedmgr.render.json import dumps

    if offline is None:
        from feedmgr.cli.download import online_update

        online_update(
            app,
            url=url,
            check=check,
            ca_bundle=ca_bundle,
            proxy=proxy,
            trust=trust,
            allow_unsigned=allow_unsigned,
            allow_downgrade=allow_downgrade,
            allow_rolled_back=allow_rolled_back,
            prereleases=prereleases,
            output_format=output_format,
        )
        return
    online_only = (url, ca_bundle, proxy)
    if any(v is not None for v in online_only) or check or prereleases or allow_rolled_back:
        raise UsageError(
            "update",
            "--url, --check, --ca-bundle, --proxy, --pre and --allow-rolled-back are for "
            "online updates",
        )
    if allow_unsigned:
        app.warn(_UNSIGNED_WARNING)
    outcome = ingest_package(
        FeedStore(app.home),
        offline,
        extra_keys=_extra_keys(trust),
        allow_unsigned=allow_unsigned,
        allow_downgrade=allow_downgrade,
    )
    feed = outcome.feed
    for blob in outcome.repaired:
        app.note(f"repaired damaged blob {blob} with the bytes verified from {offline}")
    previous = outcome.previous.version if outcome.previous else None
    signer = outcome.signed_by.short_id if outcome.signed_by else "UNSIGNED"
    if output_format == "json":
        emit(
            dumps(
                {
                    "status": outcome.status.value,
                    "version": feed.version,
                    "previous": previous,
                    "publisher": feed.publisher,
                    "expires": feed.expires.isoformat(),
                    "signer": outcome.signed_by.fingerprint if outcome.signed_by else None,
                }
            )
        )
        return
    if outcome.status == "unchanged":
        emit(join_lines([f"unchanged: feed {feed.version} is already active"]))
        return
    if outcome.status == "repaired":
        emit(
            join_lines([f"repaired: feed {feed.version} is active, its stored payload whole again"])
        )
        return
    # The publisher is signed text from the package: a line feed in it is escaped.
    emit(
        join_lines(
            [
                f"{outcome.status.value}: feed {feed.version} from {feed.publisher} "
                f"(signed by {signer}, expires {feed.expires:%Y-%m-%d}); "
                f"previous: {previous or 'none'}"
            ]
        )
    )


@click.command(epilog="Example: feedmgr status --verify --format json")
@click.option(
    "--verify", "verify", is_flag=True, help="Re-hash every payload file of the active feed."
)
@format_option
@click.pass_obj
def status(app: AppContext, *, verify: bool, output_format: str) -> None:
    """Show the active feed: version, publisher, dates, age and what it carries."""
    from feedmgr.errors import ExitCode
    from feedmgr.feed.lifecycle import status as store_status
    from feedmgr.feed.store import FeedStore
    from feedmgr.render.json import dumps

    summary = store_status(FeedStore(app.home), verify=verify)
    if output_format == "json":
        emit(dumps(summary.to_json()))
    elif summary.active is None:
        emit(f"no active feed in {app.home}; ingest one with 'feedmgr update --offline FEED.zip'\n")
    else:
        feed = summary.active
        lines = [
            f"active feed: {feed.version}",
            f"  publisher:  {feed.publisher}",
            f"  signed by:  {feed.signer or 'UNSIGNED (accepted with --allow-unsigned)'}",
            f"  published:  {feed.published:%Y-%m-%d %H:%M} UTC ({summary.age_days} days ago)",
            f"  expires:    {feed.expires:%Y-%m-%d %H:%M} UTC (in {summary.expires_in_days} days)",
            f"  stored:     {summary.stored} version(s) in {app.home}",
        ]
        lines += [
            f"  {name.replace('_', ' ') + ':':<11} {count}"
            for name, count in summary.counts.items()
        ]
        if summary.damaged is not None:
            lines.append(
                "  integrity:  ok"
                if not summary.damaged
                else f"  integrity:  DAMAGED: {', '.join(summary.damaged)}"
            )
        emit(join_lines(lines))
    if summary.damaged:
        raise click.exceptions.Exit(int(ExitCode.STORE))


@click.command(epilog="Example: feedmgr history --format json")
@format_option
@click.pass_obj
def history(app: AppContext, *, output_format: str) -> None:
    """List stored feeds and every activation (updates and rollbacks), oldest first."""
    from feedmgr.feed.lifecycle import feed_document
    from feedmgr.feed.store import FeedStore
    from feedmgr.render.json import dumps

    store = FeedStore(app.home)
    feeds = store.feeds()
    activations = store.activations()
    if output_format == "json":
        emit(
            dumps(
                {
                    "feeds": [feed_document(f) for f in feeds],
                    "activations": [
                        {
                            "at": a.at.isoformat(),
                            "action": a.action,
                            "version": a.version,
                            "previous": a.previous_version,
                        }
                        for a in activations
                    ],
                }
            )
        )
        return
    if not activations:
        emit("no feeds in the store yet\n")
        return
    active = activations[-1].version
    lines = ["stored feeds:"]
    for feed in feeds:
        mark = "*" if feed.version == active else " "
        lines.append(
            f" {mark} {feed.version:<16} published {feed.published:%Y-%m-%d}  "
            f"expires {feed.expires:%Y-%m-%d}  {feed.publisher}"
        )
    lines.append("activations:")
    for a in activations:
        was = f" (was {a.previous_version})" if a.previous_version else ""
        lines.append(f"   {a.at:%Y-%m-%d %H:%M:%S}  {a.action:<8} {a.version}{was}")
    emit(join_lines(lines))


@click.command(epilog="Example: feedmgr rollback 2026.10.01")
@click.argument("version", required=False)
@format_option
@click.pass_obj
def rollback(app: AppContext, *, version: str | None, output_format: str) -> None:
    """Activate an earlier stored feed (default: the one active before the current one).

    Nothing is re-ingested: the stored payload is re-hashed and switched to atomically.
    """
    from datetime import UTC, datetime

    from feedmgr.feed.lifecycle import rollback as store_rollback
    from feedmgr.feed.store import FeedStore
    from feedmgr.render.json import dumps

    target, replaced = store_rollback(FeedStore(app.home), version)
    if target.expires <= datetime.now(UTC):
        app.warn(f"feed {target.version} expired on {target.expires:%Y-%m-%d}; update soon")
    unchanged = replaced is not None and replaced.id == target.id
    if output_format == "json":
        emit(
            dumps(
                {
                    "status": "unchanged" if unchanged else "rolled-back",
                    "version": target.version,
                    "previous": replaced.version if replaced else None,
                }
            )
        )
    elif unchanged:
        emit(join_lines([f"unchanged: feed {target.version} is already active"]))
    else:
        was = replaced.version if replaced else "none"
        emit(join_lines([f"rolled back: feed {target.version} is active (was {was})"]))


@click.group()
def feed() -> None:
    """Build, verify and compare feed packages."""


@feed.command(
    "build",
    epilog="Example: feedmgr feed build feeds/sample/src -o feed.zip --key publisher.key.pem",
)
@click.argument("src", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option(
    "-o",
    "--output",
    "output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the package (its folder must exist).",
)
@click.option(
    "--key",
    "key",
    required=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Publisher private key (PEM, unencrypted).",
)
@format_option
def build(*, src: Path, output: Path, key: Path, output_format: str) -> None:
    """Build a deterministic, signed feed package from a source folder."""
    from feedmgr.errors import UsageError
    from feedmgr.feed.build import build_package
    from feedmgr.feed.signing import load_private_key, public_key_of, read_key_file
    from feedmgr.render.json import dumps

    # A mistyped -o folder would otherwise be created, and the package lost in it.
    folder = output.parent
    if not folder.is_dir():
        raise UsageError(str(folder), "no such folder for the package")
    private_key = load_private_key(read_key_file(key), str(key))
    manifest = build_package(src, output, private_key)
    signer = public_key_of(private_key)
    if output_format == "json":
        emit(
            dumps(
                {
                    "output": str(output),
                    "version": manifest.version,
                    "files": len(manifest.files),
                    "signer": signer.fingerprint,
                }
            )
        )
    else:
        emit(
            join_lines(
                [
                    f"built {output}: feed {manifest.version}, {len(manifest.files)} payload "
                    f"files, signed by {signer.short_id} ({signer.algorithm})"
                ]
            )
        )


@feed.command("verify", epilog="Example: feedmgr feed verify posture-feed.zip --trust pub.pem")
@click.argument("package", type=click.Path(dir_okay=False, path_type=Path))
@trust_option
@unsigned_option
@format_option
@click.pass_obj
def verify(
    app: AppContext,
    *,
    package: Path,
    trust: tuple[Path, ...],
    allow_unsigned: bool,
    output_format: str,
) -> None:
    """Verify a feed package completely without ingesting it (exit 0 valid, 3 rejected)."""
    from feedmgr.feed.package import verify_package
    from feedmgr.feed.store import FeedStore
    from feedmgr.render.json import dumps

    if allow_unsigned:
        app.warn(_UNSIGNED_WARNING)
    keys = [*FeedStore(app.home).trusted_keys(), *_extra_keys(trust)]
    signed = verify_package(package, keys, allow_unsigned=allow_unsigned)
    manifest = signed.manifest
    if output_format == "json":
        emit(
            dumps(
                {
                    "valid": True,
                    "version": manifest.version,
                    "publisher": manifest.publisher,
                    "published": manifest.published,
                    "expires": manifest.expires,
                    "signer": signed.signer.fingerprint if signed.signer else None,
                    "files": len(manifest.files),
                }
            )
        )
    else:
        signer = signed.signer.short_id if signed.signer else "UNSIGNED"
        # Publisher and dates are signed text from the package: a line feed in them is escaped.
        emit(
            join_lines(
                [
                    f"valid: {package}: feed {manifest.version} from {manifest.publisher}, "
                    f"{len(manifest.files)} payload files, signed by {signer}, "
                    f"expires {manifest.expires}"
                ]
            )
        )


feed.add_command(diff)
