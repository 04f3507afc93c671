"""The product catalog: one API (:class:`Catalog`), two backends (SQLite embedded, PostgreSQL/PostGIS).

Open one with :func:`open_catalog` (the backend is chosen by URL scheme through the
``viq_add_catalog_backends`` hook, so a third-party backend plugs in the same way as the built-ins).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from viq_host.catalog.base import (
    BulkLoad,
    Catalog,
    CatalogConflict,
    CatalogError,
    InvalidProduct,
    InvalidQuery,
    LineageEdge,
    MeasurementRow,
    NewProduct,
    OutputLike,
    Page,
    ProductEvent,
    ProductNotFound,
    ProductQuery,
    ProductRecord,
    ProductState,
    VerifyReport,
    feature_collection,
)

if TYPE_CHECKING:
    from viq_host.plugins import Plugins

__all__ = [
    "BulkLoad",
    "Catalog",
    "CatalogConflict",
    "CatalogError",
    "InvalidProduct",
    "InvalidQuery",
    "LineageEdge",
    "MeasurementRow",
    "NewProduct",
    "OutputLike",
    "Page",
    "ProductEvent",
    "ProductNotFound",
    "ProductQuery",
    "ProductRecord",
    "ProductState",
    "VerifyReport",
    "feature_collection",
    "open_catalog",
]


def open_catalog(url: str, plugins: Plugins | None = None, **options: Any) -> Catalog:
    """Open (and migrate forward, unless ``migrate=False``) the catalog at ``url``.

    ``sqlite:///relative/path``, ``sqlite:////absolute/path``, ``postgresql://user:pw@host:port/db``.
    ``plugins`` defaults to the installed plugins (entry points).
    """
    from viq_host.catalog.base import CatalogError
    from viq_host.plugins import load_plugins
    from viq_interfaces.errors import RegistryError

    if "://" not in url:
        raise CatalogError(f"catalog URL {url!r} has no scheme (sqlite:///PATH or postgresql://…)")
    scheme = url.split("://", 1)[0].split("+", 1)[0].lower()
    plugins = plugins if plugins is not None else load_plugins()
    try:
        factory = plugins.catalog_backends.get(scheme)
    except RegistryError as err:
        raise CatalogError(f"no catalog backend for URL scheme {scheme!r}: {err}") from err
    catalog: Catalog = factory(url, **options)
    return catalog
