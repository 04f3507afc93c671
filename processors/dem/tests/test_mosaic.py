"""Mosaicking: priority, seams, exact reproduction of the Landsat-7 mosaic, CRS equivalence."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from affine import Affine

from viq_dem_testlib import LANDSAT
from viq_proc_dem.mosaic import Layer, empty_mosaic, mosaic_layers, paste, union_grid
from viq_proc_dem.rasterio_io import crs_equivalent


def _layer(z: np.ndarray, x0: float, y0: float, res: float = 1.0, nodata: float | None = None) -> Layer:
    valid = np.ones(z.shape, bool) if nodata is None else z != nodata
    return Layer(z[None], valid[None], Affine(res, 0, x0, 0, -res, y0))


def test_adjacent_tiles_join_without_seam() -> None:
    """Two tiles cut from one surface with a shared edge column mosaic back to the surface exactly."""
    yy, xx = np.mgrid[0:50, 0:81].astype(float)
    truth = np.sin(xx / 7.0) * 40 + yy * 0.3
    west, east = truth[:, :41], truth[:, 40:]
    m = mosaic_layers([_layer(west, 0, 50), _layer(east, 40, 50)])
    assert m.data.shape == (1, 50, 81)
    np.testing.assert_array_equal(m.data[0], truth)
    assert m.valid.all() and m.covered.all()
    assert (m.source[:, :41] == 0).all() and (m.source[:, 41:] == 1).all()


def test_first_tile_wins_and_voids_take_the_next() -> None:
    """Overlap keeps the first tile's value; a void in the first tile is filled from the second."""
    a = np.full((4, 4), 1.0)
    a[1, 1] = -9999
    b = np.full((4, 4), 2.0)
    m = mosaic_layers([_layer(a, 0, 4, nodata=-9999), _layer(b, 0, 4)])
    expected = np.full((4, 4), 1.0)
    expected[1, 1] = 2.0
    np.testing.assert_array_equal(m.data[0], expected)
    assert m.source[1, 1] == 1 and (m.source[m.data[0] == 1.0] == 0).all()


def test_misaligned_tile_is_refused() -> None:
    """A tile off the mosaic's pixel grid by a fraction of a pixel is an error, not a silent shift."""
    grid = union_grid([Affine(1, 0, 0, 0, -1, 4)], [(4, 4)])
    m = empty_mosaic(grid, 1, np.float32)
    with pytest.raises(ValueError, match="not on the mosaic's pixel grid"):
        paste(m, _layer(np.ones((4, 4)), 0.4, 4), 0)


@pytest.mark.skipif(not LANDSAT.exists(), reason="shared data absent")
def test_landsat_tiles_mosaic_bit_for_bit() -> None:
    """The four Landsat-7 tiles mosaic to RGB.byte.tif exactly: shape, transform and every pixel."""
    layers = []
    for i in range(1, 5):
        with rasterio.open(LANDSAT / "tiles" / f"rgb{i}.tif") as ds:
            layers.append(Layer(ds.read(), ds.read_masks() != 0, ds.transform))
    m = mosaic_layers(layers)
    with rasterio.open(LANDSAT / "reference" / "RGB.byte.tif") as ref:
        expected = ref.read()
        assert m.grid.transform == ref.transform
    assert m.data.shape == expected.shape
    assert int((m.data != expected).sum()) == 0


@pytest.mark.skipif(not LANDSAT.exists(), reason="shared data absent")
def test_unknown_datum_on_wgs84_ellipsoid_is_equivalent_to_epsg_32618() -> None:
    """The tiles' 'unknown datum based upon WGS 84' UTM 18N equals EPSG:32618; UTM 19N does not."""
    with rasterio.open(LANDSAT / "tiles" / "rgb1.tif") as ds:
        crs, bounds = ds.crs, tuple(ds.bounds)
    assert crs != rasterio.crs.CRS.from_epsg(32618)
    assert crs_equivalent(crs, rasterio.crs.CRS.from_epsg(32618), bounds, tolerance=0.3)
    assert not crs_equivalent(crs, rasterio.crs.CRS.from_epsg(32619), bounds, tolerance=0.3)
