"""Endpoint inventory: a CSV export streamed into counts per (OS string, identity group).

Memory is bounded by the number of distinct (OS, group) keys, never by rows: pyarrow's
streaming CSV reader converts only the two mapped columns, block by block; each block is
grouped in Arrow and folded into one Counter. The reader was chosen on measurements against
the standard library's csv module, polars and DuckDB (``benchmarks/provisioning.md``).

Columns are found by header name through a :class:`ColumnMap`: each field lists the header
names it accepts (case and spacing ignored), the first one present wins. Presets cover a
generic layout and the one real ISE export known to carry both the endpoint's OS and its
identity group: Context Visibility > Endpoints, exported with every attribute (column names
from real samples: tests/data/provisioning/SOURCES). ISE's importable endpoint export has no
OS column at all; a file shaped like it is refused with the export to run instead.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, BinaryIO

from feedmgr.errors import InputRejected, ParseError, UsageError
from feedmgr.textio import decode_text

NO_GROUP = "(none)"
"""The group name used for rows whose identity group cell is empty."""

# A hostile or mis-mapped file (a MAC column mapped as the OS) would make every row a new
# key; past this many distinct keys the reader stops instead of growing without bound.
MAX_DISTINCT_KEYS = 200_000
# Longest OS or group value believed: an OS string or a list of identity groups is a few
# hundred characters; longer means a quote left open has swallowed the rows after it
# (pyarrow accepts a quote still open at the end of the file as one field).
MAX_FIELD_CHARS = 4096
# The header line is read on its own to sniff the delimiter; no real header is longer.
_MAX_HEADER = 64 * 1024
# pyarrow reads this many bytes of rows at a time: 1 MiB kept the 2,000,000-row benchmark
# fast and far under its memory target (benchmarks/provisioning.md).
_BLOCK = 1024 * 1024
# Blocks grouped together: each group_by call sets up an Arrow plan, which per 1 MiB block
# cost more than the grouping (2,000,000 rows, 22 columns: 1.19 s of CPU grouped per block,
# 1.04 s per 32 blocks, 0.90 s reading alone). 32 blocks hold at most the two mapped columns
# of 32 MiB of CSV.
_GROUP_EVERY = 32


def _too_many() -> str:
    return f"more than {MAX_DISTINCT_KEYS} distinct (OS, group) pairs: is the column map right?"


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
        # ISE Context Visibility > Endpoints > Export, every attribute ("full" export): the
        # endpoint attribute names are the headers. PostureOS is the OS the posture agent
        # reported, the string ISE's posture OS tree classifies; the export also has the
        # profiler's views (operating-system from NMAP, AD-Operating-System,
        # EndpointOperatingSystem), which --os-column can pick instead.
        "ise": ColumnMap(
            os=("PostureOS",),
            group=("IdentityGroup",),
            mac=("MACAddress",),
            host=("host-name",),
        ),
    }
)

_FULL_EXPORT_HOW = (
    "in ISE run Context Visibility > Endpoints > Export > Export All and keep every "
    "attribute (the full export, whose PostureOS column holds the agent's OS), then use "
    "--preset ise"
)


@dataclass(frozen=True)
class KnownExport:
    """A real ISE export recognised by its header, and what to say when the OS column
    the user asked for is not in it."""

    name: str
    present: frozenset[str]
    absent: frozenset[str]
    advice: str

    def matches(self, header: list[str]) -> bool:
        """True when the header has every ``present`` and no ``absent`` column (case and
        spacing ignored)."""
        names = {_norm(h) for h in header}
        return all(_norm(c) in names for c in self.present) and not any(
            _norm(c) in names for c in self.absent
        )


# Real samples: tests/data/provisioning/*.header.csv, described in SOURCES there.
_ENDPOINT_EXPORT = frozenset(
    {"MACAddress", "EndPointPolicy", "IdentityGroup", "StaticGroupAssignment", "MDMOSVersion"}
)
_OS_ATTRIBUTES = frozenset({"PostureOS", "operating-system", "EndpointOperatingSystem"})
KNOWN_EXPORTS = (
    KnownExport(
        "ISE's importable Context Visibility endpoint export",
        _ENDPOINT_EXPORT,
        _OS_ATTRIBUTES,
        "it carries no operating-system column (MDMOSVersion is only the OS version an MDM "
        "server reports for an enrolled mobile device, blank for every PC and Mac); "
        f"{_FULL_EXPORT_HOW}",
    ),
    KnownExport(
        "ISE's full Context Visibility endpoint export",
        _ENDPOINT_EXPORT | {"PostureOS"},
        frozenset(),
        "read it with --preset ise (its PostureOS column holds the agent's OS)",
    ),
)


def _norm(header: str) -> str:
    return " ".join(header.replace("\ufeff", "").split()).casefold()


def _empty_os(column: str, rows: int) -> str:
    """Why an OS column that is blank in every row cannot be audited, and what to use."""
    why = f"the OS column {column!r} is empty in all {rows} rows: no endpoint can be judged"
    if _norm(column) == _norm("PostureOS"):
        return (
            f"{why} (PostureOS stays empty until the posture agent has reported once); "
            "rerun with --os-column EndpointOperatingSystem for the profiler's view of the OS"
        )
    return f"{why}; map another column with --os-column"


def _missing_os(header: list[str], columns: ColumnMap) -> str:
    """Why no OS column was found, and which export or preset to use instead."""
    known = next((e for e in KNOWN_EXPORTS if e.matches(header)), None)
    if known is not None:
        return f"no OS column: this is {known.name}; {known.advice}"
    wanted = " or ".join(repr(c) for c in columns.os)
    shown = ", ".join(repr(h) for h in header[:12])
    return (
        f"no os column: expected {wanted}; the header has {shown} (map it with --os-column; "
        f"for an ISE inventory, {_FULL_EXPORT_HOW})"
    )


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
    if found["os"] is None:
        raise InputRejected(subject, _missing_os(header, columns))
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
    examples: Mapping[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "counts", MappingProxyType(dict(self.counts)))
        object.__setattr__(self, "columns", MappingProxyType(dict(self.columns)))
        object.__setattr__(self, "examples", MappingProxyType(dict(self.examples)))

    def os_strings(self) -> tuple[str, ...]:
        """Distinct OS strings, in first-seen order."""
        return tuple(dict.fromkeys(os for os, _ in self.counts))

    def groups(self) -> tuple[str, ...]:
        """Distinct identity groups, in first-seen order."""
        return tuple(dict.fromkeys(group for _, group in self.counts))


def _unquote(value: str) -> str:
    """ISE 3.4 exports wrap some values in single quotes ("'Employees'"): drop one pair."""
    text = " ".join(value.split())
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].strip()
    return text


def _clean(key: tuple[str, str]) -> tuple[str, str]:
    os_string, group = key
    return _unquote(os_string), _unquote(group) or NO_GROUP


class _Utf8Checked(io.RawIOBase):
    """A byte stream that fails with UnicodeDecodeError on text that is not UTF-8.

    pyarrow checks the converted columns, but decodes a malformed row for its invalid-row
    handler without a way to report failure; checking every byte as it is read keeps both
    paths to one error.
    """

    def __init__(self, raw: BinaryIO) -> None:
        super().__init__()
        self._raw = raw
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self.position = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        data = self._raw.read(-1 if size is None else size)
        try:
            self._decoder.decode(data, final=not data)
        except UnicodeDecodeError as exc:
            exc.start += self.position
            raise
        self.position += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _arrow_counts(
    source: _Utf8Checked,
    header: list[str],
    resolved: ResolvedColumns,
    delimiter: str,
    subject: str,
    *,
    examples: int = 0,
) -> tuple[Counter[tuple[str, str]], int, dict[tuple[str, str], list[str]]]:
    """Count (OS, group) pairs of the data rows with pyarrow's streaming CSV reader.

    Only the mapped columns are converted; each block of rows is grouped in Arrow and
    folded into one Counter, so memory is a block plus the distinct keys. With
    ``examples``, up to that many endpoint ids (MAC, else host) are kept per pair.

    Raises:
        ParseError: malformed CSV or text that is not UTF-8.
        InputRejected: more than MAX_DISTINCT_KEYS distinct pairs, or no data row read.
    """
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.compute as pc  # type: ignore[import-untyped]
    from pyarrow import csv as pacsv

    names = [f"c{i}" for i in range(len(header))]
    os_col, group_col = names[resolved.os], names[resolved.group]
    ident = resolved.mac if resolved.mac is not None else resolved.host
    id_col = (
        names[ident] if examples > 0 and ident not in (None, resolved.os, resolved.group) else None
    )
    wanted = [os_col, group_col, *((id_col,) if id_col else ())]
    aggregates = [(os_col, "count"), *(((id_col, "distinct"),) if id_col else ())]
    samples: dict[tuple[str, str], list[str]] = {}
    skipped = 0
    widths: Counter[int] = Counter()

    def skip(row: Any) -> str:
        # A row whose field count differs from the header's: skipped and counted.
        nonlocal skipped
        skipped += 1
        widths[row.actual_columns] += 1
        return "skip"

    counts: Counter[tuple[str, str]] = Counter()
    try:
        reader = pacsv.open_csv(
            source,
            read_options=pacsv.ReadOptions(
                block_size=_BLOCK, column_names=names, skip_rows=1, use_threads=False
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter, newlines_in_values=True, invalid_row_handler=skip
            ),
            convert_options=pacsv.ConvertOptions(
                include_columns=wanted,
                column_types=dict.fromkeys(wanted, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
        for table in _tables_of(reader, _GROUP_EVERY):
            for column, index in ((os_col, resolved.os), (group_col, resolved.group)):
                longest = pc.max(pc.utf8_length(table[column])).as_py() or 0
                if longest > MAX_FIELD_CHARS:
                    raise ParseError(subject, _overlong_field(header[index], longest))
            grouped = table.group_by([os_col, group_col]).aggregate(aggregates)
            keys = list(
                zip(grouped[os_col].to_pylist(), grouped[group_col].to_pylist(), strict=True)
            )
            counts.update(dict(zip(keys, grouped[f"{os_col}_count"].to_pylist(), strict=True)))
            if id_col is not None:
                firsts = pc.list_slice(grouped[f"{id_col}_distinct"].combine_chunks(), 0, examples)
                for key, values in zip(keys, firsts.to_pylist(), strict=True):
                    kept = samples.setdefault(key, [])
                    for value in values:
                        if value and len(kept) < examples and value not in kept:
                            kept.append(value)
            if len(counts) > MAX_DISTINCT_KEYS:
                raise InputRejected(subject, _too_many())
    except UnicodeDecodeError as exc:
        raise ParseError(subject, f"not UTF-8 text: {exc.reason} at byte {exc.start}") from exc
    except pa.ArrowException as exc:
        raise _arrow_error(exc, subject) from exc
    if not counts:
        raise InputRejected(subject, _nothing_read(len(header), skipped, widths))
    return counts, skipped, samples


def _arrow_error(exc: Exception, subject: str) -> ParseError:
    """pyarrow's complaint about the CSV, in one line saying what to look for."""
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if "UTF8" in message or "UTF-8" in message:
        return ParseError(subject, f"not UTF-8 text: {message}")
    if "straddl" in message:
        # pyarrow's words for one row longer than its block ("increase block size?").
        return ParseError(
            subject,
            f"malformed CSV: a row longer than {_BLOCK // 1024} KiB; inventory rows are a "
            "few hundred bytes: a quote left open swallows the lines after it",
        )
    return ParseError(subject, f"malformed CSV: {message}")


def _overlong_field(column: str, length: int) -> str:
    return (
        f"malformed CSV: a value of {length} characters in column {column!r}; OS strings and "
        "identity groups are far shorter: a quote left open swallows the lines after it"
    )


def _nothing_read(fields: int, skipped: int, widths: Counter[int]) -> str:
    """Why an inventory with no readable data row is refused rather than passed."""
    if not skipped:
        return "no data rows after the header: no endpoint to judge"
    seen = ", ".join(f"{n} with {width} fields" for width, n in sorted(widths.items()))
    hint = ""
    if set(widths) == {fields + 1}:
        hint = " (a delimiter at the end of each data row but not of the header?)"
    return (
        f"no data row could be read: all {skipped} rows have a different number of fields "
        f"than the header's {fields} ({seen}){hint}; no endpoint to judge"
    )


def _tables_of(reader: Any, size: int) -> Iterator[Any]:
    """The reader's record batches, ``size`` at a time, as Arrow tables."""
    import pyarrow as pa

    pending: list[Any] = []
    for batch in reader:
        pending.append(batch)
        if len(pending) == size:
            yield pa.Table.from_batches(pending)
            pending = []
    if pending:
        yield pa.Table.from_batches(pending)


def _count(
    source: BinaryIO,
    header_text: str,
    columns: ColumnMap,
    subject: str,
    *,
    delimiter: str,
    examples: int,
) -> InventoryCounts:
    try:
        header = next(csv.reader([header_text], delimiter=delimiter, strict=True), [])
    except csv.Error as exc:
        raise ParseError(subject, f"malformed CSV header: {exc}") from exc
    if not header or header == [""]:
        raise InputRejected(subject, "empty inventory: expected a header row")
    resolved = resolve_columns(header, columns, subject)
    if resolved.os == resolved.group:
        raise InputRejected(subject, "the OS and group columns are the same column")
    checked = _Utf8Checked(source)
    raw_counts, skipped, samples = _arrow_counts(
        checked, header, resolved, delimiter, subject, examples=examples
    )
    counts: Counter[tuple[str, str]] = Counter()
    merged: dict[tuple[str, str], list[str]] = {}
    for key, value in raw_counts.items():
        clean = _clean(key)
        counts[clean] += value
        kept = merged.setdefault(clean, [])
        for sample in samples.get(key, ()):
            if len(kept) < examples and sample not in kept:
                kept.append(sample)
    if counts and not any(os_string for os_string, _ in counts):
        raise InputRejected(subject, _empty_os(resolved.names["os"], raw_counts.total()))
    return InventoryCounts(
        source=subject,
        counts=counts,
        rows=raw_counts.total(),
        skipped=skipped,
        columns=resolved.names,
        examples={key: tuple(value) for key, value in merged.items() if value},
    )


def _sniff(header_text: str) -> str:
    return max(",;\t", key=header_text.count)


def read_inventory_bytes(
    data: bytes,
    columns: ColumnMap,
    subject: str,
    *,
    delimiter: str | None = None,
    examples: int = 0,
) -> InventoryCounts:
    """Count an inventory held in memory (for small inputs and tests).

    Raises:
        InputRejected: as :func:`read_inventory`.
    """
    first = data.split(b"\n", 1)[0][:_MAX_HEADER]
    try:
        header_text = decode_text(first)
    except UnicodeDecodeError as exc:
        raise ParseError(subject, f"not UTF-8 text: {exc.reason} in the header") from exc
    chosen = delimiter or _sniff(header_text)
    return _count(
        io.BytesIO(data), header_text, columns, subject, delimiter=chosen, examples=examples
    )


def read_inventory(
    path: Path, columns: ColumnMap, *, delimiter: str | None = None, examples: int = 0
) -> InventoryCounts:
    """Stream a CSV inventory file into counts (UTF-8, a BOM allowed).

    The delimiter is sniffed from the header line (comma, semicolon or tab) unless given.
    Rows whose number of fields differs from the header's are skipped and counted; blank
    lines are ignored; a field may hold quoted delimiters, quotes and newlines. With
    ``examples``, up to that many endpoint ids (the MAC column, else the host column) are
    kept per (OS, group) pair (costs about 20% more time).

    Raises:
        InputRejected: unreadable, not UTF-8, malformed CSV, missing columns, too many keys.
    """
    subject = str(path)
    try:
        with path.open("rb") as raw:
            first = raw.readline(_MAX_HEADER)
        header_text = decode_text(first)
    except UnicodeDecodeError as exc:
        raise ParseError(subject, f"not UTF-8 text: {exc.reason} in the header") from exc
    except OSError as exc:
        raise InputRejected(subject, f"cannot read the inventory: {exc.strerror or exc}") from exc
    chosen = delimiter or _sniff(header_text)
    try:
        with path.open("rb") as raw:
            return _count(raw, header_text, columns, subject, delimiter=chosen, examples=examples)
    except OSError as exc:
        raise InputRejected(subject, f"cannot read the inventory: {exc.strerror or exc}") from exc


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
