"""Neutral records the monitoring code works on (filled from the catalog and the GIPP store)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class SeriesPoint:
    """One measurement value at one sensing time."""

    name: str
    value: float
    time: datetime
    band: str | None = None
    tdi: int | None = None
    site: str | None = None
    unit: str = ""
    direction: str | None = None
    job_id: str | None = None
    product_id: int | None = None
    processor: str | None = None
    version: str | None = None


@dataclass(frozen=True)
class GippChange:
    """A GIPP promotion, drawn as a marker on trend plots."""

    time: datetime
    gipp_type: str
    version: int
    status: str
    band: str | None = None
