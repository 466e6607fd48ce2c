"""Fixtures for the ISE tests: a fake ISE on the loopback HTTPS server."""

from __future__ import annotations

import pytest
from pytest_httpserver import HTTPServer

from tests.ise.fakeise import PASSWORD, FakeIse


@pytest.fixture
def fake_ise(https_server: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> FakeIse:
    """A fake ISE; the test account's password is in $FEEDMGR_ISE_PASSWORD."""
    monkeypatch.setenv("FEEDMGR_ISE_PASSWORD", PASSWORD)
    return FakeIse(https_server)
