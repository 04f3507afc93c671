"""The AUX_REFDE1 header: Earth Explorer XML beside the ``.DBL.DIR``, and its content model for the GIPP store.

Layout (``../shared/reference/venus/FACTS.md`` §1–3, schema ``VE_AUX_REFDE1_ReferenceDemDataLevel1.xsd``):
``Earth_Explorer_Header`` (namespace ``http://eop-cfi.esa.int/CFI``, ``xsi:type="REFDE1_Header_File_Type"``) with the
fixed header, then ``Variable_Header`` = ``Main_Product_Header`` + ``Specific_Product_Header`` holding
``Instance_Id`` (bounding-box corners, version), ``List_of_Applicable_SiteDefinition_Ids``, ``DEM_Information``,
``DBL_Organization`` (``List_of_Packaged_DBL_Files``). Our additions: a ``sha256`` attribute on each packaged file
and a ``VIQ_Information`` block (sources, datums, geoid, void and filled fractions, site).

:class:`RefDe1Content` is the store's content model for ``AUX_REFDE1`` (registered through the
``viq.plugins`` entry point ``dem-gipp-types``, this module): the store reads the header's
``Specific_Product_Header`` (site list excepted) as the content, copies the files named by
:meth:`RefDe1Content.sidecars` with their checksums verified, and names the file
from :meth:`RefDe1Content.file_instance`.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from pathlib import Path
from typing import Self
from xml.etree import ElementTree as ET

from pydantic import BaseModel, ConfigDict, Field, model_validator

from viq_interfaces import hookimpl
from viq_interfaces.hookspecs import ComponentRegistry

EE_NS = "http://eop-cfi.esa.int/CFI"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
FILE_TYPE = "AUX_REFDE1"
FILE_DESCRIPTION = "ReferenceDemDataLevel1"
SCHEMA_VERSION = "0.40"
BEGIN_OF_MISSION = "UTC=0000-00-00T00:00:00"
END_OF_MISSION = "UTC=9999-99-99T99:99:99"


def corner(lon: float, lat: float) -> str:
    """A bounding-box corner as in AUX_REFDE1 names: ``[EW]ddddd[NS]dddd`` = degrees and hundredths (our reading
    of the ICD pattern, which does not say what the two digits after the degrees mean)."""
    lon_h, lat_h = round(abs(lon) * 100), round(abs(lat) * 100)
    return f"{'E' if lon >= 0 else 'W'}{lon_h // 100:03d}{lon_h % 100:02d}{'N' if lat >= 0 else 'S'}" \
           f"{lat_h // 100:02d}{lat_h % 100:02d}"


def site_nick(name: str) -> str:
    """A site name as an ICD nick name: upper case, ``[0-9A-Z_]``, at most 8 characters (unpadded)."""
    text = "".join(c if c.isascii() and (c.isalnum() or c == "_") else "_" for c in name.upper())[:8]
    return text or "SITE"


def site_definition_id(name: str, file_class: str) -> str:
    """``VE_<class>_MPL_SITDEF_S_<nick padded to 8>``."""
    return f"VE_{file_class}_MPL_SITDEF_S_{site_nick(name).ljust(8, '_')}"


def sha256_file(path: Path) -> str:
    """sha256 of a file, streamed."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def ee_time(value: date | datetime | None, *, stop: bool) -> str:
    """``UTC=YYYY-MM-DDThh:mm:ss``, or the mission begin/end special value for ``None``."""
    if value is None:
        return END_OF_MISSION if stop else BEGIN_OF_MISSION
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    return "UTC=" + value.strftime("%Y-%m-%dT%H:%M:%S")


# ------------------------------------------------------------------------------------------ content model


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class GeoPoint(_M):
    """A WGS 84 point."""

    long: float = Field(alias="Long", ge=-180, le=180, description="Longitude, degrees east.")
    lat: float = Field(alias="Lat", ge=-90, le=90, description="Latitude, degrees north.")


class InstanceId(_M):
    """The name parts: bounding box and version."""

    upper_left: GeoPoint = Field(alias="Upper_Left_Point", description="North-west corner of the bounding box.")
    lower_right: GeoPoint = Field(alias="Lower_Right_Point", description="South-east corner of the bounding box.")
    file_version: str = Field(alias="File_Version", pattern=r"^\d{4}$", description="Version, as in the name.")


class Crs(_M):
    """Coordinate reference system of the DEM grid."""

    code: str = Field(alias="Code", pattern=r"^(EPSG:[1-9][0-9]+|LOCAL)$",
                      description="EPSG code; LOCAL for a CRS without one (the short description names it).")
    short_description: str = Field(alias="Short_Description", description="Readable CRS name.")


class Sampling(_M):
    """Pixel size in CRS units."""

    by_line: float = Field(alias="By_Line", gt=0, description="Pixel height.")
    by_column: float = Field(alias="By_Column", gt=0, description="Pixel width.")


class Size(_M):
    """Grid size."""

    lines: int = Field(alias="Lines", gt=0, description="Rows.")
    columns: int = Field(alias="Columns", gt=0, description="Columns.")


class DemInformation(_M):
    """Grid of the DEM."""

    crs: Crs = Field(alias="Coordinate_Reference_System", description="CRS.")
    sampling: Sampling = Field(alias="Sampling_Interval", description="Pixel size.")
    size: Size = Field(alias="Size", description="Grid size.")
    comment: str = Field(alias="Comment", description="Sources and heights, in words.")


class DblFile(_M):
    """One file of the data block, relative to the header's directory, with its checksum (our attribute)."""

    sn: int = Field(alias="@sn", ge=1, description="Serial number.")
    sha256: str = Field(alias="@sha256", pattern=r"^[0-9a-f]{64}$", description="sha256 of the file.")
    path: str = Field(alias="Relative_File_Path", description="Path relative to the header's directory.")
    file_format: str = Field(alias="File_Format", description="COG.")
    definition: str = Field(alias="File_Definition", description="Role of the file.")


class DblFiles(_M):
    """The packaged data-block files."""

    count: int = Field(alias="@count", ge=1, description="Number of files.")
    files: tuple[DblFile, ...] = Field(alias="Packaged_DBL_File", min_length=1, description="The files.")

    @model_validator(mode="after")
    def _count(self) -> Self:
        if self.count != len(self.files):
            raise ValueError(f"count {self.count} != {len(self.files)} files")
        return self


class DblOrganization(_M):
    """Data-block organisation."""

    packaged: DblFiles = Field(alias="List_of_Packaged_DBL_Files", description="Files of the .DBL.DIR.")


class ViqInformation(_M):
    """VIQ's additions: provenance and quality of the DEM."""

    site: str = Field(alias="Site", description="Site name as given to reference-dem.")
    sources: str = Field(alias="Sources", description="Primary source tiles, comma separated, priority order.")
    secondary_sources: str = Field(default="", alias="Secondary_Sources", description="Secondary tiles.")
    source_vertical_datum: str = Field(alias="Source_Vertical_Datum", description="Datum of the source heights.")
    vertical_datum: str = Field(alias="Vertical_Datum", description="Datum of the heights ('ellipsoid' = WGS 84).")
    geoid: str = Field(default="", alias="Geoid", description="Geoid grid used for the conversion.")
    resampling: str = Field(alias="Resampling", description="Resampling onto the site grid.")
    void_fraction: float = Field(alias="Void_Fraction", ge=0, le=1, description="Void share of the source cells.")
    filled_fraction: float = Field(alias="Filled_Fraction", ge=0, le=1, description="Filled share of the grid.")


class RefDe1Content(_M):
    """AUX_REFDE1 content as the GIPP store keeps it (the header's Specific_Product_Header, site list aside)."""

    instance_id: InstanceId = Field(alias="Instance_Id", description="Bounding box and version.")
    dem_information: DemInformation = Field(alias="DEM_Information", description="Grid.")
    dbl_organization: DblOrganization = Field(alias="DBL_Organization", description="Data-block files.")
    viq_information: ViqInformation = Field(alias="VIQ_Information", description="Provenance and quality.")

    def file_instance(self) -> str:
        """The corners part of the file name: ``<upper-left>_<lower-right>``."""
        ul, lr = self.instance_id.upper_left, self.instance_id.lower_right
        return f"{corner(ul.long, ul.lat)}_{corner(lr.long, lr.lat)}"

    def sidecars(self) -> tuple[tuple[str, str], ...]:
        """(path relative to the header, sha256) of every data-block file: the store copies them."""
        return tuple((f.path, f.sha256) for f in self.dbl_organization.packaged.files)


@hookimpl
def viq_add_gipp_types(registry: ComponentRegistry) -> None:
    """Module-level hook (the entry point loads this module): register :class:`RefDe1Content`."""
    registry.add(FILE_TYPE, RefDe1Content)


# ------------------------------------------------------------------------------------------ header writer


def _el(parent: ET.Element, tag: str, text: str | None = None, **attrib: str) -> ET.Element:
    e = ET.SubElement(parent, tag, attrib)
    if text is not None:
        e.text = text
    return e


def header_xml(
    *, name: str, file_class: str, file_version: int, site: str,
    created: datetime, creator_version: str, validity: tuple[date | None, date | None], content: RefDe1Content,
    notes: str, input_products: list[str],
) -> str:
    """The ``.HDR`` text; ``content`` = the specific header (site list aside)."""
    root = ET.Element("Earth_Explorer_Header", {
        "xmlns": EE_NS, "xmlns:xsi": XSI_NS, "xsi:type": "REFDE1_Header_File_Type", "schema_version": SCHEMA_VERSION})
    fh = _el(root, "Fixed_Header")
    _el(fh, "File_Name", name)
    _el(fh, "File_Description", FILE_DESCRIPTION)
    _el(fh, "Notes", notes)
    _el(fh, "Mission", "VENuS")
    _el(fh, "File_Class", file_class)
    _el(fh, "File_Type", FILE_TYPE)
    vp = _el(fh, "Validity_Period")
    _el(vp, "Validity_Start", ee_time(validity[0], stop=False))
    _el(vp, "Validity_Stop", ee_time(validity[1], stop=True))
    _el(fh, "File_Version", f"{file_version:04d}")
    src = _el(fh, "Source")
    _el(src, "System", "VIQ")
    _el(src, "Creator", "reference-dem")
    _el(src, "Creator_Version", creator_version)
    _el(src, "Creation_Date", ee_time(created, stop=False))
    vh = _el(root, "Variable_Header")
    mph = _el(vh, "Main_Product_Header")
    _el(mph, "List_of_Consumers", count="0")
    exts = [("VIQ_PROCESSOR_VERSION", f"reference-dem {creator_version}")]
    exts += [("VIQ_INPUT_PRODUCT", p) for p in input_products[:99]]
    ext_list = _el(mph, "List_of_Extensions", count=str(len(exts)))
    for i, (k, v) in enumerate(exts, 1):
        e = _el(ext_list, "Extension", sn=str(i))
        _el(e, "Keyword", k)
        _el(e, "Value", v)
    sph = _el(vh, "Specific_Product_Header")
    data = content.model_dump(mode="json", by_alias=True)
    _fill(sph, "Instance_Id", data["Instance_Id"])
    sites = _el(sph, "List_of_Applicable_SiteDefinition_Ids", count="1")
    _el(sites, "Applicable_SiteDefinition_Id", site_definition_id(site, file_class), sn="1")
    for key in ("DEM_Information", "DBL_Organization", "VIQ_Information"):
        _fill(sph, key, data[key])
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _text(value: object) -> str:
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _fill(parent: ET.Element, tag: str, value: object) -> None:
    """JSON-like data → elements (``@name`` attributes, lists repeated), the store's mapping."""
    if isinstance(value, list):
        for item in value:
            _fill(parent, tag, item)
        return
    el = ET.SubElement(parent, tag)
    if isinstance(value, dict):
        for k, v in value.items():
            if k.startswith("@"):
                el.set(k[1:], _text(v))
        for k, v in value.items():
            if not k.startswith("@"):
                _fill(el, k, v)
    else:
        el.text = _text(value)
