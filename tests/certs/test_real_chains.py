"""Chains public sites really presented (tests/data/certs/chains, see SOURCES), graded as of
the moment they were captured: feedmgr must conclude what a TLS client concluded then."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from feedmgr.certs.load import read_certificates
from tests.conftest import DATA, RunCli

CHAINS = DATA / "certs" / "chains"
# site -> the capture's validation time (SOURCES); each chain validated for the site's name.
CAPTURED = {
    "microsoft.com": "2026-03-10T18:31:56Z",
    "bing.com": "2026-02-02T19:13:45Z",
    "akamai.com": "2025-07-05T00:00:01Z",
    "cloudflare.com": "2026-03-12T20:59:52Z",
    "google.com": "2026-02-02T08:36:39Z",
    "stackoverflow.com": "2026-02-19T14:15:03Z",
    "fastly.com": "2026-02-27T03:47:49Z",
    "docs.python.org": "2026-01-13T13:03:47Z",
}
# Where feedmgr is deliberately stricter than a browser, the finding and the rule.
STRICTER = {
    # A 30-day certificate has under 30 days left from its first second: cert.expiring's
    # failure threshold (ISE does not renew by itself; expiry stops posture everywhere).
    "fastly.com": {"cert.expiring": "fail"},
    # Windows EAP supplicants reject a wildcard subject CN; browsers do not look at the CN.
    "google.com": {"cert.wildcard-cn": "warn"},
}


def _certs(site: str, name: str) -> tuple[x509.Certificate, ...]:
    # feedmgr's loader: Starfield's root (fastly.com) has serial number 0, which
    # cryptography loads with a deprecation warning (an error under pytest's settings).
    return read_certificates(CHAINS / site / name)


def _check(run_cli: RunCli, site: str, *extra: str | Path, chain: bool = True) -> Any:
    args: list[str | Path] = ["cert", "check", CHAINS / site / "leaf.pem"]
    if chain:
        args += ["--chain", CHAINS / site / "chain.pem"]
    result = run_cli(*args, *extra, "--format", "json")
    assert result.code in {0, 1}, result.err
    return result.json()


def _problems(report: Any) -> dict[str, str]:
    return {f["check"]: f["severity"] for f in report["findings"] if f["severity"] != "info"}


def _chain(report: Any) -> dict[str, Any]:
    return next(f for f in report["findings"] if f["check"] == "cert.chain")


@pytest.mark.parametrize("site", sorted(CAPTURED))
def test_real_chain_passes_as_it_did_for_clients(run_cli: RunCli, site: str) -> None:
    """Each captured chain verifies to its root for its site's name at capture time, with
    the public-CA limits on; the only findings are the listed stricter rules."""
    report = _check(
        run_cli,
        site,
        "--host",
        site,
        "--ca",
        CHAINS / site / "root.pem",
        "--at",
        CAPTURED[site],
        "--public-ca",
    )
    assert _problems(report) == STRICTER.get(site, {})
    chain = _chain(report)
    assert chain["severity"] == "info"
    assert chain["data"]["status"] == "verified"
    (root,) = _certs(site, "root.pem")
    assert chain["data"]["path"][-1] == root.subject.rfc4514_string()


def test_microsoft_chain_with_server_auth_only_cas_and_a_cross_sign(run_cli: RunCli) -> None:
    """microsoft.com's CAs allow serverAuth only, and its path runs through Microsoft's root
    cross-signed by DigiCert: the path verifies through the cross-sign to DigiCert's root."""
    issuing, cross_signed = _certs("microsoft.com", "chain.pem")
    (digicert,) = _certs("microsoft.com", "root.pem")
    for ca in (issuing, cross_signed):
        eku = ca.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert cross_signed.issuer == digicert.subject != cross_signed.subject
    report = _check(
        run_cli,
        "microsoft.com",
        "--host",
        "microsoft.com",
        "--ca",
        CHAINS / "microsoft.com" / "root.pem",
        "--at",
        CAPTURED["microsoft.com"],
    )
    assert _chain(report)["data"]["path"] == [
        issuing.subject.rfc4514_string(),
        cross_signed.subject.rfc4514_string(),
        digicert.subject.rfc4514_string(),
    ]


@pytest.mark.parametrize("site", ["akamai.com", "cloudflare.com"])
def test_ecdsa_chains_pass_key_checks(run_cli: RunCli, site: str) -> None:
    """ECDSA chains (P-256 leaves, P-256/P-384 CAs) raise no key finding and verify."""
    certs = [*_certs(site, "leaf.pem"), *_certs(site, "chain.pem"), *_certs(site, "root.pem")]
    assert all(isinstance(cert.public_key(), ec.EllipticCurvePublicKey) for cert in certs)
    report = _check(
        run_cli, site, "--host", site, "--ca", CHAINS / site / "root.pem", "--at", CAPTURED[site]
    )
    keys = {"cert.key-size", "cert.key-type", "cert.curve", "cert.signature-hash"}
    assert not keys & {f["check"] for f in report["findings"]}
    assert _chain(report)["data"]["status"] == "verified"


def test_real_chain_refused_where_clients_refuse_it(run_cli: RunCli) -> None:
    """The same real chain fails for another name, without its intermediates, under another
    root, and after the leaf's notAfter: each with the check a client's error matches."""
    site = "microsoft.com"
    root = CHAINS / site / "root.pem"
    (digicert,) = _certs(site, "root.pem")
    at = CAPTURED[site]
    wrong_name = _check(run_cli, site, "--host", "psn1.corp.example", "--ca", root, "--at", at)
    assert _problems(wrong_name) == {"cert.identity": "fail"}
    missing = _check(run_cli, site, "--host", site, "--ca", root, "--at", at, chain=False)
    assert _chain(missing)["data"]["status"] == "missing-intermediate"
    assert (
        _chain(missing)["data"]["missing_issuer"]
        == _certs(site, "chain.pem")[0].subject.rfc4514_string()
    )
    other_root = CHAINS / "akamai.com" / "root.pem"
    untrusted = _check(run_cli, site, "--host", site, "--ca", other_root, "--at", at)
    assert _chain(untrusted)["severity"] == "fail"
    assert _chain(untrusted)["data"]["missing_issuer"] == digicert.subject.rfc4514_string()
    assert "if the missing issuer is a root, give it with --ca" in _chain(untrusted)["fix"]
    (leaf,) = _certs(site, "leaf.pem")
    last_second = leaf.not_valid_after_utc
    inside = _check(run_cli, site, "--host", site, "--ca", root, "--at", last_second.isoformat())
    assert "cert.expired" not in _problems(inside)
    after = (last_second + dt.timedelta(seconds=1)).isoformat()
    expired = _check(run_cli, site, "--host", site, "--ca", root, "--at", after)
    assert _problems(expired)["cert.expired"] == "fail"
