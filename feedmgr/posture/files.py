"""Condition files (YAML or JSON): the edge where pydantic validates, then frozen types.

The format is documented in docs/posture.md; ``load_spec`` is the only entry point.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, ValidationError

from feedmgr.errors import ParseError, SchemaError
from feedmgr.feed._model import EdgeModel
from feedmgr.feed.manifest import first_error, unknown_key_hint
from feedmgr.posture.criteria import CriteriaError, all_of, names, parse_criteria
from feedmgr.posture.model import (
    Enforcement,
    Operator,
    Policy,
    PostureSpec,
    Requirement,
    ServiceCondition,
    ServiceType,
)
from feedmgr.textio import decode_text

FORMAT = "feedmgr-posture/1"
# Condition files are small; the bound keeps a mistaken path (a dumpstate, a disk image)
# from being read whole into memory.
MAX_FILE_BYTES = 4 * 1024 * 1024

_ISE_NAME = r"^[A-Za-z0-9_.\-]{1,200}$"
IseName = Annotated[str, Field(pattern=_ISE_NAME)]
Text = Annotated[str, Field(max_length=2000)]
# OS names and identity groups: non-empty lists of short names.
ShortNames = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=100)]], Field(min_length=1)
]


def _choice(enum: type[Operator] | type[ServiceType] | type[Enforcement]) -> Any:
    """A validator accepting the feedmgr name or the ISE display name, case-insensitively."""

    def check(value: str) -> str:
        for member in enum:
            if value.casefold() in (member.value.casefold(), member.ise_name.casefold()):
                return member.value
        choices = ", ".join(f"{m.value} ({m.ise_name})" for m in enum)
        raise ValueError(f"unknown {enum.__name__} {value!r}: expected one of {choices}")

    return AfterValidator(check)


class ConditionDoc(EdgeModel):
    """One service condition as written in the file."""

    name: IseName
    description: Text = ""
    service: Annotated[str, Field(pattern=r"^[^\s/]{1,255}$")]
    service_type: Annotated[str, _choice(ServiceType)] = ServiceType.DAEMON_OR_USER_AGENT.value
    operator: Annotated[str, _choice(Operator)]
    exit_code: int | None = None


class RequirementDoc(EdgeModel):
    """One requirement as written in the file."""

    name: IseName
    os: ShortNames = Field(default_factory=lambda: ["Mac OSX"])
    compliance_module: Text = "4.x or later"
    posture_type: Literal["Agent", "Agent Stealth"] = "Agent"
    conditions: list[IseName] | None = None
    criteria: Annotated[str, Field(max_length=10_000)] | None = None
    remediation: Literal["message-text-only", "Message Text Only"] = "message-text-only"
    message: Text
    package_id: Annotated[int, Field(ge=0)] = 0


class PolicyDoc(EdgeModel):
    """One posture policy as written in the file."""

    name: IseName
    enabled: bool = True
    requirement: IseName
    enforcement: Annotated[str, _choice(Enforcement)] = Enforcement.MANDATORY.value
    os: ShortNames = Field(default_factory=lambda: ["Mac OSX"])
    identity_groups: ShortNames = Field(default_factory=lambda: ["Any"])


class PostureDoc(EdgeModel):
    """A whole condition file."""

    format: Literal["feedmgr-posture/1"]
    conditions: Annotated[list[ConditionDoc], Field(min_length=1)]
    requirements: list[RequirementDoc] = Field(default_factory=list)
    policies: list[PolicyDoc] = Field(default_factory=list)


def _item(document: Any, loc: tuple[int | str, ...]) -> str:
    """``conditions[0] (macOS-Service-Condition).operator`` for a pydantic error location."""
    parts: list[str] = []
    node = document
    for key in loc:
        if isinstance(key, int):
            parts[-1:] = [f"{parts[-1] if parts else ''}[{key}]"]
            node = node[key] if isinstance(node, list) and key < len(node) else None
            if isinstance(node, dict) and isinstance(node.get("name"), str):
                parts[-1] += f" ({node['name']})"
        else:
            parts.append(str(key))
            node = node.get(key) if isinstance(node, dict) else None
    return ".".join(parts) or "(document)"


def _read(path: Path) -> Any:
    subject = str(path)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise SchemaError(subject, f"cannot read: {exc.strerror or exc}") from exc
    if len(data) > MAX_FILE_BYTES:
        raise SchemaError(subject, f"larger than {MAX_FILE_BYTES} bytes: not a condition file")
    try:
        text = decode_text(data)
    except UnicodeDecodeError as exc:
        raise SchemaError(subject, f"not UTF-8 text: {exc.reason} at byte {exc.start}") from exc
    import yaml

    from feedmgr.uniquekeys import load_json_strict, load_strict

    if path.suffix.lower() == ".json":
        try:
            return load_json_strict(text, subject)
        except ParseError as exc:
            raise SchemaError(subject, exc.problem) from exc
        except json.JSONDecodeError as exc:
            raise SchemaError(subject, f"not valid JSON: {exc}") from exc

    try:
        return load_strict(text, subject)
    except ParseError as exc:
        raise SchemaError(subject, exc.problem) from exc
    except yaml.YAMLError as exc:
        problem = str(exc).replace("\n", " ")
        raise SchemaError(subject, f"not valid YAML: {problem}") from exc


def load_spec(path: Path) -> PostureSpec:
    """Read, validate and cross-check a condition file.

    Raises:
        SchemaError: naming the file, the item and the reason, for unreadable or malformed
            files, unknown operators, missing exit codes, criteria naming unknown
            conditions, unbalanced parentheses, duplicate or dangling names.
    """
    document = _read(path)
    return spec_from_document(document, str(path))


def spec_from_document(document: Any, subject: str) -> PostureSpec:
    """Validate an already-parsed document (see ``load_spec``).

    Raises:
        SchemaError: as ``load_spec``.
    """
    if not isinstance(document, dict):
        raise SchemaError(subject, "(document): expected a mapping with format, conditions, ...")
    try:
        doc = PostureDoc.model_validate(document)
    except ValidationError as exc:
        first = first_error(exc)
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        message = str(first["msg"]).removeprefix("Value error, ")
        hint = unknown_key_hint(exc, first, PostureDoc)
        raise SchemaError(
            subject, f"{_item(document, tuple(first['loc']))}: {message}{hint}{more}"
        ) from exc
    return _cross_check(doc, subject)


def _unique(kind: str, items: list[str], subject: str) -> None:
    seen: set[str] = set()
    for index, name in enumerate(items):
        if name in seen:
            raise SchemaError(subject, f"{kind}[{index}] ({name}): duplicate name")
        seen.add(name)


def _condition(index: int, doc: ConditionDoc, subject: str) -> ServiceCondition:
    operator = Operator(doc.operator)
    if operator.uses_exit_code and doc.exit_code is None:
        raise SchemaError(
            subject,
            f"conditions[{index}] ({doc.name}).exit_code: required for operator "
            f"{operator.value} ({operator.ise_name})",
        )
    return ServiceCondition(
        name=doc.name,
        service=doc.service,
        operator=operator,
        service_type=ServiceType(doc.service_type),
        exit_code=doc.exit_code if doc.exit_code is not None else 0,
        description=doc.description,
    )


def _requirement(index: int, doc: RequirementDoc, known: set[str], subject: str) -> Requirement:
    item = f"requirements[{index}] ({doc.name})"
    if doc.conditions is None and doc.criteria is None:
        raise SchemaError(subject, f"{item}: needs conditions, criteria or both")
    if doc.conditions is not None:
        _unique(f"{item}.conditions", doc.conditions, subject)
    try:
        criteria = (
            parse_criteria(doc.criteria, item)
            if doc.criteria is not None
            else all_of(tuple(doc.conditions or ()))
        )
    except CriteriaError as exc:
        raise SchemaError(subject, f"{item}.criteria: {exc.problem}") from exc
    except ValueError as exc:
        raise SchemaError(subject, f"{item}.conditions: {exc}") from exc
    listed = tuple(doc.conditions) if doc.conditions is not None else names(criteria)
    for name in listed:
        if name not in known:
            raise SchemaError(subject, f"{item}.conditions: unknown condition {name!r}")
    for name in names(criteria):
        if name not in listed:
            where = "the file" if name not in known else "the requirement's conditions"
            raise SchemaError(
                subject, f"{item}.criteria: names condition {name!r}, which is not in {where}"
            )
    return Requirement(
        name=doc.name,
        conditions=listed,
        criteria=criteria,
        message=doc.message,
        os=tuple(doc.os),
        compliance_module=doc.compliance_module,
        posture_type=doc.posture_type,
        package_id=doc.package_id or index + 1,
    )


def _cross_check(doc: PostureDoc, subject: str) -> PostureSpec:
    _unique("conditions", [c.name for c in doc.conditions], subject)
    _unique("requirements", [r.name for r in doc.requirements], subject)
    _unique("policies", [p.name for p in doc.policies], subject)
    conditions = tuple(_condition(i, c, subject) for i, c in enumerate(doc.conditions))
    known = {c.name for c in conditions}
    requirements = tuple(_requirement(i, r, known, subject) for i, r in enumerate(doc.requirements))
    required = {r.name for r in requirements}
    policies: list[Policy] = []
    for index, p in enumerate(doc.policies):
        if p.requirement not in required:
            raise SchemaError(
                subject,
                f"policies[{index}] ({p.name}).requirement: unknown requirement {p.requirement!r}",
            )
        policies.append(
            Policy(
                name=p.name,
                requirement=p.requirement,
                enforcement=Enforcement(p.enforcement),
                enabled=p.enabled,
                os=tuple(p.os),
                identity_groups=tuple(p.identity_groups),
            )
        )
    return PostureSpec(conditions, requirements, tuple(policies))
