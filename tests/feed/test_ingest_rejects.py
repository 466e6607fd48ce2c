"""Every rule of ``update --offline``: a bad package exits 3 with one line and changes nothing."""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import RunCli
from tests.feed.factory import (
    HandMadeFeed,
    Publisher,
    RawMember,
    build_feed,
    snapshot,
    write_zip,
)
from tests.feed.spies import spy_process_pools, spy_worker_threads

# These tests fork on purpose (the production code forks only when fork_is_safe()); pytest's
# own threads must not turn Python 3.12's warning about forking a threaded process into a
# failure here.
pytestmark = pytest.mark.filterwarnings(
    r"ignore:This process \(pid=\d+\) is multi-threaded:DeprecationWarning"
)


Recipe = Callable[[Path, Publisher], Path]


def _members(out: Path, pub: Publisher, change: Callable[[list[RawMember]], None]) -> Path:
    members = HandMadeFeed.sample().members(pub)
    change(members)
    return write_zip(out / "bad.zip", members)


def _with_member(member: RawMember) -> Recipe:
    return lambda out, pub: _members(out, pub, lambda ms: ms.append(member))


def _duplicate(out: Path, pub: Publisher) -> Path:
    return _members(out, pub, lambda ms: ms.append(RawMember("os/catalog.json", ms[2].data)))


def _case_twin(out: Path, pub: Publisher) -> Path:
    return _with_member(RawMember("OS/Catalog.json", b"{}"))(out, pub)


def _overlapping(out: Path, pub: Publisher) -> Path:
    path = _members(out, pub, lambda ms: None)
    data = bytearray(path.read_bytes())
    # Point the second central-directory entry at the first local header: two names, one body.
    second = data.find(b"PK\x01\x02", data.find(b"PK\x01\x02") + 4)
    data[second + 42 : second + 46] = (0).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    return path


def _bomb(out: Path, pub: Publisher) -> Path:
    return _with_member(RawMember("checks/bomb.json", b" " * (20 * 1024 * 1024)))(out, pub)


def _signed(feed: HandMadeFeed, manifest: bytes | None = None) -> Recipe:
    return lambda out, pub: write_zip(out / "bad.zip", feed.members(pub, manifest))


def _unsigned(out: Path, pub: Publisher) -> Path:
    return _members(out, pub, lambda ms: ms.pop(1))


def _foreign_key(out: Path, pub: Publisher) -> Path:
    stranger = Publisher.create(out / "stranger")
    return write_zip(out / "bad.zip", HandMadeFeed.sample().members(stranger))


def _tampered_manifest(out: Path, pub: Publisher) -> Path:
    def change(ms: list[RawMember]) -> None:
        ms[0] = RawMember("manifest.json", ms[0].data.replace(b"Hand Made", b"Hand Mad3"))

    return _members(out, pub, change)


def _bad_signature_text(out: Path, pub: Publisher) -> Path:
    def change(ms: list[RawMember]) -> None:
        ms[1] = RawMember("manifest.sig", b"%%% not base64 %%%")

    return _members(out, pub, change)


def _unlisted(out: Path, pub: Publisher) -> Path:
    return _with_member(RawMember("checks/extra.json", b'{"format":"feedmgr-checks/1"}'))(out, pub)


def _missing(out: Path, pub: Publisher) -> Path:
    feed = HandMadeFeed.sample()
    manifest = feed.manifest([*feed.payload, "checks/ghost.json"])
    return _signed(feed, manifest)(out, pub)


def _wrong_digest(out: Path, pub: Publisher) -> Path:
    feed = HandMadeFeed.sample()
    manifest = feed.manifest()
    good = hashlib.sha256(feed.payload["charts/av.json"]).hexdigest()
    return _signed(feed, manifest.replace(good.encode(), b"0" * 64))(out, pub)


def _wrong_size(out: Path, pub: Publisher) -> Path:
    feed = HandMadeFeed.sample()
    document = json.loads(feed.manifest())
    document["files"]["charts/av.json"]["size"] += 1
    return _signed(feed, json.dumps(document).encode())(out, pub)


def _payload_schema(out: Path, pub: Publisher) -> Path:
    feed = HandMadeFeed.sample()
    catalog = json.loads(feed.payload["os/catalog.json"])
    catalog["nodes"][1]["max_version"] = "not a version"
    feed.payload["os/catalog.json"] = json.dumps(catalog).encode()
    return _signed(feed)(out, pub)


def _manifest_schema(out: Path, pub: Publisher) -> Path:
    feed = HandMadeFeed.sample()
    document = json.loads(feed.manifest())
    del document["expires"]
    return _signed(feed, json.dumps(document).encode())(out, pub)


# A release number past CPython's int conversion limit (4,300 digits): packaging raises a plain
# ValueError for it, which once escaped as an internal error.
_HUGE_VERSION = "4.3." + "1" * 5000


def _huge_manifest_version(out: Path, pub: Publisher) -> Path:
    feed = HandMadeFeed.sample()
    document = json.loads(feed.manifest())
    document["version"] = _HUGE_VERSION
    return _signed(feed, json.dumps(document).encode())(out, pub)


def _huge_payload_version(out: Path, pub: Publisher) -> Path:
    feed = HandMadeFeed.sample()
    chart = json.loads(feed.payload["charts/av.json"])
    chart["vendors"][0]["products"][0]["min_compliance_module_version"] = _HUGE_VERSION
    feed.payload["charts/av.json"] = json.dumps(chart).encode()
    return _signed(feed)(out, pub)


def _unknown_payload(out: Path, pub: Publisher) -> Path:
    feed = HandMadeFeed.sample()
    feed.payload["notes/readme.txt"] = b"hello"
    return _signed(feed)(out, pub)


def _no_catalog(out: Path, pub: Publisher) -> Path:
    feed = HandMadeFeed.sample()
    del feed.payload["os/catalog.json"]
    return _signed(feed)(out, pub)


def _expired(out: Path, pub: Publisher) -> Path:
    past = datetime.now(UTC) - timedelta(days=1)
    return _signed(HandMadeFeed.sample(expires=past, published=past - timedelta(days=30)))(out, pub)


def _future(out: Path, pub: Publisher) -> Path:
    later = datetime.now(UTC) + timedelta(days=10)
    return _signed(HandMadeFeed.sample(published=later, expires=later + timedelta(days=30)))(
        out, pub
    )


def _corrupt_data(out: Path, pub: Publisher) -> Path:
    path = _members(out, pub, lambda ms: None)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("os/catalog.json")
    start = info.header_offset + 30 + len(info.filename) + 40
    for i in range(start, start + 16):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))
    return path


def _truncated(out: Path, pub: Publisher) -> Path:
    path = _members(out, pub, lambda ms: None)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _not_a_zip(out: Path, pub: Publisher) -> Path:
    path = out / "bad.zip"
    path.write_bytes(b"this is not a zip file at all\n" * 10)
    return path


def _empty_file(out: Path, pub: Publisher) -> Path:
    path = out / "bad.zip"
    path.write_bytes(b"")
    return path


CASES: dict[str, tuple[Recipe, str]] = {
    "absolute path": (_with_member(RawMember("/etc/passwd", b"x")), "absolute member path"),
    "dot-dot path": (_with_member(RawMember("../evil.json", b"x")), "'..' component"),
    "nested dot-dot": (_with_member(RawMember("checks/../../evil", b"x")), "'..' component"),
    "drive letter": (_with_member(RawMember("C:/evil.json", b"x")), "drive letter"),
    "backslash": (_with_member(RawMember("checks\\evil.json", b"x")), "backslash"),
    "symlink": (
        _with_member(RawMember("checks/link.json", b"/etc/passwd", mode=0o120777)),
        "symbolic link",
    ),
    "fifo": (_with_member(RawMember("checks/pipe.json", b"", mode=0o010644)), "FIFO"),
    "duplicate name": (_duplicate, "duplicate member name"),
    "case twin": (_case_twin, "only by case"),
    "encrypted": (_with_member(RawMember("checks/x.json", b"x", flag_bits=0x1)), "encrypted"),
    "bzip2": (
        _with_member(RawMember("checks/x.json", b"x", compress=zipfile.ZIP_BZIP2)),
        "compression method",
    ),
    "zip bomb ratio": (_bomb, "compression ratio"),
    "overlapping members": (_overlapping, "overlaps"),
    "not a zip": (_not_a_zip, "not a readable zip"),
    "empty file": (_empty_file, "not a readable zip"),
    "truncated": (_truncated, "not a readable zip"),
    "corrupt member data": (_corrupt_data, "damaged data"),
    "unsigned": (_unsigned, "not signed"),
    "foreign key": (_foreign_key, "does not verify"),
    "tampered manifest": (_tampered_manifest, "does not verify"),
    "signature not base64": (_bad_signature_text, "not base64"),
    "unlisted member": (_unlisted, "not listed in the manifest"),
    "listed but missing": (_missing, "archive lacks it"),
    "wrong sha256": (_wrong_digest, "do not match the manifest"),
    "wrong size": (_wrong_size, "manifest says"),
    "payload schema": (_payload_schema, "os/catalog.json: nodes.1.max_version"),
    "manifest schema": (_manifest_schema, "manifest.json: expires"),
    "version past the int limit in the manifest": (
        _huge_manifest_version,
        "version: '4.3.111",
    ),
    "version past the int limit in a payload": (
        _huge_payload_version,
        "... (5004 characters) is not a PEP 440 version",
    ),
    "unknown payload path": (_unknown_payload, "not a payload file"),
    "no catalog": (_no_catalog, "does not list os/catalog.json"),
    "expired": (_expired, "expired on"),
    "published in the future": (_future, "published in the future"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_package_is_rejected_and_store_untouched(
    case: str, tmp_path: Path, run_cli: RunCli, trusted_home: Path, publisher: Publisher
) -> None:
    """A package breaking one rule exits 3, says why in one line, and changes nothing."""
    good = build_feed(tmp_path, publisher, "1.0")
    assert run_cli("update", "--offline", good).code == 0
    before = snapshot(trusted_home)
    recipe, expected = CASES[case]
    (tmp_path / case).mkdir()
    bad = recipe(tmp_path / case, publisher)

    result = run_cli("update", "--offline", bad)

    assert result.code == 3, result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith(f"feedmgr: error: {bad}: ")
    assert expected in lines[0]
    assert snapshot(trusted_home) == before
    assert not any((trusted_home / "staging").iterdir())


def test_older_version_needs_allow_downgrade(
    tmp_path: Path, run_cli: RunCli, trusted_home: Path, publisher: Publisher
) -> None:
    """An older feed is refused (exit 3) unless --allow-downgrade is given."""
    assert run_cli("update", "--offline", build_feed(tmp_path, publisher, "2.0")).code == 0
    older = build_feed(tmp_path, publisher, "1.10")
    before = snapshot(trusted_home)
    refused = run_cli("update", "--offline", older)
    assert refused.code == 3
    assert "older than the active feed 2.0" in refused.err
    assert snapshot(trusted_home) == before
    accepted = run_cli("update", "--offline", older, "--allow-downgrade", "--format", "json")
    assert accepted.code == 0
    assert accepted.json()["version"] == "1.10"


def test_versions_order_numerically_not_as_text(
    tmp_path: Path, run_cli: RunCli, trusted_home: Path, publisher: Publisher
) -> None:
    """1.10 is newer than 1.9 (text comparison would say otherwise)."""
    assert run_cli("update", "--offline", build_feed(tmp_path, publisher, "1.9")).code == 0
    result = run_cli("update", "--offline", build_feed(tmp_path, publisher, "1.10"))
    assert result.code == 0, result.err
    assert "activated: feed 1.10" in result.out


def test_same_version_is_unchanged(
    tmp_path: Path, run_cli: RunCli, trusted_home: Path, publisher: Publisher
) -> None:
    """Ingesting the active feed again is a no-op that says 'unchanged' and exits 0."""
    feed = build_feed(tmp_path, publisher, "1.0")
    assert run_cli("update", "--offline", feed).code == 0
    before = snapshot(trusted_home)
    again = run_cli("update", "--offline", feed, "--format", "json")
    assert again.code == 0
    assert again.json()["status"] == "unchanged"
    assert snapshot(trusted_home) == before


def test_same_version_with_other_content_is_rejected(
    tmp_path: Path, run_cli: RunCli, trusted_home: Path, publisher: Publisher
) -> None:
    """A second, different package claiming the active version is refused."""
    assert run_cli("update", "--offline", build_feed(tmp_path, publisher, "1.0")).code == 0
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    later = datetime.now(UTC) + timedelta(days=200)
    other = build_feed(other_dir, publisher, "1.0", expires=later)
    result = run_cli("update", "--offline", other)
    assert result.code == 3
    assert "different content" in result.err


def test_allow_unsigned_accepts_with_a_loud_warning(
    tmp_path: Path, run_cli: RunCli, home: Path, publisher: Publisher
) -> None:
    """--allow-unsigned ingests an unsigned feed and warns on stderr; status says UNSIGNED."""
    bad = _unsigned(tmp_path, publisher)
    assert run_cli("update", "--offline", bad).code == 3
    result = run_cli("update", "--offline", bad, "--allow-unsigned")
    assert result.code == 0, result.err
    assert "warning: --allow-unsigned" in result.err
    assert "UNSIGNED" in run_cli("status").out


def test_per_call_trust_key_is_not_remembered(
    tmp_path: Path, run_cli: RunCli, home: Path, publisher: Publisher
) -> None:
    """--trust KEY verifies this run only; the store's trusted keys stay as they were."""
    feed = build_feed(tmp_path, publisher, "1.0")
    assert run_cli("update", "--offline", feed).code == 3
    assert run_cli("update", "--offline", feed, "--trust", publisher.public_pem).code == 0
    assert run_cli("trust", "list", "--format", "json").json() == []


MEMBER_CASES = ["corrupt member data", "wrong sha256", "payload schema"]


@dataclass
class SharedVerification:
    """How members were shared out during a test (see the ``shared_verification`` fixture)."""

    mode: str
    # The start method of each process pool started, or a thread's name per batch it took.
    helpers: list[str] = field(default_factory=list)

    def check(self) -> None:
        """The helpers the mode asks for did verify members, and no others were started."""
        assert self.helpers
        if self.mode == "thread":
            assert all(name.startswith("feed-worker") for name in self.helpers)
        else:
            assert set(self.helpers) == {self.mode}


@pytest.fixture(params=["fork", "spawn", "thread"])
def shared_verification(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> SharedVerification:
    """Verify even small feeds the way large ones are: members shared out in one-member
    batches between this process and worker processes (forked or spawned; the CLI allows
    them) or, as for a library caller that did not allow processes, a worker thread."""
    import feedmgr.feed.package

    mode = str(request.param)
    method = "fork" if mode == "thread" else mode
    monkeypatch.setattr(feedmgr.feed.package, "worker_start", lambda: (method, 0))
    monkeypatch.setattr(feedmgr.feed.package, "_BATCH_BYTES", 1)
    if mode == "thread":
        monkeypatch.setattr(feedmgr.feed.package, "worker_processes_allowed", lambda: False)
        monkeypatch.setattr(feedmgr.feed.package, "PARALLEL_MIN_BYTES", 0)
        return SharedVerification(mode, spy_worker_threads(monkeypatch))
    # As on a machine with a spare core, whatever this one has.
    monkeypatch.setattr(feedmgr.feed.package, "available_cores", lambda: 2)
    return SharedVerification(mode, spy_process_pools(monkeypatch))


@pytest.mark.parametrize("case", MEMBER_CASES)
def test_shared_verification_rejects_bad_members(  # noqa: PLR0917 - pytest fixtures
    case: str,
    shared_verification: SharedVerification,
    tmp_path: Path,
    run_cli: RunCli,
    trusted_home: Path,
    publisher: Publisher,
) -> None:
    """Workers give the same verdicts as in-process verification and leave nothing staged."""
    assert run_cli("update", "--offline", build_feed(tmp_path, publisher, "1.0")).code == 0
    before = snapshot(trusted_home)
    recipe, expected = CASES[case]
    (tmp_path / "bad").mkdir()
    bad = recipe(tmp_path / "bad", publisher)

    result = run_cli("update", "--offline", bad)

    assert result.code == 3, result.err
    assert result.err.strip().splitlines() == [result.err.strip()]
    assert expected in result.err
    assert snapshot(trusted_home) == before
    assert not any((trusted_home / "staging").iterdir())
    shared_verification.check()


def test_shared_verification_stores_every_member(
    shared_verification: SharedVerification,
    tmp_path: Path,
    run_cli: RunCli,
    trusted_home: Path,
    publisher: Publisher,
) -> None:
    """Every member verified by a worker or by this process ends up in the store, intact."""
    feed = build_feed(tmp_path, publisher, "1.0")
    with zipfile.ZipFile(feed) as archive:
        payload = len(archive.namelist()) - 2

    assert run_cli("update", "--offline", feed).code == 0
    status = run_cli("status", "--verify", "--format", "json")

    assert status.code == 0, status.err
    assert status.json()["active"]["files"] == payload
    assert status.json()["damaged_files"] == []
    shared_verification.check()
