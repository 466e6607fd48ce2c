"""``feedmgr cert check`` and ``feedmgr cert probe`` end to end, in-process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.certs.factory import (
    Leaf,
    bit_string_name_leaf,
    malformed_nc_ca,
    pki,
    write_der,
    write_p7b,
    write_pem,
)
from tests.certs.servers import closed_port, serve_chain
from tests.conftest import DATA, REPO, RunCli

AT = "2026-06-01"


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """A good leaf, its chain in several containers, the root, and a bad file."""
    ca = pki()
    leaf = ca.leaf(Leaf(dns=("psn1.corp.example", "10.1.1.21"), ips=("10.1.1.22",)), slot=7)
    garbage = tmp_path / "garbage.pem"
    garbage.write_bytes(b"-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n")
    return {
        "leaf": write_pem(tmp_path / "leaf.pem", leaf.cert),
        "leaf.der": write_der(tmp_path / "leaf.cer", leaf.cert),
        "fullchain": write_pem(tmp_path / "full.pem", ca.intermediate.cert, leaf.cert),
        "chain.p7b": write_p7b(tmp_path / "chain.p7b", ca.intermediate.cert),
        "root": write_pem(tmp_path / "root.pem", ca.root.cert),
        "garbage": garbage,
    }


def test_good_certificate_exits_0(run_cli: RunCli, files: dict[str, Path]) -> None:
    """A matching, well-formed chain exits 0 and says which SAN matched."""
    result = run_cli(
        "cert",
        "check",
        files["fullchain"],
        "--host",
        "psn1.corp.example",
        "--ip",
        "10.1.1.22",
        "--ca",
        files["root"],
        "--at",
        AT,
    )
    assert result.code == 0, result.out + result.err
    assert "matches DNS:psn1.corp.example" in result.out
    assert "0 fail" in result.out


def test_failures_exit_1_with_json_findings(run_cli: RunCli, files: dict[str, Path]) -> None:
    """An IP only in a dNSName fails cert.identity and warns cert.ip-as-dns; exit 1."""
    result = run_cli(
        "cert",
        "check",
        files["leaf.der"],
        "--chain",
        files["chain.p7b"],
        "--ip",
        "10.1.1.21",
        "--ca",
        files["root"],
        "--at",
        AT,
        "--format",
        "json",
    )
    assert result.code == 1
    document = result.json()
    checks = {(f["check"], f["severity"]) for f in document["findings"]}
    assert ("cert.identity", "fail") in checks
    assert ("cert.ip-as-dns", "warn") in checks
    assert ("cert.chain", "info") in checks
    assert document["summary"]["worst"] == "fail"
    assert document["facts"]["now"].startswith(AT)


def test_same_identity_given_twice_is_graded_once(run_cli: RunCli, files: dict[str, Path]) -> None:
    """PSN1.corp.example and psn1.corp.example. are one reference identity."""
    result = run_cli(
        "cert",
        "check",
        files["fullchain"],
        "--host",
        "PSN1.corp.example",
        "--host",
        "psn1.corp.example.",
        "--ca",
        files["root"],
        "--at",
        AT,
        "--format",
        "json",
    )
    identity = [f for f in result.json()["findings"] if f["check"] == "cert.identity"]
    assert len(identity) == 1


def test_missing_chain_reported(run_cli: RunCli, files: dict[str, Path]) -> None:
    """Without the intermediate, cert.chain names the missing issuer."""
    result = run_cli(
        "cert",
        "check",
        files["leaf"],
        "--host",
        "psn1.corp.example",
        "--ca",
        files["root"],
        "--at",
        AT,
        "--format",
        "json",
    )
    assert result.code == 1
    (chain,) = [f for f in result.json()["findings"] if f["check"] == "cert.chain"]
    assert chain["data"]["status"] == "missing-intermediate"
    assert chain["data"]["missing_issuer"] == "CN=Test Issuing CA,O=feedmgr tests"


def test_public_ca_flag_enables_public_limits(run_cli: RunCli, files: dict[str, Path]) -> None:
    """--public-ca turns on the SC-081 limit (a 365-day certificate issued in 2026 fails)."""
    args = [
        "cert",
        "check",
        files["fullchain"],
        "--host",
        "psn1.corp.example",
        "--ca",
        files["root"],
        "--at",
        AT,
        "--format",
        "json",
    ]
    assert run_cli(*args).code == 0
    result = run_cli(*args, "--public-ca")
    assert result.code == 1
    assert {f["check"] for f in result.json()["findings"] if f["severity"] == "fail"} == {
        "cert.sc081"
    }


def test_at_moves_now(run_cli: RunCli, files: dict[str, Path]) -> None:
    """--at far in the future makes the same certificate expired."""
    result = run_cli(
        "cert",
        "check",
        files["fullchain"],
        "--host",
        "psn1.corp.example",
        "--ca",
        files["root"],
        "--at",
        "2030-01-01",
    )
    assert result.code == 1
    assert "cert.expired" in result.out


@pytest.mark.parametrize("which", ["cert", "chain", "ca"])
def test_unparseable_input_exits_3_naming_the_file(
    run_cli: RunCli, files: dict[str, Path], which: str
) -> None:
    """Garbage as CERT, --chain or --ca: exit 3, the file named, no traceback."""
    cert = files["garbage"] if which == "cert" else files["leaf"]
    args = ["cert", "check", cert, "--host", "psn1.corp.example"]
    if which == "chain":
        args += ["--chain", files["garbage"]]
    if which == "ca":
        args += ["--ca", files["garbage"]]
    result = run_cli(*args)
    assert result.code == 3
    assert f"feedmgr: error: {files['garbage']}:" in result.err
    assert "Traceback" not in result.err


@pytest.mark.parametrize("which", ["cert", "chain", "ca"])
def test_malformed_name_constraints_exit_3_naming_the_file(
    run_cli: RunCli, tmp_path: Path, which: str
) -> None:
    """A CA whose nameConstraints hold an iPAddress of the wrong length is exit 3 naming the
    file it is in (CERT, a --chain file or a --ca file), never an internal error."""
    ca = pki()
    bad = write_pem(tmp_path / "bad-ca.pem", malformed_nc_ca().cert)
    leaf = write_pem(tmp_path / "leaf.pem", ca.leaf().cert)
    chain = write_pem(tmp_path / "chain.pem", ca.intermediate.cert)
    root = write_pem(tmp_path / "root.pem", ca.root.cert)
    if which == "cert":
        leaf = write_pem(tmp_path / "leaf.pem", ca.leaf().cert, malformed_nc_ca().cert)
    args = ["cert", "check", leaf, "--chain", chain, "--ca", root, "--ip", "10.1.1.21"]
    args += {"cert": [], "chain": ["--chain", bad], "ca": ["--ca", bad]}[which]
    result = run_cli(*args, "--at", AT)
    named = leaf if which == "cert" else bad
    assert result.code == 3, result.err
    assert result.err.startswith(f"feedmgr: error: {named}: certificate #")
    assert "malformed" in result.err
    assert result.err.count("\n") == 1


MALFORMED = sorted((DATA / "certs" / "malformed").glob("*.pem"))


@pytest.mark.parametrize("vector", MALFORMED, ids=[path.name for path in MALFORMED])
@pytest.mark.parametrize("role", ["cert", "chain"])
def test_real_malformed_certificates_exit_3(
    run_cli: RunCli, files: dict[str, Path], vector: Path, role: str
) -> None:
    """pyca/cryptography's malformed test certificates, as CERT or in a --chain file: exit
    3 with one line naming that file."""
    args = ["cert", "check", vector] if role == "cert" else ["cert", "check", files["leaf"]]
    if role == "chain":
        args += ["--chain", vector]
    result = run_cli(*args, "--host", "psn1.corp.example", "--at", AT)
    assert result.code == 3
    assert result.err.startswith(f"feedmgr: error: {vector}: ")
    assert "malformed" in result.err
    assert result.err.count("\n") == 1


def test_bit_string_name_attribute_exits_3(run_cli: RunCli, tmp_path: Path) -> None:
    """A subject attribute encoded as BIT STRING (only x500UniqueIdentifier may be) is
    exit 3 naming the file."""
    path = tmp_path / "bitstring.der"
    path.write_bytes(bit_string_name_leaf())
    result = run_cli("cert", "check", path, "--host", "psn1.corp.example", "--at", AT)
    assert result.code == 3, result.err
    assert result.err.startswith(f"feedmgr: error: {path}: ")


def test_oversized_chain_file_is_blamed(run_cli: RunCli, tmp_path: Path) -> None:
    """101 certificates in a --chain file: exit 3 naming that file, not CERT."""
    ca = pki()
    leaf = write_pem(tmp_path / "leaf.pem", ca.leaf().cert)
    chain = write_pem(tmp_path / "huge.pem", *[ca.leaf(slot=1).cert] * 101)
    result = run_cli("cert", "check", leaf, "--chain", chain, "--host", "psn1.corp.example")
    assert result.code == 3
    assert result.err.startswith(f"feedmgr: error: {chain}: 102 certificates")


@pytest.mark.parametrize(
    "extra",
    [
        [],
        ["--ip", "psn1.corp.example"],
        ["--host", "bad host"],
        ["--host", "*.corp.example"],
        ["--host", "psn1.corp.example", "--at", "next tuesday"],
    ],
)
def test_usage_errors_exit_2(run_cli: RunCli, files: dict[str, Path], extra: list[str]) -> None:
    """No reference identity, a non-IP --ip, a bad name or a bad --at: exit 2."""
    result = run_cli("cert", "check", files["leaf"], *extra)
    assert result.code == 2
    assert result.err.startswith("feedmgr: error:")


@pytest.mark.parametrize("command", ["check", "probe", ""])
def test_help_has_an_example(run_cli: RunCli, command: str) -> None:
    """The cert group's and every cert command's --help show an example line."""
    result = run_cli("cert", *([command] if command else []), "--help")
    assert result.code == 0
    assert "Example: feedmgr cert " + (command or "check") in result.out


def test_probe_cli_live_and_dead(run_cli: RunCli, tmp_path: Path, files: dict[str, Path]) -> None:
    """probe grades a live loopback server and reports a dead one; exit 1 for the dead one."""
    ca = pki()
    dead = closed_port()
    with serve_chain(tmp_path, ca.leaf(), [ca.intermediate.cert]) as server:
        result = run_cli(
            "cert",
            "probe",
            server.target,
            dead,
            "--servername",
            "psn1.corp.example",
            "--ca",
            files["root"],
            "--at",
            AT,
            "--timeout",
            "5",
            "--format",
            "json",
        )
    assert result.code == 1
    findings = result.json()["findings"]
    by_subject = {(f["subject"], f["check"], f["severity"]) for f in findings}
    assert (server.target, "cert.identity", "info") in by_subject
    assert (server.target, "cert.chain", "info") in by_subject
    assert (dead, "cert.probe", "fail") in by_subject
    assert not [f for f in findings if f["subject"] == server.target and f["severity"] != "info"]


def test_probe_posture_ports_expands_targets(run_cli: RunCli) -> None:
    """--posture-ports probes a port-less host on 443, 8443 and 8905 (all refused here)."""
    result = run_cli(
        "cert", "probe", "127.0.0.1", "--posture-ports", "--timeout", "2", "--format", "json"
    )
    subjects = {f["subject"] for f in result.json()["findings"]}
    assert subjects == {"127.0.0.1:443", "127.0.0.1:8443", "127.0.0.1:8905"}


def test_probe_bad_target_is_usage_error(run_cli: RunCli) -> None:
    """A malformed target exits 2 before any connection."""
    result = run_cli("cert", "probe", "psn:99999")
    assert result.code == 2


def test_cert_help_stays_light() -> None:
    """`feedmgr cert --help` does not import cryptography (lazy imports)."""
    probe = (
        "import sys\n"
        "from feedmgr.cli import main\n"
        "assert main(['cert', '--help']) == 0\n"
        "assert main(['cert', 'check', '--help']) == 0\n"
        "assert 'cryptography' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, cwd=REPO)


def test_python_m_feedmgr_exit_3(files: dict[str, Path]) -> None:
    """A real subprocess run on garbage prints one error line and exits 3."""
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "feedmgr",
            "cert",
            "check",
            str(files["garbage"]),
            "--host",
            "psn1.corp.example",
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    assert run.returncode == 3
    assert run.stderr.count("\n") == 1
    assert str(files["garbage"]) in run.stderr
