"""The live probe against real TLS servers on loopback."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from feedmgr.certs.grade import GradeOptions, probe_targets
from feedmgr.certs.identity import IpReference, reference
from feedmgr.certs.probe import ProbeError, ProbeTarget, parse_target, probe, probe_all
from feedmgr.errors import UsageError
from feedmgr.findings import Report, Severity
from tests.certs.factory import DAY, NOW, Leaf, make_ca, make_leaf, pki, write_pem
from tests.certs.servers import closed_port, serve_chain, silent_server
from tests.certs.test_chain import deep


def _target(text: str, servername: str | None = None) -> ProbeTarget:
    host, port = parse_target(text)
    assert port is not None
    return ProbeTarget(host, port, servername)


def _grade(tmp_path: Path, targets: list[ProbeTarget], root: x509.Certificate) -> Report:
    anchors = write_pem(tmp_path / "root.pem", root)
    return probe_targets(targets, [], [anchors], GradeOptions(NOW), timeout=5)


def _problems(report: Report) -> dict[str, str]:
    out: dict[str, str] = {}
    for f in report.findings:
        if f.severity > Severity.INFO:
            out[f.check] = max(Severity.from_label(out.get(f.check, "info")), f.severity).label
    return out


def test_probe_returns_the_presented_chain_in_order(tmp_path: Path) -> None:
    """The probe takes the chain exactly as sent (leaf first), without trusting it."""
    ca = pki()
    leaf = ca.leaf()
    with serve_chain(tmp_path, leaf, [ca.intermediate.cert]) as server:
        result = probe(_target(server.target, "psn1.corp.example"), timeout=5)
    assert result.ok
    assert [x509.load_der_x509_certificate(d) for d in result.chain_der] == [
        leaf.cert,
        ca.intermediate.cert,
    ]
    assert result.chain_complete
    assert server.server_names == ["psn1.corp.example"]


def test_probe_sends_no_sni_for_an_ip(tmp_path: Path) -> None:
    """Probing an IP without --servername sends no SNI (an IP is not a valid SNI name)."""
    ca = pki()
    with serve_chain(tmp_path, ca.leaf(), [ca.intermediate.cert]) as server:
        assert probe(_target(server.target), timeout=5).ok
    assert server.server_names == [None]


@pytest.mark.parametrize(
    ("leaf_recipe", "chain", "expected"),
    [
        (Leaf(), "full", {}),
        (Leaf(), "leaf-only", {"cert.chain": "fail"}),
        (Leaf(), "misordered", {"cert.chain": "warn"}),
        (Leaf(), "sent twice", {"cert.chain": "warn"}),
        (Leaf(key_kind="rsa1024"), "full", {"cert.key-size": "fail"}),
        (
            Leaf(dns=("psn2.corp.example",)),
            "full",
            {"cert.identity": "fail", "cert.cn-only-match": "fail"},
        ),
    ],
)
def test_probe_grades_what_the_server_presents(
    tmp_path: Path, leaf_recipe: Leaf, chain: str, expected: dict[str, str]
) -> None:
    """Missing, misordered or repeated intermediates and weak keys are graded from the live
    chain."""
    root, policy, issuing, _ = deep()
    leaf = make_leaf(leaf_recipe, issuing, slot=90)
    presented = {
        "full": [issuing.cert, policy.cert],
        "leaf-only": [],
        "misordered": [policy.cert, issuing.cert],
        # Deduplicated, this order is right: only the repetition breaks TLS 1.2's rule.
        "sent twice": [issuing.cert, policy.cert, issuing.cert],
    }[chain]
    with serve_chain(tmp_path, leaf, presented) as server:
        report = _grade(tmp_path, [_target(server.target, "psn1.corp.example")], root.cert)
    assert _problems(report) == expected


def test_probe_ip_reference_and_extra_ip(tmp_path: Path) -> None:
    """Probing by IP grades the IP; --ip adds references graded against iPAddress SANs."""
    ca = pki()
    leaf = ca.leaf(Leaf(dns=("psn1.corp.example",), ips=("127.0.0.1",)), slot=91)
    anchors = write_pem(tmp_path / "root.pem", ca.root.cert)
    with serve_chain(tmp_path, leaf, [ca.intermediate.cert]) as server:
        extra = [reference("10.9.9.9")]
        assert isinstance(extra[0], IpReference)
        report = probe_targets(
            [_target(server.target)], extra, [anchors], GradeOptions(NOW), timeout=5
        )
    identity = {f.data["reference"]: f.severity for f in report.by_check("cert.identity")}
    assert identity == {"127.0.0.1": Severity.INFO, "10.9.9.9": Severity.FAIL}


def test_refused_port_is_a_finding(tmp_path: Path) -> None:
    """Nothing listening is a cert.probe failure naming the target, not an exception."""
    target = closed_port()
    report = _grade(tmp_path, [_target(target)], pki().root.cert)
    (finding,) = report.findings
    assert finding.check == "cert.probe"
    assert finding.subject == target
    assert finding.data["error"] == "refused"


def test_silent_target_times_out() -> None:
    """A port that never answers the handshake ends in a timeout result, not a hang."""
    with silent_server() as target:
        result = probe(_target(target), timeout=0.3)
    assert result.error is ProbeError.TIMEOUT
    assert "0.3s" in result.detail


def test_silent_target_is_a_timeout_finding(tmp_path: Path) -> None:
    """Through the report, a silent target is one cert.probe fail carrying its timeout."""
    with silent_server() as target:
        report = probe_targets([_target(target)], [], [], GradeOptions(NOW), timeout=0.3)
    (finding,) = report.findings
    assert (finding.check, finding.severity, finding.subject) == (
        "cert.probe",
        Severity.FAIL,
        target,
    )
    assert finding.data["error"] == "timeout"
    assert finding.data["timeout_s"] == 0.3


def test_targets_are_probed_concurrently(tmp_path: Path) -> None:
    """Three targets are in flight together: the server only answers once all three wait."""
    ca = pki()
    barrier = threading.Barrier(3)
    with serve_chain(tmp_path, ca.leaf(), [ca.intermediate.cert], barrier=barrier) as server:
        targets = [_target(server.target, f"psn{i}.corp.example") for i in range(3)]
        results = probe_all(targets, timeout=10)
    assert [r.ok for r in results] == [True, True, True]
    assert [r.target for r in results] == targets


def test_mixed_targets_keep_their_order(tmp_path: Path) -> None:
    """Dead and live targets are reported together, each under its own host:port."""
    ca = pki()
    dead = closed_port()
    with serve_chain(tmp_path, ca.leaf(), [ca.intermediate.cert]) as server:
        report = _grade(
            tmp_path,
            [_target(dead), _target(server.target, "psn1.corp.example")],
            ca.root.cert,
        )
    subjects = {f.subject for f in report.findings}
    assert subjects == {dead, server.target}
    assert report.by_check("cert.probe")[0].subject == dead
    assert report.by_check("cert.chain")[0].severity is Severity.INFO


def test_non_tls_server_is_a_tls_error(tmp_path: Path) -> None:
    """A server that is not TLS is a tls error finding."""
    import socket

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def answer() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(1024)
            conn.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n")

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    result = probe(ProbeTarget("127.0.0.1", port), timeout=5)
    thread.join(timeout=5)
    listener.close()
    assert result.error is ProbeError.TLS


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("psn1.corp.example", "psn1.corp.example", None),
        ("psn1.corp.example:8905", "psn1.corp.example", 8905),
        ("10.1.1.21:8443", "10.1.1.21", 8443),
        ("[2001:db8::1]:443", "2001:db8::1", 443),
        ("[2001:db8::1]", "2001:db8::1", None),
        ("2001:db8::1", "2001:db8::1", None),
    ],
)
def test_parse_target(text: str, host: str, port: int | None) -> None:
    """HOST[:PORT] with bracketed IPv6; the port is optional."""
    assert parse_target(text) == (host, port)


@pytest.mark.parametrize(
    "text", ["", ":443", "psn:0", "psn:65536", "psn:https", "[2001:db8::1]443", "bad host:1"]
)
def test_parse_target_rejects(text: str) -> None:
    """Malformed targets are usage errors."""
    with pytest.raises(UsageError):
        parse_target(text)


def test_target_label_brackets_ipv6() -> None:
    """IPv6 targets are labelled [addr]:port in findings."""
    assert ProbeTarget("2001:db8::1", 8905).label == "[2001:db8::1]:8905"


def test_private_root_given_with_ca(tmp_path: Path) -> None:
    """A leaf sent alone, issued directly by a private root given with --ca, passes."""
    own = make_ca("psn1.corp.example", slot=92)
    leaf = make_leaf(Leaf(), own, slot=93)
    with serve_chain(tmp_path, leaf) as server:
        report = _grade(tmp_path, [_target(server.target, "psn1.corp.example")], own.cert)
    assert _problems(report) == {}


class _LeafOnlySocket:
    """Stands in for an SSLSocket of a Python without any chain API (only getpeercert)."""

    def __init__(self, der: bytes) -> None:
        self.der = der

    def getpeercert(self, binary_form: bool = False) -> bytes:
        assert binary_form
        return self.der


def test_leaf_only_fallback_is_flagged() -> None:
    """Without get_unverified_chain the leaf is still graded, marked as an incomplete chain."""
    from cryptography.hazmat.primitives import serialization

    from feedmgr.certs.probe import _presented_chain

    der = pki().leaf().cert.public_bytes(serialization.Encoding.DER)
    assert _presented_chain(_LeafOnlySocket(der)) == ((der,), False)  # type: ignore[arg-type]


def test_probe_of_a_server_auth_only_chain_with_a_stale_cross_sign(tmp_path: Path) -> None:
    """A PSN serving its leaf, a serverAuth-only issuing CA and an expired cross-sign of its
    root passes: the path verifies without the cross-sign, which is a warning to stop
    sending it."""
    old_root = make_ca("Probe Legacy Root", slot=120, not_before=NOW - 3000 * DAY, days=3650)
    root = make_ca("Probe Root", slot=121)
    cross = make_ca("Probe Root", issuer=old_root, slot=121, not_before=NOW - 900 * DAY, days=800)
    issuing = make_ca(
        "Probe TLS Issuing",
        issuer=root,
        slot=122,
        extensions=(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),),
    )
    leaf = make_leaf(Leaf(), issuing, slot=123)
    with serve_chain(tmp_path, leaf, [issuing.cert, cross.cert]) as server:
        report = _grade(tmp_path, [_target(server.target, "psn1.corp.example")], root.cert)
    assert _problems(report) == {"cert.expired": "warn"}
    (expired,) = report.by_check("cert.expired")
    assert expired.data["role"] == "unused"
    chain = report.by_check("cert.chain")[0]
    assert chain.data["status"] == "verified"
    assert chain.data["unused"] == [cross.cert.subject.rfc4514_string()]
