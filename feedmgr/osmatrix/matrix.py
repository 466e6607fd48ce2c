"""The supported-OS matrix of a feed: one row per OS node, in tree order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from feedmgr.escape import join_lines
from feedmgr.osmatrix.classify import OsTree
from feedmgr.render.text import aligned

if TYPE_CHECKING:
    from feedmgr.feed.payload import OsCatalog

MATRIX_SCHEMA = "feedmgr-os-matrix/1"


@dataclass(frozen=True)
class MatrixRow:
    """One OS node as the matrix shows it.

    ``min_version``/``max_version`` are the node's own range; for umbrella nodes they are
    None and ``span`` shows what the children cover ("11.0 - 26.1").
    """

    name: str
    family: str
    parent: str | None
    depth: int
    codename: str | None
    min_version: str | None
    max_version: str | None
    span: str | None
    released: date | None
    min_agent_version: str | None
    min_compliance_module_version: str | None

    @property
    def range_text(self) -> str:
        """ "15.0 - 15.7.2", or "(11.0 - 26.1 via children)" for umbrella nodes."""
        if self.min_version is not None:
            return f"{self.min_version} - {self.max_version}"
        if self.span:
            return f"({self.span} via children)"
        return "(none)"

    def to_json(self) -> dict[str, Any]:
        """The documented JSON shape of a matrix row."""
        return {
            "name": self.name,
            "family": self.family,
            "parent": self.parent,
            "depth": self.depth,
            "codename": self.codename,
            "min_version": self.min_version,
            "max_version": self.max_version,
            "covers": self.span,
            "released": self.released.isoformat() if self.released else None,
            "min_agent_version": self.min_agent_version,
            "min_compliance_module_version": self.min_compliance_module_version,
        }


def supported_matrix(catalog: OsCatalog, family: str | None = None) -> tuple[MatrixRow, ...]:
    """The matrix rows of a catalog, optionally for one family, in tree order."""
    tree = OsTree(catalog)
    rows: list[MatrixRow] = []
    for node in tree.ordered:
        if family is not None and node.family != family:
            continue
        span = tree.effective_range(node.name)
        rows.append(
            MatrixRow(
                name=node.name,
                family=node.family,
                parent=node.parent,
                depth=tree.depth(node.name),
                codename=node.codename,
                min_version=node.min_version,
                max_version=node.max_version,
                span=str(span) if span is not None else None,
                released=node.released,
                min_agent_version=node.min_agent_version,
                min_compliance_module_version=node.min_compliance_module_version,
            )
        )
    return tuple(rows)


def render_matrix_text(rows: tuple[MatrixRow, ...], title: str) -> str:
    """An aligned plain-text table of the matrix (names indented by tree depth)."""
    header = ("OS node", "parent", "versions", "min agent", "min compliance", "released")
    body = [
        (
            "  " * row.depth + row.name + (f" ({row.codename})" if row.codename else ""),
            row.parent or "-",
            row.range_text,
            row.min_agent_version or "-",
            row.min_compliance_module_version or "-",
            row.released.isoformat() if row.released else "-",
        )
        for row in rows
    ]
    lines = [title, "", *aligned((header, *body))]
    if not body:
        lines.append("(no OS nodes)")
    return join_lines(lines)
