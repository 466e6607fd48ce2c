"""User settings: ``config.toml`` in the home directory (docs/online-updates.md, "Settings").

The file holds ``[feed]``, ``[network]`` and ``[releases]`` tables with a closed set of keys;
anything else is rejected with the file's name, so a typo never silently falls back to a
default. The file is read with ``tomllib`` and rewritten atomically (temporary file, fsync,
rename) by ``config set``. Values are strings and integers only, so a tiny writer suffices
and no TOML-writing dependency is needed; a property test checks that everything written
reads back equal.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from feedmgr.errors import SchemaError, StoreError, UsageError
from feedmgr.net import DEFAULT_DEADLINE_SECONDS, DEFAULT_MIN_RATE
from feedmgr.net.urls import check_https_url, check_proxy_url, has_bad_characters
from feedmgr.textio import decode_text

CONFIG_NAME = "config.toml"
DEFAULT_INDEX_URL = "https://www.cisco.com/web/secure/pmbu/posture-update.xml"
# Release data for 'feedmgr releases update' (docs/os-matrix.md): SOFA's published macOS
# feed and endoflife.date's API document for Windows.
DEFAULT_SOFA_URL = "https://sofafeed.macadmins.io/v2/macos_data_feed.json"
DEFAULT_WINDOWS_URL = "https://endoflife.date/api/v1/products/windows"
# A posture feed is a few megabytes; this bounds a download whose index announces no length.
DEFAULT_MAX_DOWNLOAD_BYTES = 256 * 1024 * 1024
# Nothing sensible is larger; the cap exists to bound disk use.
MAX_DOWNLOAD_BYTES_LIMIT = 64 * 1024 * 1024 * 1024

MAX_DEADLINE_SECONDS = 7 * 24 * 3600
MAX_MIN_RATE = 1024**3

Value = str | int


def _parse_url(raw: str, key: str) -> Value:
    return check_https_url(raw, key)


def _parse_proxy(raw: str, key: str) -> Value:
    return check_proxy_url(raw, key)


def _parse_path(raw: str, key: str) -> Value:
    if not raw or has_bad_characters(raw):
        raise UsageError(key, f"{raw!r} is not a usable file name")
    path = Path(raw).expanduser()
    if not path.is_file():
        raise UsageError(key, f"{raw}: no such file")
    return str(path.resolve())


def _bounded_int(low: int, high: int, unit: str) -> Callable[[str, str], Value]:
    def parse(raw: str, key: str) -> Value:
        try:
            value = int(raw.replace("_", ""))
        except ValueError:
            raise UsageError(key, f"{raw!r} is not a whole number of {unit}") from None
        if not low <= value <= high:
            raise UsageError(key, f"must be between {low} and {high} {unit}")
        return value

    return parse


def _parse_size(raw: str, key: str) -> Value:
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        raise UsageError(key, f"{raw!r} is not a whole number of bytes") from None
    if not 1 <= value <= MAX_DOWNLOAD_BYTES_LIMIT:
        raise UsageError(key, f"must be between 1 and {MAX_DOWNLOAD_BYTES_LIMIT} bytes")
    return value


@dataclass(frozen=True)
class Setting:
    """One known key: how to parse it from the command line, its type in the file."""

    key: str
    help: str
    parse: Callable[[str, str], Value]
    kind: type[str] | type[int]
    default: Value | None = None


SETTINGS: Mapping[str, Setting] = {
    s.key: s
    for s in (
        Setting("feed.url", "Feed index URL (https only).", _parse_url, str, DEFAULT_INDEX_URL),
        Setting(
            "feed.ca_bundle",
            "PEM file of CA certificates to trust instead of the system store.",
            _parse_path,
            str,
        ),
        Setting(
            "feed.proxy",
            "HTTPS proxy (http://HOST:PORT); overrides HTTPS_PROXY and NO_PROXY.",
            _parse_proxy,
            str,
        ),
        Setting(
            "feed.max_download_bytes",
            "Absolute cap on the size of a downloaded feed package.",
            _parse_size,
            int,
            DEFAULT_MAX_DOWNLOAD_BYTES,
        ),
        Setting(
            "network.deadline",
            "Seconds one transfer (index document, package, release data) may take in all.",
            _bounded_int(1, MAX_DEADLINE_SECONDS, "seconds"),
            int,
            DEFAULT_DEADLINE_SECONDS,
        ),
        Setting(
            "network.min_rate",
            "Minimum average bytes per second of a body after its first 20 s; also gives a "
            "response 20 s for its TLS handshake and headers (0: neither).",
            _bounded_int(0, MAX_MIN_RATE, "bytes per second"),
            int,
            DEFAULT_MIN_RATE,
        ),
        Setting(
            "releases.sofa_url",
            "SOFA macOS feed for 'releases update' (https only).",
            _parse_url,
            str,
            DEFAULT_SOFA_URL,
        ),
        Setting(
            "releases.windows_url",
            "endoflife.date Windows data for 'releases update' (https only).",
            _parse_url,
            str,
            DEFAULT_WINDOWS_URL,
        ),
    )
}


@dataclass(frozen=True)
class Config:
    """The settings in effect: the file's values over the defaults."""

    path: Path
    values: Mapping[str, Value] = field(default_factory=dict)

    def get(self, key: str) -> Value | None:
        """The value of ``key``: set in the file, else its default (None when it has none)."""
        return self.values.get(key, SETTINGS[key].default)

    def source(self, key: str) -> str:
        """``config`` when the file sets ``key``, else ``default``."""
        return "config" if key in self.values else "default"

    @property
    def feed_url(self) -> str:
        """The feed index URL."""
        return str(self.get("feed.url"))

    @property
    def ca_bundle(self) -> Path | None:
        """The CA bundle to verify servers with, or None for the system store."""
        value = self.get("feed.ca_bundle")
        return Path(str(value)) if value is not None else None

    @property
    def proxy(self) -> str | None:
        """The HTTPS proxy, or None to use the environment (HTTPS_PROXY/NO_PROXY)."""
        value = self.get("feed.proxy")
        return str(value) if value is not None else None

    @property
    def max_download_bytes(self) -> int:
        """The absolute cap on a package download."""
        return self._int("feed.max_download_bytes")

    @property
    def deadline(self) -> int:
        """Seconds one network transfer may take in all."""
        return self._int("network.deadline")

    @property
    def min_rate(self) -> int:
        """Minimum average bytes per second of a body (0: none)."""
        return self._int("network.min_rate")

    def _int(self, key: str) -> int:
        value = self.get(key)
        assert isinstance(value, int)
        return value


def config_path(home: Path) -> Path:
    """Where the settings file of ``home`` lives."""
    return home / CONFIG_NAME


def _check_document(document: Mapping[str, object], path: Path) -> dict[str, Value]:
    subject = str(path)
    values: dict[str, Value] = {}
    for table, content in document.items():
        if not isinstance(content, dict):
            raise SchemaError(subject, f"{table!r} must be a table like [feed]")
        for name, value in content.items():
            key = f"{table}.{name}"
            setting = SETTINGS.get(key)
            if setting is None:
                known = ", ".join(SETTINGS)
                raise SchemaError(subject, f"unknown setting {key!r} (known: {known})")
            # bool is an int subclass in Python but not a number in TOML.
            if not isinstance(value, setting.kind) or isinstance(value, bool):
                raise SchemaError(subject, f"{key} must be a {setting.kind.__name__}")
            try:
                # The CA bundle is checked when it is used: a moved file must not make
                # every other setting unreadable.
                if key != "feed.ca_bundle":
                    setting.parse(str(value), key)
                elif not value or has_bad_characters(str(value)):
                    raise UsageError(key, "not a usable file name")
            except UsageError as exc:
                raise SchemaError(subject, f"{key}: {exc.problem}") from exc
            values[key] = value
    return values


def load_config(home: Path) -> Config:
    """Read the settings of ``home`` (defaults when there is no file).

    Raises:
        SchemaError: the file is not valid TOML, or has an unknown key or a bad value.
        StoreError: the file exists but cannot be read.
    """
    path = config_path(home)
    try:
        text = decode_text(path.read_bytes())
    except FileNotFoundError:
        return Config(path)
    except OSError as exc:
        raise StoreError(str(path), f"cannot read the settings ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise SchemaError(str(path), "not UTF-8 text") from exc
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SchemaError(str(path), f"not valid TOML: {exc}") from exc
    return Config(path, _check_document(document, path))


def _toml_value(value: Value) -> str:
    if isinstance(value, int):
        return str(value)
    # A JSON string is a TOML basic string, except that TOML also wants DEL escaped.
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def render_config(values: Mapping[str, Value]) -> str:
    """The TOML text of a settings file holding ``values``."""
    lines = ["# feedmgr settings; change them with 'feedmgr config set KEY VALUE'."]
    tables: dict[str, list[str]] = {}
    for key in sorted(values):
        table, name = key.split(".", 1)
        tables.setdefault(table, []).append(f"{name} = {_toml_value(values[key])}")
    for table, entries in tables.items():
        lines += ["", f"[{table}]", *entries]
    return "\n".join(lines) + "\n"


def _write_atomically(path: Path, text: str) -> None:
    from feedmgr.atomic import write_text_atomically

    try:
        # The proxy URL may carry a password.
        write_text_atomically(path, text, mode=0o600, create_folder=True)
    except OSError as exc:
        raise StoreError(str(path), f"cannot write the settings ({exc.strerror})") from exc


def parse_setting(key: str, raw: str) -> Value:
    """Parse a command-line value for ``key``.

    Raises:
        UsageError: unknown key or a value the key does not accept.
    """
    setting = SETTINGS.get(key)
    if setting is None:
        raise UsageError(key, f"unknown setting (known: {', '.join(SETTINGS)})")
    return setting.parse(raw, key)


def set_setting(home: Path, key: str, raw: str) -> Config:
    """Set ``key`` to the parsed ``raw`` value and rewrite the file atomically.

    Raises:
        UsageError: unknown key or bad value.
        InputRejected: ``feed.ca_bundle`` names a file that holds no PEM CA certificate.
        SchemaError: the existing file is invalid (fix or delete it first).
        StoreError: the file cannot be written.
    """
    value = parse_setting(key, raw)
    if key == "feed.ca_bundle":
        # Say now, not at the next update, that the file is no CA bundle.
        from feedmgr.net.transport import ssl_context

        ssl_context(Path(str(value)))
    current = load_config(home)
    values = {**current.values, key: value}
    _write_atomically(current.path, render_config(values))
    return Config(current.path, values)


def unset_setting(home: Path, key: str) -> Config:
    """Remove ``key`` from the file (it falls back to its default).

    Raises:
        UsageError: unknown key.
        SchemaError, StoreError: as for ``set_setting``.
    """
    if key not in SETTINGS:
        raise UsageError(key, f"unknown setting (known: {', '.join(SETTINGS)})")
    current = load_config(home)
    if key not in current.values:
        return current
    values = {k: v for k, v in current.values.items() if k != key}
    _write_atomically(current.path, render_config(values))
    return Config(current.path, values)
