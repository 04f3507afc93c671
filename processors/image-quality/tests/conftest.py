"""Shared fixture of the image-quality tests: where the sfrmat3 reference edges are."""

from __future__ import annotations

from pathlib import Path

import pytest

SFRMAT3_DIR = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "sfrmat3_edges"


@pytest.fixture
def sfrmat3_dir() -> Path:
    """The shared sfrmat3 example edges and reference results (the test skips when they are absent)."""
    if not (SFRMAT3_DIR / "reference").is_dir():
        pytest.skip("../shared/data/sfrmat3_edges is not present")
    return SFRMAT3_DIR
