"""Requirement criteria: boolean expressions over condition names with ``& | ! ( )``.

Precedence, tightest first: ``!``, ``&``, ``|``; ``&`` and ``|`` associate to the left.
ISE writes a requirement's criteria as ``(macOS-Service-Condition)``; names are ISE
condition names (letters, digits, ``_ - .``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from feedmgr.errors import ParseError

# ISE condition names: letters, digits, underscore, hyphen and period.
_TOKEN = re.compile(r"\s*(?:(?P<name>[A-Za-z0-9_.\-]+)|(?P<op>[&|!()]))")
MAX_CRITERIA_LENGTH = 10_000
# Bounds that keep the recursive parser, evaluator and printer far from Python's recursion
# limit; real ISE criteria have a handful of terms.
MAX_CRITERIA_TOKENS = 256
MAX_NESTING = 32


@dataclass(frozen=True)
class Ref:
    """A reference to one condition by name."""

    name: str


@dataclass(frozen=True)
class Not:
    """``!operand``."""

    operand: Expr


@dataclass(frozen=True)
class And:
    """``left & right``."""

    left: Expr
    right: Expr


@dataclass(frozen=True)
class Or:
    """``left | right``."""

    left: Expr
    right: Expr


Expr = Ref | Not | And | Or


class CriteriaError(ParseError):
    """A criteria expression is not well formed (the ``problem`` says where)."""


def _tokens(text: str, subject: str) -> Iterator[tuple[str, str, int]]:
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            return
        match = _TOKEN.match(text, pos)
        if match is None:
            column = pos + len(text[pos:]) - len(text[pos:].lstrip())
            raise CriteriaError(
                subject, f"unexpected character {text[column]!r} at column {column + 1}"
            )
        kind = "name" if match.group("name") else "op"
        yield kind, match.group(kind), match.start(kind)
        pos = match.end()


class _Parser:
    def __init__(self, text: str, subject: str) -> None:
        self.subject = subject
        self.tokens = list(_tokens(text, subject))
        if len(self.tokens) > MAX_CRITERIA_TOKENS:
            raise CriteriaError(subject, f"criteria has more than {MAX_CRITERIA_TOKENS} tokens")
        self.index = 0
        self.depth = 0

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def fail(self, what: str) -> CriteriaError:
        token = self.peek()
        if token is None:
            return CriteriaError(self.subject, f"{what} at end of expression")
        return CriteriaError(self.subject, f"{what}, got {token[1]!r} at column {token[2] + 1}")

    def parse(self) -> Expr:
        if not self.tokens:
            raise CriteriaError(self.subject, "empty criteria expression")
        expr = self.disjunction()
        if self.peek() is not None:
            token = self.peek()
            if token is not None and token[1] == ")":
                raise CriteriaError(
                    self.subject, f"unbalanced parentheses: ')' at column {token[2] + 1}"
                )
            raise self.fail("expected '&', '|' or end of expression")
        return expr

    def disjunction(self) -> Expr:
        left = self.conjunction()
        while (token := self.peek()) is not None and token[1] == "|":
            self.index += 1
            left = Or(left, self.conjunction())
        return left

    def conjunction(self) -> Expr:
        left = self.unary()
        while (token := self.peek()) is not None and token[1] == "&":
            self.index += 1
            left = And(left, self.unary())
        return left

    def unary(self) -> Expr:
        token = self.peek()
        if token is None:
            raise self.fail("expected a condition name, '!' or '('")
        kind, value, column = token
        if value in "!(":
            self.depth += 1
            if self.depth > MAX_NESTING:
                raise CriteriaError(self.subject, f"criteria nested deeper than {MAX_NESTING}")
        if value == "!":
            self.index += 1
            operand = self.unary()
            self.depth -= 1
            return Not(operand)
        if value == "(":
            self.index += 1
            inner = self.disjunction()
            self.depth -= 1
            closing = self.peek()
            if closing is None:
                raise CriteriaError(
                    self.subject, f"unbalanced parentheses: '(' at column {column + 1} never closed"
                )
            if closing[1] != ")":
                raise self.fail("expected ')'")
            self.index += 1
            return inner
        if kind == "name":
            self.index += 1
            return Ref(value)
        raise self.fail("expected a condition name, '!' or '('")


def parse_criteria(text: str, subject: str = "criteria") -> Expr:
    """Parse a criteria expression.

    Raises:
        CriteriaError: on any malformed text (empty, bad character, unbalanced parentheses,
            missing operand); ``subject`` names the requirement in the message.
    """
    if len(text) > MAX_CRITERIA_LENGTH:
        raise CriteriaError(subject, f"criteria longer than {MAX_CRITERIA_LENGTH} characters")
    return _Parser(text, subject).parse()


def names(expr: Expr) -> tuple[str, ...]:
    """Condition names in order of first appearance, each once."""
    seen: dict[str, None] = {}
    stack: list[Expr] = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, Ref):
            seen.setdefault(node.name)
        elif isinstance(node, Not):
            stack.append(node.operand)
        else:
            stack.extend((node.right, node.left))
    return tuple(seen)


def evaluate(expr: Expr, value: Mapping[str, bool] | Callable[[str], bool]) -> bool:
    """The truth of ``expr`` given each condition's result.

    Raises:
        KeyError: when a mapping lacks a named condition (callers validate names first).
    """
    lookup = value.__getitem__ if isinstance(value, Mapping) else value
    if isinstance(expr, Ref):
        return lookup(expr.name)
    if isinstance(expr, Not):
        return not evaluate(expr.operand, lookup)
    if isinstance(expr, And):
        left, right = evaluate(expr.left, lookup), evaluate(expr.right, lookup)
        return left and right
    left, right = evaluate(expr.left, lookup), evaluate(expr.right, lookup)
    return left or right


_PRECEDENCE = {Or: 1, And: 2, Not: 3, Ref: 4}


def to_text(expr: Expr) -> str:
    """Canonical text with the fewest parentheses that keep the meaning (round-trips)."""

    def wrap(child: Expr, minimum: int) -> str:
        text = to_text(child)
        return f"({text})" if _PRECEDENCE[type(child)] < minimum else text

    if isinstance(expr, Ref):
        return expr.name
    if isinstance(expr, Not):
        return "!" + wrap(expr.operand, 3)
    if isinstance(expr, And):
        return f"{wrap(expr.left, 2)} & {wrap(expr.right, 3)}"
    return f"{wrap(expr.left, 1)} | {wrap(expr.right, 2)}"


def to_agent_text(expr: Expr) -> str:
    """Criteria as ISE sends them to the agent: the expression in one pair of parentheses."""
    return f"({to_text(expr)})"


def all_of(condition_names: tuple[str, ...]) -> Expr:
    """The default criteria: every condition must pass (``a & b & c``).

    Raises:
        ValueError: for an empty tuple (an empty requirement would pass vacuously).
    """
    if not condition_names:
        raise ValueError("a requirement needs at least one condition")
    expr: Expr = Ref(condition_names[0])
    for name in condition_names[1:]:
        expr = And(expr, Ref(name))
    return expr
