"""The batched matcher and the overlap reader give the results of the one-window-at-a-time path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from geom_helpers import texture, warp_affine_shift, write_tif

from viq_proc_geometry.grid import GridSpec, TiePoints, compute_grid
from viq_proc_geometry.rasterio_io import read_pair, read_raster

CX = (0.45, 1.0e-4, -0.5e-4)
CY = (-1.6, 0.0, 1.5e-4)


def _scene(tmp_path: Path) -> tuple[Path, Path]:
    """A textured pair with an affine shift field, no-data holes, a flat (cloud-like) patch and offset grids."""
    base = texture((520, 480), seed=21)
    tgt = 100 + 20 * warp_affine_shift(base, CX, CY)
    ref = 100 + 20 * base
    ref[60:90, 300:340] = 0.0  # small hole: windows there are filled (max_nodata) or shrunk
    tgt[360:495, 20:220] = 250.0  # featureless patch
    tgt[200:215, 100:120] = 0.0
    r = write_tif(tmp_path / "ref.tif", ref, nodata=0.0)
    t = write_tif(tmp_path / "tgt.tif", tgt[25:, 35:], x0=600000.0 + 350.0, y0=4800000.0 - 250.0, nodata=0.0)
    return r, t


def _same(a: TiePoints, b: TiePoints, tol: float) -> None:
    assert np.array_equal(a.ok, b.ok)
    assert np.array_equal(a.win_x, b.win_x) and np.array_equal(a.win_y, b.win_y)
    m = a.ok
    assert m.sum() > 0
    assert float(np.max(np.abs(a.sx[m] - b.sx[m]))) <= tol
    assert float(np.max(np.abs(a.sy[m] - b.sy[m]))) <= tol
    assert float(np.max(np.abs(a.reliability - b.reliability))) < 0.01
    assert float(np.max(np.abs(a.peak - b.peak))) < 1e-4
    assert [x.split("=")[0] for x in a.reason] == [x.split("=")[0] for x in b.reason]


def test_batched_equals_window_loop_with_holes_edges_and_flat_windows(tmp_path: Path) -> None:
    """Stacks of mixed window sizes (edge shrinking, filled no-data, featureless) match the loop to 1e-4 px."""
    r, t = _scene(tmp_path)
    ref, tgt = read_raster(r), read_raster(t)
    for spec in (GridSpec(step=40, window=96, min_window=32), GridSpec(step=40, window=96, min_window=32,
                                                                        max_nodata=0.05, iterations=3)):
        loop = compute_grid(ref, tgt, spec, batched=False)
        for threads in (1, 2):
            batch = compute_grid(ref, tgt, spec, threads=threads)
            _same(loop, batch, 1e-4)
            assert len(set(batch.win_x[batch.win_x > 0])) > 1  # several stack shapes
            assert any("featureless" in x for x in batch.reason)


def test_overlap_reader_gives_the_same_grid(tmp_path: Path) -> None:
    """Reading only the overlap (reference cropped, target kept in its frame) changes no tie point."""
    r, t = _scene(tmp_path)
    spec = GridSpec(step=40, window=96, min_window=32)
    full = compute_grid(read_raster(r), read_raster(t), spec)
    ref, tgt = read_pair(r, t, margin=9)
    assert tgt.shape == read_raster(t).shape
    assert ref.shape[0] < 520 and ref.shape[1] < 480  # cropped to the target's extent + margin
    _same(full, compute_grid(ref, tgt, spec), 0.0)


def test_multiband_jp2_is_read_through_gdal(tmp_path: Path) -> None:
    """A JPEG 2000 file with several bands is not decoded by imagecodecs (no colour transform can differ from
    GDAL's): ``decode_jp2`` declines it and ``read_raster`` gives GDAL's pixels of the band asked for; a one-band
    JP2 is decoded with the same pixels as GDAL's."""
    import rasterio
    from affine import Affine

    from viq_proc_geometry.rasterio_io import decode_jp2

    rng = np.random.default_rng(3)
    data = rng.integers(1, 4000, size=(3, 96, 80)).astype(np.uint16)
    prof = {"width": 80, "height": 96, "dtype": "uint16", "crs": "EPSG:32631",
            "transform": Affine(10.0, 0.0, 600000.0, 0.0, -10.0, 4800000.0), "QUALITY": 100, "REVERSIBLE": "YES"}
    multi, single = tmp_path / "multi.jp2", tmp_path / "single.jp2"
    with rasterio.open(multi, "w", driver="JP2OpenJPEG", count=3, **prof) as dst:
        dst.write(data)
    with rasterio.open(single, "w", driver="JP2OpenJPEG", count=1, **prof) as dst:
        dst.write(data[1], 1)
    assert decode_jp2(multi, 2) is None
    one = decode_jp2(single)
    assert one is not None
    for path, band in ((multi, 2), (single, 1)):
        with rasterio.open(path) as src:
            gdal = src.read(band).astype(np.float32)
        got = read_raster(path, band=band, nodata=0)
        assert np.array_equal(got.data, gdal)
        assert got.transform == prof["transform"]
    assert np.array_equal(one, data[1])
