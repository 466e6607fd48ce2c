"""The fleet pre-check: every requirement of a condition file against every Mac's bundle.

Per bundle, each condition is decided exactly as ``posture eval`` decides it (same parsers,
same ``evaluate_condition``), then made three-valued: **cannot tell** when the bundle was
not collected for the condition's service, or when a domain the condition looks at is
missing (no console user was logged in, so no ``gui`` list) and what was captured does not
settle it. A requirement's criteria are evaluated over every way the unknown conditions
could turn out: pass or fail when all agree, else cannot tell.

Bundles: one Mac per stable id (hardware UUID, else serial, else host name), newest
collection wins (older ones are reported as duplicates); a newest bundle older than
``max_age`` is stale and left out of the counts (reported); anything unreadable is reported
with its reason. None of these ever stops the run.

A large fleet is judged by worker processes (one per core) while this process reads the
bundles; results come back in reading order, so the outcome does not depend on it.
"""

from __future__ import annotations

import itertools
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path

from feedmgr.errors import ParseError
from feedmgr.posture.bundle import Bundle, parse_bundle
from feedmgr.posture.criteria import evaluate as evaluate_criteria
from feedmgr.posture.evaluate import ConditionResult, evaluate_condition, gather, label_filter
from feedmgr.posture.fleet_sources import FleetLimits, Problem, Read, read_sources
from feedmgr.posture.model import (
    Enforcement,
    Operator,
    Policy,
    PostureSpec,
    Requirement,
    ServiceCondition,
)

DEFAULT_MAX_AGE = timedelta(days=14)
# A clock a little ahead is normal; a bundle dated further ahead cannot be ordered.
CLOCK_SKEW = timedelta(days=1)
# Below this many bundles, judging in this process is quicker than starting workers
# (a spawned worker imports feedmgr in about half a second).
SERIAL_BUNDLES = 2000
BATCH = 250
# Criteria over more unknown conditions than this are not enumerated (2**n evaluations).
_MAX_UNKNOWN = 12
_ENFORCEMENT_RANK = {Enforcement.MANDATORY: 0, Enforcement.OPTIONAL: 1, Enforcement.AUDIT: 2}
_MAC_OS = re.compile(r"^mac\s*os\s*x?\s*(?P<version>\d+(?:\.\d+)*)?$", re.IGNORECASE)


class Outcome(StrEnum):
    """What a bundle says about one condition or requirement on one Mac."""

    PASS = "pass"  # noqa: S105 (an outcome, not a password)
    FAIL = "fail"
    CANNOT_TELL = "cannot-tell"
    NOT_APPLICABLE = "not-applicable"


@dataclass(frozen=True)
class MacVerdict:
    """One Mac (one bundle): its identity and the outcome of each condition and requirement,
    in the condition file's order, with the evidence for every outcome that is not a pass."""

    bundle: str
    mac_id: str
    host: str
    serial: str
    version: str
    version_key: tuple[int, ...]
    build: str
    collected: datetime
    conditions: tuple[Outcome, ...]
    requirements: tuple[Outcome, ...]
    requirement_notes: tuple[str, ...]


@dataclass(frozen=True)
class RequirementPlan:
    """A requirement with the enabled macOS policies that enforce it."""

    requirement: Requirement
    policies: tuple[Policy, ...]
    index: tuple[int, ...]

    @property
    def enforcement(self) -> Enforcement | None:
        """The strictest enforcement among its policies (None: no policy enforces it)."""
        if not self.policies:
            return None
        return min((p.enforcement for p in self.policies), key=_ENFORCEMENT_RANK.__getitem__)

    def mandatory_for(self, version: tuple[int, ...]) -> bool:
        """True when a mandatory policy enforces the requirement on this macOS version."""
        return any(
            p.enforcement is Enforcement.MANDATORY and os_covers(p.os, version)
            for p in self.policies
        )

    def applies_to(self, version: tuple[int, ...]) -> bool:
        """True when the requirement and one of its policies cover this macOS version."""
        if not os_covers(self.requirement.os, version):
            return False
        return not self.policies or any(os_covers(p.os, version) for p in self.policies)


def os_covers(names: Iterable[str], version: tuple[int, ...]) -> bool:
    """True when one of the ISE OS names covers a macOS version: the umbrella ("Mac OSX")
    covers every version, a versioned node ("Mac OSX 14", "Mac OSX 10.15") its own."""
    for name in names:
        match = _MAC_OS.match(name.strip())
        if match is None:
            continue
        wanted = match.group("version")
        if wanted is None:
            return True
        numbers = tuple(int(part) for part in wanted.split("."))
        if version[: len(numbers)] == numbers:
            return True
    return False


def plan(spec: PostureSpec) -> tuple[RequirementPlan, ...]:
    """Each requirement with the enabled macOS policies enforcing it."""
    position = {c.name: i for i, c in enumerate(spec.conditions)}
    policies = spec.effective_policies()
    return tuple(
        RequirementPlan(
            requirement,
            tuple(
                p
                for p in policies
                if p.requirement == requirement.name and p.enabled and p.applies_to_macos
            ),
            tuple(position[name] for name in requirement.conditions),
        )
        for requirement in spec.requirements
    )


def _certain(condition: ServiceCondition, result: ConditionResult) -> bool:
    # Evidence from a missing domain could only add jobs: that can turn "not loaded" into
    # "loaded" and a missing running job into a running one, never the other way round.
    if condition.operator is Operator.NOT_LOADED:
        return not result.passed
    return result.passed


def _location(bundle: Bundle, result: ConditionResult) -> str:
    records = result.deciding or result.matched
    return f" [{bundle.name}:{bundle.line_of(records[0])}]" if records else ""


def judge(
    spec: PostureSpec,
    plans: Sequence[RequirementPlan],
    bundle: Bundle,
    wanted: Callable[[str], bool] | None = None,
) -> MacVerdict:
    """Decide every condition and requirement of ``spec`` for one bundle (``wanted``:
    ``label_filter(spec)``, computed once per run by the caller).

    Raises:
        ParseError: when a captured list or print section is malformed.
    """
    evidence = gather(
        spec,
        bundle.streams(),
        bundle.plist_files() if bundle.plists is not None else None,
        wanted=wanted,
    )
    # Reasons name the lists (with their job counts) as what was searched; the print blocks
    # only add detail about jobs the lists already show.
    evidence = replace(evidence, inputs=tuple(s.describe() for s in bundle.lists if not s.failed))
    outcomes: list[Outcome] = []
    notes: list[str] = []
    for condition in spec.conditions:
        if not bundle.covers(condition):
            outcomes.append(Outcome.CANNOT_TELL)
            notes.append(
                f"{condition.name}: the bundle was not collected for {condition.service} "
                f"(its filters: {', '.join(bundle.filters)})"
            )
            continue
        result = evaluate_condition(condition, evidence)
        missing = bundle.missing_domains(condition)
        if missing and not _certain(condition, result):
            outcomes.append(Outcome.CANNOT_TELL)
            notes.append(f"{condition.name}: {result.reason}; not captured: {', '.join(missing)}")
            continue
        outcomes.append(Outcome.PASS if result.passed else Outcome.FAIL)
        notes.append(f"{condition.name}: {result.reason}{_location(bundle, result)}")
    requirements: list[Outcome] = []
    requirement_notes: list[str] = []
    for item in plans:
        if not item.applies_to(bundle.version_key):
            requirements.append(Outcome.NOT_APPLICABLE)
            requirement_notes.append(f"no policy for macOS {bundle.version}")
            continue
        outcome = _requirement_outcome(item, outcomes, spec)
        requirements.append(outcome)
        requirement_notes.append("" if outcome is Outcome.PASS else _why(item, outcomes, notes))
    return MacVerdict(
        bundle=bundle.name,
        mac_id=bundle.mac_id,
        host=bundle.host,
        serial=bundle.serial,
        version=bundle.release,
        version_key=bundle.version_key,
        build=bundle.build,
        collected=bundle.collected,
        conditions=tuple(outcomes),
        requirements=tuple(requirements),
        requirement_notes=tuple(requirement_notes),
    )


def _why(item: RequirementPlan, outcomes: Sequence[Outcome], notes: Sequence[str]) -> str:
    """The evidence for a requirement that did not pass: its conditions that did not pass,
    or, when criteria negate a passing condition (``!zoom``), all of them."""
    chosen = [i for i in item.index if outcomes[i] is not Outcome.PASS] or list(item.index)
    return "; ".join(notes[i] for i in chosen)


def _requirement_outcome(
    item: RequirementPlan, outcomes: Sequence[Outcome], spec: PostureSpec
) -> Outcome:
    values = {spec.conditions[i].name: outcomes[i] is Outcome.PASS for i in item.index}
    unknown = [spec.conditions[i].name for i in item.index if outcomes[i] is Outcome.CANNOT_TELL]
    if len(unknown) > _MAX_UNKNOWN:
        return Outcome.CANNOT_TELL
    seen: set[bool] = set()
    for combination in itertools.product((False, True), repeat=len(unknown)):
        values.update(zip(unknown, combination, strict=True))
        seen.add(evaluate_criteria(item.requirement.criteria, values))
        if len(seen) == 2:
            return Outcome.CANNOT_TELL
    return Outcome.PASS if seen == {True} else Outcome.FAIL


@dataclass
class Tally:
    """Counts of outcomes over the fleet."""

    passed: int = 0
    failed: int = 0
    cannot_tell: int = 0
    not_applicable: int = 0

    def add(self, outcome: Outcome) -> None:
        """Count one Mac's outcome."""
        if outcome is Outcome.PASS:
            self.passed += 1
        elif outcome is Outcome.FAIL:
            self.failed += 1
        elif outcome is Outcome.CANNOT_TELL:
            self.cannot_tell += 1
        else:
            self.not_applicable += 1

    @property
    def judged(self) -> int:
        """Macs the requirement applies to (pass + fail + cannot tell)."""
        return self.passed + self.failed + self.cannot_tell

    @property
    def fail_percent(self) -> float:
        """Failing Macs as a share of the Macs it applies to, in percent."""
        return 100.0 * self.failed / self.judged if self.judged else 0.0


@dataclass(frozen=True)
class RequirementSummary:
    """One requirement over the fleet."""

    plan: RequirementPlan
    tally: Tally
    by_version: dict[str, Tally]
    failing: tuple[MacVerdict, ...]
    cannot_tell: tuple[MacVerdict, ...]
    blocking: bool


@dataclass(frozen=True)
class Duplicate:
    """An older bundle of a Mac whose newer bundle was used."""

    verdict: MacVerdict
    kept: str


@dataclass(frozen=True)
class FleetResult:
    """Everything one fleet run found."""

    spec: PostureSpec
    plans: tuple[RequirementPlan, ...]
    now: datetime
    max_age: timedelta
    fail_over: float
    read: int
    macs: tuple[MacVerdict, ...]
    stale: tuple[MacVerdict, ...]
    duplicates: tuple[Duplicate, ...]
    unreadable: tuple[Problem, ...]
    requirements: tuple[RequirementSummary, ...] = field(default=())
    conditions: tuple[Tally, ...] = field(default=())

    @property
    def blocking(self) -> tuple[RequirementSummary, ...]:
        """Mandatory requirements that would make Macs NonCompliant beyond --fail-over."""
        return tuple(r for r in self.requirements if r.blocking)

    @property
    def nothing_evaluated(self) -> bool:
        """True when no Mac was evaluated (no bundle found, or none readable and fresh):
        the run cannot tell anything about any requirement."""
        return not self.macs

    @property
    def fails_gate(self) -> bool:
        """True when the run must fail a CI gate: a requirement is blocking, or no Mac was
        evaluated (a pre-check over no Mac must not pass for one that found nothing)."""
        return bool(self.blocking) or self.nothing_evaluated


class _Judge:
    """Everything judging one read bundle needs; built once per process."""

    def __init__(self, spec: PostureSpec, now: datetime) -> None:
        self.spec = spec
        self.plans = plan(spec)
        self.wanted = label_filter(spec)
        self.now = now

    def __call__(self, item: Read) -> MacVerdict | Problem:
        if isinstance(item, Problem):
            return item
        try:
            bundle = parse_bundle(item.data, item.name)
            if bundle.collected > self.now + CLOCK_SKEW:
                return Problem(item.name, f"collected in the future ({bundle.collected:%Y-%m-%d})")
            return judge(self.spec, self.plans, bundle, self.wanted)
        except ParseError as exc:
            return Problem(item.name, exc.problem)


_worker_judge: _Judge | None = None


def _start_worker(spec: PostureSpec, now: datetime) -> None:
    from feedmgr.feed.members import start_worker_process

    # Ignores Ctrl-C (the parent's to handle: one "interrupted" line) and ends the worker
    # when its parent is gone.
    start_worker_process()
    global _worker_judge  # noqa: PLW0603 - one judge per worker process, set at its start
    _worker_judge = _Judge(spec, now)


def _judge_batch(batch: list[Read]) -> list[MacVerdict | Problem]:
    assert _worker_judge is not None, "worker started without _start_worker"
    return [_worker_judge(item) for item in batch]


def _outcomes(
    judge_one: _Judge, reads: Iterator[Read], workers: int
) -> Iterator[MacVerdict | Problem]:
    """Judged bundles in reading order: in this process for a small fleet, else by
    ``workers`` processes fed batches (at most two per worker in flight, so memory stays
    bounded), while this process keeps reading."""
    head = list(itertools.islice(reads, SERIAL_BUNDLES))
    if workers < 2 or len(head) < SERIAL_BUNDLES:
        yield from map(judge_one, head)
        yield from map(judge_one, reads)
        return
    from concurrent.futures import Future, ProcessPoolExecutor
    from multiprocessing import get_context

    from feedmgr.interrupts import quiet_resource_tracker, sigint_held, start_pool_workers

    batches = _batched(itertools.chain(head, reads), BATCH)
    quiet_resource_tracker()
    with sigint_held():  # see start_pool_workers
        pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=get_context("spawn"),
            initializer=_start_worker,
            initargs=(judge_one.spec, judge_one.now),
        )
    with pool:
        start_pool_workers(pool, workers)
        pending: deque[Future[list[MacVerdict | Problem]]] = deque()
        for batch in batches:
            pending.append(pool.submit(_judge_batch, batch))
            if len(pending) >= 2 * workers:
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()


def _batched(items: Iterable[Read], size: int) -> Iterator[list[Read]]:
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def default_workers() -> int:
    """Worker processes for a large fleet: one per core this process may use (at most 4),
    when the program allows workers (``feedmgr.parallel``), else none."""
    from feedmgr.feed.members import available_cores
    from feedmgr.parallel import worker_processes_allowed

    return min(available_cores(), 4) if worker_processes_allowed() else 0


def run_fleet(
    spec: PostureSpec,
    paths: Sequence[Path],
    *,
    now: datetime,
    max_age: timedelta = DEFAULT_MAX_AGE,
    fail_over: float = 0.0,
    limits: FleetLimits | None = None,
    workers: int | None = None,
) -> FleetResult:
    """Read every bundle under ``paths``, judge each Mac once (its newest bundle) and sum up.

    From ``SERIAL_BUNDLES`` bundles on, ``workers`` processes (default: ``default_workers``)
    judge them; the result is the same either way. Never raises on bundle content: every
    unreadable bundle is in ``unreadable``.
    """
    judge_one = _Judge(spec, now)
    count = default_workers() if workers is None else workers
    newest: dict[str, MacVerdict] = {}
    superseded: list[MacVerdict] = []
    unreadable: list[Problem] = []
    read = 0
    for verdict in _outcomes(judge_one, read_sources(paths, limits), count):
        read += 1
        if isinstance(verdict, Problem):
            unreadable.append(verdict)
            continue
        known = newest.get(verdict.mac_id)
        if known is None:
            newest[verdict.mac_id] = verdict
        elif verdict.collected > known.collected:
            superseded.append(known)
            newest[verdict.mac_id] = verdict
        else:
            superseded.append(verdict)
    fresh = [v for v in newest.values() if now - v.collected <= max_age]
    stale = [v for v in newest.values() if now - v.collected > max_age]
    fresh.sort(key=lambda v: (v.host.casefold(), v.mac_id))
    stale.sort(key=lambda v: (v.collected, v.host.casefold()))
    duplicates = tuple(Duplicate(v, newest[v.mac_id].bundle) for v in superseded)
    return summarize(
        FleetResult(
            spec=spec,
            plans=judge_one.plans,
            now=now,
            max_age=max_age,
            fail_over=fail_over,
            read=read,
            macs=tuple(fresh),
            stale=tuple(stale),
            duplicates=duplicates,
            unreadable=tuple(unreadable),
        )
    )


def summarize(result: FleetResult) -> FleetResult:
    """``result`` with its per-requirement and per-condition tallies filled in."""
    conditions = [Tally() for _ in result.spec.conditions]
    summaries = []
    for index, item in enumerate(result.plans):
        tally = Tally()
        by_version: dict[str, Tally] = {}
        failing: list[MacVerdict] = []
        unknown: list[MacVerdict] = []
        for mac in sorted(result.macs, key=lambda v: v.version_key):
            outcome = mac.requirements[index]
            tally.add(outcome)
            by_version.setdefault(mac.version, Tally()).add(outcome)
            if outcome is Outcome.FAIL:
                failing.append(mac)
            elif outcome is Outcome.CANNOT_TELL:
                unknown.append(mac)
        failing.sort(key=lambda v: (v.host.casefold(), v.mac_id))
        unknown.sort(key=lambda v: (v.host.casefold(), v.mac_id))
        # NonCompliant only where a mandatory policy covers the Mac's macOS version.
        noncompliant = sum(1 for mac in failing if item.mandatory_for(mac.version_key))
        blocking = noncompliant > 0 and 100.0 * noncompliant / tally.judged > result.fail_over
        summaries.append(
            RequirementSummary(item, tally, by_version, tuple(failing), tuple(unknown), blocking)
        )
    for mac in result.macs:
        for position, outcome in enumerate(mac.conditions):
            conditions[position].add(outcome)
    return replace(result, requirements=tuple(summaries), conditions=tuple(conditions))
