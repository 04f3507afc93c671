"""``viewing-bias``: injected steering biases recovered from simulator products (flat and terrain scenes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from geom_helpers import make_ctx, write_tif

from viq_interfaces import ProcessingError
from viq_proc_geometry.processors.viewing_bias import ViewingBias
from viq_proc_simulator import simulate
from viq_venus import geometry
from viq_venus.config import InstrumentConfig, default_config
from viq_venus.gipp import read_gipp

TRUTH = {"roll_bias_urad": 12.0, "pitch_bias_urad": -7.0, "yaw_bias_urad": 45.0}
EDGE_PX = 2600.0
"""Half an array (5200 detectors): the lever arm turning a yaw error into an image displacement."""


def _cfg(jitter: bool) -> InstrumentConfig:
    att: dict[str, Any] = dict(TRUTH)
    if not jitter:
        att |= {"jitter": (), "jitter_psd_urad2_per_hz": 0.0}
    return default_config(attitude=att)


def _run(tmp: Path, cfg: InstrumentConfig, kind: str, dem: bool = False, **sim: Any) -> tuple[Any, dict[str, Any]]:
    run = simulate(tmp / "sim", config=cfg, acquisition=kind, lines=384, pixels=1024, products=("l1", "reference"),
                   truth_gipps=False, seed=4, **sim)
    l1 = run.of_type("VSC_L1VALD")[0]
    inputs: dict[str, list[tuple[Path, str]]] = {"product": [(l1.header, "VSC_L1VALD")],
                                                 "reference": [(run.of_type("AUX_REFIMG")[0].header, "AUX_REFIMG")]}
    truth = run.truth(0)
    if dem:
        t = truth["grid"]["transform"]
        heights = np.load(tmp / "sim" / truth["files"]["dem_m"])
        inputs["dem"] = [(write_tif(tmp / "dem.tif", heights, x0=t[2], y0=t[5], res=t[0], crs=truth["grid"]["crs"]),
                          "AUX_REFDE1")]
    res = ViewingBias().run(make_ctx(ViewingBias, tmp, inputs))
    return res, truth


def _px_errors(res: Any, cfg: InstrumentConfig) -> dict[str, float]:
    m = {x.key: x for x in res.measurements}
    k = geometry.pixels_per_radian(cfg)
    return {
        "roll": abs(m["roll_bias"].value - TRUTH["roll_bias_urad"]) * 1e-6 * k,
        "pitch": abs(m["pitch_bias"].value - TRUTH["pitch_bias_urad"]) * 1e-6 * k,
        "yaw": abs(m["yaw_bias"].value - TRUTH["yaw_bias_urad"]) * 1e-6 * EDGE_PX,
    }


def test_biases_recovered_without_jitter(tmp_path: Path) -> None:
    """No jitter: roll/pitch/yaw come back within 0.01 px equivalent, homothety ≈ 0, candidate GIPP = estimate."""
    cfg = _cfg(jitter=False)
    res, _ = _run(tmp_path, cfg, "scene")
    err = _px_errors(res, cfg)
    print(f"\n{res.summary}; px-equivalent errors {err}")
    assert max(err.values()) < 0.01
    m = {x.key: x for x in res.measurements}
    assert abs(m["focal_homothety"].value) < 2e-6
    gipp = read_gipp(next(o.path for o in res.outputs if o.port == "candidate"), "IMQ_SBPARS")
    assert abs(gipp.content.roll_bias - m["roll_bias"].value) < 1e-3  # type: ignore[attr-defined]


def test_biases_recovered_with_jitter_within_uncertainty(tmp_path: Path) -> None:
    """Default jitter: within 0.05 px equivalent, and each truth within 3 σ of the (cluster-robust) estimate."""
    cfg = _cfg(jitter=True)
    res, _ = _run(tmp_path, cfg, "scene")
    err = _px_errors(res, cfg)
    print(f"\n{res.summary}; px-equivalent errors {err}")
    assert max(err.values()) < 0.05
    m = {x.key: x for x in res.measurements}
    for name in ("roll", "pitch", "yaw"):
        meas = m[f"{name}_bias"]
        assert meas.uncertainty is not None
        assert abs(meas.value - TRUTH[f"{name}_bias_urad"]) < 3 * meas.uncertainty + 1e-3


def test_terrain_parallax_removed_with_the_dem(tmp_path: Path) -> None:
    """Terrain scene (800 m relief): with the DEM the biases come back within 0.02 px equivalent."""
    cfg = _cfg(jitter=False)
    res, _ = _run(tmp_path, cfg, "terrain", dem=True, relief_m=800.0)
    err = _px_errors(res, cfg)
    print(f"\n{res.summary}; px-equivalent errors {err}")
    assert max(err.values()) < 0.02


def test_dem_not_covering_the_scene_is_an_error(tmp_path: Path) -> None:
    """A DEM elsewhere is refused with a clear ProcessingError, not silently ignored."""
    cfg = _cfg(jitter=False)
    run = simulate(tmp_path / "sim", config=cfg, acquisition="scene", lines=128, pixels=256,
                   products=("l1", "reference"), truth_gipps=False, seed=1, bands=("B3", "B4"))
    truth = run.truth(0)
    dem = write_tif(tmp_path / "far.tif", np.zeros((50, 50)), x0=10.0, y0=100.0, res=1.0, crs=truth["grid"]["crs"])
    ctx = make_ctx(ViewingBias, tmp_path, {"product": [(run.of_type("VSC_L1VALD")[0].header, "VSC_L1VALD")],
                                           "reference": [(run.of_type("AUX_REFIMG")[0].header, "AUX_REFIMG")],
                                           "dem": [(dem, "AUX_REFDE1")]}, window=64, grid_step=32)
    with pytest.raises(ProcessingError, match="does not cover"):
        ViewingBias().run(ctx)
