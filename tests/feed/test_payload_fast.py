"""The msgspec acceptance test for checks/*.json never accepts what the pydantic schema
refuses, and refusals keep pydantic's messages."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedmgr.errors import SchemaError
from feedmgr.feed.payload import validate_payload
from feedmgr.feed.payload_fast import checks_accepted, condition_count, schema_problem
from tests.feed.factory import SAMPLE_SRC

_COND = '{"name":"a","kind":"file","platforms":["macos"]%s}'
_DOC = '{"format":"feedmgr-checks/1","conditions":[%s]}'


def _pydantic_accepts(data: bytes) -> bool:
    try:
        validate_payload("checks/x.json", data, "feed.zip")
    except SchemaError:
        return False
    return True


# Edge cases where JSON parsers tend to differ: duplicate keys, escapes, surrogates, big
# and non-integral numbers, control characters, deep nesting, lengths in code points.
EDGE_CASES: dict[str, bytes] = {
    name: text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
    for name, text in {
        "valid": _DOC % (_COND % ""),
        "empty conditions": _DOC % "",
        "duplicate name, last empty": _DOC
        % '{"name":"a","name":"","kind":"file","platforms":["macos"]}',
        "duplicate name, first empty": _DOC
        % '{"name":"","name":"a","kind":"file","platforms":["macos"]}',
        "duplicate format, first wrong": '{"format":"x","format":"feedmgr-checks/1",'
        '"conditions":[]}',
        "duplicate format, last wrong": '{"format":"feedmgr-checks/1","format":"x",'
        '"conditions":[]}',
        "duplicate conditions, first bad": '{"format":"feedmgr-checks/1","conditions":[{"x":1}],'
        '"conditions":[]}',
        "duplicate conditions, last bad": '{"format":"feedmgr-checks/1","conditions":[],'
        '"conditions":[{"x":1}]}',
        "duplicate definition key": _DOC % (_COND % ',"definition":{"a":[1],"a":1}'),
        "lone surrogate": _DOC % (_COND % ',"description":"\\ud800"'),
        "surrogate pair": _DOC % (_COND % ',"description":"\\ud83d\\ude00"'),
        "raw newline in string": _DOC % (_COND % ',"description":"a\nb"'),
        "byte order mark": '\ufeff{"format":"feedmgr-checks/1","conditions":[]}',
        "big integer": _DOC % (_COND % ',"definition":{"a":123456789012345678901234567890}'),
        "2**64": _DOC % (_COND % ',"definition":{"a":18446744073709551616}'),
        "float 1.0": _DOC % (_COND % ',"definition":{"a":1.0}'),
        "exponent": _DOC % (_COND % ',"definition":{"a":1e3}'),
        "minus zero": _DOC % (_COND % ',"definition":{"a":-0}'),
        "NaN": _DOC % (_COND % ',"definition":{"a":NaN}'),
        "null value": _DOC % (_COND % ',"definition":{"a":null}'),
        "null description": _DOC % (_COND % ',"description":null'),
        "null definition": _DOC % (_COND % ',"definition":null'),
        "escaped key": _DOC % '{"n\\u0061me":"a","kind":"file","platforms":["macos"]}',
        "200 astral characters": _DOC
        % ('{"name":"%s","kind":"file","platforms":["macos"]}' % ("\U0001f600" * 200)),
        "201 astral characters": _DOC
        % ('{"name":"%s","kind":"file","platforms":["macos"]}' % ("\U0001f600" * 201)),
        "trailing garbage": '{"format":"feedmgr-checks/1","conditions":[]} x',
        "trailing whitespace": '{"format":"feedmgr-checks/1","conditions":[]} \n\t\r',
        "leading zero": _DOC % (_COND % ',"definition":{"a":01}'),
        "empty platforms": _DOC % '{"name":"a","kind":"file","platforms":[]}',
        "top-level array": "[]",
        "deep nesting in a definition": _DOC
        % (_COND % (',"definition":{"a":' + "[" * 5000 + "]" * 5000 + "}")),
        "deep nesting as a condition": _DOC % ("[" * 100_000 + "]" * 100_000),
        "latin-1 byte": b'{"format":"feedmgr-checks/1","conditions":[{"name":"\xe9","kind":"file",'
        b'"platforms":["macos"]}]}',
        "escaped NUL": _DOC % '{"name":"\\u0000","kind":"file","platforms":["macos"]}',
    }.items()
}


@pytest.mark.parametrize("case", sorted(EDGE_CASES))
def test_fast_check_accepts_nothing_pydantic_refuses(case: str) -> None:
    """On inputs where JSON parsers differ, an accepted document is one pydantic accepts."""
    data = EDGE_CASES[case]
    if checks_accepted(data):
        assert _pydantic_accepts(data)


@pytest.mark.parametrize("case", sorted(EDGE_CASES))
def test_verdict_and_message_are_pydantics(case: str) -> None:
    """Whatever msgspec says, the ingest's verdict and message are pydantic's own."""
    data = EDGE_CASES[case]
    try:
        validate_payload("checks/x.json", data, "checks/x.json")
        expected = None
    except SchemaError as exc:
        expected = exc.problem
    assert schema_problem("checks/x.json", data) == expected


_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=6,
)
_conditions = st.fixed_dictionaries(
    {
        "name": st.text(max_size=3) | _values,
        "kind": st.sampled_from(["file", "service", "magic"]) | _values,
        "platforms": st.lists(st.sampled_from(["macos", "linux", "beos"]), max_size=2) | _values,
    },
    optional={
        "description": st.text(max_size=3) | _values,
        "definition": st.dictionaries(st.text(max_size=2), _scalars, max_size=3) | _values,
        "extra": _values,
    },
)
_documents = st.fixed_dictionaries(
    {
        "format": st.just("feedmgr-checks/1") | _values,
        "conditions": st.lists(_conditions | _values, max_size=3) | _values,
    },
    optional={"more": _values},
)


@settings(max_examples=300)
@given(_documents | _values)
def test_fast_check_never_accepts_a_document_pydantic_refuses(document: Any) -> None:
    """Documents near the schema (each field right, wrong or missing): whenever the fast
    check accepts one, pydantic accepts it too."""
    data = json.dumps(document, allow_nan=True).encode()
    if checks_accepted(data):
        assert _pydantic_accepts(data)


@given(st.binary(max_size=300))
def test_fast_check_on_arbitrary_bytes(data: bytes) -> None:
    """Arbitrary bytes: the fast check accepts only what pydantic accepts, and never raises."""
    if checks_accepted(data):
        assert _pydantic_accepts(data)


def test_fast_check_accepts_the_sample_feed_conditions() -> None:
    """The shipped sample's condition documents pass the fast check (no pydantic needed)."""
    documents = sorted((SAMPLE_SRC / "checks").glob("*.json"))
    assert documents
    for path in documents:
        assert checks_accepted(path.read_bytes()), path


def test_condition_count_matches_the_validated_document() -> None:
    """``feedmgr status`` counts conditions without building them: the count is the one the
    full schema sees, and a document the fast check refuses gets no count."""
    for path in sorted((SAMPLE_SRC / "checks").glob("*.json")):
        data = path.read_bytes()
        document = validate_payload("checks/x.json", data, str(path))
        assert isinstance(document, dict)
        assert condition_count(data) == len(document["conditions"])
    assert condition_count(EDGE_CASES["duplicate name, first empty"]) is None
