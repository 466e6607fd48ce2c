"""Parse the OS strings endpoints and exports report into an :class:`OsIdentifier`.

Accepted shapes (case and spacing do not matter):

- macOS: ``Mac OSX 15.6.1``, ``macOS 26.1 (25B78)``, ``Mac OS X 10.15.7``, ``macOS Sequoia``,
  ``macOS Tahoe 26.0.1 (a)``, ``macOS Version 15.6.1 (Build 24G90)``, ``Mac OSX``.
- Windows: ``Windows 11 Enterprise 10.0.26100``, ``Windows 10 (All)``, ``Windows 11 24H2``,
  ``Microsoft Windows 11 Pro Version 23H2 (OS Build 22631.4460)``, ``Windows All``,
  ``Windows 10 Enterprise 2016 LTSB`` (registry ProductName, Active Directory),
  ``Microsoft Windows [Version 10.0.19045.3570]`` (``ver``, in any language:
  ``[versão ...]``, ``[Versión ...]``), systeminfo's ``OS Name:``/``OS Version:`` lines,
  ``Windows Server 2022 Datacenter`` (a product without a client version range).
- Tool output: ``sw_vers`` (``ProductName: macOS ProductVersion: 11.4 BuildVersion: 20F71``),
  ``system_profiler`` (``System Version: macOS 15.6.1 (24G90)``), os-release
  (``PRETTY_NAME="Ubuntu 24.04.3 LTS"``).
- Linux: ``Ubuntu 22.04.4 LTS``, ``Red Hat Enterprise Linux 9.4 (Plow)``, ``RHEL 9``,
  ``SUSE Linux Enterprise Server 15 SP5``, ``Linux All``.

The parser is total: any string either parses or raises :class:`ParseError`.
"""

from __future__ import annotations

import re

from feedmgr.errors import ParseError
from feedmgr.osmatrix.identifier import (
    LINUX_DISTROS,
    MACOS_CODENAMES,
    WINDOWS_10_RELEASES,
    WINDOWS_11_RELEASES,
    OsIdentifier,
    windows_marketing,
    windows_release_id,
)
from feedmgr.osmatrix.version import OsVersion

MAX_OS_STRING = 200

_FLAGS = re.IGNORECASE | re.ASCII
_MACOS = re.compile(
    r"^(?:apple\s+)?(?:mac\s*os\s*x|mac\s*osx|macosx|mac\s*os|os\s*x)(?![a-z])", _FLAGS
)
_WINDOWS = re.compile(r"^(?:microsoft\s+)?windows(?![a-z])", _FLAGS)
_ALL = re.compile(r"\(\s*all\s*\)|(?<![a-z])all(?![a-z])", _FLAGS)
_DOTTED = re.compile(r"(?<![\d.])(\d{1,9}(?:\.\d{1,9}){0,5})(?![\d.])", _FLAGS)
_MAC_BUILD = re.compile(r"(?<![a-z\d])(\d{2}[a-z]\d{1,6}[a-z]?)(?![a-z\d])", _FLAGS)
_MAC_CODENAME = re.compile(
    r"(?<![a-z])("
    + "|".join(re.escape(n) for n in sorted(MACOS_CODENAMES, key=len, reverse=True))
    + r")(?![a-z])",
    _FLAGS,
)
_ARCH = re.compile(
    r"\(?(?<![a-z\d])(?:(?:64|32)[- ]?bit|x64|x86_64|x86|amd64|arm64|aarch64|intel|apple silicon)"
    r"(?![a-z\d])\)?",
    _FLAGS,
)
_RSR = re.compile(r"\(\s*([a-z])\s*\)", _FLAGS)
_WORDS = re.compile(r"^[a-z][a-z\s\-/]*$", _FLAGS)
_NOISE = re.compile(r"[\s(),:;\-]+", _FLAGS)
_WIN_KERNEL = re.compile(
    r"(?<![\d.])(\d{1,2})\.(\d{1,2})\.(\d{4,5})(?:\.(\d{1,6}))?(?![\d.])", _FLAGS
)
_WIN_BUILD = re.compile(r"(?:os\s*)?build\s*(\d{4,5})(?:\.(\d{1,6}))?(?![\d.])", _FLAGS)
_WIN_RELEASE = re.compile(
    r"(?:version\s*)?(?<![\d.])(\d{2}h[12]|1[5-9]0[1-9]|2004)(?![\d.a-z])", _FLAGS
)
_WIN_MARKETING = re.compile(r"^\s*(11|10|8\.1|8|7|vista|xp)(?![\d.a-z])", _FLAGS)
_WIN_LTSC = re.compile(
    r"(?<![a-z\d])(?:(ltsc|ltsb)\s*(20[12]\d)|(20[12]\d)\s*(ltsc|ltsb))(?![\d.a-z])", _FLAGS
)
# Long-term servicing releases: Windows writes "2016 LTSB" (ProductName, Active Directory's
# operatingSystem), Microsoft's lifecycle pages "LTSB 2016"; each is one build (Microsoft
# release information: LTSB 2015 = 1507, 2016 = 1607, LTSC 2019 = 1809, 2021 = 21H2,
# Windows 11 LTSC 2024 = 24H2).
_WIN_LTSC_BUILDS = {"2015": 10240, "2016": 14393, "2019": 17763, "2021": 19044, "2024": 26100}
_WIN_SERVER = re.compile(r"^\s*server\s*(?:\(r\)\s*)?(20\d\d(?:\s*r2)?)?(?![\d.a-z])", _FLAGS)
_SERVICE_PACK = re.compile(r"(?<![a-z])service\s*pack\s*(\d)(?!\d)", _FLAGS)
# Labels of the tools that print an OS string: sw_vers, system_profiler, systeminfo, WMI,
# os-release. They say where a value came from, not what it is.
_LABELS = re.compile(
    r"(?<![a-z])(?:productname|productversion|buildversion|system\s+version|os\s+name"
    r"|os\s+version|caption|pretty_name)\s*[:=]\s*|\bn/a\b|[\"']",
    _FLAGS,
)
# `ver` and winver.com: "[Version 10.0.19045.3570]", localized ("[versão ...]"), "[Version
# 1607 10.0.14393.6529]": a word, then the version. Other bracketed text stays and is judged.
_BRACKETED = re.compile(r"\[\s*[^\W\d_]+\s+(\d[^\]\[]{0,59})\]")
_WIN_LEGACY = {"7": (6, 1), "8": (6, 2), "8.1": (6, 3)}
_ACRONYMS = frozenset({"lts", "ltsc", "ltsb", "n", "kn", "s", "se", "sp"})
_CASING = {"iot": "IoT", "multi-session": "multi-session"}
_SUSE_SP = re.compile(r"(?<![\d.])(\d{1,3})\s*sp\s*(\d{1,2})(?![\d.])", _FLAGS)


def _reject(text: str, problem: str) -> ParseError:
    return ParseError(repr(text[:80]), problem)


def _leftover_words(text: str, rest: str, *, allowed: bool) -> str | None:
    """What is left after the recognised parts: a few words, or nothing at all."""
    left = _NOISE.sub(" ", rest).strip()
    if not left:
        return None
    if not allowed or not _WORDS.match(left) or len(left.split()) > 6:
        raise _reject(text, f"unrecognised text {left[:40]!r} in the OS string")
    return " ".join(
        _CASING.get(w, w.upper() if w in _ACRONYMS else w.capitalize()) for w in left.split()
    )


def parse_os_string(text: str) -> OsIdentifier:
    """Parse one OS string into family, product and version.

    Raises:
        ParseError: for text that is not a recognisable macOS, Windows or Linux OS string
            (including empty, overlong or control-character text).
    """
    if not isinstance(text, str):
        raise ParseError(repr(text)[:80], "an OS string must be text")
    if len(text) > MAX_OS_STRING:
        raise _reject(text, f"longer than {MAX_OS_STRING} characters")
    clean = " ".join(_LABELS.sub(" ", _BRACKETED.sub(r" \1 ", text)).split()).lstrip("-* ")
    if not clean:
        raise _reject(text, "empty OS string")
    if not clean.isprintable() or not clean.isascii():
        raise _reject(text, "OS strings are plain printable ASCII")
    # The CPU architecture ("64-bit", "x64", "arm64") says nothing about the OS version.
    clean = " ".join(_ARCH.sub(" ", clean).split()) or clean
    if match := _MACOS.match(clean):
        return _parse_macos(clean, clean[match.end() :])
    if match := _WINDOWS.match(clean):
        return _parse_windows(clean, clean[match.end() :])
    return _parse_linux(clean)


def _parse_macos(text: str, rest: str) -> OsIdentifier:
    lower = rest.lower()
    build = None
    if found_build := _MAC_BUILD.search(rest):
        # Builds are case-sensitive ("22F770820d" is not "22F770820D"): keep them as given.
        build = found_build.group(1)
        lower = lower[: found_build.start()] + " " + lower[found_build.end() :]
        lower = re.sub(r"(?<![a-z])build(?![a-z])", " ", lower)
    codename = None
    if found_name := _MAC_CODENAME.search(lower):
        codename = found_name.group(1)
        lower = lower[: found_name.start()] + " " + lower[found_name.end() :]
    lower = re.sub(r"(?<![a-z])version(?![a-z])", " ", lower)
    rsr = None
    if found_rsr := _RSR.search(lower):
        rsr = found_rsr.group(1).lower()
        lower = lower[: found_rsr.start()] + " " + lower[found_rsr.end() :]
    version = None
    if found_version := _DOTTED.search(lower):
        lower = lower[: found_version.start()] + " " + lower[found_version.end() :]
        version = OsVersion.from_dotted(found_version.group(1), rsr)
    elif codename is not None:
        version = OsVersion(MACOS_CODENAMES[codename], rsr)
    elif rsr is not None:
        raise _reject(text, "a rapid security response letter needs a version")
    _leftover_words(text, lower, allowed=False)
    if version is not None:
        if not 10 <= version.major <= 99 or (version.major == 10 and len(version.parts) < 2):
            raise _reject(text, f"{version} is not a macOS version (10.x, 11 and later)")
        if codename is not None:
            expected = OsVersion(MACOS_CODENAMES[codename])
            if not version.has_prefix(expected):
                raise _reject(
                    text, f"{codename.title()} is macOS {expected}, but the version is {version}"
                )
    return OsIdentifier(family="macos", version=version, product="macOS", raw=text, build=build)


def _windows_build(text: str, lower: str) -> tuple[int | None, int | None, str]:
    """Build and revision from "10.0.26100.4946" and/or "(OS Build 26100.4946)"."""
    build: int | None = None
    ubr: int | None = None
    if found_kernel := _WIN_KERNEL.search(lower):
        major, minor, build = (int(found_kernel.group(i)) for i in (1, 2, 3))
        if (major, minor) != (10, 0):
            raise _reject(text, f"{major}.{minor} is not the Windows 10/11 kernel version 10.0")
        ubr = int(found_kernel.group(4)) if found_kernel.group(4) else None
        lower = lower[: found_kernel.start()] + " " + lower[found_kernel.end() :]
    if found_build := _WIN_BUILD.search(lower):
        said = int(found_build.group(1))
        said_ubr = int(found_build.group(2)) if found_build.group(2) else None
        if build is not None and (said != build or (ubr and said_ubr and said_ubr != ubr)):
            raise _reject(text, f"build {said} contradicts version 10.0.{build}")
        build = said
        ubr = ubr if ubr is not None else said_ubr
        lower = lower[: found_build.start()] + " " + lower[found_build.end() :]
    return build, ubr, lower


def _windows_release_build(
    text: str, marketing: str | None, release_id: str, build: int | None
) -> int | None:
    """The build a feature-update id stands for, checked against a build given too."""
    tables = {"11": WINDOWS_11_RELEASES, "10": WINDOWS_10_RELEASES}
    if marketing is None:
        candidates = {t[release_id] for t in tables.values() if release_id in t}
    else:
        table = tables[marketing]
        candidates = {table[release_id]} if release_id in table else set()
    if build is not None:
        if candidates and build not in candidates and marketing is not None:
            raise _reject(text, f"release {release_id} is not build {build}")
    elif len(candidates) == 1:
        build = candidates.pop()
    elif not candidates:
        where = f"Windows {marketing}" if marketing else "Windows 10 or 11"
        raise _reject(text, f"{release_id} is not a release id of {where}")
    else:
        raise _reject(text, f"{release_id} exists for Windows 10 and 11: say which")
    return build


def _windows_server(text: str, lower: str, year: str | None) -> OsIdentifier:
    """Windows Server: named, never given a client version range.

    Server 2016/2019 share their builds with Windows 10 1607/1809: classifying a server by
    build would put it under a Windows 10 node. It classifies only by node name.
    """
    if year is None:
        raise _reject(text, "name the Windows Server release (Windows Server 2022)")
    found = _WIN_KERNEL.search(lower)
    build = ".".join(g for g in found.groups() if g) if found else None
    if found:
        lower = lower[: found.start()] + " " + lower[found.end() :]
    release = _WIN_RELEASE.search(lower)
    if release:
        lower = lower[: release.start()] + " " + lower[release.end() :]
    product = "Windows Server " + " ".join(year.upper().split())
    return OsIdentifier(
        family="windows",
        version=None,
        product=product,
        raw=text,
        build=build,
        release_id=release.group(1).upper() if release else None,
        edition=_leftover_words(text, lower, allowed=True),
    )


def _windows_legacy(text: str, lower: str, marketing: str, any_version: bool) -> OsIdentifier:
    """Windows 7, 8 and 8.1: NT 6.x, no feature-update ids."""
    kernel = OsVersion(_WIN_LEGACY[marketing])
    version = None if any_version else kernel
    if found := re.search(r"(?<![\d.])(\d{1,2}(?:\.\d{1,5}){1,3})(?![\d.])", lower):
        said = OsVersion.from_dotted(found.group(1))
        if not said.has_prefix(kernel):
            raise _reject(text, f"Windows {marketing} is NT {kernel}, not {said}")
        version = said
        lower = lower[: found.start()] + " " + lower[found.end() :]
    pack = None
    if found_pack := _SERVICE_PACK.search(lower):
        pack = f"SP{found_pack.group(1)}"
        lower = lower[: found_pack.start()] + " " + lower[found_pack.end() :]
    edition = _leftover_words(text, lower, allowed=True)
    if pack:
        edition = f"{edition} {pack}" if edition else pack
    return OsIdentifier(
        family="windows",
        version=version,
        product=f"Windows {marketing}",
        raw=text,
        edition=edition,
    )


def _windows_channel(
    text: str, channel: re.Match[str], marketing: str | None, build: int | None
) -> tuple[str, int | None]:
    """ "LTSB 2016" and the build it stands for, checked against what the string says."""
    kind = (channel.group(1) or channel.group(4)).upper()
    year = channel.group(2) or channel.group(3)
    label = f"{kind} {year}"
    if year not in _WIN_LTSC_BUILDS:
        return label, build
    channel_build = _WIN_LTSC_BUILDS[year]
    if build is not None and build != channel_build:
        raise _reject(text, f"{label} is build {channel_build}, not {build}")
    if marketing is not None and windows_marketing(channel_build) != f"Windows {marketing}":
        raise _reject(text, f"{label} is not a Windows {marketing} release")
    return label, channel_build


def _parse_windows(text: str, rest: str) -> OsIdentifier:
    lower = rest.lower()
    any_version = False
    if _ALL.search(lower):
        any_version = True
        lower = _ALL.sub(" ", lower)
    if server := _WIN_SERVER.match(lower):
        return _windows_server(text, lower[server.end() :], server.group(1))
    marketing = None
    if found := _WIN_MARKETING.match(lower):
        marketing = found.group(1)
        lower = lower[found.end() :]
    if marketing in {"vista", "xp"}:
        raise _reject(text, f"Windows {marketing.title()} is not a posture client OS")
    if marketing in _WIN_LEGACY:
        return _windows_legacy(text, lower, marketing, any_version)
    channel = _WIN_LTSC.search(lower)  # "LTSC 2021" / "2016 LTSB": one build each
    if channel is not None:
        lower = lower[: channel.start()] + " " + lower[channel.end() :]
    build, ubr, lower = _windows_build(text, lower)
    release_id = None
    if found_release := _WIN_RELEASE.search(lower):
        release_id = found_release.group(1).upper()
        lower = lower[: found_release.start()] + " " + lower[found_release.end() :]
    if release_id is not None:
        build = _windows_release_build(text, marketing, release_id, build)
    label = None
    if channel is not None:
        label, build = _windows_channel(text, channel, marketing, build)
    edition = _leftover_words(text, lower, allowed=True)
    if edition and edition.lower() in {"windows", "microsoft"}:
        edition = None
    edition = " ".join(part for part in (edition, label) if part) or None
    if build is not None:
        if build < WINDOWS_10_RELEASES["1507"]:
            raise _reject(text, f"build {build} is older than Windows 10")
        parts = (10, 0, build) if ubr is None else (10, 0, build, ubr)
        return OsIdentifier(
            family="windows",
            version=OsVersion(parts),
            product=windows_marketing(build),
            raw=text,
            release_id=release_id or windows_release_id(build),
            edition=edition,
        )
    product = f"Windows {marketing}" if marketing else "Windows"
    return OsIdentifier(family="windows", version=None, product=product, raw=text, edition=edition)


def _parse_linux(text: str) -> OsIdentifier:
    lower = text.lower()
    distro = None
    for key, (_display, aliases) in LINUX_DISTROS.items():
        for alias in aliases:
            if re.match(rf"^{re.escape(alias)}(?![a-z])", lower):
                distro = key
                lower = lower[len(alias) :]
                break
        if distro:
            break
    if distro is None:
        if re.match(r"^(?:gnu/)?linux(?![a-z])", lower):
            rest = re.sub(r"^(?:gnu/)?linux", "", lower)
            if _DOTTED.search(rest):
                raise _reject(text, "name the Linux distribution (a kernel version is not enough)")
            _leftover_words(text, _ALL.sub(" ", rest), allowed=False)
            return OsIdentifier(family="linux", version=None, product="Linux", raw=text)
        raise _reject(text, "not a macOS, Windows or Linux OS string")
    display = LINUX_DISTROS[distro][0]
    lower = re.sub(r"^\s*(?:gnu/)?linux(?![a-z])", " ", lower)
    lower = re.sub(r"\([a-z\s]*\)", " ", lower)  # codenames: (Jammy Jellyfish), (Plow)
    version = None
    if found_sp := _SUSE_SP.search(lower):
        version = OsVersion((int(found_sp.group(1)), int(found_sp.group(2))))
        lower = lower[: found_sp.start()] + " " + lower[found_sp.end() :]
    elif found := _DOTTED.search(lower):
        version = OsVersion.from_dotted(found.group(1))
        lower = lower[: found.start()] + " " + lower[found.end() :]
    lower = _ALL.sub(" ", lower)
    edition = _leftover_words(text, lower, allowed=True)
    return OsIdentifier(
        family="linux", version=version, product=display, raw=text, distro=distro, edition=edition
    )
