"""``relative-sensitivity``: flats (and/or side-slither) → GIP_RELSEN + GIP_OUTORD per band, striping before/after."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, Field

from viq_interfaces import (
    GippRequirement,
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
from viq_interfaces.errors import MissingInputError
from viq_interfaces.processor import Processor
from viq_proc_radiometry import PROCESSOR_VERSION
from viq_proc_radiometry.correction import INTERPOLATION_RULE
from viq_proc_radiometry.errors import BadInputError
from viq_proc_radiometry.gipps import write_outord, write_relsen
from viq_proc_radiometry.plots import plot_relsen
from viq_proc_radiometry.processors.common import (
    CandidateParameters,
    bands_to_process,
    block_source,
    check_consistent,
    dark_for,
    load_products,
    params_as,
    sensing_window,
    stamp,
)
from viq_proc_radiometry.relsen import (
    LevelMeans,
    SlitherFit,
    TwoSlopeFit,
    fit_relative_sensitivity,
    fit_side_slither,
    striping_of_levels,
)
from viq_proc_radiometry.stats import column_stats
from viq_venus.bands import DN_MAX


class RelsenParameters(CandidateParameters):
    """Parameters of ``relative-sensitivity``."""

    clip_sigma: float = Field(default=5.0, ge=2.0, le=20.0, description="Sigma clipping of the level means.")
    max_saturated_fraction: float = Field(
        default=0.02, ge=0.0, le=1.0,
        description="A flat where more than this fraction of the detectors saturate is refused (single hot or "
        "filter-hole detectors may saturate).",
    )
    window: int = Field(default=31, ge=5, le=1001, description="Running-median window for out-of-order tests.")
    blind_ratio: float = Field(default=0.1, gt=0.0, lt=1.0, description="BLIND: a1 below this × neighbours.")
    gain_outlier: float = Field(default=0.25, gt=0.0, description="FILTER_HOLE: |a1/neighbours − 1| above this.")
    noisy_ratio: float = Field(default=2.0, gt=1.0, description="NOISY: temporal noise above this × array median.")
    slither_shift: int = Field(default=1, description="Side-slither: ground samples moved per detector per line.")
    linear_limit_dn: float = Field(default=550.0, gt=0.0, description="Side-slither: signal used below this DN.")


class RelativeSensitivity(Processor):
    """Two-slope relative sensitivity per detector and out-of-order detectors."""

    declaration: ClassVar[ProcessorDeclaration] = ProcessorDeclaration(
        name="relative-sensitivity",
        version=PROCESSOR_VERSION,
        description=(
            "Relative sensitivity per band for one TDI from uniform acquisitions at several known radiances "
            "(two-slope a1, a2, knee per detector by weighted least squares, normalised to mean 1) and/or a "
            "side-slither acquisition (relative first slopes); out-of-order detectors (BLIND, NOISY, FILTER_HOLE); "
            "column non-uniformity before and after correction. Writes GIP_RELSEN and GIP_OUTORD candidates."
        ),
        inputs=(
            InputPort(name="flat", product_types=("VSC_RAWDAT",), min_count=0, max_count=None, mandatory=False,
                      description="Uniform acquisitions (flat), one radiance level each (Flat_Radiance)."),
            InputPort(name="slither", product_types=("VSC_RAWDAT",), min_count=0, max_count=None, mandatory=False,
                      description="Side-slither acquisitions (45° yaw: one ground sample per detector per line)."),
            InputPort(name="dark", product_types=("VSC_RAWDAT",), min_count=0, max_count=None, mandatory=False,
                      description="Dark acquisitions of the same TDI (else the GIP_DARKCU in force)."),
        ),
        outputs=(
            OutputPort(name="relsen", product_type="GIP_RELSEN", format="XML", min_count=1, max_count=None,
                       file_name_pattern="VE_*_GIP_RELSEN_*.EEF", description="Candidate relative sensitivity."),
            OutputPort(name="outord", product_type="GIP_OUTORD", format="XML", min_count=1, max_count=None,
                       file_name_pattern="VE_*_GIP_OUTORD_*.EEF", description="Candidate out-of-order detectors."),
            OutputPort(name="plot", product_type="IMQ_RSNPLT", format="PNG", file_name_pattern="*_relsen.png",
                       description="a1, a2/a1, knee per detector, out-of-order detectors, striping."),
        ),
        gipps=(GippRequirement(gipp_type="GIP_DARKCU", mandatory=False, per_band=True),),
        resources=Resources(cores=1, memory_mb=3072, walltime=timedelta(hours=1)),
    )
    Parameters: ClassVar[type[BaseModel]] = RelsenParameters

    def run(self, ctx: RunContext[BaseModel]) -> ProcessorResult:
        """Fit every band, write candidates, plot and measurements."""
        params: RelsenParameters = params_as(ctx, RelsenParameters)
        flats = load_products(ctx, "flat", kinds=("flat", "desert"))
        slithers = load_products(ctx, "slither", kinds=("side_slither",))
        darks = load_products(ctx, "dark", kinds=("dark",))
        if not flats and not slithers:
            raise MissingInputError("relative-sensitivity needs flat and/or slither acquisitions; none given")
        everything = flats + slithers
        tdi, n_pixels = check_consistent(everything, "flat/slither")
        bands = bands_to_process(everything, params.bands, "flat/slither")
        if flats:
            radiances = []
            for p in flats:
                if p.flat_radiance is None:
                    raise BadInputError(f"input flat: {p.header.name} has no Flat_Radiance in its header")
                radiances.append(p.flat_radiance)
            if len(set(radiances)) < 2:
                raise BadInputError(
                    f"input flat: {len(flats)} acquisition(s) at {len(set(radiances))} radiance level(s) "
                    f"({', '.join(f'{p.header.name}: L={p.flat_radiance:g}' for p in flats)}); the two-slope fit "
                    "needs at least 2 distinct levels"
                )
        fits: dict[str, TwoSlopeFit] = {}
        slither_fits: dict[str, SlitherFit] = {}
        stripes: dict[str, tuple[float, float]] = {}
        measurements: list[Measurement] = []
        warnings: list[str] = []
        for k, band in enumerate(bands):
            ctx.check_cancelled()
            dark, dark_var, dark_src = dark_for(ctx, darks, band, tdi, n_pixels, "flats")
            ctx.logger.info(f"{band}: dark from {dark_src}")
            if flats:
                lv = self._levels(flats, band, dark, params)
                fit = fit_relative_sensitivity(lv, dark_var, window=params.window, blind_ratio=params.blind_ratio,
                                               gain_outlier=params.gain_outlier, noisy_ratio=params.noisy_ratio)
                s = striping_of_levels(lv, fit)
                before, after, floor = float(np.mean(s.before)), float(np.mean(s.after)), float(np.mean(s.noise_floor))
                if not fit.two_slope[fit.valid].any():
                    warnings.append(f"{band}: no level above the knee; a2 = a1 and the knee is not measured")
                fits[band] = fit
            if slithers:
                z = np.concatenate([p.read(band).astype(np.float64) for p in slithers], axis=0)
                sat = z >= DN_MAX
                sf = fit_side_slither(z - dark[None, :], sat, shift=params.slither_shift,
                                      linear_limit_dn=params.linear_limit_dn, window=params.window,
                                      blind_ratio=params.blind_ratio, gain_outlier=params.gain_outlier,
                                      noisy_ratio=params.noisy_ratio)
                slither_fits[band] = sf
                if band in fits:
                    fit = fits[band]
                    v = fit.valid & np.isin(np.arange(n_pixels), list(sf.defects), invert=True)
                    diff = 100.0 * float(np.sqrt(np.mean((sf.a1[v] / np.mean(sf.a1[v]) - fit.a1[v]) ** 2)))
                    measurements.append(Measurement(name="slither_flat_a1_rms_diff_pct", value=diff, unit="%",
                                                    band=band, tdi=tdi))
                else:
                    a1 = sf.a1
                    fits[band] = TwoSlopeFit(a1=a1, a2=a1.copy(), knee=np.full(n_pixels, float(DN_MAX)),
                                             sigma_a1=sf.sigma_a1, sigma_knee=np.full(n_pixels, np.inf), scale=1.0,
                                             two_slope=np.zeros(n_pixels, dtype=bool), defects=sf.defects)
                    before, after, floor = sf.striping_before, sf.striping_after, sf.noise_floor
                    warnings.append(f"{band}: side-slither only: a2 = a1 and knee = {DN_MAX} (not measured)")
            fit = fits[band]
            stripes[band] = (before, after)
            v = fit.valid
            measurements += [
                Measurement(name="striping_before_pct", value=before, unit="%", band=band, tdi=tdi),
                Measurement(name="striping_after_pct", value=after, unit="%", band=band, tdi=tdi),
                Measurement(name="striping_noise_pct", value=floor, unit="%", band=band, tdi=tdi),
                Measurement(name="a1_sigma_rms", value=float(np.sqrt(np.mean(fit.sigma_a1[v] ** 2))), band=band,
                            tdi=tdi),
                Measurement(name="out_of_order_pixels", value=float(len(fit.defects)), band=band, tdi=tdi),
            ]
            if fit.two_slope[v].any():
                measurements.append(Measurement(name="knee_median_dn", value=float(np.median(fit.knee[v])),
                                                unit="DN", band=band, tdi=tdi))
            ctx.logger.info(f"{band}: striping {before:.3f} % → {after:.4f} % (noise {floor:.4f} %), "
                            f"out of order {fit.defects}")
            ctx.logger.progress(90.0 * (k + 1) / len(bands), f"band {band} fitted")
        return self._write(ctx, params, everything, fits, stripes, tdi, measurements, warnings)

    def _levels(self, flats: list[Any], band: str, dark: np.ndarray[Any, Any], params: RelsenParameters) -> LevelMeans:
        zs, vs, ns, cs, rad = [], [], [], [], []
        for p in flats:
            st = column_stats(block_source([p], band), p.lines, p.columns, clip_sigma=params.clip_sigma,
                              saturation_dn=DN_MAX)
            frac = float(np.mean(st.saturated > 0))
            if frac > params.max_saturated_fraction:
                raise BadInputError(
                    f"input flat: {p.header.name} band {band} (L={p.flat_radiance:g}): {100 * frac:.2f} % of the "
                    f"detectors saturate (limit {100 * params.max_saturated_fraction:g} %)"
                )
            zs.append(st.mean - dark)
            vs.append(st.mean_uncertainty**2)
            ns.append(st.std)
            cs.append(st.count)
            rad.append(float(p.flat_radiance))
        return LevelMeans(np.array(rad), np.array(zs), np.array(vs), np.array(ns), np.array(cs))

    def _write(self, ctx: RunContext[BaseModel], params: RelsenParameters, products: list[Any],
               fits: dict[str, TwoSlopeFit], stripes: dict[str, tuple[float, float]], tdi: int,
               measurements: list[Measurement], warnings: list[str]) -> ProcessorResult:
        out = ctx.output_dir
        out.mkdir(parents=True, exist_ok=True)
        st = stamp(ctx, params, products)
        start, stop = sensing_window(products)
        outputs: list[OutputProduct] = []
        for band, fit in fits.items():
            path = write_relsen(out, st, band, tdi, fit.a1, fit.a2, fit.knee,
                                notes=f"Normalised to mean a1 = 1 over valid detectors (scale {fit.scale:.6g} DN per "
                                      "W m-2 sr-1 µm-1).")
            meta = {"scale": fit.scale, "striping_before_pct": stripes[band][0],
                    "striping_after_pct": stripes[band][1], "inputs": [p.header.name for p in products]}
            outputs.append(OutputProduct(port="relsen", path=path, product_type="GIP_RELSEN", bands=(band,), tdi=tdi,
                                         sensing_start=st.validity_start, sensing_stop=st.validity_stop,
                                         metadata=meta))
            path = write_outord(out, st, band, (tdi,), fit.defects,
                                notes=f"Interpolation_Rule={INTERPOLATION_RULE}: linear between the nearest valid "
                                      "detectors on each side.")
            outputs.append(OutputProduct(port="outord", path=path, product_type="GIP_OUTORD", bands=(band,), tdi=tdi,
                                         sensing_start=st.validity_start, sensing_stop=st.validity_stop,
                                         metadata={"defects": {str(c): t for c, t in fit.defects.items()},
                                                   "interpolation_rule": INTERPOLATION_RULE}))
        plot = out / f"relsen_TDI{tdi:02d}_relsen.png"
        plot_relsen(plot, fits, stripes, tdi)
        outputs.append(OutputProduct(port="plot", path=plot, product_type="IMQ_RSNPLT", bands=tuple(fits), tdi=tdi,
                                     sensing_start=start, sensing_stop=stop))
        ctx.logger.progress(100.0, "candidates written")
        for w in warnings:
            ctx.logger.warning(w)
        summary = "; ".join(f"{b}: striping {s[0]:.3f} % → {s[1]:.4f} %, {len(fits[b].defects)} out of order"
                            for b, s in stripes.items())
        return ProcessorResult(outputs=tuple(outputs), measurements=tuple(measurements),
                               status=RunStatus.WARNING if warnings else RunStatus.OK, warnings=tuple(warnings),
                               summary=f"relative sensitivity TDI {tdi}: {summary}")
