"""Catalog at scale: bulk ingest and the five common queries, against a minimal table of the same rows.

    OMP_NUM_THREADS=1 uv run python benchmarks/bench_catalog.py [--n 1000000] [--backends sqlite,postgis]
        [--pg-url postgresql://viq:viq@127.0.0.1:55432/viq] [--repeat 30]

A realistic VENµS catalog: the 127 Theia VENµS sites (``../shared/reference/venus/venus_sites.geojson``),
7 years, per acquisition 12 single-band L1 products and one 12-band L2 product with the site footprint
(jittered), an MTF measurement product from every 50th acquisition's L1 products (lineage), and a chain of
GIP_PHGAIN versions, each made from the previous version and 20 measurements (a deep recursive lineage).

Baseline (the floor), measured in the same run on the same rows: a minimal hand-written table (id, type, site,
bands, time, footprint) with btree + GiST (PostGIS) or btree + R*Tree (SQLite) indexes, loaded with COPY /
executemany. Reported: ingest rate with indexes, database size per million rows, p50/p95 per query of the
catalog API (full records) and of the bare SQL on the minimal table, and their p95 ratio.
"""

# ruff: noqa: E402  (threads are pinned before numpy is imported)
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import contextlib
import io
import itertools
import json
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from viq_host.catalog import Catalog, NewProduct, ProductQuery
from viq_host.catalog.postgis import PostgisCatalog
from viq_host.catalog.sqlite import SqliteCatalog

ROOT = Path(__file__).resolve().parents[1]
SITES_FILE = next(
    (
        path
        for path in (
            ROOT.parent / "shared" / "reference" / "venus" / "venus_sites.geojson",
            # the same public site list, shipped with the simulator (used when ../shared is absent)
            ROOT / "processors" / "simulator" / "src" / "viq_proc_simulator" / "data" / "venus_sites.geojson",
        )
        if path.is_file()
    ),
    ROOT / "processors" / "simulator" / "src" / "viq_proc_simulator" / "data" / "venus_sites.geojson",
)
BANDS = tuple(f"B{i}" for i in range(1, 13))
T0 = datetime(2017, 11, 1, tzinfo=UTC)
SPAN = timedelta(days=7 * 365)
MTF_EVERY = 50
GIPP_EVERY = 20


@dataclass(frozen=True)
class Site:
    name: str
    lon: float
    lat: float
    box: tuple[float, float, float, float]


def load_sites() -> list[Site]:
    data = json.loads(SITES_FILE.read_text())
    sites = []
    for f in data["features"]:
        ring = f["geometry"]["coordinates"][0]
        xs, ys = [p[0] for p in ring], [p[1] for p in ring]
        p = f["properties"]
        sites.append(Site(p["name"], p["centroid_lon"], p["centroid_lat"], (min(xs), min(ys), max(xs), max(ys))))
    return sites


def _wkt(b: tuple[float, float, float, float], dx: float, dy: float) -> str:
    x0, y0, x1, y1 = b[0] + dx, b[1] + dy, b[2] + dx, b[3] + dy
    return f"POLYGON(({x0:.5f} {y0:.5f},{x1:.5f} {y0:.5f},{x1:.5f} {y1:.5f},{x0:.5f} {y1:.5f},{x0:.5f} {y0:.5f}))"


def acquisitions(n_products: int, sites: list[Site], batch: int) -> Iterator[list[NewProduct]]:
    """Batches of L1 (12 per acquisition) and L2 products, evenly over 7 years and all sites."""
    n_acq = max(1, n_products // 13)
    per_site = max(1, n_acq // len(sites))
    cadence = SPAN / per_site
    rng = np.random.default_rng(2017)
    out: list[NewProduct] = []
    sha = "0" * 64
    for k in range(n_acq):
        site = sites[k % len(sites)]
        when = T0 + cadence * (k // len(sites)) + timedelta(minutes=int(rng.integers(0, 600)))
        stop = when + timedelta(seconds=8)
        dx, dy = rng.uniform(-0.02, 0.02, 2)
        wkt = _wkt(site.box, float(dx), float(dy))
        stem = f"/archive/{site.name}/{when:%Y/%m/%d}/VENUS_{when:%Y%m%d-%H%M%S}_{site.name}"
        for band in BANDS:
            out.append(
                NewProduct(
                    "VSC_L1VALD",
                    f"{stem}_L1_{band}.TIF",
                    site=site.name,
                    bands=(band,),
                    sensing_start=when,
                    sensing_stop=stop,
                    footprint_wkt=wkt,
                    size=1,
                    sha256=sha,
                    processor="l1-chain",
                    processor_version="03.01",
                )
            )
        out.append(
            NewProduct(
                "VSC_L2VALD",
                f"{stem}_L2.DBL",
                site=site.name,
                bands=BANDS,
                sensing_start=when,
                sensing_stop=stop,
                footprint_wkt=wkt,
                size=1,
                sha256=sha,
                processor="maja",
                processor_version="04.00",
            )
        )
        if len(out) >= batch:
            yield out
            out = []
    if out:
        yield out


def derived(batch: list[NewProduct], ids: list[int], serial: int) -> list[NewProduct]:
    """MTF measurements from every MTF_EVERY-th acquisition of a loaded batch (12 L1 inputs each)."""
    out = []
    for start in range(0, len(batch), 13 * MTF_EVERY):
        first = batch[start]
        out.append(
            NewProduct(
                "IMQ_MTFMES",
                f"/work/mtf/{serial}_{start}.xml",
                site=first.site,
                bands=("B3",),
                sensing_start=first.sensing_start,
                sensing_stop=first.sensing_stop,
                footprint_wkt=first.footprint_wkt,
                size=1,
                sha256="1" * 64,
                processor="slanted-edge-mtf",
                processor_version="01.00",
                inputs=tuple(ids[start : start + 12]),
            )
        )
    return out


# --------------------------------------------------------------------------------------------- floor


class Floor:
    """The minimal table: id, type, site, bands, time, footprint; btree + spatial index."""

    def load(self, rows: list[tuple[int, NewProduct]]) -> None:
        raise NotImplementedError

    def q1(self, site: str, band: str, t0: datetime, t1: datetime) -> list[Any]:
        raise NotImplementedError

    def q2(self, ptype: str, box: tuple[float, ...], t0: datetime, t1: datetime) -> list[Any]:
        raise NotImplementedError

    def q3(self, ptype: str, t0: datetime, t1: datetime) -> list[Any]:
        raise NotImplementedError

    def q4(self, pid: int) -> list[Any]:
        raise NotImplementedError

    def q5(self, site: str) -> list[Any]:
        raise NotImplementedError

    def finish(self) -> None:
        raise NotImplementedError

    def size(self) -> int:
        raise NotImplementedError


class PgFloor(Floor):
    def __init__(self, url: str, *, create: bool = True) -> None:
        import psycopg2

        self.conn = psycopg2.connect(url)
        if not create:
            return
        with self.conn, self.conn.cursor() as cur:
            cur.execute(
                "CREATE TABLE floor (id bigint PRIMARY KEY, type text NOT NULL, site text, bands text[], "
                "time timestamptz, footprint geometry(Polygon, 4326));"
                "CREATE INDEX floor_site_time ON floor (site, time);"
                "CREATE INDEX floor_type_time ON floor (type, time);"
                "CREATE INDEX floor_fp ON floor USING gist (footprint);"
            )

    def load(self, rows: list[tuple[int, NewProduct]]) -> None:
        buf = io.StringIO()
        for i, p in rows:
            assert p.sensing_start is not None
            buf.write(
                f"{i}\t{p.product_type}\t{p.site}\t{{{','.join(p.bands)}}}\t{p.sensing_start.isoformat()}\t"
                f"SRID=4326;{p.footprint_wkt}\n"
            )
        buf.seek(0)
        with self.conn, self.conn.cursor() as cur:
            cur.copy_expert("COPY floor (id, type, site, bands, time, footprint) FROM STDIN", buf)

    def _q(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        with self.conn.cursor() as cur:
            cur.execute(sql, params)
            rows = cur.fetchall()
        self.conn.rollback()
        return rows

    COLS = "id, type, site, bands, time, ST_AsBinary(footprint)"

    def q1(self, site: str, band: str, t0: datetime, t1: datetime) -> list[Any]:
        return self._q(
            f"SELECT {self.COLS} FROM floor WHERE site = %s AND bands @> ARRAY[%s] AND time >= %s "
            "AND time < %s ORDER BY id LIMIT 10001",
            (site, band, t0, t1),
        )

    def q2(self, ptype: str, box: tuple[float, ...], t0: datetime, t1: datetime) -> list[Any]:
        return self._q(
            f"SELECT {self.COLS} FROM floor WHERE type = %s AND time >= %s AND time < %s AND "
            "ST_Intersects(footprint, ST_MakeEnvelope(%s, %s, %s, %s, 4326)) ORDER BY id LIMIT 10001",
            (ptype, t0, t1, *box),
        )

    def q3(self, ptype: str, t0: datetime, t1: datetime) -> list[Any]:
        return self._q(
            f"SELECT {self.COLS} FROM floor WHERE type = %s AND time >= %s AND time < %s ORDER BY id LIMIT 1001",
            (ptype, t0, t1),
        )

    def q4(self, pid: int) -> list[Any]:
        return self._q(f"SELECT {self.COLS} FROM floor WHERE id = %s", (pid,))

    def q5(self, site: str) -> list[Any]:
        return self._q("SELECT type, count(*) FROM floor WHERE site = %s GROUP BY type", (site,))

    def finish(self) -> None:
        self.conn.autocommit = True
        with self.conn.cursor() as cur:
            cur.execute("VACUUM ANALYZE floor")
        self.conn.autocommit = False

    def size(self) -> int:
        return int(self._q("SELECT pg_total_relation_size('floor')", ())[0][0])


class SqliteFloor(Floor):
    def __init__(self, path: Path) -> None:
        import shapely

        self.shapely = shapely
        self.path = path
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = NORMAL")
        self.conn.executescript(
            "CREATE TABLE floor (id INTEGER PRIMARY KEY, type TEXT NOT NULL, site TEXT, bands TEXT, time INTEGER, "
            "footprint BLOB); CREATE INDEX floor_site_time ON floor (site, time);"
            "CREATE INDEX floor_type_time ON floor (type, time);"
            "CREATE VIRTUAL TABLE floor_rtree USING rtree (id, x0, x1, y0, y1);"
        )

    @staticmethod
    def us(t: datetime) -> int:
        return int((t - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(microseconds=1))

    def load(self, rows: list[tuple[int, NewProduct]]) -> None:
        geoms = self.shapely.from_wkt([p.footprint_wkt for _, p in rows])
        wkb = self.shapely.to_wkb(geoms)
        bounds = self.shapely.bounds(geoms)
        self.conn.execute("BEGIN")
        self.conn.executemany(
            "INSERT INTO floor VALUES (?, ?, ?, ?, ?, ?)",
            [
                (i, p.product_type, p.site, "," + ",".join(p.bands) + ",", self.us(p.sensing_start or T0), w)
                for (i, p), w in zip(rows, wkb, strict=True)
            ],
        )
        self.conn.executemany(
            "INSERT INTO floor_rtree VALUES (?, ?, ?, ?, ?)",
            [(i, b[0], b[2], b[1], b[3]) for (i, _), b in zip(rows, bounds.tolist(), strict=True)],
        )
        self.conn.execute("COMMIT")

    COLS = "id, type, site, bands, time, footprint"

    def q1(self, site: str, band: str, t0: datetime, t1: datetime) -> list[Any]:
        return self.conn.execute(
            f"SELECT {self.COLS} FROM floor WHERE site = ? AND instr(bands, ?) > 0 AND time >= ? AND time < ? "
            "ORDER BY id LIMIT 10001",
            (site, f",{band},", self.us(t0), self.us(t1)),
        ).fetchall()

    def q2(self, ptype: str, box: tuple[float, ...], t0: datetime, t1: datetime) -> list[Any]:
        return self.conn.execute(
            f"SELECT {self.COLS} FROM floor WHERE type = ? AND time >= ? AND time < ? AND id IN (SELECT id FROM "
            "floor_rtree WHERE x1 >= ? AND x0 <= ? AND y1 >= ? AND y0 <= ?) ORDER BY id LIMIT 10001",
            (ptype, self.us(t0), self.us(t1), box[0], box[2], box[1], box[3]),
        ).fetchall()

    def q3(self, ptype: str, t0: datetime, t1: datetime) -> list[Any]:
        return self.conn.execute(
            f"SELECT {self.COLS} FROM floor WHERE type = ? AND time >= ? AND time < ? ORDER BY id LIMIT 1001",
            (ptype, self.us(t0), self.us(t1)),
        ).fetchall()

    def q4(self, pid: int) -> list[Any]:
        return self.conn.execute(f"SELECT {self.COLS} FROM floor WHERE id = ?", (pid,)).fetchall()

    def q5(self, site: str) -> list[Any]:
        return self.conn.execute("SELECT type, count(*) FROM floor WHERE site = ? GROUP BY type", (site,)).fetchall()

    def finish(self) -> None:
        self.conn.execute("ANALYZE")
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def size(self) -> int:
        return self.path.stat().st_size


# --------------------------------------------------------------------------------------------- run


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.array(xs) * 1000.0, q))


def timed(fn: Callable[[], Any], repeat: int) -> tuple[list[float], Any]:
    out = []
    last = None
    for _ in range(repeat):
        t = time.perf_counter()
        last = fn()
        out.append(time.perf_counter() - t)
    return out, last


def cluster_box(sites: list[Site], want: int = 5, half: float = 2.5) -> tuple[float, float, float, float]:
    """A box of ±half degrees around the site whose box holds closest to ``want`` site centroids."""
    best = None
    for s in sites:
        box = (s.lon - half, s.lat - half, s.lon + half, s.lat + half)
        k = sum(box[0] <= o.lon <= box[2] and box[1] <= o.lat <= box[3] for o in sites)
        score = abs(k - want)
        if best is None or score < best[0]:
            best = (score, box)
    assert best is not None
    return best[1]


def run_backend(name: str, cat: Catalog, floor: Floor, args: argparse.Namespace, sites: list[Site]) -> dict[str, Any]:
    print(f"== {name}: ingest {args.n:,} products", flush=True)
    t_cat = t_floor = 0.0
    n_rows = 0
    gipp_prev: int | None = None
    mtf_ids: list[int] = []
    last_l2 = 0
    serial = 0
    batches = acquisitions(args.n, sites, args.batch)
    per_chunk = max(1, args.chunk // args.batch)
    with contextlib.ExitStack() as stack:
        t = time.perf_counter()
        loader = stack.enter_context(cat.bulk_load())
        t_cat += time.perf_counter() - t
        while True:
            # generated outside the timed part, a chunk at a time; the timed part ends when the chunk reached the
            # database (flush), so no catalog work overlaps the generation or the floor's load
            chunk = list(itertools.islice(batches, per_chunk))
            if not chunk:
                break
            floor_rows: list[list[tuple[int, NewProduct]]] = []
            t = time.perf_counter()
            for batch in chunk:
                ids = loader.add(batch)
                extra = derived(batch, ids, serial)
                extra_ids = loader.add(extra) if extra else []
                mtf_ids += extra_ids
                n_gipps = 0
                while len(mtf_ids) >= GIPP_EVERY:
                    part, mtf_ids = mtf_ids[:GIPP_EVERY], mtf_ids[GIPP_EVERY:]
                    inputs = tuple(part) + ((gipp_prev,) if gipp_prev is not None else ())
                    [gipp_prev] = loader.add(
                        [
                            NewProduct(
                                "GIP_PHGAIN",
                                f"/gipp/VE_TEST_GIP_PHGAIN_{serial}_{n_gipps}.EEF",
                                size=1,
                                sha256="2" * 64,
                                processor="phgain",
                                processor_version="01.00",
                                inputs=inputs,
                            )
                        ]
                    )
                    n_gipps += 1
                floor_rows.append(list(zip(ids, batch, strict=True)) + list(zip(extra_ids, extra, strict=True)))
                n_rows += len(ids) + len(extra_ids) + n_gipps
                last_l2 = ids[-1]
                serial += 1
            loader.flush()
            t_cat += time.perf_counter() - t
            t = time.perf_counter()
            for rows in floor_rows:
                floor.load(rows)
            t_floor += time.perf_counter() - t
            print(
                f"   {n_rows:,} rows  catalog {n_rows / t_cat:,.0f} rows/s (before the index build)  "
                f"floor {n_rows / t_floor:,.0f} rows/s",
                flush=True,
            )
        t = time.perf_counter()
    t_finish = time.perf_counter() - t  # index rebuild and commit
    t_cat += t_finish
    t = time.perf_counter()
    if isinstance(cat, PostgisCatalog):
        conn = cat._pool.getconn()
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("VACUUM ANALYZE product")
            cur.execute("VACUUM ANALYZE product_input")
            cur.execute("SELECT pg_total_relation_size('product') + pg_total_relation_size('product_input')")
            row = cur.fetchone()
            assert row is not None
            size = int(row[0])
        conn.autocommit = False
        cat._pool.putconn(conn)
    else:
        assert isinstance(cat, SqliteCatalog)
        cat._conn.execute("ANALYZE")
        cat._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = Path(cat.url[len("sqlite:///") :]).stat().st_size
    t_analyze = time.perf_counter() - t
    floor.finish()
    res: dict[str, Any] = {
        "rows": n_rows,
        "ingest_rate": n_rows / t_cat,
        "floor_rate": n_rows / t_floor,
        "mb_per_million": size / 1e6 / (n_rows / 1e6),
        "floor_mb_per_million": floor.size() / 1e6 / (n_rows / 1e6),
        "analyze_s": t_analyze,
        "finish_s": t_finish,
    }
    print(
        f"   ingest done: {n_rows:,} rows; catalog {res['ingest_rate']:,.0f} rows/s (index build and commit "
        f"{t_finish:.1f} s included), floor "
        f"{res['floor_rate']:,.0f} rows/s; size {res['mb_per_million']:.0f} MB/M rows "
        f"(floor {res['floor_mb_per_million']:.0f})",
        flush=True,
    )

    return query_backend(cat, floor, args, sites, res, last_l2, gipp_prev)


def query_backend(
    cat: Catalog,
    floor: Floor,
    args: argparse.Namespace,
    sites: list[Site],
    res: dict[str, Any],
    last_l2: int,
    gipp_prev: int | None,
) -> dict[str, Any]:
    """The five queries (API and floor, interleaved) and the recursive lineage, on a loaded catalog."""
    rng = np.random.default_rng(42)
    box = cluster_box(sites)
    end = T0 + SPAN

    def window(days: int) -> tuple[datetime, datetime]:
        start = T0 + timedelta(days=int(rng.integers(0, (end - T0).days - days)))
        return start, start + timedelta(days=days)

    params = []
    for _ in range(args.repeat):
        site = sites[int(rng.integers(len(sites)))].name
        params.append(
            {
                "site": site,
                "band": BANDS[int(rng.integers(12))],
                "w3": window(91),
                "w12": window(365),
                "w1": window(30),
                "id": int(rng.integers(1, last_l2)),
            }
        )
    queries: dict[str, tuple[Callable[[dict[str, Any]], Any], Callable[[dict[str, Any]], Any]]] = {
        "1 site+band, 3 months": (
            lambda p: (
                cat.search(
                    ProductQuery(site=p["site"], band=p["band"], start=p["w3"][0], stop=p["w3"][1], limit=10000)
                ).items
            ),
            lambda p: floor.q1(p["site"], p["band"], *p["w3"]),
        ),
        "2 bbox ~5 sites, 1 year, 1 type": (
            lambda p: (
                cat.search(
                    ProductQuery(product_type="VSC_L2VALD", bbox=box, start=p["w12"][0], stop=p["w12"][1], limit=10000)
                ).items
            ),
            lambda p: floor.q2("VSC_L2VALD", box, *p["w12"]),
        ),
        "3 type, 1 month, world, first 1000": (
            lambda p: (
                cat.search(ProductQuery(product_type="VSC_L1VALD", start=p["w1"][0], stop=p["w1"][1], limit=1000)).items
            ),
            lambda p: floor.q3("VSC_L1VALD", *p["w1"]),
        ),
        "4 one product by id": (lambda p: [cat.get(p["id"])], lambda p: floor.q4(p["id"])),
        "5 counts per type, one site": (
            lambda p: cat.count_by("product_type", ProductQuery(site=p["site"])),
            lambda p: floor.q5(p["site"]),
        ),
    }
    res["queries"] = {}
    res["counts"] = {}
    for label, (api, bare) in queries.items():
        for p in params[:3]:  # warm caches for both
            api(p), bare(p)
        t_api: list[float] = []
        t_bare: list[float] = []
        n_api: list[int] = []
        n_bare: list[int] = []
        for p in params:
            t = time.perf_counter()
            ra = api(p)
            t_api.append(time.perf_counter() - t)
            t = time.perf_counter()
            rb = bare(p)
            t_bare.append(time.perf_counter() - t)
            n_api.append(len(ra))
            n_bare.append(len(rb))
        res["counts"][label] = (n_api, n_bare)
        res["queries"][label] = (
            pct(t_api, 50),
            pct(t_api, 95),
            pct(t_bare, 50),
            pct(t_bare, 95),
            statistics.mean(n_api),
            statistics.mean(n_bare),
        )
    if gipp_prev is not None:
        t_lin, edges = timed(lambda: cat.lineage(gipp_prev, "up"), max(5, args.repeat // 3))
        t_inputs, page = timed(lambda: cat.count(ProductQuery(inputs_of=gipp_prev)), max(5, args.repeat // 3))
        res["lineage"] = (pct(t_lin, 50), pct(t_lin, 95), len(edges), pct(t_inputs, 50), pct(t_inputs, 95), page)
    print(
        f"   {'query':38s} {'API p50':>8s} {'API p95':>8s} {'floor p50':>9s} {'floor p95':>9s} {'ratio':>6s} "
        f"{'rows':>7s}"
    )
    for label, (a50, a95, b50, b95, na, nb) in res["queries"].items():
        print(f"   {label:38s} {a50:8.2f} {a95:8.2f} {b50:9.2f} {b95:9.2f} {a95 / b95:6.2f} {na:7.0f} (floor {nb:.0f})")
    if "lineage" in res:
        l50, l95, ne, c50, c95, nc = res["lineage"]
        print(
            f"   recursive GIPP lineage: edges {ne:,} p50 {l50:.1f} ms p95 {l95:.1f} ms; "
            f"count(inputs_of) {nc:,} p50 {c50:.1f} ms p95 {c95:.1f} ms"
        )
    return res


def reused_ids(cat: PostgisCatalog) -> tuple[int, int | None] | None:
    """(last acquisition product id, last GIPP id) of a catalog kept by an earlier ``--pg-db`` run; None if the
    database holds no loaded catalog (and floor)."""
    rows = cat._read(
        "SELECT (SELECT max(id) FROM product WHERE product_type IN ('VSC_L1VALD', 'VSC_L2VALD')), "
        "(SELECT max(id) FROM product WHERE product_type = 'GIP_PHGAIN'), to_regclass('floor') IS NOT NULL"
    )
    last, gipp, has_floor = rows[0]
    if last is None or not has_floor:
        return None
    return int(last), None if gipp is None else int(gipp)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000, help="Number of products (default 1,000,000).")
    ap.add_argument("--backends", default="sqlite,postgis")
    ap.add_argument("--pg-url", default=os.environ.get("VIQ_TEST_POSTGIS_URL", ""))
    ap.add_argument("--repeat", type=int, default=30, help="Query repetitions (distinct parameters).")
    ap.add_argument("--batch", type=int, default=52_000, help="Products per BulkLoad.add call.")
    ap.add_argument(
        "--chunk", type=int, default=1_040_000, help="Products generated before each timed part of the load."
    )
    ap.add_argument("--workdir", type=Path, default=None, help="Where the SQLite files go (default: a temp dir).")
    ap.add_argument(
        "--pg-db",
        default="",
        help="PostGIS only: load into this database and keep it; when it already holds a loaded catalog, skip the "
        "load and run the queries on it (for repeated query measurements; default: a throwaway database).",
    )
    args = ap.parse_args()
    sites = load_sites()
    print(f"{len(sites)} sites, {args.n:,} products, machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    for backend in args.backends.split(","):
        if backend == "sqlite":
            with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
                cat: Catalog = SqliteCatalog(f"sqlite:///{Path(tmp) / 'catalog.sqlite'}")
                floor: Floor = SqliteFloor(Path(tmp) / "floor.sqlite")
                run_backend("SQLite", cat, floor, args, sites)
                cat.close()
        elif backend == "postgis":
            url = (
                args.pg_url
                or subprocess.run(
                    [str(ROOT / "scripts/services/postgis.sh"), "url"], capture_output=True, text=True, check=True
                ).stdout.strip()
            )
            import psycopg2

            keep = bool(args.pg_db)
            name = args.pg_db or f"viq_bench_{uuid.uuid4().hex[:8]}"
            admin = psycopg2.connect(url)
            admin.autocommit = True
            with admin.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
                exists = cur.fetchone() is not None
                if not exists:
                    cur.execute(f'CREATE DATABASE "{name}" TEMPLATE template1')
            db_url = url.rsplit("/", 1)[0] + "/" + name
            try:
                cat = PostgisCatalog(db_url)
                loaded = reused_ids(cat) if exists else None
                if loaded is None:
                    pg_floor = PgFloor(db_url)
                    run_backend("PostGIS", cat, pg_floor, args, sites)
                else:
                    print(f"== PostGIS: reusing the catalog in database {name} (no load)", flush=True)
                    pg_floor = PgFloor(db_url, create=False)
                    query_backend(cat, pg_floor, args, sites, {}, *loaded)
                cat.close()
                pg_floor.conn.close()
            finally:
                if not keep:
                    with admin.cursor() as cur:
                        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                admin.close()
        else:
            raise SystemExit(f"unknown backend {backend!r}")


if __name__ == "__main__":
    main()
