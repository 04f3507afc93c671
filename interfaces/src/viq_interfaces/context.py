"""The frozen run context a processor receives from the worker."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel

from viq_interfaces.errors import Cancelled, GippError, MissingInputError


@dataclass(frozen=True)
class InputProduct:
    """One resolved input file."""

    path: Path
    product_type: str
    product_id: int | None = None
    """Catalog id when the product is catalogued (set by the host)."""
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GippInForce:
    """One GIPP resolved by the host for this run (the exact version is recorded with the job)."""

    gipp_type: str
    version: int
    path: Path
    band: str | None = None
    tdi: int | None = None
    gipp_id: int | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)


class ProcessorLogger(Protocol):
    """Log sink of a run; the worker writes ICD log lines (``… [I] message``)."""

    def debug(self, message: str) -> None:
        """Level D."""

    def info(self, message: str) -> None:
        """Level I."""

    def progress(self, percent: float, message: str = "") -> None:
        """Level P: progress in percent (0–100)."""

    def warning(self, message: str) -> None:
        """Level W."""

    def error(self, message: str) -> None:
        """Level E."""


P = TypeVar("P", bound=BaseModel)


@dataclass(frozen=True)
class RunContext(Generic[P]):
    """Everything one run may use; built by the worker from a validated job order."""

    job_id: str
    attempt_id: str
    processor: str
    version: str
    inputs: Mapping[str, tuple[InputProduct, ...]]
    params: P
    gipps: Mapping[str, tuple[GippInForce, ...]]
    work_dir: Path
    output_dir: Path
    logger: ProcessorLogger
    is_cancelled: Callable[[], bool]
    sensing_start: datetime | None = None
    sensing_stop: datetime | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def one(self, port: str) -> InputProduct:
        """The single input of ``port``; MissingInputError if absent."""
        items = self.inputs.get(port, ())
        if not items:
            raise MissingInputError(f"input port {port!r} has no product")
        return items[0]

    def all(self, port: str) -> tuple[InputProduct, ...]:
        """All inputs of ``port`` (empty tuple if the optional port is absent)."""
        return self.inputs.get(port, ())

    def gipp(self, gipp_type: str, band: str | None = None) -> GippInForce:
        """The one GIPP of ``gipp_type`` (for ``band`` if given); GippError if none or several."""
        found = [g for g in self.gipps.get(gipp_type, ()) if band is None or g.band in (None, band)]
        if len(found) != 1:
            raise GippError(f"{len(found)} GIPP(s) of type {gipp_type} for band {band} in the run context")
        return found[0]

    def check_cancelled(self) -> None:
        """Raise Cancelled when the host asked the run to stop; call it between work units."""
        if self.is_cancelled():
            raise Cancelled(f"run {self.attempt_id} cancelled")
