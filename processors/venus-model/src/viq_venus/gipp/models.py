"""GIPP content models (the typed ``Data_Block``) and the Earth Explorer fixed header.

Field aliases are the XML element names, taken from the VENµS ICD schemas where they fit
(``List_of_Dark_Currents``, ``Spike_Coefficients``, ``Band_Physical_Gain``, ``A_coefficient``, ``Col_Range``,
``Pitch_Bias``…). Per-detector arrays (5200 values) are not written inline: an :class:`ArrayRef` names a
sidecar ``.npy`` file next to the XML and its sha256, checked on load.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.config import JsonDict

from viq_venus.bands import CENTRE_WAVELENGTH_NM, TDI_SETTINGS, band_code, band_from_code


class _Xml(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _item(name: str) -> JsonDict:
    return {"item": name}


def _check_band_code(value: str) -> str:
    try:
        return band_code(band_from_code(value))
    except ValueError as err:
        raise ValueError(str(err)) from None


def _check_tdi(value: int) -> int:
    if value not in TDI_SETTINGS:
        raise ValueError(f"TDI {value} is not one of {TDI_SETTINGS}")
    return value


class ArrayRef(_Xml):
    """A sidecar array file: name relative to the XML file, its sha256, dtype and shape."""

    file: str = Field(description="Sidecar file name (.npy), relative to the GIPP XML file.")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="sha256 of the sidecar file.")
    dtype: str = Field(description="numpy dtype, e.g. 'float32'.")
    shape: tuple[int, ...] = Field(description="Array shape.")


class GippContent(_Xml):
    """Base of every content model; subclasses set the ICD constants."""

    FILE_TYPE: ClassVar[str] = ""
    FILE_DESCRIPTION: ClassVar[str] = ""
    XSI_TYPE: ClassVar[str] = ""
    SCHEMA_VERSION: ClassVar[str] = "0.40"

    # The GIPP store (host) uses these three when a model defines them: the XML form of the Data_Block is
    # the model's own (lists with ``count``/``sn``, sidecar arrays), not a generic element-to-dict mapping.

    @classmethod
    def from_data_block(cls, block: Any) -> Self:
        """The content of a ``Data_Block`` element."""
        from viq_venus.gipp.xmlio import _xml_to_data

        return cls.model_validate(_xml_to_data(cls, block))

    def to_data_block(self) -> Any:
        """A ``Data_Block`` element (Earth Explorer namespace) holding this content."""
        from lxml import etree

        from viq_venus.gipp.xmlio import _model_to_xml, _q

        block = etree.Element(_q("Data_Block"), type="xml")
        _model_to_xml(block, self)
        return block

    def sidecars(self) -> tuple[tuple[str, str], ...]:
        """(file name relative to the XML, sha256) of every sidecar array the content refers to."""
        found: list[tuple[str, str]] = []

        def walk(value: Any) -> None:
            if isinstance(value, ArrayRef):
                found.append((value.file, value.sha256))
            elif isinstance(value, BaseModel):
                for name in type(value).model_fields:
                    walk(getattr(value, name))
            elif isinstance(value, tuple | list):
                for item in value:
                    walk(item)

        walk(self)
        return tuple(found)


# --------------------------------------------------------------------------- GIP_DARKCU
class SpikeCoefficients(_Xml):
    """A detector producing dark spikes."""

    pixel_position: int = Field(alias="Pixel_Position", ge=0, description="0-based detector index.")
    pixel_threshold: float = Field(alias="Pixel_Threshold", description="DN above the dark that flags a spike.")
    amplitude: float = Field(alias="Spike_Amplitude", ge=0.0, description="Typical spike amplitude, DN.")
    probability: float = Field(alias="Spike_Probability", ge=0.0, le=1.0, description="Spikes per line.")


class DarkGippContent(GippContent):
    """GIP_DARKCU: dark signal per detector for one band and TDI setting."""

    FILE_TYPE: ClassVar[str] = "GIP_DARKCU"
    FILE_DESCRIPTION: ClassVar[str] = "DarkCurrents"
    XSI_TYPE: ClassVar[str] = "DARKCU_File_Type"
    SCHEMA_VERSION: ClassVar[str] = "1.9"

    band_code: str = Field(alias="Band_Code", description="Band code B01…B12.")
    tdi: int = Field(alias="TDI_Configuration_Values", description="TDI setting.")
    n_pixels: int = Field(alias="Number_Of_Detectors", gt=0, description="Detectors in the array.")
    unit: str = Field(default="DN", alias="Unit", description="Unit of the dark values.")
    dark_currents: ArrayRef = Field(alias="List_of_Dark_Currents", description="Dark signal per detector (sidecar).")
    spikes: tuple[SpikeCoefficients, ...] = Field(
        default=(), alias="List_of_Spike_Characterization", json_schema_extra=_item("Spike_Coefficients"),
        description="Detectors producing spikes.",
    )
    hot_pixels: tuple[int, ...] = Field(default=(), alias="List_of_Hot_Pixels", description="0-based hot detectors.")

    _band = field_validator("band_code")(_check_band_code)
    _tdi = field_validator("tdi")(_check_tdi)


# --------------------------------------------------------------------------- GIP_RELSEN
class RelativeSensitivityContent(GippContent):
    """GIP_RELSEN: two-slope relative response per detector (a1, a2, knee Zs) for one band and TDI."""

    FILE_TYPE: ClassVar[str] = "GIP_RELSEN"
    FILE_DESCRIPTION: ClassVar[str] = "RelativeSensitivities"
    XSI_TYPE: ClassVar[str] = "RELSEN_File_Type"

    band_code: str = Field(alias="Band_Code", description="Band code B01…B12.")
    tdi: int = Field(alias="TDI_Configuration_Values", description="TDI setting.")
    n_pixels: int = Field(alias="Number_Of_Detectors", gt=0, description="Detectors in the array.")
    a1: ArrayRef = Field(alias="List_of_Relative_Sensitivities", description="First slope a1 per detector (sidecar).")
    a2: ArrayRef = Field(alias="List_of_Second_Slopes", description="Second slope a2 per detector (sidecar).")
    knee: ArrayRef = Field(alias="List_of_Knee_Values", description="Knee Zs per detector, DN of A_k·L (sidecar).")

    _band = field_validator("band_code")(_check_band_code)
    _tdi = field_validator("tdi")(_check_tdi)


# --------------------------------------------------------------------------- GIP_PHGAIN
class TdiPhysicalGain(_Xml):
    """A_k of one band at one TDI setting."""

    tdi: int = Field(alias="TDI_Configuration_Values", description="TDI setting.")
    physical_gain: float = Field(alias="Physical_Gain", gt=0.0, description="DN per W m-2 sr-1 µm-1.")

    _tdi = field_validator("tdi")(_check_tdi)


class BandPhysicalGain(_Xml):
    """Absolute gains of one band."""

    band_code: str = Field(alias="Band_Code", description="Band code B01…B12.")
    tdi_gains: tuple[TdiPhysicalGain, ...] = Field(
        alias="List_of_TDI_Physical_Gains", json_schema_extra=_item("TDI_Physical_Gain"), description="Per TDI."
    )

    _band = field_validator("band_code")(_check_band_code)


class PhysicalGainContent(GippContent):
    """GIP_PHGAIN: absolute calibration gains A_k per band and TDI."""

    FILE_TYPE: ClassVar[str] = "GIP_PHGAIN"
    FILE_DESCRIPTION: ClassVar[str] = "PhysicalGainData"
    XSI_TYPE: ClassVar[str] = "PHGAIN_File_Type"

    unit: str = Field(default="DN/(W.m-2.sr-1.um-1)", alias="Unit", description="Unit of the gains.")
    bands: tuple[BandPhysicalGain, ...] = Field(
        alias="List_of_Band_Physical_Gains", json_schema_extra=_item("Band_Physical_Gain"), description="Per band."
    )

    def gain(self, band: str, tdi: int) -> float:
        """A_k of ``band`` at ``tdi`` (KeyError if absent)."""
        code = band_code(band)
        for b in self.bands:
            if b.band_code == code:
                for g in b.tdi_gains:
                    if g.tdi == tdi:
                        return g.physical_gain
        raise KeyError(f"{band} TDI {tdi}")


# --------------------------------------------------------------------------- GIP_NOISMO
class TdiNoiseModel(_Xml):
    """σ² = A + B·L of one band at one TDI."""

    tdi: int = Field(alias="TDI_Configuration_Values", description="TDI setting.")
    a_coefficient: float = Field(alias="A_coefficient", ge=0.0, description="A, DN².")
    b_coefficient: float = Field(alias="B_coefficient", ge=0.0, description="B, DN² per W m-2 sr-1 µm-1.")

    _tdi = field_validator("tdi")(_check_tdi)


class BandNoiseModel(_Xml):
    """Noise model of one band."""

    band_code: str = Field(alias="Band_Code", description="Band code B01…B12.")
    tdi_models: tuple[TdiNoiseModel, ...] = Field(
        alias="List_of_TDI_Noise_Models", json_schema_extra=_item("TDI_Noise_Model"), description="Per TDI."
    )

    _band = field_validator("band_code")(_check_band_code)


class NoiseModelContent(GippContent):
    """GIP_NOISMO: noise variance model per band and TDI."""

    FILE_TYPE: ClassVar[str] = "GIP_NOISMO"
    FILE_DESCRIPTION: ClassVar[str] = "NoiseModel"
    XSI_TYPE: ClassVar[str] = "NOISMO_File_Type"

    bands: tuple[BandNoiseModel, ...] = Field(
        alias="List_of_Band_Noise_Models", json_schema_extra=_item("Band_Noise_Model"), description="Per band."
    )

    def coefficients(self, band: str, tdi: int) -> tuple[float, float]:
        """(A, B) of ``band`` at ``tdi``."""
        code = band_code(band)
        for b in self.bands:
            if b.band_code == code:
                for m in b.tdi_models:
                    if m.tdi == tdi:
                        return m.a_coefficient, m.b_coefficient
        raise KeyError(f"{band} TDI {tdi}")


# --------------------------------------------------------------------------- GIP_OUTORD
class ColRange(_Xml):
    """Inclusive detector range, 0-based."""

    first: int = Field(alias="First", ge=0, description="First detector (0-based).")
    last: int = Field(alias="Last", ge=0, description="Last detector (0-based, inclusive).")


class DefectItem(_Xml):
    """One defect: a detector range and its type."""

    col_range: ColRange = Field(alias="Col_Range", description="Detectors.")
    defect_type: Literal["BLIND", "NOISY", "FILTER_HOLE"] = Field(alias="Defect_Type", description="ICD defect type.")


class TdiConfigurationDefect(_Xml):
    """Defects valid for a TDI set."""

    tdi_code: str = Field(alias="TDI_Configuration_Code", pattern=r"^[01]{4}0[01]$", description="TDI-set code.")
    defects: tuple[DefectItem, ...] = Field(
        alias="List_of_Defects", json_schema_extra=_item("Defect"), description="Defects."
    )


InterpolationRule = Literal["linear-neighbours", "none"]
"""GIP_OUTORD ``Interpolation_Rule`` values."""


class OutOfOrderContent(GippContent):
    """GIP_OUTORD: out-of-order detectors of one band."""

    FILE_TYPE: ClassVar[str] = "GIP_OUTORD"
    FILE_DESCRIPTION: ClassVar[str] = "OutOfOrderDetectors"
    XSI_TYPE: ClassVar[str] = "OUTORD_File_Type"

    band_code: str = Field(alias="Band_Code", description="Band code B01…B12.")
    tdi_defects: tuple[TdiConfigurationDefect, ...] = Field(
        alias="List_of_TDI_Configuration_Defects", json_schema_extra=_item("TDI_Configuration_Defect"),
        description="Per TDI set.",
    )
    interpolation_rule: InterpolationRule = Field(
        default="linear-neighbours", alias="Interpolation_Rule",
        description="How L1 processing fills out-of-order detectors: 'linear-neighbours' (linear in the column "
        "index between the nearest good detectors on each side; the nearest one at an array end) or 'none' "
        "(left as measured). Files without the element read as 'linear-neighbours'.",
    )

    _band = field_validator("band_code")(_check_band_code)


# --------------------------------------------------------------------------- IMQ_SBPARS
class SteeringBiasContent(GippContent):
    """IMQ_SBPARS: steering (attitude) biases."""

    FILE_TYPE: ClassVar[str] = "IMQ_SBPARS"
    FILE_DESCRIPTION: ClassVar[str] = "SteeringBiasParameters"
    XSI_TYPE: ClassVar[str] = "SBPARS_File_Type"

    unit: str = Field(default="urad", alias="Unit", description="Unit of the biases and their uncertainties.")
    pitch_bias: float = Field(alias="Pitch_Bias", description="Pitch bias.")
    roll_bias: float = Field(alias="Roll_Bias", description="Roll bias.")
    yaw_bias: float = Field(alias="Yaw_Bias", description="Yaw bias.")
    focal_homothety: float | None = Field(
        default=None, alias="Focal_Homothety",
        description="Relative focal-plane scale m (unitless): a detector at focal-plane position (u, v) px from "
        "the centre sees the ground the nominal model puts at (1 + m)·(u, v). None: not estimated (absent).",
    )
    pitch_bias_sigma: float | None = Field(
        default=None, ge=0.0, alias="Pitch_Bias_Sigma", description="One-sigma uncertainty of the pitch bias."
    )
    roll_bias_sigma: float | None = Field(
        default=None, ge=0.0, alias="Roll_Bias_Sigma", description="One-sigma uncertainty of the roll bias."
    )
    yaw_bias_sigma: float | None = Field(
        default=None, ge=0.0, alias="Yaw_Bias_Sigma", description="One-sigma uncertainty of the yaw bias."
    )
    focal_homothety_sigma: float | None = Field(
        default=None, ge=0.0, alias="Focal_Homothety_Sigma",
        description="One-sigma uncertainty of the focal homothety (unitless).",
    )


CONTENT_MODELS: dict[str, type[GippContent]] = {
    m.FILE_TYPE: m
    for m in (
        DarkGippContent,
        RelativeSensitivityContent,
        PhysicalGainContent,
        NoiseModelContent,
        OutOfOrderContent,
        SteeringBiasContent,
    )
}
"""Content model per GIPP type code."""


class GippHeader(_Xml):
    """Earth Explorer fixed header plus the VENµS ``Instance_Id`` parts."""

    file_name: str = Field(description="Logical file name (no extension).")
    file_description: str = Field(description="ICD File_Description, e.g. 'DarkCurrents'.")
    notes: str = Field(default="", description="Free text.")
    mission: Literal["VENuS"] = Field(default="VENuS", description="Mission (always VENuS).")
    file_class: str = Field(default="TEST", pattern=r"^[0-9A-Z]{4}$", description="File class: TEST, OPER…")
    file_type: str = Field(pattern=r"^[A-Z]{3}_[0-9A-Z_]{6}$", description="10-character type code.")
    validity_start: datetime | None = Field(default=None, description="Validity start (None: beginning of mission).")
    validity_stop: datetime | None = Field(default=None, description="Validity stop (None: end of mission).")
    file_version: int = Field(default=1, ge=0, le=9999, description="File version (4 digits).")
    system: str = Field(default="VIQ", description="Source/System: the creating ground-segment element.")
    creator: str = Field(min_length=1, description="Source/Creator: the tool.")
    creator_version: str = Field(min_length=1, description="Source/Creator_Version.")
    creation_date: datetime = Field(description="Source/Creation_Date (UTC).")
    applicability: Literal["S", "L"] = Field(default="L", description="S: one site, L: list of sites.")
    nickname: str = Field(default="ALLSITES", pattern=r"^[0-9A-Z_]{8}$", description="Applicability nick name.")
    serial: int = Field(default=1, ge=0, le=99999, description="Serial key.")
    band: str | None = Field(default=None, description="Band (B1…B12) for band-specific GIPPs.")
    tdis: tuple[int, ...] | None = Field(default=None, description="TDI set for band+TDI GIPPs.")
    sites: tuple[str, ...] = Field(default=(), description="Applicable site definition ids (empty for ALLSITES).")

    @field_validator("band")
    @classmethod
    def _band(cls, value: str | None) -> str | None:
        if value is not None and value not in CENTRE_WAVELENGTH_NM:
            raise ValueError(f"unknown band {value!r}")
        return value
