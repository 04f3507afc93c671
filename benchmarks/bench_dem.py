"""Benchmark of viq-proc-dem against gdalwarp-equivalent baselines measured in the same run.

reference-dem: a 30 × 30 km site at 5 m in UTM 31N (6000² float32) from four 1° SRTM3 tiles (copies of the
shared Ventoux tile placed around 44 N 5 E), bilinear, EGM96 → WGS 84 ellipsoid, DEFLATE COG with overviews.
Baseline (what gdalwarp does): mosaic of the tiles, plain bilinear warp to the site grid, then the per-pixel 3-D
geoid transformation with PROJ (UTM → lon/lat → vgridshift on every output pixel), then the COG.
dem-compare: the shared demcompare pair; baseline: a straightforward Nuth & Kääb loop (scipy map_coordinates
resampling, scipy leastsq cosine fit, 6 iterations, as demcompare configures it).

Usage: uv run python benchmarks/bench_dem.py [--shared ../shared/data]
"""

from __future__ import annotations

import os

os.environ["OMP_NUM_THREADS"] = "1"  # pinned: the ratio must not depend on the caller's environment
os.environ["OPENBLAS_NUM_THREADS"] = "1"  # pinned: the ratio must not depend on the caller's environment
os.environ["GDAL_NUM_THREADS"] = "1"  # pinned: the ratio must not depend on the caller's environment

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyproj
import rasterio
from affine import Affine
from rasterio.crs import CRS
from scipy.ndimage import map_coordinates
from scipy.optimize import leastsq

from viq_interfaces import InputProduct
from viq_proc_dem import dem_compare, reference_dem
from viq_proc_dem.mosaic import GridSpec, Layer, mosaic_layers
from viq_proc_dem.rasterio_io import warp, write_cog


def make_tiles(hgt: Path, out: Path) -> list[Path]:
    """Four tiles around 44 N 5 E made from the one real tile (its heights, new georeferencing)."""
    with rasterio.open(hgt) as ds:
        z, t = ds.read(1), ds.transform
    paths = []
    for dlon, dlat in ((0, 0), (-1, 0), (0, -1), (-1, -1)):
        tt = Affine(t.a, 0, t.c + dlon, 0, t.e, t.f + dlat)
        p = out / f"tile_{dlon}_{dlat}.tif"
        with rasterio.open(p, "w", driver="GTiff", width=z.shape[1], height=z.shape[0], count=1, dtype="int16",
                           crs="EPSG:4326", transform=tt, nodata=-32768) as w:
            w.write(z, 1)
        paths.append(p)
    return paths


def site() -> tuple[str, tuple[float, float, float, float]]:
    """A 30 km square in UTM 31N centred on 44 N 5 E, and its footprint in lon/lat."""
    x, y = pyproj.Transformer.from_crs(4326, 32631, always_xy=True).transform(5.0, 44.0)
    x0, y0 = round(x / 5) * 5 - 15000, round(y / 5) * 5 - 15000
    b = (x0, y0, x0 + 30000, y0 + 30000)
    lon, lat = pyproj.Transformer.from_crs(32631, 4326, always_xy=True).transform([b[0], b[2]], [b[1], b[3]])
    wkt = f"POLYGON(({lon[0]} {lat[0]},{lon[1]} {lat[0]},{lon[1]} {lat[1]},{lon[0]} {lat[1]},{lon[0]} {lat[0]}))"
    return wkt, b


def baseline_reference(
    tiles: list[Path], geoid: Path, grid: GridSpec, out: Path
) -> tuple[dict[str, float], np.ndarray]:
    t0 = time.perf_counter()
    layers = []
    for p in tiles:
        with rasterio.open(p) as ds:
            layers.append(Layer(ds.read(1)[None].astype(np.float32), (ds.read_masks(1) != 0)[None], ds.transform))
    m = mosaic_layers(layers)
    src = np.where(m.valid[0], m.data[0], np.nan)
    t1 = time.perf_counter()
    h = warp(src, m.grid.transform, CRS.from_epsg(4326), grid, CRS.from_epsg(32631), "bilinear")
    t2 = time.perf_counter()
    rows, cols = np.mgrid[0 : grid.height, 0 : grid.width]
    x, y = grid.transform @ (cols + 0.5, rows + 0.5)
    pipe = ("+proj=pipeline +step +inv +proj=utm +zone=31 +ellps=WGS84 "
            f"+step +proj=vgridshift +grids={geoid} +multiplier=1 +step +proj=utm +zone=31 +ellps=WGS84")
    _, _, hz = pyproj.Transformer.from_pipeline(pipe).transform(x.ravel(), y.ravel(), h.ravel().astype(np.float64))
    h = np.asarray(hz, dtype=np.float32).reshape(h.shape)
    t3 = time.perf_counter()
    write_cog(out, h, grid, CRS.from_epsg(32631), float("nan"), {}, "DEFLATE", predictor=3)
    t4 = time.perf_counter()
    return {"read+mosaic": t1 - t0, "warp": t2 - t1, "geoid": t3 - t2, "cog": t4 - t3, "total": t4 - t0}, h


def baseline_nuth_kaab(ref: np.ndarray, dem: np.ndarray, iterations: int = 6) -> tuple[float, float, float]:
    gy, gx = np.gradient(dem)
    slope = np.hypot(gx, gy)
    aspect = np.mod(np.arctan2(gy, gx), 2 * np.pi)
    rows, cols = np.mgrid[0 : dem.shape[0], 0 : dem.shape[1]].astype(float)
    bins = np.arange(0, 2 * np.pi, np.pi / 36)
    dx = dy = 0.0
    for _ in range(iterations):
        rs = map_coordinates(np.nan_to_num(ref, nan=-9999), [rows + dy, cols + dx], order=1, cval=np.nan)
        dh = dem - rs
        ok = np.isfinite(dh) & (slope > 1e-3) & (rs > -9000)
        tgt, asp = dh[ok] / slope[ok], aspect[ok]
        med = []
        for b in bins:
            s = tgt[(asp >= b) & (asp < b + np.pi / 36)]
            s = s[np.abs(s - s.mean()) <= 3 * s.std()]
            med.append(np.median(s))
        centres = bins + np.pi / 72
        medians = np.asarray(med)

        def residual(q: np.ndarray, c: np.ndarray = centres, m: np.ndarray = medians) -> np.ndarray:
            return np.asarray(q[0] * np.cos(q[1] - c) + q[2] - m)

        p, _ = leastsq(residual, (1.0, 0.0, 0.0))
        dx += p[0] * np.cos(p[1])
        dy += p[0] * np.sin(p[1])
    rs = map_coordinates(np.nan_to_num(ref, nan=-9999), [rows + dy, cols + dx], order=1, cval=np.nan)
    return dx, dy, float(np.nanmean(rs - dem))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    args = ap.parse_args()
    ventoux = args.shared / "srtm_ventoux_n44e005"
    pair = args.shared / "demcompare_srtm_shift" / "input"
    if not ventoux.exists():
        print(f"shared data not found under {args.shared}")
        return 2
    geoid = ventoux / "egm96_15.gtx"
    wkt, bounds = site()
    with tempfile.TemporaryDirectory() as tmp:
        tdir = Path(tmp)
        tiles = make_tiles(ventoux / "N44E005.hgt", tdir)
        p = reference_dem.ReferenceDemParameters(
            site="BENCH", footprint_wkt=wkt, crs="EPSG:32631", resolution=5.0, bounds=bounds,
            geoid_grid=str(geoid), slope_aspect=False,
        )
        t0 = time.perf_counter()
        dem = reference_dem.build(p, [InputProduct(t, "AUX_SRTM3_") for t in tiles])
        paths = reference_dem.write_product(dem, p, tdir / "ours")
        ours = time.perf_counter() - t0
        base_t, base_h = baseline_reference(tiles, geoid, dem.grid, tdir / "baseline.tif")
        with rasterio.open(paths["dem"]) as ds:
            h = ds.read(1)
        both = np.isfinite(base_h) & np.isfinite(h) & (dem.fill_code == 0)
        diff = np.abs(h[both].astype(float) - base_h[both])
        print(f"reference-dem {dem.grid.width}x{dem.grid.height} @5 m: ours {ours:.2f} s "
              f"({', '.join(f'{k} {v:.2f}' for k, v in dem.timings.items())})")
        print(f"  baseline {base_t['total']:.2f} s ({', '.join(f'{k} {v:.2f}' for k, v in base_t.items())})")
        print(f"  ratio ours/baseline {ours / base_t['total']:.2f} (target <= 0.50); heights: max |diff| "
              f"{diff.max() * 1000:.3f} mm on {both.sum()} cells valid in both and not filled")
    if pair.exists():
        ref = dem_compare.read_dem(pair / "srtm_ref.tif", None)
        sec = dem_compare.read_dem(pair / "srtm_blurred_and_shifted.tif", -32768)
        par = dem_compare.DemCompareParameters(slope_unit="demcompare")
        t0 = time.perf_counter()
        c = dem_compare.compare(ref, sec, par)
        ours_c = time.perf_counter() - t0
        t0 = time.perf_counter()
        bdx, bdy, bdz = baseline_nuth_kaab(ref.z, sec.z)
        base_c = time.perf_counter() - t0
        print(f"dem-compare (coregistration + statistics): ours {ours_c:.2f} s -> ({c.coreg.dx:.4f}, "
              f"{c.coreg.dy:.4f}) px, dz {c.coreg.dz:.4f} m")
        print(f"  baseline N&K loop {base_c:.2f} s -> ({bdx:.4f}, {bdy:.4f}) px, dz {bdz:.4f} m; "
              f"ratio {ours_c / base_c:.2f}; demcompare 0.6.1 documented 3.5 s whole process (N&K 1.3 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
