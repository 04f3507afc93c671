"""Radiometric model of one band and TDI setting (DESIGN §7).

For detector ``j`` and TOA radiance ``L`` (W m-2 sr-1 µm-1)::

    x    = A_k(TDI, t) · L                                   linear signal, DN
    Z(x) = a1(j)·x                  if x ≤ Zs(j)              two-slope response (GIP_RELSEN)
         = a1(j)·Zs(j) + a2(j)·(x − Zs(j))   otherwise
    DN   = clip(round(dark(j) + Z(x) + n), 0, dn_max),   n ~ N(0, σ²),  σ² = A + B·L   (GIP_NOISMO)

with ``A_k(TDI, t) = absolute_gain · TDI · exp(drift · years since launch)`` (GIP_PHGAIN),
``A = read_noise²`` and ``B = A_k(TDI, t) · conversion_gain``. Out-of-order pixels (GIP_OUTORD): ``BLIND``
has ``a1 = a2 = 0`` (and only read noise), ``NOISY`` has its noise std-dev multiplied, ``FILTER_HOLE`` has its
gains multiplied. Dark (GIP_DARKCU) = offset + TDI·(dark current + column structure + hot pixels); spike
pixels add ``spike_amplitude`` on a random fraction of lines.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np
import numpy.typing as npt

from viq_venus.config import InstrumentConfig

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

DEFECT_TYPES = ("BLIND", "NOISY", "FILTER_HOLE")
"""Out-of-order detector types of the ICD (GIP_OUTORD ``Defect_Type``)."""


def years_since_launch(cfg: InstrumentConfig, when: date | datetime) -> float:
    """Decimal years between the launch date and ``when``."""
    day = when.date() if isinstance(when, datetime) else when
    return (day - cfg.launch_date).days / 365.25


def absolute_gain(cfg: InstrumentConfig, band: str, tdi: int, when: date | datetime | None = None) -> float:
    """A_k(TDI, t) in DN per (W m-2 sr-1 µm-1); at launch when ``when`` is None."""
    b = cfg.band(band)
    cfg.check_tdi(tdi)
    drift = 0.0 if when is None else b.gain_drift_per_year * years_since_launch(cfg, when)
    return b.absolute_gain * tdi * math.exp(drift)


def noise_coefficients(
    cfg: InstrumentConfig, band: str, tdi: int, when: date | datetime | None = None
) -> tuple[float, float]:
    """(A, B) of σ² = A + B·L in DN² and DN²/(W m-2 sr-1 µm-1)."""
    b = cfg.band(band)
    return b.read_noise_dn**2, absolute_gain(cfg, band, tdi, when) * b.conversion_gain_dn_per_e


@dataclass(frozen=True)
class Defect:
    """One out-of-order detector (0-based column)."""

    column: int
    defect_type: str


@dataclass(frozen=True)
class PixelMaps:
    """The fixed per-pixel state of one band at one TDI (what the calibration GIPPs describe)."""

    band: str
    tdi: int
    dark: FloatArray
    """Dark signal per detector, DN (GIP_DARKCU)."""
    a1: FloatArray
    """First slope per detector, relative (GIP_RELSEN)."""
    a2: FloatArray
    """Second slope per detector, relative."""
    knee: FloatArray
    """Knee Zs per detector, DN on the linear signal x = A_k·L."""
    hot: IntArray
    """Columns of hot pixels (already inside ``dark``)."""
    defects: tuple[Defect, ...]
    """Out-of-order detectors."""
    spike_columns: IntArray
    """Columns that produce dark spikes."""
    noise_factor: FloatArray = field(repr=False)
    """Per-detector multiplier of the noise std-dev (1, or noisy_factor for NOISY pixels)."""

    @property
    def n_pixels(self) -> int:
        """Detectors in the array."""
        return int(self.dark.size)

    def defect_mask(self, defect_type: str | None = None) -> npt.NDArray[np.bool_]:
        """Boolean mask of out-of-order detectors (of one type, or all)."""
        mask = np.zeros(self.n_pixels, dtype=bool)
        for d in self.defects:
            if defect_type is None or d.defect_type == defect_type:
                mask[d.column] = True
        return mask


def _band_rng(cfg: InstrumentConfig, band: str, purpose: int) -> np.random.Generator:
    return np.random.default_rng([cfg.instrument_seed, int(band[1:]), purpose])


def pixel_maps(cfg: InstrumentConfig, band: str, tdi: int, n_pixels: int | None = None) -> PixelMaps:
    """The per-pixel maps of ``band`` at ``tdi``, deterministic for the instrument seed.

    The sensitivity, defects and hot-pixel positions do not depend on the TDI; the dark signal scales with it.
    ``n_pixels`` (default: the array size) takes the first detectors of the array.
    """
    b = cfg.band(band)
    cfg.check_tdi(tdi)
    px = cfg.pixels
    n_full = cfg.pixels_per_array
    n = n_full if n_pixels is None else n_pixels
    rng = _band_rng(cfg, band, 1)
    j = np.arange(n_full, dtype=np.float64)
    u = (j - (n_full - 1) / 2) / max((n_full - 1) / 2, 1.0)
    a1 = (1.0 - px.prnu_profile * u**2) * (1.0 + rng.normal(0.0, px.prnu_sigma, n_full))
    a2 = a1 * (px.a2_ratio + rng.normal(0.0, px.a2_sigma, n_full))
    knee = px.knee_dn + rng.normal(0.0, px.knee_sigma_dn, n_full)
    column = rng.normal(0.0, px.dark_column_sigma_dn, n_full)
    odd_even = np.where(np.arange(n_full) % 2 == 1, px.dark_odd_even_dn, 0.0)
    n_hot = round(px.hot_pixel_fraction * n_full)
    perm = rng.permutation(n_full)
    hot = np.sort(perm[:n_hot])
    counts = (px.blind_count, px.noisy_count, px.filter_hole_count)
    start = n_hot
    defects: list[Defect] = []
    for kind, count in zip(DEFECT_TYPES, counts, strict=True):
        for col in perm[start : start + count]:
            defects.append(Defect(int(col), kind))
        start += count
    spikes = np.sort(perm[start : start + px.spike_pixel_count])
    dark_per_stage = b.dark_current_dn_per_stage + column
    dark_per_stage[hot] += px.hot_pixel_dn_per_stage * (1.0 + rng.uniform(0.0, 1.0, n_hot))
    dark = b.dark_offset_dn + odd_even + tdi * np.maximum(dark_per_stage, 0.0)
    noise_factor = np.ones(n_full)
    for d in defects:
        if d.defect_type == "BLIND":
            a1[d.column] = 0.0
            a2[d.column] = 0.0
        elif d.defect_type == "NOISY":
            noise_factor[d.column] = px.noisy_factor
        else:
            a1[d.column] *= px.filter_hole_factor
            a2[d.column] *= px.filter_hole_factor
    keep = [d for d in defects if d.column < n]
    keep.sort(key=lambda d: d.column)
    return PixelMaps(
        band=band,
        tdi=tdi,
        dark=dark[:n],
        a1=a1[:n],
        a2=a2[:n],
        knee=knee[:n],
        hot=hot[hot < n].astype(np.int64),
        defects=tuple(keep),
        spike_columns=spikes[spikes < n].astype(np.int64),
        noise_factor=noise_factor[:n],
    )


def two_slope(x: FloatArray, a1: FloatArray, a2: FloatArray, knee: FloatArray) -> FloatArray:
    """Z(x): a1·x below the knee, a1·Zs + a2·(x − Zs) above (arrays broadcast over columns)."""
    return np.where(x <= knee, a1 * x, a1 * knee + a2 * (x - knee))


def inverse_two_slope(z: FloatArray, a1: FloatArray, a2: FloatArray, knee: FloatArray) -> FloatArray:
    """x from Z (inverse of :func:`two_slope`; columns with a1 = 0 give NaN)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        below = z / a1
        above = knee + (z - a1 * knee) / a2
        return np.where(z <= a1 * knee, below, above)


def expected_dn(maps: PixelMaps, radiance: FloatArray, gain: float) -> FloatArray:
    """Noise-free DN (before quantisation and clipping) for ``radiance`` (lines × columns or columns)."""
    return maps.dark + two_slope(gain * np.asarray(radiance, dtype=np.float64), maps.a1, maps.a2, maps.knee)
