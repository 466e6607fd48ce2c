"""The Atom feed index: parse documents and follow them to the newest package.

docs/online-updates.md ("The feed index") describes the format. The index is Atom (RFC
4287), parsed with defusedxml. A document without package entries is followed through its
``alternate`` link, at most ``max_hops`` times, never in a loop. Package entries carry
``<link rel="enclosure">`` plus ``cpm:version`` and ``cpm:sha256`` in the
``http://www.cisco.com/cpm/update/1.0`` namespace. Index documents are fetched conditionally
(ETag / Last-Modified, RFC 9110 section 13); the caller stores the new validators only when
the whole operation succeeded.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urljoin
from xml.etree.ElementTree import Element
from xml.etree.ElementTree import ParseError as XmlParseError

from defusedxml import ElementTree as SafeElementTree
from defusedxml.common import DefusedXmlException
from packaging.version import Version

from feedmgr.errors import InputRejected, ParseError, SchemaError, UsageError
from feedmgr.net.transport import HttpsClient
from feedmgr.net.urls import check_https_url, redact_url
from feedmgr.pep440 import is_pep440, shown

ATOM_NS = "http://www.w3.org/2005/Atom"
UPDATE_NS = "http://www.cisco.com/cpm/update/1.0"
PACKAGE_TYPE = "application/zip"
MAX_INDEX_BYTES = 4 * 1024 * 1024
MAX_ALTERNATE_HOPS = 5
INDEX_ACCEPT = "application/atom+xml, application/xml;q=0.9, */*;q=0.1"

_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")

CacheLookup = Callable[[str], tuple[str | None, str | None, bytes] | None]


def _atom(name: str) -> str:
    return f"{{{ATOM_NS}}}{name}"


def _cpm(name: str) -> str:
    return f"{{{UPDATE_NS}}}{name}"


@dataclass(frozen=True)
class PackageRef:
    """A feed package announced by the index."""

    url: str
    version: str
    sha256: str
    length: int | None
    index_url: str

    @property
    def parsed_version(self) -> Version:
        """The announced version, for ordering."""
        return Version(self.version)


@dataclass(frozen=True)
class IndexDocument:
    """What one Atom document offers: package entries and alternate links (resolved)."""

    packages: tuple[PackageRef, ...]
    alternates: tuple[str, ...]

    def newest(self, *, prereleases: bool = False) -> PackageRef | None:
        """The package with the highest version, None when there is none.

        Pre-releases (``rc``, ``b``, ``a``, ``.dev``) count only when ``prereleases`` is set
        or when the document offers nothing else (PEP 440, "Handling of pre-releases").
        """
        finals = [p for p in self.packages if not p.parsed_version.is_prerelease]
        candidates = self.packages if prereleases or not finals else finals
        return max(candidates, key=lambda p: p.parsed_version, default=None)

    def skipped_prerelease(self, chosen: PackageRef) -> PackageRef | None:
        """The newest pre-release newer than ``chosen``, which ``newest`` passed over."""
        newer = [
            p
            for p in self.packages
            if p.parsed_version.is_prerelease and p.parsed_version > chosen.parsed_version
        ]
        return max(newer, key=lambda p: p.parsed_version, default=None)


def _resolve(base: str, href: str | None, subject: str, what: str) -> str:
    if href is None or not href.strip():
        raise SchemaError(subject, f"{what} has no href")
    target = urljoin(base, href.strip())
    try:
        check_https_url(target, subject)
    except UsageError as exc:
        credentials = exc.details.get("reason") == "credentials"
        why = "carries credentials" if credentials else "is not an https:// URL"
        raise InputRejected(
            subject, f"{what} points to {redact_url(target)!r}, which {why}; refusing it"
        ) from None
    return target


def _rel(link: Element) -> str:
    # RFC 4287 section 4.2.7.2: a link without rel is an alternate link.
    return (link.get("rel") or "alternate").strip()


def _text(entry: Element, name: str) -> str | None:
    node = entry.find(_cpm(name))
    if node is None or node.text is None:
        return None
    return node.text.strip()


def _entry_name(entry: Element, number: int) -> str:
    node = entry.find(_atom("id"))
    if node is not None and node.text and node.text.strip():
        return f"entry {node.text.strip()!r}"
    return f"entry #{number}"


def _package(entry: Element, enclosure: Element, url: str, name: str) -> PackageRef:
    target = _resolve(url, enclosure.get("href"), url, f"{name}: the enclosure")
    version = _text(entry, "version")
    if not version:
        raise SchemaError(url, f"{name}: no cpm:version ({{{UPDATE_NS}}}version)")
    if not is_pep440(version):
        raise SchemaError(url, f"{name}: cpm:version {shown(version)} is not a version")
    digest = _text(entry, "sha256")
    if not digest or not _SHA256.match(digest):
        raise SchemaError(url, f"{name}: cpm:sha256 must be 64 hexadecimal digits")
    length_text = enclosure.get("length")
    length = None
    if length_text is not None and length_text.strip():
        cleaned = length_text.strip()
        if not cleaned.isascii() or not cleaned.isdigit():
            raise SchemaError(url, f"{name}: enclosure length {length_text!r} is not a number")
        length = int(cleaned)
    return PackageRef(target, version, digest.lower(), length, url)


def parse_index(body: bytes, url: str) -> IndexDocument:
    """Parse one Atom index document fetched from ``url`` (relative links resolve against it).

    Raises:
        ParseError: not well-formed XML, or XML with a DTD or entities (refused by defusedxml).
        SchemaError: not an Atom feed, or a package entry without a valid version/sha256.
        InputRejected: a link that is not https://.
    """
    try:
        root = SafeElementTree.fromstring(body, forbid_dtd=True)
    except (XmlParseError, DefusedXmlException, ValueError, LookupError) as exc:
        raise ParseError(url, f"the index is not well-formed, safe XML ({exc})") from exc
    if root.tag != _atom("feed"):
        raise SchemaError(url, f"not an Atom feed (root element {root.tag!r})")
    alternates = [
        _resolve(url, link.get("href"), url, "an alternate link")
        for link in root.findall(_atom("link"))
        if _rel(link) == "alternate"
    ]
    packages: list[PackageRef] = []
    for number, entry in enumerate(root.findall(_atom("entry")), start=1):
        name = _entry_name(entry, number)
        links = entry.findall(_atom("link"))
        enclosures = [
            link
            for link in links
            if _rel(link) == "enclosure"
            and (link.get("type") or PACKAGE_TYPE).strip().lower() == PACKAGE_TYPE
        ]
        if len(enclosures) > 1:
            raise SchemaError(url, f"{name}: more than one application/zip enclosure")
        if enclosures:
            packages.append(_package(entry, enclosures[0], url, name))
        else:
            alternates += [
                _resolve(url, link.get("href"), url, f"{name}: the alternate link")
                for link in links
                if _rel(link) == "alternate"
            ]
    by_version: dict[Version, PackageRef] = {}
    for package in packages:
        other = by_version.setdefault(package.parsed_version, package)
        if other.sha256 != package.sha256:
            raise SchemaError(
                url, f"two entries announce version {package.version} with different sha256"
            )
    return IndexDocument(tuple(packages), tuple(alternates))


@dataclass(frozen=True)
class CachedDocument:
    """A fetched index document and its validators, to remember for conditional GETs."""

    url: str
    etag: str | None
    last_modified: str | None
    body: bytes


@dataclass(frozen=True)
class IndexResult:
    """The newest package of an index, and how it was found."""

    package: PackageRef
    documents: tuple[str, ...]
    not_modified: tuple[str, ...]
    cache_updates: tuple[CachedDocument, ...]
    # A newer pre-release the index offers, passed over because pre-releases were not asked.
    skipped_prerelease: PackageRef | None = None


def _no_cache(url: str) -> None:
    del url


def fetch_document(
    client: HttpsClient, url: str, cache: CacheLookup, max_bytes: int = MAX_INDEX_BYTES
) -> tuple[str, bytes, CachedDocument | None]:
    """Fetch one index document conditionally; return (final URL, body, cache update).

    The cache update is None when the server answered 304 (the cached body is returned)
    or sent no validators.

    Raises:
        NetworkError: as for ``HttpsClient.get``.
        InputRejected: the document is larger than ``max_bytes``.
    """
    cached = cache(url)
    etag, last_modified = (cached[0], cached[1]) if cached is not None else (None, None)
    document = client.get(
        url,
        max_bytes=max_bytes,
        accept=INDEX_ACCEPT,
        etag=etag,
        last_modified=last_modified,
        what="the index",
    )
    if document.not_modified and cached is not None:
        return document.final_url, cached[2], None
    update = (
        CachedDocument(url, document.etag, document.last_modified, document.body)
        if document.etag or document.last_modified
        else None
    )
    return document.final_url, document.body, update


def resolve_index(
    client: HttpsClient,
    url: str,
    cache: CacheLookup | None = None,
    *,
    max_hops: int = MAX_ALTERNATE_HOPS,
    max_bytes: int = MAX_INDEX_BYTES,
    prereleases: bool = False,
) -> IndexResult:
    """Follow the index from ``url`` to its newest package (pre-releases only with
    ``prereleases``, or when nothing else is offered: ``IndexDocument.newest``).

    Raises:
        NetworkError: a document cannot be fetched.
        InputRejected: a document is invalid, the alternate links loop or go deeper than
            ``max_hops``, or no document offers a package.
    """
    lookup: CacheLookup = cache or _no_cache
    visited: list[str] = []
    not_modified: list[str] = []
    updates: list[CachedDocument] = []
    current = url
    for _ in range(max_hops + 1):
        if current in visited:
            raise InputRejected(
                url,
                f"alternate links form a loop ({' -> '.join([*visited, current])})",
                reason="alternate-loop",
            )
        final_url, body, update = fetch_document(client, current, lookup, max_bytes)
        visited.append(current)
        if final_url != current and final_url in visited:
            raise InputRejected(
                url,
                f"alternate links form a loop ({' -> '.join([*visited, final_url])})",
                reason="alternate-loop",
            )
        if update is None:
            if lookup(current) is not None:
                not_modified.append(current)
        else:
            updates.append(update)
        document = parse_index(body, final_url)
        newest = document.newest(prereleases=prereleases)
        if newest is not None:
            return IndexResult(
                newest,
                tuple(visited),
                tuple(not_modified),
                tuple(updates),
                None if prereleases else document.skipped_prerelease(newest),
            )
        if not document.alternates:
            raise SchemaError(
                final_url, "no package entry (enclosure) and no alternate link to follow"
            )
        current = document.alternates[0]
    raise InputRejected(
        url,
        f"more than {max_hops} alternate links to follow; giving up",
        reason="too-many-hops",
    )
