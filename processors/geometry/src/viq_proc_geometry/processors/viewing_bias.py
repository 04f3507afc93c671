"""``viewing-bias``: steering biases (roll/pitch/yaw) and focal homothety from tie points → IMQ_SBPARS candidate."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import ClassVar

import numpy as np
import rasterio
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
from viq_proc_geometry.biases import F64, PARAMS, BandTies, fit_biases
from viq_proc_geometry.grid import GridSpec, compute_grid
from viq_proc_geometry.outliers import filter_points
from viq_proc_geometry.processors.common import write_json
from viq_proc_geometry.rasterio_io import Raster, read_product, read_raster
from viq_venus import geometry
from viq_venus.config import InstrumentConfig, default_config, load_instrument_config
from viq_venus.gipp import SteeringBiasContent, make_header, write_gipp

VERSION = "01.00"


class ViewingBiasParameters(BaseModel):
    """Parameters of ``viewing-bias``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bands: tuple[str, ...] = Field(default=(), description="Bands used; empty = every band of the product.")
    grid_step: int = Field(default=64, ge=8, description="Tie-point grid step, px.")
    window: int = Field(default=128, ge=32, le=1024, description="Matching window, px.")
    fit_homothety: bool = Field(default=True, description="Estimate the focal homothety too.")
    instrument_config: str = Field(default="", description="Instrument TOML (focal plane in force); empty = default.")
    min_points: int = Field(default=20, ge=4, description="Fewer valid tie points end the run with a warning.")
    file_class: str = Field(default="TEST", pattern=r"^[0-9A-Z]{4}$", description="File class of the candidate.")


def _config(path: str) -> InstrumentConfig:
    return load_instrument_config(path) if path else default_config()


def sample_dem(path: str, product_grid: Raster, lines: F64, cols: F64) -> F64:
    """Heights at tie points (pixel-centre map coordinates of the product grid), bilinear-free nearest sample.

    Raises MissingInputError when the DEM cannot be read and ProcessingError when it does not cover a point.
    """
    t = product_grid.transform
    xs = t.c + (cols + 0.5) * t.a
    ys = t.f + (lines + 0.5) * t.e
    try:
        with rasterio.open(path) as src:
            if src.crs and product_grid.crs and src.crs.to_string() != product_grid.crs:
                raise ParameterError(f"DEM CRS {src.crs} differs from the product CRS {product_grid.crs}")
            nodata = src.nodata
            left, bottom, right, top = src.bounds
            outside = (xs < left) | (xs > right) | (ys < bottom) | (ys > top)
            if outside.any():
                raise ProcessingError(
                    f"the DEM does not cover the scene: {int(outside.sum())} of {xs.size} tie points outside "
                    f"its bounds {src.bounds}"
                )
            vals = np.array([v[0] for v in src.sample(zip(xs, ys, strict=True))], dtype=np.float64)
    except RasterioError as err:
        raise MissingInputError(f"{path}: cannot read the DEM: {err}") from err
    if nodata is not None and np.any(vals == nodata):
        raise ProcessingError(f"the DEM has no-data under {int(np.sum(vals == nodata))} tie points")
    return np.asarray(vals, dtype=np.float64)


class ViewingBias(Processor):
    """Steering biases and focal homothety of the VENµS viewing model from tie points against a reference image."""

    declaration: ClassVar[ProcessorDeclaration] = ProcessorDeclaration(
        name="viewing-bias",
        version=VERSION,
        description=(
            "Registers every band of a VENµS-like product on the reference ortho image, removes the focal-plane "
            "calibration in force and the terrain parallax (DEM), and fits roll/pitch/yaw steering biases and a "
            "focal homothety by weighted least squares with covariance; writes an IMQ_SBPARS candidate."
        ),
        inputs=(
            InputPort(name="product", product_types=("VSC_L1VALD", "VSC_RAWDAT"), description="Product to model."),
            InputPort(name="reference", product_types=("AUX_REFIMG",), description="Reference ortho image."),
            InputPort(name="dem", product_types=("AUX_REFDE1", "EXT_GEOIMG"), min_count=0, mandatory=False,
                      description="Heights (m) covering the scene, same CRS; absent = flat terrain."),
        ),
        outputs=(
            OutputPort(name="candidate", product_type="IMQ_SBPARS", format="XML", file_name_pattern="*IMQ_SBPARS*.EEF",
                       description="Steering-bias GIPP candidate (µrad)."),
            OutputPort(name="report", product_type="IMQ_SBPREP", format="JSON", file_name_pattern="*_SBPARS.json",
                       description="Estimates, covariance, homothety, residuals, tie-point counts per band."),
        ),
        resources=Resources(cores=1, memory_mb=2048, walltime=timedelta(minutes=30)),
    )
    Parameters: ClassVar[type[BaseModel]] = ViewingBiasParameters

    def run(self, ctx: RunContext[BaseModel]) -> ProcessorResult:
        """Tie points per band → least squares → candidate GIPP; see :mod:`viq_proc_geometry.biases`."""
        p = ctx.params
        if not isinstance(p, ViewingBiasParameters):
            raise ParameterError(f"parameters are {type(p).__name__}, expected ViewingBiasParameters")
        prod = read_product(ctx.one("product").path)
        refp = read_product(ctx.one("reference").path)
        dem_in = ctx.all("dem")
        cfg = _config(p.instrument_config)
        bands = list(p.bands) or [b for b in prod.bands if b in refp.bands]
        missing = [b for b in bands if b not in prod.bands or b not in refp.bands]
        if missing or not bands:
            raise ParameterError(f"band(s) {missing or bands} missing from the product or the reference")
        k = geometry.pixels_per_radian(cfg)
        pitch_um = cfg.optics.pixel_pitch_um * 1e-3
        fp = geometry.focal_plane_offsets_px(cfg)
        spec = GridSpec(step=p.grid_step, window=p.window, min_window=p.window // 2)
        ties: list[BandTies] = []
        counts: dict[str, int] = {}
        width = 0
        for n, b in enumerate(bands):
            img = read_raster(prod.bands[b])
            ref = read_raster(refp.bands[b])
            width = img.shape[1]
            tp = compute_grid(ref, img, spec)
            f = filter_points(tp.x_im.astype(float), tp.y_im.astype(float), tp.sx, tp.sy, tp.ok, tp.peak,
                              tp.reliability)
            v = f.inlier
            counts[b] = int(v.sum())
            # node (x, y) is a pixel corner: the window centre is at pixel index (x − 0.5, y − 0.5)
            lines = tp.y_im[v].astype(float) - 0.5
            cols = tp.x_im[v].astype(float) - 0.5
            heights = sample_dem(str(dem_in[0].path), img, lines, cols) if dem_in and v.any() else None
            ties.append(BandTies(
                band=b, line=lines, col=cols, sx=tp.sx[v], sy=tp.sy[v], fp_dx=fp[b][0], fp_dy=fp[b][1],
                x_b_px=geometry.focal_plane_position_mm(cfg, b) / pitch_um,
                terrain_px_per_m=math.tan(geometry.view_angle_rad(cfg, b)) / geometry.gsd_m(cfg), height_m=heights,
            ))
            ctx.logger.progress(100.0 * (n + 1) / len(bands), f"band {b}: {counts[b]} tie points")
            ctx.check_cancelled()
        total = sum(counts.values())
        if total < p.min_points:
            msg = f"only {total} valid tie points (< {p.min_points}): no bias estimate (featureless or cloudy?)"
            ctx.logger.warning(msg)
            return ProcessorResult(status=RunStatus.WARNING, warnings=(msg,), summary=msg,
                                   measurements=(Measurement(name="valid_points", value=float(total)),))
        fit = fit_biases(ties, k, (width - 1) / 2.0, p.fit_homothety)
        urad = {name: fit.value(name) * 1e6 for name in ("roll", "pitch", "yaw")}
        sig = {name: fit.sigma(name) * 1e6 for name in ("roll", "pitch", "yaw")}
        hom, hom_sig = fit.value("homothety"), fit.sigma("homothety")
        out = ctx.output_dir
        when = datetime.fromisoformat(prod.sensing_start) if prod.sensing_start else datetime(2000, 1, 1)
        content = SteeringBiasContent(pitch_bias=round(urad["pitch"], 4), roll_bias=round(urad["roll"], 4),
                                      yaw_bias=round(urad["yaw"], 4))
        header = make_header(content, creator="viewing-bias", creator_version=VERSION, creation_date=when,
                             file_class=p.file_class, validity_start=when,
                             notes=(f"Candidate from {prod.header.name}: sigma roll/pitch/yaw "
                                    f"{sig['roll']:.3f}/{sig['pitch']:.3f}/{sig['yaw']:.3f} urad, homothety "
                                    f"{hom:.3e} +- {hom_sig:.1e}"))
        gipp_path = write_gipp(out, header, content)
        report = {
            "product": prod.header.name, "reference": refp.header.name, "bands": counts, "n_obs": fit.n_obs,
            "rmse_px": fit.rmse_px, "k_px_per_rad": k, "estimates_urad": urad, "sigma_urad": sig,
            "homothety": hom, "homothety_sigma": hom_sig, "covariance": fit.covariance.tolist(),
            "parameters": list(PARAMS), "dem": str(dem_in[0].path) if dem_in else None,
        }
        js = out / f"{ctx.job_id}_SBPARS.json"
        write_json(js, report)
        measurements = [Measurement(name=f"{n}_bias", value=urad[n], unit="urad", uncertainty=sig[n])
                        for n in ("roll", "pitch", "yaw")]
        measurements += [
            Measurement(name="focal_homothety", value=hom, unit="", uncertainty=hom_sig),
            Measurement(name="bias_fit_rmse_px", value=fit.rmse_px, unit="px"),
            Measurement(name="valid_points", value=float(total), unit="count"),
        ]
        summary = (f"roll {urad['roll']:.2f}±{sig['roll']:.2f}, pitch {urad['pitch']:.2f}±{sig['pitch']:.2f}, "
                   f"yaw {urad['yaw']:.1f}±{sig['yaw']:.1f} µrad; homothety {hom:.2e}; RMSE {fit.rmse_px:.3f} px")
        ctx.logger.info(summary)
        return ProcessorResult(
            outputs=(OutputProduct(port="candidate", path=gipp_path, product_type="IMQ_SBPARS"),
                     OutputProduct(port="report", path=js, product_type="IMQ_SBPREP")),
            measurements=tuple(measurements), summary=summary)
