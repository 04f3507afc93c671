"""Files served by the API, found from catalog rows only (never from a path given by a client).

A product's file is served only when its resolved path (symbolic links followed) lies inside one of the
installation's data roots, its work root or its home; anything else is refused, whatever the catalog says.
Quicklooks are PNGs rendered from the product's raster (a GDAL-readable file, or the first GeoTIFF inside a
directory product), at most :data:`QUICKLOOK_SIZE` pixels on the long side, stretched between the 2nd and
98th percentiles, cached under ``HOME/cache/quicklook`` by product id and checksum.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import numpy as np

from viq_host.catalog.base import ProductRecord
from viq_host.config import Settings
from viq_interfaces.errors import ViqError

QUICKLOOK_SIZE = 512
RASTER_SUFFIXES = (".tif", ".tiff", ".jp2", ".img", ".vrt", ".png", ".jpg")


class FileRefused(ViqError, PermissionError):
    """Raised when a catalogued path lies outside every root the API may serve from."""


class NoRaster(ViqError, LookupError):
    """Raised when a product has no raster to render."""


def allowed_roots(settings: Settings) -> list[Path]:
    """Directories files may be served from (resolved)."""
    roots = [*settings.data_roots, settings.work_dir, settings.home]
    return [Path(os.path.realpath(r)) for r in roots]


def servable_path(record: ProductRecord, settings: Settings) -> Path:
    """The product's file, resolved and checked to lie inside an allowed root; FileRefused otherwise."""
    raw = Path(record.path)
    if not raw.is_absolute():
        raise FileRefused(f"product {record.id}: catalogued path is not absolute")
    real = Path(os.path.realpath(raw))
    if not any(real == root or real.is_relative_to(root) for root in allowed_roots(settings)):
        raise FileRefused(f"product {record.id}: its file lies outside the data roots of this installation")
    return real


def _raster_file(path: Path) -> Path:
    if path.is_file():
        return path
    if path.is_dir():
        for candidate in sorted(path.rglob("*")):
            if candidate.is_file() and candidate.suffix.lower() in RASTER_SUFFIXES:
                return candidate
    raise NoRaster(f"{path.name}: no raster file")


def _stretch(band: np.ndarray[Any, Any], valid: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    values = band[valid]
    if values.size == 0:
        return np.zeros(band.shape, dtype=np.uint8)
    lo, hi = (float(v) for v in np.percentile(values, [2.0, 98.0]))
    if not hi > lo:
        hi = lo + 1.0
    scaled = np.clip((band.astype(np.float64) - lo) / (hi - lo), 0.0, 1.0) * 255.0
    out: np.ndarray[Any, Any] = scaled.astype(np.uint8)
    out[~valid] = 0
    return out


def render_quicklook(path: Path, size: int = QUICKLOOK_SIZE) -> bytes:
    """PNG bytes of the raster at ``path``: grey for one band, RGB from bands 3, 2, 1 when there are ≥ 3."""
    import rasterio
    from PIL import Image
    from rasterio.enums import Resampling
    from rasterio.errors import RasterioError

    raster = _raster_file(path)
    try:
        with rasterio.open(raster) as src:
            scale = max(src.width, src.height) / float(size)
            width = max(1, round(src.width / max(scale, 1.0)))
            height = max(1, round(src.height / max(scale, 1.0)))
            indexes = [3, 2, 1] if src.count >= 3 else [1]
            data = src.read(indexes, out_shape=(len(indexes), height, width), resampling=Resampling.average)
            nodata = src.nodata
    except (RasterioError, OSError) as err:
        raise NoRaster(f"{raster.name}: not a readable raster ({err})") from err
    valid = np.all(np.isfinite(data), axis=0)
    if nodata is not None:
        valid &= np.all(data != nodata, axis=0)
    bands = [_stretch(b, valid) for b in data]
    image = Image.fromarray(bands[0], "L") if len(bands) == 1 else Image.fromarray(np.dstack(bands), "RGB")
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def quicklook(record: ProductRecord, settings: Settings) -> bytes:
    """The cached quicklook of a product, rendered on first use."""
    cache = settings.home / "cache" / "quicklook"
    cached = cache / f"{record.id}-{record.sha256[:16]}.png"
    if cached.is_file():
        return cached.read_bytes()
    data = render_quicklook(servable_path(record, settings))
    cache.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_name(f".{cached.name}.{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, cached)
    return data
