"""The ``venus-simulator`` processor: the host-facing wrapper around :func:`viq_proc_simulator.simulate`."""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

from pydantic import BaseModel

from viq_interfaces import (
    Measurement,
    OutputPort,
    OutputProduct,
    ProcessorDeclaration,
    ProcessorResult,
    Resources,
    RunContext,
)
from viq_interfaces.errors import ParameterError
from viq_interfaces.processor import Processor
from viq_proc_simulator.api import simulate
from viq_proc_simulator.params import SimulatorParameters
from viq_proc_simulator.products import TRUTH_TYPE

_GIPP_PORTS = {
    "GIP_DARKCU": "truth_darkcu",
    "GIP_RELSEN": "truth_relsen",
    "GIP_OUTORD": "truth_outord",
    "GIP_PHGAIN": "truth_phgain",
    "GIP_NOISMO": "truth_noismo",
    "IMQ_SBPARS": "truth_sbpars",
}


class VenusSimulator(Processor):
    """Simulate VENµS raw and L1-like products with known injected truth."""

    declaration: ClassVar[ProcessorDeclaration] = ProcessorDeclaration(
        name="venus-simulator",
        version="01.00",
        description=(
            "VENµS instrument simulator: dark, flat, side-slither, desert, slanted-edge, textured-scene and "
            "terrain (B5/B6 parallax) acquisitions, and multi-date campaigns over the VENµS sites, with injected "
            "dark, relative sensitivity (two-slope), absolute gain drift, noise, out-of-order pixels, MTF, "
            "focal-plane misregistration, attitude biases and jitter; writes the truth beside every product."
        ),
        outputs=(
            OutputPort(name="raw", product_type="VSC_RAWDAT", format="XML", min_count=0, max_count=None,
                       file_name_pattern="VE_*_VSC_RAWDAT_*.HDR", description="Raw DN per band, sensor geometry."),
            OutputPort(name="l1", product_type="VSC_L1VALD", format="XML", min_count=0, max_count=None,
                       file_name_pattern="VE_*_VSC_L1VALD_*.HDR", description="L1-like TOA radiance."),
            OutputPort(name="reference", product_type="AUX_REFIMG", format="XML", min_count=0, max_count=None,
                       file_name_pattern="VE_*_AUX_REFIMG_*.HDR", description="Reference ortho image."),
            OutputPort(name="dem", product_type="AUX_DEMTIL", format="GTiff", min_count=0, max_count=None,
                       file_name_pattern="*_TRUTH_DEM.TIF", description="'terrain': the truth DEM (m above the "
                       "ellipsoid) on the ground grid, a tile for reference-dem and dem-compare."),
            OutputPort(name="dem_secondary", product_type="AUX_DEMTIL", format="GTiff", min_count=0, max_count=None,
                       file_name_pattern="*_TRUTH_DEM_SECONDARY.TIF", description="'terrain' with "
                       "dem_secondary_shift: the same ground shifted by a known (dx, dy, dz)."),
            OutputPort(name="truth", product_type=TRUTH_TYPE, format="JSON", min_count=1, max_count=None,
                       file_name_pattern="*_TRUTH.json", description="Truth sidecar of each acquisition."),
            *(
                OutputPort(name=port, product_type=gtype, format="XML", min_count=0, max_count=None,
                           file_name_pattern=f"gipps/VE_*_{gtype}_*.EEF", description=f"Truth {gtype}.")
                for gtype, port in _GIPP_PORTS.items()
            ),
        ),
        resources=Resources(cores=1, memory_mb=4096, walltime=timedelta(hours=1), disk_mb=8192),
    )
    Parameters: ClassVar[type[BaseModel]] = SimulatorParameters

    def run(self, ctx: RunContext[BaseModel]) -> ProcessorResult:
        """Simulate into ``ctx.output_dir`` and describe every file written."""
        params = ctx.params
        if not isinstance(params, SimulatorParameters):
            raise ParameterError(f"parameters are {type(params).__name__}, expected SimulatorParameters")
        ctx.logger.info(f"simulating {params.acquisition}: bands {','.join(params.bands)}, TDI {params.tdi} "
                        f"{params.tdi_per_band or ''}, "
                        f"{params.lines}x{params.pixels}, seed {params.seed}")
        run = simulate(ctx.output_dir, params, progress=ctx.logger.progress)
        outputs: list[OutputProduct] = []
        out = ctx.output_dir
        port_of = {"VSC_RAWDAT": "raw", "VSC_L1VALD": "l1", "AUX_REFIMG": "reference"}
        for prod in run.products:
            outputs.append(OutputProduct(
                port=port_of[prod.product_type], path=prod.header, product_type=prod.product_type, site=prod.site,
                bands=prod.bands, tdi=prod.tdi, sensing_start=prod.sensing_start, sensing_stop=prod.sensing_stop,
                footprint_wkt=prod.footprint_wkt,
                metadata={**prod.metadata, "files": [str(f.relative_to(out)) for f in prod.band_files.values()]},
            ))
        for truth_path in run.truths:
            truth = run.truth(run.truths.index(truth_path))
            match = next(p for p in run.products if p.truth == truth_path) if run.products else None
            outputs.append(OutputProduct(
                port="truth", path=truth_path, product_type=TRUTH_TYPE, site=truth["site"],
                bands=tuple(truth["bands"]), tdi=truth["tdi"],
                sensing_start=match.sensing_start if match else None,
                sensing_stop=match.sensing_stop if match else None,
                footprint_wkt=match.footprint_wkt if match else None,
                metadata={"acquisition": truth["acquisition"], "seed": truth["seed"]},
            ))
            for key, port in (("dem_geotiff", "dem"), ("dem_secondary_geotiff", "dem_secondary")):
                if key in truth["files"]:
                    extra = {"shift": truth["dem_secondary_shift"]} if port == "dem_secondary" else {}
                    outputs.append(OutputProduct(
                        port=port, path=truth_path.parent / truth["files"][key], product_type="AUX_DEMTIL",
                        site=truth["site"], sensing_start=match.sensing_start if match else None,
                        footprint_wkt=match.footprint_wkt if match else None,
                        metadata={"vertical_datum": "ellipsoid", "truth": str(truth_path.name), **extra},
                    ))
        for g in run.gipps:
            outputs.append(OutputProduct(
                port=_GIPP_PORTS[g.gipp_type], path=g.path, product_type=g.gipp_type,
                bands=(g.band,) if g.band else (), tdi=g.tdi, sensing_start=g.validity_start,
                sensing_stop=g.validity_stop, metadata={"truth": True},
            ))
        measurements = []
        if run.truths:
            first = run.truth(0)
            for band, info in first["bands"].items():
                measurements.append(Measurement(name="truth_absolute_gain", value=info["absolute_gain"],
                                                unit="DN/(W.m-2.sr-1.um-1)", band=band,
                                                tdi=info.get("tdi", first["tdi"])))
        summary = f"{len(run.products)} products, {len(run.truths)} truth files, {len(run.gipps)} truth GIPPs"
        ctx.logger.info(summary)
        return ProcessorResult(outputs=tuple(outputs), measurements=tuple(measurements), summary=summary)
