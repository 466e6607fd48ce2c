"""FeedClassifier: the OS matrix's parser and tree behind the engine's Placement."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedmgr.feed.payload import OsCatalog
from feedmgr.provisioning.classify import FeedClassifier
from feedmgr.provisioning.interface import Unclassified


@pytest.mark.parametrize(
    ("text", "chain", "unparseable"),
    [
        ("macOS 26.1 (25B78)", ("Mac OSX 26", "Mac OSX"), False),
        ("Mac OSX 15.6.1", ("Mac OSX 15", "Mac OSX"), False),
        ("Windows 11 Enterprise 10.0.26100", ("Windows 11 (All)", "Windows All"), False),
        ("macOS 26.2", (), False),
        ("Mac OSX 27.0", (), False),
        ("toaster firmware 3", (), True),
    ],
)
def test_placements_over_the_sample_catalog(
    sample_catalog: OsCatalog, text: str, chain: tuple[str, ...], unparseable: bool
) -> None:
    """Known versions get their node chain; unknown ones none; junk is unparseable."""
    placement = FeedClassifier(sample_catalog).place(text)
    assert placement.chain == chain
    assert placement.unparseable is unparseable
    assert placement.classified is bool(chain)
    if not chain:
        assert placement.reason


@pytest.mark.parametrize(
    ("text", "known", "next_chain"),
    [
        # A point release of a line the feed has: the next feed raises that node's range.
        ("macOS Sequoia 15.7.3", "Mac OSX 15 up to 15.7.2", ("Mac OSX 15", "Mac OSX")),
        ("macOS 26.2", "Mac OSX 26 up to 26.1", ("Mac OSX 26", "Mac OSX")),
        (
            "Windows 11 Pro 10.0.28000",
            "Windows 11 (All) up to 10.0.26200",
            ("Windows 11 (All)", "Windows All"),
        ),
        ("Ubuntu 24.04.4", "Ubuntu 24.04 up to 24.04.3", ("Ubuntu 24.04", "Linux All")),
        # A new line: the next feed adds a new node under the family's umbrella.
        ("macOS 27.0", "Mac OSX 26 up to 26.1", ("(next Mac OSX release)", "Mac OSX")),
        (
            "Red Hat Enterprise Linux 10.0",
            "Red Hat Enterprise Linux 9 up to 9.6",
            ("(next Linux All release)", "Linux All"),
        ),
    ],
)
def test_unknown_release_names_the_node_a_later_feed_puts_it_under(
    sample_catalog: OsCatalog, text: str, known: str, next_chain: tuple[str, ...]
) -> None:
    """A release newer than the feed is placed, for the next feed, under the node of its
    release line (Cisco's feeds add 15.7.3 to "Mac OSX 15"), or under a new child of the
    umbrella for a new major; the reason names the nearest node's range, not the family's
    newest version."""
    placement = FeedClassifier(sample_catalog).place(text)
    assert not placement.classified
    assert placement.next_chain == next_chain
    assert f"it knows {known}" in placement.reason


@pytest.mark.parametrize(
    ("text", "cause", "says"),
    [
        ("macOS 26.2", Unclassified.NEWER, "does not know this version yet"),
        # The sample feed starts at Big Sur and Windows 10 1507: older is a support decision.
        ("macOS 10.15.7", Unclassified.OLDER, "older than the oldest version this feed supports"),
        ("Windows 7", Unclassified.OLDER, "(Windows 10 (All): 10.0.10240 - 10.0.19045)"),
        # Server build 20348 sits inside the feed's Windows span, but Server gets no version.
        ("Windows Server 2022 Datacenter", Unclassified.NOT_CLASSIFIABLE, "Windows Server"),
        ("HP LaserJet", Unclassified.UNPARSEABLE, "not a recognisable OS string"),
        ("Linux 6.8.0", Unclassified.UNPARSEABLE, "not a recognisable OS string"),
    ],
)
def test_unclassified_placements_say_why(
    sample_catalog: OsCatalog, text: str, cause: Unclassified, says: str
) -> None:
    """Only a release newer than the feed is lag a feed update fixes; an OS older than the
    feed's oldest node, a Windows Server and an unreadable string each say their own cause,
    never that the feed knows up to its newest version, and get no next-feed node."""
    placement = FeedClassifier(sample_catalog).place(text)
    assert placement.cause is cause
    assert says in placement.reason
    assert "newest" not in placement.reason
    assert bool(placement.next_chain) is (cause is Unclassified.NEWER)


def test_placements_are_cached(sample_catalog: OsCatalog) -> None:
    """The same string is classified once."""
    classifier = FeedClassifier(sample_catalog)
    assert classifier.place("macOS 26.1") is classifier.place("macOS 26.1")


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("iOS 17.5.1", "iOS/iPadOS"),
        ("Apple iOS 18.1", "iOS/iPadOS"),
        ("iPadOS 18.2", "iOS/iPadOS"),
        ("Android 14", "Android"),
        ("Chrome OS 126.0.6478", "Chrome OS"),
        ("ChromeOS", "Chrome OS"),
        ("HP-Printer", "printer/phone"),
        ("Cisco-IP-Phone-8845", "printer/phone"),
        ("Windows Phone 8.1", "printer/phone"),
    ],
)
def test_devices_the_agent_cannot_run_on_are_not_classified(
    sample_catalog: OsCatalog, text: str, kind: str
) -> None:
    """Mobile OSes, Chrome OS, printers and phones are placed as devices no posture agent
    runs on, never as an OS the feed should learn."""
    placement = FeedClassifier(sample_catalog).place(text)
    assert placement.agentless == kind
    assert not placement.posture_capable
    assert not placement.classified
    assert not placement.unparseable


@pytest.mark.parametrize("text", ["", "   ", "\t"])
def test_a_blank_os_cell_is_no_os_recorded_not_an_agentless_device(
    sample_catalog: OsCatalog, text: str
) -> None:
    """A blank OS cell says nothing about the device (ISE's PostureOS is empty until the
    agent reports, so a Mac that never got one is blank too): it is "no OS recorded",
    not a device the posture agent does not run on, and not an unparseable string."""
    placement = FeedClassifier(sample_catalog).place(text)
    assert placement.blank
    assert placement.agentless == ""
    assert placement.label == "(no OS recorded)"
    assert not placement.classified
    assert not placement.unparseable
    assert placement.cause is None


@pytest.mark.parametrize(
    "text", ["macOS 26.1", "Mac OSX 15.6.1", "Windows 11 Pro 10.0.26100", "Ubuntu 24.04.1"]
)
def test_desktop_oses_stay_posture_capable(sample_catalog: OsCatalog, text: str) -> None:
    """Windows, macOS and Linux strings are never mistaken for agentless devices."""
    assert FeedClassifier(sample_catalog).place(text).posture_capable


@settings(deadline=None)  # the machine may be loaded; speed is not tested here
@given(st.text(max_size=60))
def test_no_text_makes_place_raise(sample_catalog: OsCatalog, text: str) -> None:
    """place() never raises: any text gives a Placement."""
    placement = FeedClassifier(sample_catalog).place(text)
    assert placement.text == text
