"""``manifest.json``: what a feed package holds, signed by its publisher."""

from __future__ import annotations

import difflib
import json
from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from packaging.version import Version
from pydantic import BaseModel, Field, ValidationError, field_validator
from pydantic_core import ErrorDetails

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


def first_error(exc: ValidationError) -> ErrorDetails:
    """The error to show of a pydantic ValidationError: an unknown key before any other,
    because a misspelt key also leaves the key it meant missing, and only the unknown one
    names the typo; else pydantic's first."""
    errors = exc.errors()
    return next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model an annotation holds (``X``, ``X | None``, ``list[X]``...)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in get_args(annotation):
        found = _model_in(argument)
        if found is not None:
            return found
    return None


def _model_at(model: type[BaseModel], path: tuple[int | str, ...]) -> type[BaseModel] | None:
    current = model
    for part in path:
        if isinstance(part, int):
            continue
        fields = {f.alias or name: f for name, f in current.model_fields.items()}
        field = fields.get(part)
        found = _model_in(field.annotation) if field is not None else None
        if found is None:
            return None
        current = found
    return current


def unknown_key_hint(
    exc: ValidationError, error: ErrorDetails, model: type[BaseModel] | None = None
) -> str:
    """`` (did you mean 'KEY'?)`` for an unknown-key error whose key is close to a known one:
    a key of ``model`` at that place (as the file spells it: aliases), or a required key
    missing beside it; else ``""``."""
    location = tuple(error["loc"])
    if error["type"] != "extra_forbidden" or not location or not isinstance(location[-1], str):
        return ""
    parent = location[:-1]
    known = {
        str(e["loc"][-1])
        for e in exc.errors()
        if e["type"] == "missing" and tuple(e["loc"][:-1]) == parent
    }
    place = _model_at(model, parent) if model is not None else None
    if place is not None:
        known |= {f.alias or name for name, f in place.model_fields.items()}
    close = difflib.get_close_matches(location[-1], sorted(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def describe_validation_error(exc: ValidationError, model: type[BaseModel] | None = None) -> str:
    """The telling error of a pydantic ValidationError (``first_error``) as ``field.path:
    message``, with ``unknown_key_hint`` (``model``: the validated model, for its keys)."""
    first = first_error(exc)
    where = ".".join(str(part) for part in first["loc"]) or "(document)"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    message = str(first["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}{unknown_key_hint(exc, first, model)}{more}"


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
