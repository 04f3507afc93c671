"""Fixtures of the OTB adapter tests: OTB itself (scripts/services/otb.sh install), a private help cache."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from viq_host.testing.services import missing_service


@pytest.fixture
def otb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """OTB's otbcli_* launchers are on PATH (skip, or fail under VIQ_REQUIRE_SERVICES=1); fresh help cache."""
    if shutil.which("otbcli_BandMath") is None:
        missing_service("Orfeo Toolbox (scripts/services/otb.sh install)")
    monkeypatch.setenv("VIQ_OTB_CACHE", str(tmp_path / "otb-cache"))
