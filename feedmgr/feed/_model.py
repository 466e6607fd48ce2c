"""Shared pydantic building blocks for the documents inside a feed package."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict

from feedmgr.pep440 import is_pep440, shown


class EdgeModel(BaseModel):
    """Base for documents read from files or the network: strict, closed and frozen."""

    # Values stay out of pydantic-core's string cache: cached strings outlive the document
    # and pin the memory its models used (15 of 20 MB after a 2 MiB AV chart), which the
    # next member of an ingest then needs on top.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, cache_strings="keys")


def _pep440(value: str) -> str:
    if not is_pep440(value):
        raise ValueError(f"{shown(value)} is not a PEP 440 version")
    return value


VersionText = Annotated[str, AfterValidator(_pep440)]
"""A version string that packaging can parse; compared as a Version, never as text."""

_RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")


def _rfc3339_utc(value: str) -> str:
    if not _RFC3339_UTC.match(value):
        raise ValueError(f"{value!r} is not an RFC 3339 UTC timestamp like 2026-01-31T00:00:00Z")
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a valid date and time") from None
    return value


Rfc3339Utc = Annotated[str, AfterValidator(_rfc3339_utc)]
"""An RFC 3339 timestamp in UTC with the ``Z`` suffix, kept as text for exact round trips."""


def parse_utc(value: str) -> datetime:
    """Turn an ``Rfc3339Utc`` string into an aware datetime."""
    return datetime.fromisoformat(value).astimezone(UTC)


def format_utc(moment: datetime) -> str:
    """Format an aware datetime the way feed documents write it."""
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
