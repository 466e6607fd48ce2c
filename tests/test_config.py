"""Settings in config.toml: parsing, validation, atomic rewrite, round trip."""

from __future__ import annotations

import stat
import tomllib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feedmgr.cli.config import KEYS
from feedmgr.config import (
    DEFAULT_INDEX_URL,
    DEFAULT_MAX_DOWNLOAD_BYTES,
    SETTINGS,
    load_config,
    render_config,
    set_setting,
    unset_setting,
)
from feedmgr.errors import SchemaError, UsageError
from feedmgr.net.urls import redact_url


def test_defaults_without_a_file(tmp_path: Path) -> None:
    """No config.toml: the vendor index, the system store, no proxy, the default cap."""
    config = load_config(tmp_path)
    assert config.feed_url == DEFAULT_INDEX_URL
    assert config.ca_bundle is None
    assert config.proxy is None
    assert config.max_download_bytes == DEFAULT_MAX_DOWNLOAD_BYTES
    assert config.source("feed.url") == "default"


def test_cli_choices_match_the_known_settings() -> None:
    """The CLI's key choices (kept light for --help) list exactly the known settings."""
    assert tuple(SETTINGS) == KEYS


@pytest.mark.parametrize(
    ("key", "raw", "expected"),
    [
        ("feed.url", "https://feeds.example.net/i.xml", "https://feeds.example.net/i.xml"),
        ("feed.proxy", "http://proxy.example.net:3128", "http://proxy.example.net:3128"),
        ("feed.max_download_bytes", "1_000_000", 1_000_000),
        ("network.deadline", "3600", 3600),
        ("network.min_rate", "0", 0),
    ],
)
def test_set_writes_and_reads_back(tmp_path: Path, key: str, raw: str, expected: object) -> None:
    """A set value is written to config.toml (readable by tomllib) and read back typed."""
    set_setting(tmp_path, key, raw)
    assert load_config(tmp_path).get(key) == expected
    table, name = key.split(".")
    document = tomllib.loads((tmp_path / "config.toml").read_text(encoding="utf-8"))
    assert document[table][name] == expected
    assert stat.S_IMODE((tmp_path / "config.toml").stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]


def test_ca_bundle_is_stored_as_an_absolute_existing_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """feed.ca_bundle must name an existing PEM CA bundle and is stored absolute."""
    import trustme

    from feedmgr.errors import InputRejected

    monkeypatch.chdir(tmp_path)
    trustme.CA().cert_pem.write_to_path("ca.pem")
    set_setting(tmp_path / "home", "feed.ca_bundle", "ca.pem")
    assert load_config(tmp_path / "home").ca_bundle == tmp_path / "ca.pem"
    with pytest.raises(UsageError, match="no such file"):
        set_setting(tmp_path / "home", "feed.ca_bundle", "missing.pem")
    Path("README.txt").write_text("not a certificate")
    with pytest.raises(InputRejected, match="not a PEM bundle"):
        set_setting(tmp_path / "home", "feed.ca_bundle", "README.txt")
    assert load_config(tmp_path / "home").ca_bundle == tmp_path / "ca.pem"


@pytest.mark.parametrize(
    ("key", "raw", "words"),
    [
        ("feed.url", "http://feeds.example.net/i.xml", "HTTPS only"),
        ("feed.url", "https:///nohost", "no host"),
        ("feed.url", "https://a.example/\x00", "control"),
        ("feed.proxy", "socks5://p.example:1080", "http://HOST:PORT"),
        ("feed.proxy", "http://p.example:notaport", "not a valid proxy"),
        ("feed.max_download_bytes", "lots", "whole number"),
        ("feed.max_download_bytes", "0", "between"),
        ("network.deadline", "0", "between 1 and"),
        ("network.deadline", "soon", "whole number of seconds"),
        ("network.min_rate", "-1", "between 0 and"),
        ("feed.nope", "1", "unknown setting"),
    ],
)
def test_bad_values_are_usage_errors(tmp_path: Path, key: str, raw: str, words: str) -> None:
    """Values a key does not accept are refused and nothing is written."""
    with pytest.raises(UsageError, match=words):
        set_setting(tmp_path, key, raw)
    assert not (tmp_path / "config.toml").exists()


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[feed\n", "not valid TOML"),
        ("[feed]\nurl = 5\n", "must be a str"),
        ("[feed]\nmax_download_bytes = true\n", "must be a int"),
        ("[feed]\ncolour = 'red'\n", "unknown setting 'feed.colour'"),
        ("feed = 1\n", "must be a table"),
        ("[feed]\nurl = 'http://x.example/'\n", "HTTPS only"),
    ],
)
def test_invalid_files_are_rejected_with_their_name(tmp_path: Path, text: str, words: str) -> None:
    """A broken or mistyped config.toml is an error naming the file, never a silent default."""
    (tmp_path / "config.toml").write_text(text, encoding="utf-8")
    with pytest.raises(SchemaError, match=words) as caught:
        load_config(tmp_path)
    assert caught.value.subject == str(tmp_path / "config.toml")


def test_unset_falls_back_to_the_default(tmp_path: Path) -> None:
    """unset removes the key; the default applies again; other keys stay."""
    set_setting(tmp_path, "feed.url", "https://a.example/i.xml")
    set_setting(tmp_path, "feed.max_download_bytes", "5")
    config = unset_setting(tmp_path, "feed.url")
    assert config.feed_url == DEFAULT_INDEX_URL
    assert load_config(tmp_path).max_download_bytes == 5


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://proxy.example:3128", "http://proxy.example:3128"),
        ("http://user:secret@proxy.example:3128", "http://user:***@proxy.example:3128"),
    ],
)
def test_proxy_passwords_are_redacted_for_display(url: str, shown: str) -> None:
    """A proxy password is never displayed."""
    assert redact_url(url) == shown


@given(st.text(max_size=60).filter(lambda t: "\x00" not in t))
def test_written_strings_read_back_equal(text: str) -> None:
    """Any string the writer emits is valid TOML that reads back to the same string."""
    try:
        rendered = render_config({"feed.url": text})
    except UnicodeEncodeError:
        return
    try:
        encoded = rendered.encode("utf-8")
    except UnicodeEncodeError:
        # Lone surrogates cannot be stored; the setters refuse them before writing.
        return
    assert tomllib.loads(encoded.decode("utf-8"))["feed"]["url"] == text
