"""PostGIS-only search paths: the backend's own page decoder and the (footprint, type, time) GiST index."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import shapely

from viq_host.catalog import NewProduct, ProductQuery, ProductState
from viq_host.catalog._sql import SqlCatalog
from viq_host.catalog.postgis import PostgisCatalog

T0 = datetime(2020, 3, 1, 10, 0, tzinfo=UTC)


def _box(x: float, y: float, size: float = 0.5) -> str:
    return shapely.box(x, y, x + size, y + size).wkt


@pytest.fixture
def pg(postgis_url: str) -> Iterator[PostgisCatalog]:
    """A migrated PostGIS catalog with varied rows: with and without footprint, times, site, JSON, flags, lineage;
    one superseded and one deleted product."""
    cat = PostgisCatalog(postgis_url)
    try:
        for k in range(24):
            when = T0 + timedelta(days=11 * k, microseconds=k * 137)
            cat.ingest(
                NewProduct(
                    ("VSC_L1VALD", "VSC_L2VALD", "IMQ_MTFMES")[k % 3],
                    f"/archive/p{k:03d}.tif",
                    site=None if k % 7 == 0 else f"SITE{k % 4}",
                    bands=() if k % 5 == 0 else tuple(f"B{b}" for b in range(1, 2 + k % 4)),
                    tdi=None if k % 2 else k,
                    sensing_start=None if k % 6 == 5 else when,
                    sensing_stop=None if k % 6 == 5 else when + timedelta(seconds=8),
                    footprint_wkt=None if k % 8 == 3 else _box(1.0 + 0.1 * (k % 5), 43.0 + 0.1 * (k % 3)),
                    size=1000 + k,
                    sha256=f"{k:064x}",
                    job_id=f"job-{k}" if k % 4 == 1 else None,
                    processor="mtf" if k % 3 == 2 else None,
                    processor_version="01.00" if k % 3 == 2 else None,
                    gipp_versions={"GIP_SBPARS": f"{k:04d}"} if k % 5 == 2 else {},
                    quality_flags=("partial",) if k % 6 == 1 else (),
                    metadata={"k": k, "nested": {"x": [1.5, None]}} if k % 4 == 3 else {},
                    inputs=(1,) if k > 1 and k % 9 == 0 else (),
                )
            )
        replacement = cat.ingest(NewProduct("VSC_L1VALD", "/archive/p001.tif", size=7, sha256="e" * 64), supersedes=2)
        assert replacement.id > 24
        cat.delete(5, "test")
        yield cat
    finally:
        cat.close()


ALL = (ProductState.ACTIVE, ProductState.SUPERSEDED, ProductState.DELETED)


def test_postgis_page_decoder_equals_the_shared_decoder(pg: PostgisCatalog) -> None:
    """The PostGIS ``_records`` gives the same records, field for field, as the decoder shared with SQLite, on rows
    with and without footprint, times, site, bands, JSON, flags, in every state."""
    rows = pg._read(f"SELECT {pg._select()} FROM product p ORDER BY p.id")
    assert len(rows) == 25
    fast = pg._records(rows)
    shared = SqlCatalog._records(pg, rows)
    assert fast == shared
    for a, b in zip(fast, shared, strict=True):
        assert a.__dict__ == b.__dict__
        assert type(a.state) is ProductState and a.state == b.state
    assert {r.state for r in fast} == set(ALL)
    assert any(r.footprint_wkt is None for r in fast) and any(r.sensing_start is None for r in fast)
    assert any(r.metadata for r in fast) and any(r.gipp_versions for r in fast) and any(r.quality_flags for r in fast)
    # and what search returns is what get() (the single-row decoder) returns
    page = pg.search(ProductQuery(states=ALL, limit=100)).items
    assert page == [pg.get(r.id) for r in page] == shared


def test_type_area_window_search_matches_a_python_filter(pg: PostgisCatalog) -> None:
    """Type + bbox (+ sensing window) searches, answered through the (footprint, type, time) GiST index, return
    exactly the products a Python filter over every row finds, in id order."""
    everything = pg.search(ProductQuery(limit=1000)).items
    index_names = {r[0] for r in pg._read("SELECT indexname FROM pg_indexes WHERE tablename = 'product'")}
    assert "product_footprint_type_time" in index_names and "product_footprint" not in index_names
    boxes = [(1.0, 43.0, 1.2, 43.2), (1.45, 43.25, 1.5, 43.3), (0.0, 0.0, 0.5, 0.5), (1.0, 43.0, 3.0, 45.0)]
    windows = [(None, None), (T0, T0 + timedelta(days=60)), (T0 + timedelta(days=100), None)]
    checked = 0
    for ptype in ("VSC_L1VALD", "VSC_L2VALD", "IMQ_MTFMES", None):
        for box in boxes:
            area = shapely.box(*box)
            for start, stop in windows:
                want = [
                    r.id
                    for r in everything
                    if (ptype is None or r.product_type == ptype)
                    and r.footprint_wkt is not None
                    and shapely.from_wkt(r.footprint_wkt).intersects(area)
                    and (start is None or (r.sensing_start is not None and r.sensing_start >= start))
                    and (stop is None or (r.sensing_start is not None and r.sensing_start < stop))
                ]
                q = ProductQuery(product_type=ptype, bbox=box, start=start, stop=stop, limit=1000)
                assert [r.id for r in pg.search(q).items] == want, (ptype, box, start, stop)
                assert pg.count(q) == len(want)
                checked += bool(want)
    assert checked >= 10  # the cases are not all empty
