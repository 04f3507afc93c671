"""The catalog API, run identically on SQLite and PostGIS (fixture ``catalog`` is parametrized by backend).

Query results are checked against a brute-force evaluation of the same filters over the generated rows
(shapely for the exact footprint intersection), never against hand-written answers.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
import shapely

from viq_host.catalog import (
    Catalog,
    CatalogConflict,
    InvalidProduct,
    InvalidQuery,
    NewProduct,
    ProductNotFound,
    ProductQuery,
    ProductState,
)

if TYPE_CHECKING:
    from viq_host.plugins import Plugins

T0 = datetime(2018, 1, 1, tzinfo=UTC)
SITES = {"SUDOUE": (1.2, 43.5), "ARM": (-97.5, 36.6), "KHUMBU": (86.8, 27.9), "NARYN": (74.5, 41.4)}
TYPES = ("VSC_L1VALD", "VSC_L2VALD", "IMQ_MTFMES")
BANDS = tuple(f"B{i}" for i in range(1, 13))


@dataclass(frozen=True)
class Truth:
    """The generated products with their ids, for brute-force checks."""

    products: list[NewProduct]
    ids: list[int]


def _sha(i: int) -> str:
    return hashlib.sha256(f"product {i}".encode()).hexdigest()


def _square(lon: float, lat: float, half: float) -> str:
    return str(shapely.to_wkt(shapely.box(lon - half, lat - half, lon + half, lat + half), rounding_precision=-1))


def generate(n: int, seed: int = 7) -> list[NewProduct]:
    """``n`` products over the four sites, 3 years, random bands, jittered (partly triangular) footprints."""
    rng = np.random.default_rng(seed)
    out = []
    names = list(SITES)
    for i in range(n):
        site = names[int(rng.integers(len(names)))]
        lon, lat = SITES[site]
        lon += float(rng.uniform(-0.5, 0.5))
        lat += float(rng.uniform(-0.5, 0.5))
        half = float(rng.uniform(0.05, 0.3))
        if i % 3 == 0:  # a triangle: its bounding box is much larger than the polygon
            wkt = (
                f"POLYGON(({lon - half} {lat - half}, {lon + half} {lat - half}, {lon - half} {lat + half}, "
                f"{lon - half} {lat - half}))"
            )
        else:
            wkt = _square(lon, lat, half)
        start = T0 + timedelta(seconds=int(rng.integers(0, 3 * 365 * 86400)), microseconds=int(rng.integers(0, 10**6)))
        bands = tuple(sorted(rng.choice(BANDS, size=int(rng.integers(1, 4)), replace=False).tolist()))
        out.append(
            NewProduct(
                product_type=TYPES[int(rng.integers(len(TYPES)))],
                path=f"/archive/{site}/p{i:05d}.tif",
                site=site,
                bands=bands,
                sensing_start=start,
                sensing_stop=start + timedelta(seconds=8),
                footprint_wkt=None if i % 17 == 0 else wkt,
                size=1000 + i,
                sha256=_sha(i),
                job_id=f"job-{i % 5}",
                processor="l1" if i % 2 else "l2",
                processor_version=f"0{1 + i % 3}.00",
            )
        )
    return out


@pytest.fixture
def populated(catalog: Catalog) -> Truth:
    """300 generated products, bulk-loaded."""
    products = generate(300)
    ids = catalog.add_products(products)
    return Truth(products, ids)


def _matches(p: NewProduct, q: ProductQuery) -> bool:
    if q.product_type and p.product_type != q.product_type:
        return False
    if q.site and p.site != q.site:
        return False
    if q.band and q.band not in p.bands:
        return False
    if q.job_id and p.job_id != q.job_id:
        return False
    if q.processor and p.processor != q.processor:
        return False
    if q.processor_version and p.processor_version != q.processor_version:
        return False
    assert p.sensing_start is not None
    if q.start and p.sensing_start < q.start:
        return False
    if q.stop and p.sensing_start >= q.stop:
        return False
    if q.bbox or q.polygon_wkt:
        if p.footprint_wkt is None:
            return False
        area = shapely.box(*q.bbox) if q.bbox else shapely.from_wkt(q.polygon_wkt)
        if not shapely.from_wkt(p.footprint_wkt).intersects(area):
            return False
    return True


QUERIES = [
    ProductQuery(product_type="VSC_L1VALD"),
    ProductQuery(site="SUDOUE", band="B3"),
    ProductQuery(product_type="VSC_L2VALD", site="ARM", start=datetime(2019, 1, 1), stop=datetime(2020, 1, 1)),
    ProductQuery(bbox=(1.0, 43.2, 1.6, 43.9)),
    ProductQuery(bbox=(-98.0, 36.0, -97.0, 37.0), product_type="IMQ_MTFMES", start=datetime(2018, 6, 1)),
    ProductQuery(polygon_wkt="POLYGON((86 27, 88 27, 86 29, 86 27))", band="B1"),
    ProductQuery(job_id="job-3", processor="l1"),
    ProductQuery(processor_version="02.00", stop=datetime(2019, 6, 1, tzinfo=UTC)),
]


def test_search_matches_brute_force(catalog: Catalog, populated: Truth) -> None:
    """Each filter combination returns exactly the products a brute-force scan (exact shapely test) selects."""
    from dataclasses import replace

    for n, query in enumerate(QUERIES):
        expected = [i for i, p in zip(populated.ids, populated.products, strict=True) if _matches(p, _utcq(query))]
        assert expected, f"query {n} must select something to be a useful check"
        got = [r.id for r in catalog.iter_search(replace(query, limit=1000))]
        assert got == expected, f"query {n}: {query}"
        assert catalog.count(query) == len(expected), f"query {n}"


def _utcq(q: ProductQuery) -> ProductQuery:
    from dataclasses import replace

    fix = {
        k: getattr(q, k).replace(tzinfo=UTC) for k in ("start", "stop") if getattr(q, k) and not getattr(q, k).tzinfo
    }
    return replace(q, **fix)


def test_exact_intersection_not_just_bounding_box(catalog: Catalog) -> None:
    """A triangle whose bounding box overlaps the query box but whose area does not is not returned."""
    tri = catalog.ingest(
        NewProduct("VSC_L1VALD", "/a/tri.tif", footprint_wkt="POLYGON((0 0, 2 0, 0 2, 0 0))", size=1, sha256=_sha(1))
    )
    box = (1.5, 1.5, 1.9, 1.9)  # inside the triangle's bbox, beyond its hypotenuse
    assert catalog.search(ProductQuery(bbox=box)).items == []
    assert [r.id for r in catalog.search(ProductQuery(bbox=(0.5, 0.5, 0.9, 0.9))).items] == [tri.id]


def test_paging_is_stable_and_complete(catalog: Catalog, populated: Truth) -> None:
    """Keyset pages cover every match once, in id order, even when rows are added between pages."""
    q = ProductQuery(product_type="VSC_L1VALD", limit=7)
    expected = [i for i, p in zip(populated.ids, populated.products, strict=True) if p.product_type == "VSC_L1VALD"]
    seen: list[int] = []
    page = catalog.search(q)
    seen += [r.id for r in page.items]
    catalog.ingest(NewProduct("VSC_L1VALD", "/late/one.tif", size=1, sha256=_sha(99999)))
    while page.next_after is not None:
        from dataclasses import replace

        page = catalog.search(replace(q, after=page.next_after))
        seen += [r.id for r in page.items]
    assert seen[: len(expected)] == expected
    assert len(seen) == len(expected) + 1 and len(set(seen)) == len(seen)


def test_round_trip_keeps_every_field(catalog: Catalog) -> None:
    """What goes in comes back: times (UTC, µs), bands, footprint, GIPP versions, flags, metadata, identity."""
    p = NewProduct(
        product_type="GIP_DARKCU",
        path="/gipp/VE_TEST_GIP_DARKCU_ALLSITES_00001.EEF",
        site="SUDOUE",
        bands=("B7", "B2"),
        tdi=3,
        sensing_start=datetime(2020, 2, 29, 23, 59, 59, 999999, tzinfo=UTC),
        sensing_stop=datetime(2021, 1, 1, tzinfo=UTC),
        footprint_wkt="POLYGON((1.123456789012 43.1, 1.5 43.1, 1.5 43.6, 1.123456789012 43.1))",
        mission="VENUS",
        size=1234,
        sha256=_sha(5),
        job_id="j1",
        attempt_id="a1",
        processor="darkcal",
        processor_version="01.02",
        gipp_versions={"GIP_RELSEN": "0003"},
        quality_flags=("degraded", "partial"),
        metadata={"snr": 123.5, "nested": {"k": [1, 2]}},
    )
    rec = catalog.ingest(p)
    got = catalog.get(rec.id)
    assert got == rec
    assert (got.product_type, got.site, got.bands, got.tdi) == ("GIP_DARKCU", "SUDOUE", ("B7", "B2"), 3)
    assert got.sensing_start == p.sensing_start and got.sensing_stop == p.sensing_stop
    assert shapely.from_wkt(got.footprint_wkt).equals_exact(shapely.from_wkt(p.footprint_wkt), 1e-12)
    assert got.gipp_versions == {"GIP_RELSEN": "0003"} and got.quality_flags == ("degraded", "partial")
    assert got.metadata == {"snr": 123.5, "nested": {"k": [1, 2]}}
    assert (got.job_id, got.attempt_id, got.processor, got.processor_version) == ("j1", "a1", "darkcal", "01.02")
    assert got.state == ProductState.ACTIVE and got.superseded_by is None
    assert abs((got.created - datetime.now(UTC)).total_seconds()) < 60


def test_ingest_of_a_file_computes_size_and_checksum(catalog: Catalog, tmp_path: Path) -> None:
    """Without size/sha256 the catalog reads the file; a directory product hashes its sorted content."""
    f = tmp_path / "x.bin"
    data = np.random.default_rng(1).bytes(300_000)
    f.write_bytes(data)
    rec = catalog.ingest(NewProduct("VSC_L1VALD", str(f)))
    assert rec.size == len(data) and rec.sha256 == hashlib.sha256(data).hexdigest()
    d = tmp_path / "SENTINEL_LIKE"
    (d / "DATA").mkdir(parents=True)
    (d / "MTD_ALL.xml").write_text("<a/>")
    (d / "DATA" / "b1.tif").write_bytes(b"12345")
    drec = catalog.ingest(NewProduct("VSC_L1VALD", str(d)))
    assert drec.size == 9
    (d / "DATA" / "b1.tif").write_bytes(b"12346")
    with pytest.raises(CatalogConflict):
        catalog.ingest(NewProduct("VSC_L1VALD", str(d)))


def test_ingest_is_idempotent_and_refuses_a_changed_file(catalog: Catalog) -> None:
    """Same path + sha256 → the same row; same path with another checksum → CatalogConflict, nothing added."""
    p = NewProduct("VSC_L1VALD", "/a/b.tif", size=10, sha256=_sha(1))
    first = catalog.ingest(p)
    again = catalog.ingest(p)
    assert again.id == first.id
    with pytest.raises(CatalogConflict, match=f"product {first.id}"):
        catalog.ingest(NewProduct("VSC_L1VALD", "/a/b.tif", size=10, sha256=_sha(2)))
    assert catalog.count(ProductQuery(states=tuple(ProductState))) == 1


def test_supersede_and_delete_keep_history(catalog: Catalog) -> None:
    """A new version at the same path supersedes the old row; deleting marks; no row ever disappears."""
    old = catalog.ingest(NewProduct("VSC_L1VALD", "/a/b.tif", size=10, sha256=_sha(1)))
    new = catalog.ingest(NewProduct("VSC_L1VALD", "/a/b.tif", size=11, sha256=_sha(2)), supersedes=old.id)
    old_now = catalog.get(old.id)
    assert old_now.state == ProductState.SUPERSEDED and old_now.superseded_by == new.id
    assert catalog.find_by_path("/a/b.tif") == catalog.get(new.id)
    assert [r.id for r in catalog.search(ProductQuery()).items] == [new.id]
    all_states = ProductQuery(states=tuple(ProductState))
    assert [r.id for r in catalog.search(all_states).items] == [old.id, new.id]
    catalog.delete(new.id, reason="bad calibration")
    assert catalog.search(ProductQuery()).items == []
    assert catalog.get(new.id).state == ProductState.DELETED
    assert [e.action for e in catalog.history(new.id)] == ["ingested", "deleted"]
    assert catalog.history(new.id)[-1].detail == "bad calibration"
    assert [e.action for e in catalog.history(old.id)] == ["ingested", "superseded"]
    with pytest.raises(CatalogConflict, match="only an active product"):
        catalog.supersede(old.id, new.id)
    # the path is free again after the delete: a third version can be catalogued
    third = catalog.ingest(NewProduct("VSC_L1VALD", "/a/b.tif", size=12, sha256=_sha(3)))
    assert third.id not in (old.id, new.id)


def _chain(catalog: Catalog) -> dict[str, int]:
    """L1a, L1b → MTF → GIPP candidate → GIPP v2; L1b → SNR → GIPP v2 (a diamond)."""
    ids: dict[str, int] = {}

    def add(name: str, ptype: str, *inputs: str) -> None:
        rec = catalog.ingest(
            NewProduct(ptype, f"/c/{name}", size=1, sha256=_sha(len(ids) + 100), inputs=tuple(ids[i] for i in inputs))
        )
        ids[name] = rec.id

    add("l1a", "VSC_L1VALD")
    add("l1b", "VSC_L1VALD")
    add("other", "VSC_L1VALD")
    add("mtf", "IMQ_MTFMES", "l1a", "l1b")
    add("snr", "IMQ_SNRMES", "l1b")
    add("cand", "GIP_PHGAIN", "mtf")
    add("gipp2", "GIP_PHGAIN", "cand", "snr")
    return ids


def test_lineage_both_directions_recursive(catalog: Catalog) -> None:
    """inputs_of / derived_from follow lineage recursively (or ``depth`` hops); edges report the hop count."""
    ids = _chain(catalog)

    def names(q: ProductQuery) -> set[str]:
        found = {r.id for r in catalog.iter_search(q)}
        return {n for n, i in ids.items() if i in found}

    assert names(ProductQuery(inputs_of=ids["gipp2"])) == {"cand", "snr", "mtf", "l1a", "l1b"}
    assert names(ProductQuery(inputs_of=ids["gipp2"], depth=1)) == {"cand", "snr"}
    assert names(ProductQuery(derived_from=ids["l1b"])) == {"mtf", "snr", "cand", "gipp2"}
    assert names(ProductQuery(derived_from=ids["l1a"], product_type="GIP_PHGAIN")) == {"cand", "gipp2"}
    assert names(ProductQuery(derived_from=ids["other"])) == set()
    up = {(e.product_id, e.input_id): e.depth for e in catalog.lineage(ids["gipp2"], "up")}
    assert up == {
        (ids["gipp2"], ids["cand"]): 1,
        (ids["gipp2"], ids["snr"]): 1,
        (ids["cand"], ids["mtf"]): 2,
        (ids["snr"], ids["l1b"]): 2,
        (ids["mtf"], ids["l1a"]): 3,
        (ids["mtf"], ids["l1b"]): 3,
    }
    down = {(e.product_id, e.input_id): e.depth for e in catalog.lineage(ids["l1b"], "down")}
    assert set(down) == {
        (ids["mtf"], ids["l1b"]),
        (ids["snr"], ids["l1b"]),
        (ids["cand"], ids["mtf"]),
        (ids["gipp2"], ids["cand"]),
        (ids["gipp2"], ids["snr"]),
    }
    assert down[(ids["gipp2"], ids["snr"])] == 2 and down[(ids["gipp2"], ids["cand"])] == 3
    with pytest.raises(ProductNotFound):
        catalog.lineage(999_999)


@pytest.mark.parametrize(
    ("wkt", "why"),
    [
        ("POLYGON((0 0, 1 0", "unreadable WKT"),
        ("POLYGON((0 0, 2 2, 2 0, 0 2, 0 0))", "Self-intersection"),
        ("POLYGON((170 0, 190 0, 190 1, 170 1, 170 0))", "out of range"),
        ("POLYGON((0 89, 1 89, 1 91, 0 89))", "out of range"),
        ("POLYGON((-179 0, 179 0, 179 1, -179 1, -179 0))", "antimeridian"),
        ("POINT(1 2)", "expected a Polygon"),
        ("", "empty"),
    ],
)
def test_invalid_footprints_are_refused(catalog: Catalog, wkt: str, why: str) -> None:
    """Unreadable, self-intersecting, out-of-range and antimeridian-crossing footprints: clear error, no row."""
    with pytest.raises(InvalidProduct, match=why):
        catalog.ingest(NewProduct("VSC_L1VALD", "/a/x.tif", footprint_wkt=wkt, size=1, sha256=_sha(1)))
    with pytest.raises(InvalidProduct, match=why):
        catalog.add_products([NewProduct("VSC_L1VALD", "/a/y.tif", footprint_wkt=wkt, size=1, sha256=_sha(1))])
    assert catalog.count(ProductQuery(states=tuple(ProductState))) == 0


@pytest.mark.parametrize(
    ("product", "why"),
    [
        (NewProduct("L1VALD", "/a", size=1, sha256="0" * 64), "product_type"),
        (NewProduct("vsc_l1vald", "/a", size=1, sha256="0" * 64), "product_type"),
        (NewProduct("VSC_L1VALD", "/a", site="SUD OUE", size=1, sha256="0" * 64), "site"),
        (NewProduct("VSC_L1VALD", "/a", bands=("B1", "B1"), size=1, sha256="0" * 64), "bands"),
        (NewProduct("VSC_L1VALD", "/a", size=1, sha256="xyz"), "sha256"),
        (NewProduct("VSC_L1VALD", "/a", size=1, sha256="0" * 64, inputs=(424242,)), "not in the catalog"),
        (
            NewProduct("VSC_L1VALD", "/a", size=1, sha256="0" * 64, sensing_start=T0, sensing_stop=T0 - timedelta(1)),
            "before sensing_start",
        ),
    ],
)
def test_invalid_metadata_is_refused(catalog: Catalog, product: NewProduct, why: str) -> None:
    """Bad type code, names, duplicate bands, checksum, unknown inputs, reversed times: clear error, no row."""
    with pytest.raises((InvalidProduct, ProductNotFound), match=why):
        catalog.ingest(product)
    assert catalog.count(ProductQuery(states=tuple(ProductState))) == 0


@pytest.mark.parametrize(
    ("query", "why"),
    [
        (ProductQuery(bbox=(-200.0, 0.0, 10.0, 10.0)), "longitude out of range"),
        (ProductQuery(bbox=(0.0, -95.0, 10.0, 10.0)), "latitude out of range"),
        (ProductQuery(bbox=(10.0, 0.0, 0.0, 10.0)), "min must not exceed max"),
        (ProductQuery(bbox=(0.0, 0.0, 10.0)), "expected 4 numbers"),  # type: ignore[arg-type]
        (ProductQuery(bbox=(0.0, 0.0, float("nan"), 1.0)), "finite"),
        (ProductQuery(start=T0, stop=T0), "stop .* is not after start"),
        (ProductQuery(start="2020-13-01"), "expected a datetime"),  # type: ignore[arg-type]
        (ProductQuery(product_type="VSC'; DROP TABLE product; --"), "product_type"),
        (ProductQuery(limit=0), "limit"),
        (ProductQuery(polygon_wkt="POLYGON((0 0, 1 1"), "polygon"),
    ],
)
def test_malformed_queries_fail_clearly(catalog: Catalog, query: ProductQuery, why: str) -> None:
    """A malformed bbox, time window, type code, limit or polygon raises InvalidQuery naming the problem."""
    with pytest.raises(InvalidQuery, match=why):
        catalog.search(query)


INJECTIONS = ["x' OR '1'='1", "'; DROP TABLE product; --", "B1%' OR 1=1 --", '" OR ""="', "?", "%s", "\\'"]


def test_sql_injection_through_string_filters_finds_nothing(catalog: Catalog, populated: Truth) -> None:
    """Every string filter is a bound parameter: hostile strings match nothing and the table survives."""
    for attack in INJECTIONS:
        for field in ("site", "band", "job_id", "attempt_id", "processor", "processor_version"):
            assert catalog.search(ProductQuery(**{field: attack})).items == [], (field, attack)  # type: ignore[arg-type]
        assert catalog.series(attack, band=attack, site=attack, direction=attack) == []
    assert catalog.count(ProductQuery()) == len(populated.ids)


def test_bulk_load_is_all_or_nothing(catalog: Catalog, populated: Truth) -> None:
    """A batch with one already-catalogued path is refused whole (CatalogConflict), nothing of it kept."""
    fresh = [NewProduct("VSC_L1VALD", f"/new/{i}", size=1, sha256=_sha(i)) for i in range(5)]
    dup = NewProduct("VSC_L1VALD", populated.products[10].path, size=1, sha256=_sha(1))
    with pytest.raises(CatalogConflict):
        catalog.add_products([*fresh, dup])
    assert catalog.count(ProductQuery()) == len(populated.ids)
    with pytest.raises(CatalogConflict, match="twice"):
        catalog.add_products([fresh[0], fresh[0]])
    ids = catalog.add_products(fresh)
    assert ids == sorted(ids) and len(set(ids)) == 5 and min(ids) > max(populated.ids)
    assert [catalog.get(i).path for i in ids] == [p.path for p in fresh]


def test_count_by_type_for_one_site(catalog: Catalog, populated: Truth) -> None:
    """Counts per product type for one site equal a brute-force tally."""
    expected: dict[str, int] = {}
    for p in populated.products:
        if p.site == "NARYN":
            expected[p.product_type] = expected.get(p.product_type, 0) + 1
    assert catalog.count_by("product_type", ProductQuery(site="NARYN")) == expected
    with pytest.raises(InvalidQuery):
        catalog.count_by("path; DROP TABLE product", ProductQuery())


def test_bulk_load_keeps_special_characters(catalog: Catalog) -> None:
    """Tabs, newlines, backslashes, quotes and non-ASCII in paths and metadata survive the bulk paths (COPY text in
    add_products, COPY binary in bulk_load), and every column of a bulk-loaded row reads back as given."""
    from dataclasses import replace

    odd = NewProduct(
        "VSC_L1VALD",
        "/a/we\tird\\name\n'\"µ.tif",
        size=1,
        sha256=_sha(1),
        metadata={"note": 'tab\tnewline\nback\\slash "q" µ', "n": None},
        quality_flags=('has "quote"', "back\\slash"),
    )
    [pid] = catalog.add_products([odd])
    got = catalog.get(pid)
    assert (got.path, got.metadata, got.quality_flags) == (odd.path, dict(odd.metadata), odd.quality_flags)
    # the bulk loader's binary COPY: every column, NULLs and non-ASCII included, reads back as given
    full = replace(
        odd,
        path=odd.path + "-bulk",
        site="ARM",
        bands=("B1", "B12"),
        tdi=3,
        sensing_start=datetime(2019, 5, 3, 10, 30, 0, 123456, tzinfo=UTC),
        sensing_stop=datetime(2019, 5, 3, 10, 30, 8, tzinfo=UTC),
        footprint_wkt=_square(-97.5, 36.6, 0.25),
        job_id="job-µ",
        attempt_id="att\t1",
        processor="l1",
        processor_version="03.01",
        gipp_versions={"GIP_SBPARS": "0002"},
    )
    bare = NewProduct("VSC_L2VALD", "/a/bare.tif", size=0, sha256=_sha(2))
    with catalog.bulk_load() as loader:
        ids = loader.add([full, bare])
    a, b = catalog.get(ids[0]), catalog.get(ids[1])
    for field in ("path", "product_type", "mission", "site", "bands", "tdi", "sensing_start", "sensing_stop", "size"):
        assert getattr(a, field) == getattr(full, field), field
        assert getattr(b, field) == getattr(bare, field), field
    for field in ("sha256", "job_id", "attempt_id", "processor", "processor_version", "quality_flags"):
        assert getattr(a, field) == getattr(full, field), field
    assert (a.metadata, a.gipp_versions, b.metadata, b.gipp_versions) == (
        dict(full.metadata),
        {"GIP_SBPARS": "0002"},
        {},
        {},
    )
    assert a.footprint_wkt is not None and full.footprint_wkt is not None
    assert shapely.equals(shapely.from_wkt(a.footprint_wkt), shapely.from_wkt(full.footprint_wkt))
    assert b.footprint_wkt is None and b.quality_flags == () and b.job_id is None and b.created == a.created


# ------------------------------------------------------------------------------------------------ bulk load


@pytest.mark.parametrize("rebuild", [True, False])
def test_bulk_load_answers_like_brute_force(catalog: Catalog, rebuild: bool) -> None:
    """An archive import in batches (lineage into an earlier batch, indexes dropped and rebuilt or kept) gives the
    rows, lineage and search answers a brute-force scan gives."""
    from dataclasses import replace

    products = generate(300)
    with catalog.bulk_load(rebuild_indexes=rebuild) as loader:
        ids = loader.add(products[:120]) + loader.add(products[120:250])
        derived = [replace(p, path=p.path + ".mtf", inputs=(ids[k], ids[k + 1])) for k, p in enumerate(products[250:])]
        ids += loader.add(derived)
        loader.flush()
        assert loader.rows == 300
    truth = products[:250] + derived
    assert len(set(ids)) == 300 and ids == sorted(ids)
    for i, p in zip(ids[::37], truth[::37], strict=True):
        got = catalog.get(i)
        assert (got.path, got.product_type, got.site, got.bands, got.sensing_start) == (
            p.path,
            p.product_type,
            p.site,
            p.bands,
            p.sensing_start,
        )
    for n, query in enumerate(QUERIES):
        expected = [i for i, p in zip(ids, truth, strict=True) if _matches(p, _utcq(query))]
        assert [r.id for r in catalog.iter_search(replace(query, limit=1000))] == expected, f"query {n}"
    assert [(e.product_id, e.input_id) for e in catalog.lineage(ids[260], "up")] == [
        (ids[260], ids[10]),
        (ids[260], ids[11]),
    ]
    # the unique active-path index is back: the same path again is a conflict, an identical file the same row
    with pytest.raises(CatalogConflict):
        catalog.ingest(replace(truth[5], sha256=_sha(999)))
    assert catalog.ingest(truth[5]).id == ids[5]


def _import(catalog: Catalog, *batches: list[NewProduct], rebuild: bool | None = None, fail: str = "") -> list[int]:
    """One bulk load of ``batches``; ``fail`` raises a RuntimeError after the batches, inside the load."""
    ids: list[int] = []
    with catalog.bulk_load(rebuild_indexes=rebuild) as loader:
        for batch in batches:
            ids += loader.add(batch)
        if fail:
            raise RuntimeError(fail)
    return ids


@pytest.mark.parametrize("rebuild", [True, False])
def test_bulk_load_duplicate_path_refused_whole(catalog: Catalog, populated: Truth, rebuild: bool) -> None:
    """A path already active, or loaded twice in one import (different batches), fails the whole import with
    CatalogConflict; nothing of it is kept and the catalog's indexes and answers are as before."""
    fresh = [NewProduct("VSC_L1VALD", f"/new/{i}", size=1, sha256=_sha(i), site="ARM") for i in range(5)]
    before = catalog.count(ProductQuery())
    taken = [NewProduct("VSC_L1VALD", populated.products[10].path, size=1, sha256=_sha(1))]
    with pytest.raises(CatalogConflict, match=re.escape(populated.products[10].path)):  # the message names it
        _import(catalog, fresh, taken, rebuild=rebuild)
    with pytest.raises(CatalogConflict, match="/new/2"):
        _import(catalog, fresh, fresh[2:3], rebuild=rebuild)
    with pytest.raises(CatalogConflict, match="twice.*/new/0|/new/0.*twice"):
        _import(catalog, [fresh[0], fresh[0]], rebuild=rebuild)
    assert catalog.count(ProductQuery()) == before
    assert catalog.find_by_path("/new/0") is None
    with pytest.raises(CatalogConflict):
        catalog.add_products(taken)
    q = QUERIES[2]
    want = [i for i, p in zip(populated.ids, populated.products, strict=True) if _matches(p, _utcq(q))]
    assert [r.id for r in catalog.search(q).items] == want
    ids = _import(catalog, fresh, rebuild=rebuild)
    assert [catalog.get(i).path for i in ids] == [p.path for p in fresh] and min(ids) > max(populated.ids)


def test_bulk_load_rolls_back_on_error(catalog: Catalog, populated: Truth) -> None:
    """An error inside the import (the caller's, or an unknown input id) rolls all of it back, indexes included."""
    before = catalog.count(ProductQuery())
    fresh = [NewProduct("VSC_L2VALD", f"/roll/{i}", size=1, sha256=_sha(i), site="NARYN") for i in range(50)]
    with pytest.raises(RuntimeError, match="reader failed"):
        _import(catalog, fresh[:25], rebuild=True, fail="reader failed")
    unknown = [NewProduct("IMQ_MTFMES", "/roll/mtf", size=1, sha256=_sha(7), inputs=(10**9,))]
    with pytest.raises(ProductNotFound, match="not in the catalog"):
        _import(catalog, fresh[:25], unknown, rebuild=True)
    bad = [NewProduct("VSC_L1VALD", "/roll/bad", size=1, sha256=_sha(1), footprint_wkt="POLYGON((0 0))")]
    with pytest.raises(InvalidProduct):
        _import(catalog, fresh[:25], bad)
    assert catalog.count(ProductQuery()) == before
    assert catalog.search(ProductQuery(site="NARYN", product_type="VSC_L2VALD", limit=1000)).items == [
        catalog.get(i)
        for i, p in zip(populated.ids, populated.products, strict=True)
        if p.site == "NARYN" and p.product_type == "VSC_L2VALD"
    ]


def test_bulk_load_is_invisible_to_readers_until_commit(
    catalog: Catalog, catalog_url: str, catalog_plugins: Plugins
) -> None:
    """A reader on another connection during an import sees the catalog before it or after it, never half of it."""
    import threading

    from viq_host.catalog import open_catalog

    catalog.add_products([NewProduct("VSC_L1VALD", f"/old/{i}", size=1, sha256=_sha(i)) for i in range(10)])
    other = open_catalog(catalog_url, catalog_plugins)
    seen: list[int] = []
    try:
        with catalog.bulk_load(rebuild_indexes=True) as loader:
            for k in range(3):
                loader.add([NewProduct("VSC_L1VALD", f"/new/{k}/{i}", size=1, sha256=_sha(i)) for i in range(100)])
            loader.flush()
            reader = threading.Thread(target=lambda: seen.append(other.count(ProductQuery())))
            reader.start()
            reader.join(timeout=1.0)  # SQLite answers from its snapshot; PostgreSQL waits for the commit
        reader.join(timeout=60)
        assert seen and seen[0] in (10, 310)
        assert other.count(ProductQuery()) == 310
    finally:
        other.close()
