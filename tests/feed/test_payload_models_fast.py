"""The msgspec acceptance test for os/catalog.json, modules/compliance.json and charts/av.json
never accepts what the pydantic models refuse, decodes the same values, and leaves every
refusal's message to pydantic."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedmgr.errors import SchemaError
from feedmgr.feed.payload import validate_payload
from feedmgr.feed.payload_fast import (
    AV_CHART_PATH,
    CATALOG_PATH,
    COMPLIANCE_PATH,
    MAX_MODEL_PAYLOAD_BYTES,
    accepted_model,
    schema_problem,
)
from tests.feed.factory import SAMPLE_SRC

_MODEL_PATHS = (CATALOG_PATH, COMPLIANCE_PATH, AV_CHART_PATH)


def _pydantic_verdict(path: str, data: bytes) -> dict[str, Any] | None:
    """The document as pydantic's model dumps it to JSON types, or None when refused."""
    try:
        model = validate_payload(path, data, "feed.zip")
    except SchemaError:
        return None
    assert not isinstance(model, dict)
    return model.model_dump(mode="json")


def _check(path: str, data: bytes) -> bool:
    """Assert the fast path's contract on one document; True when it accepted it."""
    accepted = accepted_model(path, data)
    if accepted is None:
        return False
    expected = _pydantic_verdict(path, data)
    assert expected is not None, "msgspec accepted a document pydantic refuses"
    assert msgspec.to_builtins(accepted) == expected
    return True


_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=3)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=2), inner, max_size=2)
    ),
    max_leaves=4,
)
# Values right, wrong in type (bool for a string, a number for a date), out of range (empty,
# 201 characters, 30 February), and versions PEP 440 refuses or orders unexpectedly.


def _weighted(
    usual: st.SearchStrategy[Any], rare: st.SearchStrategy[Any], one_in: int = 10
) -> st.SearchStrategy[Any]:
    """``rare`` about once in ``one_in`` draws, else ``usual`` (st.one_of weighs its
    branches about evenly, and most of a document must be right for the accepting side of
    the check to be exercised)."""
    return st.sampled_from(range(one_in)).flatmap(lambda n: rare if n == one_in - 1 else usual)


def _edges(good: list[str], bad: list[str]) -> st.SearchStrategy[str]:
    return _weighted(st.sampled_from(good), st.sampled_from(bad), one_in=4)


_families = _edges(["macos", "windows", "linux"], ["MacOS", "beos"])
_names = _edges(["Mac OSX", "Mac OSX 15", "Windows All", "x" * 200], ["", "x" * 201])
_versions = _edges(
    ["1.0", "15.7.2", "15", "4.3.1000.0", "1!2.0", "1.0rc1", "v1.0", "1.0.post1"],
    ["", "1.0-", "x", "15.x"],
)
_dates = _edges(
    ["2024-09-16", "0001-01-01", "2024-02-29"],
    ["2024-02-30", "2023-02-29", "2024-9-16", "2024-09-16T00:00:00", "20240916"],
)


def _field(right: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return _weighted(right, st.none() | _values)


def _sometimes_extra(document: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    return _mostly(st.just(document)) | st.just({**document, "extra": 1})


def _mostly(right: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return _weighted(right, _values)


_node_fields = st.fixed_dictionaries(
    {},
    optional={
        "codename": _field(_names),
        "released": _field(_dates),
        "min_agent_version": _field(_versions),
        "min_compliance_module_version": _field(_versions),
    },
)


@st.composite
def _catalog_nodes(draw: st.DrawFn) -> list[Any]:
    """Mostly a sound tree (distinct names, parents listed, one family per branch, ranges
    ordered), with one thing at a time going wrong: a duplicate or unknown name, a parent of
    another family, a cycle, a range half given or reversed, a wrong type anywhere."""
    nodes: list[Any] = []
    for index in range(draw(st.integers(0, 4))):
        node: dict[str, Any] = {
            "name": draw(_weighted(st.just(f"OS {index}"), _names | _values)),
            "family": draw(_field(_families)),
        }
        if nodes and draw(st.booleans()):
            parent = draw(st.sampled_from(nodes))
            node["parent"] = draw(
                _weighted(st.just(parent.get("name") if isinstance(parent, dict) else "x"), _names)
            )
            node["family"] = draw(
                _weighted(
                    st.just(parent.get("family") if isinstance(parent, dict) else ""), _families
                )
            )
        if draw(st.booleans()):
            node["min_version"] = draw(_field(_versions))
            node["max_version"] = draw(_field(_versions))
        node.update(draw(_node_fields))
        nodes.append(draw(_sometimes_extra(node)))
    if nodes and draw(st.sampled_from(range(10))) == 9:
        # Close a cycle through the first node.
        first = nodes[0]
        if isinstance(first, dict):
            first["parent"] = draw(_names)
    return nodes


_catalogs = st.fixed_dictionaries(
    {
        "format": _mostly(st.just("feedmgr-os-catalog/1")),
        "nodes": _mostly(_catalog_nodes()),
    },
).flatmap(_sometimes_extra)
_modules = st.fixed_dictionaries(
    {
        "format": _mostly(st.just("feedmgr-compliance-modules/1")),
        "modules": st.lists(
            st.fixed_dictionaries(
                {"platform": _field(_families), "version": _field(_versions)},
                optional={
                    "released": _field(_dates),
                    "min_agent_version": _field(_versions),
                },
            ).flatmap(_sometimes_extra),
            max_size=3,
        )
        | _values,
    },
).flatmap(_sometimes_extra)
_products = st.fixed_dictionaries(
    {
        "name": _field(_names),
        "category": _field(st.sampled_from(["antivirus", "antimalware", "firewall"])),
        "platforms": _field(st.lists(_families, min_size=1, max_size=2) | st.just([])),
    },
    optional={
        "product_versions": _field(st.sampled_from(["all", "12.x", "x" * 200, "x" * 201])),
        "min_compliance_module_version": _field(_versions),
    },
).flatmap(_sometimes_extra)
_charts = st.fixed_dictionaries(
    {
        "format": _mostly(st.just("feedmgr-av-chart/1")),
        "vendors": st.lists(
            st.fixed_dictionaries(
                {"name": _field(_names), "products": _mostly(st.lists(_products, max_size=2))}
            ).flatmap(_sometimes_extra),
            max_size=2,
        )
        | _values,
    },
).flatmap(_sometimes_extra)


@settings(max_examples=1000)
@given(_catalogs | _values)
def test_catalog_fast_check_is_never_looser(document: Any) -> None:
    """OS catalogs near the schema (fields right, wrong, missing, duplicate nodes, unknown
    parents, family mismatches, reversed ranges): msgspec accepts only what pydantic
    accepts, with the same values."""
    _check(CATALOG_PATH, json.dumps(document, allow_nan=True).encode())


@settings(max_examples=1000)
@given(_modules | _values)
def test_modules_fast_check_is_never_looser(document: Any) -> None:
    """Compliance-module lists near the schema: msgspec accepts only what pydantic accepts,
    with the same values."""
    _check(COMPLIANCE_PATH, json.dumps(document, allow_nan=True).encode())


@settings(max_examples=1000)
@given(_charts | _values)
def test_av_chart_fast_check_is_never_looser(document: Any) -> None:
    """AV charts near the schema: msgspec accepts only what pydantic accepts, with the same
    values (the ``product_versions`` default included)."""
    _check(AV_CHART_PATH, json.dumps(document, allow_nan=True).encode())


@pytest.mark.parametrize("path", _MODEL_PATHS)
@given(data=st.binary(max_size=200))
def test_fast_check_on_arbitrary_bytes(path: str, data: bytes) -> None:
    """Arbitrary bytes: the fast check accepts only what pydantic accepts, and never raises."""
    _check(path, data)


_NODE = '{"name":"Mac OSX 15","family":"macos"%s}'
_CATALOG = '{"format":"feedmgr-os-catalog/1","nodes":[%s]}'
# Where JSON parsers and validators tend to differ, each given as a catalog document.
CATALOG_EDGE_CASES: dict[str, bytes] = {
    name: text.encode("utf-8", "surrogatepass")
    for name, text in {
        "valid": _CATALOG % (_NODE % ""),
        "no nodes": _CATALOG % "",
        "duplicate node": _CATALOG % ",".join([_NODE % ""] * 2),
        "cycle": _CATALOG
        % '{"name":"a","family":"macos","parent":"b"},{"name":"b","family":"macos","parent":"a"}',
        "own parent": _CATALOG % '{"name":"a","family":"macos","parent":"a"}',
        "unknown parent": _CATALOG % (_NODE % ',"parent":"Mac OSX"'),
        "parent of another family": _CATALOG
        % ('{"name":"Mac OSX","family":"linux"},' + _NODE % ',"parent":"Mac OSX"'),
        "min without max": _CATALOG % (_NODE % ',"min_version":"15.0"'),
        "reversed range": _CATALOG % (_NODE % ',"min_version":"15.7","max_version":"15.0"'),
        "range ordered as versions, not text": _CATALOG
        % (_NODE % ',"min_version":"15.9","max_version":"15.10"'),
        "equal versions written differently": _CATALOG
        % (_NODE % ',"min_version":"15.0","max_version":"15"'),
        "not a PEP 440 version": _CATALOG % (_NODE % ',"min_agent_version":"4.x"'),
        "version as a number": _CATALOG % (_NODE % ',"min_agent_version":4'),
        "date": _CATALOG % (_NODE % ',"released":"2024-09-16"'),
        "date 30 February": _CATALOG % (_NODE % ',"released":"2024-02-30"'),
        "date and time": _CATALOG % (_NODE % ',"released":"2024-09-16T00:00:00Z"'),
        "date as a number": _CATALOG % (_NODE % ',"released":20240916'),
        "date as a timestamp string": _CATALOG % (_NODE % ',"released":"1726444800"'),
        "bool for a name": _CATALOG % '{"name":true,"family":"macos"}',
        "null codename": _CATALOG % (_NODE % ',"codename":null'),
        "empty codename": _CATALOG % (_NODE % ',"codename":""'),
        "duplicate family, first wrong": _CATALOG % '{"name":"a","family":"beos","family":"macos"}',
        "duplicate parent, last unknown": _CATALOG
        % ('{"name":"p","family":"macos"},{"name":"a","family":"macos","parent":"p","parent":"q"}'),
        "duplicate parent, first unknown": _CATALOG
        % ('{"name":"p","family":"macos"},{"name":"a","family":"macos","parent":"q","parent":"p"}'),
        "lone surrogate": _CATALOG % (_NODE % ',"codename":"\\ud800"'),
        "extra key": _CATALOG % (_NODE % ',"build":"24A335"'),
        "byte order mark": "\ufeff" + _CATALOG % (_NODE % ""),
        "trailing garbage": _CATALOG % (_NODE % "") + " x",
        "deep nesting": _CATALOG % ("[" * 100_000 + "]" * 100_000),
    }.items()
}


_PRODUCT = '{"name":"Defender","category":"antimalware","platforms":["windows"]%s}'
_CHART = '{"format":"feedmgr-av-chart/1","vendors":[{"name":"Microsoft","products":[%s]}]}'
_MODULE = '{"platform":"macos","version":"4.3.3000.0"%s}'
_MODULES = '{"format":"feedmgr-compliance-modules/1","modules":[%s]}'
EDGE_CASES: dict[tuple[str, str], bytes] = {
    **{(CATALOG_PATH, name): data for name, data in CATALOG_EDGE_CASES.items()},
    **{
        (AV_CHART_PATH, name): text.encode()
        for name, text in {
            "valid": _CHART % (_PRODUCT % ""),
            "product versions of 200 characters": _CHART
            % (_PRODUCT % f',"product_versions":"{"x" * 200}"'),
            "product versions of 201 characters": _CHART
            % (_PRODUCT % f',"product_versions":"{"x" * 201}"'),
            "null product versions": _CHART % (_PRODUCT % ',"product_versions":null'),
            "no platforms": _CHART % '{"name":"a","category":"antivirus","platforms":[]}',
            "bad module version": _CHART % (_PRODUCT % ',"min_compliance_module_version":"4.x"'),
            "extra key on a product": _CHART % (_PRODUCT % ',"vendor":"x"'),
        }.items()
    },
    **{
        (COMPLIANCE_PATH, name): text.encode()
        for name, text in {
            "valid": _MODULES % (_MODULE % ',"released":"2024-09-16"'),
            "no modules": _MODULES % "",
            "bad version": _MODULES % '{"platform":"macos","version":"4.3.x"}',
            "version as a number": _MODULES % '{"platform":"macos","version":4}',
            "bool for a date": _MODULES % (_MODULE % ',"released":true'),
            "bad agent version": _MODULES % (_MODULE % ',"min_agent_version":"five"'),
        }.items()
    },
}


@pytest.mark.parametrize(("path", "case"), sorted(EDGE_CASES))
def test_edge_cases(path: str, case: str) -> None:
    """On inputs where parsers differ or a limit is just met or just passed, an accepted
    document is one pydantic accepts with the same values, and the verdict and its message
    are pydantic's own."""
    data = EDGE_CASES[path, case]
    _check(path, data)
    try:
        validate_payload(path, data, path)
        expected = None
    except SchemaError as exc:
        expected = exc.problem
    assert schema_problem(path, data) == expected
    if case == "valid":
        assert accepted_model(path, data) is not None


def test_oversized_model_document_goes_to_pydantic() -> None:
    """A valid document over the 4 MiB model limit is not accepted by the fast check; the
    refusal names the limit, as pydantic's path does."""
    filler = ",".join(
        f'{{"name":"n{i}","family":"linux"}}' for i in range(MAX_MODEL_PAYLOAD_BYTES // 28)
    )
    data = (_CATALOG % filler).encode()
    assert len(data) > MAX_MODEL_PAYLOAD_BYTES
    assert accepted_model(CATALOG_PATH, data) is None
    problem = schema_problem(CATALOG_PATH, data)
    assert problem is not None
    assert "over the limit" in problem


@pytest.mark.parametrize("path", _MODEL_PATHS)
def test_sample_documents_pass_the_fast_check(path: str) -> None:
    """The shipped sample's catalog, modules and AV chart are accepted without pydantic,
    with the values pydantic reads."""
    assert _check(path, (SAMPLE_SRC / path).read_bytes())


def test_validating_the_sample_feed_imports_no_pydantic() -> None:
    """Checking every payload document of the sample feed leaves pydantic unimported."""
    code = (
        "import sys, pathlib\n"
        "from feedmgr.feed.payload_fast import schema_problem\n"
        f"root = pathlib.Path({str(SAMPLE_SRC)!r})\n"
        "for path in sorted(root.rglob('*.json')):\n"
        "    assert schema_problem(path.relative_to(root).as_posix(), path.read_bytes()) is None\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'pydantic'))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
