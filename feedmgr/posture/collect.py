"""Getting launchd evidence: from files, live from ``launchctl`` through an injectable
runner, and the shell script an admin runs on a Mac to capture the files.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path

from feedmgr.errors import ParseError, UsageError
from feedmgr.posture.bundle import FORMAT as BUNDLE_FORMAT
from feedmgr.posture.bundle import VERSION as BUNDLE_VERSION
from feedmgr.posture.dumpstate import open_dumpstate
from feedmgr.posture.evaluate import label_filter
from feedmgr.posture.launchd import (
    JobRecord,
    PlistFile,
    check_domain_or_none,
    check_target_or_none,
    iter_blocks,
    iter_list,
    iter_plists,
    iter_print,
    open_text,
    read_lines,
)
from feedmgr.posture.model import PostureSpec, ServiceType

Runner = Callable[[Sequence[str]], Iterator[str]]
"""Runs ``launchctl ARGS...`` and yields its stdout lines.

Raises ``ParseError`` when launchctl fails (``launchctl print`` of an unknown job does).
"""

LAUNCHCTL_ENV = "FEEDMGR_LAUNCHCTL"
Stream = tuple[str, Iterable[JobRecord]]


class LaunchctlFailed(ParseError):
    """launchctl exited with an error status (its stderr is the problem)."""


def subprocess_runner(launchctl: str) -> Runner:
    """A runner that executes ``launchctl`` and streams its stdout line by line."""

    def run(args: Sequence[str]) -> Iterator[str]:
        command = [launchctl, *args]
        # stderr goes to a file, not a pipe: a pipe nobody reads while stdout streams could
        # fill up and stall launchctl.
        with tempfile.TemporaryFile() as stderr:
            try:
                process = subprocess.Popen(
                    command,
                    stdout=subprocess.PIPE,
                    stderr=stderr,
                    text=True,
                    encoding="utf-8",
                    errors="replace",
                )
            except OSError as exc:
                raise UsageError(launchctl, f"cannot run: {exc.strerror or exc}") from exc
            with process:
                assert process.stdout is not None
                yield from read_lines(process.stdout)
                status = process.wait()
            stderr.seek(0)
            error = stderr.read(4096).decode("utf-8", "replace").strip()
        if status != 0:
            raise LaunchctlFailed(
                "launchctl " + " ".join(args), f"exit status {status}: {error[:300]}"
            )

    return run


def system_runner() -> Runner:
    """The runner for ``--live``: ``$FEEDMGR_LAUNCHCTL`` if set, else launchctl on macOS.

    Raises:
        UsageError: on a system other than macOS without ``$FEEDMGR_LAUNCHCTL``.
    """
    override = os.environ.get(LAUNCHCTL_ENV)
    if override:
        return subprocess_runner(override)
    if sys.platform != "darwin":
        raise UsageError(
            "--live",
            f"needs macOS (this is {sys.platform}); capture files with "
            "'feedmgr posture collect-script' on the Mac and pass --dumpstate/--list/--print",
        )
    return subprocess_runner("/bin/launchctl")


def _located(base: Path | None, text: str) -> Path:
    if base is None:
        return Path(text)
    # In a deployment file, as every other path there (deployment_path): ~ expanded,
    # relative to the file's folder.
    path = Path(text).expanduser()
    return path if path.is_absolute() else base / path


def list_target(value: str, base: Path | None = None) -> tuple[str, Path]:
    """Split an ``--list [DOMAIN=]FILE`` value, without checking that FILE exists; without
    a domain prefix it is ``system`` (``sudo launchctl list``). A relative FILE is taken
    relative to ``base`` when given (the folder of a deployment file), else to the working
    directory. A VALUE that names an existing file as a whole is that file, even with a
    ``=`` in its name.

    Raises:
        UsageError: for a prefix that is not a launchd domain.
    """
    domain, sep, rest = value.partition("=")
    if sep and check_domain_or_none(domain) is not None:
        return domain, _located(base, rest)
    if sep and not _located(base, value).is_file():
        raise UsageError(
            "--list", f"{domain!r} is not a launchd domain: expected system, gui/UID or user/UID"
        )
    return "system", _located(base, value)


def list_option(value: str, base: Path | None = None) -> tuple[str, Path]:
    """``list_target`` of an ``--list`` value whose file must exist.

    Raises:
        UsageError: for a prefix that is not a launchd domain, or a file that does not exist.
    """
    domain, path = list_target(value, base)
    if not path.is_file():
        raise UsageError("--list", f"{path}: no such file")
    return domain, path


def print_target(value: str, base: Path | None = None) -> tuple[str | None, Path]:
    """Split a ``--print [DOMAIN/LABEL=]FILE`` value as ``list_target`` splits ``--list``.
    The target is what was printed: up to macOS 10.15 ``launchctl print`` names the label
    alone, and only the target gives its domain.

    Raises:
        UsageError: for a prefix that is not a ``DOMAIN/LABEL`` target.
    """
    target, sep, rest = value.partition("=")
    if sep and check_target_or_none(target) is not None:
        return target, _located(base, rest)
    if sep and not _located(base, value).is_file():
        raise UsageError(
            "--print",
            f"{target!r} is not a launchctl print target: expected system/LABEL, "
            "gui/UID/LABEL or user/UID/LABEL",
        )
    return None, _located(base, value)


def print_option(value: str, base: Path | None = None) -> tuple[str | None, Path]:
    """``print_target`` of a ``--print`` value whose file must exist.

    Raises:
        UsageError: for a prefix that is not a ``DOMAIN/LABEL`` target, or a missing file.
    """
    target, path = print_target(value, base)
    if not path.is_file():
        raise UsageError("--print", f"{path}: no such file")
    return target, path


def default_uid() -> int:
    """The user whose ``gui/UID`` domain ``--live`` inspects: the sudo caller, else us."""
    sudo_uid = os.environ.get("SUDO_UID", "")
    return int(sudo_uid) if sudo_uid.isdigit() else os.getuid()


def _exact_labels(spec: PostureSpec) -> list[tuple[str, ServiceType]]:
    return [(c.service, c.service_type) for c in spec.conditions if not c.is_glob]


def _print_domains(service_type: ServiceType, uid: int) -> list[str]:
    domains = []
    if service_type is not ServiceType.USER_AGENT:
        domains.append("system")
    if service_type is not ServiceType.DAEMON:
        domains.append(f"gui/{uid}")
    return domains


def live_streams(
    spec: PostureSpec, runner: Runner, uid: int, *, as_root: bool | None = None
) -> list[Stream]:
    """Record streams from launchctl itself: dumpstate, list, and print of each exact label
    in the domains its service type allows (a job print cannot find is simply not loaded).

    ``launchctl list`` shows the ``system`` domain when run as root, else the caller's
    ``gui/UID`` domain; ``as_root`` defaults to whether this process runs as root.
    """
    root = os.geteuid() == 0 if as_root is None else as_root
    list_domain = "system" if root else f"gui/{uid}"
    streams: list[Stream] = [
        (
            "launchctl dumpstate",
            iter_blocks(runner(["dumpstate"]), "launchctl dumpstate", wanted=label_filter(spec)),
        ),
        ("launchctl list", iter_list(runner(["list"]), "launchctl list", list_domain)),
    ]
    for label, service_type in _exact_labels(spec):
        for domain in _print_domains(service_type, uid):
            target = f"{domain}/{label}"
            streams.append((f"launchctl print {target}", _print_or_absent(runner, target)))
    return streams


def _print_or_absent(runner: Runner, target: str) -> Iterator[JobRecord]:
    origin = f"launchctl print {target}"
    try:
        lines = list(runner(["print", target]))
    except LaunchctlFailed:
        return
    if lines:
        yield from iter_print(lines, origin, target)


def file_streams(
    stack: ExitStack,
    spec: PostureSpec,
    *,
    dumpstates: Sequence[Path],
    lists: Sequence[tuple[str, Path]],
    prints: Sequence[tuple[str | None, Path]],
) -> list[Stream]:
    """Record streams over captured files (opened on ``stack``, parsed lazily); dumpstate
    jobs that no condition of ``spec`` names are not even built."""
    wanted = label_filter(spec)
    streams: list[Stream] = []
    for path in dumpstates:
        streams.append((f"{path} (dumpstate)", open_dumpstate(stack, path, wanted)))
    for domain, path in lists:
        handle = stack.enter_context(open_text(path))
        streams.append((f"{path} (list, {domain})", iter_list(handle, str(path), domain)))
    for target, path in prints:
        handle = stack.enter_context(open_text(path))
        streams.append((f"{path} (print)", iter_print(handle, str(path), target)))
    return streams


PLIST_DIRS = (
    "Library/LaunchAgents",  # under the user's home
    "/Library/LaunchAgents",
    "/Library/LaunchDaemons",
    "/System/Library/LaunchAgents",
    "/System/Library/LaunchDaemons",
)
"""Where launchd property lists live (the field document's table of locations)."""


def read_plists(path: Path) -> list[PlistFile]:
    """The plist listing ``collect-script`` writes (one path per line).

    Raises:
        ParseError: when the file cannot be read.
    """
    with open_text(path) as handle:
        return list(iter_plists(handle))


def user_home(uid: int) -> Path:
    """The home directory of ``uid`` (for its ``~/Library/LaunchAgents``)."""
    import pwd

    try:
        return Path(pwd.getpwuid(uid).pw_dir)
    except KeyError:
        return Path.home()


def live_plists(home: Path, root: Path = Path("/")) -> list[PlistFile]:
    """The plists on this Mac, in the five launchd directories (``home`` for the user's own
    agents; ``root`` lets tests point elsewhere). Unreadable directories are skipped."""
    paths: list[str] = []
    for directory in PLIST_DIRS:
        base = home / directory if not directory.startswith("/") else root / directory[1:]
        try:
            paths.extend(str(p) for p in sorted(base.glob("*.plist")))
        except OSError:
            continue
    return list(iter_plists(paths))


def collect_script(spec: PostureSpec | None, condition_file: str = "CONDITIONS.yaml") -> str:
    """A POSIX shell script that captures the evaluation inputs on a Mac.

    It writes ``dumpstate.txt``, ``list-system.txt``, ``list-gui.txt``, ``plists.txt`` (the
    plist files in the five launchd directories) and one ``print-DOMAIN-LABEL.txt`` per
    exact service label of ``spec``, then prints the
    ``feedmgr posture eval`` command to run on them, each word quoted for a shell. Text
    from outside (the file name, labels) is never expanded: it reaches the shell as words
    quoted by ``shlex.quote`` and is printed with ``printf``, never inside double quotes.
    """
    labels = _exact_labels(spec) if spec is not None else []
    lines = [
        "#!/bin/sh",
        "# Capture launchd state for 'feedmgr posture eval' (generated by feedmgr).",
        "# Run on the Mac as the logged-in user; it asks for sudo once (dumpstate needs root).",
        "set -eu",
        'user="${SUDO_USER:-$(stat -f %Su /dev/console)}"',
        'uid=$(id -u "$user")',
        'out="feedmgr-posture-$(hostname -s)-$(date +%Y%m%d-%H%M%S)"',
        'mkdir -p "$out"',
        'sudo launchctl dumpstate > "$out/dumpstate.txt"',
        'sudo launchctl list > "$out/list-system.txt"',
        'sudo launchctl asuser "$uid" launchctl list > "$out/list-gui.txt"',
        'home=$(dscl . -read "/Users/$user" NFSHomeDirectory | sed "s/^[^:]*: *//")',
        'for d in "$home/Library/LaunchAgents" /Library/LaunchAgents /Library/LaunchDaemons \\',
        "  /System/Library/LaunchAgents /System/Library/LaunchDaemons; do",
        '  if [ -d "$d" ]; then find "$d" -maxdepth 1 -name "*.plist"; fi',
        'done > "$out/plists.txt"',
    ]
    # Each print file is passed with its target: up to macOS 10.15 the output names the
    # label alone, and only the target says which domain was printed.
    prints: list[str] = []
    for label, service_type in labels:
        for domain in _print_domains(service_type, 0):
            target = ("system/" if domain == "system" else 'gui/"$uid"/') + shlex.quote(label)
            name = '"$out"/' + shlex.quote(f"print-{domain.split('/')[0]}-{label}.txt")
            lines.append(f"sudo launchctl print {target} > {name} 2>/dev/null || rm -f {name}")
            prints.append(f'if [ -e {name} ]; then set -- "$@" --print {target}={name}; fi')
    lines += [
        'set -- --dumpstate "$out/dumpstate.txt" --list "system=$out/list-system.txt" \\',
        '  --list "gui/$uid=$out/list-gui.txt" --plists "$out/plists.txt"',
        *prints,
        "shell_word() {",
        '  case "$1" in',
        '    ""|*[!A-Za-z0-9_./=:@%+,-]*)',
        "      printf \"'%s'\" \"$(printf '%s' \"$1\" | sed \"s/'/'\\\\\\\\''/g\")\" ;;",
        "    *) printf '%s' \"$1\" ;;",
        "  esac",
        "}",
        "printf '%s\\n' \"Captured into $out. Evaluate with:\"",
        # The file name is printed, never expanded: it is a single-quoted printf argument
        # whose text is already quoted for the admin's shell.
        f"printf '%s' {shlex.quote('feedmgr posture eval ' + shlex.quote(condition_file))}",
        'for word in "$@"; do printf \' \'; shell_word "$word"; done',
        "echo",
    ]
    return "\n".join(lines) + "\n"


_GLOB_PART = re.compile(r"(\*|\?|\[!?[A-Za-z0-9._-]+\])")


def _case_pattern(service: str) -> str:
    """A shell ``case`` pattern matching what fnmatch matches: literal runs quoted, ``*``,
    ``?`` and simple bracket sets left live. A bracket set with other characters would
    differ between fnmatch and the shell, so such a pattern keeps every label (``*``)."""
    parts = _GLOB_PART.split(service)
    if any("[" in part or "]" in part for part in parts[::2]):
        return "*"
    return "".join(part if i % 2 else shlex.quote(part) for i, part in enumerate(parts) if part)


def bundle_script(spec: PostureSpec | None, output_dir: str | None = None) -> str:
    """A POSIX shell script an MDM runs as root to write one ``feedmgr-posture-bundle/1``
    (docs/posture.md, "Bundle format") on stdout, and, with ``output_dir``, also into
    ``output_dir/posture-bundle.txt`` (replaced atomically).

    The bundle keeps only the ``launchctl list`` rows, ``print`` blocks and plist paths of
    the services ``spec`` names (all rows without a spec), so it stays a few KB.
    """
    from feedmgr import __version__

    services = sorted({c.service for c in spec.conditions}) if spec is not None else ["*"]
    patterns = "|".join(_case_pattern(s) for s in services) if spec is not None else "*"
    exact = _exact_labels(spec) if spec is not None else []
    lines = [
        "#!/bin/sh",
        f"# Writes a feedmgr-posture-bundle/{BUNDLE_VERSION} for 'feedmgr posture fleet' "
        f"(generated by feedmgr {__version__}).",
        "# Run as root (Jamf, Intune, Kandji and Munki run scripts so); the bundle goes to stdout.",
        "set -u",
        'PATH="$PATH:/usr/bin:/bin:/usr/sbin:/sbin"',
        'if [ "$(id -u)" != 0 ]; then echo "feedmgr bundle: run as root" >&2; exit 1; fi',
        'work=$(mktemp -d "${TMPDIR:-/tmp}/feedmgr-bundle.XXXXXX") || exit 1',
        "trap 'rm -rf \"$work\"' EXIT",
        "tab=$(printf '\\t')",
        f'wanted() {{ case "$1" in {patterns}) return 0 ;; esac; return 1; }}',
        "one_line() { tr -d '\\r\\n'; }",
        # echo reads backslash escapes in dash and in macOS's /bin/sh: text from outside
        # (labels, host names) is written with printf only.
        "say() { printf '%s\\n' \"$1\"; }",
        "user=$(stat -f %Su /dev/console 2>/dev/null | one_line)",
        'uid=""',
        'case "$user" in',
        '  ""|root|loginwindow|_mbsetupuser) user="" ;;',
        '  *) uid=$(id -u "$user" 2>/dev/null | one_line) ;;',
        "esac",
        "platform=$(ioreg -rd1 -c IOPlatformExpertDevice 2>/dev/null)",
        "ioreg_value() {",
        # ioreg indents properties with spaces; "ioreg -l" adds "|" tree lines before them.
        '  printf \'%s\\n\' "$platform" | sed -n "s/^[ |]*\\"$1\\" = \\"\\(.*\\)\\"$/\\1/p" '
        "| head -n 1 | one_line",
        "}",
        "list_section() {",
        "  domain=$1; shift",
        '  if "$@" > "$work/list" 2>/dev/null && [ -s "$work/list" ]; then',
        '    say "@@ list $domain jobs=$(($(wc -l < "$work/list") - 1))"',
        '    head -n 1 "$work/list"',
        '    tail -n +2 "$work/list" | while IFS= read -r row; do',
        '      if wanted "${row##*"$tab"}"; then printf \'%s\\n\' "$row"; fi',
        "    done",
        "  else",
        '    say "@@ list $domain failed"',
        "  fi",
        "}",
        "print_section() {",
        '  if launchctl print "$1" > "$work/print" 2>/dev/null; then',
        '    say "@@ print $1"; cat "$work/print"',
        "  else",
        '    say "@@ print $1 absent"',
        "  fi",
        "}",
        "{",
        f'  echo "{BUNDLE_FORMAT}/{BUNDLE_VERSION}"',
        f"  say {shlex.quote(f'generator = feedmgr {__version__}')}",
        '  say "collected = $(date -u +%Y-%m-%dT%H:%M:%SZ)"',
        '  say "host = $(hostname | one_line)"',
        '  say "serial = $(ioreg_value IOPlatformSerialNumber)"',
        '  say "hardware_uuid = $(ioreg_value IOPlatformUUID)"',
        '  say "kernel = $(uname -s | one_line)"',
        '  say "product = $(sw_vers -productName 2>/dev/null | one_line)"',
        '  say "version = $(sw_vers -productVersion 2>/dev/null | one_line)"',
        '  say "build = $(sw_vers -buildVersion 2>/dev/null | one_line)"',
        "  extra=$(sw_vers -productVersionExtra 2>/dev/null | one_line)",
        '  if [ -n "$extra" ]; then say "version_extra = $extra"; fi',
        '  say "console_user = $user"',
        '  say "console_uid = $uid"',
    ]
    lines += [f"  say {shlex.quote(f'filter = {s}')}" for s in services]
    lines += [
        "  list_section system launchctl list",
        '  if [ -n "$uid" ]; then',
        '    list_section "gui/$uid" launchctl asuser "$uid" launchctl list',
        "  fi",
    ]
    for label, service_type in exact:
        for domain in _print_domains(service_type, 0):
            quoted = shlex.quote(label)
            if domain == "system":
                lines.append(f"  print_section system/{quoted}")
            else:
                lines.append(f'  if [ -n "$uid" ]; then print_section "gui/$uid/"{quoted}; fi')
    lines += [
        '  echo "@@ plists"',
        '  home=""',
        '  if [ -n "$user" ]; then',
        '    home=$(dscl . -read "/Users/$user" NFSHomeDirectory 2>/dev/null '
        '| sed "s/^[^:]*: *//" | one_line)',
        "  fi",
        '  for d in ${home:+"$home/Library/LaunchAgents"} /Library/LaunchAgents '
        "/Library/LaunchDaemons \\",
        "    /System/Library/LaunchAgents /System/Library/LaunchDaemons; do",
        '    if [ -d "$d" ]; then',
        '      find "$d" -maxdepth 1 -name "*.plist" 2>/dev/null | while IFS= read -r path; do',
        "        name=${path##*/}",
        '        if wanted "${name%.plist}"; then printf \'%s\\n\' "$path"; fi',
        "      done",
        "    fi",
        "  done",
        '  echo "@@ end"',
        '} > "$work/bundle"',
        'cat "$work/bundle"',
    ]
    if output_dir is not None:
        target = shlex.quote(output_dir)
        lines += [
            f'mkdir -p -- {target} && cp -- "$work/bundle" {target}/.posture-bundle.tmp && '
            f"mv -f -- {target}/.posture-bundle.tmp {target}/posture-bundle.txt",
        ]
    return "\n".join(lines) + "\n"
