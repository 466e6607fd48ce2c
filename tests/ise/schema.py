"""A JSON Schema (draft-04) validator for the subset Cisco's ISE response schemas use.

tests/data/ise holds Cisco's schemas; they use only type, properties, items, required,
enum, minLength and maxLength. Any other keyword makes validation fail loudly, so a newer
schema cannot be half-checked in silence. (A dependency such as jsonschema would do the
same for eight keywords' worth of rules.)
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent.parent / "data" / "ise"

_KNOWN = {"$schema", "type", "properties", "items", "required", "enum", "minLength", "maxLength"}
_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "boolean": (bool,),
}


@cache
def schema(name: str) -> dict[str, Any]:
    """A committed schema by file stem, e.g. ``deployment-node.response``."""
    loaded: dict[str, Any] = json.loads((DATA / f"{name}.schema.json").read_text("utf-8"))
    return loaded


def problems(instance: object, rules: dict[str, Any], where: str = "$") -> list[str]:
    """Every way ``instance`` breaks ``rules`` (empty when it follows them)."""
    unknown = set(rules) - _KNOWN
    if unknown:
        return [f"{where}: schema keyword(s) {sorted(unknown)} not supported by this validator"]
    found: list[str] = []
    wanted = rules.get("type")
    if wanted is not None:
        kinds = _TYPES[wanted]
        is_bool = isinstance(instance, bool)
        if not isinstance(instance, kinds) or (is_bool and wanted == "integer"):
            return [f"{where}: expected {wanted}, got {type(instance).__name__}"]
    if "enum" in rules and instance not in rules["enum"]:
        found.append(f"{where}: {instance!r} is not one of {rules['enum']}")
    if isinstance(instance, str):
        found += _length_problems(instance, rules, where)
    if isinstance(instance, dict):
        for name in rules.get("required", []):
            if name not in instance:
                found.append(f"{where}: missing required {name!r}")
        for name, sub in rules.get("properties", {}).items():
            if name in instance:
                found += problems(instance[name], sub, f"{where}.{name}")
    if isinstance(instance, list) and "items" in rules:
        for index, item in enumerate(instance):
            found += problems(item, rules["items"], f"{where}[{index}]")
    return found


def _length_problems(text: str, rules: dict[str, Any], where: str) -> list[str]:
    found = []
    if len(text) < rules.get("minLength", 0):
        found.append(f"{where}: shorter than {rules['minLength']}")
    if "maxLength" in rules and len(text) > rules["maxLength"]:
        found.append(f"{where}: longer than {rules['maxLength']}")
    return found


def assert_follows(instance: object, name: str) -> None:
    """Fail the test when ``instance`` does not follow the committed schema ``name``."""
    found = problems(instance, schema(name))
    assert not found, f"fake ISE answer breaks Cisco's {name} schema: {found}"
