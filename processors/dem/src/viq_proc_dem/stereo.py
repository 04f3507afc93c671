"""Dense along-track disparity between two bands of one acquisition (B5/B6 stereo), and heights from it.

Method (own code, numpy/scipy only):

1. Across-track alignment: the constant column offset between the bands (focal plane, roll and yaw terms) is
   measured by phase correlation of the whole images (sub-pixel by a parabola on the peak) and removed from the
   second band; what is left is along the lines only — the epipolar direction of the VENµS along-track stereo.
2. Integer disparity: zero-mean normalised cross-correlation (ZNCC) over a square window for every line shift in
   ``[-max_disparity, max_disparity]`` around the global line offset; best score per pixel.
3. Sub-pixel: iterated Lucas–Kanade along the lines — the second band is resampled (cubic spline) at the current
   disparity, the windowed least-squares update ``Σ g·(I₁ − I₂) / Σ g²`` (``g`` the line gradient, both windows
   zero-mean) is added, then the field is smoothed (Gaussian, ``smoothing`` px: one disparity per window, made
   explicit; without it the per-pixel warp feeds noise back and the iteration diverges). No pixel locking: the
   update is continuous, not a peak fit.
4. Mask: pixels whose window has too little texture along the lines (``Σ g²``) or a low ZNCC, and the borders.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

F64 = NDArray[np.float64]


@dataclass
class Disparity:
    """Disparity of band 2 relative to band 1, in band-1 geometry (pixel (i, j) of band 1 ↔ line i + d of band 2)."""

    d: F64
    """Along-track disparity, px (NaN where masked)."""
    score: F64
    """ZNCC at the final disparity."""
    valid: NDArray[np.bool_]
    dx: float
    """Across-track offset removed from band 2, px (band 2 column j + dx matches band 1 column j)."""
    dy0: int
    """Global integer line offset the search was centred on."""
    iterations: int


def _normalise(a: F64) -> F64:
    a = np.asarray(a, dtype=np.float64)
    s = float(a.std())
    return (a - float(a.mean())) / (s if s > 0 else 1.0)


def phase_correlation(a: F64, b: F64) -> tuple[float, float]:
    """(dx, dy) such that b(y + dy, x + dx) ≈ a(y, x), sub-pixel by a 3-point parabola on each axis."""
    wy = np.hanning(a.shape[0])[:, None]
    wx = np.hanning(a.shape[1])[None, :]
    fa = np.fft.fft2(_normalise(a) * wy * wx)
    fb = np.fft.fft2(_normalise(b) * wy * wx)
    cross = fb * np.conj(fa)
    cross /= np.maximum(np.abs(cross), 1e-12)
    r = np.real(np.fft.ifft2(cross))
    iy, ix = np.unravel_index(int(np.argmax(r)), r.shape)

    def sub(c_m: float, c_0: float, c_p: float) -> float:
        den = c_m - 2 * c_0 + c_p
        return 0.0 if den == 0 else 0.5 * (c_m - c_p) / den

    h, w = r.shape
    dy = iy + sub(r[(iy - 1) % h, ix], r[iy, ix], r[(iy + 1) % h, ix])
    dx = ix + sub(r[iy, (ix - 1) % w], r[iy, ix], r[iy, (ix + 1) % w])
    dy = dy - h if dy > h / 2 else dy
    dx = dx - w if dx > w / 2 else dx
    return float(dx), float(dy)


def _box(a: F64, size: int) -> F64:
    return np.asarray(ndimage.uniform_filter(a, size=size, mode="nearest"), dtype=np.float64)


def _zncc(a: F64, b: F64, size: int) -> F64:
    ma, mb = _box(a, size), _box(b, size)
    cov = _box(a * b, size) - ma * mb
    va = np.maximum(_box(a * a, size) - ma * ma, 0.0)
    vb = np.maximum(_box(b * b, size) - mb * mb, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = cov / np.sqrt(va * vb)
    return np.asarray(np.nan_to_num(out, nan=-1.0), dtype=np.float64)


def _shift_lines(b: F64, k: int) -> F64:
    """b(i + k, j) on b's grid (edge lines repeated)."""
    idx = np.clip(np.arange(b.shape[0]) + k, 0, b.shape[0] - 1)
    return b[idx]


def disparity(
    band1: F64, band2: F64, *, window: int = 11, max_disparity: int = 8, iterations: int = 8,
    smoothing: float = 3.0, min_score: float = 0.5, min_texture: float = 0.02,
) -> Disparity:
    """Dense along-track disparity of ``band2`` relative to ``band1`` (same size, same sampling)."""
    a = _normalise(band1)
    b = _normalise(band2)
    dx, dy = phase_correlation(a, b)
    rows, cols = np.mgrid[0 : a.shape[0], 0 : a.shape[1]].astype(np.float64)
    coeffs = ndimage.spline_filter(b, order=3, mode="mirror")
    # band 2 with the across-track offset removed (still in its own lines)
    b_x = ndimage.map_coordinates(coeffs, [rows, cols + dx], order=3, mode="mirror", prefilter=False)
    dy0 = round(dy)
    best = np.full(a.shape, -np.inf)
    d_int = np.zeros(a.shape)
    for k in range(dy0 - max_disparity, dy0 + max_disparity + 1):
        s = _zncc(a, _shift_lines(b_x, k), window)
        better = s > best
        best[better] = s[better]
        d_int[better] = k
    d = d_int.astype(np.float64)
    ga = np.gradient(a, axis=0)
    texture = _box(ga * ga, window)
    done = 0
    for _ in range(iterations):
        w = ndimage.map_coordinates(coeffs, [rows + d, cols + dx], order=3, mode="mirror", prefilter=False)
        g = np.gradient(w, axis=0)
        ra = a - _box(a, window)
        rw = w - _box(w, window)
        gz = g - _box(g, window)
        num = _box(gz * (ra - rw), window)
        den = _box(gz * gz, window)
        with np.errstate(invalid="ignore", divide="ignore"):
            step = np.where(den > 1e-12, num / den, 0.0)
        step = np.clip(step, -1.0, 1.0)
        d = d + step
        if smoothing > 0:  # the window model (one disparity per window) made explicit: keeps the update stable
            d = np.asarray(ndimage.gaussian_filter(d, smoothing, mode="nearest"), dtype=np.float64)
        done += 1
        if float(np.nanmax(np.abs(step))) < 1e-4:
            break
    w = ndimage.map_coordinates(coeffs, [rows + d, cols + dx], order=3, mode="mirror", prefilter=False)
    score = _zncc(a, w, window)
    half = window // 2 + max_disparity + 2
    valid = (score >= min_score) & (texture >= min_texture)
    valid[:half] = valid[-half:] = False
    valid[:, : window // 2 + int(abs(dx)) + 2] = False
    valid[:, a.shape[1] - window // 2 - int(abs(dx)) - 2 :] = False
    return Disparity(d=np.where(valid, d, np.nan), score=score, valid=valid, dx=dx, dy0=dy0, iterations=done)
