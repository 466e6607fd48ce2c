"""End to end: a feed built from the sample source and ingested, then provisioning audit/match."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.feedkit import FeedFactory, set_max
from tests.conftest import REPO, RunCli

EXAMPLES = REPO / "docs" / "examples"
POLICY = EXAMPLES / "cp-policy.yaml"
INVENTORY = EXAMPLES / "endpoints-ise.csv"

CLEAN_POLICY = """
format: feedmgr-cp-policy/1
rules:
  - name: everyone
    identity_groups: Any
    operating_systems: ["Mac OSX", "Windows All", "Linux All"]
    results:
      agent_configuration: Secure Client 5.1.10
      agent_package: CiscoSecureClient 5.1.10.233
      agent_version: "5.1.10.233"
      compliance_module_version: "4.3.4200.0"
"""


@pytest.mark.usefixtures("sample_feed")
def test_audit_of_the_example_policy_fails_with_every_gap_kind(run_cli: RunCli) -> None:
    """The shipped example policy and inventory show each kind of gap; exit 1."""
    result = run_cli("provisioning", "audit", POLICY, "--inventory", INVENTORY, "--preset", "ise")
    assert result.code == 1, result.err
    for check in (
        "cp.uncovered",
        "cp.os-unknown",
        "cp.conditional",
        "cp.shadowed",
        "cp.disabled-only",
        "cp.no-agent",
        "cp.module-too-old",
        "cp.agent-too-old",
        "cp.future-only",
        "cp.os-blank",
    ):
        assert check in result.out
    assert result.out.splitlines()[0].split()[:4] == ["OS", "Employees", "Contractors", "Guests"]
    assert "macOS 26.2 (25C56)" in result.out


@pytest.mark.usefixtures("sample_feed")
def test_audit_of_the_example_lists_the_endpoints_with_no_os_recorded(run_cli: RunCli) -> None:
    """In the example full export the iPhone and the printer have an empty PostureOS: the
    audit says it cannot tell (a warning, not "no posture agent") and, with --examples,
    names their MACs so they can be looked up; the report counts them apart."""
    result = run_cli(
        "provisioning",
        "audit",
        POLICY,
        "--inventory",
        INVENTORY,
        "--preset",
        "ise",
        "--examples",
        "3",
        "--format",
        "json",
    )
    document = result.json()
    (blank,) = [f for f in document["findings"] if f["check"] == "cp.os-blank"]
    assert blank["severity"] == "warn"
    assert blank["data"]["endpoints"] == 2
    assert blank["data"]["examples"] == ["AA:BB:CC:00:00:09", "AA:BB:CC:00:00:0A"]
    assert blank["data"]["os_column"] == "PostureOS"
    assert document["facts"]["no OS recorded (cannot tell)"] == 2
    assert not [f for f in document["findings"] if f["check"] == "cp.not-posture-capable"]
    kinds = {r["os"]: r["kind"] for r in document["matrix"]["rows"]}
    assert kinds["(no OS recorded)"] == "os-blank"


@pytest.mark.usefixtures("sample_feed")
def test_audit_json_has_report_and_matrix(run_cli: RunCli) -> None:
    """--format json is the report document plus the matrix."""
    result = run_cli(
        "provisioning",
        "audit",
        POLICY,
        "--inventory",
        INVENTORY,
        "--preset",
        "ise",
        "--format",
        "json",
    )
    assert result.code == 1
    document = result.json()
    assert document["schema"] == "feedmgr-report/1"
    assert document["facts"]["endpoints"] == 10
    unknown = [f for f in document["findings"] if f["check"] == "cp.os-unknown"]
    assert unknown[0]["data"]["endpoints"] == 1
    assert unknown[0]["data"]["groups"] == ["Employees"]
    cells = {(c["os"], c["group"]): c for c in document["matrix"]["cells"]}
    assert cells[("Mac OSX 26", "Employees")]["rule"] == "macOS Tahoe"
    assert cells[("Mac OSX 26", "Employees")]["endpoints"] == 1


@pytest.mark.usefixtures("sample_feed")
def test_clean_policy_passes(run_cli: RunCli, tmp_path: Path) -> None:
    """A policy covering everything with current versions exits 0 with no findings."""
    policy = tmp_path / "clean.yaml"
    policy.write_text(CLEAN_POLICY)
    result = run_cli("provisioning", "audit", policy)
    assert result.code == 0, result.out
    assert "0 fail, 0 warn" in result.out
    assert "(any group)" in result.out


def test_a_feed_update_closes_the_unknown_os_gap(
    run_cli: RunCli, make_feed: FeedFactory, tmp_path: Path
) -> None:
    """macOS 26.2 bypasses on a feed that stops at 26.1 and is covered once the feed knows it."""
    policy = tmp_path / "clean.yaml"
    policy.write_text(CLEAN_POLICY)
    make_feed("2026.10.1")
    old = run_cli("provisioning", "match", policy, "--os", "macOS 26.2", "--group", "Staff")
    assert old.code == 1
    assert "OS unknown to the feed" in old.out
    make_feed("2026.10.2", edit=set_max("Mac OSX 26", "26.2"))
    new = run_cli("provisioning", "match", policy, "--os", "macOS 26.2", "--group", "Staff")
    assert new.code == 0, new.out
    assert "1. everyone: match" in new.out


@pytest.mark.usefixtures("sample_feed")
@pytest.mark.parametrize(
    ("os_string", "group", "code", "expected"),
    [
        ("macOS 26.1", "Employees", 0, "result (rule 1 'macOS Tahoe')"),
        ("macOS 26.1", "Contractors", 1, "cp.module-too-old"),
        ("Windows 10 Pro 10.0.19045", "Contractors", 1, "no rule matches"),
        ("Windows 11 Pro 10.0.26100", "Guests", 0, "covered only conditionally"),
        ("Android 14", "Employees", 0, "not posture-capable"),
        ("not an os", "Employees", 1, "not classified"),
    ],
)
def test_match_explains_one_case(
    run_cli: RunCli, os_string: str, group: str, code: int, expected: str
) -> None:
    """match shows every rule considered and the outcome; exit 1 when it would bypass."""
    result = run_cli("provisioning", "match", POLICY, "--os", os_string, "--group", group)
    assert result.code == code, result.out
    assert expected in result.out


@pytest.mark.usefixtures("sample_feed")
def test_match_json(run_cli: RunCli) -> None:
    """match --format json gives the steps and the result."""
    result = run_cli(
        "provisioning",
        "match",
        POLICY,
        "--os",
        "macOS 26.1",
        "--group",
        "Employees",
        "--format",
        "json",
    )
    document = result.json()
    assert document["rule"] == "macOS Tahoe"
    assert document["steps"][0]["verdict"] == "match"


@pytest.mark.usefixtures("sample_feed")
@pytest.mark.parametrize(
    ("content", "name", "expected"),
    [
        ("format: feedmgr-cp-policy/1\nrules: [{name: x}]\n", "p.yaml", "rule 1 'x'"),
        ("rules: [", "p.yaml", "not valid YAML"),
        ("{", "p.json", "not valid JSON"),
    ],
)
def test_bad_policy_is_exit_3_without_traceback(
    run_cli: RunCli, tmp_path: Path, content: str, name: str, expected: str
) -> None:
    """A broken policy file is one error line naming the file, exit 3."""
    path = tmp_path / name
    path.write_text(content)
    result = run_cli("provisioning", "audit", path)
    assert result.code == 3
    assert result.err.startswith(f"feedmgr: error: {path}: ")
    assert expected in result.err
    assert "Traceback" not in result.err


@pytest.mark.usefixtures("sample_feed")
def test_inventory_with_wrong_columns_is_exit_3(run_cli: RunCli) -> None:
    """The ISE full export read with the generic preset says to use --preset ise, exit 3."""
    result = run_cli("provisioning", "audit", POLICY, "--inventory", INVENTORY)
    assert result.code == 3
    assert "no OS column: this is ISE's full Context Visibility endpoint export" in result.err
    assert "--preset ise" in result.err
    mapped = run_cli(
        "provisioning",
        "audit",
        POLICY,
        "--inventory",
        INVENTORY,
        "--os-column",
        "PostureOS",
        "--group-column",
        "IdentityGroup",
    )
    assert mapped.code == 1, mapped.err


@pytest.mark.usefixtures("sample_feed")
@pytest.mark.parametrize("os_string", ["", "   "])
def test_match_with_an_empty_os_is_a_usage_error(run_cli: RunCli, os_string: str) -> None:
    """An empty --os is a usage error (exit 2), not an endpoint "not posture-capable"."""
    result = run_cli("provisioning", "match", POLICY, "--os", os_string)
    assert result.code == 2, result.out
    assert "--os" in result.err
    assert "posture" not in result.out


def test_audit_without_a_feed_is_a_usage_error(run_cli: RunCli) -> None:
    """With no active feed the command says how to get one (exit 2)."""
    result = run_cli("provisioning", "audit", POLICY)
    assert result.code == 2
    assert "no active feed" in result.err


@pytest.mark.parametrize(
    "command", [("provisioning",), ("provisioning", "audit"), ("provisioning", "match")]
)
def test_help_has_an_example(run_cli: RunCli, command: tuple[str, ...]) -> None:
    """Every provisioning command's --help includes an example line."""
    result = run_cli(*command, "--help")
    assert result.code == 0
    assert "Example: feedmgr provisioning" in result.out


def test_provisioning_is_listed_in_root_help(run_cli: RunCli) -> None:
    """The root --help lists the provisioning group without importing it."""
    result = run_cli("--help")
    assert "provisioning" in result.out
    assert "who would bypass posture" in result.out


def test_provisioning_help_does_not_import_heavy_libraries() -> None:
    """`feedmgr provisioning ... --help` imports neither pydantic, pyarrow nor cryptography."""
    probe = (
        "import sys\n"
        "from feedmgr.cli import main\n"
        "for argv in (['provisioning', '--help'], ['provisioning', 'audit', '--help'],\n"
        "             ['provisioning', 'match', '--help']):\n"
        "    assert main(argv) == 0\n"
        "heavy = [m for m in ('cryptography', 'pydantic', 'pyarrow', 'requests')\n"
        "         if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True)


def test_real_process_audit_of_a_missing_inventory(tmp_path: Path) -> None:
    """`python -m feedmgr provisioning audit` in a real process: exit 3, one line, no
    traceback, when the inventory does not exist."""
    home = tmp_path / "home"
    feed = REPO / "feeds" / "sample" / "sample-feed.zip"
    key = REPO / "feeds" / "sample" / "demo-publisher.pub.pem"
    base = [sys.executable, "-m", "feedmgr", "--home", str(home)]
    subprocess.run(
        [*base, "update", "--offline", str(feed), "--trust", str(key)],
        check=True,
        capture_output=True,
    )
    missing = tmp_path / "missing.csv"
    result = subprocess.run(
        [*base, "provisioning", "audit", str(POLICY), "--inventory", str(missing)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 3
    assert result.stderr.startswith(f"feedmgr: error: {missing}: cannot read the inventory")
    assert result.stderr.count("\n") == 1


@pytest.mark.usefixtures("sample_feed")
def test_audit_examples_name_affected_endpoints(run_cli: RunCli) -> None:
    """--examples N names affected endpoints by MAC in each finding."""
    result = run_cli(
        "provisioning",
        "audit",
        POLICY,
        "--inventory",
        INVENTORY,
        "--preset",
        "ise",
        "--examples",
        "3",
        "--format",
        "json",
    )
    unknown = next(f for f in result.json()["findings"] if f["check"] == "cp.os-unknown")
    assert unknown["data"]["examples"] == ["AA:BB:CC:00:00:02"]
    assert "(e.g. AA:BB:CC:00:00:02)" in unknown["message"]


def test_audit_against_a_package_file(
    run_cli: RunCli, make_feed: FeedFactory, tmp_path: Path
) -> None:
    """--feed FILE.zip audits against a verified package instead of the active feed."""
    from tests.cli.feedkit import DEMO_PUB

    policy = tmp_path / "clean.yaml"
    policy.write_text(CLEAN_POLICY)
    package = make_feed("2026.10.5", edit=set_max("Mac OSX 26", "26.2"), ingest=False)
    assert run_cli("trust", "add", DEMO_PUB).code == 0
    result = run_cli(
        "provisioning",
        "match",
        policy,
        "--os",
        "macOS 26.2",
        "--feed",
        package,
        "--format",
        "json",
    )
    assert result.code == 0, result.err
    assert result.json()["feed"] == "2026.10.5"
