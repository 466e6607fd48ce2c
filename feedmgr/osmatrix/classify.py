"""Walk a feed's OS tree to the node that classifies an OS, as ISE does.

ISE classifies an endpoint under the deepest OS node whose version range covers the reported
version; the node's ancestors ("Mac OSX 15" -> "Mac OSX") match too. A version no node covers
is not classified at all: the endpoint matches no client-provisioning rule and gets
"Bypassing Cisco Secure Client Scan". Umbrella nodes without a range cover exactly what their
descendants cover.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from feedmgr.errors import ParseError, SchemaError
from feedmgr.osmatrix.identifier import (
    FAMILIES,
    LINUX_DISTROS,
    WINDOWS_11_FIRST_BUILD,
    OsIdentifier,
)
from feedmgr.osmatrix.version import OsVersion, in_range, parse_version

if TYPE_CHECKING:
    from feedmgr.feed.payload import OsCatalog, OsNode


def normalise_name(name: str) -> str:
    """A node or product name reduced for comparison: "Windows 10 (All)" -> "windows 10"."""
    text = name.lower()
    text = re.sub(r"\(\s*all\s*\)|(?<![a-z])all(?![a-z])", " ", text)
    text = re.sub(r"mac\s*os\s*x|mac\s*osx|macosx|mac\s*os|os\s*x", "macos", text)
    return " ".join(re.sub(r"[^a-z0-9.]+", " ", text).split())


def node_distro(node: OsNode) -> str | None:
    """The Linux distribution key a node name starts with ("Ubuntu 22.04" -> "ubuntu")."""
    name = node.name.lower()
    for key, (_display, aliases) in LINUX_DISTROS.items():
        if any(re.match(rf"^{re.escape(alias)}(?![a-z])", name) for alias in aliases):
            return key
    return None


def release_line(family: str, distro: str | None, version: OsVersion) -> tuple[int, ...]:
    """The release line a version belongs to: what a feed keeps under one version node.

    Posture feeds add a new point release to the node of its line by raising that node's
    ``max_version`` ("Mac OSX 15" gets 15.7.3, "Windows 11 (All)" a new Windows 11 build);
    only a new line gets a new node. A macOS line is its major (10.x counts two components:
    10.15), a Windows line is Windows 10 or Windows 11 (decided by the build, as
    classification does), an Ubuntu line is year.month (24.04), other distributions' lines
    are their major (RHEL 9, Debian 12).
    """
    parts = (*version.parts, 0, 0)
    if family == "macos":
        return parts[:2] if parts[0] == 10 else parts[:1]
    if family == "windows":
        if parts[:2] == (10, 0):
            return (10, 0, 11 if parts[2] >= WINDOWS_11_FIRST_BUILD else 10)
        return parts[:2]
    if distro == "ubuntu":
        return parts[:2]
    return parts[:1]


@dataclass(frozen=True)
class Classification:
    """Where an OS lands in the feed's tree: the deepest node and its ancestors.

    ``ancestors`` runs from the parent up to the root. ``chain`` is node first, root last.
    """

    node: OsNode
    ancestors: tuple[OsNode, ...]

    @property
    def chain(self) -> tuple[OsNode, ...]:
        """The node and its ancestors, deepest first."""
        return (self.node, *self.ancestors)

    @property
    def names(self) -> tuple[str, ...]:
        """Node names of the chain, deepest first: ("Mac OSX 15", "Mac OSX")."""
        return tuple(n.name for n in self.chain)

    def is_under(self, name: str) -> bool:
        """True when the node or one of its ancestors is called ``name`` (exact name)."""
        return name in self.names

    def describe(self) -> str:
        """The chain as text: "Mac OSX 15 -> Mac OSX"."""
        return " -> ".join(self.names)

    def to_json(self) -> dict[str, Any]:
        """``{"node": name, "chain": [names, deepest first]}`` for JSON output."""
        return {"node": self.node.name, "chain": list(self.names)}


@dataclass(frozen=True)
class NodeRange:
    """A node's inclusive version range, parsed."""

    low: OsVersion
    high: OsVersion

    def covers(self, version: OsVersion) -> bool:
        """True when the range covers ``version`` (``high`` covers its point releases)."""
        return in_range(version, self.low, self.high)

    def __str__(self) -> str:
        return f"{self.low} - {self.high}"


class OsTree:
    """A catalog prepared for many look-ups (build once, classify many times).

    Raises:
        SchemaError: when a node's range is PEP 440 but not a plain numeric OS version
            (such as "15.0rc1"), which no endpoint reports.
    """

    def __init__(self, catalog: OsCatalog) -> None:
        self.catalog = catalog
        self.nodes: tuple[OsNode, ...] = tuple(catalog.nodes)
        self.by_name: dict[str, OsNode] = {n.name: n for n in self.nodes}
        self._children: dict[str | None, list[OsNode]] = {}
        for node in self.nodes:
            self._children.setdefault(node.parent, []).append(node)
        self._ranges: dict[str, NodeRange] = {}
        for node in self.nodes:
            if node.min_version is not None and node.max_version is not None:
                try:
                    low, high = parse_version(node.min_version), parse_version(node.max_version)
                except ParseError as exc:
                    raise SchemaError(
                        "os/catalog.json", f"node {node.name!r}: {exc.problem}"
                    ) from exc
                self._ranges[node.name] = NodeRange(low, high)
        self._depth: dict[str, int] = {n.name: len(self.ancestors(n.name)) for n in self.nodes}
        # (family, distro) -> ranged nodes with range and depth, for fast classification
        self._pool: dict[tuple[str, str | None], list[tuple[OsNode, NodeRange, int]]] = {}
        for node in self.nodes:
            span = self._ranges.get(node.name)
            if span is not None:
                distro = node_distro(node) if node.family == "linux" else None
                entry = (node, span, self._depth[node.name])
                self._pool.setdefault((node.family, distro), []).append(entry)
        self._by_normalised: dict[str, OsNode] = {}
        for node in self.nodes:
            self._by_normalised.setdefault(normalise_name(node.name), node)

    def node(self, name: str) -> OsNode | None:
        """The node with this exact name."""
        return self.by_name.get(name)

    def range_of(self, name: str) -> NodeRange | None:
        """The node's own range; None for umbrella nodes."""
        return self._ranges.get(name)

    def effective_range(self, name: str) -> NodeRange | None:
        """The node's range, or for an umbrella node the span of its descendants' ranges."""
        own = self._ranges.get(name)
        if own is not None:
            return own
        spans = [self._ranges[d.name] for d in self.descendants(name) if d.name in self._ranges]
        if not spans:
            return None
        return NodeRange(min(s.low for s in spans), max(s.high for s in spans))

    def children(self, name: str | None) -> tuple[OsNode, ...]:
        """Direct children of a node (or the roots for None), in catalog order."""
        return tuple(self._children.get(name, ()))

    def descendants(self, name: str) -> Iterator[OsNode]:
        """All nodes below ``name``, depth first."""
        for child in self.children(name):
            yield child
            yield from self.descendants(child.name)

    def ancestors(self, name: str) -> tuple[OsNode, ...]:
        """Parent first, root last."""
        out: list[OsNode] = []
        current = self.by_name.get(name)
        while current is not None and current.parent is not None:
            parent = self.by_name.get(current.parent)
            if parent is None:
                break
            out.append(parent)
            current = parent
        return tuple(out)

    def depth(self, name: str) -> int:
        """0 for a root."""
        known = self._depth.get(name)
        return known if known is not None else len(self.ancestors(name))

    @cached_property
    def ordered(self) -> tuple[OsNode, ...]:
        """Every node in tree order: roots in catalog order, children by version."""

        position = {node.name: index for index, node in enumerate(self.nodes)}

        def sort_key(node: OsNode) -> tuple[int, int, OsVersion, int]:
            family = FAMILIES.index(node.family) if node.family in FAMILIES else len(FAMILIES)
            if node.parent is None:  # roots: macOS, Windows, Linux, then catalog order
                return (family, 0, OsVersion((0,)), position[node.name])
            span = self.effective_range(node.name)
            low = span.low if span else OsVersion((0,))
            return (family, 0 if span else 1, low, position[node.name])

        out: list[OsNode] = []

        def walk(nodes: Sequence[OsNode]) -> None:
            for node in sorted(nodes, key=sort_key):
                out.append(node)
                walk(self.children(node.name))

        walk(self.children(None))
        return tuple(out)

    def candidates(self, os_id: OsIdentifier) -> Iterator[OsNode]:
        """Ranged nodes of the identifier's family (and Linux distribution)."""
        distro = os_id.distro if os_id.family == "linux" else None
        for node, _span, _depth in self._pool.get((os_id.family, distro), ()):
            yield node

    def classify(self, os_id: OsIdentifier) -> Classification | None:
        """The deepest node covering the identifier, with its ancestors; None if none does.

        Identifiers without a version ("Windows 10 (All)", "Mac OSX") classify only when
        they name a node of the tree.
        """
        if os_id.version is None:
            for text in (os_id.raw, os_id.product):
                found = self._by_normalised.get(normalise_name(text))
                if found is not None and found.family == os_id.family:
                    return Classification(found, self.ancestors(found.name))
            return None
        best: OsNode | None = None
        best_key: tuple[int, OsVersion] | None = None
        distro = os_id.distro if os_id.family == "linux" else None
        for node, span, depth in self._pool.get((os_id.family, distro), ()):
            if span.covers(os_id.version):
                key = (depth, span.low)
                if best_key is None or key > best_key:
                    best, best_key = node, key
        if best is None:
            return None
        return Classification(best, self.ancestors(best.name))

    def covers(self, node_name: str, os_id: OsIdentifier) -> bool:
        """True when the identifier classifies under ``node_name`` (the node or a descendant)."""
        found = self.classify(os_id)
        return found is not None and found.is_under(node_name)

    def known_max(self, os_id: OsIdentifier) -> OsVersion | None:
        """The highest version the tree knows for the identifier's family (and distro)."""
        highs = [self._ranges[n.name].high for n in self.candidates(os_id)]
        return max(highs, default=None)

    def nearest_below(self, os_id: OsIdentifier) -> tuple[OsNode, OsVersion] | None:
        """The node whose range ends closest below the identifier's version, with that end.

        For macOS 15.7.3 on a feed knowing 15.0-15.7.2 this is ("Mac OSX 15", 15.7.2): the
        newest release the feed knows in the neighbourhood, for messages.
        """
        if os_id.version is None:
            return None
        below = [
            (self._ranges[n.name].high, n)
            for n in self.candidates(os_id)
            if self._ranges[n.name].low <= os_id.version
        ]
        if not below:
            return None
        high, node = max(below, key=lambda item: item[0])
        return node, high

    def line_node(self, os_id: OsIdentifier) -> tuple[OsNode, OsVersion] | None:
        """The node a later feed adds an unclassified version to, with that node's end.

        For a point release of a line the feed already has a node for (macOS 15.7.3 on a
        feed knowing "Mac OSX 15" up to 15.7.2, Windows 11 build 28000 on "Windows 11
        (All)" up to 10.0.26200), the next feed raises that node's ``max_version``. None
        when the version starts a new line (macOS 27 next to "Mac OSX 26"): then the feed
        adds a new node under the family's umbrella.
        """
        near = self.nearest_below(os_id)
        if near is None or os_id.version is None:
            return None
        node, high = near
        span = self._ranges[node.name]
        line = release_line(os_id.family, os_id.distro, os_id.version)
        if release_line(node.family, os_id.distro, span.low) != line:
            return None
        return node, high

    def oldest_node(self, os_id: OsIdentifier) -> tuple[OsNode, NodeRange] | None:
        """The ranged node with the lowest start for the identifier's family (and distro)."""
        ranged = [(self._ranges[n.name], n) for n in self.candidates(os_id)]
        if not ranged:
            return None
        span, node = min(ranged, key=lambda item: item[0].low)
        return node, span

    def known_min(self, os_id: OsIdentifier) -> OsVersion | None:
        """The lowest version the tree knows for the identifier's family (and distro)."""
        lows = [self._ranges[n.name].low for n in self.candidates(os_id)]
        return min(lows, default=None)


def classify(catalog: OsCatalog, os_id: OsIdentifier) -> Classification | None:
    """Classify one identifier against a catalog (build an :class:`OsTree` for many)."""
    return OsTree(catalog).classify(os_id)
