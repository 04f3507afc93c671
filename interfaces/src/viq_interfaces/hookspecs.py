"""The whole plugin contract of VIQ: every hook a plugin may implement.

A plugin is a module (or object) registered through the entry-point group ``viq.processors`` (processor
packages) or ``viq.plugins`` (host extensions); it implements some of these hooks with
``@viq_interfaces.hookimpl``. Built-ins (the local executor, the SQLite catalog) use the same hooks.
"""

from __future__ import annotations

from typing import Protocol

import pluggy

from viq_interfaces.processor import Processor

PROJECT = "viq"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class ProcessorRegistry(Protocol):
    """Where plugins add processor classes."""

    def add(self, processor: type[Processor]) -> None:
        """Register one processor class (its declaration is validated on the spot)."""


class ComponentRegistry(Protocol):
    """Where plugins add named components: executors, catalog backends, product readers, GIPP types."""

    def add(self, name: str, factory: object) -> None:
        """Register ``factory`` under ``name``; a duplicate name is an error."""


@hookspec
def viq_add_processors(registry: ProcessorRegistry) -> None:
    """Register processor classes.

    :param registry: the processor registry; call ``registry.add(MyProcessor)`` once per class.
    Fires once, when the host builds its plugin manager and first needs the processor list.
    """


@hookspec
def viq_add_executors(registry: ComponentRegistry) -> None:
    """Register execution back-ends (``local``, ``drmaa``…).

    :param registry: call ``registry.add(name, factory)``; ``factory(settings)`` returns an executor.
    Fires when the host first needs an executor.
    """


@hookspec
def viq_add_catalog_backends(registry: ComponentRegistry) -> None:
    """Register catalog back-ends by URL scheme (``sqlite``, ``postgresql``).

    :param registry: call ``registry.add(scheme, factory)``; ``factory(url)`` returns a catalog.
    Fires when the host first opens a catalog.
    """


@hookspec
def viq_add_product_readers(registry: ComponentRegistry) -> None:
    """Register product readers, keyed by product type code (or ``*`` for a fallback).

    :param registry: call ``registry.add(product_type, reader)``; ``reader(path)`` returns the product's
        catalog metadata (site, bands, sensing times, footprint) as a mapping.
    Fires when the catalog ingests a file not produced by a processor.
    """


@hookspec
def viq_add_gipp_types(registry: ComponentRegistry) -> None:
    """Register GIPP content models by type code (``GIP_DARKCU`` → a pydantic model).

    :param registry: call ``registry.add(gipp_type, model)``.
    Fires when the GIPP store first validates a GIPP's content.
    """
