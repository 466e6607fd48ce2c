"""Endpoint inventory: a CSV export streamed into counts per (OS string, identity group).

Memory is bounded by the number of distinct (OS, group) keys, never by rows: rows are
counted as they stream past and dropped. The counting loop runs inside C (``csv.reader``,
``operator.itemgetter`` and ``Counter.update``), which the benchmark in
``benchmarks/provisioning.md`` measured against pyarrow, polars and DuckDB.

Columns are found by header name through a :class:`ColumnMap`: each field lists the header
names it accepts (case and spacing ignored), the first one present wins. Presets cover a
generic layout and ISE Context Visibility endpoint exports.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import islice
from operator import itemgetter
from pathlib import Path
from types import MappingProxyType

from feedmgr.errors import InputRejected, ParseError, UsageError

NO_GROUP = "(none)"
"""The group name used for rows whose identity group cell is empty."""

# A hostile or mis-mapped file (a MAC column mapped as the OS) would make every row a new
# key; past this many distinct keys the reader stops instead of growing without bound.
MAX_DISTINCT_KEYS = 200_000
_CHUNK = 65_536
# The header line is read on its own to sniff the delimiter; no real header is longer.
_MAX_HEADER = 64 * 1024


@dataclass(frozen=True)
class ColumnMap:
    """Header names accepted for each inventory field, first match wins."""

    os: tuple[str, ...]
    group: tuple[str, ...]
    mac: tuple[str, ...] = ()
    host: tuple[str, ...] = ()

    def with_overrides(
        self,
        *,
        os: str | None = None,
        group: str | None = None,
        mac: str | None = None,
        host: str | None = None,
    ) -> ColumnMap:
        """A copy where each given header name replaces that field's candidates."""
        return ColumnMap(
            os=(os,) if os else self.os,
            group=(group,) if group else self.group,
            mac=(mac,) if mac else self.mac,
            host=(host,) if host else self.host,
        )


PRESETS: Mapping[str, ColumnMap] = MappingProxyType(
    {
        "generic": ColumnMap(
            os=("os", "operating system", "operating_system", "os string"),
            group=("group", "identity group", "identity_group", "identitygroup"),
            mac=("mac", "mac address", "mac_address", "macaddress"),
            host=("host", "hostname", "host name"),
        ),
        # ISE Context Visibility > Endpoints > Export: attribute names as column headers.
        "ise": ColumnMap(
            os=("OperatingSystem", "Operating System", "operating-system", "PostureOS"),
            group=(
                "IdentityGroup",
                "Identity Group",
                "User Identity Groups",
                "EndPointIdentityGroup",
            ),
            mac=("MACAddress", "MAC Address", "EndPointMACAddress"),
            host=("HostName", "Hostname", "host-name", "DeviceName"),
        ),
    }
)


def _norm(header: str) -> str:
    return " ".join(header.replace("\ufeff", "").split()).casefold()


@dataclass(frozen=True)
class ResolvedColumns:
    """Zero-based column indexes found in one file's header."""

    os: int
    group: int
    mac: int | None = None
    host: int | None = None
    names: Mapping[str, str] = field(default_factory=dict)


def resolve_columns(header: list[str], columns: ColumnMap, subject: str) -> ResolvedColumns:
    """Find each field's column in a header row.

    Raises:
        InputRejected: the OS or group column is missing (the message lists the header).
    """
    index: dict[str, int] = {}
    for position, name in enumerate(header):
        index.setdefault(_norm(name), position)

    def find(candidates: tuple[str, ...]) -> int | None:
        return next((index[_norm(c)] for c in candidates if _norm(c) in index), None)

    found: dict[str, int | None] = {
        "os": find(columns.os),
        "group": find(columns.group),
        "mac": find(columns.mac),
        "host": find(columns.host),
    }
    for required in ("os", "group"):
        if found[required] is None:
            wanted = " or ".join(repr(c) for c in getattr(columns, required))
            shown = ", ".join(repr(h) for h in header[:12])
            raise InputRejected(
                subject,
                f"no {required} column: expected {wanted}; the header has {shown} "
                f"(map it with --{required}-column or pick a --preset)",
            )
    os_index, group_index = found["os"], found["group"]
    assert os_index is not None
    assert group_index is not None
    names = {key: header[value] for key, value in found.items() if value is not None}
    return ResolvedColumns(os_index, group_index, found["mac"], found["host"], names)


@dataclass(frozen=True)
class InventoryCounts:
    """Endpoint counts per (OS string, identity group) from one inventory file."""

    source: str
    counts: Mapping[tuple[str, str], int]
    rows: int
    skipped: int = 0
    columns: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "counts", MappingProxyType(dict(self.counts)))
        object.__setattr__(self, "columns", MappingProxyType(dict(self.columns)))

    def os_strings(self) -> tuple[str, ...]:
        """Distinct OS strings, in first-seen order."""
        return tuple(dict.fromkeys(os for os, _ in self.counts))

    def groups(self) -> tuple[str, ...]:
        """Distinct identity groups, in first-seen order."""
        return tuple(dict.fromkeys(group for _, group in self.counts))


def _clean(key: tuple[str, str]) -> tuple[str, str]:
    os_string, group = key
    return " ".join(os_string.split()), " ".join(group.split()) or NO_GROUP


def count_rows(
    rows: Iterator[list[str]], resolved: ResolvedColumns, subject: str
) -> tuple[Counter[tuple[str, str]], int]:
    """Count (OS, group) pairs of data rows; return raw counts and rows skipped.

    Blank lines and rows too short to hold both columns are skipped, not fatal.

    Raises:
        InputRejected: more than MAX_DISTINCT_KEYS distinct pairs.
    """
    getter = itemgetter(resolved.os, resolved.group)
    counts: Counter[tuple[str, str]] = Counter()
    skipped = 0
    keyed = map(getter, rows)
    while True:
        try:
            before = counts.total()
            counts.update(islice(keyed, _CHUNK))
            if counts.total() == before:
                break
        except IndexError:
            # A short row (blank line or truncated record): the ones before it are counted.
            skipped += 1
        if len(counts) > MAX_DISTINCT_KEYS:
            raise InputRejected(
                subject,
                f"more than {MAX_DISTINCT_KEYS} distinct (OS, group) pairs: "
                "is the column map right?",
            )
    return counts, skipped


def read_inventory_text(
    lines: Iterable[str], columns: ColumnMap, subject: str, *, delimiter: str = ","
) -> InventoryCounts:
    """Count an inventory given as lines of CSV text (the header first).

    Raises:
        InputRejected: no header, missing columns, malformed CSV, too many distinct keys.
    """
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    try:
        header = next(reader, None)
        if not header:
            raise InputRejected(subject, "empty inventory: expected a header row")
        resolved = resolve_columns(header, columns, subject)
        raw, skipped = count_rows(reader, resolved, subject)
    except csv.Error as exc:
        raise ParseError(subject, f"malformed CSV at line {reader.line_num}: {exc}") from exc
    counts: Counter[tuple[str, str]] = Counter()
    for key, value in raw.items():
        counts[_clean(key)] += value
    return InventoryCounts(
        source=subject,
        counts=counts,
        rows=raw.total(),
        skipped=skipped,
        columns=resolved.names,
    )


def read_inventory(
    path: Path, columns: ColumnMap, *, delimiter: str | None = None
) -> InventoryCounts:
    """Stream a CSV inventory file into counts (UTF-8, a BOM allowed).

    The delimiter is sniffed from the header line (comma, semicolon or tab) unless given.

    Raises:
        InputRejected: unreadable, not UTF-8, malformed CSV, missing columns, too many keys.
    """
    subject = str(path)
    try:
        with path.open("rb") as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
            first = text.readline(_MAX_HEADER)
            if delimiter is None:
                delimiter = max(",;\t", key=first.count)
            return read_inventory_text(_chain(first, text), columns, subject, delimiter=delimiter)
    except UnicodeDecodeError as exc:
        raise ParseError(subject, f"not UTF-8 text: {exc.reason}") from exc
    except OSError as exc:
        raise InputRejected(subject, f"cannot read the inventory: {exc.strerror or exc}") from exc


def _chain(first: str, rest: Iterable[str]) -> Iterator[str]:
    yield first
    yield from rest


def preset(name: str) -> ColumnMap:
    """The named column preset.

    Raises:
        UsageError: unknown preset name.
    """
    try:
        return PRESETS[name]
    except KeyError:
        known = ", ".join(sorted(PRESETS))
        raise UsageError("--preset", f"unknown preset {name!r}: expected one of {known}") from None
