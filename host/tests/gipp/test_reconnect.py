"""The GIPP store survives the loss of its PostgreSQL session (database restart, network cut)."""

from __future__ import annotations

from pathlib import Path

import psycopg2
import pytest

from viq_host.gipp.models import GippStoreError
from viq_host.gipp.store import open_gipp_store
from viq_host.plugins import load_plugins


def test_lost_session_fails_one_call_then_the_store_reconnects(postgis_url: str, tmp_path: Path) -> None:
    """After the server ends the store's session, at most one call fails (cleanly); the next ones work."""
    store = open_gipp_store(postgis_url, load_plugins(entry_points_enabled=False), directory=tmp_path / "gipp")
    store.grant_role("alice", by="admin")
    admin = psycopg2.connect(postgis_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    admin.close()
    failures: list[str] = []
    for _ in range(2):
        try:
            store.grant_role("bob", by="admin")
        except GippStoreError as err:
            failures.append(str(err))
    assert len(failures) <= 1
    assert all("connection lost" in f or "commit failed" in f for f in failures)
    assert store.has_role("bob")
    assert store.has_role("alice")
    store.close()


def test_unreachable_database_is_a_clear_error(tmp_path: Path) -> None:
    """A store that cannot reach its server says so (GippStoreError), it does not hang or crash."""
    with pytest.raises(GippStoreError, match="cannot connect"):
        open_gipp_store("postgresql://viq:viq@127.0.0.1:1/none", load_plugins(entry_points_enabled=False),
                        directory=tmp_path / "gipp")
