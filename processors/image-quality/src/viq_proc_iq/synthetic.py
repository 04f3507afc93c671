"""Synthetic slanted edges with an analytic MTF (Gaussian PSF, optional square pixel aperture); numpy only.

Used by the tests and the benchmark to check the measurement against a known truth.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def _erf(x: FloatArray) -> FloatArray:
    """Error function (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7)."""
    t = 1.0 / (1.0 + 0.3275911 * np.abs(x))
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return np.sign(x) * (1.0 - poly * np.exp(-(x**2)))


def gaussian_edge(
    shape: tuple[int, int],
    angle_deg: float,
    sigma_px: float,
    *,
    low: float = 50.0,
    high: float = 200.0,
    horizontal: bool = False,
    aperture_samples: int = 0,
    noise_std: float = 0.0,
    seed: int = 0,
    offset_px: float = 0.0,
    bend_px: float = 0.0,
) -> FloatArray:
    """An image ``shape = (rows, cols)`` holding one straight edge through its centre blurred by a Gaussian PSF.

    :param angle_deg: edge tilt from the column axis (vertical edge) or the row axis (``horizontal``).
    :param sigma_px: standard deviation of the Gaussian PSF, px.
    :param aperture_samples: 0 samples the blurred edge at pixel centres; ``s > 0`` averages ``s × s``
        sub-samples per pixel (a square pixel aperture).
    :param noise_std: standard deviation of additive white Gaussian noise.
    :param offset_px: shift of the edge from the image centre, across the edge.
    :param bend_px: quadratic bow of the edge: ``bend_px`` across the edge at both ends relative to the
        centre (a curved edge, e.g. from distortion).
    """
    rows, cols = shape
    s = max(aperture_samples, 1)
    offs = (np.arange(s) + 0.5) / s - 0.5 if aperture_samples > 0 else np.zeros(1)
    y = np.arange(rows, dtype=np.float64)[:, None, None, None] + offs[None, None, :, None]
    x = np.arange(cols, dtype=np.float64)[None, :, None, None] + offs[None, None, None, :]
    yc, xc = (rows - 1) / 2.0, (cols - 1) / 2.0
    t = math.tan(math.radians(angle_deg))
    c = math.cos(math.radians(angle_deg))
    across, along = ((y - yc), (x - xc)) if horizontal else ((x - xc), (y - yc))
    half = (cols if horizontal else rows) / 2.0
    dist = (across - along * t - offset_px - bend_px * (along / half) ** 2) * c
    step = 0.5 * (1.0 + _erf(dist / (math.sqrt(2.0) * sigma_px)))
    img = low + (high - low) * step.mean(axis=(2, 3))
    if noise_std > 0:
        img = img + np.random.default_rng(seed).normal(0.0, noise_std, img.shape)
    return np.asarray(img, dtype=np.float64)


def gaussian_edge_mtf(
    freq: npt.ArrayLike, sigma_px: float, angle_deg: float = 0.0, aperture_samples: int = 0
) -> FloatArray:
    """The MTF along the edge normal of :func:`gaussian_edge` at ``freq`` cy/px.

    Gaussian PSF: ``exp(-2 π² σ² f²)``; with the ``s × s`` sub-sampled aperture, times the response of that
    discrete box along the normal direction, ``D(f cos θ)·D(f sin θ)`` with ``D(u) = sin(π u)/(s sin(π u/s))``.
    """
    f = np.asarray(freq, dtype=np.float64)
    mtf = np.exp(-2.0 * math.pi**2 * sigma_px**2 * f**2)
    if aperture_samples > 0:
        th = math.radians(angle_deg)
        for u in (f * math.cos(th), f * math.sin(th)):
            mtf = mtf * np.abs(_box(u, aperture_samples))
    return np.asarray(mtf, dtype=np.float64)


def _box(u: FloatArray, s: int) -> FloatArray:
    num = np.sin(np.pi * u)
    den = s * np.sin(np.pi * u / s)
    out = np.ones_like(u)
    nz = np.abs(den) > 1e-12
    out[nz] = num[nz] / den[nz]
    return out
