"""Build feed packages for tests: honest ones through the real builder, hostile ones by hand."""

from __future__ import annotations

import hashlib
import json
import shutil
import warnings
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from feedmgr.feed.build import build_package
from feedmgr.feed.signing import PrivateKey, sign

REPO = Path(__file__).resolve().parents[2]
SAMPLE_SRC = REPO / "feeds" / "sample" / "src"


def rfc3339(moment: datetime) -> str:
    """Format as the feed documents do."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Publisher:
    """A key pair with its public PEM written to disk."""

    key: PrivateKey
    public_pem: Path

    @classmethod
    def create(cls, directory: Path, name: str = "publisher") -> Publisher:
        """Generate an Ed25519 publisher and write ``<name>.pub.pem``."""
        key = ed25519.Ed25519PrivateKey.generate()
        directory.mkdir(parents=True, exist_ok=True)
        pub = directory / f"{name}.pub.pem"
        pub.write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        return cls(key, pub)

    def private_pem(self, directory: Path) -> Path:
        """Write the private key as PEM and return its path."""
        path = directory / "publisher.key.pem"
        path.write_bytes(
            self.key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return path


def write_source(
    directory: Path,
    version: str,
    *,
    published: datetime | None = None,
    expires: datetime | None = None,
    extra_files: dict[str, bytes] | None = None,
) -> Path:
    """Copy the sample feed source with new metadata; return the folder."""
    now = datetime.now(UTC)
    published = published or now - timedelta(days=1)
    expires = expires or now + timedelta(days=90)
    src = directory / f"src-{version}"
    shutil.copytree(SAMPLE_SRC, src)
    (src / "feed.toml").write_text(
        f'version = "{version}"\npublisher = "Test Publisher"\n'
        f'published = "{rfc3339(published)}"\nexpires = "{rfc3339(expires)}"\n'
    )
    for name, data in (extra_files or {}).items():
        target = src / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return src


def build_feed(directory: Path, publisher: Publisher, version: str, **kwargs: object) -> Path:
    """Build a valid signed feed of ``version`` from the sample source."""
    src = write_source(directory, version, **kwargs)  # type: ignore[arg-type]
    out = directory / f"feed-{version}.zip"
    build_package(src, out, publisher.key)
    return out


@dataclass
class RawMember:
    """One member of a hand-made zip."""

    name: str
    data: bytes
    mode: int = 0o100644
    compress: int = zipfile.ZIP_DEFLATED
    flag_bits: int = 0


@dataclass
class HandMadeFeed:
    """A feed assembled member by member, to break exactly one rule at a time."""

    payload: dict[str, bytes]
    version: str = "2.0"
    expires: datetime = field(default_factory=lambda: datetime.now(UTC) + timedelta(days=30))
    published: datetime = field(default_factory=lambda: datetime.now(UTC) - timedelta(days=1))

    @classmethod
    def sample(cls, **kwargs: object) -> HandMadeFeed:
        """The sample payload, unchanged."""
        payload = {
            p.relative_to(SAMPLE_SRC).as_posix(): p.read_bytes()
            for p in sorted(SAMPLE_SRC.rglob("*.json"))
        }
        return cls(payload, **kwargs)  # type: ignore[arg-type]

    def manifest(self, listed: Iterable[str] | None = None) -> bytes:
        """Manifest bytes listing ``listed`` (default: every payload file)."""
        names = self.payload if listed is None else listed
        files = {
            name: {
                "sha256": hashlib.sha256(self.payload.get(name, b"")).hexdigest(),
                "size": len(self.payload.get(name, b"")),
            }
            for name in names
        }
        document = {
            "format": "feedmgr-posture-feed/1",
            "version": self.version,
            "published": rfc3339(self.published),
            "expires": rfc3339(self.expires),
            "publisher": "Hand Made",
            "files": files,
        }
        return json.dumps(document, indent=2).encode()

    def members(self, publisher: Publisher, manifest: bytes | None = None) -> list[RawMember]:
        """manifest.json, manifest.sig and the payload, as raw members."""
        manifest = manifest if manifest is not None else self.manifest()
        return [
            RawMember("manifest.json", manifest),
            RawMember("manifest.sig", sign(publisher.key, manifest)),
            *(RawMember(name, data) for name, data in self.payload.items()),
        ]


def write_zip(path: Path, members: Iterable[RawMember]) -> Path:
    """Write members exactly as given (duplicates, odd names and modes included)."""
    with warnings.catch_warnings(), zipfile.ZipFile(path, "w") as archive:
        # Duplicate names are one of the hostile cases we build on purpose.
        warnings.simplefilter("ignore", UserWarning)
        for member in members:
            info = zipfile.ZipInfo(member.name, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = member.compress
            info.create_system = 3
            info.external_attr = member.mode << 16
            info.flag_bits |= member.flag_bits
            archive.writestr(info, member.data)
    return path


def snapshot(home: Path) -> dict[str, str]:
    """Every file under the store (but the lock file) with its digest."""
    return {
        p.relative_to(home).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(home.rglob("*"))
        if p.is_file() and p.name != "store.lock"
    }
