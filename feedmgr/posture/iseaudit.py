"""ISE's posture audit syslog, as a syslog server or SIEM keeps it: which endpoints were
postured, on which OS, with which result, and which were never postured.

ISE sends each message as ``<PRI>Mmm dd hh:mm:ss HOST CATEGORY MSGID TOTAL SEQ BODY``
(a syslog server may file the header in RFC 3339 or RFC 5424 form instead); a
long message is split into TOTAL segments sharing MSGID (segment 0 carries the timestamp,
message code, severity and class, later segments only ``key=value`` pairs). Attributes
are ``Key=value`` separated by ``, `` (a literal comma in a value is ``\\,``).

Messages of the ``CISE_Posture_and_Client_Provisioning_Audit`` category carry
``PostureStatus``, ``OperatingSystem``, ``PostureReport``, ``PosturePolicyMatched`` and
the endpoint's ``MacAddress`` (field names as SIEM parsers document them); other categories
(``CISE_Passed_Authentications``) carry ``PostureAssessmentStatus`` and the endpoint as
``EndPointMACAddress`` / ``Calling-Station-ID``. Each endpoint's last message wins.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from feedmgr.posture.logscan import ReportedPolicy, parse_posture_report

if TYPE_CHECKING:
    from feedmgr.feed.payload import OsCatalog
    from feedmgr.provisioning.policy import Policy

POSTURE_AUDIT = "CISE_Posture_and_Client_Provisioning_Audit"
# ISE's posture statuses for an endpoint that was never assessed: the agent never ran
# (no CP match, agent missing, stale feed...) or ISE does not require posture for it.
NEVER_POSTURED = ("NotApplicable", "Unknown")
# The CP audit's outcomes (feedmgr.provisioning.engine.Outcome) that leave an endpoint
# without a posture agent.
CP_GAPS = ("uncovered", "disabled-only", "os-unknown")
MAX_PENDING = 100_000
MAX_FIELD = 10_000

# The syslog header as servers file it: BSD (RFC 3164, "Mmm dd hh:mm:ss", what ISE sends),
# RFC 3339 (rsyslog's RSYSLOG_FileFormat, syslog-ng's ts-format(iso): no PRI,
# "2024-02-06T22:16:22.123456+00:00"), or RFC 5424 ("<PRI>1 TIMESTAMP HOST APP-NAME PROCID
# MSGID SD", rsyslog's RSYSLOG_SyslogProtocol23Format, the tag as APP-NAME).
_HEADER = re.compile(
    r"^\s*(?:<\d{1,3}>)?(?:\d{1,2} )?"
    r"(?P<stamp>[A-Z][a-z]{2} +\d{1,2} \d{2}:\d{2}:\d{2}(?: [+-]\d{2}:\d{2})?"
    r"|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})) "
    r"(?P<host>\S+) (?P<category>CISE_[A-Za-z_]+)(?::| \S+ \S+ (?:-|(?:\[[^\]]*\])+))? "
    r"(?P<id>\d{1,12}) (?P<total>\d{1,4}) (?P<seq>\d{1,4}) ?(?P<body>.*)$"
)
# Any line naming an ISE category: one the header above cannot read is counted, not lost.
_CATEGORY = re.compile(r"\bCISE_[A-Za-z]")
_FIRST = re.compile(
    r"^(?P<time>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)? [+-]\d{2}:?\d{2}) \d+ "
    r"(?P<code>\d+) (?P<severity>[A-Z]+) (?P<class>[^:]*): (?P<rest>.*)$"
)
_SPLIT = re.compile(r"(?<!\\),\s*(?=[A-Za-z][\w .:-]{0,80}=)")
_MAC_KEYS = ("MacAddress", "EndPointMACAddress", "Calling-Station-ID", "MACAddress")


@dataclass(frozen=True)
class EndpointPosture:
    """One endpoint's last posture message."""

    endpoint: str
    os: str
    status: str
    category: str
    line: int
    time: str
    policies_matched: str = ""
    results: tuple[ReportedPolicy, ...] = ()
    agent: str = ""


@dataclass(frozen=True)
class Prediction:
    """What the CP audit predicts for an OS string: the outcome (``matched``,
    ``uncovered``, ``os-unknown``...), the matched rule if any, and why."""

    outcome: str
    rule: str
    reason: str

    @property
    def gap(self) -> bool:
        """True when the CP audit predicts the endpoint gets no posture agent. A rule with
        other conditions that may match, or a device the agent cannot run on, is no gap."""
        return self.outcome in CP_GAPS


@dataclass(frozen=True)
class OsSummary:
    """Endpoints of one OS string by posture status, and the CP prediction for it."""

    os: str
    statuses: dict[str, int]
    never_postured: tuple[EndpointPosture, ...]
    prediction: Prediction | None

    @property
    def confirmed_gap(self) -> bool:
        """Field evidence for a predicted CP gap: never-postured endpoints on an OS the CP
        audit says no rule gives an agent."""
        return bool(self.never_postured) and self.prediction is not None and self.prediction.gap


@dataclass(frozen=True)
class AuditSummary:
    """The posture audit of a syslog file."""

    origin: str
    lines: int
    messages: int
    posture_messages: int
    endpoints: tuple[EndpointPosture, ...]
    by_os: tuple[OsSummary, ...]
    incomplete: int
    unreadable: int = 0
    """Lines that name an ISE category (``CISE_...``) but are in no header form read."""

    @property
    def statuses(self) -> dict[str, int]:
        """Endpoints per posture status over every OS."""
        return _by_status(self.endpoints)


def _by_status(endpoints: Iterable[EndpointPosture]) -> dict[str, int]:
    """How many endpoints have each posture status, by status name."""
    return dict(sorted(Counter(endpoint.status for endpoint in endpoints).items()))


def parse_attributes(body: str) -> dict[str, str]:
    """``Key=value`` pairs of a message body (first value of a repeated key wins)."""
    values: dict[str, str] = {}
    for part in _SPLIT.split(body):
        key, sep, value = part.partition("=")
        if not sep:
            continue
        key = key.strip()
        value = value.strip().rstrip(",").replace("\\,", ",")
        if key and key not in values:
            values[key] = value[:MAX_FIELD]
    return values


_OUTCOME_REASONS = {
    "matched": "",
    "conditional": "rules with other conditions may match; the audit message cannot say",
    "uncovered": "no enabled rule covers this OS for the group",
    "disabled-only": "only disabled rules would match",
    "not-posture-capable": "the posture agent does not run on this device",
}


def cp_predictor(
    policy: Policy, catalog: OsCatalog, group: str | None
) -> Callable[[str], Prediction]:
    """What the CP audit (feedmgr.provisioning, first match wins over the feed's OS tree)
    predicts for an OS string and identity group ``group`` (None: a group no rule names)."""
    from feedmgr.provisioning.audit import explain
    from feedmgr.provisioning.classify import FeedClassifier

    classifier = FeedClassifier(catalog)

    def predict(os_string: str) -> Prediction:
        decision, _ = explain(policy, catalog, classifier, os_string, group)
        outcome = decision.outcome.value
        placement = decision.case.placement
        reason = (
            placement.reason or "the feed does not classify it"
            if outcome == "os-unknown"
            else _OUTCOME_REASONS.get(outcome, "")
        )
        matched = decision.matched
        return Prediction(outcome, matched.name if matched is not None else "", reason)

    return predict


class _Assembler:
    """Puts the segments of each message back together, in sequence order."""

    def __init__(self) -> None:
        self.pending: dict[tuple[str, str, str], tuple[int, str, dict[int, str]]] = {}
        self.incomplete = 0

    def add(self, number: int, match: re.Match[str]) -> tuple[int, str, str, str] | None:
        key = (match.group("host"), match.group("category"), match.group("id"))
        total = max(int(match.group("total")), 1)
        first, stamp, parts = self.pending.get(key, (number, match.group("stamp"), {}))
        parts[int(match.group("seq"))] = match.group("body")
        if len(parts) < total:
            if len(self.pending) >= MAX_PENDING:
                self.pending.clear()
                self.incomplete += MAX_PENDING
            self.pending[key] = (first, stamp, parts)
            return None
        self.pending.pop(key, None)
        body = ", ".join(parts[i].strip().rstrip(",") for i in sorted(parts))
        return first, stamp, match.group("category"), body


def read_audit(
    lines: Iterable[str],
    origin: str,
    predict: Callable[[str], Prediction] | None = None,
) -> AuditSummary:
    """Summarise ISE syslog lines: each endpoint's last posture status, per OS, with the
    never-postured endpoints and (given ``predict``) the CP audit's prediction per OS.
    Total: lines that are not ISE syslog are counted and skipped."""
    assembler = _Assembler()
    last: dict[str, EndpointPosture] = {}
    messages = posture_messages = number = unreadable = 0
    for number, line in enumerate(lines, 1):
        header = _HEADER.match(line)
        if header is None:
            if _CATEGORY.search(line):
                unreadable += 1
            continue
        whole = assembler.add(number, header)
        if whole is None:
            continue
        messages += 1
        first, stamp, category, body = whole
        head = _FIRST.match(body)
        time = head.group("time") if head else stamp
        attributes = parse_attributes(head.group("rest") if head else body)
        status = attributes.get("PostureStatus") or attributes.get("PostureAssessmentStatus")
        if not status:
            continue
        posture_messages += 1
        name = next((attributes[k] for k in _MAC_KEYS if attributes.get(k)), "")
        name = name or attributes.get("UserName", "") or f"line {first}"
        report = attributes.get("PostureReport", "")
        last[name.upper().replace("-", ":")] = EndpointPosture(
            endpoint=name,
            os=attributes.get("OperatingSystem", ""),
            status=status,
            category=category,
            line=first,
            time=time,
            policies_matched=attributes.get("PosturePolicyMatched", ""),
            results=parse_posture_report(report, first) if report else (),
            agent=attributes.get("PostureAgentVersion", ""),
        )
    endpoints = tuple(last.values())
    by_os: dict[str, list[EndpointPosture]] = {}
    for endpoint in endpoints:
        by_os.setdefault(endpoint.os, []).append(endpoint)
    summaries = []
    for os_string in sorted(by_os):
        group = by_os[os_string]
        summaries.append(
            OsSummary(
                os=os_string,
                statuses=_by_status(group),
                never_postured=tuple(e for e in group if e.status in NEVER_POSTURED),
                prediction=predict(os_string) if predict is not None and os_string else None,
            )
        )
    return AuditSummary(
        origin=origin,
        lines=number,
        messages=messages,
        posture_messages=posture_messages,
        endpoints=endpoints,
        by_os=tuple(summaries),
        incomplete=assembler.incomplete + len(assembler.pending),
        unreadable=unreadable,
    )
