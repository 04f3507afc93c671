"""Image-chain truth: slanted-edge MTF, band-to-band shifts, attitude biases, terrain parallax."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from viq_proc_simulator import simulate
from viq_sim_testlib import band_array, phase_shift
from viq_venus import mtf
from viq_venus.config import default_config

F64 = npt.NDArray[np.float64]


def _edge_mtf(img: F64, freqs: F64, oversample: int = 4) -> F64:
    """Plain slanted-edge MTF (ISO 12233 style): per-line edge centroid, line fit, binned ESF, LSF, DFT."""
    rows, cols = img.shape
    deriv = np.abs(np.diff(img, axis=1))
    x = np.arange(cols - 1) + 0.5
    near = np.abs(np.arange(cols - 1)[None, :] - deriv.argmax(axis=1)[:, None]) <= 6
    deriv = np.where(near, deriv, 0.0)
    centroid = (deriv * x).sum(axis=1) / deriv.sum(axis=1)
    slope, intercept = np.polyfit(np.arange(rows), centroid, 1)
    dist = (np.arange(cols)[None, :] - (intercept + slope * np.arange(rows)[:, None])) / np.sqrt(1 + slope**2)
    step = 1.0 / oversample
    bins = np.round(dist / step).astype(int)
    keep = np.abs(dist) < 16
    idx = bins[keep] - bins[keep].min()
    esf = np.bincount(idx, img[keep]) / np.maximum(np.bincount(idx), 1)
    lsf = np.gradient(esf) / step
    lsf *= np.hanning(lsf.size)
    pos = (np.arange(lsf.size) + bins[keep].min()) * step
    spec = np.abs(np.exp(-2j * np.pi * np.outer(freqs, pos)) @ lsf) * step
    spec /= spec[0]
    # central difference and 1/oversample binning both attenuate by a sinc: undo them
    return np.asarray(spec / (np.sinc(2 * freqs * step) * np.sinc(freqs * step)), dtype=np.float64)


@pytest.mark.parametrize("direction", ["across", "along"])
def test_edge_mtf_matches_the_configured_mtf(tmp_path: Path, direction: str) -> None:
    """The MTF measured on a simulated slanted edge matches the analytic edge MTF of the configuration."""
    run = simulate(tmp_path, acquisition="edge", bands=("B4",), tdi=8, lines=192, pixels=192, edge_angle_deg=5.0,
                   edge_direction=direction, products=("l1",), truth_gipps=False)
    img = band_array(run.of_type("VSC_L1VALD")[0], "B4")
    if direction == "along":
        img = img.T
    img = img[16:-16, :]
    freqs = np.array([0.0, 0.1, 0.2, 0.3, 0.4, 0.5])
    measured = _edge_mtf(img, freqs)
    expected = mtf.edge_mtf(freqs, default_config(), "B4", direction, 5.0)
    np.testing.assert_allclose(measured[1:], expected[1:], atol=0.03)
    assert expected[-1] < 0.45  # the comparison covers a real fall-off


def _mean_disp(run_dir: Path, truth: dict[str, object], band: str) -> tuple[float, float]:
    info = truth["bands"][band]  # type: ignore[index]
    arr = np.load(run_dir / info["displacement_file"])
    return float(arr[:, 0].mean()), float(arr[:, 1].mean())


def test_band_shifts_match_focal_plane_and_attitude(tmp_path: Path) -> None:
    """B5/B6 and B4/reference shifts measured on a textured scene equal the injected displacement model."""
    run = simulate(tmp_path, acquisition="scene", bands=("B4", "B5", "B6"), tdi=8, lines=256, pixels=256,
                   products=("l1", "reference"), truth_gipps=False, seed=3)
    truth = run.truth()
    raw = run.of_type("VSC_L1VALD")[0]
    ref = run.of_type("AUX_REFIMG")[0]
    d5 = _mean_disp(tmp_path, truth, "B5")
    d6 = _mean_disp(tmp_path, truth, "B6")
    # content appears at p − d: B6 relative to B5 moves by −(d6 − d5)
    mx, my = phase_shift(band_array(raw, "B5"), band_array(raw, "B6"))
    assert mx == pytest.approx(-(d6[0] - d5[0]), abs=0.03)
    assert my == pytest.approx(-(d6[1] - d5[1]), abs=0.03)
    assert abs(d6[0] - d5[0]) > 0.1  # yaw × focal-plane distance makes a visible B5/B6 shift
    d4 = _mean_disp(tmp_path, truth, "B4")
    rx, ry = phase_shift(band_array(ref, "B4"), band_array(raw, "B4"))
    assert rx == pytest.approx(-d4[0], abs=0.05)
    assert ry == pytest.approx(-d4[1], abs=0.05)
    assert abs(d4[0]) > 1.0  # the roll bias alone is ≈ 2 px


def _bilinear(img: F64, y: F64, x: F64) -> F64:
    y0 = np.clip(np.floor(y).astype(int), 0, img.shape[0] - 2)
    x0 = np.clip(np.floor(x).astype(int), 0, img.shape[1] - 2)
    fy, fx = y - y0, x - x0
    return np.asarray(
        (1 - fy) * ((1 - fx) * img[y0, x0] + fx * img[y0, x0 + 1])
        + fy * ((1 - fx) * img[y0 + 1, x0] + fx * img[y0 + 1, x0 + 1]),
        dtype=np.float64,
    )


def test_terrain_parallax_between_b5_and_b6(tmp_path: Path) -> None:
    """With a DEM, B6 matches B5 resampled through the truth displacements (terrain term included), not without it."""
    run = simulate(tmp_path, acquisition="terrain", bands=("B5", "B6"), tdi=8, lines=160, pixels=160,
                   relief_m=1500.0, products=("l1",), truth_gipps=False, seed=5)
    truth = run.truth()
    dem = np.load(tmp_path / truth["files"]["dem_m"]).astype(np.float64)
    k5 = truth["bands"]["B5"]["terrain_px_per_m"]
    k6 = truth["bands"]["B6"]["terrain_px_per_m"]
    assert k6 - k5 == pytest.approx(2 * np.tan(np.radians(1.0)) / truth["gsd_m"], rel=0.05)
    l1 = run.of_type("VSC_L1VALD")[0]
    b5, b6 = band_array(l1, "B5"), band_array(l1, "B6")
    disp5 = np.load(tmp_path / truth["bands"]["B5"]["displacement_file"])
    disp6 = np.load(tmp_path / truth["bands"]["B6"]["displacement_file"])
    i, j = np.mgrid[0:160, 0:160].astype(np.float64)
    centre = truth["bands"]["B5"]["centre_column"]

    def dy(disp: F64, k: float, h: F64) -> F64:
        return np.asarray(disp[:, 1][:, None] - disp[:, 2][:, None] * (j - centre) - h * k, dtype=np.float64)

    # ground seen by B6 pixel (i, j): y = i + dy6; the B5 pixel seeing it: i5 + dy5(i5) = y (one fixed-point step)
    y = i + dy(disp6, k6, dem)
    x = j + disp6[:, 0][:, None] - disp5[:, 0][:, None]
    i5 = y - dy(disp5, k5, dem)
    i5 = y - dy(disp5, k5, _bilinear(dem, i5, j))
    inner = (slice(20, -20), slice(20, -20))
    with_terrain = b6 - _bilinear(b5, i5, x)
    y0 = i + dy(disp6, k6, np.zeros_like(dem))
    without = b6 - _bilinear(b5, y0 - dy(disp5, k5, np.zeros_like(dem)), x)
    rms_with = float(np.sqrt(np.mean(with_terrain[inner] ** 2)))
    rms_without = float(np.sqrt(np.mean(without[inner] ** 2)))
    assert rms_with < 0.5 * rms_without, (rms_with, rms_without)


def test_secondary_dem_is_the_truth_dem_moved_by_the_declared_shift(tmp_path: Path) -> None:
    """``dem_secondary_shift``: secondary(col, row) = dem(col + dx, row + dy) − dz, exactly at integer shifts
    away from the clamped border; the shift is recorded in the truth and both DEMs carry the same georeferencing."""
    import rasterio

    run = simulate(tmp_path, acquisition="terrain", bands=("B5", "B6"), tdi=8, lines=96, pixels=96,
                   relief_m=300.0, products=("l1",), truth_gipps=False, seed=7, dem_secondary_shift=(2.0, -3.0, 1.5))
    truth = run.truth()
    assert truth["dem_secondary_shift"]["dx_px"] == 2.0 and truth["dem_secondary_shift"]["dz_m"] == 1.5
    with rasterio.open(tmp_path / truth["files"]["dem_geotiff"]) as a, \
            rasterio.open(tmp_path / truth["files"]["dem_secondary_geotiff"]) as b:
        assert (a.crs, a.transform, a.shape) == (b.crs, b.transform, b.shape)
        dem, sec = a.read(1).astype(np.float64), b.read(1).astype(np.float64)
    assert float(np.ptp(dem)) > 100.0  # real relief, so a wrong shift could not pass
    # secondary[r, c] = dem[r - 3, c + 2] - 1.5 where both indices are inside the DEM
    np.testing.assert_allclose(sec[3:, :-2], dem[:-3, 2:] - 1.5, atol=1e-3)
    assert float(np.max(np.abs(sec[3:, :-2] - (dem[3:, :-2] - 1.5)))) > 1.0


def test_processor_publishes_the_terrain_dems_as_tiles(tmp_path: Path) -> None:
    """The processor lists the truth DEM (port ``dem``) and its shifted copy (``dem_secondary``) as AUX_DEMTIL
    products with the site footprint and an ellipsoidal vertical datum; other acquisitions publish none."""
    from viq_host.testing.harness import run_processor

    params = {"acquisition": "terrain", "bands": ["B5", "B6"], "lines": 64, "pixels": 64, "products": ["l1"],
              "truth_gipps": False, "relief_m": 200.0, "dem_secondary_shift": [0.5, 0.5, 0.0]}
    result = run_processor("venus-simulator", params=params, tmp_path=tmp_path / "t").assert_success()
    dems = {o.port: o for o in result.outputs if o.product_type == "AUX_DEMTIL"}
    assert set(dems) == {"dem", "dem_secondary"}
    for o in dems.values():
        assert o.footprint_wkt and o.metadata["vertical_datum"] == "ellipsoid"
        assert Path(o.path).is_file()
    scene = {k: v for k, v in params.items() if k != "dem_secondary_shift"} | {"acquisition": "scene"}
    plain = run_processor("venus-simulator", params=scene, tmp_path=tmp_path / "s").assert_success()
    assert not [o for o in plain.outputs if o.product_type == "AUX_DEMTIL"]
