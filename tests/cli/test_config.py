"""``feedmgr config set|get|list|unset``."""

from __future__ import annotations

import pytest

from feedmgr.config import DEFAULT_INDEX_URL
from tests.conftest import RunCli


def test_set_then_get_and_list(run_cli: RunCli) -> None:
    """A set value is shown by get and list, marked as coming from the config file."""
    assert run_cli("config", "set", "feed.url", "https://f.example/i.xml").code == 0
    got = run_cli("config", "get", "feed.url")
    assert got.out == "https://f.example/i.xml\n"
    listing = run_cli("config", "list", "--format", "json").json()
    assert listing["feed.url"] == {"value": "https://f.example/i.xml", "source": "config"}
    assert listing["feed.proxy"] == {"value": None, "source": "default"}


def test_get_shows_defaults(run_cli: RunCli) -> None:
    """Without a config file, get prints the default (the vendor index URL)."""
    result = run_cli("config", "get", "feed.url", "--format", "json")
    assert result.json() == {"key": "feed.url", "value": DEFAULT_INDEX_URL, "source": "default"}


def test_list_redacts_proxy_password(run_cli: RunCli) -> None:
    """A proxy password is stored but never printed."""
    assert run_cli("config", "set", "feed.proxy", "http://u:pw@proxy.example:3128").code == 0
    result = run_cli("config", "list")
    assert "u:***@proxy.example" in result.out
    assert "pw" not in result.out


def test_unset_returns_to_default(run_cli: RunCli) -> None:
    """unset removes a key from the file."""
    run_cli("config", "set", "feed.max_download_bytes", "1000")
    result = run_cli("config", "unset", "feed.max_download_bytes", "--format", "json")
    assert result.json()["source"] == "default"
    assert run_cli("config", "get", "feed.max_download_bytes").out == f"{256 * 1024 * 1024}\n"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("config", "set", "feed.url", "http://f.example/i.xml"), "HTTPS only"),
        (("config", "set", "feed.colour", "red"), "'feed.colour' is not one of"),
        (("config", "get", "nope"), "'nope' is not one of"),
    ],
)
def test_bad_keys_and_values_are_usage_errors(
    run_cli: RunCli, args: tuple[str, ...], words: str
) -> None:
    """Unknown keys and values a key refuses exit 2 and say what is wrong."""
    result = run_cli(*args)
    assert result.code == 2
    assert words in result.err


def test_broken_config_file_exits_3(run_cli: RunCli, home: object) -> None:
    """An invalid config.toml is rejected input (exit 3) naming the file."""
    from pathlib import Path

    assert isinstance(home, Path)
    home.mkdir(parents=True)
    (home / "config.toml").write_text("[feed]\nurl = 1\n", encoding="utf-8")
    result = run_cli("config", "list")
    assert result.code == 3
    assert result.err == f"feedmgr: error: {home / 'config.toml'}: feed.url must be a str\n"


def test_feed_url_with_credentials_is_refused_without_echo(run_cli: RunCli) -> None:
    """feed.url with user:password@ is refused (exit 2) and the password is not printed."""
    result = run_cli("config", "set", "feed.url", "https://u:Secr3tPW@f.example/i.xml")
    assert result.code == 2
    assert "credentials" in result.err
    assert "Secr3tPW" not in result.err + result.out


def test_config_file_with_a_feed_url_password_is_refused_without_echo(
    run_cli: RunCli, home: object
) -> None:
    """A config.toml whose feed.url carries a password is rejected (exit 3) by get and list,
    naming the file, never printing the password."""
    from pathlib import Path

    assert isinstance(home, Path)
    home.mkdir(parents=True)
    (home / "config.toml").write_text(
        '[feed]\nurl = "https://u:Secr3tPW@f.example/i.xml"\n', encoding="utf-8"
    )
    for args in (("config", "list"), ("config", "get", "feed.url")):
        result = run_cli(*args)
        assert result.code == 3
        assert result.err.startswith(f"feedmgr: error: {home / 'config.toml'}: feed.url: ")
        assert "Secr3tPW" not in result.err + result.out
