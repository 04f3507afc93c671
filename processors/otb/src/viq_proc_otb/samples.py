"""Tiny sample inputs for ``viq processors check`` (applications cheap enough to run in the test suite)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.transform import from_origin

SAMPLE_PARAMS: dict[str, dict[str, Any]] = {"BandMath": {"exp": "im1b1 * 2"}, "ComputeImagesStatistics": {}}
"""Applications that have a sample, with the parameters of their sample run."""


def tiny_geotiff(path: Path, values: np.ndarray[Any, Any]) -> Path:
    """A one-band float32 GeoTIFF (UTM 33N, 10 m) holding ``values``."""
    rows, cols = values.shape
    profile = {
        "driver": "GTiff", "height": rows, "width": cols, "count": 1, "dtype": "float32",
        "crs": "EPSG:32633", "transform": from_origin(330000.0, 5862000.0, 10.0, 10.0),
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(values.astype(np.float32), 1)
    return path


def sample_image(tmp_dir: Path) -> dict[str, list[Path]]:
    """One 16×16 ramp image for the ``il`` port."""
    values = np.arange(256, dtype=np.float32).reshape(16, 16)
    return {"il": [tiny_geotiff(tmp_dir / "sample_OTB_IMAGE_.tif", values)]}
