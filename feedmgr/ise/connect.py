"""From a deployment file's ``[ise]`` section (or options) to a connected ``IseClient``."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from feedmgr.config import load_config
from feedmgr.deployment import DEFAULT_PASSWORD_ENV, IseSection, deployment_path
from feedmgr.errors import UsageError
from feedmgr.ise.client import Credentials, IseClient
from feedmgr.ise.url import check_ise_url
from feedmgr.net.transport import TransportSettings, environment_proxy, transport_settings

Prompt = Callable[[str], str]


@dataclass(frozen=True)
class IseTarget:
    """Where ISE is and how to log in (the password itself is resolved separately)."""

    url: str
    username: str
    password_env: str = DEFAULT_PASSWORD_ENV
    ca: Path | None = None

    @classmethod
    def from_section(cls, section: IseSection, base: Path) -> IseTarget:
        """The target a deployment file's ``[ise]`` names; ``ca`` relative to ``base``.

        Raises:
            UsageError: the URL is not https://HOST[:PORT].
        """
        ca = deployment_path(section.ca, base) if section.ca is not None else None
        check_ise_url(section.url, "[ise] url")
        return cls(section.url, section.username, section.password_env, ca)


def resolve_password(target: IseTarget, prompt: Prompt | None) -> str:
    """The password from ``$password_env``, else from ``prompt`` (which must not echo).

    Raises:
        UsageError: the variable is unset or empty and there is no way to prompt.
    """
    password = os.environ.get(target.password_env, "")
    if password:
        return password
    if prompt is None:
        raise UsageError(
            target.url,
            f"no ISE password: set the environment variable {target.password_env} "
            "or run interactively to be prompted",
        )
    password = prompt(f"ISE password for {target.username} at {target.url}")
    if not password:
        raise UsageError(target.url, "no ISE password given")
    return password


def ise_transport(home: Path, target: IseTarget, proxy: str | None) -> TransportSettings:
    """Transport settings as for every other command, with the ``[ise]`` CA bundle."""
    settings = transport_settings(load_config(home), ca_bundle=target.ca, proxy=proxy)
    return replace(settings, ca_setting="--ca-bundle FILE or set ca in [ise]")


def connect(
    home: Path, target: IseTarget, *, prompt: Prompt | None, proxy: str | None = None
) -> IseClient:
    """An ``IseClient`` for ``target`` (no traffic yet).

    Raises:
        UsageError: no password, a bad URL, CA bundle or proxy variable; InputRejected: a
            bad CA bundle.
    """
    # A bad URL or proxy variable is reported before anyone is asked for a password.
    check_ise_url(target.url, "[ise] url")
    settings = ise_transport(home, target, proxy)
    if settings.proxy is None:
        environment_proxy()
    credentials = Credentials(target.username, resolve_password(target, prompt))
    return IseClient(target.url, credentials, settings)
