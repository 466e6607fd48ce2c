"""OS strings exactly as Windows, macOS and Linux print them (tests/data/os-strings/SOURCES).

Expected values are read off the same outputs (the bracketed `ver` version, sw_vers'
ProductVersion line, os-release's VERSION_ID) or come from Microsoft's LTSB/LTSC table.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from feedmgr.errors import ParseError
from feedmgr.osmatrix.parse import parse_os_string
from feedmgr.osmatrix.version import parse_version
from tests.conftest import REPO

STRINGS = REPO / "tests" / "data" / "os-strings"


def sample_lines(name: str) -> list[str]:
    """The non-comment, non-empty lines of a sample file, stripped."""
    text = (STRINGS / name).read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and line[0] != "#"]


VER_LINES = [
    line
    for line in sample_lines("windows-outputs.txt") + sample_lines("winver-readme.txt")
    if line.startswith("Microsoft Windows [")
]
WINVER_LINES = [line for line in sample_lines("winver-readme.txt") if line.startswith("Windows 1")]
CAPTIONS = [
    line for line in sample_lines("windows-outputs.txt") if line.startswith("Microsoft Windows 10")
]


@pytest.mark.parametrize("line", VER_LINES)
def test_ver_output_in_any_language_parses(line: str) -> None:
    """`ver` ("[Version ...]", "[versão ...]", "[Versión ...]") gives the bracketed version."""
    bracketed = re.search(r"(10\.0\.\d+\.\d+)\]", line)
    assert bracketed is not None
    os_id = parse_os_string(line)
    assert os_id.family == "windows"
    assert os_id.version == parse_version(bracketed.group(1))


@pytest.mark.parametrize("line", [w for w in WINVER_LINES if "Insider" not in w])
def test_winver_lines_of_real_machines_parse(line: str) -> None:
    """Registry ProductName + [Version id build] lines parse to the build they state."""
    stated = re.search(r"\[Version (?:(\w{4}) )?(10\.0\.\d+\.\d+)\]", line)
    assert stated is not None
    os_id = parse_os_string(line)
    assert os_id.version == parse_version(stated.group(2))
    if stated.group(1):
        assert os_id.release_id == stated.group(1)
    assert os_id.product == f"Windows {line.split()[line.split().index('Windows') + 1]}"


def test_insider_build_contradicting_its_release_id_is_rejected() -> None:
    """winver's Insider line ("23H2 10.0.26020") states a build 23H2 never had: rejected."""
    insider = next(w for w in WINVER_LINES if "Insider" in w)
    with pytest.raises(ParseError):
        parse_os_string(insider)


# Microsoft's release information: each LTSB/LTSC release is one feature update.
LTSC_BUILDS = {"2015": 10240, "2016": 14393, "2019": 17763, "2021": 19044}


@pytest.mark.parametrize("caption", CAPTIONS)
def test_wmi_captions_with_the_ltsc_year_either_side(caption: str) -> None:
    """'Windows 10 Enterprise 2016 LTSB' and '... LTSC 2019' resolve to their build."""
    year = re.search(r"20\d\d", caption)
    assert year is not None
    os_id = parse_os_string(caption)
    assert os_id.version is not None
    assert os_id.version.parts[2] == LTSC_BUILDS[year.group(0)]
    assert os_id.edition is not None
    assert year.group(0) in os_id.edition


@pytest.mark.parametrize(
    ("text", "build"),
    [
        ("Windows 10 Enterprise 2016 LTSB", 14393),
        ("Windows 10 Enterprise LTSB 2016", 14393),
        ("Windows 10 Enterprise 2015 LTSB", 10240),
        ("Windows 10 Enterprise 2016 LTSB 10.0.14393", 14393),
        ("Windows 11 IoT Enterprise LTSC 2024", 26100),
    ],
)
def test_ltsb_year_before_or_after(text: str, build: int) -> None:
    """The form Windows writes into Active Directory and the lifecycle form agree."""
    os_id = parse_os_string(text)
    assert os_id.version is not None
    assert os_id.version.parts[2] == build


def test_systeminfo_name_and_version_lines() -> None:
    """systeminfo's "OS Name:" and "OS Version: ... N/A Build ..." lines parse together."""
    lines = sample_lines("windows-outputs.txt")
    pairs = [
        (name, version)
        for name, version in itertools.pairwise(lines)
        if name.startswith("OS Name:") and version.startswith("OS Version:")
    ]
    assert len(pairs) == 2
    for name, version in pairs:
        os_id = parse_os_string(f"{name}\n{version}")
        stated = re.search(r"(10\.0\.\d+)", version)
        assert stated is not None
        assert os_id.version == parse_version(stated.group(1))
        assert os_id.product == " ".join(name.split()[3:5])


def test_windows_server_is_named_but_never_given_a_client_range() -> None:
    """Server 2022 keeps its name and build; it has no version, so no Windows 10 node takes it."""
    line = next(w for w in sample_lines("winver-readme.txt") if "Server 2022" in w)
    os_id = parse_os_string(line)
    assert os_id.product == "Windows Server 2022"
    assert os_id.version is None
    assert os_id.build == "10.0.20348.2159"


def macos_blocks() -> list[tuple[str, str, str]]:
    """(output, ProductVersion, BuildVersion) for every sw_vers block and profiler line."""
    lines = sample_lines("macos-outputs.txt")
    found = []
    for index, line in enumerate(lines):
        if line.startswith("ProductName:"):
            block = lines[index : index + 3]
            found.append(("\n".join(block), block[1].split()[-1], block[2].split()[-1]))
        elif "System Version:" in line:
            shown = re.search(r"macOS ([\d.]+) \((\w+)\)", line)
            assert shown is not None
            found.append((line, shown.group(1), shown.group(2)))
    return found


@pytest.mark.parametrize(("output", "version", "build"), macos_blocks())
def test_sw_vers_and_system_profiler_outputs(output: str, version: str, build: str) -> None:
    """sw_vers (three lines) and system_profiler's System Version give version and build."""
    os_id = parse_os_string(output)
    assert os_id.family == "macos"
    assert os_id.version == parse_version(version)
    assert os_id.build == build


@pytest.mark.parametrize("path", sorted((STRINGS / "os-release").iterdir()), ids=lambda p: p.name)
def test_os_release_pretty_name(path: Path) -> None:
    """os-release's PRETTY_NAME line parses to the distribution's VERSION_ID."""
    text = path.read_text()
    pretty = next(line for line in text.splitlines() if line.startswith("PRETTY_NAME="))
    version_id = re.search(r'^VERSION_ID="?([\d.]+)"?', text, re.MULTILINE)
    assert version_id is not None
    os_id = parse_os_string(pretty)
    assert os_id.family == "linux"
    assert os_id.version is not None
    assert os_id.version.has_prefix(parse_version(version_id.group(1)))


def test_macos_build_case_is_kept() -> None:
    """A BSI build "25D771400a" stays lower-case: builds are case-sensitive."""
    assert parse_os_string("macOS 26.3.2 (a) (25D771400a)").build == "25D771400a"
    assert parse_os_string("macOS 13.4.1 (c) (22F770820d)").build == "22F770820d"
