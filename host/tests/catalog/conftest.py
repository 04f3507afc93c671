"""One parametrized fixture runs the same catalog suite against SQLite and PostgreSQL/PostGIS."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from viq_host.catalog import Catalog, open_catalog
from viq_host.catalog import builtin as catalog_builtin
from viq_host.plugins import Plugins, load_plugins


@pytest.fixture(scope="session")
def catalog_plugins() -> Plugins:
    """Plugins with only the built-in catalog backends (no entry points: other plugins stay out)."""
    return load_plugins([catalog_builtin], entry_points_enabled=False)


@pytest.fixture(params=["sqlite", "postgis"])
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of a fresh, empty catalog database on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    url: str = request.getfixturevalue("postgis_url")
    return url


@pytest.fixture
def catalog(catalog_url: str, catalog_plugins: Plugins) -> Iterator[Catalog]:
    """An opened (migrated) empty catalog on each backend."""
    cat = open_catalog(catalog_url, catalog_plugins)
    try:
        yield cat
    finally:
        cat.close()
