"""Entry point (group ``viq.processors``): registers the radiometry processors."""

from __future__ import annotations

from viq_interfaces.hookspecs import ProcessorRegistry, hookimpl


@hookimpl
def viq_add_processors(registry: ProcessorRegistry) -> None:
    """Add dark-signal, relative-sensitivity, noise-model, absolute-calibration and radiometric-correction."""
    from viq_proc_radiometry.processors import PROCESSORS

    for cls in PROCESSORS:
        registry.add(cls)
