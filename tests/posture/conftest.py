"""Fixtures for the posture tests: condition documents built in code."""

from __future__ import annotations

import copy
from typing import Any

import pytest

FIELD_DOCUMENT: dict[str, Any] = {
    "format": "feedmgr-posture/1",
    "conditions": [
        {
            "name": "macOS-Service-Condition",
            "service": "com.apple.sysmond",
            "service_type": "daemon-or-user-agent",
            "operator": "running",
            "exit_code": 0,
        }
    ],
    "requirements": [
        {
            "name": "macOS-Service-Requirement",
            "os": ["Mac OSX"],
            "conditions": ["macOS-Service-Condition"],
            "criteria": "(macOS-Service-Condition)",
            "message": "macOS Service is non compliant",
            "package_id": 30,
        }
    ],
    "policies": [
        {
            "name": "macOS-Service-PosturePolicy",
            "requirement": "macOS-Service-Requirement",
            "enforcement": "mandatory",
            "os": ["Mac OSX"],
        }
    ],
}


@pytest.fixture
def field_document() -> dict[str, Any]:
    """A fresh copy of the field document's condition, requirement and policy."""
    return copy.deepcopy(FIELD_DOCUMENT)
