"""Evaluate service conditions, requirements and policies against launchd evidence.

Operator semantics (docs/posture.md, "How evaluation decides"), over the jobs whose label
matches the service name (or glob) and whose kind the service type admits:
- ``loaded``: at least one such job is present in an input;
- ``not-loaded``: none is;
- ``running``: one is running (``state = running``; for ``launchctl list``, a PID);
- ``exit-code``: one is loaded, not running, and its last exit code equals the value
  (a job killed by a signal has no exit code);
- ``running-or-exit-code``: one is running or passes ``exit-code``.
Posture status is NonCompliant when an applicable mandatory policy fails; optional and
audit policies are reported but never make the endpoint non-compliant (as ISE does).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from feedmgr.findings import Finding, Report, Severity
from feedmgr.posture.criteria import evaluate as evaluate_criteria
from feedmgr.posture.criteria import to_agent_text
from feedmgr.posture.launchd import JobRecord, PlistFile
from feedmgr.posture.model import (
    Enforcement,
    Operator,
    Policy,
    PostureSpec,
    Requirement,
    ServiceCondition,
)

# When several inputs describe the same job, the most detailed one wins field by field.
_SOURCE_PRIORITY = {"print": 0, "dumpstate": 1, "list": 2}


@dataclass(frozen=True)
class Evidence:
    """The launchd jobs relevant to a spec, merged per ``DOMAIN/LABEL``, and the inputs read."""

    records: tuple[JobRecord, ...]
    inputs: tuple[str, ...]
    plists: tuple[PlistFile, ...] = ()
    plist_listing: bool = False


def label_filter(spec: PostureSpec) -> Callable[[str], bool]:
    """A predicate: is a launchd label named by some condition of ``spec`` (exact or glob)?"""
    exact = frozenset(c.service for c in spec.conditions if not c.is_glob)
    globs = [fnmatch.translate(c.service) for c in spec.conditions if c.is_glob]
    # One compiled alternation: this runs once per job of a dumpstate (about 100 000).
    pattern = re.compile("|".join(globs)) if globs else None

    def wanted(label: str) -> bool:
        return label in exact or (pattern is not None and pattern.match(label) is not None)

    return wanted


def gather(
    spec: PostureSpec,
    streams: Sequence[tuple[str, Iterable[JobRecord]]],
    plists: Iterable[PlistFile] | None = None,
    wanted: Callable[[str], bool] | None = None,
) -> Evidence:
    """Consume record streams, keeping only jobs some condition names (memory grows with
    those jobs only, not with the input).

    ``streams`` pairs an input description with its parser's records; parsing happens here,
    so the parsers' ``ParseError`` propagates from this call. ``plists`` is an optional
    listing of plist files on the Mac (None: no listing was captured). ``wanted`` is
    ``label_filter(spec)``, for callers that gather many times with one spec.
    """
    wanted = wanted or label_filter(spec)
    kept: dict[tuple[str, str], JobRecord] = {}
    for _, records in streams:
        for record in records:
            label = record.label
            if not wanted(label):
                continue
            key = (record.domain, label)
            known = kept.get(key)
            if known is None:
                kept[key] = record
            elif _SOURCE_PRIORITY[record.source] < _SOURCE_PRIORITY[known.source.split("+")[0]]:
                kept[key] = record.merged(known)
            else:
                kept[key] = known.merged(record)
    ordered = sorted(kept.values(), key=lambda r: (r.label, r.domain))
    files = tuple(p for p in plists or () if wanted(p.label))
    return Evidence(tuple(ordered), tuple(name for name, _ in streams), files, plists is not None)


@dataclass(frozen=True)
class ConditionResult:
    """One condition's outcome, the jobs it looked at, and why it passed or failed."""

    condition: ServiceCondition
    passed: bool
    reason: str
    matched: tuple[JobRecord, ...]
    ignored: tuple[JobRecord, ...]
    deciding: tuple[JobRecord, ...]
    plists: tuple[PlistFile, ...] = ()


def _exit_matches(record: JobRecord, code: int) -> bool:
    return not record.running and record.last_exit_code == code


def _kinds(condition: ServiceCondition) -> str:
    return condition.service_type.ise_name.lower()


def evaluate_condition(condition: ServiceCondition, evidence: Evidence) -> ConditionResult:
    """Decide one condition from the evidence (see the module docstring for semantics)."""
    labelled = [r for r in evidence.records if condition.matches(r.label)]
    matched = tuple(r for r in labelled if condition.service_type.admits(r.kind))
    ignored = tuple(r for r in labelled if not condition.service_type.admits(r.kind))
    plists = tuple(
        p
        for p in evidence.plists
        if condition.matches(p.label) and condition.service_type.admits(p.kind)
    )
    what = f"{_kinds(condition)} {condition.service}" + (" (glob)" if condition.is_glob else "")
    inputs = ", ".join(evidence.inputs) or "no input"
    operator = condition.operator
    code = condition.exit_code
    if operator is Operator.LOADED:
        deciding = matched
        reason = f"loaded: {len(matched)} job(s)" if matched else f"no {what} loaded in {inputs}"
    elif operator is Operator.NOT_LOADED:
        deciding = matched
        reason = f"not loaded in {inputs}" if not matched else f"{what} is loaded"
        return ConditionResult(
            condition,
            not matched,
            _with_plists(reason, matched, plists, evidence),
            matched,
            ignored,
            deciding,
            plists,
        )
    elif operator is Operator.RUNNING:
        deciding = tuple(r for r in matched if r.running)
        reason = (
            f"loaded and running ({len(deciding)} job(s))"
            if deciding
            else _why_not(what, matched, inputs, "running")
        )
    elif operator is Operator.EXIT_CODE:
        deciding = tuple(r for r in matched if _exit_matches(r, code))
        reason = (
            f"not running, last exit code = {code}"
            if deciding
            else _why_not(what, matched, inputs, f"stopped with exit code {code}")
        )
    else:
        deciding = tuple(r for r in matched if r.running or _exit_matches(r, code))
        reason = (
            "running or last exit code = " + str(code)
            if deciding
            else _why_not(what, matched, inputs, f"running or stopped with exit code {code}")
        )
    if not deciding:
        reason = _with_plists(reason, matched, plists, evidence)
    return ConditionResult(condition, bool(deciding), reason, matched, ignored, deciding, plists)


def _with_plists(
    reason: str, matched: Sequence[JobRecord], plists: Sequence[PlistFile], evidence: Evidence
) -> str:
    """Say whether a job that is not loaded has a plist on disk (the field document's two
    kinds of "not loaded": plist present but not loaded, or no plist at all)."""
    if matched or not evidence.plist_listing:
        return reason
    if plists:
        return f"{reason}; plist present but not loaded: " + ", ".join(p.path for p in plists)
    return f"{reason}; no plist for it in the plist listing"


def _why_not(what: str, matched: Sequence[JobRecord], inputs: str, wanted: str) -> str:
    if not matched:
        return f"no {what} loaded in {inputs}"
    seen = "; ".join(record.describe() for record in matched[:3])
    more = f"; and {len(matched) - 3} more" if len(matched) > 3 else ""
    return f"{what} is loaded but not {wanted} (found {seen}{more})"


@dataclass(frozen=True)
class RequirementResult:
    """A requirement's criteria evaluated over its conditions' results."""

    requirement: Requirement
    passed: bool
    conditions: tuple[ConditionResult, ...]

    @property
    def criteria_text(self) -> str:
        """The criteria as the agent receives them."""
        return to_agent_text(self.requirement.criteria)


class PolicyStatus(StrEnum):
    """A policy's line in the ISE posture report."""

    PASSED = "Passed"
    FAILED = "Failed"
    SKIPPED = "Skipped"


@dataclass(frozen=True)
class PolicyResult:
    """One posture policy: status and passed / failed / skipped condition names."""

    policy: Policy
    status: PolicyStatus
    passed: tuple[str, ...]
    failed: tuple[str, ...]
    skipped: tuple[str, ...]
    note: str = ""


class PostureStatus(StrEnum):
    """The endpoint's overall posture status, as ISE reports it."""

    COMPLIANT = "Compliant"
    NON_COMPLIANT = "NonCompliant"
    NOT_APPLICABLE = "NotApplicable"


@dataclass(frozen=True)
class PostureResult:
    """Everything one evaluation found."""

    status: PostureStatus
    conditions: tuple[ConditionResult, ...]
    requirements: tuple[RequirementResult, ...]
    policies: tuple[PolicyResult, ...]
    inputs: tuple[str, ...]
    plist_listing: bool = False

    @property
    def compliant(self) -> bool:
        """False only for NonCompliant."""
        return self.status is not PostureStatus.NON_COMPLIANT


def evaluate_spec(
    spec: PostureSpec, evidence: Evidence, identity_group: str | None = None
) -> PostureResult:
    """Evaluate every condition, requirement and policy of ``spec``.

    A policy is skipped when it is disabled, is not for macOS, or does not cover
    ``identity_group``; its conditions are then reported as skipped.
    """
    conditions = tuple(evaluate_condition(c, evidence) for c in spec.conditions)
    by_name = {r.condition.name: r for r in conditions}
    requirements = tuple(
        RequirementResult(
            requirement,
            evaluate_criteria(requirement.criteria, {n: by_name[n].passed for n in by_name}),
            tuple(by_name[name] for name in requirement.conditions),
        )
        for requirement in spec.requirements
    )
    req_by_name = {r.requirement.name: r for r in requirements}
    policies = tuple(
        _policy_result(p, req_by_name[p.requirement], identity_group)
        for p in spec.effective_policies()
    )
    applicable = [p for p in policies if p.status is not PolicyStatus.SKIPPED]
    if not applicable:
        status = PostureStatus.NOT_APPLICABLE
    elif any(
        p.status is PolicyStatus.FAILED and p.policy.enforcement is Enforcement.MANDATORY
        for p in applicable
    ):
        status = PostureStatus.NON_COMPLIANT
    else:
        status = PostureStatus.COMPLIANT
    return PostureResult(
        status, conditions, requirements, policies, evidence.inputs, evidence.plist_listing
    )


def _policy_result(
    policy: Policy, requirement: RequirementResult, identity_group: str | None
) -> PolicyResult:
    names = tuple(c.condition.name for c in requirement.conditions)
    skip = ""
    if not policy.enabled:
        skip = "policy disabled"
    elif not policy.applies_to_macos:
        skip = "policy is not for macOS (" + ", ".join(policy.os) + ")"
    elif not policy.matches_group(identity_group):
        skip = f"identity group {identity_group} not in " + ", ".join(policy.identity_groups)
    if skip:
        return PolicyResult(policy, PolicyStatus.SKIPPED, (), (), names, skip)
    passed = tuple(c.condition.name for c in requirement.conditions if c.passed)
    failed = tuple(c.condition.name for c in requirement.conditions if not c.passed)
    status = PolicyStatus.PASSED if requirement.passed else PolicyStatus.FAILED
    return PolicyResult(policy, status, passed, failed, ())


def to_report(result: PostureResult, title: str) -> Report:
    """The evaluation as findings, for runs that combine several checks into one Report.

    ``posture.policy``: fail for a failed mandatory policy, warn for a failed optional one,
    info otherwise (passed, skipped, audit). ``posture.condition``: info, one per
    condition, with its evidence (a failed condition is not a problem by itself: criteria
    may allow it). Check ids are documented in docs/posture.md.
    """
    findings: list[Finding] = []
    requirements = {r.requirement.name: r for r in result.requirements}
    for policy in result.policies:
        requirement = requirements[policy.policy.requirement]
        severity = Severity.INFO
        if policy.status is PolicyStatus.FAILED:
            severity = {
                Enforcement.MANDATORY: Severity.FAIL,
                Enforcement.OPTIONAL: Severity.WARN,
                Enforcement.AUDIT: Severity.INFO,
            }[policy.policy.enforcement]
        if policy.status is PolicyStatus.SKIPPED:
            message = f"skipped: {policy.note}"
        else:
            message = (
                f"{policy.policy.enforcement.ise_name} requirement {requirement.requirement.name} "
                f"{policy.status.value.lower()}: criteria {requirement.criteria_text}, "
                f"failed conditions: {', '.join(policy.failed) or 'none'}"
            )
        findings.append(
            Finding(
                check="posture.policy",
                severity=severity,
                subject=policy.policy.name,
                message=message,
                fix=requirement.requirement.message if policy.status is PolicyStatus.FAILED else "",
                data={
                    "status": policy.status.value,
                    "enforcement": policy.policy.enforcement.value,
                    "passed_conditions": list(policy.passed),
                    "failed_conditions": list(policy.failed),
                    "skipped_conditions": list(policy.skipped),
                },
            )
        )
    for condition in result.conditions:
        findings.append(
            Finding(
                check="posture.condition",
                severity=Severity.INFO,
                subject=condition.condition.name,
                message=("passed: " if condition.passed else "failed: ") + condition.reason,
                data={
                    "passed": condition.passed,
                    "evidence": [r.describe() for r in condition.matched],
                },
            )
        )
    facts = {"posture status": result.status.value, "inputs": ", ".join(result.inputs)}
    return Report(title, tuple(findings), facts)
