"""``band-to-band``: residual misregistration of every band of a VENµS-like product against a reference band."""

from __future__ import annotations

import csv
import math
from datetime import timedelta
from typing import ClassVar

import numpy as np
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
from viq_interfaces.errors import ParameterError, ProcessingError
from viq_interfaces.processor import Processor
from viq_proc_geometry.b2b import B2BSpec, BandProfile, fit_time_model
from viq_proc_geometry.b2b import band_profile as measure_band
from viq_proc_geometry.plots import series_plot
from viq_proc_geometry.processors.common import write_json
from viq_proc_geometry.rasterio_io import read_product, read_raster
from viq_venus import geometry
from viq_venus.config import InstrumentConfig, default_config, load_instrument_config

VERSION = "01.00"
SPEC_PX = 0.05
"""VENµS L1 band-to-band specification, px."""


class B2BParameters(BaseModel):
    """Parameters of ``band-to-band``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reference_band: str = Field(default="B4", description="Band every other band is registered to.")
    bands: tuple[str, ...] = Field(default=(), description="Bands to measure; empty = every band of the product.")
    window: int = Field(default=64, ge=16, le=1024, description="Matching window, px (square).")
    step_lines: int = Field(default=32, ge=1, description="Line step of the window grid (profile resolution).")
    step_cols: int = Field(default=64, ge=1, description="Column step of the window grid.")
    min_reliability: float = Field(default=20.0, ge=0.0, le=100.0, description="Minimum window reliability, %.")
    knot_s: float = Field(default=0.05, gt=0.0, description="Knot spacing of the attitude B-spline, s.")
    instrument_config: str = Field(default="", description="Instrument TOML (band time offsets); empty = default.")
    line_period_s: float | None = Field(default=None, gt=0.0, description="Line period; None = header/config.")


def _config(path: str) -> InstrumentConfig:
    return load_instrument_config(path) if path else default_config()


class BandToBand(Processor):
    """Band-to-band misregistration per band, per detector unit and along the lines, with a time model."""

    declaration: ClassVar[ProcessorDeclaration] = ProcessorDeclaration(
        name="band-to-band",
        version=VERSION,
        description=(
            "Registers every band of a VENµS-like product on a reference band with a dense window grid; reports "
            "the mean shift per band and per detector unit, the profile along the lines, and fits the profiles "
            "as static band offsets plus an attitude signal over the bands' acquisition times."
        ),
        inputs=(InputPort(name="product", product_types=("VSC_L1VALD", "VSC_RAWDAT"),
                          description="Multi-band product (header with one GeoTIFF per band)."),),
        outputs=(
            OutputPort(name="profiles", product_type="IMQ_B2BPRF", format="CSV", file_name_pattern="*_B2B.csv",
                       description="Per band and line block: measured and modelled shifts."),
            OutputPort(name="report", product_type="IMQ_B2BREP", format="JSON", file_name_pattern="*_B2B.json",
                       description="Per band/unit statistics and the time model."),
            OutputPort(name="plots", product_type="IMQ_B2BPLT", format="PNG", file_name_pattern="*_B2B_*.png",
                       max_count=None, description="Profiles along the lines (one or more figures)."),
        ),
        resources=Resources(cores=1, memory_mb=2048, walltime=timedelta(minutes=30)),
    )
    Parameters: ClassVar[type[BaseModel]] = B2BParameters

    def run(self, ctx: RunContext[BaseModel]) -> ProcessorResult:
        """Measure, model, write; see :mod:`viq_proc_geometry.b2b`."""
        p = ctx.params
        if not isinstance(p, B2BParameters):
            raise ParameterError(f"parameters are {type(p).__name__}, expected B2BParameters")
        prod = read_product(ctx.one("product").path)
        cfg = _config(p.instrument_config)
        if p.reference_band not in prod.bands:
            raise ParameterError(f"reference_band {p.reference_band!r} not in the product ({', '.join(prod.bands)})")
        bands = list(p.bands) or list(prod.bands)
        missing = [b for b in bands if b not in prod.bands]
        if missing:
            raise ParameterError(f"bands {missing} not in the product ({', '.join(prod.bands)})")
        line_period = p.line_period_s or prod.line_period_s or geometry.line_period_s(cfg)
        ref = read_raster(prod.bands[p.reference_band])
        spec = B2BSpec(window=p.window, step_lines=p.step_lines, step_cols=p.step_cols,
                       min_reliability=p.min_reliability, knot_s=p.knot_s)
        if min(ref.shape) < p.window:
            raise ParameterError(f"window {p.window} larger than the image {ref.shape}")
        profiles: dict[str, BandProfile] = {}
        for k, b in enumerate(bands):
            if b == p.reference_band:
                continue
            img = read_raster(prod.bands[b])
            if img.shape != ref.shape:
                raise ProcessingError(f"band {b} is {img.shape}, reference band is {ref.shape}")
            profiles[b] = measure_band(ref.data, img.data, b, spec, ref.valid & img.valid)
            ctx.logger.progress(100.0 * (k + 1) / len(bands), f"band {b}")
            ctx.check_cancelled()
        good = {b: pr for b, pr in profiles.items() if pr.window_dx.size >= 3}
        bad = sorted(set(profiles) - set(good))
        warnings: list[str] = []
        if bad:
            warnings.append(f"too few valid windows for band(s) {', '.join(bad)}: no shift reported for them")
            ctx.logger.warning(warnings[-1])
        if not good:
            raise ProcessingError("no band could be registered on the reference band (featureless or cloudy scene?)")
        offsets = {b: geometry.time_offset_s(cfg, b) for b in [*good, p.reference_band]}
        model = fit_time_model(good, offsets, p.reference_band, line_period, spec)
        measurements: list[Measurement] = []
        per_band: dict[str, object] = {}
        all_dx, all_dy = [], []
        for b, pr in good.items():
            ex, ey = pr.sem()
            measurements += [
                Measurement(name="b2b_dx_px", value=pr.mean_dx, unit="px", band=b, direction="across",
                            uncertainty=ex),
                Measurement(name="b2b_dy_px", value=pr.mean_dy, unit="px", band=b, direction="along",
                            uncertainty=ey),
                Measurement(name="b2b_static_dx_px", value=model.static_dx[b], unit="px", band=b),
                Measurement(name="b2b_static_dy_px", value=model.static_dy[b], unit="px", band=b),
            ]
            ok = np.isfinite(pr.dx)
            all_dx += list(pr.dx[ok])
            all_dy += list(pr.dy[ok])
            unit, _ = cfg.unit_of(b)
            per_band[b] = {"unit": unit.name, "mean_dx_px": pr.mean_dx, "mean_dy_px": pr.mean_dy,
                           "sem_px": [ex, ey], "static_dx_px": model.static_dx[b], "static_dy_px": model.static_dy[b],
                           "profile_std_px": [float(np.nanstd(pr.dx)), float(np.nanstd(pr.dy))],
                           "windows": int(pr.window_dx.size), "time_offset_s": offsets[b]}
        per_unit: dict[str, object] = {}
        for unit in cfg.focal_plane.units:
            members = [b for b in unit.bands if b in good]
            if not members:
                continue
            udx = float(np.mean([good[b].mean_dx for b in members]))
            udy = float(np.mean([good[b].mean_dy for b in members]))
            per_unit[unit.name] = {"bands": members, "mean_dx_px": udx, "mean_dy_px": udy}
            measurements += [Measurement(name=f"b2b_{unit.name.lower()}_dx_px", value=udx, unit="px"),
                             Measurement(name=f"b2b_{unit.name.lower()}_dy_px", value=udy, unit="px")]
        rms = float(np.sqrt(np.mean(np.square(all_dx + all_dy))))
        worst = max(math.hypot(pr.mean_dx, pr.mean_dy) for pr in good.values())
        measurements += [
            Measurement(name="b2b_rmse_px", value=rms, unit="px"),
            Measurement(name="b2b_max_px", value=worst, unit="px"),
            Measurement(name="b2b_model_rmse_px", value=model.rmse, unit="px"),
        ]
        if worst > SPEC_PX:
            ctx.logger.info(f"largest band misregistration {worst:.3f} px exceeds the {SPEC_PX} px L1 specification")
        out = ctx.output_dir
        stem = f"{ctx.job_id}_{prod.header.stem}"
        csv_path = out / f"{stem}_B2B.csv"
        with csv_path.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["band", "line", "windows", "dx_px", "dy_px", "model_dx_px", "model_dy_px"])
            for b, pr in good.items():
                mx, my = model.predict(b, pr.lines)
                for i in range(pr.lines.size):
                    w.writerow([b, f"{pr.lines[i]:.1f}", int(pr.n[i]), f"{pr.dx[i]:.5f}", f"{pr.dy[i]:.5f}",
                                f"{mx[i]:.5f}", f"{my[i]:.5f}"])
        report = {"reference_band": p.reference_band, "line_period_s": line_period, "bands": per_band,
                  "units": per_unit, "b2b_rmse_px": rms, "b2b_max_px": worst, "model_rmse_px": model.rmse,
                  "spec_px": SPEC_PX, "failed_bands": bad}
        js = out / f"{stem}_B2B.json"
        write_json(js, report)
        outputs = [OutputProduct(port="profiles", path=csv_path, product_type="IMQ_B2BPRF",
                                 bands=tuple(good)),
                   OutputProduct(port="report", path=js, product_type="IMQ_B2BREP", bands=tuple(good))]
        for axis in ("dx", "dy"):
            png = out / f"{stem}_B2B_{axis}.png"
            lines = next(iter(good.values())).lines
            series_plot(png, list(lines), {b: list(getattr(pr, axis)) for b, pr in good.items()}, "line",
                        f"{axis} vs {p.reference_band} (px)", f"band-to-band {axis}", hline=SPEC_PX)
            outputs.append(OutputProduct(port="plots", path=png, product_type="IMQ_B2BPLT"))
        summary = f"{len(good)} bands vs {p.reference_band}: RMS {rms:.3f} px, worst band {worst:.3f} px"
        ctx.logger.info(summary)
        return ProcessorResult(outputs=tuple(outputs), measurements=tuple(measurements),
                               status=RunStatus.WARNING if bad else RunStatus.OK, warnings=tuple(warnings),
                               summary=summary)
