"""Processors and a GIPP content model for the API tests (loaded by the worker through ``VIQ_EXTRA_PLUGINS``)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from viq_interfaces import (
    InputPort,
    Measurement,
    OutputPort,
    OutputProduct,
    Processor,
    ProcessorDeclaration,
    ProcessorResult,
    RunContext,
    SelectionRule,
    hookimpl,
)
from viq_interfaces.hookspecs import ComponentRegistry, ProcessorRegistry

FOOTPRINT = "POLYGON((5.0 44.0, 5.3 44.0, 5.3 44.2, 5.0 44.2, 5.0 44.0))"
SENSED = datetime(2021, 3, 4, 10, 30, tzinfo=UTC)


class Params(BaseModel):
    """Parameters of the test processor."""

    model_config = ConfigDict(extra="forbid")
    gain: float = Field(default=2.0, ge=0.0, le=100.0, description="Factor applied to the image.")
    sleep: float = Field(default=0.0, ge=0.0, le=60.0, description="Seconds to wait before finishing.")


class ScaleImage(Processor):
    """Reads a GeoTIFF, writes it multiplied by ``gain`` as a GeoTIFF, and measures its mean as ``snr``."""

    declaration: ClassVar[ProcessorDeclaration] = ProcessorDeclaration(
        name="t-api-scale",
        version="01.00",
        description="Scale an image (API test processor).",
        inputs=(InputPort(name="image", product_types=("VSC_L1VALD",),
                          selection=SelectionRule.LATEST_VALIDITY_CLOSEST),),
        outputs=(OutputPort(name="scaled", product_type="IMQ_APITST", format="GeoTIFF", file_name_pattern="*.tif"),),
    )
    Parameters: ClassVar[type[BaseModel]] = Params

    def run(self, ctx: RunContext[BaseModel]) -> ProcessorResult:
        import rasterio

        params = ctx.params
        assert isinstance(params, Params)
        with rasterio.open(ctx.one("image").path) as src:
            data = src.read(1).astype(np.float32) * params.gain
            profile = src.profile
        profile.update(dtype="float32")
        out = ctx.output_dir / "scaled.tif"
        with rasterio.open(out, "w", **profile) as dst:
            dst.write(data, 1)
        ctx.logger.info(f"scaled by {params.gain}")
        if params.sleep:
            ctx.logger.progress(50.0, "half way")
            time.sleep(params.sleep)
        return ProcessorResult(
            outputs=(
                OutputProduct(
                    port="scaled",
                    path=Path("scaled.tif"),
                    product_type="IMQ_APITST",
                    site="VENTOUX",
                    bands=("B03",),
                    sensing_start=SENSED,
                    sensing_stop=SENSED,
                    footprint_wkt=FOOTPRINT,
                ),
            ),
            measurements=(Measurement(name="snr", value=float(data.mean()), unit="", band="B03"),),
        )


class _M(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")


class DarkList(_M):
    count: int = Field(alias="@count")
    values: list[float] = Field(alias="Dark_Current", min_length=1)


class Darks(_M):
    """GIP_DARKCU content for the tests: any number of dark currents."""

    schema_version: ClassVar[str] = "1.9"
    dark_currents: DarkList = Field(alias="List_of_Dark_Currents")


@hookimpl
def viq_add_processors(registry: ProcessorRegistry) -> None:
    """Register the test processor."""
    registry.add(ScaleImage)


@hookimpl
def viq_add_gipp_types(registry: ComponentRegistry) -> None:
    """Register the test GIPP content model."""
    registry.add("GIP_DARKCU", Darks)
