"""``feedmgr trust``: the publisher keys feeds must be signed with."""

from __future__ import annotations

from pathlib import Path

import click

from feedmgr.cli._common import AppContext, emit, format_option
from feedmgr.escape import join_lines

_MIN_PREFIX_DIGITS = 4


@click.group(epilog="Example: feedmgr trust add publisher.pub.pem --name cisco-posture")
def trust() -> None:
    """Manage trusted feed publisher keys (PEM public keys)."""


@trust.command("add", epilog="Example: feedmgr trust add publisher.pub.pem --name vendor")
@click.argument("key_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--name", "name", default="", help="A label for the key (default: file name).")
@format_option
@click.pass_obj
def add(app: AppContext, *, key_file: Path, name: str, output_format: str) -> None:
    """Trust a publisher public key for every later update."""
    from dataclasses import replace

    from feedmgr.feed.signing import load_public_key, read_key_file
    from feedmgr.feed.store import FeedStore
    from feedmgr.render.json import dumps

    key = load_public_key(read_key_file(key_file), str(key_file))
    key = replace(key, name=name or key_file.name)
    with FeedStore(app.home).writer() as writer:
        added = writer.add_key(key)
    if output_format == "json":
        emit(dumps({"added": added, "fingerprint": key.fingerprint, "algorithm": key.algorithm}))
    elif added:
        emit(join_lines([f"trusted {key.fingerprint} ({key.algorithm}) as {key.name!r}"]))
    else:
        emit(join_lines([f"already trusted: {key.fingerprint}"]))


@trust.command("list", epilog="Example: feedmgr trust list --format json")
@format_option
@click.pass_obj
def list_keys(app: AppContext, *, output_format: str) -> None:
    """List trusted publisher keys."""
    from feedmgr.feed.store import FeedStore
    from feedmgr.render.json import dumps

    keys = FeedStore(app.home).trusted_keys()
    if output_format == "json":
        emit(
            dumps(
                [
                    {"fingerprint": k.fingerprint, "algorithm": k.algorithm, "name": k.name}
                    for k in keys
                ]
            )
        )
    elif not keys:
        emit("no trusted publisher keys; add one with 'feedmgr trust add KEY.pem'\n")
    else:
        emit(join_lines(f"{k.fingerprint}  {k.algorithm:<22} {k.name}" for k in keys))


@trust.command("remove", epilog="Example: feedmgr trust remove sha256:3f9a1c07")
@click.argument("key_ref")
@click.pass_obj
def remove(app: AppContext, *, key_ref: str) -> None:
    """Stop trusting a key, named by fingerprint (or a unique prefix of at least 4 hex
    digits) or by name."""
    from feedmgr.errors import UsageError
    from feedmgr.feed.store import FeedStore

    store = FeedStore(app.home)
    keys = store.trusted_keys()
    matches = [k for k in keys if k.name == key_ref]
    if not matches:
        wanted = key_ref.removeprefix("sha256:").lower()
        is_hex = bool(wanted) and all(ch in "0123456789abcdef" for ch in wanted)
        # Fewer digits than this are too easily a typo that names another key; a unique
        # longer prefix is what git and ssh-keygen users expect to type.
        if is_hex and len(wanted) < _MIN_PREFIX_DIGITS:
            raise UsageError(
                key_ref,
                f"give at least {_MIN_PREFIX_DIGITS} hex digits of the fingerprint "
                "(or the key's name; see 'feedmgr trust list')",
            )
        if is_hex:
            matches = [k for k in keys if k.fingerprint.removeprefix("sha256:").startswith(wanted)]
    if not matches:
        raise UsageError(
            key_ref,
            "no trusted key has this fingerprint, fingerprint prefix or name "
            "(see 'feedmgr trust list')",
        )
    if len(matches) > 1:
        raise UsageError(key_ref, f"matches {len(matches)} keys; give more of the fingerprint")
    with store.writer() as writer:
        writer.remove_key(matches[0].fingerprint)
    emit(join_lines([f"removed {matches[0].fingerprint} ({matches[0].name})"]))
