"""Database helper run *inside* the head host's namespace (the test process cannot reach the database host).

    python dist_tool.py createdb URL NAME   create a fresh database NAME next to URL's, print its URL
    python dist_tool.py dropdb URL NAME     drop it
    python dist_tool.py products URL        catalogued products as JSON
    python dist_tool.py dump URL            every table's rows (sorted) and sequence values as JSON
"""

from __future__ import annotations

import json
import sys
from typing import Any

import psycopg2


def _admin(url: str) -> Any:
    con = psycopg2.connect(url, connect_timeout=10)
    con.autocommit = True
    return con


def createdb(url: str, name: str) -> str:
    con = _admin(url)
    with con.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}" TEMPLATE template1')
    con.close()
    return f"{url.rsplit('/', 1)[0]}/{name}"


def dropdb(url: str, name: str) -> None:
    con = _admin(url)
    with con.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    con.close()


def products(url: str) -> list[dict[str, Any]]:
    con = psycopg2.connect(url, connect_timeout=10)
    with con.cursor() as cur:
        cur.execute("SELECT id, path, sha256, job_id, attempt_id, product_type FROM product ORDER BY id")
        rows = [dict(zip(("id", "path", "sha256", "job_id", "attempt_id", "product_type"), r, strict=True))
                for r in cur.fetchall()]
    con.close()
    return rows


def dump(url: str) -> dict[str, Any]:
    con = psycopg2.connect(url, connect_timeout=10)
    out: dict[str, Any] = {}
    with con.cursor() as cur:
        cur.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
            "AND table_type = 'BASE TABLE' AND table_name <> 'spatial_ref_sys' ORDER BY 1"
        )
        for (table,) in cur.fetchall():
            cur.execute(f'SELECT * FROM "{table}"')
            out[table] = sorted(repr(r) for r in cur.fetchall())
        cur.execute("SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public' ORDER BY 1")
        out["_sequences"] = [list(r) for r in cur.fetchall()]
    con.close()
    return out


def main(argv: list[str]) -> None:
    command, url, *rest = argv
    if command == "createdb":
        print(createdb(url, rest[0]))
    elif command == "dropdb":
        dropdb(url, rest[0])
    elif command == "products":
        print(json.dumps(products(url)))
    elif command == "dump":
        print(json.dumps(dump(url)))
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    main(sys.argv[1:])
