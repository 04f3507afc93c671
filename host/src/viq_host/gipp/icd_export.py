"""Export a stored GIPP in the VENµS ICD's own layout, checked against the public ICD schema before it is written.

The store's ordinary export (:meth:`GippStore.export`) writes VIQ's files, which follow ``schemas/gipp/``: sidecar
``.npy`` arrays, 1–12 bands, ``Band_Code`` in the data block, 0-based detector ranges, uncertainties… The L1
processing centre reads the ICD's files (VE-ICD-PRO-437-CNES, schemas in ``../shared/reference/venus-icd-schemas``).
:func:`export_icd` writes, for the types the ICD defines, the file the ICD describes:

=============  ================================================================================================
GIP_DARKCU     5200 ``Dark_Current`` values inline (from the sidecar array), band and TDI set in ``Instance_Id``
GIP_RELSEN     5200 ``Relative_Sensitivity`` triplets ``a1 a2 Zs`` inline (from the three sidecar arrays)
GIP_PHGAIN     the 12 ``Band_Physical_Gain`` in band order, TDI values spelled ``01 04 08 16 32``
GIP_NOISMO     the 12 ``Band_Noise_Model`` in band order, TDI values spelled as above
GIP_OUTORD     one ``TDI_Configuration_Defect`` per TDI value of our TDI-set codes, ``Col_Range`` 1-based
IMQ_SBPARS     biases converted to degrees (``unit="deg"``), ``Emission_Date`` = validity start
AUX_REFDE1     the ``.HDR`` header and its ``.DBL.DIR`` files (geographic grids only: the ICD samples in degrees)
=============  ================================================================================================

What the ICD cannot express is refused (:class:`IcdExportRefused`, a GIPP error, exit code 135) with the GIPP,
the field and the reason, and nothing is written: spikes and hot pixels of a dark GIPP, a detector count other than
5200, bands missing from PHGAIN/NOISMO, a focal homothety, an interpolation rule ``none``, a unit other than
VIQ's default where the ICD file has no unit element, values the ICD types refuse (negative dark currents…).
Values that describe rather than parametrise (bias uncertainties, the OUTORD interpolation rule the L1 centre sets
in its own GIP_RADIOV, the reference DEM's sources and checksums) go to a small JSON file beside the export,
``<name>.VIQ.json``, written only when there is something to say. Provenance (producing job, processor version,
input products) stays in the header's ``List_of_Extensions`` (``VIQ_*`` keywords), which the ICD allows.

Every file is validated against its ICD XSD (``xmlschema``, offline: ``allow="local"``) before anything is
written; the export is deterministic (same GIPP, same status → same bytes).
"""

from __future__ import annotations

import functools
import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import xmlschema
from lxml import etree

from viq_host.gipp.eexml import (
    EE_NS,
    SYSTEM,
    XSI_NS,
    EEGippDocument,
    GippName,
    ee_element,
    format_ee_time,
    site_definition_id,
    write_ee_header,
    write_gip_applicability,
)
from viq_host.gipp.models import GippRecord, GippStoreError, tdi_configurations, tdi_set_code
from viq_interfaces.errors import ConfigurationError

if TYPE_CHECKING:
    from viq_host.gipp.store import GippStore

__all__ = [
    "ICD_LAYOUTS",
    "ICD_SCHEMAS_ENV",
    "IcdExport",
    "IcdExportRefused",
    "IcdLayout",
    "export_icd",
    "icd_schema",
    "icd_schemas_dir",
]

ICD_SCHEMAS_ENV = "VIQ_ICD_SCHEMAS"
"""Environment variable naming the ``venus-icd-schemas`` directory (holding ``Venus/`` and ``EarthExplorer/``)."""

ICD_DETECTORS = 5200
ICD_BANDS = tuple(f"B{i:02d}" for i in range(1, 13))
NOTES_SUFFIX = ".VIQ.json"

#: Units the ICD file has no element for: VIQ's default unit is the only one exported (the values mean the same).
DARK_UNIT = "DN"
GAIN_UNIT = "DN/(W.m-2.sr-1.um-1)"
#: Angle units of IMQ_SBPARS contents, in radians (the ICD writes degrees).
ANGLE_UNITS = {"urad": 1e-6, "mrad": 1e-3, "rad": 1.0}
#: Codes of grids sampled in degrees of WGS 84 longitude/latitude (AUX_REFDE1 samples in ``Angle_Type``, degrees).
GEOGRAPHIC_CRS = frozenset({"EPSG:4326"})


class IcdExportRefused(GippStoreError):
    """The GIPP holds content the VENµS ICD cannot express (or the type has no ICD layout); nothing was written."""


@dataclass(frozen=True)
class IcdLayout:
    """What the ICD fixes for one file type."""

    schema: str
    """Schema file under ``Venus/``."""
    root_type: str
    """``xsi:type`` of the root element."""
    schema_version: str
    """``schema_version`` attribute (at least the schema's minimum)."""
    description: str
    """The one ``File_Description`` the schema accepts."""
    header_file: bool = False
    """True: a stand-alone ``.HDR`` (root ``Earth_Explorer_Header``) with a ``.DBL.DIR``; False: one ``.EEF``."""


ICD_LAYOUTS: dict[str, IcdLayout] = {
    "GIP_DARKCU": IcdLayout("VE_GIP_DARKCU_DarkCurrents.xsd", "DARKCU_File_Type", "1.9", "DarkCurrents"),
    "GIP_RELSEN": IcdLayout(
        "VE_GIP_RELSEN_RelativeSensitivities.xsd", "RELSEN_File_Type", "0.40", "RelativeSensitivities"
    ),
    "GIP_PHGAIN": IcdLayout("VE_GIP_PHGAIN_PhysicalGainData.xsd", "PHGAIN_File_Type", "0.40", "PhysicalGainData"),
    "GIP_NOISMO": IcdLayout("VE_GIP_NOISMO_NoiseModel.xsd", "NOISMO_File_Type", "0.40", "NoiseModel"),
    "GIP_OUTORD": IcdLayout("VE_GIP_OUTORD_OutOfOrderDetectors.xsd", "OUTORD_File_Type", "0.40", "OutOfOrderDetectors"),
    "IMQ_SBPARS": IcdLayout(
        "VE_IMQ_SBPARS_SteeringBiasParameters.xsd", "SBPARS_File_Type", "1.7", "SteeringBiasParameters"
    ),
    "AUX_REFDE1": IcdLayout(
        "VE_AUX_REFDE1_ReferenceDemDataLevel1.xsd",
        "REFDE1_Header_Type",
        "0.40",
        "ReferenceDemDataLevel1",
        header_file=True,
    ),
}
"""The types with an ICD export, and their ICD schema constants."""


@dataclass(frozen=True)
class IcdExport:
    """The files one ICD export wrote."""

    path: Path
    """The ``.EEF`` file (or the ``.HDR`` header of AUX_REFDE1)."""
    data_files: tuple[Path, ...] = ()
    """AUX_REFDE1: the ``.DBL.DIR`` files."""
    notes: Path | None = None
    """``<name>.VIQ.json`` when the GIPP holds values the ICD has no place for (see the module docstring)."""


# ---------------------------------------------------------------------------------------------- schemas


def icd_schemas_dir(explicit: Path | None = None) -> Path:
    """The ``venus-icd-schemas`` directory: ``explicit``, else ``$VIQ_ICD_SCHEMAS``, else the workspace's
    ``../shared/reference/venus-icd-schemas``. ConfigurationError (exit code 160) when it is not there."""
    from viq_host.jobs.xsd import schemas_dir

    env = os.environ.get(ICD_SCHEMAS_ENV)
    if explicit is not None:
        candidate = explicit
    elif env:
        candidate = Path(env)
    else:
        candidate = schemas_dir().resolve().parents[1] / "shared" / "reference" / "venus-icd-schemas"
    if not (candidate / "Venus" / "VE_Dictionary.xsd").is_file():
        raise ConfigurationError(
            f"the VENµS ICD schemas are not in {candidate} (no Venus/VE_Dictionary.xsd): an ICD export is "
            f"validated before it is written; give --icd-schemas DIR or set {ICD_SCHEMAS_ENV}"
        )
    return candidate


@functools.cache
def _compiled(path: str) -> xmlschema.XMLSchema10:
    try:
        return xmlschema.XMLSchema10(path, allow="local")
    except (xmlschema.XMLSchemaException, OSError) as err:
        raise ConfigurationError(f"{path}: cannot load the ICD schema: {err}") from err


def icd_schema(gipp_type: str, directory: Path | None = None) -> xmlschema.XMLSchema10:
    """The compiled ICD schema of ``gipp_type`` (compiled once per process, offline)."""
    layout = ICD_LAYOUTS.get(gipp_type)
    if layout is None:
        raise IcdExportRefused(f"{gipp_type} has no ICD export (types: {', '.join(sorted(ICD_LAYOUTS))})")
    return _compiled(str(icd_schemas_dir(directory) / "Venus" / layout.schema))


# ---------------------------------------------------------------------------------------------- XML helpers


_el = ee_element


def _double(value: float) -> str:
    """xs:double text of a finite float (shortest repr that reads back to the same double)."""
    return repr(float(value))


def _decimal(value: float) -> str:
    """xs:decimal text (no exponent) that reads back to the same double."""
    return np.format_float_positional(float(value), unique=True, trim="-")


def _array_texts(values: np.ndarray[Any, Any]) -> list[str]:
    """Texts of an array's values, shortest for its own dtype (float32 values read back as the same float32)."""
    if values.dtype == np.float32:
        return [str(v) for v in values]
    if np.issubdtype(values.dtype, np.integer):
        return [str(int(v)) for v in values]
    return [repr(float(v)) for v in values]


def _tdi(value: Any) -> int:
    return int(value)


def _tdi_text(value: int) -> str:
    return f"{value:02d}"


# ---------------------------------------------------------------------------------------------- building


@dataclass
class _Built:
    """One export before anything is written."""

    name: str
    root: etree._Element
    copies: list[tuple[str, Path]] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)


class _Exporter:
    def __init__(self, store: GippStore, record: GippRecord) -> None:
        self.store = store
        self.record = record
        self.label = f"GIPP #{record.id} ({record.file_name})"

    def refuse(self, message: str) -> IcdExportRefused:
        return IcdExportRefused(f"{self.label}: {message}")

    def known(self, data: dict[str, Any], allowed: set[str]) -> None:
        """Refuse content fields the exporter does not know (a plugin model with more than the ICD)."""
        extra = sorted(set(data) - allowed)
        if extra:
            raise self.refuse(f"content field(s) {', '.join(extra)} have no place in the ICD {self.record.gipp_type}")

    def values(self, node: Any, item: str, what: str) -> np.ndarray[Any, Any]:
        """A per-detector list: a sidecar reference (file/sha256) read from the store, or an inline list."""
        if isinstance(node, dict) and "file" in node and "sha256" in node:
            arr = self.store.array(self.record.id, f"sidecar:{node['file']}")
        elif isinstance(node, dict) and isinstance(node.get(item), list):
            arr = np.asarray(node[item])
        else:
            raise self.refuse(f"{what}: neither a sidecar array nor a list of {item}")
        arr = np.asarray(arr)
        if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.number):
            raise self.refuse(f"{what}: a {arr.ndim}-d {arr.dtype} array; the ICD lists one number per detector")
        if arr.size != ICD_DETECTORS:
            raise self.refuse(f"{what} holds {arr.size} detectors; the ICD requires exactly {ICD_DETECTORS}")
        bad = np.flatnonzero(~np.isfinite(arr.astype(np.float64)))
        if bad.size:
            raise self.refuse(f"{what}: {bad.size} non-finite value(s), first at detector {int(bad[0])} (0-based)")
        return arr

    def band(self, content_band: Any) -> str:
        band = str(content_band) if content_band is not None else self.record.band
        if band is None or band not in ICD_BANDS:
            raise self.refuse(f"band {band!r} is not one of B01..B12")
        if self.record.band is not None and self.record.band != band:
            raise self.refuse(f"content band {band} disagrees with the record's band {self.record.band}")
        return band

    # -- header ----------------------------------------------------------------------------------------

    def root(self, layout: IcdLayout) -> etree._Element:
        nsmap: dict[str | None, str] = {None: EE_NS, "xsi": XSI_NS}
        tag = "Earth_Explorer_Header" if layout.header_file else "Earth_Explorer_File"
        root = etree.Element(f"{{{EE_NS}}}{tag}", nsmap=nsmap)  # type: ignore[arg-type]
        root.set(f"{{{XSI_NS}}}type", layout.root_type)
        root.set("schema_version", layout.schema_version)
        return root

    def header(
        self, parent: etree._Element, doc: EEGippDocument, layout: IcdLayout, name: str
    ) -> tuple[etree._Element, etree._Element]:
        """Fixed header and Main_Product_Header under ``parent``; (Variable_Header, Specific_Product_Header)."""
        r = self.record
        return write_ee_header(
            parent,
            doc,
            name=name,
            description=layout.description,
            file_class=r.file_class,
            file_type=r.gipp_type,
            validity=r.validity,
            system=SYSTEM,
            creator=doc.creator or "viq",
            creator_version=doc.creator_version or "1.0",
        )

    def gip_instance(self, specific: etree._Element, band: str | None, tdi_set: str | None) -> None:
        """The GIP ``Instance_Id`` (applicability, serial, validity, band, TDI values) and the site list."""
        r = self.record
        inst = _el(specific, "Instance_Id")
        write_gip_applicability(
            inst, site=r.applicability.kind == "SITE", nick=r.applicability.name, serial=r.serial, validity=r.validity
        )
        if band is not None:
            _el(inst, "Band_Code", band)
        if tdi_set is not None:
            _el(inst, "TDI_Configuration_Values", " ".join(_tdi_text(t) for t in sorted(tdi_configurations(tdi_set))))
        self.site_list(specific)

    def site_list(self, specific: etree._Element) -> None:
        sites = self.record.applicability.sites if self.record.applicability.kind != "ALLSITES" else ()
        listing = _el(specific, "List_of_Applicable_SiteDefinition_Ids", count=str(len(sites)))
        for i, nick in enumerate(sites, start=1):
            _el(listing, "Applicable_SiteDefinition_Id", site_definition_id(nick), sn=str(i))

    def gip_name(self, band: str | None, tdi_set: str | None) -> str:
        r = self.record
        return str(GippName.build(r.file_class, r.gipp_type, r.applicability, r.serial, r.validity, band, tdi_set))

    def band_tdi_set(self, data: dict[str, Any]) -> tuple[str, str]:
        """(band, TDI set) of a per-band, per-TDI GIPP; the record's TDI set must hold the content's TDI."""
        band = self.band(data.get("Band_Code"))
        tdi = _tdi(data.get("TDI_Configuration_Values"))
        try:
            own = tdi_set_code([tdi])
        except ValueError as err:
            raise self.refuse(str(err)) from None
        tdi_set = self.record.tdi_set or own
        if tdi not in tdi_configurations(tdi_set):
            raise self.refuse(f"content TDI {tdi} is not in the record's TDI set {tdi_set}")
        return band, tdi_set

    # -- types -----------------------------------------------------------------------------------------

    def darkcu(self, doc: EEGippDocument, layout: IcdLayout, data: dict[str, Any]) -> _Built:
        self.known(
            data,
            {
                "Band_Code",
                "TDI_Configuration_Values",
                "Number_Of_Detectors",
                "Unit",
                "List_of_Dark_Currents",
                "List_of_Spike_Characterization",
                "List_of_Hot_Pixels",
            },
        )
        band, tdi_set = self.band_tdi_set(data)
        problems: list[str] = []  # every reason at once: the engineer fixes them in one go
        unit = data.get("Unit", DARK_UNIT)
        if unit != DARK_UNIT:
            problems.append(f"dark currents in {unit!r}: the ICD file has no unit, VIQ exports them in {DARK_UNIT}")
        spikes = data.get("List_of_Spike_Characterization") or []
        if spikes:
            problems.append(
                f"{len(spikes)} spiking detector(s) (amplitude, probability per line): the ICD's "
                "Spike_Coefficients hold polynomial and linear correction coefficients, which VIQ does not estimate"
            )
        hot = data.get("List_of_Hot_Pixels") or []
        if hot:
            problems.append(f"{len(hot)} hot pixel(s): the ICD GIP_DARKCU has no place for a hot-pixel list")
        try:
            dark = self.values(data.get("List_of_Dark_Currents"), "Dark_Current", "List_of_Dark_Currents")
        except IcdExportRefused as err:
            problems.append(str(err).removeprefix(f"{self.label}: "))
            raise self.refuse("; ".join(problems)) from None
        declared = data.get("Number_Of_Detectors", dark.size)
        if int(declared) != dark.size:
            problems.append(f"Number_Of_Detectors {declared} disagrees with {dark.size} dark currents")
        negative = np.flatnonzero(dark < 0)
        if negative.size:
            problems.append(
                f"{negative.size} negative dark current(s), first at detector {int(negative[0])} (0-based): "
                "the ICD types Dark_Current as a non-negative double"
            )
        if problems:
            raise self.refuse("; ".join(problems))
        name = self.gip_name(band, tdi_set)
        root = self.root(layout)
        _, specific = self.header(_el(root, "Earth_Explorer_Header"), doc, layout, name)
        self.gip_instance(specific, band, tdi_set)
        block = _el(root, "Data_Block")
        listing = _el(block, "List_of_Dark_Currents", count=str(dark.size))
        for i, text in enumerate(_array_texts(dark), start=1):
            _el(listing, "Dark_Current", text, sn=str(i))
        _el(block, "List_of_Spike_Characterization", count="0")
        return _Built(name, root)

    def relsen(self, doc: EEGippDocument, layout: IcdLayout, data: dict[str, Any]) -> _Built:
        self.known(
            data,
            {
                "Band_Code",
                "TDI_Configuration_Values",
                "Number_Of_Detectors",
                "List_of_Relative_Sensitivities",
                "List_of_Second_Slopes",
                "List_of_Knee_Values",
            },
        )
        band, tdi_set = self.band_tdi_set(data)
        a1 = self.values(data.get("List_of_Relative_Sensitivities"), "Relative_Sensitivity", "a1")
        a2 = self.values(data.get("List_of_Second_Slopes"), "Second_Slope", "a2")
        knee = self.values(data.get("List_of_Knee_Values"), "Knee_Value", "knee Zs")
        declared = data.get("Number_Of_Detectors", a1.size)
        if int(declared) != a1.size:
            raise self.refuse(f"Number_Of_Detectors {declared} disagrees with {a1.size} sensitivities")
        name = self.gip_name(band, tdi_set)
        root = self.root(layout)
        _, specific = self.header(_el(root, "Earth_Explorer_Header"), doc, layout, name)
        self.gip_instance(specific, band, tdi_set)
        block = _el(root, "Data_Block")
        listing = _el(block, "List_of_Relative_Sensitivities", count=str(a1.size))
        triplets = zip(_array_texts(a1), _array_texts(a2), _array_texts(knee), strict=True)
        for i, (x, y, z) in enumerate(triplets, start=1):
            _el(listing, "Relative_Sensitivity", f"{x} {y} {z}", sn=str(i))
        return _Built(name, root)

    def per_band(
        self, data: dict[str, Any], list_name: str, band_item: str, tdi_list: str, tdi_item: str
    ) -> list[tuple[str, list[dict[str, Any]]]]:
        """The 12 (band, per-TDI entries) of a PHGAIN/NOISMO content in band order; refused unless all 12."""
        by_band: dict[str, list[dict[str, Any]]] = {}
        for entry in data.get(list_name) or []:
            code = str(entry.get("Band_Code"))
            if code in by_band:
                raise self.refuse(f"band {code} appears twice in {list_name}")
            tdis = list(entry.get(tdi_list) or [])
            values = [_tdi(t.get("TDI_Configuration_Values")) for t in tdis]
            if len(set(values)) != len(values):
                raise self.refuse(f"band {code}: a TDI value appears twice in {tdi_list}")
            if not 1 <= len(tdis) <= 5:
                raise self.refuse(f"band {code}: {len(tdis)} {tdi_item} entries, the ICD takes 1 to 5")
            by_band[code] = tdis
        unknown = sorted(set(by_band) - set(ICD_BANDS))
        if unknown:
            raise self.refuse(f"band code(s) {', '.join(unknown)} are not B01..B12")
        missing = [b for b in ICD_BANDS if b not in by_band]
        if missing:
            raise self.refuse(
                f"holds {len(by_band)} band(s) ({', '.join(sorted(by_band)) or 'none'}); the ICD "
                f"{self.record.gipp_type} requires all 12 {band_item} entries: missing {', '.join(missing)}"
            )
        return [(b, by_band[b]) for b in ICD_BANDS]

    def band_table(
        self,
        doc: EEGippDocument,
        layout: IcdLayout,
        data: dict[str, Any],
        names: tuple[str, str, str, str],
        fill: Callable[[etree._Element, dict[str, Any]], None],
    ) -> _Built:
        list_name, band_item, tdi_list, tdi_item = names
        bands = self.per_band(data, list_name, band_item, tdi_list, tdi_item)
        name = self.gip_name(None, None)
        root = self.root(layout)
        _, specific = self.header(_el(root, "Earth_Explorer_Header"), doc, layout, name)
        self.gip_instance(specific, None, None)
        block = _el(root, "Data_Block")
        listing = _el(block, list_name, count=str(len(bands)))
        for i, (code, tdis) in enumerate(bands, start=1):
            entry = _el(listing, band_item, sn=str(i))
            _el(entry, "Band_Code", code)
            per_tdi = _el(entry, tdi_list, count=str(len(tdis)))
            for j, t in enumerate(tdis, start=1):
                item = _el(per_tdi, tdi_item, sn=str(j))
                _el(item, "TDI_Configuration_Values", _tdi_text(_tdi(t.get("TDI_Configuration_Values"))))
                fill(item, t)
        return _Built(name, root)

    def finite(self, value: Any, what: str) -> float:
        number = float(value)
        if not math.isfinite(number):
            raise self.refuse(f"{what} is {number}: the ICD takes finite numbers only")
        return number

    def phgain(self, doc: EEGippDocument, layout: IcdLayout, data: dict[str, Any]) -> _Built:
        self.known(data, {"Unit", "List_of_Band_Physical_Gains"})
        unit = data.get("Unit", GAIN_UNIT)
        if unit != GAIN_UNIT:
            raise self.refuse(f"gains in {unit!r}: the ICD file has no unit, VIQ exports them in {GAIN_UNIT}")

        def fill(item: etree._Element, t: dict[str, Any]) -> None:
            gain = self.finite(t.get("Physical_Gain"), "a Physical_Gain")
            if gain < 0:
                raise self.refuse(f"Physical_Gain {gain} is negative; the ICD types it as a non-negative double")
            _el(item, "Physical_Gain", _double(gain))

        names = ("List_of_Band_Physical_Gains", "Band_Physical_Gain", "List_of_TDI_Physical_Gains", "TDI_Physical_Gain")
        return self.band_table(doc, layout, data, names, fill)

    def noismo(self, doc: EEGippDocument, layout: IcdLayout, data: dict[str, Any]) -> _Built:
        self.known(data, {"List_of_Band_Noise_Models"})

        def fill(item: etree._Element, t: dict[str, Any]) -> None:
            _el(item, "A_coefficient", _double(self.finite(t.get("A_coefficient"), "an A_coefficient")))
            _el(item, "B_coefficient", _double(self.finite(t.get("B_coefficient"), "a B_coefficient")))

        names = ("List_of_Band_Noise_Models", "Band_Noise_Model", "List_of_TDI_Noise_Models", "TDI_Noise_Model")
        return self.band_table(doc, layout, data, names, fill)

    def outord(self, doc: EEGippDocument, layout: IcdLayout, data: dict[str, Any]) -> _Built:
        self.known(data, {"Band_Code", "List_of_TDI_Configuration_Defects", "Interpolation_Rule"})
        band = self.band(data.get("Band_Code"))
        rule = data.get("Interpolation_Rule", "linear-neighbours")
        if rule != "linear-neighbours":
            raise self.refuse(
                f"Interpolation_Rule {rule!r}: the ICD GIP_OUTORD cannot say that out-of-order detectors are left "
                "as measured (the L1 centre interpolates them as its GIP_RADIOV says)"
            )
        by_tdi: dict[int, list[dict[str, Any]]] = {}
        for entry in data.get("List_of_TDI_Configuration_Defects") or []:
            code = str(entry.get("TDI_Configuration_Code"))
            try:
                tdis = tdi_configurations(code)
            except ValueError as err:
                raise self.refuse(str(err)) from None
            for tdi in tdis:
                if tdi in by_tdi:
                    raise self.refuse(
                        f"TDI {tdi} is in two TDI-set entries; the ICD keeps one defect list per TDI value"
                    )
                by_tdi[tdi] = list(entry.get("List_of_Defects") or [])
        name = self.gip_name(band, None)
        root = self.root(layout)
        _, specific = self.header(_el(root, "Earth_Explorer_Header"), doc, layout, name)
        self.gip_instance(specific, band, None)
        block = _el(root, "Data_Block")
        listing = _el(block, "List_of_TDI_Configuration_Defects", count=str(len(by_tdi)))
        for i, tdi in enumerate(sorted(by_tdi), start=1):
            entry_el = _el(listing, "TDI_Configuration_Defect", sn=str(i))
            _el(entry_el, "TDI_Configuration_Code", _tdi_text(tdi))
            defects = _el(entry_el, "List_of_Defects", count=str(len(by_tdi[tdi])))
            for j, defect in enumerate(by_tdi[tdi], start=1):
                first, last = int(defect["Col_Range"]["First"]), int(defect["Col_Range"]["Last"])
                if not 0 <= first <= last < ICD_DETECTORS:
                    raise self.refuse(
                        f"Col_Range {first}..{last} (0-based) is not within the ICD's detectors 1..{ICD_DETECTORS}"
                    )
                item = _el(defects, "Defect", sn=str(j))
                col = _el(item, "Col_Range")
                _el(col, "First", str(first + 1))
                _el(col, "Last", str(last + 1))
                _el(item, "Defect_Type", str(defect["Defect_Type"]))
        return _Built(name, root, notes={"Interpolation_Rule": rule})

    def sbpars(self, doc: EEGippDocument, layout: IcdLayout, data: dict[str, Any]) -> _Built:
        sigmas = ("Pitch_Bias_Sigma", "Roll_Bias_Sigma", "Yaw_Bias_Sigma", "Focal_Homothety_Sigma")
        self.known(data, {"Unit", "Pitch_Bias", "Roll_Bias", "Yaw_Bias", "Focal_Homothety", *sigmas})
        r = self.record
        if data.get("Focal_Homothety") is not None:
            raise self.refuse(
                f"Focal_Homothety {data['Focal_Homothety']}: the ICD IMQ_SBPARS holds pitch, roll and yaw biases only"
            )
        if r.applicability.kind != "ALLSITES":
            raise self.refuse(f"applies to {r.applicability.key}: the ICD IMQ_SBPARS header has no site applicability")
        if r.validity.start is None:
            raise self.refuse("no validity start: the ICD names an IMQ_SBPARS file by its emission date")
        unit = str(data.get("Unit", "urad"))
        if unit != "deg" and unit not in ANGLE_UNITS:
            raise self.refuse(f"biases in {unit!r}: not an angle unit VIQ converts to degrees ({sorted(ANGLE_UNITS)})")
        name = f"VE_{r.file_class}_{r.gipp_type}_{r.validity.start:%Y%m%dT%H%M%S}"
        root = self.root(layout)
        _, specific = self.header(_el(root, "Earth_Explorer_Header"), doc, layout, name)
        inst = _el(specific, "Instance_Id")
        _el(inst, "Emission_Date", format_ee_time(r.validity.start, stop=False))
        block = _el(root, "Data_Block")
        for key in ("Pitch_Bias", "Roll_Bias", "Yaw_Bias"):
            value = self.finite(data.get(key), key)
            degrees = value if unit == "deg" else math.degrees(value * ANGLE_UNITS[unit])
            _el(block, key, _decimal(degrees), unit="deg")
        notes = {k: data[k] for k in sigmas if data.get(k) is not None}
        if notes:
            notes["Unit"] = unit
        return _Built(name, root, notes=notes)

    def refde1(self, doc: EEGippDocument, layout: IcdLayout, data: dict[str, Any]) -> _Built:
        self.known(data, {"Instance_Id", "DEM_Information", "DBL_Organization", "VIQ_Information"})
        r = self.record
        info = data.get("DEM_Information") or {}
        crs = (info.get("Coordinate_Reference_System") or {}).get("Code")
        if crs not in GEOGRAPHIC_CRS:
            raise self.refuse(
                f"DEM grid in {crs}: the ICD AUX_REFDE1 gives the sampling as angles in degrees, which only a "
                f"geographic grid ({', '.join(sorted(GEOGRAPHIC_CRS))}) has"
            )
        instance = data.get("Instance_Id") or {}
        version = int(instance.get("File_Version", r.serial))
        if r.instance_id is None:
            raise self.refuse("no bounding-box corners recorded for the file name")
        name = f"VE_{r.file_class}_{r.gipp_type}_{r.instance_id}_{version:04d}"
        root = self.root(layout)
        _, specific = self.header(root, doc, layout, name)
        inst = _el(specific, "Instance_Id")
        for key in ("Upper_Left_Point", "Lower_Right_Point"):
            point = _el(inst, key)
            _el(point, "Long", _decimal(self.finite(instance[key]["Long"], f"{key}/Long")), unit="deg")
            _el(point, "Lat", _decimal(self.finite(instance[key]["Lat"], f"{key}/Lat")), unit="deg")
        _el(inst, "File_Version", f"{version:04d}")
        self.site_list(specific)
        dem = _el(specific, "DEM_Information")
        crs_el = _el(dem, "Coordinate_Reference_System")
        _el(crs_el, "Code", str(crs))
        _el(crs_el, "Short_Description", str(info["Coordinate_Reference_System"].get("Short_Description", "")))
        sampling = _el(dem, "Sampling_Interval")
        for key in ("By_Line", "By_Column"):
            _el(sampling, key, _decimal(self.finite(info["Sampling_Interval"][key], key)), unit="deg")
        size = _el(dem, "Size")
        _el(size, "Lines", str(int(info["Size"]["Lines"])))
        _el(size, "Columns", str(int(info["Size"]["Columns"])))
        _el(dem, "Comment", str(info.get("Comment", "")))
        files = ((data.get("DBL_Organization") or {}).get("List_of_Packaged_DBL_Files") or {}).get(
            "Packaged_DBL_File"
        ) or []
        organisation = _el(specific, "DBL_Organization")
        packaged = _el(organisation, "List_of_Packaged_DBL_Files", count=str(len(files)))
        copies: list[tuple[str, Path]] = []
        checksums: dict[str, str] = {}
        for i, f in enumerate(files, start=1):
            stored = str(f["Relative_File_Path"])
            relative = f"{name}.DBL.DIR/{Path(stored).name}"
            copies.append((relative, self.store.stored_file(r.id, f"sidecar:{stored}")))
            checksums[relative] = str(f["@sha256"])
            item = _el(packaged, "Packaged_DBL_File", sn=str(i))
            _el(item, "Relative_File_Path", relative)
            if f.get("File_Format") is not None:
                _el(item, "File_Format", str(f["File_Format"]))
            if f.get("File_Definition") is not None:
                _el(item, "File_Definition", str(f["File_Definition"]))
        notes: dict[str, Any] = {"sha256": checksums}
        if data.get("VIQ_Information"):
            notes["VIQ_Information"] = data["VIQ_Information"]
        return _Built(name, root, copies=copies, notes=notes)


_BUILDERS: dict[str, Callable[[_Exporter, EEGippDocument, IcdLayout, dict[str, Any]], _Built]] = {
    "GIP_DARKCU": _Exporter.darkcu,
    "GIP_RELSEN": _Exporter.relsen,
    "GIP_PHGAIN": _Exporter.phgain,
    "GIP_NOISMO": _Exporter.noismo,
    "GIP_OUTORD": _Exporter.outord,
    "IMQ_SBPARS": _Exporter.sbpars,
    "AUX_REFDE1": _Exporter.refde1,
}


def icd_bytes(store: GippStore, gipp_id: int, *, schemas: Path | None = None) -> tuple[str, bytes, _Built]:
    """(file name, XML bytes, build) of the ICD file of a stored GIPP, validated against its ICD schema.

    IcdExportRefused when the type has no ICD layout or the content holds what the ICD cannot express;
    ConfigurationError when the ICD schemas are not found.
    """
    record = store.get(gipp_id)
    layout = ICD_LAYOUTS.get(record.gipp_type)
    if layout is None:
        raise IcdExportRefused(
            f"GIPP #{gipp_id} ({record.file_name}): type {record.gipp_type} has no ICD export "
            f"(types: {', '.join(sorted(ICD_LAYOUTS))})"
        )
    schema = icd_schema(record.gipp_type, schemas)
    data = store.content_data(gipp_id)
    exporter = _Exporter(store, record)
    if not isinstance(data, dict) or not record.registered:
        raise exporter.refuse("content kept as a raw Data_Block (no content model registered): nothing to map")
    built = _BUILDERS[record.gipp_type](exporter, store.document(gipp_id), layout, data)
    etree.indent(built.root, space="  ")
    xml = etree.tostring(built.root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    tree = etree.fromstring(xml).getroottree()
    errors = [e for e in schema.iter_errors(tree) if isinstance(e, xmlschema.XMLSchemaValidationError)]
    if errors:
        first = errors[0]
        more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        raise exporter.refuse(
            f"the ICD file does not validate against {layout.schema}: {first.path}: {first.reason}{more}"
        )
    return built.name, xml, built


def _write_if_changed(target: Path, data: bytes) -> None:
    if target.is_file() and target.read_bytes() == data:
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(tmp, 0o644)  # a deliverable file, readable like any other
    os.replace(tmp, target)


def export_icd(store: GippStore, gipp_id: int, out_dir: Path, *, schemas: Path | None = None) -> IcdExport:
    """Write the ICD file of a stored GIPP under ``out_dir`` (see the module docstring); nothing is written when
    it is refused. Rewrites a file only when its bytes differ."""
    name, xml, built = icd_bytes(store, gipp_id, schemas=schemas)
    layout = ICD_LAYOUTS[store.get(gipp_id).gipp_type]
    target = out_dir / f"{name}{'.HDR' if layout.header_file else '.EEF'}"
    notes_path: Path | None = None
    notes_bytes = b""
    if built.notes:
        record = {"file": target.name, "gipp_id": gipp_id, "not_in_icd": built.notes}
        notes_bytes = (json.dumps(record, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()
        notes_path = out_dir / f"{name}{NOTES_SUFFIX}"
    out_dir.mkdir(parents=True, exist_ok=True)
    data_files: list[Path] = []
    for relative, source in built.copies:
        dest = out_dir / relative
        dest.parent.mkdir(parents=True, exist_ok=True)
        if not (
            dest.is_file() and dest.stat().st_size == source.stat().st_size and dest.read_bytes() == source.read_bytes()
        ):
            shutil.copyfile(source, dest)
        data_files.append(dest)
    if notes_path is not None:
        _write_if_changed(notes_path, notes_bytes)
    _write_if_changed(target, xml)
    return IcdExport(path=target, data_files=tuple(data_files), notes=notes_path)
