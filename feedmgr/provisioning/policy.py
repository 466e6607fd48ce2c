"""The client-provisioning policy file: an ordered list of CP rules (docs/provisioning.md).

The file is YAML or JSON (chosen by extension; ``.json`` is JSON, anything else YAML, which
also reads JSON). It is validated with pydantic at the edge and turned into frozen
dataclasses; every error names the file, the rule (number and name) and the field.

Since ISE 1.3 a CP rule's result for Windows and macOS names an *Agent Configuration*
(Policy > Policy Elements > Results > Client Provisioning > Resources): one object that
bundles the agent package, the compliance module, the posture profile and the modules it
enables. The file defines those once under ``agent_configurations`` and rules name them;
the older form, with the package and versions written inline in each rule, still reads.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from packaging.version import Version
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from feedmgr.errors import InputRejected, ParseError, SchemaError
from feedmgr.feed.manifest import first_error, unknown_key_hint
from feedmgr.pep440 import is_pep440, parse_pep440, shown
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
    if not is_pep440(value):
        raise ValueError(f"{shown(value)} is not a version like 5.1.10.233")
    return value


class _Edge(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


# The module ISE's Agent Configuration must enable for the agent to run posture at all
# (Agent Configuration > Module Selection > "ISE Posture").
POSTURE_MODULE = "ISE Posture"

# A package or module as ISE lists it ends in its version:
# "CiscoSecureClientDesktopMacOSX 5.1.10.233", "CiscoSecureClientComplianceModulemacOS 4.3.4200.0".
_TRAILING_VERSION = re.compile(r"(\d+(?:\.\d+)+)\s*$")


class AgentConfigurationModel(_Edge):
    """One Agent Configuration, as ISE's Client Provisioning > Resources list defines it."""

    name: _Name
    agent_package: _Name
    agent_version: str | None = None
    compliance_module: _Name | None = None
    compliance_module_version: str | None = None
    posture_profile: _Name | None = None
    modules: list[_Name] | None = None

    @field_validator("agent_version", "compliance_module_version")
    @classmethod
    def _versions(cls, value: str | None) -> str | None:
        return _version_text(value)


class ResultsModel(_Edge):
    """``results`` of a rule: what ISE provisions when the rule matches.

    ``agent_configuration`` names an entry of ``agent_configurations``; the inline fields
    (``agent_package``...) are the older form and cannot be combined with a defined name.
    """

    agent_configuration: _Name | None = None
    native_supplicant_configuration: _Name | None = None
    agent_package: _Name | None = None
    agent_version: str | None = None
    compliance_module_version: str | None = None
    agent_profile: _Name | None = None

    @field_validator("agent_version", "compliance_module_version")
    @classmethod
    def _versions(cls, value: str | None) -> str | None:
        return _version_text(value)

    @property
    def inline(self) -> bool:
        """True when the result writes agent fields inline (the pre-configuration form)."""
        return any(
            v is not None
            for v in (
                self.agent_package,
                self.agent_version,
                self.compliance_module_version,
                self.agent_profile,
            )
        )


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
        if value == [] or value is None:
            # pydantic would report both alternatives ("Input should be 'Any'", "too short").
            raise ValueError("give Any or at least one identity group")
        return value


class PolicyModel(_Edge):
    """The whole policy file."""

    format: Literal["feedmgr-cp-policy/1"]
    agent_configurations: Annotated[list[AgentConfigurationModel], Field(max_length=10_000)] = (
        Field(default_factory=list)
    )
    rules: Annotated[list[RuleModel], Field(min_length=1, max_length=10_000)]


_VERSION_TOKEN = re.compile(r"\d+(?:\.\d+)+")


def _names_version(package: str, version: Version) -> bool:
    # Cisco writes 4.10.08025 in package names; packaging reads it as 4.10.8025, so the
    # version is in the name when a token of the name parses to it, not when its text is.
    return any(parse_pep440(token) == version for token in _VERSION_TOKEN.findall(package))


@dataclass(frozen=True)
class RuleResults:
    """What a matching rule provisions; versions are parsed, never compared as text.

    ``defined`` is True when ``agent_configuration`` names an entry of the file's
    ``agent_configurations`` (its fields were copied from there). ``modules`` is None when
    the file does not say which modules the configuration enables.
    """

    agent_configuration: str | None = None
    agent_package: str | None = None
    agent_version: Version | None = None
    compliance_module_version: Version | None = None
    agent_profile: str | None = None
    compliance_module: str | None = None
    native_supplicant_configuration: str | None = None
    modules: tuple[str, ...] | None = None
    defined: bool = False

    @property
    def posture_module_enabled(self) -> bool:
        """False only when the listed modules leave out ISE Posture."""
        if self.modules is None:
            return True
        return any(m.casefold() == POSTURE_MODULE.casefold() for m in self.modules)

    @property
    def installs_agent(self) -> bool:
        """True when the result installs an agent that runs posture: a package, a
        configuration or profile for it, and (when modules are listed) ISE Posture."""
        return not self.missing()

    def missing(self) -> str:
        """Why the result installs no posture agent, in a few words ("" when it does)."""
        if self.agent_package is None:
            if self.native_supplicant_configuration is not None:
                return "a native supplicant configuration only"
            return "no agent package"
        if self.agent_configuration is None and self.agent_profile is None:
            return "no agent configuration or profile"
        if not self.posture_module_enabled:
            modules = ", ".join(self.modules or ()) or "none"
            return f"its modules ({modules}) leave out {POSTURE_MODULE}"
        return ""

    def describe(self) -> str:
        """One line: "agent X 5.1.10, compliance module 4.3.4200.0, configuration Y"."""
        parts: list[str] = []
        if self.agent_package is not None:
            version = ""
            if self.agent_version is not None and not _names_version(
                self.agent_package, self.agent_version
            ):
                version = f" {self.agent_version}"
            parts.append(f"agent {self.agent_package}{version}")
        if self.compliance_module_version is not None:
            parts.append(f"compliance module {self.compliance_module_version}")
        if self.agent_configuration is not None:
            parts.append(f"configuration {self.agent_configuration!r}")
        if self.agent_profile is not None:
            parts.append(f"profile {self.agent_profile!r}")
        if self.native_supplicant_configuration is not None:
            parts.append(
                f"native supplicant configuration {self.native_supplicant_configuration!r}"
            )
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

    def sharing(self, configuration: str) -> tuple[Rule, ...]:
        """The rules whose result names the defined agent configuration ``configuration``."""
        return tuple(
            r
            for r in self.rules
            if r.results.defined and r.results.agent_configuration == configuration
        )

    def named_groups(self) -> tuple[str, ...]:
        """Identity groups named by any rule, first spelling kept, in rule order."""
        seen: dict[str, str] = {}
        for rule in self.rules:
            for group in rule.identity_groups or ():
                seen.setdefault(group_key(group), group)
        return tuple(seen.values())


def _version(text: str | None, named: str | None) -> Version | None:
    """A version given explicitly, else the one a package name ends in, else None."""
    if text:
        return Version(text)
    found = _TRAILING_VERSION.search(named or "")
    return parse_pep440(found.group(1)) if found else None


def _configured(model: ResultsModel, configuration: AgentConfigurationModel) -> RuleResults:
    return RuleResults(
        agent_configuration=configuration.name,
        agent_package=configuration.agent_package,
        agent_version=_version(configuration.agent_version, configuration.agent_package),
        compliance_module_version=_version(
            configuration.compliance_module_version, configuration.compliance_module
        ),
        agent_profile=configuration.posture_profile,
        compliance_module=configuration.compliance_module,
        native_supplicant_configuration=model.native_supplicant_configuration,
        modules=tuple(configuration.modules) if configuration.modules is not None else None,
        defined=True,
    )


def _results(model: ResultsModel, defined: dict[str, AgentConfigurationModel]) -> RuleResults:
    if model.agent_configuration is not None and model.agent_configuration in defined:
        return _configured(model, defined[model.agent_configuration])
    return RuleResults(
        agent_configuration=model.agent_configuration,
        agent_package=model.agent_package,
        agent_version=Version(model.agent_version) if model.agent_version else None,
        compliance_module_version=(
            Version(model.compliance_module_version) if model.compliance_module_version else None
        ),
        agent_profile=model.agent_profile,
        native_supplicant_configuration=model.native_supplicant_configuration,
    )


def policy_from_model(model: PolicyModel, source: str) -> Policy:
    """Turn the validated file model into the engine's frozen dataclasses."""
    defined = {c.name: c for c in model.agent_configurations}
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
            results=_results(rule.results, defined),
        )
        for index, rule in enumerate(model.rules, start=1)
    )
    return Policy(source=source, rules=rules)


_LISTS = {"rules": "rule", "agent_configurations": "agent configuration"}


def _where(document: Any, loc: tuple[int | str, ...]) -> str:
    """``rule 2 'macOS': results.agent_version`` for a pydantic error location."""
    if len(loc) >= 2 and loc[0] in _LISTS and isinstance(loc[1], int):
        key, index = str(loc[0]), loc[1]
        name = None
        items = document.get(key) if isinstance(document, dict) else None
        if isinstance(items, list) and index < len(items) and isinstance(items[index], dict):
            raw = items[index].get("name")
            name = raw if isinstance(raw, str) else None
        item = f"{_LISTS[key]} {index + 1}" + (f" {name!r}" if name else "")
        field = ".".join(str(p) for p in loc[2:]) or f"({_LISTS[key]})"
        return f"{item}: {field}"
    return ".".join(str(p) for p in loc) or "(document)"


def _describe(exc: ValidationError, document: Any, yaml_source: bool) -> str:
    first = first_error(exc)
    message = str(first["msg"]).removeprefix("Value error, ")
    if yaml_source and first["type"] == "string_type":
        message += " (quote it in YAML: versions like 5.1 otherwise read as numbers)"
    message += unknown_key_hint(exc, first, PolicyModel)
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{_where(document, tuple(first['loc']))}: {message}{more}"


def _load_yaml(text: str, subject: str) -> Any:
    import yaml

    from feedmgr.uniquekeys import load_strict

    try:
        # Aliases would let a tiny file expand into a huge document during validation.
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent):
                raise ParseError(subject, "YAML aliases (*name) are not allowed in a policy")
        return load_strict(text, subject)
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
        from feedmgr.uniquekeys import load_json_strict

        try:
            document = load_json_strict(text, subject)
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
    _check_names(model, subject)
    return policy_from_model(model, subject)


def _check_names(model: PolicyModel, subject: str) -> None:
    """Rule and configuration names are unique, and every named configuration resolves."""
    defined: dict[str, int] = {}
    for index, configuration in enumerate(model.agent_configurations, start=1):
        if configuration.name in defined:
            raise SchemaError(
                subject,
                f"agent configuration {index} {configuration.name!r}: name: repeats "
                f"agent configuration {defined[configuration.name]}",
            )
        defined[configuration.name] = index
    seen: dict[str, int] = {}
    for index, rule in enumerate(model.rules, start=1):
        where = f"rule {index} {rule.name!r}"
        if rule.name in seen:
            raise SchemaError(subject, f"{where}: name: repeats rule {seen[rule.name]}")
        seen[rule.name] = index
        results = rule.results
        name = results.agent_configuration
        if name is None:
            continue
        if name in defined and results.inline:
            raise SchemaError(
                subject,
                f"{where}: results: names the agent configuration {name!r} and also writes "
                "agent fields inline; keep only the name (the configuration defines them)",
            )
        if name not in defined and not results.inline:
            raise SchemaError(
                subject,
                f"{where}: results.agent_configuration: {name!r} is not defined; define it "
                "once under agent_configurations (name, agent_package, agent_version, "
                "compliance_module_version, posture_profile, modules) as ISE's Client "
                "Provisioning > Resources list shows it",
            )


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
