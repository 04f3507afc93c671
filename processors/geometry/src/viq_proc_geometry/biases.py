"""Least-squares estimate of steering biases (roll, pitch, yaw) and a focal homothety from tie points.

Observation model (the viewing model of :mod:`viq_venus.geometry`): a tie point of band ``b`` at line ``i``,
column ``j`` with measured shift ``(sx, sy)`` against the reference ortho image obeys

    sx = fp_dx_b + k·roll + x_b·yaw + (j − j_c)·m
    sy = fp_dy_b + k·pitch − (j − j_c)·yaw + x_b·m − h·τ_b

with ``k = f/p`` (px per radian), ``x_b`` the band's along-track focal-plane position in pixels, ``j_c`` the
centre column, ``h`` the terrain height and ``τ_b = tan θ_b / GSD`` the parallax per metre; ``m`` is the
relative focal-length error (homothety: the image scales by ``1 + m`` about the focal-plane centre). The
focal-plane offsets ``fp_*`` are the calibration in force (instrument configuration) and are subtracted.

Unknowns ``θ = (roll, pitch, yaw, m)``; weighted linear least squares; covariance ``σ̂²·(AᵀWA)⁻¹`` with
``σ̂²`` the weighted residual variance, or the cluster-robust (sandwich, one cluster per band) covariance
when larger. Attitude jitter is not modelled here: it averages over the lines and enters the residuals,
correlated within a band, which the cluster-robust covariance accounts for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]

PARAMS = ("roll", "pitch", "yaw", "homothety")


@dataclass(frozen=True)
class BandTies:
    """Tie points of one band (arrays of equal length) and its geometry."""

    band: str
    line: F64
    col: F64
    sx: F64
    sy: F64
    fp_dx: float
    fp_dy: float
    x_b_px: float
    terrain_px_per_m: float
    height_m: F64 | None = None
    weight: F64 | None = None


@dataclass(frozen=True)
class BiasFit:
    """Estimated parameters (rad, rad, rad, unitless), their covariance and the fit statistics."""

    values: F64
    covariance: F64
    rmse_px: float
    n_obs: int
    k_px_per_rad: float
    fixed: tuple[str, ...]

    def value(self, name: str) -> float:
        """Parameter by name."""
        return float(self.values[PARAMS.index(name)])

    def sigma(self, name: str) -> float:
        """One-sigma uncertainty by name."""
        return float(np.sqrt(max(self.covariance[PARAMS.index(name), PARAMS.index(name)], 0.0)))


def fit_biases(
    ties: Sequence[BandTies], k_px_per_rad: float, centre_col: float, fit_homothety: bool = True
) -> BiasFit:
    """Solve the linear model of the module doc."""
    rows: list[F64] = []
    obs: list[F64] = []
    wts: list[F64] = []
    groups: list[npt.NDArray[np.int64]] = []
    for g, t in enumerate(ties):
        n = t.sx.size
        if n == 0:
            continue
        dc = t.col - centre_col
        ax = np.stack([np.full(n, k_px_per_rad), np.zeros(n), np.full(n, t.x_b_px), dc], axis=1)
        ay = np.stack([np.zeros(n), np.full(n, k_px_per_rad), -dc, np.full(n, t.x_b_px)], axis=1)
        h = t.height_m if t.height_m is not None else np.zeros(n)
        rows += [ax, ay]
        obs += [t.sx - t.fp_dx, t.sy - t.fp_dy + h * t.terrain_px_per_m]
        w = t.weight if t.weight is not None else np.ones(n)
        wts += [w, w]
        groups += [np.full(n, g, dtype=np.int64), np.full(n, g, dtype=np.int64)]
    if not rows:
        raise ValueError("no tie point to fit")
    a = np.vstack(rows)
    y = np.concatenate(obs)
    w = np.concatenate(wts)
    cols = [0, 1, 2, 3] if fit_homothety else [0, 1, 2]
    a_used = a[:, cols]
    sw = np.sqrt(w)
    if a_used.shape[0] <= len(cols):
        raise ValueError(f"{a_used.shape[0]} observations for {len(cols)} unknowns")
    sol, *_ = np.linalg.lstsq(a_used * sw[:, None], y * sw, rcond=None)
    res = a_used @ sol - y
    dof = max(a_used.shape[0] - len(cols), 1)
    sigma2 = float(np.sum(w * res**2) / dof)
    normal = (a_used * w[:, None]).T @ a_used
    inv = np.linalg.pinv(normal)
    cov_used = sigma2 * inv
    # jitter makes residuals correlated within a band: cluster-robust (per band) covariance, kept if larger
    grp = np.concatenate(groups)
    if np.unique(grp).size > len(cols):
        meat = np.zeros((len(cols), len(cols)))
        for g in np.unique(grp):
            sel = grp == g
            score = (a_used[sel] * (w[sel] * res[sel])[:, None]).sum(axis=0)
            meat += np.outer(score, score)
        cluster = inv @ meat @ inv
        cov_used = np.where(np.diag(cluster)[:, None] * np.diag(cluster)[None, :] >
                            np.diag(cov_used)[:, None] * np.diag(cov_used)[None, :], cluster, cov_used)
    values = np.zeros(4)
    cov = np.zeros((4, 4))
    values[cols] = sol
    cov[np.ix_(cols, cols)] = cov_used
    rmse = float(np.sqrt(np.mean(res**2)))
    return BiasFit(values, cov, rmse, int(y.size), k_px_per_rad, () if fit_homothety else ("homothety",))
