"""The Atom index parser: links, versions, digests and hostile documents."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedmgr.errors import InputRejected, ParseError, SchemaError
from feedmgr.feed.index import PackageRef, parse_index
from tests.feed.netserver import Entry, atom_index

BASE = "https://feeds.example.net/posture/index.xml"
DIGEST = "ab" * 32


def _entry_xml(link: str, version: str = "1.0", digest: str = DIGEST) -> bytes:
    return (
        '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:c="http://www.cisco.com/cpm/update/1.0">'
        f"<entry>{link}<c:version>{version}</c:version><c:sha256>{digest}</c:sha256></entry>"
        "</feed>"
    ).encode()


@pytest.mark.parametrize(
    ("href", "expected"),
    [
        ("feed.zip", "https://feeds.example.net/posture/feed.zip"),
        ("../pkg/feed.zip", "https://feeds.example.net/pkg/feed.zip"),
        ("/abs/feed.zip", "https://feeds.example.net/abs/feed.zip"),
        ("https://cdn.example.org/f.zip", "https://cdn.example.org/f.zip"),
    ],
)
def test_enclosure_href_resolves_against_the_document_url(href: str, expected: str) -> None:
    """A relative enclosure href resolves against the URL the index was fetched from."""
    body = _entry_xml(f'<link rel="enclosure" type="application/zip" href="{href}" length="9"/>')
    document = parse_index(body, BASE)
    assert document.packages == (PackageRef(expected, "1.0", DIGEST, 9, BASE),)


def test_newest_entry_wins_by_version_not_text() -> None:
    """Of several entries, the highest version is chosen (2026.10 > 2026.9 as versions)."""
    body = atom_index(
        [Entry("a.zip", "2026.9", DIGEST, 1), Entry("b.zip", "2026.10", "cd" * 32, 2)]
    )
    newest = parse_index(body, BASE).newest()
    assert newest is not None
    assert (newest.version, newest.url) == ("2026.10", "https://feeds.example.net/posture/b.zip")


@pytest.mark.parametrize(
    ("offered", "prereleases", "chosen", "skipped"),
    [
        (("2026.12.01", "2027.1.0rc1"), False, "2026.12.01", "2027.1.0rc1"),
        (("2026.12.01", "2027.1.0rc1"), True, "2027.1.0rc1", None),
        (("2026.12.01", "2027.1.0b2", "2027.1.0rc1"), False, "2026.12.01", "2027.1.0rc1"),
        (("2026.12.01", "2027.1.0.dev3"), False, "2026.12.01", "2027.1.0.dev3"),
        (("2027.1.0rc1", "2027.1.0"), False, "2027.1.0", None),
        (("2026.12.01rc1", "2026.12.01", "2027.1.0a1"), True, "2027.1.0a1", None),
        # PEP 440: pre-releases are taken when they are the only candidates.
        (("2027.1.0rc1", "2027.1.0rc2"), False, "2027.1.0rc2", None),
        # A post-release is not a pre-release.
        (("2026.12.01", "2026.12.01.post1"), False, "2026.12.01.post1", None),
    ],
)
def test_pre_releases_are_skipped_unless_asked_for(
    offered: tuple[str, ...], prereleases: bool, chosen: str, skipped: str | None
) -> None:
    """Pre-releases (a, b, rc, .dev) are passed over unless asked for or the only offer,
    as PEP 440's "Handling of pre-releases" says; the newest one passed over is named."""
    entries = [Entry(f"{v}.zip", v, f"{n:064x}", 1) for n, v in enumerate(offered)]
    document = parse_index(atom_index(entries), BASE)
    newest = document.newest(prereleases=prereleases)
    assert newest is not None
    assert newest.version == chosen
    passed_over = None if prereleases else document.skipped_prerelease(newest)
    assert (passed_over.version if passed_over else None) == skipped


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        ('<link rel="alternate" href="next.xml"/>', "https://feeds.example.net/posture/next.xml"),
        ('<link href="next.xml"/>', "https://feeds.example.net/posture/next.xml"),
        ('<link rel="self" href="me.xml"/>', None),
    ],
)
def test_feed_level_alternate_links(link: str, expected: str | None) -> None:
    """rel="alternate", or no rel at all (RFC 4287), is an alternate link; other rels are not."""
    body = f'<feed xmlns="http://www.w3.org/2005/Atom">{link}</feed>'.encode()
    document = parse_index(body, BASE)
    assert document.alternates == ((expected,) if expected else ())
    assert document.packages == ()


def test_entry_alternate_links_are_followed_when_no_package_is_offered() -> None:
    """An entry without an enclosure contributes its alternate link (the vendor's layout)."""
    body = (
        b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><title>t</title>'
        b'<link rel="alternate" href="https://example.org/real.xml"/></entry></feed>'
    )
    assert parse_index(body, BASE).alternates == ("https://example.org/real.xml",)


@pytest.mark.parametrize(
    ("body", "error", "words"),
    [
        (b"<not-closed", ParseError, "well-formed"),
        (
            b'<?xml version="1.0"?><!DOCTYPE f [<!ENTITY a "x">]>'
            b'<feed xmlns="http://www.w3.org/2005/Atom">&a;</feed>',
            ParseError,
            "safe XML",
        ),
        (b"<rss/>", SchemaError, "not an Atom feed"),
        (
            _entry_xml('<link rel="enclosure" href="http://plain.example/f.zip"/>'),
            InputRejected,
            "not an https:// URL",
        ),
        (_entry_xml('<link rel="enclosure" href=""/>'), SchemaError, "no href"),
        (_entry_xml('<link rel="enclosure" href="f.zip"/>', version="x y"), SchemaError, "version"),
        (  # past CPython's int conversion limit: packaging raises a plain ValueError for it
            _entry_xml('<link rel="enclosure" href="f.zip"/>', version="1." + "9" * 5000),
            SchemaError,
            r"cpm:version '1\.999.*\.\.\. \(5002 characters\) is not a version",
        ),
        (_entry_xml('<link rel="enclosure" href="f.zip"/>', digest="12"), SchemaError, "sha256"),
        (
            _entry_xml('<link rel="enclosure" href="f.zip" length="-5"/>'),
            SchemaError,
            "length",
        ),
        (
            _entry_xml('<link rel="enclosure" href="a.zip"/><link rel="enclosure" href="b.zip"/>'),
            SchemaError,
            "more than one",
        ),
        (
            b'<feed xmlns="http://www.w3.org/2005/Atom"><link href="http://x.example/i"/></feed>',
            InputRejected,
            "not an https:// URL",
        ),
    ],
)
def test_bad_index_documents_are_rejected(body: bytes, error: type[Exception], words: str) -> None:
    """Malformed, unsafe, non-Atom or incomplete index documents raise a precise error."""
    with pytest.raises(error, match=words):
        parse_index(body, BASE)


def test_same_version_with_two_digests_is_ambiguous() -> None:
    """Two entries announcing one version with different sha256 values are refused."""
    body = atom_index([Entry("a.zip", "1.0", DIGEST, 1), Entry("b.zip", "1.0", "cd" * 32, 1)])
    with pytest.raises(SchemaError, match="different sha256"):
        parse_index(body, BASE)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400) | st.text(max_size=300).map(str.encode))
def test_parse_index_raises_only_its_documented_errors(body: bytes) -> None:
    """No input makes the index parser raise anything but InputRejected."""
    with contextlib.suppress(InputRejected):
        parse_index(body, BASE)


@settings(max_examples=100, deadline=None)
@given(
    href=st.text(max_size=40),
    version=st.text(max_size=20),
    length=st.text(max_size=10),
)
def test_parse_index_with_hostile_attribute_values(href: str, version: str, length: str) -> None:
    """Odd hrefs, versions and lengths inside a well-formed index give only InputRejected."""
    from xml.sax.saxutils import escape, quoteattr

    clean = [("".join(ch for ch in s if ch.isprintable())) for s in (href, version, length)]
    body = _entry_xml(
        f'<link rel="enclosure" href={quoteattr(clean[0])} length={quoteattr(clean[2])}/>',
        version=escape(clean[1]),
    )
    with contextlib.suppress(InputRejected):
        parse_index(body, BASE)
