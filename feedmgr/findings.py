"""The one currency of every check: a Finding, and a Report that collects them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from types import MappingProxyType
from typing import Any

from feedmgr.errors import ExitCode


class Severity(IntEnum):
    """How bad a finding is; ordered so that ``max()`` gives the worst."""

    INFO = 0
    WARN = 1
    FAIL = 2

    @property
    def label(self) -> str:
        """The lower-case name used in output and in ``--fail-on``."""
        return self.name.lower()

    @classmethod
    def from_label(cls, label: str) -> Severity:
        """Parse ``info``, ``warn`` or ``fail``.

        Raises:
            ValueError: for any other text.
        """
        try:
            return cls[label.upper()]
        except KeyError:
            raise ValueError(f"unknown severity {label!r}: expected info, warn or fail") from None


def _frozen_mapping(data: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(data or {}))


@dataclass(frozen=True)
class Finding:
    """One result of one check about one subject.

    ``check`` is a stable id (``feed.expired``, ``cert.identity``...), ``subject`` what was
    checked (a file, host:port, OS node), ``message`` what was found ("got X, expected Y"),
    ``fix`` how to make it right, ``data`` structured facts for JSON consumers and tests.
    """

    check: str
    severity: Severity
    subject: str
    message: str
    fix: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "data", _frozen_mapping(self.data))

    def to_json(self) -> dict[str, Any]:
        """The documented JSON shape of a finding."""
        return {
            "check": self.check,
            "severity": self.severity.label,
            "subject": self.subject,
            "message": self.message,
            "fix": self.fix,
            "data": dict(self.data),
        }


@dataclass(frozen=True)
class Report:
    """Findings of one run, in the order the checks produced them, plus context facts."""

    title: str
    findings: tuple[Finding, ...] = ()
    facts: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "findings", tuple(self.findings))
        object.__setattr__(self, "facts", _frozen_mapping(self.facts))

    def extended(self, findings: Iterable[Finding]) -> Report:
        """Return a copy with more findings appended."""
        return Report(self.title, (*self.findings, *findings), self.facts)

    @property
    def worst(self) -> Severity | None:
        """The highest severity present, or None for an empty report."""
        return max((f.severity for f in self.findings), default=None)

    def by_check(self, check: str) -> tuple[Finding, ...]:
        """All findings of one check id."""
        return tuple(f for f in self.findings if f.check == check)

    def counts(self) -> dict[str, int]:
        """Number of findings per severity label, every label present."""
        counts = {s.label: 0 for s in Severity}
        for f in self.findings:
            counts[f.severity.label] += 1
        return counts

    def exit_code(self, fail_on: Severity = Severity.FAIL) -> ExitCode:
        """1 when any finding is at least ``fail_on``, else 0."""
        worst = self.worst
        if worst is not None and worst >= fail_on:
            return ExitCode.CHECKS_FAILED
        return ExitCode.OK
