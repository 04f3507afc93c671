"""Backup and restore of one installation: catalog + GIPP store database, job store, and the files they reference.

A backup directory holds::

    manifest.json        written last: a directory without it is an unfinished backup and is never restored
    catalog.sqlite       the catalog/GIPP database (SQLite backend), or
    catalog.pgdump       the same as a pg_dump custom-format archive (PostgreSQL/PostGIS backend)
    jobs.sqlite          the job store
    files/ab/abcd…       every catalogued product file and every job order, stored once per content (sha256)
    gipp/…               the GIPP store's file tree (HOME/gipp), as it is

Consistency: the job store is copied first (SQLite online backup API, one read transaction), then the
catalog database (SQLite backup API, or ``pg_dump`` on a snapshot exported from a REPEATABLE READ
transaction that also lists the product files), then the files that snapshot references. Product files are
immutable once catalogued, and each copy is checked against the sha256 the catalog recorded at ingest. A job
that ends between the two database snapshots is then "running" in the backup with its products already
catalogued — reconciliation after a restore settles it (ingest is idempotent per attempt); the other order
(catalog first) could restore a finished job whose products are missing.

Restore verifies every checksum before it writes anything, requires fresh targets (an empty database, no job
store, no GIPP files, product paths free or holding the same bytes) and puts every file back at its path.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from viq_host.catalog.base import file_digest
from viq_host.config import Settings
from viq_host.jobs.store import sqlite_path
from viq_interfaces.errors import ViqError

FORMAT = "viq-backup/1"
MANIFEST = "manifest.json"
CHUNK = 1 << 20


class BackupError(ViqError):
    """A backup or restore that cannot be made (unreachable database, changed file, bad checksum, target in use)."""


# -- small helpers ------------------------------------------------------------------------------------------


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def backend_of(url: str) -> str:
    """``sqlite`` or ``postgresql`` for a database URL."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else "sqlite"
    if scheme == "sqlite":
        return "sqlite"
    if scheme in ("postgresql", "postgres", "postgis"):
        return "postgresql"
    raise BackupError(f"unsupported database URL scheme {scheme!r}")


@dataclass(frozen=True)
class PgTarget:
    """Connection settings of a PostgreSQL URL, as libpq environment variables (the password never on argv)."""

    host: str
    port: int
    user: str
    password: str
    dbname: str

    @classmethod
    def parse(cls, url: str) -> PgTarget:
        parts = urlsplit(url.replace("postgis://", "postgresql://", 1))
        return cls(
            host=parts.hostname or "localhost",
            port=parts.port or 5432,
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            dbname=unquote(parts.path.lstrip("/")) or "postgres",
        )

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(PGHOST=self.host, PGPORT=str(self.port), PGUSER=self.user, PGDATABASE=self.dbname)
        if self.password:
            env["PGPASSWORD"] = self.password
        return env

    def dsn(self) -> str:
        return f"postgresql://{self.host}:{self.port}/{self.dbname}"


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for version in ("17", "16", "15"):
        candidate = Path(f"/usr/lib/postgresql/{version}/bin/{name}")
        if candidate.is_file():
            return str(candidate)
    raise BackupError(f"{name} not found (install postgresql-client)")


def _run(args: list[str], env: dict[str, str], what: str, timeout: float = 3600) -> str:
    try:
        done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise BackupError(f"{what}: {err}") from err
    if done.returncode != 0:
        raise BackupError(f"{what} failed: {(done.stderr or done.stdout).strip()[-2000:]}")
    return done.stdout


def _pg_connect(url: str) -> Any:
    import psycopg2

    try:
        return psycopg2.connect(url.replace("postgis://", "postgresql://", 1), connect_timeout=10)
    except psycopg2.Error as err:
        raise BackupError(f"cannot connect to {PgTarget.parse(url).dsn()}: {str(err).strip()}") from err


def _sqlite_snapshot(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite database (online backup API: one read transaction)."""
    if not source.is_file():
        raise BackupError(f"database file {source} does not exist")
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=60)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    except sqlite3.Error as err:
        raise BackupError(f"cannot back up {source}: {err}") from err
    finally:
        dst.close()
        src.close()


@dataclass
class FileEntry:
    """One file in the backup."""

    kind: str
    """``product``, ``order`` (content-addressed under files/) or ``gipp`` (under gipp/)."""
    path: str
    """Original absolute path (product, order) or path relative to the GIPP directory (gipp)."""
    sha256: str
    size: int

    def stored(self, root: Path) -> Path:
        if self.kind == "gipp":
            return root / "gipp" / self.path
        return root / "files" / self.sha256[:2] / self.sha256


@dataclass
class Manifest:
    """What ``manifest.json`` records."""

    created: str
    backend: str
    database_file: str
    database_sha256: str
    jobs_sha256: str
    files: list[FileEntry] = field(default_factory=list)
    products: int = 0
    jobs: int = 0
    missing: list[str] = field(default_factory=list)
    """Catalogued paths that were not on storage at backup time."""
    format: str = FORMAT

    def to_json(self) -> str:
        data = {**self.__dict__, "files": [f.__dict__ for f in self.files]}
        return json.dumps(data, indent=1, sort_keys=True) + "\n"

    @classmethod
    def load(cls, directory: Path) -> Manifest:
        path = directory / MANIFEST
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as err:
            raise BackupError(f"{directory} holds no {MANIFEST}: not a backup, or an unfinished one") from err
        except (OSError, json.JSONDecodeError) as err:
            raise BackupError(f"{path}: {err}") from err
        if data.get("format") != FORMAT:
            raise BackupError(f"{path}: format {data.get('format')!r}, expected {FORMAT!r}")
        files = [FileEntry(**f) for f in data.pop("files")]
        return cls(files=files, **data)


# -- backup ------------------------------------------------------------------------------------------------


def _products_sqlite(db_file: Path) -> list[tuple[str, str | None]]:
    con = sqlite3.connect(f"file:{db_file}?mode=ro", uri=True)
    try:
        return [(str(p), s) for p, s in con.execute("SELECT path, sha256 FROM product ORDER BY id")]
    except sqlite3.OperationalError:
        return []  # no catalog tables yet
    finally:
        con.close()


@contextmanager
def _pg_snapshot(url: str) -> Iterator[tuple[str, list[tuple[str, str | None]]]]:
    """An exported snapshot id and the product files as that snapshot sees them (held until the block ends)."""
    con = _pg_connect(url)
    try:
        con.set_session(isolation_level="REPEATABLE READ", readonly=True)
        with con.cursor() as cur:
            cur.execute("SELECT pg_export_snapshot()")
            snapshot = str(cur.fetchone()[0])
            cur.execute("SELECT to_regclass('product') IS NOT NULL")
            products: list[tuple[str, str | None]] = []
            if cur.fetchone()[0]:
                cur.execute("SELECT path, sha256 FROM product ORDER BY id")
                products = [(str(p), s) for p, s in cur.fetchall()]
        yield snapshot, products
    finally:
        con.rollback()
        con.close()


def _jobs_orders(jobs_file: Path) -> tuple[int, list[str]]:
    con = sqlite3.connect(f"file:{jobs_file}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT order_path FROM jobs ORDER BY created").fetchall()
    except sqlite3.OperationalError:
        return 0, []
    finally:
        con.close()
    return len(rows), [str(r[0]) for r in rows if r[0]]


class _Writer:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.entries: dict[tuple[str, str], FileEntry] = {}

    def add_content(self, kind: str, path: Path, expected: str | None) -> None:
        if (kind, str(path)) in self.entries:
            return
        tmp = self.root / "files" / f".incoming-{os.getpid()}"
        tmp.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        try:
            with path.open("rb") as src, tmp.open("wb") as dst:
                while chunk := src.read(CHUNK):
                    digest.update(chunk)
                    dst.write(chunk)
                    size += len(chunk)
        except OSError as err:
            tmp.unlink(missing_ok=True)
            raise BackupError(f"cannot copy {kind} file {path}: {err}") from err
        sha = digest.hexdigest()
        if expected and expected != sha:
            tmp.unlink(missing_ok=True)
            raise BackupError(f"{kind} file {path} changed since it was catalogued (sha256 {sha}, catalog {expected})")
        entry = FileEntry(kind, str(path), sha, size)
        stored = entry.stored(self.root)
        stored.parent.mkdir(parents=True, exist_ok=True)
        if stored.exists():
            tmp.unlink()
        else:
            os.replace(tmp, stored)
        self.entries[(kind, str(path))] = entry

    def add_tree(self, directory: Path) -> None:
        if not directory.is_dir():
            return
        for path in sorted(directory.rglob("*")):
            if path.is_symlink() or not path.is_file():
                continue
            rel = path.relative_to(directory)
            target = self.root / "gipp" / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
            self.entries[("gipp", str(rel))] = FileEntry("gipp", str(rel), sha256_file(target), target.stat().st_size)


def backup(settings: Settings, directory: Path) -> Manifest:
    """Back the installation of ``settings`` up into ``directory`` (new or empty); returns the manifest."""
    directory = directory.resolve()
    if directory.exists() and any(directory.iterdir()):
        raise BackupError(f"{directory} is not empty")
    directory.mkdir(parents=True, exist_ok=True)
    backend = backend_of(settings.database_url)
    jobs_source = sqlite_path(settings.jobs_url)
    jobs_copy = directory / "jobs.sqlite"
    if jobs_source.is_file():
        _sqlite_snapshot(jobs_source, jobs_copy)
    else:
        sqlite3.connect(jobs_copy).close()  # no job yet: an empty store
    writer = _Writer(directory)
    if backend == "sqlite":
        db_file = directory / "catalog.sqlite"
        _sqlite_snapshot(sqlite_path(settings.database_url), db_file)
        products = _products_sqlite(db_file)
    else:
        db_file = directory / "catalog.pgdump"
        target = PgTarget.parse(settings.database_url)
        with _pg_snapshot(settings.database_url) as (snapshot, products):
            _run(
                [_pg_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges",
                 f"--snapshot={snapshot}", f"--file={db_file}"],
                target.env(),
                f"pg_dump of {target.dsn()}",
            )
    missing: list[str] = []
    for path, expected in products:
        product = Path(path)
        if product.is_dir():  # a directory product: its files, checked against the catalog's tree digest
            if expected and file_digest(product)[1] != expected:
                raise BackupError(f"product directory {product} changed since it was catalogued")
            for sub in sorted(p for p in product.rglob("*") if p.is_file()):
                writer.add_content("product", sub, None)
        elif product.exists():
            writer.add_content("product", product, expected)
        else:
            missing.append(path)  # e.g. a product deleted from storage: recorded, not fatal
    n_jobs, orders = _jobs_orders(jobs_copy)
    for order in orders:
        if Path(order).is_file():
            writer.add_content("order", Path(order), None)
    writer.add_tree(settings.home / "gipp")
    manifest = Manifest(
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        backend=backend,
        database_file=db_file.name,
        database_sha256=sha256_file(db_file),
        jobs_sha256=sha256_file(jobs_copy),
        files=sorted(writer.entries.values(), key=lambda e: (e.kind, e.path)),
        products=len(products),
        jobs=n_jobs,
        missing=missing,
    )
    tmp = directory / f".{MANIFEST}.tmp"
    tmp.write_text(manifest.to_json(), encoding="utf-8")
    os.replace(tmp, directory / MANIFEST)
    return manifest


# -- restore -----------------------------------------------------------------------------------------------


def verify(directory: Path) -> Manifest:
    """Check every checksum of a backup; BackupError naming the first bad file."""
    manifest = Manifest.load(directory)
    checks = [(directory / manifest.database_file, manifest.database_sha256),
              (directory / "jobs.sqlite", manifest.jobs_sha256)]
    checks += [(entry.stored(directory), entry.sha256) for entry in manifest.files]
    for path, expected in checks:
        try:
            actual = sha256_file(path)
        except OSError as err:
            raise BackupError(f"backup file {path} unreadable: {err}") from err
        if actual != expected:
            raise BackupError(f"backup file {path} is corrupt: sha256 {actual}, manifest {expected}")
    return manifest


def _pg_is_empty(url: str) -> bool:
    con = _pg_connect(url)
    try:
        with con.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'topology', "
                "'tiger', 'tiger_data') AND c.relname <> 'spatial_ref_sys'"
            )
            return int(cur.fetchone()[0]) == 0
    finally:
        con.close()


def _pg_restore(directory: Path, manifest: Manifest, url: str) -> None:
    """pg_restore of everything but the extensions, which are created first (they need no superuser: PostGIS comes
    with the cluster's template, btree_gist is a trusted extension)."""
    target = PgTarget.parse(url)
    env = target.env()
    archive = directory / manifest.database_file
    listing = _run([_pg_tool("pg_restore"), "--list", str(archive)], env, "pg_restore --list")
    # extensions, their comments and PostGIS's own spatial_ref_sys rows need a superuser and come with the
    # extension the target database already has
    keep = [line for line in listing.splitlines() if " EXTENSION " not in line and " spatial_ref_sys " not in line]
    # ... but every extension the catalog used is created first (PostGIS, and btree_gist for the spatial index)
    extensions = sorted({"postgis", *re.findall(r"^\d+; \d+ \d+ EXTENSION - (\S+)", listing, flags=re.MULTILINE)})
    with tempfile.NamedTemporaryFile("w", suffix=".list", delete=False) as fh:
        fh.write("\n".join(keep) + "\n")
        list_file = fh.name
    from psycopg2 import sql as pg_sql

    try:
        con = _pg_connect(url)
        try:
            with con.cursor() as cur:
                for name in extensions:
                    cur.execute(pg_sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(pg_sql.Identifier(name)))
            con.commit()
        finally:
            con.close()
        _run(
            [_pg_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
             f"--use-list={list_file}", f"--dbname={target.dbname}", str(archive)],
            env,
            f"pg_restore into {target.dsn()}",
        )
    finally:
        os.unlink(list_file)


@dataclass(frozen=True)
class RestoreReport:
    """What a restore put back."""

    products: int
    jobs: int
    files: int
    skipped_identical: int


def restore(settings: Settings, directory: Path) -> RestoreReport:
    """Restore a verified backup onto the fresh installation of ``settings``."""
    directory = directory.resolve()
    manifest = verify(directory)
    backend = backend_of(settings.database_url)
    if backend != manifest.backend:
        raise BackupError(f"backup is of a {manifest.backend} database; the target database_url is {backend}")
    # every target must be fresh before anything is written
    jobs_target = sqlite_path(settings.jobs_url)
    if jobs_target.exists():
        raise BackupError(f"job store {jobs_target} exists: restore needs a fresh installation")
    if backend == "sqlite":
        db_target = sqlite_path(settings.database_url)
        if db_target.exists():
            raise BackupError(f"database {db_target} exists: restore needs a fresh database")
    elif not _pg_is_empty(settings.database_url):
        raise BackupError(f"database {PgTarget.parse(settings.database_url).dsn()} is not empty")
    gipp_dir = settings.home / "gipp"
    if gipp_dir.is_dir() and any(p.is_file() for p in gipp_dir.rglob("*")):
        raise BackupError(f"GIPP directory {gipp_dir} is not empty")
    identical: set[str] = set()
    for entry in manifest.files:
        if entry.kind == "gipp":
            continue
        path = Path(entry.path)
        if path.exists():
            if not path.is_file() or sha256_file(path) != entry.sha256:
                raise BackupError(f"{path} exists with other content: move it away before restoring")
            identical.add(entry.path)

    settings.ensure_dirs()
    if backend == "sqlite":
        _sqlite_snapshot(directory / manifest.database_file, sqlite_path(settings.database_url))
    else:
        _pg_restore(directory, manifest, settings.database_url)
    jobs_target.parent.mkdir(parents=True, exist_ok=True)
    _sqlite_snapshot(directory / "jobs.sqlite", jobs_target)
    written = 0
    for entry in manifest.files:
        if entry.path in identical and entry.kind != "gipp":
            continue
        target = gipp_dir / entry.path if entry.kind == "gipp" else Path(entry.path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.restore-{os.getpid()}")
        shutil.copyfile(entry.stored(directory), tmp)
        if sha256_file(tmp) != entry.sha256:
            tmp.unlink()
            raise BackupError(f"{target}: copy does not match the backup checksum")
        os.replace(tmp, target)
        written += 1
    return RestoreReport(manifest.products, manifest.jobs, written, len(identical))


__all__ = ["BackupError", "FileEntry", "Manifest", "RestoreReport", "backup", "restore", "sha256_file", "verify"]
