"""The PostGIS catalog's connection pool: connections are kept once opened, at most ``size`` exist at once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import psycopg2
import psycopg2.pool
import pytest

from viq_host.catalog import NewProduct, ProductQuery
from viq_host.catalog.postgis import ConnectionPool, PostgisCatalog


def _backend_pid(conn: object) -> int:
    with conn.cursor() as cur:  # type: ignore[attr-defined]
        cur.execute("SELECT pg_backend_pid()")
        pid: int = cur.fetchone()[0]
    conn.rollback()  # type: ignore[attr-defined]
    return pid


@pytest.fixture
def pool(postgis_url: str) -> Iterator[ConnectionPool]:
    """A pool of 3 connections on a fresh database."""
    p = ConnectionPool(3, postgis_url, connect_timeout=10)
    try:
        yield p
    finally:
        p.closeall()


def test_returned_connections_stay_open_and_are_handed_out_again(pool: ConnectionPool) -> None:
    """Three connections taken at once and given back are the three served afterwards: no new server process."""
    first = [pool.getconn() for _ in range(3)]
    pids = {_backend_pid(c) for c in first}
    assert len(pids) == 3
    for c in first:
        pool.putconn(c)
    assert all(not c.closed for c in first)
    again = [pool.getconn() for _ in range(3)]
    assert {_backend_pid(c) for c in again} == pids
    assert pool.opened == 3
    for c in again:
        pool.putconn(c)


def test_a_call_beyond_the_size_is_refused_until_one_is_returned(pool: ConnectionPool) -> None:
    """The fourth concurrent caller gets PoolError (the API throttles before that); a returned slot serves it."""
    held = [pool.getconn() for _ in range(3)]
    with pytest.raises(psycopg2.pool.PoolError, match="exhausted"):
        pool.getconn()
    pool.putconn(held.pop())
    held.append(pool.getconn())
    assert pool.opened == 3
    for c in held:
        pool.putconn(c)


def test_broken_or_unwanted_connections_are_closed_and_replaced(pool: ConnectionPool) -> None:
    """close=True, a closed connection and one left in a transaction: the first two are dropped (a new one is made
    later), the third is rolled back and kept."""
    a, b, c = pool.getconn(), pool.getconn(), pool.getconn()
    pool.putconn(a, close=True)
    assert a.closed
    b.close()
    pool.putconn(b)
    with c.cursor() as cur:
        cur.execute("SELECT 1")
    assert c.info.transaction_status == psycopg2.extensions.TRANSACTION_STATUS_INTRANS
    pool.putconn(c)
    assert not c.closed
    assert c.info.transaction_status == psycopg2.extensions.TRANSACTION_STATUS_IDLE
    again = [pool.getconn() for _ in range(3)]
    assert again[0] is c  # the most recently returned one first
    assert pool.opened == 5
    for conn in again:
        pool.putconn(conn)


def test_closeall_closes_idle_and_used_connections_and_refuses_more(pool: ConnectionPool) -> None:
    """After closeall every connection is closed, a late putconn is harmless and getconn is refused."""
    used, idle = pool.getconn(), pool.getconn()
    pool.putconn(idle)
    pool.closeall()
    assert used.closed and idle.closed
    pool.putconn(used)
    with pytest.raises(psycopg2.pool.PoolError, match="closed"):
        pool.getconn()


def test_concurrent_searches_reuse_the_catalog_connections(postgis_url: str) -> None:
    """Once a catalog of pool size 4 has had 4 connections open, rounds of 4 threads searching at once open no
    more (psycopg2's pool closed every connection beyond its minimum of one on return: three per round)."""
    cat = PostgisCatalog(postgis_url, pool_size=4)
    try:
        cat.ingest(NewProduct("VSC_L1VALD", "/archive/a.tif", site="S1", size=1, sha256="a" * 64))
        held = [cat._pool.getconn() for _ in range(4)]
        for conn in held:
            cat._pool.putconn(conn)
        assert cat._pool.opened == 4
        gate = threading.Barrier(4)

        def search(_: int) -> int:
            gate.wait(timeout=30)  # all four start together
            return len(cat.search(ProductQuery(product_type="VSC_L1VALD")).items)

        with ThreadPoolExecutor(4) as ex:
            for _ in range(5):
                assert list(ex.map(search, range(4))) == [1, 1, 1, 1]
        assert cat._pool.opened == 4
        assert all(not c.closed for c in held)
    finally:
        cat.close()
