"""Numerics of the window matcher and the outlier filters on synthetic data with known shifts."""

from __future__ import annotations

import numpy as np
from geom_helpers import fourier_shift, texture

from viq_proc_geometry.correlate import match_iterative, match_windows
from viq_proc_geometry.outliers import filter_points


def test_subpixel_shifts_recovered_to_a_hundredth() -> None:
    """Random sub-pixel shifts up to ±3 px of a textured 256² window come back to < 0.01 px (noise 2 %)."""
    rng = np.random.default_rng(5)
    big = texture((512, 512), seed=1)
    errs = []
    for _ in range(12):
        sx, sy = rng.uniform(-3, 3, 2)
        tgt = fourier_shift(big, sx, sy)
        a = (big[128:384, 128:384] + 0.02 * rng.standard_normal((256, 256))).astype(np.float32)
        b = (tgt[128:384, 128:384] + 0.02 * rng.standard_normal((256, 256))).astype(np.float32)
        m = match_windows(a, b)
        assert m.ok, m.reason
        errs += [m.sx - sx, m.sy - sy]
    assert float(np.sqrt(np.mean(np.square(errs)))) < 0.01


def test_iterative_reextraction_keeps_the_total_shift() -> None:
    """Re-extracting the reference window at the integer shift returns the same total shift (2.6, −1.3 px)."""
    big = texture((400, 400), seed=2)
    tgt = fourier_shift(big, 2.6, -1.3)

    def extract(ox: int, oy: int) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[type-arg]
        return (big[100 + oy : 228 + oy, 100 + ox : 228 + ox].astype(np.float32),
                tgt[100:228, 100:228].astype(np.float32))

    m = match_iterative(extract, iterations=3)
    assert m.ok
    assert abs(m.sx - 2.6) < 0.01 and abs(m.sy + 1.3) < 0.01


def test_featureless_window_fails_without_a_shift() -> None:
    """A constant window gives a failed match with a reason and NaN shifts, never a made-up value."""
    a = texture((64, 64), seed=3).astype(np.float32)
    m = match_windows(a, np.full((64, 64), 7.0, dtype=np.float32))
    assert not m.ok and "featureless" in m.reason and np.isnan(m.sx)


def test_outlier_levels_reject_planted_blunders() -> None:
    """Blunders planted in a smooth affine shift field are rejected; the affine fit recovers the field."""
    rng = np.random.default_rng(0)
    gx, gy = np.meshgrid(np.arange(0, 2000, 100.0), np.arange(0, 2000, 100.0))
    x, y = gx.ravel(), gy.ravel()
    sx = 0.3 + 2e-4 * x - 1e-4 * y + 0.01 * rng.standard_normal(x.size)
    sy = -1.2 + 1e-4 * y + 0.01 * rng.standard_normal(x.size)
    bad = rng.choice(x.size, 30, replace=False)
    sx[bad[:15]] += rng.uniform(2, 4, 15)
    sy[bad[15:]] += rng.uniform(0.4, 0.8, 15)
    rel = np.full(x.size, 80.0)
    rel[:5] = 10.0
    f = filter_points(x, y, sx, sy, np.ones(x.size, dtype=bool), np.ones(x.size), rel)
    assert f.l1[:5].all()
    assert not f.inlier[bad].any()
    assert f.inlier.sum() >= x.size - 30 - 5 - 5
    assert abs(f.coef_x[1] - 2e-4) < 2e-5 and abs(f.coef_y[0] + 1.2) < 0.01
    assert f.rmse < 0.03
