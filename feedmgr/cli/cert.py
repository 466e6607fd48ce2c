"""``feedmgr cert``: grade PSN certificates the way the posture agent's platforms will."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from feedmgr.cli._common import AppContext, F, finish_report, format_option

if TYPE_CHECKING:
    from feedmgr.certs.grade import GradeOptions
    from feedmgr.certs.identity import IpReference, Reference

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def grading_options(func: F) -> F:
    """``--ca``, ``--public-ca`` and ``--at``: the grading options ``check`` and ``probe``
    share."""
    func = click.option(
        "--at", "at", metavar="DATE", help="Grade as of this ISO date/time instead of now."
    )(func)
    func = click.option(
        "--public-ca",
        "public_ca",
        is_flag=True,
        help="The CA is publicly trusted: apply the 398-day and SC-081 limits.",
    )(func)
    return click.option(
        "--ca",
        "ca_files",
        multiple=True,
        type=_FILE,
        help="Trust anchor file (default: the system store); repeatable.",
    )(func)


def _options(at: str | None, public_ca: bool) -> GradeOptions:
    import datetime as dt

    from feedmgr.certs.checks import parse_at
    from feedmgr.certs.grade import GradeOptions

    now = parse_at(at) if at else dt.datetime.now(dt.UTC)
    return GradeOptions(now=now, public_ca=public_ca)


def _ips(values: tuple[str, ...]) -> list[IpReference]:
    from feedmgr.certs.identity import IpReference, parse_ip
    from feedmgr.errors import UsageError

    refs = []
    for value in values:
        address = parse_ip(value)
        if address is None:
            raise UsageError(f"--ip {value}", "not an IPv4 or IPv6 address")
        refs.append(IpReference(address))
    return refs


@click.group(
    epilog="Example: feedmgr cert check psn.pem --host psn1.corp.example --ca root.pem",
)
def cert() -> None:
    """Grade PSN certificates for the posture agent (files or live servers)."""


@cert.command(
    "check",
    epilog="Example: feedmgr cert check psn.pem --chain ca-chain.p7b "
    "--host psn1.corp.example --ip 10.1.1.21 --ca root.pem",
)
@click.argument("cert_file", metavar="CERT", type=_FILE)
@click.option(
    "--chain",
    "chain_files",
    multiple=True,
    type=_FILE,
    help="More chain certificates (PEM, DER, PKCS#7); repeatable.",
)
@click.option(
    "--host",
    "hosts",
    multiple=True,
    metavar="FQDN",
    help="A name the agent uses for the PSN; repeatable.",
)
@click.option(
    "--ip",
    "ips",
    multiple=True,
    metavar="ADDR",
    help="An IP address the agent uses for the PSN; repeatable.",
)
@grading_options
@format_option
@click.pass_obj
def check(
    app: AppContext,
    *,
    cert_file: Path,
    chain_files: tuple[Path, ...],
    hosts: tuple[str, ...],
    ips: tuple[str, ...],
    ca_files: tuple[Path, ...],
    public_ca: bool,
    at: str | None,
    output_format: str,
) -> None:
    """Grade a certificate file (PEM, DER or PKCS#7; the leaf is found, not assumed first).

    Give every FQDN (--host) and IP (--ip) the posture agent uses to reach this PSN.
    Exit 1 when a check fails, 3 when a file cannot be read as certificates.
    """
    from feedmgr.certs.grade import check_files
    from feedmgr.certs.identity import reference
    from feedmgr.errors import UsageError

    if not hosts and not ips:
        raise UsageError("cert check", "give at least one --host FQDN or --ip ADDR")
    refs: list[Reference] = []
    for ref in [*(reference(h) for h in hosts), *_ips(ips)]:
        if ref not in refs:  # PSN1.corp.example and psn1.corp.example. are one identity
            refs.append(ref)
    report = check_files(cert_file, chain_files, refs, ca_files, _options(at, public_ca))
    finish_report(report, output_format)


@cert.command(
    "probe",
    epilog="Example: feedmgr cert probe psn1.corp.example:8443 psn1.corp.example:8905 "
    "10.1.1.21:443 --ca root.pem   (or: feedmgr cert probe psn1.corp.example --posture-ports)",
)
@click.argument("targets", metavar="HOST[:PORT]...", nargs=-1, required=True)
@click.option(
    "--servername",
    "servername",
    metavar="NAME",
    help="SNI name to send; also the name graded (default: HOST).",
)
@click.option(
    "--ip",
    "ips",
    multiple=True,
    metavar="ADDR",
    help="An IP address the agent also uses for the PSN; repeatable.",
)
@click.option(
    "--posture-ports",
    "posture_ports",
    is_flag=True,
    help="Probe targets given without a port on 443, 8443 and 8905.",
)
@click.option(
    "--timeout",
    "timeout",
    type=click.FloatRange(min=0.1, max=120),
    default=5.0,
    show_default=True,
    help="Seconds allowed for connecting and for the handshake.",
)
@grading_options
@format_option
@click.pass_obj
def probe(
    app: AppContext,
    *,
    targets: tuple[str, ...],
    servername: str | None,
    ips: tuple[str, ...],
    ca_files: tuple[Path, ...],
    posture_ports: bool,
    timeout: float,
    public_ca: bool,
    at: str | None,
    output_format: str,
) -> None:
    """Connect to PSNs, take the chain each presents (untrusted), and grade it.

    Targets are probed concurrently; one that does not answer within --timeout is a
    cert.probe finding. Ports default to 443.
    """
    from feedmgr.certs.grade import probe_targets
    from feedmgr.certs.identity import dns_reference
    from feedmgr.certs.probe import DEFAULT_PORT, POSTURE_PORTS, ProbeTarget, parse_target

    if servername:
        dns_reference(servername)
    wanted: list[ProbeTarget] = []
    for text in targets:
        host, port = parse_target(text)
        ports = (port,) if port else (POSTURE_PORTS if posture_ports else (DEFAULT_PORT,))
        for each in ports:
            target = ProbeTarget(host, each, servername)
            if target not in wanted:
                wanted.append(target)
    report = probe_targets(wanted, _ips(ips), ca_files, _options(at, public_ca), timeout)
    finish_report(report, output_format)
