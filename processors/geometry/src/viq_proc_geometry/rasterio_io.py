"""Reading rasters (GeoTIFF, JPEG2000…) with rasterio, and VENµS-like products (simulator HDR + band TIFFs).

JPEG 2000 pixels are decoded by OpenJPEG through ``imagecodecs`` (whole file, the GIL released): twice less CPU
than rasterio's GDAL/OpenJPEG on the S2 pair, identical values (test); rasterio still reads the georeferencing.
``rasterio`` is imported when first used, so that its import can run while the images decode.
Library errors are wrapped into :mod:`viq_interfaces.errors` at this boundary.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from affine import Affine

from viq_interfaces.errors import MissingInputError, ParameterError

if TYPE_CHECKING:
    from rasterio.windows import Window

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


Region = tuple[int, int, int, int]
"""A pixel region of a file: (first line, end line, first column, end column), end excluded."""


@dataclass(frozen=True)
class RasterInfo:
    """Georeferencing of a raster file (nothing read but the header)."""

    transform: Affine
    shape: tuple[int, int]
    crs: str | None
    count: int
    nodata: float | None = None


JP2_SUFFIXES = frozenset({".jp2", ".j2k", ".j2c", ".jpx", ".jpf"})
"""File name suffixes decoded with :func:`decode_jp2` (whole file, OpenJPEG via imagecodecs)."""


def raster_info(path: str | Path) -> RasterInfo:
    """Header of a raster file: transform, (lines, columns), CRS, band count and no-data value."""
    import rasterio
    from rasterio.errors import RasterioError

    p = Path(path)
    if not p.is_file():
        raise MissingInputError(f"{p}: file not found")
    try:
        with rasterio.open(p) as src:
            return RasterInfo(src.transform, (int(src.height), int(src.width)),
                              src.crs.to_string() if src.crs else None, int(src.count),
                              float(src.nodata) if src.nodata is not None else None)
    except RasterioError as err:
        raise MissingInputError(f"{p}: cannot read raster: {err}") from err


def decode_jp2(path: Path, band: int = 1) -> npt.NDArray[Any] | None:
    """All pixels of a one-band JPEG 2000 file, decoded by OpenJPEG through ``imagecodecs`` (the GIL is
    released while it decodes); None when the file is not JPEG 2000, has several components (imagecodecs may
    apply a colour transform that GDAL does not) or cannot be decoded (the caller then reads through rasterio,
    which reports any real error)."""
    if path.suffix.lower() not in JP2_SUFFIXES:
        return None
    try:
        import imagecodecs
    except ImportError:  # pragma: no cover - a declared dependency
        return None
    try:
        arr = imagecodecs.jpeg2k_decode(path.read_bytes(), numthreads=1)
    except (OSError, ValueError, RuntimeError, imagecodecs.DelayedImportError,
            imagecodecs.Jpeg2kError):
        return None
    return arr if arr.ndim == 2 and band == 1 else None


def _to_raster(part: npt.NDArray[Any], nd: float | None, transform: Affine, crs: str | None, p: Path,
               region: Region | None, full: Region, keep_frame: bool) -> Raster:
    """Validity mask of a read region and the Raster of :func:`read_raster` (see there)."""
    part = np.asarray(part, dtype=np.float32)
    r0, r1, c0, c1 = region if region is not None else full
    valid = np.isfinite(part)
    if nd is not None and math.isfinite(nd):
        valid &= part != np.float32(nd)
    valid &= part != np.float32(-9999.0)
    if region is None:
        return Raster(part, valid, transform, crs, p)
    if keep_frame:
        data = np.zeros(full[1::2], dtype=np.float32)
        mask = np.zeros(full[1::2], dtype=bool)
        data[r0:r1, c0:c1] = part
        mask[r0:r1, c0:c1] = valid
        return Raster(data, mask, transform, crs, p)
    return Raster(part, valid, transform * Affine.translation(c0, r0), crs, p)


def _clip(region: Region | None, shape: tuple[int, int]) -> tuple[Region | None, Region]:
    full = (0, shape[0], 0, shape[1])
    if region is None:
        return None, full
    return _inside(region, shape), full


def _inside(region: Region, shape: tuple[int, int]) -> Region:
    """A region clipped to the file."""
    r0, r1, c0, c1 = region
    return max(0, r0), min(shape[0], r1), max(0, c0), min(shape[1], c1)


def _from_decoded(arr: npt.NDArray[Any], info: RasterInfo, p: Path, band: int, nodata: float | None,
                  region: Region | None, keep_frame: bool) -> Raster | None:
    """A Raster from a whole decoded band (None when it does not match the header)."""
    if arr.shape != info.shape or info.count != 1 or band != 1:
        return None
    reg, full = _clip(region, info.shape)
    part = arr if reg is None else arr[reg[0]:reg[1], reg[2]:reg[3]]
    nd = nodata if nodata is not None else info.nodata
    return _to_raster(part, nd, info.transform, info.crs, p, reg, full, keep_frame)


def _valid(arr: npt.NDArray[Any], nd: float | None) -> B:
    """Validity of decoded pixels: not no-data, not -9999, finite (computed on the decoded type)."""
    if arr.dtype.kind == "f":
        valid = np.asarray(np.isfinite(arr), dtype=bool)
        if nd is not None and math.isfinite(nd):
            valid &= arr != arr.dtype.type(nd)
        valid &= arr != arr.dtype.type(-9999.0)
        return valid
    info = np.iinfo(arr.dtype)
    valid = np.ones(arr.shape, dtype=bool)
    for bad in (nd, -9999.0):
        if bad is not None and math.isfinite(bad) and float(bad).is_integer() and info.min <= bad <= info.max:
            valid &= arr != arr.dtype.type(int(bad))
    return valid


def _decoded_band(path: Path, band: int, nodata: float | None) -> tuple[RasterInfo, F32, B] | None:
    """A whole JPEG 2000 band decoded, its header, float32 pixels and validity (run in a worker thread: numpy
    and OpenJPEG release the GIL); None when :func:`decode_jp2` cannot or the decoded shape is not the header's."""
    arr = decode_jp2(path, band)
    if arr is None:
        return None
    info = raster_info(path)
    if arr.shape != info.shape or info.count != 1 or band != 1:
        return None
    valid = _valid(arr, nodata if nodata is not None else info.nodata)
    return info, arr.astype(np.float32), valid


def read_raster(path: str | Path, band: int = 1, nodata: float | None = None, region: Region | None = None,
                *, keep_frame: bool = False) -> Raster:
    """Read one band as float32 with its validity mask (nodata, NaN and -9999 invalid).

    ``region`` reads only that part of the file (a JPEG 2000 file is decoded whole by :func:`decode_jp2` when
    the region is at least a quarter of it: that costs less than GDAL's decoding of the region). The result is
    the region with its own transform, or with ``keep_frame`` the whole file frame with the pixels outside the
    region invalid (zero), so that pixel coordinates stay those of the file.
    """
    import rasterio
    from rasterio.errors import RasterioError
    from rasterio.windows import Window

    p = Path(path)
    if not p.is_file():
        raise MissingInputError(f"{p}: file not found")
    if p.suffix.lower() in JP2_SUFFIXES:
        info = raster_info(p)
        if band > info.count:
            raise ParameterError(f"{p.name}: band {band} requested, the file has {info.count}")
        part_rows = part_cols = 1.0
        if region is not None:
            r0, r1, c0, c1 = _inside(region, info.shape)
            part_rows, part_cols = max(0, r1 - r0) / info.shape[0], max(0, c1 - c0) / info.shape[1]
        # whole-file decoding pays when the region is most of the file; a small region goes through GDAL
        decoded = decode_jp2(p, band) if info.count == 1 and part_rows * part_cols >= 0.25 else None
        if decoded is not None:
            out = _from_decoded(decoded, info, p, band, nodata, region, keep_frame)
            if out is not None:
                return out
    try:
        with rasterio.open(p) as src:
            if band > src.count:
                raise ParameterError(f"{p.name}: band {band} requested, the file has {src.count}")
            full = (0, int(src.height), 0, int(src.width))
            r0, r1, c0, c1 = region if region is not None else full
            r0, r1 = max(0, r0), min(full[1], r1)
            c0, c1 = max(0, c0), min(full[3], c1)
            win = Window(c0, r0, max(0, c1 - c0), max(0, r1 - r0))
            part = src.read(band, window=win, out_dtype=np.float32) if region is not None else src.read(
                band, out_dtype=np.float32)
            nd = nodata if nodata is not None else src.nodata
            crs = src.crs.to_string() if src.crs else None
            transform = src.transform
    except RasterioError as err:
        raise MissingInputError(f"{p}: cannot read raster: {err}") from err
    return _to_raster(part, nd, transform, crs, p, (r0, r1, c0, c1) if region is not None else None, full,
                      keep_frame)


def overlap_regions(ref: RasterInfo, tgt: RasterInfo, margin: int) -> tuple[Region, Region] | None:
    """The part of each file within ``margin`` pixels of the other's extent; None when the grids differ (CRS,
    pixel size, rotation: the caller reads everything and lets the compatibility check speak)."""
    rt, tt = ref.transform, tgt.transform
    if ref.crs != tgt.crs or rt.b or rt.d or tt.b or tt.d or rt.a != tt.a or rt.e != tt.e:
        return None
    ox, oy = (tt.c - rt.c) / rt.a, (tt.f - rt.f) / rt.e  # target origin in reference pixels
    th, tw = tgt.shape
    ref_region = (math.floor(oy) - margin, math.ceil(oy) + th + margin, math.floor(ox) - margin,
                  math.ceil(ox) + tw + margin)
    rh, rw = ref.shape
    tgt_region = (math.floor(-oy) - margin, math.ceil(-oy) + rh + margin, math.floor(-ox) - margin,
                  math.ceil(-ox) + rw + margin)
    for (r0, r1, c0, c1), (h, w) in ((ref_region, ref.shape), (tgt_region, tgt.shape)):
        if min(r1, h) <= max(r0, 0) or min(c1, w) <= max(c0, 0):
            return None  # disjoint: read as is, the compatibility check reports it
    return ref_region, tgt_region


def read_pair(ref_path: Path, tgt_path: Path, ref_band: int = 1, tgt_band: int = 1, nodata: float | None = None,
              margin: int = 16, threads: int = 2,
              while_decoding: Callable[[], object] | None = None) -> tuple[Raster, Raster]:
    """Reference and target read together, each only where it can meet the other (plus ``margin`` pixels).

    The reference comes back cropped (its own transform), the target in its full frame (pixels beyond the
    reference invalid), so that grid nodes stay at the target's pixel coordinates. Both files are decoded in
    parallel threads (OpenJPEG and GDAL release the GIL while decoding). JPEG 2000 files are decoded whole
    (:func:`decode_jp2`: cheaper than GDAL's decoding of the overlap alone) starting at once; the headers are
    read and ``while_decoding`` (e.g. imports the caller needs next) runs in the calling thread meanwhile.
    """
    if ref_path.suffix.lower() in JP2_SUFFIXES and tgt_path.suffix.lower() in JP2_SUFFIXES:
        pool = ThreadPoolExecutor(max_workers=2) if threads > 1 else None
        try:
            jobs = [pool.submit(_decoded_band, path, band, nodata) if pool is not None else None
                    for path, band in ((ref_path, ref_band), (tgt_path, tgt_band))]
            if while_decoding is not None:
                while_decoding()
            got = [job.result() if job is not None else _decoded_band(path, band, nodata)
                   for job, (path, band) in zip(jobs, ((ref_path, ref_band), (tgt_path, tgt_band)), strict=True)]
        finally:
            if pool is not None:
                pool.shutdown()
        dr, dt = got
        if dr is not None and dt is not None:
            regions = overlap_regions(dr[0], dt[0], margin)
            if regions is None:
                return (Raster(dr[1], dr[2], dr[0].transform, dr[0].crs, ref_path),
                        Raster(dt[1], dt[2], dt[0].transform, dt[0].crs, tgt_path))
            r0, r1, c0, c1 = _inside(regions[0], dr[0].shape)
            ref = Raster(dr[1][r0:r1, c0:c1], dr[2][r0:r1, c0:c1], dr[0].transform * Affine.translation(c0, r0),
                         dr[0].crs, ref_path)
            r0, r1, c0, c1 = _inside(regions[1], dt[0].shape)
            data, valid = dt[1], dt[2]
            for rows, cols in ((slice(0, r0), slice(None)), (slice(r1, None), slice(None)),
                               (slice(r0, r1), slice(0, c0)), (slice(r0, r1), slice(c1, None))):
                data[rows, cols] = 0.0  # beyond the reference: invalid, as a region read leaves it
                valid[rows, cols] = False
            return ref, Raster(data, valid, dt[0].transform, dt[0].crs, tgt_path)
    elif while_decoding is not None:
        while_decoding()
    ri, ti = raster_info(ref_path), raster_info(tgt_path)
    regions = overlap_regions(ri, ti, margin)
    if regions is None or threads <= 1:
        if regions is None:
            return read_raster(ref_path, ref_band, nodata), read_raster(tgt_path, tgt_band, nodata)
        return (read_raster(ref_path, ref_band, nodata, regions[0]),
                read_raster(tgt_path, tgt_band, nodata, regions[1], keep_frame=True))
    with ThreadPoolExecutor(max_workers=2) as pool:
        fr = pool.submit(read_raster, ref_path, ref_band, nodata, regions[0])
        ft = pool.submit(read_raster, tgt_path, tgt_band, nodata, regions[1], keep_frame=True)
        return fr.result(), ft.result()


def read_window(path: Path, window: Window, band: int = 1) -> F32:
    """A window of one band as float32."""
    import rasterio
    from rasterio.errors import RasterioError

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
    from lxml import etree

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
