"""The HTML report in a real headless Chromium: it loads offline and the heatmap renders."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from feedmgr.findings import Severity
from feedmgr.render.html import CertificateRow, HtmlSections, TimelinePoint, render_html
from tests.conftest import REPO
from tests.render.browser import chromium, find_chromium, has_colour, png_pixels
from tests.render.test_html import COVERAGE, _report

ARTIFACTS = REPO / "artifacts"
GAP_RED = (0xFE, 0xCD, 0xCA)
MATCH_GREEN = (0xD1, 0xFA, 0xDF)
BANNER_RED = (0xB4, 0x23, 0x18)

BROWSER = find_chromium()
pytestmark = pytest.mark.skipif(
    BROWSER is None,
    reason="headless Chromium not installed (apt install chromium); .ci/run installs it",
)


@pytest.fixture
def report_file(tmp_path: Path) -> Path:
    """A report with every section, written to disk."""
    html = render_html(
        _report(),
        HtmlSections(
            coverage=COVERAGE,
            timeline=[
                TimelinePoint("macOS 15.7", date(2025, 9, 15), True),
                TimelinePoint("macOS 26.2", date(2025, 12, 12), False),
            ],
            certificates=[
                CertificateRow(
                    "psn1:8443", "psn1.example.com", "2027-01-01", Severity.WARN, ("cert.expiring",)
                )
            ],
        ),
    )
    path = tmp_path / "report.html"
    path.write_text(html, encoding="utf-8")
    return path


def test_report_dom_renders_every_section(report_file: Path, tmp_path: Path) -> None:
    """Chromium parses the file and the DOM holds every section and the heatmap cells."""
    assert BROWSER is not None
    dom = chromium(BROWSER, tmp_path / "profile", "--dump-dom", report_file.as_uri()).stdout
    for section in ("summary", "coverage", "timeline", "certificates", "findings"):
        assert f'id="{section}"' in dom
    assert dom.count('data-outcome="os-unknown"') == 2
    assert "Mac-Emp [12]" in dom


def test_report_screenshot_shows_the_heatmap_colours(report_file: Path, tmp_path: Path) -> None:
    """The screenshot (kept in artifacts/) shows the red banner, red gaps and green matches."""
    assert BROWSER is not None
    shot = tmp_path / "report.png"
    chromium(
        BROWSER,
        tmp_path / "profile",
        f"--screenshot={shot}",
        "--window-size=1280,1400",
        report_file.as_uri(),
    )
    _width, _height, rows = png_pixels(shot)
    assert has_colour(rows, BANNER_RED)
    assert has_colour(rows, GAP_RED)
    assert has_colour(rows, MATCH_GREEN)
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(shot, ARTIFACTS / "html-report.png")
