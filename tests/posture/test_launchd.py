"""launchctl parsers: list, print, dumpstate; streaming, domains, errors."""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feedmgr.errors import ParseError
from feedmgr.posture.launchd import (
    CHUNK,
    MAX_LINE,
    JobRecord,
    PlistFile,
    check_domain_or_none,
    domain_kind,
    iter_blocks,
    iter_list,
    iter_plists,
    iter_print,
    read_chunks,
    read_lines,
)
from feedmgr.posture.model import JobKind


def _block(header: str, *body: str) -> list[str]:
    return [f"{header} = {{", *(f"\t{line}" for line in body), "}"]


def _records(path: Path) -> dict[str, JobRecord]:
    with path.open() as handle:
        return {r.target: r for r in iter_blocks(handle, path.name)}


def test_dumpstate_sample_records(asset: Callable[[str], Path]) -> None:
    """The sample dumpstate yields one record per job block, with state, pid, exit code, type."""
    records = _records(asset("posture/dumpstate.txt"))
    assert "com.apple.xpc.launchd.domain.system" not in str(list(records))
    sysmond = records["system/com.apple.sysmond"]
    assert (sysmond.state, sysmond.pid, sysmond.last_exit_code, sysmond.job_type) == (
        "running",
        412,
        None,
        "LaunchDaemon",
    )
    assert (
        sysmond.describe()
        == "system/com.apple.sysmond: state = running, pid 412, type = LaunchDaemon"
    )
    assert records["system/com.apple.mdmclient.daemon"].last_exit_code == 78
    assert records["gui/501/us.zoom.updater"].last_exit_code == 1
    assert records["gui/501/com.example.spawning"].state == "spawn scheduled"
    assert records["pid/733/com.apple.xpc.example"].kind is JobKind.UNKNOWN


def test_nested_state_line_is_not_the_job_state(asset: Callable[[str], Path]) -> None:
    """A 'state = running' inside a nested block does not make a waiting job running."""
    nested = _records(asset("posture/dumpstate.txt"))["system/com.example.nested"]
    assert nested.state == "waiting"
    assert not nested.running


def test_state_far_below_label_is_found(asset: Callable[[str], Path]) -> None:
    """The state line is read however far it is from the block header."""
    far = _records(asset("posture/dumpstate.txt"))["system/com.example.farlabel"]
    assert (far.state, far.pid, far.line) == ("running", 733, far.line)
    assert far.running


@pytest.mark.parametrize(
    ("domain", "job_type", "kind"),
    [
        ("system", None, JobKind.DAEMON),
        ("gui/501", None, JobKind.USER_AGENT),
        ("user/501", None, JobKind.USER_AGENT),
        ("pid/42", None, JobKind.UNKNOWN),
        ("login/100008", None, JobKind.UNKNOWN),
        ("pid/42", "LaunchAgent", JobKind.USER_AGENT),
        ("gui/501", "LaunchDaemon", JobKind.DAEMON),
        ("system", "Application", JobKind.DAEMON),
    ],
)
def test_kind_from_domain_refined_by_type(domain: str, job_type: str | None, kind: JobKind) -> None:
    """system/ is a daemon, gui/UID and user/UID a user agent; type = Launch* refines it."""
    record = JobRecord(domain, "x", "print", "o", 1, job_type=job_type)
    assert record.kind is kind
    if job_type is None:
        assert domain_kind(domain) is kind


_Fields = tuple[str | None, int | None, int | None, int | None, bool]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (("state = running", "pid = 7"), ("running", 7, None, None, True)),
        (("state = not running", "last exit code = 0"), ("not running", None, 0, None, False)),
        (("state = exited", "last exit code = 78: EX_CONFIG"), ("exited", None, 78, None, False)),
        (
            ("state = waiting", "last exit code = (never exited)"),
            ("waiting", None, None, None, False),
        ),
        (
            ("state = not running", "last terminating signal = Killed: 9"),
            ("not running", None, None, 9, False),
        ),
        (("pid = 12",), (None, 12, None, None, True)),
    ],
)
def test_print_fields(body: tuple[str, ...], expected: _Fields) -> None:
    """launchctl print keys become record fields: (state, pid, exit code, signal, running)."""
    (record,) = iter_print(_block("gui/501/com.example.a", *body), "p")
    got = (record.state, record.pid, record.last_exit_code, record.signal, record.running)
    assert got == expected
    assert record.source == "print"


def test_closing_brace_glued_to_an_empty_value() -> None:
    """launchctl prints empty values without a line end, so a nested block's '}' can end
    the line ('"key" => <tabs>}'); it still closes the block and the next job parses."""
    lines = [
        "system/com.example.proxy = {",
        "\tstate = running",
        "\tevent triggers = {",
        "\t\tFileHandles => {",
        "\t\t\tdescriptor = {",
        '\t\t\t\t"aux" => {',
        '\t\t\t\t\t"first" => \t\t\t\t\t"second" => \t\t\t\t}',
        '\t\t\t\t"list" => [',
        "\t\t\t\t\t0 = {",
        '\t\t\t\t\t\t"fd" => \t\t\t\t\t\t"type" => 1',
        '\t\t\t\t\t\t"key" => \t\t\t\t\t}',
        "\t\t\t\t]",
        "\t\t\t}",
        "\t\t}",
        "\t}",
        "\tpid = 141",
        "\tvalue = {}",
        "\tnote = ends in}",
        "}",
        "system/com.example.next = {",
        "\tstate = not running",
        "}",
    ]
    first, second = iter_blocks(lines, "d")
    assert (first.label, first.state, first.pid) == ("com.example.proxy", "running", 141)
    assert (second.label, second.state, second.line) == ("com.example.next", "not running", 20)


# launchd prints each argument and environment value raw after the indent, so the lines
# of an 'sh -c' script start at column 0, braces included.
_SH_SCRIPT = [
    "cleanup() {",
    "  rm -f /tmp/x",
    "}; trap cleanup EXIT",
    "while true; do sleep 60; done",
]


@pytest.mark.parametrize(
    ("block", "inside"),
    [
        ("arguments", ["\t\t/bin/sh", "\t\t-c", "\t\t" + _SH_SCRIPT[0], *_SH_SCRIPT[1:]]),
        ("arguments", ["\t\t/bin/sh", "\t\t-c", "\t\tif true; then", "{", "}", "}", "fi"]),
        ("environment", ["\t\tSCRIPT => " + _SH_SCRIPT[0], *_SH_SCRIPT[1:]]),
        ("inherited environment", ["\t\tX => a", "}", "\t}x"]),
        ("default environment", ["\t\tPATH => /usr/bin:/bin", "b {"]),
    ],
    ids=["sh -c with a function", "lone braces", "environment", "inherited", "default"],
)
def test_raw_string_lines_inside_arguments_are_not_structure(block: str, inside: list[str]) -> None:
    """Inside an arguments or environment block, lines are argument text: a brace at
    column 0 neither opens nor closes a block; only '}' at the opener's indent ends it,
    so the job and the next one parse, from lines as from a stream."""
    lines = [
        "system/com.example.shjob = {",
        "\tstate = running",
        f"\t{block} = {{",
        *inside,
        "\t}",
        "\tpid = 321",
        "}",
        "system/com.example.next = {",
        "\tstate = not running",
        "}",
    ]
    for source in (lines, io.StringIO("\n".join(lines) + "\n")):
        first, second = iter_blocks(source, "d")  # type: ignore[arg-type]
        assert (first.label, first.state, first.pid) == ("com.example.shjob", "running", 321)
        assert (second.label, second.state, second.line) == (
            "com.example.next",
            "not running",
            len(lines) - 2,
        )


def test_keys_written_inside_an_argument_are_not_the_jobs() -> None:
    """'state = running' and 'pid = 5' inside a script argument are argument text, not the
    job's keys: the job stays 'not running' with its own exit code."""
    lines = [
        "system/com.example.shjob2 = {",
        "\tstate = not running",
        "\targuments = {",
        "\t\t/bin/sh",
        "\t\t-c",
        "\t\tif true; then",
        "  x=1",
        "fi",
        "}",
        "state = running",
        "pid = 5",
        "\t}",
        "\tlast exit code = 1",
        "}",
    ]
    (record,) = iter_blocks(lines, "d")
    assert (record.state, record.pid, record.last_exit_code) == ("not running", None, 1)


def test_real_print_arguments_and_environments_of_a_user_agent() -> None:
    """A real 'launchctl print user/503/LABEL' (macOS 13+, tab-indented) with arguments,
    default environment and environment blocks: read as one not-running agent, exit 0."""
    with (REAL / "print-user503-resticprofile.txt").open() as handle:
        (record,) = iter_print(handle, "resticprofile")
    assert record.target == "user/503/local.resticprofile.self.check"
    assert (record.state, record.pid, record.last_exit_code, record.job_type) == (
        "not running",
        None,
        0,
        "LaunchAgent",
    )


def test_first_key_wins_within_a_block() -> None:
    """A repeated key keeps its first value (the job's own line comes first)."""
    (record,) = iter_blocks(_block("system/a", "state = running", "state = exited"), "d")
    assert record.state == "running"


@pytest.mark.parametrize(
    ("lines", "problem"),
    [
        (["system/a = {", "\tstate = running"], "truncated: block 'system/a = {' opened at line 1"),
        (["}"], "line 1: '}' closes no block"),
        (["PID\tStatus\tLabel", "-\t0\tx"], "no 'NAME = {' block found"),
        ([], "no 'NAME = {' block found"),
    ],
)
def test_dumpstate_errors(lines: list[str], problem: str) -> None:
    """Truncated, unbalanced or foreign text is a ParseError that says why."""
    with pytest.raises(ParseError, match=problem):
        list(iter_blocks(lines, "d"))


# The shape of `launchctl print system` / `print gui/501` (macOS 11 and later): the domain's
# own block, whose `services = {` rows are PID, status and label, but no job block.
_PRINT_SYSTEM = [
    "system = {",
    "\ttype = system",
    "\thandle = 0",
    "\tactive count = 1089",
    "\tcreator = launchd[1]",
    "\tsecurity context = {",
    "\t\tuid unset",
    "\t\tasid = 0",
    "\t}",
    "",
    "\tservices = {",
    "\t\t     412      - \tcom.apple.sysmond",
    "\t\t     501      - \tus.zoom.ZoomDaemon",
    "\t\t       0      - \tcom.apple.mdmclient.daemon",
    "\t}",
    "",
    "\tdisabled services = {",
    '\t\t"com.apple.ftpd" => disabled',
    "\t}",
    "",
    "\tproperties = uncorked | audit check done",
    "}",
]


@pytest.mark.parametrize(
    ("lines", "problem"),
    [
        (
            _PRINT_SYSTEM,
            "holds no DOMAIN/LABEL = { job block: line 1 'system = {' opens a domain, so this "
            "is 'launchctl print DOMAIN' output",
        ),
        (
            ["gui/501 = {", *_PRINT_SYSTEM[1:]],
            "line 1 'gui/501 = {' opens a domain",
        ),
        (
            ["com.apple.xpc.launchd.domain.system = {", *_PRINT_SYSTEM[1:]],
            "opens a domain",
        ),
        (
            _block("com.wazuh.agent", "state = running", "pid = 1061"),
            "line 1 'com.wazuh.agent = {' names a job without its domain, as 'launchctl "
            "print' did up to macOS 10.15; give it as --print system/com.wazuh.agent=FILE",
        ),
    ],
    ids=["print system", "print gui/501", "pre-11 domain header", "pre-11 bare label"],
)
def test_dumpstate_without_job_blocks_is_no_evidence(lines: list[str], problem: str) -> None:
    """Text holding blocks but no DOMAIN/LABEL job block (a domain's print, or a print of
    macOS 10.15 or older naming the label alone) is no dumpstate: a ParseError saying
    what it is and what to capture, never an empty result that reads as "nothing loaded"."""
    for source in (lines, io.StringIO("\n".join(lines) + "\n")):
        with pytest.raises(ParseError) as raised:
            list(iter_blocks(source, "d"))  # type: ignore[arg-type]
        assert problem in raised.value.problem


def test_dumpstate_with_domain_blocks_and_jobs_reads_the_jobs() -> None:
    """A dumpstate's domain blocks are still skipped when job blocks follow them."""
    lines = [*_PRINT_SYSTEM, *_block("system/com.apple.sysmond", "state = running")]
    (record,) = iter_blocks(lines, "d")
    assert (record.target, record.state, record.line) == (
        "system/com.apple.sysmond",
        "running",
        len(_PRINT_SYSTEM) + 1,
    )


def test_print_needs_a_job_block() -> None:
    """launchctl print output of a domain (no DOMAIN/LABEL block) is rejected."""
    with pytest.raises(ParseError, match="not launchctl print output"):
        list(iter_print(_block("system", "type = system"), "p"))


def test_list_sample(asset: Callable[[str], Path]) -> None:
    """launchctl list: '-' PID is not running, negative status is a signal, else exit code."""
    with asset("posture/list-system.txt").open() as handle:
        records = {r.label: r for r in iter_list(handle, "l", "system")}
    assert records["com.apple.sysmond"].running
    assert (
        records["com.apple.sysmond"].describe()
        == "system/com.apple.sysmond: pid 412, last exit code = 0"
    )
    killed = records["com.example.killed"]
    assert (killed.running, killed.signal, killed.last_exit_code) == (False, 9, None)
    assert records["com.apple.mdmclient.daemon"].last_exit_code == 78
    assert records["com.apple.mdmclient.daemon"].kind is JobKind.DAEMON


def test_list_with_spaces_instead_of_tabs() -> None:
    """Columns separated by spaces (copied from a terminal) parse too."""
    (record,) = iter_list(["PID   Status  Label", "  -   -15   com.example.a"], "l", "gui/501")
    assert (record.signal, record.kind) == (15, JobKind.USER_AGENT)


@pytest.mark.parametrize(
    ("lines", "problem"),
    [
        (["412\t0\tcom.apple.sysmond"], "line 1: expected the 'PID Status Label' header"),
        (["PID\tStatus\tLabel", "x\t0\ta"], "line 2: PID must be '-' or a number, got 'x'"),
        (["PID\tStatus\tLabel", "1\tok\ta"], "line 2: status must be '-' or a number"),
        (["PID\tStatus\tLabel", "1\t0"], "line 2: expected 'PID Status Label'"),
        ([], "empty"),
    ],
)
def test_list_errors(lines: list[str], problem: str) -> None:
    """Malformed launchctl list text is a ParseError with the line number."""
    with pytest.raises(ParseError, match=problem):
        list(iter_list(lines, "l"))


@pytest.mark.parametrize(
    ("domain", "valid"),
    [
        ("system", True),
        ("gui/501", True),
        ("user/0", True),
        ("gui", False),
        ("gui/x", False),
        ("pid/1", False),
        ("", False),
        ("system/", False),
    ],
)
def test_list_domains(domain: str, valid: bool) -> None:
    """system, gui/UID and user/UID are the domains a launchctl list can come from."""
    assert check_domain_or_none(domain) == (domain if valid else None)


def test_read_lines_cuts_overlong_lines() -> None:
    """A line longer than MAX_LINE is cut (also across chunks); later lines read normally."""
    for size in (MAX_LINE * 3 + 5, CHUNK * 2 + 7):
        text = "x" * size + "\nsystem/a = {\n}\nno newline at end"
        lines = list(read_lines(io.StringIO(text)))
        assert [len(line) for line in lines] == [MAX_LINE + 1, 13, 2, 18]


def test_parsers_are_lazy() -> None:
    """Records come out before the input ends (streaming, not read-all)."""

    def endless() -> object:
        yield "PID\tStatus\tLabel"
        n = 0
        while True:
            n += 1
            yield f"-\t0\tlabel{n}"

    stream = iter_list(endless(), "l")  # type: ignore[arg-type]
    assert next(stream).label == "label1"
    blocks = iter_blocks(itertools.chain(["system/a = {", "}"], itertools.repeat("\tx = 1")), "d")
    assert next(blocks).label == "a"


_vocabulary = st.sampled_from(
    [
        "system/com.a = {",
        "gui/501/com.b = {",
        "pid/1/x = {",
        "domain = {",
        "}",
        "\tstate = running",
        "\tpid = 9" + "9" * 30,
        "\tlast exit code = -" + "7" * 5000,
        "\tlast terminating signal = Killed: ²",
        "\ttype = LaunchAgent",
        "PID\tStatus\tLabel",
        "-\t-9\tcom.c",
        "12\t0\tcom.d",
        "",
        "\x00\x01",
    ]
)
_texts = st.lists(_vocabulary | st.text(max_size=40), max_size=30)


@given(_texts, st.sampled_from(["blocks", "print", "list"]))
def test_no_text_raises_anything_but_parse_error(lines: list[str], which: str) -> None:
    """Whatever the text, a parser returns records or raises ParseError, nothing else."""
    parser = {"blocks": iter_blocks, "print": iter_print, "list": iter_list}[which]
    try:
        for record in parser(lines, "h"):
            record.describe()
            assert isinstance(record.kind, JobKind)
    except ParseError:
        pass


@given(st.lists(_vocabulary, max_size=40))
def test_stream_and_line_inputs_agree(lines: list[str]) -> None:
    """A file-like stream (chunked fast path) and a list of lines give the same records."""

    def run(source: object) -> object:
        try:
            return list(iter_blocks(source, "h"))  # type: ignore[arg-type]
        except ParseError as exc:
            return exc.problem

    assert run(io.StringIO("\n".join(lines))) == run(lines)


@given(st.text(alphabet="ab{}\n \t", max_size=200), st.integers(min_value=1, max_value=20))
def test_read_chunks_keeps_text_and_ends_at_lines(text: str, size: int) -> None:
    """Chunks of any size end at a line end and join back to the text (plus a final newline)."""
    chunks = list(read_chunks(io.StringIO(text), size))
    assert all(chunk.endswith("\n") for chunk in chunks)
    expected = text if not text or text.endswith("\n") else text + "\n"
    assert "".join(chunks) == expected


def test_plist_listing(asset: Callable[[str], Path]) -> None:
    """A plist listing gives label (file name) and kind (LaunchDaemons or LaunchAgents
    directory); other lines are skipped."""
    with asset("posture/plists.txt").open() as handle:
        plists = {p.label: p for p in iter_plists(handle)}
    assert len(plists) == 6
    assert plists["com.apple.dhcp6d"].kind is JobKind.DAEMON
    assert plists["com.example.user"].kind is JobKind.USER_AGENT
    assert plists["us.zoom.updater"].path == "/Library/LaunchAgents/us.zoom.updater.plist"
    assert list(iter_plists(["/tmp/x.plist", "no-slash.plist", ""])) == [
        PlistFile("/tmp/x.plist", "x", JobKind.UNKNOWN)
    ]


def test_blank_characters_the_fast_skip_knows_are_what_strip_removes() -> None:
    """Lines are passed over unstripped unless they end in a brace or a character strip()
    removes; that list is exactly Python's whitespace, so no brace line is ever missed."""
    from feedmgr.posture.launchd import _WHITESPACE

    assert set(_WHITESPACE) == {chr(c) for c in range(0x110000) if chr(c).isspace()}


@pytest.mark.parametrize("blank", ["\u3000", "\x0c", "\xa0", " \t"])
def test_braces_followed_by_unusual_blanks_still_open_and_close(blank: str) -> None:
    """A block whose opening and closing braces are followed by Unicode blanks is still one
    job, with its keys read and the next block found, from a stream as from lines."""
    text = (
        f"system/com.example.a = {{{blank}\n\tstate = running\n\tendpoints = {{{blank}\n"
        f"\t\tstate = inner\n\t}}{blank}\n}}{blank}\nsystem/com.example.b = {{\n}}\n"
    )
    for source in (io.StringIO(text), text.splitlines()):
        first, second = iter_blocks(source, "d")
        assert (first.label, first.state, second.label) == (
            "com.example.a",
            "running",
            "com.example.b",
        )


# Real output pasted by macOS users into public issues (tests/data/posture/real/SOURCES); the
# expected values below are read off those texts by hand.
REAL = Path(__file__).resolve().parent.parent / "data" / "posture" / "real"


@pytest.mark.parametrize(
    ("capture", "domain", "rows", "label", "shown"),
    [
        # macOS 15, as root: WindowServer runs as PID 282 after an instance died of SIGSEGV.
        ("list-system-sequoia.txt", "system", 30, "com.apple.WindowServer", (282, None, 11)),
        ("list-system-sequoia.txt", "system", 30, "com.apple.mobile.obliteration", (None, 0, None)),
        (
            "list-system-santa.txt",
            "system",
            39,
            "uk.co.canimaansoftware.ClamXAV.HelperTool",
            (158, 0, None),
        ),
        (
            "list-system-santa.txt",
            "system",
            39,
            "com.apple.loginwindow.39E51D48-6340-440E-A8A5-8EA0482BC63F",
            (181, 0, None),
        ),
        ("list-user-elcapitan.txt", "gui/501", 34, "com.apple.Finder", (279, 0, None)),
        ("list-user-elcapitan.txt", "gui/501", 34, "com.apple.quicklook", (None, 0, None)),
    ],
)
def test_real_launchctl_list_rows(
    capture: str, domain: str, rows: int, label: str, shown: tuple[int | None, ...]
) -> None:
    """Real 'launchctl list' captures (root and user, OS X 10.11 to macOS 15) give one record
    per row with the PID, exit code and killing signal that row shows."""
    with (REAL / capture).open() as handle:
        records = {r.label: r for r in iter_list(handle, capture, domain)}
    assert len(records) == rows
    record = records[label]
    assert record.domain == domain
    assert (record.pid, record.last_exit_code, record.signal) == shown
    assert record.running is (shown[0] is not None)


def test_real_print_of_a_ventura_daemon() -> None:
    """A real macOS 13 'launchctl print system/LABEL' block: running as PID 337, never
    exited (no exit code), a LaunchDaemon; its nested blocks do not disturb the keys."""
    with (REAL / "print-system-wazuh-ventura.txt").open() as handle:
        (record,) = iter_print(handle, "ventura")
    assert record.target == "system/com.wazuh.agent"
    assert (record.state, record.pid, record.last_exit_code, record.signal) == (
        "running",
        337,
        None,
        None,
    )
    assert (record.job_type, record.kind, record.running) == ("LaunchDaemon", JobKind.DAEMON, True)


def _catalina_print() -> list[str]:
    # The published excerpt stops before the job block's own closing brace (SOURCES).
    return [*(REAL / "print-system-wazuh-catalina-excerpt.txt").read_text().splitlines(), "}"]


def test_real_print_before_big_sur_names_the_label_alone() -> None:
    """Up to macOS 10.15 'launchctl print system/LABEL' opens its block with the bare label
    ('com.wazuh.agent = {'); given the printed target it is read as that job: running as
    PID 1061, last exit code 0, a daemon of the system domain."""
    (record,) = iter_print(_catalina_print(), "catalina", "system/com.wazuh.agent")
    assert record.target == "system/com.wazuh.agent"
    assert (record.state, record.pid, record.last_exit_code) == ("running", 1061, 0)
    assert record.kind is JobKind.DAEMON


def test_real_print_bare_label_of_another_job_is_not_taken() -> None:
    """A bare-label block counts only for the label that was printed: another target's
    print, or one whose target is unknown, still finds no job block."""
    with pytest.raises(ParseError, match=r"not launchctl print system/com\.wazuh\.other output"):
        list(iter_print(_catalina_print(), "catalina", "system/com.wazuh.other"))
    with pytest.raises(ParseError, match="give the target: --print system/LABEL=FILE"):
        list(iter_print(_catalina_print(), "catalina", None))


def test_real_print_excerpt_cut_short_is_truncated() -> None:
    """The Catalina excerpt as published (its block never closed) is reported truncated,
    naming the block and the line it opened on."""
    excerpt = REAL / "print-system-wazuh-catalina-excerpt.txt"
    truncated = r"truncated: block 'com.wazuh.agent = \{' opened at line 1"
    with excerpt.open() as handle, pytest.raises(ParseError, match=truncated):
        list(iter_print(handle, "catalina", "system/com.wazuh.agent"))
