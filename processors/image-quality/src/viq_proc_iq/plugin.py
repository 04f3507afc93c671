"""Plugin module of viq-proc-image-quality (entry point group ``viq.processors``)."""

from __future__ import annotations

from viq_interfaces import hookimpl
from viq_interfaces.hookspecs import ProcessorRegistry
from viq_proc_iq.processor import SlantedEdgeMtf


@hookimpl
def viq_add_processors(registry: ProcessorRegistry) -> None:
    """Register the slanted-edge MTF processor."""
    registry.add(SlantedEdgeMtf)
