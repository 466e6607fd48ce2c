"""``feedmgr ise nodes|certs|status``: what ISE itself reports (docs/ise.md)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from feedmgr.cli._common import AppContext, emit, format_option, secret_prompt
from feedmgr.escape import join_lines
from feedmgr.render.json import dumps
from feedmgr.render.text import aligned

if TYPE_CHECKING:
    from feedmgr.ise.client import IseClient

F = TypeVar("F", bound=Callable[..., Any])


def _connection_options(func: F) -> F:
    options = [
        click.option(
            "--deployment",
            "deployment_file",
            type=click.Path(dir_okay=False, path_type=Path),
            help="Read [ise] (url, username, password_env, ca) from this deployment file.",
        ),
        click.option("--url", "url", metavar="https://HOST", help="The ISE PAN (over [ise])."),
        click.option("--username", "username", help="The ISE admin user (over [ise])."),
        click.option(
            "--password-env",
            "password_env",
            metavar="NAME",
            help="Environment variable holding the password (default FEEDMGR_ISE_PASSWORD); "
            "without it, the password is prompted for.",
        ),
        click.option(
            "--ca-bundle",
            "ca_bundle",
            type=click.Path(dir_okay=False, path_type=Path),
            help="CA bundle that signed ISE's Admin certificate (over [ise] ca).",
        ),
        click.option("--proxy", "proxy", metavar="URL", help="HTTPS proxy to reach ISE."),
        format_option,
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _client(
    app: AppContext,
    *,
    deployment_file: Path | None,
    url: str | None,
    username: str | None,
    password_env: str | None,
    ca_bundle: Path | None,
    proxy: str | None,
) -> IseClient:
    from feedmgr.deployment import DEFAULT_PASSWORD_ENV, load_deployment
    from feedmgr.errors import UsageError
    from feedmgr.ise.connect import IseTarget, connect
    from feedmgr.net.urls import check_proxy_url

    section_target: IseTarget | None = None
    if deployment_file is not None:
        deployment = load_deployment(deployment_file)
        if deployment.ise is None and (url is None or username is None):
            raise UsageError(
                str(deployment_file), "has no [ise] section; give --url and --username"
            )
        if deployment.ise is not None:
            section_target = IseTarget.from_section(
                deployment.ise, deployment_file.resolve().parent
            )
    chosen_url = url or (section_target.url if section_target else None)
    chosen_user = username or (section_target.username if section_target else None)
    if not chosen_url or not chosen_user:
        raise UsageError("ise", "name ISE with --deployment FILE, or with --url and --username")
    target = IseTarget(
        chosen_url,
        chosen_user,
        password_env or (section_target.password_env if section_target else DEFAULT_PASSWORD_ENV),
        ca_bundle or (section_target.ca if section_target else None),
    )
    if proxy is not None:
        check_proxy_url(proxy, "--proxy")
    return connect(app.home, target, prompt=secret_prompt(), proxy=proxy)


@click.group("ise")
def ise_group() -> None:
    """Show what ISE itself reports: nodes, system certificates, posture settings.

    Needs Open API (and ERS for `status`) enabled on ISE and an account in the ERS Operator
    admin group; docs/ise.md says how. Exit 4 when ISE cannot be reached or refuses the
    call, 3 when it answers something that does not follow Cisco's published schema.
    """


@ise_group.command("nodes", epilog="Example: feedmgr ise nodes --deployment deployment.toml")
@_connection_options
@click.pass_obj
def nodes(app: AppContext, /, *, output_format: str, **connection: Any) -> None:
    """List the deployment's nodes; PSN marks nodes that run the Session service."""
    with _client(app, **connection) as client:
        found = client.nodes()
    if output_format == "json":
        rows = [{**node.model_dump(by_alias=True), "psn": node.is_psn} for node in found]
        emit(dumps({"nodes": rows}))
        return
    emit(
        _table(
            ["HOSTNAME", "FQDN", "IP", "PSN", "STATUS", "ROLES", "SERVICES"],
            [
                [
                    node.hostname,
                    node.fqdn,
                    node.ip_address,
                    "yes" if node.is_psn else "no",
                    node.node_status or "-",
                    ", ".join(node.roles) or "-",
                    ", ".join(node.services) or "-",
                ]
                for node in found
            ],
        )
    )


@ise_group.command("certs", epilog="Example: feedmgr ise certs --deployment deployment.toml psn1")
@click.argument("hostnames", nargs=-1)
@_connection_options
@click.pass_obj
def certs(
    app: AppContext, /, *, hostnames: tuple[str, ...], output_format: str, **connection: Any
) -> None:
    """List the system certificates of the named nodes (default: every node), all pages."""
    with _client(app, **connection) as client:
        names = list(hostnames) or [node.hostname for node in client.nodes()]
        found = {name: client.system_certificates(name) for name in names}
    if output_format == "json":
        document = {
            "nodes": [
                {"hostname": name, "certificates": [c.model_dump(by_alias=True) for c in items]}
                for name, items in found.items()
            ]
        }
        emit(dumps(document))
        return
    rows = [
        [
            name,
            cert.friendly_name or "-",
            cert.used_by or "-",
            cert.expiration_date or "-",
            str(cert.key_size) if cert.key_size is not None else "-",
            cert.signature_algorithm or "-",
            "yes" if cert.self_signed else "no",
        ]
        for name, items in found.items()
        for cert in items
    ]
    emit(
        _table(
            ["NODE", "FRIENDLY NAME", "USED BY", "EXPIRES", "KEY", "SIGNATURE", "SELF-SIGNED"], rows
        )
    )


@ise_group.command("status", epilog="Example: feedmgr ise status --deployment deployment.toml")
@_connection_options
@click.pass_obj
def status(app: AppContext, /, *, output_format: str, **connection: Any) -> None:
    """Show the proxy ISE uses for updates and the posture information ERS reports."""
    with _client(app, **connection) as client:
        proxy = client.proxy()
        info = client.deployment_info().info
    entries = info.posture_info.content if info.posture_info else []
    if output_format == "json":
        document = {
            "proxy": proxy.model_dump(by_alias=True),
            "posture_info": [entry.model_dump(by_alias=True) for entry in entries],
        }
        emit(dumps(document))
        return
    lines = []
    if proxy.fqdn:
        user = f" as {proxy.user_name}" if proxy.user_name else ""
        lines.append(f"proxy: {proxy.fqdn}:{proxy.port if proxy.port is not None else '-'}{user}")
        if proxy.bypass_hosts:
            lines.append(f"proxy bypass: {proxy.bypass_hosts}")
    else:
        lines.append("proxy: none (ISE connects directly)")
    if not entries:
        lines.append("posture info: none reported")
    for entry in entries:
        value = json.dumps(entry.value, sort_keys=True) if entry.value is not None else "-"
        lines.append(f"posture info: {entry.name or '(unnamed)'} = {value}")
    emit(join_lines(lines))


def _table(headers: list[str], rows: list[list[str]]) -> str:
    if not rows:
        return "(none)\n"
    return join_lines(aligned([headers, *rows]))
