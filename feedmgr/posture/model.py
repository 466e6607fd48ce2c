"""Frozen value types of the posture area: conditions, requirements, policies.

These are what the rest of the area works with; ``files`` builds them from YAML/JSON,
``agentxml`` from the agent's XML. ISE display names sit beside each enum value.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property

from feedmgr.posture.criteria import Expr, names


class ServiceType(StrEnum):
    """Which launchd job kinds a condition looks at (ISE "Service Type")."""

    DAEMON = "daemon"
    USER_AGENT = "user-agent"
    DAEMON_OR_USER_AGENT = "daemon-or-user-agent"

    @property
    def ise_name(self) -> str:
        """The name ISE shows in the condition form."""
        return _SERVICE_TYPE_ISE[self]

    def admits(self, kind: JobKind) -> bool:
        """True when a job of ``kind`` is one this condition looks at."""
        if kind is JobKind.UNKNOWN:
            return False
        if self is ServiceType.DAEMON_OR_USER_AGENT:
            return True
        return (self is ServiceType.DAEMON) == (kind is JobKind.DAEMON)


_SERVICE_TYPE_ISE = {
    ServiceType.DAEMON: "Daemon",
    ServiceType.USER_AGENT: "User Agent",
    ServiceType.DAEMON_OR_USER_AGENT: "Daemon Or User Agent",
}


class JobKind(StrEnum):
    """What a loaded launchd job is, from its domain or its ``type = Launch...`` line."""

    DAEMON = "daemon"
    USER_AGENT = "user-agent"
    UNKNOWN = "unknown"


class Operator(StrEnum):
    """The ISE service operators, by feedmgr name."""

    LOADED = "loaded"
    NOT_LOADED = "not-loaded"
    RUNNING = "running"
    EXIT_CODE = "exit-code"
    RUNNING_OR_EXIT_CODE = "running-or-exit-code"

    @property
    def ise_name(self) -> str:
        """The name ISE shows in the condition form."""
        return _OPERATOR_ISE[self]

    @property
    def agent_operation(self) -> str:
        """The ``<operation>`` text the agent receives (see docs/posture.md)."""
        return _OPERATOR_AGENT[self]

    @property
    def uses_exit_code(self) -> bool:
        """True for the operators whose result depends on the exit code."""
        return self in (Operator.EXIT_CODE, Operator.RUNNING_OR_EXIT_CODE)

    @classmethod
    def from_agent_operation(cls, text: str) -> Operator:
        """The operator for an ``<operation>`` value.

        Raises:
            ValueError: for an operation feedmgr does not know.
        """
        for operator, agent in _OPERATOR_AGENT.items():
            if agent == text:
                return operator
        raise ValueError(
            f"unknown service operation {text!r}: expected one of "
            + ", ".join(sorted(_OPERATOR_AGENT.values()))
        )


_OPERATOR_ISE = {
    Operator.LOADED: "Loaded",
    Operator.NOT_LOADED: "Not Loaded",
    Operator.RUNNING: "Loaded & Running",
    Operator.EXIT_CODE: "Loaded with exit code",
    Operator.RUNNING_OR_EXIT_CODE: "Loaded & Running or with exit code",
}

# Only ``running`` is seen in the field document's agent logs; the other four are the
# spelling feedmgr uses for them (docs/posture.md says so).
_OPERATOR_AGENT = {
    Operator.LOADED: "loaded",
    Operator.NOT_LOADED: "notloaded",
    Operator.RUNNING: "running",
    Operator.EXIT_CODE: "exitcode",
    Operator.RUNNING_OR_EXIT_CODE: "runningorexitcode",
}


class Enforcement(StrEnum):
    """A posture policy's requirement type (ISE "Mandatory / Optional / Audit")."""

    MANDATORY = "mandatory"
    OPTIONAL = "optional"
    AUDIT = "audit"

    @property
    def ise_name(self) -> str:
        """Capitalised, as in the ISE posture report."""
        return self.value.capitalize()


# Glob characters accepted in service names (fnmatch syntax); ISE itself takes exact labels
# only (CSCwf01373), feedmgr evaluates globs and marks them in output.
_GLOB = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class ServiceCondition:
    """One macOS service condition.

    ``exit_code`` is always an int: ISE sends ``<value>0</value>`` even for operators that
    ignore it, so 0 is the default when the operator does not use it.
    """

    name: str
    service: str
    operator: Operator
    service_type: ServiceType = ServiceType.DAEMON_OR_USER_AGENT
    exit_code: int = 0
    description: str = ""

    @cached_property
    def is_glob(self) -> bool:
        """True when ``service`` is a glob pattern (``us.zoom.*``), not an exact label."""
        return bool(_GLOB.search(self.service))

    @property
    def glob_warning(self) -> str:
        """What to say wherever a verdict on this glob condition is shown: the agent would
        not judge it so (empty for an exact label)."""
        if not self.is_glob:
            return ""
        return (
            f"{self.name}: service {self.service!r} is a glob; ISE and the agent match exact "
            f"labels only (CSCwf01373) and would look for a job literally named "
            f"{self.service!r}; every verdict on it here is {GLOB_READING}"
        )

    def matches(self, label: str) -> bool:
        """True when a launchd label is the service (or matches the glob)."""
        if self.is_glob:
            return fnmatch.fnmatchcase(label, self.service)
        return label == self.service


# Cisco bug CSCwf01373 (reference text): the agent matches exact service names only, so a
# verdict feedmgr reaches by matching a glob is not the one the agent would reach.
GLOB_READING = "feedmgr's reading, not the agent's"


@dataclass(frozen=True)
class Requirement:
    """A posture requirement: conditions combined by criteria, and the remediation message.

    ``package_id`` is the ``<package><id>`` the agent sees (ISE's internal number).
    """

    name: str
    conditions: tuple[str, ...]
    criteria: Expr
    message: str
    os: tuple[str, ...] = ("Mac OSX",)
    compliance_module: str = "4.x or later"
    posture_type: str = "Agent"
    remediation: str = "Message Text Only"
    package_id: int = 0

    def __post_init__(self) -> None:
        # Callers validate; this guards the invariant every consumer relies on.
        unknown = set(names(self.criteria)) - set(self.conditions)
        if unknown:
            raise ValueError(f"criteria name unknown conditions: {sorted(unknown)}")


@dataclass(frozen=True)
class Policy:
    """A posture policy: when a requirement applies and how it is enforced."""

    name: str
    requirement: str
    enforcement: Enforcement = Enforcement.MANDATORY
    enabled: bool = True
    os: tuple[str, ...] = ("Mac OSX",)
    identity_groups: tuple[str, ...] = ("Any",)

    @property
    def applies_to_macos(self) -> bool:
        """True when one of the policy's OS names is a macOS one ("Mac OSX", "Mac OSX 14")."""
        return any(name.lower().startswith(("mac osx", "macos")) for name in self.os)

    def matches_group(self, group: str | None) -> bool:
        """True when the policy covers an endpoint in ``group`` (None: any endpoint)."""
        if group is None or "Any" in self.identity_groups:
            return True
        return group.casefold() in {g.casefold() for g in self.identity_groups}


@dataclass(frozen=True)
class PostureSpec:
    """Everything one condition file defines, cross-checked."""

    conditions: tuple[ServiceCondition, ...]
    requirements: tuple[Requirement, ...]
    policies: tuple[Policy, ...]

    def condition(self, name: str) -> ServiceCondition:
        """The condition called ``name``.

        Raises:
            KeyError: when there is none.
        """
        for condition in self.conditions:
            if condition.name == name:
                return condition
        raise KeyError(name)

    def requirement(self, name: str) -> Requirement:
        """The requirement called ``name``.

        Raises:
            KeyError: when there is none.
        """
        for requirement in self.requirements:
            if requirement.name == name:
                return requirement
        raise KeyError(name)

    def effective_policies(self) -> tuple[Policy, ...]:
        """The policies, or one implicit mandatory policy per requirement when there are none."""
        if self.policies:
            return self.policies
        return tuple(Policy(name=r.name, requirement=r.name) for r in self.requirements)
