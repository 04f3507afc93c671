"""Glue shared by the geometry processors: opening inputs, writing tables and JSON."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from viq_interfaces.context import InputProduct
from viq_interfaces.errors import MissingInputError, ParameterError
from viq_proc_geometry.grid import TiePoints
from viq_proc_geometry.outliers import Filtered
from viq_proc_geometry.rasterio_io import Raster, read_pair, read_product, read_raster

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
              margin: int, threads: int = 2) -> tuple[Raster, Raster]:
    """Reference and target read only where they can meet, in parallel (see :func:`read_pair`)."""
    rp, ri = image_source(reference, band)
    tp, ti = image_source(target, band)
    return read_pair(rp, tp, ri, ti, nodata, margin, threads)


def write_tiepoints_csv(path: Path, tp: TiePoints, filt: Filtered | None) -> None:
    """The tie-point table: one row per grid node, shifts in px and map units, quality and outlier flags."""
    n = len(tp)
    l1 = filt.l1 if filt is not None else np.zeros(n, dtype=bool)
    l2 = filt.l2 if filt is not None else np.zeros(n, dtype=bool)
    l3 = filt.l3 if filt is not None else np.zeros(n, dtype=bool)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["point_id", "x_im", "y_im", "x_map", "y_map", "win_x", "win_y", "shift_x_px", "shift_y_px",
                    "shift_x_map", "shift_y_map", "peak", "reliability", "matched", "l1_outlier", "l2_outlier",
                    "l3_outlier", "valid", "reason"])
        for k in range(n):
            valid = bool(tp.ok[k] and not (l1[k] or l2[k] or l3[k]))
            w.writerow([k, int(tp.x_im[k]), int(tp.y_im[k]), f"{tp.x_map[k]:.3f}", f"{tp.y_map[k]:.3f}",
                        int(tp.win_x[k]), int(tp.win_y[k]), f"{tp.sx[k]:.5f}", f"{tp.sy[k]:.5f}",
                        f"{tp.shift_x_map[k]:.4f}", f"{tp.shift_y_map[k]:.4f}", f"{tp.peak[k]:.4f}",
                        f"{tp.reliability[k]:.2f}", bool(tp.ok[k]), bool(l1[k]), bool(l2[k]), bool(l3[k]), valid,
                        tp.reason[k]])


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
