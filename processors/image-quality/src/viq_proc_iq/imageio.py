"""Reading edge images (GeoTIFF / TIFF / JPEG / PNG) band by band and window by window."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


class ImageReadError(OSError):
    """The file cannot be opened or read as an image."""


@dataclass(frozen=True)
class ImageInfo:
    """What the processor needs to know about an image file."""

    width: int
    height: int
    count: int
    dtype: str
    descriptions: tuple[str | None, ...]
    is_rgb: bool
    """The first three bands are red, green and blue (colour interpretation, or a JPEG/PNG colour file)."""

    @property
    def integer_max(self) -> float | None:
        """Largest value of an integer sample type (None for floats)."""
        dt = np.dtype(self.dtype)
        return float(np.iinfo(dt).max) if np.issubdtype(dt, np.integer) else None


class EdgeImage:
    """An open image; read bands (1-based) or windows of them as float64."""

    def __init__(self, dataset: Any) -> None:
        self._ds = dataset
        interp = [str(getattr(c, "name", c)).lower() for c in dataset.colorinterp]
        is_rgb = dataset.count in (3, 4) and interp[:3] == ["red", "green", "blue"]
        self.info = ImageInfo(
            width=int(dataset.width),
            height=int(dataset.height),
            count=int(dataset.count),
            dtype=str(dataset.dtypes[0]),
            descriptions=tuple(dataset.descriptions),
            is_rgb=is_rgb,
        )

    def read(self, band: int, x0: int = 0, y0: int = 0, w: int | None = None, h: int | None = None) -> FloatArray:
        """Band ``band`` (1-based) over the window ``x0, y0, w, h`` (whole band by default)."""
        from rasterio.windows import Window

        width = self.info.width - x0 if w is None else w
        height = self.info.height - y0 if h is None else h
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                data = self._ds.read(band, window=Window(x0, y0, width, height), masked=True)
        except Exception as err:  # rasterio raises its own hierarchy; wrap at the boundary
            raise ImageReadError(f"cannot read band {band} of {self._ds.name}: {err}") from err
        out = np.asarray(data.filled(np.nan) if np.ma.is_masked(data) else np.asarray(data), dtype=np.float64)
        return out


@contextmanager
def open_image(path: Path) -> Iterator[EdgeImage]:
    """Open ``path`` with rasterio (GDAL reads GeoTIFF, TIFF, JPEG and PNG); plain images need no georeference."""
    import rasterio
    from rasterio.errors import RasterioIOError

    if not path.is_file():
        raise ImageReadError(f"{path} does not exist")
    source: str | Path = path
    if path.suffix.lower() == ".hdr":  # a VENµS product: header + one GeoTIFF per band, read as one stack
        from viq_venus.products import band_stack_vrt, read_header

        try:
            source = band_stack_vrt(read_header(path))
        except Exception as err:  # header errors become image errors at this boundary
            raise ImageReadError(f"{path} is not a readable product header: {err}") from err
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # NotGeoreferencedWarning for plain TIFF/JPEG files
            ds = rasterio.open(source)
    except RasterioIOError as err:
        raise ImageReadError(f"{path} is not a readable image: {err}") from err
    try:
        yield EdgeImage(ds)
    finally:
        ds.close()
