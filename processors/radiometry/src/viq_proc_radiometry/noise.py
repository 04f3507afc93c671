"""Noise model σ² = A + B·L of one band and TDI, and the SNR at a reference radiance (DESIGN §8).

Per level (a dark acquisition is the level L = 0): the temporal variance of each detector over the lines
(clipped at 5σ), averaged over the valid detectors after rejecting detectors whose variance is an outlier
(robust z > 5: noisy, spike or dead detectors), minus the quantisation variance 1/12 DN² (Sheppard's
correction; the DN are rounded integers). Its standard error is the spread of the detector variances over
√n. A and B come from a weighted linear least-squares fit; their covariance is scaled by the reduced χ² when
it exceeds 1. SNR(L_ref) = S(L_ref) / √(A + B·L_ref), with S the mean dark-subtracted signal interpolated
linearly between levels (the two-slope response is linear between levels away from the knee).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from viq_proc_radiometry.stats import robust_z

F64 = npt.NDArray[np.float64]
QUANTISATION_VAR = 1.0 / 12.0


@dataclass(frozen=True)
class LevelNoise:
    """Mean temporal variance of one level and its standard error."""

    radiance: float
    variance: float
    variance_se: float
    signal_dn: float
    """Mean dark-subtracted signal (NaN when the dark is unknown)."""
    detectors: int


def level_noise(radiance: float, noise: F64, signal: F64, valid: npt.NDArray[np.bool_] | None = None) -> LevelNoise:
    """Mean temporal variance over valid, non-outlier detectors (quantisation removed)."""
    var = noise.astype(np.float64) ** 2
    use = np.isfinite(var) if valid is None else valid & np.isfinite(var)
    use &= np.abs(robust_z(var, use)) <= 5.0
    n = int(use.sum())
    if n < 2:
        raise ValueError("fewer than two usable detectors")
    v = var[use]
    return LevelNoise(
        radiance=radiance,
        variance=float(v.mean()) - QUANTISATION_VAR,
        variance_se=float(v.std(ddof=1) / np.sqrt(n)),
        signal_dn=float(np.mean(signal[use])) if signal.size else float("nan"),
        detectors=n,
    )


@dataclass(frozen=True)
class NoiseFit:
    """σ² = A + B·L and its covariance."""

    a: float
    b: float
    sigma_a: float
    sigma_b: float
    cov_ab: float
    chi2_reduced: float
    levels: tuple[LevelNoise, ...]

    def variance(self, radiance: float) -> float:
        """Model variance at ``radiance``, DN²."""
        return self.a + self.b * radiance

    def variance_sigma(self, radiance: float) -> float:
        """Standard error of the model variance at ``radiance``."""
        v = self.sigma_a**2 + radiance**2 * self.sigma_b**2 + 2 * radiance * self.cov_ab
        return float(np.sqrt(max(v, 0.0)))


def fit_noise(levels: list[LevelNoise]) -> NoiseFit:
    """Weighted least squares of variance against radiance (at least two distinct radiances)."""
    rad = np.array([lv.radiance for lv in levels])
    if np.unique(rad).size < 2:
        raise ValueError("the noise model needs at least two distinct radiance levels")
    var = np.array([lv.variance for lv in levels])
    se = np.maximum(np.array([lv.variance_se for lv in levels]), 1e-9)
    w = 1.0 / se**2
    x = np.stack([np.ones_like(rad), rad], axis=1)
    xtw = x.T * w
    cov = np.linalg.inv(xtw @ x)
    coef = cov @ (xtw @ var)
    dof = len(levels) - 2
    chi2 = float(np.sum(w * (var - x @ coef) ** 2) / dof) if dof > 0 else 1.0
    if chi2 > 1.0:
        cov = cov * chi2
    return NoiseFit(
        a=float(coef[0]), b=float(coef[1]), sigma_a=float(np.sqrt(cov[0, 0])), sigma_b=float(np.sqrt(cov[1, 1])),
        cov_ab=float(cov[0, 1]), chi2_reduced=chi2, levels=tuple(levels),
    )


def signal_at(levels: list[LevelNoise], radiance: float) -> float:
    """Mean signal (DN) at ``radiance`` by linear interpolation (extrapolation) between the levels."""
    pts = sorted((lv.radiance, lv.signal_dn) for lv in levels if np.isfinite(lv.signal_dn))
    if len(pts) < 2:
        raise ValueError("the SNR needs the signal at two levels at least")
    rad = np.array([p[0] for p in pts])
    sig = np.array([p[1] for p in pts])
    k = int(np.clip(np.searchsorted(rad, radiance), 1, rad.size - 1))
    f = (radiance - rad[k - 1]) / (rad[k] - rad[k - 1])
    return float(sig[k - 1] + f * (sig[k] - sig[k - 1]))


def snr(fit: NoiseFit, signal_dn: float, radiance: float) -> tuple[float, float]:
    """SNR at ``radiance`` and its standard error (from the variance model's uncertainty)."""
    var = fit.variance(radiance)
    if var <= 0:
        raise ValueError(f"model variance {var:.3g} DN² at L = {radiance:g} is not positive")
    value = signal_dn / np.sqrt(var)
    return float(value), float(value * 0.5 * fit.variance_sigma(radiance) / var)
