"""``rpc-bias``: image-space bias of a secondary RPC model relative to a reference one, from tie points."""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path
from typing import ClassVar

import numpy as np
import rasterio
from affine import Affine
from pydantic import BaseModel, ConfigDict, Field
from rasterio.errors import RasterioError

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
from viq_interfaces.errors import MissingInputError, ParameterError, ProcessingError
from viq_interfaces.processor import Processor
from viq_proc_geometry.grid import GridSpec, compute_grid
from viq_proc_geometry.outliers import OutlierSpec, filter_points
from viq_proc_geometry.processors.common import write_json
from viq_proc_geometry.rasterio_io import Raster
from viq_proc_geometry.rpc import F64, Rpc, RpcBias, bias_from_shifts, predicted_mapping, read_rpc, write_geom

VERSION = "01.00"


class RpcBiasParameters(BaseModel):
    """Parameters of ``rpc-bias``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    height: float | None = Field(default=None, description="Constant ellipsoidal height when no DEM; None = RPC.")
    grid_step: int = Field(default=40, ge=8, description="Tie-point grid step, reference crop px.")
    window: int = Field(default=96, ge=32, le=1024, description="Matching window, px.")
    mapping_step: int = Field(default=8, ge=1, le=64, description="Spacing of the exact model mapping, px.")
    max_shift: float = Field(default=20.0, gt=0.0, description="Largest residual accepted, px (terrain parallax).")
    passes: int = Field(default=4, ge=1, le=10, description="Correct-resample-match passes (equivariance).")
    min_points: int = Field(default=10, ge=3, description="Fewer valid tie points end the run with a warning.")


def _image(path: Path) -> tuple[Raster, tuple[float, float]]:
    """A sensor-geometry crop and its (col, row) offset in the full scene (the TIFF geotransform, CARS style)."""
    try:
        with rasterio.open(path) as src:
            data = src.read(1, out_dtype=np.float32)
            t = src.transform
    except RasterioError as err:
        raise MissingInputError(f"{path}: cannot read image: {err}") from err
    if t.a != 1.0 or abs(t.e) != 1.0 or t.b or t.d:
        raise ParameterError(f"{path.name}: geotransform {tuple(t)[:6]} is not a crop offset (unit pixels)")
    valid = np.isfinite(data)
    return Raster(data, valid, Affine.identity(), None, path), (t.c, t.f)


class DemSampler:
    """Ellipsoidal heights from DEM tiles (EPSG:4326 or any CRS) plus an optional geoid grid (e.g. EGM96 .gtx)."""

    def __init__(self, tiles: list[Path], geoid: Path | None) -> None:
        self.tiles = tiles
        self.geoid = geoid

    @staticmethod
    def _sample(path: Path, lon: F64, lat: F64) -> F64:
        from rasterio.warp import transform as warp

        with rasterio.open(path) as src:
            xs, ys = (lon, lat) if (src.crs is None or src.crs.to_epsg() == 4326) else warp(
                "EPSG:4326", src.crs, list(lon), list(lat))
            xs, ys = np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)
            left, bottom, right, top = src.bounds
            out = np.full(lon.shape, np.nan)
            inside = (xs >= left) & (xs <= right) & (ys >= bottom) & (ys <= top)
            if inside.any():
                from scipy import ndimage

                arr = src.read(1, out_dtype=np.float64)
                col, row = ~src.transform * (xs[inside], ys[inside])
                vals = ndimage.map_coordinates(arr, [np.asarray(row) - 0.5, np.asarray(col) - 0.5], order=1,
                                               mode="nearest")
                if src.nodata is not None:
                    vals[vals == src.nodata] = np.nan
                vals[vals < -1000] = np.nan
                out[inside] = vals
            return out

    def heights(self, lon: F64, lat: F64) -> F64:
        """Ellipsoidal height (m) at each point; ProcessingError where no tile covers it."""
        h = np.full(lon.shape, np.nan)
        try:
            for tile in self.tiles:
                v = self._sample(tile, lon, lat)
                h = np.where(np.isnan(h), v, h)
            if self.geoid is not None:
                n = self._sample(self.geoid, np.where(lon > 180, lon - 360, lon), lat)
                if np.isnan(n).any():
                    raise ProcessingError("the geoid grid does not cover the scene")
                h = h + n
        except RasterioError as err:
            raise MissingInputError(f"cannot read the DEM/geoid: {err}") from err
        if np.isnan(h).any():
            raise ProcessingError(
                f"the DEM does not cover the scene: {int(np.isnan(h).sum())} of {h.size} points without a height"
            )
        return h


def _one_pass(
    ref_img: Raster, ref_off: tuple[float, float], ref_rpc: Rpc, sec_img: Raster, sec_off: tuple[float, float],
    sec_rpc: Rpc, p: RpcBiasParameters, z: F64, ll: F64, ss: F64,
) -> tuple[F64, F64, F64, F64]:
    """Resample the secondary onto the reference through the models and match: per-point (line, samp) bias."""
    from scipy import ndimage  # imported when used: every processor of the package is loaded by the plugin

    h, w = ref_img.shape
    st = p.mapping_step
    ml, ms = predicted_mapping(ref_rpc, sec_rpc, ref_off, sec_off, ll.ravel(), ss.ravel(), z.ravel())
    ml, ms = ml.reshape(ll.shape), ms.reshape(ll.shape)
    rows, cols = np.mgrid[0:h, 0:w].astype(np.float64)
    fl = ndimage.map_coordinates(ml, [rows / st, cols / st], order=1)
    fs = ndimage.map_coordinates(ms, [rows / st, cols / st], order=1)
    resampled = ndimage.map_coordinates(sec_img.data.astype(np.float64), [fl, fs], order=3, mode="constant",
                                        cval=np.nan).astype(np.float32)
    inside = (fl >= 1) & (fs >= 1) & (fl <= sec_img.shape[0] - 2) & (fs <= sec_img.shape[1] - 2)
    valid = np.isfinite(resampled) & inside
    if valid.mean() < 0.05:
        raise ProcessingError("the two images do not overlap through their RPC models")
    tgt = Raster(np.where(valid, resampled, 0).astype(np.float32), valid, Affine.identity(), None, sec_img.path)
    spec = GridSpec(step=p.grid_step, window=p.window, min_window=p.window // 2, max_shift=p.max_shift)
    tp = compute_grid(ref_img, tgt, spec)
    # terrain parallax is signal here, not outliers: only the match-quality (L1) test is applied
    f = filter_points(tp.x_im.astype(float), tp.y_im.astype(float), tp.sx, tp.sy, tp.ok, tp.peak, tp.reliability,
                      OutlierSpec(mad_k=1e9, ransac_min_px=1e9))
    v = f.inlier
    nl = tp.y_im[v].astype(np.float64) - 0.5
    ns = tp.x_im[v].astype(np.float64) - 0.5
    # reference pixel p shows the secondary at f(p); its ground truly sits at reference pixel p + s, which the
    # model maps to f(p + s) ≈ f(p) + J·s instead of f(p): the secondary model is off by J·s
    dl, ds = bias_from_shifts(ml, ms, nl, ns, tp.sy[v], tp.sx[v], st)
    return dl, ds, nl, ns


def estimate_rpc_bias(
    ref_img: Raster, ref_off: tuple[float, float], ref_rpc: Rpc, sec_img: Raster, sec_off: tuple[float, float],
    sec_rpc: Rpc, p: RpcBiasParameters, dem: DemSampler | None,
) -> tuple[RpcBias, int]:
    """Iterate: correct the secondary model by the running estimate, resample, match, add the median residual.

    Iterating makes the estimate equivariant (a bias added to the model comes back whole): the last pass
    matches the same resampled image whatever the starting bias. Without a DEM the heights are constant, and
    for an along-track pair the row bias absorbs the mean terrain parallax (height and row are not separable).
    """

    h, w = ref_img.shape
    st = p.mapping_step
    gl = np.arange(0, h + st, st, dtype=np.float64)
    gs = np.arange(0, w + st, st, dtype=np.float64)
    ll, ss = np.meshgrid(gl, gs, indexing="ij")
    z = np.full(ll.shape, p.height if p.height is not None else ref_rpc.height_off)
    if dem is not None:
        for _ in range(4):  # height of the ground point seen by each reference pixel
            lon, lat = ref_rpc.localize(ll.ravel() + ref_off[1], ss.ravel() + ref_off[0], z.ravel())
            z = dem.heights(lon, lat).reshape(ll.shape)
    total_l = total_s = 0.0
    dl = ds = nl = ns = np.zeros(0)
    for _ in range(p.passes):
        dl, ds, nl, ns = _one_pass(ref_img, ref_off, ref_rpc, sec_img, sec_off,
                                   sec_rpc.with_offsets(-total_l, -total_s), p, z, ll, ss)
        if dl.size < p.min_points:
            break
        step_l, step_s = float(np.median(dl)), float(np.median(ds))
        total_l += step_l
        total_s += step_s
        if abs(step_l) < 0.01 and abs(step_s) < 0.01:
            break
    n = int(dl.size)
    if n < p.min_points:
        nan3 = np.full(3, np.nan)
        return RpcBias(math.nan, math.nan, math.nan, math.nan, n, math.nan, nan3, nan3), n
    bl, bs = total_l + dl - np.median(dl), total_s + ds - np.median(ds)
    a = np.stack([np.ones(n), nl, ns], axis=1)
    cl, *_ = np.linalg.lstsq(a, bl, rcond=None)
    cs, *_ = np.linalg.lstsq(a, bs, rcond=None)
    res = np.concatenate([bl - np.median(bl), bs - np.median(bs)])
    return RpcBias(
        line=total_l, samp=total_s,
        sigma_line=1.2533 * float(np.std(dl, ddof=1)) / math.sqrt(n),
        sigma_samp=1.2533 * float(np.std(ds, ddof=1)) / math.sqrt(n),
        n_points=n, rmse_px=float(np.sqrt(np.mean(res**2))), affine_line=np.asarray(cl, dtype=np.float64),
        affine_samp=np.asarray(cs, dtype=np.float64),
    ), n


class RpcBiasProcessor(Processor):
    """Relative image-space bias of a secondary RPC model, and the corrected model."""

    declaration: ClassVar[ProcessorDeclaration] = ProcessorDeclaration(
        name="rpc-bias",
        version=VERSION,
        description=(
            "Two sensor-geometry images with RPC models (OSSIM .geom or DIMAP XML) and a DEM with its geoid (or a "
            "constant height): the secondary image is resampled onto the reference through both models, dense tie "
            "points measure the residual, converted into the secondary model's line/sample bias; writes the "
            "corrected secondary model."
        ),
        inputs=(
            InputPort(name="reference_image", product_types=("EXT_SENSOR",), description="Reference crop (TIFF)."),
            InputPort(name="reference_model", product_types=("EXT_RPCMOD",), description="Its RPC model."),
            InputPort(name="secondary_image", product_types=("EXT_SENSOR",), description="Secondary crop."),
            InputPort(name="secondary_model", product_types=("EXT_RPCMOD",), description="Its RPC model."),
            InputPort(name="dem", product_types=("AUX_REFDE1", "EXT_DEMTIL"), min_count=0, max_count=None,
                      mandatory=False, description="DEM tile(s), heights above the geoid."),
            InputPort(name="geoid", product_types=("EXT_GEOIDG",), min_count=0, mandatory=False,
                      description="Geoid undulation grid (e.g. EGM96 .gtx)."),
        ),
        outputs=(
            OutputPort(name="corrected_model", product_type="EXT_RPCMOD", format="TXT", file_name_pattern="*.geom",
                       description="Secondary model with corrected line/sample offsets."),
            OutputPort(name="report", product_type="IMQ_RPCREP", format="JSON", file_name_pattern="*_RPCBIAS.json",
                       description="Bias, uncertainties, affine residual model, tie-point counts."),
        ),
        resources=Resources(cores=1, memory_mb=2048, walltime=timedelta(minutes=30)),
    )
    Parameters: ClassVar[type[BaseModel]] = RpcBiasParameters

    def run(self, ctx: RunContext[BaseModel]) -> ProcessorResult:
        """Estimate, write the corrected model and the report."""
        p = ctx.params
        if not isinstance(p, RpcBiasParameters):
            raise ParameterError(f"parameters are {type(p).__name__}, expected RpcBiasParameters")
        ref_rpc = read_rpc(ctx.one("reference_model").path)
        sec_model_path = Path(ctx.one("secondary_model").path)
        sec_rpc = read_rpc(sec_model_path)
        ref_img, ref_off = _image(Path(ctx.one("reference_image").path))
        sec_img, sec_off = _image(Path(ctx.one("secondary_image").path))
        dem_tiles = [Path(x.path) for x in ctx.all("dem")]
        geoid = ctx.all("geoid")
        dem = DemSampler(dem_tiles, Path(geoid[0].path) if geoid else None) if dem_tiles else None
        bias, n = estimate_rpc_bias(ref_img, ref_off, ref_rpc, sec_img, sec_off, sec_rpc, p, dem)
        out = ctx.output_dir
        if n < p.min_points:
            msg = f"only {n} valid tie points (< {p.min_points}); no bias estimated"
            ctx.logger.warning(msg)
            return ProcessorResult(status=RunStatus.WARNING, warnings=(msg,), summary=msg,
                                   measurements=(Measurement(name="valid_points", value=float(n)),))
        corr_line, corr_samp = -bias.line, -bias.samp
        corrected = sec_rpc.with_offsets(corr_line, corr_samp)
        geom = out / f"{sec_model_path.stem}_corrected.geom"
        write_geom(geom, corrected, sec_model_path if sec_model_path.suffix == ".geom" else None)
        report = {"line_bias_px": bias.line, "samp_bias_px": bias.samp, "line_offset_correction": corr_line,
                  "sample_offset_correction": corr_samp, "sigma_px": [bias.sigma_line, bias.sigma_samp],
                  "valid_points": n, "rmse_px": bias.rmse_px, "affine_line": bias.affine_line.tolist(),
                  "affine_samp": bias.affine_samp.tolist(), "height_source": "dem" if dem else "constant",
                  "height_m": p.height if p.height is not None else ref_rpc.height_off}
        js = out / f"{ctx.job_id}_RPCBIAS.json"
        write_json(js, report)
        summary = (f"secondary model bias line {bias.line:+.3f} px, sample {bias.samp:+.3f} px "
                   f"({n} tie points, RMSE {bias.rmse_px:.3f} px)")
        ctx.logger.info(summary)
        return ProcessorResult(
            outputs=(OutputProduct(port="corrected_model", path=geom, product_type="EXT_RPCMOD"),
                     OutputProduct(port="report", path=js, product_type="IMQ_RPCREP")),
            measurements=(
                Measurement(name="line_offset_correction", value=corr_line, unit="px", uncertainty=bias.sigma_line),
                Measurement(name="sample_offset_correction", value=corr_samp, unit="px", uncertainty=bias.sigma_samp),
                Measurement(name="valid_points", value=float(n), unit="count"),
                Measurement(name="rpc_residual_rmse_px", value=bias.rmse_px, unit="px"),
            ),
            summary=summary)
