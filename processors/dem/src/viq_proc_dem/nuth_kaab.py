"""Nuth & Kääb (2011) DEM coregistration, iterative, sub-pixel (pure numpy).

Model: the secondary DEM ``dem`` samples the reference surface displaced by ``s = (dx, dy)`` pixels
(x = columns to the right, y = rows downward): ``dem(c, r) ≈ ref(c + dx, r + dy) − dz``. For a residual shift
δ the height difference divided by the terrain slope depends on the terrain aspect θ as
``dh / tan α = |δ|·cos(θ − φ) + c`` (Nuth & Kääb 2011, eq. 3). Each iteration bins ``dh / tan α`` by aspect
(72 sectors of 5°), takes the median of each sector after a 3-σ clip, fits ``A cos θ + B sin θ + c`` by linear
least squares (identical to the cosine fit with amplitude and phase) and adds δ = (A, B) to the shift. The
reference is resampled bilinearly at the shifted positions; the secondary stays on its own grid, so shifts are
in the secondary's pixels (demcompare's convention: the secondary's georeferencing must move by (dx, dy) px).
The vertical bias ``dz`` is the mean of ``ref − dem`` after the last shift (demcompare's definition).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from viq_proc_dem.errors import CoregistrationError

N_SECTORS = 72
MIN_POINTS_PER_SECTOR = 10
MIN_SECTORS = 12
MIN_SLOPE = 1e-3
"""Slopes (height units per pixel) below this are left out of the fit (dh / slope is ill-conditioned)."""


@dataclass(frozen=True)
class Iteration:
    """One Nuth & Kääb iteration: the increment found, the shift after it and the residual spread."""

    ddx: float
    ddy: float
    dx: float
    dy: float
    median: float
    nmad: float
    points: int


@dataclass(frozen=True)
class CoregResult:
    """Shift (secondary pixels, x right / y down), vertical bias, difference after coregistration, history."""

    dx: float
    dy: float
    dz: float
    difference: NDArray[np.float64]
    """``ref(shifted) − (dem + dz)`` on the secondary's grid (NaN where not both valid); demcompare's sign."""
    ref_shifted: NDArray[np.float64]
    iterations: list[Iteration] = field(default_factory=list)
    converged: bool = False


def shift_bilinear(
    z: NDArray[np.float64], dx: float, dy: float, shape: tuple[int, int], offset: tuple[int, int] = (0, 0)
) -> NDArray[np.float64]:
    """Sample ``z`` bilinearly at (col + dx + offset_col, row + dy + offset_row) for a ``shape`` grid.

    Cells whose four neighbours are not all finite and inside ``z`` are NaN.
    """
    rows, cols = shape
    y0 = offset[0] + dy
    x0 = offset[1] + dx
    iy, ix = math.floor(y0), math.floor(x0)
    fy, fx = y0 - iy, x0 - ix
    pad_z = np.full((rows + 1, cols + 1), np.nan)
    # source rows/cols iy .. iy+rows (inclusive) intersected with z
    r0, c0 = max(iy, 0), max(ix, 0)
    r1, c1 = min(iy + rows + 1, z.shape[0]), min(ix + cols + 1, z.shape[1])
    if r1 > r0 and c1 > c0:
        pad_z[r0 - iy : r1 - iy, c0 - ix : c1 - ix] = z[r0:r1, c0:c1]
    a = pad_z[:-1, :-1]
    b = pad_z[:-1, 1:]
    c = pad_z[1:, :-1]
    d = pad_z[1:, 1:]
    out: NDArray[np.float64]
    if fx == 0.0 and fy == 0.0:
        out = a.copy()
    else:
        out = (1 - fy) * ((1 - fx) * a + fx * b) + fy * ((1 - fx) * c + fx * d)
        # a zero weight must not let a NaN neighbour through
        if fx == 0.0:
            out = (1 - fy) * a + fy * c
        elif fy == 0.0:
            out = (1 - fx) * a + fx * b
    return out


@dataclass(frozen=True)
class _Sectors:
    """Aspect sectors of the fixed DEM, computed once: cell order by sector and the sector boundaries."""

    order: NDArray[np.int64]
    bounds: NDArray[np.int64]
    inv_slope: NDArray[np.float64]


def _sectors(gx: NDArray[np.float64], gy: NDArray[np.float64]) -> _Sectors:
    slope = np.hypot(gx, gy)
    ok = np.flatnonzero(np.isfinite(slope) & (slope > MIN_SLOPE))
    theta = np.mod(np.arctan2(gy.ravel()[ok], gx.ravel()[ok]), 2 * np.pi)
    sector = np.minimum((theta / (2 * np.pi) * N_SECTORS).astype(np.int64), N_SECTORS - 1)
    order = np.argsort(sector, kind="stable")
    bounds = np.searchsorted(sector[order], np.arange(N_SECTORS + 1))
    cells = ok[order]
    return _Sectors(order=cells, bounds=bounds, inv_slope=1.0 / slope.ravel()[cells])


def _fit_sectors(dh: NDArray[np.float64], sec: _Sectors) -> tuple[float, float]:
    target_sorted = dh.ravel()[sec.order] * sec.inv_slope
    centres: list[float] = []
    medians: list[float] = []
    for k in range(N_SECTORS):
        t = target_sorted[sec.bounds[k] : sec.bounds[k + 1]]
        t = t[np.isfinite(t)]
        if t.size < MIN_POINTS_PER_SECTOR:
            continue
        mu, sd = t.mean(), t.std()
        t = t[np.abs(t - mu) <= 3 * sd] if sd > 0 else t
        if t.size == 0:
            continue
        centres.append((k + 0.5) * 2 * np.pi / N_SECTORS)
        medians.append(float(np.median(t)))
    if len(centres) < MIN_SECTORS:
        raise CoregistrationError(
            f"only {len(centres)} aspect sectors have enough sloped points (need {MIN_SECTORS}); terrain too flat "
            "or overlap too small"
        )
    th = np.asarray(centres)
    design = np.column_stack([np.cos(th), np.sin(th), np.ones_like(th)])
    coef, *_ = np.linalg.lstsq(design, np.asarray(medians), rcond=None)
    return float(coef[0]), float(coef[1])


def coregister(
    ref: NDArray[np.floating],
    dem: NDArray[np.floating],
    ref_offset: tuple[int, int] = (0, 0),
    max_iterations: int = 10,
    tolerance_px: float = 1e-3,
    initial: tuple[float, float] = (0.0, 0.0),
) -> CoregResult:
    """Coregister ``dem`` onto ``ref`` (NaN = invalid in both).

    ``ref`` is on the same pixel size as ``dem``; ``dem``'s pixel (0, 0) lies at ``ref``'s pixel ``ref_offset``
    (row, col) before any shift, so a reference larger than the secondary leaves room for the shift.
    """
    refa = np.asarray(ref, dtype=np.float64)
    sec = np.asarray(dem, dtype=np.float64)
    if max_iterations < 1:
        raise ValueError("max_iterations must be >= 1")
    grads = np.gradient(sec)
    gy: NDArray[np.float64] = np.asarray(grads[0])  # rows downward: +y is +row
    gx: NDArray[np.float64] = np.asarray(grads[1])
    sectors = _sectors(gx, gy)
    dx, dy = initial
    history: list[Iteration] = []
    converged = False
    for _ in range(max_iterations):
        ref_s = shift_bilinear(refa, dx, dy, sec.shape, ref_offset)
        dh = sec - ref_s
        fin = np.isfinite(dh)
        if fin.sum() < 100:
            raise CoregistrationError(f"the DEMs overlap on {int(fin.sum())} valid cells only after a shift of "
                                      f"({dx:.2f}, {dy:.2f}) px")
        # dh = ref(p + s) - ref(p + s_k) ≈ ∇·δ with the secondary's gradient standing for the reference's
        ddx, ddy = _fit_sectors(dh, sectors)
        dx += ddx
        dy += ddy
        d = dh[fin]
        med = float(np.median(d))
        history.append(Iteration(ddx, ddy, dx, dy, med, float(1.4826 * np.median(np.abs(d - med))), int(d.size)))
        if math.hypot(ddx, ddy) < tolerance_px:
            converged = True
            break
    ref_s = shift_bilinear(refa, dx, dy, sec.shape, ref_offset)
    diff = ref_s - sec
    fin = np.isfinite(diff)
    if not fin.any():
        raise CoregistrationError("no overlap left after the final shift")
    dz = float(diff[fin].mean())
    return CoregResult(
        dx=dx, dy=dy, dz=dz, difference=ref_s - (sec + dz), ref_shifted=ref_s, iterations=history, converged=converged
    )
