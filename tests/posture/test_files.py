"""Condition files: loading YAML and JSON, and the exact error for each invalid file."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from feedmgr.errors import ExitCode, SchemaError
from feedmgr.posture.criteria import Ref
from feedmgr.posture.files import load_spec, spec_from_document
from feedmgr.posture.model import Enforcement, Operator, ServiceType
from tests.conftest import REPO


def test_example_file_is_the_field_document(field_document: dict[str, Any]) -> None:
    """docs/examples' YAML file holds the field document's condition, requirement, policy."""
    spec = load_spec(REPO / "docs/examples/macos-service-condition.yaml")
    condition = spec.condition("macOS-Service-Condition")
    assert (condition.service, condition.operator, condition.service_type, condition.exit_code) == (
        "com.apple.sysmond",
        Operator.RUNNING,
        ServiceType.DAEMON_OR_USER_AGENT,
        0,
    )
    requirement = spec.requirement("macOS-Service-Requirement")
    assert requirement.criteria == Ref("macOS-Service-Condition")
    assert requirement.message == "macOS Service is non compliant"
    assert spec.policies[0].enforcement is Enforcement.MANDATORY
    field_document["conditions"][0]["description"] = condition.description
    assert spec == spec_from_document(field_document, "x")


@pytest.mark.parametrize("suffix", [".json", ".yaml", ".yml"])
def test_json_and_yaml_load_alike(
    tmp_path: Path, field_document: dict[str, Any], suffix: str
) -> None:
    """The same document loads identically from JSON and YAML."""
    path = tmp_path / f"c{suffix}"
    path.write_text(json.dumps(field_document) if suffix == ".json" else yaml.dump(field_document))
    assert load_spec(path) == spec_from_document(field_document, "x")


def test_ise_display_names_are_accepted(field_document: dict[str, Any]) -> None:
    """Operators, service types and enforcement may be written as ISE shows them."""
    field_document["conditions"][0].update(
        operator="Loaded & Running or with exit code", service_type="User Agent", exit_code=3
    )
    field_document["policies"][0]["enforcement"] = "Audit"
    spec = spec_from_document(field_document, "x")
    assert spec.conditions[0].operator is Operator.RUNNING_OR_EXIT_CODE
    assert spec.conditions[0].service_type is ServiceType.USER_AGENT
    assert spec.policies[0].enforcement is Enforcement.AUDIT


def test_defaults_criteria_to_all_conditions(field_document: dict[str, Any]) -> None:
    """Without criteria, every listed condition must pass; without conditions, the criteria's."""
    del field_document["requirements"][0]["criteria"]
    assert spec_from_document(field_document, "x").requirements[0].criteria == Ref(
        "macOS-Service-Condition"
    )
    field_document["requirements"][0]["criteria"] = "macOS-Service-Condition"
    del field_document["requirements"][0]["conditions"]
    assert spec_from_document(field_document, "x").requirements[0].conditions == (
        "macOS-Service-Condition",
    )


_DELETE = object()


def _set(document: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node: Any = document
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value


@pytest.mark.parametrize(
    ("path", "value", "problem"),
    [
        (
            "conditions.0.operator",
            "runing",
            "conditions[0] (macOS-Service-Condition).operator: unknown Operator 'runing'",
        ),
        (
            "conditions.0.exit_code",
            _DELETE,
            "conditions[0] (macOS-Service-Condition).exit_code: required for operator "
            "exit-code (Loaded with exit code)",
        ),
        (
            "requirements.0.criteria",
            "(macOS-Service-Condition",
            "requirements[0] (macOS-Service-Requirement).criteria: unbalanced parentheses",
        ),
        (
            "requirements.0.criteria",
            "macOS-Service-Condition & Other",
            "requirements[0] (macOS-Service-Requirement).criteria: names condition 'Other', "
            "which is not in the file",
        ),
        (
            "requirements.0.conditions",
            ["Nope"],
            "requirements[0] (macOS-Service-Requirement).conditions: unknown condition 'Nope'",
        ),
        (
            "policies.0.requirement",
            "Missing",
            "policies[0] (macOS-Service-PosturePolicy).requirement: unknown requirement 'Missing'",
        ),
        ("conditions.0.service", "com apple", "conditions[0] (macOS-Service-Condition).service"),
        ("conditions.0.colour", "red", "conditions[0] (macOS-Service-Condition).colour: Extra"),
        ("requirements.0.message", _DELETE, "requirements[0] (macOS-Service-Requirement).message"),
        ("format", "other/1", "format: Input should be 'feedmgr-posture/1'"),
        ("requirements.0.remediation", "link", "requirements[0] (macOS-Service-Requirement)"),
    ],
)
def test_invalid_files_name_item_and_reason(
    tmp_path: Path, field_document: dict[str, Any], path: str, value: Any, problem: str
) -> None:
    """Each invalid file is rejected (exit 3) with the file, the item and the reason."""
    field_document["conditions"][0]["operator"] = "exit-code"
    _set(field_document, path, value)
    target = tmp_path / "bad.yaml"
    target.write_text(yaml.dump(field_document))
    with pytest.raises(SchemaError) as info:
        load_spec(target)
    assert info.value.subject == str(target)
    assert problem in info.value.problem
    assert info.value.exit_code is ExitCode.INPUT_REJECTED


@pytest.mark.parametrize(
    ("typo", "meant", "problem"),
    [
        (
            ("conditions", 0, "servce"),
            "service",
            "conditions[0] (macOS-Service-Condition).servce: Extra inputs are not permitted "
            "(did you mean 'service'?)",
        ),
        (
            ("requirements", 0, "mesage"),
            "message",
            "requirements[0] (macOS-Service-Requirement).mesage: Extra inputs are not "
            "permitted (did you mean 'message'?)",
        ),
        (("polices",), "policies", "polices: Extra inputs are not permitted (did you mean"),
    ],
)
def test_a_misspelt_key_is_named_before_the_key_it_leaves_missing(
    field_document: dict[str, Any], typo: tuple[str | int, ...], meant: str, problem: str
) -> None:
    """A key spelt wrong is reported as the unknown key (with the closest known key), not as
    the required key it leaves missing."""
    node: Any = field_document
    for key in typo[:-1]:
        node = node[key]
    node[typo[-1]] = node.pop(meant)
    with pytest.raises(SchemaError) as info:
        spec_from_document(field_document, "x")
    assert info.value.problem.startswith(problem), info.value.problem


def test_duplicate_condition_names_rejected(field_document: dict[str, Any]) -> None:
    """Two conditions with one name are rejected, naming the second."""
    field_document["conditions"].append(dict(field_document["conditions"][0]))
    with pytest.raises(SchemaError, match=r"conditions\[1\] \(macOS-Service-Condition\): dup"):
        spec_from_document(field_document, "x")


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"conditions: [\n", "not valid YAML"),
        (b"\xff\xfe", "not UTF-8 text"),
        (b"- 1\n- 2\n", "expected a mapping"),
        # YAML keeps the last of two equal keys; a condition file must not change silently.
        (
            b"format: x\nconditions:\n  - name: a\n    name: b\n",
            "line 4: key 'name' appears twice in one mapping \\(first at line 3\\)",
        ),
    ],
)
def test_unparseable_files_rejected(tmp_path: Path, content: bytes, problem: str) -> None:
    """Files that are not YAML mappings are rejected with one clear line."""
    path = tmp_path / "c.yaml"
    path.write_bytes(content)
    with pytest.raises(SchemaError, match=problem):
        load_spec(path)


def test_json_condition_file_repeating_a_key_is_refused(tmp_path: Path) -> None:
    """A JSON condition file whose object repeats a name is refused, as a YAML one is: json
    would keep the last value without a word."""
    path = tmp_path / "c.json"
    path.write_text('{"format": "feedmgr-posture/1", "format": "x", "conditions": []}')
    with pytest.raises(SchemaError, match="key 'format' appears twice in one object"):
        load_spec(path)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["format", "conditions", "name", "operator", "service", "criteria"]),
            inner,
            max_size=4,
        )
    ),
    max_leaves=15,
)


@settings(max_examples=200)
@given(_json)
def test_any_document_is_accepted_or_schema_error(document: Any) -> None:
    """No parsed document makes validation raise anything but SchemaError."""
    with contextlib.suppress(SchemaError):
        spec_from_document(document, "x")
