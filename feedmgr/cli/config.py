"""``feedmgr config``: show and change the settings in ``config.toml`` of the home dir."""

from __future__ import annotations

import click

from feedmgr.cli._common import AppContext, emit, format_option
from feedmgr.escape import join_lines

# Kept here (not imported from feedmgr.config) only to build the click choices cheaply; a
# test checks that both lists agree.
KEYS = (
    "feed.url",
    "feed.ca_bundle",
    "feed.proxy",
    "feed.max_download_bytes",
    "network.deadline",
    "network.min_rate",
    "releases.sofa_url",
    "releases.windows_url",
)

key_argument = click.argument("key", type=click.Choice(KEYS), metavar="KEY")


def _shown(key: str, value: object) -> object:
    """A value as printed: every URL through the one redaction (a password never shows)."""
    from feedmgr.net.urls import redact_url

    return redact_url(value) if isinstance(value, str) else value


@click.group(epilog="Example: feedmgr config set feed.url https://feeds.example.net/index.xml")
def config() -> None:
    """Show and change settings (config.toml in the home dir)."""


@config.command("set", epilog="Example: feedmgr config set feed.proxy http://proxy:3128")
@key_argument
@click.argument("value")
@format_option
@click.pass_obj
def set_(app: AppContext, *, key: str, value: str, output_format: str) -> None:
    """Set KEY to VALUE (checked first; the file is rewritten atomically)."""
    from feedmgr.config import set_setting
    from feedmgr.render.json import dumps

    stored = set_setting(app.home, key, value).get(key)
    if output_format == "json":
        emit(dumps({"key": key, "value": _shown(key, stored), "source": "config"}))
    else:
        emit(f"{key} = {_shown(key, stored)}\n")


@config.command("unset", epilog="Example: feedmgr config unset feed.proxy")
@key_argument
@format_option
@click.pass_obj
def unset(app: AppContext, *, key: str, output_format: str) -> None:
    """Remove KEY from the file: it falls back to its default."""
    from feedmgr.config import unset_setting
    from feedmgr.render.json import dumps

    current = unset_setting(app.home, key)
    value = current.get(key)
    if output_format == "json":
        emit(dumps({"key": key, "value": _shown(key, value), "source": "default"}))
    else:
        emit(f"{key} unset (default: {_shown(key, value) if value is not None else 'none'})\n")


@config.command("get", epilog="Example: feedmgr config get feed.url")
@key_argument
@format_option
@click.pass_obj
def get(app: AppContext, *, key: str, output_format: str) -> None:
    """Print the value of KEY (its default when it is not set; nothing when it has none)."""
    from feedmgr.config import load_config
    from feedmgr.render.json import dumps

    current = load_config(app.home)
    value = current.get(key)
    if output_format == "json":
        emit(dumps({"key": key, "value": _shown(key, value), "source": current.source(key)}))
    elif value is not None:
        emit(f"{_shown(key, value)}\n")


@config.command("list", epilog="Example: feedmgr config list --format json")
@format_option
@click.pass_obj
def list_(app: AppContext, *, output_format: str) -> None:
    """List every setting with its value and where it comes from (config or default)."""
    from feedmgr.config import SETTINGS, load_config
    from feedmgr.render.json import dumps

    current = load_config(app.home)
    if output_format == "json":
        emit(
            dumps(
                {
                    key: {"value": _shown(key, current.get(key)), "source": current.source(key)}
                    for key in SETTINGS
                }
            )
        )
        return
    lines = []
    for key in SETTINGS:
        value = current.get(key)
        text = "(not set)" if value is None else str(_shown(key, value))
        lines.append(f"{key} = {text}  [{current.source(key)}]")
    emit(join_lines(lines))
