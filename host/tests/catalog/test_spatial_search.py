"""Spatial searches: the R*Tree preselection (bounding box, product type, sensing day) never changes an answer.

The SQLite backend keeps the product type and sensing day in its R*Tree (schema 7; one dimension since 8) and
tests the exact intersection of a search's candidates in vectorised chunks; these tests compare searches, pages and
counts with a brute-force answer computed here with shapely, on both backends where the behaviour is shared.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import shapely

from viq_host.catalog import Catalog, NewProduct, ProductQuery
from viq_host.catalog import sqlite as sqlite_backend
from viq_host.catalog.migrations import migrations, split_statements
from viq_host.catalog.sqlite import SqliteCatalog

T0 = datetime(2020, 3, 1, 10, 0, tzinfo=UTC)
TYPES = ("VSC_L1VALD", "VSC_L2VALD", "IMQ_MTFMES")


def _square(lon: float, lat: float, half: float) -> str:
    return shapely.box(lon - half, lat - half, lon + half, lat + half).wkt


def _expected(products: list[NewProduct], ids: list[int], q: ProductQuery) -> list[int]:
    """Ids of the products matching ``q`` (type, sensing window, area), computed without the catalog."""
    area = None
    if q.bbox is not None:
        area = shapely.box(*q.bbox)
    if q.polygon_wkt is not None:
        poly = shapely.from_wkt(q.polygon_wkt)
        area = poly if area is None else area.intersection(poly)
    out = []
    for pid, p in zip(ids, products, strict=True):
        if q.product_type is not None and p.product_type != q.product_type:
            continue
        t = p.sensing_start
        if q.start is not None and (t is None or t < q.start):
            continue
        if q.stop is not None and (t is None or t >= q.stop):
            continue
        if area is not None and (p.footprint_wkt is None or not shapely.from_wkt(p.footprint_wkt).intersects(area)):
            continue
        out.append(pid)
    return sorted(out)


def _edge_products() -> list[NewProduct]:
    """Products of three types on one spot, their sensing starts one microsecond, one second and hours apart (the
    R*Tree holds days in 32-bit floats: the edges of a window must still be exact), one without a sensing time."""
    offsets = [timedelta(0), timedelta(microseconds=1), timedelta(microseconds=2), timedelta(seconds=1)]
    offsets += [timedelta(hours=h) for h in (3, 23, 24, 25, 24 * 40)]
    out = []
    for k, off in enumerate(offsets):
        for j, ptype in enumerate(TYPES):
            out.append(
                NewProduct(
                    ptype,
                    f"/edge/{ptype}_{k}.tif",
                    site="EDGE",
                    bands=("B3",),
                    sensing_start=T0 + off,
                    sensing_stop=T0 + off + timedelta(seconds=8),
                    footprint_wkt=_square(10.0 + 0.01 * j, 45.0, 0.05),
                    size=1,
                    sha256=f"{k * 3 + j:064x}",
                )
            )
    out.append(
        NewProduct(
            "VSC_L1VALD",
            "/edge/undated.tif",
            site="EDGE",
            footprint_wkt=_square(10.0, 45.0, 0.05),
            size=1,
            sha256="f" * 64,
        )
    )
    return out


def test_sensing_window_edges_are_exact_in_spatial_searches(catalog: Catalog) -> None:
    """A type + area search with its window starting or stopping exactly at a product's sensing start (to the
    microsecond) keeps the start and drops the stop, like the same search without an area; an undated product is
    found by an area search without a window only."""
    products = _edge_products()
    ids = catalog.add_products(products)
    box = (9.9, 44.9, 10.1, 45.1)
    times = sorted({p.sensing_start for p in products if p.sensing_start is not None})
    checked = 0
    for ptype in (None, *TYPES):
        for i, start in enumerate(times):
            for stop in (*times[i + 1 : i + 4], None):
                for q in (
                    ProductQuery(product_type=ptype, bbox=box, start=start, stop=stop),
                    ProductQuery(product_type=ptype, bbox=box, stop=start),
                ):
                    want = _expected(products, ids, q)
                    assert [r.id for r in catalog.search(q).items] == want, q
                    assert catalog.count(q) == len(want), q
                    checked += len(want)
        q = ProductQuery(product_type=ptype, bbox=box)
        want = _expected(products, ids, q)
        assert [r.id for r in catalog.search(q).items] == want
        assert (ids[-1] in want) is (ptype in (None, "VSC_L1VALD"))
    assert checked > 100


@pytest.mark.parametrize("way_in", ["r-tree", "planner"])
def test_polygon_search_pages_through_rejected_candidates(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch, way_in: str
) -> None:
    """A triangle whose bounding box holds many footprints that miss it: every page has ``limit`` products that
    intersect it (found on SQLite through small candidate chunks, mostly rejected, read in id order from the R*Tree's
    ids or from the statement the planner drives), pages follow each other without gap or repeat, and their union is
    the brute-force answer; ``count`` agrees."""
    monkeypatch.setattr(sqlite_backend, "_EXACT_CHUNK", 5)
    monkeypatch.setattr(sqlite_backend, "_FIRST_CHUNK", 3)
    if way_in == "planner":
        monkeypatch.setattr(sqlite_backend, "_BOX_DRIVES_BELOW", 0)
    products = []
    for i in range(12):
        for j in range(12):
            products.append(
                NewProduct(
                    TYPES[(i + j) % 2],
                    f"/grid/{i}_{j}.tif",
                    site="GRID",
                    sensing_start=T0 + timedelta(days=i * 12 + j),
                    footprint_wkt=_square(20.0 + 0.25 * i, 10.0 + 0.25 * j, 0.1),
                    size=1,
                    sha256=f"{i * 12 + j:064x}",
                )
            )
    ids = catalog.add_products(products)
    triangle = "POLYGON((19.8 9.8, 23.0 9.8, 19.8 13.0, 19.8 9.8))"
    for q in (
        ProductQuery(polygon_wkt=triangle, limit=7),
        ProductQuery(polygon_wkt=triangle, product_type="VSC_L2VALD", limit=4),
        ProductQuery(polygon_wkt=triangle, bbox=(20.4, 10.4, 23.0, 13.0), limit=3),
        ProductQuery(polygon_wkt=triangle, start=T0 + timedelta(days=30), stop=T0 + timedelta(days=100), limit=6),
    ):
        want = _expected(products, ids, q)
        assert 0 < len(want) < sum(1 for p in products if q.product_type in (None, p.product_type))
        got: list[int] = []
        after = None
        while True:
            page = catalog.search(dataclasses.replace(q, after=after))
            assert len(page.items) == min(q.limit, len(want) - len(got))
            got += [r.id for r in page.items]
            if page.next_after is None:
                break
            assert page.next_after == got[-1]
            after = page.next_after
        assert got == want
        assert catalog.count(q) == len(want)


def test_many_product_types_share_the_type_and_day_dimension(tmp_path: Path) -> None:
    """The R*Tree's type-and-day dimension (type number × 65,536 + day) stays a preselection when its 32-bit floats
    can no longer hold a day exactly (300 types: numbers above 255) and for sensing times before 1970 or without
    one: type + area + window searches and counts answer as the brute force, for the first and the last types."""
    cat = SqliteCatalog(f"sqlite:///{tmp_path / 'c.sqlite'}")
    try:
        products = []
        for k in range(300):
            for j, when in enumerate((T0, T0 + timedelta(hours=20), datetime(1969, 12, 30, tzinfo=UTC), None)):
                products.append(
                    NewProduct(
                        f"TST_T{k:05d}",
                        f"/many/{k}_{j}.tif",
                        sensing_start=when,
                        footprint_wkt=_square(10.0 + 0.001 * k, 45.0, 0.05),
                        size=1,
                        sha256=f"{k * 4 + j:064x}",
                    )
                )
        ids = cat.add_products(products[:600])
        ids += [cat.ingest(p).id for p in products[600:]]
        box = (9.0, 44.0, 11.0, 46.0)
        for k in (0, 1, 254, 255, 256, 298, 299):
            ptype = f"TST_T{k:05d}"
            for q in (
                ProductQuery(product_type=ptype, bbox=box),
                ProductQuery(product_type=ptype, bbox=box, start=T0 + timedelta(hours=1)),
                ProductQuery(product_type=ptype, bbox=box, stop=T0 + timedelta(hours=20)),
                ProductQuery(product_type=ptype, bbox=box, stop=T0),
                ProductQuery(product_type=ptype, bbox=box, stop=datetime(1969, 12, 31, tzinfo=UTC)),
                ProductQuery(product_type=ptype, bbox=box, start=T0, stop=T0 + timedelta(microseconds=1)),
            ):
                want = _expected(products, ids, q)
                assert want and [r.id for r in cat.search(q).items] == want, q
                assert cat.count(q) == len(want), q
        assert cat.search(ProductQuery(product_type="TST_ABSENT", bbox=box)).items == []
    finally:
        cat.close()


def test_schema_6_rtree_is_carried_into_the_type_and_day_index(tmp_path: Path) -> None:
    """A schema-6 SQLite file (bounding boxes only in ``product_rtree``) migrates through schema 7 (``product_box``,
    4-D) to 8: its boxes end in ``product_area`` with type number and day, the old tables are dropped, every type
    is numbered, and type + area + window searches answer as the brute force does."""
    path = tmp_path / "v6.sqlite"
    products = _edge_products()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(
        "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied TEXT NOT NULL, description TEXT NOT NULL)"
    )
    for mig in migrations("sqlite"):
        if mig.version > 6:
            break
        for stmt in split_statements(mig.sql):
            conn.execute(stmt)
        conn.execute("INSERT INTO schema_version VALUES (?, '2026-01-01T00:00:00Z', ?)", (mig.version, mig.description))
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    ids = list(range(1, len(products) + 1))
    for pid, p in zip(ids, products, strict=True):
        start = None if p.sensing_start is None else (p.sensing_start - epoch) // timedelta(microseconds=1)
        geom = shapely.from_wkt(p.footprint_wkt)
        conn.execute(
            "INSERT INTO product (id, product_type, mission, site, bands, sensing_start, footprint, path, size, "
            "sha256, created) VALUES (?, ?, 'VENUS', ?, ?, ?, ?, ?, 1, ?, 0)",
            (pid, p.product_type, p.site, "," + ",".join(p.bands) + ",", start, shapely.to_wkb(geom), p.path, p.sha256),
        )
        x0, y0, x1, y1 = geom.bounds
        conn.execute("INSERT INTO product_rtree VALUES (?, ?, ?, ?, ?)", (pid, x0, x1, y0, y1))
    conn.close()
    cat = SqliteCatalog(f"sqlite:///{path}")
    try:
        assert cat.schema_version() >= 8
        tables = {r[0] for r in cat._read("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "product_area" in tables and not tables & {"product_rtree", "product_box"}
        assert cat._read("SELECT count(*) FROM product_area")[0][0] == len(products)
        numbered = {r[0] for r in cat._read("SELECT product_type FROM product_type_code")}
        assert numbered == set(TYPES)
        box = (9.9, 44.9, 10.1, 45.1)
        for ptype in (None, *TYPES):
            for q in (
                ProductQuery(product_type=ptype, bbox=box),
                ProductQuery(product_type=ptype, bbox=box, start=T0 + timedelta(microseconds=1)),
                ProductQuery(product_type=ptype, bbox=box, start=T0, stop=T0 + timedelta(hours=24)),
                ProductQuery(product_type=ptype, bbox=(10.04, 44.9, 10.2, 45.1), stop=T0 + timedelta(seconds=1)),
            ):
                want = _expected(products, ids, q)
                assert want and [r.id for r in cat.search(q).items] == want, q
    finally:
        cat.close()
