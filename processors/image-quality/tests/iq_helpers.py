"""Helpers of the image-quality tests: read and write small image files."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt


def read_image(path: Path) -> npt.NDArray[np.float64]:
    """All bands of an image file as ``(bands, rows, cols)`` float64."""
    import rasterio

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with rasterio.open(path) as ds:
            return np.asarray(ds.read(), dtype=np.float64)


def write_tiff(
    path: Path,
    bands: npt.ArrayLike,
    *,
    dtype: str = "uint16",
    descriptions: Sequence[str] | None = None,
    rgb: bool = False,
) -> Path:
    """Write ``(bands, rows, cols)`` (or a 2-D array) as a plain GeoTIFF-less TIFF."""
    import rasterio
    from rasterio.enums import ColorInterp

    data = np.asarray(bands)
    if data.ndim == 2:
        data = data[None]
    profile = {
        "driver": "GTiff",
        "width": data.shape[2],
        "height": data.shape[1],
        "count": data.shape[0],
        "dtype": dtype,
    }
    if rgb:
        profile["photometric"] = "RGB"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with rasterio.open(path, "w", **profile) as ds:
            ds.write(np.round(data).astype(dtype) if "int" in dtype else data.astype(dtype))
            if rgb:
                ds.colorinterp = [ColorInterp.red, ColorInterp.green, ColorInterp.blue]
            for i, name in enumerate(descriptions or ()):
                ds.set_band_description(i + 1, name)
    return path
