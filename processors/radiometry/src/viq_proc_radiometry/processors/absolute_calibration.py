"""``absolute-calibration``: acquisitions over a reference site → GIP_PHGAIN update, gain change and trend."""

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
from viq_interfaces.errors import MissingInputError, ProcessingError
from viq_interfaces.processor import Processor
from viq_proc_radiometry import PROCESSOR_VERSION
from viq_proc_radiometry.absolute import GainEstimate, combine, estimate_gain, gain_trend
from viq_proc_radiometry.errors import BadInputError
from viq_proc_radiometry.gipps import load_outord, load_phgain, load_relsen, write_phgain
from viq_proc_radiometry.plots import plot_gains
from viq_proc_radiometry.processors.common import (
    CandidateParameters,
    bands_to_process,
    block_source,
    check_consistent,
    dark_for,
    find_gipp,
    load_products,
    params_as,
    sensing_window,
    stamp,
)
from viq_proc_radiometry.rawio import ReferenceRadiance, read_reference
from viq_proc_radiometry.relsen import inverse_response
from viq_proc_radiometry.spectral import VENUS_TO_S2, sbaf
from viq_proc_radiometry.stats import column_stats

_CANDIDATE_PORTS = {"GIP_RELSEN": "relsen", "GIP_OUTORD": "outord", "GIP_PHGAIN": "phgain"}


class AbsoluteParameters(CandidateParameters):
    """Parameters of ``absolute-calibration``."""

    reference_uncertainty_pct: float = Field(
        default=2.0, ge=0.0, le=50.0, description="One-sigma uncertainty of a reference that states none, %."
    )


class AbsoluteCalibration(Processor):
    """Absolute gain A_k per band from a reference site, with uncertainty, change and trend."""

    declaration: ClassVar[ProcessorDeclaration] = ProcessorDeclaration(
        name="absolute-calibration",
        version=PROCESSOR_VERSION,
        description=(
            "Absolute gain A_k per band for one TDI from acquisitions over a reference site with known TOA "
            "radiance (simulator truth / site model, or a reference sensor's radiance with a spectral band "
            "adjustment factor from the spectral responses): linear signal with the dark and relative "
            "sensitivity in force, A_k = x / L with its uncertainty, change against the GIP_PHGAIN in force and "
            "the gain trend over a campaign. Writes a GIP_PHGAIN candidate."
        ),
        inputs=(
            InputPort(name="site", product_types=("VSC_RAWDAT",), min_count=1, max_count=None,
                      description="Raw acquisitions over the reference site (one TDI)."),
            InputPort(name="reference", product_types=("TEC_SIMTRU", "AUX_REFTOA"), min_count=1, max_count=None,
                      description="Reference TOA radiance: one file for all acquisitions, or one per acquisition "
                                  "(paired in sensing order)."),
            InputPort(name="dark", product_types=("VSC_RAWDAT",), min_count=0, max_count=None, mandatory=False,
                      description="Dark acquisitions (else the GIP_DARKCU in force)."),
            InputPort(name="relsen", product_types=("GIP_RELSEN",), min_count=0, max_count=None, mandatory=False,
                      description="Named GIP_RELSEN (else the one in force; none: mean a1 = 1)."),
            InputPort(name="outord", product_types=("GIP_OUTORD",), min_count=0, max_count=None, mandatory=False,
                      description="Named GIP_OUTORD (else the one in force)."),
            InputPort(name="phgain", product_types=("GIP_PHGAIN",), min_count=0, max_count=1, mandatory=False,
                      description="Named GIP_PHGAIN to compare with (else the one in force)."),
        ),
        outputs=(
            OutputPort(name="phgain", product_type="GIP_PHGAIN", format="XML",
                       file_name_pattern="VE_*_GIP_PHGAIN_*.EEF", description="Candidate absolute gains."),
            OutputPort(name="plot", product_type="IMQ_ABSPLT", format="PNG", file_name_pattern="*_gain.png",
                       description="Gain per acquisition and band."),
        ),
        gipps=tuple(GippRequirement(gipp_type=t, mandatory=False, per_band=t != "GIP_PHGAIN")
                    for t in ("GIP_DARKCU", "GIP_RELSEN", "GIP_OUTORD", "GIP_PHGAIN")),
        resources=Resources(cores=1, memory_mb=2048, walltime=timedelta(hours=1)),
    )
    Parameters: ClassVar[type[BaseModel]] = AbsoluteParameters

    def run(self, ctx: RunContext[BaseModel]) -> ProcessorResult:
        """Estimate A_k per acquisition and band, combine, trend, write."""
        params: AbsoluteParameters = params_as(ctx, AbsoluteParameters)
        sites = sorted(load_products(ctx, "site"), key=lambda p: (p.sensing_start is None, p.sensing_start))
        darks = load_products(ctx, "dark", kinds=("dark",))
        tdi, n_pixels = check_consistent(sites, "site")
        bands = bands_to_process(sites, params.bands, "site")
        refs_files = ctx.all("reference")
        refs = [read_reference(r.path, params.reference_uncertainty_pct) for r in refs_files]
        if len(refs) not in (1, len(sites)):
            raise BadInputError(f"input reference: {len(refs)} files for {len(sites)} site acquisitions "
                                "(give one, or one per acquisition)")
        if len(refs) > 1:
            order = sorted(range(len(refs)), key=lambda i: str(next(iter(refs[i].values())).sensing_start))
            refs = [refs[i] for i in order]
        series: dict[str, list[GainEstimate]] = {b: [] for b in bands}
        measurements: list[Measurement] = []
        warnings: list[str] = []
        sbafs: dict[str, float] = {}
        for band in bands:
            ctx.check_cancelled()
            dark, _, dark_src = dark_for(ctx, darks, band, tdi, n_pixels, "site acquisitions")
            rs_path = find_gipp(ctx, "GIP_RELSEN", band, tdi, port=_port(ctx, "GIP_RELSEN"))
            oo_path = find_gipp(ctx, "GIP_OUTORD", band, tdi, port=_port(ctx, "GIP_OUTORD"))
            rs = load_relsen(rs_path, band, tdi, n_pixels) if rs_path else None
            valid = np.ones(n_pixels, dtype=bool)
            if oo_path:
                bad = [c for c in load_outord(oo_path, band, tdi) if c < n_pixels]
                valid[bad] = False
            if rs is None:
                warnings.append(f"{band}: no GIP_RELSEN: gain under the mean a1 = 1 convention")
            ctx.logger.info(f"{band}: dark from {dark_src}; RELSEN {rs_path.name if rs_path else 'none'}; "
                            f"OUTORD {oo_path.name if oo_path else 'none'}")
            for k, prod in enumerate(sites):
                ref_map = refs[k if len(refs) > 1 else 0]
                ref = self._reference(ref_map, band, sbafs)
                st = column_stats(block_source([prod], band), prod.lines, n_pixels)
                z = st.mean - dark
                x = inverse_response(z, *rs) if rs is not None else z
                try:
                    est = estimate_gain(band, tdi, prod.sensing_start, np.where(valid, x, np.nan), ref.radiance,
                                        ref.uncertainty)
                except ValueError as err:
                    raise ProcessingError(f"{prod.header.name} band {band}: {err}") from err
                series[band].append(est)
        gains: dict[str, dict[int, float]] = {}
        for band, ests in series.items():
            g, u = combine(ests)
            gains[band] = {tdi: g}
            measurements.append(Measurement(name="absolute_gain", value=g, unit="DN/(W.m-2.sr-1.um-1)", band=band,
                                            tdi=tdi, uncertainty=u))
            if band in sbafs:
                measurements.append(Measurement(name="sbaf", value=sbafs[band], band=band, tdi=tdi))
            ph = find_gipp(ctx, "GIP_PHGAIN", None, None, port=_port(ctx, "GIP_PHGAIN"))
            if ph is not None:
                old = load_phgain(ph, band, tdi)
                measurements.append(Measurement(name="gain_change_pct", value=100.0 * (g / old - 1.0), unit="%",
                                                band=band, tdi=tdi, uncertainty=100.0 * u / old))
            if len({e.when for e in ests}) >= 2:
                tr = gain_trend(ests)
                measurements.append(Measurement(name="gain_drift_pct_per_year", value=100.0 * tr.drift_per_year,
                                                unit="%/year", band=band, tdi=tdi,
                                                uncertainty=100.0 * tr.drift_sigma))
            ctx.logger.info(f"{band}: A_k = {g:.5f} ± {u:.5f} from {len(ests)} acquisition(s)")
        out = ctx.output_dir
        out.mkdir(parents=True, exist_ok=True)
        st_ = stamp(ctx, params, sites)
        path = write_phgain(out, st_, gains, notes="A_k = mean linear signal / reference radiance.")
        plot = out / f"absolute_TDI{tdi:02d}_gain.png"
        plot_gains(plot, series, tdi)
        start, stop = sensing_window(sites)
        outputs = (
            OutputProduct(port="phgain", path=path, product_type="GIP_PHGAIN", bands=tuple(bands), tdi=tdi,
                          sensing_start=st_.validity_start, sensing_stop=st_.validity_stop,
                          metadata={b: [{"when": str(e.when), "gain": e.gain, "uncertainty": e.uncertainty}
                                        for e in ests] for b, ests in series.items()}),
            OutputProduct(port="plot", path=plot, product_type="IMQ_ABSPLT", bands=tuple(bands), tdi=tdi,
                          sensing_start=start, sensing_stop=stop),
        )
        for w in warnings:
            ctx.logger.warning(w)
        summary = "; ".join(f"{b}: {g[tdi]:.5f}" for b, g in gains.items())
        return ProcessorResult(outputs=outputs, measurements=tuple(measurements),
                               status=RunStatus.WARNING if warnings else RunStatus.OK, warnings=tuple(warnings),
                               summary=f"absolute gains TDI {tdi}: {summary}")

    @staticmethod
    def _reference(refs: dict[str, ReferenceRadiance], band: str, sbafs: dict[str, float]) -> ReferenceRadiance:
        if band in refs:
            return refs[band]
        sensor = next(iter(refs.values())).sensor if refs else "?"
        other = VENUS_TO_S2.get(band)
        if other is None or other not in refs:
            raise MissingInputError(f"input reference: no radiance for VENµS {band} nor for {sensor} {other}")
        r = refs[other]
        try:
            factor = sbaf(band, other, r.sensor)
        except ValueError as err:
            raise BadInputError(f"input reference: {err}") from err
        sbafs[band] = factor
        return ReferenceRadiance(band, r.radiance * factor, r.uncertainty * factor, r.sensor, r.sensing_start)


def _port(ctx: RunContext[Any], gipp_type: str) -> str | None:
    port = _CANDIDATE_PORTS[gipp_type]
    return port if ctx.all(port) else None
