"""Test factories: a valid EEGS job order for a processor, and tiny GeoTIFFs.

``make_job_order`` builds the order from the processor's declaration (task name, output ports, the
File_Type of each input picked from the port's accepted types) so a test only names what matters: the
files per input port and the parameters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from viq_host.jobs.build import PathLike, build_job_order, param_text
from viq_host.jobs.eegs import write_job_order
from viq_interfaces.declaration import ProcessorDeclaration
from viq_interfaces.processor import Processor

__all__ = ["PathLike", "build_job_order", "make_job_order", "param_text", "write_geotiff"]


def make_job_order(
    processor: type[Processor] | ProcessorDeclaration,
    path: Path,
    *,
    inputs: Mapping[str, Sequence[PathLike]] | None = None,
    params: Mapping[str, Any] | None = None,
    file_types: Mapping[str, str] | None = None,
    sensing: tuple[datetime, datetime] | None = None,
    site: str | None = None,
) -> Path:
    """Write a valid EEGS job order for ``processor`` at ``path`` and return ``path``."""
    decl = processor if isinstance(processor, ProcessorDeclaration) else processor.declaration
    order = build_job_order(decl, inputs=inputs, params=params, file_types=file_types, sensing=sensing, site=site)
    write_job_order(order, path)
    return path


def write_geotiff(
    path: Path,
    data: npt.ArrayLike,
    *,
    crs: str = "EPSG:32631",
    origin: tuple[float, float] = (500_000.0, 4_800_000.0),
    pixel_size: float = 5.0,
    nodata: float | None = None,
    tags: Mapping[str, str] | None = None,
) -> Path:
    """Write a small GeoTIFF (2-D array = one band, 3-D = bands first) north-up at ``origin``; return ``path``."""
    import rasterio
    from rasterio.transform import from_origin

    array = np.asarray(data)
    if array.ndim == 2:
        array = array[np.newaxis, ...]
    if array.ndim != 3:
        raise ValueError(f"expected a 2-D or 3-D array, got shape {array.shape}")
    count, height, width = array.shape
    path.parent.mkdir(parents=True, exist_ok=True)
    profile: dict[str, Any] = {
        "driver": "GTiff",
        "height": height,
        "width": width,
        "count": count,
        "dtype": array.dtype.name,
        "crs": crs,
        "transform": from_origin(origin[0], origin[1], pixel_size, pixel_size),
    }
    if nodata is not None:
        profile["nodata"] = nodata
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(array)
        if tags:
            dst.update_tags(**tags)
    return path
