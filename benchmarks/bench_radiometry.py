"""Benchmark: dark + relative sensitivity on full-width (5200-detector) VENµS arrays vs a plain numpy mean.

    uv run python benchmarks/bench_radiometry.py [--lines 10000] [--bands 2] [--levels 5]

Per band: a dark series of ``lines`` lines and ``levels`` flat levels of ``lines / levels`` lines each
(uint16 DN from the VENµS model: per-detector dark, two-slope response, noise σ² = A + B·L, spikes), held in
memory and served in 512-line blocks exactly as the processors read GeoTIFF windows. Timed: the processors'
numerics (``estimate_dark`` two-pass robust statistics + ``column_stats`` per level + the two-slope fit and
out-of-order detection). Baseline in the same run: one pass of ``block.mean(axis=0)`` over the same blocks (the
I/O-bound floor of any per-detector estimate). Threads pinned to 1. Prints the time per band, the projection
to 12 bands and the ratio to the baseline; peak RSS at the end.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator  # noqa: E402

import numpy as np  # noqa: E402
import numpy.typing as npt  # noqa: E402

from viq_proc_radiometry.dark import estimate_dark  # noqa: E402
from viq_proc_radiometry.relsen import LevelMeans, fit_relative_sensitivity  # noqa: E402
from viq_proc_radiometry.stats import column_stats  # noqa: E402
from viq_venus import default_config  # noqa: E402
from viq_venus.radiometry import absolute_gain, noise_coefficients, pixel_maps, two_slope  # noqa: E402

BLOCK = 512
U16 = npt.NDArray[np.uint16]


def series(maps: object, gain: float, a: float, b: float, level: float, lines: int, seed: int) -> U16:
    """Simulated DN of one uniform acquisition (lines × 5200)."""
    rng = np.random.default_rng(seed)
    m = maps  # PixelMaps
    z = two_slope(np.full(m.dark.size, gain * level), m.a1, m.a2, m.knee) + m.dark  # type: ignore[attr-defined]
    sd = np.sqrt(a + b * level) * m.noise_factor  # type: ignore[attr-defined]
    out = np.empty((lines, z.size), dtype=np.uint16)
    for i0 in range(0, lines, BLOCK):
        n = min(BLOCK, lines - i0)
        v = z[None, :] + sd[None, :] * rng.standard_normal((n, z.size), dtype=np.float32)
        out[i0 : i0 + n] = np.clip(np.rint(v), 0, 1023).astype(np.uint16)
    return out


def blocks(arr: U16) -> Iterator[U16]:
    for i0 in range(0, arr.shape[0], BLOCK):
        yield arr[i0 : i0 + BLOCK]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=10000)
    ap.add_argument("--bands", type=int, default=2)
    ap.add_argument("--levels", type=int, default=5)
    args = ap.parse_args()
    cfg = default_config()
    t_viq = t_base = 0.0
    worst_a1 = 0.0
    for k, band in enumerate(("B4", "B10", "B2", "B7", "B1", "B3", "B5", "B6", "B8", "B9", "B11", "B12")[: args.bands]):
        maps = pixel_maps(cfg, band, 8)
        gain = absolute_gain(cfg, band, 8)
        a, b = noise_coefficients(cfg, band, 8)
        dark = series(maps, gain, a, b, 0.0, args.lines, 100 + k)
        levels = np.linspace(20.0, 250.0, args.levels)
        per = args.lines // args.levels
        flats = [series(maps, gain, a, b, float(lv), per, 200 + 10 * k + i) for i, lv in enumerate(levels)]
        n = maps.dark.size
        # baseline: one pass of a plain mean over the same blocks
        t0 = time.perf_counter()
        for arr in (dark, *flats):
            acc = np.zeros(n)
            for blk in blocks(arr):
                acc += blk.mean(axis=0, dtype=np.float64) * blk.shape[0]
        t_base += time.perf_counter() - t0
        # processors' numerics
        t0 = time.perf_counter()
        est = estimate_dark(lambda d=dark: blocks(d), args.lines, n)
        stats = [column_stats(lambda f=f: blocks(f), per, n, clip_sigma=5.0) for f in flats]
        lvm = LevelMeans(levels, np.array([s.mean - est.dark for s in stats]),
                         np.array([s.mean_uncertainty**2 for s in stats]), np.array([s.std for s in stats]),
                         np.array([s.count for s in stats]))
        fit = fit_relative_sensitivity(lvm, est.uncertainty**2)
        t_viq += time.perf_counter() - t0
        v = fit.valid
        t = float(np.mean(maps.a1[v]))
        worst_a1 = max(worst_a1, float(np.sqrt(np.mean((fit.a1[v] - maps.a1[v] / t) ** 2))))
        print(f"{band}: dark RMS error {np.sqrt(np.mean((est.dark - maps.dark) ** 2)):.4f} DN "
              f"(bound {est.bound_rms:.4f}), out of order {len(fit.defects)} (truth {len(maps.defects)})")
        del dark, flats
    nb = args.bands
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"lines per series {args.lines}, detectors 5200, bands timed {nb}, flat levels {args.levels}")
    print(f"viq (dark + relsen)   : {t_viq / nb:6.2f} s/band  → 12 bands {12 * t_viq / nb:6.1f} s")
    print(f"baseline (numpy mean) : {t_base / nb:6.2f} s/band  → 12 bands {12 * t_base / nb:6.1f} s")
    print(f"ratio viq/baseline    : {t_viq / t_base:6.2f}")
    print(f"a1 RMS error (worst band): {100 * worst_a1:.4f} %; peak RSS {rss:.0f} MiB (data held in memory)")


if __name__ == "__main__":
    main()
