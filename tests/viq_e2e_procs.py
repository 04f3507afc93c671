"""Processors used by the cross-package tests (loaded by the worker through ``VIQ_EXTRA_PLUGINS``)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

import numpy as np
from pydantic import BaseModel

from viq_interfaces import (
    GippRequirement,
    InputPort,
    Measurement,
    OutputPort,
    OutputProduct,
    Processor,
    ProcessorDeclaration,
    ProcessorResult,
    RunContext,
    hookimpl,
)
from viq_interfaces.hookspecs import ProcessorRegistry

FOOTPRINT = "POLYGON((5.0 44.0, 5.3 44.0, 5.3 44.2, 5.0 44.2, 5.0 44.0))"


class MeanDn(Processor):
    """Reads a GeoTIFF, writes its band means as CSV and measures ``mean_dn`` over a fixed footprint."""

    declaration: ClassVar[ProcessorDeclaration] = ProcessorDeclaration(
        name="t-mean-dn",
        version="01.00",
        description="Mean DN of an image (test processor).",
        inputs=(InputPort(name="image", product_types=("VSC_L1VALD",)),),
        outputs=(OutputPort(name="table", product_type="IMQ_MEANDN", format="CSV", file_name_pattern="*.csv"),),
    )

    def run(self, ctx: RunContext[BaseModel]) -> ProcessorResult:
        import rasterio

        with rasterio.open(ctx.one("image").path) as src:
            data = src.read(1).astype(np.float64)
        mean = float(data.mean())
        out = ctx.output_dir / "mean.csv"
        out.write_text(f"band,mean\nB3,{mean}\n", encoding="utf-8")
        when = datetime(2020, 6, 1, 10, 30, tzinfo=UTC)
        return ProcessorResult(
            outputs=(
                OutputProduct(
                    port="table",
                    path=Path("mean.csv"),
                    product_type="IMQ_MEANDN",
                    site="VENTOUX",
                    bands=("B3",),
                    sensing_start=when,
                    sensing_stop=when,
                    footprint_wkt=FOOTPRINT,
                ),
            ),
            measurements=(Measurement(name="mean_dn", value=mean, unit="DN", band="B3"),),
        )


class DarkUser(MeanDn):
    """Like MeanDn but needs the dark-current GIPP in force, and reports its version as a measurement."""

    declaration: ClassVar[ProcessorDeclaration] = MeanDn.declaration.model_copy(
        update={"name": "t-dark-user", "gipps": (GippRequirement(gipp_type="GIP_DARKCU"),)}
    )

    def run(self, ctx: RunContext[BaseModel]) -> ProcessorResult:
        result = super().run(ctx)
        gipp = ctx.gipp("GIP_DARKCU")
        extra = Measurement(name="dark_gipp_version", value=float(gipp.version))
        return result.model_copy(update={"measurements": (*result.measurements, extra)})


@hookimpl
def viq_add_processors(registry: ProcessorRegistry) -> None:
    """Register the test processors."""
    registry.add(MeanDn)
    registry.add(DarkUser)
