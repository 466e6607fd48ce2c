"""Outside text with terminal controls reaches the user escaped, from every source, through
the CLI (issue #14: terminal injection)."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from feedmgr.escape import escape_controls
from tests.certs.factory import Leaf, pki, write_pem
from tests.conftest import REPO, RunCli
from tests.feed.netserver import ConnectProxy, ScriptedServer, atom_index

# A CR that forges a second error line, an OSC sequence that retitles the window, a C1 CSI
# that clears the screen, and a right-to-left override that reverses what follows.
HOSTILE = "\rfeedmgr: error: forged\x1b]0;pwned\x07\x9b2J\u202egpj.exe"
ESCAPED = escape_controls(HOSTILE)
# HTTP header fields are Latin-1 and end at CR or LF: the same attack without those.
HTTP_HOSTILE = "feedmgr: error: forged\x1b]0;pwned\x07\x9b2J"
assert ESCAPED == "\\rfeedmgr: error: forged\\u001b]0;pwned\\u0007\\u009b2J\\u202egpj.exe"


def _inert(text: str) -> None:
    """No control, bidi or line-breaking character other than line feeds is printed."""
    assert escape_controls(text, keep_newlines=True) == text


def _one_error_line(err: str) -> None:
    _inert(err)
    assert err.count("\n") == 1
    assert err.startswith("feedmgr: error: ")


def test_hostile_http_reason_phrase_is_escaped(
    run_cli: RunCli, scripted: ScriptedServer, ca_bundle: Path
) -> None:
    """An HTTP reason phrase with CR, OSC, CSI and RLO prints as one escaped error line."""

    def refuse(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(404, "Not Found\r" + HTTP_HOSTILE)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    scripted.routes["/index.xml"] = refuse
    url = scripted.url_for("/index.xml")
    result = run_cli("update", "--check", "--url", url, "--ca-bundle", ca_bundle)
    assert result.code == 4
    _one_error_line(result.err)
    assert f"HTTP 404 Not Found\\r{escape_controls(HTTP_HOSTILE)}" in result.err


def test_hostile_redirect_location_header_is_escaped(
    run_cli: RunCli, scripted: ScriptedServer, ca_bundle: Path
) -> None:
    """A Location header with control sequences is quoted escaped in the refusal."""

    def redirect(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(302)
        # requests reads a Location as UTF-8 bytes: the whole attack fits, but the CR.
        location = "http://x.example/" + HOSTILE.replace("\r", "")
        handler.send_header("Location", location.encode().decode("latin-1"))
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    scripted.routes["/index.xml"] = redirect
    url = scripted.url_for("/index.xml")
    result = run_cli("update", "--check", "--url", url, "--ca-bundle", ca_bundle)
    assert result.code == 4
    _one_error_line(result.err)
    assert "http://x.example/" + escape_controls(HOSTILE.replace("\r", "")) in result.err


def test_hostile_proxy_reason_phrase_is_escaped(
    run_cli: RunCli, https_server: HTTPServer, ca_bundle: Path, connect_proxy: ConnectProxy
) -> None:
    """A proxy's refusal text is outside text too."""
    connect_proxy.refusal = b"407 Denied\x1b]0;pwned\x07\x9b2J"
    url = https_server.url_for("/index.xml")
    args = ("update", "--check", "--url", url, "--ca-bundle", ca_bundle)
    result = run_cli(*args, "--proxy", connect_proxy.url)
    assert result.code == 4
    _one_error_line(result.err)
    assert "Denied\\u001b]0;pwned\\u0007\\u009b2J" in result.err


def test_hostile_package_url_from_the_index_is_escaped(
    run_cli: RunCli, https_server: HTTPServer, ca_bundle: Path
) -> None:
    """A package URL carrying a right-to-left override is shown escaped when it fails."""
    entry = atom_index([]).replace(b"</feed>", b"")
    body = (
        entry
        + (
            '<entry><link rel="enclosure" href="feeds/x\u202egpj.zip"/>'
            "<c:version>1.0</c:version><c:sha256>" + "ab" * 32 + "</c:sha256></entry></feed>"
        ).encode()
    )
    body = body.replace(b"<feed ", b'<feed xmlns:c="http://www.cisco.com/cpm/update/1.0" ', 1)
    https_server.expect_request("/index.xml").respond_with_data(body)
    url = https_server.url_for("/index.xml")
    result = run_cli("update", "--url", url, "--ca-bundle", ca_bundle)
    assert result.code == 4, result.err
    _one_error_line(result.err)
    assert "feeds/x\\u202egpj.zip" in result.err


def test_hostile_xml_text_in_the_index_is_escaped(
    run_cli: RunCli, https_server: HTTPServer, ca_bundle: Path
) -> None:
    """Character references in XML text (CR, C1 CSI) are escaped where the text is quoted."""
    body = (
        b'<feed xmlns="http://www.w3.org/2005/Atom" xmlns:c="http://www.cisco.com/cpm/update/1.0">'
        b'<entry><link rel="enclosure" href="f.zip"/>'
        b"<c:version>1.0&#13;feedmgr: error: forged&#x9b;2J</c:version>"
        b"<c:sha256>" + b"ab" * 32 + b"</c:sha256></entry></feed>"
    )
    https_server.expect_request("/index.xml").respond_with_data(body)
    url = https_server.url_for("/index.xml")
    result = run_cli("update", "--check", "--url", url, "--ca-bundle", ca_bundle)
    assert result.code == 3
    _one_error_line(result.err)
    assert "1.0\\rfeedmgr: error: forged\\x9b2J" in result.err


def test_hostile_zip_member_name_is_escaped(run_cli: RunCli, tmp_path: Path) -> None:
    """A member name with a C1 control and a bidi override is quoted escaped."""
    package = tmp_path / "feed.zip"
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("../\x9b2J\u202egpj.exe", b"x")
    result = run_cli("update", "--offline", package)
    assert result.code == 3
    _one_error_line(result.err)
    assert "\\u009b2J\\u202egpj.exe" in result.err


def test_backslash_in_a_member_name_is_shown_as_it_is(run_cli: RunCli, tmp_path: Path) -> None:
    """A backslash is printed once, as docs/online-updates.md ("Escaping") says, not doubled."""
    package = tmp_path / "feed.zip"
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("os\\catalog.json", b"{}")
    result = run_cli("update", "--offline", package)
    assert result.code == 3
    assert result.err == (
        f"feedmgr: error: {package}: member 'os\\catalog.json': member name contains a backslash\n"
    )


def test_hostile_certificate_name_is_escaped(run_cli: RunCli, tmp_path: Path) -> None:
    """A certificate subject CN with terminal controls is escaped in the text findings."""
    leaf = pki().leaf(Leaf(dns=("psn1.corp.example",), cn="psn1" + HOSTILE), slot=3)
    path = write_pem(tmp_path / "leaf.pem", leaf.cert)
    result = run_cli("cert", "check", path, "--host", "psn1.corp.example")
    _inert(result.out + result.err)
    assert ESCAPED in result.out


@pytest.mark.usefixtures("sample_feed")
def test_hostile_os_string_is_escaped(run_cli: RunCli) -> None:
    """An OS string with controls is refused with the string escaped."""
    result = run_cli("os", "resolve", "macOS 14" + HOSTILE)
    assert result.code != 0
    _one_error_line(result.err)


def test_hostile_launchd_label_is_escaped(
    run_cli: RunCli, asset: Callable[[str], Path], tmp_path: Path
) -> None:
    """A launchctl capture whose label carries controls shows it escaped as evidence."""
    capture = tmp_path / "list-system.txt"
    # A line-based capture cannot hold a CR inside a label; the rest can.
    label = "com.apple.sysmond" + HOSTILE.replace("\r", "")
    capture.write_text(f"PID\tStatus\tLabel\n412\t0\t{label}\n")
    conditions = tmp_path / "conditions.yaml"
    example = (REPO / "docs/examples/macos-service-condition.yaml").read_text()
    conditions.write_text(example.replace("service: com.apple.sysmond", "service: com.apple.s*"))
    result = run_cli("posture", "eval", conditions, "--list", capture)
    _inert(result.out + result.err)
    assert escape_controls(label) in result.out


@pytest.mark.usefixtures("sample_feed")
def test_hostile_csv_fields_are_escaped(run_cli: RunCli, tmp_path: Path) -> None:
    """Inventory CSV fields with controls, even a quoted line break, cannot forge lines."""
    inventory = tmp_path / "endpoints.csv"
    inventory.write_text(
        "MACAddress,IdentityGroup,PostureOS,host-name\n"
        f'AA:BB:CC:00:00:09,Employees,"Evil OS 1.0\n{HOSTILE}",host\n',
        encoding="utf-8",
    )
    policy = REPO / "docs" / "examples" / "cp-policy.yaml"
    result = run_cli("provisioning", "audit", policy, "--inventory", inventory, "--preset", "ise")
    _inert(result.out + result.err)
    assert "forged\\u001b]0;pwned\\u0007\\u009b2J\\u202egpj.exe" in result.out
    assert not any(line.startswith("feedmgr: error: forged") for line in result.out.splitlines())


def _source_with(tmp_path: Path, *, version: str, publisher: str) -> Path:
    import json
    import shutil

    src = tmp_path / "src"
    shutil.copytree(REPO / "feeds" / "sample" / "src", src)
    (src / "feed.toml").write_text(
        f"version = {json.dumps(version)}\npublisher = {json.dumps(publisher)}\n"
        'published = "2026-10-01T00:00:00Z"\nexpires = "2035-01-01T00:00:00Z"\n'
    )
    return src


def test_line_feed_in_a_signed_publisher_is_escaped(run_cli: RunCli, tmp_path: Path) -> None:
    """A publisher with a line feed cannot forge an error line in build, verify or update."""
    forged = "Example Publisher\nfeedmgr: error: feed.zip: signature does not verify"
    sample = REPO / "feeds" / "sample"
    src = _source_with(tmp_path, version="2026.12.1", publisher=forged)
    package = tmp_path / "feed.zip"
    key = sample / "demo-publisher.key.pem"
    trust = ("--trust", sample / "demo-publisher.pub.pem")
    runs = {
        "build": run_cli("feed", "build", src, "-o", package, "--key", key),
        "verify": run_cli("feed", "verify", package, *trust),
        "update": run_cli("update", "--offline", package, *trust),
    }
    for command, result in runs.items():
        assert result.code == 0, (command, result.err)
        assert result.out.count("\n") == 1, (command, result.out)
        assert "feedmgr: error:" not in result.out.splitlines()[0][:20], command
    for command in ("verify", "update"):
        assert "Example Publisher\\nfeedmgr: error:" in runs[command].out, command


@pytest.mark.parametrize("version", ["2026.12.1\n", " 2026.12.1", "2026.12.1\t"])
def test_version_with_surrounding_whitespace_is_refused(
    run_cli: RunCli, tmp_path: Path, version: str
) -> None:
    """feed.toml's version with a line feed or blanks around it is not a version: exit 3."""
    src = _source_with(tmp_path, version=version, publisher="Example Publisher")
    key = REPO / "feeds" / "sample" / "demo-publisher.key.pem"
    result = run_cli("feed", "build", src, "-o", tmp_path / "feed.zip", "--key", key)
    assert result.code == 3
    _one_error_line(result.err)
    assert "is not a PEP 440 version" in result.err
