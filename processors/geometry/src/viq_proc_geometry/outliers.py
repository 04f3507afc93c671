"""Robust outlier rejection for tie points, in three levels (as AROSICS's L1/L2/L3 filters, our own tests).

* **L1 — match quality**: reliability below ``min_reliability`` % or peak below ``min_peak``.
* **L2 — robust distance**: ``|s − median(s)| > k · 1.4826 · MAD`` in x or y (MAD floored at ``mad_floor``).
* **L3 — model consensus**: RANSAC of an affine model of the shift field ``s = c0 + c1·x + c2·y`` (x and y
  components fitted together on the same 3-point samples, deterministic seed), threshold
  ``max(ransac_min_px, k · robust σ of the residuals)``; then a least-squares refit on the inliers.

The refit gives the residual RMSE (px) of the affine model and the global shift (the inlier mean).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class OutlierSpec:
    """Thresholds of the three levels."""

    min_reliability: float = 30.0
    min_peak: float = 0.0
    mad_k: float = 4.0
    mad_floor: float = 0.05
    ransac_k: float = 3.0
    ransac_min_px: float = 0.3
    ransac_trials: int = 300
    seed: int = 0


@dataclass(frozen=True)
class Filtered:
    """Result of the filters: per-level flags and the affine model of the inliers."""

    l1: B
    l2: B
    l3: B
    inlier: B
    coef_x: F64
    """Affine model of s_x: c0 + c1·x + c2·y (x, y in the coordinates given)."""
    coef_y: F64
    rmse: float
    """RMS of the affine-model residuals over the inliers, px (both components)."""


def _design(x: F64, y: F64) -> F64:
    return np.stack([np.ones_like(x), x, y], axis=1)


def _robust_sigma(r: F64, floor: float) -> float:
    if r.size == 0:
        return floor
    return max(1.4826 * float(np.median(np.abs(r - np.median(r)))), floor)


def filter_points(
    x: F64, y: F64, sx: F64, sy: F64, ok: B, peak: F64, reliability: F64, spec: OutlierSpec | None = None
) -> Filtered:
    """Apply L1–L3 to the matched points (``ok``); x/y are the node positions (any consistent unit)."""
    spec = spec or OutlierSpec()
    n = sx.size
    l1 = ok & ((reliability < spec.min_reliability) | (peak < spec.min_peak))
    cand = ok & ~l1
    l2 = np.zeros(n, dtype=bool)
    if cand.sum() >= 3:
        for s in (sx, sy):
            med = float(np.median(s[cand]))
            sig = _robust_sigma(s[cand], spec.mad_floor)
            l2 |= cand & (np.abs(s - med) > spec.mad_k * sig)
    cand &= ~l2
    l3 = np.zeros(n, dtype=bool)
    coef_x = np.full(3, np.nan)
    coef_y = np.full(3, np.nan)
    rmse = float("nan")
    idx = np.flatnonzero(cand)
    if idx.size >= 3:
        # centre/scale the coordinates for conditioning
        xc, yc = float(np.mean(x[idx])), float(np.mean(y[idx]))
        sc = max(float(np.std(x[idx])), float(np.std(y[idx])), 1e-9)
        a = _design((x - xc) / sc, (y - yc) / sc)
        best: B = cand.copy()
        if idx.size >= 6:
            rng = np.random.default_rng(spec.seed)
            thr_base = spec.ransac_min_px
            best_count = -1
            full_x, *_ = np.linalg.lstsq(a[idx], sx[idx], rcond=None)
            full_y, *_ = np.linalg.lstsq(a[idx], sy[idx], rcond=None)
            res0 = np.hypot(a[idx] @ full_x - sx[idx], a[idx] @ full_y - sy[idx])
            thr = max(thr_base, spec.ransac_k * _robust_sigma(res0, 0.0))
            for _ in range(spec.ransac_trials):
                pick = rng.choice(idx, 3, replace=False)
                m = a[pick]
                if abs(np.linalg.det(m)) < 1e-9:
                    continue
                cx = np.linalg.solve(m, sx[pick])
                cy = np.linalg.solve(m, sy[pick])
                res = np.hypot(a[idx] @ cx - sx[idx], a[idx] @ cy - sy[idx])
                count = int((res <= thr).sum())
                if count > best_count:
                    best_count = count
                    best = np.zeros(n, dtype=bool)
                    best[idx[res <= thr]] = True
            # refine: refit on the consensus and re-select once
            sel = np.flatnonzero(best)
            if sel.size >= 3:
                cx, *_ = np.linalg.lstsq(a[sel], sx[sel], rcond=None)
                cy, *_ = np.linalg.lstsq(a[sel], sy[sel], rcond=None)
                res = np.hypot(a[idx] @ cx - sx[idx], a[idx] @ cy - sy[idx])
                best = np.zeros(n, dtype=bool)
                best[idx[res <= thr]] = True
        l3 = cand & ~best
        inl = np.flatnonzero(best)
        if inl.size >= 3:
            cx, *_ = np.linalg.lstsq(a[inl], sx[inl], rcond=None)
            cy, *_ = np.linalg.lstsq(a[inl], sy[inl], rcond=None)
            r = np.concatenate([a[inl] @ cx - sx[inl], a[inl] @ cy - sy[inl]])
            rmse = float(np.sqrt(np.mean(r**2)))
            # back to the original coordinates: c0 + c1 (x−xc)/sc + c2 (y−yc)/sc
            for c, out in ((cx, coef_x), (cy, coef_y)):
                out[1], out[2] = c[1] / sc, c[2] / sc
                out[0] = c[0] - c[1] * xc / sc - c[2] * yc / sc
    inlier = ok & ~l1 & ~l2 & ~l3
    return Filtered(l1, l2, l3, inlier, coef_x, coef_y, rmse)
