"""Run the bundle collect script as an MDM would, on a stand-in Mac.

Stand-ins on PATH replace the macOS tools the script calls; they answer with the captures in
tests/data/posture/ (launchctl list / print written by us in the shapes macOS prints) and with
``sw_vers`` / ``ioreg`` / ``stat`` lines in those tools' shapes (``ioreg`` properties behind
spaces or, as ``ioreg -l`` prints them, ``| |`` tree lines), or, where a ``Mac`` names them,
with real output from tests/data/posture/real/.
"""

from __future__ import annotations

import os
import stat
import subprocess
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from feedmgr.posture.collect import bundle_script
from feedmgr.posture.files import load_spec
from feedmgr.posture.model import PostureSpec

DATA = Path(__file__).resolve().parent.parent / "data" / "posture"


@dataclass(frozen=True)
class Mac:
    """What the stand-in tools report."""

    host: str = "mac01.corp.example"
    serial: str = "C02XL0GKJGH5"
    uuid: str = "5B6C2D8A-37F1-5E2B-9C1D-2F3A4B5C6D7E"
    product: str = "macOS"
    version: str = "14.3.1"
    build: str = "23D60"
    kernel: str = "Darwin"
    console_user: str = "tester"
    uid: int = 501
    system_list: Path = DATA / "list-system.txt"
    gui_list: Path = DATA / "list-gui.txt"
    blocks: Path = DATA / "dumpstate.txt"
    when: str = "2026-12-01T09:30:00Z"
    ioreg_indent: str = "    "
    # Real captures (tests/data/posture/real/) the stand-ins answer with instead: the full
    # `sw_vers` text (its -productName... flags print one value of it), the `ioreg` text,
    # and (target, file) pairs for `launchctl print`.
    sw_vers: Path | None = None
    ioreg: Path | None = None
    printed: tuple[tuple[str, Path], ...] = ()


def _tool(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def install(bin_dir: Path, mac: Mac, home: Path) -> None:
    """Write the stand-in tools for ``mac`` into ``bin_dir``."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    # launchctl print answers with the DOMAIN/LABEL block of a capture, exit 113 and
    # "Could not find service" when there is none, as launchctl does.
    _tool(
        bin_dir,
        "launchctl",
        'case "$1" in\n'
        f"  list) cat '{mac.system_list}' ;;\n"
        f"  asuser) if [ \"$2\" = {mac.uid} ]; then cat '{mac.gui_list}'; else exit 1; fi ;;\n"
        "  print)\n"
        + "".join(
            f"    if [ \"$2\" = '{target}' ]; then cat '{path}'; exit 0; fi\n"
            for target, path in mac.printed
        )
        + "    awk"
        f' -v t="$2 = {{" \'$0 == t {{ p = 1 }} p {{ print }} p && $0 == "}}" {{ exit }}\' '
        f"'{mac.blocks}' > \"$0.out.$$\"\n"
        '    if [ -s "$0.out.$$" ]; then cat "$0.out.$$"; rm -f "$0.out.$$"\n'
        '    else rm -f "$0.out.$$"; echo "Could not find service \\"$2\\" in domain" >&2;'
        " exit 113; fi ;;\n"
        "  *) exit 64 ;;\n"
        "esac",
    )
    _tool(
        bin_dir,
        "id",
        f'if [ "$1" = -u ] && [ -z "${{2-}}" ]; then echo 0; '
        f'elif [ "$2" = {mac.console_user} ]; then echo {mac.uid}; else exit 1; fi',
    )
    _tool(bin_dir, "stat", f"echo {mac.console_user}")
    _tool(bin_dir, "hostname", f"echo {mac.host}")
    _tool(bin_dir, "uname", f"echo {mac.kernel}")
    _tool(bin_dir, "date", f"echo {mac.when}")
    if mac.sw_vers is not None:
        _tool(
            bin_dir,
            "sw_vers",
            'case "$1" in\n'
            "  -productName) key=ProductName ;;\n"
            "  -productVersion) key=ProductVersion ;;\n"
            "  -buildVersion) key=BuildVersion ;;\n"
            "  -productVersionExtra) key=ProductVersionExtra ;;\n"
            "  *) exit 1 ;;\n"
            "esac\n"
            f"sed -n \"s/^$key:[[:space:]]*//p\" '{mac.sw_vers}'",
        )
    else:
        _tool(
            bin_dir,
            "sw_vers",
            'case "$1" in\n'
            f"  -productName) echo {mac.product} ;;\n"
            f"  -productVersion) echo {mac.version} ;;\n"
            f"  -buildVersion) echo {mac.build} ;;\n"
            "esac",
        )
    # ioreg -rd1 -c IOPlatformExpertDevice: one "+-o" line, then the device's properties.
    _tool(
        bin_dir,
        "ioreg",
        f"cat '{mac.ioreg}'"
        if mac.ioreg is not None
        else "cat <<'EOF'\n"
        "+-o J316sAP  <class IOPlatformExpertDevice, id 0x100000210, registered, matched, "
        "active, busy 0 (42 ms), retain 37>\n"
        "  {\n"
        f'{mac.ioreg_indent}"IOPlatformSerialNumber" = "{mac.serial}"\n'
        f'{mac.ioreg_indent}"model" = <"MacBookPro18,1">\n'
        f'{mac.ioreg_indent}"IOPlatformUUID" = "{mac.uuid}"\n'
        "  }\n"
        "EOF",
    )
    _tool(bin_dir, "dscl", f"echo 'NFSHomeDirectory: {home}'")


def run_script(
    script: str, tmp_path: Path, mac: Mac | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``script`` with ``sh`` on the stand-in ``mac``; the bundle is its stdout."""
    machine = mac or Mac()
    home = tmp_path / "home"
    agents = home / "Library" / "LaunchAgents"
    agents.mkdir(parents=True, exist_ok=True)
    (agents / "com.cisco.secureclient.iseposture.plist").write_text("<plist/>")
    bin_dir = tmp_path / "bin"
    install(bin_dir, machine, home)
    path = tmp_path / "collect.sh"
    path.write_text(script)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "TMPDIR": str(tmp_path)}
    return subprocess.run(
        ["sh", str(path)], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
    )


CONDITIONS = """\
format: feedmgr-posture/1
conditions:
  - {name: sysmond, service: com.apple.sysmond, operator: running}
  - {name: ise, service: com.cisco.secureclient.iseposture, operator: running,
     service_type: user-agent}
  - {name: mdm, service: com.apple.mdmclient.daemon, operator: exit-code, exit_code: 0,
     service_type: daemon}
  - {name: zoom, service: "us.zoom.*", operator: not-loaded}
requirements:
  - {name: sysmond-running, conditions: [sysmond], criteria: sysmond, message: start sysmond}
  - {name: ise-agent, conditions: [ise], criteria: ise, message: install Secure Client}
  - {name: ise-or-sysmond, conditions: [ise, sysmond], criteria: "ise | sysmond", message: m}
  - {name: mdm-ok, conditions: [mdm], criteria: mdm, message: re-enrol}
  - {name: no-zoom, conditions: [zoom], criteria: zoom, message: remove Zoom}
policies:
  - {name: p-sysmond, requirement: sysmond-running, enforcement: mandatory}
  - {name: p-ise, requirement: ise-agent, enforcement: mandatory}
  - {name: p-either, requirement: ise-or-sysmond, enforcement: mandatory}
  - {name: p-mdm, requirement: mdm-ok, enforcement: optional, os: [Mac OSX 15]}
  - {name: p-zoom, requirement: no-zoom, enforcement: audit}
"""


@dataclass(frozen=True)
class Fleet:
    """Bundles of five Macs (one twice) and four unreadable files, in one folder."""

    spec: PostureSpec
    conditions: Path
    folder: Path


def _without(text: str, label: str) -> str:
    """A capture with one job removed: list rows and dumpstate blocks alike."""
    out, skipping = [], False
    for line in text.splitlines(keepends=True):
        if line.endswith(f"/{label} = {{\n"):
            skipping = True
        if not skipping and not line.rstrip("\n").endswith(f"\t{label}"):
            out.append(line)
        if skipping and line == "}\n":
            skipping = False
    return "".join(out)


def make_fleet(root: Path, now: datetime) -> Fleet:
    """Run the collect script on each stand-in Mac and gather the bundles in ``root/bundles``:
    mac-a (twice: a newer and an older bundle), mac-b (macOS 15.2, no sysmond), mac-c (macOS
    15.2, at the login window), mac-d (collected 91 days before ``now``), and four
    unreadable files. mac-a's bundles are 1 and 11 days old, the others 2.5 hours."""

    def ago(delta: timedelta) -> str:
        return (now - delta).strftime("%Y-%m-%dT%H:%M:%SZ")

    conditions = root / "conditions.yaml"
    conditions.write_text(CONDITIONS)
    spec = load_spec(conditions)
    script = bundle_script(spec)
    no_sysmond = root / "no-sysmond"
    no_sysmond.mkdir()
    (no_sysmond / "list.txt").write_text(
        _without(DATA.joinpath("list-system.txt").read_text(), "com.apple.sysmond")
    )
    (no_sysmond / "dumpstate.txt").write_text(
        _without(DATA.joinpath("dumpstate.txt").read_text(), "com.apple.sysmond")
    )
    macs = {
        "mac-a-new.txt": Mac(host="mac-a", uuid="UUID-A", when=ago(timedelta(days=1))),
        "mac-a-old.txt": Mac(host="mac-a", uuid="UUID-A", when=ago(timedelta(days=11))),
        "mac-b.txt": Mac(
            host="mac-b",
            uuid="UUID-B",
            version="15.2",
            build="24C101",
            when=ago(timedelta(hours=2.5)),
            system_list=no_sysmond / "list.txt",
            blocks=no_sysmond / "dumpstate.txt",
        ),
        "mac-c.txt": Mac(
            host="mac-c",
            uuid="UUID-C",
            version="15.2",
            console_user="root",
            when=ago(timedelta(hours=2.5)),
        ),
        "mac-d.txt": Mac(host="mac-d", uuid="UUID-D", when=ago(timedelta(days=91))),
    }
    folder = root / "bundles"
    (folder / "sub").mkdir(parents=True)
    for index, (name, mac) in enumerate(macs.items()):
        run = run_script(script, root / f"run{index}", mac)
        assert run.returncode == 0, run.stderr
        target = folder / ("sub" if name == "mac-c.txt" else "") / name
        target.write_text(run.stdout)
    good = (folder / "mac-b.txt").read_bytes()
    (folder / "cut.txt").write_bytes(good[: good.index(b"@@ print")])
    (folder / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0\0\x10JFIF\0" + bytes(range(256)))
    (folder / "v2.txt").write_bytes(good.replace(b"bundle/1", b"bundle/2", 1))
    (folder / "linux.txt").write_bytes(good.replace(b"kernel = Darwin", b"kernel = Linux"))
    return Fleet(spec, conditions, folder)


EXAMPLE_CONDITIONS = DATA.parent.parent.parent / "docs" / "examples" / "fleet-conditions.yaml"


def example_fleet(root: Path) -> dict[str, str]:
    """The sample bundles of docs/examples/fleet-bundles/, made by running the collect script
    for docs/examples/fleet-conditions.yaml on stand-in Macs: name -> bundle text. The
    stand-in user's home folder (a temporary folder here) is shown as /Users/tester."""
    script = bundle_script(load_spec(EXAMPLE_CONDITIONS))
    no_agent = root / "list-gui-no-agent.txt"
    no_agent.write_text(
        _without(DATA.joinpath("list-gui.txt").read_text(), "com.cisco.secureclient.iseposture")
    )
    no_agent_blocks = root / "dumpstate-no-agent.txt"
    no_agent_blocks.write_text(
        _without(DATA.joinpath("dumpstate.txt").read_text(), "com.cisco.secureclient.iseposture")
    )
    macs = {
        "mac-0142.txt": Mac(host="mac-0142", serial="C02XL0GKJGH5", when="2026-11-30T08:12:40Z"),
        "mac-0142-old.txt": Mac(
            host="mac-0142", serial="C02XL0GKJGH5", when="2026-11-23T08:10:02Z"
        ),
        "mac-0177.txt": Mac(
            host="mac-0177",
            serial="FVFG3J2KQ6L4",
            uuid="0D4C1E7B-9A2F-5C3D-8E4F-1A2B3C4D5E6F",
            version="15.2",
            build="24C101",
            gui_list=no_agent,
            blocks=no_agent_blocks,
            when="2026-11-30T07:55:18Z",
        ),
        "mac-0203.txt": Mac(
            host="mac-0203",
            serial="H4TF92LMQ1",
            uuid="7E1A3C5D-2B4F-5A6C-9D8E-0F1A2B3C4D5E",
            version="15.2",
            build="24C101",
            console_user="root",
            when="2026-11-29T22:03:51Z",
        ),
        "mac-0019.txt": Mac(
            host="mac-0019",
            serial="C02ZW1ABMD6M",
            uuid="3F2E1D0C-BA98-5765-4321-0FEDCBA98765",
            version="14.0",
            build="23A344",
            when="2023-10-02T09:00:00Z",
        ),
    }
    bundles = {}
    for index, (name, mac) in enumerate(macs.items()):
        run = run_script(script, root / f"example{index}", mac)
        assert run.returncode == 0, run.stderr
        bundles[name] = run.stdout.replace(str(root / f"example{index}" / "home"), "/Users/tester")
    good = bundles["mac-0177.txt"]
    bundles["mac-0311.txt"] = good[: good.index("@@ print")].replace("mac-0177", "mac-0311")
    return bundles
