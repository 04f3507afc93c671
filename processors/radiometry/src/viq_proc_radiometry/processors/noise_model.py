"""``noise-model``: flats at several levels (+ darks as L = 0) → GIP_NOISMO, SNR at a reference radiance."""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

import numpy as np
import numpy.typing as npt
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
)
from viq_interfaces.errors import ProcessingError
from viq_interfaces.processor import Processor
from viq_proc_radiometry import PROCESSOR_VERSION
from viq_proc_radiometry.errors import BadInputError
from viq_proc_radiometry.gipps import write_noise
from viq_proc_radiometry.noise import LevelNoise, NoiseFit, fit_noise, level_noise, signal_at, snr
from viq_proc_radiometry.plots import plot_noise
from viq_proc_radiometry.processors.common import (
    CandidateParameters,
    bands_to_process,
    block_source,
    check_consistent,
    find_gipp,
    load_products,
    params_as,
    sensing_window,
    stamp,
)
from viq_proc_radiometry.stats import column_stats
from viq_venus import default_config
from viq_venus.bands import DN_MAX


class NoiseParameters(CandidateParameters):
    """Parameters of ``noise-model``."""

    reference_radiance: float | None = Field(
        default=None, gt=0.0, description="Radiance of the SNR, W m-2 sr-1 µm-1; None = the band's desert reference."
    )
    clip_sigma: float = Field(default=5.0, ge=3.0, le=20.0, description="Sigma clipping of the temporal samples.")
    max_saturated_fraction: float = Field(
        default=0.02, ge=0.0, le=1.0, description="Refuse a flat where more than this fraction of detectors saturate."
    )


class NoiseModel(Processor):
    """σ² = A + B·L per band for one TDI, and the SNR at a reference radiance."""

    declaration: ClassVar[ProcessorDeclaration] = ProcessorDeclaration(
        name="noise-model",
        version=PROCESSOR_VERSION,
        description=(
            "Noise model σ² = A + B·L per band for one TDI from the temporal variance of uniform acquisitions at "
            "several radiances (darks count as L = 0), weighted least squares with uncertainties; SNR at a "
            "reference radiance per band. Writes a GIP_NOISMO candidate."
        ),
        inputs=(
            InputPort(name="flat", product_types=("VSC_RAWDAT",), min_count=1, max_count=None,
                      description="Uniform acquisitions with Flat_Radiance, one TDI."),
            InputPort(name="dark", product_types=("VSC_RAWDAT",), min_count=0, max_count=None, mandatory=False,
                      description="Dark acquisitions of the same TDI: the L = 0 level and the SNR's dark."),
        ),
        outputs=(
            OutputPort(name="noismo", product_type="GIP_NOISMO", format="XML",
                       file_name_pattern="VE_*_GIP_NOISMO_*.EEF", description="Candidate noise model."),
            OutputPort(name="plot", product_type="IMQ_NOIPLT", format="PNG", file_name_pattern="*_noise.png",
                       description="Variance against radiance with the fitted model per band."),
        ),
        gipps=(GippRequirement(gipp_type="GIP_DARKCU", mandatory=False, per_band=True),),
        resources=Resources(cores=1, memory_mb=2048, walltime=timedelta(hours=1)),
    )
    Parameters: ClassVar[type[BaseModel]] = NoiseParameters

    def run(self, ctx: RunContext[BaseModel]) -> ProcessorResult:
        """Fit every band, write the candidate, plot and measurements."""
        from viq_proc_radiometry.gipps import load_dark

        params: NoiseParameters = params_as(ctx, NoiseParameters)
        flats = load_products(ctx, "flat", kinds=("flat", "desert"))
        darks = load_products(ctx, "dark", kinds=("dark",))
        tdi, n_pixels = check_consistent(flats + darks, "flat/dark")
        bands = bands_to_process(flats + darks, params.bands, "flat/dark")
        for p in flats:
            if p.flat_radiance is None:
                raise BadInputError(f"input flat: {p.header.name} has no Flat_Radiance in its header")
        levels_n = len({p.flat_radiance for p in flats}) + (1 if darks else 0)
        if levels_n < 2:
            raise BadInputError(f"input flat: {levels_n} radiance level(s) "
                                f"({', '.join(p.header.name for p in flats)}); the noise model needs 2 at least")
        cfg = default_config()
        fits: dict[str, NoiseFit] = {}
        models: dict[str, dict[int, tuple[float, float]]] = {}
        measurements: list[Measurement] = []
        for k, band in enumerate(bands):
            ctx.check_cancelled()
            levels: list[LevelNoise] = []
            dark_level: npt.NDArray[np.float64] | None = None
            if darks:
                st = column_stats(block_source(darks, band), sum(d.lines for d in darks), n_pixels,
                                  clip_sigma=params.clip_sigma)
                dark_level = st.mean
                levels.append(level_noise(0.0, st.std, np.zeros(n_pixels)))
            else:
                path = find_gipp(ctx, "GIP_DARKCU", band, tdi)
                if path is not None:
                    dark_level = load_dark(path, band, tdi, n_pixels)
            means = []
            for p in flats:
                st = column_stats(block_source([p], band), p.lines, n_pixels, clip_sigma=params.clip_sigma,
                                  saturation_dn=DN_MAX)
                frac = float(np.mean(st.saturated > 0))
                if frac > params.max_saturated_fraction:
                    raise BadInputError(f"input flat: {p.header.name} band {band}: {100 * frac:.2f} % of the detectors "
                                        "saturate; the noise of clipped samples is not the sensor's")
                means.append((float(p.flat_radiance or 0.0), st))
            if dark_level is None:  # dark by extrapolating the two lowest levels to L = 0
                (l0, s0), (l1, s1) = sorted(means, key=lambda m: m[0])[:2]
                dark_level = s0.mean - l0 * (s1.mean - s0.mean) / (l1 - l0)
            for rad, st in means:
                levels.append(level_noise(rad, st.std, st.mean - dark_level))
            try:
                fit = fit_noise(levels)
                l_ref = params.reference_radiance or cfg.band(band).reference_radiance
                value, unc = snr(fit, signal_at(levels, l_ref), l_ref)
            except ValueError as err:
                raise ProcessingError(f"band {band}: {err}") from err
            fits[band] = fit
            models[band] = {tdi: (fit.a, fit.b)}
            measurements += [
                Measurement(name="noise_a", value=fit.a, unit="DN2", band=band, tdi=tdi, uncertainty=fit.sigma_a),
                Measurement(name="noise_b", value=fit.b, unit="DN2/(W.m-2.sr-1.um-1)", band=band, tdi=tdi,
                            uncertainty=fit.sigma_b),
                Measurement(name="snr", value=value, band=band, tdi=tdi, uncertainty=unc),
                Measurement(name="noise_chi2_reduced", value=fit.chi2_reduced, band=band, tdi=tdi),
            ]
            ctx.logger.info(f"{band}: A = {fit.a:.4f} ± {fit.sigma_a:.4f} DN², B = {fit.b:.5f} ± {fit.sigma_b:.5f}, "
                            f"SNR({l_ref:g}) = {value:.1f} ± {unc:.1f}")
            ctx.logger.progress(90.0 * (k + 1) / len(bands), f"band {band} fitted")
        out = ctx.output_dir
        out.mkdir(parents=True, exist_ok=True)
        st_ = stamp(ctx, params, flats + darks)
        path = write_noise(out, st_, models, notes=f"Temporal variance of {len(flats)} flat(s) and {len(darks)} "
                                                   "dark(s); quantisation variance 1/12 DN² removed.")
        start, stop = sensing_window(flats + darks)
        plot = out / f"noise_TDI{tdi:02d}_noise.png"
        plot_noise(plot, fits, tdi)
        outputs = (
            OutputProduct(port="noismo", path=path, product_type="GIP_NOISMO", bands=tuple(bands), tdi=tdi,
                          sensing_start=st_.validity_start, sensing_stop=st_.validity_stop,
                          metadata={b: {"a": f.a, "b": f.b, "sigma_a": f.sigma_a, "sigma_b": f.sigma_b}
                                    for b, f in fits.items()}),
            OutputProduct(port="plot", path=plot, product_type="IMQ_NOIPLT", bands=tuple(bands), tdi=tdi,
                          sensing_start=start, sensing_stop=stop),
        )
        ctx.logger.progress(100.0, "candidate written")
        summary = "; ".join(f"{b}: A={f.a:.3f} B={f.b:.4f}" for b, f in fits.items())
        return ProcessorResult(outputs=outputs, measurements=tuple(measurements),
                               summary=f"noise model TDI {tdi}: {summary}")
