"""ISE's client-provisioning evaluation: top-down over enabled rules, first match wins.

A rule matches an endpoint when its identity groups take the endpoint's group (or are Any)
and one of its operating systems is the node the feed classifies the endpoint's OS under,
or an ancestor of it. An OS the feed does not classify matches no rule ("Mac OSX" does not
cover a macOS release the feed does not know). A rule with other conditions matches only
"conditionally": ISE evaluates those at run time, so when they are false evaluation goes on
with the next rule; the engine keeps them opaque and records them as conditional matches.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from feedmgr.provisioning.interface import Placement
from feedmgr.provisioning.policy import Policy, Rule


class Verdict(StrEnum):
    """What happened to one rule for one case."""

    DISABLED = "disabled"
    OS_MISMATCH = "os-mismatch"
    GROUP_MISMATCH = "group-mismatch"
    CONDITIONAL = "conditional"
    MATCH = "match"
    NOT_REACHED = "not-reached"


class Outcome(StrEnum):
    """How one case ends."""

    MATCHED = "matched"
    CONDITIONAL = "conditional"
    UNCOVERED = "uncovered"
    DISABLED_ONLY = "disabled-only"
    OS_UNKNOWN = "os-unknown"
    NOT_POSTURE_CAPABLE = "not-posture-capable"
    OS_BLANK = "os-blank"  # no OS recorded: neither covered nor a gap, the audit cannot tell


@dataclass(frozen=True)
class Case:
    """One endpoint situation: where its OS lands, and its identity group (None: a group
    that no rule names)."""

    placement: Placement
    group: str | None


@dataclass(frozen=True)
class RuleStep:
    """One rule considered for one case, and why it did or did not match."""

    rule: Rule
    verdict: Verdict
    reason: str
    # True when the rule is disabled but would otherwise have matched (OS and group).
    would_match: bool = False


@dataclass(frozen=True)
class Decision:
    """The evaluation of every rule for one case."""

    case: Case
    steps: tuple[RuleStep, ...]

    @property
    def matched(self) -> Rule | None:
        """The first enabled rule without other conditions that matches."""
        return next((s.rule for s in self.steps if s.verdict is Verdict.MATCH), None)

    @property
    def conditional(self) -> tuple[Rule, ...]:
        """Rules with other conditions that match before the definite match (or instead)."""
        return tuple(s.rule for s in self.steps if s.verdict is Verdict.CONDITIONAL)

    @property
    def disabled_matches(self) -> tuple[Rule, ...]:
        """Disabled rules that would have matched had they been enabled."""
        return tuple(s.rule for s in self.steps if s.would_match)

    @property
    def outcome(self) -> Outcome:
        """How the case ends, most specific first."""
        if self.case.placement.blank:
            return Outcome.OS_BLANK
        if not self.case.placement.posture_capable:
            return Outcome.NOT_POSTURE_CAPABLE
        if not self.case.placement.classified:
            return Outcome.OS_UNKNOWN
        if self.matched is not None:
            return Outcome.MATCHED
        if self.conditional:
            return Outcome.CONDITIONAL
        if self.disabled_matches:
            return Outcome.DISABLED_ONLY
        return Outcome.UNCOVERED

    @property
    def possible_results(self) -> tuple[Rule, ...]:
        """Every rule whose results this endpoint may get: conditional ones, then the match."""
        matched = self.matched
        return (*self.conditional, *((matched,) if matched is not None else ()))


def _group_text(group: str | None) -> str:
    return repr(group) if group is not None else "a group no rule names"


def _os_reason(rule: Rule, placement: Placement) -> tuple[bool, str]:
    if placement.blank:
        return False, f"{placement.label}: {placement.reason}"
    if not placement.posture_capable:
        return False, f"{placement.text or '(blank)'}: {placement.reason}"
    if not placement.classified:
        why = placement.reason or "the feed does not classify it"
        return False, f"{placement.label}: {why}; no rule can match it"
    hit = rule.os_match(placement.chain)
    chain = " -> ".join(placement.chain)
    wanted = ", ".join(repr(n) for n in rule.operating_systems)
    if hit is None:
        return False, f"OS classified as {chain}, rule wants {wanted}"
    return True, f"OS classified as {chain}, under rule's {hit!r}"


def _group_reason(rule: Rule, group: str | None) -> tuple[bool, str]:
    if rule.identity_groups is None:
        return True, "identity group Any"
    wanted = ", ".join(repr(g) for g in rule.identity_groups)
    if rule.group_matches(group):
        return True, f"identity group {_group_text(group)} is one of {wanted}"
    return False, f"identity group {_group_text(group)} is not one of {wanted}"


def evaluate(policy: Policy, case: Case) -> Decision:
    """Evaluate every rule of ``policy`` for one case, as ISE would."""
    steps: list[RuleStep] = []
    decided = False
    for rule in policy.rules:
        os_ok, os_why = _os_reason(rule, case.placement)
        group_ok, group_why = _group_reason(rule, case.group)
        if not rule.enabled:
            would = os_ok and group_ok and not decided
            note = " (it would match if enabled)" if would else ""
            steps.append(RuleStep(rule, Verdict.DISABLED, f"disabled{note}", would_match=would))
            continue
        if decided:
            steps.append(RuleStep(rule, Verdict.NOT_REACHED, "an earlier rule matched"))
            continue
        if not os_ok:
            steps.append(RuleStep(rule, Verdict.OS_MISMATCH, os_why))
            continue
        if not group_ok:
            steps.append(RuleStep(rule, Verdict.GROUP_MISMATCH, f"{os_why}; {group_why}"))
            continue
        if rule.conditional:
            conditions = " AND ".join(rule.other_conditions)
            steps.append(
                RuleStep(
                    rule,
                    Verdict.CONDITIONAL,
                    f"{os_why}; {group_why}; matches only when {conditions} "
                    "(otherwise evaluation goes on)",
                )
            )
            continue
        steps.append(RuleStep(rule, Verdict.MATCH, f"{os_why}; {group_why}; first match wins"))
        decided = True
    return Decision(case, tuple(steps))
