"""Host plugin (entry-point group ``viq.plugins``): registers the VENµS GIPP content models by type code."""

from __future__ import annotations

from viq_interfaces.hookspecs import ComponentRegistry, hookimpl
from viq_venus.gipp.models import CONTENT_MODELS


@hookimpl
def viq_add_gipp_types(registry: ComponentRegistry) -> None:
    """Add GIP_DARKCU, GIP_RELSEN, GIP_PHGAIN, GIP_NOISMO, GIP_OUTORD and IMQ_SBPARS content models."""
    for type_code, model in CONTENT_MODELS.items():
        registry.add(type_code, model)
