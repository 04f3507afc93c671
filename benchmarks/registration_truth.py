"""Study: ``image-registration`` and AROSICS 1.12.1 against a known truth, on the S2 pair's own texture.

Two experiments, both tools run on the same files with the same grid (100 px, 256² windows):

A. **Synthetic field.** A fully valid block of the S2 reference, and a target made from it by a known affine
   sub-pixel shift field (``tgt(x, y) = ref(x + sx, y + sy)``, quintic spline, the fractional shift sweeping
   the whole pixel across the block) plus independent noise on both (``--noise``, fraction of the block's
   standard deviation). Error of each tool = its shift − the field at the node.
B. **Shift equivariance on the real pair.** The real target moved by a known constant sub-pixel shift ``g``
   (exact Fourier shift of the image with its no-data filled by the mean, no-data restored): the true shift
   field of (reference, moved target) is the unknown real field minus ``g``. For an unbiased estimator,
   ``s(g) − s(0) + g`` is zero at every node whatever the real field, the clouds and the seasonal changes; a
   shift-dependent bias (pixel locking) shows as a spread. Real texture, real temporal decorrelation.

``uv run python benchmarks/registration_truth.py [--arosics-python PATH]``; AROSICS from its own interpreter as
in ``bench_registration.py``. Thread counts pinned (OMP/OPENBLAS/MKL = 1).
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import csv  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import rasterio  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "arosics_s2_t33uuu"
REF = DATA / "ref_S2A_20160608T153121_T33UUU_sub.jp2"
TGT = DATA / "tgt_S2A_20160529T153631_T33UUU_sub.jp2"
FOOT_REF = ("POLYGON ((340870 5862000, 354000 5862000, 354000 5830000, 331320 5830000, 340870 5862000))")
FOOT_TGT = ("POLYGON ((341890 5866490, 356180 5866490, 356180 5834970, 335440 5834970, 335490 5845270, "
            "341890 5866490))")

AROSICS_CODE = r'''
import sys
from arosics import COREG_LOCAL
kw = {}
if sys.argv[4] != "-":
    kw = dict(footprint_poly_ref=sys.argv[4], footprint_poly_tgt=sys.argv[5])
cr = COREG_LOCAL(sys.argv[1], sys.argv[2], grid_res=100, window_size=(256, 256), nodata=(0, 0), q=True, **kw)
cr.CoRegPoints_table.to_csv(sys.argv[3], index=False)
'''

Points = dict[tuple[int, int], tuple[float, float]]


def _write(path: Path, arr: np.ndarray[Any, Any], transform: Any, crs: Any) -> Path:
    with rasterio.open(path, "w", driver="GTiff", width=arr.shape[1], height=arr.shape[0], count=1,
                       dtype="float32", crs=crs, transform=transform, nodata=0.0) as dst:
        dst.write(arr.astype(np.float32), 1)
    return path


def _arosics(py: str, code: Path, ref: Path, tgt: Path, out: Path, footprints: bool) -> Points:
    args = [py, str(code), str(ref), str(tgt), str(out)] + ([FOOT_REF, FOOT_TGT] if footprints else ["-", "-"])
    res = subprocess.run(args, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise RuntimeError(res.stderr[-2000:])
    with out.open(encoding="utf-8") as fh:
        return {(int(float(r["X_IM"])), int(float(r["Y_IM"]))): (float(r["X_SHIFT_PX"]), float(r["Y_SHIFT_PX"]))
                for r in csv.DictReader(fh) if r["OUTLIER"] == "False" and float(r["X_SHIFT_PX"]) != -9999}


def _ours(ref: Path, tgt: Path) -> Points:
    from viq_proc_geometry.processors.registration import RegistrationParameters, read_margin, run_registration
    from viq_proc_geometry.rasterio_io import read_pair

    r, t = read_pair(ref, tgt, nodata=0, margin=read_margin(5.0))
    tp, _, _ = run_registration(r, t, RegistrationParameters(nodata=0))
    return {(int(tp.x_im[k]), int(tp.y_im[k])): (float(tp.sx[k]), float(tp.sy[k])) for k in np.flatnonzero(tp.valid)}


def _rms(e: np.ndarray[Any, Any]) -> str:
    r = np.sqrt(np.mean(e**2, axis=0))
    m = e.mean(axis=0)
    p = np.percentile(np.abs(e), 90, axis=0)
    return f"RMS ({r[0]:.3f}, {r[1]:.3f}) px, mean ({m[0]:+.3f}, {m[1]:+.3f}), 90th pct |e| ({p[0]:.3f}, {p[1]:.3f})"


def synthetic(py: str | None, tmp: Path, code: Path, noise: float) -> None:
    """Experiment A."""
    from scipy import ndimage

    with rasterio.open(REF) as src:
        full = src.read(1).astype(np.float64)
        transform, crs = src.transform, src.crs
    r0, c0, h, w = 1200, 1000, 1500, 1200  # a block fully inside the reference's data
    blk = full[r0:r0 + h, c0:c0 + w]
    assert (blk > 0).all()
    cx, cy = (0.35, 7e-4, -2e-4), (-0.55, 2e-4, 6e-4)  # the fraction sweeps ≈ 1 px across the block
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    warped = ndimage.map_coordinates(blk, [yy + cy[0] + cy[1] * xx + cy[2] * yy, xx + cx[0] + cx[1] * xx + cx[2] * yy],
                                     order=5, mode="reflect")
    rng = np.random.default_rng(1)
    sd = noise * float(blk.std())
    a = blk + sd * rng.standard_normal(blk.shape)
    b = warped + sd * rng.standard_normal(blk.shape)
    bt = transform * rasterio.Affine.translation(c0, r0)
    rp, tp = _write(tmp / "syn_ref.tif", a, bt, crs), _write(tmp / "syn_tgt.tif", b, bt, crs)
    tools = {"ours": _ours(rp, tp)}
    if py:
        tools["AROSICS 1.12.1"] = _arosics(py, code, rp, tp, tmp / "syn_aros.csv", footprints=False)
    common = set.intersection(*(set(v) for v in tools.values()))
    keys = sorted(common)
    truth = np.array([(cx[0] + cx[1] * x + cx[2] * y, cy[0] + cy[1] * x + cy[2] * y) for x, y in keys])
    print(f"A. synthetic affine field on the S2 reference texture, noise {noise:.0%}: {len(keys)} nodes valid for "
          f"every tool")
    est = {}
    for name, pts in tools.items():
        est[name] = np.array([pts[k] for k in keys])
        print(f"   {name} − truth: {_rms(est[name] - truth)}")
    if len(est) == 2:
        print(f"   ours − AROSICS: {_rms(est['ours'] - est['AROSICS 1.12.1'])}")


def equivariance(py: str | None, tmp: Path, code: Path, shifts: list[tuple[float, float]]) -> None:
    """Experiment B."""
    from scipy import ndimage

    with rasterio.open(TGT) as src:
        t = src.read(1).astype(np.float64)
        transform, crs = src.transform, src.crs
    valid = t > 0
    filled = np.where(valid, t, t[valid].mean())
    runs: dict[str, dict[tuple[float, float], Points]] = {"ours": {}}
    if py:
        runs["AROSICS 1.12.1"] = {}
    spec = np.fft.fft2(filled)
    for g in [(0.0, 0.0), *shifts]:
        # content moved by +g: moved(p) = t(p − g), so its shift against the reference is s − g
        moved = np.real(np.fft.ifft2(ndimage.fourier_shift(spec, (g[1], g[0])))) if g != (0.0, 0.0) else filled
        path = _write(tmp / f"tgt_{g[0]}_{g[1]}.tif", np.where(valid, moved, 0.0), transform, crs)
        runs["ours"][g] = _ours(REF, path)
        if py:
            runs["AROSICS 1.12.1"][g] = _arosics(py, code, REF, path, tmp / f"aros_{g[0]}_{g[1]}.csv", True)
    print("B. real pair, target moved by a known constant g (Fourier shift): e = s(g) − s(0) + g per node, "
          "nodes valid in every run of both tools")
    common = set.intersection(*(set(p) for tool in runs.values() for p in tool.values()))
    keys = sorted(common)
    for name, by_g in runs.items():
        base = np.array([by_g[(0.0, 0.0)][k] for k in keys])
        errs = []
        for g in shifts:
            e = np.array([by_g[g][k] for k in keys]) - base + np.array(g)
            errs.append(e)
            print(f"   {name}, g = {g}: {_rms(e)}")
        print(f"   {name}, all g: {_rms(np.concatenate(errs))} over {len(keys)} nodes × {len(shifts)} shifts")
    if len(runs) == 2:
        for g in [(0.0, 0.0), *shifts]:
            d = np.array([runs["ours"][g][k] for k in keys]) - np.array([runs["AROSICS 1.12.1"][g][k] for k in keys])
            print(f"   ours − AROSICS at g = {g}: {_rms(d)}")


def main() -> None:
    """Both experiments."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--arosics-python", default=os.environ.get("VIQ_AROSICS_PYTHON") or (
        "/opt/arosics-venv/bin/python" if Path("/opt/arosics-venv/bin/python").is_file() else None))
    ap.add_argument("--noise", type=float, default=0.02)
    args = ap.parse_args()
    if not args.arosics_python:
        print("AROSICS interpreter not found: our errors only", file=sys.stderr)
    print("threads pinned: OMP/OPENBLAS/MKL_NUM_THREADS=1; load average at start: "
          + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        code = tmp / "aros.py"
        code.write_text(AROSICS_CODE, encoding="utf-8")
        synthetic(args.arosics_python, tmp, code, args.noise)
        equivariance(args.arosics_python, tmp, code, [(0.25, 0.0), (0.5, 0.0), (0.0, 0.25), (0.0, 0.5),
                                                      (0.33, 0.33), (-0.25, 0.4)])


if __name__ == "__main__":
    main()
