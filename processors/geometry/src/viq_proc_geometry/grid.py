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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from viq_interfaces.errors import ParameterError, ProcessingError
from viq_proc_geometry.correlate import (
    F32,
    LEFT_DATA,
    OK,
    REASONS,
    TOO_LARGE,
    Match,
    failed,
    match_iterative,
    match_spectra,
    spectra,
)
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


def _count(bad: B, r0: int, r1: int, c0: int, c1: int) -> int:
    """Invalid pixels in a window (a direct count: cheaper than an integral image of the whole scene)."""
    return int(np.count_nonzero(bad[r0:r1, c0:c1]))


def _fill(data: F32, valid: B) -> F32:
    """Window with its invalid pixels set to the mean of the valid ones."""
    out = data.copy()
    out[~valid] = np.float32(data[valid].mean()) if valid.any() else np.float32(0.0)
    return out


@dataclass
class _Layout:
    """Where every node's window lies: half sizes (0 when the node has no window) and the images' frames."""

    ref: Raster
    tgt: Raster
    spec: GridSpec
    nx: I64
    ny: I64
    hx: I64
    hy: I64
    fill_tgt: B
    oxi: int
    oyi: int

    def target_window(self, k: int) -> F32:
        x, y, hx, hy = int(self.nx[k]), int(self.ny[k]), int(self.hx[k]), int(self.hy[k])
        w = self.tgt.data[y - hy : y + hy, x - hx : x + hx]
        if self.fill_tgt[k]:
            w = _fill(w, self.tgt.valid[y - hy : y + hy, x - hx : x + hx])
        return w

    def reference_window(self, k: int, dx: int, dy: int) -> F32 | None:
        """The reference window of node ``k`` moved by the integer offset (dx, dy); None when it leaves the data."""
        rh, rw = self.ref.shape
        rxc, ryc = int(self.nx[k]) + self.oxi, int(self.ny[k]) + self.oyi
        hx, hy = int(self.hx[k]), int(self.hy[k])
        a0, a1, b0, b1 = ryc + dy - hy, ryc + dy + hy, rxc + dx - hx, rxc + dx + hx
        if a0 < 0 or b0 < 0 or a1 > rh or b1 > rw:
            return None
        rv = self.ref.valid[a0:a1, b0:b1]
        if not rv.all():
            if self.spec.max_nodata <= 0 or rv.mean() < 1.0 - self.spec.max_nodata:
                return None
            return _fill(self.ref.data[a0:a1, b0:b1], rv)
        return self.ref.data[a0:a1, b0:b1]


def _layout(ref: Raster, tgt: Raster, spec: GridSpec, nx_: I64, ny_: I64, oxi: int, oyi: int) -> _Layout:
    """Per node, the window half sizes, shrunk per axis near the data edges and no-data (AROSICS-like)."""
    th, tw = tgt.shape
    rh, rw = ref.shape
    # invalid pixels of either image, in the target frame (over the target extent)
    bad = ~tgt.valid
    r0, c0 = oyi, oxi
    rr0, rr1 = max(0, r0), min(rh, r0 + th)
    cc0, cc1 = max(0, c0), min(rw, c0 + tw)
    if rr1 > rr0 and cc1 > cc0:
        sub = np.ones((th, tw), dtype=bool)
        sub[rr0 - r0 : rr1 - r0, cc0 - c0 : cc1 - c0] = ~ref.valid[rr0:rr1, cc0:cc1]
        bad |= sub
    else:
        bad = np.ones((th, tw), dtype=bool)
    margin = math.ceil(spec.max_shift) + 1
    n = nx_.size
    hxs = np.zeros(n, dtype=np.int64)
    hys = np.zeros(n, dtype=np.int64)
    fill = np.zeros(n, dtype=bool)
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
        count = _count(bad, y - hy, y + hy, x - hx, x + hx) if hx >= hmin and hy >= hmin else 0
        while hx >= hmin and hy >= hmin and count > allowed:
            hx -= 8
            hy -= 8
            count = _count(bad, y - hy, y + hy, x - hx, x + hx) if hx >= hmin and hy >= hmin else 0
        if hx >= hmin and hy >= hmin:
            hxs[k], hys[k] = hx, hy
            fill[k] = allowed > 0 and count > 0
    return _Layout(ref, tgt, spec, nx_, ny_, hxs, hys, fill, oxi, oyi)


NO_WINDOW = "no valid matching window of the minimum size (data edge, nodata or no overlap)"


def _match_loop(lay: _Layout, progress: Callable[[float], None] | None,
                start: tuple[int, int] = (0, 0)) -> tuple[F64, F64, F64, F64, B, list[str]]:
    """Reference path: one window at a time through :func:`match_iterative`."""
    spec = lay.spec
    n = lay.nx.size
    sx, sy = np.full(n, np.nan), np.full(n, np.nan)
    peak, rel = np.zeros(n), np.zeros(n)
    ok = np.zeros(n, dtype=bool)
    reasons = [""] * n
    for k in range(n):
        if lay.hx[k] == 0:
            res: Match = failed(NO_WINDOW)
        else:
            tw_ = lay.target_window(k)

            def extract(dx: int, dy: int, k: int = k, tw_: F32 = tw_) -> tuple[F32, F32] | None:
                r = lay.reference_window(k, dx, dy)
                return None if r is None else (r, tw_)

            res = match_iterative(extract, taper=spec.taper, cutoff=spec.cutoff, alpha=spec.alpha,
                                  max_shift=spec.max_shift, iterations=spec.iterations, start=start)
        if res.ok:
            sx[k], sy[k] = res.sx, res.sy
        peak[k], rel[k], ok[k], reasons[k] = res.peak, res.reliability, res.ok, res.reason
        if progress is not None and k % 50 == 0:
            progress(100.0 * k / max(n, 1))
    return sx, sy, peak, rel, ok, reasons


BATCH = 16
"""Windows per stack in the batched matcher (keeps the spectra of a stack in a few MB)."""


def _match_chunk(lay: _Layout, shape: tuple[int, int], idx: I64,
                 start: tuple[int, int] = (0, 0)) -> tuple[I64, F64, F64, F64, F64, I64]:
    """Match the nodes ``idx`` (windows of one shape), all passes; returns (idx, sx, sy, peak, rel, code)."""
    spec = lay.spec
    m_ = idx.size
    sx, sy = np.full(m_, np.nan), np.full(m_, np.nan)
    peak, rel = np.zeros(m_), np.zeros(m_)
    code = np.zeros(m_, dtype=np.int64)
    fb, flat_b = spectra(np.stack([lay.target_window(int(k)) for k in idx]), spec.taper)
    off = np.tile(np.asarray(start, dtype=np.int64), (m_, 1))
    live = np.arange(m_)
    for _ in range(max(1, spec.iterations)):
        refs: list[F32] = []
        keep: list[int] = []
        for j in live:
            r = lay.reference_window(int(idx[j]), int(off[j, 0]), int(off[j, 1]))
            if r is None:
                code[j], peak[j], rel[j], sx[j], sy[j] = LEFT_DATA, 0.0, 0.0, np.nan, np.nan
            else:
                refs.append(r)
                keep.append(int(j))
        if not keep:
            break
        live = np.asarray(keep, dtype=np.int64)
        fa, flat_a = spectra(np.stack(refs), spec.taper)
        m = match_spectra(fa, fb[live], flat_a | flat_b[live], shape, cutoff=spec.cutoff,
                          max_shift=spec.max_shift + 1.0, alpha=spec.alpha)
        code[live], peak[live], rel[live] = m.code, m.peak, m.reliability
        good = m.code == OK
        sx[live] = np.where(good, m.sx + off[live, 0], np.nan)
        sy[live] = np.where(good, m.sy + off[live, 1], np.nan)
        new = np.stack([np.rint(sx[live]), np.rint(sy[live])], axis=1)
        moved = good & np.any(new != off[live], axis=1)
        off[live[moved]] = new[moved].astype(np.int64)
        live = live[moved]
        if live.size == 0:
            break
    return idx, sx, sy, peak, rel, code


def _match_batched(lay: _Layout, progress: Callable[[float], None] | None,
                   threads: int = 1, start: tuple[int, int] = (0, 0)) -> tuple[F64, F64, F64, F64, B, list[str]]:
    """Same results as :func:`_match_loop`: stacks of equal-size windows matched together, stacks spread over
    ``threads`` threads (numpy and the FFTs release the GIL)."""
    spec = lay.spec
    n = lay.nx.size
    sx, sy = np.full(n, np.nan), np.full(n, np.nan)
    peak, rel = np.zeros(n), np.zeros(n)
    code = np.full(n, -1, dtype=np.int64)  # -1: no window
    shapes: dict[tuple[int, int], list[int]] = {}
    for k in np.flatnonzero(lay.hx > 0):
        shapes.setdefault((2 * int(lay.hy[k]), 2 * int(lay.hx[k])), []).append(int(k))
    chunks = [(shape, np.asarray(ks[i : i + BATCH], dtype=np.int64))
              for shape, ks in shapes.items() for i in range(0, len(ks), BATCH)]
    done = 0

    def store(res: tuple[I64, F64, F64, F64, F64, I64]) -> None:
        nonlocal done
        idx, sx[idx], sy[idx], peak[idx], rel[idx], code[idx] = res[0], *res[1:]
        done += idx.size
        if progress is not None:
            progress(100.0 * done / max(n, 1))

    if threads > 1 and len(chunks) > 1:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            for res in pool.map(lambda c: _match_chunk(lay, c[0], c[1], start), chunks):
                store(res)
    else:
        for c in chunks:
            store(_match_chunk(lay, c[0], c[1], start))
    ok = code == OK
    large = ok & (np.maximum(np.abs(sx), np.abs(sy)) > spec.max_shift)
    code[large] = TOO_LARGE
    ok &= ~large
    sx[~ok], sy[~ok] = np.nan, np.nan
    reasons = [NO_WINDOW if c < 0 else (f"{REASONS[c]}={spec.max_shift} px" if c == TOO_LARGE else REASONS[c])
               for c in code]
    return sx, sy, peak, rel, np.asarray(ok, dtype=bool), reasons


def compute_grid(
    ref: Raster,
    tgt: Raster,
    spec: GridSpec,
    *,
    progress: Callable[[float], None] | None = None,
    nodes: tuple[I64, I64] | None = None,
    batched: bool = True,
    threads: int = 1,
    start: tuple[int, int] = (0, 0),
) -> TiePoints:
    """Match every grid node (or the given ``nodes`` as target pixel (x, y) arrays); see the module doc.

    ``batched=False`` matches one window at a time (the reference path the batched matcher is tested against);
    ``threads`` > 1 spreads the batched stacks over that many threads (same results). ``start`` is the integer
    offset of every window's first pass (the rounded global shift saves the second pass of every window whose
    shift rounds to it; the final pass is at the rounded shift of the window either way).
    """
    if spec.window < spec.min_window or spec.min_window < 16:
        raise ParameterError(f"window {spec.window} must be ≥ min_window {spec.min_window} ≥ 16")
    ox, oy = check_compatible(ref, tgt)
    oxi, oyi = round(ox), round(oy)
    fx, fy = ox - oxi, oy - oyi  # fractional grid offset, removed from the measured shifts
    th, tw = tgt.shape
    if nodes is None:
        xs = np.arange(0, tw, spec.step, dtype=np.int64)
        ys = np.arange(0, th, spec.step, dtype=np.int64)
        gx, gy = np.meshgrid(xs, ys)
        nx_, ny_ = gx.ravel(), gy.ravel()
    else:
        nx_, ny_ = nodes
    lay = _layout(ref, tgt, spec, nx_.astype(np.int64), ny_.astype(np.int64), oxi, oyi)
    if batched:
        sx, sy, peak, rel, ok, reasons = _match_batched(lay, progress, threads, start)
    else:
        sx, sy, peak, rel, ok, reasons = _match_loop(lay, progress, start)
    sx = sx - fx
    sy = sy - fy
    winx = np.where(lay.hx > 0, 2 * lay.hx, -1).astype(np.int64)
    winy = np.where(lay.hy > 0, 2 * lay.hy, -1).astype(np.int64)
    t = tgt.transform
    return TiePoints(
        x_im=nx_.astype(np.int64), y_im=ny_.astype(np.int64),
        x_map=np.asarray(t.c + nx_ * t.a, dtype=np.float64), y_map=np.asarray(t.f + ny_ * t.e, dtype=np.float64),
        win_x=winx, win_y=winy, sx=sx, sy=sy, peak=peak, reliability=rel, ok=ok, reason=reasons,
        res_x=abs(t.a), res_y=abs(t.e),
    )
