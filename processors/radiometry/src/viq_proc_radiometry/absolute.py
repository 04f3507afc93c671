"""Absolute gain A_k from acquisitions over a reference site, and its trend over a campaign (DESIGN §8).

For one band and acquisition: x = mean over valid detectors of the linear signal (inverse two-slope of
DN − dark with the relative sensitivity in force; plain DN − dark when none is given, i.e. mean a1 = 1);
A_k = x / L_ref. Relative uncertainty: √((σ_x/x)² + (σ_L/L)²), σ_x the standard error of the detector mean
(detector-to-detector spread / √n). The trend is a weighted least-squares fit of ln A_k against time in
years: A_k(t) = A_0·exp(d·(t − t_0)), drift d per year with its standard error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class GainEstimate:
    """A_k of one band from one acquisition."""

    band: str
    tdi: int
    when: datetime | None
    gain: float
    uncertainty: float
    signal_dn: float
    radiance: float


def estimate_gain(
    band: str, tdi: int, when: datetime | None, signal: F64, radiance: float, radiance_sigma: float
) -> GainEstimate:
    """A_k = mean(signal)/radiance with its one-sigma uncertainty (see the module doc)."""
    s = signal[np.isfinite(signal)]
    if s.size < 2 or radiance <= 0:
        raise ValueError("need at least two valid detectors and a positive reference radiance")
    mean = float(s.mean())
    se = float(s.std(ddof=1) / np.sqrt(s.size))
    gain = mean / radiance
    rel = np.hypot(se / mean, radiance_sigma / radiance)
    return GainEstimate(band, tdi, when, gain, float(gain * rel), mean, radiance)


def combine(estimates: list[GainEstimate]) -> tuple[float, float]:
    """Inverse-variance mean of several estimates of the same gain and its uncertainty.

    The reference uncertainty is common to acquisitions of the same reference, so the combined uncertainty is
    never smaller than the smallest single one divided by √n only for the statistical part; here conservatively
    the weighted mean's formal error is returned (each acquisition with an independent reference).
    """
    g = np.array([e.gain for e in estimates])
    u = np.array([e.uncertainty for e in estimates])
    w = 1.0 / u**2
    return float(np.sum(w * g) / np.sum(w)), float(1.0 / np.sqrt(np.sum(w)))


@dataclass(frozen=True)
class Trend:
    """ln A_k = ln A_0 + d·(t − t_0)."""

    drift_per_year: float
    drift_sigma: float
    gain_at_t0: float
    t0: datetime


def gain_trend(estimates: list[GainEstimate]) -> Trend:
    """Weighted fit of ln A_k against time (years); needs two dates at least."""
    pts = [e for e in estimates if e.when is not None]
    if len({e.when for e in pts}) < 2:
        raise ValueError("a gain trend needs acquisitions at two dates at least")
    t0 = min(e.when for e in pts if e.when is not None)
    t = np.array([((e.when - t0).total_seconds() if e.when else 0.0) / (365.25 * 86400.0) for e in pts])
    y = np.log([e.gain for e in pts])
    w = 1.0 / np.array([(e.uncertainty / e.gain) ** 2 for e in pts])
    x = np.stack([np.ones_like(t), t], axis=1)
    xtw = x.T * w
    cov = np.linalg.inv(xtw @ x)
    coef = cov @ (xtw @ y)
    dof = len(pts) - 2
    chi2 = float(np.sum(w * (y - x @ coef) ** 2) / dof) if dof > 0 else 1.0
    if chi2 > 1.0:
        cov = cov * chi2
    return Trend(float(coef[1]), float(np.sqrt(cov[1, 1])), float(np.exp(coef[0])), t0)
