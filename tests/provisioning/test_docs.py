"""docs/provisioning.md documents every finding id the audit can emit."""

from __future__ import annotations

import pytest

from feedmgr.provisioning.audit import CHECKS
from tests.conftest import REPO

DOC = (REPO / "docs" / "provisioning.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("check", sorted(CHECKS))
def test_every_check_id_is_documented_with_its_severity(check: str) -> None:
    """Each check id has a row in the findings table naming its severity."""
    row = next((line for line in DOC.splitlines() if line.startswith(f"| `{check}` |")), None)
    assert row is not None, f"{check} missing from docs/provisioning.md"
    assert f"| {CHECKS[check].severity.label} |" in row
