"""Built-in product readers, registered through ``viq_add_product_readers`` like any third-party reader.

One object, :data:`BUILTIN_READER`, is registered under every product type it knows; it recognises the file's
layout and returns the catalog metadata (site, bands, TDI, sensing times, EPSG:4326 footprint, free metadata):

=====================================  =============================================  ===========================
layout                                 recognised by                                  product type
=====================================  =============================================  ===========================
Earth Explorer product header          ``*.HDR`` (``Earth_Explorer_Header`` + bands)  its ``File_Type``
(the simulator's products)                                                            (VSC_RAWDAT, VSC_L1VALD,
                                                                                      AUX_REFIMG…)
GIPP file                              ``*.EEF`` (``Earth_Explorer_File``)            its ``File_Type`` (GIP_*)
VENµS product in the MUSCATE layout    a directory holding ``*_MTD_ALL.xml``, or      VSC_L1VALD (L1C),
                                       that file                                      VSC_L2VALD (L2A)
GeoTIFF / COG with a sidecar XML       ``X.tif`` + ``X.xml`` (or ``X.tif.xml``)       the sidecar's ``File_Type``
SRTM tile                              ``N44E005.hgt`` (size gives 1″ or 3″)          AUX_SRTM1_ / AUX_SRTM3_
Copernicus DEM tile                    ``Copernicus_DSM_[COG_]{10,30}_N44_00_…_DEM``  AUX_COPDEM
=====================================  =============================================  ===========================

Besides ``reader(path) -> mapping`` (the hook contract), the reader has ``detect(path) -> type | None`` which
``viq catalog ingest`` uses when no ``--type`` is given (see :func:`viq_host.catalog.ops.detect_type`).
XML is parsed with a hardened lxml parser (no DTD, no entities, no network, size limit); every error is an
:class:`InvalidProduct` naming the file. The host never imports a processor package: the layouts are parsed
here from their published descriptions.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lxml import etree

from viq_host.catalog.base import PRODUCT_TYPE_RE, InvalidProduct, check_footprint
from viq_interfaces import hookimpl
from viq_interfaces.hookspecs import ComponentRegistry

MAX_XML_BYTES = 32 * 1024 * 1024
SRTM_SIZES = {1201: "AUX_SRTM3_", 3601: "AUX_SRTM1_"}
HEADER_TYPES = ("VSC_RAWDAT", "VSC_L1VALD", "VSC_L2VALD", "AUX_REFIMG")
DEM_TYPES = ("AUX_SRTM3_", "AUX_SRTM1_", "AUX_COPDEM")
GIPP_PREFIX = "GIP_*"
"""Registry key for every GIPP type (``ops`` looks up ``<AAA>_*`` after the exact type)."""

_SRTM_RE = re.compile(r"^([NS])(\d{2})([EW])(\d{3})\.hgt$", re.IGNORECASE)
_COPDEM_RE = re.compile(
    r"^Copernicus_DSM_(?:COG_)?(10|30)_([NS])(\d{2})_00_([EW])(\d{3})_00(?:_DEM)?\.(?:tif|tiff|dt2)$", re.IGNORECASE
)
_BAND_RE = re.compile(r"^[Bb]0*(\d{1,2})$")
_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def parse_xml(path: Path) -> etree._Element:
    """Parse an XML file with the hardened parser; :class:`InvalidProduct` naming the file on any fault."""
    try:
        size = path.stat().st_size
        if size > MAX_XML_BYTES:
            raise InvalidProduct(f"{path}: XML larger than {MAX_XML_BYTES} bytes")
        data = path.read_bytes()
    except OSError as err:
        raise InvalidProduct(f"{path}: cannot read: {err.strerror}") from err
    try:
        tree = etree.fromstring(data, parser=_parser()).getroottree()
    except etree.XMLSyntaxError as err:
        raise InvalidProduct(f"{path}:{err.lineno or '?'}: malformed XML: {err.msg}") from err
    info = tree.docinfo
    if info.internalDTD is not None or info.externalDTD is not None or info.system_url or info.public_id:
        raise InvalidProduct(f"{path}: DOCTYPE/entity declarations are not accepted in product metadata")
    return tree.getroot()


def _local(el: Any) -> str:
    return str(etree.QName(el).localname) if isinstance(el.tag, str) else ""


def _first(root: etree._Element, name: str) -> etree._Element | None:
    for el in root.iter():
        if _local(el) == name:
            return el
    return None


def _all(root: etree._Element, name: str) -> list[etree._Element]:
    return [el for el in root.iter() if _local(el) == name]


def _text(root: etree._Element, name: str) -> str | None:
    el = _first(root, name)
    if el is None or el.text is None or not el.text.strip():
        return None
    return el.text.strip()


def _need(path: Path, root: etree._Element, name: str) -> str:
    value = _text(root, name)
    if value is None:
        raise InvalidProduct(f"{path}: missing or empty element {name}")
    return value


def band_name(code: str) -> str:
    """``B04`` / ``b4`` / ``B4`` → ``B4``; other names are kept."""
    m = _BAND_RE.match(code.strip())
    return f"B{int(m.group(1))}" if m else code.strip()


def ee_time(path: Path, field: str, text: str | None) -> datetime | None:
    """An Earth Explorer time (``UTC=2018-06-01T10:30:00[.ffffff]``); open bounds (``0000-00-00``/``9999-99-99``)
    and None give None."""
    if text is None:
        return None
    value = text.strip()
    if value.startswith("UTC="):
        value = value[4:]
    if value.startswith(("0000-00-00", "9999-99-99")):
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as err:
        raise InvalidProduct(f"{path}: {field}: not a time: {text!r}") from err
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _footprint(path: Path, wkt: str) -> str:
    import shapely

    try:
        geom = shapely.from_wkt(wkt)
    except shapely.errors.GEOSException as err:
        raise InvalidProduct(f"{path}: footprint: unreadable WKT: {err}") from err
    try:
        check_footprint(geom)
    except InvalidProduct as err:
        raise InvalidProduct(f"{path}: {err}") from err
    return str(shapely.to_wkt(geom, rounding_precision=-1))


def _box_wkt(x0: float, y0: float, x1: float, y1: float) -> str:
    return f"POLYGON (({x0} {y0}, {x1} {y0}, {x1} {y1}, {x0} {y1}, {x0} {y0}))"


def _ring_wkt(points: list[tuple[float, float]]) -> str:
    ring = [*points, points[0]]
    return "POLYGON ((" + ", ".join(f"{x!r} {y!r}" for x, y in ring) + "))"


def _inside(path: Path, base: Path, rel: str) -> Path:
    target = (base / rel).resolve()
    if not target.is_relative_to(base.resolve()):
        raise InvalidProduct(f"{path}: file {rel!r} points outside the product directory")
    if not target.is_file():
        raise InvalidProduct(f"{path}: file {rel} named in the metadata is missing")
    return target


# ----------------------------------------------------------------------------------- Earth Explorer header


def _ee_file_type(path: Path, root: etree._Element) -> str:
    ftype = _need(path, root, "File_Type")
    if not PRODUCT_TYPE_RE.match(ftype):
        raise InvalidProduct(f"{path}: File_Type {ftype!r} is not a 10-character product type code")
    return ftype


def read_ee_header(path: Path) -> tuple[str, dict[str, Any]]:
    """An Earth Explorer product header (``.HDR``) with its band GeoTIFFs (the simulator's layout)."""
    root = parse_xml(path)
    if _local(root) != "Earth_Explorer_Header":
        raise InvalidProduct(f"{path}: root element is {_local(root)}, expected Earth_Explorer_Header")
    ftype = _ee_file_type(path, root)
    files = _all(root, "Image_File")
    if not files:
        raise InvalidProduct(f"{path}: no List_of_Image_Files/Image_File: not a product header")
    bands: list[str] = []
    band_files: dict[str, dict[str, str]] = {}
    for i, el in enumerate(files, start=1):
        rel = (el.text or "").strip()
        if not rel:
            raise InvalidProduct(f"{path}: Image_File {i} is empty")
        _inside(path, path.parent, rel)
        name = band_name(el.get("band_id") or f"B{i}")
        bands.append(name)
        band_files[name] = {"file": rel, **({"sha256": el.get("sha256", "")} if el.get("sha256") else {})}
    start = ee_time(path, "Acquisition_Date_Time", _text(root, "Acquisition_Date_Time"))
    validity_start = ee_time(path, "Validity_Start", _text(root, "Validity_Start"))
    stop = ee_time(path, "Validity_Stop", _text(root, "Validity_Stop"))
    start = start or validity_start
    if start is None:
        raise InvalidProduct(f"{path}: no sensing time (Acquisition_Date_Time or Validity_Start)")
    wkt = _text(root, "Footprint_WKT")
    if wkt is None:
        raise InvalidProduct(f"{path}: no Useful_Image_Geo_Coverage/Footprint_WKT")
    tdi: int | None = None
    tdi_text = _text(root, "TDI_Configuration_Values")
    if tdi_text is not None and ftype != "AUX_REFIMG":  # a reference image is noise-free: no TDI
        try:
            tdi = int(tdi_text)
        except ValueError as err:
            raise InvalidProduct(f"{path}: TDI_Configuration_Values {tdi_text!r} is not one TDI setting") from err
    meta: dict[str, Any] = {"format": "EE-HDR", "band_files": band_files}
    for key, tag in (
        ("file_name", "File_Name"),
        ("file_class", "File_Class"),
        ("file_version", "File_Version"),
        ("level", "Product_Level"),
        ("acquisition", "Acquisition_Type"),
        ("creator", "Creator"),
        ("creator_version", "Creator_Version"),
        ("crs", "CRS"),
        ("geometry", "Geometry"),
    ):
        value = _text(root, tag)
        if value is not None:
            meta[key] = value
    return ftype, {
        "site": _text(root, "Site"),
        "bands": bands,
        "tdi": tdi,
        "sensing_start": start,
        "sensing_stop": stop if stop is not None and stop >= start else start,
        "footprint_wkt": _footprint(path, wkt),
        "metadata": meta,
    }


# ------------------------------------------------------------------------------------------------- GIPP


def read_gipp_file(path: Path) -> tuple[str, dict[str, Any]]:
    """A GIPP ``.EEF`` file: type, validity (as sensing start/stop), version, band/TDI, applicability."""
    from viq_host.gipp.eexml import read_gipp
    from viq_host.gipp.models import GippFileError

    try:
        doc = read_gipp(path)
    except GippFileError as err:
        raise InvalidProduct(f"invalid GIPP file: {err}") from err
    start, stop = doc.validity.start, doc.validity.stop
    meta: dict[str, Any] = {
        "format": "EE-GIPP",
        "file_name": str(doc.name),
        "file_class": doc.file_class,
        "file_version": doc.file_version,
        "validity_start": start.isoformat() if start else None,
        "validity_stop": stop.isoformat() if stop else None,
        "applicability": doc.applicability.kind,
        "nick_name": doc.applicability.name,
        "serial": doc.name.serial,
        "creator": doc.creator,
        "creator_version": doc.creator_version,
    }
    tdi: int | None = None
    if doc.name.tdi_set:
        from viq_host.gipp.models import tdi_configurations

        values = tdi_configurations(doc.name.tdi_set)
        tdi = values[0] if len(values) == 1 else None
        meta["tdi_set"] = doc.name.tdi_set
    return doc.file_type, {
        "site": doc.applicability.name if doc.applicability.kind == "SITE" else None,
        "bands": [band_name(doc.name.band)] if doc.name.band else [],
        "tdi": tdi,
        "sensing_start": start,
        "sensing_stop": stop,
        "metadata": meta,
    }


# ----------------------------------------------------------------------------------------------- MUSCATE


def _muscate_mtd(path: Path) -> Path | None:
    if path.is_dir():
        found = sorted(path.glob("*_MTD_ALL.xml"))
        return found[0] if len(found) == 1 else None
    return path if path.name.endswith("_MTD_ALL.xml") else None


def read_muscate(path: Path) -> tuple[str, dict[str, Any]]:
    """A VENµS product in the MUSCATE layout (``<ID>/<ID>_MTD_ALL.xml`` + ``<ID>_<NATURE>_B<n>.tif``)."""
    mtd = _muscate_mtd(path)
    if mtd is None:
        raise InvalidProduct(f"{path}: no (single) *_MTD_ALL.xml: not a MUSCATE product")
    root = parse_xml(mtd)
    if _local(root) != "Muscate_Metadata_Document":
        raise InvalidProduct(f"{mtd}: root element is {_local(root)}, expected Muscate_Metadata_Document")
    platform = _need(mtd, root, "PLATFORM")
    if not platform.upper().startswith("VENUS"):
        raise InvalidProduct(f"{mtd}: PLATFORM {platform!r} is not VENUS")
    level = _need(mtd, root, "PRODUCT_LEVEL").upper()
    ptype = {"L1C": "VSC_L1VALD", "L2A": "VSC_L2VALD"}.get(level)
    if ptype is None:
        raise InvalidProduct(f"{mtd}: PRODUCT_LEVEL {level!r}: only L1C and L2A are catalogued")
    start = ee_time(mtd, "ACQUISITION_DATE", _need(mtd, root, "ACQUISITION_DATE"))
    assert start is not None
    site_el = _first(root, "GEOGRAPHICAL_ZONE")
    site = (site_el.text or "").strip() if site_el is not None and site_el.text else None
    bands = [band_name(b.text or "") for b in _all(root, "BAND_ID") if (b.text or "").strip()]
    if not bands:
        raise InvalidProduct(f"{mtd}: no Band_Global_List/BAND_ID")
    corners: dict[str, tuple[float, float]] = {}
    geo = _first(root, "Global_Geopositioning")
    if geo is None:
        raise InvalidProduct(f"{mtd}: no Geoposition_Informations/Geopositioning/Global_Geopositioning")
    for point in _all(geo, "Point"):
        lat, lon = _text(point, "LAT"), _text(point, "LON")
        if lat is None or lon is None:
            raise InvalidProduct(f"{mtd}: Point {point.get('name')!r} without LAT/LON")
        try:
            corners[str(point.get("name"))] = (float(lon), float(lat))
        except ValueError as err:
            raise InvalidProduct(f"{mtd}: Point {point.get('name')!r}: LAT/LON not numbers") from err
    order = ("upperLeft", "upperRight", "lowerRight", "lowerLeft")
    missing = [c for c in order if c not in corners]
    if missing:
        raise InvalidProduct(f"{mtd}: Global_Geopositioning lacks the corner points {missing}")
    images: dict[str, str] = {}
    for el in _all(root, "IMAGE_FILE"):
        rel = (el.text or "").strip()
        if rel:
            _inside(mtd, mtd.parent, rel)
            bid = el.get("band_id")
            if bid:
                images.setdefault(band_name(bid), rel)
    meta: dict[str, Any] = {"format": "MUSCATE", "level": level, "metadata_file": mtd.name, "band_files": images}
    for key, tag in (
        ("product_id", "PRODUCT_ID"),
        ("product_version", "PRODUCT_VERSION"),
        ("production_date", "PRODUCTION_DATE"),
        ("spectral_content", "SPECTRAL_CONTENT"),
        ("crs", "HORIZONTAL_CS_CODE"),
    ):
        value = _text(root, tag)
        if value is not None:
            meta[key] = value
    for q in _all(root, "QUALITY_INDEX"):
        if q.get("name") and q.text and q.text.strip():
            meta.setdefault("quality", {})[str(q.get("name"))] = q.text.strip()
    return ptype, {
        "site": site,
        "bands": bands,
        "sensing_start": start,
        "sensing_stop": start,
        "footprint_wkt": _footprint(mtd, _ring_wkt([corners[c] for c in order])),
        "mission": "VENUS",
        "metadata": meta,
    }


# ----------------------------------------------------------------------------------------------- DEM tiles


def _tile_box(path: Path, ns: str, lat: str, ew: str, lon: str) -> tuple[float, float]:
    y = int(lat) * (1 if ns.upper() == "N" else -1)
    x = int(lon) * (1 if ew.upper() == "E" else -1)
    if not (-90 <= y < 90 and -180 <= x < 180):
        raise InvalidProduct(f"{path}: tile name gives an impossible corner lat {y}, lon {x}")
    return float(x), float(y)


def read_srtm(path: Path) -> tuple[str, dict[str, Any]]:
    """An SRTM ``.hgt`` tile: footprint from the name (south-west corner), 1″ or 3″ from the file size."""
    m = _SRTM_RE.match(path.name)
    if m is None:
        raise InvalidProduct(f"{path}: not an SRTM tile name like N44E005.hgt")
    x, y = _tile_box(path, *m.groups())
    size = path.stat().st_size
    side = {2 * n * n: n for n in SRTM_SIZES}.get(size)
    if side is None:
        raise InvalidProduct(
            f"{path}: {size} bytes is neither an SRTM 3″ (1201×1201×2) nor a 1″ (3601×3601×2) tile"
        )
    arcsec = 3 if side == 1201 else 1
    return SRTM_SIZES[side], {
        "footprint_wkt": _box_wkt(x, y, x + 1.0, y + 1.0),
        "metadata": {"format": "SRTM-HGT", "tile": path.stem.upper(), "samples": side, "resolution_arcsec": arcsec,
                     "vertical_datum": "EGM96"},
    }


def read_copdem(path: Path) -> tuple[str, dict[str, Any]]:
    """A Copernicus DEM tile (GLO-30 ``_10_`` / GLO-90 ``_30_``): footprint from the name, checked as a TIFF."""
    m = _COPDEM_RE.match(path.name)
    if m is None:
        raise InvalidProduct(f"{path}: not a Copernicus DEM tile name (Copernicus_DSM_COG_10_N44_00_E005_00_DEM.tif)")
    res, ns, lat, ew, lon = m.groups()
    x, y = _tile_box(path, ns, lat, ew, lon)
    if path.suffix.lower() in (".tif", ".tiff"):
        with path.open("rb") as fh:
            if fh.read(4) not in _TIFF_MAGIC:
                raise InvalidProduct(f"{path}: not a TIFF file (bad magic number)")
    width = 1.0
    meta: dict[str, Any] = {"format": "COPDEM", "tile": path.stem, "resolution_arcsec": int(res) // 10,
                            "grid": "GLO-30" if res == "10" else "GLO-90", "vertical_datum": "EGM2008"}
    return "AUX_COPDEM", {"footprint_wkt": _box_wkt(x, y, x + width, y + 1.0), "metadata": meta}


# ---------------------------------------------------------------------------------- GeoTIFF + sidecar XML


def _sidecar(path: Path) -> Path | None:
    for cand in (path.with_suffix(".xml"), path.with_suffix(".XML"), path.with_name(path.name + ".xml")):
        if cand.is_file():
            return cand
    return None


def raster_footprint(path: Path) -> tuple[str, dict[str, Any]]:
    """EPSG:4326 footprint of a georeferenced raster (edges densified) and its structure."""
    import rasterio
    import rasterio.errors
    from rasterio.warp import transform as warp

    try:
        with rasterio.open(path) as ds:
            if ds.crs is None:
                raise InvalidProduct(f"{path}: the raster has no coordinate reference system")
            x0, y0, x1, y1 = ds.bounds
            n = 8
            xs = [x0 + (x1 - x0) * i / n for i in range(n)] + [x1] * n
            ys = [y1] * n + [y1 - (y1 - y0) * i / n for i in range(n)]
            xs += [x1 - (x1 - x0) * i / n for i in range(n)] + [x0] * n
            ys += [y0] * n + [y0 + (y1 - y0) * i / n for i in range(n)]
            lons, lats = warp(ds.crs, "EPSG:4326", xs, ys)
            layout = ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT", "")
            info: dict[str, Any] = {
                "crs": ds.crs.to_string(),
                "width": ds.width,
                "height": ds.height,
                "count": ds.count,
                "dtype": ds.dtypes[0],
                "cog": layout.upper() == "COG" or bool(ds.profile.get("tiled") and ds.overviews(1)),
                "descriptions": [d for d in ds.descriptions if d],
            }
    except rasterio.errors.RasterioError as err:
        raise InvalidProduct(f"{path}: not a readable raster: {err}") from err
    return _ring_wkt(list(zip(lons, lats, strict=True))), info


def read_geotiff(path: Path) -> tuple[str, dict[str, Any]]:
    """A GeoTIFF/COG whose sidecar XML (``X.xml`` or ``X.tif.xml``) gives type, time, site and bands."""
    side = _sidecar(path)
    if side is None:
        raise InvalidProduct(f"{path}: GeoTIFF without a sidecar XML ({path.stem}.xml or {path.name}.xml)")
    root = parse_xml(side)
    ftype = _ee_file_type(side, root)
    start = ee_time(side, "Acquisition_Date_Time", _text(root, "Acquisition_Date_Time")) or ee_time(
        side, "Validity_Start", _text(root, "Validity_Start")
    )
    stop = ee_time(side, "Validity_Stop", _text(root, "Validity_Stop"))
    wkt, info = raster_footprint(path)
    bands = [band_name(b.get("band_id", "")) for b in root.iter() if isinstance(b.tag, str) and b.get("band_id")]
    bands = list(dict.fromkeys(bands)) or [band_name(d) for d in info.pop("descriptions")]
    info.pop("descriptions", None)
    if bands and len(bands) != info["count"] and len(bands) != 1:
        raise InvalidProduct(f"{side}: {len(bands)} bands named, the raster has {info['count']}")
    tdi_text = _text(root, "TDI_Configuration_Values")
    return ftype, {
        "site": _text(root, "Site"),
        "bands": bands,
        "tdi": int(tdi_text) if tdi_text and tdi_text.isdigit() else None,
        "sensing_start": start,
        "sensing_stop": stop if stop is not None and (start is None or stop >= start) else start,
        "footprint_wkt": _footprint(path, wkt),
        "metadata": {"format": "GeoTIFF+XML", "sidecar": side.name, **info},
    }


# ------------------------------------------------------------------------------------------------- dispatch


@dataclass(frozen=True)
class Layout:
    """One file layout: ``claims(path)`` is cheap (names, suffixes); ``read(path)`` → (type, metadata)."""

    name: str
    claims: Callable[[Path], bool]
    read: Callable[[Path], tuple[str, dict[str, Any]]]


def _suffix(*suffixes: str) -> Callable[[Path], bool]:
    return lambda p: p.is_file() and p.suffix.lower() in suffixes


LAYOUTS: tuple[Layout, ...] = (
    Layout("muscate", lambda p: _muscate_mtd(p) is not None, read_muscate),
    Layout("ee-header", _suffix(".hdr"), read_ee_header),
    Layout("gipp", _suffix(".eef"), read_gipp_file),
    Layout("srtm", lambda p: p.is_file() and bool(_SRTM_RE.match(p.name)), read_srtm),
    Layout("copdem", lambda p: p.is_file() and bool(_COPDEM_RE.match(p.name)), read_copdem),
    Layout("geotiff", lambda p: _suffix(".tif", ".tiff")(p) and _sidecar(p) is not None, read_geotiff),
)


class BuiltinReader:
    """The built-in reader: recognises the layout of a path, then reads its metadata."""

    def layout(self, path: Path) -> Layout:
        """The layout claiming ``path``; :class:`InvalidProduct` if none does."""
        for lay in LAYOUTS:
            if lay.claims(path):
                return lay
        raise InvalidProduct(
            f"{path}: not a layout the built-in readers know (Earth Explorer .HDR/.EEF, MUSCATE *_MTD_ALL.xml, "
            "GeoTIFF + sidecar XML, SRTM .hgt, Copernicus DEM tile)"
        )

    def read(self, path: Path) -> tuple[str, dict[str, Any]]:
        """(product type, catalog metadata) of ``path``."""
        return self.layout(path).read(path)

    def detect(self, path: Path) -> str | None:
        """The product type of ``path`` if a built-in layout claims it (reading the metadata), else None."""
        for lay in LAYOUTS:
            if lay.claims(path):
                return lay.read(path)[0]
        return None

    def __call__(self, path: Path) -> dict[str, Any]:
        """The hook contract: the product's catalog metadata."""
        return self.read(path)[1]


BUILTIN_READER = BuiltinReader()


@hookimpl
def viq_add_product_readers(registry: ComponentRegistry) -> None:
    """Register the built-in reader for the simulator's, MUSCATE, DEM and GIPP product types."""
    for ptype in (*HEADER_TYPES, *DEM_TYPES, GIPP_PREFIX):
        registry.add(ptype, BUILTIN_READER)
