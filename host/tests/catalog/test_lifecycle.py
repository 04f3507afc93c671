"""Job-output ingest, measurement series, schema migration and faults — on both backends."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg2
import pytest
import shapely

from viq_host.catalog import (
    Catalog,
    CatalogConflict,
    CatalogError,
    InvalidProduct,
    NewProduct,
    ProductNotFound,
    ProductQuery,
    ProductState,
    open_catalog,
)
from viq_host.catalog.migrations import latest_version
from viq_host.plugins import Plugins
from viq_interfaces.result import Measurement, OutputProduct

DATA = Path(__file__).parent / "data"
L1_TIME = datetime(2021, 7, 14, 10, 42, 7, 250000, tzinfo=UTC)


def _l1(catalog: Catalog, name: str = "l1", when: datetime = L1_TIME) -> int:
    return catalog.ingest(
        NewProduct(
            "VSC_L1VALD",
            f"/archive/{name}.DBL",
            site="SUDOUE",
            bands=("B3",),
            sensing_start=when,
            sensing_stop=when + timedelta(seconds=8),
            size=1,
            sha256=hashlib.sha256(name.encode()).hexdigest(),
        )
    ).id


def _outputs(tmp_path: Path) -> list[OutputProduct]:
    out = tmp_path / "attempt-1" / "out"
    out.mkdir(parents=True)
    (out / "mtf.xml").write_text("<mtf>0.31</mtf>")
    (out / "report.json").write_text('{"ok": true}')
    return [
        OutputProduct(
            port="mtf",
            path=Path("mtf.xml"),
            product_type="IMQ_MTFMES",
            site="SUDOUE",
            bands=("B3",),
            sensing_start=L1_TIME,
            footprint_wkt="POLYGON((1 43, 2 43, 2 44, 1 43))",
            metadata={"k": 1},
        ),
        OutputProduct(port="report", path=out / "report.json", product_type="IMQ_REPORT", site="SUDOUE"),
    ]


def _ingest_outputs(catalog: Catalog, outputs: list[OutputProduct], base: Path, l1: int, **kw: Any) -> list[int]:
    return catalog.ingest_outputs(
        outputs,
        job_id="job-7",
        attempt_id=kw.pop("attempt_id", "att-7a"),
        processor="slanted-edge-mtf",
        processor_version="01.02",
        input_ids=[l1],
        gipp_versions={"IMQ_SBPARS": "0004"},
        base_dir=base,
        measurements=kw.pop("measurements", [Measurement(name="mtf50", value=0.31, unit="cy/px", band="B3")]),
        **kw,
    )


def test_ingest_outputs_records_identity_lineage_and_measurements(catalog: Catalog, tmp_path: Path) -> None:
    """An attempt's outputs get checksums, job/attempt/processor identity, GIPP versions, lineage, measurements."""
    l1 = _l1(catalog)
    outputs = _outputs(tmp_path)
    base = tmp_path / "attempt-1" / "out"
    ids = _ingest_outputs(catalog, outputs, base, l1)
    assert len(ids) == 2
    mtf = catalog.get(ids[0])
    assert mtf.path == str(base / "mtf.xml")
    assert mtf.sha256 == hashlib.sha256(b"<mtf>0.31</mtf>").hexdigest() and mtf.size == 15
    assert (mtf.job_id, mtf.attempt_id, mtf.processor, mtf.processor_version) == (
        "job-7",
        "att-7a",
        "slanted-edge-mtf",
        "01.02",
    )
    assert mtf.gipp_versions == {"IMQ_SBPARS": "0004"}
    assert mtf.metadata == {"k": 1, "port": "mtf"}
    assert {r.id for r in catalog.search(ProductQuery(derived_from=l1)).items} == set(ids)
    assert {r.id for r in catalog.search(ProductQuery(attempt_id="att-7a")).items} == set(ids)
    points = catalog.series("mtf50", band="B3")
    assert [(p.value, p.sensing_time, p.product_id, p.site, p.attempt_id) for p in points] == [
        (0.31, L1_TIME, ids[0], "SUDOUE", "att-7a")
    ]


def test_ingest_outputs_is_idempotent_per_attempt(catalog: Catalog, tmp_path: Path) -> None:
    """Re-ingesting the same attempt returns the same ids and stores nothing new; other outputs conflict."""
    l1 = _l1(catalog)
    outputs = _outputs(tmp_path)
    base = tmp_path / "attempt-1" / "out"
    first = _ingest_outputs(catalog, outputs, base, l1)
    again = _ingest_outputs(catalog, outputs, base, l1)
    assert again == first
    assert catalog.count(ProductQuery()) == 3
    assert len(catalog.series("mtf50")) == 1
    (base / "extra.xml").write_text("x")
    extra = OutputProduct(port="mtf", path=Path("extra.xml"), product_type="IMQ_MTFMES")
    with pytest.raises(CatalogConflict, match="already ingested"):
        _ingest_outputs(catalog, [*outputs, extra], base, l1)


@pytest.mark.parametrize("fault", ["bad-footprint", "missing-file", "unknown-input", "duplicate-path"])
def test_ingest_outputs_is_one_transaction(catalog: Catalog, tmp_path: Path, fault: str) -> None:
    """If any output (or input) is wrong, nothing of the attempt is written: no product, edge or measurement."""
    l1 = _l1(catalog)
    outputs = _outputs(tmp_path)
    base = tmp_path / "attempt-1" / "out"
    inputs = l1
    if fault == "bad-footprint":
        outputs[1] = outputs[1].model_copy(update={"footprint_wkt": "POLYGON((0 0, 2 2, 2 0, 0 2, 0 0))"})
        expected: type[Exception] = InvalidProduct
    elif fault == "missing-file":
        outputs[1] = outputs[1].model_copy(update={"path": base / "nothing.json"})
        expected = ProductNotFound
    elif fault == "unknown-input":
        inputs = 987_654
        expected = ProductNotFound
    else:  # second output names a path already catalogued with other content
        catalog.ingest(NewProduct("IMQ_REPORT", str(base / "report.json"), size=1, sha256="0" * 64))
        expected = CatalogConflict
    before = catalog.count(ProductQuery(states=tuple(ProductState)))
    with pytest.raises(expected):
        _ingest_outputs(catalog, outputs, base, inputs)
    assert catalog.count(ProductQuery(states=tuple(ProductState))) == before
    assert catalog.search(ProductQuery(attempt_id="att-7a")).items == []
    assert catalog.lineage(l1, "down") == []
    assert catalog.series("mtf50") == []


def test_measurement_series_is_time_ordered_and_filtered(catalog: Catalog) -> None:
    """Points come back in sensing-time order whatever the insertion order; band/site/tdi/window filter."""
    base = datetime(2020, 1, 1, tzinfo=UTC)
    days = [40, 5, 300, 120, 77, 200]
    for i, d in enumerate(days):
        site = "SUDOUE" if i % 2 == 0 else "ARM"
        ms = [
            Measurement(name="snr", value=100.0 + d, unit="", band="B3", tdi=i % 3, uncertainty=0.5),
            Measurement(name="snr", value=50.0 + d, unit="", band="B7", tdi=i % 3),
            Measurement(name="dx", value=-0.01 * d, unit="px", band="B3", direction="along"),
        ]
        stored = catalog.add_measurements(ms, sensing_time=base + timedelta(days=d), site=site, job_id=f"j{i}")
        assert stored == 3
    b3 = catalog.series("snr", band="B3")
    assert [p.sensing_time for p in b3] == [base + timedelta(days=d) for d in sorted(days)]
    assert [p.value for p in b3] == [100.0 + d for d in sorted(days)]
    assert all(p.uncertainty == 0.5 for p in b3)
    arm = catalog.series("snr", band="B7", site="ARM")
    assert [p.value for p in arm] == [50.0 + d for d in sorted(d for i, d in enumerate(days) if i % 2)]
    window = catalog.series("snr", band="B3", start=base + timedelta(days=40), stop=base + timedelta(days=200))
    assert [p.value for p in window] == [140.0, 177.0, 220.0]
    tdi1 = catalog.series("snr", band="B3", tdi=1)
    assert [p.value for p in tdi1] == [100.0 + d for d in sorted(d for i, d in enumerate(days) if i % 3 == 1)]
    along = catalog.series("dx", direction="along")
    assert len(along) == 6 and along[0].unit == "px"
    assert catalog.series("snr", band="B12") == []
    with pytest.raises(ProductNotFound):
        catalog.add_measurements(ms, sensing_time=base, product_id=424242)


# ------------------------------------------------------------------------------------------------ migrations


def _load_v1(url: str) -> None:
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url[len("sqlite:///") :])
        conn.executescript((DATA / "v1_sqlite.sql").read_text())
        conn.close()
    else:
        pg = psycopg2.connect(url)
        with pg, pg.cursor() as cur:
            cur.execute((DATA / "v1_postgis.sql").read_text())
        pg.close()


def test_v1_database_is_migrated_forward_with_data_kept(catalog_url: str, catalog_plugins: Plugins) -> None:
    """A schema-1 database (checked-in SQL) opens at the latest version with its rows, lineage and footprints."""
    _load_v1(catalog_url)
    old = open_catalog(catalog_url, catalog_plugins, migrate=False)
    try:
        assert old.schema_version() == 1
    finally:
        old.close()
    cat = open_catalog(catalog_url, catalog_plugins)
    try:
        assert cat.schema_version() == latest_version() >= 6
        rows = [cat.get(i) for i in (1, 2, 3)]
        assert [r.path for r in rows] == [
            "/archive/SUDOUE/L1_20190503.DBL",
            "/archive/SUDOUE/L1_20190503_b.DBL",
            "/work/job-1/mtf.xml",
        ]
        assert all(r.state == ProductState.ACTIVE and r.superseded_by is None for r in rows)
        assert rows[0].bands == ("B3", "B4") and rows[0].tdi == 2 and rows[0].metadata == {"origin": "MUSCATE"}
        assert rows[0].sensing_start == datetime(2019, 5, 3, 10, 30, tzinfo=UTC)
        assert rows[2].gipp_versions == {"GIP_SBPARS": "0002"} and rows[2].quality_flags == ("partial",)
        assert [r.id for r in cat.search(ProductQuery(bbox=(1.55, 43.55, 1.6, 43.6))).items] == [2]
        assert [r.id for r in cat.search(ProductQuery(inputs_of=3)).items] == [1]
        # the version-4 type + time + band index answers a band search on the migrated rows
        window = (datetime(2019, 1, 1, tzinfo=UTC), datetime(2020, 1, 1, tzinfo=UTC))
        for band in ("B3", "B4", "B8"):
            want = [
                r.id
                for r in rows
                if r.product_type == rows[0].product_type
                and band in r.bands
                and r.sensing_start is not None
                and window[0] <= r.sensing_start < window[1]
            ]
            q = ProductQuery(product_type=rows[0].product_type, band=band, start=window[0], stop=window[1])
            assert [r.id for r in cat.search(q).items] == want, band
            # and the version-5 site + time index a site + band search without a type
            on_site = [
                r.id
                for r in rows
                if r.site == rows[0].site
                and band in r.bands
                and r.sensing_start is not None
                and window[0] <= r.sensing_start < window[1]
            ]
            q = ProductQuery(site=rows[0].site, band=band, start=window[0], stop=window[1])
            assert [r.id for r in cat.search(q).items] == on_site, band
        # the version-6 spatial index (footprint, type, sensing start) answers type + area (+ window) searches
        for ptype in ("VSC_L1VALD", "IMQ_MTFMES"):
            for box in ((1.55, 43.55, 1.6, 43.6), (1.1, 43.1, 1.3, 43.3), (5.0, 5.0, 6.0, 6.0)):
                area = shapely.box(*box)
                want = [
                    r.id
                    for r in rows
                    if r.product_type == ptype
                    and r.footprint_wkt is not None
                    and shapely.from_wkt(r.footprint_wkt).intersects(area)
                ]
                assert [r.id for r in cat.search(ProductQuery(product_type=ptype, bbox=box)).items] == want
                q = ProductQuery(product_type=ptype, bbox=box, start=window[0], stop=window[1])
                assert [r.id for r in cat.search(q).items] == want
                q = ProductQuery(product_type=ptype, bbox=box, start=window[1])
                assert cat.search(q).items == []
        same_site = [r.product_type for r in rows if r.site == rows[0].site]
        assert cat.count_by("product_type", ProductQuery(site=rows[0].site)) == {
            t: same_site.count(t) for t in set(same_site)
        }
        # what version 2 added works on the migrated data
        new = cat.ingest(NewProduct("VSC_L1VALD", rows[1].path, size=5, sha256="d" * 64), supersedes=2)
        assert cat.get(2).superseded_by == new.id
        assert cat.add_measurements([Measurement(name="mtf50", value=0.3)], sensing_time=rows[2].created) == 1
        assert cat.migrate() == []
    finally:
        cat.close()


def test_newer_schema_than_code_is_refused(catalog_url: str, catalog_plugins: Plugins) -> None:
    """A database written by a newer VIQ is not touched: a clear error names both versions."""
    cat = open_catalog(catalog_url, catalog_plugins)
    try:
        with cat._tx(write=True) as tx:  # type: ignore[attr-defined]
            tx.q("INSERT INTO schema_version (version, description) VALUES (?, ?)", (99, "from the future"))
    except Exception:
        cat.close()
        raise
    cat.close()
    with pytest.raises(CatalogError, match="schema version 99 is newer than this VIQ"):
        open_catalog(catalog_url, catalog_plugins)


def test_open_catalog_by_scheme(tmp_path: Path, catalog_plugins: Plugins) -> None:
    """The URL scheme selects the backend registered through the hook; unknown schemes fail clearly."""
    from viq_host.catalog.sqlite import SqliteCatalog

    cat = open_catalog(f"sqlite:///{tmp_path / 'a' / 'c.sqlite'}", catalog_plugins)
    assert isinstance(cat, SqliteCatalog) and (tmp_path / "a" / "c.sqlite").exists()
    cat.close()
    with pytest.raises(CatalogError, match="no catalog backend for URL scheme 'mysql'"):
        open_catalog("mysql://x/y", catalog_plugins)
    with pytest.raises(CatalogError, match="no scheme"):
        open_catalog("/tmp/cat.sqlite", catalog_plugins)


@pytest.mark.filterwarnings("ignore::viq_host.plugins.PluginWarning")
def test_builtin_backends_come_from_the_entry_point() -> None:
    """The installed entry point registers sqlite and postgresql like a third-party backend would."""
    from viq_host.plugins import load_plugins

    names = load_plugins().catalog_backends.names()
    assert {"sqlite", "postgresql", "postgres"} <= set(names)


# ------------------------------------------------------------------------------------------------ faults

_WORKER = """
import sys, time
from pathlib import Path
from viq_host.catalog.builtin import sqlite_backend, postgis_backend
from viq_host.catalog import NewProduct
url, path, go = sys.argv[1:4]
cat = (sqlite_backend if url.startswith("sqlite") else postgis_backend)(url)
while not Path(go).exists():
    time.sleep(0.005)
print(cat.ingest(NewProduct("VSC_L1VALD", path)).id)
cat.close()
"""


def test_concurrent_ingest_of_one_file_makes_one_row(catalog_url: str, catalog: Catalog, tmp_path: Path) -> None:
    """Four processes ingesting the same file at the same moment all get the same single row."""
    f = tmp_path / "same.tif"
    f.write_bytes(b"x" * 1000)
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, catalog_url, str(f), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    time.sleep(1.5)  # let every worker import and open the catalog
    go.touch()
    results = [p.communicate(timeout=60) for p in procs]
    assert all(p.returncode == 0 for p in procs), [r[1] for r in results]
    ids = {int(out.strip()) for out, _ in results}
    assert len(ids) == 1
    assert catalog.count(ProductQuery(states=tuple(ProductState))) == 1


def test_postgis_going_away_mid_ingest_rolls_back(
    postgis_url: str, catalog_plugins: Plugins, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server dropping the connection mid-transaction: clear CatalogError, nothing half-written, recovery."""
    from viq_host.catalog.postgis import PostgisCatalog

    cat = open_catalog(postgis_url, catalog_plugins)
    assert isinstance(cat, PostgisCatalog)
    try:
        l1 = _l1(cat)
        real_insert = cat._insert_product
        calls = []

        def dying_insert(tx: Any, *args: Any) -> int | None:
            calls.append(1)
            if len(calls) == 2:  # the first output is written, then the server goes away
                tx.q("SELECT pg_terminate_backend(pg_backend_pid())")
            return real_insert(tx, *args)

        monkeypatch.setattr(cat, "_insert_product", dying_insert)
        with pytest.raises(CatalogError, match="unavailable, transaction rolled back"):
            _ingest_outputs(cat, _outputs(tmp_path), tmp_path / "attempt-1" / "out", l1)
        real_bulk = cat._bulk_insert

        def dying_bulk(tx: Any, *args: Any) -> None:
            real_bulk(tx, *args)  # COPY done, not committed
            tx.q("SELECT pg_terminate_backend(pg_backend_pid())")

        monkeypatch.setattr(cat, "_bulk_insert", dying_bulk)
        with pytest.raises(CatalogError, match="unavailable"):
            cat.add_products([NewProduct("VSC_L1VALD", f"/bulk/{i}", size=1, sha256="e" * 64) for i in range(50)])
        monkeypatch.undo()
        assert cat.count(ProductQuery(states=tuple(ProductState))) == 1
        assert cat.series("mtf50") == []
        ids = _ingest_outputs(cat, _outputs(tmp_path / "retry"), tmp_path / "retry" / "attempt-1" / "out", l1)
        assert len(ids) == 2
    finally:
        cat.close()


def test_postgis_going_away_mid_bulk_load_rolls_back(postgis_url: str, catalog_plugins: Plugins) -> None:
    """The server ending the import's session while its COPY streams: clear CatalogError, no row kept, the dropped
    indexes back (the unique path index refuses a duplicate again), and the catalog keeps working."""
    from viq_host.catalog.postgis import PostgisCatalog

    cat = open_catalog(postgis_url, catalog_plugins)
    assert isinstance(cat, PostgisCatalog)
    try:
        first = cat.ingest(NewProduct("VSC_L1VALD", "/bulk/first", size=1, sha256="a" * 64))
        admin = psycopg2.connect(postgis_url)
        admin.autocommit = True
        load = cat.bulk_load(rebuild_indexes=True)
        with pytest.raises(CatalogError, match="unavailable"), load as loader:  # noqa: PT012 - load and kill together
            loader.add([NewProduct("VSC_L1VALD", f"/bulk/{i}", size=1, sha256="e" * 64) for i in range(500)])
            loader.flush()
            with admin.cursor() as cur:
                cur.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND query LIKE 'COPY product %'"
                )
                assert cur.fetchone() == (True,)
            for k in range(200):  # the next batches meet the dead session
                loader.add([NewProduct("VSC_L1VALD", f"/bulk/{k}/{i}", size=1, sha256="e" * 64) for i in range(50)])
        admin.close()
        assert cat.count(ProductQuery(states=tuple(ProductState))) == 1
        with pytest.raises(CatalogConflict):
            cat.ingest(NewProduct("VSC_L1VALD", first.path, size=2, sha256="b" * 64))
        with cat.bulk_load() as loader:
            ids = loader.add([NewProduct("VSC_L1VALD", f"/bulk/{i}", size=1, sha256="e" * 64) for i in range(5)])
        assert [cat.get(i).path for i in ids] == [f"/bulk/{i}" for i in range(5)]
    finally:
        cat.close()


def test_unreachable_postgis_is_a_clear_error(catalog_plugins: Plugins) -> None:
    """A server that does not answer gives a CatalogError without the password in the message."""
    with pytest.raises(CatalogError, match=r"cannot connect to catalog postgresql://viq:\*\*\*@127.0.0.1:9/") as err:
        open_catalog("postgresql://viq:secret@127.0.0.1:9/nowhere", catalog_plugins)
    assert "secret" not in str(err.value)
