"""What a processor returns: output products with their metadata, and named measurements."""

from __future__ import annotations

import enum
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class OutputProduct(_Frozen):
    """One file (or directory) written by a processor for one of its output ports."""

    port: str = Field(description="Output port name.")
    path: Path = Field(description="Path, relative to the run's output directory or absolute inside it.")
    product_type: str = Field(description="10-character product type code.")
    site: str | None = Field(default=None, description="Site name (VENµS site list) when relevant.")
    bands: tuple[str, ...] = Field(default=(), description="Band names, e.g. ('B3',).")
    tdi: int | None = Field(default=None, description="TDI setting, when relevant.")
    sensing_start: datetime | None = Field(default=None, description="Start of the sensing/validity period.")
    sensing_stop: datetime | None = Field(default=None, description="End of the sensing/validity period.")
    footprint_wkt: str | None = Field(default=None, description="Footprint polygon, EPSG:4326 WKT (lon lat).")
    metadata: dict[str, Any] = Field(default_factory=dict, description="Free metadata (JSON-serialisable).")


class Measurement(_Frozen):
    """A named number measured by a run, stored in the measurement time series."""

    name: str = Field(description="Measurement name, e.g. 'mtf50', 'dx_px', 'snr'.")
    value: float = Field(description="The value.")
    unit: str = Field(default="", description="Unit, e.g. 'cy/px', 'px', 'DN'.")
    band: str | None = Field(default=None, description="Band the value belongs to.")
    tdi: int | None = Field(default=None, description="TDI setting the value belongs to.")
    direction: str | None = Field(default=None, description="'along' / 'across' track, when relevant.")
    uncertainty: float | None = Field(default=None, description="One-sigma uncertainty, same unit.")

    @property
    def key(self) -> str:
        """Flat name used in summaries: ``name[_band][_direction]``."""
        parts = [self.name]
        if self.band:
            parts.append(self.band)
        if self.tdi is not None:
            parts.append(f"tdi{self.tdi}")
        if self.direction:
            parts.append(self.direction)
        return "_".join(parts)


class RunStatus(enum.StrEnum):
    """How a run ended, as the processor sees it."""

    OK = "ok"
    WARNING = "warning"
    SKIPPED = "skipped"


class ProcessorResult(_Frozen):
    """The typed result of one run; the worker writes it as ``result.json``."""

    outputs: tuple[OutputProduct, ...] = Field(default=(), description="Products written.")
    measurements: tuple[Measurement, ...] = Field(default=(), description="Named measurements.")
    status: RunStatus = Field(default=RunStatus.OK, description="ok, warning or skipped.")
    warnings: tuple[str, ...] = Field(default=(), description="Warnings for the operator.")
    summary: str = Field(default="", description="One line on what the run found.")
