"""Numeric version parsing and ordering."""

from __future__ import annotations

import contextlib
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feedmgr.errors import ParseError
from feedmgr.osmatrix.version import OsVersion, in_range, parse_version

components = st.lists(st.integers(min_value=0, max_value=99999), min_size=1, max_size=6)
rsr_letters = st.one_of(st.none(), st.sampled_from("abcdefgh"))


@pytest.mark.parametrize(
    ("lower", "higher"),
    [
        ("15.9", "15.10"),
        ("9.6", "10.0"),
        ("15.6.1", "15.7"),
        ("15.7", "15.7.1"),
        ("26.0.1", "26.0.1 (a)"),
        ("26.0.1 (a)", "26.0.1 (b)"),
        ("26.0.1 (b)", "26.0.2"),
        ("10.0.22631", "10.0.26100"),
        ("10.0.26100.999", "10.0.26100.4946"),
        ("22.04", "22.10"),
    ],
)
def test_versions_order_numerically(lower: str, higher: str) -> None:
    """Components compare as integers and an RSR sorts after its base release."""
    assert parse_version(lower) < parse_version(higher)
    assert parse_version(higher) > parse_version(lower)


@pytest.mark.parametrize(
    ("left", "right"), [("15", "15.0"), ("15.0", "15.0.0"), ("26.1", "26.1.0")]
)
def test_trailing_zeros_do_not_matter(left: str, right: str) -> None:
    """ "15" and "15.0" are the same version, with the same hash."""
    assert parse_version(left) == parse_version(right)
    assert hash(parse_version(left)) == hash(parse_version(right))


@pytest.mark.parametrize(
    "text", ["", "15.", ".15", "15..1", "v15", "15.6.1.2.3.4.5", "1234567890", "15 (aa)", "x"]
)
def test_invalid_versions_raise_parse_error(text: str) -> None:
    """Text that is not a dotted numeric version raises ParseError."""
    with pytest.raises(ParseError):
        parse_version(text)


def test_version_keeps_its_text_for_display() -> None:
    """ "22.04" prints as written, not as "22.4"."""
    assert str(parse_version("22.04")) == "22.04"
    assert str(parse_version("26.0.1 (A)")) == "26.0.1 (a)"


@pytest.mark.parametrize(
    ("version", "low", "high", "covered"),
    [
        ("15.7.2", "15.0", "15.7", True),
        ("15.7", "15.0", "15.7", True),
        ("15.0", "15.0", "15.7", True),
        ("15.8", "15.0", "15.7", False),
        ("15.70", "15.0", "15.7", False),
        ("14.9", "15.0", "15.7", False),
        ("26.0.1", "26.0", "26.0", True),
        ("26.1", "26.0", "26.0", False),
        ("26.0.1 (a)", "26.0", "26.0.1", True),
        ("10.0.26200.6899", "10.0.22000", "10.0.26200", True),
        ("10.0.26300", "10.0.22000", "10.0.26200", False),
        ("15", "15.0", "15.7", True),
    ],
)
def test_range_max_covers_its_point_releases(
    version: str, low: str, high: str, covered: bool
) -> None:
    """A range includes its bounds and the point releases of its maximum, nothing more."""
    assert in_range(parse_version(version), parse_version(low), parse_version(high)) is covered


@given(components, rsr_letters, components, rsr_letters)
def test_ordering_matches_integer_tuples(
    a: list[int], ra: str | None, b: list[int], rb: str | None
) -> None:
    """Ordering equals the order of zero-padded integer tuples, then the RSR letter."""
    va, vb = OsVersion(tuple(a), ra), OsVersion(tuple(b), rb)
    width = max(len(a), len(b))
    ka = (tuple(a) + (0,) * (width - len(a)), ra or "")
    kb = (tuple(b) + (0,) * (width - len(b)), rb or "")
    assert (va < vb) == (ka < kb)
    assert (va == vb) == (ka == kb)


@given(components, rsr_letters)
def test_text_round_trips(parts: list[int], rsr: str | None) -> None:
    """Printing a version and parsing it back gives an equal version."""
    version = OsVersion(tuple(parts), rsr)
    assert parse_version(str(version)) == version


@given(st.lists(st.builds(OsVersion, components.map(tuple), rsr_letters), max_size=20))
def test_sorting_is_total_and_consistent(versions: list[OsVersion]) -> None:
    """Sorted versions are pairwise non-decreasing (a total order)."""
    ordered = sorted(versions)
    assert all(x <= y for x, y in itertools.pairwise(ordered))


@given(st.text(max_size=60))
def test_parse_version_raises_only_parse_error(text: str) -> None:
    """No input makes parse_version raise anything but ParseError."""
    with contextlib.suppress(ParseError):
        parse_version(text)
