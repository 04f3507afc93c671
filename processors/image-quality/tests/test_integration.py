"""End to end: the simulator's slanted-edge acquisitions (truth = viq_venus analytic MTF) and the real host.

Tests only may import the simulator; the processor itself never does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import viq_proc_simulator as simulator
import viq_venus.config as venus_config
import viq_venus.mtf as venus_mtf
from viq_interfaces import InputProduct, RunContext
from viq_proc_iq.processor import MtfParameters, SlantedEdgeMtf


class _Log:
    def debug(self, message: str) -> None: ...
    def info(self, message: str) -> None: ...
    def progress(self, percent: float, message: str = "") -> None: ...
    def warning(self, message: str) -> None: ...
    def error(self, message: str) -> None: ...


def _simulate_edge(out: Path, direction: str, seed: int) -> Any:
    """A long, high-contrast VENµS slanted edge (L1) in two bands; noise, defects and jitter left on."""
    long_side, short_side = 768, 128
    return simulator.simulate(
        out,
        acquisition="edge",
        bands=("B4", "B11"),
        lines=long_side if direction == "across" else short_side,
        pixels=short_side if direction == "across" else long_side,
        edge_direction=direction,
        edge_angle_deg=5.0,
        edge_low=10.0,
        edge_high=220.0,
        seed=seed,
        products=("l1",),
        truth_gipps=False,
    )


@pytest.mark.parametrize("direction", ["across", "along"])
@pytest.mark.parametrize("seed", [0, 1])
def test_recovers_simulator_mtf_at_nyquist(tmp_path: Path, direction: str, seed: int) -> None:
    """On simulated L1 edges the processor finds the edge, its direction, and the configured MTF at Nyquist
    (viq_venus.mtf.edge_mtf at the measured angle) within 0.01, per band.

    ``correct_binning`` removes the 1/4-px bin aperture of the measurement itself (otherwise ≈ 2.6 % low).
    """
    run = _simulate_edge(tmp_path / "sim", direction, seed)
    product = run.of_type("VSC_L1VALD")[0]
    cfg = venus_config.default_config()
    for band, path in product.band_files.items():
        ctx: RunContext[MtfParameters] = RunContext(
            job_id="j",
            attempt_id="j-a1",
            processor="slanted-edge-mtf",
            version="01.00",
            inputs={"image": (InputProduct(path=path, product_type="VSC_L1VALD"),)},
            params=MtfParameters(correct_binning=True),
            gipps={},
            work_dir=tmp_path / "work",
            output_dir=tmp_path / f"out-{band}",
            logger=_Log(),
            is_cancelled=lambda: False,
        )
        result = SlantedEdgeMtf().run(ctx)
        got = {m.key: m.value for m in result.measurements}
        # the band comes from the VENµS file name (…_B04.TIF)
        keys = {f"{n}_{band}_{direction}" for n in ("mtf50", "mtf_nyquist", "mtf_at_0_25", "edge_angle_deg")}
        assert set(got) == keys
        angle = got[f"edge_angle_deg_{band}_{direction}"]
        assert abs(angle - 5.0) < 0.2
        truth = float(venus_mtf.edge_mtf(0.5, cfg, band, direction, angle))
        assert abs(got[f"mtf_nyquist_{band}_{direction}"] - truth) < 0.01, (band, truth)


def test_through_the_real_host(tmp_path: Path) -> None:
    """The processor runs as a job through the host (job order, worker subprocess, result.json, measurements)."""
    from viq_host.testing import harness

    run = _simulate_edge(tmp_path / "sim", "across", 3)
    image = run.of_type("VSC_L1VALD")[0].band_files["B4"]
    outcome = harness.run_processor(
        SlantedEdgeMtf, inputs={"image": [image]}, params={"correct_binning": "true"}, tmp_path=tmp_path
    ).assert_success()
    truth = float(venus_mtf.edge_mtf(0.5, venus_config.default_config(), "B4", "across", 5.0))
    assert abs(outcome.measurements["mtf_nyquist_B4_across"] - truth) < 0.01
    assert {o.port for o in outcome.outputs} == {"curves", "plot"}
    assert all(p.is_file() for p in outcome.output_paths("curves") + outcome.output_paths("plot"))
