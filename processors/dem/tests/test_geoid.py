"""Geoid grids: GTX reading, and heights equal to PROJ's vgridshift with the same grid to 1 mm."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyproj
import pytest

from viq_dem_testlib import VENTOUX
from viq_proc_dem.geoid import GeoidGrid, read_gtx, to_ellipsoid, write_gtx


def _proj_heights(grid_path: Path, lon: np.ndarray, lat: np.ndarray, h: np.ndarray) -> np.ndarray:
    pipe = (
        "+proj=pipeline +step +proj=unitconvert +xy_in=deg +xy_out=rad "
        f"+step +proj=vgridshift +grids={grid_path} +multiplier=1 +step +proj=unitconvert +xy_in=rad +xy_out=deg"
    )
    _, _, out = pyproj.Transformer.from_pipeline(pipe).transform(lon, lat, h)
    return np.asarray(out)


def _synthetic(tmp_path: Path) -> Path:
    lat = -90 + np.arange(181) * 1.0
    lon = -180 + np.arange(360) * 1.0
    lo, la = np.meshgrid(np.radians(lon), np.radians(lat))
    values = 30 * np.sin(2 * lo) * np.cos(la) + 10 * np.cos(3 * la)
    path = tmp_path / "synthetic.gtx"
    write_gtx(path, GeoidGrid(-90.0, -180.0, 1.0, 1.0, values))
    return path


def test_synthetic_grid_matches_proj(tmp_path: Path) -> None:
    """A global 1° grid written by us: our ellipsoidal heights equal PROJ's to 1 mm, date line included."""
    path = _synthetic(tmp_path)
    grid = read_gtx(path)
    assert grid.is_global and grid.values.shape == (181, 360)
    rng = np.random.default_rng(3)
    lon = np.r_[rng.uniform(-180, 180, 5000), 179.7, -179.99, 0.0]
    lat = np.r_[rng.uniform(-89, 89, 5000), 12.3, -45.0, 0.0]
    h = rng.uniform(-100, 4000, lon.size)
    ours = to_ellipsoid(h, lon, lat, grid)
    assert np.abs(ours - _proj_heights(path, lon, lat, h)).max() < 1e-3
    np.testing.assert_allclose(to_ellipsoid(ours, lon, lat, grid, direction=-1), h, atol=1e-9)


@pytest.mark.skipif(not VENTOUX.exists(), reason="shared data absent")
def test_egm96_matches_proj() -> None:
    """EGM96 15′ (egm96_15.gtx): our undulations equal PROJ vgridshift's to 1 mm worldwide and over Ventoux."""
    path = VENTOUX / "egm96_15.gtx"
    grid = read_gtx(path)
    rng = np.random.default_rng(5)
    lon = np.r_[rng.uniform(-180, 180, 20000), rng.uniform(5, 6, 2000)]
    lat = np.r_[rng.uniform(-89.9, 89.9, 20000), rng.uniform(44, 45, 2000)]
    h = np.zeros_like(lon)
    assert np.abs(to_ellipsoid(h, lon, lat, grid) - _proj_heights(path, lon, lat, h)).max() < 1e-3
    n = grid.undulation(5.5, 44.5)
    assert 45 < float(n) < 55  # EGM96 over Provence is about +50 m
