"""feedmgr trust: which keys get trusted, and how a key is named to remove it."""

from __future__ import annotations

from pathlib import Path

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
