"""``multi-date-registration``: residual of each L1 product of a site against the site's reference image."""

from __future__ import annotations

import csv
import math
from datetime import datetime, timedelta
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
from viq_interfaces.errors import ParameterError
from viq_interfaces.processor import Processor
from viq_proc_geometry.plots import series_plot
from viq_proc_geometry.processors.common import open_image, write_json
from viq_proc_geometry.processors.registration import RegistrationParameters, run_registration
from viq_proc_geometry.rasterio_io import read_product

VERSION = "01.00"
SPEC_M = 3.0
"""VENµS multi-date registration target, m."""


class MultiDateParameters(BaseModel):
    """Parameters of ``multi-date-registration``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    band: str = Field(default="B4", description="Band registered (name in the product headers).")
    grid_step: int = Field(default=64, ge=8, description="Tie-point grid step, px.")
    window: int = Field(default=128, ge=32, le=1024, description="Matching window, px.")
    min_valid_points: int = Field(default=10, ge=1, description="Dates with fewer valid points are flagged.")


class MultiDateRegistration(Processor):
    """Per-date registration residuals (m) of a series of products against one reference image, and the trend."""

    declaration: ClassVar[ProcessorDeclaration] = ProcessorDeclaration(
        name="multi-date-registration",
        version=VERSION,
        description=(
            "Registers each product of a series on the site's reference image (dense tie points, outlier "
            "filters) and reports the residual per date in metres (IMAGE_RESIDUES_REFIMG), the correlation rate, "
            "the valid-point ratio and a linear trend over time."
        ),
        inputs=(
            InputPort(name="products", product_types=("VSC_L1VALD",), max_count=None, description="The series."),
            InputPort(name="reference", product_types=("AUX_REFIMG", "VSC_L1VALD"), description="Site reference."),
        ),
        outputs=(
            OutputPort(name="table", product_type="IMQ_MDRTAB", format="CSV", file_name_pattern="*_MULTIDATE.csv",
                       description="One row per date: shifts, residual, rates."),
            OutputPort(name="report", product_type="IMQ_MDRREP", format="JSON", file_name_pattern="*_MULTIDATE.json",
                       description="Per-date results and the trend."),
            OutputPort(name="plots", product_type="IMQ_MDRPLT", format="PNG", file_name_pattern="*_MULTIDATE.png",
                       description="Residual per date."),
        ),
        resources=Resources(cores=1, memory_mb=2048, walltime=timedelta(hours=1)),
    )
    Parameters: ClassVar[type[BaseModel]] = MultiDateParameters

    def run(self, ctx: RunContext[BaseModel]) -> ProcessorResult:
        """Register every date; see the package README."""
        p = ctx.params
        if not isinstance(p, MultiDateParameters):
            raise ParameterError(f"parameters are {type(p).__name__}, expected MultiDateParameters")
        ref = open_image(ctx.one("reference"), p.band, None)
        rp = RegistrationParameters(grid_step=p.grid_step, window=p.window, min_window=p.window // 2, band=p.band)
        rows: list[dict[str, object]] = []
        warnings: list[str] = []
        for k, item in enumerate(ctx.all("products")):
            img = open_image(item, p.band, None)
            tp, filt, _ = run_registration(ref, img, rp)
            v = filt.inlier
            n = int(v.sum())
            computed = int((tp.win_x > 0).sum())
            when = read_product(item.path).sensing_start if item.path.suffix.upper() == ".HDR" else ""
            row: dict[str, object] = {"product": item.path.name, "date": when, "valid_points": n,
                                      "correlation_rate": int(tp.ok.sum()) / computed if computed else 0.0,
                                      "valid_point_ratio": n / len(tp) if len(tp) else 0.0}
            if n >= p.min_valid_points:
                ex, ey = tp.shift_x_map[v], tp.shift_y_map[v]
                row |= {"shift_x_m": float(ex.mean()), "shift_y_m": float(ey.mean()),
                        "residual_m": float(math.hypot(ex.mean(), ey.mean())),
                        "residual_rms_m": float(np.sqrt(np.mean(ex**2 + ey**2))), "fit_rmse_px": filt.rmse}
            else:
                warnings.append(f"{item.path.name}: only {n} valid tie points, no residual")
                ctx.logger.warning(warnings[-1])
            rows.append(row)
            ctx.logger.progress(100.0 * (k + 1) / len(ctx.all("products")), item.path.name)
            ctx.check_cancelled()
        ok = [r for r in rows if "residual_m" in r]
        out = ctx.output_dir
        stem = f"{ctx.job_id}_{p.band}"
        csv_path = out / f"{stem}_MULTIDATE.csv"
        keys = ["product", "date", "valid_points", "correlation_rate", "valid_point_ratio", "shift_x_m", "shift_y_m",
                "residual_m", "residual_rms_m", "fit_rmse_px"]
        with csv_path.open("w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=keys)
            w.writeheader()
            for r in rows:
                w.writerow({k: r.get(k, "") for k in keys})
        measurements = [
            Measurement(name="correlation_rate",
                        value=float(np.mean([float(str(r["correlation_rate"])) for r in rows])), unit="ratio"),
            Measurement(name="valid_point_ratio",
                        value=float(np.mean([float(str(r["valid_point_ratio"])) for r in rows])), unit="ratio"),
        ]
        trend = None
        if ok:
            res = np.array([float(str(r["residual_m"])) for r in ok])
            measurements += [
                Measurement(name="image_residues_refimg", value=float(np.sqrt(np.mean(res**2))), unit="m"),
                Measurement(name="image_residues_refimg_max", value=float(res.max()), unit="m"),
            ]
            dates = [str(r["date"]) for r in ok]
            if len(ok) >= 2 and all(dates):
                t = np.array([(datetime.fromisoformat(d) - datetime.fromisoformat(dates[0])).total_seconds()
                              for d in dates]) / (365.25 * 86400)
                if np.ptp(t) > 0:
                    trend = float(np.polyfit(t, res, 1)[0])
                    measurements.append(Measurement(name="residual_trend", value=trend, unit="m/year"))
        if not ok:
            warnings.append("no date could be registered")
        report = {"band": p.band, "dates": rows, "spec_m": SPEC_M, "trend_m_per_year": trend}
        js = out / f"{stem}_MULTIDATE.json"
        write_json(js, report)
        outputs = [OutputProduct(port="table", path=csv_path, product_type="IMQ_MDRTAB"),
                   OutputProduct(port="report", path=js, product_type="IMQ_MDRREP")]
        if ok:
            png = out / f"{stem}_MULTIDATE.png"
            series_plot(png, list(range(1, len(ok) + 1)), {"residual (m)": [float(str(r["residual_m"])) for r in ok]},
                        "date index", "residual (m)", "multi-date residual vs reference", hline=SPEC_M)
            outputs.append(OutputProduct(port="plots", path=png, product_type="IMQ_MDRPLT"))
        summary = f"{len(ok)}/{len(rows)} dates registered" + (
            f", RMS residual {measurements[2].value:.2f} m" if ok else "")
        ctx.logger.info(summary)
        return ProcessorResult(outputs=tuple(outputs), measurements=tuple(measurements),
                               status=RunStatus.WARNING if warnings else RunStatus.OK, warnings=tuple(warnings),
                               summary=summary)
