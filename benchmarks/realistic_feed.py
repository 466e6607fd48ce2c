"""Generate feed sources shaped like real posture content, for the ingest benchmarks.

A real posture feed is many small JSON objects: predefined conditions (a name, a kind, the
platforms, a sentence of description and a definition of a few keys: a service label, a
registry key, a file path, a patch KB), AV/AS products per vendor and OS nodes. Names,
paths and sentences repeat their vocabulary from object to object, which is why such
documents deflate about 8:1 (the random base64 this benchmark used before deflated 1.3:1,
inflated fast and validated almost for free).

Documents range from a few KiB to the 32 MiB per-document limit of docs/feed-format.md:
every payload of at least 32 MiB holds one document of exactly the largest size the format
allows, because that document sets the ingest's peak memory.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

MAX_DOCUMENT_BYTES = 32 * 1024 * 1024

_VENDORS = [
    "Microsoft Corporation", "Apple Inc.", "CrowdStrike, Inc.", "SentinelOne", "Sophos Limited",
    "Trend Micro, Inc.", "Broadcom Inc.", "Trellix", "ESET, spol. s r.o.", "Bitdefender",
    "Kaspersky Lab", "Palo Alto Networks", "Cisco Systems, Inc.", "Check Point Software",
    "Malwarebytes", "Fortinet Inc.", "Avast Software s.r.o.", "AVG Technologies", "F-Secure",
    "G DATA Software AG", "Panda Security", "Webroot Inc.", "VMware, Inc.", "Cylance Inc.",
]  # fmt: skip
_PRODUCT_WORDS = [
    "Endpoint", "Security", "Antivirus", "Protection", "Defender", "Agent", "Client",
    "Business", "Enterprise", "Cloud", "Premium", "Total", "Internet", "Falcon", "Sensor",
    "Apex", "One", "Office", "Scan", "Threat", "Prevention", "Advanced", "Workstation",
]  # fmt: skip
_VERBS = [
    "is running", "is installed", "is loaded", "is enabled", "is not disabled by policy",
    "is up to date", "has the latest definitions", "is present", "reports a healthy state",
]  # fmt: skip
_SUBJECTS = [
    "the firewall service", "real-time protection", "the update agent", "the disk encryption",
    "the screen lock", "the patch management client", "the VPN client", "the EDR sensor",
    "the audit daemon", "the remote access service", "Gatekeeper", "System Integrity",
    "the backup agent", "the compliance module", "Windows Update", "the XProtect remediator",
]  # fmt: skip
_MAC_SERVICES = [
    "com.apple.alf", "com.apple.XProtect.daemon.scan", "com.apple.sysmond",
    "com.apple.mdmclient.daemon", "com.cisco.secureclient.vpnagentd", "com.crowdstrike.falcond",
    "com.microsoft.wdav.daemon", "com.sentinelone.sentineld", "com.sophos.endpoint",
    "com.apple.softwareupdated", "com.apple.screensharing", "com.apple.auditd",
]  # fmt: skip
_WIN_SERVICES = [
    "WinDefend", "wuauserv", "mpssvc", "BITS", "CSFalconService", "SentinelAgent",
    "SAVService", "ekrn", "vpnagent", "BDESVC", "Sense", "TmListen", "McShield",
]  # fmt: skip
_REG_ROOTS = [
    "HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows\\WindowsUpdate\\AU",
    "HKLM\\SOFTWARE\\Microsoft\\Windows Defender\\Real-Time Protection",
    "HKLM\\SYSTEM\\CurrentControlSet\\Services\\SharedAccess\\Parameters\\FirewallPolicy",
    "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Policies\\System",
    "HKLM\\SOFTWARE\\Policies\\Microsoft\\FVE",
]  # fmt: skip
_REG_VALUES = [
    "NoAutoUpdate", "DisableRealtimeMonitoring", "EnableFirewall", "EnableLUA",
    "EncryptionMethod", "AUOptions", "DisableAntiSpyware", "ConsentPromptBehaviorAdmin",
]  # fmt: skip
_FILE_ROOTS = [
    "C:\\Program Files\\", "C:\\Program Files (x86)\\", "C:\\ProgramData\\",
    "/Applications/", "/Library/Application Support/", "/usr/local/bin/", "/opt/",
]  # fmt: skip
_OPERATORS = ["running", "loaded", "exists", "equals", "not-equals", "greater-or-equal"]
_FAMILIES = ["macos", "windows", "linux"]


def _words(rng: random.Random, pool: list[str], low: int, high: int) -> str:
    return " ".join(rng.choice(pool) for _ in range(rng.randint(low, high)))


def _condition(rng: random.Random, document: int, index: int) -> dict[str, object]:
    kind = rng.choice(["service", "file", "registry", "application", "patch", "antimalware"])
    vendor = rng.choice(_VENDORS)
    product = f"{vendor.split()[0]} {_words(rng, _PRODUCT_WORDS, 1, 3)}"
    version = f"{rng.randint(1, 30)}.{rng.randint(0, 20)}.{rng.randint(0, 9999)}"
    definition: dict[str, object]
    if kind == "service":
        family = rng.choice(["macos", "windows"])
        label = rng.choice(_MAC_SERVICES if family == "macos" else _WIN_SERVICES)
        definition = {"service_name": label, "operator": rng.choice(["running", "loaded"])}
        if family == "macos":
            definition["service_type"] = rng.choice(["daemon", "user-agent"])
    elif kind == "registry":
        family = "windows"
        definition = {
            "key": rng.choice(_REG_ROOTS),
            "value_name": rng.choice(_REG_VALUES),
            "operator": rng.choice(_OPERATORS[3:]),
            "value": rng.randint(0, 5),
        }
    elif kind == "file":
        family = rng.choice(_FAMILIES)
        definition = {
            "path": f"{rng.choice(_FILE_ROOTS)}{product}\\{rng.choice(_PRODUCT_WORDS)}.exe",
            "operator": "exists",
            "min_version": version,
        }
    elif kind == "patch":
        family = "windows"
        definition = {"kb": f"KB{rng.randint(4000000, 5099999)}", "severity": "critical"}
    else:
        family = rng.choice(_FAMILIES)
        definition = {"vendor": vendor, "product": product, "min_version": version}
        if kind == "antimalware":
            definition["definitions_max_age_days"] = rng.randint(1, 14)
    platforms = [family] if rng.random() < 0.8 else sorted({family, rng.choice(_FAMILIES)})
    return {
        "name": f"pc_{family}_{product.replace(' ', '_')}_{kind}_{document}_{index}",
        "kind": kind,
        "platforms": platforms,
        "description": (
            f"{product} {version}: {rng.choice(_SUBJECTS)} {rng.choice(_VERBS)}"
            f" and {rng.choice(_SUBJECTS)} {rng.choice(_VERBS)}"
        ),
        "definition": definition,
    }


def _checks_document(rng: random.Random, document: int, size: int) -> bytes:
    # Built as text piece by piece so a 32 MiB document lands just under the limit.
    head, tail = b'{"format": "feedmgr-checks/1", "conditions": [', b"]}"
    parts: list[bytes] = []
    total = len(head) + len(tail)
    index = 0
    while True:
        piece = json.dumps(_condition(rng, document, index)).encode()
        extra = len(piece) + (2 if parts else 0)
        if total + extra > size:
            break
        parts.append(piece)
        total += extra
        index += 1
    return head + b", ".join(parts) + tail


def _av_chart(rng: random.Random, size: int) -> bytes:
    vendors = []
    total = 0
    for v in range(10_000):
        products = []
        for p in range(rng.randint(5, 40)):
            product = {
                "name": f"{_words(rng, _PRODUCT_WORDS, 2, 4)} {v}.{p}",
                "category": rng.choice(["antivirus", "antispyware", "antimalware"]),
                "platforms": sorted(set(rng.sample(_FAMILIES, rng.randint(1, 3)))),
                "product_versions": f"{rng.randint(1, 20)}.x",
                "min_compliance_module_version": f"4.3.{rng.randint(1000, 4000)}.0",
            }
            products.append(product)
            total += 180
        vendors.append({"name": f"{rng.choice(_VENDORS)} ({v})", "products": products})
        if total >= size:
            break
    return json.dumps({"format": "feedmgr-av-chart/1", "vendors": vendors}).encode()


def document_sizes(payload_bytes: int, rng: random.Random) -> list[int]:
    """Sizes of the ``checks/*.json`` documents making up ``payload_bytes``: one of the
    largest size allowed (when the payload is that large), the rest spread log-uniformly
    from 4 KiB to 32 MiB."""
    sizes = []
    remaining = payload_bytes
    if remaining >= MAX_DOCUMENT_BYTES:
        sizes.append(MAX_DOCUMENT_BYTES)
        remaining -= MAX_DOCUMENT_BYTES
    while remaining > 0:
        size = min(remaining, int(2 ** rng.uniform(12, 25)))
        sizes.append(max(size, 4096))
        remaining -= size
    return sizes


def make_source(root: Path, payload_mib: float, template: Path, seed: int = 1) -> Path:
    """A feed source under ``root/src`` with about ``payload_mib`` MiB of payload: the
    sample feed's catalog and modules, a large AV chart and generated ``checks/*.json``."""
    rng = random.Random(seed)
    src = root / "src"
    shutil.copytree(template, src)
    (src / "feed.toml").write_text(
        'version = "9999.1"\npublisher = "benchmark"\n'
        'published = "2026-01-01T00:00:00Z"\nexpires = "2099-01-01T00:00:00Z"\n'
    )
    (src / "charts" / "av.json").write_bytes(_av_chart(rng, 2 * 1024 * 1024))
    for n, size in enumerate(document_sizes(int(payload_mib * 2**20), rng)):
        (src / "checks" / f"bench-{n:04d}.json").write_bytes(_checks_document(rng, n, size))
    return src
