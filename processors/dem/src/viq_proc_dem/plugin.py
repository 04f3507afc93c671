"""Entry point of the ``viq.processors`` group: ``reference-dem``, ``dem-compare`` and ``stereo-dem-check``."""

from __future__ import annotations

from viq_interfaces import hookimpl
from viq_interfaces.hookspecs import ProcessorRegistry
from viq_proc_dem.dem_compare import DemCompareProcessor
from viq_proc_dem.reference_dem import ReferenceDemProcessor
from viq_proc_dem.stereo_check import StereoCheckProcessor


@hookimpl
def viq_add_processors(registry: ProcessorRegistry) -> None:
    """Register the DEM processors."""
    registry.add(ReferenceDemProcessor)
    registry.add(DemCompareProcessor)
    registry.add(StereoCheckProcessor)
