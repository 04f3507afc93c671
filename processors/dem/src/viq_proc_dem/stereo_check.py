"""Processor ``stereo-dem-check``: B5/B6 along-track stereo of one acquisition → heights → reference DEM.

Geometry (``viq_venus.geometry``): pixel (i, j) of band b sees the ground line ``i + c_b − h·k_b`` with
``c_b`` the band's static along-track offset (focal plane + pitch bias of the instrument configuration) and
``k_b = tan θ_b / GSD`` the parallax per metre. A ground point at height H is seen by band 2 ``d`` lines after
band 1 with ``d = (c₁ − c₂) + H·(k₂ − k₁)``, so ``H = (d − (c₁ − c₂)) / (k₂ − k₁)``; it lies on the ground at
``(i + c₁ − H·k₁, j + dx₁)``, where the reference DEM is sampled. Attitude jitter is not known to the model: it
shows up as a line-dependent error of the heights (see the report's per-line profile). With
``line_profile="remove"`` that profile (the median difference to the reference per line, a function of time
only) is taken as the jitter of the pair and removed from the heights before the statistics; the report keeps
the statistics before the removal and the removed profile in pixels of disparity.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import rasterio
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field
from rasterio.errors import RasterioError
from scipy import ndimage

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
    RunStatus,
)
from viq_interfaces.errors import ConfigurationError, MissingInputError, ProcessingError
from viq_proc_dem import __version__, stats
from viq_proc_dem.dem_compare import DEM_TYPES, read_dem
from viq_proc_dem.errors import DemInputError
from viq_proc_dem.mosaic import GridSpec
from viq_proc_dem.rasterio_io import warp
from viq_proc_dem.stereo import disparity

PRODUCT_TYPES = ("VSC_RAWDAT", "VSC_L1VALD")
HEIGHTS_TYPE = "IMQ_STEDEM"
REPORT_TYPE = "IMQ_STECHK"


class StereoError(ProcessingError):
    """The pair cannot be correlated (no texture, no valid disparity)."""


class StereoCheckParameters(BaseModel):
    """Parameters of ``stereo-dem-check``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    band1: str = Field(default="B5", description="First band of the stereo pair.")
    band2: str = Field(default="B6", description="Second band of the stereo pair.")
    window: int = Field(default=11, ge=5, le=63, description="Correlation window, px (odd).")
    smoothing_px: float = Field(default=4.0, ge=0, le=20, description="Gaussian σ applied to the disparity field "
                                "between Lucas–Kanade iterations, px.")
    max_disparity_px: int = Field(default=8, ge=1, le=64, description="Integer search half-range around the global "
                                  "line offset, px.")
    iterations: int = Field(default=8, ge=0, le=50, description="Sub-pixel (Lucas–Kanade) iterations.")
    min_score: float = Field(default=0.5, ge=-1, le=1, description="Lowest ZNCC of a kept pixel.")
    min_texture: float = Field(default=0.02, ge=0, description="Lowest windowed mean squared line gradient of the "
                               "normalised first band (texture) of a kept pixel.")
    min_valid_fraction: float = Field(default=0.2, gt=0, le=1, description="Refuse the run below this share of "
                                      "correlated pixels.")
    disparity_precision_px: float = Field(default=0.05, gt=0, description="Expected disparity precision, px; gives "
                                          "the expected height precision reported.")
    instrument_config: str = Field(default="", description="Instrument TOML (viq_venus); empty = built-in defaults.")
    use_attitude_bias: bool = Field(default=True, description="Include the configured pitch bias in c_b.")
    line_profile: Literal["keep", "remove"] = Field(
        default="keep", description="'remove': take the per-line median difference to the reference as the "
        "attitude jitter between the two bands and remove it from the heights before the statistics."
    )


def _read_band(path: Path) -> tuple[NDArray[np.float64], GridSpec, Any]:
    try:
        with rasterio.open(path) as ds:
            return ds.read(1).astype(np.float64), GridSpec(ds.transform, ds.width, ds.height), ds.crs
    except (RasterioError, OSError) as err:
        raise DemInputError(f"band file {path}: GDAL cannot read it ({err})") from err


def _config(p: StereoCheckParameters) -> Any:
    from viq_venus.config import default_config, load_instrument_config

    if not p.instrument_config:
        return default_config()
    try:
        return load_instrument_config(p.instrument_config)
    except (OSError, ValueError) as err:
        raise ConfigurationError(f"instrument_config {p.instrument_config}: {err}") from err


def band_model(p: StereoCheckParameters, lines: int, columns: int) -> dict[str, dict[str, Any]]:
    """Per band: static offsets ``c`` (lines), ``dx`` (columns) and parallax ``k`` (px per metre)."""
    from viq_venus import geometry

    cfg = _config(p)
    if not p.use_attitude_bias:
        cfg = cfg.model_copy(update={"attitude": cfg.attitude.model_copy(
            update={"roll_bias_urad": 0.0, "pitch_bias_urad": 0.0, "yaw_bias_urad": 0.0})})
    out: dict[str, dict[str, Any]] = {}
    for band in (p.band1, p.band2):
        try:
            d = geometry.band_displacement(cfg, band, lines, columns, ())
        except (KeyError, ValueError) as err:
            raise ConfigurationError(f"band {band} is not in the instrument configuration ({err})") from err
        out[band] = {"c": d.dy_line, "dx": d.dx_line, "k": d.terrain_px_per_m}
    return out


def check(p: StereoCheckParameters, product: Path, reference: Path, out: Path, log: Any) -> dict[str, Any]:
    """Run the check; write heights, difference, report; return the report."""
    from viq_venus.products import read_header

    header = read_header(product)
    files = dict(header.bands)
    missing = [b for b in (p.band1, p.band2) if b not in files]
    if missing:
        raise DemInputError(f"{product.name}: band(s) {', '.join(missing)} missing from the product "
                            f"(it has {', '.join(files) or 'none'}); the stereo check needs {p.band1} and {p.band2}")
    a, grid, crs = _read_band(files[p.band1])
    b, _, _ = _read_band(files[p.band2])
    if a.shape != b.shape:
        raise DemInputError(f"{p.band1} is {a.shape} and {p.band2} {b.shape}: not one acquisition")
    if crs is None:
        raise DemInputError(f"{files[p.band1].name}: no CRS, the reference DEM cannot be placed")
    ref = read_dem(reference, None)
    lines, cols = a.shape
    model = band_model(p, lines, cols)
    m1, m2 = model[p.band1], model[p.band2]
    dk = float(m2["k"] - m1["k"])
    if abs(dk) < 1e-9:
        raise ConfigurationError(f"{p.band1} and {p.band2} see the ground under the same angle: no stereo base")
    if float(a.std()) == 0 or float(b.std()) == 0:
        raise StereoError(f"{product.name}: {p.band1} or {p.band2} is uniform, nothing to correlate")
    disp = disparity(a, b, window=p.window | 1, max_disparity=p.max_disparity_px, iterations=p.iterations,
                     smoothing=p.smoothing_px, min_score=p.min_score, min_texture=p.min_texture)
    frac = float(disp.valid.mean())
    log.info(f"across-track offset {disp.dx:.3f} px, line offset {disp.dy0} px, {disp.iterations} iterations, "
             f"{frac:.1%} of pixels correlated")
    if frac < p.min_valid_fraction:
        raise StereoError(f"{product.name}: only {frac:.1%} of the pixels correlate (ZNCC ≥ {p.min_score}, texture "
                          f"≥ {p.min_texture}); min_valid_fraction {p.min_valid_fraction:.0%}")
    c1 = np.asarray(m1["c"])[:, None]
    c2 = np.asarray(m2["c"])[:, None]
    heights = (disp.d - (c1 - c2)) / dk
    # reference on the band grid (+ margin), sampled where each pixel's ground point lies
    pad = 16
    t = grid.transform * rasterio.Affine.translation(-pad, -pad)
    ref_grid = GridSpec(t, cols + 2 * pad, lines + 2 * pad)
    ref_on = warp(ref.z, ref.grid.transform, ref.crs, ref_grid, crs, "bilinear").astype(np.float64)
    rows, cc = np.mgrid[0:lines, 0:cols].astype(np.float64)
    gx = cc + np.asarray(m1["dx"])[:, None] + pad

    def against_reference(h: NDArray[np.float64]) -> NDArray[np.float64]:
        gy = rows + c1 - np.nan_to_num(h) * float(m1["k"]) + pad
        ref_h: NDArray[np.float64] = ndimage.map_coordinates(ref_on, [gy, gx], order=1, mode="constant",
                                                             cval=np.nan)
        return ref_h

    ref_h = against_reference(heights)
    diff = heights - ref_h
    ok = np.isfinite(diff)
    if not ok.any():
        raise DemInputError(f"the reference DEM {reference.name} does not cover the acquisition")
    before = {"median_m": float(np.median(diff[ok])), "nmad_m": stats.nmad(diff[ok])}
    removed_px: NDArray[np.float64] | None = None
    if p.line_profile == "remove":
        jitter_m = _line_medians(diff) - before["median_m"]  # NaN: a line without valid cells, left as it is
        heights = heights - np.nan_to_num(jitter_m)[:, None]
        removed_px = jitter_m * dk
        ref_h = against_reference(heights)
        diff = heights - ref_h
        ok = np.isfinite(diff)
        log.info(f"line profile removed: RMS {float(np.sqrt(np.nanmean(removed_px ** 2))):.4f} px of disparity; NMAD "
                 f"{before['nmad_m']:.2f} m before")
    d_ok = diff[ok]
    dz, nm = float(np.median(d_ok)), stats.nmad(d_ok)
    precision_m = p.disparity_precision_px / abs(dk)
    relief = float(np.nanpercentile(ref_h[ok], 99) - np.nanpercentile(ref_h[ok], 1))
    warnings: list[str] = []
    if relief < 3 * precision_m:
        warnings.append(f"the reference relief ({relief:.1f} m, 1–99 %) is below 3× the expected height precision "
                        f"({precision_m:.1f} m): the check measures noise and bias only, not the height scale")
    line_err = _line_medians(diff)
    report = {
        "product": str(product), "reference": str(reference), "bands": [p.band1, p.band2],
        "base_to_height_px_per_m": dk, "expected_precision_m": precision_m,
        "disparity_precision_px": p.disparity_precision_px,
        "across_track_offset_px": disp.dx, "line_offset_px": disp.dy0, "iterations": disp.iterations,
        "valid_fraction": frac, "compared_cells": int(ok.sum()), "reference_relief_m": relief,
        "stereo_dz_median_m": dz, "stereo_nmad_m": nm, "disparity_error_px": nm * abs(dk),
        "difference": stats.describe(d_ok),
        "line_profile_m": {"rms": float(np.sqrt(np.nanmean((line_err - dz) ** 2))),
                           "peak_to_peak": float(np.nanmax(line_err) - np.nanmin(line_err))},
        "line_profile": p.line_profile,
        "before_line_profile_removal": before,
        "removed_line_profile_px": None if removed_px is None
        else [round(float(v), 6) if np.isfinite(v) else None for v in removed_px],
        "warnings": warnings,
    }
    out.mkdir(parents=True, exist_ok=True)
    profile = {"driver": "GTiff", "width": cols, "height": lines, "count": 1, "dtype": "float32", "crs": crs,
               "transform": grid.transform, "nodata": float("nan"), "compress": "DEFLATE"}
    with rasterio.open(out / "stereo_heights.tif", "w", **profile) as ds:
        ds.write(heights.astype(np.float32), 1)
    with rasterio.open(out / "stereo_minus_reference.tif", "w", **profile) as ds:
        ds.write(diff.astype(np.float32), 1)
    (out / "stereo_check.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    _plot(heights, diff, line_err, report, out / "stereo_check.png")
    return report


def _line_medians(diff: NDArray[np.float64]) -> NDArray[np.float64]:
    """Median of each line's finite cells (NaN for a line without any)."""
    return np.array([np.nanmedian(r) if np.isfinite(r).any() else np.nan for r in diff])


def _plot(heights: NDArray[np.float64], diff: NDArray[np.float64], line_err: NDArray[np.float64],
          rep: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 4, figsize=(20, 4.5))
    im = ax[0].imshow(heights, cmap="terrain")
    fig.colorbar(im, ax=ax[0], label="stereo height (m)")
    lim = max(3 * rep["stereo_nmad_m"], 1.0)
    im = ax[1].imshow(diff, cmap="RdBu", vmin=rep["stereo_dz_median_m"] - lim, vmax=rep["stereo_dz_median_m"] + lim)
    fig.colorbar(im, ax=ax[1], label="stereo − reference (m)")
    fin = diff[np.isfinite(diff)]
    ax[2].hist(fin, bins=100, range=(rep["stereo_dz_median_m"] - 2 * lim, rep["stereo_dz_median_m"] + 2 * lim),
               color="0.4")
    ax[2].set_title(f"median {rep['stereo_dz_median_m']:.2f} m, NMAD {rep['stereo_nmad_m']:.2f} m "
                    f"({rep['disparity_error_px']:.3f} px)")
    ax[3].plot(line_err, np.arange(line_err.size))
    ax[3].invert_yaxis()
    ax[3].set_xlabel("median difference per line (m)")
    ax[3].set_ylabel("line")
    fig.tight_layout()
    fig.savefig(path, dpi=70)
    plt.close(fig)


class StereoCheckProcessor(Processor):
    """B5/B6 stereo heights of one acquisition compared with the reference DEM."""

    declaration: ClassVar[ProcessorDeclaration] = ProcessorDeclaration(
        name="stereo-dem-check",
        version=__version__,
        description=(
            "Correlates the B5/B6 along-track stereo pair of a VENµS product (dense sub-pixel disparity: ZNCC "
            "search, then iterated Lucas–Kanade along the lines), converts disparities to heights through the "
            "viq_venus stereo geometry and compares them with the reference DEM (median, NMAD, disparity error)."
        ),
        inputs=(
            InputPort(name="stereo", product_types=PRODUCT_TYPES,
                      description="Product header (.HDR) holding the two bands (raw or L1)."),
            InputPort(name="reference", product_types=DEM_TYPES, description="Reference DEM (any GDAL raster)."),
        ),
        outputs=(
            OutputPort(name="heights", product_type=HEIGHTS_TYPE, format="GeoTIFF",
                       file_name_pattern="stereo_heights.tif", description="Stereo heights on the band-1 grid."),
            OutputPort(name="difference", product_type=REPORT_TYPE, format="GeoTIFF",
                       file_name_pattern="stereo_minus_reference.tif", description="Stereo − reference, m."),
            OutputPort(name="report", product_type=REPORT_TYPE, format="JSON", file_name_pattern="stereo_check.json",
                       description="Offsets, statistics, expected precision, per-line profile."),
            OutputPort(name="plot", product_type=REPORT_TYPE, format="PNG", file_name_pattern="stereo_check.png",
                       description="Heights, difference map, histogram, per-line profile."),
        ),
        resources=Resources(cores=1, memory_mb=2048),
    )
    Parameters: ClassVar[type[BaseModel]] = StereoCheckParameters

    def run(self, ctx: RunContext[BaseModel]) -> ProcessorResult:
        """Check the ``stereo`` product's B5/B6 heights against the ``reference`` DEM."""
        p = ctx.params
        if not isinstance(p, StereoCheckParameters):
            p = StereoCheckParameters.model_validate(p.model_dump())
        product = ctx.one("stereo").path
        if product.suffix.lower() not in (".hdr", ".xml"):
            raise MissingInputError(f"{product.name}: the stereo input must be a product header (.HDR)")
        ctx.logger.progress(0.0, "stereo correlation")
        rep = check(p, product, ctx.one("reference").path, ctx.output_dir, ctx.logger)
        out = ctx.output_dir
        outputs = (
            OutputProduct(port="heights", path=out / "stereo_heights.tif", product_type=HEIGHTS_TYPE),
            OutputProduct(port="difference", path=out / "stereo_minus_reference.tif", product_type=REPORT_TYPE),
            OutputProduct(port="report", path=out / "stereo_check.json", product_type=REPORT_TYPE),
            OutputProduct(port="plot", path=out / "stereo_check.png", product_type=REPORT_TYPE),
        )
        measurements: tuple[Measurement, ...] = (
            Measurement(name="stereo_dz_median_m", value=rep["stereo_dz_median_m"], unit="m"),
            Measurement(name="stereo_nmad_m", value=rep["stereo_nmad_m"], unit="m"),
            Measurement(name="disparity_error_px", value=rep["disparity_error_px"], unit="px"),
        )
        if rep["removed_line_profile_px"] is not None:
            removed = np.array([np.nan if v is None else v for v in rep["removed_line_profile_px"]])
            measurements += (
                Measurement(name="line_profile_rms_px", value=float(np.sqrt(np.nanmean(removed**2))), unit="px"),
                Measurement(name="stereo_nmad_before_line_profile_m",
                            value=rep["before_line_profile_removal"]["nmad_m"], unit="m"),
            )
        ctx.logger.progress(100.0, "done")
        return ProcessorResult(
            outputs=outputs, measurements=measurements,
            status=RunStatus.WARNING if rep["warnings"] else RunStatus.OK, warnings=tuple(rep["warnings"]),
            summary=(f"{rep['bands'][0]}/{rep['bands'][1]}: median {rep['stereo_dz_median_m']:.2f} m, NMAD "
                     f"{rep['stereo_nmad_m']:.2f} m ({rep['disparity_error_px']:.3f} px; expected "
                     f"{rep['expected_precision_m']:.1f} m for {rep['disparity_precision_px']} px)"),
        )
