"""Analytic MTF of the VENµS chain: optics (diffraction and/or Gaussian) × detector sinc × motion sinc.

Frequencies are in cycles per pixel (Nyquist = 0.5). ``direction`` is ``"across"`` (columns, x) or
``"along"`` (lines, y); the motion smear applies along track only. The optics term depends on the band
through its wavelength (diffraction cut-off ``D·p/(λ·f)``).

Processors compare their measurements with :func:`system_mtf`; a slanted edge at angle θ from the column
(or line) axis sees :func:`edge_mtf`, the product of the two directional OTFs at ``f·cosθ`` and ``f·sinθ``.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from viq_interfaces.errors import ConfigurationError
from viq_venus.config import InstrumentConfig

FloatArray = npt.NDArray[np.float64]
DIRECTIONS = ("across", "along")


def _check_direction(direction: str) -> None:
    if direction not in DIRECTIONS:
        raise ConfigurationError(f"direction: {direction!r} is not one of {DIRECTIONS}")


def diffraction_cutoff_cy_px(cfg: InstrumentConfig, band: str) -> float:
    """Incoherent diffraction cut-off of a circular pupil, cycles/px: D·p/(λ·f)."""
    lam = cfg.band(band).centre_nm * 1e-9
    return cfg.optics.aperture_m * cfg.optics.pixel_pitch_um * 1e-6 / (lam * cfg.optics.focal_length_m)


def optics_mtf(f: FloatArray, cfg: InstrumentConfig, band: str, direction: str) -> FloatArray:
    """Optics MTF (diffraction and/or Gaussian aberration)."""
    _check_direction(direction)
    f = np.abs(np.asarray(f, dtype=np.float64))
    out = np.ones_like(f)
    model = cfg.mtf.optics_model
    if "diffraction" in model:
        nu = np.clip(f / diffraction_cutoff_cy_px(cfg, band), 0.0, 1.0)
        out = out * (2.0 / math.pi) * (np.arccos(nu) - nu * np.sqrt(1.0 - nu**2))
    if "gaussian" in model:
        sigma = cfg.mtf.aberration_sigma_px_across if direction == "across" else cfg.mtf.aberration_sigma_px_along
        out = out * np.exp(-2.0 * math.pi**2 * sigma**2 * f**2)
    return out


def system_otf(f: FloatArray, cfg: InstrumentConfig, band: str, direction: str) -> FloatArray:
    """Signed (real, even) system OTF: optics × detector sinc × motion sinc (along track)."""
    f = np.asarray(f, dtype=np.float64)
    out = optics_mtf(f, cfg, band, direction) * np.sinc(cfg.mtf.detector_aperture_px * f)
    if direction == "along":
        out = out * np.sinc(cfg.mtf.motion_smear_px_along * f)
    return np.asarray(out, dtype=np.float64)


def system_mtf(f: FloatArray | float, cfg: InstrumentConfig, band: str, direction: str) -> FloatArray:
    """System MTF |OTF| at frequencies ``f`` (cycles/px)."""
    return np.abs(system_otf(np.asarray(f, dtype=np.float64), cfg, band, direction))


def edge_otf(f: FloatArray, cfg: InstrumentConfig, band: str, direction: str, angle_deg: float) -> FloatArray:
    """OTF seen along the normal of an edge tilted by ``angle_deg`` (the edge measures ``direction``)."""
    other = "along" if direction == "across" else "across"
    th = math.radians(angle_deg)
    f = np.asarray(f, dtype=np.float64)
    return system_otf(f * math.cos(th), cfg, band, direction) * system_otf(f * abs(math.sin(th)), cfg, band, other)


def edge_mtf(f: FloatArray | float, cfg: InstrumentConfig, band: str, direction: str, angle_deg: float) -> FloatArray:
    """MTF a slanted-edge measurement should find (|edge OTF|)."""
    return np.abs(edge_otf(np.asarray(f, dtype=np.float64), cfg, band, direction, angle_deg))


def mtf50(cfg: InstrumentConfig, band: str, direction: str) -> float:
    """Frequency where the system MTF falls to 0.5, cycles/px."""
    f = np.linspace(0.0, 1.0, 20001)
    m = system_mtf(f, cfg, band, direction)
    below = np.nonzero(m < 0.5)[0]
    if below.size == 0:
        return 1.0
    i = int(below[0])
    return float(f[i - 1] + (m[i - 1] - 0.5) / (m[i - 1] - m[i]) * (f[i] - f[i - 1]))


_EDGE_CACHE: dict[tuple[str, str, str, float], tuple[FloatArray, FloatArray]] = {}
_KERNEL_CACHE: dict[tuple[str, str, str], tuple[int, FloatArray]] = {}


def _edge_table(cfg: InstrumentConfig, band: str, direction: str, angle_deg: float) -> tuple[FloatArray, FloatArray]:
    key = (cfg.fingerprint(), band, direction, angle_deg)
    if key in _EDGE_CACHE:
        return _EDGE_CACHE[key]
    half = 12.0
    d = np.arange(-half, half + 1e-9, 1.0 / 64.0)
    fmax = 6.0
    if "gaussian" in cfg.mtf.optics_model:
        sigma = min(cfg.mtf.aberration_sigma_px_across, cfg.mtf.aberration_sigma_px_along)
        if sigma > 0:  # beyond this the Gaussian term is below 1e-9
            fmax = min(fmax, math.sqrt(math.log(1e9) / (2 * math.pi**2)) / sigma)
    df = 1.0 / 1024.0
    f = np.arange(df / 2, fmax, df)
    otf = edge_otf(f, cfg, band, direction, angle_deg)
    # ESF(d) = 1/2 + ∫_0^∞ OTF(f) sin(2π f d) / (π f) df
    esf = 0.5 + (np.sin(2 * math.pi * np.outer(d, f)) / (math.pi * f)) @ otf * df
    _EDGE_CACHE[key] = (d, esf)
    return d, esf


def edge_spread(
    distance_px: FloatArray, cfg: InstrumentConfig, band: str, direction: str, angle_deg: float
) -> FloatArray:
    """Edge spread function (0 → 1) at signed distances from the edge, px (exact for the analytic MTF)."""
    d, esf = _edge_table(cfg, band, direction, float(angle_deg))
    return np.interp(np.asarray(distance_px, dtype=np.float64), d, esf, left=0.0, right=1.0)


FRACTION_STEPS = 256
"""Fractional positions tabulated per pixel in the resampling kernel table."""


def _kernel_table(cfg: InstrumentConfig, band: str, direction: str) -> tuple[int, FloatArray]:
    """Least-squares blur-and-shift filters: row ``q`` holds the taps ``m = -K/2 … K/2+1`` for fraction q/256.

    Each filter's frequency response ``Σ_m w_m e^{-2πi f (m − r)}`` matches the system OTF on 0…0.45 cy/px
    (weighted towards low frequencies, exact at f = 0) so that shifts are exact and the blur is the MTF.
    """
    key = (cfg.fingerprint(), band, direction)
    if key in _KERNEL_CACHE:
        return _KERNEL_CACHE[key]
    half = cfg.mtf.kernel_taps // 2
    m = np.arange(-half, half + 2, dtype=np.float64)
    f = np.linspace(0.0, 0.45, 91)
    otf = system_otf(f, cfg, band, direction)
    weight = np.sqrt(np.where(f <= 0.3, 1.0, 0.3))
    weight[0] = 100.0
    r = np.arange(FRACTION_STEPS, dtype=np.float64) / FRACTION_STEPS
    phase = 2 * math.pi * f[None, :, None] * (m[None, None, :] - r[:, None, None])  # (q, f, m)
    w2 = (weight**2)[None, :, None]
    # normal equations of the weighted fit (cos part → OTF, sin part → 0) plus a ridge on the far taps
    cos, sin = np.cos(phase), np.sin(phase)
    normal = np.einsum("qfm,qfn->qmn", cos * w2, cos) + np.einsum("qfm,qfn->qmn", sin * w2, sin)
    ridge = (0.02 * np.abs(m[None, :] - r[:, None]) / half) ** 2
    normal += ridge[:, :, None] * np.eye(m.size)[None, :, :]
    rhs = np.einsum("qfm,f->qm", cos * w2, otf)
    table = np.linalg.solve(normal, rhs[:, :, None])[:, :, 0]
    table /= table.sum(axis=1, keepdims=True)
    _KERNEL_CACHE[key] = (half, table)
    return _KERNEL_CACHE[key]


def resampling_weights(
    r: FloatArray, taps: npt.NDArray[np.int64], cfg: InstrumentConfig, band: str, direction: str
) -> FloatArray:
    """Weights of a blur-and-shift filter: ``out = Σ_k w_k · s[n0 + taps_k]`` samples the blurred scene at ``n0 + r``.

    ``r`` (any shape, ≥ 0) is the position relative to ``n0``, ``taps`` the integer tap offsets (they must
    cover ``floor(r) − K/2 … floor(r) + K/2 + 1``). The filters are least-squares fits of the system OTF up
    to 0.45 cy/px, exact at DC (a uniform scene stays uniform), tabulated every 1/256 px.
    """
    half, table = _kernel_table(cfg, band, direction)
    rr = np.asarray(r, dtype=np.float64).reshape(-1)
    whole = np.floor(rr)
    q = np.rint((rr - whole) * FRACTION_STEPS).astype(np.int64)
    carry = q == FRACTION_STEPS
    whole = whole + carry
    q[carry] = 0
    start = whole.astype(np.int64) - half - int(taps[0])
    width = table.shape[1]
    if taps.size != int(taps[-1] - taps[0]) + 1 or start.min() < 0 or int(start.max()) + width > taps.size:
        raise ValueError("taps must be consecutive and cover floor(r) - K/2 ... floor(r) + K/2 + 1")
    w = np.zeros((rr.size, taps.size))
    w[np.arange(rr.size)[:, None], start[:, None] + np.arange(width)[None, :]] = table[q]
    return np.asarray(w.reshape(*np.shape(r), taps.size), dtype=np.float64)


def psf_support_px(cfg: InstrumentConfig) -> int:
    """Width of the PSF kernel used by the simulator, px; images must be larger than this."""
    return cfg.mtf.kernel_taps + 2
