"""Glue shared by the geometry processors: opening inputs, writing tables and JSON."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from viq_interfaces.context import InputProduct
from viq_interfaces.errors import MissingInputError, ParameterError
from viq_proc_geometry.grid import TiePoints
from viq_proc_geometry.outliers import Filtered
from viq_proc_geometry.rasterio_io import Raster, read_pair, read_product, read_raster

if TYPE_CHECKING:
    from viq_proc_geometry.gpkg import Column

IMAGE_TYPES = ("AUX_REFIMG", "VSC_L1VALD", "VSC_RAWDAT", "EXT_GEOIMG")
"""Product types an image port accepts: simulator/VENµS products (``.HDR``) or any raster (EXT_GEOIMG)."""


def image_source(product: InputProduct, band: str) -> tuple[Path, int]:
    """The raster file and band index of an input: a product header (band by name) or a raster file (``B<n>``)."""
    path = Path(product.path)
    if path.suffix.upper() == ".HDR":
        prod = read_product(path)
        name = band or next(iter(prod.bands))
        if name not in prod.bands:
            raise ParameterError(f"band {name!r} not in {path.name} (bands: {', '.join(prod.bands)})")
        return prod.bands[name], 1
    index = 1
    if band:
        if not (band.startswith("B") and band[1:].isdigit()):
            raise ParameterError(f"band {band!r}: expected B<n> for a raster file")
        index = int(band[1:])
    if not path.is_file():
        raise MissingInputError(f"{path}: file not found")
    return path, index


def open_image(product: InputProduct, band: str, nodata: float | None) -> Raster:
    """One band of an input, read whole (see :func:`image_source`)."""
    path, index = image_source(product, band)
    return read_raster(path, band=index, nodata=nodata)


def open_pair(reference: InputProduct, target: InputProduct, band: str, nodata: float | None,
              margin: int, threads: int = 2, while_decoding: Callable[[], object] | None = None
              ) -> tuple[Raster, Raster]:
    """Reference and target read only where they can meet, in parallel (see :func:`read_pair`)."""
    rp, ri = image_source(reference, band)
    tp, ti = image_source(target, band)
    return read_pair(rp, tp, ri, ti, nodata, margin, threads, while_decoding)


def tiepoint_columns(tp: TiePoints, filt: Filtered | None) -> list[Column]:
    """The tie-point table's columns (name, SQLite type, values): one row per grid node."""
    n = len(tp)
    l1 = filt.l1 if filt is not None else np.zeros(n, dtype=bool)
    l2 = filt.l2 if filt is not None else np.zeros(n, dtype=bool)
    l3 = filt.l3 if filt is not None else np.zeros(n, dtype=bool)
    valid = tp.ok & ~(l1 | l2 | l3)
    return [
        ("point_id", "INTEGER", list(range(n))), ("x_im", "INTEGER", tp.x_im.tolist()),
        ("y_im", "INTEGER", tp.y_im.tolist()), ("x_map", "REAL", tp.x_map.tolist()),
        ("y_map", "REAL", tp.y_map.tolist()), ("win_x", "INTEGER", tp.win_x.tolist()),
        ("win_y", "INTEGER", tp.win_y.tolist()), ("shift_x_px", "REAL", tp.sx.tolist()),
        ("shift_y_px", "REAL", tp.sy.tolist()), ("shift_x_map", "REAL", tp.shift_x_map.tolist()),
        ("shift_y_map", "REAL", tp.shift_y_map.tolist()), ("peak", "REAL", tp.peak.tolist()),
        ("reliability", "REAL", tp.reliability.tolist()), ("matched", "BOOLEAN", tp.ok.tolist()),
        ("l1_outlier", "BOOLEAN", l1.tolist()), ("l2_outlier", "BOOLEAN", l2.tolist()),
        ("l3_outlier", "BOOLEAN", l3.tolist()), ("valid", "BOOLEAN", valid.tolist()),
        ("reason", "TEXT", list(tp.reason)),
    ]


_CSV_FORMATS = {"x_map": "{:.3f}", "y_map": "{:.3f}", "shift_x_px": "{:.5f}", "shift_y_px": "{:.5f}",
                "shift_x_map": "{:.4f}", "shift_y_map": "{:.4f}", "peak": "{:.4f}", "reliability": "{:.2f}"}


def write_tiepoints_csv(path: Path, tp: TiePoints, filt: Filtered | None) -> None:
    """The tie-point table: one row per grid node, shifts in px and map units, quality and outlier flags."""
    cols = tiepoint_columns(tp, filt)
    fmts = [_CSV_FORMATS.get(name, "{}") for name, _, _ in cols]
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow([name for name, _, _ in cols])
        for row in zip(*(vals for _, _, vals in cols), strict=True):
            w.writerow([f.format(v) for f, v in zip(fmts, row, strict=True)])


def write_tiepoints_gpkg(path: Path, tp: TiePoints, filt: Filtered | None, crs: str | None) -> None:
    """The tie-point table as a GeoPackage point layer ``tiepoints`` (node positions, map CRS)."""
    from viq_proc_geometry.gpkg import write_points  # pyproj: imported only for this format

    write_points(path, "tiepoints", tp.x_map, tp.y_map, crs, tiepoint_columns(tp, filt),
                 description="VIQ image-registration tie points (one per grid node)")


def write_json(path: Path, data: dict[str, Any]) -> None:
    """JSON with NaN written as null."""

    def clean(v: Any) -> Any:
        if isinstance(v, float) and not np.isfinite(v):
            return None
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [clean(x) for x in v]
        if isinstance(v, np.floating | np.integer):
            return clean(v.item())
        return v

    path.write_text(json.dumps(clean(data), indent=1, sort_keys=True) + "\n", encoding="utf-8")


def finite(values: Sequence[float] | np.ndarray[Any, Any]) -> bool:
    """True when every value is finite."""
    return bool(np.all(np.isfinite(np.asarray(values, dtype=float))))
