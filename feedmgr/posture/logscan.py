"""Pull ``<check>`` and ``<package>`` XML, and the posture outcome, out of Secure Client and
ISE logs as they really come.

Inputs: Secure Client ``unified_log.log`` (DART bundle, ``[Tue Feb 27 10:30:58.576 2024]``
prefixes), macOS ``system.log`` / syslog (``Feb 12 02:27:10 host proc[pid]:``), ``log show``
output and ISE ``ise-psc.log`` (ISO timestamps), ISE syslog (``<181>Feb 26 ...``), and the
Windows event exports of a DART bundle (``AnyConnect_ISEPosture.txt``: ``*****`` separated
blocks of ``Date :``, ``Time :``, ``Type :``, ``Source :`` and ``Description :`` lines).

XML may follow a log line or carry a log prefix on every line; it may lose its first lines
with a prefix (the field document's ``ise-psc.log`` excerpt starts at ``<version2>``), be
cut by another log line, be flattened onto one line, or be escaped by a forwarder (rsyslog
``#012``, JSON ``\\n`` / ``\\u003c``). The scanner is total: it never raises on any text;
damaged fragments are reported as problems with their line numbers, and a document cut by
a foreign line is counted as cut, never as whole.

Speed: outside XML only lines holding a candidate word are looked at. They are found by one
RE2 pass (a DFA, like grep's) over each chunk's UTF-8 bytes, so most of a large log is
skipped without a Python step per line (benchmarks/posture_log.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from xml.etree.ElementTree import Element

import re2  # type: ignore[import-untyped]

from feedmgr.errors import ParseError
from feedmgr.posture.agentxml import (
    AgentCheck,
    AgentPackage,
    check_from_element,
    package_from_element,
    parse_xml,
)
from feedmgr.posture.criteria import to_agent_text
from feedmgr.posture.launchd import CHUNK
from feedmgr.posture.model import ServiceCondition

_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_DAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
# Every log-line prefix feedmgr knows; ``time`` is the timestamp as written. Windows export
# header lines (``Date :`` ...) and their ``*****`` separators are prefixes with no content.
_PREFIX = re.compile(
    r"[ \t]*(?:<\d{1,3}>)?(?:"
    # Secure Client's own: [Tue Feb 27 10:30:58.576 2024][csc_ise posture]
    rf"\[(?P<sc>{_DAY} {_MONTH} +\d{{1,2}} \d{{2}}:\d{{2}}:\d{{2}}(?:\.\d+)? \d{{4}})\]"
    # ISO: ise-psc.log, log show, RFC 5424 syslog: 2024-02-27 10:30:58.658[-0800]
    r"|(?P<iso>\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?)"
    # BSD syslog / macOS system.log / ISE syslog: Feb 12 02:27:10 host proc[pid]:
    rf"|(?P<bsd>{_MONTH} +\d{{1,2}} \d{{2}}:\d{{2}}:\d{{2}})(?: [+-]\d{{2}}:\d{{2}})?"
    r" [^\s]+ [^\s:\[]+(?:\[\d+\])?:?"
    # Windows event export (DART AnyConnect_ISEPosture.txt)
    r"|(?P<winkey>Date|Time|Type|Source|Event ID|Category)[ \t]*:[ \t]*(?P<winval>.*)"
    r"|(?P<desc>Description)[ \t]*:"
    r"|(?P<rule>\*{10,})[ \t]*$"
    r")"
)
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9_]*/?>")
# The XML landmarks, in the order they appear on a line.
_MARK = re.compile(
    r"<(?P<close>/?)(?P<tag>cleanmachines|package|check)>|<version2>(?P<v2>[^<]{0,200})</version2>"
)
# Lines that say something about check results and the posture outcome: the agent's
# doCheck / completeCheck functions, the CheckSvc source file, its MSG_SU_STEP_STATUS UI
# updates, ISE's posture StatusUtil, status words and the CP bypass messages.
# Looked for in the lower-cased line with `in` (a regex alternation is far slower).
_RESULT_WORDS = (
    "compliant",  # first: most result lines hold it (any() stops there)
    "docheck",
    "completecheck",
    "checksvc",
    "check result",
    "checkresult",
    "posture.util.status",
    "msg_su_step_status",
    "posture status",
    "posturestatus",
    "posturereport",
    "bypassing",
    "not configured to use",
)
# What makes a line worth looking at outside XML (any case): XML, plain or JSON-escaped
# (rsyslog's #012 escaping leaves "<" as it is), and every result word.
_NEEDLES = ("<", "\\u003c", *_RESULT_WORDS)
# A candidate line: from its start (or the search position) to its last needle. RE2 runs
# the alternation as one DFA pass over the bytes, its cost flat in the number of needles
# (CPython's re tries every alternative at every position: 20x slower); its case folding
# of UTF-8 is a superset of what str.lower() makes ASCII (KELVIN SIGN matches "k"), so no
# line the every-line scan acts on is missed.
_CANDIDATE: Any = re2.compile(
    (r"(?i)[^\n]*(?:" + "|".join(re.escape(n) for n in _NEEDLES) + ")").encode()
)
# MSG_SU_STEP_STATUS, {Status:6,Compliant:3,...,Description1:"System scan not required..."}
_STEP_STATUS = re.compile(
    r"MSG_SU_STEP_STATUS\W{1,4}\{Status:(?P<status>-?\d+),Compliant:(?P<compliant>-?\d+)"
)
_DESCRIPTION1 = re.compile(r"Description1:\\?\"(?P<d1>[^\"\\]{0,300})")
_POSTURE_STATUS = re.compile(
    r"\bPostureStatus\s*[=:]\s*(?P<v>[A-Za-z]+)|\bposture status\s*(?:is|[=:])\s*(?P<w>[A-Za-z-]+)",
    re.IGNORECASE,
)
_POSTURE_REPORT = re.compile(r"\bPostureReport=(?P<v>.*?)(?:, [A-Za-z-]+=|:!:|$)")
_POLICY_MATCHED = re.compile(r"\bPosturePolicyMatched=(?P<v>[^,]*)")
# The field document: "Bypassing Cisco Secure Client Scan" / "Your network is not
# configured to use Cisco ISE Posture Agent" appear when no client-provisioning policy
# gives the endpoint a posture profile (no CP rule covers its OS or group).
_CP_NONE = re.compile(
    r"bypassing (?:cisco secure client|anyconnect) scan|"
    r"not configured to use cisco ise posture agent",
    re.IGNORECASE,
)
_XML_MARKS = ("<", "#012", "\\u003")
_WINDOWS_RULE = re.compile(r"^\*{10,}[ \t]*$", re.MULTILINE)
_WINDOWS_DATE = re.compile(r"^Date[ \t]*:", re.MULTILINE)
SNIFF_LINES = 200
_JSON_ESCAPE = re.compile(r"\\(?:u([0-9a-fA-F]{4})|([\"\\/bfnrt]))")
_JSON_SIMPLE = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
MAX_FRAGMENT_CHARS = 256 * 1024
MAX_FRAGMENT_LINES = 5_000
MAX_NOTED = 1_000
MAX_LINES_PER_ITEM = 100
MAX_CACHED = 256
MAX_CACHED_CHARS = 16 * 1024

Item = AgentPackage | ServiceCondition | AgentCheck
T = TypeVar("T")


@dataclass(frozen=True)
class Found:
    """One distinct package or check and the lines where its XML starts."""

    item: Item
    lines: tuple[int, ...]
    count: int


@dataclass(frozen=True)
class Reported:
    """One outcome value as the log reports it: the value, where, and when."""

    value: str
    line: int
    time: str


@dataclass(frozen=True)
class AgentStatus:
    """One MSG_SU_STEP_STATUS update of the agent's UI, fields as logged (not decoded)."""

    status: int
    compliant: int
    description: str
    line: int
    time: str


@dataclass(frozen=True)
class ReportedPolicy:
    """One posture policy result of an ISE ``PostureReport``, as reported; the fields after
    the status are kept verbatim (``detail``) and split only where they follow the ISE
    report's columns (requirement, enforcement, status, passed/failed/skipped)."""

    policy: str
    status: str
    detail: str
    requirement: str
    enforcement: str
    requirement_status: str
    passed: tuple[str, ...]
    failed: tuple[str, ...]
    skipped: tuple[str, ...]
    line: int


@dataclass(frozen=True)
class Outcome:
    """What the log says about the posture outcome (each list in log order)."""

    posture_status: tuple[Reported, ...] = ()
    agent_status: tuple[AgentStatus, ...] = ()
    policies_matched: tuple[Reported, ...] = ()
    policy_results: tuple[ReportedPolicy, ...] = ()
    cp_decision: tuple[Reported, ...] = ()

    @property
    def final_status(self) -> Reported | None:
        """The last posture status the log reports, or None."""
        return self.posture_status[-1] if self.posture_status else None


@dataclass(frozen=True)
class LogScan:
    """What a log holds: distinct packages and checks, documents, result lines, outcome,
    problems. ``documents`` counts whole ``<cleanmachines>`` documents only; documents cut
    by another log line, by the end of the log, or missing their opening are
    ``documents_cut``."""

    origin: str
    lines: int
    documents: int
    documents_cut: int
    ise_versions: tuple[str, ...]
    packages: tuple[Found, ...]
    checks: tuple[Found, ...]
    result_lines: tuple[tuple[int, str, str], ...]
    problems: tuple[tuple[int, str], ...]
    outcome: Outcome = field(default_factory=Outcome)
    known_format: bool = False

    @property
    def recognised(self) -> bool:
        """True when the log held anything about posture at all."""
        return bool(self.documents or self.documents_cut or self.packages or self.checks) or bool(
            self.result_lines or self.problems
        )


class _Tally:
    def __init__(self) -> None:
        self.items: dict[Item, tuple[list[int], list[int]]] = {}

    def add(self, item: Item, line: int) -> None:
        lines, count = self.items.setdefault(item, ([], [0]))
        count[0] += 1
        if len(lines) < MAX_LINES_PER_ITEM:
            lines.append(line)

    def found(self) -> tuple[Found, ...]:
        return tuple(Found(item, tuple(lines), c[0]) for item, (lines, c) in self.items.items())


def _unescape(content: str) -> str:
    """XML that a forwarder escaped onto one line, back to XML text. Only a line break
    escaped right after a tag (or an escaped ``<``) counts as escaping: a registry path in
    a check's ``<param>`` (``HKLM\\SOFTWARE\\nvidia``) must stay as it is."""
    if ">#012" in content:  # rsyslog's control-character escapes
        content = content.replace("#012", "\n").replace("#011", "\t").replace("#015", "")
    if "\\u003c" in content.lower() or ">\\n" in content:

        def one(match: re.Match[str]) -> str:
            if match.group(1):
                return chr(int(match.group(1), 16))
            return _JSON_SIMPLE.get(match.group(2), match.group(2))

        content = _JSON_ESCAPE.sub(one, content)
    return content


def _decode(data: bytes) -> str:
    """UTF-8 bytes of scanned text back to the text: exact for text encoded with
    surrogatepass; bytes that are not UTF-8 (a caller's, never logread's) become U+FFFD."""
    try:
        return data.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return data.decode("utf-8", "replace")


def _first_mark(content: str) -> int:
    """Where XML (plain or escaped) starts in ``content``, or -1."""
    first = -1
    for needle in _XML_MARKS:
        at = content.find(needle)
        if at != -1 and (first == -1 or at < first):
            first = at
    return first


def _foreign_text(element: Element) -> bool:
    """True when text other than whitespace sits between elements: lines of another log
    message that landed inside the XML."""
    for child in element.iter():
        if len(child) and (child.text or "").strip():
            return True
        for grandchild in child:
            if (grandchild.tail or "").strip():
                return True
    return False


def _parse_fragment(root: str, text: str, subject: str) -> Item | str:
    """A package or check from XML text, or the problem with it (never raises)."""
    try:
        element = parse_xml(text, subject)
        if _foreign_text(element):
            return "text of another log line inside the XML (cut or interleaved)"
        if root == "package":
            return package_from_element(element, subject)
        return check_from_element(element, subject)
    except ParseError as exc:
        return exc.problem
    except (RecursionError, MemoryError, ValueError, TypeError):
        # Defence in depth: the XML parser must not take the scanner down on odd input.
        return "unparseable"


def _names(text: str) -> tuple[str, ...]:
    return tuple(n.strip() for n in text.split(",") if n.strip())


def parse_posture_report(text: str, line: int) -> tuple[ReportedPolicy, ...]:
    """The policy results of an ISE ``PostureReport`` value: ``policy;status;(detail)``
    entries separated by ``, `` (``;`` may be escaped as ``\\;``). The detail is split on
    ``:`` into the ISE report's columns when it has them; it is kept verbatim always."""
    results = []
    for entry in re.split(r",\s*(?=[^;,()]+\\?;)", text.strip()):
        parts = re.split(r"\\?;", entry, maxsplit=2)
        if len(parts) < 2 or not parts[0].strip():
            continue
        detail = parts[2].strip() if len(parts) > 2 else ""
        inner = detail[1:-1] if detail.startswith("(") and detail.endswith(")") else detail
        columns = re.match(
            r"(?P<req>[^:]*):(?P<enf>[^:]*):(?P<st>[^:]*):Passed_Conditions\[(?P<p>[^\]]*)\]"
            r":Failed_Conditions\[(?P<f>[^\]]*)\]:Skipped_Conditions\[(?P<s>[^\]]*)\]",
            inner,
        )
        results.append(
            ReportedPolicy(
                policy=parts[0].strip(),
                status=parts[1].strip(),
                detail=detail,
                requirement=columns.group("req") if columns else "",
                enforcement=columns.group("enf") if columns else "",
                requirement_status=columns.group("st") if columns else "",
                passed=_names(columns.group("p")) if columns else (),
                failed=_names(columns.group("f")) if columns else (),
                skipped=_names(columns.group("s")) if columns else (),
                line=line,
            )
        )
    return tuple(results)


class _Scanner:
    def __init__(self, origin: str, every_line: bool = False) -> None:
        self.origin = origin
        self.every_line = every_line
        self.packages = _Tally()
        self.checks = _Tally()
        self.results: list[tuple[int, str, str]] = []
        self.problems: list[tuple[int, str]] = []
        self.versions: dict[str, None] = {}
        self.documents = 0
        self.documents_cut = 0
        # The open <cleanmachines> document: line it starts at, whether its opening tag
        # was seen, and whether something cut it.
        self.doc: tuple[int, bool] | None = None
        self.doc_cut = False
        # The rest of a document that was cut: its closing tag is not another document.
        self.orphan = False
        self.root: str | None = None
        self.start = 0
        self.buffer: list[str] = []
        self.size = 0
        self.cache: dict[str, Item | str] = {}
        self.windows = False
        self.win_date = ""
        self.win_time = ""
        self.known_format = False
        self.status: list[Reported] = []
        # AgentStatus fields; the objects are made at the end (a log holds thousands of
        # these updates and only MAX_NOTED are kept).
        self.agent: list[tuple[int, int, str, int, str]] = []
        self.matched: list[Reported] = []
        self.policy_results: list[ReportedPolicy] = []
        self.cp: list[Reported] = []

    def note(self, target: list[tuple[int, str]], line: int, text: str) -> None:
        self.keep(target, (line, text))

    @staticmethod
    def keep(target: list[T], value: T) -> None:
        """Keep the first MAX_NOTED - 1 values and always the last one (the final status
        of a long log is its last)."""
        if len(target) < MAX_NOTED:
            target.append(value)
        else:
            target[-1] = value

    @property
    def open(self) -> bool:
        return self.root is not None or self.doc is not None

    # -- chunks ---------------------------------------------------------------------------

    def sniff(self, text: str) -> None:
        """Look at the first lines of the log: is it in a known log format, and is it a
        Windows event export (read line by line: its timestamps are on header lines)?"""
        head = "\n".join(text.split("\n", SNIFF_LINES)[:SNIFF_LINES])
        self.known_format = any(_PREFIX.match(line) for line in head.splitlines())
        # Both a ***** separator and a Date : header: a "Date:" line alone (an HTTP header
        # in a debug log) does not make a log a Windows export.
        self.windows = bool(_WINDOWS_RULE.search(head) and _WINDOWS_DATE.search(head))

    def chunk(self, chunk: str | bytes, first: int) -> int:
        """Scan ``chunk`` (whole lines, each ending in a newline; bytes are UTF-8) whose
        first line is number ``first``; return the number of the line after it."""
        if first == 1:
            self.sniff(chunk if isinstance(chunk, str) else _decode(chunk))
        if self.every_line or self.windows:
            text = chunk if isinstance(chunk, str) else _decode(chunk)
            lines = text[:-1].split("\n")
            for number, line in enumerate(lines, first):
                self.line(number, line)
            return first + len(lines)
        # Offsets of the UTF-8 bytes: lines are decoded back one by one, exactly
        # (surrogatepass keeps lone surrogates a caller's text may hold).
        data = chunk if isinstance(chunk, bytes) else chunk.encode("utf-8", "surrogatepass")
        # XML left open by the previous chunk goes on from this chunk's first line.
        pos, number = self.walk(data, 0, first) if self.open else (0, first)
        for found in _CANDIDATE.finditer(data):
            # The scan jumps from one candidate line to the next; lines it has already
            # walked through (inside XML) are behind pos.
            start = data.rfind(b"\n", 0, found.start()) + 1
            if start >= pos:
                pos, number = self.walk(data, start, number + data.count(b"\n", pos, start))
        return number + data.count(b"\n", pos)

    def walk(self, data: bytes, pos: int, number: int) -> tuple[int, int]:
        """Scan the line at ``pos`` (number ``number``) and the lines after it while XML is
        open; return where the next line starts and its number."""
        size = len(data)
        while True:
            end = data.find(b"\n", pos)
            if end == -1:
                end = size
            self.line(number, _decode(data[pos:end]))
            pos = end + 1
            number += 1
            if pos >= size or not self.open:
                return pos, number

    # -- lines ----------------------------------------------------------------------------

    def stamp(self, prefix: re.Match[str] | None) -> str:
        """The timestamp of a line: its prefix's, or its Windows event block's."""
        if prefix is not None and prefix.lastgroup != "desc":
            # The alternatives with a timestamp end on it: lastgroup is sc, iso or bsd.
            return prefix.group(prefix.lastgroup or 0)
        if prefix is not None or self.windows:
            return f"{self.win_date} {self.win_time}".strip()
        return ""

    def line(self, number: int, line: str) -> None:
        prefix = _PREFIX.match(line)
        if prefix is not None:
            # One attribute instead of a group() call per alternative: the Windows header
            # alternative ends on winval.
            kind = prefix.lastgroup
            if kind in ("winval", "rule"):
                if self.windows:
                    self.windows_header(number, prefix)
                    return
                prefix = None
            elif kind == "desc" and not self.windows:
                prefix = None
        skip = prefix.end() if prefix is not None else 0
        content = line[skip:]
        # Where XML (plain or escaped) starts on the line; text before it is the message.
        mark = _first_mark(content)
        xml = mark != -1
        message = line[: skip + mark] if xml else line
        if xml:
            content = _unescape(content)
        opened = self.root is not None or self.doc is not None
        if prefix is not None and opened:
            # Logs that prefix every line carry the XML after the prefix; a prefixed line
            # without a tag is another message: the open XML was cut there.
            tag = _TAG.search(content) if xml else None
            if tag is None:
                if content.strip():
                    self.cut(number, "a log line starts")
                    opened = self.open
                xml = False
            else:
                content = content[tag.start() :]
        if not opened and (prefix is not None or self.windows):
            # Words inside XML on the line (a requirement's message) are not results.
            low = message.lower()
            if any(map(low.__contains__, _RESULT_WORDS)):
                self.result(number, self.stamp(prefix), line, low)
        if xml:
            self.xml(number, content)

    def windows_header(self, number: int, prefix: re.Match[str]) -> None:
        if self.open:
            self.cut(number, "a new event starts")
        key = prefix.group("winkey")
        if key == "Date":
            self.win_date = prefix.group("winval").strip()[:40]
            self.win_time = ""
        elif key == "Time":
            self.win_time = prefix.group("winval").strip()[:40]

    def result(self, number: int, time: str, line: str, low: str) -> None:
        results = self.results
        if len(results) < MAX_NOTED:
            results.append((number, time, line.strip()[:300]))
        else:
            results[-1] = (number, time, line.strip()[:300])
        # Each extractor runs only when its keyword is on the line (cheap `in` tests).
        step = _STEP_STATUS.search(line) if "msg_su_step_status" in low else None
        if step is not None:
            description = _DESCRIPTION1.search(line, step.end())
            self.keep(
                self.agent,
                (
                    int(step.group("status")),
                    int(step.group("compliant")),
                    description.group("d1") if description else "",
                    number,
                    time,
                ),
            )
        if "posturestatus" in low or "posture status" in low:
            status = _POSTURE_STATUS.search(line)
            if status is not None:
                value = status.group("v") or status.group("w")
                self.keep(self.status, Reported(value, number, time))
        if "posturepolicymatched=" in low:
            matched = _POLICY_MATCHED.search(line)
            if matched is not None and matched.group("v").strip():
                self.keep(self.matched, Reported(matched.group("v").strip()[:300], number, time))
        if "posturereport=" in low:
            report = _POSTURE_REPORT.search(line)
            if report is not None:
                for result in parse_posture_report(report.group("v")[:10_000], number):
                    self.keep(self.policy_results, result)
        if "bypassing" in low or "not configured to use" in low:
            cp = _CP_NONE.search(line)
            if cp is not None:
                self.keep(
                    self.cp,
                    Reported(
                        f"no client-provisioning policy matched: the agent reports {cp.group()!r}",
                        number,
                        time,
                    ),
                )

    # -- XML ------------------------------------------------------------------------------

    def cut(self, number: int, why: str) -> None:
        """Something that is not the XML arrived while XML was open."""
        noted = self.doc_cut
        if self.root is not None:
            self.abandon(f"truncated: {why} at line {number} before </{self.root}>")
        if self.doc is not None:
            if not noted:
                self.note(
                    self.problems,
                    self.doc[0],
                    f"<cleanmachines> at line {self.doc[0]}: cut: {why} at line {number} "
                    "before </cleanmachines>; not counted as a whole document",
                )
            self.documents_cut += 1
            self.doc = None
            self.doc_cut = False
            self.orphan = True

    def abandon(self, why: str) -> None:
        self.note(self.problems, self.start, f"<{self.root}> at line {self.start}: {why}")
        self.root = None
        self.buffer = []
        self.size = 0
        self.doc_cut = self.doc_cut or self.doc is not None

    def open_doc(self, number: int, head: bool) -> None:
        if self.doc is not None:
            self.cut(number, "a new <cleanmachines> starts")
        self.doc = (number, head)
        self.doc_cut = False
        self.orphan = False

    def close_doc(self, number: int) -> None:
        if self.doc is None:
            if self.orphan:
                self.orphan = False
                return
            self.documents_cut += 1
            self.note(
                self.problems,
                number,
                f"</cleanmachines> at line {number}: its opening is not in the log; "
                "not counted as a whole document",
            )
            return
        start, head = self.doc
        if not head:
            self.documents_cut += 1
            self.note(
                self.problems,
                start,
                f"<cleanmachines> ending at line {number}: its opening tag is not in the log "
                f"(the document starts at <version2>, line {start}); not counted as whole",
            )
        elif self.doc_cut:
            self.documents_cut += 1
        else:
            self.documents += 1
        self.doc = None
        self.doc_cut = False

    def xml(self, number: int, content: str) -> None:
        pos = 0
        while pos < len(content):
            if self.root is not None:
                pos = self.inside(number, content, pos)
                continue
            match = _MARK.search(content, pos)
            if match is None:
                return
            tag = match.group("tag")
            if tag is None:
                self.versions.setdefault(match.group("v2").strip())
                if self.doc is None and not self.orphan:
                    self.open_doc(number, head=False)
            elif tag == "cleanmachines":
                if match.group("close"):
                    self.close_doc(number)
                else:
                    self.open_doc(number, head=True)
            elif match.group("close"):
                if self.doc is not None and not self.doc_cut:
                    self.cut(number, f"a stray </{tag}>")
            else:
                self.root = tag
                self.start = number
                self.buffer = []
                self.size = 0
                pos = match.start()
                continue
            pos = match.end()

    def inside(self, number: int, content: str, pos: int) -> int:
        """Continue the open package or check from ``content[pos:]``; return where the
        scan of the line goes on."""
        root = self.root or ""
        close = content.find(f"</{root}>", pos)
        first = pos + 1 if not self.buffer and content.startswith(f"<{root}>", pos) else pos
        limit = close if close != -1 else len(content)
        stops = [
            i
            for i in (
                content.find(f"<{root}>", first, limit),
                content.find("<cleanmachines>", pos, limit),
                content.find("</cleanmachines>", pos, limit),
            )
            if i != -1
        ]
        if stops:
            stop = min(stops)
            self.abandon(f"truncated: a new <{root}> or document edge at line {number}")
            return stop
        if close != -1:
            end = close + len(root) + 3
            self.buffer.append(content[pos:end])
            self.finish()
            return end
        self.buffer.append(content[pos:] + "\n")
        self.size += len(content) - pos
        if self.size > MAX_FRAGMENT_CHARS or len(self.buffer) > MAX_FRAGMENT_LINES:
            self.abandon("too long: not closed within the size limit")
        return len(content)

    def finish(self) -> None:
        root, start, text = self.root or "", self.start, "".join(self.buffer)
        self.root = None
        self.buffer = []
        self.size = 0
        # Logs repeat the same document many times; parse each distinct fragment once.
        parsed = self.cache.get(text)
        if parsed is None:
            parsed = _parse_fragment(root, text, f"{self.origin}:{start}")
            if len(text) <= MAX_CACHED_CHARS:
                if len(self.cache) >= MAX_CACHED:
                    self.cache.clear()
                self.cache[text] = parsed
        if isinstance(parsed, str):
            self.note(self.problems, start, f"<{root}> at line {start}: {parsed}")
            self.doc_cut = self.doc_cut or self.doc is not None
        elif isinstance(parsed, AgentPackage):
            self.packages.add(parsed, start)
            for check in parsed.checks:
                self.checks.add(check, start)
            for other in parsed.other_checks:
                self.checks.add(other, start)
        else:
            self.checks.add(parsed, start)

    def end(self, lines: int) -> LogScan:
        if self.open:
            self.cut(lines, "the log ends")
        return LogScan(
            origin=self.origin,
            lines=lines,
            documents=self.documents,
            documents_cut=self.documents_cut,
            ise_versions=tuple(self.versions),
            packages=self.packages.found(),
            checks=self.checks.found(),
            result_lines=tuple(self.results),
            problems=tuple(self.problems),
            outcome=Outcome(
                posture_status=tuple(self.status),
                agent_status=tuple(AgentStatus(*fields) for fields in self.agent),
                policies_matched=tuple(self.matched),
                policy_results=tuple(self.policy_results),
                cp_decision=tuple(self.cp),
            ),
            known_format=self.known_format,
        )


def scan_chunks(chunks: Iterable[str | bytes], origin: str, *, every_line: bool = False) -> LogScan:
    """Scan log text given as chunks of whole lines (str, or UTF-8 bytes); total (never
    raises on content), memory bounded. ``every_line`` looks at every line instead of only
    candidate lines (same result, slower: for tests and doubt)."""
    scanner = _Scanner(origin, every_line)
    number = 1
    for chunk in chunks:
        if isinstance(chunk, str):
            number = scanner.chunk(chunk if chunk.endswith("\n") else chunk + "\n", number)
        else:
            number = scanner.chunk(chunk if chunk.endswith(b"\n") else chunk + b"\n", number)
    return scanner.end(number - 1)


def scan_log(lines: Iterable[str], origin: str) -> LogScan:
    """Scan log text given line by line (each line with or without its newline)."""

    def batches() -> Iterator[str]:
        batch: list[str] = []
        size = 0
        for line in lines:
            batch.append(line if line.endswith("\n") else line + "\n")
            size += len(batch[-1])
            if size >= CHUNK:
                yield "".join(batch)
                batch, size = [], 0
        if batch:
            yield "".join(batch)

    return scan_chunks(batches(), origin)


def differences(
    scans: Sequence[LogScan], expected: Sequence[AgentPackage]
) -> dict[str, tuple[str, ...]]:
    """For each expected package that some log holds under its name but none unchanged,
    what differs from the first such package in the logs: one line per field, naming it
    ('operation of check X: log 'a', file 'b'')."""
    found = [f.item for scan in scans for f in scan.packages if isinstance(f.item, AgentPackage)]
    result: dict[str, tuple[str, ...]] = {}
    for package in expected:
        same_name = [item for item in found if item.name == package.name]
        if same_name and package not in same_name:
            result[package.name] = package_differences(package, same_name[0])
    return result


def package_differences(expected: AgentPackage, logged: AgentPackage) -> tuple[str, ...]:
    """What differs between the package a condition file renders and one a log holds."""
    out: list[str] = []

    def differ(what: str, in_log: object, in_file: object) -> None:
        if in_log != in_file:
            out.append(f"{what}: log {in_log!r}, file {in_file!r}")

    differ("package id", logged.package_id, expected.package_id)
    differ("message", logged.description, expected.description)
    differ("enforcement (<optional>)", logged.optional, expected.optional)
    differ("criteria", to_agent_text(logged.criteria), to_agent_text(expected.criteria))
    logged_checks: dict[str, ServiceCondition | AgentCheck] = {c.name: c for c in logged.checks}
    logged_checks.update((c.name, c) for c in logged.other_checks)
    expected_names = {c.name for c in expected.checks}
    for check in expected.checks:
        got = logged_checks.get(check.name)
        where = f"check {check.name!r}"
        if got is None:
            out.append(f"{where}: not in the log's package")
        elif isinstance(got, AgentCheck):
            received = ", ".join(f"{k}={v!r}" for k, v in got.fields)
            out.append(
                f"{where}: the log's check is not recognised ({got.unrecognised}); "
                f"received type {got.check_type}, {received}"
            )
        else:
            differ(f"service of {where}", got.service, check.service)
            differ(f"service type of {where}", got.service_type.value, check.service_type.value)
            differ(f"operator of {where}", got.operator.value, check.operator.value)
            differ(f"exit code of {where}", got.exit_code, check.exit_code)
    out += [
        f"check {name!r}: in the log's package, not in the file's"
        for name in logged_checks
        if name not in expected_names
    ]
    return tuple(out) or ("content differs",)


def compare(scans: Sequence[LogScan], expected: Sequence[AgentPackage]) -> dict[str, str]:
    """For each expected package, by name: ``same`` (in some log unchanged), ``differs`` (a
    package of that name with other content) or ``missing``."""
    found = {f.item for scan in scans for f in scan.packages}
    names = {item.name for item in found if isinstance(item, AgentPackage)}
    return {
        p.name: "same" if p in found else ("differs" if p.name in names else "missing")
        for p in expected
    }
