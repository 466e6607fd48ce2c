"""The OS identifier model: what an OS string from an endpoint or an export means."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from feedmgr.osmatrix.version import OsVersion

Family = Literal["macos", "windows", "linux"]
FAMILIES: tuple[Family, ...] = ("macos", "windows", "linux")

# Windows 11 and 10 feature updates: release id -> build (Microsoft release information).
WINDOWS_11_RELEASES: dict[str, int] = {
    "21H2": 22000,
    "22H2": 22621,
    "23H2": 22631,
    "24H2": 26100,
    "25H2": 26200,
    "26H1": 28000,  # only on new Arm devices (endoflife.date products/windows.md)
}
WINDOWS_10_RELEASES: dict[str, int] = {
    "1507": 10240,
    "1511": 10586,
    "1607": 14393,
    "1703": 15063,
    "1709": 16299,
    "1803": 17134,
    "1809": 17763,
    "1903": 18362,
    "1909": 18363,
    "2004": 19041,
    "20H2": 19042,
    "21H1": 19043,
    "21H2": 19044,
    "22H2": 19045,
}
# Windows 11 is Windows NT 10.0 with a build of 22000 or later; Windows itself still reports
# "Windows 10" in the registry's ProductName on Windows 11, so the build decides.
WINDOWS_11_FIRST_BUILD = 22000

MACOS_CODENAMES: dict[str, tuple[int, ...]] = {
    "yosemite": (10, 10),
    "el capitan": (10, 11),
    "sierra": (10, 12),
    "high sierra": (10, 13),
    "mojave": (10, 14),
    "catalina": (10, 15),
    "big sur": (11,),
    "monterey": (12,),
    "ventura": (13,),
    "sonoma": (14,),
    "sequoia": (15,),
    "tahoe": (26,),
}

# Linux distributions: key -> (display name, lower-case aliases as written in OS strings and
# in feed node names, longest first).
LINUX_DISTROS: dict[str, tuple[str, tuple[str, ...]]] = {
    "ubuntu": ("Ubuntu", ("ubuntu",)),
    "rhel": ("Red Hat Enterprise Linux", ("red hat enterprise linux", "redhat", "red hat", "rhel")),
    "debian": ("Debian", ("debian gnu/linux", "debian")),
    "sles": (
        "SUSE Linux Enterprise",
        (
            "suse linux enterprise server",
            "suse linux enterprise desktop",
            "suse linux enterprise",
            "sles",
            "sled",
        ),
    ),
    "opensuse": ("openSUSE", ("opensuse leap", "opensuse")),
    "fedora": ("Fedora", ("fedora linux", "fedora")),
    "centos": ("CentOS", ("centos stream", "centos linux", "centos")),
    "rocky": ("Rocky Linux", ("rocky linux", "rocky")),
    "almalinux": ("AlmaLinux", ("alma linux", "almalinux")),
    "oracle": ("Oracle Linux", ("oracle linux server", "oracle linux")),
}


def windows_release_id(build: int) -> str | None:
    """The feature-update id ("24H2") of a Windows build number, if it is a known one."""
    table = WINDOWS_11_RELEASES if build >= WINDOWS_11_FIRST_BUILD else WINDOWS_10_RELEASES
    return next((rid for rid, b in table.items() if b == build), None)


def windows_marketing(build: int) -> str:
    """ "Windows 11" or "Windows 10" for an NT 10.0 build number."""
    return "Windows 11" if build >= WINDOWS_11_FIRST_BUILD else "Windows 10"


@dataclass(frozen=True)
class OsIdentifier:
    """An OS as an endpoint reports it, reduced to what classification needs.

    ``version`` is None when the string names an OS without a precise version ("Windows 10
    (All)", "Mac OSX"); such identifiers classify only by node name. For Windows the version
    is the NT kernel version (10.0.26100[.UBR]), as in the feed's ranges. ``product`` is the
    display name ("macOS", "Windows 11", "Ubuntu"); ``distro`` is the Linux distribution key.
    """

    family: Family
    version: OsVersion | None
    product: str
    raw: str
    build: str | None = None
    release_id: str | None = None
    edition: str | None = None
    distro: str | None = None

    @property
    def label(self) -> str:
        """A canonical one-line label: "macOS 26.0.1 (a) (25A362)", "Windows 11 24H2 ..."."""
        parts = [self.product]
        if self.edition:
            parts.append(self.edition)
        if self.release_id and self.family == "windows":
            parts.append(self.release_id)
        if self.version is not None:
            parts.append(str(self.version))
        if self.build:
            parts.append(f"({self.build})")
        if self.version is None and not self.release_id:
            parts.append("(any version)")
        return " ".join(parts)

    def to_json(self) -> dict[str, Any]:
        """The documented JSON shape of a parsed OS string."""
        return {
            "input": self.raw,
            "family": self.family,
            "product": self.product,
            "version": str(self.version.base) if self.version is not None else None,
            "rapid_security_response": self.version.rsr if self.version is not None else None,
            "build": self.build,
            "release_id": self.release_id,
            "edition": self.edition,
            "distro": self.distro,
            "label": self.label,
        }
