"""``viq admin backup`` / ``restore``: a round trip onto a fresh database restores everything bit for bit."""

from __future__ import annotations

import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dist_tool import dump as pg_dump_rows

from viq_dist_procs import Stamp
from viq_host.admin.backup import BackupError, Manifest, backup, restore, verify
from viq_host.catalog import ProductQuery
from viq_host.config import Settings
from viq_host.host import CatalogIngest, open_host
from viq_host.jobs.store import sqlite_path
from viq_host.testing.harness import harness_settings, run_processor
from viq_proc_simulator import simulate


@pytest.fixture
def second_postgis_url(postgis_server_url: str) -> Iterator[str]:
    """Another fresh PostGIS database (the restore target), dropped afterwards."""
    import psycopg2

    name = f"viq_r_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(postgis_server_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}" TEMPLATE template1')
    try:
        yield f"{postgis_server_url.rsplit('/', 1)[0]}/{name}"
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(params=["sqlite", "postgis"])
def urls(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    """(source, fresh target) database URLs on SQLite or on the PostGIS test server."""
    if request.param == "postgis":
        return request.getfixturevalue("postgis_url"), request.getfixturevalue("second_postgis_url")
    return f"sqlite:///{tmp_path / 'a.sqlite'}", f"sqlite:///{tmp_path / 'b.sqlite'}"


def _rows(url: str) -> Any:
    if url.startswith("sqlite"):
        con = sqlite3.connect(sqlite_path(url))
        try:
            return list(con.iterdump())
        finally:
            con.close()
    return pg_dump_rows(url)


def _tree(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def _installation(tmp_path: Path, url: str) -> tuple[Settings, list[Path]]:
    """Two runs through the host (catalogued) and two simulated GIPPs (with sidecar arrays) in the store."""
    settings = harness_settings(tmp_path / "a", database_url=url)
    with open_host(settings) as host:
        for tag in ("one", "two"):
            outcome = run_processor(Stamp, None, {"tag": tag}, settings=settings, ingest=CatalogIngest(host.catalog))
            outcome.assert_success()
        sim = simulate(tmp_path / "sim", acquisition="dark", bands=("B3",), lines=16, pixels=64, seed=3)
        for written in sim.gipps:
            if written.gipp_type in ("GIP_DARKCU", "GIP_RELSEN"):
                host.gipps.import_file(written.path, actor="engineer")
        paths = [Path(p.path) for p in host.catalog.search(ProductQuery(product_type="VIQ_TSTAMP")).items]
    assert len(paths) == 2
    return settings, paths


def test_round_trip_bit_for_bit(urls: tuple[str, str], tmp_path: Path) -> None:
    """Backup, lose everything, restore onto a fresh database and home: rows, job store, product files and
    GIPP files are identical to before; the manifest's checksums match the catalog's."""
    source_url, target_url = urls
    settings, products = _installation(tmp_path, source_url)
    rows_before = _rows(source_url)
    jobs_before = _rows(settings.jobs_url)
    files_before = {p: p.read_bytes() for p in products}
    gipp_before = _tree(settings.home / "gipp")
    assert gipp_before

    manifest = backup(settings, tmp_path / "backup")
    assert manifest.products == 2 and manifest.jobs == 2 and not manifest.missing
    assert {Path(f.path) for f in manifest.files if f.kind == "product"} == set(products)
    assert verify(tmp_path / "backup").to_json() == manifest.to_json()

    for p in products:  # the old installation's storage is gone
        p.unlink()
    target = harness_settings(tmp_path / "b", database_url=target_url)
    report = restore(target, tmp_path / "backup")
    assert (report.products, report.jobs) == (2, 2)
    assert _rows(target_url) == rows_before
    assert _rows(target.jobs_url) == jobs_before
    assert {p: p.read_bytes() for p in products} == files_before
    assert _tree(target.home / "gipp") == gipp_before
    with open_host(target) as host:  # and the restored installation opens and reads its GIPP
        assert [g.gipp_type for g in host.gipps.find("GIP_DARKCU")] == ["GIP_DARKCU"]


def test_corrupt_backup_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    """One flipped byte in a stored product: verify and restore fail naming the file; the target stays empty."""
    settings, _ = _installation(tmp_path, f"sqlite:///{tmp_path / 'a.sqlite'}")
    manifest = backup(settings, tmp_path / "backup")
    victim = next(f for f in manifest.files if f.kind == "product").stored(tmp_path / "backup")
    data = bytearray(victim.read_bytes())
    data[0] ^= 0x01
    victim.write_bytes(bytes(data))
    with pytest.raises(BackupError, match="corrupt"):
        verify(tmp_path / "backup")
    target = harness_settings(tmp_path / "b", database_url=f"sqlite:///{tmp_path / 'b.sqlite'}")
    with pytest.raises(BackupError, match=str(victim.name)):
        restore(target, tmp_path / "backup")
    assert not (tmp_path / "b.sqlite").exists() and not sqlite_path(target.jobs_url).exists()


def test_restore_refuses_a_used_target_and_an_unfinished_backup(tmp_path: Path) -> None:
    """Restoring onto the installation it came from fails (not fresh); a backup without manifest is refused."""
    settings, _ = _installation(tmp_path, f"sqlite:///{tmp_path / 'a.sqlite'}")
    backup(settings, tmp_path / "backup")
    with pytest.raises(BackupError, match="fresh"):
        restore(settings, tmp_path / "backup")
    shutil.copytree(tmp_path / "backup", tmp_path / "partial")
    (tmp_path / "partial" / "manifest.json").unlink()
    with pytest.raises(BackupError, match="unfinished"):
        Manifest.load(tmp_path / "partial")
    with pytest.raises(BackupError, match="not empty"):
        backup(settings, tmp_path / "backup")
