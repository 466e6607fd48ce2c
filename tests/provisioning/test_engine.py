"""ISE's first-match evaluation: top-down over enabled rules, OS through the feed's tree."""

from __future__ import annotations

import pytest

from feedmgr.provisioning.engine import Case, Outcome, Verdict, evaluate
from tests.provisioning.conftest import TableClassifier, policy, rule

MAC = ("Mac OSX",)
POLICY = policy(
    rule("off", ["Mac OSX 26"], ["Staff"], enabled=False),
    rule("cond", ["Mac OSX 15"], ["Staff"], conditions=["Device Type EQUALS Corp"]),
    rule("tahoe staff", ["Mac OSX 26"], ["Staff"]),
    rule("mac any", ["Mac OSX"]),
    rule("win staff", ["Windows All"], ["User Identity Groups:Staff"]),
)


@pytest.mark.parametrize(
    ("os_string", "group", "expected"),
    [
        ("mac26", "Staff", ("tahoe staff", Outcome.MATCHED, ())),
        ("mac26", "Guests", ("mac any", Outcome.MATCHED, ())),
        ("mac15", "Staff", ("mac any", Outcome.MATCHED, ("cond",))),
        ("mac15", None, ("mac any", Outcome.MATCHED, ())),
        ("win11", "staff", ("win staff", Outcome.MATCHED, ())),
        ("win11", "Guests", (None, Outcome.UNCOVERED, ())),
        ("mac27", "Staff", (None, Outcome.OS_UNKNOWN, ())),
    ],
)
def test_first_enabled_match_wins(
    classifier: TableClassifier,
    os_string: str,
    group: str | None,
    expected: tuple[str | None, Outcome, tuple[str, ...]],
) -> None:
    """The first enabled, unconditional rule whose OS node and group match decides."""
    decision = evaluate(POLICY, Case(classifier.place(os_string), group))
    matched = decision.matched.name if decision.matched else None
    conditional = tuple(r.name for r in decision.conditional)
    assert (matched, decision.outcome, conditional) == expected


def test_unknown_os_matches_no_rule_not_even_the_umbrella(classifier: TableClassifier) -> None:
    """ "Mac OSX" does not cover a macOS release the feed cannot classify."""
    decision = evaluate(POLICY, Case(classifier.place("macOS 27.0"), "Staff"))
    assert decision.matched is None
    assert {s.verdict for s in decision.steps} <= {Verdict.OS_MISMATCH, Verdict.DISABLED}
    assert "no rule can match it" in decision.steps[1].reason


def test_trace_explains_every_rule(classifier: TableClassifier) -> None:
    """Each rule gets a verdict and a reason; rules after the match are not reached."""
    decision = evaluate(POLICY, Case(classifier.place("mac15"), "Staff"))
    verdicts = [(s.rule.name, s.verdict) for s in decision.steps]
    assert verdicts == [
        ("off", Verdict.DISABLED),
        ("cond", Verdict.CONDITIONAL),
        ("tahoe staff", Verdict.OS_MISMATCH),
        ("mac any", Verdict.MATCH),
        ("win staff", Verdict.NOT_REACHED),
    ]
    assert "rule wants 'Mac OSX 26'" in decision.steps[2].reason
    assert "Device Type EQUALS Corp" in decision.steps[1].reason


def test_disabled_rule_that_would_match_is_remembered(classifier: TableClassifier) -> None:
    """With no enabled match, a disabled rule that would have matched makes it disabled-only."""
    only_disabled = policy(rule("off", ["Windows All"], enabled=False), rule("mac", ["Mac OSX"]))
    decision = evaluate(only_disabled, Case(classifier.place("win11"), "Staff"))
    assert decision.outcome is Outcome.DISABLED_ONLY
    assert [r.name for r in decision.disabled_matches] == ["off"]
    assert "would match if enabled" in decision.steps[0].reason


def test_group_mismatch_is_explained(classifier: TableClassifier) -> None:
    """A rule whose OS matches but whose groups do not says so."""
    decision = evaluate(POLICY, Case(classifier.place("win11"), "Guests"))
    last = decision.steps[-1]
    assert last.verdict is Verdict.GROUP_MISMATCH
    assert "'Guests' is not one of" in last.reason


def test_conditional_only_coverage(classifier: TableClassifier) -> None:
    """Only conditional rules matching gives the conditional outcome and both results."""
    only_cond = policy(rule("cond", ["Mac OSX"], conditions=["x"]))
    decision = evaluate(only_cond, Case(classifier.place("mac26"), "Staff"))
    assert decision.outcome is Outcome.CONDITIONAL
    assert [r.name for r in decision.possible_results] == ["cond"]
