"""Instrument configuration: pydantic models with the DESIGN §7 defaults, loadable from TOML.

Every inconsistency (unknown band, negative gain, TDI outside the allowed set, a band in no detector unit…)
raises :class:`viq_interfaces.errors.ConfigurationError` whose message starts with the dotted path of the
field at fault, e.g. ``bands.B13: unknown band``.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Mapping
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from viq_interfaces.errors import ConfigurationError
from viq_venus.bands import BAND_NAMES, CENTRE_WAVELENGTH_NM, TDI_SETTINGS


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OrbitConfig(_Model):
    """Orbit used for GSD and line timing."""

    altitude_km: float = Field(default=720.0, gt=100.0, lt=2000.0, description="Orbit altitude, km (720 or 560).")
    earth_radius_km: float = Field(default=6371.0, gt=0.0, description="Mean Earth radius, km.")
    gm_m3_s2: float = Field(default=3.986004418e14, gt=0.0, description="Earth gravitational parameter, m³/s².")


class OpticsConfig(_Model):
    """Telescope and detector sampling."""

    focal_length_m: float = Field(default=1.75, gt=0.0, description="Effective focal length, m.")
    pixel_pitch_um: float = Field(default=13.0, gt=0.0, description="Detector pitch, µm.")
    aperture_m: float = Field(default=0.25, gt=0.0, description="Entrance pupil diameter, m (diffraction MTF).")


class DetectorUnit(_Model):
    """One detector unit ("tri-detector"): three arrays, one band each."""

    name: str = Field(description="Unit name, e.g. 'DU1'.")
    bands: tuple[str, ...] = Field(description="Bands of the unit's arrays, in along-track order.")
    along_track_mm: float = Field(description="Along-track position of the unit centre in the focal plane, mm.")
    array_offsets_mm: tuple[float, ...] = Field(
        default=(-1.0, 0.0, 1.0), description="Along-track offset of each array from the unit centre, mm."
    )

    @model_validator(mode="after")
    def _arrays(self) -> DetectorUnit:
        if len(self.bands) != len(self.array_offsets_mm):
            raise ValueError(f"unit {self.name}: {len(self.bands)} bands but {len(self.array_offsets_mm)} offsets")
        for band in self.bands:
            if band not in CENTRE_WAVELENGTH_NM:
                raise ValueError(f"unit {self.name}: unknown band {band!r}")
        return self


def _default_units() -> tuple[DetectorUnit, ...]:
    # Publicly reported grouping (a configurable assumption, DESIGN §7). B5 and B6 are put at the two
    # ends of the focal plane, 61 mm apart (≈ 2.0° with f = 1.75 m).
    return (
        DetectorUnit(name="DU1", bands=("B5", "B1", "B2"), along_track_mm=-29.5),
        DetectorUnit(name="DU2", bands=("B10", "B11", "B12"), along_track_mm=-9.8),
        DetectorUnit(name="DU3", bands=("B7", "B8", "B9"), along_track_mm=9.8),
        DetectorUnit(name="DU4", bands=("B3", "B4", "B6"), along_track_mm=29.5),
    )


class FocalPlaneConfig(_Model):
    """Detector units and the injected focal-plane misregistration."""

    units: tuple[DetectorUnit, ...] = Field(default_factory=_default_units, description="The detector units.")
    misregistration_sigma_px: float = Field(
        default=0.1, ge=0.0, description="Std-dev of the random per-band offset (across, along) from nominal, px."
    )
    band_offset_px: dict[str, tuple[float, float]] = Field(
        default_factory=dict, description="Explicit per-band offset (across, along) in px; overrides the random one."
    )

    @field_validator("band_offset_px")
    @classmethod
    def _known(cls, value: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
        for band in value:
            if band not in CENTRE_WAVELENGTH_NM:
                raise ValueError(f"unknown band {band!r}")
        return value


_DESERT_L = {  # TOA radiance of a bright desert site, W m-2 sr-1 µm-1 (order of magnitude of Libya-4 at 30° SZA)
    "B1": 95.0, "B2": 105.0, "B3": 112.0, "B4": 118.0, "B5": 121.0, "B6": 121.0,
    "B7": 118.0, "B8": 114.0, "B9": 108.0, "B10": 101.0, "B11": 88.0, "B12": 79.0,
}


class BandConfig(_Model):
    """Radiometry of one band."""

    centre_nm: float = Field(gt=0.0, description="Centre wavelength, nm.")
    absolute_gain: float = Field(
        default=0.45, gt=0.0, description="A_k per TDI stage: DN per (W m-2 sr-1 µm-1) per stage, at launch."
    )
    gain_drift_per_year: float = Field(
        default=-0.01, gt=-0.5, lt=0.5, description="Relative change of A_k per year since launch (exponential)."
    )
    read_noise_dn: float = Field(default=1.5, ge=0.0, description="Read noise, DN rms (noise model A = read²).")
    conversion_gain_dn_per_e: float = Field(
        default=0.02, gt=0.0, description="DN per electron; shot-noise coefficient B = A_k(TDI) × this."
    )
    dark_offset_dn: float = Field(default=20.0, ge=0.0, description="Electronic offset of the dark signal, DN.")
    dark_current_dn_per_stage: float = Field(default=0.25, ge=0.0, description="Mean dark current per TDI stage, DN.")
    reference_radiance: float = Field(
        default=100.0, gt=0.0, description="TOA radiance of the desert reference site, W m-2 sr-1 µm-1."
    )


def _default_bands() -> dict[str, BandConfig]:
    out = {}
    for i, band in enumerate(BAND_NAMES):
        out[band] = BandConfig(
            centre_nm=CENTRE_WAVELENGTH_NM[band],
            absolute_gain=round(0.40 + 0.01 * i, 6),
            gain_drift_per_year=round(-0.02 + 0.0015 * i, 6),
            reference_radiance=_DESERT_L[band],
        )
    return out


class PixelDefectConfig(_Model):
    """Per-pixel structure injected in every band (drawn from the instrument seed)."""

    prnu_sigma: float = Field(default=0.01, ge=0.0, lt=0.5, description="Random pixel-to-pixel sensitivity, relative.")
    prnu_profile: float = Field(
        default=0.03, ge=0.0, lt=0.5, description="Smooth across-array sensitivity fall-off at the array ends."
    )
    a2_ratio: float = Field(
        default=0.96, gt=0.0, description="Mean second slope a2 relative to a1 (two-slope response)."
    )
    a2_sigma: float = Field(default=0.005, ge=0.0, description="Pixel-to-pixel std-dev of a2/a1.")
    knee_dn: float = Field(
        default=600.0, gt=0.0, description="Mean knee Zs of the two-slope response, DN (input side)."
    )
    knee_sigma_dn: float = Field(default=10.0, ge=0.0, description="Pixel-to-pixel std-dev of the knee, DN.")
    dark_column_sigma_dn: float = Field(default=0.6, ge=0.0, description="Random column-to-column dark structure, DN.")
    dark_odd_even_dn: float = Field(default=0.4, ge=0.0, description="Odd/even column dark offset (readout ports), DN.")
    hot_pixel_fraction: float = Field(default=0.001, ge=0.0, le=0.1, description="Fraction of hot pixels.")
    hot_pixel_dn_per_stage: float = Field(
        default=3.0, ge=0.0, description="Extra dark current of a hot pixel per stage, DN."
    )
    blind_count: int = Field(default=2, ge=0, description="BLIND (dead) pixels per band: no response to light.")
    noisy_count: int = Field(default=2, ge=0, description="NOISY pixels per band.")
    filter_hole_count: int = Field(
        default=1, ge=0, description="FILTER_HOLE pixels per band: response × filter_hole_factor."
    )
    noisy_factor: float = Field(default=6.0, ge=1.0, description="Noise std-dev multiplier of a NOISY pixel.")
    filter_hole_factor: float = Field(default=3.0, gt=1.0, description="Gain multiplier of a FILTER_HOLE pixel.")
    spike_pixel_count: int = Field(default=3, ge=0, description="Pixels that produce dark spikes (random telegraph).")
    spike_probability: float = Field(default=0.02, ge=0.0, le=1.0, description="Probability of a spike per line.")
    spike_amplitude_dn: float = Field(default=60.0, ge=0.0, description="Spike amplitude, DN.")


class MtfConfig(_Model):
    """System MTF = optics × detector × motion, per band (wavelength) and direction."""

    optics_model: Literal["diffraction", "gaussian", "diffraction+gaussian"] = Field(
        default="diffraction+gaussian", description="Optics MTF: circular-pupil diffraction, Gaussian, or both."
    )
    aberration_sigma_px_across: float = Field(
        default=0.30, ge=0.0, description="Gaussian optics blur, across track, px."
    )
    aberration_sigma_px_along: float = Field(default=0.35, ge=0.0, description="Gaussian optics blur, along track, px.")
    detector_aperture_px: float = Field(default=1.0, gt=0.0, le=2.0, description="Detector aperture width (sinc), px.")
    motion_smear_px_along: float = Field(
        default=0.8, ge=0.0, le=2.0, description="Along-track smear over one line (sinc), px."
    )
    kernel_taps: int = Field(default=8, ge=4, le=32, description="Taps of the band-limited resampling kernel.")


class JitterComponent(_Model):
    """One sinusoidal attitude oscillation."""

    axis: Literal["roll", "pitch", "yaw"] = Field(description="Rotation axis.")
    frequency_hz: float = Field(gt=0.0, description="Frequency, Hz.")
    amplitude_urad: float = Field(ge=0.0, description="Amplitude, µrad.")
    phase_rad: float | None = Field(default=None, description="Phase, rad; None = drawn from the acquisition seed.")


class AttitudeConfig(_Model):
    """Steering biases (IMQ_SBPARS truth) and attitude jitter."""

    roll_bias_urad: float = Field(default=15.0, description="Roll bias, µrad (across-track shift).")
    pitch_bias_urad: float = Field(default=-10.0, description="Pitch bias, µrad (along-track shift).")
    yaw_bias_urad: float = Field(default=60.0, description="Yaw bias, µrad (rotation about nadir).")
    focal_homothety: float = Field(
        default=0.0, gt=-0.01, lt=0.01,
        description="Focal homothety m (unitless, IMQ_SBPARS Focal_Homothety): a detector at focal-plane position "
        "(u, v) px from the centre sees the ground the nominal model puts at (1 + m)·(u, v).",
    )
    jitter: tuple[JitterComponent, ...] = Field(
        default=(
            JitterComponent(axis="roll", frequency_hz=1.3, amplitude_urad=0.35),
            JitterComponent(axis="pitch", frequency_hz=2.7, amplitude_urad=0.30),
        ),
        description="Deterministic jitter lines.",
    )
    jitter_psd_urad2_per_hz: float = Field(
        default=0.002, ge=0.0, description="Random jitter PSD level at 1 Hz, µrad²/Hz (per axis roll/pitch)."
    )
    jitter_psd_slope: float = Field(default=-2.0, description="Log-log slope of the random jitter PSD.")
    jitter_fmin_hz: float = Field(default=0.05, gt=0.0, description="Lowest frequency of the random jitter.")
    jitter_fmax_hz: float = Field(default=50.0, gt=0.0, description="Highest frequency of the random jitter.")
    jitter_n_components: int = Field(default=24, ge=0, le=2000, description="Sinusoids synthesising the PSD per axis.")

    @model_validator(mode="after")
    def _range(self) -> AttitudeConfig:
        if self.jitter_fmax_hz <= self.jitter_fmin_hz:
            raise ValueError("jitter_fmax_hz must exceed jitter_fmin_hz")
        return self


class InstrumentConfig(_Model):
    """The whole VENµS instrument model; defaults follow DESIGN §7."""

    instrument_seed: int = Field(
        default=2017, ge=0, description="Seed of the fixed per-pixel structure (dark, PRNU, defects)."
    )
    launch_date: date = Field(default=date(2017, 8, 2), description="Epoch of the gain drift.")
    pixels_per_array: int = Field(default=5200, ge=8, le=20000, description="Detectors per array (5200 on VENµS).")
    tdi_settings: tuple[int, ...] = Field(default=TDI_SETTINGS, description="Allowed TDI settings.")
    dn_max: int = Field(default=1023, ge=1, description="Saturation DN (10-bit output: 1023).")
    orbit: OrbitConfig = Field(default_factory=OrbitConfig, description="Orbit.")
    optics: OpticsConfig = Field(default_factory=OpticsConfig, description="Optics and sampling.")
    focal_plane: FocalPlaneConfig = Field(default_factory=FocalPlaneConfig, description="Focal plane.")
    bands: dict[str, BandConfig] = Field(default_factory=_default_bands, description="Per-band radiometry.")
    pixels: PixelDefectConfig = Field(default_factory=PixelDefectConfig, description="Per-pixel structure.")
    mtf: MtfConfig = Field(default_factory=MtfConfig, description="MTF model.")
    attitude: AttitudeConfig = Field(default_factory=AttitudeConfig, description="Attitude biases and jitter.")

    @field_validator("tdi_settings")
    @classmethod
    def _tdis(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        for t in value:
            if t not in TDI_SETTINGS:
                raise ValueError(f"TDI {t} is not one of {TDI_SETTINGS}")
        return value

    @field_validator("bands")
    @classmethod
    def _bands(cls, value: dict[str, BandConfig]) -> dict[str, BandConfig]:
        for band in value:
            if band not in CENTRE_WAVELENGTH_NM:
                raise ValueError(f"unknown band {band!r}; expected one of {', '.join(BAND_NAMES)}")
        return value

    @model_validator(mode="after")
    def _units_cover_bands(self) -> InstrumentConfig:
        seen: dict[str, str] = {}
        for unit in self.focal_plane.units:
            for band in unit.bands:
                if band in seen:
                    raise ValueError(f"focal_plane.units: band {band} in both {seen[band]} and {unit.name}")
                seen[band] = unit.name
        missing = [b for b in self.bands if b not in seen]
        if missing:
            raise ValueError(f"focal_plane.units: band(s) {', '.join(missing)} in no detector unit")
        return self

    # ------------------------------------------------------------------ helpers
    def band(self, name: str) -> BandConfig:
        """The configuration of band ``name``; ConfigurationError naming ``bands`` if unknown."""
        try:
            return self.bands[name]
        except KeyError:
            raise ConfigurationError(f"bands: unknown band {name!r} (configured: {', '.join(self.bands)})") from None

    def check_tdi(self, tdi: int, field: str = "tdi") -> int:
        """Return ``tdi`` if allowed, else ConfigurationError naming ``field``."""
        if tdi not in self.tdi_settings:
            raise ConfigurationError(f"{field}: TDI {tdi} is not one of {self.tdi_settings}")
        return tdi

    def unit_of(self, band: str) -> tuple[DetectorUnit, int]:
        """The detector unit holding ``band`` and the array index in it."""
        for unit in self.focal_plane.units:
            if band in unit.bands:
                return unit, unit.bands.index(band)
        raise ConfigurationError(f"focal_plane.units: band {band!r} in no detector unit")

    @cached_property
    def _fingerprint(self) -> str:
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def fingerprint(self) -> str:
        """sha256 of the canonical JSON of the configuration (recorded in truth files)."""
        return self._fingerprint


M = TypeVar("M", bound=BaseModel)


def describe_validation_error(err: ValidationError, prefix: str = "") -> str:
    """``field.path: message`` lines of a pydantic error (the first line names the first field)."""
    lines = []
    for item in err.errors():
        loc = ".".join(str(p) for p in item["loc"] if p != "__root__")
        where = ".".join(p for p in (prefix, loc) if p)
        msg = str(item["msg"]).removeprefix("Value error, ")
        lines.append(f"{where}: {msg}" if where else msg)
    return "; ".join(lines)


def validated(model: type[M], data: Mapping[str, Any], prefix: str = "") -> M:
    """Validate ``data`` into ``model``; ConfigurationError naming the field on failure."""
    try:
        return model.model_validate(dict(data))
    except ValidationError as err:
        raise ConfigurationError(describe_validation_error(err, prefix)) from err


def default_config(**overrides: Any) -> InstrumentConfig:
    """The default instrument (DESIGN §7), with top-level fields overridden (validated)."""
    base = InstrumentConfig().model_dump()
    base.update(overrides)
    return validated(InstrumentConfig, base)


def load_instrument_config(source: str | Path | Mapping[str, Any]) -> InstrumentConfig:
    """Load an instrument configuration from a TOML file (or a mapping), validated.

    Missing fields take their defaults; band tables given under ``[bands.Bn]`` are merged onto the default
    band entry, so a file may change one value of one band only.
    """
    if isinstance(source, Mapping):
        data: dict[str, Any] = dict(source)
        origin = "<mapping>"
    else:
        path = Path(source)
        origin = str(path)
        try:
            with path.open("rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError as err:
            raise ConfigurationError(f"{origin}: instrument configuration file not found") from err
        except tomllib.TOMLDecodeError as err:
            raise ConfigurationError(f"{origin}: invalid TOML: {err}") from err
    data = dict(data.get("instrument", data))
    bands_in = data.get("bands")
    if isinstance(bands_in, Mapping):
        defaults = _default_bands()
        merged: dict[str, Any] = {}
        for name, entry in bands_in.items():
            if name in defaults and isinstance(entry, Mapping):
                merged[name] = {**defaults[name].model_dump(), **dict(entry)}
            else:
                merged[name] = entry
        for name, band in defaults.items():
            merged.setdefault(name, band.model_dump())
        data["bands"] = merged
    try:
        return InstrumentConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigurationError(f"{describe_validation_error(err)} (in {origin})") from err
