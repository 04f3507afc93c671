"""Entry point (group ``viq.processors``): registers the ``venus-simulator`` processor."""

from __future__ import annotations

from viq_interfaces.hookspecs import ProcessorRegistry, hookimpl
from viq_proc_simulator.processor import VenusSimulator


@hookimpl
def viq_add_processors(registry: ProcessorRegistry) -> None:
    """Add :class:`VenusSimulator`."""
    registry.add(VenusSimulator)
