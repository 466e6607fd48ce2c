"""The provisioning area's interface: how the engine asks where an OS lands in the feed.

The engine never parses OS strings itself. It asks an :class:`OsClassifier` for a
:class:`Placement`: the chain of OS nodes (deepest first) that the feed's OS tree classifies
the string under, or why it does not classify. ISE matches a rule's operating system only
through that chain, so an OS the feed does not know matches no rule at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class Unclassified(StrEnum):
    """Why the feed does not classify a posture-capable OS; each cause has its own fix."""

    NEWER = "newer"  # a release the feed does not list yet: a feed update adds it
    OLDER = "older"  # older than the feed's oldest node: a support decision, not lag
    NOT_CLASSIFIABLE = "not-classifiable"  # no version to place (Windows Server, a bare name)
    UNPARSEABLE = "unparseable"  # not an OS string at all


@dataclass(frozen=True)
class Placement:
    """Where one OS string lands in the feed's OS tree.

    ``chain`` holds node names, deepest first ("Mac OSX 15", "Mac OSX"); it is empty when
    the feed cannot classify the OS. ``label`` is a canonical description of the OS,
    ``unparseable`` says the string could not be read as an OS at all, ``reason`` explains an
    empty chain in one sentence. ``agentless`` names the kind of device the posture agent
    does not run on at all (an iOS or Android device, a printer), else "". ``blank`` says
    the OS string is empty: no OS was recorded, so nothing tells a device no agent runs on
    from a PC or Mac that never ran the agent (ISE's PostureOS stays empty until then).
    ``umbrella`` is, for a release the feed does not know yet, the umbrella node of its
    family ("Mac OSX"), else "". ``next_chain`` is the chain a feed that lists the release
    classifies it under: the node of its release line when the feed has one (a later feed
    raises "Mac OSX 15"'s range to take 15.7.3), else a new child of the umbrella
    ("(next Mac OSX release)", "Mac OSX"); empty when no feed update classifies it.
    ``cause`` says why a posture-capable OS is not classified (None when it is).
    """

    text: str
    label: str
    chain: tuple[str, ...] = ()
    unparseable: bool = False
    reason: str = ""
    agentless: str = ""
    umbrella: str = ""
    next_chain: tuple[str, ...] = ()
    cause: Unclassified | None = None
    blank: bool = False

    @property
    def posture_capable(self) -> bool:
        """False for devices the Secure Client posture agent cannot run on."""
        return not self.agentless

    @property
    def classified(self) -> bool:
        """True when the feed classifies the OS under some node."""
        return bool(self.chain)

    @property
    def node(self) -> str | None:
        """The deepest node, or None when not classified."""
        return self.chain[0] if self.chain else None


class OsClassifier(Protocol):
    """Anything that can place an endpoint's OS string in the feed's OS tree."""

    def place(self, os_string: str) -> Placement:
        """Classify one OS string; never raises for bad text (returns ``unparseable``)."""
        ...
