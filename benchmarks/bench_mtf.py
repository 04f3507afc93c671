"""Slanted-edge MTF: time per edge of viq_proc_iq.sfr against a naive per-row / per-pixel loop baseline.

Both run the same ISO 12233 / sfrmat3 steps in the same process; the baseline is the direct transcription of
the published loops (per-line derivative and centroid, per-pixel projection into bins). The script checks
that both give the same MTF, then prints the median time per edge and the speed-up.

    uv run python benchmarks/bench_mtf.py
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import math
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from viq_proc_iq import sfr
from viq_proc_iq.synthetic import gaussian_edge

Array = npt.NDArray[np.float64]


def _centroid(v: Array) -> float:
    total = float(v.sum())
    return 0.0 if total < 1e-4 else float((np.arange(1, v.size + 1) * v).sum() / total)


def naive_mtf(img: Array, fac: int = 4) -> tuple[Array, Array]:
    """Straight loop transcription of the sfrmat3 steps for a vertical, rising edge (mono)."""
    nlin, npix = img.shape
    sign = -1.0 if img[:, :5].sum() > img[:, npix - 6 :].sum() else 1.0
    deriv = np.zeros_like(img)
    for r in range(nlin):  # per-row 2-tap derivative
        row = np.convolve([0.5 * sign, -0.5 * sign], img[r])
        deriv[r, 1:] = row[1:npix]
        deriv[r, 0] = deriv[r, 1]
    win1 = sfr.hamming_window(npix, (npix + 1) / 2)
    loc = np.array([_centroid(deriv[r] * win1) - 0.5 for r in range(nlin)])
    slope, icpt = np.polyfit(np.arange(nlin), loc, 1)
    for r in range(nlin):
        loc[r] = _centroid(deriv[r] * sfr.hamming_window(npix, icpt + slope * (r + 1))) - 0.5
    slope, icpt = np.polyfit(np.arange(nlin), loc, 1)
    nlin1 = sfr.mround(math.floor(nlin * abs(slope)) / abs(slope))
    offset = sfr.mround(fac * (0 - (nlin1 - 1) * slope))
    dl = abs(offset)
    offset = min(offset, 0)
    counts = np.zeros(npix * fac + dl + 100)
    sums = np.zeros_like(counts)
    for n in range(npix):  # per-pixel projection
        for m in range(nlin1):
            k = math.ceil((n - m * slope) * fac) - offset
            counts[k] += 1
            sums[k] += img[m, n]
    start = sfr.mround(0.5 * dl)
    nn = npix * fac
    esf = sums[start : start + nn] / counts[start : start + nn]
    freq, mtf, _, _ = sfr.esf_to_mtf(esf, sign, fac, math.cos(math.atan(slope)))
    return freq, mtf


def _time(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    """Run the comparison on three edge sizes."""
    print(f"# {platform.node()} {platform.processor() or platform.machine()}, numpy {np.__version__}, 1 thread")
    print(f"{'edge (rows×cols)':>18} {'viq ms':>9} {'naive ms':>9} {'speed-up':>9} {'max |ΔMTF|':>11}")
    for rows, cols, repeat in ((100, 100, 20), (300, 125, 10), (512, 512, 3)):
        img = gaussian_edge((rows, cols), 5.0, 0.6, aperture_samples=4, noise_std=1.0, seed=1)
        fast = sfr.edge_sfr(img)[0]
        _, slow = naive_mtf(img)
        dev = float(np.max(np.abs(fast.mtf - slow)))
        t_fast = _time(lambda img=img: sfr.edge_sfr(img), repeat)
        t_slow = _time(lambda img=img: naive_mtf(img), max(repeat // 3, 1))
        print(f"{rows:>8}×{cols:<9} {1e3 * t_fast:9.2f} {1e3 * t_slow:9.1f} {t_slow / t_fast:8.1f}× {dev:11.1e}")


if __name__ == "__main__":
    main()
