"""The msgspec manifest reader never accepts a manifest the pydantic schema refuses, reads
the same values, leaves every refusal's message to pydantic, and lets a valid feed be
ingested without importing pydantic."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedmgr.errors import SchemaError
from feedmgr.feed import manifest as schema
from feedmgr.feed.manifest_fast import accepted_manifest, parse_manifest

REPO = Path(__file__).resolve().parents[2]
SHA = "a" * 64


def _pydantic_values(data: bytes) -> dict[str, Any] | None:
    try:
        return schema.parse_manifest(data, "feed.zip").model_dump()
    except SchemaError:
        return None


def _check(data: bytes) -> bool:
    """Assert the fast reader's contract on one manifest; True when it accepted it."""
    accepted = accepted_manifest(data)
    if accepted is None:
        return False
    expected = _pydantic_values(data)
    assert expected is not None, "msgspec accepted a manifest pydantic refuses"
    assert msgspec.to_builtins(accepted) == expected
    return True


def _weighted(
    usual: st.SearchStrategy[Any], rare: st.SearchStrategy[Any], one_in: int = 10
) -> st.SearchStrategy[Any]:
    """``rare`` about once in ``one_in`` draws (st.one_of weighs branches about evenly, and
    most of a manifest must be right for the accepting side to be exercised)."""
    return st.sampled_from(range(one_in)).flatmap(lambda n: rare if n == one_in - 1 else usual)


_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=3),
    lambda inner: (
        st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=2), inner, max_size=2)
    ),
    max_leaves=4,
)


def _edges(good: list[Any], bad: list[Any]) -> st.SearchStrategy[Any]:
    return _weighted(st.sampled_from(good), st.sampled_from(bad) | _values | st.none(), one_in=4)


_timestamps = _edges(
    ["2026-01-31T00:00:00Z", "2026-01-31T23:59:59.123456Z", "2024-02-29T12:00:00Z"],
    [
        "2026-01-31T00:00:00",
        "2026-01-31T00:00:00+00:00",
        "2026-02-30T00:00:00Z",
        "2026-01-31T24:00:00Z",
        "2026-01-31 00:00:00Z",
        "2026-01-31T00:00:00.1234567Z",
        "2026-01-31T00:00:00Z\n",
        "2026-01-31",
    ],
)
_files = st.dictionaries(
    st.sampled_from(["os/catalog.json", "checks/a.json", "x", ""]),
    st.fixed_dictionaries(
        {
            "sha256": _edges([SHA, "0123456789abcdef" * 4], [SHA.upper(), SHA + "\n", SHA[:63]]),
            "size": _edges([0, 1, 2**63 - 1], [-1, True, False, 1.0, "1", 2**64]),
        }
    ).flatmap(lambda entry: _weighted(st.just(entry), st.just({**entry, "extra": 1}))),
    max_size=3,
)
_manifests = st.fixed_dictionaries(
    {
        "format": _edges(["feedmgr-posture-feed/1"], ["feedmgr-posture-feed/2"]),
        "version": _edges(
            ["2026.11.25", "1.0", "1!2.0rc1", "v1.0", "1.0.post1"], ["", "1.0-", "x", "2026.x"]
        ),
        "published": _timestamps,
        "expires": _timestamps,
        "publisher": _edges(["Cisco", "x" * 200, "\U0001f600" * 200], ["", "x" * 201]),
        "files": _weighted(_files, _values),
    }
).flatmap(lambda manifest: _weighted(st.just(manifest), st.just({**manifest, "extra": 1})))


@settings(max_examples=1000)
@given(_manifests | _values)
def test_fast_manifest_is_never_looser(document: Any) -> None:
    """Manifests near the schema (each field right, of the wrong type, bool for a size,
    negative or huge sizes, digests in capitals or with a newline, timestamps not in UTC or
    impossible, bad versions, unknown keys): msgspec accepts only what pydantic accepts,
    with the same values."""
    _check(json.dumps(document, allow_nan=True).encode())


@given(st.binary(max_size=300))
def test_fast_manifest_on_arbitrary_bytes(data: bytes) -> None:
    """Arbitrary bytes: the fast reader accepts only what pydantic accepts, never raises."""
    _check(data)


def _manifest(**changes: Any) -> str:
    document: dict[str, Any] = {
        "format": "feedmgr-posture-feed/1",
        "version": "2026.11.25",
        "published": "2026-11-25T00:00:00Z",
        "expires": "2027-11-25T00:00:00Z",
        "publisher": "Cisco",
        "files": {"os/catalog.json": {"sha256": SHA, "size": 1}},
    }
    document.update(changes)
    return json.dumps(document)


_FILES = '"files":{"os/catalog.json":{"sha256":"' + SHA + '","size":1}}'
EDGE_CASES: dict[str, bytes] = {
    name: text.encode("utf-8", "surrogatepass")
    for name, text in {
        "valid": _manifest(),
        "no files": _manifest(files={}),
        "digest with a final newline": _manifest(files={"a": {"sha256": SHA + "\n", "size": 1}}),
        "bool for a size": _manifest(files={"a": {"sha256": SHA, "size": True}}),
        "float for a size": _manifest(files={"a": {"sha256": SHA, "size": 1.0}}),
        "size of 2**64": _manifest(files={"a": {"sha256": SHA, "size": 2**64}}),
        "negative size": _manifest(files={"a": {"sha256": SHA, "size": -1}}),
        "timestamp with an offset": _manifest(expires="2027-11-25T00:00:00+00:00"),
        "impossible timestamp": _manifest(expires="2027-02-29T00:00:00Z"),
        "version not PEP 440": _manifest(version="2026.11.x"),
        "publisher of 201 characters": _manifest(publisher="x" * 201),
        "lone surrogate in the publisher": _manifest().replace("Cisco", "\\ud800"),
        "byte order mark": "\ufeff" + _manifest(),
        "NaN for a size": _manifest().replace('"size": 1', '"size": NaN'),
        "duplicate file, first bad": _manifest()[:-2]
        + ', "os/catalog.json": {"sha256": "'
        + SHA
        + '", "size": 2}}}',
        "duplicate version, last bad": _manifest()[:-1] + ', "version": "x"}',
        "duplicate version, first bad": '{"version": "x", ' + _manifest()[1:],
        "duplicate files key": _manifest()[:-1] + ", " + _FILES + "}",
        "extra key": _manifest(signature="x"),
        "trailing garbage": _manifest() + " x",
        "top-level array": "[]",
    }.items()
}


@pytest.mark.parametrize("case", sorted(EDGE_CASES))
def test_edge_cases(case: str) -> None:
    """Where JSON parsers differ or a rule is just met or just broken, an accepted manifest
    is one pydantic accepts with the same values, and the verdict, its message and the
    values the ingest reads are pydantic's."""
    data = EDGE_CASES[case]
    _check(data)
    expected = _pydantic_values(data)
    if expected is None:
        with pytest.raises(SchemaError) as refused:
            parse_manifest(data, "feed.zip")
        with pytest.raises(SchemaError) as schema_refused:
            schema.parse_manifest(data, "feed.zip")
        assert refused.value.problem == schema_refused.value.problem
    else:
        assert msgspec.to_builtins(parse_manifest(data, "feed.zip")) == expected
    if case == "valid":
        assert accepted_manifest(data) is not None


def test_ingest_of_the_sample_feed_imports_no_pydantic(tmp_path: Path) -> None:
    """`feedmgr update --offline` of the shipped sample feed activates it without importing
    pydantic (it costs about 100 ms of CPU, a third of a small feed's ingest)."""
    code = (
        "import sys\n"
        "from feedmgr.cli import main\n"
        "home = sys.argv[1]\n"
        "assert main(['--home', home, 'trust', 'add', sys.argv[2]]) == 0\n"
        "assert main(['--home', home, '-q', 'update', '--offline', sys.argv[3]]) == 0\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'pydantic'))\n"
    )
    sample = REPO / "feeds" / "sample"
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            str(tmp_path / "home"),
            str(sample / "demo-publisher.pub.pem"),
            str(sample / "sample-feed.zip"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"
    assert (tmp_path / "home").exists()
