"""Built-in catalog backends, registered through the same hook a third-party backend would use."""

from __future__ import annotations

from typing import Any

from viq_host.catalog.base import Catalog
from viq_interfaces import hookimpl
from viq_interfaces.hookspecs import ComponentRegistry


def sqlite_backend(url: str, **options: Any) -> Catalog:
    """The embedded SQLite catalog (``sqlite:///PATH``)."""
    from viq_host.catalog.sqlite import SqliteCatalog

    return SqliteCatalog(url, **options)


def postgis_backend(url: str, **options: Any) -> Catalog:
    """The PostgreSQL/PostGIS catalog (``postgresql://user:pw@host:port/db``)."""
    from viq_host.catalog.postgis import PostgisCatalog

    return PostgisCatalog(url, **options)


@hookimpl
def viq_add_catalog_backends(registry: ComponentRegistry) -> None:
    """Register ``sqlite`` and ``postgresql`` (aliases ``postgres``, ``postgis``)."""
    registry.add("sqlite", sqlite_backend)
    for scheme in ("postgresql", "postgres", "postgis"):
        registry.add(scheme, postgis_backend)
