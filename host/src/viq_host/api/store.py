"""API tokens and the API audit trail, in their own tables of the installation database.

Tokens look like ``viq_<key>.<secret>``: ``key`` (8 hex digits) finds the row, ``secret`` (43 URL-safe
characters, 256 bits) is never stored — the row keeps ``sha256(salt || secret)`` with a random 16-byte salt
per token, compared in constant time. Roles are ordered: viewer < operator < admin.

The tables have their own forward migrations (``api_schema_version``), on SQLite and PostgreSQL, written once
with ``?`` placeholders through :class:`viq_host.gipp._db.Database`. Both tables refuse deletes; audit rows
also refuse updates (append-only).
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from viq_host.gipp._db import Database, Dialect
from viq_interfaces.errors import ViqError

TOKEN_RE = re.compile(r"^viq_([0-9a-f]{8})\.([A-Za-z0-9_\-]{43})$")
NAME_RE = re.compile(r"^[A-Za-z0-9_.@\-]{1,64}$")
CACHE_SECONDS = 5.0


class ApiStoreError(ViqError):
    """Raised for a bad token name or role, an unknown token, or a newer schema than this VIQ knows."""


class Role(enum.IntEnum):
    """What a token may do; each role includes the ones below it."""

    VIEWER = 1
    OPERATOR = 2
    ADMIN = 3

    @classmethod
    def parse(cls, text: str) -> Role:
        """``viewer``/``operator``/``admin`` (any case) → Role."""
        try:
            return cls[text.strip().upper()]
        except KeyError as err:
            raise ApiStoreError(f"unknown role {text!r} (viewer, operator or admin)") from err

    @property
    def label(self) -> str:
        """Lower-case name."""
        return self.name.lower()


@dataclass(frozen=True)
class TokenRecord:
    """A stored token (never its secret)."""

    id: int
    key: str
    name: str
    role: Role
    created: datetime
    created_by: str
    revoked: datetime | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "id": self.id,
            "key": self.key,
            "name": self.name,
            "role": self.role.label,
            "created": self.created.isoformat(),
            "created_by": self.created_by,
            "revoked": self.revoked.isoformat() if self.revoked else None,
        }


@dataclass(frozen=True)
class AuditRecord:
    """One write through the API (or a token change by the CLI): who, when, what, outcome."""

    id: int
    at: datetime
    actor: str
    role: str
    action: str
    target: str
    outcome: str
    detail: dict[str, Any]
    client: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "role": self.role,
            "action": self.action,
            "target": self.target,
            "outcome": self.outcome,
            "detail": self.detail,
            "client": self.client,
        }


# ------------------------------------------------------------------------------------------------ schema

_ID = {"sqlite": "INTEGER PRIMARY KEY AUTOINCREMENT", "postgresql": "BIGSERIAL PRIMARY KEY"}


def _v1(d: Dialect) -> list[str]:
    ident = _ID[d]
    stmts = [
        f"""CREATE TABLE api_token (
            id {ident},
            key TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
            salt TEXT NOT NULL,
            hash TEXT NOT NULL,
            created TEXT NOT NULL,
            created_by TEXT NOT NULL,
            revoked TEXT
        )""",
        f"""CREATE TABLE api_audit (
            id {ident},
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            role TEXT NOT NULL,
            action TEXT NOT NULL,
            target TEXT NOT NULL,
            outcome TEXT NOT NULL,
            detail TEXT NOT NULL,
            client TEXT NOT NULL
        )""",
        "CREATE INDEX api_audit_at ON api_audit (at)",
    ]
    if d == "sqlite":
        stmts += [
            "CREATE TRIGGER api_token_no_delete BEFORE DELETE ON api_token "
            "BEGIN SELECT RAISE(ABORT, 'API tokens are revoked, never deleted'); END",
            "CREATE TRIGGER api_audit_no_delete BEFORE DELETE ON api_audit "
            "BEGIN SELECT RAISE(ABORT, 'the API audit trail is append-only'); END",
            "CREATE TRIGGER api_audit_no_update BEFORE UPDATE ON api_audit "
            "BEGIN SELECT RAISE(ABORT, 'the API audit trail is append-only'); END",
        ]
    else:
        stmts += [
            "CREATE FUNCTION api_forbid_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'API rows are never deleted, audit rows never changed (%)', TG_TABLE_NAME; END $$",
            "CREATE TRIGGER api_token_no_delete BEFORE DELETE ON api_token "
            "FOR EACH ROW EXECUTE FUNCTION api_forbid_change()",
            "CREATE TRIGGER api_audit_append_only BEFORE UPDATE OR DELETE ON api_audit "
            "FOR EACH ROW EXECUTE FUNCTION api_forbid_change()",
        ]
    return stmts


#: Forward migrations: (version, description, statements per dialect). Append only; never edit a released one.
MIGRATIONS: tuple[tuple[int, str, dict[Dialect, list[str]]], ...] = (
    (1, "API tokens (hashed, salted) and API audit trail", {d: _v1(d) for d in ("sqlite", "postgresql")}),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]


def _now() -> datetime:
    return datetime.now(UTC)


def _cache_key(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def _digest(salt: bytes, secret: str) -> str:
    return hashlib.sha256(salt + secret.encode("ascii")).hexdigest()


class ApiStore:
    """Tokens and audit rows on ``database_url`` (the catalog's database)."""

    def __init__(self, url: str) -> None:
        self._db = Database(url)
        self._cache: dict[str, tuple[float, TokenRecord]] = {}
        self._cache_lock = threading.Lock()
        self.migrate()

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    def migrate(self) -> int:
        """Bring the API tables to :data:`SCHEMA_VERSION`; refuse a newer database."""
        with self._db.transaction() as tx:
            tx.execute(
                "CREATE TABLE IF NOT EXISTS api_schema_version (version INTEGER PRIMARY KEY, "
                "description TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
            if tx.dialect == "postgresql":
                tx.execute("LOCK TABLE api_schema_version IN EXCLUSIVE MODE")
            row = tx.one("SELECT MAX(version) FROM api_schema_version")
            current = int(row[0]) if row and row[0] is not None else 0
            if current > SCHEMA_VERSION:
                raise ApiStoreError(
                    f"the API tables are at schema version {current}, newer than this VIQ ({SCHEMA_VERSION})"
                )
            for version, description, statements in MIGRATIONS:
                if version <= current:
                    continue
                for stmt in statements[self._db.dialect]:
                    tx.execute(stmt)
                tx.execute(
                    "INSERT INTO api_schema_version (version, description, applied_at) VALUES (?, ?, ?)",
                    (version, description, _now().isoformat()),
                )
        return SCHEMA_VERSION

    def schema_version(self) -> int:
        """Highest applied API migration."""
        with self._db.transaction() as tx:
            row = tx.one("SELECT MAX(version) FROM api_schema_version")
        return int(row[0]) if row and row[0] is not None else 0

    # -------------------------------------------------------------------------------------------- tokens

    def create_token(self, name: str, role: Role | str, *, created_by: str) -> tuple[str, TokenRecord]:
        """A new token: ``(plain token, record)``. The plain token is shown once and never stored."""
        if not NAME_RE.match(name):
            raise ApiStoreError(f"token name {name!r}: letters, digits, _ . @ - (1..64 characters)")
        level = role if isinstance(role, Role) else Role.parse(role)
        salt = secrets.token_bytes(16)
        secret = secrets.token_urlsafe(32)
        created = _now()
        for _ in range(8):  # a key collision is 1 in 4 billion; retry rather than fail
            key = secrets.token_hex(4)
            with self._db.transaction() as tx:
                if tx.one("SELECT 1 FROM api_token WHERE key = ?", (key,)) is not None:
                    continue
                token_id = tx.insert(
                    "INSERT INTO api_token (key, name, role, salt, hash, created, created_by) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (key, name, level.label, salt.hex(), _digest(salt, secret), created.isoformat(), created_by),
                )
                self._audit_tx(tx, created_by, "cli", "token.create", f"token:{key}", "ok",
                               {"name": name, "role": level.label}, "cli")
            record = TokenRecord(token_id, key, name, level, created, created_by, None)
            return f"viq_{key}.{secret}", record
        raise ApiStoreError("could not draw a free token key")  # pragma: no cover - astronomically unlikely

    def tokens(self) -> list[TokenRecord]:
        """Every token (revoked ones too), oldest first."""
        with self._db.transaction() as tx:
            rows = tx.rows("SELECT id, key, name, role, created, created_by, revoked FROM api_token ORDER BY id")
        return [_token(r) for r in rows]

    def revoke(self, key_or_name: str, *, by: str) -> list[TokenRecord]:
        """Revoke the token with this key, or every live token of this name; the records revoked."""
        at = _now().isoformat()
        with self._db.transaction() as tx:
            rows = tx.rows(
                "SELECT id, key, name, role, created, created_by, revoked FROM api_token "
                "WHERE (key = ? OR name = ?) AND revoked IS NULL",
                (key_or_name, key_or_name),
            )
            for r in rows:
                tx.execute("UPDATE api_token SET revoked = ? WHERE id = ?", (at, r[0]))
                self._audit_tx(tx, by, "cli", "token.revoke", f"token:{r[1]}", "ok", {"name": r[2]}, "cli")
        with self._cache_lock:
            self._cache.clear()
        if not rows:
            raise ApiStoreError(f"no live token with key or name {key_or_name!r}")
        return [_token(r) for r in rows]

    def cached(self, token: str) -> TokenRecord | None:
        """The record of a token verified less than :data:`CACHE_SECONDS` ago, else None (no database access:
        safe to call on the event loop). The cache is keyed by a SHA-256 of the whole token, so only a token
        that passed :meth:`verify` — salt, digest and revocation checked — can ever hit."""
        if not token.startswith("viq_"):
            return None
        cache_key = _cache_key(token)
        with self._cache_lock:
            hit = self._cache.get(cache_key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        return None

    def verify(self, token: str) -> TokenRecord | None:
        """The live token record for a plain token, or None (unknown, malformed, wrong secret, revoked).

        Verified tokens are cached for :data:`CACHE_SECONDS` (keyed by a digest of the whole token), so a
        revocation takes effect within that time in other processes and at once in this one.
        """
        match = TOKEN_RE.match(token)
        if match is None:
            return None
        hit = self.cached(token)
        if hit is not None:
            return hit
        cache_key = _cache_key(token)
        now = time.monotonic()
        key, secret = match.groups()
        with self._db.transaction() as tx:
            row = tx.one(
                "SELECT id, key, name, role, created, created_by, revoked, salt, hash FROM api_token WHERE key = ?",
                (key,),
            )
        if row is None:
            _digest(b"\0" * 16, secret)  # same work for unknown keys
            return None
        if not hmac.compare_digest(_digest(bytes.fromhex(row[7]), secret), row[8]) or row[6] is not None:
            return None
        record = _token(row[:7])
        with self._cache_lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[cache_key] = (now + CACHE_SECONDS, record)
        return record

    # -------------------------------------------------------------------------------------------- audit

    @staticmethod
    def _audit_tx(
        tx: Any, actor: str, role: str, action: str, target: str, outcome: str, detail: dict[str, Any], client: str
    ) -> None:
        tx.execute(
            "INSERT INTO api_audit (at, actor, role, action, target, outcome, detail, client) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (_now().isoformat(), actor, role, action, target, outcome,
             json.dumps(detail, sort_keys=True, default=str), client),
        )

    def audit(
        self,
        actor: str,
        role: str,
        action: str,
        target: str,
        outcome: str,
        detail: dict[str, Any] | None = None,
        client: str = "",
    ) -> None:
        """Append one audit row."""
        with self._db.transaction() as tx:
            self._audit_tx(tx, actor, role, action, target, outcome, detail or {}, client)

    def audit_trail(
        self, *, limit: int = 100, before: int | None = None, action: str | None = None, actor: str | None = None
    ) -> list[AuditRecord]:
        """Audit rows, newest first; ``before`` pages (rows with a smaller id)."""
        clauses: list[str] = ["1 = 1"]
        params: list[Any] = []
        if before is not None:
            clauses.append("id < ?")
            params.append(before)
        if action:
            clauses.append("action = ?")
            params.append(action)
        if actor:
            clauses.append("actor = ?")
            params.append(actor)
        with self._db.transaction() as tx:
            rows = tx.rows(
                "SELECT id, at, actor, role, action, target, outcome, detail, client FROM api_audit WHERE "
                + " AND ".join(clauses)
                + " ORDER BY id DESC LIMIT ?",
                (*params, int(limit)),
            )
        return [
            AuditRecord(
                id=int(r[0]),
                at=datetime.fromisoformat(r[1]),
                actor=r[2],
                role=r[3],
                action=r[4],
                target=r[5],
                outcome=r[6],
                detail=json.loads(r[7]),
                client=r[8],
            )
            for r in rows
        ]


def _token(r: tuple[Any, ...]) -> TokenRecord:
    return TokenRecord(
        id=int(r[0]),
        key=r[1],
        name=r[2],
        role=Role.parse(r[3]),
        created=datetime.fromisoformat(r[4]),
        created_by=r[5],
        revoked=datetime.fromisoformat(r[6]) if r[6] else None,
    )


__all__ = ["ApiStore", "ApiStoreError", "AuditRecord", "Role", "TokenRecord"]
