"""The CP policy file: YAML and JSON, validated, errors naming file, rule and field."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.version import Version

from feedmgr.errors import InputRejected, ParseError, SchemaError
from feedmgr.provisioning.policy import group_key, load_policy, parse_policy
from tests.conftest import REPO

GOOD_YAML = """
format: feedmgr-cp-policy/1
rules:
  - name: macOS
    identity_groups: [Employees]
    operating_systems: ["Mac OSX"]
    results:
      agent_package: CiscoSecureClientDesktopMacOSX 5.1.10.233
      agent_version: "5.1.10.233"
      compliance_module_version: "4.3.4200.0"
      agent_configuration: Mac config
  - name: Linux
    enabled: false
    identity_groups: Any
    operating_systems: ["Linux All"]
    other_conditions: ["Network Access:Location EQUALS HQ"]
    results: {}
"""


def test_yaml_policy_becomes_ordered_rules() -> None:
    """A valid YAML policy gives numbered rules with parsed versions and Any as None."""
    parsed = parse_policy(GOOD_YAML.encode(), "p.yaml")
    first, second = parsed.rules
    assert (first.number, first.name, first.enabled) == (1, "macOS", True)
    assert first.identity_groups == ("Employees",)
    assert first.results.agent_version == Version("5.1.10.233")
    assert first.results.installs_agent
    assert (second.number, second.enabled, second.identity_groups) == (2, False, None)
    assert second.conditional
    assert not second.results.installs_agent
    assert parsed.named_groups() == ("Employees",)


def test_json_policy_file_is_read_as_json(tmp_path: Path) -> None:
    """A .json policy file is parsed as JSON."""
    path = tmp_path / "p.json"
    path.write_text(
        '{"format": "feedmgr-cp-policy/1", "rules": [{"name": "a", "identity_groups": "Any",'
        ' "operating_systems": ["Mac OSX"], "results": {}}]}'
    )
    assert load_policy(path).rules[0].name == "a"


def test_shipped_example_policy_is_valid() -> None:
    """docs/examples/cp-policy.yaml parses."""
    parsed = load_policy(REPO / "docs" / "examples" / "cp-policy.yaml")
    assert len(parsed.rules) >= 5


def _with(rule_yaml: str) -> bytes:
    return f"format: feedmgr-cp-policy/1\nrules:\n{rule_yaml}".encode()


OK_RULE = (
    "  - name: ok\n    identity_groups: Any\n    operating_systems: [Mac OSX]\n    results: {}\n"
)


@pytest.mark.parametrize(
    ("data", "error", "expected"),
    [
        (b"rules: [", ParseError, "not valid YAML at line"),
        (b"- a\n- b\n", SchemaError, "a policy is a mapping"),
        (b"format: other/1\nrules: []\n", SchemaError, "format"),
        (
            _with(
                OK_RULE + "  - name: macOS\n    identity_groups: Any\n"
                "    operating_systems: [Mac OSX]\n    results: {agent_version: 5.1}\n"
            ),
            SchemaError,
            "rule 2 'macOS': results.agent_version: Input should be a valid string (quote it",
        ),
        (
            _with(
                "  - name: m\n    identity_groups: Any\n    operating_systems: [Mac OSX]\n"
                "    results: {agent_version: 'five'}\n"
            ),
            SchemaError,
            "rule 1 'm': results.agent_version: 'five' is not a version",
        ),
        (
            _with("  - name: m\n    identity_groups: Any\n    results: {}\n"),
            SchemaError,
            "rule 1 'm': operating_systems: Field required",
        ),
        (
            _with(
                "  - name: m\n    identity_groups: Any\n    operating_systems: [Mac OSX]\n"
                "    results: {}\n    colour: red\n"
            ),
            SchemaError,
            "rule 1 'm': colour: Extra inputs are not permitted",
        ),
        (
            _with(
                "  - name: m\n    identity_groups: []\n    operating_systems: [Mac OSX]\n"
                "    results: {}\n"
            ),
            SchemaError,
            "rule 1 'm': identity_groups: give Any or at least one identity group",
        ),
        (
            # A misspelt key also leaves the key it meant missing: the typo is named first.
            _with(
                "  - name: m\n    identity_groups: Any\n    operating_system: [Mac OSX]\n"
                "    results: {}\n"
            ),
            SchemaError,
            "rule 1 'm': operating_system: Extra inputs are not permitted (did you mean "
            "'operating_systems'?)",
        ),
        (_with(OK_RULE + OK_RULE), SchemaError, "rule 2 'ok': name: repeats rule 1"),
        (
            b"format: feedmgr-cp-policy/1\nx: &a [1]\nrules: *a\n",
            ParseError,
            "aliases",
        ),
        (b"\xff\xfe", ParseError, "not UTF-8"),
    ],
)
def test_bad_policies_are_rejected_naming_rule_and_field(
    data: bytes, error: type[InputRejected], expected: str
) -> None:
    """Each broken policy raises its documented error, naming the file, rule and field."""
    with pytest.raises(error) as caught:
        parse_policy(data, "policy.yaml")
    assert caught.value.subject == "policy.yaml"
    assert expected in caught.value.problem


def test_bad_json_names_the_line() -> None:
    """Malformed JSON is a ParseError with the line number."""
    with pytest.raises(ParseError, match="line 2"):
        parse_policy(b'{\n"format": }', "p.json", as_json=True)


def test_missing_file_is_rejected(tmp_path: Path) -> None:
    """An unreadable policy file is rejected input, not an OSError."""
    with pytest.raises(InputRejected, match="cannot read the policy"):
        load_policy(tmp_path / "nope.yaml")


def test_oversized_policy_is_rejected() -> None:
    """A policy over the size limit is refused before parsing."""
    with pytest.raises(SchemaError, match="byte limit"):
        parse_policy(b"#" * (4 * 1024 * 1024 + 1), "big.yaml")


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("Employees", "employees", True),
        ("User Identity Groups:Employees", "Employees", True),
        ("Endpoint Identity Groups:Profiled", "profiled", True),
        ("Employees", "Employee", False),
        ("  Guest   Users ", "guest users", True),
    ],
)
def test_group_names_compare_loosely(a: str, b: str, same: bool) -> None:
    """Group names compare without case, extra spaces or the ISE hierarchy prefix."""
    assert (group_key(a) == group_key(b)) is same


@settings(deadline=None)  # the machine may be loaded; speed is not tested here
@given(st.binary(max_size=300))
def test_no_bytes_make_the_parser_raise_anything_but_rejected_input(data: bytes) -> None:
    """Arbitrary bytes either parse or raise InputRejected (YAML and JSON)."""
    for as_json in (False, True):
        with contextlib.suppress(InputRejected):
            parse_policy(data, "fuzz", as_json=as_json)


@settings(deadline=None)  # the machine may be loaded; speed is not tested here
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=8),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
        max_leaves=12,
    )
)
def test_no_document_shape_escapes_as_another_error(document: object) -> None:
    """Any JSON document shape either validates or raises SchemaError/ParseError."""
    import json

    data = json.dumps({"format": "feedmgr-cp-policy/1", "rules": [document]}).encode()
    with contextlib.suppress(InputRejected):
        parse_policy(data, "fuzz", as_json=True)


@pytest.mark.parametrize("spelling", ["Any", "any", "ANY", " any "])
def test_any_group_in_any_case(spelling: str) -> None:
    """identity_groups: Any is accepted in any letter case and means every group."""
    data = _with(
        f"  - name: m\n    identity_groups: '{spelling}'\n    operating_systems: [Mac OSX]\n"
        "    results: {}\n"
    )
    assert parse_policy(data, "p.yaml").rules[0].identity_groups is None


CONFIGURED_YAML = """
format: feedmgr-cp-policy/1
agent_configurations:
  - name: Secure Client 5.1.10 macOS
    agent_package: CiscoSecureClientDesktopMacOSX 5.1.10.233
    compliance_module: CiscoSecureClientComplianceModulemacOS 4.3.4200.0
    posture_profile: Posture profile
    modules: [ISE Posture]
  - name: Secure Client 5.1.10 Windows
    agent_package: CiscoSecureClientDesktopWindows 5.1.10.233
    agent_version: "5.1.10.233"
    compliance_module_version: "4.3.4300.0"
    posture_profile: Posture profile
rules:
  - name: macOS
    identity_groups: Any
    operating_systems: ["Mac OSX"]
    results:
      agent_configuration: Secure Client 5.1.10 macOS
  - name: Windows
    identity_groups: Any
    operating_systems: ["Windows All"]
    results:
      agent_configuration: Secure Client 5.1.10 Windows
  - name: Android BYOD
    identity_groups: Any
    operating_systems: ["Android"]
    results:
      native_supplicant_configuration: Android WPA2
"""


def test_rules_naming_an_agent_configuration_get_its_package_module_and_profile() -> None:
    """A result that only names an agent configuration, as ISE's policy table shows it,
    gets that configuration's agent, compliance module and profile; versions written only
    in the package names (as ISE lists them) are read from there."""
    mac, windows, android = parse_policy(CONFIGURED_YAML.encode(), "p.yaml").rules
    assert mac.results.installs_agent
    assert mac.results.agent_package == "CiscoSecureClientDesktopMacOSX 5.1.10.233"
    assert mac.results.agent_version == Version("5.1.10.233")
    assert mac.results.compliance_module_version == Version("4.3.4200.0")
    assert mac.results.agent_profile == "Posture profile"
    assert windows.results.compliance_module_version == Version("4.3.4300.0")
    assert not android.results.installs_agent
    assert android.results.missing() == "a native supplicant configuration only"
    assert "native supplicant configuration 'Android WPA2'" in android.results.describe()


@pytest.mark.parametrize(
    ("package", "version", "shown"),
    [
        # Cisco's 4.x names pad the build (4.10.08025); the version is not repeated.
        (
            "AnyConnectDesktopMacOSX 4.10.08025.0",
            None,
            "agent AnyConnectDesktopMacOSX 4.10.08025.0",
        ),
        (
            "CiscoSecureClientDesktopMacOSX 5.1.10.233",
            None,
            "agent CiscoSecureClientDesktopMacOSX 5.1.10.233",
        ),
        # A version given beside a name that carries none is shown once.
        ("macOS agent", "5.1.10.233", "agent macOS agent 5.1.10.233"),
    ],
)
def test_agent_version_is_shown_once(package: str, version: str | None, shown: str) -> None:
    """The result's one-line description names the agent version once, also when the
    package name writes it with padded digits."""
    extra = f"\n      agent_version: '{version}'" if version else ""
    text = (
        "format: feedmgr-cp-policy/1\nrules:\n  - name: m\n    identity_groups: Any\n"
        f"    operating_systems: [Mac OSX]\n    results:\n      agent_package: {package}"
        f"{extra}\n      agent_profile: P\n"
    )
    (rule,) = parse_policy(text.encode(), "p.yaml").rules
    assert rule.results.describe().split(", ")[0] == shown


def test_configuration_without_the_posture_module_installs_no_posture_agent() -> None:
    """An agent configuration whose modules leave out ISE Posture postures nothing."""
    text = CONFIGURED_YAML.replace("modules: [ISE Posture]", "modules: [Network Access Manager]")
    mac = parse_policy(text.encode(), "p.yaml").rules[0]
    assert not mac.results.installs_agent
    assert "leave out ISE Posture" in mac.results.missing()


@pytest.mark.parametrize(
    ("results", "expected"),
    [
        (
            "{agent_configuration: Nowhere}",
            "rule 1 'r': results.agent_configuration: 'Nowhere' is not defined; define it "
            "once under agent_configurations",
        ),
        (
            "{agent_configuration: Defined, agent_version: '5.1.10.233'}",
            "rule 1 'r': results: names the agent configuration 'Defined' and also writes "
            "agent fields inline",
        ),
    ],
)
def test_configuration_names_must_resolve(results: str, expected: str) -> None:
    """A named configuration that is not defined, or is mixed with inline fields, is a
    schema error naming the rule, instead of a silent cp.no-agent on every OS."""
    text = (
        "format: feedmgr-cp-policy/1\nagent_configurations:\n"
        "  - {name: Defined, agent_package: CiscoSecureClientDesktopMacOSX 5.1.10.233}\n"
        "rules:\n  - name: r\n    identity_groups: Any\n    operating_systems: [Mac OSX]\n"
        f"    results: {results}\n"
    )
    with pytest.raises(SchemaError) as caught:
        parse_policy(text.encode(), "p.yaml")
    assert expected in caught.value.problem


def test_repeated_or_broken_configurations_are_rejected_by_name() -> None:
    """Configuration errors name the configuration and the field, like rule errors."""
    repeated = (
        "format: feedmgr-cp-policy/1\nagent_configurations:\n"
        "  - {name: A, agent_package: P 5.1}\n  - {name: A, agent_package: P 5.2}\n"
        "rules:\n  - {name: r, identity_groups: Any, operating_systems: [X], results: {}}\n"
    )
    with pytest.raises(SchemaError, match="agent configuration 2 'A': name: repeats"):
        parse_policy(repeated.encode(), "p.yaml")
    broken = repeated.replace("P 5.2}", "P 5.2, agent_version: 'new'}")
    with pytest.raises(SchemaError, match="agent configuration 2 'A': agent_version: 'new'"):
        parse_policy(broken.encode(), "p.yaml")


def test_the_example_policy_uses_agent_configurations() -> None:
    """docs/examples/cp-policy.yaml defines agent configurations once and rules name them."""
    parsed = load_policy(REPO / "docs" / "examples" / "cp-policy.yaml")
    named = [r for r in parsed.rules if r.results.defined]
    assert len(named) >= 4
    assert len(parsed.sharing("Secure Client 5.1.5 macOS")) == 2


@settings(deadline=None)  # the machine may be loaded; speed is not tested here
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=8),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
        max_leaves=12,
    ),
    st.sampled_from([None, "A", "B"]),
)
def test_no_configuration_shape_escapes_as_another_error(
    configuration: object, named: str | None
) -> None:
    """Any agent configuration shape, named by a rule or not, validates or raises
    SchemaError/ParseError."""
    import json

    results = {"agent_configuration": named} if named else {}
    rule = {"name": "r", "identity_groups": "Any", "operating_systems": ["X"], "results": results}
    document = {
        "format": "feedmgr-cp-policy/1",
        "agent_configurations": [configuration, {"name": "A", "agent_package": "P 5.1"}],
        "rules": [rule],
    }
    with contextlib.suppress(InputRejected):
        parse_policy(json.dumps(document).encode(), "fuzz", as_json=True)


@pytest.mark.parametrize(
    ("text", "line", "key"),
    [
        (GOOD_YAML.replace("  - name: macOS\n", "  - name: macOS\n    name: r2\n"), 5, "name"),
        (
            GOOD_YAML.replace("    enabled: false\n", "    enabled: true\n    enabled: false\n"),
            14,
            "enabled",
        ),
        ("format: feedmgr-cp-policy/1\nformat: feedmgr-cp-policy/1\nrules: []\n", 2, "format"),
    ],
)
def test_repeated_yaml_keys_are_refused_naming_line_and_key(text: str, line: int, key: str) -> None:
    """A key written twice in one mapping is refused (exit 3) with its line: YAML would
    silently keep the last one ("Validation is strict", docs/provisioning.md)."""
    with pytest.raises(ParseError, match=f"line {line}: key '{key}' appears twice") as caught:
        parse_policy(text.encode(), "cp.yaml")
    assert caught.value.subject == "cp.yaml"


def test_repeated_json_keys_are_refused_naming_the_key() -> None:
    """A JSON policy repeating a name in one object is refused like a YAML one: json would
    keep the last value (here: the rule disabled) without a word."""
    text = (
        '{"format": "feedmgr-cp-policy/1", "rules": [{"name": "m", "identity_groups": "Any", '
        '"operating_systems": ["Mac OSX"], "results": {}, "enabled": true, "enabled": false}]}'
    )
    with pytest.raises(ParseError, match="key 'enabled' appears twice in one object") as caught:
        parse_policy(text.encode(), "cp.json", as_json=True)
    assert caught.value.subject == "cp.json"
