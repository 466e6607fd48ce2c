"""YAML and JSON for the files admins write for feedmgr: a key repeated in one mapping is
refused.

PyYAML and Python's json keep the last of two equal keys without a word, so a policy rule
written with ``enabled: true`` and, further down, ``enabled: false`` would be judged on
whichever came last. The YAML spec (1.2, section 3.2.1.1) requires mapping keys to be
unique, and RFC 8259 section 4 says names SHOULD be; every YAML or JSON file an admin
writes for feedmgr (condition files, CP policies) is read through :func:`load_strict` or
:func:`load_json_strict`.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from feedmgr.errors import ParseError


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key repeated within one mapping."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _value in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key; the base class reports it
                continue
            if first is not None:
                raise DuplicateKey(key, line, first)
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


class DuplicateKey(yaml.YAMLError):
    """A key that appears twice in one mapping."""

    def __init__(self, key: Any, line: int, first: int) -> None:
        super().__init__(f"line {line}: key {key!r} repeats the one at line {first}")
        self.key, self.line, self.first = key, line, first


def load_strict(text: str, subject: str) -> Any:
    """Parse one YAML document safely, refusing repeated mapping keys.

    Raises:
        ParseError: naming the line and the key when a mapping repeats a key.
        yaml.YAMLError: any other YAML error, for the caller to word.
    """
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 (a SafeLoader subclass)
    except DuplicateKey as exc:
        raise ParseError(
            subject,
            f"line {exc.line}: key {exc.key!r} appears twice in one mapping (first at line "
            f"{exc.first}); YAML would keep only the last one, so the file is refused",
        ) from exc


class _RepeatedJsonKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            raise _RepeatedJsonKey(key)
        document[key] = value
    return document


def load_json_strict(text: str, subject: str) -> Any:
    """Parse JSON, refusing a name repeated within one object.

    Raises:
        ParseError: naming the key when an object repeats it.
        json.JSONDecodeError: any other JSON error, for the caller to word.
    """
    try:
        return json.loads(text, object_pairs_hook=_unique_object)
    except _RepeatedJsonKey as exc:
        raise ParseError(
            subject,
            f"key {exc.key!r} appears twice in one object; JSON readers keep only the last "
            "one, so the file is refused",
        ) from exc
