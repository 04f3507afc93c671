"""Read and write GIPP files: an ``Earth_Explorer_File`` (.EEF) with fixed header and typed ``Data_Block``.

Layout (namespace ``http://eop-cfi.esa.int/CFI``, concrete type in ``xsi:type`` as the ICD requires)::

    Earth_Explorer_File xsi:type="DARKCU_File_Type" schema_version="1.9"
      Earth_Explorer_Header
        Fixed_Header: File_Name, File_Description, Notes, Mission, File_Class, File_Type,
                      Validity_Period (Validity_Start, Validity_Stop), File_Version,
                      Source (System, Creator, Creator_Version, Creation_Date)
        Variable_Header
          Main_Product_Header: List_of_Consumers, List_of_Extensions
          Specific_Product_Header
            Instance_Id: Applicability_NickName_Type, Applicability_NickName, Serial_Key, Validity_Period,
                         [Band_Code], [TDI_Configuration_Values]
            List_of_Applicable_SiteDefinition_Ids
      Data_Block type="xml"   ← the content model, element names = field aliases

Lists of models are written ``<List_of_X count="n"><X sn="1">…``; per-detector arrays go to sidecar
``<File_Name>.<field>.npy`` files referenced with their sha256. Output is byte-for-byte deterministic.
"""

from __future__ import annotations

import hashlib
import io
import types
import typing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from lxml import etree
from pydantic import BaseModel, ValidationError

from viq_interfaces.errors import GippError
from viq_venus.bands import band_code
from viq_venus.config import describe_validation_error
from viq_venus.gipp.models import CONTENT_MODELS, ArrayRef, GippContent, GippHeader
from viq_venus.gipp.naming import GippName, parse_gipp_name

NS = "http://eop-cfi.esa.int/CFI"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
BEGIN_OF_MISSION = "UTC=0000-00-00T00:00:00"
END_OF_MISSION = "UTC=9999-99-99T99:99:99"

C = TypeVar("C", bound=GippContent)


def _q(tag: str) -> str:
    return f"{{{NS}}}{tag}"


def _utc(value: datetime | None, open_value: str) -> str:
    return open_value if value is None else "UTC=" + value.strftime("%Y-%m-%dT%H:%M:%S")


def _parse_utc(text: str) -> datetime | None:
    body = text.removeprefix("UTC=")
    if body.startswith(("0000-00-00", "9999-99-99")):
        return None
    return datetime.strptime(body, "%Y-%m-%dT%H:%M:%S")


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_array(path: Path, array: npt.NDArray[Any]) -> ArrayRef:
    """Write ``array`` as .npy (deterministic bytes); return its reference (name relative to the folder)."""
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
    path.write_bytes(buf.getvalue())
    return ArrayRef(
        file=path.name, sha256=hashlib.sha256(buf.getvalue()).hexdigest(), dtype=str(array.dtype), shape=array.shape
    )


def load_array(ref: ArrayRef, folder: Path) -> npt.NDArray[Any]:
    """Load a sidecar array after checking its sha256, dtype and shape (GippError otherwise)."""
    path = folder / ref.file
    if not path.is_file():
        raise GippError(f"{ref.file}: sidecar array missing in {folder}")
    digest = sha256_file(path)
    if digest != ref.sha256:
        raise GippError(f"{ref.file}: sha256 {digest[:12]}… does not match the GIPP's {ref.sha256[:12]}…")
    arr: npt.NDArray[Any] = np.asarray(np.load(path, allow_pickle=False))
    if str(arr.dtype) != ref.dtype or tuple(arr.shape) != tuple(ref.shape):
        raise GippError(f"{ref.file}: array {arr.dtype}{arr.shape} does not match {ref.dtype}{tuple(ref.shape)}")
    return arr


# ----------------------------------------------------------------------------- model → XML
def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _alias(model: type[BaseModel], name: str) -> str:
    info = model.model_fields[name]
    return info.alias or name


def _item_name(model: type[BaseModel], name: str) -> str:
    extra = model.model_fields[name].json_schema_extra
    if isinstance(extra, dict) and isinstance(extra.get("item"), str):
        return str(extra["item"])
    return "Item"


def _model_to_xml(parent: etree._Element, obj: BaseModel) -> None:
    cls = type(obj)
    for name in cls.model_fields:
        value = getattr(obj, name)
        if value is None:
            continue
        tag = _alias(cls, name)
        if isinstance(value, ArrayRef):
            el = etree.SubElement(parent, _q(tag), sha256=value.sha256, dtype=value.dtype)
            el.set("shape", " ".join(str(s) for s in value.shape))
            el.text = value.file
        elif isinstance(value, BaseModel):
            _model_to_xml(etree.SubElement(parent, _q(tag)), value)
        elif isinstance(value, tuple | list):
            lst = etree.SubElement(parent, _q(tag), count=str(len(value)))
            if value and isinstance(value[0], BaseModel):
                item = _item_name(cls, name)
                for sn, sub in enumerate(value, start=1):
                    _model_to_xml(etree.SubElement(lst, _q(item), sn=str(sn)), sub)
            elif value:
                lst.text = " ".join(_text(v) for v in value)
        else:
            etree.SubElement(parent, _q(tag)).text = _text(value)


def _unwrap(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _unwrap(args[0]) if len(args) == 1 else annotation
    return annotation


def _scalar(annotation: Any, text: str) -> Any:
    if annotation is bool:
        return text.strip() == "true"
    if annotation is int:
        return int(text)
    if annotation is float:
        return float(text)
    if annotation is datetime:
        return datetime.fromisoformat(text)
    return text


def _xml_to_data(model: type[BaseModel], el: etree._Element) -> dict[str, Any]:
    data: dict[str, Any] = {}
    children = {etree.QName(c).localname: c for c in el if isinstance(c.tag, str)}
    for name, info in model.model_fields.items():
        tag = info.alias or name
        child = children.get(tag)
        if child is None:
            continue
        ann = _unwrap(info.annotation)
        origin = typing.get_origin(ann)
        if isinstance(ann, type) and issubclass(ann, ArrayRef):
            data[tag] = {
                "file": (child.text or "").strip(),
                "sha256": child.get("sha256", ""),
                "dtype": child.get("dtype", ""),
                "shape": tuple(int(s) for s in (child.get("shape") or "").split()),
            }
        elif isinstance(ann, type) and issubclass(ann, BaseModel):
            data[tag] = _xml_to_data(ann, child)
        elif origin in (tuple, list):
            inner = typing.get_args(ann)[0]
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                data[tag] = [_xml_to_data(inner, c) for c in child if isinstance(c.tag, str)]
            else:
                data[tag] = [_scalar(inner, t) for t in (child.text or "").split()]
        else:
            data[tag] = _scalar(ann, child.text or "")
    return data


# ----------------------------------------------------------------------------- files
@dataclass(frozen=True)
class GippFile:
    """A GIPP read from disk: header, content and the folder holding its sidecars."""

    path: Path
    header: GippHeader
    content: GippContent

    def array(self, field: str) -> npt.NDArray[Any]:
        """Load the sidecar array of content field ``field`` (sha256-checked)."""
        ref = getattr(self.content, field)
        if not isinstance(ref, ArrayRef):
            raise GippError(f"{self.path.name}: field {field!r} is not a sidecar array")
        return load_array(ref, self.path.parent)


def make_header(
    content: GippContent,
    *,
    creator: str,
    creator_version: str,
    creation_date: datetime,
    file_class: str = "TEST",
    validity_start: datetime | None = None,
    validity_stop: datetime | None = None,
    nickname: str = "ALLSITES",
    applicability: str = "L",
    serial: int = 1,
    file_version: int = 1,
    band: str | None = None,
    tdi: int | None = None,
    notes: str = "",
) -> GippHeader:
    """A header whose File_Name follows the VENµS pattern for ``content``'s type."""
    name = GippName(
        file_class=file_class,
        file_type=content.FILE_TYPE,
        applicability=applicability,
        nickname=nickname,
        serial=serial,
        valid_start=validity_start.date() if validity_start else None,
        valid_stop=validity_stop.date() if validity_stop else None,
        band=band,
        tdis=(tdi,) if tdi is not None else None,
        emission=creation_date,
    )
    return GippHeader(
        file_name=str(name),
        file_description=content.FILE_DESCRIPTION,
        notes=notes,
        file_class=file_class,
        file_type=content.FILE_TYPE,
        validity_start=validity_start,
        validity_stop=validity_stop,
        file_version=file_version,
        creator=creator,
        creator_version=creator_version,
        creation_date=creation_date,
        applicability="S" if applicability == "S" else "L",
        nickname=nickname,
        serial=serial,
        band=band,
        tdis=(tdi,) if tdi is not None else None,
    )


def gipp_to_xml(header: GippHeader, content: GippContent) -> bytes:
    """Serialise a GIPP (deterministic bytes, UTF-8, pretty-printed)."""
    if header.file_type != content.FILE_TYPE:
        raise GippError(f"file_type: header says {header.file_type}, content is {content.FILE_TYPE}")
    root = etree.Element(_q("Earth_Explorer_File"), nsmap={None: NS, "xsi": XSI})  # type: ignore[dict-item]
    root.set(f"{{{XSI}}}type", content.XSI_TYPE)
    root.set("schema_version", content.SCHEMA_VERSION)
    hdr = etree.SubElement(root, _q("Earth_Explorer_Header"))
    fixed = etree.SubElement(hdr, _q("Fixed_Header"))
    etree.SubElement(fixed, _q("File_Name")).text = header.file_name
    etree.SubElement(fixed, _q("File_Description")).text = header.file_description
    etree.SubElement(fixed, _q("Notes")).text = header.notes
    etree.SubElement(fixed, _q("Mission")).text = header.mission
    etree.SubElement(fixed, _q("File_Class")).text = header.file_class
    etree.SubElement(fixed, _q("File_Type")).text = header.file_type
    vp = etree.SubElement(fixed, _q("Validity_Period"))
    etree.SubElement(vp, _q("Validity_Start")).text = _utc(header.validity_start, BEGIN_OF_MISSION)
    etree.SubElement(vp, _q("Validity_Stop")).text = _utc(header.validity_stop, END_OF_MISSION)
    etree.SubElement(fixed, _q("File_Version")).text = f"{header.file_version:04d}"
    src = etree.SubElement(fixed, _q("Source"))
    etree.SubElement(src, _q("System")).text = header.system
    etree.SubElement(src, _q("Creator")).text = header.creator
    etree.SubElement(src, _q("Creator_Version")).text = header.creator_version
    etree.SubElement(src, _q("Creation_Date")).text = _utc(header.creation_date, BEGIN_OF_MISSION)
    var = etree.SubElement(hdr, _q("Variable_Header"))
    mph = etree.SubElement(var, _q("Main_Product_Header"))
    etree.SubElement(mph, _q("List_of_Consumers"), count="0")
    etree.SubElement(mph, _q("List_of_Extensions"), count="0")
    sph = etree.SubElement(var, _q("Specific_Product_Header"))
    inst = etree.SubElement(sph, _q("Instance_Id"))
    if header.file_type != "IMQ_SBPARS":
        kind = "S_SITE" if header.applicability == "S" else "L_LIST"
        etree.SubElement(inst, _q("Applicability_NickName_Type")).text = kind
        etree.SubElement(inst, _q("Applicability_NickName")).text = header.nickname
        etree.SubElement(inst, _q("Serial_Key")).text = f"{header.serial:05d}"
        ivp = etree.SubElement(inst, _q("Validity_Period"))
        etree.SubElement(ivp, _q("Validity_Start")).text = _utc(header.validity_start, BEGIN_OF_MISSION)
        etree.SubElement(ivp, _q("Validity_Stop")).text = _utc(header.validity_stop, END_OF_MISSION)
        if header.band is not None:
            etree.SubElement(inst, _q("Band_Code")).text = band_code(header.band)
        if header.tdis:
            etree.SubElement(inst, _q("TDI_Configuration_Values")).text = " ".join(f"{t:02d}" for t in header.tdis)
        sites = etree.SubElement(sph, _q("List_of_Applicable_SiteDefinition_Ids"), count=str(len(header.sites)))
        for sn, site in enumerate(header.sites, start=1):
            etree.SubElement(sites, _q("Applicable_SiteDefinition_Id"), sn=str(sn)).text = site
    else:
        etree.SubElement(inst, _q("Emission_Date")).text = _utc(header.creation_date, BEGIN_OF_MISSION)
    block = etree.SubElement(root, _q("Data_Block"), type="xml")
    _model_to_xml(block, content)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def write_gipp(
    folder: Path,
    header: GippHeader,
    content: GippContent,
) -> Path:
    """Write ``<folder>/<File_Name>.EEF`` and return its path (sidecars must already be in ``folder``)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{header.file_name}.EEF"
    path.write_bytes(gipp_to_xml(header, content))
    return path


def sidecar_path(folder: Path, file_name: str, field: str) -> Path:
    """Where the sidecar array of ``field`` of GIPP ``file_name`` goes."""
    return folder / f"{file_name}.{field}.npy"


def _find(el: etree._Element, *path: str) -> etree._Element | None:
    cur: etree._Element | None = el
    for tag in path:
        if cur is None:
            return None
        cur = cur.find(_q(tag))
    return cur


def _req_text(root: etree._Element, source: str, *path: str) -> str:
    node = _find(root, *path)
    if node is None:
        raise GippError(f"{source}: missing element {'/'.join(path)}")
    return (node.text or "").strip()


def read_gipp(path: str | Path, expected_type: str | None = None) -> GippFile:
    """Read a GIPP file; GippError naming the element or field at fault when it is malformed."""
    p = Path(path)
    try:
        root = etree.parse(str(p), etree.XMLParser(resolve_entities=False, no_network=True)).getroot()
    except (OSError, etree.XMLSyntaxError) as err:
        raise GippError(f"{p}: cannot read GIPP XML: {err}") from err
    src = str(p)
    fh = ("Earth_Explorer_Header", "Fixed_Header")
    file_type = _req_text(root, src, *fh, "File_Type")
    if expected_type is not None and file_type != expected_type:
        raise GippError(f"{src}: File_Type is {file_type}, expected {expected_type}")
    model = CONTENT_MODELS.get(file_type)
    if model is None:
        raise GippError(f"{src}: File_Type {file_type} has no content model")
    file_name = _req_text(root, src, *fh, "File_Name")
    try:
        name = parse_gipp_name(file_name)
    except ValueError as err:
        raise GippError(f"{src}: File_Name: {err}") from err
    sites_el = _find(root, "Earth_Explorer_Header", "Variable_Header", "Specific_Product_Header",
                     "List_of_Applicable_SiteDefinition_Ids")
    sites = tuple((s.text or "").strip() for s in sites_el) if sites_el is not None else ()
    try:
        header = GippHeader(
            file_name=file_name,
            file_description=_req_text(root, src, *fh, "File_Description"),
            notes=_req_text(root, src, *fh, "Notes"),
            mission=_req_text(root, src, *fh, "Mission"),
            file_class=_req_text(root, src, *fh, "File_Class"),
            file_type=file_type,
            validity_start=_parse_utc(_req_text(root, src, *fh, "Validity_Period", "Validity_Start")),
            validity_stop=_parse_utc(_req_text(root, src, *fh, "Validity_Period", "Validity_Stop")),
            file_version=int(_req_text(root, src, *fh, "File_Version")),
            system=_req_text(root, src, *fh, "Source", "System"),
            creator=_req_text(root, src, *fh, "Source", "Creator"),
            creator_version=_req_text(root, src, *fh, "Source", "Creator_Version"),
            creation_date=_parse_utc(_req_text(root, src, *fh, "Source", "Creation_Date")) or datetime(1, 1, 1),
            applicability="S" if name.applicability == "S" else "L",
            nickname=name.nickname,
            serial=name.serial,
            band=name.band,
            tdis=name.tdis,
            sites=sites,
        )
    except ValidationError as err:
        raise GippError(f"{src}: header: {describe_validation_error(err)}") from err
    except ValueError as err:
        raise GippError(f"{src}: header: {err}") from err
    block = root.find(_q("Data_Block"))
    if block is None:
        raise GippError(f"{src}: missing element Data_Block")
    try:
        content = model.model_validate(_xml_to_data(model, block))
    except ValidationError as err:
        raise GippError(f"{src}: Data_Block: {describe_validation_error(err)}") from err
    except ValueError as err:
        raise GippError(f"{src}: Data_Block: {err}") from err
    return GippFile(path=p, header=header, content=content)


def read_content(path: str | Path, model: type[C]) -> C:
    """Read a GIPP and return its content, checked to be of ``model``'s type."""
    gf = read_gipp(path, expected_type=model.FILE_TYPE)
    if not isinstance(gf.content, model):
        raise GippError(f"{path}: content is {type(gf.content).__name__}, expected {model.__name__}")
    return gf.content
