"""Shared fixtures: simulated acquisitions (session-scoped, small arrays) and a hand-built RunContext."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from viq_host.testing.context import ListLogger as Log
from viq_interfaces import GippInForce, InputProduct, RunContext
from viq_interfaces.processor import Processor
from viq_proc_simulator import SimulationRun, simulate

FLAT_LEVELS = (20.0, 50.0, 80.0, 110.0, 140.0, 175.0, 200.0, 225.0, 250.0)
"""Radiances bracketing the knee of B2/B10 at TDI 8 (knee ≈ 600 DN ≈ 160–175 radiance units)."""


def make_ctx(
    processor: type[Processor],
    tmp_path: Path,
    inputs: Mapping[str, Sequence[Path]],
    params: Mapping[str, Any] | None = None,
    gipps: Mapping[str, Sequence[GippInForce]] | None = None,
) -> RunContext[BaseModel]:
    """A RunContext for ``processor`` with raw/GIPP/JSON inputs per port."""
    decl = processor.declaration
    ports = {p.name: p for p in decl.inputs}
    return RunContext(
        job_id="job-1",
        attempt_id="job-1-a1",
        processor=decl.name,
        version=decl.version,
        inputs={k: tuple(InputProduct(path=Path(p), product_type=ports[k].product_types[0]) for p in v)
                for k, v in inputs.items()},
        params=processor.Parameters.model_validate(dict(params or {})),
        gipps={k: tuple(v) for k, v in (gipps or {}).items()},
        work_dir=tmp_path / "work",
        output_dir=tmp_path / "out",
        logger=Log(),
        is_cancelled=lambda: False,
    )


def in_force(run: SimulationRun, gipp_type: str, band: str | None = None) -> GippInForce:
    """The simulator's truth GIPP of ``gipp_type`` (for ``band``) as a GIPP in force."""
    g = next(g for g in run.gipps if g.gipp_type == gipp_type and (band is None or g.band == band))
    return GippInForce(gipp_type=gipp_type, version=1, path=g.path, band=g.band, tdi=g.tdi)


@pytest.fixture(scope="session")
def sims(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SimulationRun]:
    """Dark, flats, side-slither and a desert campaign at TDI 8 (B2, B4, B5, B10, B12)."""
    root = tmp_path_factory.mktemp("sim")
    raw: dict[str, Any] = {"products": ("raw",)}
    return {
        "dark": simulate(root / "dark", acquisition="dark", bands=("B4", "B5", "B12"), lines=1000, pixels=256,
                         seed=11, **raw),
        "dark2": simulate(root / "dark2", acquisition="dark", bands=("B2", "B10"), lines=1000, pixels=512,
                          seed=12, **raw),
        "flats": simulate(root / "flats", acquisition="flat", bands=("B2", "B10"), lines=1000, pixels=512,
                          levels=FLAT_LEVELS, seed=13, **raw),
        "check": simulate(root / "check", acquisition="flat", bands=("B2", "B10"), lines=1000, pixels=512,
                          levels=(100.0,), seed=14, **raw),
        "slither": simulate(root / "slither", acquisition="side_slither", bands=("B10",), lines=1500, pixels=512,
                            slither_min=20.0, slither_max=140.0, seed=15, **raw),
    }
