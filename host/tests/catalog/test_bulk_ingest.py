"""``viq catalog ingest`` of thousands of files: new files through one bulk import, per-file semantics kept."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import shapely
from typer.testing import CliRunner

from viq_host.catalog import (
    BulkLoad,
    Catalog,
    CatalogConflict,
    CatalogError,
    InvalidProduct,
    NewProduct,
    ProductQuery,
    ProductRecord,
    ProductState,
    batch_ingest,
    open_catalog,
)
from viq_host.catalog import builtin as catalog_builtin
from viq_host.catalog.batch_ingest import Ingested, ingest_files
from viq_host.cli.catalog import app
from viq_host.plugins import Plugins, load_plugins
from viq_interfaces import hookimpl
from viq_interfaces.hookspecs import ComponentRegistry

runner = CliRunner()
ALL_STATES = tuple(ProductState)
T0 = datetime(2021, 1, 1, 10, 0, tzinfo=UTC)
SITES = ("SUDOUE-1", "ARM", "FR-LAM", "ISR_NEG")
BOWTIE = "POLYGON ((0 0, 1 1, 1 0, 0 1, 0 0))"


def _json_reader(path: Path) -> dict[str, Any]:
    """Reader plugin of these tests: the metadata sits in ``<product>.meta.json``."""
    meta: dict[str, Any] = json.loads(path.with_name(path.name + ".meta.json").read_text())
    return meta


class _TestReaders:
    @hookimpl
    def viq_add_product_readers(self, registry: ComponentRegistry) -> None:
        registry.add("VSC_L1VALD", _json_reader)


@pytest.fixture(autouse=True)
def plugins(monkeypatch: pytest.MonkeyPatch) -> Plugins:
    """The built-in catalog backends and the JSON test reader, also for the CLI (which loads plugins itself)."""
    loaded = load_plugins([catalog_builtin, _TestReaders()], entry_points_enabled=False)
    monkeypatch.setattr("viq_host.plugins.load_plugins", lambda *a, **k: loaded)
    return loaded


def _truth(k: int) -> dict[str, Any]:
    """The metadata of product ``k``: site, bands, times and a small triangular footprint that vary with ``k``."""
    lon, lat = -170.0 + (k % 3000) / 16, -60.0 + (k % 997) / 16  # binary fractions: exact in WKT and WKB
    start = T0 + timedelta(hours=7 * k)
    return {
        "site": SITES[k % len(SITES)],
        "bands": ["B3", "B4"] if k % 2 else ["B7"],
        "tdi": 8 if k % 3 else None,
        "sensing_start": start.isoformat(),
        "sensing_stop": (start + timedelta(seconds=8)).isoformat(),
        "footprint_wkt": f"POLYGON (({lon} {lat}, {lon + 0.125} {lat}, {lon + 0.125} {lat + 0.125}, {lon} {lat}))",
        "metadata": {"orbit": k},
    }


def _write(root: Path, k: int, meta: dict[str, Any] | None = None, content: bytes | None = None) -> Path:
    """A small product file ``p<k>.dat`` and its JSON metadata."""
    f = root / f"p{k:05d}.dat"
    f.write_bytes(content if content is not None else f"product {k}\n".encode() * 3)
    f.with_name(f.name + ".meta.json").write_text(json.dumps(meta if meta is not None else _truth(k)))
    return f


def _products(root: Path, ks: range) -> list[Path]:
    root.mkdir(parents=True, exist_ok=True)
    return [_write(root, k) for k in ks]


def _rows(cat: Catalog) -> dict[str, ProductRecord]:
    return {r.path: r for r in cat.iter_search(ProductQuery(states=ALL_STATES, limit=10_000))}


def _lines(stdout: str) -> list[tuple[int, str, str]]:
    return [(int(i), t, p) for i, t, p in (line.split("\t") for line in stdout.splitlines())]


@pytest.fixture
def bulk_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Sizes of the bulk imports run (the spy keeps the real loader)."""
    calls: list[int] = []
    real = batch_ingest._bulk

    def spy(catalog: Catalog, products: list[Any], batch_size: int, progress: Any) -> Any:
        calls.append(len(products))
        return real(catalog, products, batch_size, progress)

    monkeypatch.setattr(batch_ingest, "_bulk", spy)
    return calls


def test_thousands_of_files_in_one_call(catalog_url: str, tmp_path: Path, bulk_calls: list[int]) -> None:
    """2,400 files in one call go in through one bulk import with every field as read; a re-run adds nothing."""
    files = _products(tmp_path / "data", range(2400))
    res = runner.invoke(app, ["ingest", *map(str, files), "--type", "VSC_L1VALD", "--url", catalog_url])
    assert res.exit_code == 0, res.output
    assert bulk_calls == [2400]
    printed = _lines(res.stdout)
    assert [p for _, _, p in printed] == [str(f) for f in files]
    assert len({i for i, _, _ in printed}) == 2400
    assert "2400 products added, 0 already in the catalog" in res.stderr
    cat = open_catalog(catalog_url)
    try:
        rows = _rows(cat)
        assert len(rows) == 2400
        for (pid, ptype, _), f in zip(printed, files, strict=True):
            k = int(f.stem[1:])
            truth = _truth(k)
            rec = rows[str(f)]
            assert (rec.id, rec.product_type, ptype) == (pid, "VSC_L1VALD", "VSC_L1VALD")
            assert rec.site == truth["site"] and list(rec.bands) == truth["bands"] and rec.tdi == truth["tdi"]
            assert rec.sensing_start == datetime.fromisoformat(truth["sensing_start"])
            assert rec.sensing_stop == datetime.fromisoformat(truth["sensing_stop"])
            assert rec.footprint_wkt is not None
            assert shapely.from_wkt(rec.footprint_wkt).equals(shapely.from_wkt(truth["footprint_wkt"]))
            data = f.read_bytes()
            assert (rec.size, rec.sha256) == (len(data), hashlib.sha256(data).hexdigest())
            assert rec.metadata == truth["metadata"] and rec.state == ProductState.ACTIVE
            assert rec.job_id is None and rec.processor is None and rec.superseded_by is None
        some = printed[1234][0]
        assert cat.lineage(some, "up") == [] and cat.lineage(some, "down") == []
        assert [e.action for e in cat.history(some)] == ["ingested"]
        # the bbox of product 1234's footprint finds it (spatial index built)
        bbox = shapely.from_wkt(_truth(1234)["footprint_wkt"]).bounds
        assert some in {r.id for r in cat.search(ProductQuery(bbox=bbox)).items}
    finally:
        cat.close()

    again = runner.invoke(app, ["ingest", *map(str, files), "--type", "VSC_L1VALD", "--url", catalog_url])
    assert again.exit_code == 0, again.output
    assert _lines(again.stdout) == printed  # the existing rows, reported
    assert "0 products added, 2400 already in the catalog" in again.stderr
    assert bulk_calls == [2400]  # nothing new: no second import
    cat = open_catalog(catalog_url)
    try:
        assert cat.count(ProductQuery(states=ALL_STATES)) == 2400
    finally:
        cat.close()


def test_changed_file_is_a_conflict_and_ends_the_run(catalog_url: str, tmp_path: Path, bulk_calls: list[int]) -> None:
    """A catalogued file whose content changed is a conflict naming it: what comes after it is not written (the
    new files behind it included), what comes before it is (as with one file at a time)."""
    old = _products(tmp_path / "old", range(1200))
    assert runner.invoke(app, ["ingest", *map(str, old), "--type", "VSC_L1VALD", "--url", catalog_url]).exit_code == 0
    changed = old[600]
    changed.write_bytes(b"reprocessed")
    new = _products(tmp_path / "new", range(5000, 6500))

    res = runner.invoke(app, ["ingest", *map(str, old + new), "--type", "VSC_L1VALD", "--url", catalog_url])
    assert isinstance(res.exception, CatalogConflict), res.output
    assert str(changed) in str(res.exception) and "supersede" in str(res.exception)
    assert [p for _, _, p in _lines(res.stdout)] == [str(f) for f in old[:600]]
    cat = open_catalog(catalog_url)
    try:
        rows = _rows(cat)
        assert len(rows) == 1200 and not any(str(f) in rows for f in new)
        assert rows[str(changed)].sha256 != hashlib.sha256(b"reprocessed").hexdigest()
    finally:
        cat.close()
    assert bulk_calls == [1200]

    res = runner.invoke(app, ["ingest", *map(str, [*new, changed]), "--type", "VSC_L1VALD", "--url", catalog_url])
    assert isinstance(res.exception, CatalogConflict) and str(changed) in str(res.exception)
    assert bulk_calls == [1200, 1500]
    cat = open_catalog(catalog_url)
    try:
        rows = _rows(cat)
        assert len(rows) == 2700 and all(str(f) in rows for f in new)
    finally:
        cat.close()


def test_bad_metadata_ends_the_run_naming_the_file(catalog: Catalog, plugins: Plugins, tmp_path: Path) -> None:
    """Unreadable metadata, an invalid footprint, a missing file: the per-file error naming the file, the files
    before it catalogued (in one import), none after it; the same with the one-by-one path."""
    first = 0
    for bulk_above in (5, 1000):
        for why, spoil in (
            ("unreadable or invalid metadata", lambda f: f.with_name(f.name + ".meta.json").write_text("{oops")),
            ("invalid polygon", lambda f: _write(f.parent, int(f.stem[1:]), {**_truth(0), "footprint_wkt": BOWTIE})),
            ("no such file", lambda f: f.unlink()),
        ):
            before = catalog.count(ProductQuery(states=ALL_STATES))
            files = _products(tmp_path / "data", range(first, first + 40))
            first += 40
            spoil(files[25])
            seen: list[Ingested] = []
            with pytest.raises(InvalidProduct, match=why) as err:
                ingest_files(
                    catalog, files, "VSC_L1VALD", plugins.product_readers,
                    emit=seen.append, bulk_above=bulk_above, batch_size=7,
                )  # fmt: skip
            assert str(files[25]) in str(err.value), (why, bulk_above)
            assert [s.path for s in seen] == [str(f) for f in files[:25]]
            assert catalog.count(ProductQuery(states=ALL_STATES)) == before + 25
            assert catalog.find_by_path(files[26]) is None


def test_a_failure_mid_load_leaves_nothing(
    catalog: Catalog, plugins: Plugins, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batches of one call share one transaction: the database failing at the third batch keeps none of the
    first two (and the error is not mistaken for a conflict)."""
    files = _products(tmp_path / "data", range(60))
    real = catalog.bulk_load

    class Failing:
        def __init__(self, inner: BulkLoad) -> None:
            self.inner, self.calls = inner, 0

        def add(self, products: Any) -> list[int]:
            self.calls += 1
            if self.calls == 3:
                raise CatalogError("catalog: server closed the connection unexpectedly")
            return self.inner.add(products)

        def flush(self) -> None:
            self.inner.flush()

    @contextmanager
    def failing_load(**options: Any) -> Iterator[Any]:
        with real(**options) as loader:
            yield Failing(loader)

    with monkeypatch.context() as patch:
        patch.setattr(catalog, "bulk_load", failing_load)
        with pytest.raises(CatalogError, match="server closed"):
            ingest_files(catalog, files, "VSC_L1VALD", plugins.product_readers, bulk_above=10, batch_size=20)
    assert catalog.count(ProductQuery(states=ALL_STATES)) == 0
    done = ingest_files(catalog, files, "VSC_L1VALD", plugins.product_readers, bulk_above=10, batch_size=20)
    assert len(done) == 60 and all(d.new for d in done)
    assert catalog.count(ProductQuery(states=ALL_STATES)) == 60


@pytest.mark.parametrize("rows_before", [0, 80])
@pytest.mark.parametrize("same_content", [True, False])
def test_concurrent_writer_between_reading_and_loading(
    catalog: Catalog,
    catalog_url: str,
    plugins: Plugins,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    same_content: bool,
    rows_before: int,
) -> None:
    """Another process catalogues one of the paths after the files were read: the import is rolled back and the
    files go in one by one — the same content is that process's row, other content a conflict naming the file.
    On an empty table the import rebuilds the indexes (the conflict shows at the end), on a larger one it keeps
    them (the conflict shows at the insert)."""
    if rows_before:
        catalog.add_products(
            [NewProduct("VSC_L1VALD", f"/elsewhere/{k}", size=1, sha256=f"{k:064x}") for k in range(rows_before)]
        )
    files = _products(tmp_path / "data", range(50))
    real = catalog.bulk_load
    racer: list[int] = []
    rebuilt: list[bool | None] = []

    @contextmanager
    def raced_load(**options: Any) -> Iterator[Any]:
        other = open_catalog(catalog_url)
        try:
            if not same_content:
                _write(files[30].parent, 30, content=b"other bytes")
            racer.append(other.ingest(ingest_product(files[30], plugins)).id)
        finally:
            other.close()
        rebuilt.append(options.get("rebuild_indexes"))
        with real(**options) as loader:
            yield loader

    monkeypatch.setattr(catalog, "bulk_load", raced_load)
    if same_content:
        done = ingest_files(catalog, files, "VSC_L1VALD", plugins.product_readers, bulk_above=10)
        assert [d.path for d in done] == [str(f) for f in files]
        assert done[30].id == racer[0]
        assert len({d.id for d in done}) == 50
        assert catalog.count(ProductQuery(states=ALL_STATES)) == rows_before + 50
    else:
        with pytest.raises(CatalogConflict) as err:
            ingest_files(catalog, files, "VSC_L1VALD", plugins.product_readers, bulk_above=10)
        assert str(files[30]) in str(err.value)
        assert catalog.count(ProductQuery(states=ALL_STATES)) == rows_before + 31  # 30 before it, the racer's row
        assert catalog.find_by_path(files[31]) is None
    assert rebuilt == [rows_before == 0]


def ingest_product(path: Path, plugins: Plugins) -> Any:
    """The product the CLI would catalogue for ``path`` (the racer's view of it)."""
    from viq_host.catalog.ops import read_product

    return read_product(path, "VSC_L1VALD", plugins.product_readers)
