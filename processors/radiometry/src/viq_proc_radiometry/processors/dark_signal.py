"""``dark-signal``: dark acquisitions of one TDI → GIP_DARKCU candidate per band, plot, measurements."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
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
from viq_interfaces.processor import Processor
from viq_proc_radiometry import PROCESSOR_VERSION
from viq_proc_radiometry.dark import DarkEstimate, estimate_dark, not_dark_reason
from viq_proc_radiometry.errors import BadInputError
from viq_proc_radiometry.gipps import load_dark, write_dark
from viq_proc_radiometry.plots import plot_dark
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


class DarkParameters(CandidateParameters):
    """Parameters of ``dark-signal``."""

    clip_sigma: float = Field(default=4.0, ge=2.0, le=20.0, description="Sigma clipping of samples around the median.")
    spike_sigma: float = Field(default=8.0, ge=3.0, description="Spike threshold in robust scales above the median.")
    spike_min_dn: float = Field(default=10.0, ge=0.0, description="Spike threshold floor above the median, DN.")
    spike_min_count: int = Field(default=2, ge=1, description="Spikes needed to flag a spike detector.")
    hot_sigma: float = Field(default=7.0, ge=3.0, description="Hot pixel: robust z of the dark level over the array.")
    hot_min_dn: float = Field(default=2.0, ge=0.0, description="Hot pixel: least excess over the array median, DN.")
    max_dark_level_dn: float = Field(default=150.0, gt=0.0, description="Median dark above this: not a dark frame.")
    max_dark_noise_dn: float = Field(default=5.0, gt=0.0, description="Median temporal noise above this: not dark.")


class DarkSignal(Processor):
    """Per-detector dark level (robust), hot pixels and spike detectors."""

    declaration: ClassVar[ProcessorDeclaration] = ProcessorDeclaration(
        name="dark-signal",
        version=PROCESSOR_VERSION,
        description=(
            "Dark signal per band for one TDI setting from dark acquisitions: per-detector sigma-clipped mean "
            "over all lines, hot pixels, spike detectors (threshold, amplitude, probability); writes a "
            "GIP_DARKCU candidate per band and compares it with the dark in force when one is given."
        ),
        inputs=(
            InputPort(name="dark", product_types=("VSC_RAWDAT",), min_count=1, max_count=None,
                      description="Raw dark acquisitions (VSC_RAWDAT headers), one TDI setting."),
        ),
        outputs=(
            OutputPort(name="darkcu", product_type="GIP_DARKCU", format="XML", min_count=1, max_count=None,
                       file_name_pattern="VE_*_GIP_DARKCU_*.EEF", description="Candidate dark per band."),
            OutputPort(name="plot", product_type="IMQ_DRKPLT", format="PNG", file_name_pattern="*_dark.png",
                       description="Dark level, temporal noise, hot and spike detectors per band."),
        ),
        gipps=(GippRequirement(gipp_type="GIP_DARKCU", mandatory=False, per_band=True),),
        resources=Resources(cores=1, memory_mb=2048, walltime=timedelta(hours=1)),
    )
    Parameters: ClassVar[type[BaseModel]] = DarkParameters

    def run(self, ctx: RunContext[BaseModel]) -> ProcessorResult:
        """Estimate every band, write candidates and the plot."""
        params: DarkParameters = params_as(ctx, DarkParameters)
        products = load_products(ctx, "dark", kinds=("dark",))
        tdi, n_pixels = check_consistent(products, "dark")
        bands = bands_to_process(products, params.bands, "dark")
        n_lines = sum(p.lines for p in products)
        ctx.logger.info(f"dark signal: {len(products)} acquisition(s), {n_lines} lines, TDI {tdi}, "
                        f"bands {','.join(bands)}")
        estimates: dict[str, DarkEstimate] = {}
        for k, band in enumerate(bands):
            ctx.check_cancelled()
            est = estimate_dark(
                block_source(products, band), n_lines, n_pixels, clip_sigma=params.clip_sigma,
                spike_sigma=params.spike_sigma, spike_min_dn=params.spike_min_dn,
                spike_min_count=params.spike_min_count, hot_sigma=params.hot_sigma, hot_min_dn=params.hot_min_dn,
            )
            reason = not_dark_reason(est, params.max_dark_level_dn, params.max_dark_noise_dn)
            if reason:
                names = ", ".join(p.header.name for p in products)
                raise BadInputError(f"input dark ({names}), band {band}: not dark frames: {reason}")
            estimates[band] = est
            ctx.logger.progress(90.0 * (k + 1) / len(bands), f"band {band} estimated")
        out = ctx.output_dir
        out.mkdir(parents=True, exist_ok=True)
        st = stamp(ctx, params, products)
        start, stop = sensing_window(products)
        outputs: list[OutputProduct] = []
        measurements: list[Measurement] = []
        warnings: list[str] = []
        in_force: dict[str, np.ndarray[Any, Any]] = {}
        for band, est in estimates.items():
            path = write_dark(
                out, st, band, tdi, est.dark, [int(h) for h in est.hot],
                [(s.column, s.threshold_dn, s.amplitude_dn, s.probability) for s in est.spikes],
                notes=f"Sigma-clipped mean of {est.n_lines} lines.",
            )
            outputs.append(OutputProduct(
                port="darkcu", path=path, product_type="GIP_DARKCU", bands=(band,), tdi=tdi,
                sensing_start=st.validity_start, sensing_stop=st.validity_stop,
                metadata={"lines": est.n_lines, "hot_pixels": [int(h) for h in est.hot],
                          "spike_pixels": [s.column for s in est.spikes], "bound_rms_dn": est.bound_rms,
                          "inputs": [p.header.name for p in products]},
            ))
            measurements += [
                Measurement(name="dark_mean_dn", value=est.mean_level, unit="DN", band=band, tdi=tdi,
                            uncertainty=float(np.sqrt(np.mean(est.uncertainty**2) / est.dark.size))),
                Measurement(name="dark_noise_dn", value=float(np.median(est.noise)), unit="DN", band=band, tdi=tdi),
                Measurement(name="dark_bound_rms_dn", value=est.bound_rms, unit="DN", band=band, tdi=tdi),
                Measurement(name="hot_pixels", value=float(est.hot.size), band=band, tdi=tdi),
                Measurement(name="spike_pixels", value=float(len(est.spikes)), band=band, tdi=tdi),
            ]
            ref = find_gipp(ctx, "GIP_DARKCU", band, tdi)
            if ref is not None:
                old = load_dark(Path(ref), band, tdi, n_pixels)
                in_force[band] = old
                diff = est.dark - old
                rms = float(np.sqrt(np.mean(diff**2)))
                measurements.append(Measurement(name="dark_rms_diff_dn", value=rms, unit="DN", band=band, tdi=tdi,
                                                uncertainty=est.bound_rms))
                ctx.logger.info(f"{band}: RMS difference to the dark in force {Path(ref).name}: {rms:.4f} DN")
            ctx.logger.info(f"{band}: mean dark {est.mean_level:.2f} DN, bound {est.bound_rms:.4f} DN RMS, "
                            f"hot {list(map(int, est.hot))}, spikes {[s.column for s in est.spikes]}")
        plot = out / f"{outputs[0].path.stem.split('_GIP_')[0]}_TDI{tdi:02d}_dark.png"
        plot_dark(plot, estimates, in_force, tdi)
        outputs.append(OutputProduct(port="plot", path=plot, product_type="IMQ_DRKPLT", bands=tuple(bands), tdi=tdi,
                                     sensing_start=start, sensing_stop=stop))
        ctx.logger.progress(100.0, "candidates written")
        summary = "; ".join(f"{b}: {e.mean_level:.2f} DN (±{e.bound_rms:.3f}), {e.hot.size} hot, "
                            f"{len(e.spikes)} spike" for b, e in estimates.items())
        return ProcessorResult(outputs=tuple(outputs), measurements=tuple(measurements),
                               status=RunStatus.WARNING if warnings else RunStatus.OK, warnings=tuple(warnings),
                               summary=f"dark TDI {tdi}: {summary}")
