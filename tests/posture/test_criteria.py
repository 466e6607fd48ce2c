"""Criteria expressions: parsing, precedence, evaluation, printing, errors."""

from __future__ import annotations

import contextlib
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feedmgr.errors import ParseError
from feedmgr.posture.criteria import (
    And,
    CriteriaError,
    Not,
    Or,
    Ref,
    all_of,
    evaluate,
    names,
    parse_criteria,
    to_agent_text,
    to_text,
)

A, B, C = Ref("a"), Ref("b"), Ref("c")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("(macOS-Service-Condition)", Ref("macOS-Service-Condition")),
        ("a & b | c", Or(And(A, B), C)),
        ("a | b & c", Or(A, And(B, C))),
        ("!a & b", And(Not(A), B)),
        ("!(a & b)", Not(And(A, B))),
        ("a & (b | c)", And(A, Or(B, C))),
        ("a&b&c", And(And(A, B), C)),
        ("!!a", Not(Not(A))),
        ("  ( ( a ) )  ", A),
        ("cond_1.x | Cond-2", Or(Ref("cond_1.x"), Ref("Cond-2"))),
    ],
)
def test_parse_builds_expected_tree(text: str, expected: object) -> None:
    """Precedence is ! over & over |, both binary operators associate left."""
    assert parse_criteria(text) == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty criteria expression"),
        ("(a & b", "unbalanced parentheses: '(' at column 1 never closed"),
        ("a & b)", "unbalanced parentheses: ')' at column 6"),
        ("a &", "expected a condition name, '!' or '(' at end of expression"),
        ("a b", "expected '&', '|' or end of expression, got 'b' at column 3"),
        ("a && b", "expected a condition name, '!' or '(', got '&' at column 4"),
        ("a ^ b", "unexpected character '^' at column 3"),
        ("()", "expected a condition name, '!' or '(', got ')' at column 2"),
        ("(" * 40 + "a" + ")" * 40, "criteria nested deeper than 32"),
    ],
)
def test_malformed_criteria_say_where(text: str, problem: str) -> None:
    """Every malformed expression raises CriteriaError naming the place."""
    with pytest.raises(CriteriaError) as info:
        parse_criteria(text, "req")
    assert info.value.problem == problem
    assert info.value.subject == "req"


@pytest.mark.parametrize("text", ["a & b | !c", "!(a | b) & c", "a | (b & !c)", "(a)"])
def test_evaluate_matches_python_semantics(text: str) -> None:
    """Evaluation agrees with Python's boolean operators on every assignment."""
    expr = parse_criteria(text)
    python = text.replace("&", " and ").replace("|", " or ").replace("!", " not ")
    for values in itertools.product([False, True], repeat=3):
        env = dict(zip("abc", values, strict=True))
        assert evaluate(expr, env) == eval(python, {}, env)  # noqa: S307 - fixed test text


def test_names_in_first_appearance_order() -> None:
    """names() lists each condition once, in reading order."""
    assert names(parse_criteria("c & (a | !c) & b")) == ("c", "a", "b")


def test_agent_text_wraps_in_parentheses() -> None:
    """ISE sends criteria in one pair of parentheses, as in the field document."""
    assert to_agent_text(Ref("macOS-Service-Condition")) == "(macOS-Service-Condition)"
    assert to_agent_text(parse_criteria("a & (b | c)")) == "(a & (b | c))"


def test_all_of_refuses_empty() -> None:
    """A requirement without conditions would pass vacuously, so all_of() refuses it."""
    assert all_of(("a", "b")) == And(A, B)
    with pytest.raises(ValueError, match="at least one"):
        all_of(())


_exprs = st.recursive(
    st.sampled_from([A, B, C]),
    lambda inner: st.one_of(
        inner.map(Not),
        st.tuples(inner, inner).map(lambda t: And(*t)),
        st.tuples(inner, inner).map(lambda t: Or(*t)),
    ),
    max_leaves=12,
)


@given(_exprs)
def test_to_text_round_trips(expr: And) -> None:
    """Printing then parsing gives the same tree back."""
    assert parse_criteria(to_text(expr)) == expr


@given(st.text(alphabet=st.sampled_from(list("ab &|!()-_.x\t^")), max_size=60) | st.text())
def test_parser_raises_only_criteria_error(text: str) -> None:
    """No text makes the parser raise anything but CriteriaError (a ParseError)."""
    with contextlib.suppress(CriteriaError):
        parse_criteria(text)
    assert issubclass(CriteriaError, ParseError)
