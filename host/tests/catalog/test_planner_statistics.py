"""A large archive import leaves the query planner's statistics fresh, on both backends."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from viq_host.catalog import Catalog, NewProduct, ProductQuery
from viq_host.catalog.base import ANALYZE_AFTER_ROWS

T0 = datetime(2020, 1, 1, tzinfo=UTC)


def _rows(n: int, prefix: str) -> list[NewProduct]:
    return [
        NewProduct(
            "VSC_L1VALD" if i % 3 else "VSC_L2VALD",
            f"/stats/{prefix}/{i}",
            size=1,
            sha256="f" * 64,
            site="SUDOUE-6",
            bands=("B03",),
            sensing_start=T0 + timedelta(hours=i),
        )
        for i in range(n)
    ]


def _analysed(url: str) -> set[str]:
    """Tables of the catalog that carry planner statistics."""
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        try:
            if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchall():
                return set()
            return {str(r[0]) for r in conn.execute("SELECT DISTINCT tbl FROM sqlite_stat1")}
        finally:
            conn.close()
    import psycopg2

    pg = psycopg2.connect(url)
    try:
        with pg.cursor() as cur:
            cur.execute("SELECT DISTINCT tablename FROM pg_stats WHERE schemaname = 'public'")
            return {str(r[0]) for r in cur.fetchall()}
    finally:
        pg.close()


def _all_visible_pages(url: str) -> int:
    """Pages of the PostgreSQL product table marked all-visible (set by VACUUM, not by COPY or ANALYZE)."""
    import psycopg2

    pg = psycopg2.connect(url)
    try:
        with pg.cursor() as cur:
            cur.execute("SELECT relallvisible FROM pg_class WHERE relname = 'product'")
            return int(cur.fetchone()[0])
    finally:
        pg.close()


@pytest.mark.parametrize("many", [False, True], ids=["small", "large"])
def test_large_bulk_load_refreshes_planner_statistics(catalog: Catalog, catalog_url: str, many: bool) -> None:
    """At least ANALYZE_AFTER_ROWS rows in one import: the product table is analysed in the same transaction (a
    search right after an import is planned on the new table, not on an empty one) and, on PostgreSQL, vacuumed
    after the commit (visibility map set); a small import leaves both to the database's own schedule."""
    n = ANALYZE_AFTER_ROWS if many else 20  # 20: under autovacuum's own analyse threshold (50 rows)
    with catalog.bulk_load() as loader:
        loader.add(_rows(n, "a"))
    assert ("product" in _analysed(catalog_url)) is many
    if not catalog_url.startswith("sqlite"):
        assert (_all_visible_pages(catalog_url) > 0) is many  # vacuumed: index-only searches skip the table
    page = catalog.search(ProductQuery(product_type="VSC_L2VALD", limit=5))
    assert len(page.items) == 5 and all(r.product_type == "VSC_L2VALD" for r in page.items)
