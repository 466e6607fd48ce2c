"""Build a deterministic, signed feed package from a source folder.

A source folder holds ``feed.toml`` (version, publisher, published, expires) and the payload
files under their feed paths. Same input, same bytes: members are sorted, timestamps and
permissions fixed, the manifest serialised canonically. (Ed25519 signatures are
deterministic; ECDSA and RSA-PSS signatures are randomised by design, so with those keys
only ``manifest.sig`` differs between builds.)
"""

from __future__ import annotations

import hashlib
import tomllib
import zipfile
from pathlib import Path
from typing import BinaryIO

from pydantic import ValidationError

from feedmgr.atomic import write_atomically
from feedmgr.errors import InputRejected, SchemaError, UsageError
from feedmgr.feed._model import EdgeModel, Rfc3339Utc, VersionText
from feedmgr.feed.manifest import FileEntry, Manifest, describe_validation_error
from feedmgr.feed.manifest_fast import FORMAT, MANIFEST_NAME, SIGNATURE_NAME
from feedmgr.feed.payload_fast import max_payload_bytes, schema_problem
from feedmgr.feed.signing import PrivateKey, sign
from feedmgr.textio import decode_text

SOURCE_META = "feed.toml"
# The zip format's earliest representable time: a fixed timestamp makes builds reproducible.
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
_REGULAR_FILE_MODE = 0o100644

CHUNK = 1024 * 1024


class FeedSource(EdgeModel):
    """``feed.toml`` of a source folder."""

    version: VersionText
    publisher: str
    published: Rfc3339Utc
    expires: Rfc3339Utc


def _read_source_meta(src: Path) -> FeedSource:
    meta_path = src / SOURCE_META
    try:
        document = tomllib.loads(decode_text(meta_path.read_bytes()))
    except FileNotFoundError:
        raise InputRejected(str(meta_path), "missing: a feed source needs feed.toml") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SchemaError(str(meta_path), f"not valid TOML: {exc}") from exc
    try:
        return FeedSource.model_validate(document)
    except ValidationError as exc:
        raise SchemaError(str(meta_path), describe_validation_error(exc)) from exc


def _payload_files(src: Path) -> list[tuple[str, Path]]:
    files: list[tuple[str, Path]] = []
    for path in sorted(src.rglob("*")):
        if path.is_symlink():
            raise InputRejected(str(path), "symbolic links are not allowed in a feed source")
        if path.is_dir() or path == src / SOURCE_META:
            continue
        if not path.is_file():
            raise InputRejected(str(path), "not a regular file")
        files.append((path.relative_to(src).as_posix(), path))
    if not files:
        raise InputRejected(str(src), "no payload files in the feed source")
    return files


def _digest(path: Path) -> FileEntry:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return FileEntry(sha256=digest.hexdigest(), size=size)


def _zip_info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3
    info.external_attr = _REGULAR_FILE_MODE << 16
    return info


def _checked_entry(name: str, path: Path) -> FileEntry:
    if path.stat().st_size > max_payload_bytes(name):
        raise SchemaError(
            str(path), f"{name}: larger than its limit of {max_payload_bytes(name)} bytes"
        )
    # The ingest's own check: condition documents without their object tree.
    problem = schema_problem(name, path.read_bytes())
    if problem is not None:
        raise SchemaError(str(path), problem)
    return _digest(path)


def build_manifest(src: Path) -> tuple[Manifest, list[tuple[str, Path]]]:
    """Validate a source folder and return its manifest and payload files.

    Raises:
        InputRejected: missing or invalid feed.toml, a payload that fails its schema or
            cannot be read, a symlink or special file.
    """
    meta = _read_source_meta(src)
    files = _payload_files(src)
    entries: dict[str, FileEntry] = {}
    for name, path in files:
        try:
            entries[name] = _checked_entry(name, path)
        except OSError as exc:
            raise InputRejected(str(path), f"cannot read ({exc.strerror or exc})") from exc
    manifest = Manifest(
        format=FORMAT,
        version=meta.version,
        published=meta.published,
        expires=meta.expires,
        publisher=meta.publisher,
        files=entries,
    )
    return manifest, files


def build_package(src: Path, output: Path, key: PrivateKey) -> Manifest:
    """Write the signed package for ``src`` to ``output`` atomically.

    Raises:
        InputRejected: the source is invalid (see ``build_manifest``).
        UsageError: the output cannot be written.
    """
    manifest, files = build_manifest(src)
    manifest_bytes = manifest.to_bytes()
    signature = sign(key, manifest_bytes)

    def write_zip(raw: BinaryIO) -> None:
        with zipfile.ZipFile(raw, "w") as archive:
            archive.writestr(_zip_info(MANIFEST_NAME), manifest_bytes)
            archive.writestr(_zip_info(SIGNATURE_NAME), signature)
            for name, path in files:
                with path.open("rb") as source, archive.open(_zip_info(name), "w") as target:
                    while chunk := source.read(CHUNK):
                        target.write(chunk)

    try:
        write_atomically(output, write_zip)
    except OSError as exc:
        # Where the package goes is the user's choice on the command line (as preflight -o).
        raise UsageError(str(output), f"cannot write the package ({exc.strerror or exc})") from exc
    return manifest
