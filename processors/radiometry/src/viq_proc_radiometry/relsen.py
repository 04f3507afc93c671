"""Relative sensitivity of one band and TDI: two-slope response per detector, out-of-order pixels, striping.

Flat fields at several known radiances L_l (DESIGN §7–8). For each detector ``j`` the dark-subtracted clipped
mean over lines ``Z_lj`` is fitted with the continuous two-slope model of :mod:`viq_venus.radiometry`::

    Z = a1'·L                         L ≤ K
    Z = a2'·L + b,   K = b / (a1' − a2')   L > K

by weighted least squares (weights ``count_l / var_l``): for every split of the sorted levels into "below"
(line through the origin) and "above" (free line, at least two levels), the split whose intersection K falls
between its two levels and has the smallest residual wins; a detector with no valid split keeps a single slope
(a2 = a1·median ratio, knee = median knee). The relative sensitivities are then normalised to a mean of 1
over the valid detectors (the common factor belongs to the absolute gain A_k): a1 = a1'/c, a2 = a2'/c and the
knee, on the linear signal x = c·L, is Zs = c·K. Because the radiances are known, the mean non-linearity
(a2/a1) is measured too; side-slither data alone give only relative slopes (see :func:`fit_side_slither`).

Noise-limited bounds: var(a1'_j) = Σ w_l² L_l² v_lj / (Σ w_l L_l²)² + σ_d,j² (Σ w_l L_l)² / (Σ w_l L_l²)² with
v_lj the variance of the level mean and σ_d the dark's standard error; the knee's by linear propagation of the
(a1', a2', b) covariances.

Out-of-order detectors (ICD GIP_OUTORD types): ``BLIND`` when a1' is below ``blind_ratio`` of the running
median of its neighbours (dead or stuck), ``FILTER_HOLE`` when it departs from it by more than
``gain_outlier`` (relative), ``NOISY`` when its temporal noise exceeds ``noisy_ratio`` times the array median at
the same level. Striping (column non-uniformity) is the standard deviation over valid detectors of the
column means divided by their mean, in %, before (dark-subtracted DN) and after (inverse two-slope) correction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from viq_proc_radiometry.stats import running_median

F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]

DEFECT_ORDER = ("BLIND", "NOISY", "FILTER_HOLE")


@dataclass(frozen=True)
class LevelMeans:
    """Per-level, per-detector statistics of flat fields (dark already subtracted)."""

    radiance: F64
    """(n_levels,) radiance of each level, W m-2 sr-1 µm-1."""
    z: F64
    """(n_levels, n_pixels) clipped mean of DN − dark."""
    var_mean: F64
    """(n_levels, n_pixels) variance of that mean (std²/count)."""
    noise: F64
    """(n_levels, n_pixels) temporal standard deviation, DN."""
    count: npt.NDArray[np.int64]
    """(n_levels, n_pixels) samples kept."""


@dataclass(frozen=True)
class TwoSlopeFit:
    """Per-detector two-slope response, normalised (mean a1 = 1 over valid detectors)."""

    a1: F64
    a2: F64
    knee: F64
    """Knee Zs on the normalised linear signal x = scale·L, DN."""
    sigma_a1: F64
    sigma_knee: F64
    scale: float
    """c: DN of normalised signal per unit radiance (≈ A_k · mean a1)."""
    two_slope: B
    """Detectors whose knee was measured (False: single slope, fallback values)."""
    defects: dict[int, str] = field(default_factory=dict)
    """Out-of-order detectors: column → ICD type."""

    @property
    def valid(self) -> B:
        """Detectors not out of order."""
        mask = np.ones(self.a1.size, dtype=bool)
        if self.defects:
            mask[list(self.defects)] = False
        return mask


def _line_through_origin(x: F64, w: F64, z: F64) -> tuple[F64, F64]:
    """Weighted slope of z = a·x per detector and Σ w x² (x, w: (n,), z: (n, p))."""
    sxx = float(np.sum(w * x * x))
    a: F64 = np.einsum("l,lp->p", w * x, z) / sxx
    return a, np.full(z.shape[1], sxx)


def fit_two_slope(lv: LevelMeans, dark_var: F64 | None = None) -> tuple[F64, F64, F64, F64, F64, B]:
    """Unnormalised per-detector fit in radiance units: (a1', a2', K, σ_a1', σ_K, two_slope mask)."""
    order = np.argsort(lv.radiance)
    rad = lv.radiance[order]
    z = lv.z[order]
    vm = lv.var_mean[order]
    nl, p = z.shape
    if nl < 2:
        raise ValueError("at least two radiance levels are needed")
    w = 1.0 / np.maximum(np.median(vm, axis=1), 1e-12)
    dvar = np.zeros(p) if dark_var is None else dark_var

    def a1_sigma(idx: slice) -> F64:
        wl = w[idx] * rad[idx]
        sxx = float(np.sum(wl * rad[idx]))
        var = np.einsum("l,lp->p", wl * wl, vm[idx]) / sxx**2 + dvar * (float(np.sum(wl)) / sxx) ** 2
        out: F64 = np.sqrt(var)
        return out

    a1_lin, _ = _line_through_origin(rad, w, z)
    best_sse = np.einsum("l,lp->p", w, (z - a1_lin[None, :] * rad[:, None]) ** 2)
    a1 = a1_lin.copy()
    a2 = a1_lin.copy()
    knee = np.full(p, np.inf)
    s_a1 = a1_sigma(slice(0, nl))
    s_k = np.full(p, np.inf)
    two = np.zeros(p, dtype=bool)
    for s in range(1, nl - 1):
        lo, hi = slice(0, s), slice(s, nl)
        a1s, _ = _line_through_origin(rad[lo], w[lo], z[lo])
        wa, rad_a, za = w[hi], rad[hi], z[hi]
        sw, sx, sxx = float(wa.sum()), float(np.sum(wa * rad_a)), float(np.sum(wa * rad_a * rad_a))
        sy = np.einsum("l,lp->p", wa, za)
        sxy = np.einsum("l,lp->p", wa * rad_a, za)
        det = sw * sxx - sx * sx
        a2s = (sw * sxy - sx * sy) / det
        bs = (sxx * sy - sx * sxy) / det
        delta = a1s - a2s
        with np.errstate(divide="ignore", invalid="ignore"):
            ks = bs / delta
        sse = np.einsum("l,lp->p", w[lo], (z[lo] - a1s[None, :] * rad[lo, None]) ** 2) + np.einsum(
            "l,lp->p", wa, (za - a2s[None, :] * rad_a[:, None] - bs[None, :]) ** 2
        )
        ok = np.isfinite(ks) & (ks >= rad[s - 1]) & (ks <= rad[s]) & (sse < best_sse)
        if not ok.any():
            continue
        # covariance of (a2, b) from the above-knee fit, with per-detector level variances
        var_a1 = a1_sigma(lo) ** 2
        # propagate with the weighted-LS sandwich: Cov = (XᵀWX)⁻¹ Xᵀ W V W X (XᵀWX)⁻¹
        inv = np.array([[sw, -sx], [-sx, sxx]]) / det  # rows: a2, b
        ga = inv[0, 0] * wa * rad_a + inv[0, 1] * wa
        gb = inv[1, 0] * wa * rad_a + inv[1, 1] * wa
        var_a2 = np.einsum("l,lp->p", ga * ga, vm[hi])
        var_b = np.einsum("l,lp->p", gb * gb, vm[hi])
        cov_ab = np.einsum("l,lp->p", ga * gb, vm[hi])
        with np.errstate(divide="ignore", invalid="ignore"):
            var_k = (var_b + ks**2 * (var_a1 + var_a2) + 2.0 * ks * cov_ab) / delta**2
        best_sse = np.where(ok, sse, best_sse)
        a1 = np.where(ok, a1s, a1)
        a2 = np.where(ok, a2s, a2)
        knee = np.where(ok, ks, knee)
        s_a1 = np.where(ok, np.sqrt(var_a1), s_a1)
        s_k = np.where(ok, np.sqrt(np.abs(var_k)), s_k)
        two |= ok
    return a1, a2, knee, s_a1, s_k, two


def detect_out_of_order(
    a1_raw: F64,
    noise: F64 | None,
    *,
    window: int = 31,
    blind_ratio: float = 0.1,
    gain_outlier: float = 0.25,
    noisy_ratio: float = 2.0,
) -> dict[int, str]:
    """Out-of-order detectors from unnormalised slopes and (n_levels, p) temporal noise (or None)."""
    ref = running_median(a1_raw, window)
    ratio = a1_raw / np.where(ref > 0, ref, np.nan)
    out: dict[int, str] = {}
    for j in np.flatnonzero(~np.isfinite(ratio) | (ratio < blind_ratio)):
        out[int(j)] = "BLIND"
    if noise is not None and noise.size:
        med = np.median(noise, axis=1, keepdims=True)
        nr = np.median(noise / np.maximum(med, 1e-9), axis=0)
        for j in np.flatnonzero(nr > noisy_ratio):
            out.setdefault(int(j), "NOISY")
    for j in np.flatnonzero(np.abs(ratio - 1.0) > gain_outlier):
        out.setdefault(int(j), "FILTER_HOLE")
    return dict(sorted(out.items()))


def fit_relative_sensitivity(
    lv: LevelMeans,
    dark_var: F64 | None = None,
    *,
    window: int = 31,
    blind_ratio: float = 0.1,
    gain_outlier: float = 0.25,
    noisy_ratio: float = 2.0,
) -> TwoSlopeFit:
    """Fit, detect out-of-order detectors, fill fallbacks and normalise (see the module doc)."""
    a1, a2, knee, s_a1, s_k, two = fit_two_slope(lv, dark_var)
    defects = detect_out_of_order(
        a1, lv.noise, window=window, blind_ratio=blind_ratio, gain_outlier=gain_outlier, noisy_ratio=noisy_ratio
    )
    valid = np.ones(a1.size, dtype=bool)
    if defects:
        valid[list(defects)] = False
    ref = valid & two
    if ref.any():
        ratio = float(np.median(a2[ref] / a1[ref]))
        k_med = float(np.median(knee[ref]))
    else:
        ratio, k_med = 1.0, float("inf")
    fill = ~two
    a2 = np.where(fill, a1 * ratio, a2)
    knee = np.where(fill, k_med, knee)
    c = float(np.mean(a1[valid])) if valid.any() else 1.0
    return TwoSlopeFit(
        a1=a1 / c,
        a2=a2 / c,
        knee=knee * c,
        sigma_a1=s_a1 / c,
        sigma_knee=s_k * c,
        scale=c,
        two_slope=two,
        defects=defects,
    )


def inverse_response(z: F64, a1: F64, a2: F64, knee: F64) -> F64:
    """x from Z (inverse two-slope; a1 = 0 gives NaN/inf, handled by the caller)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        below = z / a1
        above = knee + (z - a1 * knee) / a2
        out: F64 = np.where(z <= a1 * knee, below, above)
    return out


def striping_pct(values: F64, valid: B) -> float:
    """Column non-uniformity: 100 · std/mean of per-detector means over valid detectors."""
    v = values[valid & np.isfinite(values)]
    if v.size < 2:
        return float("nan")
    return float(100.0 * np.std(v, ddof=1) / np.mean(v))


@dataclass(frozen=True)
class Striping:
    """Striping per level before and after correction, and its noise floor (all %)."""

    before: F64
    after: F64
    noise_floor: F64


def striping_of_levels(lv: LevelMeans, fit: TwoSlopeFit) -> Striping:
    """Striping of each flat level before and after applying ``fit`` (in-sample)."""
    valid = fit.valid
    before, after, floor = [], [], []
    for li in range(lv.radiance.size):
        z = lv.z[li]
        x = inverse_response(z, fit.a1, fit.a2, fit.knee)
        before.append(striping_pct(z, valid))
        after.append(striping_pct(x, valid))
        floor.append(float(100.0 * np.sqrt(np.mean(lv.var_mean[li][valid])) / np.mean(z[valid])))
    return Striping(np.array(before), np.array(after), np.array(floor))


# ----------------------------------------------------------------------------------------------- side-slither
@dataclass(frozen=True)
class SlitherFit:
    """Relative first slopes from a side-slither acquisition."""

    a1: F64
    sigma_a1: F64
    defects: dict[int, str]
    striping_before: float
    striping_after: float
    noise_floor: float


def _slither_reference(z: F64, use: B, gain: F64, shift: int) -> tuple[F64, F64]:
    n, p = z.shape
    i = np.arange(n)[:, None]
    j = np.arange(p)[None, :]
    k = (i + shift * j) if shift > 0 else (i - shift * (p - 1 - j))
    k = np.broadcast_to(k, (n, p)).ravel()
    wts = use.ravel().astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        corrected = np.where(use, z / gain[None, :], 0.0).ravel()
    size = int(k.max()) + 1
    sums = np.bincount(k, weights=corrected, minlength=size)
    counts = np.bincount(k, weights=wts, minlength=size)
    with np.errstate(divide="ignore", invalid="ignore"):
        ref = sums / counts
    return ref[k].reshape(n, p), counts[k].reshape(n, p)


def fit_side_slither(
    z: F64,
    saturated: B,
    *,
    shift: int = 1,
    linear_limit_dn: float = 550.0,
    min_detectors: int = 16,
    window: int = 31,
    blind_ratio: float = 0.1,
    gain_outlier: float = 0.25,
    noisy_ratio: float = 2.0,
) -> SlitherFit:
    """Per-detector first slope from a side-slither image ``z`` (lines × detectors, DN − dark).

    Detector ``j`` at line ``i`` sees ground sample ``i + shift·j``; the reference of a ground sample is the
    mean over the valid detectors that saw it of Z/a1 (iterated twice). Samples above ``linear_limit_dn``
    (below the knee) or saturated are not used: side-slither data without known radiance constrain the
    slopes relative to the array, not the mean non-linearity.
    """
    p = z.shape[1]
    gain = np.ones(p)
    good = np.ones(p, dtype=bool)
    defects: dict[int, str] = {}
    s_a1 = np.zeros(p)
    for _ in range(3):
        use = ~saturated & good[None, :]
        x, cnt = _slither_reference(z, use, gain, shift)
        sel = (~saturated) & (cnt >= min_detectors) & np.isfinite(x) & (x < linear_limit_dn) & (x > 0)
        xs = np.where(sel, x, 0.0)
        sxx = np.sum(xs * xs, axis=0)
        a1 = np.sum(xs * np.where(sel, z, 0.0), axis=0) / np.maximum(sxx, 1e-12)
        resid = np.where(sel, z - a1[None, :] * x, 0.0)
        nsel = np.maximum(sel.sum(axis=0), 2)
        res_sd = np.sqrt(np.sum(resid**2, axis=0) / (nsel - 1))
        s_a1 = res_sd / np.sqrt(np.maximum(sxx, 1e-12))
        defects = detect_out_of_order(a1, res_sd[None, :], window=window, blind_ratio=blind_ratio,
                                      gain_outlier=gain_outlier, noisy_ratio=noisy_ratio)
        good = np.ones(p, dtype=bool)
        if defects:
            good[list(defects)] = False
        c = float(np.mean(a1[good]))
        gain = np.where(good, a1 / c, 1.0)
    use = ~saturated & good[None, :]
    x, cnt = _slither_reference(z, use, np.ones(p), shift)
    sel = (~saturated) & (cnt >= min_detectors) & np.isfinite(x) & (x < linear_limit_dn) & (x > 0)
    ratio_before = np.where(sel, z / np.where(sel, x, 1.0), np.nan)
    before_cols = np.nanmean(ratio_before, axis=0)
    after_cols = np.nanmean(np.where(sel, z / gain[None, :] / np.where(sel, x, 1.0), np.nan), axis=0)
    floor = float(100.0 * np.median(s_a1[good]))
    return SlitherFit(
        a1=gain, sigma_a1=s_a1 / float(np.mean(a1[good])) if good.any() else s_a1, defects=defects,
        striping_before=striping_pct(before_cols, good), striping_after=striping_pct(after_cols, good),
        noise_floor=floor,
    )
