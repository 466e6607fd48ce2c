"""The posture agent's XML: ``<cleanmachines>`` with a ``<package>`` per requirement and a
``<check>`` per service condition, rendered and parsed back (with defusedxml).

Shape and constants as the field document's Secure Client and ISE logs show them
(``reference/macos-service-posture-condition.txt``): ``<check>`` has ``<id>`` (condition
name), ``<category>3</category>`` (service), ``<type>303</type>``, ``<param>`` (label),
``<operation>running</operation>`` and ``<value>0</value>`` (the exit code, sent even when
unused). Only type 303 with "Daemon Or User Agent" is observed; feedmgr writes 301 for
Daemon and 302 for User Agent (docs/posture.md flags this as an assumption).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from html import escape as _html_escape
from xml.etree.ElementTree import Element
from xml.etree.ElementTree import ParseError as XmlParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from feedmgr.errors import ParseError
from feedmgr.posture.criteria import CriteriaError, Expr, names, parse_criteria, to_agent_text
from feedmgr.posture.model import (
    Enforcement,
    Operator,
    PostureSpec,
    ServiceCondition,
    ServiceType,
)

SERVICE_CATEGORY = 3
CHECK_TYPES = {
    ServiceType.DAEMON: 301,
    ServiceType.USER_AGENT: 302,
    ServiceType.DAEMON_OR_USER_AGENT: 303,
}
# Constants of the observed package: <type>3</type>, <action>3</action> (Message Text Only).
PACKAGE_TYPE = 3
PACKAGE_ACTION = 3
OPTIONAL_FLAGS = {Enforcement.MANDATORY: 0, Enforcement.OPTIONAL: 1, Enforcement.AUDIT: 2}
DEFAULT_ISE_VERSION = "3.3.0.430"
MAX_XML_BYTES = 8 * 1024 * 1024
_LABEL = re.compile(r"^[^\s/]{1,255}$")


def escape(text: str) -> str:
    """XML character data: ``&``, ``<`` and ``>`` escaped (xml.sax.saxutils.escape does the
    same, but importing it pulls in urllib.request: 30 ms at every start)."""
    return _html_escape(text, quote=False)


@dataclass(frozen=True)
class AgentCheck:
    """A ``<check>`` feedmgr does not evaluate, kept as the agent received it: its id,
    ``<category>``, ``<type>`` and every other child element in order.

    Either of a category feedmgr does not evaluate (file, registry, application,
    anti-malware, patch...), or a service check (category 3) whose ``<type>`` or
    ``<operation>`` feedmgr does not recognise: then ``unrecognised`` says which. Four of
    the five operation spellings and types 301/302 are feedmgr's assumptions, so a real
    log may well carry another spelling; its requirement is still listed, never dropped.
    """

    name: str
    category: int
    check_type: int
    fields: tuple[tuple[str, str], ...]
    unrecognised: str = ""

    @property
    def kind(self) -> str:
        """How feedmgr names the category: only 3 (service) is documented by the field
        document, so every other category is named by its number."""
        return f"category {self.category}"


@dataclass(frozen=True)
class AgentPackage:
    """One ``<package>``: a requirement as the agent sees it. ``checks`` are the service
    checks feedmgr can evaluate; ``other_checks`` every check of another category."""

    package_id: int
    name: str
    description: str
    optional: int
    criteria: Expr
    checks: tuple[ServiceCondition, ...]
    other_checks: tuple[AgentCheck, ...] = ()


@dataclass(frozen=True)
class AgentDocument:
    """A parsed ``<cleanmachines>`` document."""

    version2: str
    version: str
    packages: tuple[AgentPackage, ...]


def agent_condition(condition: ServiceCondition) -> ServiceCondition:
    """The condition as the agent sees it: the description does not travel."""
    return replace(condition, description="")


def packages_for(spec: PostureSpec) -> tuple[AgentPackage, ...]:
    """The packages ISE sends for ``spec``: one per requirement of an enabled macOS policy,
    in policy order, each once; ``optional`` from the first such policy's enforcement."""
    seen: dict[str, AgentPackage] = {}
    for policy in spec.effective_policies():
        if not policy.enabled or not policy.applies_to_macos or policy.requirement in seen:
            continue
        requirement = spec.requirement(policy.requirement)
        seen[requirement.name] = AgentPackage(
            package_id=requirement.package_id,
            name=requirement.name,
            description=requirement.message,
            optional=OPTIONAL_FLAGS[policy.enforcement],
            criteria=requirement.criteria,
            checks=tuple(agent_condition(spec.condition(n)) for n in requirement.conditions),
        )
    return tuple(seen.values())


def _check_lines(condition: ServiceCondition, indent: str) -> list[str]:
    inner = indent + "  "
    return [
        f"{indent}<check>",
        f"{inner}<id>{escape(condition.name)}</id>",
        f"{inner}<category>{SERVICE_CATEGORY}</category>",
        f"{inner}<type>{CHECK_TYPES[condition.service_type]}</type>",
        f"{inner}<param>{escape(condition.service)}</param>",
        f"{inner}<operation>{condition.operator.agent_operation}</operation>",
        f"{inner}<value>{condition.exit_code}</value>",
        f"{indent}</check>",
    ]


def render_check(condition: ServiceCondition) -> str:
    """One ``<check>`` element, as the agent logs it in ``createCheckXMLString``."""
    return "\n".join(_check_lines(condition, "")) + "\n"


def render_cleanmachines(spec: PostureSpec, ise_version: str = DEFAULT_ISE_VERSION) -> str:
    """The ``<cleanmachines>`` document the agent receives for ``spec``."""
    lines = [
        "<cleanmachines>",
        f"  <version2>ISE: {escape(ise_version)}</version2>",
        "  <version>ISE: 2.x</version>",
        "  <encryption>0</encryption>",
    ]
    for package in packages_for(spec):
        lines += [
            "  <package>",
            f"    <id>{package.package_id}</id>",
            f"    <name>{escape(package.name)}</name>",
            f"    <description>{escape(package.description)}</description>",
            "    <version/>",
            f"    <type>{PACKAGE_TYPE}</type>",
            f"    <optional>{package.optional}</optional>",
            f"    <action>{PACKAGE_ACTION}</action>",
        ]
        for check in package.checks:
            lines += _check_lines(check, "    ")
        lines += [
            f"    <criteria>{escape(to_agent_text(package.criteria))}</criteria>",
            "  </package>",
        ]
    lines.append("</cleanmachines>")
    return "\n".join(lines) + "\n"


def parse_xml(text: str, subject: str) -> Element:
    """Parse XML text safely (no DTDs, entities or external references).

    Raises:
        ParseError: for malformed, oversized or forbidden XML.
    """
    if len(text) > MAX_XML_BYTES:
        raise ParseError(subject, f"XML larger than {MAX_XML_BYTES} characters")
    try:
        element: Element = fromstring(text, forbid_dtd=True)
    except XmlParseError as exc:
        raise ParseError(subject, f"malformed XML: {exc}") from exc
    except (DefusedXmlException, ValueError) as exc:
        raise ParseError(subject, f"forbidden XML: {type(exc).__name__}") from exc
    return element


def _text(element: Element, tag: str, where: str, subject: str) -> str:
    child = element.find(tag)
    if child is None:
        raise ParseError(subject, f"{where}: missing <{tag}>")
    return (child.text or "").strip()


def _int(element: Element, tag: str, where: str, subject: str) -> int:
    text = _text(element, tag, where, subject)
    if not re.fullmatch(r"-?[0-9]{1,9}", text):
        raise ParseError(subject, f"{where}: <{tag}> must be a number, got {text[:40]!r}")
    return int(text)


def check_from_element(element: Element, subject: str) -> ServiceCondition | AgentCheck:
    """A service condition from a category-3 ``<check>`` element; a check of any other
    category as an :class:`AgentCheck` (extracted, not evaluated).

    A service check whose ``<type>`` or ``<operation>`` feedmgr does not know is an
    :class:`AgentCheck` too, saying so in ``unrecognised``.

    Raises:
        ParseError: when ``<id>``, ``<category>`` or ``<type>`` is missing or not a number,
            or a service check is malformed (no ``<param>`` label, no ``<operation>``, a
            ``<value>`` that is not a number).
    """
    name = _text(element, "id", "check", subject)
    where = f"check {name[:100]!r}"
    category = _int(element, "category", where, subject)
    check_type = _int(element, "type", where, subject)
    fields = tuple(
        (child.tag[:100], (child.text or "").strip()[:1000])
        for child in element
        if child.tag not in ("id", "category", "type")
    )
    if category != SERVICE_CATEGORY:
        return AgentCheck(name, category, check_type, fields)
    service_type = next((t for t, n in CHECK_TYPES.items() if n == check_type), None)
    if service_type is None:
        known = ", ".join(str(n) for n in CHECK_TYPES.values())
        why = f"service type {check_type} is not one feedmgr knows ({known})"
        return AgentCheck(name, category, check_type, fields, unrecognised=why)
    param = _text(element, "param", where, subject)
    if not _LABEL.match(param):
        raise ParseError(subject, f"{where}: <param> {param[:100]!r} is not a launchd label")
    try:
        operator = Operator.from_agent_operation(_text(element, "operation", where, subject))
    except ValueError as exc:
        return AgentCheck(name, category, check_type, fields, unrecognised=str(exc))
    return ServiceCondition(
        name=name,
        service=param,
        operator=operator,
        service_type=service_type,
        exit_code=_int(element, "value", where, subject),
    )


def package_from_element(element: Element, subject: str) -> AgentPackage:
    """A package from a ``<package>`` element.

    Raises:
        ParseError: when a child is missing, a check is malformed, or the criteria do not
            parse or name a check the package lacks.
    """
    name = _text(element, "name", "package", subject)
    where = f"package {name[:100]!r}"
    every = [check_from_element(c, subject) for c in element.findall("check")]
    checks = tuple(c for c in every if isinstance(c, ServiceCondition))
    others = tuple(c for c in every if isinstance(c, AgentCheck))
    criteria_text = _text(element, "criteria", where, subject)
    try:
        criteria = parse_criteria(criteria_text, where)
    except CriteriaError as exc:
        raise ParseError(subject, f"{where}: criteria: {exc.problem}") from exc
    known = {c.name for c in every}
    missing = [n for n in names(criteria) if n not in known]
    if missing:
        raise ParseError(subject, f"{where}: criteria name checks not in the package: {missing}")
    return AgentPackage(
        package_id=_int(element, "id", where, subject),
        name=name,
        description=_text(element, "description", where, subject),
        optional=_int(element, "optional", where, subject),
        criteria=criteria,
        checks=checks,
        other_checks=others,
    )


def parse_cleanmachines(text: str, subject: str) -> AgentDocument:
    """Parse a whole ``<cleanmachines>`` document.

    Raises:
        ParseError: for malformed XML or a document not in the agent's shape.
    """
    root = parse_xml(text, subject)
    if root.tag != "cleanmachines":
        raise ParseError(subject, f"root element is <{root.tag[:50]}>, expected <cleanmachines>")
    version2 = root.find("version2")
    version = root.find("version")
    return AgentDocument(
        version2=(version2.text or "").strip() if version2 is not None else "",
        version=(version.text or "").strip() if version is not None else "",
        packages=tuple(package_from_element(p, subject) for p in root.findall("package")),
    )
