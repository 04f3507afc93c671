"""Processor ``dem-compare``: Nuth & Kääb coregistration of two DEMs and difference statistics by slope class."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import rasterio
from affine import Affine
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field
from rasterio.crs import CRS
from rasterio.errors import RasterioError

from viq_interfaces import (
    InputPort,
    Measurement,
    OutputPort,
    OutputProduct,
    Processor,
    ProcessorDeclaration,
    ProcessorResult,
    Resources,
    RunContext,
)
from viq_proc_dem import __version__, report, stats
from viq_proc_dem.errors import AllVoidError, DemInputError
from viq_proc_dem.mosaic import GridSpec, pixel_offset
from viq_proc_dem.nuth_kaab import CoregResult, coregister
from viq_proc_dem.rasterio_io import warp, write_cog

DEM_TYPES = ("AUX_REFDE1", "AUX_REFDE2", "AUX_SRTM3_", "AUX_SRTM1_", "AUX_COPDEM", "AUX_DEMTIL", "IMQ_STEDEM")
REPORT_TYPE = "IMQ_DEMCMP"


class DemCompareParameters(BaseModel):
    """Parameters of ``dem-compare``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_iterations: int = Field(default=10, ge=1, le=50, description="Most Nuth & Kääb iterations.")
    tolerance_px: float = Field(default=1e-3, gt=0, description="Stop when the shift increment is below this (px).")
    initial_shift_px: tuple[float, float] = Field(default=(0.0, 0.0), description="First guess (dx, dy) in px.")
    pad_px: int = Field(default=32, ge=0, le=1000, description="Reference cells kept around the DEM for shifting.")
    reference_nodata: float | None = Field(default=None, description="Nodata of the reference if its file has none.")
    dem_nodata: float | None = Field(default=-32768.0, description="Nodata of the DEM if its file has none.")
    slope_classes: tuple[float, ...] = Field(default=(0.0, 5.0, 10.0, 25.0, 45.0), description="Class lower edges.")
    slope_unit: Literal["percent", "degrees", "demcompare"] = Field(
        default="percent", description="Slope measure of the classes; 'demcompare' = 100 × angle in radians, what "
        "demcompare 0.x calls percent."
    )
    remove_outliers: bool = Field(default=True, description="Leave out differences beyond 3σ of the mean.")


@dataclass
class Dem:
    """A DEM in memory: float64 heights (NaN invalid) on a grid."""

    z: NDArray[np.float64]
    grid: GridSpec
    crs: CRS


def read_dem(path: Path, nodata_default: float | None) -> Dem:
    """Read band 1 as float64 with NaN for nodata (the file's, else ``nodata_default``)."""
    try:
        with rasterio.open(path) as ds:
            a = ds.read(1).astype(np.float64)
            nd = ds.nodata if ds.nodata is not None else nodata_default
            grid = GridSpec(ds.transform, ds.width, ds.height)
            crs = ds.crs
    except (RasterioError, OSError) as err:
        raise DemInputError(f"DEM {path}: GDAL cannot read it ({err})") from err
    if crs is None:
        raise DemInputError(f"DEM {path}: no coordinate reference system")
    if nd is not None and np.isfinite(nd):
        a[a == nd] = np.nan
    if not np.isfinite(a).any():
        raise AllVoidError(f"DEM {path}: no valid height")
    return Dem(a, grid, crs)


def reference_on_dem_grid(ref: Dem, dem: Dem, pad: int) -> NDArray[np.float64]:
    """The reference on the DEM's grid grown by ``pad`` cells each side (sliced when aligned, else bilinear)."""
    t = dem.grid.transform @ Affine.translation(-pad, -pad)
    padded = GridSpec(t, dem.grid.width + 2 * pad, dem.grid.height + 2 * pad)
    off = pixel_offset(ref.grid.transform, padded.transform) if ref.crs == dem.crs else None
    if off is not None:
        out = np.full((padded.height, padded.width), np.nan)
        r0, c0 = off
        rr0, cc0 = max(r0, 0), max(c0, 0)
        rr1, cc1 = min(r0 + ref.grid.height, padded.height), min(c0 + ref.grid.width, padded.width)
        if rr1 > rr0 and cc1 > cc0:
            out[rr0:rr1, cc0:cc1] = ref.z[rr0 - r0 : rr1 - r0, cc0 - c0 : cc1 - c0]
        return out
    return warp(ref.z, ref.grid.transform, ref.crs, padded, dem.crs, "bilinear").astype(np.float64)


@dataclass
class Comparison:
    """Coregistration and statistics of one DEM pair."""

    coreg: CoregResult
    overall: dict[str, float]
    overall_before: dict[str, float]
    classes: list[tuple[str, dict[str, float]]]
    difference: NDArray[np.float64]
    dx_map: float
    dy_map: float
    seconds: float


def compare(ref: Dem, dem: Dem, p: DemCompareParameters) -> Comparison:
    """Coregister ``dem`` on ``ref`` and compute the statistics."""
    t0 = time.perf_counter()
    refz = reference_on_dem_grid(ref, dem, p.pad_px)
    if not np.isfinite(refz).any():
        raise DemInputError("the reference and the DEM do not overlap")
    before = refz[p.pad_px : p.pad_px + dem.grid.height, p.pad_px : p.pad_px + dem.grid.width] - dem.z
    res = coregister(refz, dem.z, (p.pad_px, p.pad_px), p.max_iterations, p.tolerance_px, p.initial_shift_px)
    lat = None
    if dem.crs.is_geographic:
        t = dem.grid.transform
        lat = t.f + t.e * (np.arange(dem.grid.height) + 0.5)
    xres, yres = stats.metric_pixel_size(dem.grid.transform.a, dem.grid.transform.e, lat)
    slope = stats.slope_for_classes(res.ref_shifted, xres, yres, p.slope_unit)
    diff = res.difference.copy()
    if p.remove_outliers:
        diff[~stats.remove_outliers(diff)] = np.nan
    classes = stats.by_class(diff, slope, p.slope_classes)
    return Comparison(
        coreg=res, overall=stats.describe(diff), overall_before=stats.describe(before), classes=classes,
        difference=diff, dx_map=res.dx * dem.grid.transform.a, dy_map=res.dy * dem.grid.transform.e,
        seconds=time.perf_counter() - t0,
    )


class DemCompareProcessor(Processor):
    """DEM comparison: Nuth & Kääb coregistration, then difference statistics overall and by slope class."""

    declaration: ClassVar[ProcessorDeclaration] = ProcessorDeclaration(
        name="dem-compare",
        version=__version__,
        description=(
            "Compares a DEM with a reference DEM: iterative Nuth & Kääb coregistration (sub-pixel shift in the "
            "DEM's pixels and map units, vertical bias), then difference statistics (mean, median, NMAD, RMSE, "
            "percentiles) overall and by slope class, with a difference map, histogram and by-slope plots."
        ),
        inputs=(
            InputPort(name="reference", product_types=DEM_TYPES, description="Reference DEM (any GDAL raster)."),
            InputPort(name="secondary", product_types=DEM_TYPES,
                      description="DEM to compare with the reference; shifts are in its pixels."),
        ),
        outputs=(
            OutputPort(name="report", product_type=REPORT_TYPE, format="JSON", file_name_pattern="dem_compare.json",
                       description="Shifts, bias, statistics overall and by slope class, iterations."),
            OutputPort(name="classes", product_type=REPORT_TYPE, format="CSV",
                       file_name_pattern="dem_compare_slope_classes.csv", description="Statistics per slope class."),
            OutputPort(name="difference", product_type=REPORT_TYPE, format="COG",
                       file_name_pattern="dem_compare_difference.tif",
                       description="reference − DEM after coregistration, on the DEM's grid."),
            OutputPort(name="plots", product_type=REPORT_TYPE, format="PNG", min_count=3, max_count=3,
                       file_name_pattern="dem_compare_*.png", description="Difference map, histogram, by-slope."),
        ),
        resources=Resources(cores=1, memory_mb=2048),
    )
    Parameters: ClassVar[type[BaseModel]] = DemCompareParameters

    def run(self, ctx: RunContext[BaseModel]) -> ProcessorResult:
        """Compare the ``secondary`` input with the ``reference`` input."""
        p = ctx.params
        if not isinstance(p, DemCompareParameters):
            p = DemCompareParameters.model_validate(p.model_dump())
        ref_in, dem_in = ctx.one("reference"), ctx.one("secondary")
        ref = read_dem(ref_in.path, p.reference_nodata)
        dem = read_dem(dem_in.path, p.dem_nodata)
        ctx.logger.progress(10.0, "coregistration")
        cmp_ = compare(ref, dem, p)
        c = cmp_.coreg
        for i, it in enumerate(c.iterations, 1):
            ctx.logger.info(f"iteration {i}: shift ({it.dx:.4f}, {it.dy:.4f}) px, increment ({it.ddx:.4f}, "
                            f"{it.ddy:.4f}), NMAD {it.nmad:.3f} m")
        out = ctx.output_dir
        out.mkdir(parents=True, exist_ok=True)
        doc: dict[str, Any] = {
            "reference": str(ref_in.path), "secondary": str(dem_in.path),
            "coregistration": {
                "method": "Nuth & Kääb (2011), iterative", "dx_px": c.dx, "dy_px": c.dy,
                "dx_map": cmp_.dx_map, "dy_map": cmp_.dy_map, "dz_m": c.dz, "converged": c.converged,
                "convention": "the DEM's georeferencing moves by (dx_px, dy_px) of its pixels (x right, y down) "
                              "to match the reference; dz = mean(reference − DEM) after the shift",
                "gdal_translate_ullr": _ullr(dem.grid, c.dx, c.dy),
                "iterations": [it.__dict__ for it in c.iterations],
            },
            "statistics_before": cmp_.overall_before,
            "statistics": cmp_.overall,
            "slope_unit": p.slope_unit,
            "slope_classes": {label: st for label, st in cmp_.classes},
            "seconds": cmp_.seconds,
        }
        paths = {
            "report": out / "dem_compare.json", "classes": out / "dem_compare_slope_classes.csv",
            "difference": out / "dem_compare_difference.tif",
        }
        paths["report"].write_text(json.dumps(doc, indent=2), encoding="utf-8")
        report.write_class_csv(paths["classes"], cmp_.classes)
        write_cog(paths["difference"], cmp_.difference.astype(np.float32), dem.grid, dem.crs, float("nan"),
                  {"VIQ_PROCESSOR": f"dem-compare {__version__}", "VIQ_DX_PX": f"{c.dx:.5f}",
                   "VIQ_DY_PX": f"{c.dy:.5f}", "VIQ_DZ_M": f"{c.dz:.5f}"}, predictor=3)
        plots = [out / "dem_compare_difference_map.png", out / "dem_compare_histogram.png",
                 out / "dem_compare_by_slope.png"]
        report.compare_plots(cmp_.difference, cmp_.classes, cmp_.overall["nmad"], *plots)
        outputs = [OutputProduct(port=k, path=v, product_type=REPORT_TYPE) for k, v in paths.items()]
        outputs += [OutputProduct(port="plots", path=pp, product_type=REPORT_TYPE) for pp in plots]
        measurements = (
            Measurement(name="dx_px", value=c.dx, unit="px"),
            Measurement(name="dy_px", value=c.dy, unit="px"),
            Measurement(name="dx_map", value=cmp_.dx_map, unit=_unit(dem.crs)),
            Measurement(name="dy_map", value=cmp_.dy_map, unit=_unit(dem.crs)),
            Measurement(name="dz_m", value=c.dz, unit="m"),
            Measurement(name="nmad_m", value=cmp_.overall["nmad"], unit="m"),
            Measurement(name="rmse_m", value=cmp_.overall["rmse"], unit="m"),
        )
        return ProcessorResult(
            outputs=tuple(outputs), measurements=measurements,
            summary=f"shift ({c.dx:.3f}, {c.dy:.3f}) px, dz {c.dz:.3f} m, NMAD {cmp_.overall['nmad']:.2f} m",
        )


def _unit(crs: CRS) -> str:
    return "deg" if crs.is_geographic else "m"


def _ullr(grid: GridSpec, dx: float, dy: float) -> dict[str, float]:
    t = grid.transform @ Affine.translation(dx, dy)
    return {"ulx": t.c, "uly": t.f, "lrx": t.c + t.a * grid.width, "lry": t.f + t.e * grid.height}
