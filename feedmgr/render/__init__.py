"""Renderers turn a Report into text; the CLI decides where the text goes."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import assert_never

from feedmgr.findings import Report

ReportRenderer = Callable[[Report], str]


class OutputFormat(StrEnum):
    """Report formats: every reporting command takes text and json; preflight all four."""

    TEXT = "text"
    JSON = "json"
    JUNIT = "junit"
    HTML = "html"

    def to_renderer(self) -> ReportRenderer:
        """The renderer function for this format."""
        if self is OutputFormat.TEXT:
            from feedmgr.render.text import render_report as render_text

            return render_text
        if self is OutputFormat.JSON:
            from feedmgr.render.json import render_report as render_json

            return render_json
        if self is OutputFormat.JUNIT:
            from feedmgr.render.junit import render_report as render_junit

            return render_junit
        if self is OutputFormat.HTML:
            from feedmgr.render.html import render_report as render_html

            return render_html
        assert_never(self)
