"""Reading VENµS raw products (``VSC_RAWDAT``): the XML header, one GeoTIFF per band, read in line blocks.

A raw product is ``<stem>.HDR`` (Earth Explorer header with ``Product_Information`` and
``Product_Organization/List_of_Image_Files``) plus ``<stem>.DBL.DIR/<stem>_Bnn.TIF`` (uint16 DN, sensor
geometry). Everything a calibration needs from the header is gathered in :class:`RawProduct`; every problem
(unreadable XML, missing band file, raster size different from the header, truncated strips) raises
:class:`~viq_proc_radiometry.errors.BadInputError` naming the file.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from lxml import etree

from viq_proc_radiometry.errors import BadInputError
from viq_venus.bands import band_from_code

NS = "http://eop-cfi.esa.int/CFI"
BLOCK_LINES = 512
"""Lines read per block when streaming a band."""

U16 = npt.NDArray[np.uint16]


def _q(tag: str) -> str:
    return f"{{{NS}}}{tag}"


def _parse_utc(text: str) -> datetime | None:
    body = text.strip().removeprefix("UTC=")
    try:
        return datetime.strptime(body, "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return None


@dataclass(frozen=True)
class RawProduct:
    """One raw acquisition: header facts and the band files."""

    header: Path
    name: str
    acquisition: str
    """dark, flat, side_slither, desert, scene… (``Acquisition_Type``)."""
    tdi: int
    site: str
    sensing_start: datetime | None
    lines: int
    columns: int
    band_files: dict[str, Path]
    flat_radiance: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def bands(self) -> tuple[str, ...]:
        """Band names in the product."""
        return tuple(self.band_files)

    def blocks(self, band: str, block_lines: int = BLOCK_LINES) -> Iterator[tuple[int, U16]]:
        """``(first_line, DN block)`` of ``band`` in blocks of ``block_lines`` lines (uint16)."""
        path = self.band_file(band)
        import rasterio
        from rasterio.errors import RasterioError
        from rasterio.windows import Window

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds = rasterio.open(path)
        except (RasterioError, OSError) as err:
            raise BadInputError(f"{path.name}: cannot open band raster: {err}") from err
        with ds:
            if (ds.height, ds.width) != (self.lines, self.columns):
                raise BadInputError(
                    f"{path.name}: raster is {ds.height}×{ds.width}, header {self.header.name} says "
                    f"{self.lines}×{self.columns}"
                )
            for i0 in range(0, self.lines, block_lines):
                n = min(block_lines, self.lines - i0)
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        data = ds.read(1, window=Window(0, i0, self.columns, n))
                except (RasterioError, OSError) as err:
                    raise BadInputError(f"{path.name}: truncated or unreadable at lines {i0}–{i0 + n}: {err}") from err
                arr = np.asarray(data)
                if arr.dtype.kind == "f":
                    bad = ~np.isfinite(arr)
                    if bad.any():
                        raise BadInputError(
                            f"{path.name}: {int(bad.sum())} NaN/nodata samples in lines {i0}–{i0 + n}; raw DN "
                            "must be complete"
                        )
                if arr.dtype != np.uint16:
                    if arr.min() < 0 or arr.max() > 65535:
                        raise BadInputError(f"{path.name}: values outside the DN range 0–65535")
                    arr = np.rint(arr).astype(np.uint16)
                yield i0, arr

    def read(self, band: str) -> U16:
        """The whole band in memory (lines × columns)."""
        out = np.empty((self.lines, self.columns), dtype=np.uint16)
        for i0, block in self.blocks(band):
            out[i0 : i0 + block.shape[0]] = block
        return out

    def band_file(self, band: str) -> Path:
        """The GeoTIFF of ``band``; BadInputError if the product has none."""
        try:
            return self.band_files[band]
        except KeyError:
            raise BadInputError(
                f"{self.header.name}: no band {band} (product has {', '.join(self.band_files) or 'none'})"
            ) from None


def read_raw_product(path: str | Path) -> RawProduct:
    """Read a raw product header (``.HDR``); BadInputError naming the file and element when it is unusable."""
    p = Path(path)
    try:
        root = etree.parse(str(p), etree.XMLParser(resolve_entities=False, no_network=True)).getroot()
    except (OSError, etree.XMLSyntaxError) as err:
        raise BadInputError(f"{p.name}: cannot read product header: {err}") from err

    def text(*tags: str, required: bool = True) -> str | None:
        node: Any = root
        for tag in tags:
            node = node.find(_q(tag)) if node is not None else None
        if node is None or node.text is None:
            if required:
                raise BadInputError(f"{p.name}: missing element {'/'.join(tags)}")
            return None
        return str(node.text).strip()

    sph = ("Variable_Header", "Specific_Product_Header")
    info = (*sph, "Product_Information")
    img = (*sph, "Image_Information")
    file_type = text("Fixed_Header", "File_Type")
    try:
        tdi = int(text(*info, "TDI_Configuration_Values") or "")
        lines = int(text(*img, "Lines") or "")
        columns = int(text(*img, "Columns") or "")
    except ValueError as err:
        raise BadInputError(f"{p.name}: TDI, Lines or Columns is not an integer: {err}") from err
    files_el = root.find(_q("Variable_Header") + "/" + _q("Specific_Product_Header") + "/"
                         + _q("Product_Organization") + "/" + _q("List_of_Image_Files"))
    band_files: dict[str, Path] = {}
    if files_el is not None:
        for el in files_el:
            if not isinstance(el.tag, str):
                continue
            code = el.get("band_id", "")
            try:
                band = band_from_code(code)
            except ValueError as err:
                raise BadInputError(f"{p.name}: Image_File band_id {code!r}: {err}") from err
            f = p.parent / (el.text or "").strip()
            if not f.is_file():
                raise BadInputError(f"{p.name}: band file {f.name} of {band} is missing")
            band_files[band] = f
    if not band_files:
        raise BadInputError(f"{p.name}: List_of_Image_Files names no band file")
    flat = text(*info, "Flat_Radiance", required=False)
    return RawProduct(
        header=p,
        name=text("Fixed_Header", "File_Name") or p.stem,
        acquisition=text(*info, "Acquisition_Type") or "",
        tdi=tdi,
        site=text(*info, "Site", required=False) or "",
        sensing_start=_parse_utc(text(*info, "Acquisition_Date_Time", required=False) or ""),
        lines=lines,
        columns=columns,
        band_files=band_files,
        flat_radiance=float(flat) if flat else None,
        metadata={"file_type": file_type},
    )


@dataclass(frozen=True)
class ReferenceRadiance:
    """Reference TOA radiance of one band over a site (W m-2 sr-1 µm-1) with its one-sigma uncertainty."""

    band: str
    radiance: float
    uncertainty: float
    sensor: str
    sensing_start: datetime | None = None


def read_reference(path: str | Path, default_uncertainty_pct: float) -> dict[str, ReferenceRadiance]:
    """Reference radiances per band from a simulator truth sidecar or an ``AUX_REFTOA`` JSON file.

    Truth sidecar (``viq-simulator-truth/1``): ``bands.<B>.reference_radiance``; its uncertainty is
    ``default_uncertainty_pct`` (the site model's). ``AUX_REFTOA``: ``{"sensor": "S2A", "sensing_start": …,
    "bands": {"B4": {"radiance": …, "uncertainty": …}}}``, band names of ``sensor``.
    """
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise BadInputError(f"{p.name}: cannot read reference radiance JSON: {err}") from err
    if not isinstance(data, dict) or not isinstance(data.get("bands"), dict):
        raise BadInputError(f"{p.name}: no 'bands' mapping in the reference file")
    start = data.get("sensing_start")
    when = datetime.fromisoformat(start) if isinstance(start, str) else None
    out: dict[str, ReferenceRadiance] = {}
    if str(data.get("format", "")).startswith("viq-simulator-truth"):
        for band, info in data["bands"].items():
            value = float(info["reference_radiance"])
            out[band] = ReferenceRadiance(band, value, value * default_uncertainty_pct / 100.0, "truth", when)
        return out
    sensor = str(data.get("sensor", "VENUS"))
    for band, info in data["bands"].items():
        try:
            value = float(info["radiance"])
            unc = float(info.get("uncertainty", value * default_uncertainty_pct / 100.0))
        except (KeyError, TypeError, ValueError) as err:
            raise BadInputError(f"{p.name}: band {band}: needs 'radiance' (and 'uncertainty'): {err}") from err
        if not np.isfinite(value) or value <= 0:
            raise BadInputError(f"{p.name}: band {band}: reference radiance {value} is not positive")
        out[band] = ReferenceRadiance(band, value, unc, sensor, when)
    return out
