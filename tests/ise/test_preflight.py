"""``feedmgr preflight`` with ``[ise]``: PSNs discovered from a fake ISE, their Portal and
Admin certificates graded live, the others from ISE's metadata, the hand-written list
compared with ISE's."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from feedmgr.certs.load import fingerprint
from feedmgr.deployment import load_deployment
from feedmgr.findings import Finding, Severity
from feedmgr.ise.preflight import parse_ise_date
from feedmgr.preflight import run_preflight
from tests.certs.factory import NOW, Leaf, pki, write_pem
from tests.certs.servers import TlsServer, serve_chain
from tests.conftest import RunCli
from tests.ise.fakeise import NODES, PASSWORD, USER, FakeIse, certificate, node

EAP_EXPIRES = (NOW + dt.timedelta(days=20)).strftime("%a %b %d %H:%M:%S UTC %Y")
LATER = "Fri Jan 01 00:00:00 UTC 2027"


@dataclass(frozen=True)
class Psn:
    """The PSN's two TLS ports and what they present."""

    portal: TlsServer
    admin: TlsServer
    portal_sha256: str


@pytest.fixture
def psn(tmp_path: Path) -> Iterator[Psn]:
    """Loopback TLS servers for psn1's Portal (a good chain for localhost) and Admin ports."""
    hierarchy = pki()
    portal = hierarchy.leaf(Leaf(dns=("localhost",), cn="localhost"), slot=21)
    admin = hierarchy.leaf(Leaf(dns=("localhost",), cn="localhost"), slot=22)
    with (
        serve_chain(tmp_path, portal, [hierarchy.intermediate.cert]) as portal_server,
        serve_chain(tmp_path, admin, [hierarchy.intermediate.cert]) as admin_server,
    ):
        yield Psn(portal_server, admin_server, fingerprint(portal.cert))


def _colon_hex(hex_digest: str) -> str:
    return ":".join(hex_digest[i : i + 2] for i in range(0, 64, 2)).upper()


def _serve_deployment(fake_ise: FakeIse, psn: Psn) -> None:
    fake_ise.answer(
        NODES,
        {
            "response": [
                node("pan1", ["Profiler"], roles=["PrimaryAdmin", "PrimaryMonitoring"]),
                node("psn1", ["Session", "Profiler"], fqdn="localhost", ip="127.0.0.1"),
                node("psn2", ["Session"], status="Disconnected"),
            ],
            "version": "1.0.0",
        },
    )
    fake_ise.certificates(
        "psn1",
        [
            [
                certificate(
                    "portal", "Portal", LATER, sha256Fingerprint=_colon_hex(psn.portal_sha256)
                ),
                certificate("admin", "Admin", LATER, sha256Fingerprint="cd" * 32),
            ],
            [
                certificate("eap", "EAP Authentication, RADIUS DTLS", EAP_EXPIRES),
                certificate("old", "Not in use", "Mon Jan 01 00:00:00 UTC 2024"),
            ],
        ],
    )
    fake_ise.certificates("psn2", [[certificate("spare", "Not in use", LATER)]])


def _deployment(tmp_path: Path, fake_ise: FakeIse, psn: Psn, ca_bundle: Path, extra: str) -> Path:
    root = write_pem(tmp_path / "corp-root.pem", pki().root.cert)
    leaf = pki().leaf(Leaf(dns=("psn9.corp.example",)), slot=23)
    write_pem(tmp_path / "psn9.pem", leaf.cert, pki().intermediate.cert)
    path = tmp_path / "deployment.toml"
    path.write_text(
        f'name = "campus"\n\n[ise]\nurl = "{fake_ise.url}"\nusername = "{USER}"\n'
        f'ca = "{ca_bundle}"\npsn_ca = ["{root.name}"]\nportal_port = {psn.portal.port}\n'
        f"admin_port = {psn.admin.port}\n{extra}\n"
        '[[psn]]\nname = "psn9"\nfqdn = "psn9.corp.example"\ncertificates = ["psn9.pem"]\n'
        'ca = ["corp-root.pem"]\n',
        encoding="utf-8",
    )
    return path


def _run(path: Path, home: Path) -> list[Finding]:
    deployment = load_deployment(path)
    result = run_preflight(deployment, path.parent, home, now=NOW)
    return list(result.report.findings)


def _of(findings: list[Finding], check: str) -> list[Finding]:
    return [f for f in findings if f.check == check]


def test_psns_are_discovered_and_graded_per_usage(
    fake_ise: FakeIse, psn: Psn, ca_bundle: Path, tmp_path: Path, home: Path
) -> None:
    """The Portal certificate is graded live on its port and matches ISE's; the Admin port
    presents another certificate than ISE lists; EAP is graded from metadata only and
    expires in 20 days; certificates not in use are left alone."""
    _serve_deployment(fake_ise, psn)
    findings = _run(_deployment(tmp_path, fake_ise, psn, ca_bundle, ""), home)
    portal_label = f"localhost:{psn.portal.port}"
    identity = [f for f in _of(findings, "cert.identity") if f.subject == portal_label]
    assert [f.severity for f in identity] == [Severity.INFO]
    assert not [f for f in findings if f.subject == portal_label and f.severity > Severity.INFO]
    mismatch = _of(findings, "ise.cert-mismatch")
    assert [(f.subject, f.data["usage"]) for f in mismatch] == [
        (f"localhost:{psn.admin.port}", "Admin")
    ]
    expiring = _of(findings, "ise.cert-expiring")
    assert [(f.severity, f.data["friendly_name"], f.data["days_left"]) for f in expiring] == [
        (Severity.FAIL, "eap", 20.0)
    ]
    metadata_only = _of(findings, "ise.metadata-only")
    assert {f.data["friendly_name"] for f in metadata_only} == {"eap", "admin"}
    assert "cert.identity" in metadata_only[0].data["left_out"]
    assert "cert.chain" in metadata_only[0].data["left_out"]
    assert not [f for f in findings if "old" in f.subject or "spare" in f.subject]


def test_psn_status_and_hand_written_list_are_compared_with_ise(
    fake_ise: FakeIse, psn: Psn, ca_bundle: Path, tmp_path: Path, home: Path
) -> None:
    """A Disconnected PSN warns; a hand-written PSN ISE does not know warns; ISE's PSNs the
    file leaves out are noted; the PAN (no Session service) is not a PSN."""
    _serve_deployment(fake_ise, psn)
    findings = _run(_deployment(tmp_path, fake_ise, psn, ca_bundle, ""), home)
    status = _of(findings, "ise.psn-status")
    assert [(f.subject, f.severity, f.data["node_status"]) for f in status] == [
        ("psn2.corp.example", Severity.WARN, "Disconnected")
    ]
    assert [f.subject for f in _of(findings, "ise.psn-unknown")] == ["psn psn9"]
    assert sorted(f.subject for f in _of(findings, "ise.psn-unlisted")) == [
        "localhost",
        "psn2.corp.example",
    ]
    assert not _of(findings, "ise.no-psn")


def test_without_probing_everything_is_metadata_only(
    fake_ise: FakeIse, psn: Psn, ca_bundle: Path, tmp_path: Path, home: Path
) -> None:
    """With probe = false no port is contacted and every certificate in use says which
    checks were left out."""
    _serve_deployment(fake_ise, psn)
    findings = _run(_deployment(tmp_path, fake_ise, psn, ca_bundle, "probe = false\n"), home)
    assert psn.portal.server_names == []
    metadata_only = _of(findings, "ise.metadata-only")
    assert {f.data["friendly_name"] for f in metadata_only} == {"portal", "admin", "eap"}
    assert all("probing is off" in f.message for f in metadata_only)


def test_ise_refusal_is_a_section_finding(
    fake_ise: FakeIse, psn: Psn, ca_bundle: Path, tmp_path: Path, home: Path
) -> None:
    """ISE answering 403 makes the [ise] section a preflight.section finding (exit 4 noted),
    and the hand-written PSNs are still graded."""
    fake_ise.status(NODES, 403)
    findings = _run(_deployment(tmp_path, fake_ise, psn, ca_bundle, ""), home)
    section = [f for f in _of(findings, "preflight.section") if f.subject == "ise"]
    assert len(section) == 1
    assert section[0].data["exit_code"] == 4
    assert "ERS Operator" in section[0].message
    assert PASSWORD not in section[0].message
    assert [f for f in _of(findings, "cert.identity") if f.subject.startswith("psn9")]


def test_preflight_command_reports_ise_findings(
    run_cli: RunCli, fake_ise: FakeIse, psn: Psn, ca_bundle: Path, tmp_path: Path
) -> None:
    """``feedmgr preflight`` with [ise] prints the ISE findings and fails on the expiring
    EAP certificate (exit 1)."""
    _serve_deployment(fake_ise, psn)
    path = _deployment(tmp_path, fake_ise, psn, ca_bundle, "")
    result = run_cli("preflight", path, "--format", "json")
    assert result.code == 1
    checks = {f["check"] for f in result.json()["findings"]}
    assert {"ise.psn-status", "ise.cert-mismatch", "ise.metadata-only"} <= checks


def test_unreadable_fingerprint_is_said_not_guessed(
    fake_ise: FakeIse, psn: Psn, ca_bundle: Path, tmp_path: Path, home: Path
) -> None:
    """A Portal certificate whose fingerprint ISE gives in an unknown form is neither called
    a mismatch nor assumed to be the one presented: it is graded from metadata, saying why."""
    fake_ise.answer(
        NODES,
        {"response": [node("psn1", ["Session"], fqdn="localhost")], "version": "1.0.0"},
    )
    fake_ise.certificates(
        "psn1", [[certificate("portal", "Portal", LATER, sha256Fingerprint="n/a")]]
    )
    findings = _run(_deployment(tmp_path, fake_ise, psn, ca_bundle, ""), home)
    assert not _of(findings, "ise.cert-mismatch")
    [only] = _of(findings, "ise.metadata-only")
    assert "gave no SHA-256 fingerprint" in only.message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Tue Oct 08 05:43:45 UTC 2024", dt.datetime(2024, 10, 8, 5, 43, 45, tzinfo=dt.UTC)),
        ("Tue Oct 08 05:43:45 GMT 2024", dt.datetime(2024, 10, 8, 5, 43, 45, tzinfo=dt.UTC)),
        ("2024-10-08 05:43:45", dt.datetime(2024, 10, 8, 5, 43, 45, tzinfo=dt.UTC)),
        ("2024-10-08T07:43:45+02:00", dt.datetime(2024, 10, 8, 5, 43, 45, tzinfo=dt.UTC)),
        ("Tue Oct 08 05:43:45 CEST 2024", None),
        ("08/10/2024", None),
    ],
)
def test_ise_dates(text: str, expected: dt.datetime | None) -> None:
    """Java's Date.toString() in UTC/GMT and ISO forms are read as UTC; a zone abbreviation
    that could mean several offsets, or an unknown form, is not guessed."""
    assert parse_ise_date(text) == expected


def test_no_session_node_is_a_warning(
    fake_ise: FakeIse, psn: Psn, ca_bundle: Path, tmp_path: Path, home: Path
) -> None:
    """A deployment whose nodes all lack the Session service has no PSN: ise.no-psn warns,
    and the hand-written PSN is unknown to ISE."""
    fake_ise.answer(
        NODES, {"response": [node("pan1", ["Profiler"], roles=["Standalone"])], "version": "1"}
    )
    findings = _run(_deployment(tmp_path, fake_ise, psn, ca_bundle, ""), home)
    assert [(f.severity, f.data["nodes"]) for f in _of(findings, "ise.no-psn")] == [
        (Severity.WARN, ["pan1"])
    ]
    assert [f.subject for f in _of(findings, "ise.psn-unknown")] == ["psn psn9"]
