"""Read and write GIPP files in the Earth Explorer layout (one ``.EEF`` file: header + ``Data_Block``).

The layout follows the VENµS ICD (VE-ICD-PRO-437-CNES, see ``../shared/reference/venus/FACTS.md``):
``Earth_Explorer_File`` (namespace ``http://eop-cfi.esa.int/CFI``, ``xsi:type`` and ``schema_version``) holding
``Earth_Explorer_Header`` (``Fixed_Header`` then ``Variable_Header``) and ``Data_Block``. File names follow
``VE_<CLASS>_<TYPE>_<S|L>_<NICKNAME>_<SERIAL>_<VALIDSTART>_<VALIDSTOP>[_<BAND>[_<TDISET>]]``; AUX and IMQ files
may also use their own names (:data:`OTHER_LAYOUTS`, e.g. ``VE_TEST_AUX_REFDE1_<P1>_<P2>_<vvvv>``), and a
stand-alone header (``.HDR``, root ``Earth_Explorer_Header``) is read with its ``Specific_Product_Header`` as content.

Parsing is hardened: no DTD, no entity expansion, no network, a size limit; every error names file:line.
The data block is handled generically; :func:`block_to_dict` / :func:`dict_to_block` map it to and from
plain JSON-like data (element → key, repeated or ``List_of_*`` children → list, attributes → ``@name``, text
next to attributes/children → ``#text``).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lxml import etree

from viq_host.gipp.models import (
    ALLSITES,
    BAND_PATTERN,
    TDI_SET_PATTERN,
    TYPE_PATTERN,
    Applicability,
    GippFileError,
    Validity,
    tdi_configurations,
    utc,
)

if TYPE_CHECKING:
    from viq_host.gipp.models import GippRecord

EE_NS = "http://eop-cfi.esa.int/CFI"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
MISSION = "VENuS"
SYSTEM = "VIQ"
MAX_BYTES = 256 * 1024 * 1024
BEGIN_OF_MISSION = "UTC=0000-00-00T00:00:00"
END_OF_MISSION = "UTC=9999-99-99T99:99:99"

NAME_PATTERN = re.compile(
    r"^VE_(?P<file_class>[0-9A-Z_]{4})_(?P<gipp_type>[A-Z]{3}_[0-9A-Z_]{6})_(?P<kind>[SL])_(?P<nick>[0-9A-Z_]{8})"
    r"_(?P<serial>\d{5})_(?P<start>\d{8})_(?P<stop>\d{8})(?:_(?P<band>B\d\d)(?:_(?P<tdi>[01]{6}))?)?$"
)
EXTENSION_PREFIX = "VIQ_"

_POINT = r"[EW]\d{5}[NS]\d{4}"
#: Further VENµS name layouts (FACTS.md §3, [VE-DICT]), tried when the GIP pattern does not match. Each gives the
#: layout name, the file types it applies to and the pattern of the instance id (what follows the type code).
OTHER_LAYOUTS: tuple[tuple[str, frozenset[str], re.Pattern[str]], ...] = (
    # reference DEM / image: bounding-box corners [EW]ddddd[NS]dddd, then a 4-digit version
    (
        "BBOX",
        frozenset({"AUX_REFDE1", "AUX_REFIMG"}),
        re.compile(rf"^(?P<instance>{_POINT}_{_POINT})_(?P<version>\d{{4}})$"),
    ),
    # per-site L2 DEM: site nick name, version
    ("SITE_VERSION", frozenset({"AUX_REFDE2"}), re.compile(r"^(?P<nick>[0-9A-Z_]{8})_(?P<version>\d{4})$")),
    # image-quality files stamped with their emission date
    ("EMISSION", frozenset({"IMQ_SBPARS", "IMQ_IQIMES"}), re.compile(r"^(?P<instance>\d{8}T\d{6})$")),
    # reference geometry: site, acquisition date, production date
    ("SITE_DATES", frozenset({"IMQ_RFGEOM"}), re.compile(r"^(?P<nick>[0-9A-Z_]{8})_(?P<instance>\d{8}_\d{8})$")),
    # attitude parameter set: site, version, start and stop times
    (
        "SITE_VERSION_TIMES",
        frozenset({"IMQ_ATPSET"}),
        re.compile(r"^(?P<nick>[0-9A-Z_]{8})_(?P<version>\d{4})_(?P<instance>\d{8}T\d{6}_\d{8}T\d{6})$"),
    ),
)
_OTHER_NAME = re.compile(r"^VE_(?P<file_class>[0-9A-Z_]{4})_(?P<gipp_type>[A-Z]{3}_[0-9A-Z_]{6})_(?P<rest>.+)$")


@dataclass(frozen=True)
class GippName:
    """The parts of a VENµS GIPP file name."""

    file_class: str
    gipp_type: str
    kind: str  # "S" (one site) or "L" (list, ALLSITES included)
    nick: str  # without padding
    serial: int
    start: str  # yyyymmdd or 00000000
    stop: str  # yyyymmdd or 99999999
    band: str | None = None
    tdi_set: str | None = None
    layout: str = "GIP"
    """``GIP`` (the pattern above) or one of :data:`OTHER_LAYOUTS` (AUX/IMQ names)."""
    instance: str = ""
    """Other layouts: the part of the instance id the fields above do not hold (e.g. the REFDE1 corners)."""

    @property
    def has_serial(self) -> bool:
        """True when the name carries a serial key or version (False for emission-date and RFGEOM names)."""
        return self.layout in ("GIP", "BBOX", "SITE_VERSION", "SITE_VERSION_TIMES")

    @property
    def has_validity(self) -> bool:
        """True when the name carries the validity dates (only the GIP layout does)."""
        return self.layout == "GIP"

    def __str__(self) -> str:
        if self.layout != "GIP":
            return self._other_str()
        parts = [
            "VE",
            self.file_class,
            self.gipp_type,
            self.kind,
            self.nick.ljust(8, "_"),
            f"{self.serial:05d}",
            self.start,
            self.stop,
        ]
        if self.band:
            parts.append(self.band)
            if self.tdi_set:
                parts.append(self.tdi_set)
        return "_".join(parts)

    def _other_str(self) -> str:
        head = f"VE_{self.file_class}_{self.gipp_type}"
        nick = self.nick.ljust(8, "_")
        if self.layout == "BBOX":
            return f"{head}_{self.instance}_{self.serial:04d}"
        if self.layout == "SITE_VERSION":
            return f"{head}_{nick}_{self.serial:04d}"
        if self.layout == "SITE_DATES":
            return f"{head}_{nick}_{self.instance}"
        if self.layout == "SITE_VERSION_TIMES":
            return f"{head}_{nick}_{self.serial:04d}_{self.instance}"
        return f"{head}_{self.instance}"

    @classmethod
    def _parse_other(cls, stem: str) -> GippName | None:
        """An AUX/IMQ name of :data:`OTHER_LAYOUTS`, or None."""
        m = _OTHER_NAME.match(stem)
        if not m:
            return None
        for layout, types, pattern in OTHER_LAYOUTS:
            if m["gipp_type"] not in types:
                continue
            p = pattern.match(m["rest"])
            if not p:
                raise ValueError(f"file name {stem!r} does not follow the {m['gipp_type']} pattern ({layout})")
            parts = p.groupdict()
            nick = (parts.get("nick") or "").rstrip("_")
            return cls(
                file_class=m["file_class"],
                gipp_type=m["gipp_type"],
                kind="S" if nick else "L",
                nick=nick or ALLSITES,
                serial=int(parts["version"]) if parts.get("version") else 0,
                start="00000000",
                stop="99999999",
                layout=layout,
                instance=parts.get("instance") or "",
            )
        return None

    @classmethod
    def parse(cls, name: str) -> GippName:
        """Split a file name (extension allowed); ValueError when it does not follow the pattern.

        GIPP names follow the GIP pattern; AUX and IMQ types listed in :data:`OTHER_LAYOUTS` may also use their
        own names (e.g. ``VE_TEST_AUX_REFDE1_E00520N4430_E00540N4410_0001``).
        """
        stem = re.sub(r"\.(EEF|HDR|DBL|xml)$", "", Path(name).name, flags=re.IGNORECASE)
        m = NAME_PATTERN.match(stem)
        if not m:
            other = cls._parse_other(stem)
            if other is not None:
                return other
            raise ValueError(
                f"file name {stem!r} does not follow "
                "VE_<CLASS>_<TYPE>_<S|L>_<NICKNAME>_<SERIAL>_<VALIDSTART>_<VALIDSTOP>[_<BAND>[_<TDISET>]]"
            )
        band, tdi = m["band"], m["tdi"]
        if band and not BAND_PATTERN.match(band):
            raise ValueError(f"band code {band!r} in {stem!r} is not B01..B12")
        if tdi and not TDI_SET_PATTERN.match(tdi):
            raise ValueError(f"TDI set {tdi!r} in {stem!r} is not [01]{{4}}0[01]")
        for label, date in (("start", m["start"]), ("stop", m["stop"])):
            if date not in ("00000000", "99999999"):
                try:
                    datetime.strptime(date, "%Y%m%d")
                except ValueError:
                    raise ValueError(f"validity {label} {date!r} in {stem!r} is not a date") from None
        return cls(
            file_class=m["file_class"],
            gipp_type=m["gipp_type"],
            kind=m["kind"],
            nick=m["nick"].rstrip("_") or "_",
            serial=int(m["serial"]),
            start=m["start"],
            stop=m["stop"],
            band=band,
            tdi_set=tdi,
        )

    @classmethod
    def for_record(cls, record: GippRecord) -> GippName:
        """The name of a stored GIPP in its current status and validity.

        A record whose content names its file instance (``instance_id``, e.g. the REFDE1 corners) keeps its own
        layout; IMQ/AUX types of another layout are named from the record (emission time = validity start,
        site nick name, version = serial, dates and times from the validity); every other record is named with
        the GIP pattern.
        """
        other = cls._other_for_record(record)
        if other is not None:
            return other
        return cls.build(
            record.file_class,
            record.gipp_type,
            record.applicability,
            record.serial,
            record.validity,
            record.band,
            record.tdi_set,
        )

    @classmethod
    def _other_for_record(cls, record: GippRecord) -> GippName | None:
        """The BBOX / EMISSION / SITE_* name of a record of those types, None when the record lacks what it needs
        (a BBOX name needs the corners its content model names)."""
        layout = next((lay for lay, types, _ in OTHER_LAYOUTS if record.gipp_type in types), "")
        start, stop = record.validity.start, record.validity.stop
        if layout == "BBOX" and record.instance_id:
            instance = record.instance_id
        elif layout == "EMISSION" and start is not None:
            instance = f"{start:%Y%m%dT%H%M%S}"
        elif layout == "SITE_VERSION":
            instance = ""
        elif layout == "SITE_DATES" and start is not None:
            instance = f"{start:%Y%m%d}_{record.creation_date:%Y%m%d}"
        elif layout == "SITE_VERSION_TIMES" and start is not None and stop is not None:
            instance = f"{start:%Y%m%dT%H%M%S}_{stop:%Y%m%dT%H%M%S}"
        else:
            return None
        return cls(
            file_class=record.file_class,
            gipp_type=record.gipp_type,
            kind="S" if record.applicability.kind == "SITE" else "L",
            nick=record.applicability.name,
            serial=record.serial,
            start="00000000",
            stop="99999999",
            layout=layout,
            instance=instance,
        )

    @classmethod
    def build(
        cls,
        file_class: str,
        gipp_type: str,
        applicability: Applicability,
        serial: int,
        validity: Validity,
        band: str | None,
        tdi_set: str | None,
    ) -> GippName:
        """Name from its parts."""
        return cls(
            file_class=file_class,
            gipp_type=gipp_type,
            kind="S" if applicability.kind == "SITE" else "L",
            nick=applicability.name,
            serial=serial,
            start=validity.start.strftime("%Y%m%d") if validity.start else "00000000",
            stop=validity.stop.strftime("%Y%m%d") if validity.stop else "99999999",
            band=band,
            tdi_set=tdi_set,
        )


def format_ee_time(value: datetime | None, *, stop: bool) -> str:
    """``UTC=YYYY-MM-DDThh:mm:ss``, or the begin/end-of-mission special value for ``None``."""
    if value is None:
        return END_OF_MISSION if stop else BEGIN_OF_MISSION
    return "UTC=" + utc(value).strftime("%Y-%m-%dT%H:%M:%S")


def parse_ee_time(text: str) -> datetime | None:
    """Inverse of :func:`format_ee_time`; ValueError on a bad value."""
    text = text.strip()
    if text in (BEGIN_OF_MISSION, END_OF_MISSION):
        return None
    if not text.startswith("UTC="):
        raise ValueError(f"time {text!r} does not start with 'UTC='")
    return datetime.strptime(text[4:], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)


def site_definition_id(nick: str, file_class: str = "OPER") -> str:
    """SiteDefinition id of a site nick name (site type S)."""
    return f"VE_{file_class}_MPL_SITDEF_S_{nick.ljust(8, '_')}"


def site_nick(site_id: str) -> str:
    """Site nick name of a SiteDefinition id (or of a bare nick name)."""
    return site_id.rsplit("_MPL_SITDEF_", 1)[-1][2:].rstrip("_") if "_MPL_SITDEF_" in site_id else site_id.rstrip("_")


@dataclass(frozen=True)
class EEGippDocument:
    """The content of one GIPP ``.EEF`` file."""

    name: GippName
    description: str
    notes: str
    file_class: str
    file_type: str
    validity: Validity
    file_version: int
    creator: str
    creator_version: str
    creation_date: datetime
    applicability: Applicability
    data_block: etree._Element
    system: str = SYSTEM
    schema_version: str = "1.0"
    root_type: str = ""
    extensions: tuple[tuple[str, str], ...] = ()
    source: str | None = field(default=None, compare=False)

    def extension_values(self, keyword: str) -> list[str]:
        """Values of the ``List_of_Extensions`` entries called ``keyword``."""
        return [v for k, v in self.extensions if k == keyword]


# ---------------------------------------------------------------------------------------------- reading


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=True,
        remove_comments=True,
        remove_pis=True,
    )


def parse_xml(data: bytes, source: str | None) -> etree._Element:
    """Parse with the hardened parser; GippFileError (file:line) on bad XML, DTDs and entities."""
    if len(data) > MAX_BYTES:
        raise GippFileError(f"file larger than {MAX_BYTES} bytes", source=source)
    try:
        tree = etree.fromstring(data, parser=_parser()).getroottree()
    except etree.XMLSyntaxError as err:
        line = err.lineno if err.lineno else None
        raise GippFileError(f"malformed XML: {err.msg}", source=source, line=line) from err
    info = tree.docinfo
    if info.internalDTD is not None or info.system_url or info.public_id or info.externalDTD is not None:
        raise GippFileError("DOCTYPE/entity declarations are not allowed in a GIPP file", source=source, line=1)
    return tree.getroot()


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname


def _children(parent: etree._Element) -> list[etree._Element]:
    return [c for c in parent if isinstance(c.tag, str)]


class _Reader:
    def __init__(self, source: str | None) -> None:
        self.source = source

    def fail(self, el: etree._Element | None, message: str) -> GippFileError:
        line = el.sourceline if el is not None else None
        return GippFileError(message, source=self.source, line=line if isinstance(line, int) else None)

    def child(self, parent: etree._Element, name: str) -> etree._Element:
        for c in _children(parent):
            if _local(c) == name:
                return c
        raise self.fail(parent, f"{_local(parent)}: missing element {name}")

    def optional(self, parent: etree._Element, name: str) -> etree._Element | None:
        for c in _children(parent):
            if _local(c) == name:
                return c
        return None

    def text(self, parent: etree._Element, path: str, *, required: bool = True) -> str:
        el = parent
        for part in path.split("/"):
            el = self.child(el, part)
        value = (el.text or "").strip()
        if required and not value:
            raise self.fail(el, f"{path}: empty")
        return value

    def order(self, parent: etree._Element, names: tuple[str, ...]) -> None:
        got = tuple(_local(c) for c in _children(parent))
        if got != names:
            raise self.fail(parent, f"{_local(parent)}: children {list(got)} are not {list(names)} in this order")


FIXED_HEADER = (
    "File_Name",
    "File_Description",
    "Notes",
    "Mission",
    "File_Class",
    "File_Type",
    "Validity_Period",
    "File_Version",
    "Source",
)


def read_gipp(path: Path) -> EEGippDocument:
    """Read a GIPP ``.EEF`` file; GippFileError with file:line on any fault."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise GippFileError(f"cannot read: {err.strerror}", source=str(path)) from err
    return read_gipp_bytes(data, source=str(path))


def read_gipp_bytes(data: bytes, *, source: str | None = None) -> EEGippDocument:
    """Parse the bytes of a GIPP ``.EEF`` file."""
    r = _Reader(source)
    root = parse_xml(data, source)
    if _local(root) == "Earth_Explorer_Header":
        # a stand-alone header (.HDR beside a .DBL / .DBL.DIR): its Specific_Product_Header is the content
        header = root
        data_block = _header_data_block(r, header)
    elif _local(root) != "Earth_Explorer_File":
        raise r.fail(root, f"root element is {_local(root)}, expected Earth_Explorer_File or Earth_Explorer_Header")
    else:
        r.order(root, ("Earth_Explorer_Header", "Data_Block"))
        header = r.child(root, "Earth_Explorer_Header")
        data_block = r.child(root, "Data_Block")
    fixed = r.child(header, "Fixed_Header")
    r.order(fixed, FIXED_HEADER)
    file_name_el = r.child(fixed, "File_Name")
    try:
        name = GippName.parse(r.text(fixed, "File_Name"))
    except ValueError as err:
        raise r.fail(file_name_el, f"File_Name: {err}") from None
    mission = r.text(fixed, "Mission")
    if mission != MISSION:
        raise r.fail(r.child(fixed, "Mission"), f"Mission is {mission!r}, expected {MISSION!r}")
    file_class = r.text(fixed, "File_Class")
    file_type = r.text(fixed, "File_Type")
    if not TYPE_PATTERN.match(file_type):
        raise r.fail(r.child(fixed, "File_Type"), f"File_Type {file_type!r} is not a 10-character type code")
    if file_class != name.file_class or file_type != name.gipp_type:
        raise r.fail(file_name_el, f"File_Name {name} disagrees with File_Class {file_class} / File_Type {file_type}")
    period = r.child(fixed, "Validity_Period")
    try:
        start = parse_ee_time(r.text(period, "Validity_Start"))
        stop = parse_ee_time(r.text(period, "Validity_Stop"))
        validity = Validity(start=start, stop=stop)
    except ValueError as err:
        raise r.fail(period, f"Validity_Period: {err}") from None
    expected = GippName.build(file_class, file_type, Applicability(), name.serial, validity, None, None)
    if name.has_validity and (expected.start, expected.stop) != (name.start, name.stop):
        raise r.fail(
            file_name_el,
            f"File_Name validity {name.start}_{name.stop} disagrees with Validity_Period "
            f"{expected.start}_{expected.stop}",
        )
    version_text = r.text(fixed, "File_Version")
    if not re.fullmatch(r"\d{4}", version_text):
        raise r.fail(r.child(fixed, "File_Version"), f"File_Version {version_text!r} is not 4 digits")
    if name.layout in ("BBOX", "SITE_VERSION", "SITE_VERSION_TIMES") and int(version_text) != name.serial:
        raise r.fail(file_name_el, f"File_Name version {name.serial:04d} disagrees with File_Version {version_text}")
    src = r.child(fixed, "Source")
    r.order(src, ("System", "Creator", "Creator_Version", "Creation_Date"))
    try:
        created = parse_ee_time(r.text(src, "Creation_Date"))
    except ValueError as err:
        raise r.fail(src, f"Creation_Date: {err}") from None
    if created is None:
        raise r.fail(src, "Creation_Date cannot be a special value")
    site_ids: list[str] = []
    extensions: list[tuple[str, str]] = []
    variable = r.optional(header, "Variable_Header")
    if variable is not None:
        main = r.optional(variable, "Main_Product_Header")
        ext_list = None if main is None else r.optional(main, "List_of_Extensions")
        if ext_list is not None:
            for ext in _children(ext_list):
                extensions.append((r.text(ext, "Keyword"), r.text(ext, "Value", required=False)))
        specific = r.optional(variable, "Specific_Product_Header")
        inst = None if specific is None else r.optional(specific, "Instance_Id")
        if inst is not None:
            band_el = r.optional(inst, "Band_Code")
            if band_el is not None and (band_el.text or "").strip() != (name.band or ""):
                raise r.fail(band_el, f"Band_Code {band_el.text!r} disagrees with File_Name band {name.band}")
            tdi_el = r.optional(inst, "TDI_Configuration_Values")
            if tdi_el is not None and name.tdi_set is not None:
                values = tuple(int(v) for v in (tdi_el.text or "").split())
                if values != tdi_configurations(name.tdi_set):
                    raise r.fail(tdi_el, f"TDI_Configuration_Values {values} disagree with TDI set {name.tdi_set}")
        sites_el = None if specific is None else r.optional(specific, "List_of_Applicable_SiteDefinition_Ids")
        if sites_el is not None:
            site_ids = [(c.text or "").strip() for c in _children(sites_el)]
    try:
        if not name.has_validity and not (name.kind == "S" and site_ids == []):
            # AUX/IMQ names: the header's site list says where the file applies (a nick in the name must agree)
            nicks = [site_nick(s) for s in site_ids]
            if name.kind == "S" and nicks != [name.nick]:
                raise ValueError(f"site list {site_ids} disagrees with site nick name {name.nick}")
            if not nicks:
                applicability = Applicability.all_sites()
            elif len(nicks) == 1:
                applicability = Applicability.site(nicks[0])
            else:
                applicability = Applicability.site_list(nicks)
        elif name.kind == "S":
            applicability = Applicability.site(name.nick)
            if site_ids and [site_nick(s) for s in site_ids] != [name.nick]:
                raise ValueError(f"site list {site_ids} disagrees with site nick name {name.nick}")
        elif name.nick == ALLSITES:
            if site_ids:
                raise ValueError("an ALLSITES GIPP must have an empty List_of_Applicable_SiteDefinition_Ids")
            applicability = Applicability.all_sites()
        else:
            applicability = Applicability.site_list([site_nick(s) for s in site_ids], name=name.nick)
    except ValueError as err:
        raise r.fail(variable, f"applicability: {err}") from None
    return EEGippDocument(
        name=name,
        description=r.text(fixed, "File_Description", required=False),
        notes=r.text(fixed, "Notes", required=False),
        file_class=file_class,
        file_type=file_type,
        validity=validity,
        file_version=int(version_text),
        system=r.text(src, "System"),
        creator=r.text(src, "Creator"),
        creator_version=r.text(src, "Creator_Version"),
        creation_date=created,
        applicability=applicability,
        data_block=data_block,
        schema_version=root.get("schema_version", "1.0"),
        root_type=root.get(f"{{{XSI_NS}}}type", "") if _local(root) == "Earth_Explorer_File" else "",
        extensions=tuple(extensions),
        source=source,
    )


def _header_data_block(r: _Reader, header: etree._Element) -> etree._Element:
    """The content of a stand-alone header: ``Specific_Product_Header`` without the site list, as a Data_Block."""
    variable = r.child(header, "Variable_Header")
    specific = r.child(variable, "Specific_Product_Header")
    block = etree.Element(f"{{{EE_NS}}}Data_Block")
    block.sourceline = specific.sourceline  # errors point into the header
    for child in _children(specific):
        if _local(child) != "List_of_Applicable_SiteDefinition_Ids":
            block.append(copy.deepcopy(child))
    return block


# ---------------------------------------------------------------------------------------------- writing


def _sub(parent: etree._Element, name: str, text: str | None = None, **attrs: str) -> etree._Element:
    el = etree.SubElement(parent, f"{{{EE_NS}}}{name}", attrs)
    if text is not None:
        el.text = text
    return el


def _copy(parent: etree._Element, src: etree._Element) -> None:
    """Copy ``src`` under ``parent`` in the EE namespace, dropping whitespace-only text."""
    el = _sub(parent, _local(src))
    for key, value in src.attrib.items():
        el.set(str(key), str(value))
    text = (src.text or "").strip()
    if text:
        el.text = src.text.strip() if src.text else None
    for child in _children(src):
        _copy(el, child)


def ee_element(parent: etree._Element, name: str, text: str | None = None, **attrs: str) -> etree._Element:
    """A child element in the Earth Explorer namespace, with optional text and attributes."""
    return _sub(parent, name, text, **attrs)


def write_ee_header(
    parent: etree._Element,
    doc: EEGippDocument,
    *,
    name: str,
    description: str,
    file_class: str,
    file_type: str,
    validity: Any,
    system: str,
    creator: str,
    creator_version: str,
) -> tuple[etree._Element, etree._Element]:
    """The Fixed_Header and the Variable_Header's Main_Product_Header (consumers, ``doc``'s extensions) under
    ``parent``; returns (Variable_Header, its empty Specific_Product_Header)."""
    fixed = _sub(parent, "Fixed_Header")
    _sub(fixed, "File_Name", name)
    _sub(fixed, "File_Description", description)
    _sub(fixed, "Notes", doc.notes)
    _sub(fixed, "Mission", MISSION)
    _sub(fixed, "File_Class", file_class)
    _sub(fixed, "File_Type", file_type)
    period = _sub(fixed, "Validity_Period")
    _sub(period, "Validity_Start", format_ee_time(validity.start, stop=False))
    _sub(period, "Validity_Stop", format_ee_time(validity.stop, stop=True))
    _sub(fixed, "File_Version", f"{doc.file_version:04d}")
    src = _sub(fixed, "Source")
    _sub(src, "System", system)
    _sub(src, "Creator", creator)
    _sub(src, "Creator_Version", creator_version)
    _sub(src, "Creation_Date", format_ee_time(doc.creation_date, stop=False))
    variable = _sub(parent, "Variable_Header")
    main = _sub(variable, "Main_Product_Header")
    _sub(main, "List_of_Consumers", count="0")
    exts = _sub(main, "List_of_Extensions", count=str(len(doc.extensions)))
    for i, (keyword, value) in enumerate(doc.extensions, start=1):
        ext = _sub(exts, "Extension", sn=str(i))
        _sub(ext, "Keyword", keyword)
        _sub(ext, "Value", value)
    return variable, _sub(variable, "Specific_Product_Header")


def write_gip_applicability(inst: etree._Element, *, site: bool, nick: str, serial: int, validity: Any) -> None:
    """The GIP layout's applicability, serial key and validity inside an ``Instance_Id``."""
    _sub(inst, "Applicability_NickName_Type", "S_SITE" if site else "L_LIST")
    _sub(inst, "Applicability_NickName", nick.ljust(8, "_"))
    _sub(inst, "Serial_Key", f"{serial:05d}")
    period = _sub(inst, "Validity_Period")
    _sub(period, "Validity_Start", format_ee_time(validity.start, stop=False))
    _sub(period, "Validity_Stop", format_ee_time(validity.stop, stop=True))


def write_gipp(doc: EEGippDocument) -> bytes:
    """Serialise ``doc`` deterministically (same document → same bytes)."""
    nsmap: dict[str | None, str] = {None: EE_NS, "xsi": XSI_NS}
    root = etree.Element(f"{{{EE_NS}}}Earth_Explorer_File", nsmap=nsmap)  # type: ignore[arg-type]
    root.set(f"{{{XSI_NS}}}type", doc.root_type or f"{doc.file_type[4:]}_File_Type")
    root.set("schema_version", doc.schema_version)
    header = _sub(root, "Earth_Explorer_Header")
    _variable, specific = write_ee_header(
        header,
        doc,
        name=str(doc.name),
        description=doc.description,
        file_class=doc.file_class,
        file_type=doc.file_type,
        validity=doc.validity,
        system=doc.system,
        creator=doc.creator,
        creator_version=doc.creator_version,
    )
    inst = _sub(specific, "Instance_Id")
    if doc.name.layout == "GIP":
        write_gip_applicability(
            inst, site=doc.name.kind == "S", nick=doc.name.nick, serial=doc.name.serial, validity=doc.validity
        )
    else:  # the name's instance id (the content keeps its own Instance_Id where the type has one)
        _sub(inst, "File_Instance", str(doc.name)[len(f"VE_{doc.name.file_class}_{doc.name.gipp_type}_") :])
    if doc.name.band:
        _sub(inst, "Band_Code", doc.name.band)
    if doc.name.tdi_set:
        _sub(inst, "TDI_Configuration_Values", " ".join(f"{c:02d}" for c in tdi_configurations(doc.name.tdi_set)))
    sites = doc.applicability.sites if doc.applicability.kind != "ALLSITES" else ()
    site_list = _sub(specific, "List_of_Applicable_SiteDefinition_Ids", count=str(len(sites)))
    for i, nick in enumerate(sites, start=1):
        _sub(site_list, "Applicable_SiteDefinition_Id", site_definition_id(nick), sn=str(i))
    block = _sub(root, "Data_Block")
    for attr, attr_value in doc.data_block.attrib.items():
        block.set(str(attr), str(attr_value))
    for child in _children(doc.data_block):
        _copy(block, child)
    etree.indent(root, space="  ")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


# ---------------------------------------------------------------------------------------------- data block


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def block_to_dict(block: etree._Element) -> dict[str, Any]:
    """The children of a data block as JSON-like data (see the module docstring for the mapping)."""
    value = _element_value(block)
    if isinstance(value, dict):
        return value
    return {"#text": value} if value else {}


def _element_value(el: etree._Element) -> Any:
    kids = _children(el)
    attrs: dict[str, Any] = {f"@{k!s}": str(v) for k, v in el.attrib.items()}
    text = (el.text or "").strip()
    if not kids and not attrs:
        return text
    out: dict[str, Any] = dict(attrs)
    force_list = _local(el).startswith("List_of_")
    names = [_local(k) for k in kids]
    for kid, name in zip(kids, names, strict=True):
        value = _element_value(kid)
        if force_list or names.count(name) > 1 or "sn" in kid.attrib:
            out.setdefault(name, []).append(value)
        else:
            out[name] = value
    if text:
        out["#text"] = text
    return out


def dict_to_block(data: dict[str, Any], name: str = "Data_Block") -> etree._Element:
    """Inverse of :func:`block_to_dict`: an element (EE namespace) from JSON-like data."""
    el = etree.Element(f"{{{EE_NS}}}{name}")
    _fill(el, data)
    return el


def _fill(el: etree._Element, data: Any) -> None:
    if isinstance(data, dict):
        for key, value in data.items():
            if key.startswith("@"):
                el.set(key[1:], _scalar_text(value))
            elif key == "#text":
                el.text = _scalar_text(value)
            elif isinstance(value, list | tuple):
                for item in value:
                    _fill(_sub(el, key), item)
            else:
                _fill(_sub(el, key), value)
    else:
        text = _scalar_text(data)
        el.text = text if text else None
