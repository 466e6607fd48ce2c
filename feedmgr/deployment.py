"""The deployment file ``preflight`` reads (TOML; documented in docs/preflight.md).

Paths in the file are relative to the file's own folder. Every section is optional; a
section that is present is checked, one that is absent is skipped (and said so).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, ValidationError, field_validator, model_validator

from feedmgr.errors import InputRejected, SchemaError, UsageError
from feedmgr.feed._model import EdgeModel
from feedmgr.feed.manifest import describe_validation_error
from feedmgr.ise.url import check_ise_url
from feedmgr.osmatrix.lag import DEFAULT_MAX_DAYS, DEFAULT_STALE_DAYS
from feedmgr.textio import decode_text

# The name of an environment variable, not a password.
DEFAULT_PASSWORD_ENV = "FEEDMGR_ISE_PASSWORD"  # noqa: S105

Days = Annotated[int, Field(ge=1, le=3650)]
Port = Annotated[int, Field(ge=1, le=65535)]


class FeedSection(EdgeModel):
    """Which feed to check and how old things may be."""

    package: str | None = None
    trust: list[str] = Field(default_factory=list)
    allow_unsigned: bool = False
    max_lag_days: Days = DEFAULT_MAX_DAYS
    stale_days: Days = DEFAULT_STALE_DAYS
    releases: list[str] = Field(default_factory=list)
    shipped_releases: bool = True


class ProvisioningSection(EdgeModel):
    """The client-provisioning policy and, optionally, the endpoint inventory."""

    policy: str
    inventory: str | None = None
    preset: Literal["generic", "ise"] = "generic"
    os_column: str | None = None
    group_column: str | None = None
    groups: list[str] = Field(default_factory=list)


class PsnSection(EdgeModel):
    """One Policy Service Node: how agents find it and which certificates it presents."""

    name: Annotated[str, Field(min_length=1)]
    fqdn: str | None = None
    ips: list[str] = Field(default_factory=list)
    discovery: Literal["fqdn", "ip", "both"] = "fqdn"
    probe_ports: list[Port] = Field(default_factory=list)
    certificates: list[str] = Field(default_factory=list)
    chain: list[str] = Field(default_factory=list)
    ca: list[str] = Field(default_factory=list)
    public_ca: bool = False
    timeout: Annotated[float, Field(gt=0, le=120)] = 5.0

    @model_validator(mode="after")
    def _identity_matches_discovery(self) -> PsnSection:
        if self.discovery in ("fqdn", "both") and not self.fqdn:
            raise ValueError(f"psn {self.name!r}: discovery by FQDN needs 'fqdn'")
        if self.discovery in ("ip", "both") and not self.ips:
            raise ValueError(f"psn {self.name!r}: discovery by IP needs 'ips'")
        if not self.probe_ports and not self.certificates:
            raise ValueError(f"psn {self.name!r}: give 'probe_ports' or 'certificates'")
        return self


class PostureSection(EdgeModel):
    """macOS service conditions and, optionally, captured launchctl output to evaluate."""

    conditions: Annotated[list[str], Field(min_length=1)]
    dumpstate: list[str] = Field(default_factory=list)
    # "launchctl list" captures: FILE (system domain) or DOMAIN=FILE, as `posture eval --list`.
    lists: list[str] = Field(default_factory=list, alias="list")
    prints: list[str] = Field(default_factory=list, alias="print")
    identity_group: str | None = None
    # Bundles from 'posture collect-script --bundle': folders and/or .tar.gz / .zip archives.
    fleet: list[str] | str = Field(default_factory=list)
    fleet_max_age_days: Days = 14
    fleet_fail_over: Annotated[float, Field(ge=0, le=100)] = 0.0

    @property
    def fleet_paths(self) -> list[str]:
        """``fleet`` as a list (one path may be given as a plain string)."""
        return [self.fleet] if isinstance(self.fleet, str) else list(self.fleet)


class IseSection(EdgeModel):
    """The ISE deployment to read nodes and certificates from (docs/ise.md).

    The password is never read from the file: it comes from the environment variable
    ``password_env`` names, or from a prompt.
    """

    url: Annotated[str, Field(min_length=1)]
    username: Annotated[str, Field(min_length=1)]
    password_env: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] = DEFAULT_PASSWORD_ENV
    ca: str | None = None
    # Preflight: how to grade the PSNs ISE lists (docs/ise.md).
    probe: bool = True
    portal_port: Port = 8443
    admin_port: Port = 443
    psn_ca: list[str] = Field(default_factory=list)
    public_ca: bool = False
    timeout: Annotated[float, Field(gt=0, le=120)] = 5.0
    # The identities graded, as [[psn]] discovery: the node's fqdn, its ipAddress, or both.
    discovery: Literal["fqdn", "ip", "both"] = "fqdn"

    @field_validator("url")
    @classmethod
    def _ise_url(cls, value: str) -> str:
        # The rule of 'feedmgr ise --url', checked when the file is read: an invalid file is
        # exit 3, not a section that cannot run. Its message never repeats a password.
        try:
            check_ise_url(value, "url")
        except UsageError as exc:
            raise ValueError(exc.problem) from None
        return value

    @model_validator(mode="before")
    @classmethod
    def _no_password_in_file(cls, data: object) -> object:
        if isinstance(data, dict) and "password" in data:
            # The value is deliberately left out of the message.
            raise ValueError(
                "password: a password is never read from the deployment file; set "
                "password_env to the name of an environment variable that holds it, or "
                "leave it out to be prompted"
            )
        return data


class Deployment(EdgeModel):
    """A whole deployment description."""

    # A refused [ise] url or password key must not reappear in a --debug traceback: the
    # one-line error never repeats it, and pydantic's own message would quote the input.
    model_config = ConfigDict(hide_input_in_errors=True)

    name: str = "deployment"
    feed: FeedSection = Field(default_factory=FeedSection)
    provisioning: ProvisioningSection | None = None
    psn: list[PsnSection] = Field(default_factory=list)
    posture: PostureSection | None = None
    ise: IseSection | None = None


def load_deployment(path: Path) -> Deployment:
    """Read and validate a deployment file.

    Raises:
        InputRejected: unreadable file, not TOML, or not following the schema.
    """
    try:
        text = decode_text(path.read_bytes())
    except OSError as exc:
        raise InputRejected(str(path), f"cannot read the file ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise InputRejected(str(path), "not UTF-8 text") from exc
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SchemaError(str(path), f"not valid TOML: {exc}") from exc
    try:
        deployment = Deployment.model_validate(document)
    except ValidationError as exc:
        raise SchemaError(str(path), describe_validation_error(exc, Deployment)) from exc
    if deployment.posture is not None:
        _check_captures(deployment.posture, path)
    return deployment


def _check_captures(posture: PostureSection, path: Path) -> None:
    """Reject a ``list`` / ``print`` value whose prefix is not a launchd domain or print
    target now, naming the field: found at run time it would stop the whole posture section.
    Files are only looked for where a value could be a file name holding ``=``; a missing
    capture stays a finding of the run.

    Raises:
        SchemaError: naming ``posture.list.N`` or ``posture.print.N``.
    """
    if not posture.lists and not posture.prints:
        return
    from feedmgr.errors import UsageError
    from feedmgr.posture.collect import list_target, print_target

    base = path.resolve().parent
    for index, value in enumerate(posture.lists):
        try:
            list_target(value, base)
        except UsageError as exc:
            raise SchemaError(str(path), f"posture.list.{index}: {exc.problem}") from exc
    for index, value in enumerate(posture.prints):
        try:
            print_target(value, base)
        except UsageError as exc:
            raise SchemaError(str(path), f"posture.print.{index}: {exc.problem}") from exc


def deployment_path(value: str, base: Path) -> Path:
    """A path as a deployment file writes it: ``~`` expanded, relative to ``base`` (the
    file's folder)."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path
