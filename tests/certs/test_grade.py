"""Grading glue: which identities a probe grades, where trust comes from, report facts."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from feedmgr.certs.grade import GradeOptions, Trust, check_files, probe_references
from feedmgr.certs.identity import IpReference, reference
from feedmgr.certs.probe import ProbeTarget
from feedmgr.errors import ParseError
from tests.certs.factory import NOW, pki, write_pem


@pytest.mark.parametrize(
    ("target", "extra", "expected"),
    [
        (ProbeTarget("psn1.corp.example", 8443), [], ["psn1.corp.example"]),
        (ProbeTarget("10.1.1.21", 8905), [], ["10.1.1.21"]),
        (
            ProbeTarget("10.1.1.21", 8905, "psn1.corp.example"),
            [],
            ["psn1.corp.example"],
        ),
        (
            ProbeTarget("psn1.corp.example", 443, "PSN1.corp.example."),
            ["10.1.1.21", "10.1.1.21"],
            ["psn1.corp.example", "10.1.1.21"],
        ),
        (ProbeTarget("10.1.1.21", 443), ["10.1.1.21"], ["10.1.1.21"]),
    ],
)
def test_probe_references(target: ProbeTarget, extra: list[str], expected: list[str]) -> None:
    """--servername (else the host) plus each --ip once are the identities graded."""
    refs = probe_references(target, [IpReference(ipaddress.ip_address(e)) for e in extra])
    assert [str(r) for r in refs] == expected


def test_trust_from_ca_files(tmp_path: Path) -> None:
    """--ca files are the anchors, named in the report; every certificate in them counts."""
    ca = pki()
    path = write_pem(tmp_path / "roots.pem", ca.root.cert, ca.intermediate.cert)
    trust = Trust.from_options([path])
    assert trust.anchors == (ca.root.cert, ca.intermediate.cert)
    assert trust.source == str(path)


def test_trust_defaults_to_system_store() -> None:
    """Without --ca the system store is used (or 'none found' where there is none)."""
    trust = Trust.from_options([])
    assert trust.source.startswith("system store ") == bool(trust.anchors)


def test_check_files_facts(tmp_path: Path) -> None:
    """The report header names the file, the leaf, the references, the anchors and now."""
    ca = pki()
    cert = write_pem(tmp_path / "full.pem", ca.intermediate.cert, ca.leaf().cert)
    root = write_pem(tmp_path / "root.pem", ca.root.cert)
    report = check_files(
        cert, [], [reference("psn1.corp.example")], [root], GradeOptions(NOW, public_ca=True)
    )
    assert report.title == f"cert check: {cert}"
    assert report.facts["subject"] == "CN=psn1.corp.example,O=feedmgr tests"
    assert report.facts["references"] == "psn1.corp.example"
    assert report.facts["trust anchors"] == str(root)
    assert report.facts["public CA rules"] == "on"
    assert report.facts["now"] == NOW.isoformat()


def test_bad_ca_file_is_parse_error(tmp_path: Path) -> None:
    """A --ca file without certificates is rejected with its name."""
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate")
    with pytest.raises(ParseError) as info:
        Trust.from_options([bad])
    assert info.value.subject == str(bad)
