"""Fixtures of the GIPP store tests: one parametrized store fixture runs every test on SQLite and PostGIS."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from viq_host.gipp import Applicability, GippDraft, GippStore, Validity, open_gipp_store
from viq_host.plugins import Plugins, load_plugins

from .models_for_tests import DETECTORS, TestGippTypes


@pytest.fixture
def plugins() -> Plugins:
    """Registries with the test content models only (no entry points)."""
    return load_plugins(extra=[TestGippTypes()], entry_points_enabled=False)


@pytest.fixture(params=["sqlite", "postgis"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Database URL: a fresh SQLite file, or a fresh PostGIS database (testing kit's ``postgis_url``)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'viq.sqlite'}"
    url: str = request.getfixturevalue("postgis_url")
    return url


@pytest.fixture
def open_store(store_url: str, tmp_path: Path, plugins: Plugins) -> Iterator[Callable[[], GippStore]]:
    """Factory of store objects on the same database (several = several clients)."""
    opened: list[GippStore] = []

    def make() -> GippStore:
        s = open_gipp_store(store_url, plugins, directory=tmp_path / "gipp")
        opened.append(s)
        return s

    yield make
    for s in opened:
        s.close()


@pytest.fixture
def store(open_store: Callable[[], GippStore]) -> GippStore:
    """A fresh store, with 'alice' holding the operator role."""
    s = open_store()
    s.grant_role("alice", by="admin", reason="calibration engineer")
    return s


def dark_content(values: np.ndarray[Any, Any]) -> dict[str, Any]:
    """A GIP_DARKCU Data_Block mapping for 5200 values."""
    return {"List_of_Dark_Currents": {"@count": len(values), "Dark_Current": [float(v) for v in values]}}


def dark_values(seed: int) -> np.ndarray[Any, Any]:
    """Reproducible dark currents (ADU) with detector-to-detector structure."""
    rng = np.random.default_rng(seed)
    return 20.0 + 0.5 * np.sin(np.arange(DETECTORS) / 50.0) + rng.normal(0.0, 0.05, DETECTORS)


def t(year: int, month: int = 1, day: int = 1) -> datetime:
    """A UTC date."""
    return datetime(year, month, day, tzinfo=UTC)


def draft(
    gipp_type: str = "GIP_DARKCU",
    *,
    start: datetime | None = None,
    stop: datetime | None = None,
    band: str | None = "B03",
    tdi_set: str | None = "111100",
    applicability: Applicability | None = None,
    content: Any = None,
    seed: int = 0,
    serial: int | None = None,
) -> GippDraft:
    """A GIPP draft; DARKCU content generated from ``seed`` unless given."""
    if content is None and gipp_type == "GIP_DARKCU":
        content = dark_content(dark_values(seed))
    return GippDraft(
        gipp_type=gipp_type,
        serial=serial,
        validity=Validity(start=start, stop=stop),
        applicability=applicability or Applicability.all_sites(),
        band=band,
        tdi_set=tdi_set,
        producing_job="job-42",
        processor_version="dark-signal 01.02",
        input_products=("VE_TEST_VSC_L1VALD_CAMARGUE_20200101",),
        content=content,
    )


def to_oper(s: GippStore, gipp_id: int) -> None:
    """Validate and promote a candidate to OPER via TEST."""
    s.attach_validation(gipp_id, metric="residual_striping", value=0.01, threshold=0.05, actor="alice")
    s.promote(gipp_id, "TEST", operator="alice", reason="test campaign")
    s.promote(gipp_id, "OPER", operator="alice", reason="striping below threshold")
