"""Production catalog backend: PostgreSQL 15 + PostGIS 3 through psycopg2.

Footprints are ``geometry(Polygon,4326)`` with a GiST index and are filtered server-side (``ST_Intersects``);
bands are ``text[]`` with a GIN index; bulk loads go through ``COPY``. Connections come from a thread-safe
pool; every call is one transaction. A lost connection rolls the transaction back and surfaces as
:class:`CatalogError`; the broken connection is discarded from the pool.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import psycopg2
import psycopg2.errors
import psycopg2.extras
import psycopg2.pool
import shapely
from shapely.geometry.base import BaseGeometry

from viq_host.catalog._sql import SqlCatalog, Tx, dumps, redact
from viq_host.catalog.base import CatalogConflict, CatalogError, NewProduct, utc
from viq_host.catalog.migrations import migrations, split_statements

_MIGRATION_LOCK = 0x56495143  # "VIQC": advisory lock serialising concurrent migrators


def _copy_text(value: Any) -> str:
    r"""One field in COPY text format (``\N`` for NULL; backslash, tab, newline, CR escaped)."""
    if value is None:
        return "\\N"
    s = value if isinstance(value, str) else str(value)
    if "\\" in s or "\t" in s or "\n" in s or "\r" in s:
        return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return s


def _pg_array(items: Sequence[str]) -> str:
    return "{" + ",".join('"' + i.replace("\\", "\\\\").replace('"', '\\"') + '"' for i in items) + "}"


class PostgisCatalog(SqlCatalog):
    """The catalog in a PostgreSQL/PostGIS database (``postgresql://user:pw@host:port/db``)."""

    placeholder = "%s"

    def __init__(self, url: str, *, migrate: bool = True, pool_size: int = 8) -> None:
        self.url = url
        dsn = url.replace("postgis://", "postgresql://", 1)
        try:
            self._pool = psycopg2.pool.ThreadedConnectionPool(1, pool_size, dsn, connect_timeout=10)
        except psycopg2.Error as err:
            raise CatalogError(f"cannot connect to catalog {redact(url)}: {str(err).strip()}") from err
        with self._tx(write=True) as tx:
            tx.q(
                "CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY, "
                "applied timestamptz NOT NULL DEFAULT now(), description text NOT NULL)"
            )
        self._check_version(self.schema_version())
        if migrate:
            self.migrate()

    # ------------------------------------------------------------------ connection

    @contextmanager
    def _tx(self, write: bool = False) -> Iterator[Tx]:
        try:
            conn = self._pool.getconn()
        except psycopg2.Error as err:
            raise CatalogError(f"catalog {redact(self.url)} unavailable: {str(err).strip()}") from err
        broken = False
        try:
            conn.readonly = not write
            with conn.cursor() as cur:
                yield Tx(cur, "%s")
            conn.commit()
        except (psycopg2.OperationalError, psycopg2.InterfaceError) as err:
            broken = True
            _rollback(conn)
            raise CatalogError(
                f"catalog {redact(self.url)} unavailable, transaction rolled back: {str(err).strip()}"
            ) from err
        except psycopg2.errors.UniqueViolation as err:
            _rollback(conn)
            raise CatalogConflict(f"catalog: {str(err).strip()}") from err
        except psycopg2.Error as err:
            _rollback(conn)
            raise CatalogError(f"catalog database error: {str(err).strip()}") from err
        except BaseException:
            _rollback(conn)
            raise
        finally:
            broken = broken or bool(conn.closed)
            self._pool.putconn(conn, close=broken)

    def close(self) -> None:
        """Close every pooled connection."""
        self._pool.closeall()

    def schema_version(self) -> int:
        """Highest applied migration (0 for an empty database)."""
        with self._tx() as tx:
            return int(tx.one("SELECT coalesce(max(version), 0) FROM schema_version")[0])

    def migrate(self) -> list[int]:
        """Apply pending migrations, each in its own transaction, under an advisory lock."""
        applied: list[int] = []
        for mig in migrations("postgis"):
            with self._tx(write=True) as tx:
                tx.q("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))
                current = int(tx.one("SELECT coalesce(max(version), 0) FROM schema_version")[0])
                if mig.version <= current:
                    continue
                for stmt in split_statements(mig.sql):
                    tx.cur.execute(stmt)
                tx.q("INSERT INTO schema_version (version, description) VALUES (?, ?)", (mig.version, mig.description))
                applied.append(mig.version)
        return applied

    def _lock_key(self, tx: Tx, key: str) -> None:
        tx.q("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", (key,))

    # ------------------------------------------------------------------ encodings

    def _enc_time(self, dt: datetime | None) -> Any:
        return dt

    def _dec_time(self, value: Any) -> datetime | None:
        return utc(value) if value is not None else None

    def _enc_bands(self, bands: Sequence[str]) -> Any:
        return list(bands)

    def _dec_bands(self, value: Any) -> tuple[str, ...]:
        return tuple(value or ())

    def _enc_json(self, value: Any) -> Any:
        return psycopg2.extras.Json(value, dumps=dumps)

    def _dec_json(self, value: Any) -> Any:
        if isinstance(value, str):
            return json.loads(value)
        return value if value is not None else {}

    def _enc_flags(self, flags: Sequence[str]) -> Any:
        return list(flags)

    def _dec_flags(self, value: Any) -> tuple[str, ...]:
        return tuple(value or ())

    def _footprint_select(self) -> str:
        return "ST_AsBinary(footprint)"

    def _year_sql(self, expr: str) -> str:
        return f"CAST(EXTRACT(YEAR FROM ({expr}) AT TIME ZONE 'UTC') AS integer)"

    def _band_clause(self, band: str) -> tuple[str, list[Any]]:
        return "p.bands @> ARRAY[?]::text[]", [band]

    def _spatial_clause(self, geom: BaseGeometry) -> tuple[str, list[Any]]:
        return "ST_Intersects(p.footprint, ST_GeomFromWKB(?, 4326))", [psycopg2.Binary(shapely.to_wkb(geom))]

    # ------------------------------------------------------------------ inserts

    def _insert_product(self, tx: Tx, p: NewProduct, geom: BaseGeometry | None, created: datetime) -> int | None:
        wkb = psycopg2.Binary(shapely.to_wkb(geom)) if geom is not None else None
        rows = tx.q(
            "INSERT INTO product (product_type, mission, site, bands, tdi, sensing_start, sensing_stop, footprint, "
            "path, size, sha256, created, job_id, attempt_id, processor, processor_version, gipp_versions, "
            "quality_flags, metadata) VALUES (?, ?, ?, ?::text[], ?, ?, ?, ST_GeomFromWKB(?, 4326), ?, ?, ?, ?, ?, ?, "
            "?, ?, ?, ?::text[], ?) ON CONFLICT (path) WHERE state = 'active' DO NOTHING RETURNING id",
            (
                p.product_type,
                p.mission,
                p.site,
                list(p.bands),
                p.tdi,
                utc(p.sensing_start),
                utc(p.sensing_stop),
                wkb,
                p.path,
                p.size,
                p.sha256,
                created,
                p.job_id,
                p.attempt_id,
                p.processor,
                p.processor_version,
                self._enc_json(dict(p.gipp_versions)),
                list(p.quality_flags),
                self._enc_json(dict(p.metadata)),
            ),
        )
        return int(rows[0][0]) if rows else None

    def _reserve_ids(self, tx: Tx, n: int) -> list[int]:
        # one round trip returning three numbers: the values are contiguous unless a concurrent writer drew from
        # the sequence meanwhile (then fetch them all)
        row = tx.one(
            "SELECT min(v), max(v), count(*) FROM (SELECT nextval('product_id_seq') AS v "
            "FROM generate_series(1, ?)) s",
            (n,),
        )
        lo, hi = int(row[0]), int(row[1])
        if hi - lo + 1 == n:
            return list(range(lo, hi + 1))
        rows = tx.q("SELECT nextval('product_id_seq') FROM generate_series(1, ?)", (n,))
        return [int(r[0]) for r in rows]

    _COPY_COLUMNS = (
        "id, product_type, mission, site, bands, tdi, sensing_start, sensing_stop, footprint, path, size, sha256, "
        "created, job_id, attempt_id, processor, processor_version, gipp_versions, quality_flags, metadata"
    )

    def _bulk_insert(
        self, tx: Tx, ids: list[int], products: Sequence[NewProduct], geoms: Any, created: datetime
    ) -> None:
        """COPY (text format) of the rows, formatted with per-batch caches.

        Fields validated upstream (type code, mission, site and band names, sha256, numbers, times) need no COPY
        escaping; free text (path, job/attempt/processor identity, flags, JSON) is escaped. Each distinct footprint
        (one per acquisition, shared by its bands), time and band list is formatted once.
        """
        import numpy as np

        slot: dict[int, int] = {}
        uniq: list[Any] = []
        for g in geoms:
            if g is not None and id(g) not in slot:
                slot[id(g)] = len(uniq)
                uniq.append(g)
        hexes: list[str] = []
        if uniq:
            arr = shapely.set_srid(np.array(uniq, dtype=object), 4326)
            hexes = list(shapely.to_wkb(arr, hex=True, include_srid=True))
        times: dict[datetime | None, str] = {None: "\\N"}
        arrays: dict[tuple[str, ...], str] = {}

        def t(dt: datetime | None) -> str:
            got = times.get(dt)
            if got is None:
                u = utc(dt)
                got = times[dt] = u.isoformat() if u is not None else "\\N"
            return got

        def a(items: tuple[str, ...]) -> str:
            got = arrays.get(items)
            if got is None:
                got = arrays[items] = _copy_text(_pg_array(items))
            return got

        stamp = created.isoformat()
        nul = "\\N"
        lines = []
        for pid, p, g in zip(ids, products, geoms, strict=True):
            lines.append(
                "\t".join(
                    (
                        str(pid),
                        p.product_type,
                        p.mission,
                        p.site or nul,
                        a(p.bands),
                        nul if p.tdi is None else str(int(p.tdi)),
                        t(p.sensing_start),
                        t(p.sensing_stop),
                        nul if g is None else hexes[slot[id(g)]],
                        _copy_text(p.path),
                        str(int(p.size or 0)),
                        str(p.sha256),
                        stamp,
                        _copy_text(p.job_id),
                        _copy_text(p.attempt_id),
                        _copy_text(p.processor),
                        _copy_text(p.processor_version),
                        _copy_text(dumps(dict(p.gipp_versions))) if p.gipp_versions else "{}",
                        a(tuple(p.quality_flags)),
                        _copy_text(dumps(dict(p.metadata))) if p.metadata else "{}",
                    )
                )
            )
        lines.append("")
        buf = io.StringIO("\n".join(lines))
        tx.cur.copy_expert(f"COPY product ({self._COPY_COLUMNS}) FROM STDIN", buf)  # type: ignore[attr-defined]
        edges = [(i, j) for i, p in zip(ids, products, strict=True) for j in sorted(set(p.inputs))]
        if edges:
            ebuf = io.StringIO("".join(f"{i}\t{j}\n" for i, j in edges))
            tx.cur.copy_expert("COPY product_input (product_id, input_id) FROM STDIN", ebuf)  # type: ignore[attr-defined]


def _rollback(conn: Any) -> None:
    try:
        if not conn.closed:
            conn.rollback()
    except psycopg2.Error:
        pass
