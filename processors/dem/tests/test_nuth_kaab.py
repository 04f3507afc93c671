"""Nuth & Kääb coregistration: synthetic sub-pixel shifts and bias; demcompare's result on the shared pair."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import rasterio

from viq_dem_testlib import DEMCOMPARE
from viq_proc_dem import stats
from viq_proc_dem.errors import CoregistrationError
from viq_proc_dem.nuth_kaab import coregister, shift_bilinear


def _surface(c: np.ndarray, r: np.ndarray) -> np.ndarray:
    return (400 + 60 * np.sin(c / 9.0) * np.cos(r / 13.0) + 35 * np.cos((c + 2 * r) / 17.0)
            + 0.002 * (c - 150) ** 2)


@pytest.mark.parametrize(("dx", "dy", "dz"), [(1.3, -2.6, 4.0), (-0.4, 0.25, -1.5), (3.0, 5.0, 0.0)])
def test_recovers_a_known_shift_and_bias(dx: float, dy: float, dz: float) -> None:
    """dem(c, r) = ref(c + dx, r + dy) − dz on an analytic surface: shift within 0.02 px, dz within 0.02 m."""
    pad = 12
    rr, cc = np.mgrid[-pad : 300 + pad, -pad : 280 + pad].astype(float)
    ref = _surface(cc, rr)
    r2, c2 = np.mgrid[0:300, 0:280].astype(float)
    dem = _surface(c2 + dx, r2 + dy) - dz
    res = coregister(ref, dem, ref_offset=(pad, pad))
    assert res.converged
    assert abs(res.dx - dx) < 0.02 and abs(res.dy - dy) < 0.02
    assert abs(res.dz - dz) < 0.02
    assert np.nanstd(res.difference) < 0.1


def test_flat_terrain_is_refused() -> None:
    """A plane has one aspect only: no fit possible, a clear error."""
    _, cc = np.mgrid[0:100, 0:100].astype(float)
    with pytest.raises(CoregistrationError, match="aspect sectors"):
        coregister(0.5 * cc, 0.5 * cc + 1)


def test_shift_bilinear_integer_and_fraction() -> None:
    """Integer shifts copy values; half-pixel shifts average neighbours; outside is NaN."""
    z = np.arange(20.0).reshape(4, 5)
    np.testing.assert_array_equal(shift_bilinear(z, 1, 0, (4, 4)), z[:, 1:])
    half = shift_bilinear(z, 0.5, 0, (4, 4))
    np.testing.assert_allclose(half, (z[:, :4] + z[:, 1:]) / 2)
    assert np.isnan(shift_bilinear(z, 2, 0, (4, 4))[:, 3]).all()


def _read(name: str) -> tuple[np.ndarray, rasterio.Affine]:
    with rasterio.open(DEMCOMPARE / "input" / name) as ds:
        z = ds.read(1).astype(float)
        z[z == -32768] = np.nan
        return z, ds.transform


@pytest.mark.skipif(not DEMCOMPARE.exists(), reason="shared data absent")
def test_demcompare_pair_shift_bias_and_slope_classes() -> None:
    """Shared SRTM pair: (3, 5) px within 0.05 px and dz −0.01765 m within 0.01 m (demcompare's figures);
    slope-class statistics (demcompare's slope measure, 3σ outlier removal) close to its reference CSV."""
    ref, _ = _read("srtm_ref.tif")
    dem, t = _read("srtm_blurred_and_shifted.tif")
    res = coregister(ref, dem)
    assert abs(res.dx - 3.0) < 0.05 and abs(res.dy - 5.0) < 0.05
    assert abs(res.dz - (-0.01765)) < 0.01
    lat = t.f + t.e * (np.arange(dem.shape[0]) + 0.5)
    xres, yres = stats.metric_pixel_size(t.a, t.e, lat)
    slope = stats.slope_for_classes(res.ref_shifted, xres, yres, "demcompare")
    diff = res.difference.copy()
    diff[~stats.remove_outliers(diff)] = np.nan
    ours = dict(stats.by_class(diff, slope, [0, 5, 10, 25, 45]))
    with (DEMCOMPARE / "reference_upstream" / "Slope0_stats_results.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    total = sum(int(r["nbpts"]) for r in rows)
    for row, (label, st) in zip(rows, ours.items(), strict=True):
        assert abs(st["count"] / np.isfinite(diff).sum() - int(row["nbpts"]) / total) < 0.01, label
        assert st["nmad"] == pytest.approx(float(row["nmad"]), rel=0.01), label
        assert st["rmse"] == pytest.approx(float(row["rmse"]), rel=0.02), label
        assert abs(st["mean"] - float(row["mean"])) < 0.1, label
