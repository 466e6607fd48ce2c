"""The coverage audit: every OS x identity group case through the engine, gaps as findings.

Rows are the OS nodes an endpoint can be classified under (every node with a version range,
plus any node or unknown OS an inventory brings); columns are the identity groups named in
the rules, the inventory, or asked for. Each cell is one :class:`Decision`; the findings
(docs/provisioning.md) aggregate cells per OS row, check and rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from packaging.version import Version

from feedmgr.findings import Finding, Report, Severity
from feedmgr.provisioning.engine import Case, Decision, Outcome, evaluate
from feedmgr.provisioning.interface import OsClassifier, Placement, Unclassified
from feedmgr.provisioning.policy import Policy, Rule, group_key

if TYPE_CHECKING:
    from feedmgr.feed.payload import OsCatalog, OsNode
    from feedmgr.provisioning.inventory import InventoryCounts

ANY_COLUMN = "(any group)"
"""Column title used when no rule and no inventory names an identity group."""

_BYPASS = '"Bypassing Cisco Secure Client Scan"'


@dataclass(frozen=True)
class CheckInfo:
    """A finding id's fixed severity and its generic fix."""

    severity: Severity
    fix: str


CHECKS: Mapping[str, CheckInfo] = MappingProxyType(
    {
        "cp.uncovered": CheckInfo(
            Severity.FAIL,
            "add a rule for this group on the OS family's umbrella node ('Mac OSX', "
            "'Windows All') after any per-version rules, or widen an existing one; a rule on a "
            "version node alone leaves the next release uncovered",
        ),
        "cp.os-unknown": CheckInfo(
            Severity.FAIL,
            "update the posture feed to one that knows this release (feedmgr update; "
            "see feedmgr os lag), then update the ISE posture feed",
        ),
        "cp.conditional": CheckInfo(
            Severity.WARN,
            "add a rule without other conditions after the conditional ones, so endpoints "
            "failing the conditions still get an agent",
        ),
        "cp.shadowed": CheckInfo(
            Severity.WARN,
            "move the rule above the rules that take its cases, or delete it if their results "
            "are what these endpoints should get; do not narrow an umbrella rule ('Mac OSX', "
            "'Windows All') to version nodes: it catches the releases the next feed adds",
        ),
        "cp.future-only": CheckInfo(
            Severity.INFO,
            "keep it after the per-version rules: once a feed adds the next release under "
            "this umbrella node, this rule is what gives it an agent",
        ),
        "cp.disabled-only": CheckInfo(
            Severity.FAIL, "enable the rule, or add an enabled rule for this OS and group"
        ),
        "cp.no-agent": CheckInfo(
            Severity.FAIL,
            "give the rule's result an agent configuration with an agent package, the ISE "
            "Posture module and a posture profile (a native supplicant configuration alone "
            "installs no agent)",
        ),
        "cp.module-too-old": CheckInfo(
            Severity.FAIL,
            "upload a newer compliance module to ISE and select it in the rule's agent "
            "configuration",
        ),
        "cp.agent-too-old": CheckInfo(
            Severity.FAIL,
            "upload a newer Secure Client package to ISE and select it in the agent "
            "configuration the rule names",
        ),
        "cp.not-posture-capable": CheckInfo(
            Severity.INFO,
            "no CP rule or feed update can posture these devices: control their access with "
            "authorization rules (MDM compliance, their own identity group)",
        ),
        "cp.os-blank": CheckInfo(
            Severity.WARN,
            "tell these endpoints apart before trusting the coverage: look each up in ISE "
            "(Context Visibility > Endpoints, by MAC); its endpoint profile says whether it "
            "is a phone or printer or a PC or Mac that never ran the agent; explain a PC's or "
            "Mac's case with feedmgr provisioning match",
        ),
        "cp.wrong-platform": CheckInfo(
            Severity.FAIL,
            "select, in the agent configuration the rule names, the agent package and "
            "compliance module built for the rule's OS (one agent configuration per OS "
            "family, one rule per family)",
        ),
        "cp.unknown-node": CheckInfo(
            Severity.WARN,
            "use an OS node name exactly as the feed spells it (feedmgr os list)",
        ),
    }
)


class RowKind(StrEnum):
    """What a matrix row stands for."""

    NODE = "node"
    NEXT_RELEASE = "next-release"
    UNKNOWN_OS = "unknown-os"
    NOT_POSTURE_CAPABLE = "not-posture-capable"
    OS_BLANK = "os-blank"


@dataclass(frozen=True)
class Row:
    """One OS row of the matrix: a feed node, the next release a feed will add under an
    umbrella node, an OS the feed does not classify, devices no agent postures, or
    endpoints with no OS recorded."""

    label: str
    placement: Placement
    os_strings: tuple[str, ...] = ()
    kind: RowKind = RowKind.NODE


@dataclass(frozen=True)
class Cell:
    """One OS x group case: its decision and, with an inventory, its endpoint count."""

    decision: Decision
    endpoints: int = 0
    examples: tuple[str, ...] = ()
    # Check ids of the problems with the results this case may get (cp.no-agent, ...).
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class Minimums:
    """The feed's minimum agent and compliance-module versions for one node chain."""

    node: str
    agent: Version | None
    agent_from: str | None
    module: Version | None
    module_from: str | None
    family: str | None = None  # the OS family of the chain ("macos"), for platform checks


@dataclass(frozen=True)
class Coverage:
    """The whole audit: matrix rows, group columns, every cell, and the findings."""

    policy: Policy
    rows: tuple[Row, ...]
    groups: tuple[str | None, ...]
    cells: Mapping[tuple[str, str | None], Cell]
    report: Report
    has_inventory: bool = False

    def cell(self, row: str, group: str | None) -> Cell:
        """The cell of one row label and group column."""
        return self.cells[(row, group)]


def node_chain(catalog: OsCatalog, name: str) -> tuple[str, ...]:
    """A catalog node's name and its ancestors' names, deepest first."""
    by_name = {n.name: n for n in catalog.nodes}
    chain: list[str] = []
    current: OsNode | None = by_name.get(name)
    while current is not None and current.name not in chain:
        chain.append(current.name)
        current = by_name.get(current.parent) if current.parent is not None else None
    return tuple(chain)


def minimums(catalog: OsCatalog, chain: tuple[str, ...]) -> Minimums | None:
    """The deepest minimum agent and module versions along a chain (None: empty chain)."""
    if not chain:
        return None
    by_name = {n.name: n for n in catalog.nodes}
    agent = agent_from = module = module_from = None
    for name in chain:
        node = by_name.get(name)
        if node is None:
            continue
        if agent is None and node.min_agent_version is not None:
            agent, agent_from = Version(node.min_agent_version), name
        if module is None and node.min_compliance_module_version is not None:
            module, module_from = Version(node.min_compliance_module_version), name
    family = next((by_name[name].family for name in chain if name in by_name), None)
    return Minimums(chain[0], agent, agent_from, module, module_from, family)


# Cisco names its packages by platform: CiscoSecureClientDesktopWindows, ...DesktopMacOSX,
# ...DesktopLinux64, CiscoSecureClientComplianceModulemacOS, AnyConnectComplianceModuleOSX.
_PLATFORMS: tuple[tuple[str, str, re.Pattern[str]], ...] = (
    ("windows", "Windows", re.compile(r"windows|(?<![a-z])win(?:32|64)?(?![a-z])", re.IGNORECASE)),
    ("macos", "macOS", re.compile(r"mac ?os|osx", re.IGNORECASE)),
    ("linux", "Linux", re.compile(r"linux", re.IGNORECASE)),
)


def package_platform(name: str) -> tuple[str, str] | None:
    """The OS family and display name a Cisco package name is built for, or None."""
    for family, display, pattern in _PLATFORMS:
        if pattern.search(name):
            return family, display
    return None


def _wrong_platform(rule: Rule, family: str) -> tuple[str, str, dict[str, Any]] | None:
    """``cp.wrong-platform`` when the result's agent or compliance module is built for
    another OS than the endpoint's: ISE offers only packages of the endpoint's OS."""
    results = rule.results
    for kind, name in (
        ("agent package", results.agent_package),
        ("compliance module", results.compliance_module),
    ):
        found = package_platform(name) if name else None
        if found is not None and found[0] != family:
            return (
                "cp.wrong-platform",
                f"{rule.title} gives {kind} {name!r}, built for {found[1]}, to "
                f"{_FAMILY_NAMES.get(family, family)} endpoints: ISE offers only agents of "
                "the endpoint's OS, so they get none",
                {"rule": rule.name, "package": name, "package_platform": found[0]},
            )
    return None


_FAMILY_NAMES = {family: display for family, display, _pattern in _PLATFORMS}


def _shared_note(rule: Rule, policy: Policy | None) -> str:
    """Who else a fix to the rule's agent configuration reaches (the fix is made there)."""
    name = rule.results.agent_configuration
    if policy is None or not rule.results.defined or name is None:
        return ""
    others = [r.title for r in policy.sharing(name) if r.number != rule.number]
    if not others:
        return ""
    return (
        f"; its agent configuration {name!r} is also the result of {', '.join(others)}: "
        "a newer version there reaches those rules' OSes too, so check it supports them"
    )


def result_problems(
    rule: Rule, mins: Minimums | None, policy: Policy | None = None
) -> list[tuple[str, str, dict[str, Any]]]:
    """What is wrong with one rule's results for one OS: (check id, message, data)."""
    problems: list[tuple[str, str, dict[str, Any]]] = []
    results = rule.results
    if not results.installs_agent:
        problems.append(
            (
                "cp.no-agent",
                f"{rule.title} installs no posture agent ({results.missing()}): "
                f"{results.describe()}",
                {"rule": rule.name},
            )
        )
        return problems
    if mins is None:
        return problems
    wrong = _wrong_platform(rule, mins.family) if mins.family is not None else None
    if wrong is not None:
        # Its versions belong to another platform's line: comparing them means nothing.
        problems.append(wrong)
        return problems
    shared = _shared_note(rule, policy)
    if (
        mins.module is not None
        and results.compliance_module_version is not None
        and results.compliance_module_version < mins.module
    ):
        problems.append(
            (
                "cp.module-too-old",
                f"{rule.title} gives compliance module {results.compliance_module_version}, "
                f"the feed requires at least {mins.module} for {mins.module_from}{shared}",
                {
                    "rule": rule.name,
                    "got": str(results.compliance_module_version),
                    "minimum": str(mins.module),
                },
            )
        )
    if (
        mins.agent is not None
        and results.agent_version is not None
        and results.agent_version < mins.agent
    ):
        problems.append(
            (
                "cp.agent-too-old",
                f"{rule.title} gives agent {results.agent_version}, "
                f"the feed requires at least {mins.agent} for {mins.agent_from}{shared}",
                {"rule": rule.name, "got": str(results.agent_version), "minimum": str(mins.agent)},
            )
        )
    return problems


@dataclass
class _Bucket:
    check: str
    subject: str
    message: str
    data: dict[str, Any]
    fix: str
    groups: dict[str, int] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)


class _Collector:
    """Aggregates per-cell problems into one finding per (check, OS row, message)."""

    def __init__(self, with_counts: bool, examples: int = 0) -> None:
        self.with_counts = with_counts
        self.examples = examples
        self.buckets: dict[tuple[str, str, str, str], _Bucket] = {}

    def add(
        self,
        check: str,
        row: Row,
        group: str | None,
        cell: Cell,
        message: str,
        *,
        fix: str | None = None,
        **data: Any,
    ) -> None:
        key = (check, row.label, message, fix or "")
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = _Bucket(check, row.label, message, data, fix or CHECKS[check].fix)
            self.buckets[key] = bucket
        title = group if group is not None else ANY_COLUMN
        bucket.groups[title] = bucket.groups.get(title, 0) + cell.endpoints
        for example in cell.examples:
            if len(bucket.examples) < self.examples and example not in bucket.examples:
                bucket.examples.append(example)

    def findings(self) -> list[Finding]:
        """One finding per (check, message, group set); OS rows alike are merged."""
        merged: dict[tuple[str, str, str, tuple[str, ...]], list[_Bucket]] = {}
        for bucket in self.buckets.values():
            key = (bucket.check, bucket.message, bucket.fix, tuple(bucket.groups))
            merged.setdefault(key, []).append(bucket)
        out: list[Finding] = []
        for (check, text, fix, groups), buckets in merged.items():
            info = CHECKS[check]
            rows = [b.subject for b in buckets]
            message = f"{text} (groups: {', '.join(groups)})"
            data: dict[str, Any] = {**buckets[0].data, "os": rows, "groups": list(groups)}
            if "os_strings" in data:
                data["os_strings"] = [t for b in buckets for t in b.data["os_strings"]]
            if self.with_counts:
                by_os = {b.subject: sum(b.groups.values()) for b in buckets}
                total = sum(by_os.values())
                message += f"; {total} endpoint{'s' if total != 1 else ''} affected"
                data["endpoints"] = total
                data["endpoints_by_os"] = by_os
            samples: list[str] = []
            for bucket in buckets:
                samples.extend(e for e in bucket.examples if e not in samples)
            if samples and self.examples:
                data["examples"] = samples[: self.examples]
                message += f" (e.g. {', '.join(data['examples'])})"
            out.append(Finding(check, info.severity, ", ".join(rows), message, fix, data))
        return out


def umbrella_nodes(catalog: OsCatalog) -> tuple[str, ...]:
    """Nodes without a version range that have children ("Mac OSX", "Windows All"): a later
    feed adds each new release as one more child of them."""
    from feedmgr.osmatrix.classify import OsTree

    tree = OsTree(catalog)
    return tuple(
        n.name for n in catalog.nodes if tree.range_of(n.name) is None and tree.children(n.name)
    )


def next_release_label(umbrella: str) -> str:
    """The label of the row of a release a later feed adds under ``umbrella``."""
    return f"{umbrella}: next release"


def next_release_row(catalog: OsCatalog, umbrella: str) -> Row:
    """The row of a release a later feed adds under ``umbrella``: a new child node, so its
    chain is that child, then the umbrella and the umbrella's ancestors."""
    label = next_release_label(umbrella)
    chain = (f"(next {umbrella} release)", *node_chain(catalog, umbrella))
    return Row(label, Placement(label, label, chain), kind=RowKind.NEXT_RELEASE)


def _rows(
    catalog: OsCatalog, classifier: OsClassifier, os_strings: Iterable[str]
) -> tuple[list[Row], dict[str, str]]:
    """Matrix rows and the row label of each inventory OS string."""
    from feedmgr.osmatrix.classify import OsTree

    tree = OsTree(catalog)
    families = list(dict.fromkeys(n.family for n in catalog.nodes))
    ordered = sorted(tree.ordered, key=lambda n: families.index(n.family))
    rows: dict[str, Row] = {}
    for node in ordered:
        if tree.range_of(node.name) is not None:
            chain = node_chain(catalog, node.name)
            rows[node.name] = Row(node.name, Placement(node.name, node.name, chain))
    for umbrella in umbrella_nodes(catalog):
        future = next_release_row(catalog, umbrella)
        rows[future.label] = future
    mapped: dict[str, list[str]] = {}
    label_of: dict[str, str] = {}
    for text in os_strings:
        placement = classifier.place(text)
        label = placement.node if placement.node is not None else placement.label
        if label not in rows:
            if placement.classified:
                chain = node_chain(catalog, label)
                rows[label] = Row(label, Placement(label, label, chain))
            elif placement.blank:
                rows[label] = Row(label, placement, kind=RowKind.OS_BLANK)
            elif not placement.posture_capable:
                rows[label] = Row(label, placement, kind=RowKind.NOT_POSTURE_CAPABLE)
            else:
                rows[label] = Row(label, placement, kind=RowKind.UNKNOWN_OS)
        mapped.setdefault(label, []).append(text)
        label_of[text] = label
    final = [
        replace(r, os_strings=tuple(mapped[r.label])) if r.label in mapped else r
        for r in rows.values()
    ]
    return final, label_of


def _columns(
    policy: Policy, inventory: InventoryCounts | None, extra_groups: Iterable[str]
) -> tuple[tuple[str | None, ...], dict[str, str]]:
    columns: dict[str, str] = {}
    sources: list[Iterable[str]] = [policy.named_groups(), extra_groups]
    if inventory is not None:
        sources.append(inventory.groups())
    for source in sources:
        for group in source:
            columns.setdefault(group_key(group), group)
    if not columns:
        return (None,), columns
    return tuple(columns.values()), columns


def _rule_cases(
    rule: Rule, future: set[str], decide: Mapping[tuple[str, str | None], Decision]
) -> tuple[list[Decision], list[Decision]]:
    """The cases a rule's OS nodes and groups take: today's rows, and next-release rows."""
    today: list[Decision] = []
    later: list[Decision] = []
    for (label, group), decision in decide.items():
        placement = decision.case.placement
        if not placement.classified or rule.os_match(placement.chain) is None:
            continue
        if rule.group_matches(group):
            (later if label in future else today).append(decision)
    return today, later


def _shadow_findings(
    policy: Policy, rows: Iterable[Row], decide: Mapping[tuple[str, str | None], Decision]
) -> list[Finding]:
    """``cp.shadowed`` for rules that earlier rules take every case of, today and after
    the next feed; ``cp.future-only`` for those that only a release the feed adds later
    under an umbrella node reaches."""
    future = {r.label for r in rows if r.kind is RowKind.NEXT_RELEASE}
    out: list[Finding] = []
    for rule in policy.rules:
        if not rule.enabled:
            continue
        today, later = _rule_cases(rule, future, decide)
        takers: dict[str, Rule] = {}
        for decision in today:
            matched = decision.matched
            if matched is None or matched.number >= rule.number:
                break
            takers[matched.name] = matched
        else:
            if not today:
                continue
            ordered = sorted(takers.values(), key=lambda r: r.number)
            names = ", ".join(t.title for t in ordered)
            verb = "takes" if len(takers) == 1 else "take"
            data: dict[str, Any] = {"rule": rule.name, "shadowed_by": [t.name for t in ordered]}
            # A next-release chain is (new child, umbrella, ...): chain[1] is the umbrella.
            umbrellas = list(
                dict.fromkeys(
                    d.case.placement.chain[1] for d in later if rule in d.possible_results
                )
            )
            if umbrellas:
                check = "cp.future-only"
                where = ", ".join(repr(u) for u in umbrellas)
                message = (
                    f"{rule.title} matches no OS the feed knows today ({names} {verb} every "
                    f"case it covers), but it catches the releases a later feed adds under "
                    f"{where}: keep it"
                )
                data["umbrellas"] = umbrellas
            else:
                check = "cp.shadowed"
                message = f"{rule.title} can never match: {names} {verb} every case it covers"
            info = CHECKS[check]
            out.append(Finding(check, info.severity, rule.title, message, info.fix, data))
    return out


def _unknown_node_findings(policy: Policy, catalog: OsCatalog) -> list[Finding]:
    known = {n.name for n in catalog.nodes}
    info = CHECKS["cp.unknown-node"]
    out: list[Finding] = []
    for rule in policy.rules:
        unknown = [name for name in rule.operating_systems if name not in known]
        if unknown:
            names = ", ".join(repr(n) for n in unknown)
            out.append(
                Finding(
                    "cp.unknown-node",
                    info.severity,
                    rule.title,
                    f"{rule.title} names OS nodes the feed does not have: {names}; "
                    "they match nothing",
                    info.fix,
                    {"rule": rule.name, "nodes": unknown},
                )
            )
    return out


def _top(row: Row) -> str:
    """The umbrella node at the top of a row's chain ("Mac OSX"), or the row itself."""
    return row.placement.chain[-1] if row.placement.chain else row.label


def _takeovers(
    policy: Policy, decisions: Mapping[tuple[str, str | None], Decision]
) -> dict[str, str]:
    """Per disabled rule: the cases that enabling it would take from the rules that decide
    them today, as "Mac OSX 15 (Employees) from rule 2 'macOS'" (only rules that take any)."""
    out: dict[str, str] = {}
    for rule in policy.rules:
        if rule.enabled:
            continue
        enabled = replace(rule, enabled=True)
        trial = replace(policy, rules=tuple(enabled if r is rule else r for r in policy.rules))
        moved: list[str] = []
        for (label, group), decision in decisions.items():
            before = decision.matched
            if before is None:
                continue
            after = evaluate(trial, decision.case).matched
            if after is not None and after.number == rule.number:
                column = group if group is not None else ANY_COLUMN
                moved.append(f"{label} ({column}) from {before.title}")
        if moved:
            out[rule.name] = ", ".join(moved)
    return out


# Only a release newer than the feed is lag; for the other causes no feed update changes
# anything (docs/os-matrix.md: a feed that dropped a release made a support decision).
_NO_UPDATE = "a feed update will not change this"
_UNCLASSIFIED_FIX: Mapping[Unclassified | None, str] = MappingProxyType(
    {
        Unclassified.OLDER: (
            f"{_NO_UPDATE} (a feed lists no release older than its oldest node, and "
            "feedmgr os lag skips them): upgrade these endpoints to a release the feed "
            "supports, or handle them in authorization policy (a limited-access or "
            "remediation result for them)"
        ),
        Unclassified.NOT_CLASSIFIABLE: (
            f"{_NO_UPDATE}: handle these endpoints in authorization policy; if the OS "
            "column should hold a client OS with its version, fix it at its source or map "
            "another column (provisioning audit --os-column)"
        ),
        Unclassified.UNPARSEABLE: (
            f"{_NO_UPDATE}: fix the OS strings at their source, or map another inventory "
            "column (provisioning audit --os-column, e.g. EndpointOperatingSystem)"
        ),
    }
)


def _after_update(policy: Policy, placement: Placement, group: str | None) -> str:
    """What the feed update that lists an unknown release gives these groups, and the rule
    to add when it gives them nothing: the advice must not leave the next feed worse."""
    later = evaluate(policy, Case(replace(placement, chain=placement.next_chain), group))
    node, umbrella = placement.next_chain[0], placement.next_chain[-1]
    new_node = node.startswith("(next ")
    lands = (
        f"adds this release as a new node under {umbrella!r}"
        if new_node
        else f"adds this release to {node!r}"
    )
    matched = later.matched
    if matched is not None:
        return f"; the updated feed {lands}, where {matched.title} takes these groups"
    if later.conditional:
        names = ", ".join(r.title for r in later.conditional)
        return (
            f"; the updated feed {lands}, where only {names} (with other conditions) take "
            f"these groups: add a rule without other conditions for these groups on "
            f"{umbrella!r} after the conditional ones and any per-version rules"
        )
    return (
        f"; and add a rule for these groups on {umbrella!r} after any per-version rules, or "
        f"widen an existing one: the updated feed {lands}, which no enabled rule takes for "
        "these groups today"
    )


def _cell_problems(
    collect: _Collector,
    row: Row,
    group: str | None,
    cell: Cell,
    mins: Minimums | None,
    *,
    policy: Policy | None = None,
    takeovers: Mapping[str, str] | None = None,
) -> None:
    decision = cell.decision
    outcome = decision.outcome
    if row.kind in (RowKind.NEXT_RELEASE, RowKind.NOT_POSTURE_CAPABLE, RowKind.OS_BLANK):
        # A release no feed lists yet is not a gap today (cp.future-only says who catches
        # it); devices no agent runs on and endpoints with no OS recorded get their own
        # findings.
        return
    if outcome is Outcome.OS_UNKNOWN:
        if collect.with_counts and cell.endpoints == 0:
            # The row exists because the inventory reports this OS; only its groups count.
            return
        placement = row.placement
        why = placement.reason or "the feed does not classify it"
        fix = _UNCLASSIFIED_FIX.get(placement.cause, CHECKS["cp.os-unknown"].fix)
        if policy is not None and placement.next_chain:
            fix += _after_update(policy, placement, group)
        collect.add(
            "cp.os-unknown",
            row,
            group,
            cell,
            f"{why}; it matches no rule and gets {_BYPASS}",
            fix=fix,
            os_strings=list(row.os_strings),
            unparseable=placement.unparseable,
            cause=str(placement.cause or Unclassified.NEWER),
        )
        return
    if outcome is Outcome.UNCOVERED:
        collect.add(
            "cp.uncovered",
            row,
            group,
            cell,
            f"no enabled rule matches: endpoints get {_BYPASS}",
            fix=f"add a rule for these groups on {_top(row)!r} after any per-version rules, or "
            "widen an existing one; a rule on a version node alone leaves the next release "
            "uncovered",
            umbrella=_top(row),
        )
        return
    if outcome is Outcome.DISABLED_ONLY:
        rule = decision.disabled_matches[0]
        moved = (takeovers or {}).get(rule.name)
        fix = CHECKS["cp.disabled-only"].fix
        if moved:
            fix = (
                f"enabling {rule.title} where it stands also takes {moved}; to leave those "
                f"as they are, add an enabled rule for these groups on {_top(row)!r} instead"
            )
        collect.add(
            "cp.disabled-only",
            row,
            group,
            cell,
            f"no enabled rule matches; only the disabled {rule.title} would: "
            f"endpoints get {_BYPASS}",
            fix=fix,
            rule=rule.name,
        )
        return
    if outcome is Outcome.CONDITIONAL:
        names = ", ".join(r.title for r in decision.conditional)
        collect.add(
            "cp.conditional",
            row,
            group,
            cell,
            f"covered only through rules with other conditions ({names}); when those are "
            f"false endpoints get {_BYPASS}",
            fix=f"add a rule without other conditions for these groups on {_top(row)!r} after "
            "the conditional ones, so endpoints failing the conditions still get an agent",
            rules=[r.name for r in decision.conditional],
        )
    for rule in decision.possible_results:
        for check, message, data in result_problems(rule, mins, policy):
            collect.add(check, row, group, cell, message, **data)


# The full export's other OS attributes (tests/data/provisioning/SOURCES): the profiler's,
# NMAP's, AD's and MFC's views, each filled only where that source saw the endpoint.
_OTHER_OS_COLUMNS = (
    "EndpointOperatingSystem, operating-system, AD-Operating-System, MFCInfoOperatingSystem"
)
_BLANK_FIX = (
    "tell these endpoints apart before trusting the coverage: list them with --examples N "
    "(MAC, else host name) and look each up in ISE (Context Visibility > Endpoints, by "
    "MAC); its endpoint profile (EndPointPolicy in the full export) says whether it is a "
    "phone or printer (authorization policy handles those) or a PC or Mac that never ran "
    "the agent; explain a PC's or Mac's case with feedmgr provisioning match POLICY --os "
    "'<its OS>' --group '<its group>', its OS read on the device or from another OS column "
    f"of the full export where one is filled for it ({_OTHER_OS_COLUMNS}); --os-column "
    "would swap the OS column of every row, not only the blank ones"
)


def _blank_findings(
    rows: Iterable[Row], inventory: InventoryCounts, examples: int
) -> list[Finding]:
    """One ``cp.os-blank`` warning for the endpoints whose OS cell is empty: the audit
    cannot tell whether they get an agent, so it neither covers nor fails them."""
    blank = next((r for r in rows if r.kind is RowKind.OS_BLANK), None)
    if blank is None:
        return []
    texts = set(blank.os_strings)
    by_group: dict[str, int] = {}
    samples: list[str] = []
    for (text, group), n in inventory.counts.items():
        if text not in texts:
            continue
        by_group[group] = by_group.get(group, 0) + n
        for example in inventory.examples.get((text, group), ()):
            if len(samples) < examples and example not in samples:
                samples.append(example)
    total = sum(by_group.values())
    if not total:
        return []
    column = inventory.columns.get("os", "OS")
    note = ""
    if column.casefold() == "postureos":
        note = (
            " (PostureOS stays empty until the posture agent has reported once, so a PC or "
            'Mac that got "Bypassing Cisco Secure Client Scan" is blank too)'
        )
    groups = ", ".join(f"{g} ({n})" for g, n in by_group.items())
    message = (
        f"{total} endpoint{'s' if total != 1 else ''} with an empty {column!r} cell: "
        f"{blank.placement.reason}{note}; counted neither as covered nor as a gap "
        f"(groups: {groups})"
    )
    data: dict[str, Any] = {
        "endpoints": total,
        "endpoints_by_group": by_group,
        "os_column": column,
    }
    if samples:
        data["examples"] = samples
        message += f" (e.g. {', '.join(samples)})"
    info = CHECKS["cp.os-blank"]
    return [Finding("cp.os-blank", info.severity, blank.label, message, _BLANK_FIX, data)]


def _agentless_findings(rows: Iterable[Row], inventory: InventoryCounts) -> list[Finding]:
    """One ``cp.not-posture-capable`` info per kind of device, with counts per OS string."""
    row_of = {
        text: r for r in rows if r.kind is RowKind.NOT_POSTURE_CAPABLE for text in r.os_strings
    }
    by_os: dict[str, dict[str, int]] = {}
    by_group: dict[str, dict[str, int]] = {}
    for (text, group), n in inventory.counts.items():
        row = row_of.get(text)
        if row is None:
            continue
        per_os = by_os.setdefault(row.label, {})
        per_os[text] = per_os.get(text, 0) + n
        per_group = by_group.setdefault(row.label, {})
        per_group[group] = per_group.get(group, 0) + n
    info = CHECKS["cp.not-posture-capable"]
    out: list[Finding] = []
    for row in rows:
        if row.label not in by_os:
            continue
        per_os = by_os[row.label]
        total = sum(per_os.values())
        endpoints = f"{total} endpoint{'s' if total != 1 else ''}"
        listed = ", ".join(f"{text}: {n}" for text, n in per_os.items())
        message = f"{endpoints} ({listed}): {row.placement.reason}; not a CP or feed gap"
        data = {
            "kind": row.placement.agentless,
            "endpoints": total,
            "endpoints_by_os_string": per_os,
            "endpoints_by_group": by_group[row.label],
        }
        out.append(
            Finding("cp.not-posture-capable", info.severity, row.label, message, info.fix, data)
        )
    return out


def audit(
    policy: Policy,
    catalog: OsCatalog,
    classifier: OsClassifier,
    *,
    inventory: InventoryCounts | None = None,
    extra_groups: Iterable[str] = (),
    facts: Mapping[str, Any] | None = None,
    examples: int = 0,
) -> Coverage:
    """Evaluate every OS row x group column and report the gaps (docs/provisioning.md)."""
    os_strings = inventory.os_strings() if inventory is not None else ()
    rows, label_of = _rows(catalog, classifier, os_strings)
    groups, column_of = _columns(policy, inventory, extra_groups)
    counts: dict[tuple[str, str | None], int] = {}
    samples: dict[tuple[str, str | None], list[str]] = {}
    if inventory is not None:
        for (os_string, seen_group), n in inventory.counts.items():
            column = column_of.get(group_key(seen_group)) if groups != (None,) else None
            key = (label_of[os_string], column)
            counts[key] = counts.get(key, 0) + n
            kept = samples.setdefault(key, [])
            for example in inventory.examples.get((os_string, seen_group), ()):
                if len(kept) < examples and example not in kept:
                    kept.append(example)
    # Shadowing is judged over the displayed groups plus "a group no rule names" (None).
    universe = (*groups, None) if None not in groups else groups
    decisions: dict[tuple[str, str | None], Decision] = {}
    for row in rows:
        for group in universe:
            decisions[(row.label, group)] = evaluate(policy, Case(row.placement, group))
    cells = {
        (row.label, group): Cell(
            decisions[(row.label, group)],
            counts.get((row.label, group), 0),
            tuple(samples.get((row.label, group), ())),
        )
        for row in rows
        for group in groups
    }
    collect = _Collector(with_counts=inventory is not None, examples=examples)
    takeovers = _takeovers(policy, {key: cell.decision for key, cell in cells.items()})
    for row in rows:
        mins = minimums(catalog, row.placement.chain)
        for group in groups:
            cell = cells[(row.label, group)]
            if row.kind in (RowKind.NODE, RowKind.UNKNOWN_OS):
                found = [
                    check
                    for rule in cell.decision.possible_results
                    for check, _message, _data in result_problems(rule, mins)
                ]
                cell = replace(cell, problems=tuple(dict.fromkeys(found)))
                cells[(row.label, group)] = cell
            _cell_problems(
                collect,
                row,
                group,
                cell,
                mins,
                policy=policy,
                takeovers=takeovers,
            )
    findings = [
        *_unknown_node_findings(policy, catalog),
        *_shadow_findings(policy, rows, decisions),
        *collect.findings(),
        *(_agentless_findings(rows, inventory) if inventory is not None else ()),
        *(_blank_findings(rows, inventory, examples) if inventory is not None else ()),
    ]
    enabled = sum(1 for r in policy.rules if r.enabled)
    all_facts: dict[str, Any] = {
        "policy": policy.source,
        "rules": f"{len(policy.rules)} ({enabled} enabled)",
        "os rows": len(rows),
        "groups": ", ".join(g if g is not None else ANY_COLUMN for g in groups),
    }
    if inventory is not None:
        all_facts["inventory"] = inventory.source
        all_facts["endpoints"] = inventory.rows
        all_facts["distinct (os, group)"] = len(inventory.counts)
        if inventory.skipped:
            all_facts["rows skipped"] = inventory.skipped
        blank_rows = {r.label for r in rows if r.kind is RowKind.OS_BLANK}
        blank = sum(n for (label, _column), n in counts.items() if label in blank_rows)
        if blank:
            # Neither covered nor a gap: say so next to the total, not only in a finding.
            all_facts["no OS recorded (cannot tell)"] = blank
    all_facts.update(facts or {})
    report = Report("Client-provisioning coverage audit", tuple(findings), all_facts)
    return Coverage(policy, tuple(rows), groups, cells, report, inventory is not None)


def explain(
    policy: Policy,
    catalog: OsCatalog,
    classifier: OsClassifier,
    os_string: str,
    group: str | None,
) -> tuple[Decision, list[Finding]]:
    """One case through the engine, with the problems of the results it may get."""
    placement = classifier.place(os_string)
    decision = evaluate(policy, Case(placement, group))
    if placement.blank:
        blank = CHECKS["cp.os-blank"]
        message = f"{placement.label}: {placement.reason}"
        return decision, [
            Finding("cp.os-blank", blank.severity, placement.label, message, blank.fix, {})
        ]
    if not placement.posture_capable:
        info = CHECKS["cp.not-posture-capable"]
        message = f"{os_string or '(blank)'}: {placement.reason}; not a CP or feed gap"
        data = {"kind": placement.agentless}
        return decision, [
            Finding(
                "cp.not-posture-capable", info.severity, placement.label, message, info.fix, data
            )
        ]
    row = Row(placement.node or placement.label, placement, (os_string,))
    collect = _Collector(with_counts=False)
    mins = minimums(catalog, placement.chain)
    _cell_problems(collect, row, group, Cell(decision), mins, policy=policy)
    return decision, collect.findings()
