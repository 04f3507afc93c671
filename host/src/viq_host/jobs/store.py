"""The job store: jobs, their attempts and every state transition, in SQLite.

Every transition is committed *before* it takes effect: the attempt row exists before the executor is
asked to run it, its external id is recorded right after, a cancel request is stored before any signal
is sent. A restarted host (or the daemon's reconciliation, :meth:`JobStore.attempts_in_flight`) can
therefore always tell what may be running.

States (``transitions`` keeps the full history with timestamps and reasons)::

    job:      QUEUED → RUNNING → SUCCEEDED | WARNING | FAILED | CANCELLED   (FAILED/CANCELLED → QUEUED on retry)
    attempt:  CREATED → SUBMITTED → RUNNING → EXITED → DONE | FAILED
"""

from __future__ import annotations

import enum
import json
import sqlite3
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from viq_interfaces.errors import ConfigurationError, ViqError

SCHEMA_VERSION = 2


class JobState(enum.StrEnum):
    """State of a job (what an operator sees)."""

    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    WARNING = "WARNING"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def terminal(self) -> bool:
        """True once the job will not change any more by itself."""
        return self in (JobState.SUCCEEDED, JobState.WARNING, JobState.FAILED, JobState.CANCELLED)


class AttemptState(enum.StrEnum):
    """State of one attempt (one execution of the worker)."""

    CREATED = "CREATED"
    SUBMITTED = "SUBMITTED"
    RUNNING = "RUNNING"
    EXITED = "EXITED"
    DONE = "DONE"
    FAILED = "FAILED"

    @property
    def terminal(self) -> bool:
        """True for DONE and FAILED."""
        return self in (AttemptState.DONE, AttemptState.FAILED)


JOB_TRANSITIONS: Mapping[JobState, frozenset[JobState]] = {
    JobState.QUEUED: frozenset({JobState.RUNNING, JobState.CANCELLED, JobState.FAILED}),
    JobState.RUNNING: frozenset(
        {JobState.SUCCEEDED, JobState.WARNING, JobState.FAILED, JobState.CANCELLED, JobState.QUEUED}
    ),
    JobState.SUCCEEDED: frozenset(),
    JobState.WARNING: frozenset(),
    JobState.FAILED: frozenset({JobState.QUEUED}),
    JobState.CANCELLED: frozenset({JobState.QUEUED}),
}
"""Allowed job transitions (RUNNING → QUEUED is a reconciliation requeue)."""

ATTEMPT_TRANSITIONS: Mapping[AttemptState, frozenset[AttemptState]] = {
    AttemptState.CREATED: frozenset({AttemptState.SUBMITTED, AttemptState.FAILED}),
    AttemptState.SUBMITTED: frozenset({AttemptState.RUNNING, AttemptState.EXITED, AttemptState.FAILED}),
    AttemptState.RUNNING: frozenset({AttemptState.EXITED, AttemptState.FAILED}),
    AttemptState.EXITED: frozenset({AttemptState.DONE, AttemptState.FAILED}),
    AttemptState.DONE: frozenset(),
    AttemptState.FAILED: frozenset(),
}
"""Allowed attempt transitions (→ FAILED from SUBMITTED/RUNNING is for attempts lost by the executor)."""


class JobStoreError(ViqError):
    """Raised for an unknown job or attempt, or a transition the state machine forbids."""


def utcnow() -> str:
    """Current UTC time as stored (ISO 8601 with microseconds)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def new_job_id() -> str:
    """A short, sortable, unique job id: ``YYYYMMDD-HHMMSS-xxxxxx``."""
    return f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True)
class JobRecord:
    """One row of ``jobs``."""

    id: str
    processor: str
    version: str
    state: JobState
    created: str
    updated: str
    order_path: str
    order_xml: str
    order_json: str
    params: dict[str, Any]
    priority: int
    reason: str
    exit_code: int | None
    cancel_requested: bool
    retry_base: int
    """Attempts made before the last (re)queueing; the retry policy counts attempts after it."""
    order_sha256: str = ""
    """SHA-256 of the job order file as submitted (empty for jobs stored before schema 2)."""


@dataclass(frozen=True)
class AttemptRecord:
    """One row of ``attempts``."""

    id: str
    job_id: str
    number: int
    state: AttemptState
    executor: str
    external_id: str
    work_dir: str
    exit_code: int | None
    signal: str | None
    reason: str
    created: str
    started: str | None
    ended: str | None
    progress: float | None
    ingested: bool


@dataclass(frozen=True)
class Transition:
    """One row of ``transitions``."""

    entity: str
    entity_id: str
    from_state: str | None
    to_state: str
    at: str
    reason: str


@dataclass(frozen=True)
class LogEvent:
    """One ICD log line of an attempt, kept in the store (levels I, P, W, E)."""

    attempt_id: str
    at: str
    level: str
    message: str


_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    processor TEXT NOT NULL,
    version TEXT NOT NULL,
    state TEXT NOT NULL,
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    order_path TEXT NOT NULL DEFAULT '',
    order_xml TEXT NOT NULL DEFAULT '',
    order_json TEXT NOT NULL DEFAULT '',
    params TEXT NOT NULL DEFAULT '{}',
    priority INTEGER NOT NULL DEFAULT 0,
    reason TEXT NOT NULL DEFAULT '',
    exit_code INTEGER,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    retry_base INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state);
CREATE TABLE IF NOT EXISTS attempts (
    id TEXT PRIMARY KEY,
    job_id TEXT NOT NULL REFERENCES jobs (id),
    number INTEGER NOT NULL,
    state TEXT NOT NULL,
    executor TEXT NOT NULL,
    external_id TEXT NOT NULL DEFAULT '',
    work_dir TEXT NOT NULL,
    exit_code INTEGER,
    signal TEXT,
    reason TEXT NOT NULL DEFAULT '',
    created TEXT NOT NULL,
    started TEXT,
    ended TEXT,
    progress REAL,
    ingested INTEGER NOT NULL DEFAULT 0,
    UNIQUE (job_id, number)
);
CREATE INDEX IF NOT EXISTS attempts_state ON attempts (state);
CREATE TABLE IF NOT EXISTS transitions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    entity TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    from_state TEXT,
    to_state TEXT NOT NULL,
    at TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS transitions_entity ON transitions (entity_id);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    attempt_id TEXT NOT NULL REFERENCES attempts (id),
    at TEXT NOT NULL,
    level TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_attempt ON events (attempt_id);
"""

_MIGRATIONS: dict[int, str] = {
    2: """
    ALTER TABLE jobs ADD COLUMN order_sha256 TEXT NOT NULL DEFAULT '';
    CREATE INDEX IF NOT EXISTS jobs_order_sha256 ON jobs (order_sha256)
    """,
}
"""SQL bringing schema version ``n - 1`` to ``n`` (``_SCHEMA`` is version 1; 2: job order content hash)."""


def sqlite_path(url: str) -> Path:
    """The file of a ``sqlite:///PATH`` URL (a bare path is accepted too)."""
    if url.startswith("sqlite:///"):
        return Path(url[len("sqlite:///") :])
    if "://" in url:
        raise ConfigurationError(f"setting jobs_url: only sqlite:///PATH is supported, got {url!r}")
    return Path(url)


def _run_script(db: sqlite3.Connection, script: str) -> None:
    """Run ``;``-separated statements inside the current transaction (``executescript`` would commit)."""
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def _job(row: sqlite3.Row) -> JobRecord:
    return JobRecord(
        id=row["id"],
        processor=row["processor"],
        version=row["version"],
        state=JobState(row["state"]),
        created=row["created"],
        updated=row["updated"],
        order_path=row["order_path"],
        order_xml=row["order_xml"],
        order_json=row["order_json"],
        params=json.loads(row["params"]),
        priority=row["priority"],
        reason=row["reason"],
        exit_code=row["exit_code"],
        cancel_requested=bool(row["cancel_requested"]),
        retry_base=row["retry_base"],
        order_sha256=row["order_sha256"],
    )


def _attempt(row: sqlite3.Row) -> AttemptRecord:
    return AttemptRecord(
        id=row["id"],
        job_id=row["job_id"],
        number=row["number"],
        state=AttemptState(row["state"]),
        executor=row["executor"],
        external_id=row["external_id"],
        work_dir=row["work_dir"],
        exit_code=row["exit_code"],
        signal=row["signal"],
        reason=row["reason"],
        created=row["created"],
        started=row["started"],
        ended=row["ended"],
        progress=row["progress"],
        ingested=bool(row["ingested"]),
    )


class JobStore:
    """SQLite job store (WAL, busy timeout); safe to open from several processes at once."""

    def __init__(self, url_or_path: str | Path, *, busy_timeout_ms: int = 30_000) -> None:
        path = url_or_path if isinstance(url_or_path, Path) else sqlite_path(url_or_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._conn = sqlite3.connect(str(path), timeout=busy_timeout_ms / 1000, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = NORMAL")
        self._conn.execute("PRAGMA foreign_keys = ON")
        self._migrate()

    # -- plumbing -----------------------------------------------------------------------------------

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken immediately (no upgrade deadlock between processes)."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def _migrate(self) -> None:
        with self._tx() as db:
            _run_script(db, _SCHEMA)
            row = db.execute("SELECT version FROM schema_version").fetchone()
            if row is None:  # a new store: version 1 from _SCHEMA, then every migration
                db.execute("INSERT INTO schema_version (version) VALUES (1)")
                current = 1
            else:
                current = int(row["version"])
            if current > SCHEMA_VERSION:
                raise ConfigurationError(
                    f"job store {self.path} has schema version {current}, newer than this VIQ ({SCHEMA_VERSION})"
                )
            for version in range(current + 1, SCHEMA_VERSION + 1):
                _run_script(db, _MIGRATIONS[version])
                db.execute("UPDATE schema_version SET version = ?", (version,))

    @property
    def schema_version(self) -> int:
        """Schema version of the open database."""
        return int(self._conn.execute("SELECT version FROM schema_version").fetchone()[0])

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    def __enter__(self) -> JobStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def _record(db: sqlite3.Connection, entity: str, entity_id: str, old: str | None, new: str, reason: str) -> str:
        at = utcnow()
        db.execute(
            "INSERT INTO transitions (entity, entity_id, from_state, to_state, at, reason) VALUES (?, ?, ?, ?, ?, ?)",
            (entity, entity_id, old, new, at, reason),
        )
        return at

    # -- jobs ---------------------------------------------------------------------------------------

    def create_job(
        self,
        *,
        processor: str,
        version: str,
        order_path: str = "",
        order_xml: str = "",
        order_json: str = "",
        params: Mapping[str, Any] | None = None,
        priority: int = 0,
        job_id: str | None = None,
        order_sha256: str = "",
    ) -> JobRecord:
        """Insert a QUEUED job (and its first transition) and return it."""
        jid = job_id or new_job_id()
        with self._tx() as db:
            at = self._record(db, "job", jid, None, JobState.QUEUED, "submitted")
            db.execute(
                "INSERT INTO jobs (id, processor, version, state, created, updated, order_path, order_xml, "
                "order_json, params, priority, order_sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    jid,
                    processor,
                    version,
                    JobState.QUEUED.value,
                    at,
                    at,
                    order_path,
                    order_xml,
                    order_json,
                    json.dumps(dict(params or {}), default=str, sort_keys=True),
                    priority,
                    order_sha256,
                ),
            )
        return self.job(jid)

    def jobs_by_order_hash(self, order_sha256: str) -> list[JobRecord]:
        """Jobs whose order file had this SHA-256 (oldest first): how the daemon spots an order dropped twice."""
        if not order_sha256:
            return []
        rows = self._conn.execute(
            "SELECT * FROM jobs WHERE order_sha256 = ? ORDER BY created, id", (order_sha256,)
        ).fetchall()
        return [_job(r) for r in rows]

    def job(self, job_id: str) -> JobRecord:
        """The job ``job_id``; JobStoreError if unknown."""
        row = self._conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise JobStoreError(f"unknown job {job_id!r}")
        return _job(row)

    def jobs(self, *, states: Sequence[JobState] | None = None, limit: int | None = None) -> list[JobRecord]:
        """Jobs, newest first, optionally filtered by state."""
        sql = "SELECT * FROM jobs"
        args: list[Any] = []
        if states:
            sql += f" WHERE state IN ({', '.join('?' for _ in states)})"
            args.extend(s.value for s in states)
        sql += " ORDER BY created DESC, id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        return [_job(r) for r in self._conn.execute(sql, args)]

    def queued_jobs(self) -> list[JobRecord]:
        """QUEUED jobs in run order: highest priority first, then oldest."""
        rows = self._conn.execute("SELECT * FROM jobs WHERE state = ? ORDER BY priority DESC, created, id", ("QUEUED",))
        return [_job(r) for r in rows]

    def transition_job(
        self,
        job_id: str,
        new: JobState,
        reason: str = "",
        *,
        expect: JobState | None = None,
        exit_code: int | None = None,
    ) -> JobRecord:
        """Move a job to ``new`` (checked against the state machine and, if given, ``expect``)."""
        with self._tx() as db:
            row = db.execute("SELECT state, retry_base FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise JobStoreError(f"unknown job {job_id!r}")
            old = JobState(row["state"])
            if expect is not None and old != expect:
                raise JobStoreError(f"job {job_id} is {old}, expected {expect}")
            if new not in JOB_TRANSITIONS[old]:
                raise JobStoreError(f"job {job_id}: transition {old} → {new} is not allowed")
            at = self._record(db, "job", job_id, old, new, reason)
            if new is JobState.QUEUED:
                count = db.execute("SELECT COUNT(*) FROM attempts WHERE job_id = ?", (job_id,)).fetchone()[0]
                db.execute(
                    "UPDATE jobs SET state = ?, updated = ?, reason = ?, exit_code = NULL, cancel_requested = 0, "
                    "retry_base = ? WHERE id = ?",
                    (new.value, at, reason, count, job_id),
                )
            else:
                db.execute(
                    "UPDATE jobs SET state = ?, updated = ?, reason = ?, exit_code = COALESCE(?, exit_code) "
                    "WHERE id = ?",
                    (new.value, at, reason, exit_code, job_id),
                )
        return self.job(job_id)

    def request_cancel(self, job_id: str, reason: str = "cancel requested") -> JobRecord:
        """Record a cancel request (the process driving the job acts on it)."""
        with self._tx() as db:
            cur = db.execute("UPDATE jobs SET cancel_requested = 1, updated = ? WHERE id = ?", (utcnow(), job_id))
            if cur.rowcount == 0:
                raise JobStoreError(f"unknown job {job_id!r}")
            self._record(db, "job", job_id, None, "CANCEL_REQUESTED", reason)
        return self.job(job_id)

    def cancel_requested(self, job_ids: Sequence[str]) -> list[str]:
        """Those of ``job_ids`` with a pending cancel request."""
        if not job_ids:
            return []
        marks = ", ".join("?" for _ in job_ids)
        rows = self._conn.execute(
            f"SELECT id FROM jobs WHERE cancel_requested = 1 AND id IN ({marks})", list(job_ids)
        ).fetchall()
        return [r["id"] for r in rows]

    # -- attempts -----------------------------------------------------------------------------------

    def create_attempt(self, job_id: str, *, executor: str, work_root: Path) -> AttemptRecord:
        """Insert the next CREATED attempt of ``job_id``; its work dir is ``work_root/<job>/<uuid>``."""
        aid = str(uuid.uuid4())
        work_dir = work_root / job_id / aid
        with self._tx() as db:
            number = db.execute("SELECT COALESCE(MAX(number), 0) + 1 FROM attempts WHERE job_id = ?", (job_id,))
            n = int(number.fetchone()[0])
            at = self._record(db, "attempt", aid, None, AttemptState.CREATED, f"attempt {n} of job {job_id}")
            db.execute(
                "INSERT INTO attempts (id, job_id, number, state, executor, work_dir, created) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (aid, job_id, n, AttemptState.CREATED.value, executor, str(work_dir), at),
            )
        return self.attempt(aid)

    def attempt(self, attempt_id: str) -> AttemptRecord:
        """The attempt ``attempt_id``; JobStoreError if unknown."""
        row = self._conn.execute("SELECT * FROM attempts WHERE id = ?", (attempt_id,)).fetchone()
        if row is None:
            raise JobStoreError(f"unknown attempt {attempt_id!r}")
        return _attempt(row)

    def attempts(self, job_id: str) -> list[AttemptRecord]:
        """Attempts of a job, first first."""
        rows = self._conn.execute("SELECT * FROM attempts WHERE job_id = ? ORDER BY number", (job_id,))
        return [_attempt(r) for r in rows]

    def attempts_in_flight(self, executor: str | None = None) -> list[AttemptRecord]:
        """Attempts that may be running somewhere (CREATED, SUBMITTED, RUNNING, EXITED), for reconciliation."""
        sql = "SELECT * FROM attempts WHERE state IN ('CREATED', 'SUBMITTED', 'RUNNING', 'EXITED')"
        args: list[Any] = []
        if executor is not None:
            sql += " AND executor = ?"
            args.append(executor)
        return [_attempt(r) for r in self._conn.execute(sql + " ORDER BY created", args)]

    def transition_attempt(
        self,
        attempt_id: str,
        new: AttemptState,
        reason: str = "",
        *,
        external_id: str | None = None,
        exit_code: int | None = None,
        signal: str | None = None,
        ingested: bool | None = None,
    ) -> AttemptRecord:
        """Move an attempt to ``new``, recording the external id / exit status given with it."""
        with self._tx() as db:
            row = db.execute("SELECT state FROM attempts WHERE id = ?", (attempt_id,)).fetchone()
            if row is None:
                raise JobStoreError(f"unknown attempt {attempt_id!r}")
            old = AttemptState(row["state"])
            if new not in ATTEMPT_TRANSITIONS[old]:
                raise JobStoreError(f"attempt {attempt_id}: transition {old} → {new} is not allowed")
            at = self._record(db, "attempt", attempt_id, old, new, reason)
            sets = ["state = ?", "reason = ?"]
            args: list[Any] = [new.value, reason]
            if new is AttemptState.RUNNING:
                sets.append("started = COALESCE(started, ?)")
                args.append(at)
            if new is AttemptState.EXITED or (new is AttemptState.FAILED and old is not AttemptState.EXITED):
                sets.append("ended = COALESCE(ended, ?)")
                args.append(at)
            for column, value in (("external_id", external_id), ("exit_code", exit_code), ("signal", signal)):
                if value is not None:
                    sets.append(f"{column} = ?")
                    args.append(value)
            if ingested is not None:
                sets.append("ingested = ?")
                args.append(int(ingested))
            db.execute(f"UPDATE attempts SET {', '.join(sets)} WHERE id = ?", [*args, attempt_id])
        return self.attempt(attempt_id)

    def set_external_id(self, attempt_id: str, external_id: str) -> None:
        """Record the executor's id of an attempt (e.g. the pid once a queued local task starts)."""
        with self._tx() as db:
            db.execute("UPDATE attempts SET external_id = ? WHERE id = ?", (external_id, attempt_id))

    def add_events(self, attempt_id: str, events: Sequence[tuple[str, str, str]], progress: float | None) -> None:
        """Append ICD log events ``(time, level, message)`` and update the attempt's progress."""
        if not events and progress is None:
            return
        with self._tx() as db:
            db.executemany(
                "INSERT INTO events (attempt_id, at, level, message) VALUES (?, ?, ?, ?)",
                [(attempt_id, at, level, msg) for at, level, msg in events],
            )
            if progress is not None:
                db.execute("UPDATE attempts SET progress = ? WHERE id = ?", (progress, attempt_id))

    def events(self, attempt_id: str, *, levels: Sequence[str] | None = None) -> list[LogEvent]:
        """ICD events of an attempt, in order."""
        sql = "SELECT * FROM events WHERE attempt_id = ?"
        args: list[Any] = [attempt_id]
        if levels:
            sql += f" AND level IN ({', '.join('?' for _ in levels)})"
            args.extend(levels)
        rows = self._conn.execute(sql + " ORDER BY seq", args)
        return [LogEvent(r["attempt_id"], r["at"], r["level"], r["message"]) for r in rows]

    def transitions(self, entity_id: str) -> list[Transition]:
        """Transition history of a job or attempt, in order."""
        rows = self._conn.execute("SELECT * FROM transitions WHERE entity_id = ? ORDER BY seq", (entity_id,))
        return [
            Transition(r["entity"], r["entity_id"], r["from_state"], r["to_state"], r["at"], r["reason"]) for r in rows
        ]
