"""``radiometric-correction``: raw DN + GIPPs (named candidates or in force) → corrected product and its
residual striping — the evidence a candidate's promotion needs."""

from __future__ import annotations

import warnings as _warnings
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

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
    RunStatus,
)
from viq_interfaces.errors import GippError, MissingInputError
from viq_interfaces.processor import Processor
from viq_proc_radiometry import PROCESSOR_VERSION
from viq_proc_radiometry.correction import Interpolator, correct_block
from viq_proc_radiometry.gipps import load_dark, load_outord, load_phgain, load_relsen
from viq_proc_radiometry.plots import plot_correction
from viq_proc_radiometry.processors.common import (
    bands_to_process,
    check_consistent,
    find_gipp,
    load_products,
    params_as,
)
from viq_proc_radiometry.relsen import striping_pct
from viq_venus.bands import DN_MAX, band_code

UNIFORM = ("flat", "desert", "dark")
F64 = npt.NDArray[np.float64]


class CorrectionParameters(BaseModel):
    """Parameters of ``radiometric-correction``."""

    model_config = {"extra": "forbid", "frozen": True}

    bands: tuple[str, ...] = Field(default=(), description="Bands to correct; empty = every band present.")
    to_radiance: bool = Field(default=True, description="Divide by A_k when a GIP_PHGAIN is available.")


class RadiometricCorrection(Processor):
    """Apply dark, relative sensitivity, out-of-order interpolation (and A_k) to raw products."""

    declaration: ClassVar[ProcessorDeclaration] = ProcessorDeclaration(
        name="radiometric-correction",
        version=PROCESSOR_VERSION,
        description=(
            "Radiometric correction of raw products with a set of GIPPs — named candidates on the input ports, "
            "else those in force: dark subtraction, inverse two-slope relative sensitivity, linear interpolation "
            "of out-of-order detectors, optional division by A_k. On uniform acquisitions it measures the "
            "residual striping (column non-uniformity) and its noise floor: the validation of a candidate."
        ),
        inputs=(
            InputPort(name="raw", product_types=("VSC_RAWDAT",), min_count=1, max_count=None,
                      description="Raw products to correct (uniform ones give the striping evidence)."),
            InputPort(name="darkcu", product_types=("GIP_DARKCU",), min_count=0, max_count=None, mandatory=False,
                      description="Candidate GIP_DARKCU per band (else in force)."),
            InputPort(name="relsen", product_types=("GIP_RELSEN",), min_count=0, max_count=None, mandatory=False,
                      description="Candidate GIP_RELSEN per band (else in force)."),
            InputPort(name="outord", product_types=("GIP_OUTORD",), min_count=0, max_count=None, mandatory=False,
                      description="Candidate GIP_OUTORD per band (else in force; none: no interpolation)."),
            InputPort(name="phgain", product_types=("GIP_PHGAIN",), min_count=0, max_count=1, mandatory=False,
                      description="Candidate GIP_PHGAIN (else in force; none: output is the linear signal, DN)."),
        ),
        outputs=(
            OutputPort(name="corrected", product_type="VSC_RADCOR", format="GTiff", min_count=1, max_count=None,
                       file_name_pattern="*_RADCOR_B*.TIF", description="Corrected band (float32, NaN saturated)."),
            OutputPort(name="plot", product_type="IMQ_CORPLT", format="PNG", file_name_pattern="*_correction.png",
                       description="Column profiles before and after correction."),
        ),
        gipps=tuple(GippRequirement(gipp_type=t, mandatory=False, per_band=t != "GIP_PHGAIN")
                    for t in ("GIP_DARKCU", "GIP_RELSEN", "GIP_OUTORD", "GIP_PHGAIN")),
        resources=Resources(cores=1, memory_mb=2048, walltime=timedelta(hours=1)),
    )
    Parameters: ClassVar[type[BaseModel]] = CorrectionParameters

    def run(self, ctx: RunContext[BaseModel]) -> ProcessorResult:
        """Correct every product and band; measure striping on uniform acquisitions."""
        import rasterio

        params: CorrectionParameters = params_as(ctx, CorrectionParameters)
        prods = load_products(ctx, "raw")
        tdi, n_pixels = check_consistent(prods, "raw")
        bands = bands_to_process(prods, params.bands, "raw")
        out = ctx.output_dir
        out.mkdir(parents=True, exist_ok=True)
        outputs: list[OutputProduct] = []
        measurements: list[Measurement] = []
        warnings: list[str] = []
        profiles: dict[str, tuple[F64, F64]] = {}
        stripes: dict[str, float] = {}
        for band in bands:
            ctx.check_cancelled()
            d_path = self._need(ctx, "GIP_DARKCU", "darkcu", band, tdi)
            r_path = self._need(ctx, "GIP_RELSEN", "relsen", band, tdi)
            o_path = find_gipp(ctx, "GIP_OUTORD", band, tdi, port="outord" if ctx.all("outord") else None)
            p_path = find_gipp(ctx, "GIP_PHGAIN", None, None, port="phgain" if ctx.all("phgain") else None)
            dark = load_dark(d_path, band, tdi, n_pixels)
            a1, a2, knee = load_relsen(r_path, band, tdi, n_pixels)
            bad = load_outord(o_path, band, tdi) if o_path else {}
            gain = load_phgain(p_path, band, tdi) if (p_path and params.to_radiance) else None
            interp = Interpolator.build(n_pixels, bad)
            valid = np.ones(n_pixels, dtype=bool)
            valid[interp.columns] = False
            ctx.logger.info(f"{band}: {d_path.name}, {r_path.name}, {o_path.name if o_path else 'no OUTORD'}, "
                            f"{p_path.name if gain is not None and p_path else 'linear signal (DN)'}")
            for prod in prods:
                path = out / f"{prod.name}_RADCOR_{band_code(band)}.TIF"
                raw_sum = np.zeros(n_pixels)
                cor_sum = np.zeros(n_pixels)
                cor_sq = np.zeros(n_pixels)
                cnt = np.zeros(n_pixels)
                profile = {"driver": "GTiff", "width": n_pixels, "height": prod.lines, "count": 1,
                           "dtype": "float32", "nodata": float("nan")}
                with _warnings.catch_warnings():
                    _warnings.simplefilter("ignore")
                    with rasterio.open(path, "w", **profile) as dst:
                        for i0, block in prod.blocks(band):
                            corr = correct_block(block, dark, a1, a2, knee, interp, gain, DN_MAX)
                            dst.write(corr, 1, window=rasterio.windows.Window(0, i0, n_pixels, corr.shape[0]))
                            ok = np.isfinite(corr)
                            raw_sum += np.where(ok, block - dark[None, :], 0.0).sum(axis=0)
                            c64 = np.where(ok, corr, 0.0).astype(np.float64)
                            cor_sum += c64.sum(axis=0)
                            cor_sq += (c64**2).sum(axis=0)
                            cnt += ok.sum(axis=0)
                outputs.append(OutputProduct(port="corrected", path=path, product_type="VSC_RADCOR", bands=(band,),
                                             tdi=tdi, site=prod.site or None, sensing_start=prod.sensing_start,
                                             metadata={"source": prod.header.name,
                                                       "gipps": [p.name for p in (d_path, r_path, o_path, p_path)
                                                                 if p is not None],
                                                       "unit": "W.m-2.sr-1.um-1" if gain else "DN"}))
                if prod.acquisition in UNIFORM and prod.acquisition != "dark":
                    n = np.maximum(cnt, 1)
                    mean = cor_sum / n
                    std = np.sqrt(np.maximum(cor_sq / n - mean**2, 0.0) * n / np.maximum(n - 1, 1))
                    s_after = striping_pct(mean, valid)
                    s_before = striping_pct(raw_sum / n, valid)
                    floor = float(100.0 * np.sqrt(np.mean((std**2 / n)[valid])) / np.mean(mean[valid]))
                    profiles[band] = (raw_sum / n, mean)
                    stripes[band] = s_after
                    measurements += [
                        Measurement(name="striping_before_pct", value=s_before, unit="%", band=band, tdi=tdi),
                        Measurement(name="striping_after_pct", value=s_after, unit="%", band=band, tdi=tdi),
                        Measurement(name="striping_noise_pct", value=floor, unit="%", band=band, tdi=tdi),
                        Measurement(name="snr_measured", value=float(np.median(mean[valid] / std[valid])), band=band,
                                    tdi=tdi),
                    ]
                    ctx.logger.info(f"{band} {prod.name}: striping {s_before:.3f} % → {s_after:.4f} % "
                                    f"(noise floor {floor:.4f} %)")
        if not profiles:
            warnings.append("no uniform acquisition among the inputs: no striping evidence measured")
        else:
            plot = out / f"correction_TDI{tdi:02d}_correction.png"
            plot_correction(plot, profiles, stripes)
            outputs.append(OutputProduct(port="plot", path=plot, product_type="IMQ_CORPLT", bands=tuple(profiles),
                                         tdi=tdi))
        for w in warnings:
            ctx.logger.warning(w)
        summary = "; ".join(f"{b}: residual striping {s:.4f} %" for b, s in stripes.items()) or "corrected"
        return ProcessorResult(outputs=tuple(outputs), measurements=tuple(measurements),
                               status=RunStatus.WARNING if warnings else RunStatus.OK, warnings=tuple(warnings),
                               summary=summary)

    @staticmethod
    def _need(ctx: RunContext[Any], gipp_type: str, port: str, band: str, tdi: int) -> Path:
        path = find_gipp(ctx, gipp_type, band, tdi, port=port if ctx.all(port) else None)
        if path is None:
            raise MissingInputError(f"band {band} TDI {tdi}: no {gipp_type} given on port {port} nor in force")
        if not path.is_file():
            raise GippError(f"{path}: GIPP file does not exist")
        return path
