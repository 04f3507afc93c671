"""``band-to-band`` on simulator products: injected band shifts and jitter profiles recovered against the truth."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from geom_helpers import make_ctx

from viq_interfaces import ParameterError
from viq_proc_geometry.processors.band_to_band import BandToBand
from viq_proc_simulator import simulate


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object], Path]:
    """A 512×512 textured 12-band acquisition (default instrument: focal-plane offsets, biases, jitter)."""
    out = tmp_path_factory.mktemp("b2b")
    run = simulate(out, acquisition="scene", lines=512, pixels=512, products=("l1",), truth_gipps=False, seed=3)
    return run.products[0].header, run.truth(0), out


def _truth_blocks(sim_dir: Path, truth: dict, band: str, ref: str, lines: np.ndarray) -> tuple[np.ndarray, ...]:  # type: ignore[type-arg]
    d = {b: np.load(sim_dir / truth["bands"][b]["displacement_file"]) for b in (band, ref)}
    tdx = d[band][:, 0] - d[ref][:, 0]
    tdy = d[band][:, 1] - d[ref][:, 1]
    bx = np.array([tdx[int(c - 31.5) : int(c + 32.5)].mean() for c in lines])
    by = np.array([tdy[int(c - 31.5) : int(c + 32.5)].mean() for c in lines])
    return bx, by


def test_injected_band_shifts_recovered(tmp_path: Path, sim: tuple[Path, dict, Path]) -> None:  # type: ignore[type-arg]
    """Mean shift of each of the 11 bands vs B4 within 0.01 px RMS (max 0.02) of the injected truth; profiles
    along the lines within 0.02 px RMS; the time model predicts the truth profiles within 0.02 px RMS."""
    header, truth, sim_dir = sim
    res = BandToBand().run(make_ctx(BandToBand, tmp_path, {"product": [(header, "VSC_L1VALD")]}))
    m = {x.key: x.value for x in res.measurements}
    rows = np.genfromtxt(next(o.path for o in res.outputs if o.port == "profiles"), delimiter=",", names=True,
                         dtype=None, encoding="utf-8")
    errs, prof, model = [], [], []
    for band in truth["bands"]:
        if band == "B4":
            continue
        sel = rows["band"] == band
        lines = rows["line"][sel]
        bx, by = _truth_blocks(sim_dir, truth, band, "B4", lines)
        errs += [m[f"b2b_dx_px_{band}_across"] - bx.mean(), m[f"b2b_dy_px_{band}_along"] - by.mean()]
        prof.append(np.sqrt(np.mean((rows["dx_px"][sel] - bx) ** 2 + (rows["dy_px"][sel] - by) ** 2) / 2))
        model.append(np.sqrt(np.mean((rows["model_dx_px"][sel] - bx) ** 2 + (rows["model_dy_px"][sel] - by) ** 2) / 2))
    e = np.array(errs)
    print(f"\nmean-shift error RMS {np.sqrt(np.mean(e**2)):.4f} px, max {np.abs(e).max():.4f} px; profile RMS "
          f"max {max(prof):.4f} px; model RMS max {max(model):.4f} px")
    assert float(np.sqrt(np.mean(e**2))) <= 0.01
    assert float(np.abs(e).max()) < 0.02
    assert max(prof) < 0.02
    assert max(model) < 0.02
    assert m["b2b_model_rmse_px"] < 0.02
    assert {"b2b_du1_dx_px", "b2b_du4_dy_px", "b2b_rmse_px"} <= set(m)


def test_unknown_reference_band_refused(tmp_path: Path, sim: tuple[Path, dict, Path]) -> None:  # type: ignore[type-arg]
    """A reference band absent from the product is a ParameterError naming the bands available."""
    header, _, _ = sim
    with pytest.raises(ParameterError, match="reference_band"):
        BandToBand().run(make_ctx(BandToBand, tmp_path, {"product": [(header, "VSC_L1VALD")]},
                                  reference_band="B13"))


def test_truth_sidecar_is_what_we_compare_to(sim: tuple[Path, dict, Path]) -> None:
    """The truth names the focal-plane offsets and a jitter realisation: the profiles are not constant."""
    _, truth, sim_dir = sim
    d = np.load(sim_dir / truth["bands"]["B1"]["displacement_file"])
    assert np.ptp(d[:, 0]) > 0.02 and json.dumps(truth["attitude"]["jitter"])
