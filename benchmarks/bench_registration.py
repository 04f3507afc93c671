"""Benchmark: the ``image-registration`` run on the AROSICS S2 pair against AROSICS 1.12.1 and a scikit-image loop.

All in one run, on the same grid (100 px, 256² windows, nodes of the target image, AROSICS's layout), threads of
OMP/OpenBLAS/MKL pinned to 1 in this process and in the child processes:

1. **Whole run, side by side, interleaved** (``--repeat`` rounds):
   - AROSICS ``COREG_LOCAL`` (default settings: its worker processes on all cores; the footprints and nodata of
     the shared README) as a whole process with the interpreter given by ``--arosics-python`` (default
     ``$VIQ_AROSICS_PYTHON``, else ``/opt/arosics-venv/bin/python`` when present); its own in-process time
     (after its imports, until the tie-point table with outlier filtering is built) is printed too;
   - ours as a whole process (interpreter start, imports, ``ImageRegistration.run``: both JP2 files decoded by
     OpenJPEG through imagecodecs in two threads while the run imports scipy.fft, rasterio and Pillow, the
     global window, the grid seeded with it, filters, tie points, PNG plot, shift-map GeoTIFF, JSON report) and
     ours in-process (``ImageRegistration.run`` alone; nothing is cached between runs).
2. **Numerics on arrays already in memory**: the previous one-window-at-a-time path (``batched=False``), the
   batched path (1 and 2 threads), and the baseline loop of ``skimage.registration.phase_cross_correlation``
   (``upsample_factor=100``) over the same windows.

Without an AROSICS interpreter part 1 compares with the scikit-image loop only and says so.
Usage: ``uv run python benchmarks/bench_registration.py [--repeat 3] [--arosics-python PATH]``.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import csv  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "arosics_s2_t33uuu"
REF = DATA / "ref_S2A_20160608T153121_T33UUU_sub.jp2"
TGT = DATA / "tgt_S2A_20160529T153631_T33UUU_sub.jp2"

AROSICS_CODE = r'''
import json, sys, time
t0 = time.perf_counter()
from arosics import COREG_LOCAL
t1 = time.perf_counter()
cr = COREG_LOCAL(sys.argv[1], sys.argv[2], grid_res=100, window_size=(256, 256), nodata=(0, 0), q=True,
                 footprint_poly_ref="POLYGON ((340870 5862000, 354000 5862000, 354000 5830000, 331320 5830000, "
                                    "340870 5862000))",
                 footprint_poly_tgt="POLYGON ((341890 5866490, 356180 5866490, 356180 5834970, 335440 5834970, "
                                    "335490 5845270, 341890 5866490))")
tab = cr.CoRegPoints_table
t2 = time.perf_counter()
tab.to_csv(sys.argv[3], index=False)
print(json.dumps({"import_s": t1 - t0, "run_s": t2 - t1, "points": int(len(tab)),
                  "valid": int((~tab["OUTLIER"].astype(bool) & (tab["X_SHIFT_PX"] != -9999)).sum())}))
'''

OURS_CODE = r'''
import json, sys, time
from pathlib import Path
t0 = time.perf_counter()
from viq_interfaces import InputProduct, RunContext
from viq_proc_geometry.processors.registration import ImageRegistration, RegistrationParameters
t1 = time.perf_counter()

class Log:
    def debug(self, m): pass
    def info(self, m): pass
    def warning(self, m): pass
    def error(self, m): pass
    def progress(self, p, m=""): pass

out = Path(sys.argv[3])
ctx = RunContext(job_id="B", attempt_id="A", processor="image-registration", version="01.00",
                 inputs={"reference": (InputProduct(path=Path(sys.argv[1]), product_type="EXT_GEOIMG"),),
                         "target": (InputProduct(path=Path(sys.argv[2]), product_type="EXT_GEOIMG"),)},
                 params=RegistrationParameters(nodata=0, format=sys.argv[4]), gipps={}, work_dir=out,
                 output_dir=out, logger=Log(), is_cancelled=lambda: False)
res = ImageRegistration().run(ctx)
t2 = time.perf_counter()
m = {x.key: x.value for x in res.measurements}
print(json.dumps({"import_s": t1 - t0, "run_s": t2 - t1, "valid": m["valid_points"]}))
'''


def _default_arosics() -> str | None:
    env = os.environ.get("VIQ_AROSICS_PYTHON")
    if env:
        return env
    p = Path("/opt/arosics-venv/bin/python")
    return str(p) if p.is_file() else None


def _child(cmd: list[str]) -> tuple[float, float, dict[str, float]]:
    """Run a child process; its wall time, CPU time (user + system, its own children included) and the JSON it
    prints last."""
    env = dict(os.environ)
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - t
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed: {out.stderr[-2000:]}")
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return wall, cpu, json.loads(out.stdout.strip().splitlines()[-1])


def _per_point(aros_csv: Path, ours_csv: Path) -> str:
    """Per-point differences ours − AROSICS at nodes valid in both (after both filters)."""
    with aros_csv.open(encoding="utf-8") as fh:
        aros = {(int(float(r["X_IM"])), int(float(r["Y_IM"]))): r for r in csv.DictReader(fh)
                if r["OUTLIER"] == "False" and float(r["X_SHIFT_PX"]) != -9999}
    d = []
    with ours_csv.open(encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            a = aros.get((int(r["x_im"]), int(r["y_im"])))
            if a is not None and r["valid"] == "True":
                d.append((float(r["shift_x_px"]) - float(a["X_SHIFT_PX"]),
                          float(r["shift_y_px"]) - float(a["Y_SHIFT_PX"])))
    dd = np.array(d)
    rms = np.sqrt((dd**2).mean(axis=0))
    return (f"{len(dd)} common valid points: mean ({dd[:, 0].mean():.3f}, {dd[:, 1].mean():.3f}) px, "
            f"RMS ({rms[0]:.3f}, {rms[1]:.3f}) px")


def whole_runs(repeat: int, arosics: str | None) -> None:
    """Part 1: AROSICS and ours as whole processes, interleaved; ours in-process."""
    from viq_interfaces import InputProduct, RunContext
    from viq_proc_geometry.processors.registration import ImageRegistration, RegistrationParameters

    aw, ar, ac, ow, orun, oc, inproc = [], [], [], [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        (t / "ours").mkdir()
        (t / "inproc").mkdir()
        ours_py = t / "ours.py"
        ours_py.write_text(OURS_CODE, encoding="utf-8")
        aros_py = t / "aros.py"
        aros_py.write_text(AROSICS_CODE, encoding="utf-8")
        for _ in range(repeat):
            if arosics:
                w, c, j = _child([arosics, str(aros_py), str(REF), str(TGT), str(t / "aros.csv")])
                aw.append(w)
                ac.append(c)
                ar.append(j["run_s"])
                aros_valid = j["valid"]
            w, c, j = _child([sys.executable, str(ours_py), str(REF), str(TGT), str(t / "ours"), "csv"])
            ow.append(w)
            oc.append(c)
            orun.append(j["run_s"])

            class Log:
                def debug(self, m: str) -> None: ...
                def info(self, m: str) -> None: ...
                def warning(self, m: str) -> None: ...
                def error(self, m: str) -> None: ...
                def progress(self, p: float, m: str = "") -> None: ...

            ctx = RunContext(job_id="I", attempt_id="A", processor="image-registration", version="01.00",
                             inputs={"reference": (InputProduct(path=REF, product_type="EXT_GEOIMG"),),
                                     "target": (InputProduct(path=TGT, product_type="EXT_GEOIMG"),)},
                             params=RegistrationParameters(nodata=0), gipps={}, work_dir=t / "inproc",
                             output_dir=t / "inproc", logger=Log(), is_cancelled=lambda: False)
            s = time.perf_counter()
            ImageRegistration().run(ctx)
            inproc.append(time.perf_counter() - s)
        runs = ", ".join(f"{x:.2f}" for x in ow)
        print(f"ours, whole process: median {statistics.median(ow):.2f} s (runs {runs}), "
              f"CPU {statistics.median(oc):.2f} s; "
              f"its run() {statistics.median(orun):.2f} s; in this process run() median "
              f"{statistics.median(inproc):.2f} s (runs {', '.join(f'{x:.2f}' for x in inproc)})")
        if arosics:
            print(f"AROSICS 1.12.1 COREG_LOCAL, whole process: median {statistics.median(aw):.2f} s "
                  f"(runs {', '.join(f'{x:.2f}' for x in aw)}), CPU {statistics.median(ac):.2f} s; after its imports "
                  f"{statistics.median(ar):.2f} s; {aros_valid} valid points")
            med = statistics.median
            paired = [a / o for a, o in zip(aw, ow, strict=True)]
            print(f"RATIO AROSICS/ours: whole process {med(aw) / med(ow):.2f}x (medians), per round "
                  f"{', '.join(f'{x:.2f}' for x in paired)} (median {med(paired):.2f}x); after imports "
                  f"{med(ar) / med(orun):.2f}x; CPU time {med(ac) / med(oc):.2f}x")
            ours_csv = next((t / "ours").glob("*_TIEPTS.csv"))
            print("agreement with this AROSICS run: " + _per_point(t / "aros.csv", ours_csv))
        else:
            print("AROSICS interpreter not found (--arosics-python / VIQ_AROSICS_PYTHON): compare part 2 instead")


def numerics(repeat: int) -> None:
    """Part 2: numerics on arrays in memory; the window loop, batched 1 and 2 threads, scikit-image loop."""
    import rasterio
    from skimage.registration import phase_cross_correlation

    from viq_proc_geometry.grid import GridSpec, compute_grid
    from viq_proc_geometry.processors.registration import RegistrationParameters, read_margin, run_registration
    from viq_proc_geometry.rasterio_io import read_pair, read_raster

    t = time.perf_counter()
    for f in (REF, TGT):
        with rasterio.open(f) as src:
            src.read(1)
    t_gdal = time.perf_counter() - t
    t = time.perf_counter()
    full = (read_raster(REF, nodata=0), read_raster(TGT, nodata=0))
    t_full = time.perf_counter() - t
    t = time.perf_counter()
    ref, tgt = read_pair(REF, TGT, nodata=0, margin=read_margin(5.0), threads=2)
    t_pair = time.perf_counter() - t
    loop, b1, b2, base = [], [], [], []
    for _ in range(repeat):
        t = time.perf_counter()
        lp = compute_grid(full[0], full[1], GridSpec(), batched=False)
        loop.append(time.perf_counter() - t)
        t = time.perf_counter()
        run_registration(ref, tgt, RegistrationParameters(threads=1))
        b1.append(time.perf_counter() - t)
        t = time.perf_counter()
        tp, _, _ = run_registration(ref, tgt, RegistrationParameters(threads=2))
        b2.append(time.perf_counter() - t)
        ox, oy = 544, -449  # target → reference pixel offset of this pair
        sel = np.flatnonzero(tp.win_x > 0)
        t = time.perf_counter()
        for k in sel:
            x, y = int(tp.x_im[k]), int(tp.y_im[k])
            hx, hy = int(tp.win_x[k]) // 2, int(tp.win_y[k]) // 2
            r = full[0].data[y + oy - hy : y + oy + hy, x + ox - hx : x + ox + hx]
            w = full[1].data[y - hy : y + hy, x - hx : x + hx]
            phase_cross_correlation(r, w, upsample_factor=100)
        base.append(time.perf_counter() - t)
    m = lp.ok
    d = max(float(np.abs(lp.sx[m] - tp.sx[m]).max()), float(np.abs(lp.sy[m] - tp.sy[m]).max()))
    n = int(sel.size)
    print(f"JP2 read: both files whole through rasterio/GDAL (its default threads) {t_gdal:.2f} s; both whole, "
          f"imagecodecs, one after the other {t_full:.2f} s; read_pair (two threads) {t_pair:.2f} s")
    for name, v in (("window loop (previous path), grid only", loop), ("batched, 1 thread, grid + filters", b1),
                    ("batched, 2 threads, grid + filters", b2), ("skimage loop (baseline)", base)):
        print(f"{name}: best {min(v):.3f} s, median {statistics.median(v):.3f} s ({1e3 * min(v) / n:.2f} ms/window, "
              f"skimage/this {min(base) / min(v):.2f}x)")
    print(f"{n} windows; batched − loop: max |d| {d:.1e} px over {int(m.sum())} matched points")


def main() -> None:
    """Both parts; prints the ratios."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--arosics-python", default=_default_arosics())
    args = ap.parse_args()
    print("threads pinned: OMP/OPENBLAS/MKL_NUM_THREADS=1; load average (1, 5, 15 min) at start: "
          + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
    whole_runs(args.repeat, args.arosics_python)
    numerics(args.repeat)
    print("load average at end: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
