"""``feedmgr preflight`` with ``[ise]``: PSNs discovered from a fake ISE, their Portal and
Admin certificates graded live, the others from their export (or ISE's metadata when the
export is refused), the hand-written list compared with ISE's."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from feedmgr.certs.grade import GradeOptions, check_files
from feedmgr.certs.identity import dns_reference
from feedmgr.certs.load import fingerprint
from feedmgr.deployment import load_deployment
from feedmgr.findings import Finding, Severity
from feedmgr.ise.preflight import parse_ise_date
from feedmgr.preflight import run_preflight
from tests.certs.factory import DAY, NOW, Issued, Leaf, pki, write_pem
from tests.certs.servers import TlsServer, serve_chain
from tests.conftest import RunCli
from tests.ise.fakeise import (
    NODES,
    PASSWORD,
    USER,
    FakeIse,
    certificate,
    export_zip,
    node,
)

EAP_EXPIRES = (NOW + dt.timedelta(days=20)).strftime("%a %b %d %H:%M:%S UTC %Y")
LATER = "Fri Jan 01 00:00:00 UTC 2027"


@dataclass(frozen=True)
class Psn:
    """The PSN's two TLS ports, what they present, and the certificates ISE holds."""

    portal: TlsServer
    admin: TlsServer
    portal_cert: Issued
    # ISE's Admin certificate is not the one the admin port presents (ise.cert-mismatch).
    admin_held: Issued
    # EAP: good for localhost, expiring 20 days after NOW.
    eap: Issued

    @property
    def portal_sha256(self) -> str:
        """The Portal certificate's SHA-256 fingerprint (hex)."""
        return fingerprint(self.portal_cert.cert)


def _pem(issued: Issued) -> bytes:
    return issued.cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture
def psn(tmp_path: Path) -> Iterator[Psn]:
    """Loopback TLS servers for psn1's Portal (a good chain for localhost) and Admin ports."""
    hierarchy = pki()
    portal = hierarchy.leaf(Leaf(dns=("localhost",), cn="localhost"), slot=21)
    admin = hierarchy.leaf(Leaf(dns=("localhost",), cn="localhost"), slot=22)
    admin_held = hierarchy.leaf(Leaf(dns=("localhost",), cn="localhost"), slot=24)
    eap = hierarchy.leaf(
        Leaf(dns=("localhost",), cn="localhost", not_before=NOW - 10 * DAY, days=30), slot=25
    )
    with (
        serve_chain(tmp_path, portal, [hierarchy.intermediate.cert]) as portal_server,
        serve_chain(tmp_path, admin, [hierarchy.intermediate.cert]) as admin_server,
    ):
        yield Psn(portal_server, admin_server, portal, admin_held, eap)


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
                certificate(
                    "admin", "Admin", LATER, sha256Fingerprint=fingerprint(psn.admin_held.cert)
                ),
            ],
            [
                certificate(
                    "eap",
                    "EAP Authentication, RADIUS DTLS",
                    EAP_EXPIRES,
                    sha256Fingerprint=fingerprint(psn.eap.cert),
                ),
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


def _serve_exports(fake_ise: FakeIse, psn: Psn) -> None:
    fake_ise.exports(
        {
            "id-portal": export_zip({"portal.pem": _pem(psn.portal_cert)}),
            "id-admin": export_zip({"admin.pem": _pem(psn.admin_held)}),
            "id-eap": export_zip({"eap.pem": _pem(psn.eap)}),
        }
    )


EAP_LABEL = "psn1 eap (EAP Authentication, RADIUS DTLS)"
ADMIN_LABEL = "psn1 admin (Admin)"


def test_psns_are_discovered_and_graded_per_usage(
    fake_ise: FakeIse, psn: Psn, ca_bundle: Path, tmp_path: Path, home: Path
) -> None:
    """The Portal certificate is graded live on its port and matches ISE's; the Admin port
    presents another certificate than ISE lists; with the export refused (403, a read-only
    account) EAP and ISE's Admin certificate are graded from metadata only, said once, and
    EAP expires in 20 days; certificates not in use are left alone."""
    _serve_deployment(fake_ise, psn)
    fake_ise.exports({}, status=403)
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
    [metadata_only] = _of(findings, "ise.metadata-only")
    assert metadata_only.subject == fake_ise.url
    assert "refused the certificate export" in metadata_only.message
    assert metadata_only.data["certificates"] == [ADMIN_LABEL, EAP_LABEL]
    assert "cert.identity" in metadata_only.data["left_out"]
    assert "cert.chain" in metadata_only.data["left_out"]
    assert len(fake_ise.export_requests) == 1
    assert not [f for f in findings if "old" in f.subject or "spare" in f.subject]


def test_exported_certificates_are_graded_as_cert_check_grades_them(
    fake_ise: FakeIse, psn: Psn, ca_bundle: Path, tmp_path: Path, home: Path
) -> None:
    """With the export allowed, the EAP certificate and the Admin certificate the port did
    not present are exported (the certificate only, never the key) and graded with every
    cert.* check: EAP fails cert.expiring (20 days left); nothing is left to metadata."""
    _serve_deployment(fake_ise, psn)
    _serve_exports(fake_ise, psn)
    findings = _run(_deployment(tmp_path, fake_ise, psn, ca_bundle, ""), home)
    assert sorted((r["id"], r["hostName"], r["export"]) for r in fake_ise.export_requests) == [
        ("id-admin", "psn1", "CERTIFICATE"),
        ("id-eap", "psn1", "CERTIFICATE"),
    ]
    expiring = [f for f in _of(findings, "cert.expiring") if f.subject == EAP_LABEL]
    assert [f.severity for f in expiring] == [Severity.FAIL]
    identity = {f.subject: f.severity for f in _of(findings, "cert.identity")}
    assert identity[EAP_LABEL] == Severity.INFO
    assert identity[ADMIN_LABEL] == Severity.INFO
    assert not _of(findings, "ise.metadata-only")
    assert not _of(findings, "ise.cert-expiring")


def test_exported_certificate_without_the_fqdn_fails_as_cert_check_would(
    fake_ise: FakeIse, psn: Psn, ca_bundle: Path, tmp_path: Path, home: Path
) -> None:
    """An EAP certificate whose subjectAltName lacks the PSN's FQDN fails cert.identity,
    with the very findings `feedmgr cert check CERT --host FQDN --ca ROOT` gives."""
    wrong = pki().leaf(Leaf(dns=("psn1.corp.example",)), slot=26)
    fake_ise.answer(
        NODES,
        {"response": [node("psn1", ["Session"], fqdn="localhost")], "version": "1.0.0"},
    )
    fake_ise.certificates(
        "psn1",
        [[certificate("eap", "EAP Authentication", LATER, sha256Fingerprint="")]],
    )
    fake_ise.exports({"id-eap": export_zip({"eap.pem": _pem(wrong)})})
    path = _deployment(tmp_path, fake_ise, psn, ca_bundle, "")
    findings = _run(path, home)
    graded = [f for f in findings if f.subject == "psn1 eap (EAP Authentication)"]
    [identity] = [f for f in graded if f.check == "cert.identity"]
    assert identity.severity == Severity.FAIL
    assert "localhost matches no subjectAltName entry" in identity.message
    cert_file = write_pem(tmp_path / "eap.pem", wrong.cert)
    report = check_files(
        cert_file,
        [],
        [dns_reference("localhost")],
        [tmp_path / "corp-root.pem"],
        GradeOptions(now=NOW),
    )
    assert [(f.check, f.severity, f.message) for f in graded] == [
        (f.check, f.severity, f.message) for f in report.findings
    ]


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        (export_zip({"../eap.pem": b"x"}), "'..' component"),
        (export_zip({"eap.pem": b"\0" * (5 * 1024 * 1024)}), "per-member limit"),
        (b"PK" + bytes(1024 * 1024 + 1), "larger than"),
        (b"<html>login</html>", "not a readable zip"),
        (export_zip({"eap.pem": b"no certificate here"}), "eap.pem"),
        (export_zip({}), "holds no file"),
    ],
    ids=["traversal", "bomb", "oversized", "not-zip", "no-cert", "empty"],
)
def test_hostile_export_is_a_finding_not_a_crash(  # noqa: PLR0917 (fixtures)
    fake_ise: FakeIse,
    psn: Psn,
    ca_bundle: Path,
    tmp_path: Path,
    home: Path,
    answer: bytes,
    problem: str,
) -> None:
    """An export answer that is not a safe zip holding the certificate warns
    (ise.export-rejected, naming the problem) and the certificate falls back to metadata."""
    _serve_deployment(fake_ise, psn)
    fake_ise.exports({"id-admin": answer, "id-eap": answer})
    findings = _run(_deployment(tmp_path, fake_ise, psn, ca_bundle, ""), home)
    rejected = {f.subject: f for f in _of(findings, "ise.export-rejected")}
    assert set(rejected) == {ADMIN_LABEL, EAP_LABEL}
    assert problem in rejected[EAP_LABEL].message
    assert rejected[EAP_LABEL].severity == Severity.WARN
    assert {f.subject for f in _of(findings, "ise.metadata-only")} == {ADMIN_LABEL, EAP_LABEL}
    assert [f.subject for f in _of(findings, "ise.cert-expiring")] == [EAP_LABEL]


def test_export_of_another_certificate_is_rejected(
    fake_ise: FakeIse, psn: Psn, ca_bundle: Path, tmp_path: Path, home: Path
) -> None:
    """An export holding a certificate other than the one ISE lists under that id is not
    graded in its place."""
    _serve_deployment(fake_ise, psn)
    fake_ise.exports(
        {
            "id-admin": export_zip({"admin.pem": _pem(psn.admin_held)}),
            "id-eap": export_zip({"eap.pem": _pem(psn.admin_held)}),
        }
    )
    findings = _run(_deployment(tmp_path, fake_ise, psn, ca_bundle, ""), home)
    [rejected] = _of(findings, "ise.export-rejected")
    assert rejected.subject == EAP_LABEL
    assert "not the" in rejected.message


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


def test_without_probing_every_certificate_is_graded_from_its_export(
    fake_ise: FakeIse, psn: Psn, ca_bundle: Path, tmp_path: Path, home: Path
) -> None:
    """With probe = false no port is contacted, and the Portal, Admin and EAP certificates
    ISE holds are all graded from their export."""
    _serve_deployment(fake_ise, psn)
    _serve_exports(fake_ise, psn)
    findings = _run(_deployment(tmp_path, fake_ise, psn, ca_bundle, "probe = false\n"), home)
    assert psn.portal.server_names == []
    identity = {f.subject for f in _of(findings, "cert.identity")}
    assert {"psn1 portal (Portal)", ADMIN_LABEL, EAP_LABEL} <= identity
    assert not _of(findings, "ise.metadata-only")


def test_identities_follow_discovery(
    fake_ise: FakeIse, psn: Psn, ca_bundle: Path, tmp_path: Path, home: Path
) -> None:
    """discovery = "both" grades the PSN's ipAddress too, as `cert check --ip` would: a
    certificate without that IP in its subjectAltName fails cert.identity for it."""
    _serve_deployment(fake_ise, psn)
    _serve_exports(fake_ise, psn)
    path = _deployment(tmp_path, fake_ise, psn, ca_bundle, 'discovery = "both"\n')
    findings = _run(path, home)
    eap = [f for f in _of(findings, "cert.identity") if f.subject == EAP_LABEL]
    assert [(f.data["reference"], f.severity) for f in eap] == [
        ("localhost", Severity.INFO),
        ("127.0.0.1", Severity.FAIL),
    ]


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
    a mismatch nor assumed to be the one presented: it is graded from its export."""
    fake_ise.answer(
        NODES,
        {"response": [node("psn1", ["Session"], fqdn="localhost")], "version": "1.0.0"},
    )
    fake_ise.certificates(
        "psn1", [[certificate("portal", "Portal", LATER, sha256Fingerprint="n/a")]]
    )
    _serve_exports(fake_ise, psn)
    findings = _run(_deployment(tmp_path, fake_ise, psn, ca_bundle, ""), home)
    assert not _of(findings, "ise.cert-mismatch")
    assert not _of(findings, "ise.metadata-only")
    assert "psn1 portal (Portal)" in {f.subject for f in _of(findings, "cert.identity")}


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


def test_preflight_command_survives_a_hostile_export(
    run_cli: RunCli, fake_ise: FakeIse, psn: Psn, ca_bundle: Path, tmp_path: Path
) -> None:
    """``feedmgr preflight`` meeting an export that is a path-traversal zip reports it as a
    finding and exits 1 (findings), not 70 (a bug)."""
    _serve_deployment(fake_ise, psn)
    hostile = export_zip({"../../eap.pem": _pem(psn.eap)})
    fake_ise.exports({"id-admin": hostile, "id-eap": hostile})
    result = run_cli("preflight", _deployment(tmp_path, fake_ise, psn, ca_bundle, ""))
    assert result.code == 1
    assert "ise.export-rejected" in result.out
    assert "'..' component" in result.out


def test_unusable_proxy_variable_is_a_section_finding(
    run_cli: RunCli,
    *,
    fake_ise: FakeIse,
    psn: Psn,
    ca_bundle: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """HTTPS_PROXY naming a SOCKS proxy makes [ise] a preflight.section finding (exit code 2
    noted, the variable named); the report is still written and the run exits 1."""
    _serve_deployment(fake_ise, psn)
    monkeypatch.setenv("HTTPS_PROXY", "socks5h://127.0.0.1:1080")
    path = _deployment(tmp_path, fake_ise, psn, ca_bundle, "")
    result = run_cli("preflight", path, "--format", "json")
    assert result.code == 1, result.err
    section = [
        f
        for f in result.json()["findings"]
        if f["check"] == "preflight.section" and f["subject"] == "ise"
    ]
    assert len(section) == 1
    assert section[0]["data"]["exit_code"] == 2
    assert "HTTPS_PROXY: a proxy must be given as http://" in section[0]["message"]


def test_export_answered_404_is_not_called_a_disabled_open_api(
    fake_ise: FakeIse, psn: Psn, ca_bundle: Path, tmp_path: Path, home: Path
) -> None:
    """A 404 on the certificate export (a release without the call, or an id ISE does not
    know: docs/ise.md) is said as such in each ise.metadata-only finding, not as a disabled
    Open API: the node and certificate lists came back in the same run."""
    _serve_deployment(fake_ise, psn)
    fake_ise.exports({}, status=404)
    findings = _run(_deployment(tmp_path, fake_ise, psn, ca_bundle, ""), home)
    metadata_only = _of(findings, "ise.metadata-only")
    assert metadata_only
    for finding in metadata_only:
        assert "HTTP 404" in finding.message
        assert "does not offer the certificate export" in finding.message
        assert "does not know certificate" in finding.message
        assert "enable Open API" not in finding.message
        assert "3.1 patch 1" not in finding.message


def test_portal_and_admin_on_one_port_are_graded_once(
    fake_ise: FakeIse, psn: Psn, ca_bundle: Path, tmp_path: Path, home: Path
) -> None:
    """Portal and Admin bound to the same port (a common setup) present one certificate:
    it is probed and graded once, so no finding is reported twice; each usage is still
    compared with the certificate ISE lists for it."""
    _serve_deployment(fake_ise, psn)
    fake_ise.exports({}, status=403)
    path = _deployment(tmp_path, fake_ise, psn, ca_bundle, "")
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace(f"admin_port = {psn.admin.port}", f"admin_port = {psn.portal.port}"),
        encoding="utf-8",
    )
    findings = _run(path, home)
    keys = [(f.check, f.severity, f.subject, f.message) for f in findings]
    assert len(keys) == len(set(keys))
    portal_label = f"localhost:{psn.portal.port}"
    assert len([f for f in _of(findings, "cert.identity") if f.subject == portal_label]) == 1
    mismatch = _of(findings, "ise.cert-mismatch")
    assert [(f.subject, f.data["usage"]) for f in mismatch] == [(portal_label, "Admin")]
