"""Agreement with the AROSICS 1.12.1 results shipped with the Sentinel-2 pair (../shared/data/arosics_s2_t33uuu).

AROSICS's grid: nodes every 100 px of the *target* image at pixel-corner coordinates (``X_IM``/``Y_IM``), map
position = target transform · (X_IM, Y_IM), window 256 centred there and shrunk near the data; nodata = 0.
Our grid is laid the same way, so nodes are compared one to one by (X_IM, Y_IM).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from viq_proc_geometry.grid import GridSpec, TiePoints, compute_grid
from viq_proc_geometry.outliers import filter_points
from viq_proc_geometry.processors.registration import (
    RegistrationParameters,
    global_match,
    read_margin,
    run_registration,
)
from viq_proc_geometry.rasterio_io import Raster, read_pair

REF = "ref_S2A_20160608T153121_T33UUU_sub.jp2"
TGT = "tgt_S2A_20160529T153631_T33UUU_sub.jp2"


@pytest.fixture(scope="module")
def pair(arosics_dir: Path) -> tuple[Raster, Raster]:
    """Both JP2 files read once (nodata 0), each where it meets the other (as the processor reads them)."""
    return read_pair(arosics_dir / REF, arosics_dir / TGT, nodata=0, margin=read_margin(GridSpec().max_shift))


@pytest.fixture(scope="module")
def ours(pair: tuple[Raster, Raster]) -> TiePoints:
    """Our tie points on AROSICS's grid (default parameters: grid 100, window 256)."""
    tp, _, _ = run_registration(pair[0], pair[1], RegistrationParameters())
    return tp


def _aros(arosics_dir: Path) -> dict[tuple[int, int], dict[str, str]]:
    with (arosics_dir / "reference" / "arosics_1.12.1_local_grid100_tiepoints.csv").open(encoding="utf-8") as fh:
        return {(int(r["X_IM"]), int(r["Y_IM"])): r for r in csv.DictReader(fh)}


def test_local_grid_mean_agrees_within_a_tenth_of_a_pixel(arosics_dir: Path, ours: TiePoints) -> None:
    """Mean of the valid local shifts within 0.1 px (1 m) of AROSICS's COREG_LOCAL mean, in X and Y."""
    summary = json.loads((arosics_dir / "reference" / "arosics_1.12.1_local_grid100_summary.json").read_text())
    v = ours.valid
    assert v.sum() >= 300
    mx, my = float(ours.shift_x_map[v].mean()), float(ours.shift_y_map[v].mean())
    print(f"\nmean shift ours ({mx:.3f}, {my:.3f}) m, AROSICS ({summary['mean_x_shift_map']:.3f}, "
          f"{summary['mean_y_shift_map']:.3f}) m; valid {int(v.sum())} vs {summary['n_valid']}")
    assert abs(mx - summary["mean_x_shift_map"]) < 1.0
    assert abs(my - summary["mean_y_shift_map"]) < 1.0


def test_per_point_agreement_statistics(arosics_dir: Path, ours: TiePoints) -> None:
    """Per-point differences at nodes valid in both: mean within 0.05 px, RMS per axis ≤ 0.12 px, reported.

    AROSICS's own points scatter ≈ 0.1 px around a smooth (affine) field while ours scatter ≈ 0.03 px, so
    most of the per-point RMS is AROSICS's sub-pixel estimator (side-maximum ratio); the test prints both.
    """
    aros = _aros(arosics_dir)
    d, pts_a = [], []
    for k in np.flatnonzero(ours.valid):
        r = aros.get((int(ours.x_im[k]), int(ours.y_im[k])))
        if r is None or r["OUTLIER"] != "False":
            continue
        ax, ay = float(r["X_SHIFT_PX"]), float(r["Y_SHIFT_PX"])
        d.append((ours.sx[k] - ax, ours.sy[k] - ay))
        pts_a.append((float(r["X_IM"]), float(r["Y_IM"]), ax, ay))
    dd = np.array(d)
    a = np.array(pts_a)
    fa = filter_points(a[:, 0], a[:, 1], a[:, 2], a[:, 3], np.ones(len(a), bool), np.ones(len(a)),
                       np.full(len(a), 100.0))
    fo = filter_points(ours.x_im.astype(float), ours.y_im.astype(float), ours.sx, ours.sy, ours.valid, ours.peak,
                       ours.reliability)
    rms = np.sqrt((dd**2).mean(axis=0))
    print(f"\n{len(dd)} common points: mean diff ({dd[:, 0].mean():.3f}, {dd[:, 1].mean():.3f}) px, RMS "
          f"({rms[0]:.3f}, {rms[1]:.3f}) px, median |d| ({np.median(np.abs(dd[:, 0])):.3f}, "
          f"{np.median(np.abs(dd[:, 1])):.3f}) px, P90 |d| {np.percentile(np.hypot(*dd.T), 90):.3f} px; "
          f"affine-fit residual RMSE AROSICS {fa.rmse:.3f} px vs ours {fo.rmse:.3f} px")
    assert len(dd) >= 280
    assert abs(dd[:, 0].mean()) < 0.05 and abs(dd[:, 1].mean()) < 0.05
    assert rms.max() <= 0.12
    assert fo.rmse < fa.rmse


@pytest.mark.parametrize(
    "case", ["default_auto_wp", "wp_inside_344720_5848485", "wp_covering_nodata_339611_5856426_ws256"]
)
def test_global_shift_within_a_tenth_of_a_pixel(arosics_dir: Path, pair: tuple[Raster, Raster], case: str) -> None:
    """One 256² window at AROSICS's global window positions: shift within 0.1 px of AROSICS's global result."""
    res = json.loads((arosics_dir / "reference" / "arosics_1.12.1_global_results.json").read_text())[case]
    x, y = res["win_pos_XY"]
    g = global_match(pair[0], pair[1], GridSpec(), x, y)
    assert g.ok[0], g.reason[0]
    print(f"\n{case}: ours ({g.sx[0]:.3f}, {g.sy[0]:.3f}) px, AROSICS ({res['x_shift_px']:.3f}, "
          f"{res['y_shift_px']:.3f}) px")
    assert abs(g.sx[0] - res["x_shift_px"]) < 0.1
    assert abs(g.sy[0] - res["y_shift_px"]) < 0.1


@pytest.mark.parametrize("case", ["wp_close_to_edge_353810_5840516_ws256"])
def test_global_shift_at_the_data_edge(arosics_dir: Path, pair: tuple[Raster, Raster], case: str) -> None:
    """Window at the data edge: within 0.1 px of AROSICS's own four nearest valid local points.

    There AROSICS's global result differs from its own local grid around it by (0.12, 0.10) px (its window
    is placed differently at the edge); our difference to that global value is printed, not asserted.
    """
    res = json.loads((arosics_dir / "reference" / "arosics_1.12.1_global_results.json").read_text())[case]
    x, y = res["win_pos_XY"]
    g = global_match(pair[0], pair[1], GridSpec(), x, y)
    assert g.ok[0], g.reason[0]
    rows = [r for r in _aros(arosics_dir).values() if r["OUTLIER"] == "False"]
    rows.sort(key=lambda r: (float(r["X_MAP"]) - x) ** 2 + (float(r["Y_MAP"]) - y) ** 2)
    lx = float(np.mean([float(r["X_SHIFT_PX"]) for r in rows[:4]]))
    ly = float(np.mean([float(r["Y_SHIFT_PX"]) for r in rows[:4]]))
    print(f"\n{case}: ours ({g.sx[0]:.3f}, {g.sy[0]:.3f}) px, AROSICS global ({res['x_shift_px']:.3f}, "
          f"{res['y_shift_px']:.3f}) px, AROSICS local neighbours ({lx:.3f}, {ly:.3f}) px")
    assert abs(g.sx[0] - lx) < 0.1
    assert abs(g.sy[0] - ly) < 0.1


def test_grid_layout_matches_arosics(arosics_dir: Path, pair: tuple[Raster, Raster]) -> None:
    """Our nodes and map coordinates coincide with AROSICS's X_IM/Y_IM → X_MAP/Y_MAP for every AROSICS node."""
    aros = _aros(arosics_dir)
    keys = list(aros)
    nodes = (np.array([k[0] for k in keys], dtype=np.int64), np.array([k[1] for k in keys], dtype=np.int64))
    tp = compute_grid(pair[0], pair[1], GridSpec(window=64, min_window=64), nodes=nodes)
    xm = np.array([float(aros[k]["X_MAP"]) for k in keys])
    ym = np.array([float(aros[k]["Y_MAP"]) for k in keys])
    assert np.allclose(tp.x_map, xm) and np.allclose(tp.y_map, ym)


def test_batched_run_equals_the_window_loop(arosics_dir: Path, pair: tuple[Raster, Raster], ours: TiePoints) -> None:
    """The batched stacks (two threads) give the tie points of the one-window-at-a-time path within 0.005 px,
    with the same valid set and window sizes (the overlap read is pinned in test_batched_matching.py); both
    paths seeded with the rounded global shift, as the processor runs."""
    glob = global_match(pair[0], pair[1], GridSpec(), None, None)
    assert glob.ok[0]
    loop = compute_grid(pair[0], pair[1], GridSpec(), batched=False,
                        start=(round(float(glob.sx[0])), round(float(glob.sy[0]))))
    assert pair[0].data.size < 0.7 * 2400 * 3200  # the reference was read over the overlap only
    fast, _, _ = run_registration(pair[0], pair[1], RegistrationParameters(threads=2))
    assert np.array_equal(loop.ok, fast.ok) and np.array_equal(loop.win_x, fast.win_x)
    m = loop.ok
    assert m.sum() >= 350
    d = np.abs(np.concatenate([loop.sx[m] - fast.sx[m], loop.sy[m] - fast.sy[m]]))
    print(f"\nbatched vs loop: max |d| {d.max():.2e} px over {int(m.sum())} matched points")
    assert d.max() <= 0.005
    assert np.allclose(loop.reliability, fast.reliability, atol=0.01)
    assert np.array_equal(fast.valid, ours.valid)


def _common(arosics_dir: Path, tp: TiePoints) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[type-arg]
    """(ours − AROSICS, AROSICS) shifts in px at the nodes valid in both, shape (n, 2) each."""
    aros = _aros(arosics_dir)
    d, a = [], []
    for k in np.flatnonzero(tp.valid):
        r = aros.get((int(tp.x_im[k]), int(tp.y_im[k])))
        if r is not None and r["OUTLIER"] == "False":
            ax, ay = float(r["X_SHIFT_PX"]), float(r["Y_SHIFT_PX"])
            d.append((tp.sx[k] - ax, tp.sy[k] - ay))
            a.append((ax, ay))
    return np.array(d), np.array(a)


def test_per_point_differences_follow_arosics_fractional_shift(arosics_dir: Path, ours: TiePoints) -> None:
    """The per-point differences are mostly a periodic function of AROSICS's own fractional shift (the
    pixel-locking of its side-peak sub-pixel estimator): in y they correlate with sin 2π·frac(s_AROSICS) and,
    once a two-harmonic function of frac(s_AROSICS) is removed per axis, the RMS is ≤ 0.1 px (reported)."""
    d, a = _common(arosics_dir, ours)
    frac = a - np.floor(a)
    res = np.empty_like(d)
    for ax in (0, 1):
        ph = 2 * np.pi * frac[:, ax]
        m = np.column_stack([np.sin(ph), np.cos(ph), np.sin(2 * ph), np.cos(2 * ph), np.ones(len(d))])
        coef, *_ = np.linalg.lstsq(m, d[:, ax], rcond=None)
        res[:, ax] = d[:, ax] - m @ coef
    corr_y = float(np.corrcoef(d[:, 1], np.sin(2 * np.pi * frac[:, 1]))[0, 1])
    rms = np.sqrt((d**2).mean(axis=0))
    rms_res = np.sqrt((res**2).mean(axis=0))
    print(f"\nRMS ours − AROSICS ({rms[0]:.3f}, {rms[1]:.3f}) px; corr(d_y, sin 2π frac) {corr_y:.2f}; without the "
          f"periodic function of AROSICS's fractional shift ({rms_res[0]:.3f}, {rms_res[1]:.3f}) px")
    assert abs(corr_y) > 0.5
    assert rms_res.max() <= 0.1


def _side_peak(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:  # type: ignore[type-arg]
    """AROSICS-like estimate (written from its documented method): magnitude of the inverse transform of the pure
    phase-correlation spectrum of untapered windows, integer peak, then the side-peak ratio
    ``±c₁ / (c₀ + c₁)`` towards the larger neighbour on each axis (Foroosh et al. 2002)."""
    fa, fb = np.fft.fft2(a), np.fft.fft2(b)
    q = fa * fb.conj()
    s = np.fft.fftshift(np.abs(np.fft.ifft2(q / (np.abs(q) + np.abs(q).max() * 1e-15))))
    h, w = s.shape
    iy, ix = np.unravel_index(int(np.argmax(s)), s.shape)
    p, left, right, up, down = s[iy, ix], s[iy, ix - 1], s[iy, (ix + 1) % w], s[iy - 1, ix], s[(iy + 1) % h, ix]
    dx = right / (p + right) if right > left else -left / (p + left)
    dy = down / (p + down) if down > up else -up / (p + up)
    return float(ix - w // 2 + dx), float(iy - h // 2 + dy)


def test_side_peak_estimator_is_biased_on_s2_texture(pair: tuple[Raster, Raster]) -> None:
    """On the S2 reference's own texture warped by a known affine shift field (1 % noise), our estimator is
    within 0.015 px RMS of the truth and the AROSICS-like side-peak estimator on the same windows is at least
    twice as far: why we keep ours rather than reproduce AROSICS's per-point values."""
    from geom_helpers import warp_affine_shift

    from viq_proc_geometry.grid import _layout

    blk = pair[0].data[1200:2700, 164:1364].astype(np.float64)
    assert (blk > 0).mean() > 0.99
    cx, cy = (0.35, 3e-4, -2e-4), (-0.55, 2e-4, 4e-4)
    rng = np.random.default_rng(0)
    noise = 0.01 * float(blk.std())
    warped = warp_affine_shift(blk, cx, cy)
    a = (blk + noise * rng.standard_normal(blk.shape)).astype(np.float32)
    b = (warped + noise * rng.standard_normal(blk.shape)).astype(np.float32)
    ones = np.ones(a.shape, dtype=bool)
    ref = Raster(a, ones, pair[0].transform, pair[0].crs, pair[0].path)
    tgt = Raster(b, ones, pair[0].transform, pair[0].crs, pair[1].path)
    spec = GridSpec()
    tp = compute_grid(ref, tgt, spec)
    lay = _layout(ref, tgt, spec, tp.x_im, tp.y_im, 0, 0)
    e_ours, e_side = [], []
    for k in np.flatnonzero(tp.ok & (tp.win_x == 256) & (tp.win_y == 256)):
        x, y = float(tp.x_im[k]), float(tp.y_im[k])
        tx, ty = cx[0] + cx[1] * x + cx[2] * y, cy[0] + cy[1] * x + cy[2] * y
        e_ours.append((tp.sx[k] - tx, tp.sy[k] - ty))
        o = (round(tp.sx[k]), round(tp.sy[k]))
        rw = lay.reference_window(int(k), *o)
        assert rw is not None
        sx, sy = _side_peak(rw.astype(np.float64), lay.target_window(int(k)).astype(np.float64))
        e_side.append((o[0] + sx - tx, o[1] + sy - ty))
    r_ours = float(np.sqrt(np.mean(np.square(e_ours))))
    r_side = float(np.sqrt(np.mean(np.square(e_side))))
    print(f"\n{len(e_ours)} windows: ours {r_ours:.3f} px RMS, side-peak (AROSICS-like) {r_side:.3f} px RMS, mean "
          f"{np.round(np.mean(e_side, axis=0), 3)} px")
    assert len(e_ours) >= 50
    assert r_ours < 0.015
    assert r_side > 2 * r_ours


def test_jp2_decoder_gives_the_pixels_gdal_reads(arosics_dir: Path, pair: tuple[Raster, Raster],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole-file JPEG 2000 decoding (OpenJPEG through imagecodecs; in two threads or one, and a large
    region of one file) gives exactly the pixels, masks, frames and transforms of rasterio/GDAL's reads."""
    from viq_proc_geometry import rasterio_io

    decoded = rasterio_io.decode_jp2(arosics_dir / TGT)
    assert decoded is not None and decoded.shape == (3152, 2074)
    one_thread = read_pair(arosics_dir / REF, arosics_dir / TGT, nodata=0, margin=read_margin(GridSpec().max_shift),
                           threads=1)
    for a, b in zip(pair, one_thread, strict=True):
        assert a.transform == b.transform and np.array_equal(a.data, b.data) and np.array_equal(a.valid, b.valid)
    region = (100, 2900, 700, 2300)  # most of the file: decoded whole, then cut
    fast_region = rasterio_io.read_raster(arosics_dir / REF, nodata=0, region=region, keep_frame=True)
    monkeypatch.setattr(rasterio_io, "decode_jp2", lambda path, band=1: None)
    gdal = read_pair(arosics_dir / REF, arosics_dir / TGT, nodata=0, margin=read_margin(GridSpec().max_shift))
    slow_region = rasterio_io.read_raster(arosics_dir / REF, nodata=0, region=region, keep_frame=True)
    for fast, slow in zip((*pair, fast_region), (*gdal, slow_region), strict=True):
        assert fast.transform == slow.transform and fast.shape == slow.shape
        assert np.array_equal(fast.valid, slow.valid)
        assert np.array_equal(fast.data, slow.data)
    assert int(pair[1].valid.sum()) > 1_000_000


def test_global_seed_changes_no_tie_point(pair: tuple[Raster, Raster], ours: TiePoints) -> None:
    """Seeding every window's first pass with the rounded global shift (one pass instead of two for most
    windows) gives the matched set, shifts, peaks and reliabilities of first passes at zero offset."""
    unseeded = compute_grid(pair[0], pair[1], GridSpec(), threads=2)
    assert np.array_equal(unseeded.ok, ours.ok)
    m = ours.ok
    assert m.sum() >= 350
    assert float(np.max(np.abs(np.concatenate([unseeded.sx[m] - ours.sx[m], unseeded.sy[m] - ours.sy[m]])))) < 1e-6
    assert np.allclose(unseeded.reliability[m], ours.reliability[m], atol=1e-4)
    assert np.allclose(unseeded.peak[m], ours.peak[m], atol=1e-6)


def test_shift_equivariance_on_the_real_pair(pair: tuple[Raster, Raster], ours: TiePoints) -> None:
    """The real target moved by a known sub-pixel shift g (exact Fourier shift; no-data filled with the mean,
    then restored) moves every tie point valid in both runs by −g within 0.01 px RMS per axis: the truth of
    the change is known whatever the real field, clouds or seasons, and a pixel-locked estimator fails this
    (AROSICS 1.12.1: 0.13 px RMS in benchmarks/registration_truth.py)."""
    from scipy import fft, ndimage

    ref, tgt = pair
    filled = np.where(tgt.valid, tgt.data, tgt.data[tgt.valid].mean()).astype(np.float64)
    spec = fft.fft2(filled)
    for g in ((0.3, -0.4), (-0.45, 0.15)):
        moved = fft.ifft2(ndimage.fourier_shift(spec, (g[1], g[0]))).real
        t2 = Raster(np.where(tgt.valid, moved, 0.0).astype(np.float32), tgt.valid, tgt.transform, tgt.crs, tgt.path)
        tp, _, _ = run_registration(ref, t2, RegistrationParameters())
        m = ours.valid & tp.valid
        assert m.sum() >= 300
        ex = tp.sx[m] - ours.sx[m] + g[0]
        ey = tp.sy[m] - ours.sy[m] + g[1]
        rms = (float(np.sqrt(np.mean(ex**2))), float(np.sqrt(np.mean(ey**2))))
        print(f"\ng = {g}: {int(m.sum())} points, s(g) − s(0) + g RMS ({rms[0]:.4f}, {rms[1]:.4f}) px")
        assert max(rms) <= 0.01
