"""Embedded catalog backend: SQLite (WAL) with an R*Tree on footprint bounding boxes, product type and sensing day.

Spatial queries preselect on the R*Tree (``product_area``: the footprint's bounding box and, in a third dimension,
the product type's number × 65,536 + the sensing day, so a type and a time window narrow the spatial search itself),
then the exact tests: a search
reads the ids and footprints of the candidates that pass the SQL filters, tests them against the area in one
vectorised shapely call, and reads the full rows of the page's survivors only (both steps in one read
transaction); counts and usage test the intersection inside SQL (a registered function). Writers take
``BEGIN IMMEDIATE``, which serialises them across threads and processes (two processes ingesting the same file make
one row).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from viq_host.catalog._sql import SqlCatalog, Tx, _replace, _selective, dumps, query_area, table_is_small
from viq_host.catalog.base import (
    ANALYZE_AFTER_ROWS,
    BulkLoad,
    CatalogConflict,
    CatalogError,
    NewProduct,
    Page,
    ProductQuery,
    now_utc,
    utc,
)
from viq_host.catalog.migrations import migrations, split_statements

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US_PER_DAY = 86_400_000_000.0
_DAYS_PER_TYPE = 65_536.0
"""Width of one product type's range in the R*Tree's type-and-day dimension (code × 65,536 + day)."""
_LAST_DAY = 65_534.0
"""Days since 1970 are clamped to [0, this] in that dimension (stored and asked alike, so the order is kept)."""
_EXACT_CHUNK = 2048
"""Candidates read and tested per step of a spatial search."""
_FIRST_CHUNK = 64
"""Fewest candidate ids whose rows are read in the first step of an R*Tree-driven search (then twice as many)."""
_BOX_DRIVES_BELOW = 20_000
"""A spatial search whose R*Tree preselection returns at most this many ids reads their rows in id order, a chunk at
a time (see :meth:`SqliteCatalog.search`); with more, the planner chooses."""


def sqlite_path(url: str) -> str:
    """``sqlite:///rel/path`` → ``rel/path``; ``sqlite:////abs/path`` → ``/abs/path``; ``:memory:`` kept."""
    if not url.startswith("sqlite:///"):
        raise CatalogError(f"not a SQLite URL: {url!r} (expected sqlite:///PATH)")
    path = url[len("sqlite:///") :]
    if not path:
        raise CatalogError(f"SQLite URL without a path: {url!r}")
    return path


@lru_cache(maxsize=64)
def _prepared(wkb: bytes) -> BaseGeometry:
    geom = shapely.from_wkb(wkb)
    shapely.prepare(geom)
    return geom


def _intersects(footprint: bytes | None, area: bytes) -> int:
    if footprint is None:
        return 0
    return int(_prepared(area).intersects(shapely.from_wkb(footprint)))


@lru_cache(maxsize=1024)
def _bands(value: str | None) -> tuple[str, ...]:
    """``",B1,B2,"`` → ``("B1", "B2")``; the few distinct band lists of a catalog are split once."""
    return tuple(b for b in str(value or "").split(",") if b)


@lru_cache(maxsize=4096)
def type_code(product_type: str) -> float:
    """20 bits of a product type name's CRC-32: the type dimension of schema 7's R*Tree (``product_box``), which
    migration 7 fills through the SQL function ``viq_type_code``; schema 8 replaces it (``product_type_code``)."""
    return float(zlib.crc32(product_type.encode("utf-8")) & 0xFFFFF)


def _hits(area: BaseGeometry, rows: Sequence[Sequence[Any]]) -> list[int]:
    """Ids of the (id, footprint WKB) rows whose footprint intersects the (prepared) area, in the rows' order."""
    if not rows:
        return []
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    geoms = shapely.from_wkb(np.array([r[1] for r in rows], dtype=object))
    return [int(i) for i in ids[shapely.intersects(area, geoms)]]


def _box_holds_filters(query: ProductQuery) -> bool:
    """True when the R*Tree holds every filter of ``query`` that an index could narrow (area, type, window): no
    site, producing job/attempt/processor or lineage walk, whose indexes may find fewer rows."""
    return (
        query.site is None
        and query.job_id is None
        and query.attempt_id is None
        and query.processor is None
        and query.processor_version is None
        and query.derived_from is None
        and query.inputs_of is None
    )


def _day(us: int | None) -> float:
    """Sensing start (microseconds since 1970) in days, clamped to [0, _LAST_DAY]; 0 without a sensing start (any
    value would do: a time filter excludes the product in SQL)."""
    if us is None:
        return 0.0
    return min(max(us / _US_PER_DAY, 0.0), _LAST_DAY)


def _area_row(pid: int, bounds: Sequence[float], code: int, us: int | None) -> tuple[Any, ...]:
    """An R*Tree row: id, bounding box, [code × 65,536 + day, + 1]. The R*Tree keeps 32-bit floats rounded outwards
    (exact days up to 255 types; beyond, coarser but still containing the value)."""
    x0, y0, x1, y1 = bounds
    low = code * _DAYS_PER_TYPE + _day(us)
    return (pid, x0, x1, y0, y1, low, low + 1.0)


class SqliteCatalog(SqlCatalog):
    """The catalog in one SQLite file."""

    placeholder = "?"
    SMALL_AREA_DRIVES = True

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        path = sqlite_path(url)
        if path != ":memory:":
            Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=60.0)
        except sqlite3.Error as err:
            raise CatalogError(f"cannot open catalog {path}: {err}") from err
        self._lock = threading.RLock()
        self._conn.execute("PRAGMA busy_timeout = 60000")
        if path != ":memory:":
            self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = NORMAL")
        self._conn.execute("PRAGMA foreign_keys = ON")
        self._conn.execute("PRAGMA cache_size = -65536")
        self._conn.create_function("viq_intersects", 2, _intersects, deterministic=True)
        self._conn.create_function("viq_type_code", 1, type_code, deterministic=True)  # used by migration 7
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
            "applied TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')), "
            "description TEXT NOT NULL)"
        )
        version = self.schema_version()
        self._check_version(version)
        if migrate:
            self.migrate()

    # ------------------------------------------------------------------ connection

    @contextmanager
    def _tx(self, write: bool = False) -> Iterator[Tx]:
        with self._lock:
            cur = self._conn.cursor()
            try:
                cur.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                yield Tx(cur, "?")
                cur.execute("COMMIT")
            except sqlite3.Error as err:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                if "UNIQUE constraint failed" in str(err):
                    raise CatalogConflict(f"catalog: {err}") from err
                raise CatalogError(f"catalog database error: {err}") from err
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
            finally:
                cur.close()

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """One statement outside an explicit transaction (SQLite gives it its own snapshot)."""
        with self._lock:
            try:
                return self._conn.execute(sql, tuple(params)).fetchall()
            except sqlite3.Error as err:
                raise CatalogError(f"catalog database error: {err}") from err

    def close(self) -> None:
        """Close the connection, after ``PRAGMA optimize`` (SQLite analyses the tables whose searches lacked
        statistics, or that grew tenfold since their last analysis; usually nothing to do)."""
        with self._lock:
            with contextlib.suppress(sqlite3.Error):  # a busy or read-only file: the next close does it
                self._conn.execute("PRAGMA optimize")
            self._conn.close()

    def schema_version(self) -> int:
        """Highest applied migration (0 for an empty file)."""
        with self._lock:
            row = self._conn.execute("SELECT max(version) FROM schema_version").fetchone()
        return int(row[0] or 0)

    def migrate(self) -> list[int]:
        """Apply pending migrations, each in its own transaction."""
        applied: list[int] = []
        for mig in migrations("sqlite"):
            with self._tx(write=True) as tx:
                current = int(tx.one("SELECT coalesce(max(version), 0) FROM schema_version")[0])
                if mig.version <= current:
                    continue
                for stmt in split_statements(mig.sql):
                    tx.q(stmt)
                tx.q(
                    "INSERT INTO schema_version (version, applied, description) VALUES (?, ?, ?)",
                    (mig.version, datetime.now(UTC).isoformat(), mig.description),
                )
                applied.append(mig.version)
        return applied

    # ------------------------------------------------------------------ encodings

    def _enc_time(self, dt: datetime | None) -> Any:
        if dt is None:
            return None
        delta = dt - _EPOCH
        return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds

    def _dec_time(self, value: Any) -> datetime | None:
        if value is None:
            return None
        return _EPOCH + timedelta(microseconds=value)

    def _enc_bands(self, bands: Sequence[str]) -> Any:
        return ("," + ",".join(bands) + ",") if bands else ""

    def _dec_bands(self, value: Any) -> tuple[str, ...]:
        return _bands(value)

    def _enc_json(self, value: Any) -> Any:
        return dumps(value)

    def _dec_json(self, value: Any) -> Any:
        return json.loads(value) if value and value != "{}" else {}

    def _enc_flags(self, flags: Sequence[str]) -> Any:
        return dumps(list(flags))

    def _dec_flags(self, value: Any) -> tuple[str, ...]:
        return tuple(json.loads(value)) if value and value != "[]" else ()

    def _footprint_select(self) -> str:
        return "footprint"

    def _year_sql(self, expr: str) -> str:
        return f"CAST(strftime('%Y', ({expr}) / 1000000, 'unixepoch') AS INTEGER)"

    def _band_clause(self, band: str) -> tuple[str, list[Any]]:
        return "instr(p.bands, ?) > 0", ["," + band + ","]

    def _spatial_clause(self, geom: BaseGeometry) -> tuple[str, list[Any]]:
        return self._area_clause(geom, ProductQuery(), True)

    def _area_clause(self, geom: BaseGeometry, query: ProductQuery, exact: bool) -> tuple[str, list[Any]]:
        """The R*Tree preselection on the area's bounding box, the query's product type and its sensing window
        (each bound only where the query has it), then the exact intersection unless ``exact`` is False."""
        box, params = self._box_terms(geom, query)
        sql = f"p.id IN (SELECT id FROM product_area WHERE {box})"
        if exact:
            sql += " AND viq_intersects(p.footprint, ?)"
            params.append(shapely.to_wkb(geom))
        return sql, params

    def _box_terms(self, geom: BaseGeometry, query: ProductQuery) -> tuple[str, list[Any]]:
        """R*Tree constraints (``product_area``) implied by the area, product type and sensing window of a query.
        The type-and-day dimension is used with a type only: [code × 65,536 + first day, code × 65,536 + last day],
        the days from the window where it has them (sensing_start >= start implies the stored upper end >= start's
        day; sensing_start < stop implies the lower end <= stop's day); an unknown type has code -1 (no row)."""
        x0, y0, x1, y1 = geom.bounds
        box = ["max_lon >= ?", "min_lon <= ?", "max_lat >= ?", "min_lat <= ?"]
        params: list[Any] = [x0, x1, y0, y1]
        if query.product_type is not None:
            code = "(SELECT coalesce(max(code), -1) FROM product_type_code WHERE product_type = ?) * 65536.0"
            start, stop = self._enc_time(utc(query.start)), self._enc_time(utc(query.stop))
            first = 0.0 if start is None else _day(start)
            last = _LAST_DAY + 1.0 if stop is None else _day(stop)
            box += [f"max_kind_day >= {code} + ?", f"min_kind_day <= {code} + ?"]
            params += [query.product_type, first, query.product_type, last]
        return " AND ".join(box), params

    # ------------------------------------------------------------------ search

    def search(self, query: ProductQuery) -> Page:
        """See :meth:`SqlCatalog.search`. A spatial search finds the ids of its page (and one more) first, testing
        the footprints of its candidates against the area in vectorised chunks, then reads the full rows of the page;
        one read transaction, so both steps see the same snapshot.

        The candidates come from the R*Tree, in id order, when it holds every filter of the query that an index
        could narrow (area, type, window) and returns at most :data:`_BOX_DRIVES_BELOW` ids: their rows are then
        read a chunk at a time, only until the page is full. Otherwise the planner picks the way in (a site,
        a job, a lineage walk may be narrower than the area) and returns the candidates in id order."""
        area = query_area(query.validated())
        if area is None or area.is_empty:
            return super().search(query)
        want = query.limit + 1
        shapely.prepare(area)
        with self._tx() as tx:
            found = self._from_boxes(tx, query, area, want) if _box_holds_filters(query) else None
            if found is None:
                found = self._from_planner(tx, query, area, want)
            page = found[: query.limit]
            rows = tx.q(self._page_sql, (json.dumps(page),)) if page else []
        items = self._records(rows)
        return Page(items=items, next_after=items[-1].id if len(found) > query.limit else None)

    def _from_boxes(self, tx: Tx, query: ProductQuery, area: BaseGeometry, want: int) -> list[int] | None:
        """Up to ``want`` matching ids, in order, driven by the R*Tree's ids; None when it returns too many."""
        box, params = self._box_terms(area, query)
        if query.after is not None:
            box += " AND id > ?"
            params.append(query.after)
        found = tx.q(f"SELECT id FROM product_area WHERE {box} LIMIT ?", [*params, _BOX_DRIVES_BELOW + 1])
        if len(found) > _BOX_DRIVES_BELOW:
            return None
        cands = sorted(r[0] for r in found)
        _, where, params = self._where(_replace(query, bbox=None, polygon_wkt=None, after=None))
        # the chunk's ids drive (CROSS JOIN keeps json_each outside): no index of the other filters can be better
        sql = f"SELECT p.id, p.footprint FROM json_each(?) AS j CROSS JOIN product p ON p.id = j.value WHERE {where}"
        out: list[int] = []
        i, step = 0, max(_FIRST_CHUNK, 2 * want)
        while i < len(cands) and len(out) < want:
            chunk = cands[i : i + step]
            i += step
            step *= 2
            out += sorted(_hits(area, tx.q(sql, [json.dumps(chunk), *params])))
        return out[:want]

    def _from_planner(self, tx: Tx, query: ProductQuery, area: BaseGeometry, want: int) -> list[int]:
        """Up to ``want`` matching ids, in order, from one statement whose way in the planner chooses."""
        prefix, where, params = self._where(query, exact_spatial=False)
        if query.after is not None:
            where += " AND p.id > ?"
            params = [*params, query.after]
        order = "p.id + 0" if _selective(query) else "p.id"
        cur = tx.cur
        assert isinstance(cur, sqlite3.Cursor)
        cur.execute(f"{prefix}SELECT p.id, p.footprint FROM product p WHERE {where} ORDER BY {order}", params)
        out: list[int] = []
        while len(out) < want:
            chunk = cur.fetchmany(_EXACT_CHUNK)
            if not chunk:
                break
            out += _hits(area, chunk)
        return out[:want]

    @cached_property
    def _page_sql(self) -> str:
        """The full rows of the ids in a JSON array (any number of them, one parameter), in id order."""
        return f"SELECT {self._select()} FROM product p WHERE p.id IN (SELECT value FROM json_each(?)) ORDER BY p.id"

    # ------------------------------------------------------------------ inserts

    def _row(self, pid: int | None, p: NewProduct, wkb: bytes | None, created: Any) -> tuple[Any, ...]:
        return (
            pid,
            p.product_type,
            p.mission,
            p.site,
            self._enc_bands(p.bands),
            p.tdi,
            self._enc_time(utc(p.sensing_start)),
            self._enc_time(utc(p.sensing_stop)),
            wkb,
            p.path,
            p.size,
            p.sha256,
            created,
            p.job_id,
            p.attempt_id,
            p.processor,
            p.processor_version,
            dumps(dict(p.gipp_versions)),
            dumps(list(p.quality_flags)),
            dumps(dict(p.metadata)),
        )

    _INSERT = (
        "INSERT INTO product (id, product_type, mission, site, bands, tdi, sensing_start, sensing_stop, footprint, "
        "path, size, sha256, created, job_id, attempt_id, processor, processor_version, gipp_versions, "
        "quality_flags, metadata) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )

    def _insert_product(self, tx: Tx, p: NewProduct, geom: BaseGeometry | None, created: datetime) -> int | None:
        wkb = shapely.to_wkb(geom) if geom is not None else None
        rows = tx.q(
            self._INSERT + " ON CONFLICT (path) WHERE state = 'active' DO NOTHING RETURNING id",
            self._row(None, p, wkb, self._enc_time(created)),
        )
        if not rows:
            return None
        new_id = int(rows[0][0])
        if geom is not None:
            start = self._enc_time(utc(p.sensing_start))
            code = self._type_codes(tx, [p.product_type])[p.product_type]
            tx.q(_RTREE_INSERT, _area_row(new_id, geom.bounds, code, start))
        return new_id

    def _type_codes(self, tx: Tx, types: Iterable[str]) -> dict[str, int]:
        """The R*Tree number of each product type, numbering new types (inside the write transaction: a rolled-back
        ingest takes its new numbers with it)."""
        out: dict[str, int] = {}
        for name in sorted(set(types)):
            row = tx.one("SELECT code FROM product_type_code WHERE product_type = ?", (name,))
            if row is None:
                row = tx.one("INSERT INTO product_type_code (product_type) VALUES (?) RETURNING code", (name,))
            out[name] = int(row[0])
        return out

    def _reserve_ids(self, tx: Tx, n: int) -> list[int]:
        start = int(tx.one("SELECT coalesce(max(id), 0) FROM product")[0]) + 1
        return list(range(start, start + n))

    def _bulk_insert(
        self, tx: Tx, ids: list[int], products: Sequence[NewProduct], geoms: Any, created: datetime
    ) -> None:
        codes = self._type_codes(tx, [p.product_type for p in products])
        rows, boxes = self._bulk_rows(ids, products, geoms, created, codes)
        tx.many(self._INSERT, rows)
        tx.many(_RTREE_INSERT, boxes)
        tx.many(
            "INSERT INTO product_input (product_id, input_id) VALUES (?, ?)",
            [(i, j) for i, p in zip(ids, products, strict=True) for j in sorted(set(p.inputs))],
        )

    def _bulk_rows(
        self,
        ids: Sequence[int],
        products: Sequence[NewProduct],
        geoms: Any,
        created: datetime,
        codes: Mapping[str, int],
    ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        """Product rows and R*Tree rows of a batch; each distinct footprint, time, band list and JSON encoded once."""
        slot: dict[int, int] = {}
        uniq: list[Any] = []
        for g in geoms:
            if g is not None and id(g) not in slot:
                slot[id(g)] = len(uniq)
                uniq.append(g)
        u_wkb = list(shapely.to_wkb(np.array(uniq, dtype=object))) if uniq else []
        u_box = shapely.bounds(np.array(uniq, dtype=object)).tolist() if uniq else []
        wkb_of = {i: u_wkb[j] for i, j in slot.items()}
        box_of = {i: u_box[j] for i, j in slot.items()}
        times: dict[datetime | None, Any] = {None: None}
        bands: dict[tuple[str, ...], str] = {}

        def t(dt: datetime | None) -> Any:
            got = times.get(dt, times)
            if got is times:
                got = times[dt] = self._enc_time(utc(dt))
            return got

        def b(items: tuple[str, ...]) -> str:
            got = bands.get(items)
            if got is None:
                got = bands[items] = self._enc_bands(items)
            return got

        stamp = self._enc_time(created)
        rows = [
            (
                pid,
                p.product_type,
                p.mission,
                p.site,
                b(p.bands),
                p.tdi,
                t(p.sensing_start),
                t(p.sensing_stop),
                None if g is None else wkb_of[id(g)],
                p.path,
                p.size,
                p.sha256,
                stamp,
                p.job_id,
                p.attempt_id,
                p.processor,
                p.processor_version,
                dumps(dict(p.gipp_versions)) if p.gipp_versions else "{}",
                dumps(list(p.quality_flags)) if p.quality_flags else "[]",
                dumps(dict(p.metadata)) if p.metadata else "{}",
            )
            for pid, p, g in zip(ids, products, geoms, strict=True)
        ]
        boxes = [
            _area_row(row[0], box_of[id(g)], codes[row[1]], row[6])
            for row, g in zip(rows, geoms, strict=True)
            if g is not None
        ]
        return rows, boxes

    # ------------------------------------------------------------------ bulk load

    @contextmanager
    def bulk_load(self, *, rebuild_indexes: bool | None = None) -> Iterator[BulkLoad]:
        """See :meth:`viq_host.catalog.base.Catalog.bulk_load`: one ``BEGIN IMMEDIATE`` transaction; readers in
        other connections keep the previous snapshot (WAL) until it commits."""
        with self._tx(write=True) as tx:
            loader = _SqliteBulkLoad(self, tx)
            try:
                loader.begin(rebuild_indexes)
                yield loader
                loader.finish()
            finally:
                loader.restore()


class _SqliteBulkLoad:
    """State of one :meth:`SqliteCatalog.bulk_load`."""

    def __init__(self, cat: SqliteCatalog, tx: Tx) -> None:
        self.cat = cat
        self.tx = tx
        self.rows = 0
        self.rebuilt: list[tuple[str, str]] = []
        self._created = now_utc()
        self._next = 1
        self._pragmas: list[tuple[str, Any]] = []

    def begin(self, rebuild: bool | None) -> None:
        q = self.tx.q
        for name, value in (("cache_size", -524288), ("threads", 2)):
            self._pragmas.append((name, q(f"PRAGMA {name}")[0][0]))
            q(f"PRAGMA {name} = {int(value)}")
        self._next = int(q("SELECT coalesce(max(id), 0) FROM product")[0][0]) + 1
        if rebuild is None:
            rebuild = table_is_small(self.tx)
        if not rebuild:
            return
        rows = q(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('product', 'product_input') "
            "AND sql IS NOT NULL ORDER BY sql NOT LIKE 'CREATE UNIQUE%', name"
        )
        for name, sql in rows:
            q(f'DROP INDEX "{name}"')
            self.rebuilt.append((str(name), str(sql)))

    def add(self, products: Sequence[NewProduct]) -> list[int]:
        """See :class:`viq_host.catalog.base.BulkLoad`."""
        if not products:
            return []
        prepared, geoms = self.cat._prepare_bulk(products, "bulk load")
        ids = list(range(self._next, self._next + len(prepared)))
        inputs = sorted({i for p in prepared for i in p.inputs})
        if inputs:
            self.cat._check_inputs(self.tx, inputs)
        codes = self.cat._type_codes(self.tx, [p.product_type for p in prepared])
        rows, boxes = self.cat._bulk_rows(ids, prepared, geoms, self._created, codes)
        try:
            self.tx.many(SqliteCatalog._INSERT, rows)
        except sqlite3.IntegrityError as err:
            raise CatalogConflict(f"bulk load: {self._taken(prepared, ids) or err}; nothing was loaded") from err
        self.tx.many(_RTREE_INSERT, boxes)
        self.tx.many(
            "INSERT INTO product_input (product_id, input_id) VALUES (?, ?)",
            [(i, j) for i, p in zip(ids, prepared, strict=True) for j in sorted(set(p.inputs))],
        )
        self._next += len(ids)
        self.rows += len(ids)
        return ids

    def _taken(self, batch: Sequence[NewProduct], ids: Sequence[int]) -> str:
        """Which paths of a refused batch were already active (before this batch), for the error message."""
        paths = sorted({p.path for p in batch})
        found: list[str] = []
        for k in range(0, len(paths), 500):
            chunk = paths[k : k + 500]
            marks = ", ".join("?" * len(chunk))
            found += [
                str(r[0])
                for r in self.tx.q(
                    f"SELECT path FROM product WHERE state = 'active' AND path IN ({marks}) AND id < ?",
                    [*chunk, min(ids)],
                )
            ]
        return f"already active: {', '.join(sorted(found)[:5])}" if found else ""

    def flush(self) -> None:
        """Nothing to wait for: every batch is written when :meth:`add` returns."""

    def finish(self) -> None:
        for _name, sql in self.rebuilt:
            try:
                self.tx.q(sql)
            except sqlite3.IntegrityError as err:
                rows = self.tx.q(
                    "SELECT path FROM product WHERE state = 'active' GROUP BY path HAVING count(*) > 1 "
                    "ORDER BY path LIMIT 5"
                )
                paths = ", ".join(str(r[0]) for r in rows)
                raise CatalogConflict(
                    f"bulk load: a path would be active twice ({paths or err}); nothing was loaded"
                ) from err
        if self.rows >= ANALYZE_AFTER_ROWS:
            # SQLite keeps no statistics of its own: without them a search after a large import is planned on
            # guesses (a type's whole index range read for a search around one site). A full ANALYZE of the two
            # tables takes a fraction of a second per million rows, in the import's transaction.
            self.tx.q("ANALYZE product")
            self.tx.q("ANALYZE product_input")

    def restore(self) -> None:
        for name, value in self._pragmas:
            self.cat._conn.execute(f"PRAGMA {name} = {int(value)}")


_RTREE_INSERT = (
    "INSERT INTO product_area (id, min_lon, max_lon, min_lat, max_lat, min_kind_day, max_kind_day) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
