"""Benchmark: ``image-registration`` numerics vs a per-window scikit-image loop on the AROSICS S2 pair.

Both run in this process on the same grid (100 px, 256² windows, nodes of the target image, AROSICS layout)
with OMP/OpenBLAS/MKL threads pinned to 1. Baseline: ``skimage.registration.phase_cross_correlation``
(``upsample_factor=100``) on every node whose window our grid also computed (same windows, no outlier filter).
Ours: the whole numerical run (grid, matching, L1–L3 filters, global window). Reading the JP2 files is timed
apart (it is the same for both). Usage: ``uv run python benchmarks/bench_registration.py [--repeat 3]``.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from skimage.registration import phase_cross_correlation  # noqa: E402

from viq_proc_geometry.processors.registration import (  # noqa: E402
    RegistrationParameters,
    global_match,
    run_registration,
)
from viq_proc_geometry.rasterio_io import read_raster  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "arosics_s2_t33uuu"


def main() -> None:
    """Time both, print the ratio and the agreement between them."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    t = time.perf_counter()
    ref = read_raster(DATA / "ref_S2A_20160608T153121_T33UUU_sub.jp2", nodata=0)
    tgt = read_raster(DATA / "tgt_S2A_20160529T153631_T33UUU_sub.jp2", nodata=0)
    t_read = time.perf_counter() - t
    params = RegistrationParameters()
    ours, base, single = [], [], []
    for _ in range(args.repeat):
        t = time.perf_counter()
        run_registration(ref, tgt, RegistrationParameters(iterations=1))
        single.append(time.perf_counter() - t)
        t = time.perf_counter()
        tp, filt, spec = run_registration(ref, tgt, params)
        global_match(ref, tgt, spec, None, None)
        ours.append(time.perf_counter() - t)
        ox, oy = 544, -449  # target → reference pixel offset of this pair
        sel = np.flatnonzero(tp.win_x > 0)
        t = time.perf_counter()
        sk = []
        for k in sel:
            x, y = int(tp.x_im[k]), int(tp.y_im[k])
            hx, hy = int(tp.win_x[k]) // 2, int(tp.win_y[k]) // 2
            r = ref.data[y + oy - hy : y + oy + hy, x + ox - hx : x + ox + hx]
            w = tgt.data[y - hy : y + hy, x - hx : x + hx]
            shift, _, _ = phase_cross_correlation(r, w, upsample_factor=100)
            sk.append((shift[1], shift[0]))
        base.append(time.perf_counter() - t)
    sk_arr = np.array(sk)
    v = filt.inlier[sel]
    d = np.column_stack([tp.sx[sel] - sk_arr[:, 0], tp.sy[sel] - sk_arr[:, 1]])[v]
    print(f"JP2 read (both files): {t_read:.2f} s; windows computed: {sel.size}; valid after filters: {int(v.sum())}")
    print(f"ours (grid + filters + global), best of {args.repeat}: {min(ours):.3f} s "
          f"({1e3 * min(ours) / sel.size:.2f} ms/window)")
    print(f"ours with iterations=1 (no re-extraction), best of {args.repeat}: {min(single):.3f} s "
          f"({1e3 * min(single) / sel.size:.2f} ms/window, {min(base) / min(single):.2f}x the baseline)")
    print(f"skimage loop (phase_cross_correlation, upsample 100), best of {args.repeat}: {min(base):.3f} s "
          f"({1e3 * min(base) / sel.size:.2f} ms/window)")
    print(f"speed-up: {min(base) / min(ours):.2f}x; with the JP2 read in both: "
          f"{(min(base) + t_read) / (min(ours) + t_read):.2f}x")
    print(f"ours − skimage on valid points: mean ({d[:, 0].mean():.3f}, {d[:, 1].mean():.3f}) px, "
          f"RMS ({np.sqrt((d[:, 0] ** 2).mean()):.3f}, {np.sqrt((d[:, 1] ** 2).mean()):.3f}) px")


if __name__ == "__main__":
    main()
