"""Compare two feeds: OS nodes added, removed or changed, module minimums changed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from feedmgr.escape import join_lines

if TYPE_CHECKING:
    from feedmgr.feed.payload import ComplianceModules, OsCatalog, OsNode

DIFF_SCHEMA = "feedmgr-feed-diff/1"
NODE_FIELDS = (
    "family",
    "parent",
    "codename",
    "min_version",
    "max_version",
    "released",
    "min_agent_version",
    "min_compliance_module_version",
)
MINIMUM_FIELDS = frozenset({"min_agent_version", "min_compliance_module_version"})


@dataclass(frozen=True)
class FieldChange:
    """One field of one node that differs."""

    field: str
    old: str | None
    new: str | None


@dataclass(frozen=True)
class NodeChange:
    """A node present in both feeds with different fields."""

    name: str
    changes: tuple[FieldChange, ...]

    @property
    def minimums_changed(self) -> bool:
        """True when the agent or compliance-module minimum changed."""
        return any(c.field in MINIMUM_FIELDS for c in self.changes)


@dataclass(frozen=True)
class ModuleChange:
    """A compliance-module release added to or removed from the feed."""

    platform: str
    version: str
    change: str  # "added" or "removed"


@dataclass(frozen=True)
class FeedDiff:
    """What changed between two feeds; empty tuples mean no difference of that kind."""

    old_label: str
    new_label: str
    added: tuple[OsNode, ...]
    removed: tuple[OsNode, ...]
    changed: tuple[NodeChange, ...]
    modules: tuple[ModuleChange, ...]

    @property
    def empty(self) -> bool:
        """True when the feeds do not differ in OS nodes or modules."""
        return not (self.added or self.removed or self.changed or self.modules)

    def to_json(self) -> dict[str, Any]:
        """The documented JSON document of ``feedmgr feed diff --format json``."""
        return {
            "schema": DIFF_SCHEMA,
            "old": self.old_label,
            "new": self.new_label,
            "identical": self.empty,
            "nodes_added": [n.model_dump(mode="json", exclude_none=True) for n in self.added],
            "nodes_removed": [n.model_dump(mode="json", exclude_none=True) for n in self.removed],
            "nodes_changed": [
                {
                    "name": c.name,
                    "minimums_changed": c.minimums_changed,
                    "changes": [{"field": f.field, "old": f.old, "new": f.new} for f in c.changes],
                }
                for c in self.changed
            ],
            "compliance_modules": [
                {"platform": m.platform, "version": m.version, "change": m.change}
                for m in self.modules
            ],
        }

    def render_text(self) -> str:
        """A readable summary, one line per difference."""
        lines = [f"feed diff {self.old_label} -> {self.new_label}"]
        if self.empty:
            lines.append("  no differences in OS nodes or compliance modules")
            return join_lines(lines)
        for node in self.added:
            lines.append(f"  + {node.name}  {_range(node)}")
        for node in self.removed:
            lines.append(f"  - {node.name}  {_range(node)}")
        for change in self.changed:
            lines.append(f"  ~ {change.name}")
            for f in change.changes:
                flag = "  (minimum)" if f.field in MINIMUM_FIELDS else ""
                lines.append(f"      {f.field}: {f.old or '-'} -> {f.new or '-'}{flag}")
        for module in self.modules:
            sign = "+" if module.change == "added" else "-"
            lines.append(f"  {sign} compliance module {module.platform} {module.version}")
        counts = (
            f"{len(self.added)} added, {len(self.removed)} removed, "
            f"{len(self.changed)} changed, {len(self.modules)} module changes"
        )
        lines.extend(["", counts])
        return join_lines(lines)


def _range(node: OsNode) -> str:
    if node.min_version is None:
        return "(umbrella)"
    return f"{node.min_version} - {node.max_version}"


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def diff_feeds(
    old: OsCatalog,
    new: OsCatalog,
    *,
    old_modules: ComplianceModules | None = None,
    new_modules: ComplianceModules | None = None,
    old_label: str = "old",
    new_label: str = "new",
) -> FeedDiff:
    """Compare two catalogs (and their compliance-module lists), matching nodes by name."""
    old_nodes = {n.name: n for n in old.nodes}
    new_nodes = {n.name: n for n in new.nodes}
    added = tuple(n for n in new.nodes if n.name not in old_nodes)
    removed = tuple(n for n in old.nodes if n.name not in new_nodes)
    changed: list[NodeChange] = []
    for node in new.nodes:
        before = old_nodes.get(node.name)
        if before is None:
            continue
        fields = tuple(
            FieldChange(name, _text(getattr(before, name)), _text(getattr(node, name)))
            for name in NODE_FIELDS
            if getattr(before, name) != getattr(node, name)
        )
        if fields:
            changed.append(NodeChange(node.name, fields))
    old_set = {(m.platform, m.version) for m in (old_modules.modules if old_modules else [])}
    new_set = {(m.platform, m.version) for m in (new_modules.modules if new_modules else [])}
    from packaging.version import Version

    def order(item: tuple[str, str]) -> tuple[str, Version]:
        return (item[0], Version(item[1]))

    modules = tuple(
        [ModuleChange(p, v, "added") for p, v in sorted(new_set - old_set, key=order)]
        + [ModuleChange(p, v, "removed") for p, v in sorted(old_set - new_set, key=order)]
    )
    return FeedDiff(old_label, new_label, added, removed, tuple(changed), modules)
