"""Reading rasters (GeoTIFF, JPEG2000…) with rasterio, and VENµS-like products (simulator HDR + band TIFFs).

Library errors are wrapped into :mod:`viq_interfaces.errors` at this boundary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import rasterio
from affine import Affine
from lxml import etree
from rasterio.errors import RasterioError
from rasterio.windows import Window

from viq_interfaces.errors import MissingInputError, ParameterError

F32 = npt.NDArray[np.float32]
B = npt.NDArray[np.bool_]
NS = "{http://eop-cfi.esa.int/CFI}"


@dataclass(frozen=True)
class Raster:
    """One band in memory with its georeferencing and validity mask."""

    data: F32
    valid: B
    transform: Affine
    crs: str | None
    path: Path

    @property
    def shape(self) -> tuple[int, int]:
        """(lines, columns)."""
        return int(self.data.shape[0]), int(self.data.shape[1])

    @property
    def res(self) -> tuple[float, float]:
        """Pixel size (x, y), positive."""
        return abs(self.transform.a), abs(self.transform.e)

    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) in CRS units."""
        t = self.transform
        h, w = self.shape
        xs = (t.c, t.c + w * t.a)
        ys = (t.f, t.f + h * t.e)
        return min(xs), min(ys), max(xs), max(ys)


def read_raster(path: str | Path, band: int = 1, nodata: float | None = None) -> Raster:
    """Read one band as float32 with its validity mask (nodata, NaN and -9999 invalid)."""
    p = Path(path)
    if not p.is_file():
        raise MissingInputError(f"{p}: file not found")
    try:
        with rasterio.open(p) as src:
            if band > src.count:
                raise ParameterError(f"{p.name}: band {band} requested, the file has {src.count}")
            data = src.read(band, out_dtype=np.float32)
            nd = nodata if nodata is not None else src.nodata
            crs = src.crs.to_string() if src.crs else None
            transform = src.transform
    except RasterioError as err:
        raise MissingInputError(f"{p}: cannot read raster: {err}") from err
    valid = np.isfinite(data)
    if nd is not None and math.isfinite(nd):
        valid &= data != np.float32(nd)
    valid &= data != np.float32(-9999.0)
    return Raster(data, valid, transform, crs, p)


def read_window(path: Path, window: Window, band: int = 1) -> F32:
    """A window of one band as float32."""
    try:
        with rasterio.open(path) as src:
            return np.asarray(src.read(band, window=window, out_dtype=np.float32), dtype=np.float32)
    except RasterioError as err:
        raise MissingInputError(f"{path}: cannot read raster: {err}") from err


@dataclass(frozen=True)
class Product:
    """A VENµS-like product: the header and one GeoTIFF per band."""

    header: Path
    product_type: str
    bands: dict[str, Path]
    sensing_start: str
    site: str
    line_period_s: float | None
    gsd_m: float | None


def _band_name(code: str) -> str:
    return f"B{int(code[1:])}" if len(code) == 3 and code[0] == "B" and code[1:].isdigit() else code


def read_product(path: str | Path) -> Product:
    """Read a simulator/VENµS product header (``.HDR``) and locate its band files.

    A plain GeoTIFF is accepted too, as a one-band product named ``B1`` (for tests and ad-hoc use).
    """
    p = Path(path)
    if not p.exists():
        raise MissingInputError(f"{p}: product not found")
    if p.suffix.upper() != ".HDR":
        return Product(p, "", {"B1": p}, "", "", None, None)
    try:
        root = etree.parse(str(p)).getroot()
    except (OSError, etree.XMLSyntaxError) as err:
        raise MissingInputError(f"{p}: unreadable product header: {err}") from err

    def text(tag: str) -> str:
        el = root.find(f".//{NS}{tag}")
        return (el.text or "").strip() if el is not None and el.text else ""

    bands: dict[str, Path] = {}
    for el in root.iter(f"{NS}Image_File"):
        code = el.get("band_id", "")
        rel = (el.text or "").strip()
        if not rel:
            continue
        f = p.parent / rel
        if not f.is_file():
            raise MissingInputError(f"{p.name}: band file {rel} is missing")
        bands[_band_name(code)] = f
    if not bands:
        raise MissingInputError(f"{p.name}: the header lists no image file")
    lp = text("Line_Period_s")
    gsd = text("GSD_m")
    return Product(
        header=p,
        product_type=text("File_Type"),
        bands=bands,
        sensing_start=text("Acquisition_Date_Time").removeprefix("UTC="),
        site=text("Site"),
        line_period_s=float(lp) if lp else None,
        gsd_m=float(gsd) if gsd else None,
    )
