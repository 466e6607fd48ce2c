"""``manifest.json`` as an ingest reads it, without importing pydantic.

The schema of record is ``feedmgr.feed.manifest.Manifest`` (pydantic). msgspec only ever
*accepts* here: a manifest it does not certainly accept is parsed by the pydantic model,
which names the problem or accepts it after all (msgspec refuses a few manifests pydantic
takes, such as a key given twice whose first value is invalid). Either way the ingest gets a
``ManifestView`` with the same values; ``tests/feed/test_manifest_fast.py`` holds msgspec to
accepting nothing pydantic refuses. pydantic is then imported only to explain a refusal
(it costs about 100 ms of a 2-core machine's CPU).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Final, Literal

import msgspec

from feedmgr.pep440 import is_pep440

if TYPE_CHECKING:
    from packaging.version import Version

MANIFEST_NAME: Final = "manifest.json"
SIGNATURE_NAME: Final = "manifest.sig"
FORMAT: Final = "feedmgr-posture-feed/1"

# fullmatch, not pydantic's pattern with ``$``: Python's ``$`` also matches before a final
# newline, which the schema refuses.
_SHA256 = re.compile(r"[0-9a-f]{64}")
_RFC3339_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z")


class FileView(msgspec.Struct, forbid_unknown_fields=True, frozen=True, gc=False):
    """Digest and size of one payload file (``feedmgr.feed.manifest.FileEntry``)."""

    sha256: str
    size: Annotated[int, msgspec.Meta(ge=0)]


class ManifestView(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """A valid manifest's values (``feedmgr.feed.manifest.Manifest``, field for field)."""

    format: Literal["feedmgr-posture-feed/1"]
    version: str
    published: str
    expires: str
    publisher: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    files: dict[str, FileView]

    @property
    def parsed_version(self) -> Version:
        """The version as a packaging Version, for ordering."""
        from packaging.version import Version

        return Version(self.version)

    @property
    def published_at(self) -> datetime:
        """``published`` as an aware datetime."""
        return datetime.fromisoformat(self.published).astimezone(UTC)

    @property
    def expires_at(self) -> datetime:
        """``expires`` as an aware datetime."""
        return datetime.fromisoformat(self.expires).astimezone(UTC)


_DECODER = msgspec.json.Decoder(ManifestView)


def _timestamp_valid(value: str) -> bool:
    if not _RFC3339_UTC.fullmatch(value):
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def accepted_manifest(data: bytes) -> ManifestView | None:
    """The manifest when ``data`` is certainly valid; None when pydantic has to decide."""
    try:
        manifest = _DECODER.decode(data)
    except (msgspec.DecodeError, RecursionError):
        return None
    if not (
        is_pep440(manifest.version)
        and manifest.files
        and _timestamp_valid(manifest.published)
        and _timestamp_valid(manifest.expires)
        and all(_SHA256.fullmatch(entry.sha256) for entry in manifest.files.values())
    ):
        return None
    return manifest


def parse_manifest(data: bytes, subject: str) -> ManifestView:
    """Parse and validate manifest bytes.

    Raises:
        SchemaError: when the bytes are not JSON or do not follow the manifest schema.
    """
    manifest = accepted_manifest(data)
    if manifest is not None:
        return manifest
    from feedmgr.feed import manifest as schema

    model = schema.parse_manifest(data, subject)
    return ManifestView(
        format=model.format,
        version=model.version,
        published=model.published,
        expires=model.expires,
        publisher=model.publisher,
        files={
            name: FileView(sha256=entry.sha256, size=entry.size)
            for name, entry in model.files.items()
        },
    )
