"""Logic shared by the SQL backends: validation, idempotent ingest, query building, lineage, measurements.

Backends supply the connection handling and the encoding of times, bands, JSON and footprints. SQL here is
written with ``?`` placeholders; the PostGIS backend rewrites them to ``%s`` (no ``?`` or ``%`` literals).
"""

from __future__ import annotations

import abc
import functools
import json
import math
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal, Protocol

import shapely
from shapely.geometry.base import BaseGeometry

from viq_host.catalog.base import (
    _SHA_RE,
    BULK_REBUILD_BELOW,
    PRODUCT_TYPE_RE,
    RETENTION_PROTECTED_PREFIXES,
    BulkLoad,
    CatalogConflict,
    CatalogError,
    Direction,
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
    RetentionPlan,
    UsageRow,
    check_bbox,
    check_footprint,
    check_name,
    file_digest,
    now_utc,
    parse_footprint,
    product_state,
    record_from_values,
    utc,
    validate_product,
)
from viq_host.catalog.migrations import latest_version
from viq_interfaces.result import Measurement

MAX_DEPTH = 1000

PRODUCT_COLUMNS = (
    "id",
    "product_type",
    "mission",
    "site",
    "bands",
    "tdi",
    "sensing_start",
    "sensing_stop",
    "footprint",
    "path",
    "size",
    "sha256",
    "created",
    "job_id",
    "attempt_id",
    "processor",
    "processor_version",
    "gipp_versions",
    "quality_flags",
    "metadata",
    "state",
    "superseded_by",
)
MEASUREMENT_COLUMNS = (
    "id",
    "name",
    "value",
    "unit",
    "band",
    "tdi",
    "direction",
    "uncertainty",
    "site",
    "sensing_time",
    "product_id",
    "job_id",
    "attempt_id",
    "processor",
    "processor_version",
)


class Cursor(Protocol):
    """The DB-API cursor subset used here (sqlite3 and psycopg2 both fit)."""

    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> Any: ...
    def executemany(self, sql: str, params: Any, /) -> Any: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


class Tx:
    """A cursor inside one transaction; ``q`` runs SQL written with ``?`` placeholders."""

    def __init__(self, cur: Cursor, placeholder: str) -> None:
        self.cur = cur
        self._ph = placeholder

    def _sql(self, sql: str) -> str:
        return sql if self._ph == "?" else sql.replace("?", self._ph)

    def q(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Run one statement; all rows it returns (empty for statements without result)."""
        self.cur.execute(self._sql(sql), tuple(params))
        try:
            return list(self.cur.fetchall())
        except Exception:  # no result set (sqlite returns [], psycopg2 raises ProgrammingError)
            return []

    def one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first row, or None."""
        rows = self.q(sql, params)
        return rows[0] if rows else None

    def many(self, sql: str, seq: Sequence[Sequence[Any]]) -> None:
        """executemany."""
        if seq:
            self.cur.executemany(self._sql(sql), seq)


class SqlCatalog(abc.ABC):
    """A catalog over a SQL database; see :class:`viq_host.catalog.base.Catalog` for the API."""

    url: str
    placeholder = "?"
    SMALL_AREA_DRIVES = False
    """True (SQLite): a search over a small area is driven from the spatial index; the other filters are written
    ``+p.column`` so that the planner cannot pick their index instead (SQLite's unary-plus hint)."""

    # ------------------------------------------------------------------ backend hooks

    @abc.abstractmethod
    def _tx(self, write: bool = False) -> AbstractContextManager[Tx]:
        """A transaction (committed on success, rolled back on error)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections."""

    @abc.abstractmethod
    def schema_version(self) -> int:
        """Current schema version (0 = empty database)."""

    @abc.abstractmethod
    def migrate(self) -> list[int]:
        """Apply pending migrations."""

    @abc.abstractmethod
    def _enc_time(self, dt: datetime | None) -> Any: ...

    @abc.abstractmethod
    def _dec_time(self, value: Any) -> datetime | None: ...

    @abc.abstractmethod
    def _enc_bands(self, bands: Sequence[str]) -> Any: ...

    @abc.abstractmethod
    def _dec_bands(self, value: Any) -> tuple[str, ...]: ...

    @abc.abstractmethod
    def _enc_json(self, value: Any) -> Any: ...

    @abc.abstractmethod
    def _dec_json(self, value: Any) -> Any: ...

    @abc.abstractmethod
    def _enc_flags(self, flags: Sequence[str]) -> Any: ...

    @abc.abstractmethod
    def _dec_flags(self, value: Any) -> tuple[str, ...]: ...

    @abc.abstractmethod
    def _footprint_select(self) -> str:
        """SQL expression giving the footprint as WKB (or NULL)."""

    @abc.abstractmethod
    def _year_sql(self, expr: str) -> str:
        """SQL giving the UTC calendar year (integer) of the time expression ``expr``."""

    @abc.abstractmethod
    def _band_clause(self, band: str) -> tuple[str, list[Any]]:
        """WHERE fragment: the product has ``band``."""

    @abc.abstractmethod
    def _spatial_clause(self, geom: BaseGeometry) -> tuple[str, list[Any]]:
        """WHERE fragment: the footprint intersects ``geom`` exactly."""

    def _area_clause(self, geom: BaseGeometry, query: ProductQuery, exact: bool) -> tuple[str, list[Any]]:
        """WHERE fragment for the query area ``geom`` of ``query``. The default is :meth:`_spatial_clause`
        (always exact); a backend may use the query's other filters in its spatial index, and with ``exact=False``
        return a prefilter that keeps every intersecting footprint (the caller then tests the survivors)."""
        return self._spatial_clause(geom)

    @abc.abstractmethod
    def _insert_product(self, tx: Tx, p: NewProduct, geom: BaseGeometry | None, created: datetime) -> int | None:
        """Insert one row unless an active row has its path (then None)."""

    @abc.abstractmethod
    def _bulk_insert(
        self, tx: Tx, ids: list[int], products: Sequence[NewProduct], geoms: Any, created: datetime
    ) -> None:
        """Insert many rows with the given ids, and their lineage."""

    @abc.abstractmethod
    def _reserve_ids(self, tx: Tx, n: int) -> list[int]:
        """``n`` fresh product ids (inside the write transaction)."""

    @abc.abstractmethod
    def bulk_load(self, *, rebuild_indexes: bool | None = None) -> AbstractContextManager[BulkLoad]:
        """An archive import in one transaction (see :meth:`viq_host.catalog.base.Catalog.bulk_load`)."""

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Rows of ONE read-only statement (a statement is its own consistent snapshot: no explicit transaction)."""
        with self._tx() as tx:
            return tx.q(sql, params)

    def _id_in(self, subquery: str) -> str:
        """WHERE fragment: ``p.id`` is one of the ids ``subquery`` returns."""
        return f"p.id IN ({subquery})"

    def _lock_key(self, tx: Tx, key: str) -> None:  # noqa: B027 - SQLite needs nothing (writes are serialised)
        """Serialise writers on ``key`` until the transaction ends."""

    # ------------------------------------------------------------------ records

    _json_columns = ("gipp_versions", "metadata")

    def _select(self, alias: str = "p") -> str:
        cached = self.__dict__.setdefault("_select_cache", {})
        got = cached.get(alias)
        if got is None:
            cols = []
            for c in PRODUCT_COLUMNS:
                if c == "footprint":
                    cols.append(self._footprint_select().replace("footprint", f"{alias}.footprint"))
                elif c in self._json_columns:
                    cols.append(self._json_select(f"{alias}.{c}"))
                else:
                    cols.append(f"{alias}.{c}")
            got = cached[alias] = ", ".join(cols)
        return str(got)

    def _json_select(self, expr: str) -> str:
        """SQL giving a JSON column to the decoder (as text: decoded only when not empty)."""
        return expr

    def _records(self, rows: Sequence[Sequence[Any]]) -> list[ProductRecord]:
        """Decode many rows; footprints are converted WKB → WKT in one vectorised call."""
        import numpy as np

        if not rows:
            return []
        fps = np.array([None if r[8] is None else bytes(r[8]) for r in rows], dtype=object)
        wkts = shapely.to_wkt(shapely.from_wkb(fps), rounding_precision=-1)
        # times repeat within a page (the bands of an acquisition, one cataloguing stamp per load): decode each once
        times: dict[Any, datetime | None] = {None: None}
        return [self._record(r, w, times) for r, w in zip(rows, wkts, strict=True)]

    def _record(
        self, row: Sequence[Any], wkt: str | None = None, times: dict[Any, datetime | None] | None = None
    ) -> ProductRecord:
        """One row as a record; ``times`` caches decoded times across the rows of a page."""
        (
            pid,
            ptype,
            mission,
            site,
            bands,
            tdi,
            t0,
            t1,
            fp,
            path,
            size,
            sha,
            created,
            job,
            attempt,
            proc,
            ver,
            gipps,
            flags,
            meta,
            state,
            sup,
        ) = row
        if fp is not None and wkt is None:
            wkt = shapely.to_wkt(shapely.from_wkb(bytes(fp)), rounding_precision=-1)
        dec_time, dec_json = self._dec_time, self._dec_json
        if times is None:
            times = {None: None}
        for raw in (t0, t1, created):
            if raw not in times:
                times[raw] = dec_time(raw)
        created_dt = times[created]
        assert created_dt is not None
        return record_from_values(
            int(pid),
            ptype,
            mission,
            site,
            self._dec_bands(bands),
            tdi,
            times[t0],
            times[t1],
            wkt,
            path,
            int(size),
            sha,
            created_dt,
            job,
            attempt,
            proc,
            ver,
            dict(dec_json(gipps)),
            self._dec_flags(flags),
            dict(dec_json(meta)),
            product_state(state),
            None if sup is None else int(sup),
        )

    def _get(self, tx: Tx, product_id: int) -> ProductRecord:
        row = tx.one(self._get_sql, (product_id,))
        if row is None:
            raise ProductNotFound(f"product {product_id} is not in the catalog")
        return self._record(row)

    def _active_at(self, tx: Tx, path: str) -> ProductRecord | None:
        row = tx.one(f"SELECT {self._select()} FROM product p WHERE p.path = ? AND p.state = 'active'", (path,))
        return None if row is None else self._record(row)

    # ------------------------------------------------------------------ reading

    def get(self, product_id: int) -> ProductRecord:
        """The product row (any state)."""
        rows = self._read(self._get_sql, (product_id,))
        if not rows:
            raise ProductNotFound(f"product {product_id} is not in the catalog")
        return self._record(rows[0])

    @functools.cached_property
    def _get_sql(self) -> str:
        return f"SELECT {self._select()} FROM product p WHERE p.id = ?"

    def find_by_path(self, path: str | Path) -> ProductRecord | None:
        """The active row at ``path`` (absolute, as stored), if any."""
        with self._tx() as tx:
            return self._active_at(tx, _norm_path(path))

    def _where(self, query: ProductQuery, *, exact_spatial: bool = True) -> tuple[str, str, list[Any]]:
        """(WITH prefix, WHERE conditions, params) for a validated query; with ``exact_spatial=False`` the backend
        may leave the exact footprint/area intersection to the caller (see :meth:`_area_clause`)."""
        query.validated()
        conds: list[str] = []
        params: list[Any] = []
        ctes: list[str] = []
        cte_params: list[Any] = []
        depth = query.depth or MAX_DEPTH
        if query.derived_from is not None:
            ctes.append(
                "down_walk(id, depth) AS (SELECT product_id, 1 FROM product_input WHERE input_id = ? "
                "UNION SELECT pi.product_id, w.depth + 1 FROM product_input pi JOIN down_walk w "
                "ON pi.input_id = w.id WHERE w.depth < ?)"
            )
            cte_params += [query.derived_from, depth]
            conds.append("p.id IN (SELECT id FROM down_walk)")
        if query.inputs_of is not None:
            ctes.append(
                "up_walk(id, depth) AS (SELECT input_id, 1 FROM product_input WHERE product_id = ? "
                "UNION SELECT pi.input_id, w.depth + 1 FROM product_input pi JOIN up_walk w "
                "ON pi.product_id = w.id WHERE w.depth < ?)"
            )
            cte_params += [query.inputs_of, depth]
            conds.append("p.id IN (SELECT id FROM up_walk)")
        area = query_area(query)
        # a small area is found fastest from the spatial index: where the backend says so, the other filters are
        # written so that the planner does not drive the search from their (much larger) index ranges
        spatial_first = (
            self.SMALL_AREA_DRIVES
            and area is not None
            and not area.is_empty
            and _bounds_area(area) <= SELECTIVE_AREA_DEG2
        )
        col = "+p." if spatial_first else "p."
        for column in ("product_type", "site", "job_id", "attempt_id", "processor", "processor_version"):
            value = getattr(query, column)
            if value is not None:
                conds.append(f"{col}{column} = ?")
                params.append(value)
        if query.band is not None:
            sql, ps = self._band_clause(query.band)
            conds.append(sql)
            params += ps
        if query.start is not None:
            conds.append(f"{col}sensing_start >= ?")
            params.append(self._enc_time(utc(query.start)))
        if query.stop is not None:
            conds.append(f"{col}sensing_start < ?")
            params.append(self._enc_time(utc(query.stop)))
        if area is not None:
            if area.is_empty:
                conds.append("1 = 0")
            else:
                sql, ps = self._area_clause(area, query, exact_spatial)
                conds.append(sql)
                params += ps
        # state values are enum members, inlined as literals so the planners can use the state-led indexes
        states = sorted({str(ProductState(s)) for s in query.states})
        conds.insert(0, f"{col}state IN (" + ", ".join(f"'{s}'" for s in states) + ")")
        prefix = ("WITH RECURSIVE " + ", ".join(ctes) + " ") if ctes else ""
        where = " AND ".join(conds) if conds else "1 = 1"
        return prefix, where, cte_params + params

    def search(self, query: ProductQuery) -> Page:
        """One page of products matching ``query`` in id order; ``next_after`` is the cursor of the next page."""
        prefix, where, params = self._where(query)
        if query.after is not None:
            where += " AND p.id > ?"
            params.append(query.after)
        # With a selective filter the matching rows are found through its index and sorted; walking the primary key
        # in id order and filtering (what a planner picks for a small LIMIT when it assumes matches are spread
        # evenly over the ids) reads up to the whole table when they are not, e.g. one month of a time-ordered
        # archive. "p.id + 0" is not the key's expression, so the planner cannot take that walk.
        order = "p.id + 0" if _selective(query) else "p.id"
        if query.bbox is not None or query.polygon_wkt is not None:
            # the exact spatial test reads every candidate row anyway: one step
            sql = f"{prefix}SELECT {self._select()} FROM product p WHERE {where} ORDER BY {order} LIMIT ?"
        else:
            # two steps in one statement: the ids of the page (from an index where one covers the filters, sorted
            # as narrow tuples), then the full rows of just those ids
            ids = f"SELECT p.id FROM product p WHERE {where} ORDER BY {order} LIMIT ?"
            sql = f"{prefix}SELECT {self._select()} FROM product p WHERE {self._id_in(ids)} ORDER BY p.id"
        rows = self._read(sql, [*params, query.limit + 1])
        items = self._records(rows[: query.limit])
        return Page(items=items, next_after=items[-1].id if len(rows) > query.limit else None)

    def iter_search(self, query: ProductQuery) -> Iterator[ProductRecord]:
        """Every matching product, page after page."""
        after = query.after
        while True:
            page = self.search(_replace(query, after=after))
            yield from page.items
            if page.next_after is None:
                return
            after = page.next_after

    def count(self, query: ProductQuery) -> int:
        """Number of matching products."""
        prefix, where, params = self._where(query)
        row = self._read(f"{prefix}SELECT count(*) FROM product p WHERE {where}", params)[0]
        return int(row[0])

    def count_by(self, column: str, query: ProductQuery) -> dict[str, int]:
        """Counts of matching products per ``product_type``, ``site`` or ``processor``."""
        if column not in ("product_type", "site", "processor", "mission", "state"):
            raise InvalidQuery(f"count_by: cannot group by {column!r}")
        prefix, where, params = self._where(query)
        sql = f"{prefix}SELECT p.{column}, count(*) FROM product p WHERE {where} GROUP BY p.{column}"
        return {str(k): int(n) for k, n in self._read(sql, params)}

    def lineage(self, product_id: int, direction: Direction = "up", depth: int | None = None) -> list[LineageEdge]:
        """Edges reachable from ``product_id``: ``up`` = its inputs (recursively), ``down`` = what derives from it."""
        if direction not in ("up", "down"):
            raise InvalidQuery(f"direction {direction!r}: expected 'up' or 'down'")
        if depth is not None and depth < 1:
            raise InvalidQuery(f"depth {depth}: expected a positive integer")
        if direction == "up":
            start, join = "product_id = ?", "pi.product_id = w.input_id"
        else:
            start, join = "input_id = ?", "pi.input_id = w.product_id"
        sql = (
            "WITH RECURSIVE walk(product_id, input_id, depth) AS ("
            f"SELECT product_id, input_id, 1 FROM product_input WHERE {start} "
            "UNION SELECT pi.product_id, pi.input_id, w.depth + 1 FROM product_input pi "
            f"JOIN walk w ON {join} WHERE w.depth < ?) "
            "SELECT product_id, input_id, min(depth) FROM walk GROUP BY product_id, input_id "
            "ORDER BY min(depth), product_id, input_id"
        )
        with self._tx() as tx:
            self._get(tx, product_id)
            rows = tx.q(sql, (product_id, depth or MAX_DEPTH))
        return [LineageEdge(int(a), int(b), int(d)) for a, b, d in rows]

    def history(self, product_id: int) -> list[ProductEvent]:
        """``ingested`` (from the row) then every recorded state change, oldest first."""
        with self._tx() as tx:
            rec = self._get(tx, product_id)
            rows = tx.q("SELECT at, action, detail FROM product_event WHERE product_id = ? ORDER BY id", (product_id,))
        events = [ProductEvent(product_id, rec.created, "ingested", rec.attempt_id or "")]
        for at, action, detail in rows:
            when = self._dec_time(at)
            assert when is not None
            events.append(ProductEvent(product_id, when, action, detail))
        return events

    def active_paths(self) -> list[tuple[int, str, int, str]]:
        """(id, path, size, sha256) of every active product, in id order."""
        with self._tx() as tx:
            rows = tx.q("SELECT id, path, size, sha256 FROM product WHERE state = 'active' ORDER BY id")
        return [(int(i), str(p), int(s), str(h)) for i, p, s, h in rows]

    # ------------------------------------------------------------------ storage for years

    def usage(self, query: ProductQuery) -> list[UsageRow]:
        """Products and bytes per type, site and year (of sensing start, else of cataloguing) matching ``query``."""
        prefix, where, params = self._where(query)
        year = self._year_sql("coalesce(p.sensing_start, p.created)")
        sql = (
            f"{prefix}SELECT p.product_type, p.site, {year} AS yr, count(*), coalesce(sum(p.size), 0) "
            f"FROM product p WHERE {where} GROUP BY p.product_type, p.site, yr"
        )
        with self._tx() as tx:
            rows = tx.q(sql, params)
        out = [UsageRow(str(t), s, int(y), int(n), int(b)) for t, s, y, n, b in rows]
        return sorted(out, key=lambda u: (u.product_type, u.site or "", u.year))

    def _protected(self, tx: Tx, cand_sql: str, params: Sequence[Any]) -> dict[int, int]:
        """Candidate id → an active GIPP/AUX product derived from it (recursively), for the candidates of
        ``cand_sql`` (a SELECT of ids)."""
        kinds = ", ".join(f"'{k}'" for k in RETENTION_PROTECTED_PREFIXES)
        sql = (
            f"WITH RECURSIVE cand(id) AS ({cand_sql}), "
            "down(root, id) AS (SELECT pi.input_id, pi.product_id FROM product_input pi JOIN cand c "
            "ON pi.input_id = c.id UNION SELECT d.root, pi.product_id FROM product_input pi JOIN down d "
            "ON pi.input_id = d.id) "
            "SELECT d.root, min(q.id) FROM down d JOIN product q ON q.id = d.id "
            f"WHERE q.state = 'active' AND substr(q.product_type, 1, 4) IN ({kinds}) GROUP BY d.root"
        )
        return {int(a): int(b) for a, b in tx.q(sql, params)}

    def retention_plan(
        self,
        product_types: Sequence[str],
        older_than: datetime,
        *,
        age_of: Literal["created", "sensing"] = "created",
        site: str | None = None,
    ) -> RetentionPlan:
        """Active products of the types older than ``older_than`` that may be retired; a dry run, nothing changes."""
        types = tuple(dict.fromkeys(product_types))
        if not types:
            raise InvalidQuery("retention: name at least one product type")
        for t in types:
            if not isinstance(t, str) or not PRODUCT_TYPE_RE.match(t):
                raise InvalidQuery(f"retention: product type {t!r}: expected a code like VSC_L1VALD")
        if age_of not in ("created", "sensing"):
            raise InvalidQuery(f"retention: age_of {age_of!r}: expected 'created' or 'sensing'")
        if not isinstance(older_than, datetime):
            raise InvalidQuery(f"retention: older_than must be a datetime, got {older_than!r}")
        if site is not None and not isinstance(site, str):
            raise InvalidQuery("retention: site must be a string")
        cutoff = utc(older_than)
        assert cutoff is not None
        column = "created" if age_of == "created" else "sensing_start"
        marks = ", ".join("?" for _ in types)
        cand_sql = (
            f"SELECT p.id FROM product p WHERE p.state = 'active' AND p.product_type IN ({marks}) AND p.{column} < ?"
        )
        params: list[Any] = [*types, self._enc_time(cutoff)]
        if site is not None:
            cand_sql += " AND p.site = ?"
            params.append(site)
        with self._tx() as tx:
            rows = tx.q(f"SELECT {self._select()} FROM product p WHERE p.id IN ({cand_sql}) ORDER BY p.id", params)
            protected_by = self._protected(tx, cand_sql, params)
            keepers = {i: self._get(tx, j) for i, j in protected_by.items()}
        candidates: list[ProductRecord] = []
        protected: list[tuple[ProductRecord, str]] = []
        for rec in self._records(rows):
            if rec.product_type.startswith("GIP_"):
                protected.append((rec, "is a GIPP"))
            elif rec.id in keepers:
                k = keepers[rec.id]
                protected.append((rec, f"product {k.id} ({k.product_type}, active) derives from it"))
            else:
                candidates.append(rec)
        return RetentionPlan(types, cutoff, age_of, candidates, protected)

    def apply_retention(self, plan: RetentionPlan, reason: str) -> list[ProductRecord]:
        """Mark the plan's candidates deleted in one transaction; protection and state are checked again there."""
        if not reason:
            raise InvalidQuery("retention: a reason is required (it goes into each product's history)")
        wanted = [r for r in plan.candidates if not r.product_type.startswith("GIP_")]
        done: list[ProductRecord] = []
        with self._tx(write=True) as tx:
            stamp = self._enc_time(now_utc())
            for i in range(0, len(wanted), 500):
                chunk = wanted[i : i + 500]
                marks = ", ".join("?" for _ in chunk)
                ids = [r.id for r in chunk]
                cand_sql = f"SELECT p.id FROM product p WHERE p.state = 'active' AND p.id IN ({marks})"
                active = {int(r[0]) for r in tx.q(cand_sql, ids)}
                keep = self._protected(tx, cand_sql, ids)
                go = [r for r in chunk if r.id in active and r.id not in keep]
                if not go:
                    continue
                gm = ", ".join("?" for _ in go)
                tx.q(f"UPDATE product SET state = 'deleted' WHERE id IN ({gm})", [r.id for r in go])
                tx.many(
                    "INSERT INTO product_event (product_id, at, action, detail) VALUES (?, ?, 'deleted', ?)",
                    [(r.id, stamp, reason) for r in go],
                )
                done += go
        return [_replace(r, state=ProductState.DELETED) for r in done]

    def add_event(self, product_id: int, action: str, detail: str = "") -> None:
        """Append an entry to a product's history."""
        if not action or not isinstance(action, str):
            raise InvalidQuery("add_event: empty action")
        with self._tx(write=True) as tx:
            self._get(tx, product_id)
            tx.q(
                "INSERT INTO product_event (product_id, at, action, detail) VALUES (?, ?, ?, ?)",
                (product_id, self._enc_time(now_utc()), action, detail),
            )

    # ------------------------------------------------------------------ writing

    def _prepare(self, p: NewProduct) -> tuple[NewProduct, BaseGeometry | None]:
        validate_product(p, check_geometry=False)
        geom = parse_footprint(p.footprint_wkt) if p.footprint_wkt is not None else None
        path = _norm_path(p.path)
        size, sha = p.size, p.sha256
        if size is None or sha is None:
            size, sha = file_digest(Path(path))
        return _replace(p, path=path, size=size, sha256=sha), geom

    def _check_inputs(self, tx: Tx, ids: Sequence[int]) -> None:
        wanted = sorted(set(ids))
        if not wanted:
            return
        found: set[int] = set()
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            marks = ", ".join("?" for _ in chunk)
            found |= {int(r[0]) for r in tx.q(f"SELECT id FROM product WHERE id IN ({marks})", chunk)}
        missing = [i for i in wanted if i not in found]
        if missing:
            raise ProductNotFound(f"input products not in the catalog: {missing[:20]}")

    def _ingest_one(self, tx: Tx, p: NewProduct, geom: BaseGeometry | None, supersedes: int | None) -> ProductRecord:
        existing = self._active_at(tx, p.path)
        if existing is not None:
            if existing.sha256 == p.sha256 and supersedes is None:
                return existing
            if supersedes is None:
                raise CatalogConflict(
                    f"{p.path} is already catalogued as product {existing.id} with sha256 {existing.sha256[:12]}…, "
                    f"the file now has {p.sha256[:12] if p.sha256 else '?'}…; supersede product {existing.id} "
                    "to catalogue the new content"
                )
            if existing.id != supersedes:
                raise CatalogConflict(
                    f"{p.path} is catalogued as product {existing.id}, not {supersedes}; cannot supersede"
                )
        if supersedes is not None:
            old = self._get(tx, supersedes)
            if old.state != ProductState.ACTIVE:
                raise CatalogConflict(f"product {supersedes} is {old.state}, only an active product can be superseded")
            # free the path (unique among active rows) before the new row takes it; superseded_by is set below
            tx.q("UPDATE product SET state = 'superseded' WHERE id = ?", (supersedes,))
        self._check_inputs(tx, p.inputs)
        created = now_utc()
        new_id = self._insert_product(tx, p, geom, created)
        if new_id is None:  # a concurrent writer catalogued the same path first
            again = self._active_at(tx, p.path)
            if again is not None and again.sha256 == p.sha256:
                return again
            raise CatalogConflict(f"{p.path} was catalogued concurrently with another checksum")
        if p.inputs:
            tx.many(
                "INSERT INTO product_input (product_id, input_id) VALUES (?, ?)",
                [(new_id, i) for i in sorted(set(p.inputs))],
            )
        if supersedes is not None:
            self._set_superseded(tx, supersedes, new_id, "")
        return self._get(tx, new_id)

    def _set_superseded(self, tx: Tx, old_id: int, new_id: int, reason: str) -> None:
        tx.q("UPDATE product SET state = 'superseded', superseded_by = ? WHERE id = ?", (new_id, old_id))
        tx.q(
            "INSERT INTO product_event (product_id, at, action, detail) VALUES (?, ?, 'superseded', ?)",
            (old_id, self._enc_time(now_utc()), f"by {new_id}" + (f": {reason}" if reason else "")),
        )

    def ingest(self, product: NewProduct, *, supersedes: int | None = None) -> ProductRecord:
        """Catalogue one product idempotently (see :class:`viq_host.catalog.base.Catalog`)."""
        p, geom = self._prepare(product)
        with self._tx(write=True) as tx:
            self._lock_key(tx, "path:" + p.path)
            return self._ingest_one(tx, p, geom, supersedes)

    def _prepare_bulk(self, products: Sequence[NewProduct], what: str) -> tuple[list[NewProduct], Any]:
        """Validate a batch (checks of :func:`validate_product`, each distinct value checked once) and parse its
        footprints (each distinct WKT once); products without size/sha256 get them from their file."""
        geoms = _bulk_footprints([p.footprint_wkt for p in products])
        prepared = _validate_many(products)
        for k, p in enumerate(prepared):
            if p.size is None or p.sha256 is None:
                prepared[k], _ = self._prepare(_replace(p, footprint_wkt=None))
        if len({p.path for p in prepared}) != len(prepared):
            twice = sorted(path for path, n in Counter(p.path for p in prepared).items() if n > 1)
            raise CatalogConflict(f"{what}: the same path appears twice in one batch: {', '.join(twice[:5])}")
        return prepared, geoms

    def add_products(self, products: Sequence[NewProduct]) -> list[int]:
        """Bulk load in one transaction (all or nothing); every path must be new; the new ids in order."""
        if not products:
            return []
        prepared, geoms = self._prepare_bulk(products, "add_products")
        with self._tx(write=True) as tx:
            inputs = sorted({i for p in prepared for i in p.inputs})
            if inputs:
                self._check_inputs(tx, inputs)
            ids = self._reserve_ids(tx, len(prepared))
            try:
                self._bulk_insert(tx, ids, prepared, geoms, now_utc())
            except CatalogError:
                raise
            except Exception as err:
                if _is_unique_violation(err):
                    raise CatalogConflict(f"add_products: a path is already catalogued ({err})") from err
                raise
        return ids

    def ingest_outputs(
        self,
        outputs: Sequence[OutputLike],
        *,
        job_id: str,
        attempt_id: str,
        processor: str,
        processor_version: str,
        input_ids: Sequence[int] = (),
        gipp_versions: Mapping[str, str] | None = None,
        base_dir: Path | None = None,
        measurements: Sequence[Measurement] = (),
        sensing_time: datetime | None = None,
        site: str | None = None,
        mission: str = "VENUS",
    ) -> list[int]:
        """Catalogue one attempt's outputs, lineage and measurements in one transaction; idempotent per attempt.

        Relative output paths are resolved against ``base_dir`` (the attempt's output directory). Every output
        gets ``input_ids`` as lineage, the job/attempt/processor identity and ``gipp_versions`` (type →
        version). Measurements get ``sensing_time`` (default: sensing start of the first input, else of the first
        output, else now), ``site`` (default: the first output's, else the first input's) and the first output's
        id. A second call for the same attempt returns the ids of the first and stores nothing.
        """
        if not attempt_id:
            raise InvalidProduct("attempt_id: empty")
        resolved: list[NewProduct] = []
        geoms: list[BaseGeometry | None] = []
        for out in outputs:
            path = Path(out.path)
            if not path.is_absolute():
                if base_dir is None:
                    raise InvalidProduct(f"output {path}: relative path and no base_dir")
                path = base_dir / path
            meta = dict(out.metadata)
            port = getattr(out, "port", None)
            if port is not None:
                meta.setdefault("port", port)
            np_ = NewProduct(
                product_type=out.product_type,
                path=str(path),
                site=out.site,
                bands=tuple(out.bands),
                tdi=out.tdi,
                sensing_start=out.sensing_start,
                sensing_stop=out.sensing_stop,
                footprint_wkt=out.footprint_wkt,
                mission=mission,
                job_id=job_id,
                attempt_id=attempt_id,
                processor=processor,
                processor_version=processor_version,
                gipp_versions=dict(gipp_versions or {}),
                metadata=meta,
                inputs=tuple(input_ids),
            )
            p, geom = self._prepare(np_)
            resolved.append(p)
            geoms.append(geom)
        with self._tx(write=True) as tx:
            self._lock_key(tx, "attempt:" + attempt_id)
            done = tx.q("SELECT id, path FROM product WHERE attempt_id = ? ORDER BY id", (attempt_id,))
            if done:
                by_path = {str(path): int(i) for i, path in done}
                missing = [p.path for p in resolved if p.path not in by_path]
                if missing:
                    raise CatalogConflict(
                        f"attempt {attempt_id} was already ingested with other outputs; not in it: {missing[:5]}"
                    )
                return [by_path[p.path] for p in resolved]
            self._check_inputs(tx, input_ids)
            ids = [self._ingest_one(tx, p, g, None).id for p, g in zip(resolved, geoms, strict=True)]
            if measurements:
                already = tx.one("SELECT count(*) FROM measurement WHERE attempt_id = ?", (attempt_id,))
                if not already[0]:
                    when = utc(sensing_time)
                    first_in = self._get(tx, input_ids[0]) if input_ids else None
                    if when is None and first_in is not None:
                        when = first_in.sensing_start
                    if when is None and resolved:
                        when = utc(resolved[0].sensing_start)
                    where = site or (resolved[0].site if resolved else None) or (first_in.site if first_in else None)
                    self._add_measurements(
                        tx,
                        measurements,
                        sensing_time=when or now_utc(),
                        site=where,
                        product_id=ids[0] if ids else None,
                        job_id=job_id,
                        attempt_id=attempt_id,
                        processor=processor,
                        processor_version=processor_version,
                    )
            return ids

    def supersede(self, old_id: int, new_id: int, reason: str = "") -> None:
        """Mark ``old_id`` superseded by ``new_id``; both rows stay."""
        if old_id == new_id:
            raise CatalogConflict(f"product {old_id} cannot supersede itself")
        with self._tx(write=True) as tx:
            old, new = self._get(tx, old_id), self._get(tx, new_id)
            if old.state != ProductState.ACTIVE:
                raise CatalogConflict(f"product {old_id} is {old.state}, only an active product can be superseded")
            if new.state != ProductState.ACTIVE:
                raise CatalogConflict(f"product {new_id} is {new.state}; the replacement must be active")
            self._set_superseded(tx, old_id, new_id, reason)

    def delete(self, product_id: int, reason: str = "") -> None:
        """Mark a product deleted; its row, lineage and history stay."""
        with self._tx(write=True) as tx:
            rec = self._get(tx, product_id)
            if rec.state == ProductState.DELETED:
                return
            tx.q("UPDATE product SET state = 'deleted' WHERE id = ?", (product_id,))
            tx.q(
                "INSERT INTO product_event (product_id, at, action, detail) VALUES (?, ?, 'deleted', ?)",
                (product_id, self._enc_time(now_utc()), reason),
            )

    # ------------------------------------------------------------------ measurements

    def _add_measurements(
        self,
        tx: Tx,
        measurements: Sequence[Measurement],
        *,
        sensing_time: datetime,
        site: str | None,
        product_id: int | None,
        job_id: str | None,
        attempt_id: str | None,
        processor: str | None,
        processor_version: str | None,
    ) -> int:
        check_name("site", site)
        when = self._enc_time(utc(sensing_time))
        created = self._enc_time(now_utc())
        rows = []
        for m in measurements:
            if not m.name:
                raise InvalidProduct("measurement name: empty")
            rows.append(
                (
                    m.name,
                    float(m.value),
                    m.unit,
                    m.band,
                    m.tdi,
                    m.direction,
                    m.uncertainty,
                    site,
                    when,
                    product_id,
                    job_id,
                    attempt_id,
                    processor,
                    processor_version,
                    created,
                )
            )
        tx.many(
            "INSERT INTO measurement (name, value, unit, band, tdi, direction, uncertainty, site, sensing_time, "
            "product_id, job_id, attempt_id, processor, processor_version, created) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        return len(rows)

    def add_measurements(
        self,
        measurements: Sequence[Measurement],
        *,
        sensing_time: datetime,
        site: str | None = None,
        product_id: int | None = None,
        job_id: str | None = None,
        attempt_id: str | None = None,
        processor: str | None = None,
        processor_version: str | None = None,
    ) -> int:
        """Append measurements (one sensing time, one site) to the time series; the number stored."""
        if not isinstance(sensing_time, datetime):
            raise InvalidProduct(f"sensing_time: expected a datetime, got {sensing_time!r}")
        with self._tx(write=True) as tx:
            if product_id is not None:
                self._get(tx, product_id)
            return self._add_measurements(
                tx,
                measurements,
                sensing_time=sensing_time,
                site=site,
                product_id=product_id,
                job_id=job_id,
                attempt_id=attempt_id,
                processor=processor,
                processor_version=processor_version,
            )

    def measurement_names(self) -> list[str]:
        """Distinct measurement names in the time series, sorted."""
        with self._tx() as tx:
            rows = tx.q("SELECT DISTINCT name FROM measurement ORDER BY name", [])
        return [str(r[0]) for r in rows]

    def series(
        self,
        name: str,
        band: str | None = None,
        site: str | None = None,
        start: datetime | None = None,
        stop: datetime | None = None,
        tdi: int | None = None,
        direction: str | None = None,
    ) -> list[MeasurementRow]:
        """Time-ordered points of measurement ``name``; sensing time in ``[start, stop)``."""
        t0, t1 = utc(start), utc(stop)
        if t0 is not None and t1 is not None and t1 <= t0:
            raise InvalidQuery("series: stop is not after start")
        conds: list[str] = ["name = ?"]
        params: list[Any] = [name]
        for column, value in (("band", band), ("site", site), ("tdi", tdi), ("direction", direction)):
            if value is not None:
                conds.append(f"{column} = ?")
                params.append(value)
        if t0 is not None:
            conds.append("sensing_time >= ?")
            params.append(self._enc_time(t0))
        if t1 is not None:
            conds.append("sensing_time < ?")
            params.append(self._enc_time(t1))
        sql = (
            f"SELECT {', '.join(MEASUREMENT_COLUMNS)} FROM measurement WHERE {' AND '.join(conds)} "
            "ORDER BY sensing_time, id"
        )
        with self._tx() as tx:
            rows = tx.q(sql, params)
        out = []
        for mid, n, value, unit, b, t, d, unc, s, when, pid, job, attempt, proc, ver in rows:
            dt = self._dec_time(when)
            assert dt is not None
            out.append(
                MeasurementRow(
                    id=int(mid),
                    name=n,
                    value=math.nan if value is None else float(value),
                    unit=unit,
                    band=b,
                    tdi=t,
                    direction=d,
                    uncertainty=unc,
                    site=s,
                    sensing_time=dt,
                    product_id=pid,
                    job_id=job,
                    attempt_id=attempt,
                    processor=proc,
                    processor_version=ver,
                )
            )
        return out

    def _check_version(self, version: int) -> None:
        code = latest_version()
        if version > code:
            raise CatalogError(
                f"{self.url_redacted}: schema version {version} is newer than this VIQ ({code}); upgrade VIQ"
            )

    @property
    def url_redacted(self) -> str:
        """The URL without its password."""
        return redact(self.url)


# --------------------------------------------------------------------------------------------- helpers


def redact(url: str) -> str:
    """``postgresql://user:***@host/db`` — never print a password."""
    if "://" in url and "@" in url:
        scheme, rest = url.split("://", 1)
        cred, host = rest.rsplit("@", 1)
        user = cred.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url


def _norm_path(path: str | Path) -> str:
    return str(Path(path).expanduser().absolute())


def _replace(obj: Any, **changes: Any) -> Any:
    import dataclasses

    return dataclasses.replace(obj, **changes)


def _validate_many(products: Sequence[NewProduct]) -> list[NewProduct]:
    """:func:`validate_product` (without geometry) over a batch: the fields that repeat across products (type,
    mission, site, bands, sha256) are checked once per distinct value; a failing product is re-checked by
    :func:`validate_product` itself, which raises with its usual message."""
    seen: set[tuple[Any, ...]] = set()
    good_sha: set[str] = set()
    out = list(products)
    for p in out:
        key = (p.product_type, p.mission, p.site, p.bands)
        ok = bool(p.path) and isinstance(p.path, str)
        if ok and key not in seen:
            try:
                hash(key)
                validate_product(
                    NewProduct(p.product_type, "/", site=p.site, bands=p.bands, mission=p.mission), check_geometry=False
                )
            except (InvalidProduct, TypeError):
                ok = False
            else:
                seen.add(key)
        sha = p.sha256
        if ok and sha is not None and sha not in good_sha:
            ok = isinstance(sha, str) and bool(_SHA_RE.match(sha))
            if ok:
                good_sha.add(sha)
        if ok and p.size is not None:
            ok = isinstance(p.size, int) and p.size >= 0
        t0, t1 = p.sensing_start, p.sensing_stop
        if ok and t0 is not None and t1 is not None:
            ok = isinstance(t0, datetime) and isinstance(t1, datetime) and not (utc(t1) < utc(t0))  # type: ignore[operator]
        if ok and p.inputs:
            ok = all(type(i) is int for i in p.inputs)
        if not ok:  # the full check raises with the precise reason (or accepts e.g. a list of bands)
            validate_product(p, check_geometry=False)
    return out


SELECTIVE_WINDOW = timedelta(days=366)
"""A sensing-time window up to this long counts as a selective filter (see :func:`_selective`)."""
SELECTIVE_AREA_DEG2 = 4.0
"""A bounding box up to this area (square degrees, about a 2° square: a few sites) is selective: its candidates
come from the spatial index and are sorted, rather than the primary key being walked in id order."""


def table_is_small(tx: Tx) -> bool:
    """True when ``product`` holds fewer than :data:`BULK_REBUILD_BELOW` rows (a bulk load then drops and rebuilds
    the secondary indexes: cheaper than maintaining them row by row)."""
    found = tx.q("SELECT count(*) FROM (SELECT 1 FROM product LIMIT ?) s", (BULK_REBUILD_BELOW,))
    return int(found[0][0]) < BULK_REBUILD_BELOW


def query_area(query: ProductQuery) -> BaseGeometry | None:
    """The area a query's footprints must intersect: its bbox, its polygon, or their intersection (None: no
    spatial filter; an empty geometry: nothing can match)."""
    area: BaseGeometry | None = None
    if query.bbox is not None:
        area = shapely.box(*check_bbox(query.bbox))
    if query.polygon_wkt is not None:
        poly = parse_footprint(query.polygon_wkt)
        area = poly if area is None else area.intersection(poly)
    return area


def _bounds_area(geom: BaseGeometry) -> float:
    """Area of a geometry's bounding box, square degrees."""
    x0, y0, x1, y1 = geom.bounds
    return float((x1 - x0) * (y1 - y0))


def _selective(q: ProductQuery) -> bool:
    """True when an index narrows the query to a small part of the catalog: a site, a producing job, attempt or
    processor, a lineage walk, or a bounded sensing window of at most :data:`SELECTIVE_WINDOW`."""
    if q.site is not None or q.job_id is not None or q.attempt_id is not None or q.processor is not None:
        return True
    if q.derived_from is not None or q.inputs_of is not None:
        return True
    if q.bbox is not None and _bounds_area(shapely.box(*q.bbox)) <= SELECTIVE_AREA_DEG2:
        return True
    start, stop = utc(q.start), utc(q.stop)
    return start is not None and stop is not None and stop - start <= SELECTIVE_WINDOW


def _bulk_footprints(wkts: Sequence[str | None]) -> Any:
    """Parse many footprints at once (vectorised shapely) and check each; an array of geometries/None.

    Identical WKT strings (the bands of one acquisition share a footprint) are parsed and checked once; the
    returned array then holds the same geometry object at each of their positions.
    """
    import numpy as np

    index: dict[str, int] = {}
    uniq: list[str] = []
    where = np.empty(len(wkts), dtype=np.int64)
    for k, w in enumerate(wkts):
        if w is None:
            where[k] = -1
            continue
        if not isinstance(w, str) or not w.strip():
            raise InvalidProduct("footprint: empty WKT")
        j = index.get(w)
        if j is None:
            j = index[w] = len(uniq)
            uniq.append(w)
        where[k] = j
    out = np.full(len(wkts), None, dtype=object)
    if not uniq:
        return out
    try:
        sub = shapely.from_wkt(np.array(uniq, dtype=object), on_invalid="raise")
    except shapely.errors.GEOSException as err:
        raise InvalidProduct(f"footprint: unreadable WKT: {err}") from err
    bad_type = shapely.get_type_id(sub) != 3
    bounds = shapely.bounds(sub)
    out_of_range = (bounds[:, 0] < -180) | (bounds[:, 2] > 180) | (bounds[:, 1] < -90) | (bounds[:, 3] > 90)
    wide = (bounds[:, 2] - bounds[:, 0]) > 180
    invalid = ~shapely.is_valid(sub)
    bad = bad_type | out_of_range | wide | invalid | ~np.isfinite(bounds).all(axis=1)
    if bad.any():
        check_footprint(sub[int(np.argmax(bad))])  # raises with the precise reason
    present = where >= 0
    out[present] = sub[where[present]]
    return out


def _is_unique_violation(err: Exception) -> bool:
    text = str(err).lower()
    return "unique" in text or getattr(err, "pgcode", None) == "23505"


def dumps(value: Any) -> str:
    """Compact, deterministic JSON (empty containers without a call into the encoder)."""
    if not value:
        if isinstance(value, dict | Mapping):
            return "{}"
        if isinstance(value, list | tuple):
            return "[]"
    return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)
