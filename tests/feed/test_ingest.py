"""Ingesting a package never leaves the store holding other bytes than the ones it verified."""

from __future__ import annotations

import hashlib
from pathlib import Path

from tests.conftest import RunCli
from tests.feed.factory import SAMPLE_SRC, Publisher, build_feed

CATALOG = (SAMPLE_SRC / "os" / "catalog.json").read_bytes()


def catalog_blob(home: Path) -> Path:
    """Where the store keeps the sample catalog (blobs are named by their sha256)."""
    digest = hashlib.sha256(CATALOG).hexdigest()
    return home / "blobs" / digest[:2] / digest[2:]


def flip_one_byte(blob: Path) -> None:
    """Bit rot: one byte of a stored blob changes, its size does not."""
    data = bytearray(blob.read_bytes())
    data[100] ^= 0x01
    blob.write_bytes(bytes(data))


def test_reingesting_the_active_package_repairs_a_damaged_blob(
    tmp_path: Path, run_cli: RunCli, trusted_home: Path, publisher: Publisher
) -> None:
    """The same package again replaces a rotten blob of the active feed and says so."""
    package = build_feed(tmp_path, publisher, "1.0")
    assert run_cli("update", "--offline", package).code == 0
    blob = catalog_blob(trusted_home)
    flip_one_byte(blob)

    again = run_cli("update", "--offline", package)

    assert again.code == 0, again.err
    assert again.out.startswith("repaired: feed 1.0")
    assert f"repaired damaged blob {blob}" in again.err
    assert blob.read_bytes() == CATALOG
    assert run_cli("status", "--verify").code == 0


def test_reingesting_an_intact_active_feed_is_unchanged(
    tmp_path: Path, run_cli: RunCli, trusted_home: Path, publisher: Publisher
) -> None:
    """With every blob sound, the same package again is 'unchanged' and touches nothing."""
    package = build_feed(tmp_path, publisher, "1.0")
    assert run_cli("update", "--offline", package).code == 0
    blob = catalog_blob(trusted_home)
    before = blob.stat().st_mtime_ns

    again = run_cli("update", "--offline", package, "--format", "json")

    assert again.code == 0
    assert again.json()["status"] == "unchanged"
    assert again.err == ""
    assert blob.stat().st_mtime_ns == before


def test_newer_feed_sharing_a_damaged_blob_replaces_it(
    tmp_path: Path, run_cli: RunCli, trusted_home: Path, publisher: Publisher
) -> None:
    """A new version whose catalog is stored already, but rotten, stores the verified bytes."""
    assert run_cli("update", "--offline", build_feed(tmp_path, publisher, "1.0")).code == 0
    blob = catalog_blob(trusted_home)
    flip_one_byte(blob)

    newer = run_cli("update", "--offline", build_feed(tmp_path, publisher, "2.0"))

    assert newer.code == 0, newer.err
    assert newer.out.startswith("activated: feed 2.0")
    assert f"repaired damaged blob {blob}" in newer.err
    assert blob.read_bytes() == CATALOG
    assert run_cli("status", "--verify").code == 0


def test_newer_feed_sharing_a_truncated_blob_replaces_it(
    tmp_path: Path, run_cli: RunCli, trusted_home: Path, publisher: Publisher
) -> None:
    """A stored blob cut short (a crash of another tool, a full disk) is replaced too."""
    assert run_cli("update", "--offline", build_feed(tmp_path, publisher, "1.0")).code == 0
    blob = catalog_blob(trusted_home)
    blob.write_bytes(CATALOG[:10])

    assert run_cli("update", "--offline", build_feed(tmp_path, publisher, "2.0")).code == 0

    assert blob.read_bytes() == CATALOG


def test_reactivating_a_stored_feed_repairs_its_damaged_blob(
    tmp_path: Path, run_cli: RunCli, trusted_home: Path, publisher: Publisher
) -> None:
    """Going back to a stored version by ingesting its package repairs what rotted."""
    old = build_feed(tmp_path, publisher, "1.0")
    assert run_cli("update", "--offline", old).code == 0
    assert run_cli("update", "--offline", build_feed(tmp_path, publisher, "2.0")).code == 0
    blob = catalog_blob(trusted_home)
    blob.unlink()

    back = run_cli("update", "--offline", old, "--allow-downgrade")

    assert back.code == 0, back.err
    assert back.out.startswith("reactivated: feed 1.0")
    assert f"repaired damaged blob {blob}" in back.err
    assert blob.read_bytes() == CATALOG
    assert run_cli("status", "--verify").code == 0
