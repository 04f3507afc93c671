"""Dense tie-point grid between a reference and a target raster on the same map grid.

Grid layout (as AROSICS ``COREG_LOCAL``): nodes every ``step`` pixels of the *target* image, at pixel-corner
coordinates ``(x, y) = (k·step, l·step)``, map position ``transform·(x, y)``; the matching window (``window``
pixels, square) is centred on the node. Near the data edges the window shrinks, per axis, to stay inside the
valid data of both images (down to ``min_window``); nodes whose window would be smaller fail with a reason.

Shifts follow :mod:`viq_proc_geometry.correlate`: target pixel ``p`` matches the reference at ``p + s``
(reference frame); map shifts are ``(s_x·a, s_y·e)`` with the target's pixel sizes ``a`` and ``e``, i.e. the
correction to add to the target's georeferencing (AROSICS's ``X_SHIFT_M``/``Y_SHIFT_M``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from viq_interfaces.errors import ParameterError, ProcessingError
from viq_proc_geometry.correlate import F32, Match, failed, match_iterative
from viq_proc_geometry.rasterio_io import Raster

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]


class NoOverlapError(ProcessingError):
    """The reference and target images do not overlap (exit code 148)."""


@dataclass(frozen=True)
class GridSpec:
    """How the grid is laid and each node matched."""

    step: int = 100
    window: int = 256
    min_window: int = 64
    taper: float = 0.3
    alpha: float = 0.5
    cutoff: float = 0.8
    max_shift: float = 5.0
    iterations: int = 2
    max_nodata: float = 0.0
    """Largest fraction of no-data pixels accepted in a full-size window (filled with the window mean)."""


@dataclass
class TiePoints:
    """The tie-point table (one row per grid node); arrays of equal length."""

    x_im: I64
    y_im: I64
    x_map: F64
    y_map: F64
    win_x: I64
    win_y: I64
    sx: F64
    sy: F64
    peak: F64
    reliability: F64
    ok: B
    reason: list[str]
    res_x: float
    res_y: float
    outlier: B = field(default_factory=lambda: np.zeros(0, dtype=bool))

    def __post_init__(self) -> None:
        if self.outlier.size != self.sx.size:
            self.outlier = np.zeros(self.sx.size, dtype=bool)

    def __len__(self) -> int:
        return int(self.sx.size)

    @property
    def valid(self) -> B:
        """Matched and not rejected as outlier."""
        return np.asarray(self.ok & ~self.outlier, dtype=bool)

    @property
    def shift_x_map(self) -> F64:
        """X map shift (correction), CRS units."""
        return self.sx * self.res_x

    @property
    def shift_y_map(self) -> F64:
        """Y map shift (correction), CRS units (north-up: −s_y·|e|)."""
        return -self.sy * self.res_y


def check_compatible(ref: Raster, tgt: Raster, tol: float = 1e-6) -> tuple[float, float]:
    """Refuse different CRS, pixel size or rotated grids; return the target→reference pixel offset (x, y)."""
    if (ref.crs or "") != (tgt.crs or ""):
        raise ParameterError(
            f"CRS mismatch: reference {ref.crs or 'none'} vs target {tgt.crs or 'none'}; reproject the target first"
        )
    rt, tt = ref.transform, tgt.transform
    if rt.b != 0 or rt.d != 0 or tt.b != 0 or tt.d != 0:
        raise ParameterError("rotated georeferencing is not supported; resample to a north-up grid first")
    if abs(rt.a - tt.a) > tol * abs(rt.a) or abs(rt.e - tt.e) > tol * abs(rt.e):
        raise ParameterError(
            f"resolution mismatch: reference {abs(rt.a)}×{abs(rt.e)} vs target {abs(tt.a)}×{abs(tt.e)}; "
            "resample the target to the reference grid first"
        )
    rl, rb, rr, rtop = ref.bounds()
    tl, tb, tr, ttop = tgt.bounds()
    if min(rr, tr) <= max(rl, tl) or min(rtop, ttop) <= max(rb, tb):
        raise NoOverlapError(
            f"the images do not overlap: reference bounds {(rl, rb, rr, rtop)}, target bounds {(tl, tb, tr, ttop)}"
        )
    return (tt.c - rt.c) / rt.a, (tt.f - rt.f) / rt.e


def _integral(mask: B) -> npt.NDArray[np.int64]:
    out = np.zeros((mask.shape[0] + 1, mask.shape[1] + 1), dtype=np.int64)
    np.cumsum(np.cumsum(mask, axis=0, dtype=np.int64), axis=1, out=out[1:, 1:])
    return out


def _count(ii: npt.NDArray[np.int64], r0: int, r1: int, c0: int, c1: int) -> int:
    return int(ii[r1, c1] - ii[r0, c1] - ii[r1, c0] + ii[r0, c0])


def _fill(data: F32, valid: B) -> F32:
    """Window with its invalid pixels set to the mean of the valid ones."""
    out = data.copy()
    out[~valid] = np.float32(data[valid].mean()) if valid.any() else np.float32(0.0)
    return out


def compute_grid(
    ref: Raster,
    tgt: Raster,
    spec: GridSpec,
    *,
    progress: Callable[[float], None] | None = None,
    nodes: tuple[I64, I64] | None = None,
) -> TiePoints:
    """Match every grid node (or the given ``nodes`` as target pixel (x, y) arrays); see the module doc."""
    if spec.window < spec.min_window or spec.min_window < 16:
        raise ParameterError(f"window {spec.window} must be ≥ min_window {spec.min_window} ≥ 16")
    ox, oy = check_compatible(ref, tgt)
    oxi, oyi = round(ox), round(oy)
    fx, fy = ox - oxi, oy - oyi  # fractional grid offset, removed from the measured shifts
    th, tw = tgt.shape
    rh, rw = ref.shape
    if nodes is None:
        xs = np.arange(0, tw, spec.step, dtype=np.int64)
        ys = np.arange(0, th, spec.step, dtype=np.int64)
        gx, gy = np.meshgrid(xs, ys)
        nx_, ny_ = gx.ravel(), gy.ravel()
    else:
        nx_, ny_ = nodes
    # invalid pixels of either image, in the target frame (over the target extent)
    bad = ~tgt.valid.copy()
    r0, c0 = oyi, oxi
    sub = np.ones((th, tw), dtype=bool)
    rr0, rr1 = max(0, r0), min(rh, r0 + th)
    cc0, cc1 = max(0, c0), min(rw, c0 + tw)
    if rr1 > rr0 and cc1 > cc0:
        sub[rr0 - r0 : rr1 - r0, cc0 - c0 : cc1 - c0] = ~ref.valid[rr0:rr1, cc0:cc1]
    bad |= sub
    ii = _integral(bad)
    margin = math.ceil(spec.max_shift) + 1
    n = nx_.size
    sx = np.full(n, np.nan)
    sy = np.full(n, np.nan)
    peak = np.zeros(n)
    rel = np.zeros(n)
    ok = np.zeros(n, dtype=bool)
    winx = np.full(n, -1, dtype=np.int64)
    winy = np.full(n, -1, dtype=np.int64)
    reasons = [""] * n
    half = spec.window // 2
    hmin = spec.min_window // 2
    for k in range(n):
        x, y = int(nx_[k]), int(ny_[k])
        # per-axis clip to the target extent and to the reference extent (with the re-extraction margin)
        hx = min(half, x, tw - x, x + oxi - margin, rw - (x + oxi) - margin)
        hy = min(half, y, th - y, y + oyi - margin, rh - (y + oyi) - margin)
        allowed = 0
        if spec.max_nodata > 0 and hx >= hmin and hy >= hmin:
            allowed = int(spec.max_nodata * 4 * hx * hy)
        while hx >= hmin and hy >= hmin and _count(ii, y - hy, y + hy, x - hx, x + hx) > allowed:
            hx -= 8
            hy -= 8
        if hx < hmin or hy < hmin:
            res: Match = failed("no valid matching window of the minimum size (data edge, nodata or no overlap)")
        else:
            tw_ = tgt.data[y - hy : y + hy, x - hx : x + hx]
            filled = allowed > 0 and _count(ii, y - hy, y + hy, x - hx, x + hx) > 0
            if filled:
                tw_ = _fill(tw_, tgt.valid[y - hy : y + hy, x - hx : x + hx])
            rxc, ryc = x + oxi, y + oyi

            def extract(dx: int, dy: int, rxc: int = rxc, ryc: int = ryc, hx: int = hx, hy: int = hy,
                        tw_: F32 = tw_) -> tuple[F32, F32] | None:
                a0, a1, b0, b1 = ryc + dy - hy, ryc + dy + hy, rxc + dx - hx, rxc + dx + hx
                if a0 < 0 or b0 < 0 or a1 > rh or b1 > rw:
                    return None
                rv = ref.valid[a0:a1, b0:b1]
                if not rv.all():
                    if spec.max_nodata <= 0 or rv.mean() < 1.0 - spec.max_nodata:
                        return None
                    return _fill(ref.data[a0:a1, b0:b1], rv), tw_
                return ref.data[a0:a1, b0:b1], tw_

            res = match_iterative(extract, taper=spec.taper, cutoff=spec.cutoff, alpha=spec.alpha,
                                  max_shift=spec.max_shift, iterations=spec.iterations)
            winx[k], winy[k] = 2 * hx, 2 * hy
        if res.ok:
            sx[k], sy[k] = res.sx - fx, res.sy - fy
        peak[k], rel[k], ok[k], reasons[k] = res.peak, res.reliability, res.ok, res.reason
        if progress is not None and k % 50 == 0:
            progress(100.0 * k / max(n, 1))
    t = tgt.transform
    return TiePoints(
        x_im=nx_.astype(np.int64), y_im=ny_.astype(np.int64),
        x_map=np.asarray(t.c + nx_ * t.a, dtype=np.float64), y_map=np.asarray(t.f + ny_ * t.e, dtype=np.float64),
        win_x=winx, win_y=winy, sx=sx, sy=sy, peak=peak, reliability=rel, ok=ok, reason=reasons,
        res_x=abs(t.a), res_y=abs(t.e),
    )
