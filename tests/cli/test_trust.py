"""feedmgr trust: which keys get trusted, and how a key is named to remove it."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from tests.conftest import RunCli


def _public_pem() -> bytes:
    return (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def test_trust_add_refuses_a_file_with_two_keys(run_cli: RunCli, tmp_path: Path) -> None:
    """Two public keys in one PEM file: exit 3, one line, and no key is trusted."""
    bundle = tmp_path / "publisher-keys.pem"
    bundle.write_bytes(_public_pem() + _public_pem())

    result = run_cli("trust", "add", bundle)

    assert result.code == 3
    assert result.err == f"feedmgr: error: {bundle}: 2 keys in the file; give one key per file\n"
    assert run_cli("trust", "list", "--format", "json").json() == []


def _trusted(run_cli: RunCli, tmp_path: Path, name: str) -> str:
    pem = tmp_path / f"{name}.pem"
    pem.write_bytes(_public_pem())
    added = run_cli("trust", "add", pem, "--name", name, "--format", "json").json()
    return str(added["fingerprint"]).removeprefix("sha256:")


@pytest.mark.parametrize("prefix_length", [4, 6, 64])
@pytest.mark.parametrize("with_scheme", [False, True])
def test_trust_remove_takes_a_unique_prefix_of_four_hex_digits_or_more(
    run_cli: RunCli, tmp_path: Path, prefix_length: int, with_scheme: bool
) -> None:
    """A unique fingerprint prefix, 'sha256:' or not, names the key to remove."""
    digits = _trusted(run_cli, tmp_path, "vendor")
    prefix = ("sha256:" if with_scheme else "") + digits[:prefix_length]

    result = run_cli("trust", "remove", prefix)

    assert result.code == 0, result.err
    assert result.out == f"removed sha256:{digits} (vendor)\n"
    assert run_cli("trust", "list", "--format", "json").json() == []


@pytest.mark.parametrize("ref", ["abc", "sha256:ab", "a"])
def test_trust_remove_says_a_prefix_is_too_short(run_cli: RunCli, tmp_path: Path, ref: str) -> None:
    """Fewer than 4 hex digits: exit 2, saying how many are needed, and nothing removed."""
    _trusted(run_cli, tmp_path, "vendor")

    result = run_cli("trust", "remove", ref)

    assert result.code == 2
    assert "at least 4 hex digits" in result.err
    assert len(run_cli("trust", "list", "--format", "json").json()) == 1


def test_trust_remove_by_name(run_cli: RunCli, tmp_path: Path) -> None:
    """The name given at 'trust add --name' removes that key, whatever it looks like."""
    digits = _trusted(run_cli, tmp_path, "abc")
    assert run_cli("trust", "remove", "abc").out == f"removed sha256:{digits} (abc)\n"
