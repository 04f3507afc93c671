"""SQLite and PostgreSQL access behind one small interface, plus the forward migrations of the GIPP tables.

SQL is written once with ``?`` placeholders; the PostgreSQL connection rewrites them to ``%s``. Each store
operation runs in one transaction: SQLite ``BEGIN IMMEDIATE`` (writers serialise on the database lock),
PostgreSQL ``READ COMMITTED`` with explicit row locks (``SELECT … FOR UPDATE``) where a decision depends on
what another writer may change at the same time.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlparse

from viq_host.gipp.models import GippStoreError, now_utc
from viq_interfaces.errors import ConfigurationError

Dialect = Literal["sqlite", "postgresql"]


class Tx:
    """One open transaction: run statements, fetch rows."""

    def __init__(self, cursor: Any, dialect: Dialect) -> None:
        self._cur = cursor
        self.dialect = dialect

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.dialect == "postgresql" else sql

    def _run(self, sql: str, params: Sequence[Any]) -> None:
        # psycopg2 interpolates '%' whenever a parameter tuple is passed, even an empty one
        if params:
            self._cur.execute(self._sql(sql), tuple(params))
        else:
            self._cur.execute(self._sql(sql))

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; the number of rows it changed."""
        self._run(sql, params)
        return int(self._cur.rowcount or 0)

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """All rows of a query."""
        self._run(sql, params)
        return [tuple(r) for r in self._cur.fetchall()]

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        """The first row of a query, or None."""
        found = self.rows(sql, params)
        return found[0] if found else None

    def insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run an INSERT … RETURNING id; the new id."""
        row = self.one(sql + " RETURNING id", params)
        assert row is not None
        return int(row[0])

    def lock_for_update(self) -> str:
        """``FOR UPDATE`` on PostgreSQL (SQLite already holds the write lock)."""
        return " FOR UPDATE" if self.dialect == "postgresql" else ""


class Database:
    """A connection to the store database (one per store object; guarded by a lock for threads)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._lock = threading.RLock()
        parsed = urlparse(url)
        if parsed.scheme == "sqlite":
            path = unquote(url[len("sqlite:///") :]) if url.startswith("sqlite:///") else ""
            if not path:
                raise ConfigurationError(f"database_url {url!r}: expected sqlite:///PATH")
            if path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.dialect: Dialect = "sqlite"
            self._conn: Any = sqlite3.connect(path, timeout=60, isolation_level=None, check_same_thread=False)
            self._conn.execute("PRAGMA foreign_keys = ON")
            self._conn.execute("PRAGMA busy_timeout = 60000")
        elif parsed.scheme in ("postgresql", "postgres"):
            import psycopg2

            self.dialect = "postgresql"
            try:
                self._conn = psycopg2.connect(url, connect_timeout=10)
            except psycopg2.Error as err:
                raise GippStoreError(f"cannot connect to the GIPP store database: {err}".strip()) from err
        else:
            raise ConfigurationError(f"database_url {url!r}: scheme must be sqlite or postgresql")

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()

    def _reconnect_if_lost(self) -> None:
        """Open a new server connection when the previous one was lost (database restarted, host lost)."""
        if self.dialect != "postgresql" or not self._conn.closed:
            return
        import psycopg2

        try:
            self._conn = psycopg2.connect(self.url, connect_timeout=10)
        except psycopg2.Error as err:
            raise GippStoreError(f"cannot reconnect to the GIPP store database: {err}".strip()) from err

    def _drop_if_broken(self, exc: BaseException) -> None:
        """After a connection-level error, close the connection so the next transaction reconnects."""
        import psycopg2

        if isinstance(exc, psycopg2.OperationalError | psycopg2.InterfaceError):
            with suppress(psycopg2.Error):
                self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """A write transaction; committed on success, rolled back on any exception.

        On PostgreSQL a lost connection fails the transaction it happens in (nothing is half-written: the
        server rolls it back) and the next transaction reconnects.
        """
        with self._lock:
            self._reconnect_if_lost()
            if self.dialect == "sqlite":
                cur = self._conn.cursor()
                cur.execute("BEGIN IMMEDIATE")
                try:
                    yield Tx(cur, "sqlite")
                except BaseException:
                    cur.execute("ROLLBACK")
                    raise
                cur.execute("COMMIT")
            else:
                import psycopg2

                try:
                    with self._conn.cursor() as cur:
                        yield Tx(cur, "postgresql")
                except BaseException as exc:
                    self._drop_if_broken(exc)
                    if not self._conn.closed:
                        self._conn.rollback()
                    if isinstance(exc, psycopg2.OperationalError | psycopg2.InterfaceError):
                        raise GippStoreError(f"GIPP store database connection lost: {exc}".strip()) from exc
                    raise
                try:
                    self._conn.commit()
                except psycopg2.Error as err:
                    self._drop_if_broken(err)
                    if not self._conn.closed:
                        self._conn.rollback()
                    raise GippStoreError(f"commit failed: {err}".strip()) from err


# ---------------------------------------------------------------------------------------------- schema

_ID = {"sqlite": "INTEGER PRIMARY KEY AUTOINCREMENT", "postgresql": "BIGSERIAL PRIMARY KEY"}
_REAL = {"sqlite": "REAL", "postgresql": "DOUBLE PRECISION"}


def _v1(d: Dialect) -> list[str]:
    ident, real = _ID[d], _REAL[d]
    stmts = [
        f"""CREATE TABLE gipp (
            id {ident},
            gipp_type TEXT NOT NULL,
            serial INTEGER NOT NULL,
            valid_start TEXT NOT NULL,
            valid_stop TEXT NOT NULL,
            original_stop TEXT NOT NULL,
            appl_kind TEXT NOT NULL,
            appl_name TEXT NOT NULL,
            appl_sites TEXT NOT NULL,
            band TEXT,
            tdi_set TEXT,
            series_key TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('CANDIDATE', 'TEST', 'OPER', 'RETIRED')),
            ever_oper INTEGER NOT NULL DEFAULT 0,
            producing_job TEXT NOT NULL,
            processor_version TEXT NOT NULL,
            input_products TEXT NOT NULL,
            description TEXT NOT NULL,
            notes TEXT NOT NULL,
            creator TEXT NOT NULL,
            creator_version TEXT NOT NULL,
            creation_date TEXT NOT NULL,
            file_version INTEGER NOT NULL,
            schema_version TEXT NOT NULL,
            root_type TEXT NOT NULL,
            content_json TEXT,
            raw_block TEXT,
            content_sha256 TEXT NOT NULL,
            registered INTEGER NOT NULL,
            created_at TEXT NOT NULL,
            UNIQUE (series_key, serial)
        )""",
        "CREATE INDEX gipp_by_type ON gipp (gipp_type, status)",
        # at most one OPER version of a series may start at a given instant (the promotion lock does the rest)
        "CREATE UNIQUE INDEX gipp_one_oper_start ON gipp (series_key, valid_start) WHERE status = 'OPER'",
        """CREATE TABLE gipp_series (
            series_key TEXT PRIMARY KEY,
            revision INTEGER NOT NULL
        )""",
        f"""CREATE TABLE gipp_array (
            id {ident},
            gipp_id INTEGER NOT NULL REFERENCES gipp (id),
            name TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            dtype TEXT NOT NULL,
            length INTEGER NOT NULL,
            path TEXT NOT NULL,
            UNIQUE (gipp_id, name)
        )""",
        f"""CREATE TABLE gipp_evidence (
            id {ident},
            gipp_id INTEGER NOT NULL REFERENCES gipp (id),
            metric TEXT NOT NULL,
            value {real} NOT NULL,
            threshold {real},
            passed INTEGER,
            evidence_path TEXT,
            evidence_sha256 TEXT,
            recorded_by TEXT NOT NULL,
            recorded_at TEXT NOT NULL,
            note TEXT NOT NULL
        )""",
        f"""CREATE TABLE gipp_audit (
            id {ident},
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            gipp_id INTEGER REFERENCES gipp (id),
            reason TEXT NOT NULL,
            detail TEXT NOT NULL
        )""",
        """CREATE TABLE gipp_role (
            name TEXT NOT NULL,
            role TEXT NOT NULL,
            granted_by TEXT NOT NULL,
            granted_at TEXT NOT NULL,
            PRIMARY KEY (name, role)
        )""",
    ]
    # nothing is ever deleted; the audit trail is append-only
    if d == "sqlite":
        for table in ("gipp", "gipp_audit", "gipp_evidence", "gipp_array"):
            stmts.append(
                f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
                f"BEGIN SELECT RAISE(ABORT, 'GIPP store rows are never deleted ({table})'); END"
            )
        stmts.append(
            "CREATE TRIGGER gipp_audit_no_update BEFORE UPDATE ON gipp_audit "
            "BEGIN SELECT RAISE(ABORT, 'the GIPP audit trail is append-only'); END"
        )
    else:
        stmts.append(
            "CREATE FUNCTION gipp_forbid_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'GIPP store rows are never deleted, audit rows never changed (%)', "
            "TG_TABLE_NAME; END $$"
        )
        for table in ("gipp", "gipp_evidence", "gipp_array"):
            stmts.append(
                f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION gipp_forbid_change()"
            )
        stmts.append(
            "CREATE TRIGGER gipp_audit_append_only BEFORE UPDATE OR DELETE ON gipp_audit "
            "FOR EACH ROW EXECUTE FUNCTION gipp_forbid_change()"
        )
    return stmts


#: Forward migrations: (version, description, statements per dialect). Append only; never edit a released one.
MIGRATIONS: tuple[tuple[int, str, dict[Dialect, list[str]]], ...] = (
    (1, "GIPP tables, series lock rows, arrays, evidence, audit, roles", {d: _v1(d) for d in ("sqlite", "postgresql")}),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]


def migrate(db: Database) -> int:
    """Bring the GIPP tables to :data:`SCHEMA_VERSION`; the version reached. Refuses a newer database."""
    with db.transaction() as tx:
        tx.execute(
            "CREATE TABLE IF NOT EXISTS gipp_schema_version (version INTEGER PRIMARY KEY, "
            "description TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        if tx.dialect == "postgresql":
            tx.execute("LOCK TABLE gipp_schema_version IN EXCLUSIVE MODE")
        row = tx.one("SELECT MAX(version) FROM gipp_schema_version")
        current = int(row[0]) if row and row[0] is not None else 0
        if current > SCHEMA_VERSION:
            raise GippStoreError(
                f"the GIPP tables are at schema version {current}, newer than this VIQ ({SCHEMA_VERSION}); upgrade VIQ"
            )
        for version, description, statements in MIGRATIONS:
            if version <= current:
                continue
            for stmt in statements[db.dialect]:
                tx.execute(stmt)
            tx.execute(
                "INSERT INTO gipp_schema_version (version, description, applied_at) VALUES (?, ?, ?)",
                (version, description, now_utc().isoformat()),
            )
    return SCHEMA_VERSION
