"""Raster I/O glue (rasterio/GDAL): opening tiles, CRS equivalence, windowed reads, warping, COG writing."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyproj
import rasterio
from affine import Affine
from numpy.typing import NDArray
from pyproj import Transformer
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.errors import RasterioError
from rasterio.io import MemoryFile
from rasterio.vrt import WarpedVRT
from rasterio.warp import reproject, transform_bounds
from rasterio.windows import Window

from viq_proc_dem.errors import DemInputError, SiteError
from viq_proc_dem.mosaic import GridSpec, Layer, is_north_up, pixel_offset

GDAL_DEFAULT_TOLERANCE = 0.125
"""gdalwarp's default approximation error of the coordinate transformation (source pixels)."""

RESAMPLING = {
    "nearest": Resampling.nearest,
    "bilinear": Resampling.bilinear,
    "cubic": Resampling.cubic,
    "cubic_spline": Resampling.cubic_spline,
    "lanczos": Resampling.lanczos,
}


@dataclass(frozen=True)
class TileInfo:
    """What a DEM tile is, without its pixels."""

    path: Path
    crs: CRS
    transform: Affine
    width: int
    height: int
    count: int
    nodata: float | None
    dtype: str
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def grid(self) -> GridSpec:
        """The tile's own pixel grid."""
        return GridSpec(self.transform, self.width, self.height)


def open_tile(path: Path) -> TileInfo:
    """Read a tile's georeferencing; DemInputError when GDAL cannot read it or it has no usable georeferencing."""
    try:
        with rasterio.open(path) as ds:
            info = TileInfo(
                path=path, crs=ds.crs, transform=ds.transform, width=ds.width, height=ds.height, count=ds.count,
                nodata=ds.nodata, dtype=ds.dtypes[0], tags=dict(ds.tags()),
            )
    except (RasterioError, OSError) as err:
        raise DemInputError(f"tile {path}: GDAL cannot read it ({err})") from err
    if info.crs is None:
        raise DemInputError(f"tile {path}: no coordinate reference system")
    if not is_north_up(info.transform):
        raise DemInputError(f"tile {path}: rotated or south-up georeferencing is not supported")
    return info


def parse_crs(text: str) -> CRS:
    """A CRS from 'EPSG:32631', WKT or PROJ text; SiteError when unknown."""
    try:
        crs = CRS.from_user_input(text)
    except (RasterioError, ValueError) as err:
        raise SiteError(f"unknown CRS {text!r} ({err})") from err
    return crs


def crs_equivalent(a: CRS, b: CRS, bounds: tuple[float, float, float, float], tolerance: float) -> bool:
    """True when ``a`` and ``b`` give the same positions over ``bounds`` (in ``a``) within ``tolerance`` (a's units).

    Catches the common case of an identical projection whose datum is only named differently (e.g. "unknown
    datum based upon the WGS 84 ellipsoid" against EPSG:32618).
    """
    if a == b:
        return True
    pa, pb = pyproj.CRS.from_wkt(a.to_wkt()), pyproj.CRS.from_wkt(b.to_wkt())
    if pa.is_geographic != pb.is_geographic:
        return False
    left, bottom, right, top = bounds
    xs, ys = np.meshgrid(np.linspace(left, right, 7), np.linspace(bottom, top, 7))
    fwd = Transformer.from_crs(pa, pb, always_xy=True)
    try:
        x2, y2 = fwd.transform(xs.ravel(), ys.ravel())
    except Exception:
        return False
    return bool(np.all(np.isfinite(x2)) and np.max(np.hypot(x2 - xs.ravel(), y2 - ys.ravel())) <= tolerance)


def lonlat_of(crs: CRS, xs: NDArray[np.float64], ys: NDArray[np.float64]) -> tuple[NDArray[np.float64], ...]:
    """Longitude and latitude (WGS 84 degrees) of points in ``crs``."""
    if crs.is_geographic:
        return np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)
    t = Transformer.from_crs(pyproj.CRS.from_wkt(crs.to_wkt()), pyproj.CRS.from_epsg(4326), always_xy=True)
    lon, lat = t.transform(xs, ys)
    return np.asarray(lon), np.asarray(lat)


def snap_grid(
    bounds: tuple[float, float, float, float], res_x: float, res_y: float, origin_x: float, origin_y: float
) -> GridSpec:
    """The grid with nodes at origin + k·res holding ``bounds`` (outward snapping)."""
    left, bottom, right, top = bounds
    eps = 1e-9
    x0 = origin_x + math.floor((left - origin_x) / res_x + eps) * res_x
    x1 = origin_x + math.ceil((right - origin_x) / res_x - eps) * res_x
    y1 = origin_y + math.ceil((top - origin_y) / res_y - eps) * res_y
    y0 = origin_y + math.floor((bottom - origin_y) / res_y + eps) * res_y
    width = round((x1 - x0) / res_x)
    height = round((y1 - y0) / res_y)
    if width <= 0 or height <= 0:
        raise SiteError(f"empty output grid for bounds {bounds}")
    return GridSpec(Affine(res_x, 0.0, x0, 0.0, -res_y, y1), width, height)


def bounds_in(src: CRS, dst: CRS, bounds: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """``bounds`` transformed to ``dst`` with densified edges."""
    if src == dst:
        return bounds
    b = transform_bounds(src, dst, *bounds, densify_pts=51)
    return (float(b[0]), float(b[1]), float(b[2]), float(b[3]))


def read_on_grid(tile: TileInfo, grid: GridSpec, band: int = 1) -> Layer | None:
    """The part of ``tile`` on ``grid`` (which shares the tile's pixel grid) as a Layer, None if they do not meet."""
    off = pixel_offset(tile.transform, grid.transform)
    if off is None:
        raise DemInputError(f"tile {tile.path} is not on the pixel grid of the first tile of its source")
    r0, c0 = off  # tile origin in grid pixels
    gr0, gc0 = max(r0, 0), max(c0, 0)
    gr1, gc1 = min(r0 + tile.height, grid.height), min(c0 + tile.width, grid.width)
    if gr1 <= gr0 or gc1 <= gc0:
        return None
    win = Window(gc0 - c0, gr0 - r0, gc1 - gc0, gr1 - gr0)
    try:
        with rasterio.open(tile.path) as ds:
            data = ds.read(band, window=win)
    except (RasterioError, OSError) as err:
        raise DemInputError(f"tile {tile.path}: corrupt data ({err})") from err
    valid = np.ones(data.shape, dtype=bool)
    if tile.nodata is not None and not (isinstance(tile.nodata, float) and math.isnan(tile.nodata)):
        valid &= data != tile.nodata
    if np.issubdtype(data.dtype, np.floating):
        valid &= np.isfinite(data)
    transform = grid.transform @ Affine.translation(gc0, gr0)
    return Layer(data[None, ...], valid[None, ...], transform)


def warp(
    data: NDArray[np.floating], src_transform: Affine, src_crs: CRS, dst: GridSpec, dst_crs: CRS,
    resampling: str, num_threads: int = 1, tolerance: float = 0.125,
) -> NDArray[np.float32]:
    """Warp float ``data`` (NaN = nodata) onto ``dst`` with GDAL; NaN where there is no value.

    ``tolerance`` is GDAL's approximation error of the coordinate transformation, in source pixels (0: exact,
    taken as 1e-6 px since GDAL's VRT warper refuses 0).
    """
    out = np.full((dst.height, dst.width), np.nan, dtype=np.float32)
    if tolerance != GDAL_DEFAULT_TOLERANCE:
        # rasterio's array reproject always approximates with 0.125 px; a WarpedVRT takes the threshold
        src = np.asarray(data, dtype=np.float32)
        with MemoryFile() as mem:
            with mem.open(
                driver="GTiff", width=src.shape[1], height=src.shape[0], count=1, dtype="float32", crs=src_crs,
                transform=src_transform, nodata=np.nan,
            ) as wds:
                wds.write(src, 1)
            with mem.open() as ds, WarpedVRT(
                ds, crs=dst_crs, transform=dst.transform, width=dst.width, height=dst.height,
                resampling=RESAMPLING[resampling], tolerance=max(tolerance, 1e-6), src_nodata=np.nan, nodata=np.nan,
                warp_extras={"NUM_THREADS": num_threads},
            ) as vrt:
                out[...] = vrt.read(1)
        return out
    reproject(
        np.asarray(data, dtype=np.float32), out, src_transform=src_transform, src_crs=src_crs, src_nodata=np.nan,
        dst_transform=dst.transform, dst_crs=dst_crs, dst_nodata=np.nan, resampling=RESAMPLING[resampling],
        num_threads=num_threads,
    )
    return out


def write_cog(
    path: Path, data: NDArray[Any], grid: GridSpec, crs: CRS, nodata: float | None, tags: dict[str, str],
    compress: str = "DEFLATE", overview_resampling: str = "average", predictor: int | None = None,
    num_threads: int = 1, description: str = "",
) -> None:
    """Write one band as a Cloud-Optimised GeoTIFF (GDAL COG driver, 512² tiles, internal overviews)."""
    opts: dict[str, Any] = {
        "driver": "COG", "width": grid.width, "height": grid.height, "count": 1, "dtype": data.dtype.name,
        "crs": crs, "transform": grid.transform, "compress": compress, "blocksize": 512,
        "overview_resampling": overview_resampling, "num_threads": num_threads, "bigtiff": "IF_SAFER",
    }
    if nodata is not None:
        opts["nodata"] = nodata
    if predictor is not None:
        opts["predictor"] = predictor
    with rasterio.open(path, "w", **opts) as ds:
        ds.write(data, 1)
        ds.update_tags(**tags)
        if description:
            ds.set_band_description(1, description)
