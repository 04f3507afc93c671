"""Entry point of the ``viq.processors`` group: registers ``reference-dem`` and ``dem-compare``."""

from __future__ import annotations

from viq_interfaces import hookimpl
from viq_interfaces.hookspecs import ProcessorRegistry
from viq_proc_dem.dem_compare import DemCompareProcessor
from viq_proc_dem.reference_dem import ReferenceDemProcessor


@hookimpl
def viq_add_processors(registry: ProcessorRegistry) -> None:
    """Register the DEM processors."""
    registry.add(ReferenceDemProcessor)
    registry.add(DemCompareProcessor)
