"""Payload schemas: closed and strict, for every document a feed may carry."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feedmgr.errors import SchemaError
from feedmgr.feed.payload import is_payload_path, validate_payload
from tests.feed.factory import SAMPLE_SRC

GOOD_CONDITION: dict[str, Any] = {"name": "pc_x", "kind": "file", "platforms": ["macos"]}


def _checks(**change: Any) -> bytes:
    return json.dumps(
        {"format": "feedmgr-checks/1", "conditions": [{**GOOD_CONDITION, **change}]}
    ).encode()


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        (_checks(extra=1), "conditions.0.extra: Extra inputs are not permitted"),
        (_checks(platforms=[]), "conditions.0.platforms"),
        (_checks(platforms=["beos"]), "conditions.0.platforms.0"),
        (_checks(name=1), "conditions.0.name: Input should be a valid string"),
        (_checks(kind="magic"), "conditions.0.kind"),
        (_checks(definition={"x": [1]}), "conditions.0.definition.x"),
        (_checks(description="d" * 2001), "conditions.0.description"),
        (b'{"format": "feedmgr-checks/2", "conditions": []}', "format"),
        (b"[1, 2", "Invalid JSON"),
    ],
)
def test_predefined_checks_reject_what_the_schema_does_not_allow(
    document: bytes, problem: str
) -> None:
    """Unknown fields, wrong types, unknown kinds and bad JSON are refused with the field."""
    with pytest.raises(SchemaError, match=r"checks/a\.json") as info:
        validate_payload("checks/a.json", document, "feed.zip")
    assert problem in info.value.problem


def test_predefined_checks_accept_the_documented_shape() -> None:
    """A condition with optional description and definition is accepted as given."""
    document = validate_payload(
        "checks/a.json", _checks(description="d", definition={"a": "b", "n": 1, "f": True}), "s"
    )
    assert document == {
        "format": "feedmgr-checks/1",
        "conditions": [
            {**GOOD_CONDITION, "description": "d", "definition": {"a": "b", "n": 1, "f": True}}
        ],
    }


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("os/catalog.json", True),
        ("modules/compliance.json", True),
        ("charts/av.json", True),
        ("checks/predefined.json", True),
        ("checks/a-b_c.1.json", True),
        ("checks/.hidden.json", False),
        ("checks/sub/x.json", False),
        ("os/other.json", False),
        ("notes.txt", False),
    ],
)
def test_payload_paths(path: str, allowed: bool) -> None:
    """Only the documented payload paths may appear in a feed."""
    assert is_payload_path(path) is allowed


def test_sample_source_documents_are_valid() -> None:
    """Every payload of the shipped sample feed follows its schema."""
    for path in sorted(SAMPLE_SRC.rglob("*.json")):
        validate_payload(path.relative_to(SAMPLE_SRC).as_posix(), path.read_bytes(), str(path))


@given(st.binary(max_size=400))
def test_validation_only_raises_schema_error(data: bytes) -> None:
    """Any bytes either validate or raise SchemaError, for every payload kind."""
    for path in ("os/catalog.json", "modules/compliance.json", "charts/av.json", "checks/x.json"):
        with contextlib.suppress(SchemaError):
            validate_payload(path, data, "feed.zip")


def test_model_documents_are_limited_to_4_mib_and_conditions_to_32() -> None:
    """A catalog over 4 MiB is refused (built whole it would take the ingest over 100 MB);
    a condition document of the same size is fine (it is checked condition by condition)."""
    condition = json.dumps(GOOD_CONDITION)
    count = 4 * 1024 * 1024 // len(condition) + 1
    checks = (
        '{"format": "feedmgr-checks/1", "conditions": [' + ",".join([condition] * count) + "]}"
    ).encode()
    assert len(checks) > 4 * 1024 * 1024
    validate_payload("checks/big.json", checks, "feed.zip")
    catalog = b'{"format": "feedmgr-os-catalog/1", "nodes": []}' + b" " * (4 * 1024 * 1024)
    with pytest.raises(SchemaError, match="over the limit of 4194304"):
        validate_payload("os/catalog.json", catalog, "feed.zip")
