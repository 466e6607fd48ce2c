"""Agent XML: rendering <cleanmachines> exactly as the field document's logs show, and
parsing it back to the same conditions and requirements."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feedmgr.errors import ParseError
from feedmgr.posture.agentxml import (
    AgentCheck,
    packages_for,
    parse_cleanmachines,
    render_check,
    render_cleanmachines,
)
from feedmgr.posture.files import spec_from_document
from feedmgr.posture.model import Operator, ServiceType

Asset = Callable[[str], Path]


def test_render_matches_the_ise_log_byte_for_byte(
    asset: Asset, field_document: dict[str, Any]
) -> None:
    """The field document's example renders exactly as ise-psc.log shows the document."""
    log = asset("posture/ise-psc.log").read_text()
    start = log.index("<cleanmachines>")
    end = log.index("</cleanmachines>", start) + len("</cleanmachines>\n")
    assert render_cleanmachines(spec_from_document(field_document, "x")) == log[start:end]


def test_render_check_matches_the_agent_log(asset: Asset, field_document: dict[str, Any]) -> None:
    """A single <check> renders as createCheckXMLString logs it in unified_log.log."""
    log = asset("posture/unified_log.log").read_text()
    expected = log[log.index("<check>") : log.index("</check>") + len("</check>\n")]
    spec = spec_from_document(field_document, "x")
    assert render_check(spec.conditions[0]) == expected


@pytest.mark.parametrize("operator", list(Operator))
@pytest.mark.parametrize("service_type", list(ServiceType))
def test_every_operator_and_type_round_trips(
    field_document: dict[str, Any], operator: Operator, service_type: ServiceType
) -> None:
    """Rendering then parsing gives back the same packages for every operator and type."""
    field_document["conditions"][0].update(
        operator=operator.value, service_type=service_type.value, exit_code=7
    )
    spec = spec_from_document(field_document, "x")
    parsed = parse_cleanmachines(render_cleanmachines(spec), "x")
    assert parsed.packages == packages_for(spec)
    assert parsed.version2 == "ISE: 3.3.0.430"


def test_complex_requirements_round_trip(field_document: dict[str, Any]) -> None:
    """Several conditions, criteria with & | ! () and XML-special text survive a round trip."""
    field_document["conditions"] += [
        {"name": "zoom", "service": "us.zoom.*", "operator": "not-loaded"},
        {
            "name": "mdm",
            "service": "com.apple.mdmclient.agent",
            "operator": "exit-code",
            "exit_code": 0,
            "service_type": "user-agent",
        },
    ]
    requirement = field_document["requirements"][0]
    requirement["conditions"] = ["macOS-Service-Condition", "zoom", "mdm"]
    requirement["criteria"] = "macOS-Service-Condition & !(zoom | !mdm)"
    requirement["message"] = 'Fix <this> & "that"'
    field_document["policies"][0]["enforcement"] = "optional"
    spec = spec_from_document(field_document, "x")
    xml = render_cleanmachines(spec)
    assert "<criteria>(macOS-Service-Condition &amp; !(zoom | !mdm))</criteria>" in xml
    assert "<optional>1</optional>" in xml
    assert parse_cleanmachines(xml, "x").packages == packages_for(spec)


def test_only_enabled_macos_policies_are_sent(field_document: dict[str, Any]) -> None:
    """Requirements of disabled or non-macOS policies are not in the document."""
    field_document["policies"][0]["enabled"] = False
    assert packages_for(spec_from_document(field_document, "x")) == ()
    field_document["policies"][0].update(enabled=True, os=["Windows All"])
    assert packages_for(spec_from_document(field_document, "x")) == ()


_CHECK = (
    "<check><id>c</id><category>{category}</category><type>{type}</type>"
    "<param>{param}</param><operation>{operation}</operation><value>{value}</value></check>"
)


def _document(**fields: str) -> str:
    values = {
        "category": "3",
        "type": "303",
        "param": "com.a",
        "operation": "running",
        "value": "0",
    }
    values.update(fields)
    check = _CHECK.format(**values)
    return (
        "<cleanmachines><package><id>1</id><name>r</name><description>m</description>"
        f"<optional>0</optional>{check}<criteria>(c)</criteria></package></cleanmachines>"
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (_document(category="x"), "check 'c': <category> must be a number, got 'x'"),
        (_document(value="zero"), "check 'c': <value> must be a number, got 'zero'"),
        (_document(param="two words"), "<param> 'two words' is not a launchd label"),
        (
            _document().replace("(c)", "(c &amp; d)"),
            "criteria name checks not in the package: ['d']",
        ),
        (_document().replace("(c)", "(c"), "criteria: unbalanced parentheses"),
        (_document().replace("<name>r</name>", ""), "package: missing <name>"),
        ("<cleanmachines><package>", "malformed XML"),
        ("<other/>", "root element is <other>, expected <cleanmachines>"),
        (
            '<!DOCTYPE x [<!ENTITY a "aaaa">]><cleanmachines>&a;</cleanmachines>',
            "forbidden XML",
        ),
    ],
)
def test_malformed_documents_are_parse_errors(text: str, problem: str) -> None:
    """Each malformed or hostile document raises ParseError saying what is wrong."""
    with pytest.raises(ParseError, match=re.escape(problem)):
        parse_cleanmachines(text, "doc")


def test_a_check_of_another_category_is_kept_not_refused() -> None:
    """A category-1 check is parsed into the package's other checks with its fields."""
    (package,) = parse_cleanmachines(_document(category="1", type="101"), "doc").packages
    assert package.checks == ()
    assert package.other_checks == (
        AgentCheck("c", 1, 101, (("param", "com.a"), ("operation", "running"), ("value", "0"))),
    )


@pytest.mark.parametrize(
    ("fields", "check_type", "why"),
    [
        (
            {"operation": "Loaded_with_exit_code"},
            303,
            "unknown service operation 'Loaded_with_exit_code': expected one of exitcode,",
        ),
        ({"type": "304"}, 304, "service type 304 is not one feedmgr knows (301, 302, 303)"),
    ],
    ids=["operation", "type"],
)
def test_an_unknown_service_operation_or_type_keeps_the_requirement(
    fields: dict[str, str], check_type: int, why: str
) -> None:
    """A service check (category 3) whose <operation> or <type> feedmgr does not know (four
    operation spellings and types 301/302 are its assumptions) is kept as received and
    flagged unrecognised; its package is still parsed, criteria and all."""
    (package,) = parse_cleanmachines(_document(**fields), "doc").packages
    assert package.name == "r"
    assert package.checks == ()
    (check,) = package.other_checks
    operation = fields.get("operation", "running")
    assert (check.name, check.category, check.check_type) == ("c", 3, check_type)
    assert check.fields == (("param", "com.a"), ("operation", operation), ("value", "0"))
    assert check.unrecognised.startswith(why)


@given(
    st.text(max_size=300)
    | st.lists(
        st.sampled_from(
            [
                "<cleanmachines>",
                "<package>",
                "</package>",
                "<check>",
                "</check>",
                "<id>1</id>",
                "<criteria>(1)</criteria>",
                "<name>n</name>",
                "<category>3</category>",
                "<type>303</type>",
                "<value>0</value>",
                "</cleanmachines>",
                "<param>a</param>",
                "<operation>running</operation>",
                "<description/>",
                "<optional>0</optional>",
                "&",
                "<!DOCTYPE x>",
            ]
        ),
        max_size=30,
    ).map("".join)
)
def test_parser_raises_only_parse_error(text: str) -> None:
    """No text makes the agent-XML parser raise anything but ParseError."""
    with contextlib.suppress(ParseError):
        parse_cleanmachines(text, "doc")
