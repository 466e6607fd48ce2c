"""The provisioning engine's view of the feed: an :class:`OsClassifier` over the OS tree.

Parsing and classification are the OS matrix's (``feedmgr.osmatrix``); this module only
adapts them to the engine's :class:`Placement` and caches per distinct OS string, so an
inventory of millions of rows classifies each distinct string once.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from feedmgr.errors import ParseError
from feedmgr.osmatrix.classify import OsTree
from feedmgr.osmatrix.parse import parse_os_string
from feedmgr.provisioning.interface import Placement, Unclassified

if TYPE_CHECKING:
    from feedmgr.feed.payload import OsCatalog


# Secure Client's ISE Posture module exists for Windows, macOS and Linux only (its release
# notes list no other OS; ISE judges mobile devices through MDM compliance instead).
# Mobile OSes, Chrome OS and profiled devices (printers, IP phones) reach CP, if at all, for
# native supplicant provisioning: no rule can give them a posture agent.
_AGENTLESS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("iOS/iPadOS", re.compile(r"\b(?:ios|ipados|iphone|ipad|ipod|tvos|watchos|visionos)\b")),
    ("Android", re.compile(r"\bandroid\b")),
    ("Chrome OS", re.compile(r"\b(?:chrome ?os|chromebook|cros)\b")),
    ("printer/phone", re.compile(r"printer|\bphone\b|ip-?phone|\bvoip\b")),
)
NO_OS_LABEL = "(no OS recorded)"


def agentless_kind(os_string: str) -> str:
    """The kind of device the posture agent cannot run on ("Android", "printer/phone"...),
    or "" (a blank string included: it names no device at all)."""
    text = os_string.strip().casefold()
    return next((kind for kind, pattern in _AGENTLESS if pattern.search(text)), "")


def agentless_placement(os_string: str, kind: str) -> Placement:
    """The placement of an OS string the posture agent cannot run on."""
    label = f"{kind} (no posture agent)"
    why = "the Secure Client posture agent does not run on it"
    return Placement(text=os_string, label=label, reason=why, agentless=kind)


def blank_placement(os_string: str) -> Placement:
    """The placement of an empty OS cell. ISE's PostureOS stays empty until the posture
    agent has reported once, so a PC or Mac that hit a CP gap ("Bypassing Cisco Secure
    Client Scan") is blank exactly like a phone or a printer: no verdict either way."""
    return Placement(
        text=os_string,
        label=NO_OS_LABEL,
        reason=(
            "no OS recorded, so the audit cannot tell whether they get an agent: they may be "
            "devices no posture agent runs on, or PCs and Macs that never ran the agent"
        ),
        blank=True,
    )


class FeedClassifier:
    """Places OS strings in one catalog's OS tree (implements ``OsClassifier``)."""

    def __init__(self, catalog: OsCatalog) -> None:
        self.tree = OsTree(catalog)
        self._cache: dict[str, Placement] = {}

    def place(self, os_string: str) -> Placement:
        """Parse and classify one OS string; bad text gives an ``unparseable`` placement."""
        cached = self._cache.get(os_string)
        if cached is not None:
            return cached
        placement = self._place(os_string)
        self._cache[os_string] = placement
        return placement

    def _place(self, os_string: str) -> Placement:
        if not os_string.strip():
            return blank_placement(os_string)
        kind = agentless_kind(os_string)
        if kind:
            return agentless_placement(os_string, kind)
        try:
            os_id = parse_os_string(os_string)
        except ParseError as exc:
            return Placement(
                text=os_string,
                label=os_string or "(blank)",
                unparseable=True,
                reason=f"not a recognisable OS string ({exc.problem})",
                cause=Unclassified.UNPARSEABLE,
            )
        found = self.tree.classify(os_id)
        if found is not None:
            return Placement(text=os_string, label=os_id.label, chain=found.names)
        if os_id.version is None:
            if os_id.product.startswith("Windows Server"):
                # docs/os-matrix.md: Server 2016/2019 share their builds with Windows 10
                # 1607/1809, so a build would put a server under a Windows 10 node.
                reason = (
                    "Windows Server is deliberately not classified by version (its builds "
                    "are shared with Windows 10 releases) and the feed has no node named "
                    f"{os_id.product!r}"
                )
            else:
                reason = "it carries no version and names no node of the feed"
            return Placement(
                text=os_string,
                label=os_id.label,
                reason=reason,
                cause=Unclassified.NOT_CLASSIFIABLE,
            )
        oldest = self.tree.oldest_node(os_id)
        if oldest is not None and os_id.version < oldest[1].low:
            return Placement(
                text=os_string,
                label=os_id.label,
                reason=(
                    "older than the oldest version this feed supports "
                    f"({oldest[0].name}: {oldest[1]})"
                ),
                cause=Unclassified.OLDER,
            )
        root = (n.name for n in self.tree.ordered if n.family == os_id.family and n.parent is None)
        umbrella = next(root, "")
        line = self.tree.line_node(os_id)
        if line is not None:
            node, high = line
            reason = f"the feed does not know this version yet; it knows {node.name} up to {high}"
            next_chain = (node.name, *(a.name for a in self.tree.ancestors(node.name)))
        else:
            near = self.tree.nearest_below(os_id)
            known = f"; it knows {near[0].name} up to {near[1]}" if near is not None else ""
            reason = f"the feed does not know this version yet{known}"
            upper = (*(a.name for a in self.tree.ancestors(umbrella)),) if umbrella else ()
            next_chain = (f"(next {umbrella} release)", umbrella, *upper) if umbrella else ()
        return Placement(
            text=os_string,
            label=os_id.label,
            reason=reason,
            umbrella=umbrella,
            next_chain=next_chain,
            cause=Unclassified.NEWER,
        )
