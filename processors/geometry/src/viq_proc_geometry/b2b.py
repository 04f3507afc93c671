"""Band-to-band misregistration: per-band shift profiles along the lines and a model over acquisition time.

Measurement. Every band is matched against the reference band on a grid of windows (``window`` px square,
every ``step_lines`` lines and ``step_cols`` columns), with the sub-pixel matcher of
:mod:`viq_proc_geometry.correlate`. The shift ``s`` follows the simulator's displacement convention: pixel
``(i, j)`` of band ``b`` sees the ground seen by pixel ``(i, j) + s`` of the reference band, so ``s`` estimates
``d_b − d_ref`` (``dx`` across track = columns, ``dy`` along track = lines). Per line block the window shifts
are combined by their median: that is the profile "along the lines".

Time model. Band ``b`` acquires line ``i`` at ``t = i·Δt + t_b`` (``t_b`` its focal-plane time offset), so an
attitude signal ``J(t)`` (roll → dx, pitch → dy, in px) shows up as
``s_b(i) = c_b + J(i·Δt + t_b) − J(i·Δt + t_ref)``. We fit, per axis, the static offsets ``c_b`` and ``J`` as a
cubic B-spline over the whole time span (knots every ``knot_s`` seconds) by regularised least squares
(second-difference penalty; ``J`` is defined up to a constant and a linear trend, fixed by the penalty and by
``J(t_ref-interval mean) = 0``). The model gives the static band offsets, the attitude signal and its
prediction of every profile; the fit RMSE is ``b2b_rmse_px``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from viq_proc_geometry.correlate import F32, match_windows

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class B2BSpec:
    """Window grid of the band-to-band measurement and the time-model settings."""

    window: int = 64
    step_lines: int = 32
    step_cols: int = 64
    taper: float = 0.3
    alpha: float = 0.5
    cutoff: float = 0.8
    max_shift: float = 3.0
    min_reliability: float = 20.0
    knot_s: float = 0.05
    smoothing: float = 1e-3


@dataclass
class BandProfile:
    """Shifts of one band against the reference, per line block."""

    band: str
    lines: F64
    """Centre line of each block."""
    dx: F64
    dy: F64
    n: npt.NDArray[np.int64]
    """Valid windows per block."""
    window_dx: F64
    """Every valid window shift (for robust statistics)."""
    window_dy: F64

    @property
    def mean_dx(self) -> float:
        """Mean over all valid windows, px."""
        return float(np.mean(self.window_dx)) if self.window_dx.size else float("nan")

    @property
    def mean_dy(self) -> float:
        """Mean over all valid windows, px."""
        return float(np.mean(self.window_dy)) if self.window_dy.size else float("nan")

    def sem(self) -> tuple[float, float]:
        """Standard errors of the means (block-level scatter / √blocks), px."""
        k = max(int(np.isfinite(self.dx).sum()), 1)
        return (float(np.nanstd(self.dx)) / np.sqrt(k), float(np.nanstd(self.dy)) / np.sqrt(k))


def band_profile(
    ref: F32, img: F32, band: str, spec: B2BSpec, valid: npt.NDArray[np.bool_] | None = None
) -> BandProfile:
    """Window grid of ``img`` against ``ref`` (same shape), combined per line block."""
    h, w = ref.shape
    win = spec.window
    if h < win or w < win:
        raise ValueError(f"image {h}×{w} smaller than the window {win}")
    rows = list(range(0, h - win + 1, spec.step_lines))
    cols = list(range(0, w - win + 1, spec.step_cols))
    centres, bdx, bdy, counts, all_dx, all_dy = [], [], [], [], [], []
    for r in rows:
        sx, sy = [], []
        for c in cols:
            if valid is not None and not valid[r : r + win, c : c + win].all():
                continue
            m = match_windows(ref[r : r + win, c : c + win], img[r : r + win, c : c + win], taper=spec.taper,
                              alpha=spec.alpha, cutoff=spec.cutoff, max_shift=spec.max_shift)
            if m.ok and m.reliability >= spec.min_reliability:
                sx.append(m.sx)
                sy.append(m.sy)
        centres.append(r + (win - 1) / 2.0)
        counts.append(len(sx))
        bdx.append(float(np.median(sx)) if sx else np.nan)
        bdy.append(float(np.median(sy)) if sy else np.nan)
        all_dx += sx
        all_dy += sy
    return BandProfile(band, np.array(centres), np.array(bdx), np.array(bdy), np.array(counts, dtype=np.int64),
                       np.array(all_dx), np.array(all_dy))


@dataclass
class TimeModel:
    """Fitted static offsets per band and attitude signal per axis (px), see the module doc."""

    static_dx: dict[str, float]
    static_dy: dict[str, float]
    t_knots: F64
    coef_x: F64
    coef_y: F64
    rmse: float
    """RMS of the profile residuals after the fit, px (both axes)."""
    predict: Callable[[str, F64], tuple[F64, F64]]
    """``predict(band, lines)`` → model (dx, dy) of that band's profile."""


def fit_time_model(
    profiles: Mapping[str, BandProfile],
    time_offset_s: Mapping[str, float],
    reference: str,
    line_period_s: float,
    spec: B2BSpec,
) -> TimeModel:
    """Fit ``s_b(i) = c_b + J(iΔt + t_b) − J(iΔt + t_ref)`` per axis (regularised B-spline ``J``)."""
    bands = [b for b in profiles if b != reference]
    t_ref = time_offset_s[reference]
    all_lines = np.concatenate([profiles[b].lines for b in bands]) if bands else np.zeros(1)
    times = [time_offset_s[b] for b in [*bands, reference]]
    t0 = min(times) + float(all_lines.min()) * line_period_s - spec.knot_s
    t1 = max(times) + float(all_lines.max()) * line_period_s + spec.knot_s
    n_int = max(int(np.ceil((t1 - t0) / spec.knot_s)), 1)
    k = 3
    inner = np.linspace(t0, t1, n_int + 1)
    knots = np.concatenate([[t0] * k, inner, [t1] * k])
    n_basis = len(knots) - k - 1

    from scipy.interpolate import BSpline  # here: scipy.interpolate costs ~0.5 s to import for every processor

    def basis(t: F64) -> F64:
        return np.asarray(BSpline.design_matrix(np.clip(t, t0, t1), knots, k).toarray(), dtype=np.float64)

    nb = len(bands)
    rows_x, rows_y, obs_x, obs_y = [], [], [], []
    for bi, b in enumerate(bands):
        p = profiles[b]
        ok = np.isfinite(p.dx) & np.isfinite(p.dy) & (p.n > 0)
        if not ok.any():
            continue
        tl = p.lines[ok] * line_period_s
        a = basis(tl + time_offset_s[b]) - basis(tl + t_ref)
        static = np.zeros((ok.sum(), nb))
        static[:, bi] = 1.0
        design = np.hstack([static, a])
        rows_x.append(design)
        rows_y.append(design)
        obs_x.append(p.dx[ok])
        obs_y.append(p.dy[ok])
    if not rows_x:
        raise ValueError("no valid band profile to fit")
    d = np.vstack(rows_x)
    # regularisation: second differences of the spline coefficients, and the spline's mean over the
    # reference band's own time interval pinned to 0 (gauge)
    lam = spec.smoothing * max(float(np.abs(d).sum(axis=0).max()), 1.0)
    d2 = np.zeros((n_basis - 2, nb + n_basis))
    for j in range(n_basis - 2):
        d2[j, nb + j : nb + j + 3] = (1.0, -2.0, 1.0)
    ref_t = np.linspace(all_lines.min(), all_lines.max(), 20) * line_period_s + t_ref
    gauge = np.hstack([np.zeros(nb), basis(ref_t).mean(axis=0)])[None, :]
    ridge = np.hstack([np.zeros((n_basis, nb)), np.eye(n_basis)]) * 1e-6
    big = np.vstack([d, np.sqrt(lam) * d2, gauge * 10.0, ridge])
    sols = []
    for obs in (np.concatenate(obs_x), np.concatenate(obs_y)):
        rhs = np.concatenate([obs, np.zeros(d2.shape[0] + 1 + n_basis)])
        sol, *_ = np.linalg.lstsq(big, rhs, rcond=None)
        sols.append(sol)
    res = np.concatenate([d @ sols[0] - np.concatenate(obs_x), d @ sols[1] - np.concatenate(obs_y)])
    rmse = float(np.sqrt(np.mean(res**2)))
    cx, cy = sols[0][nb:], sols[1][nb:]
    stat_x = {b: float(sols[0][i]) for i, b in enumerate(bands)}
    stat_y = {b: float(sols[1][i]) for i, b in enumerate(bands)}
    stat_x[reference] = stat_y[reference] = 0.0

    def predict(band: str, lines: F64) -> tuple[F64, F64]:
        tl = np.asarray(lines, dtype=np.float64) * line_period_s
        a = basis(tl + time_offset_s[band]) - basis(tl + t_ref)
        return stat_x[band] + a @ cx, stat_y[band] + a @ cy

    return TimeModel(stat_x, stat_y, knots, cx, cy, rmse, predict)
