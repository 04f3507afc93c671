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
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from types import ModuleType

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
C64 = npt.NDArray[np.complex64]
C128 = npt.NDArray[np.complex128]


def _fft() -> ModuleType:
    """``scipy.fft``, imported on first use (≈ 0.25 s, most of it scipy's array-API layer importing every numpy
    submodule): a run imports it while its images decode (:func:`load_fft`) instead of before."""
    from scipy import fft

    mod: ModuleType = fft
    return mod


def load_fft() -> None:
    """Import the FFT module now (see :func:`_fft`)."""
    _fft()


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
    fa = _fft().rfft2(a * win)
    fb = _fft().rfft2(b * win)
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
    full = _fft().irfft2(p * half, s=shape)
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
        # einsum, not a BLAS product: a threaded zgemm this small is 10× slower on a busy machine
        q = np.einsum("rc,ck->rk", p, np.stack([ex, 1j * kx * ex, -(kx**2) * ex], axis=1))  # (ny, 3)
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
    start: tuple[int, int] = (0, 0),
) -> Match:
    """Match, then re-extract at the integer part of the shift and match again (up to ``iterations`` passes).

    With ``target(p) ≈ reference(p + s)``, the reference window moved by ``o = round(s)`` leaves a residual
    shift ``s − o`` measured on windows that overlap almost entirely. The first pass is at the offset ``start``
    (e.g. the rounded global shift): when the shift rounds to it, one pass is enough.
    """
    ox, oy = start
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


# --------------------------------------------------------------------------------------------------------------
# Batched matching: many windows of one shape at once (the grid's hot path). Same numerics as ``match_windows``
# (same spectra, normalisation, integer peak, second peak, parabolic start and Newton steps), vectorised over a
# stack of windows: one ``rfft2``/``irfft2`` call per stack, the Newton products as batched matrix products on
# the pass band only (rows/columns the cut-off removes are dropped).

I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]

REASONS: tuple[str, ...] = (
    "",
    "featureless window (no grey-level variation)",
    "correlation did not converge",
    "sub-pixel refinement left the integer peak",
    "shift larger than max_shift",
    "the displaced matching window leaves the image data",
)
"""Failure reasons of the batched matcher, indexed by the ``code`` array (0 = success)."""
OK, FEATURELESS, DIVERGED, LEFT_PEAK, TOO_LARGE, LEFT_DATA = range(6)


@dataclass
class BatchMatch:
    """Results of a stack of window matches (arrays of length n)."""

    sx: F64
    sy: F64
    peak: F64
    reliability: F64
    code: I64
    """0 = matched; otherwise an index into :data:`REASONS`."""

    @property
    def ok(self) -> B:
        """Matched windows."""
        return np.asarray(self.code == OK, dtype=bool)


def spectra(stack: F32, taper: float) -> tuple[C64, B]:
    """Half spectra of mean-removed, Tukey-tapered windows ``(n, h, w)``; and which windows are flat."""
    ny, nx = int(stack.shape[1]), int(stack.shape[2])
    win = tukey(ny, taper)[:, None] * tukey(nx, taper)[None, :]
    a = stack - stack.mean(axis=(1, 2), dtype=np.float32, keepdims=True).astype(np.float32)
    flat = np.asarray(np.abs(a).max(axis=(1, 2)) == 0.0, dtype=bool)
    a *= win
    spec = _fft().rfft2(a, axes=(1, 2), workers=1)
    return np.asarray(spec, dtype=np.complex64), flat


@lru_cache(maxsize=16)
def _band(ny: int, nx: int, cutoff: float) -> tuple[I64, int]:
    """Rows of the half spectrum with any frequency in the pass band, and the number of leading columns."""
    w = _weight(ny, nx, cutoff)
    rows = np.flatnonzero(w.any(axis=1)).astype(np.int64)
    cols = int(np.flatnonzero(w.any(axis=0)).max()) + 1
    return rows, cols


def _newton_batch(pb: C64, shape: tuple[int, int], cutoff: float, x: F64, y: F64,
                  iterations: int = 6) -> tuple[F64, F64, F64]:
    """``_newton`` for a stack of pass-band spectra ``pb`` (rows and columns of :func:`_band`): every window
    iterates until its own step is below 1e-4 (at most ``iterations``)."""
    ny, nx = shape
    ky_all, kx_all, _, _ = _freqs(ny, nx, 1.0)
    rows, cols = _band(ny, nx, cutoff)
    ky, kx = ky_all[rows], kx_all[:cols]
    kxc, kyc = kx.astype(np.complex64), ky.astype(np.complex64)
    x, y = x.astype(np.float64).copy(), y.astype(np.float64).copy()
    c = np.zeros(x.size)
    active = np.ones(x.size, dtype=bool)
    for _ in range(iterations):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        ex = np.exp(1j * np.outer(x[idx], kx)).astype(np.complex64)  # (m, cols)
        ey = np.exp(1j * np.outer(y[idx], ky)).astype(np.complex64)  # (m, rows)
        colm = np.stack([ex, 1j * kxc * ex, -(kxc**2) * ex], axis=2)  # (m, cols, 3)
        rowm = np.stack([ey, 1j * kyc * ey, -(kyc**2) * ey], axis=1)  # (m, 3, rows)
        q = np.matmul(pb[idx] if idx.size < x.size else pb, colm)  # (m, rows, 3)
        m = np.matmul(rowm, q).real.astype(np.float64)  # (m, 3, 3)
        ci, gx, gxx, gy, gxy, gyy = m[:, 0, 0], m[:, 0, 1], m[:, 0, 2], m[:, 1, 0], m[:, 1, 1], m[:, 2, 0]
        det = gxx * gyy - gxy * gxy
        newton = (gxx < 0) & (det > 0)
        safe = np.where(newton, det, 1.0)
        norm = np.hypot(gx, gy)
        norm = np.where(norm > 0, norm, 1.0)
        dx = np.where(newton, -(gyy * gx - gxy * gy) / safe, 0.1 * gx / norm)
        dy = np.where(newton, -(gxx * gy - gxy * gx) / safe, 0.1 * gy / norm)
        step = np.hypot(dx, dy)
        clip = np.where(step > 0.5, 0.5 / np.where(step > 0, step, 1.0), 1.0)
        x[idx] += dx * clip
        y[idx] += dy * clip
        c[idx] = ci
        active[idx[step < 1e-4]] = False
    return x, y, c


def match_spectra(fa: C64, fb: C64, flat: B, shape: tuple[int, int], *, cutoff: float = 1.0, max_shift: float = 5.0,
                  exclude: int = 2, alpha: float = 1.0) -> BatchMatch:
    """Match a stack of window pairs given their half spectra (:func:`spectra`); see ``match_windows``.

    Only the pass band (the rows and leading columns that hold frequencies below the cut-off) is normalised and
    refined; the per-window normalisation scale comes from the band (it cancels in every output).
    """
    ny, nx = shape
    n = fa.shape[0]
    rows, cols = _band(ny, nx, cutoff)
    code = np.where(flat, FEATURELESS, OK).astype(np.int64)
    prod = fa[:, rows, :cols]
    prod *= np.conj(fb[:, rows, :cols])
    mag = np.abs(prod)
    tiny = mag.reshape(n, -1).max(axis=1) * np.float32(1e-9)
    code[(tiny == 0.0) & (code == OK)] = FEATURELESS
    np.maximum(mag, np.where(tiny > 0, tiny, np.float32(1e-30))[:, None, None], out=mag)
    weight = _weight(ny, nx, cutoff)[rows, :cols]
    if alpha == 1.0:
        norm = mag
    elif alpha == 0.5:
        norm = np.sqrt(mag)
    else:
        norm = mag ** np.float32(alpha)
    scale = norm.mean(axis=(1, 2), dtype=np.float64).astype(np.float32)
    if alpha == 1.0:
        total = float(weight.sum()) * scale.astype(np.float64)
    elif alpha == 0.5:
        total = np.einsum("ij,nij->n", weight, norm, dtype=np.float64) * scale
    else:
        total = np.einsum("ij,nij->n", weight, mag ** np.float32(1.0 - alpha), dtype=np.float64) * scale
    np.divide(weight[None] * scale[:, None, None], norm, out=norm)
    prod *= norm
    full = np.zeros((n, ny, nx // 2 + 1), dtype=np.complex64)
    full[:, rows, :cols] = prod * _inv_wx(ny, nx)[:, :cols]
    surf = _fft().irfft2(full, s=shape, axes=(1, 2), workers=1, overwrite_x=True)
    surf *= np.float32(ny * nx)
    flat_s = surf.reshape(n, -1)
    arg = flat_s.argmax(axis=1)
    iy, ix = arg // nx, arg % nx
    ar = np.arange(n)
    top = flat_s[ar, arg].astype(np.float64)
    d = np.arange(-exclude, exclude + 1)
    ry = (iy[:, None, None] + d[None, :, None]) % ny
    rx = (ix[:, None, None] + d[None, None, :]) % nx
    saved = surf[ar[:, None, None], ry, rx].copy()
    surf[ar[:, None, None], ry, rx] = -np.inf
    second = flat_s.max(axis=1).astype(np.float64)
    surf[ar[:, None, None], ry, rx] = saved
    y0 = np.where(iy <= ny // 2, iy, iy - ny).astype(np.float64)
    x0 = np.where(ix <= nx // 2, ix, ix - nx).astype(np.float64)
    left = surf[ar, iy, (ix - 1) % nx].astype(np.float64)
    right = surf[ar, iy, (ix + 1) % nx].astype(np.float64)
    up = surf[ar, (iy - 1) % ny, ix].astype(np.float64)
    down = surf[ar, (iy + 1) % ny, ix].astype(np.float64)
    den_x, den_y = left - 2 * top + right, up - 2 * top + down
    px0 = x0 + np.where(den_x < 0, 0.5 * (left - right) / np.where(den_x < 0, den_x, -1.0), 0.0)
    py0 = y0 + np.where(den_y < 0, 0.5 * (up - down) / np.where(den_y < 0, den_y, -1.0), 0.0)
    px0 = np.clip(px0, x0 - 0.5, x0 + 0.5)
    py0 = np.clip(py0, y0 - 0.5, y0 + 0.5)
    live = np.flatnonzero(code == OK)
    x = np.full(n, np.nan)
    y = np.full(n, np.nan)
    c = np.zeros(n)
    if live.size:
        x[live], y[live], c[live] = _newton_batch(prod[live] if live.size < n else prod, shape, cutoff,
                                                  px0[live], py0[live])
    with np.errstate(divide="ignore", invalid="ignore"):
        peak = np.where(total > 0, c / np.where(total > 0, total, 1.0), 0.0)
        reliability = np.where(top > 0, 100.0 * (1.0 - np.maximum(second, 0.0) / np.where(top > 0, top, 1.0)), 0.0)
    live_ok = code == OK
    code[live_ok & ~(np.isfinite(x) & np.isfinite(y))] = DIVERGED
    code[(code == OK) & ((np.abs(x - x0) > 1.0) | (np.abs(y - y0) > 1.0))] = LEFT_PEAK
    code[(code == OK) & (np.maximum(np.abs(x), np.abs(y)) > max_shift)] = TOO_LARGE
    feat = code == FEATURELESS
    x[feat] = np.nan
    y[feat] = np.nan
    peak[feat] = 0.0
    reliability[feat] = 0.0
    return BatchMatch(x, y, peak, reliability, code)
