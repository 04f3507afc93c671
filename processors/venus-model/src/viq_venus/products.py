"""Reading VENµS-like product headers (``.HDR``: Earth Explorer header + one GeoTIFF per band).

Processors receive a product as its header path; :func:`read_header` lists the band files, and
:func:`band_stack_vrt` gives a GDAL VRT stacking them so any rasterio code reads the product as one
multi-band raster (band descriptions = band names).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from viq_interfaces.errors import MissingInputError

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


@dataclass(frozen=True)
class ProductHeader:
    """What a VENµS product header says about its files."""

    path: Path
    file_type: str
    site: str | None
    bands: tuple[tuple[str, Path], ...]
    """(band name such as 'B4', absolute path of its GeoTIFF), in header order."""


def is_header(path: Path) -> bool:
    """True for an Earth Explorer product header (``.HDR``/``.hdr``/``.xml`` with a product organisation)."""
    return path.suffix.lower() in (".hdr", ".xml") and path.is_file()


def _band_name(band_id: str) -> str:
    digits = band_id.lstrip("Bb")
    return f"B{int(digits)}" if digits.isdigit() else band_id


def read_header(path: Path) -> ProductHeader:
    """Parse a product header; :class:`MissingInputError` if it is not one or a band file is missing."""
    try:
        root = etree.parse(str(path), _PARSER).getroot()
    except (OSError, etree.XMLSyntaxError) as err:
        raise MissingInputError(f"{path}: not a readable product header: {err}") from err
    files = [e for e in root.iter() if isinstance(e.tag, str) and etree.QName(e).localname == "Image_File"]
    if not files:
        raise MissingInputError(f"{path}: no List_of_Image_Files/Image_File in the header")

    def text(name: str) -> str | None:
        for e in root.iter():
            if isinstance(e.tag, str) and etree.QName(e).localname == name and e.text:
                return e.text.strip()
        return None

    bands: list[tuple[str, Path]] = []
    for e in files:
        rel = (e.text or "").strip()
        target = (path.parent / rel).resolve()
        if not target.is_relative_to(path.parent.resolve()):
            raise MissingInputError(f"{path}: image file {rel!r} points outside the product directory")
        if not target.is_file():
            raise MissingInputError(f"{path}: image file {rel} is missing")
        bands.append((_band_name(e.get("band_id", f"B{len(bands) + 1}")), target))
    return ProductHeader(path=path, file_type=text("File_Type") or "", site=text("Site"), bands=tuple(bands))


def band_stack_vrt(header: ProductHeader) -> str:
    """A GDAL VRT (XML text) stacking the header's band files as bands 1..n, described by band name."""
    import rasterio

    with rasterio.open(header.bands[0][1]) as first:
        width, height, dtype = first.width, first.height, first.dtypes[0]
        crs = first.crs.to_wkt() if first.crs else ""
        gt = first.transform.to_gdal()
    gdal_type = {"uint8": "Byte", "uint16": "UInt16", "int16": "Int16", "uint32": "UInt32", "int32": "Int32",
                 "float32": "Float32", "float64": "Float64"}[dtype]
    parts = [f'<VRTDataset rasterXSize="{width}" rasterYSize="{height}">']
    if crs:
        parts.append(f"<SRS>{html.escape(crs)}</SRS>")
    parts.append(f"<GeoTransform>{', '.join(repr(float(v)) for v in gt)}</GeoTransform>")
    for i, (name, file) in enumerate(header.bands, start=1):
        parts.append(
            f'<VRTRasterBand dataType="{gdal_type}" band="{i}"><Description>{html.escape(name)}</Description>'
            f'<SimpleSource><SourceFilename relativeToVRT="0">{html.escape(str(file))}</SourceFilename>'
            f"<SourceBand>1</SourceBand></SimpleSource></VRTRasterBand>"
        )
    parts.append("</VRTDataset>")
    return "".join(parts)
