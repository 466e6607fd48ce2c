"""Every command of the user guide (docs/guide/*.md) runs, in order, with its documented exit.

A page's commands are the ``$ `` lines of its fenced ``console`` blocks. Each runs with bash
in a fresh sandbox holding copies of ``feeds/``, ``docs/examples/``, ``tests/data/posture/``
and ``tests/data/certs/chains/`` at the same relative paths, with ``FEEDMGR_HOME`` and
``HOME`` inside the sandbox. A command must exit 0 unless its line ends with ``# exit N``.
Output lines shown under a command must appear in what it printed, in order (``...``
matches anything).

Network peers are loopback servers started here and handed to the pages as environment
variables the pages explain: ``FEED_INDEX_URL`` and ``FEED_CA_BUNDLE`` (an HTTPS feed index
with a trustme certificate), ``FEED_PROXY`` (a CONNECT proxy), ``PSN_TARGET`` (a TLS
server presenting a generated PSN chain), and ``ISE_URL``, ``ISE_CA_BUNDLE``,
``FEEDMGR_ISE_PASSWORD`` and ``ISE_PSN_PORT`` (a stand-in ISE whose answers follow Cisco's
schemas, tests/ise/fakeise.py, and its one PSN, ``localhost``, on a TLS port).
Certificates the certificate pages grade are generated into ``certs/`` of the sandbox.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from feedmgr.certs.load import fingerprint
from tests.certs.factory import DAY, Leaf, pki, write_pem
from tests.certs.servers import serve_chain
from tests.feed.netserver import ConnectProxy, Packages, atom_index
from tests.ise.fakeise import NODES, PASSWORD, FakeIse, certificate, node

REPO = Path(__file__).resolve().parent.parent.parent
GUIDE = REPO / "docs" / "guide"
PAGES = sorted(GUIDE.glob("*.md"))
# Copied into every sandbox under the same relative paths.
SANDBOX_TREES = ("feeds", "docs/examples", "tests/data/posture", "tests/data/certs/chains")
# Programs a guide command may start with (besides feedmgr); anything else is a typo or an
# unreviewed dependency of the docs.
SHELL_PROGRAMS = frozenset(
    {
        "cat",
        "cp",
        "echo",
        "grep",
        "head",
        "ls",
        "mkdir",
        "mv",
        "openssl",
        "rm",
        "sed",
        "sha256sum",
        "sort",
        "test",
    }
)
INDEX_PATH = "/posture/index.xml"
PACKAGE_PATH = "/posture/feed-2026.12.01.zip"
_EXIT = re.compile(r"\s#\s*exit\s+(\d+)\s*$")
_HEREDOC = re.compile(r"<<-?\s*'?\"?([A-Za-z_]+)'?\"?")
DEAD_PROXY = "http://127.0.0.1:9"
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


@dataclass
class Step:
    """One documented command: where it is, what it is, how it must end, what it shows."""

    line: int
    command: str
    exit_code: int = 0
    shown: list[str] = field(default_factory=list)


def parse_page(text: str) -> list[Step]:
    """The ``$ `` commands of a page's ``console`` blocks, with their expected output.

    Blocks may be indented (inside list items). A line ending in a backslash continues on
    the next line; a here-document's body belongs to its command; other lines under a
    command are its shown output.
    """
    return _parse(text)[0]


def stray_prompts(text: str) -> list[int]:
    """Line numbers of ``$ `` lines that are not commands of a console block (never run)."""
    covered = _parse(text)[1]
    return [
        number
        for number, line in enumerate(text.splitlines(), start=1)
        if line.lstrip().startswith("$ ") and number not in covered
    ]


def _parse(text: str) -> tuple[list[Step], set[int]]:
    steps: list[Step] = []
    covered: set[int] = set()
    lines = text.splitlines()
    in_console = False
    indent = ""
    current: Step | None = None
    index = 0
    while index < len(lines):
        raw = lines[index]
        index += 1
        if raw.lstrip().startswith("```"):
            opening = not in_console and raw.strip() == "```console"
            indent = raw[: len(raw) - len(raw.lstrip())] if opening else ""
            in_console = opening
            current = None
            continue
        if not in_console:
            continue
        line = raw.removeprefix(indent)
        if not line.startswith("$ "):
            if current is not None and line.strip():
                current.shown.append(line.rstrip())
            continue
        start = index
        covered.add(start)
        command = line[2:]
        while command.endswith("\\") and index < len(lines):
            command += "\n" + lines[index].removeprefix(indent).removeprefix("> ")
            index += 1
            covered.add(index)
        step = Step(start, command)
        found = _EXIT.search(command.splitlines()[-1])
        if found:
            step.exit_code = int(found.group(1))
        heredoc = _HEREDOC.search(command)
        if heredoc:
            body = []
            while index < len(lines) and lines[index] != heredoc.group(1):
                body.append(lines[index])
                index += 1
                covered.add(index)
            index += 1
            step.command = "\n".join([command, *body, heredoc.group(1)])
        steps.append(step)
        current = step
    return steps, covered


def programs(command: str) -> list[str]:
    """The programs a command line starts: the first word after each ``|``, ``&&``, ``;``..."""
    first_line = command.split("\n", 1)[0]
    lexer = shlex.shlex(first_line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    found: list[str] = []
    expect_program = True
    for word in lexer:
        if word in ("|", "||", "&&", ";", "&", "(", ")"):
            expect_program = True
        elif expect_program and not _ASSIGNMENT.match(word):
            found.append(word)
            expect_program = False
    return found


def _shown_matches(shown: list[str], printed: str) -> str | None:
    """None when every shown line matches a printed line, in order; else the first miss."""
    actual = [line.rstrip() for line in printed.splitlines()]
    position = 0
    for expected in shown:
        pattern = re.compile(".*".join(re.escape(part) for part in expected.split("...")))
        while position < len(actual) and not pattern.fullmatch(actual[position]):
            position += 1
        if position == len(actual):
            return expected
        position += 1
    return None


def _make_certs(folder: Path) -> None:
    """The PSN certificates the certificate pages grade: a good one, a CN-only one, the CA."""
    hierarchy = pki()
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    folder.mkdir()
    good = hierarchy.leaf(
        Leaf(dns=("psn1.corp.example",), ips=("10.1.1.21",), not_before=now - 10 * DAY, days=365)
    )
    write_pem(folder / "psn1.pem", good.cert, hierarchy.intermediate.cert)
    cn_only = hierarchy.leaf(
        Leaf(san=False, cn="psn2.corp.example", not_before=now - 10 * DAY, days=365), slot=2
    )
    write_pem(folder / "psn2.pem", cn_only.cert, hierarchy.intermediate.cert)
    write_pem(folder / "corp-root.pem", hierarchy.root.cert)


@dataclass(frozen=True)
class Peers:
    """The loopback servers a page may use, as the environment variables the pages name."""

    env: dict[str, str]
    proxy: ConnectProxy


@pytest.fixture
def sandbox(tmp_path: Path) -> Path:
    """A fresh folder with the repository files the guide refers to, and a feedmgr shim."""
    root = tmp_path / "sandbox"
    for tree in SANDBOX_TREES:
        shutil.copytree(REPO / tree, root / tree)
    _make_certs(root / "certs")
    shim = root / ".bin" / "feedmgr"
    shim.parent.mkdir()
    # The shim runs the feedmgr under test (this interpreter) and records each run.
    shim.write_text(
        "#!/bin/sh\n"
        f'printf "%s\\n" "$*" >> {shlex.quote(str(root / ".feedmgr-runs"))}\n'
        f'exec {shlex.quote(sys.executable)} -m feedmgr "$@"\n'
    )
    shim.chmod(0o755)
    return root


@pytest.fixture
def peers(
    https_server: HTTPServer,
    packages: Packages,
    ca_bundle: Path,
    connect_proxy: ConnectProxy,
    tmp_path: Path,
) -> Iterator[Peers]:
    """An HTTPS feed index offering 2026.12.01, a proxy, and a PSN presenting psn1's chain."""
    https_server.expect_request(INDEX_PATH).respond_with_data(
        atom_index([packages.new.entry(PACKAGE_PATH.rsplit("/", 1)[1])]),
        content_type="application/atom+xml",
    )
    https_server.expect_request(PACKAGE_PATH).respond_with_data(
        packages.new.data, content_type="application/zip"
    )
    hierarchy = pki()
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    leaf = hierarchy.leaf(
        Leaf(dns=("psn1.corp.example",), not_before=now - 10 * DAY, days=365), slot=4
    )
    ise_leaf = hierarchy.leaf(
        Leaf(dns=("localhost",), cn="localhost", not_before=now - 10 * DAY, days=365), slot=5
    )
    _fake_ise(FakeIse(https_server), fingerprint(ise_leaf.cert), now)
    with (
        serve_chain(tmp_path, leaf, [hierarchy.intermediate.cert]) as psn,
        serve_chain(tmp_path, ise_leaf, [hierarchy.intermediate.cert]) as ise_psn,
    ):
        yield Peers(
            {
                "FEED_INDEX_URL": https_server.url_for(INDEX_PATH),
                "FEED_CA_BUNDLE": str(ca_bundle),
                "FEED_PROXY": connect_proxy.url,
                "PSN_TARGET": psn.target,
                "ISE_URL": https_server.url_for("/").rstrip("/"),
                "ISE_CA_BUNDLE": str(ca_bundle),
                "FEEDMGR_ISE_PASSWORD": PASSWORD,
                "ISE_PSN_PORT": str(ise_psn.port),
            },
            connect_proxy,
        )


def _fake_ise(ise: FakeIse, psn_sha256: str, now: dt.datetime) -> None:
    """A PAN and one PSN (localhost) whose Admin/Portal certificate is the one served on
    ISE_PSN_PORT, with an EAP certificate 20 days from expiry; the guide's account is read-only
    (ERS Operator), so ISE refuses the certificate export (403)."""
    ise.answer(
        NODES,
        {
            "response": [
                node("ise-pan1", ["Profiler"], roles=["PrimaryAdmin", "PrimaryMonitoring"]),
                node("ise-psn1", ["Session", "Profiler"], fqdn="localhost", ip="127.0.0.1"),
            ],
            "version": "1.0.0",
        },
    )
    java_date = "%a %b %d %H:%M:%S UTC %Y"
    later = (now + 300 * DAY).strftime(java_date)
    ise.certificates(
        "ise-psn1",
        [
            [
                certificate(
                    "psn1-admin-portal", "Admin, Portal", later, sha256Fingerprint=psn_sha256
                ),
                certificate("psn1-eap", "EAP Authentication", (now + 20 * DAY).strftime(java_date)),
                certificate("Default self-signed server certificate", "Not in use", later),
            ]
        ],
    )
    ise.exports({}, status=403)


def _environment(sandbox: Path, extra: dict[str, str]) -> dict[str, str]:
    """A clean environment: no proxy or CA settings of the developer, homes in the sandbox."""
    keep = ("PATH", "LANG", "SYSTEMROOT", "TMPDIR")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    env["PATH"] = f"{sandbox / '.bin'}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}"
    env.update(
        HOME=str(sandbox / ".home"),
        FEEDMGR_HOME=str(sandbox / "home"),
        NO_COLOR="1",
        COLUMNS="200",
        LC_ALL="C.UTF-8",
        TZ="UTC",
        PYTHONDONTWRITEBYTECODE="1",
        # A command that tried to leave loopback over HTTPS (a page forgetting --url, say)
        # would reach the vendor index: send such traffic to a closed port instead.
        HTTPS_PROXY=DEAD_PROXY,
        NO_PROXY="127.0.0.1,localhost",
    )
    env.update(extra)
    return env


def test_index_links_every_page() -> None:
    """docs/guide/README.md links every task page, and every link leads to a page."""
    index = (GUIDE / "README.md").read_text(encoding="utf-8")
    linked = set(re.findall(r"\]\(([\w-]+\.md)\)", index))
    pages = {page.name for page in PAGES} - {"README.md"}
    assert linked == pages
    assert len(pages) >= 7, pages


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("```console\n$ feedmgr status\nactive feed: 1\n```\n", [("feedmgr status", 0)]),
        ("```console\n$ feedmgr os resolve x  # exit 3\n```\n", [("feedmgr os resolve x", 3)]),
        ("```sh\n$ feedmgr status\n```\n", []),
        ("```console\n$ cp a \\\n  b\n```\n", [("cp a \\\n  b", 0)]),
        ("```console\n$ cat > f <<'EOF'\n$ x\nEOF\n$ ls\n```\n", [("cat > f", 0), ("ls", 0)]),
        ("- item\n\n  ```console\n  $ feedmgr status\n  ```\n", [("feedmgr status", 0)]),
    ],
)
def test_parser_finds_commands(text: str, expected: list[tuple[str, int]]) -> None:
    """Commands, continuations, here-documents and exit comments are read as documented."""
    steps = parse_page(text)
    got = [(s.command.split(" <<", 1)[0].split("  #", 1)[0], s.exit_code) for s in steps]
    assert got == expected


@pytest.mark.parametrize(
    ("text", "stray"),
    [
        ("```sh\n$ feedmgr status\n```\n", [2]),
        ("Run\n$ feedmgr status\n", [2]),
        ("```console\n$ feedmgr status\n```\n", []),
        ("```console\n$ cat > f <<'EOF'\n$ not a command\nEOF\n```\n", []),
    ],
)
def test_prompts_outside_console_blocks_are_found(text: str, stray: list[int]) -> None:
    """A ``$ `` line that the test would not run is reported, so no command goes untested."""
    assert stray_prompts(text) == stray


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("feedmgr status  # exit 1", ["feedmgr"]),
        ("FEEDMGR_HOME=x feedmgr status", ["feedmgr"]),
        ("echo a; feedmgr status", ["echo", "feedmgr"]),
        ("feedmgr a | grep -c b && cat c > d", ["feedmgr", "grep", "cat"]),
        ("cat > f <<'EOF'\nx\nEOF", ["cat"]),
    ],
)
def test_programs_of_a_command(command: str, expected: list[str]) -> None:
    """Each pipeline element's program is found; assignments and redirections are not."""
    assert programs(command) == expected


@pytest.mark.parametrize(
    ("shown", "printed", "miss"),
    [
        (["a: ...", "c"], "a: 1\nb\nc\n", None),
        (["c", "a: ..."], "a: 1\nb\nc\n", "a: ..."),
        (["x"], "xy\n", "x"),
    ],
)
def test_shown_output_matching(shown: list[str], printed: str, miss: str | None) -> None:
    """Shown lines match whole printed lines in order, with ``...`` as a wildcard."""
    assert _shown_matches(shown, printed) == miss


def run_page(name: str, text: str, sandbox: Path, extra: dict[str, str]) -> list[str]:
    """Run a page's commands in order in ``sandbox``; return what went wrong (empty: all good).

    Stops at the first command that misbehaves, since later ones depend on it.
    """
    steps = parse_page(text)
    if not steps:
        return [f"{name}: no commands in ```console blocks"]
    problems = [f"{name}:{n}: looks like a command but is not run" for n in stray_prompts(text)]
    expected_runs = 0
    for step in steps:
        names = programs(step.command)
        if not names:
            problems.append(f"{name}:{step.line}: no command in {step.command!r}")
        problems += [
            f"{name}:{step.line}: {program!r} is not feedmgr or a known shell command"
            for program in names
            if program != "feedmgr" and program not in SHELL_PROGRAMS
        ]
        expected_runs += names.count("feedmgr")
    if not expected_runs:
        problems.append(f"{name}: no feedmgr command")
    if problems:
        return problems
    env = _environment(sandbox, extra)
    runs = sandbox / ".feedmgr-runs"
    runs.unlink(missing_ok=True)
    for step in steps:
        result = subprocess.run(
            ["bash", "-o", "pipefail", "-c", step.command],
            cwd=sandbox,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        where = f"{name}:{step.line}: $ {step.command}"
        detail = f"\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
        if result.returncode != step.exit_code:
            return [f"{where}: exit {result.returncode}, expected {step.exit_code}{detail}"]
        miss = _shown_matches(step.shown, result.stdout + result.stderr)
        if miss is not None:
            return [f"{where}: shown line not printed: {miss!r}{detail}"]
    ran = runs.read_text().splitlines() if runs.exists() else []
    if len(ran) != expected_runs:
        return [f"{name}: feedmgr ran {len(ran)} times, the page has {expected_runs} runs"]
    return []


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("```console\n$ feedmgr --version  # exit 3\n```\n", "exit 0, expected 3"),
        ("```console\n$ feedmgr os resolve 'Mac OSX 15.1'\n```\n", "exit 2, expected 0"),
        ("```console\n$ feedmgr --version\nfeedmgr 9\n```\n", "shown line not printed"),
        ("```console\n$ echo feedmgr\n```\n", "no feedmgr command"),
        ("```console\n$ curl https://example.net\n```\n", "'curl' is not feedmgr"),
        ("```console\n$ true && feedmgr --version\n```\n", "'true' is not feedmgr"),
        ("```console\n$ feedmgr --version\n```\n$ feedmgr status\n", "is not run"),
        ("```console\n$ echo feedmgr --version; feedmgr --version\n```\n", None),
        ("text only\n", "no commands"),
    ],
)
def test_runner_reports_what_the_page_gets_wrong(
    text: str, problem: str | None, sandbox: Path
) -> None:
    """The page runner fails on a wrong exit code, missing output, an unknown program, a
    prompt outside a console block or a page without feedmgr; it passes a correct page."""
    problems = run_page("page.md", text, sandbox, {})
    if problem is None:
        assert problems == []
    else:
        assert problems, text
        assert problem in problems[0]


def test_commands_cannot_leave_loopback(sandbox: Path) -> None:
    """An online command without a loopback URL goes to a dead proxy and fails (exit 4)."""
    text = "```console\n$ feedmgr update --check  # exit 4\n```\n"
    assert run_page("page.md", text, sandbox, {}) == []


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_page_commands_run(page: Path, sandbox: Path, peers: Peers) -> None:
    """Every command of the page runs in order, exits and prints as the page says."""
    text = page.read_text(encoding="utf-8")
    if page.name == "README.md" and not parse_page(text):
        assert not stray_prompts(text)
        return
    problems = run_page(page.name, text, sandbox, peers.env)
    assert not problems, "\n".join(problems)
    if "FEED_PROXY" in text:
        assert peers.proxy.targets, f"{page.name}: the proxy was never used"


def test_guide_links_resolve() -> None:
    """Every relative link in the guide leads to an existing file."""
    broken = [
        f"{page.name}: {target}"
        for page in PAGES
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8"))
        if not (page.parent / target).exists()
    ]
    assert not broken
