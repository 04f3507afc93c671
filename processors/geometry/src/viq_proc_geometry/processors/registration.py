"""``image-registration``: dense sub-pixel tie points of a target image against a reference image."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import ClassVar, Literal

import numpy as np
import numpy.typing as npt
from affine import Affine
from pydantic import BaseModel, ConfigDict, Field

from viq_interfaces import (
    InputPort,
    Measurement,
    OutputPort,
    OutputProduct,
    ProcessorDeclaration,
    ProcessorResult,
    Resources,
    RunContext,
    RunStatus,
)
from viq_interfaces.errors import ParameterError
from viq_interfaces.processor import Processor
from viq_proc_geometry.correlate import load_fft
from viq_proc_geometry.grid import GridSpec, TiePoints, compute_grid
from viq_proc_geometry.outliers import Filtered, OutlierSpec, filter_points
from viq_proc_geometry.plots import registration_plot
from viq_proc_geometry.processors.common import (
    IMAGE_TYPES,
    open_pair,
    write_json,
    write_tiepoints_csv,
    write_tiepoints_gpkg,
)
from viq_proc_geometry.rasterio_io import Raster

VERSION = "01.00"


class RegistrationParameters(BaseModel):
    """Parameters of ``image-registration``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    grid_step: int = Field(default=100, ge=4, le=10000, description="Grid spacing in target pixels.")
    window: int = Field(default=256, ge=16, le=2048, description="Matching window size, px (square).")
    min_window: int = Field(default=64, ge=16, le=2048, description="Smallest window near data edges, px.")
    taper: float = Field(default=0.3, ge=0.0, le=1.0, description="Tukey taper fraction of the windows.")
    alpha: float = Field(default=0.5, ge=0.0, le=1.0,
                         description="Spectral normalisation exponent: 1 = pure phase correlation, 0 = plain "
                         "cross-correlation; 0.5 resists noise on smooth scenes.")
    cutoff: float = Field(default=0.8, gt=0.1, le=1.0,
                          description="Radial frequency cut-off of the correlation, fraction of Nyquist.")
    max_shift: float = Field(default=5.0, gt=0.0, le=100.0, description="Largest accepted shift, px.")
    iterations: int = Field(default=2, ge=1, le=5,
                            description="Passes; >1 re-extracts the reference window at the integer shift.")
    nodata: float | None = Field(default=None, description="No-data value of both images; None = from the files.")
    band: str = Field(default="", description="Band to match: name in a product header, or B<n> of a raster.")
    min_reliability: float = Field(default=30.0, ge=0.0, le=100.0, description="L1 filter: minimum reliability %.")
    mad_k: float = Field(default=4.0, gt=0.0, description="L2 filter: MAD multiplier.")
    ransac_min_px: float = Field(default=0.3, gt=0.0, description="L3 filter: minimum RANSAC threshold, px.")
    format: Literal["csv", "gpkg"] = Field(default="csv",
                                           description="Tie-point table format: CSV or GeoPackage (point layer "
                                           "'tiepoints' in the target's CRS).")
    min_valid_points: int = Field(default=10, ge=1, description="Fewer valid points end the run with a warning.")
    threads: int = Field(default=2, ge=1, le=16,
                         description="Threads decoding the two images and matching window stacks (same results "
                         "for any value).")
    global_x: float | None = Field(default=None, description="Map X of the global-shift window; None = centre.")
    global_y: float | None = Field(default=None, description="Map Y of the global-shift window; None = centre.")


def read_margin(max_shift: float) -> int:
    """Pixels read beyond the other image's extent: enough for every re-extracted window (shift + 1 + rounding)."""
    return math.ceil(max_shift) + 4


def global_match(ref: Raster, tgt: Raster, spec: GridSpec, x_map: float | None, y_map: float | None) -> TiePoints:
    """One full-size window (``spec.window``) at a map position (default: the centre of the overlap).

    When the window there leaves the data or covers no-data, it is moved to the nearest position (16 px steps,
    up to one window away) where it is fully valid in both images; the returned node is where it was matched.
    """
    rl, rb, rr, rt = ref.bounds()
    tl, tb, tr, tt = tgt.bounds()
    cx = x_map if x_map is not None else (max(rl, tl) + min(rr, tr)) / 2.0
    cy = y_map if y_map is not None else (max(rb, tb) + min(rt, tt)) / 2.0
    col, row = ~tgt.transform * (cx, cy)
    ocol, orow = ~ref.transform * tgt.transform * (0.0, 0.0)
    oc, orr = round(ocol), round(orow)
    half = spec.window // 2
    margin = math.ceil(spec.max_shift) + 1
    th, tw = tgt.shape
    rh, rw = ref.shape
    steps = np.arange(-spec.window, spec.window + 1, 16)
    cands = sorted(((int(dx), int(dy)) for dx in steps for dy in steps), key=lambda d: d[0] ** 2 + d[1] ** 2)
    chosen = (round(col), round(row))
    for dx, dy in cands:
        c, r = round(col) + dx, round(row) + dy
        if c - half < 0 or r - half < 0 or c + half > tw or r + half > th:
            continue
        rc, rr_ = c + oc, r + orr
        if rc - half - margin < 0 or rr_ - half - margin < 0 or rc + half + margin > rw or rr_ + half + margin > rh:
            continue
        if tgt.valid[r - half : r + half, c - half : c + half].all() and ref.valid[
            rr_ - half - margin : rr_ + half + margin, rc - half - margin : rc + half + margin
        ].all():
            chosen = (c, r)
            break
    nodes = (np.array([chosen[0]], dtype=np.int64), np.array([chosen[1]], dtype=np.int64))
    return compute_grid(ref, tgt, spec, nodes=nodes)


def _imports_while_decoding() -> None:
    """What the run imports anyway, imported while the two images decode in their threads (one core would
    otherwise idle): scipy.fft, rasterio (headers, shift map) and Pillow (plot)."""
    import PIL.ImageDraw  # noqa: F401
    import rasterio  # noqa: F401

    load_fft()


def grid_spec(p: RegistrationParameters) -> GridSpec:
    """The grid and matching settings of the parameters."""
    if p.min_window > p.window:
        raise ParameterError(f"min_window {p.min_window} exceeds window {p.window}")
    return GridSpec(step=p.grid_step, window=p.window, min_window=p.min_window, taper=p.taper, alpha=p.alpha,
                    cutoff=p.cutoff, max_shift=p.max_shift, iterations=p.iterations)


def run_registration(ref: Raster, tgt: Raster, p: RegistrationParameters,
                     glob: TiePoints | None = None) -> tuple[TiePoints, Filtered, GridSpec]:
    """Grid, match and filter (the numerical core of the processor).

    The global window (``glob``, else :func:`global_match` at the parameters' position) seeds the first pass of
    every window at its rounded shift, so that windows whose shift rounds to it need no second pass (the
    tie points are those of a first pass at zero offset: the final pass is at each window's rounded shift).
    """
    spec = grid_spec(p)
    if glob is None:
        glob = global_match(ref, tgt, spec, p.global_x, p.global_y)
    start = (0, 0)
    if glob.ok[0]:
        start = (round(float(glob.sx[0])), round(float(glob.sy[0])))
    tp = compute_grid(ref, tgt, spec, threads=p.threads, start=start)
    filt = filter_points(tp.x_im.astype(float), tp.y_im.astype(float), tp.sx, tp.sy, tp.ok, tp.peak,
                         tp.reliability,
                         OutlierSpec(min_reliability=p.min_reliability, mad_k=p.mad_k, ransac_min_px=p.ransac_min_px))
    tp.outlier = tp.ok & ~filt.inlier
    return tp, filt, spec


def _write_maps(path: str, tp: TiePoints, step: int, tgt: Raster, valid: npt.NDArray[np.bool_]) -> None:
    import rasterio

    xs = np.unique(tp.x_im)
    ys = np.unique(tp.y_im)
    arr = np.full((2, ys.size, xs.size), np.nan, dtype=np.float32)
    ix = np.searchsorted(xs, tp.x_im)
    iy = np.searchsorted(ys, tp.y_im)
    arr[0, iy[valid], ix[valid]] = tp.shift_x_map[valid]
    arr[1, iy[valid], ix[valid]] = tp.shift_y_map[valid]
    t = tgt.transform
    # node (x, y) at pixel corner → cell of size step centred on it
    transform = Affine(t.a * step, 0.0, t.c + (xs[0] - step / 2) * t.a, 0.0, t.e * step, t.f + (ys[0] - step / 2) * t.e)
    with rasterio.open(path, "w", driver="GTiff", width=xs.size, height=ys.size, count=2, dtype="float32",
                       crs=tgt.crs, transform=transform, nodata=float("nan")) as dst:
        dst.write(arr)
        dst.set_band_description(1, "shift_x_map")
        dst.set_band_description(2, "shift_y_map")


class ImageRegistration(Processor):
    """Dense sub-pixel registration of a target image against a reference image (same CRS and pixel size)."""

    declaration: ClassVar[ProcessorDeclaration] = ProcessorDeclaration(
        name="image-registration",
        version=VERSION,
        description=(
            "Dense tie-point grid between a target and a reference image on the same map grid: phase correlation "
            "with Newton refinement of the band-limited correlation peak (sub-pixel), quality per point, L1/L2/L3 "
            "outlier rejection (reliability, MAD, RANSAC affine), global shift and shift maps."
        ),
        inputs=(
            InputPort(name="reference", product_types=IMAGE_TYPES, description="Reference image (map geometry)."),
            InputPort(name="target", product_types=IMAGE_TYPES, description="Image to register."),
        ),
        outputs=(
            OutputPort(name="tiepoints", product_type="IMQ_TIEPTS", format="CSV|GPKG", file_name_pattern="*_TIEPTS.*",
                       description="Tie points: node, shifts (px, map units), quality, outlier flags (CSV, or "
                       "GeoPackage with parameter format=gpkg)."),
            OutputPort(name="shift_maps", product_type="IMQ_SHFMAP", format="GTiff", min_count=0,
                       file_name_pattern="*_SHIFTMAP.tif", description="Shift X/Y map on the grid (map units)."),
            OutputPort(name="plots", product_type="IMQ_REGPLT", format="PNG", file_name_pattern="*_REGISTRATION.png",
                       description="Shift vectors and histograms."),
            OutputPort(name="report", product_type="IMQ_REGREP", format="JSON", file_name_pattern="*_REGISTRATION.json",
                       description="Summary: global shift, statistics, affine model."),
        ),
        resources=Resources(cores=2, memory_mb=2048, walltime=timedelta(minutes=30)),
    )
    Parameters: ClassVar[type[BaseModel]] = RegistrationParameters

    def run(self, ctx: RunContext[BaseModel]) -> ProcessorResult:
        """Register ``target`` on ``reference``; see the package README for the method."""
        p = ctx.params
        if not isinstance(p, RegistrationParameters):
            raise ParameterError(f"parameters are {type(p).__name__}, expected RegistrationParameters")
        ref, tgt = open_pair(ctx.one("reference"), ctx.one("target"), p.band, p.nodata, read_margin(p.max_shift),
                             threads=p.threads, while_decoding=_imports_while_decoding)
        ctx.logger.info(f"reference {ref.path.name} {ref.shape}, target {tgt.path.name} {tgt.shape}")
        glob = global_match(ref, tgt, grid_spec(p), p.global_x, p.global_y)
        tp, filt, _ = run_registration(ref, tgt, p, glob)
        ctx.check_cancelled()
        valid = filt.inlier
        n_valid = int(valid.sum())
        n_matched = int(tp.ok.sum())
        computed = int((tp.win_x > 0).sum())
        rate = n_matched / computed if computed else 0.0
        out = ctx.output_dir
        stem = f"{ctx.job_id}_{tgt.path.stem}"
        csv_path = out / f"{stem}_TIEPTS.{p.format}"
        if p.format == "gpkg":
            write_tiepoints_gpkg(csv_path, tp, filt, tgt.crs)
        else:
            write_tiepoints_csv(csv_path, tp, filt)
        png = out / f"{stem}_REGISTRATION.png"
        registration_plot(png, tp, valid, tgt.path.stem)
        outputs = [
            OutputProduct(port="tiepoints", path=csv_path, product_type="IMQ_TIEPTS"),
            OutputProduct(port="plots", path=png, product_type="IMQ_REGPLT"),
        ]
        measurements = [
            Measurement(name="valid_points", value=float(n_valid), unit="count"),
            Measurement(name="correlation_rate", value=rate, unit="ratio"),
            Measurement(name="valid_point_ratio", value=n_valid / len(tp) if len(tp) else 0.0, unit="ratio"),
        ]
        warnings: list[str] = []
        status = RunStatus.OK
        report: dict[str, object] = {
            "nodes": len(tp), "windows_computed": computed, "matched": n_matched, "valid": n_valid,
            "rejected": {"l1": int(filt.l1.sum()), "l2": int(filt.l2.sum()), "l3": int(filt.l3.sum())},
            "correlation_rate": rate, "grid_step": p.grid_step, "window": p.window,
        }
        if n_valid < p.min_valid_points:
            reasons = sorted({r for r in tp.reason if r})
            msg = (f"only {n_valid} valid tie points (< {p.min_valid_points}); no shift reported. "
                   f"Failures: {'; '.join(reasons) or 'rejected as outliers'}")
            ctx.logger.warning(msg)
            warnings.append(msg)
            status = RunStatus.WARNING
            report["warning"] = msg
        else:
            sxm, sym = tp.shift_x_map[valid], tp.shift_y_map[valid]
            sx, sy = tp.sx[valid], tp.sy[valid]
            maps = out / f"{stem}_SHIFTMAP.tif"
            _write_maps(str(maps), tp, p.grid_step, tgt, valid)
            outputs.append(OutputProduct(port="shift_maps", path=maps, product_type="IMQ_SHFMAP"))
            rmse = filt.rmse
            mean_x, mean_y = float(sxm.mean()), float(sym.mean())
            measurements += [
                Measurement(name="shift_x_map", value=mean_x, unit="m",
                            uncertainty=float(sxm.std(ddof=1) / math.sqrt(n_valid)) if n_valid > 1 else None),
                Measurement(name="shift_y_map", value=mean_y, unit="m",
                            uncertainty=float(sym.std(ddof=1) / math.sqrt(n_valid)) if n_valid > 1 else None),
                Measurement(name="shift_x_px", value=float(sx.mean()), unit="px"),
                Measurement(name="shift_y_px", value=float(sy.mean()), unit="px"),
                Measurement(name="residual_rmse_px", value=rmse, unit="px"),
                Measurement(name="residual_rmse", value=rmse * (tp.res_x + tp.res_y) / 2.0, unit="m"),
            ]
            report.update({
                "mean_shift_map": [mean_x, mean_y], "median_shift_map": [float(np.median(sxm)), float(np.median(sym))],
                "std_shift_map": [float(sxm.std()), float(sym.std())], "mean_shift_px": [float(sx.mean()),
                                                                                         float(sy.mean())],
                "affine_px": {"x": filt.coef_x.tolist(), "y": filt.coef_y.tolist()}, "residual_rmse_px": rmse,
            })
        if glob.ok[0]:
            measurements += [
                Measurement(name="global_shift_x_map", value=float(glob.shift_x_map[0]), unit="m"),
                Measurement(name="global_shift_y_map", value=float(glob.shift_y_map[0]), unit="m"),
            ]
            report["global"] = {"x_map": float(glob.x_map[0]), "y_map": float(glob.y_map[0]),
                                "shift_px": [float(glob.sx[0]), float(glob.sy[0])],
                                "shift_map": [float(glob.shift_x_map[0]), float(glob.shift_y_map[0])],
                                "reliability": float(glob.reliability[0])}
        else:
            report["global"] = {"failed": glob.reason[0]}
        js = out / f"{stem}_REGISTRATION.json"
        write_json(js, report)
        outputs.append(OutputProduct(port="report", path=js, product_type="IMQ_REGREP"))
        summary = (f"{n_valid}/{len(tp)} valid tie points, correlation rate {rate:.2f}"
                   + (f", mean shift ({report['mean_shift_map']}) m" if status == RunStatus.OK else ""))
        ctx.logger.info(summary)
        return ProcessorResult(outputs=tuple(outputs), measurements=tuple(measurements), status=status,
                               warnings=tuple(warnings), summary=summary)
