"""Fixtures of the geometry tests: where the shared reference data are (tests skip when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest
from geom_helpers import SHARED


@pytest.fixture(scope="session")
def arosics_dir() -> Path:
    """The shared AROSICS S2 pair and its reference results."""
    d = SHARED / "arosics_s2_t33uuu"
    if not (d / "reference").is_dir():
        pytest.skip("../shared/data/arosics_s2_t33uuu is not present")
    return d


@pytest.fixture(scope="session")
def gizeh_dir() -> Path:
    """The shared Pléiades Gizeh stereo pair with RPC models."""
    d = SHARED / "pleiades_gizeh_stereo"
    if not (d / "img1.geom").is_file():
        pytest.skip("../shared/data/pleiades_gizeh_stereo is not present")
    return d
