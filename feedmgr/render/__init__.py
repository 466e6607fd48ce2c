"""Renderers turn a Report into text; the CLI decides where the text goes."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import assert_never

from feedmgr.findings import Report

ReportRenderer = Callable[[Report], str]


class OutputFormat(StrEnum):
    """The ``--format`` values every reporting command accepts."""

    TEXT = "text"
    JSON = "json"

    def to_renderer(self) -> ReportRenderer:
        """The renderer function for this format."""
        if self is OutputFormat.TEXT:
            from feedmgr.render.text import render_report as render_text

            return render_text
        if self is OutputFormat.JSON:
            from feedmgr.render.json import render_report as render_json

            return render_json
        assert_never(self)
