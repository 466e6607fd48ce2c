"""``manifest.json``: what a feed package holds, signed by its publisher."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Literal

from packaging.version import Version
from pydantic import Field, ValidationError, field_validator

from feedmgr.errors import SchemaError
from feedmgr.feed._model import EdgeModel, Rfc3339Utc, VersionText, parse_utc
from feedmgr.textio import without_bom


class FileEntry(EdgeModel):
    """Digest and size of one payload file."""

    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    size: Annotated[int, Field(ge=0)]


class Manifest(EdgeModel):
    """The signed description of a feed package (docs/feed-format.md)."""

    format: Literal["feedmgr-posture-feed/1"]
    version: VersionText
    published: Rfc3339Utc
    expires: Rfc3339Utc
    publisher: Annotated[str, Field(min_length=1, max_length=200)]
    files: dict[str, FileEntry]

    @field_validator("files")
    @classmethod
    def _files_not_empty(cls, files: dict[str, FileEntry]) -> dict[str, FileEntry]:
        if not files:
            raise ValueError("a feed must list at least one payload file")
        return files

    @property
    def parsed_version(self) -> Version:
        """The version as a packaging Version, for ordering."""
        return Version(self.version)

    @property
    def published_at(self) -> datetime:
        """``published`` as an aware datetime."""
        return parse_utc(self.published)

    @property
    def expires_at(self) -> datetime:
        """``expires`` as an aware datetime."""
        return parse_utc(self.expires)

    def to_bytes(self) -> bytes:
        """Canonical serialisation used by the builder (sorted keys, two-space indent)."""
        return (json.dumps(self.model_dump(), indent=2, sort_keys=True) + "\n").encode()


def describe_validation_error(exc: ValidationError) -> str:
    """First error of a pydantic ValidationError as ``field.path: message``."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "(document)"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    message = str(first["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}{more}"


def parse_manifest(data: bytes, subject: str) -> Manifest:
    """Parse and validate manifest bytes (the schema of record; an ingest reads manifests
    with ``feedmgr.feed.manifest_fast.parse_manifest``, which defers to this on any doubt).

    Raises:
        SchemaError: when the bytes are not JSON or do not follow the manifest schema.
    """
    try:
        document = json.loads(without_bom(data))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SchemaError(subject, f"manifest.json is not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise SchemaError(subject, "manifest.json must be a JSON object")
    try:
        return Manifest.model_validate(document)
    except ValidationError as exc:
        raise SchemaError(subject, f"manifest.json: {describe_validation_error(exc)}") from exc
