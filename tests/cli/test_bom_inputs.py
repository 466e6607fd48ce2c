"""Text inputs saved by Windows editors start with a UTF-8 byte-order mark; every kind is
accepted and read exactly as without it (issue #14: BOMs)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from pytest_httpserver import HTTPServer

from feedmgr.deployment import load_deployment
from feedmgr.textio import UTF8_BOM
from tests.certs.factory import Leaf, pki, write_pem
from tests.cli.test_releases import sofa_document
from tests.conftest import REPO, RunCli
from tests.feed.netserver import PUBLIC_KEY, SAMPLE, Packages, atom_index

Asset = Callable[[str], Path]
EXAMPLES = REPO / "docs" / "examples"
CONDITIONS = EXAMPLES / "macos-service-condition.yaml"


def _with_bom(source: Path, target: Path) -> Path:
    target.write_bytes(UTF8_BOM + source.read_bytes())
    return target


@pytest.mark.parametrize("bom_on", ["dumpstate", "list", "conditions-yaml", "conditions-json"])
def test_posture_eval_reads_captures_and_conditions_with_a_bom(
    run_cli: RunCli, asset: Asset, tmp_path: Path, bom_on: str
) -> None:
    """A launchctl capture or a condition file starting with a BOM evaluates as without."""
    dumpstate, listing = asset("posture/dumpstate.txt"), asset("posture/list-system.txt")
    conditions = CONDITIONS
    if bom_on == "dumpstate":
        dumpstate = _with_bom(dumpstate, tmp_path / "dumpstate.txt")
    elif bom_on == "list":
        listing = _with_bom(listing, tmp_path / "list-system.txt")
    elif bom_on == "conditions-yaml":
        conditions = _with_bom(CONDITIONS, tmp_path / "conditions.yaml")
    else:
        document = yaml.safe_load(CONDITIONS.read_text(encoding="utf-8"))
        conditions = tmp_path / "conditions.json"
        conditions.write_bytes(UTF8_BOM + json.dumps(document).encode())
    result = run_cli("posture", "eval", conditions, "--dumpstate", dumpstate, "--list", listing)
    assert result.code == 0, result.err
    assert "system/com.apple.sysmond: state = running, pid 412" in result.out
    assert "Posture Status: Compliant" in result.out


def test_posture_log_with_a_bom_scans_the_same(
    run_cli: RunCli, asset: Asset, tmp_path: Path
) -> None:
    """An agent log starting with a BOM gives the same scan as without it."""
    log = asset("posture/ise-psc.log")
    plain = run_cli("posture", "parse-log", log, "--format", "json").json()
    marked = run_cli(
        "posture", "parse-log", _with_bom(log, tmp_path / "ise-psc.log"), "--format", "json"
    ).json()
    plain.pop("log")
    marked.pop("log")
    assert marked == plain


def test_settings_file_with_a_bom_is_read(run_cli: RunCli, home: Path) -> None:
    """config.toml saved with a BOM keeps its settings (tomllib alone refuses it)."""
    home.mkdir(parents=True)
    (home / "config.toml").write_bytes(UTF8_BOM + b"[feed]\nmax_download_bytes = 4096\n")
    result = run_cli("config", "get", "feed.max_download_bytes")
    assert (result.code, result.out) == (0, "4096\n"), result.err


def test_deployment_file_with_a_bom_is_read(tmp_path: Path) -> None:
    """A deployment TOML with a BOM loads to the same deployment."""
    example = EXAMPLES / "deployment.toml"
    marked = _with_bom(example, tmp_path / "deployment.toml")
    assert load_deployment(marked) == load_deployment(example)


def test_feed_source_with_a_bom_in_feed_toml_builds(run_cli: RunCli, tmp_path: Path) -> None:
    """feed build accepts a feed.toml saved with a BOM."""
    src = tmp_path / "src"
    shutil.copytree(SAMPLE / "src", src)
    _with_bom(SAMPLE / "src" / "feed.toml", src / "feed.toml")
    out = tmp_path / "feed.zip"
    result = run_cli("feed", "build", src, "-o", out, "--key", SAMPLE / "demo-publisher.key.pem")
    assert result.code == 0, result.err
    assert run_cli("feed", "verify", out, "--trust", PUBLIC_KEY).code == 0


def test_pem_files_with_a_bom_are_read(
    run_cli: RunCli,
    tmp_path: Path,
    https_server: HTTPServer,
    packages: Packages,
    ca_bundle: Path,
) -> None:
    """A publisher key, a certificate and a CA bundle saved with a BOM are all usable."""
    key = _with_bom(PUBLIC_KEY, tmp_path / "publisher.pub.pem")
    assert run_cli("trust", "add", key).code == 0
    leaf = write_pem(tmp_path / "leaf.pem", pki().leaf(Leaf(), slot=4).cert)
    args = ("--host", "psn1.corp.example", "--format", "json")
    plain = run_cli("cert", "check", leaf, *args)
    checked = run_cli("cert", "check", _with_bom(leaf, tmp_path / "bom-leaf.pem"), *args)
    assert checked.code == plain.code, checked.err
    assert [(f["check"], f["message"]) for f in checked.json()["findings"]] == [
        (f["check"], f["message"]) for f in plain.json()["findings"]
    ]
    https_server.expect_request("/i.xml").respond_with_data(
        atom_index([packages.new.entry("f.zip")])
    )
    bundle = _with_bom(ca_bundle, tmp_path / "ca.pem")
    url = https_server.url_for("/i.xml")
    result = run_cli("update", "--check", "--url", url, "--ca-bundle", bundle)
    assert result.code == 0, result.err


@pytest.mark.parametrize("kind", ["--sofa", "--catalog"])
def test_release_data_with_a_bom_is_imported(run_cli: RunCli, tmp_path: Path, kind: str) -> None:
    """A SOFA feed or a release catalog saved with a BOM imports (JSON parsers refuse it)."""
    if kind == "--sofa":
        document = sofa_document(("26.3.1", "25D99", "2026-03-05"))
    else:
        document = json.loads((REPO / "feeds" / "releases" / "macos.json").read_text())
    path = tmp_path / "releases.json"
    path.write_bytes(UTF8_BOM + json.dumps(document).encode())
    result = run_cli("releases", "import", kind, path, "--format", "json")
    assert result.code == 0, result.err
    assert result.json()["imported"] >= 1


def test_policy_and_inventory_with_a_bom_are_read(
    run_cli: RunCli, tmp_path: Path, sample_feed: Path
) -> None:
    """A client-provisioning policy and an ISE inventory export with BOMs audit the same."""
    del sample_feed
    policy, inventory = EXAMPLES / "cp-policy.yaml", EXAMPLES / "endpoints-ise.csv"
    plain = run_cli("provisioning", "audit", policy, "--inventory", inventory, "--preset", "ise")
    marked = run_cli(
        "provisioning",
        "audit",
        _with_bom(policy, tmp_path / "cp-policy.yaml"),
        "--inventory",
        _with_bom(inventory, tmp_path / "endpoints.csv"),
        "--preset",
        "ise",
    )
    assert marked.code == plain.code == 1
    assert (
        marked.out.replace(str(tmp_path / "cp-policy.yaml"), str(policy)).replace(
            str(tmp_path / "endpoints.csv"), str(inventory)
        )
        == plain.out
    )
