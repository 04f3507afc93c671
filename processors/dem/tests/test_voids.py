"""Void detection and filling: SRTM void census, exact harmonic fill, delta-surface fill, fill mask."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio

from viq_dem_testlib import VENTOUX
from viq_proc_dem.errors import AllVoidError
from viq_proc_dem.voids import FROM_SECONDARY, INTERPOLATED, ORIGINAL, fill_voids, find_voids, laplace_fill


def _harmonic(shape: tuple[int, int]) -> np.ndarray:
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]].astype(float)
    return 500 + 2.0 * xx - 1.5 * yy + 0.01 * (xx**2 - yy**2)  # discrete-harmonic: 5-point Laplacian is 0


def test_laplace_fill_reproduces_a_harmonic_surface() -> None:
    """A surface with zero discrete Laplacian is filled back exactly (to solver precision)."""
    z = _harmonic((60, 70))
    void = np.zeros(z.shape, bool)
    void[10:25, 12:30] = True
    void[40:44, 50:66] = True
    filled = laplace_fill(np.where(void, 0.0, z), void)
    assert np.abs(filled - z).max() < 1e-8


def test_delta_fill_removes_the_secondary_bias_and_marks_cells() -> None:
    """A secondary source biased by 7 m fills the void without a step; the mask flags exactly those cells."""
    z = _harmonic((40, 40))
    valid = np.ones(z.shape, bool)
    valid[5:15, 5:15] = False
    valid[30:33, 30:33] = False
    secondary = z + 7.0
    sec_valid = np.ones(z.shape, bool)
    sec_valid[30:33, 30:33] = False  # the secondary has its own void there: interpolated instead
    res = fill_voids(np.where(valid, z, np.nan), valid, secondary, sec_valid)
    assert np.abs(res.z - z).max() < 1e-8
    assert (res.code[5:15, 5:15] == FROM_SECONDARY).all()
    assert (res.code[30:33, 30:33] == INTERPOLATED).all()
    assert int((res.code != ORIGINAL).sum()) == 100 + 9


def test_void_without_valid_neighbour_is_an_error() -> None:
    """An all-void array cannot be filled and says so."""
    with pytest.raises(AllVoidError):
        fill_voids(np.zeros((5, 5)), np.zeros((5, 5), bool))


@pytest.mark.skipif(not VENTOUX.exists(), reason="shared data absent")
def test_srtm_void_census_and_fill() -> None:
    """N44E005.hgt: 4822 void cells in 328 4-connected regions (largest 530); all filled, mask exact."""
    with rasterio.open(VENTOUX / "N44E005.hgt") as ds:
        z = ds.read(1)
        valid = ds.read_masks(1) != 0
    s = find_voids(~valid)
    assert (s.cells, s.regions, s.largest) == (4822, 328, 530)
    res = fill_voids(z.astype(float), valid)
    assert np.isfinite(res.z).all()
    np.testing.assert_array_equal(res.code == INTERPOLATED, ~valid)
    np.testing.assert_array_equal(res.z[valid], z[valid])
    # filled heights stay within the heights around each void
    assert res.z[~valid].min() >= z[valid].min() and res.z[~valid].max() <= z[valid].max()
