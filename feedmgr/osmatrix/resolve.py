"""``feedmgr os resolve``: one OS string against one feed, explained."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from feedmgr.escape import join_lines
from feedmgr.osmatrix.classify import Classification, OsTree
from feedmgr.osmatrix.identifier import OsIdentifier
from feedmgr.osmatrix.lag import BYPASS, FAMILY_NAMES
from feedmgr.osmatrix.parse import parse_os_string

if TYPE_CHECKING:
    from feedmgr.feed.payload import OsCatalog

RESOLVE_SCHEMA = "feedmgr-os-resolve/1"


@dataclass(frozen=True)
class Resolution:
    """A parsed OS string and where (if anywhere) the feed classifies it."""

    os_id: OsIdentifier
    classification: Classification | None
    feed_label: str
    known_max: str | None
    nearest: tuple[str, str] | None = None  # (node name, its max version) just below

    @property
    def classified(self) -> bool:
        """True when the feed classifies the OS."""
        return self.classification is not None

    @property
    def message(self) -> str:
        """One sentence saying what happens to an endpoint reporting this OS."""
        if self.classification is not None:
            return f"{self.os_id.label} is classified as {self.classification.describe()}"
        family = FAMILY_NAMES[self.os_id.family]
        known = f" (it knows {family} up to {self.known_max})" if self.known_max else ""
        if self.nearest is not None and self.nearest[1] != self.known_max:
            known = (
                f" (it knows {self.nearest[0]} up to {self.nearest[1]}, "
                f"{family} up to {self.known_max})"
            )
        return (
            f"{self.os_id.label} would not be classified by {self.feed_label}{known}: "
            f'endpoints reporting it match no OS condition ("{BYPASS}")'
        )

    def to_json(self) -> dict[str, Any]:
        """The documented JSON document of ``feedmgr os resolve --format json``."""
        chain = self.classification.chain if self.classification else ()
        return {
            "schema": RESOLVE_SCHEMA,
            "feed": self.feed_label,
            "parsed": self.os_id.to_json(),
            "classified": self.classified,
            "node": chain[0].name if chain else None,
            "chain": [n.name for n in chain],
            "nodes": [n.model_dump(mode="json", exclude_none=True) for n in chain],
            "feed_knows_up_to": self.known_max,
            "nearest_node": (
                {"name": self.nearest[0], "max_version": self.nearest[1]} if self.nearest else None
            ),
            "message": self.message,
        }

    def render_text(self) -> str:
        """Human-readable lines: the parse, the chain and the node's range and minimums."""
        lines = [f"input:   {self.os_id.raw}", f"parsed:  {self.os_id.label}"]
        if self.classification is None:
            lines.append(f"result:  NOT CLASSIFIED: {self.message}")
            return join_lines(lines)
        node = self.classification.node
        lines.append(f"node:    {self.classification.describe()}")
        if node.min_version is not None:
            lines.append(f"range:   {node.min_version} - {node.max_version}")
        if node.min_agent_version:
            lines.append(f"agent:   >= {node.min_agent_version}")
        if node.min_compliance_module_version:
            lines.append(f"module:  >= {node.min_compliance_module_version}")
        lines.append(f"feed:    {self.feed_label}")
        return join_lines(lines)


def resolve(catalog: OsCatalog, text: str, feed_label: str = "the feed") -> Resolution:
    """Parse ``text`` and classify it against ``catalog``.

    Raises:
        ParseError: when the text is not an OS string we understand.
    """
    os_id = parse_os_string(text)
    tree = OsTree(catalog)
    found = tree.classify(os_id)
    known = tree.known_max(os_id) if os_id.version is not None else None
    below = tree.nearest_below(os_id) if found is None else None
    return Resolution(
        os_id,
        found,
        feed_label,
        str(known) if known is not None else None,
        (below[0].name, str(below[1])) if below is not None else None,
    )
