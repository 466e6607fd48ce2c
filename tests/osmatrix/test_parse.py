"""Parsing OS strings from endpoints and exports."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feedmgr.errors import ParseError
from feedmgr.osmatrix.parse import parse_os_string
from feedmgr.osmatrix.version import OsVersion, parse_version


@pytest.mark.parametrize(
    ("text", "family", "product", "version", "build"),
    [
        ("Mac OSX 15.6.1", "macos", "macOS", "15.6.1", None),
        ("macOS 26.1 (25B78)", "macos", "macOS", "26.1", "25B78"),
        ("Mac OS X 10.15.7", "macos", "macOS", "10.15.7", None),
        ("macOS Sequoia 15.6.1", "macos", "macOS", "15.6.1", None),
        ("macOS Sequoia", "macos", "macOS", "15", None),
        ("macOS Version 15.6.1 (Build 24G90)", "macos", "macOS", "15.6.1", "24G90"),
        ("  MACOSX   14.7 ", "macos", "macOS", "14.7", None),
        ("OS X 10.11.6", "macos", "macOS", "10.11.6", None),
        ("Mac OSX", "macos", "macOS", None, None),
        ("Windows 11 Enterprise 10.0.26100", "windows", "Windows 11", "10.0.26100", None),
        ("Windows 10 (All)", "windows", "Windows 10", None, None),
        ("Windows 11 24H2", "windows", "Windows 11", "10.0.26100", None),
        ("Windows 11 25H2", "windows", "Windows 11", "10.0.26200", None),
        ("Windows 11 23H2", "windows", "Windows 11", "10.0.22631", None),
        ("Windows 11 22H2", "windows", "Windows 11", "10.0.22621", None),
        ("Windows 10 22H2", "windows", "Windows 10", "10.0.19045", None),
        (
            "Microsoft Windows 11 Pro Version 23H2 (OS Build 22631.4460)",
            "windows",
            "Windows 11",
            "10.0.22631.4460",
            None,
        ),
        ("Windows 10 Pro 10.0.26100.4946", "windows", "Windows 11", "10.0.26100.4946", None),
        ("Windows 10 Enterprise 10.0.19045.5371", "windows", "Windows 10", "10.0.19045.5371", None),
        ("Windows All", "windows", "Windows", None, None),
        (
            "Windows 10 Enterprise LTSC 2021 10.0.19044",
            "windows",
            "Windows 10",
            "10.0.19044",
            None,
        ),
        ("Debian GNU/Linux 12 (bookworm)", "linux", "Debian", "12", None),
        ("Windows 10 Enterprise 64-bit 10.0.19045", "windows", "Windows 10", "10.0.19045", None),
        ("Windows 11 Pro (x64) 24H2", "windows", "Windows 11", "10.0.26100", None),
        ("macOS 15.6.1 arm64", "macos", "macOS", "15.6.1", None),
        ("Ubuntu 24.04 LTS x86_64", "linux", "Ubuntu", "24.04", None),
        ("Ubuntu 24.04.1 LTS (Noble Numbat)", "linux", "Ubuntu", "24.04.1", None),
        ("Windows 7 Professional", "windows", "Windows 7", "6.1", None),
        ("Ubuntu 22.04.4 LTS", "linux", "Ubuntu", "22.04.4", None),
        ("Red Hat Enterprise Linux 9.4 (Plow)", "linux", "Red Hat Enterprise Linux", "9.4", None),
        ("RHEL 9", "linux", "Red Hat Enterprise Linux", "9", None),
        ("SUSE Linux Enterprise Server 15 SP5", "linux", "SUSE Linux Enterprise", "15.5", None),
        ("Linux All", "linux", "Linux", None, None),
    ],
)
def test_os_strings_parse_to_family_product_version(
    text: str, family: str, product: str, version: str | None, build: str | None
) -> None:
    """Real-world OS strings parse into family, product, numeric version and build."""
    os_id = parse_os_string(text)
    assert os_id.family == family
    assert os_id.product == product
    if version is None:
        assert os_id.version is None
    else:
        assert os_id.version == parse_version(version)
    assert os_id.build == build


@pytest.mark.parametrize(
    ("text", "rsr"),
    [
        ("macOS Tahoe 26.0.1 (a)", "a"),
        ("macOS 13.4.1 (c) (22F770820d)", "c"),
        ("macOS 15.6.1", None),
    ],
)
def test_rapid_security_response_suffix_is_kept(text: str, rsr: str | None) -> None:
    """An RSR suffix "(a)" is parsed as part of the version, not as a build."""
    os_id = parse_os_string(text)
    assert os_id.version is not None
    assert os_id.version.rsr == rsr


@pytest.mark.parametrize(
    ("text", "release_id"),
    [
        ("Windows 11 Enterprise 10.0.26100", "24H2"),
        ("Windows 11 Pro 10.0.26200.6899", "25H2"),
        ("Windows 11 10.0.22631", "23H2"),
        ("Windows 11 10.0.22621", "22H2"),
        ("Windows 11 10.0.26120", None),
    ],
)
def test_windows_release_id_follows_the_build(text: str, release_id: str | None) -> None:
    """A Windows build number maps to its feature-update id (26100 -> 24H2)."""
    assert parse_os_string(text).release_id == release_id


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "foo",
        "iOS 18.1",
        "Android 15",
        "macOS Sequoia 26.1",
        "macOS 9.2",
        "macOS 15.6.1 extra words",
        "Windows 22H2",
        "Windows 11 19H1",
        "Windows 10 22H2 10.0.26100",
        "Windows 11 6.3.9600",
        "Windows Server",
        "Windows Vista Ultimate 6.0.6002",
        "Windows 10 Enterprise 2016 LTSB 10.0.17763",
        "Windows 11 Enterprise LTSC 2021",
        "Windows 10 [Home Edition]",
        "Windows 10 build 26100 10.0.22631",
        "Linux 6.8.0",
        "Mac OSX 15.6.1\x00",
        "macOS 15.6.1 \u00e9",
        "x" * 500,
    ],
)
def test_unparseable_strings_raise_parse_error(text: str) -> None:
    """Strings that are no recognisable OS (or contradict themselves) raise ParseError."""
    with pytest.raises(ParseError):
        parse_os_string(text)


def test_parse_error_names_the_input() -> None:
    """The error's subject is the input, so the CLI prints which string was rejected."""
    with pytest.raises(ParseError) as info:
        parse_os_string("Windows 22H2")
    assert "Windows 22H2" in info.value.subject
    assert "say which" in info.value.problem


def test_label_is_canonical() -> None:
    """The label names product, edition, release id, version and build."""
    assert parse_os_string("macOS 26.1 (25B78)").label == "macOS 26.1 (25B78)"
    assert (
        parse_os_string("windows 11 enterprise 10.0.26100").label
        == "Windows 11 Enterprise 24H2 10.0.26100"
    )
    assert (
        parse_os_string("Windows 11 IoT Enterprise LTSC 2024 10.0.26100.1742").label
        == "Windows 11 IoT Enterprise LTSC 2024 24H2 10.0.26100.1742"
    )


OS_WORDS = st.sampled_from(
    [
        "[Version",
        "[versão",
        "10.0.19045.3570]",
        "LTSB",
        "2016",
        "Server",
        "ProductName:",
        "System Version:",
        "PRETTY_NAME=",
        "Service Pack 1",
        "Mac OSX",
        "macOS",
        "Mac OS X",
        "Windows",
        "Windows 10",
        "Windows 11",
        "Microsoft",
        "Ubuntu",
        "RHEL",
        "Linux",
        "All",
        "(All)",
        "(a)",
        "Sequoia",
        "Tahoe",
        "Enterprise",
        "Version",
        "Build",
        "OS Build",
        "24H2",
        "25H2",
        "22H2",
        "LTS",
        "SP5",
        "(",
        ")",
        "10.0.26100",
        "15.6.1",
        "26.0.1",
        "24G90",
        "25B78",
        ".",
        "-",
        "1",
        "99999999999",
    ]
)


@given(st.lists(OS_WORDS, max_size=8).map(" ".join))
def test_parser_is_total_on_os_like_text(text: str) -> None:
    """No combination of OS words makes the parser raise anything but ParseError."""
    try:
        os_id = parse_os_string(text)
    except ParseError:
        return
    assert os_id.family in {"macos", "windows", "linux"}
    assert os_id.label


@given(st.text(max_size=250))
def test_parser_is_total_on_any_text(text: str) -> None:
    """No string at all makes the parser raise anything but ParseError."""
    with contextlib.suppress(ParseError):
        parse_os_string(text)


@given(
    st.sampled_from(["Version", "versão", "Versión", "Versione", "Версия"]),
    st.sampled_from([10240, 14393, 17763, 19045, 22631, 26100, 26200]),
    st.integers(0, 99999),
)
def test_ver_output_parses_to_its_version_in_any_language(word: str, build: int, ubr: int) -> None:
    """`ver` output gives exactly the bracketed version, whatever word the locale uses."""
    os_id = parse_os_string(f"Microsoft Windows [{word} 10.0.{build}.{ubr}]")
    assert os_id.version == OsVersion.of(10, 0, build, ubr)


@given(st.sampled_from(["LTSB", "LTSC"]), st.sampled_from(["2015", "2016", "2019", "2021"]))
def test_ltsc_year_order_does_not_matter(kind: str, year: str) -> None:
    """'Enterprise 2016 LTSB' and 'Enterprise LTSB 2016' are the same release."""
    before = parse_os_string(f"Windows 10 Enterprise {year} {kind}")
    after = parse_os_string(f"Windows 10 Enterprise {kind} {year}")
    assert before.version == after.version
    assert before.edition == after.edition


@given(st.from_regex(r"\A[0-9]{2}[A-Z][0-9]{1,6}[a-z]?\Z"))
def test_macos_build_is_kept_verbatim(build: str) -> None:
    """Any Apple build id comes back exactly as written (case included)."""
    assert parse_os_string(f"macOS 15.6.1 ({build})").build == build
