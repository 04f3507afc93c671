"""Shared fixtures: a hand-built RunContext, shared-data paths, synthetic tiles."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from affine import Affine
from numpy.typing import NDArray
from pydantic import BaseModel

from viq_host.testing.context import ListLogger
from viq_interfaces import InputProduct, Processor, RunContext

SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "data"
VENTOUX = SHARED / "srtm_ventoux_n44e005"
DEMCOMPARE = SHARED / "demcompare_srtm_shift"
LANDSAT = SHARED / "landsat7_rgb_mosaic"


def make_context(
    processor: type[Processor], out: Path, inputs: Mapping[str, Sequence[InputProduct]], **params: Any
) -> RunContext[BaseModel]:
    """A RunContext as the worker would build it."""
    out.mkdir(parents=True, exist_ok=True)
    return RunContext(
        job_id="job-1", attempt_id="job-1-a1", processor=processor.declaration.name,
        version=processor.declaration.version, inputs={k: tuple(v) for k, v in inputs.items()},
        params=processor.Parameters.model_validate(params), gipps={}, work_dir=out / "work", output_dir=out,
        logger=ListLogger(), is_cancelled=lambda: False,
    )


def write_tile(
    path: Path, data: NDArray[Any], transform: Affine, crs: str = "EPSG:4326", nodata: float | None = -32768
) -> Path:
    """Write a single-band GeoTIFF tile."""
    with rasterio.open(
        path, "w", driver="GTiff", width=data.shape[1], height=data.shape[0], count=1, dtype=data.dtype.name,
        crs=crs, transform=transform, nodata=nodata,
    ) as ds:
        ds.write(data, 1)
    return path


def terrain(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> NDArray[np.float64]:
    """A smooth analytic terrain (metres) used as ground truth for synthetic tiles."""
    return 800.0 + 300.0 * np.sin(3.0 * lon) * np.cos(2.0 * lat) + 120.0 * np.cos(7.0 * lon + 5.0 * lat)


@pytest.fixture
def tile_factory(tmp_path: Path) -> Callable[..., Path]:
    """Writes 1°×1° SRTM-like tiles (node-registered, 1/n° cells) sampling :func:`terrain`."""

    def make(lon0: int, lat0: int, n: int = 120, name: str | None = None, offset: float = 0.0,
             void: NDArray[np.bool_] | None = None, dtype: str = "float32") -> Path:
        res = 1.0 / n
        t = Affine(res, 0, lon0 - res / 2, 0, -res, lat0 + 1 + res / 2)
        cols = lon0 + np.arange(n + 1) * res
        rows = lat0 + 1 - np.arange(n + 1) * res
        lon, lat = np.meshgrid(cols, rows)
        z = (terrain(lon, lat) + offset).astype(dtype)
        if void is not None:
            z[void] = -32768
        return write_tile(tmp_path / (name or f"T{lat0}_{lon0}_{n}.tif"), z, t)

    return make
