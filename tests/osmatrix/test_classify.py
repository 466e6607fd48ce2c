"""Walking the feed's OS tree to the node that classifies an OS."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feedmgr.errors import ParseError, SchemaError
from feedmgr.feed.payload import OsCatalog
from feedmgr.osmatrix.classify import OsTree, classify
from feedmgr.osmatrix.identifier import OsIdentifier
from feedmgr.osmatrix.parse import parse_os_string
from feedmgr.osmatrix.version import OsVersion
from tests.osmatrix.conftest import MAC_ROOT, mac, make_catalog


@pytest.mark.parametrize(
    ("text", "chain"),
    [
        ("Mac OSX 15.6.1", ("Mac OSX 15", "Mac OSX")),
        ("macOS 15.7.2", ("Mac OSX 15", "Mac OSX")),
        ("macOS 26.1 (25B78)", ("Mac OSX 26", "Mac OSX")),
        ("macOS Tahoe 26.0.1 (a)", ("Mac OSX 26", "Mac OSX")),
        ("macOS 11.7.10", ("Mac OSX 11", "Mac OSX")),
        ("Windows 11 Enterprise 10.0.26100", ("Windows 11 (All)", "Windows All")),
        ("Windows 11 Pro 10.0.26200.6899", ("Windows 11 (All)", "Windows All")),
        ("Windows 10 Enterprise 10.0.19045.5371", ("Windows 10 (All)", "Windows All")),
        ("Windows 10 (All)", ("Windows 10 (All)", "Windows All")),
        ("Windows 11", ("Windows 11 (All)", "Windows All")),
        ("Mac OSX", ("Mac OSX",)),
        ("Ubuntu 22.04.4 LTS", ("Ubuntu 22.04", "Linux All")),
        ("Red Hat Enterprise Linux 9.4", ("Red Hat Enterprise Linux 9", "Linux All")),
    ],
)
def test_known_versions_classify_with_their_chain(
    sample_catalog: OsCatalog, text: str, chain: tuple[str, ...]
) -> None:
    """A version the feed knows lands on its deepest node, followed by the ancestors."""
    found = classify(sample_catalog, parse_os_string(text))
    assert found is not None
    assert found.names == chain


@pytest.mark.parametrize(
    "text",
    [
        "macOS 26.2",
        "macOS 15.7.3",
        "Mac OS X 10.15.7",
        "macOS 27.0",
        "Windows 11 10.0.26300",
        "Windows 7",
        "Ubuntu 20.04",
        "Red Hat Enterprise Linux 22.04",
        "SUSE Linux Enterprise Server 15 SP5",
    ],
)
def test_unknown_versions_are_not_classified(sample_catalog: OsCatalog, text: str) -> None:
    """A version outside every range is not classified (the endpoint bypasses posture)."""
    try:
        os_id = parse_os_string(text)
    except ParseError:  # a parse failure is also "not classified" here
        return
    assert classify(sample_catalog, os_id) is None


def test_linux_versions_match_only_their_distribution() -> None:
    """Ubuntu 9.2 does not land on a RHEL 9 node although the numbers overlap."""
    catalog = make_catalog(
        {"name": "Linux All", "family": "linux"},
        {
            "name": "Red Hat Enterprise Linux 9",
            "family": "linux",
            "parent": "Linux All",
            "min_version": "9.0",
            "max_version": "9.6",
        },
    )
    assert classify(catalog, parse_os_string("Ubuntu 9.2")) is None
    found = classify(catalog, parse_os_string("RHEL 9.2"))
    assert found is not None
    assert found.node.name == "Red Hat Enterprise Linux 9"


def test_deepest_node_wins() -> None:
    """When nested ranges both cover a version, the deeper node classifies it."""
    catalog = make_catalog(
        MAC_ROOT,
        mac(15, "15.0", "15.7"),
        {
            "name": "Mac OSX 15.6",
            "family": "macos",
            "parent": "Mac OSX 15",
            "min_version": "15.6",
            "max_version": "15.6",
        },
    )
    found = classify(catalog, parse_os_string("macOS 15.6.1"))
    assert found is not None
    assert found.names == ("Mac OSX 15.6", "Mac OSX 15", "Mac OSX")
    assert found.is_under("Mac OSX 15")
    assert not found.is_under("Mac OSX 14")
    assert found.describe() == "Mac OSX 15.6 -> Mac OSX 15 -> Mac OSX"
    assert found.to_json() == {
        "node": "Mac OSX 15.6",
        "chain": ["Mac OSX 15.6", "Mac OSX 15", "Mac OSX"],
    }


def test_umbrella_covers_only_what_children_cover(sample_catalog: OsCatalog) -> None:
    """ "Mac OSX" covers a version only through a child: 26.2 is under neither."""
    tree = OsTree(sample_catalog)
    assert tree.covers("Mac OSX", parse_os_string("macOS 15.1"))
    assert not tree.covers("Mac OSX", parse_os_string("macOS 26.2"))
    span = tree.effective_range("Mac OSX")
    assert span is not None
    assert str(span) == "11.0 - 26.1"
    assert tree.known_max(parse_os_string("macOS 15")) == OsVersion.of(26, 1)


def test_version_less_identifier_matches_node_names_only(sample_catalog: OsCatalog) -> None:
    """Without a version, only a string naming a node classifies."""
    assert classify(sample_catalog, parse_os_string("Windows 10")) is not None
    assert classify(sample_catalog, parse_os_string("Linux")) is not None  # "Linux All"
    assert classify(sample_catalog, parse_os_string("Ubuntu")) is None
    assert classify(sample_catalog, parse_os_string("Windows 8.1 (All)")) is None


@given(st.integers(11, 30), st.integers(0, 12), st.integers(0, 12))
def test_classification_agrees_with_ranges(major: int, minor: int, patch: int) -> None:
    """A version is classified exactly when some node's range covers it."""
    catalog = make_catalog(MAC_ROOT, mac(15, "15.0", "15.7.2"), mac(26, "26.0", "26.1"))
    os_id = OsIdentifier("macos", OsVersion.of(major, minor, patch), "macOS", "generated")
    expected = (major == 15 and (minor, patch) <= (7, 2)) or (major == 26 and minor <= 1)
    assert (classify(catalog, os_id) is not None) is expected


def test_non_numeric_node_range_is_a_schema_error() -> None:
    """A PEP 440 pre-release in a node range is rejected with the node named."""
    catalog = make_catalog(MAC_ROOT, mac(15, "15.0rc1", "15.7"))
    with pytest.raises(SchemaError) as info:
        OsTree(catalog)
    assert "Mac OSX 15" in info.value.problem
