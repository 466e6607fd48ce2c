"""Per-member verification as the ingesting process and its workers run it."""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import pytest

from feedmgr.errors import ArchiveError
from feedmgr.feed.archive import ArchiveLimits, FileIdentity, SafeZip
from feedmgr.feed.members import (
    ArchiveWorker,
    MemberTask,
    MemberVerifier,
    verify_in_worker_process,
)
from tests.feed.factory import RawMember, write_zip

CHECKS = json.dumps(
    {
        "format": "feedmgr-checks/1",
        "conditions": [{"name": "pc_x", "kind": "file", "platforms": ["macos"]}],
    }
).encode()


# Over 1 MiB: hashed and staged on a thread beside the schema check.
LARGE_CHECKS = json.dumps(
    {
        "format": "feedmgr-checks/1",
        "conditions": [
            {"name": f"pc_{i}", "kind": "file", "platforms": ["macos"], "description": "d" * 200}
            for i in range(6000)
        ],
    }
).encode()
LARGE_WRONG_FORMAT = LARGE_CHECKS.replace(b"feedmgr-checks/1", b"feedmgr-checks/9")


def _task(name: str, data: bytes) -> MemberTask:
    return MemberTask(name, hashlib.sha256(data).hexdigest(), len(data))


def _archive(path: Path, data: bytes = CHECKS) -> Path:
    return write_zip(path, [RawMember("checks/a.json", data)])


def _identity_of(package: Path) -> FileIdentity:
    with SafeZip(package) as archive:
        return archive.identity


def _problems_found_by_worker(identity: FileIdentity) -> list[object]:
    worker = ArchiveWorker(identity, ArchiveLimits(), None)
    try:
        return [v.problem for v in worker([_task("checks/a.json", CHECKS)])]
    finally:
        worker.close()


@pytest.mark.parametrize("data", [CHECKS, LARGE_CHECKS], ids=["small", "large"])
def test_good_member_is_staged_byte_for_byte(tmp_path: Path, data: bytes) -> None:
    """A member that matches its digest and schema is written whole into the staging folder."""
    assert len(LARGE_CHECKS) > 1024 * 1024
    staging = tmp_path / "staging"
    staging.mkdir()
    with SafeZip(_archive(tmp_path / "feed.zip", data)) as archive:
        verdict = MemberVerifier(archive, staging).verify(_task("checks/a.json", data))

    assert verdict.problem is None
    assert verdict.staged is not None
    assert (staging / verdict.staged).read_bytes() == data


WRONG_FORMAT = CHECKS.replace(b"feedmgr-checks/1", b"feedmgr-checks/9")


@pytest.mark.parametrize(
    ("data", "listed", "kind", "text"),
    [
        (CHECKS, MemberTask("checks/a.json", "0" * 64, len(CHECKS)), "integrity", "do not match"),
        (WRONG_FORMAT, _task("checks/a.json", WRONG_FORMAT), "schema", "checks/a.json: format"),
        (
            LARGE_CHECKS,
            MemberTask("checks/a.json", "0" * 64, len(LARGE_CHECKS)),
            "integrity",
            "do not match",
        ),
        (
            LARGE_WRONG_FORMAT,
            _task("checks/a.json", LARGE_WRONG_FORMAT),
            "schema",
            "checks/a.json: format",
        ),
    ],
    ids=["digest", "schema", "large digest", "large schema"],
)
def test_bad_member_leaves_nothing_staged(
    tmp_path: Path, data: bytes, listed: MemberTask, kind: str, text: str
) -> None:
    """A member failing its digest or schema is reported and its staged copy removed."""
    staging = tmp_path / "staging"
    staging.mkdir()
    with SafeZip(_archive(tmp_path / "feed.zip", data)) as archive:
        verdict = MemberVerifier(archive, staging).verify(listed)

    assert verdict.problem is not None
    assert verdict.problem[0] == kind
    assert text in verdict.problem[1]
    assert verdict.staged is None
    assert list(staging.iterdir()) == []


@pytest.mark.parametrize("data", [CHECKS, LARGE_CHECKS], ids=["small", "large"])
def test_failed_staging_write_is_raised_as_a_store_problem(tmp_path: Path, data: bytes) -> None:
    """A staged copy that cannot be written (here: the staging folder is gone) raises
    OSError to the caller, also when it was written on the thread beside the check."""
    with SafeZip(_archive(tmp_path / "feed.zip", data)) as archive:
        verifier = MemberVerifier(archive, tmp_path / "missing")
        with pytest.raises(FileNotFoundError):
            verifier.verify(_task("checks/a.json", data))


def test_worker_refuses_a_package_replaced_after_it_was_checked(tmp_path: Path) -> None:
    """A worker reopens the package by name; if another file now sits there, it stops."""
    package = _archive(tmp_path / "feed.zip")
    identity = _identity_of(package)
    replacement = _archive(tmp_path / "other.zip")
    replacement.replace(package)
    with pytest.raises(ArchiveError, match="changed while it was being verified"):
        _problems_found_by_worker(identity)


def test_worker_verifies_the_same_package(tmp_path: Path) -> None:
    """The unchanged package passes the identity check and its members verify."""
    package = _archive(tmp_path / "feed.zip")
    identity = _identity_of(package)
    assert _problems_found_by_worker(identity) == [None]


def test_worker_process_reports_a_replaced_package_as_an_archive_error(tmp_path: Path) -> None:
    """The refusal raised in a real worker process reaches this process as the same error."""
    package = _archive(tmp_path / "feed.zip")
    identity = _identity_of(package)
    _archive(tmp_path / "other.zip").replace(package)

    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        future = pool.submit(
            verify_in_worker_process,
            identity,
            ArchiveLimits(),
            None,
            [_task("checks/a.json", CHECKS)],
        )
        with pytest.raises(ArchiveError) as raised:
            future.result(timeout=60)

    assert raised.value.subject == str(package)
    assert raised.value.problem == "the file changed while it was being verified"


def test_worker_finds_a_package_given_by_relative_path_from_anywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A package named relative to where feedmgr started is found by a worker elsewhere."""
    _archive(tmp_path / "feed.zip")
    monkeypatch.chdir(tmp_path)
    identity = _identity_of(Path("feed.zip"))
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert _problems_found_by_worker(identity) == [None]
