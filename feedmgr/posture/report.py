"""Text and JSON renderings of evaluation results and log scans (stable JSON contract,
documented in docs/posture.md)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from feedmgr.escape import join_lines
from feedmgr.posture.agentxml import AgentCheck, AgentPackage
from feedmgr.posture.criteria import to_agent_text
from feedmgr.posture.evaluate import ConditionResult, PolicyResult, PostureResult
from feedmgr.posture.iseaudit import NEVER_POSTURED, AuditSummary, EndpointPosture
from feedmgr.posture.launchd import JobRecord
from feedmgr.posture.logscan import Found, LogScan, Outcome, Reported, ReportedPolicy
from feedmgr.posture.model import GLOB_READING, ServiceCondition
from feedmgr.render.text import aligned

EVAL_SCHEMA = "feedmgr-posture-eval/1"
SCAN_SCHEMA = "feedmgr-posture-log/1"
AUDIT_SCHEMA = "feedmgr-posture-audit-syslog/1"
BUNDLE_SCHEMA = "feedmgr-posture-bundle/1"
NOTHING_COMPARED = (
    "nothing was compared: the file renders no package (none of its policies is enabled "
    "for macOS), so no requirement was checked against the log"
)
NOT_EVALUATED = "extracted, not evaluated: feedmgr evaluates service checks (category 3) only"


def _where(record: JobRecord) -> str:
    return f"{record.origin}:{record.line}"


def _service(condition: ServiceCondition) -> str:
    return condition.service + (" (glob)" if condition.is_glob else "")


def _condition_head(condition: ServiceCondition) -> str:
    operator = condition.operator.ise_name
    if condition.operator.uses_exit_code:
        operator += f" {condition.exit_code}"
    return f"{_service(condition)}, {operator}, {condition.service_type.ise_name}"


def _condition_text(result: ConditionResult) -> list[str]:
    tag = "PASS" if result.passed else "FAIL"
    lines = [f"  {tag}  {result.condition.name}: {_condition_head(result.condition)}"]
    if result.condition.is_glob:
        lines.append(
            f"        {GLOB_READING}: the agent takes {result.condition.service!r} literally "
            "(CSCwf01373)"
        )
    lines.append(f"        {result.reason}")
    for record in result.matched:
        lines.append(f"        {record.describe()}  [{_where(record)}]")
    for plist in result.plists:
        lines.append(f"        plist: {plist.path}")
    for record in result.ignored:
        lines.append(
            f"        ignored (a {record.kind.value}, not a "
            f"{result.condition.service_type.ise_name}): {record.describe()}  [{_where(record)}]"
        )
    return lines


def _names(names: tuple[str, ...]) -> str:
    return ", ".join(names) or "-"


def _policy_row(result: PolicyResult) -> list[str]:
    return [
        result.policy.name,
        result.policy.requirement,
        result.policy.enforcement.ise_name,
        result.status.value,
        _names(result.passed),
        _names(result.failed),
        _names(result.skipped),
    ]


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["  " + line for line in aligned([header, *rows])]


def render_eval_text(result: PostureResult, subject: str) -> str:
    """The evaluation as text: conditions with evidence, requirements, ISE-style report."""
    lines = [f"Posture evaluation of {subject}", "  inputs: " + (", ".join(result.inputs) or "-")]
    lines += ["", "Conditions"]
    for condition in result.conditions:
        lines += _condition_text(condition)
    lines += ["", "Requirements"]
    for requirement in result.requirements:
        tag = "PASS" if requirement.passed else "FAIL"
        values = ", ".join(
            f"{c.condition.name}={'true' if c.passed else 'false'}" for c in requirement.conditions
        )
        globs = _globs(c.condition for c in requirement.conditions)
        lines.append(
            f"  {tag}  {requirement.requirement.name}: {requirement.criteria_text} "
            f"-> {'true' if requirement.passed else 'false'} ({values})"
            + (f" [{GLOB_READING}: glob {globs}]" if globs else "")
        )
        if not requirement.passed:
            lines.append(
                f"        remediation (message text only): {requirement.requirement.message}"
            )
    lines += ["", "Posture Report", f"  Posture Status: {result.status.value}"]
    globs = _globs(c.condition for c in result.conditions)
    if globs:
        lines.append(
            f"  ({GLOB_READING}: glob condition(s) {globs}, which ISE and the agent take "
            "literally; the agent's own verdict may be the opposite)"
        )
    lines.append("")
    header = [
        "Policy",
        "Name",
        "Enforcement Type",
        "Status",
        "Passed Conditions",
        "Failed Conditions",
        "Skipped Conditions",
    ]
    lines += _table(header, [_policy_row(p) for p in result.policies])
    for policy in result.policies:
        if policy.note:
            lines.append(f"  {policy.policy.name}: skipped: {policy.note}")
    return join_lines(lines)


def _globs(conditions: Iterable[ServiceCondition]) -> str:
    return ", ".join(c.name for c in conditions if c.is_glob)


def record_json(record: JobRecord) -> dict[str, Any]:
    """One job record as JSON."""
    return {
        "target": record.target,
        "evidence": record.describe(),
        "kind": record.kind.value,
        "source": record.source,
        "origin": record.origin,
        "line": record.line,
        "state": record.state,
        "pid": record.pid,
        "last_exit_code": record.last_exit_code,
        "signal": record.signal,
        "type": record.job_type,
    }


def condition_json(condition: ServiceCondition) -> dict[str, Any]:
    """A condition as JSON (feedmgr names plus ISE display names)."""
    return {
        "name": condition.name,
        "service": condition.service,
        "glob": condition.is_glob,
        "service_type": condition.service_type.value,
        "service_type_ise": condition.service_type.ise_name,
        "operator": condition.operator.value,
        "operator_ise": condition.operator.ise_name,
        "exit_code": condition.exit_code,
    }


def eval_json(result: PostureResult, subject: str) -> dict[str, Any]:
    """The documented JSON document of ``posture eval``."""
    return {
        "schema": EVAL_SCHEMA,
        "file": subject,
        "posture_status": result.status.value,
        "compliant": result.compliant,
        "agent_reading": not any(c.condition.is_glob for c in result.conditions),
        "warnings": [c.condition.glob_warning for c in result.conditions if c.condition.is_glob],
        "inputs": list(result.inputs),
        "plist_listing": result.plist_listing,
        "conditions": [
            {
                **condition_json(c.condition),
                "passed": c.passed,
                "reason": c.reason,
                "evidence": [record_json(r) for r in c.matched],
                "ignored": [record_json(r) for r in c.ignored],
                "plists": [p.path for p in c.plists],
                "agent_reading": not c.condition.is_glob,
            }
            for c in result.conditions
        ],
        "requirements": [
            {
                "name": r.requirement.name,
                "criteria": r.criteria_text,
                "passed": r.passed,
                "agent_reading": not any(c.condition.is_glob for c in r.conditions),
                "conditions": {c.condition.name: c.passed for c in r.conditions},
                "message": r.requirement.message,
            }
            for r in result.requirements
        ],
        "policies": [
            {
                "policy": p.policy.name,
                "name": p.policy.requirement,
                "enforcement_type": p.policy.enforcement.ise_name,
                "status": p.status.value,
                "passed_conditions": list(p.passed),
                "failed_conditions": list(p.failed),
                "skipped_conditions": list(p.skipped),
                "note": p.note,
            }
            for p in result.policies
        ],
    }


def not_evaluated_note(check: AgentCheck) -> str:
    """Why feedmgr lists ``check`` without evaluating it."""
    if check.unrecognised:
        return (
            "service check not recognised, listed as received, not evaluated: " + check.unrecognised
        )
    return NOT_EVALUATED


def other_check_json(check: AgentCheck) -> dict[str, Any]:
    """A check feedmgr does not evaluate, as the agent received it."""
    return {
        "name": check.name,
        "category": check.category,
        "type": check.check_type,
        "fields": dict(check.fields),
        "evaluated": False,
        "unrecognised": check.unrecognised or None,
        "note": not_evaluated_note(check),
    }


def package_json(package: AgentPackage) -> dict[str, Any]:
    """A package (requirement as the agent sees it) as JSON."""
    return {
        "id": package.package_id,
        "name": package.name,
        "message": package.description,
        "optional": package.optional,
        "criteria": to_agent_text(package.criteria),
        "checks": [condition_json(c) for c in package.checks],
        "other_checks": [other_check_json(c) for c in package.other_checks],
    }


def _reported(value: Reported | None) -> dict[str, Any] | None:
    if value is None:
        return None
    return {"value": value.value, "line": value.line, "time": value.time}


def outcome_json(outcome: Outcome) -> dict[str, Any]:
    """The posture outcome as the log reports it (docs/posture.md)."""
    return {
        "posture_status": _reported(outcome.final_status),
        "posture_status_history": [_reported(r) for r in outcome.posture_status],
        "agent_status": [
            {
                "status": a.status,
                "compliant": a.compliant,
                "description": a.description,
                "line": a.line,
                "time": a.time,
            }
            for a in outcome.agent_status
        ],
        "policies_matched": [_reported(r) for r in outcome.policies_matched],
        "policy_results": [_policy_result_json(r) for r in outcome.policy_results],
        "cp_decision": _reported(outcome.cp_decision[-1]) if outcome.cp_decision else None,
    }


def scan_json(scan: LogScan, encoding: str = "utf-8") -> dict[str, Any]:
    """The documented JSON document of ``posture parse-log`` for one log."""
    return {
        "schema": SCAN_SCHEMA,
        "log": scan.origin,
        "encoding": encoding,
        "lines": scan.lines,
        "documents": scan.documents,
        "documents_cut": scan.documents_cut,
        "ise_versions": list(scan.ise_versions),
        "requirements": [
            {**package_json(f.item), "seen": f.count, "at_lines": list(f.lines)}
            for f in scan.packages
            if isinstance(f.item, AgentPackage)
        ],
        "conditions": [
            {**condition_json(f.item), "seen": f.count, "at_lines": list(f.lines)}
            for f in scan.checks
            if isinstance(f.item, ServiceCondition)
        ],
        "other_checks": [
            {**other_check_json(f.item), "seen": f.count, "at_lines": list(f.lines)}
            for f in scan.checks
            if isinstance(f.item, AgentCheck)
        ],
        "result_lines": [{"line": n, "time": ts, "text": t} for n, ts, t in scan.result_lines],
        "outcome": outcome_json(scan.outcome),
        "problems": [{"line": n, "problem": t} for n, t in scan.problems],
    }


def _outcome_text(outcome: Outcome) -> list[str]:
    lines = ["", "Outcome (as the log reports it)"]
    final = outcome.final_status
    when = f", {final.time}" if final is not None and final.time else ""
    lines.append(
        f"  posture status: {final.value} (line {final.line}{when})"
        if final is not None
        else "  posture status: not in this log"
    )
    if outcome.agent_status:
        last = outcome.agent_status[-1]
        lines.append(
            f"  agent status (last of {len(outcome.agent_status)}): Status:{last.status}, "
            f"Compliant:{last.compliant}, {last.description!r} (line {last.line})"
        )
    for matched in outcome.policies_matched[-1:]:
        lines.append(f"  posture policies matched: {matched.value} (line {matched.line})")
    for result in outcome.policy_results:
        lines.append(
            f"  policy {result.policy}: {result.status}"
            + (
                f" (requirement {result.requirement}, {result.enforcement}, "
                f"{result.requirement_status}; failed: {', '.join(result.failed) or '-'})"
                if result.requirement
                else f" {result.detail}"
            )
            + f" (line {result.line})"
        )
    cp = outcome.cp_decision[-1] if outcome.cp_decision else None
    lines.append(
        f"  client provisioning: {cp.value} (line {cp.line})"
        if cp is not None
        else "  client provisioning: no CP decision in this log"
    )
    return lines


def render_comparison(
    comparison: Mapping[str, str],
    against: str,
    differences: Mapping[str, tuple[str, ...]] | None = None,
) -> str:
    """The comparison of the logs with a condition file, requirement by requirement, each
    ``differs`` with what differs."""
    if not comparison:
        return join_lines([f"Compared with {against}: {NOTHING_COMPARED}"])
    lines = [f"Compared with {against}"]
    for name, state in comparison.items():
        lines.append(f"  {name}: {state}")
        lines += [f"    {difference}" for difference in (differences or {}).get(name, ())]
    return join_lines(lines)


def render_scan_text(scan: LogScan) -> str:
    """The log scan as text."""
    lines = [
        f"{scan.origin}: {scan.lines} lines, {scan.documents} whole <cleanmachines> "
        f"document(s)"
        + (f", {scan.documents_cut} cut" if scan.documents_cut else "")
        + (f" from {', '.join(scan.ise_versions)}" if scan.ise_versions else ""),
    ]
    if not scan.recognised:
        lines.append(
            "  nothing about posture in this log: no requirement, check, result line or "
            "posture status (this does not mean the endpoint is compliant)"
        )
    lines += ["", f"Requirements ({len(scan.packages)})"]
    for found in scan.packages:
        if isinstance(found.item, AgentPackage):
            package = found.item
            lines.append(
                f"  {package.name} (package {package.package_id}): "
                f"criteria {to_agent_text(package.criteria)}, message {package.description!r}, "
                f"seen {found.count}x at lines {_lines(found.lines)}"
            )
    services = [f for f in scan.checks if isinstance(f.item, ServiceCondition)]
    lines += ["", f"Conditions ({len(services)})"]
    for found in services:
        condition = found.item
        assert isinstance(condition, ServiceCondition)
        lines.append(
            f"  {condition.name}: {_condition_head(condition)}, "
            f"seen {found.count}x at lines {_lines(found.lines)}"
        )
    unknown = [f for f in scan.checks if isinstance(f.item, AgentCheck) and f.item.unrecognised]
    if unknown:
        lines += [
            "",
            f"Service checks not recognised ({len(unknown)}): listed as received, not "
            "evaluated (their requirements are listed above)",
        ]
        lines += _other_check_lines(unknown)
    others = [f for f in scan.checks if isinstance(f.item, AgentCheck) and not f.item.unrecognised]
    if others:
        lines += ["", f"Other checks ({len(others)}): {NOT_EVALUATED}"]
        lines += _other_check_lines(others)
    lines += ["", f"Check result lines ({len(scan.result_lines)})"]
    lines += [f"  {n}: {t}" for n, _, t in scan.result_lines]
    lines += _outcome_text(scan.outcome)
    if scan.problems:
        lines += ["", f"Problems ({len(scan.problems)})"]
        lines += [f"  {t}" for _, t in scan.problems]
    return join_lines(lines)


def _other_check_lines(found_checks: list[Found]) -> list[str]:
    lines = []
    for found in found_checks:
        check = found.item
        assert isinstance(check, AgentCheck)
        fields = ", ".join(f"{k}={v!r}" for k, v in check.fields)
        lines.append(
            f"  {check.name}: category {check.category}, type {check.check_type}"
            + (f", {fields}" if fields else "")
            + f", seen {found.count}x at lines {_lines(found.lines)}"
        )
        if check.unrecognised:
            lines.append(f"    not recognised: {check.unrecognised}")
    return lines


def _lines(numbers: tuple[int, ...]) -> str:
    return ", ".join(str(n) for n in numbers)


def _policy_result_json(result: ReportedPolicy) -> dict[str, Any]:
    return {
        "policy": result.policy,
        "status": result.status,
        "requirement": result.requirement,
        "enforcement": result.enforcement,
        "requirement_status": result.requirement_status,
        "passed_conditions": list(result.passed),
        "failed_conditions": list(result.failed),
        "skipped_conditions": list(result.skipped),
        "detail": result.detail,
        "line": result.line,
    }


def _endpoint_json(endpoint: EndpointPosture) -> dict[str, Any]:
    return {
        "endpoint": endpoint.endpoint,
        "os": endpoint.os,
        "status": endpoint.status,
        "category": endpoint.category,
        "line": endpoint.line,
        "time": endpoint.time,
        "agent": endpoint.agent,
        "policies_matched": endpoint.policies_matched,
        "policy_results": [_policy_result_json(r) for r in endpoint.results],
    }


def audit_json(summary: AuditSummary, cp_policy: str | None) -> dict[str, Any]:
    """The documented JSON document of ``posture audit-syslog``."""
    return {
        "schema": AUDIT_SCHEMA,
        "log": summary.origin,
        "lines": summary.lines,
        "messages": summary.messages,
        "posture_messages": summary.posture_messages,
        "incomplete_messages": summary.incomplete,
        "unreadable_lines": summary.unreadable,
        "endpoints": len(summary.endpoints),
        "statuses": summary.statuses,
        "cp_policy": cp_policy,
        "by_os": [
            {
                "os": o.os,
                "statuses": o.statuses,
                "never_postured": [_endpoint_json(e) for e in o.never_postured],
                "cp_prediction": (
                    {
                        "outcome": o.prediction.outcome,
                        "rule": o.prediction.rule,
                        "reason": o.prediction.reason,
                        "gap": o.prediction.gap,
                    }
                    if o.prediction is not None
                    else None
                ),
                "confirmed_gap": o.confirmed_gap,
            }
            for o in summary.by_os
        ],
        "endpoint_list": [_endpoint_json(e) for e in summary.endpoints],
    }


def render_audit_text(summary: AuditSummary, cp_policy: str | None) -> str:
    """The posture audit as text: per OS and status, never-postured endpoints, and the CP
    prediction beside them when a CP policy was given."""
    statuses = ", ".join(f"{k} {v}" for k, v in summary.statuses.items()) or "none"
    lines = [
        f"{summary.origin}: {summary.lines} lines, {summary.messages} ISE message(s), "
        f"{summary.posture_messages} with a posture status, {len(summary.endpoints)} "
        f"endpoint(s): {statuses}",
    ]
    if summary.incomplete:
        lines.append(f"  {summary.incomplete} message(s) incomplete (segments missing)")
    if summary.unreadable:
        lines.append(
            f"  {summary.unreadable} line(s) name an ISE category but could not be read "
            "(syslog header in no known form: BSD, RFC 3339, RFC 5424); not counted"
        )
    if not summary.posture_messages:
        lines.append(
            "  no message carries PostureStatus or PostureAssessmentStatus: this file says "
            "nothing about posture (it does not mean endpoints are compliant)"
        )
    header = ["OS", "Status counts", "Never postured"]
    if cp_policy is not None:
        header += [f"CP prediction ({cp_policy})", "Field evidence"]
    rows = []
    for o in summary.by_os:
        row = [
            o.os or "(OS not in message)",
            ", ".join(f"{k} {v}" for k, v in o.statuses.items()),
            str(len(o.never_postured)),
        ]
        if cp_policy is not None:
            p = o.prediction
            row.append("-" if p is None else p.outcome + (f" by {p.rule!r}" if p.rule else ""))
            row.append(
                "gap confirmed"
                if o.confirmed_gap
                else (
                    "not explained by CP"
                    if o.never_postured and p is not None and not p.gap
                    else "-"
                )
            )
        rows.append(row)
    lines += ["", *_table(header, rows)]
    never = [e for o in summary.by_os for e in o.never_postured]
    if never:
        lines += ["", f"Never postured ({' or '.join(NEVER_POSTURED)}): {len(never)}"]
        lines += [
            f"  {e.endpoint}: {e.os or '(OS not in message)'}, {e.status} "
            f"({e.category}, line {e.line}, {e.time})"
            for e in never[:200]
        ]
    for o in summary.by_os:
        if o.prediction is not None and o.prediction.reason and o.never_postured:
            lines.append(f"  {o.os}: CP: {o.prediction.reason}")
        if o.confirmed_gap:
            # The CP audit owns the fix (rule on the umbrella node, feed update...).
            lines.append(
                f"    how to fix: feedmgr provisioning match {cp_policy} --os {o.os!r} "
                "shows the rules and the fix"
            )
    return join_lines(lines)
