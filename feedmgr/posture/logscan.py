"""Pull ``<check>`` and ``<package>`` XML out of Secure Client and ISE logs.

Inputs are Secure Client ``unified_log.log`` (DART bundle) and ISE ``ise-psc.log``, where
XML lines follow a timestamped log line, may lose their first lines (the ISE excerpt in the
field document starts at ``<version2>``: its ``<cleanmachines>`` was cut off with the log
prefix) and may be truncated. The scanner is line-oriented and total: it never raises on
any text; damaged fragments are reported as problems with their line numbers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from feedmgr.errors import ParseError
from feedmgr.posture.agentxml import (
    AgentPackage,
    check_from_element,
    package_from_element,
    parse_xml,
)
from feedmgr.posture.model import ServiceCondition

# "[Tue Feb 27 10:30:58.576 2024][csc_ise posture]..." and "2024-02-27 10:30:58.658 DEBUG".
_LOG_PREFIX = re.compile(
    r"^\s*(?:\[(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) |\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2})"
)
_OPEN = re.compile(r"<(package|check)>")
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9_]*/?>")
_VERSION2 = re.compile(r"<version2>([^<]{0,200})</version2>")
# Lines that say something about check results: the agent's doCheck / completeCheck
# functions, the CheckSvc source file, ISE's posture StatusUtil / status words.
_RESULT = re.compile(
    r"docheck|completecheck|checksvc|check ?result|posture\.util\.status|"
    r"\bnon-?compliant\b|\bcompliant\b|posture status",
    re.IGNORECASE,
)
MAX_FRAGMENT_CHARS = 256 * 1024
MAX_FRAGMENT_LINES = 5_000
MAX_NOTED = 1_000
MAX_LINES_PER_ITEM = 100
MAX_CACHED = 256
MAX_CACHED_CHARS = 16 * 1024


@dataclass(frozen=True)
class Found:
    """One distinct package or check and the lines where its XML starts."""

    item: AgentPackage | ServiceCondition
    lines: tuple[int, ...]
    count: int


@dataclass(frozen=True)
class LogScan:
    """What a log holds: distinct packages and checks, result lines, problems."""

    origin: str
    lines: int
    documents: int
    ise_versions: tuple[str, ...]
    packages: tuple[Found, ...]
    checks: tuple[Found, ...]
    result_lines: tuple[tuple[int, str], ...]
    problems: tuple[tuple[int, str], ...]


class _Tally:
    def __init__(self) -> None:
        self.items: dict[AgentPackage | ServiceCondition, tuple[list[int], list[int]]] = {}

    def add(self, item: AgentPackage | ServiceCondition, line: int) -> None:
        lines, count = self.items.setdefault(item, ([], [0]))
        count[0] += 1
        if len(lines) < MAX_LINES_PER_ITEM:
            lines.append(line)

    def found(self) -> tuple[Found, ...]:
        return tuple(Found(item, tuple(lines), c[0]) for item, (lines, c) in self.items.items())


class _Scanner:
    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.packages = _Tally()
        self.checks = _Tally()
        self.results: list[tuple[int, str]] = []
        self.problems: list[tuple[int, str]] = []
        self.versions: dict[str, None] = {}
        self.documents = 0
        self.root: str | None = None
        self.start = 0
        self.buffer: list[str] = []
        self.size = 0
        self.cache: dict[str, AgentPackage | ServiceCondition | str] = {}

    def note(self, target: list[tuple[int, str]], line: int, text: str) -> None:
        if len(target) < MAX_NOTED:
            target.append((line, text))

    def abandon(self, why: str) -> None:
        self.note(self.problems, self.start, f"<{self.root}> at line {self.start}: {why}")
        self.root = None
        self.buffer = []
        self.size = 0

    def feed(self, number: int, line: str) -> None:
        if _LOG_PREFIX.match(line) and _RESULT.search(line):
            self.note(self.results, number, line.strip()[:300])
        if self.root is None:
            self.outside(number, line)
            return
        if _LOG_PREFIX.match(line):
            # Logs shown with a timestamp on every line carry the XML after the prefix; a
            # log line with no tag in it means the XML was cut off.
            tag = _TAG.search(line)
            if tag is None:
                self.abandon(f"truncated: a log line starts at line {number} before </{self.root}>")
                self.outside(number, line)
                return
            line = line[tag.start() :]
        self.inside(number, line)

    def outside(self, number: int, line: str) -> None:
        for version in _VERSION2.findall(line):
            self.versions.setdefault(version.strip())
        self.documents += line.count("</cleanmachines>")
        match = _OPEN.search(line)
        if match is None:
            return
        self.root = match.group(1)
        self.start = number
        self.buffer = []
        self.size = 0
        self.inside(number, line[match.start() :])

    def inside(self, number: int, line: str) -> None:
        reopened = line.find(f"<{self.root}>", 1 if not self.buffer else 0)
        close = line.find(f"</{self.root}>")
        if reopened != -1 and (close == -1 or reopened < close):
            self.abandon(f"truncated: a new <{self.root}> starts at line {number}")
            self.outside(number, line[reopened:])
            return
        if close != -1:
            end = close + len(self.root or "") + 3
            self.buffer.append(line[:end])
            self.finish()
            self.outside(number, line[end:])
            return
        self.buffer.append(line)
        self.size += len(line)
        if self.size > MAX_FRAGMENT_CHARS or len(self.buffer) > MAX_FRAGMENT_LINES:
            self.abandon("too long: not closed within the size limit")

    def finish(self) -> None:
        root, start, text = self.root, self.start, "".join(self.buffer)
        self.root = None
        self.buffer = []
        self.size = 0
        # Logs repeat the same document many times; parse each distinct fragment once.
        parsed = self.cache.get(text)
        if parsed is None:
            parsed = _parse_fragment(root or "", text, f"{self.origin}:{start}")
            if len(text) <= MAX_CACHED_CHARS:
                if len(self.cache) >= MAX_CACHED:
                    self.cache.clear()
                self.cache[text] = parsed
        if isinstance(parsed, str):
            self.note(self.problems, start, f"<{root}> at line {start}: {parsed}")
        elif isinstance(parsed, AgentPackage):
            self.packages.add(parsed, start)
            for check in parsed.checks:
                self.checks.add(check, start)
        else:
            self.checks.add(parsed, start)

    def end(self, lines: int) -> LogScan:
        if self.root is not None:
            self.abandon("truncated: the log ends before it is closed")
        return LogScan(
            origin=self.origin,
            lines=lines,
            documents=self.documents,
            ise_versions=tuple(self.versions),
            packages=self.packages.found(),
            checks=self.checks.found(),
            result_lines=tuple(self.results),
            problems=tuple(self.problems),
        )


def _parse_fragment(root: str, text: str, subject: str) -> AgentPackage | ServiceCondition | str:
    """A package or check from XML text, or the problem with it (never raises)."""
    try:
        element = parse_xml(text, subject)
        if root == "package":
            return package_from_element(element, subject)
        return check_from_element(element, subject)
    except ParseError as exc:
        return exc.problem
    except (RecursionError, MemoryError, ValueError, TypeError):
        # Defence in depth: the XML parser must not take the scanner down on odd input.
        return "unparseable"


def scan_log(lines: Iterable[str], origin: str) -> LogScan:
    """Scan log text line by line; total (never raises on content), memory bounded."""
    scanner = _Scanner(origin)
    number = 0
    for line in lines:
        number += 1
        scanner.feed(number, line)
    return scanner.end(number)


def compare(scan: LogScan, expected: Sequence[AgentPackage]) -> dict[str, str]:
    """For each expected package, by name: ``same`` (in the log unchanged), ``differs`` (a
    package of that name with other content) or ``missing``."""
    found = {f.item for f in scan.packages}
    names = {f.item.name for f in scan.packages if isinstance(f.item, AgentPackage)}
    return {
        p.name: "same" if p in found else ("differs" if p.name in names else "missing")
        for p in expected
    }
