"""The client-provisioning policy file: an ordered list of CP rules (docs/provisioning.md).

The file is YAML or JSON (chosen by extension; ``.json`` is JSON, anything else YAML, which
also reads JSON). It is validated with pydantic at the edge and turned into frozen
dataclasses; every error names the file, the rule (number and name) and the field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from packaging.version import Version
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from feedmgr.errors import InputRejected, ParseError, SchemaError
from feedmgr.textio import decode_text

POLICY_FORMAT = "feedmgr-cp-policy/1"
ANY_GROUP = "Any"

# A CP policy is a few dozen rules; 4 MiB is far above any real one and bounds memory.
MAX_POLICY_BYTES = 4 * 1024 * 1024

_Name = Annotated[str, Field(min_length=1, max_length=200)]
_Condition = Annotated[str, Field(min_length=1, max_length=1000)]


def _version_text(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        Version(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a version like 5.1.10.233") from None
    return value


class _Edge(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class ResultsModel(_Edge):
    """``results`` of a rule: what ISE provisions when the rule matches."""

    agent_configuration: _Name | None = None
    agent_package: _Name | None = None
    agent_version: str | None = None
    compliance_module_version: str | None = None
    agent_profile: _Name | None = None

    @field_validator("agent_version", "compliance_module_version")
    @classmethod
    def _versions(cls, value: str | None) -> str | None:
        return _version_text(value)


class RuleModel(_Edge):
    """One CP rule as written in the file."""

    name: _Name
    enabled: bool = True
    identity_groups: Literal["Any"] | Annotated[list[_Name], Field(min_length=1)]
    operating_systems: Annotated[list[_Name], Field(min_length=1)]
    other_conditions: list[_Condition] = Field(default_factory=list)
    results: ResultsModel

    @field_validator("identity_groups", mode="before")
    @classmethod
    def _any_in_any_case(cls, value: object) -> object:
        # ISE shows "Any"; accept "any"/"ANY" too rather than fail on spelling.
        if isinstance(value, str) and value.strip().casefold() == "any":
            return ANY_GROUP
        return value


class PolicyModel(_Edge):
    """The whole policy file."""

    format: Literal["feedmgr-cp-policy/1"]
    rules: Annotated[list[RuleModel], Field(min_length=1, max_length=10_000)]


@dataclass(frozen=True)
class RuleResults:
    """What a matching rule provisions; versions are parsed, never compared as text."""

    agent_configuration: str | None = None
    agent_package: str | None = None
    agent_version: Version | None = None
    compliance_module_version: Version | None = None
    agent_profile: str | None = None

    @property
    def installs_agent(self) -> bool:
        """True when the result installs an agent and gives it a configuration or profile."""
        return self.agent_package is not None and (
            self.agent_configuration is not None or self.agent_profile is not None
        )

    def describe(self) -> str:
        """One line: "agent X 5.1.10, compliance module 4.3.4200.0, configuration Y"."""
        parts: list[str] = []
        if self.agent_package is not None:
            version = ""
            if self.agent_version is not None and str(self.agent_version) not in (
                self.agent_package
            ):
                version = f" {self.agent_version}"
            parts.append(f"agent {self.agent_package}{version}")
        if self.compliance_module_version is not None:
            parts.append(f"compliance module {self.compliance_module_version}")
        if self.agent_configuration is not None:
            parts.append(f"configuration {self.agent_configuration!r}")
        if self.agent_profile is not None:
            parts.append(f"profile {self.agent_profile!r}")
        return ", ".join(parts) or "nothing (no agent, no configuration)"


def group_key(name: str) -> str:
    """How identity group names compare: case-insensitive, spaces collapsed, and without the
    "User Identity Groups:"/"Endpoint Identity Groups:" prefix ISE exports put in front."""
    text = " ".join(name.split())
    lowered = text.casefold()
    for prefix in ("user identity groups:", "endpoint identity groups:"):
        if lowered.startswith(prefix):
            lowered = lowered[len(prefix) :].strip()
            break
    return lowered


@dataclass(frozen=True)
class Rule:
    """One CP rule. ``number`` is its 1-based position; ``identity_groups`` None means Any."""

    number: int
    name: str
    enabled: bool
    identity_groups: tuple[str, ...] | None
    operating_systems: tuple[str, ...]
    other_conditions: tuple[str, ...]
    results: RuleResults

    @property
    def conditional(self) -> bool:
        """True when the rule has other conditions, so it matches only "conditionally"."""
        return bool(self.other_conditions)

    @property
    def title(self) -> str:
        """ "rule 3 'macOS employees'"."""
        return f"rule {self.number} {self.name!r}"

    def group_matches(self, group: str | None) -> bool:
        """True when the rule's identity groups take ``group`` (None: a group no rule names)."""
        if self.identity_groups is None:
            return True
        if group is None:
            return False
        wanted = group_key(group)
        return any(group_key(g) == wanted for g in self.identity_groups)

    def os_match(self, chain: tuple[str, ...]) -> str | None:
        """The rule's OS node that the classification chain falls under, if any."""
        return next((name for name in self.operating_systems if name in chain), None)


@dataclass(frozen=True)
class Policy:
    """An ordered CP policy read from ``source``."""

    source: str
    rules: tuple[Rule, ...]

    def named_groups(self) -> tuple[str, ...]:
        """Identity groups named by any rule, first spelling kept, in rule order."""
        seen: dict[str, str] = {}
        for rule in self.rules:
            for group in rule.identity_groups or ():
                seen.setdefault(group_key(group), group)
        return tuple(seen.values())


def _results(model: ResultsModel) -> RuleResults:
    return RuleResults(
        agent_configuration=model.agent_configuration,
        agent_package=model.agent_package,
        agent_version=Version(model.agent_version) if model.agent_version else None,
        compliance_module_version=(
            Version(model.compliance_module_version) if model.compliance_module_version else None
        ),
        agent_profile=model.agent_profile,
    )


def policy_from_model(model: PolicyModel, source: str) -> Policy:
    """Turn the validated file model into the engine's frozen dataclasses."""
    rules = tuple(
        Rule(
            number=index,
            name=rule.name,
            enabled=rule.enabled,
            identity_groups=None
            if rule.identity_groups == ANY_GROUP
            or any(g.casefold() == "any" for g in rule.identity_groups)
            else tuple(rule.identity_groups),
            operating_systems=tuple(rule.operating_systems),
            other_conditions=tuple(rule.other_conditions),
            results=_results(rule.results),
        )
        for index, rule in enumerate(model.rules, start=1)
    )
    return Policy(source=source, rules=rules)


def _where(document: Any, loc: tuple[int | str, ...]) -> str:
    """``rule 2 'macOS': results.agent_version`` for a pydantic error location."""
    if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
        index = loc[1]
        name = None
        rules = document.get("rules") if isinstance(document, dict) else None
        if isinstance(rules, list) and index < len(rules) and isinstance(rules[index], dict):
            raw = rules[index].get("name")
            name = raw if isinstance(raw, str) else None
        rule = f"rule {index + 1}" + (f" {name!r}" if name else "")
        field = ".".join(str(p) for p in loc[2:]) or "(rule)"
        return f"{rule}: {field}"
    return ".".join(str(p) for p in loc) or "(document)"


def _describe(exc: ValidationError, document: Any, yaml_source: bool) -> str:
    first = exc.errors()[0]
    message = str(first["msg"])
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    if yaml_source and first["type"] == "string_type":
        message += " (quote it in YAML: versions like 5.1 otherwise read as numbers)"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{_where(document, tuple(first['loc']))}: {message}{more}"


def _load_yaml(text: str, subject: str) -> Any:
    import yaml

    try:
        # Aliases would let a tiny file expand into a huge document during validation.
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent):
                raise ParseError(subject, "YAML aliases (*name) are not allowed in a policy")
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ParseError(subject, f"not valid YAML{where}: {problem}") from exc


def parse_policy(data: bytes, subject: str, *, as_json: bool = False) -> Policy:
    """Parse and validate policy bytes (JSON when ``as_json``, else YAML).

    Raises:
        ParseError: the bytes are not UTF-8, JSON or YAML.
        SchemaError: the document does not follow the policy schema, or repeats a rule name.
    """
    if len(data) > MAX_POLICY_BYTES:
        raise SchemaError(subject, f"{len(data)} bytes, over the {MAX_POLICY_BYTES} byte limit")
    try:
        text = decode_text(data)
    except UnicodeDecodeError as exc:
        raise ParseError(subject, f"not UTF-8 text: {exc.reason} at byte {exc.start}") from exc
    if as_json:
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ParseError(subject, f"not valid JSON at line {exc.lineno}: {exc.msg}") from exc
    else:
        document = _load_yaml(text, subject)
    if not isinstance(document, dict):
        raise SchemaError(subject, "a policy is a mapping with 'format' and 'rules'")
    try:
        model = PolicyModel.model_validate(document)
    except ValidationError as exc:
        raise SchemaError(subject, _describe(exc, document, not as_json)) from exc
    seen: dict[str, int] = {}
    for index, rule in enumerate(model.rules, start=1):
        if rule.name in seen:
            raise SchemaError(
                subject, f"rule {index} {rule.name!r}: name: repeats rule {seen[rule.name]}"
            )
        seen[rule.name] = index
    return policy_from_model(model, subject)


def load_policy(path: Path) -> Policy:
    """Read a policy file; ``.json`` files are JSON, anything else YAML.

    Raises:
        InputRejected: the file cannot be read, or (ParseError/SchemaError) is invalid.
    """
    subject = str(path)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_POLICY_BYTES + 1)
    except OSError as exc:
        raise InputRejected(subject, f"cannot read the policy: {exc.strerror or exc}") from exc
    return parse_policy(data, subject, as_json=path.suffix.lower() == ".json")
