"""Sub-pixel phase correlation of two image windows.

Convention (the same as AROSICS's pixel shifts): the shift ``s = (sx, sy)`` of a target window against a
reference window is such that ``target(p) ≈ reference(p + s)``: the reference pixel that matches target pixel
``p`` is ``p + s``. A target whose content appears displaced by ``+d`` pixels has ``s = -d``.

Method:

1. both windows (float32) have their mean removed and are tapered with a separable Tukey window;
2. the normalised cross-power spectrum ``P = R·conj(T) / |R·conj(T)|`` is formed on the half spectrum
   (``rfft2``); its inverse transform peaks at ``s`` (integer estimate);
3. the peak is refined by Newton iterations on the band-limited interpolant
   ``c(x, y) = Re Σ_u w_u P(u) exp(2πi u·(x, y)/N)`` — the limit of the upsampled-DFT method of
   Guizar-Sicairos et al. (2008) for an infinite upsampling factor. Value, gradient and Hessian at one point
   need two small matrix products (``P @ E_x`` with 3 columns), so a window costs about two FFTs;
4. optionally the target window is re-extracted at the integer part of the shift and the match repeated
   (as AROSICS does), so that both windows see the same ground.

Quality: ``peak`` is ``c(s)/c_max`` with ``c_max = Σ w_u`` (1 for a pure translation of identical
windows), ``reliability`` is ``100·(1 − second/peak)`` with ``second`` the highest value of the integer
correlation surface outside a 5×5 neighbourhood of the main peak (in %, AROSICS-like).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt
from scipy import fft as sfft

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
C64 = npt.NDArray[np.complex64]
C128 = npt.NDArray[np.complex128]


@dataclass(frozen=True)
class Match:
    """Result of one window match."""

    sx: float
    """Shift along columns, px (target(p) ≈ reference(p + s))."""
    sy: float
    """Shift along lines, px."""
    peak: float
    """Normalised correlation peak height, 0…1."""
    reliability: float
    """100·(1 − second peak / main peak), %."""
    ok: bool
    reason: str = ""


FAILED_NAN = float("nan")


def failed(reason: str) -> Match:
    """A failed match with its reason (shifts NaN, never a made-up value)."""
    return Match(FAILED_NAN, FAILED_NAN, 0.0, 0.0, False, reason)


@lru_cache(maxsize=64)
def tukey(n: int, alpha: float) -> F32:
    """1-D Tukey (tapered cosine) window of ``n`` samples; ``alpha`` = tapered fraction (0 = flat)."""
    if alpha <= 0.0 or n < 3:
        return np.ones(n, dtype=np.float32)
    x = np.linspace(0.0, 1.0, n)
    w = np.ones(n)
    edge = alpha / 2.0
    lo = x < edge
    hi = x > 1.0 - edge
    w[lo] = 0.5 * (1 + np.cos(np.pi * (2 * x[lo] / alpha - 1)))
    w[hi] = 0.5 * (1 + np.cos(np.pi * (2 * x[hi] / alpha - 2 / alpha + 1)))
    return w.astype(np.float32)


@lru_cache(maxsize=64)
def _freqs(ny: int, nx: int, cutoff: float) -> tuple[F64, F64, F64, F64]:
    """Angular frequencies (rad/px) of the rfft2 grid, the half-spectrum weights and the pass mask."""
    ky = np.asarray(np.fft.fftfreq(ny) * 2 * np.pi, dtype=np.float64)
    kx = np.asarray(np.fft.rfftfreq(nx) * 2 * np.pi, dtype=np.float64)
    wx = np.full(kx.size, 2.0, dtype=np.float64)
    wx[0] = 1.0
    if nx % 2 == 0:
        wx[-1] = 1.0
    radius = np.sqrt((ky[:, None] / np.pi) ** 2 + (kx[None, :] / np.pi) ** 2)
    mask = (radius <= cutoff).astype(np.float64)
    # drop the Nyquist row/column: its phase is ambiguous for a sub-pixel shift
    if ny % 2 == 0:
        mask[ny // 2, :] = 0.0
    if nx % 2 == 0:
        mask[:, -1] = 0.0
    return ky, kx, wx, mask


@lru_cache(maxsize=64)
def _weight(ny: int, nx: int, cutoff: float) -> F32:
    _, _, wx, mask = _freqs(ny, nx, cutoff)
    return (mask * wx[None, :]).astype(np.float32)


def cross_power(
    ref: F32, tgt: F32, taper: float = 0.2, cutoff: float = 1.0, alpha: float = 1.0
) -> tuple[C64, float] | None:
    """Weighted normalised cross-power half spectrum ``w·mask·R·conj(T)/|R·conj(T)|`` and its weight sum.

    None when either window is flat (no texture to correlate).
    """
    ny, nx = ref.shape
    win = tukey(ny, taper)[:, None] * tukey(nx, taper)[None, :]
    a = ref - np.float32(ref.mean())
    b = tgt - np.float32(tgt.mean())
    if float(np.abs(a).max()) == 0.0 or float(np.abs(b).max()) == 0.0:
        return None
    fa = sfft.rfft2(a * win)
    fb = sfft.rfft2(b * win)
    if fa.dtype != np.complex64:
        fa, fb = fa.astype(np.complex64), fb.astype(np.complex64)
    prod = fa * np.conj(fb)
    mag = np.abs(prod)
    tiny = float(mag.max()) * 1e-9
    if tiny == 0.0:
        return None
    weight = _weight(ny, nx, cutoff)
    np.maximum(mag, np.float32(tiny), out=mag)
    if alpha == 1.0:
        norm = mag
    elif alpha == 0.5:
        norm = np.sqrt(mag)
    else:
        norm = mag ** np.float32(alpha)
    scale = float(norm.mean())
    np.divide(weight * np.float32(scale), norm, out=norm)
    prod *= norm
    # peak normalisation: Σ w |P| (|P| = scale·|R T|^(1-α) after the division)
    total = float((weight * mag ** np.float32(1.0 - alpha)).sum()) * scale if alpha != 1.0 else float(
        weight.sum()) * scale
    return prod, total


def _surface(p: C64, shape: tuple[int, int]) -> F64:
    """Integer correlation surface (irfft2 of the half spectrum, weights included)."""
    # the half spectrum holds the doubled weights: Re Σ_half w P e = irfft2 of P/w·(w) → use irfft2 of P with
    # the doubling undone (irfft2 itself restores the conjugate half)
    ny, nx = shape
    half = _inv_wx(ny, nx)
    full = sfft.irfft2(p * half, s=shape)
    return np.asarray(full, dtype=np.float64) * (ny * nx)


@lru_cache(maxsize=64)
def _inv_wx(ny: int, nx: int) -> F32:
    _, _, wx, _ = _freqs(ny, nx, 1.0)
    return (1.0 / wx[None, :]).astype(np.float32)


def _newton(p: C64, shape: tuple[int, int], x0: float, y0: float, iterations: int = 6) -> tuple[float, float, float]:
    """Maximise c(x, y) = Re Σ P(u) e^{i(kx x + ky y)} from (x0, y0); returns (x, y, c)."""
    ny, nx = shape
    ky, kx, _, _ = _freqs(ny, nx, 1.0)
    p = p.astype(np.complex128)
    x, y = x0, y0
    c = 0.0
    for _ in range(iterations):
        ex = np.exp(1j * kx * x)
        ey = np.exp(1j * ky * y)
        q = p @ np.stack([ex, 1j * kx * ex, -(kx**2) * ex], axis=1)  # (ny, 3)
        rows = np.stack([ey, 1j * ky * ey, -(ky**2) * ey], axis=0)  # (3, ny)
        m = (rows @ q).real
        c, gx, gxx, gy, gxy, gyy = m[0, 0], m[0, 1], m[0, 2], m[1, 0], m[1, 1], m[2, 0]
        det = gxx * gyy - gxy * gxy
        if gxx < 0 and det > 0:
            dx = -(gyy * gx - gxy * gy) / det
            dy = -(gxx * gy - gxy * gx) / det
        else:  # not concave here: small gradient step
            norm = math.hypot(gx, gy) or 1.0
            dx, dy = 0.1 * gx / norm, 0.1 * gy / norm
        step = math.hypot(dx, dy)
        if step > 0.5:
            dx, dy = dx * 0.5 / step, dy * 0.5 / step
        x += dx
        y += dy
        if step < 1e-4:
            break
    return x, y, float(c)


def match_windows(
    ref: F32,
    tgt: F32,
    *,
    taper: float = 0.2,
    cutoff: float = 1.0,
    max_shift: float = 5.0,
    exclude: int = 2,
    alpha: float = 1.0,
) -> Match:
    """Sub-pixel shift of ``tgt`` against ``ref`` (same shape), one pass (see the module doc)."""
    if ref.shape != tgt.shape:
        raise ValueError(f"window shapes differ: {ref.shape} vs {tgt.shape}")
    shape = (int(ref.shape[0]), int(ref.shape[1]))
    spec = cross_power(ref, tgt, taper, cutoff, alpha)
    if spec is None:
        return failed("featureless window (no grey-level variation)")
    p, total = spec
    surf = _surface(p, shape)
    iy, ix = np.unravel_index(int(np.argmax(surf)), shape)
    top = float(surf[iy, ix])
    # second peak outside the neighbourhood of the main one
    rolled = np.roll(np.roll(surf, -int(iy) + exclude, axis=0), -int(ix) + exclude, axis=1)
    rolled[: 2 * exclude + 1, : 2 * exclude + 1] = -np.inf
    second = float(rolled.max())
    y0 = float(iy if iy <= shape[0] // 2 else iy - shape[0])
    x0 = float(ix if ix <= shape[1] // 2 else ix - shape[1])
    # parabolic start on the integer surface, then Newton on the band-limited interpolant
    ny_, nx_ = shape
    left, right = surf[iy, (ix - 1) % nx_], surf[iy, (ix + 1) % nx_]
    u, d = surf[(iy - 1) % ny_, ix], surf[(iy + 1) % ny_, ix]
    den_x, den_y = left - 2 * top + right, u - 2 * top + d
    px0 = x0 + (0.5 * (left - right) / den_x if den_x < 0 else 0.0)
    py0 = y0 + (0.5 * (u - d) / den_y if den_y < 0 else 0.0)
    x, y, c = _newton(p, shape, float(np.clip(px0, x0 - 0.5, x0 + 0.5)), float(np.clip(py0, y0 - 0.5, y0 + 0.5)))
    peak = c / total if total > 0 else 0.0
    reliability = 100.0 * (1.0 - max(second, 0.0) / top) if top > 0 else 0.0
    if not (math.isfinite(x) and math.isfinite(y)):
        return failed("correlation did not converge")
    if abs(x - x0) > 1.0 or abs(y - y0) > 1.0:
        return Match(x, y, peak, reliability, False, "sub-pixel refinement left the integer peak")
    if max(abs(x), abs(y)) > max_shift:
        return Match(x, y, peak, reliability, False, f"shift larger than max_shift={max_shift} px")
    return Match(x, y, peak, reliability, True)


Extractor = Callable[[int, int], tuple[F32, F32] | None]
"""``extract(ox, oy)`` → (reference window, target window) with the target window displaced by the integer
offset ``(ox, oy)`` in the reference frame; None when the displaced window leaves the data."""


def match_iterative(
    extract: Extractor,
    *,
    taper: float = 0.2,
    cutoff: float = 1.0,
    max_shift: float = 5.0,
    iterations: int = 3,
    alpha: float = 1.0,
) -> Match:
    """Match, then re-extract at the integer part of the shift and match again (up to ``iterations`` passes).

    With ``target(p) ≈ reference(p + s)``, the reference window moved by ``o = round(s)`` leaves a residual
    shift ``s − o`` measured on windows that overlap almost entirely.
    """
    ox = oy = 0
    result = failed("no pass")
    for _ in range(max(1, iterations)):
        pair = extract(ox, oy)
        if pair is None:
            return failed("the displaced matching window leaves the image data")
        res = match_windows(pair[0], pair[1], taper=taper, cutoff=cutoff, max_shift=max_shift + 1.0, alpha=alpha)
        if not res.ok:
            return res
        result = Match(res.sx + ox, res.sy + oy, res.peak, res.reliability, True)
        nx, ny = round(result.sx), round(result.sy)
        if (nx, ny) == (ox, oy):
            break
        ox, oy = nx, ny
    if max(abs(result.sx), abs(result.sy)) > max_shift:
        return Match(result.sx, result.sy, result.peak, result.reliability, False,
                     f"shift larger than max_shift={max_shift} px")
    return result
