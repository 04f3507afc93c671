"""Entry point of the ``viq.processors`` group: registers the geometry processors."""

from __future__ import annotations

from viq_interfaces import hookimpl
from viq_interfaces.hookspecs import ProcessorRegistry
from viq_proc_geometry.processors import (
    BandToBand,
    ImageRegistration,
    MultiDateRegistration,
    RpcBiasProcessor,
    ViewingBias,
)


@hookimpl
def viq_add_processors(registry: ProcessorRegistry) -> None:
    """Register every processor of the package."""
    registry.add(ImageRegistration)
    registry.add(BandToBand)
    registry.add(ViewingBias)
    registry.add(RpcBiasProcessor)
    registry.add(MultiDateRegistration)
