"""HTTP API under load: 50 concurrent clients searching a large catalog through ``viq serve`` on loopback.

    OMP_NUM_THREADS=1 uv run python benchmarks/bench_api.py [--n 100000] [--clients 50] [--requests 40]
        [--backends sqlite,postgis] [--pg-url postgresql://viq:viq@127.0.0.1:55432/viq] [--n 1000000]
        [--workers 1,2] [--fields full,lite] [--client async,threads]

For each backend: a fresh installation whose catalog holds ``--n`` products (120 sites, 6 types, 12 bands, 7
years, footprints jittered around each site), loaded with ``Catalog.bulk_load``; for each ``--workers`` count,
``viq serve --workers W`` (job runner off) started as a subprocess on a free loopback port; ``--clients``
threads, each with its own keep-alive connection and the same viewer token, sending ``--requests`` searches
each, once per ``--fields`` mode (``full``: every property; ``lite``: what the map asks for): a random mix of
type + site + 60-day window, type + bbox around a site, and band + type + 90-day window (``limit=50``, GeoJSON).
The clients are either one asyncio thread holding all the connections (``async``, the default: the load generator
shares the machine's cores with the server, so it should take little of them) or one ``http.client`` thread
each (``threads``); the CPU the load generator used during the run is reported (in cores) beside the latencies.

Baseline, in the same run on the same database: the same query mix called directly on the catalog object
(``Catalog.search``, no HTTP, no JSON) from the same number of threads, throttled to 8 calls in flight as in
the server (the PostGIS backend pools 8 connections). Reported per backend: p50/p95 latency
and throughput of both, and the p95 ratio (API / direct). Target: API p95 ≤ 200 ms.
"""

# ruff: noqa: E402  (threads are pinned before numpy is imported)
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import functools
import http.client
import json
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlencode

from viq_host.api.runtime import ThrottledCatalog
from viq_host.api.store import ApiStore, Role
from viq_host.catalog import Catalog, NewProduct, ProductQuery, open_catalog

T0 = datetime(2017, 11, 1, tzinfo=UTC)
DAYS = 7 * 365
TYPES = ("VSC_L1VALD", "VSC_L2VALD", "VSC_L1CLSE", "IMQ_MTFMES", "IMQ_SNRMES", "AUX_REFDE1")
BANDS = tuple(f"B{i:02d}" for i in range(1, 13))
N_SITES = 120


def sites(seed: int = 1) -> list[tuple[str, float, float]]:
    """(name, lon, lat) of synthetic sites spread over the land latitudes."""
    rng = random.Random(seed)
    return [(f"SITE{i:03d}", rng.uniform(-170, 165), rng.uniform(-55, 65)) for i in range(N_SITES)]


def products(n: int, batch: int = 20_000, seed: int = 2) -> Iterator[list[NewProduct]]:
    """``n`` products in batches (paths unique, sizes and checksums given: nothing is read from disk)."""
    rng = random.Random(seed)
    sts = sites()
    out: list[NewProduct] = []
    for i in range(n):
        name, lon, lat = sts[i % N_SITES]
        x, y = lon + rng.uniform(-0.05, 0.05), lat + rng.uniform(-0.05, 0.05)
        start = T0 + timedelta(seconds=rng.uniform(0, DAYS * 86400))
        ptype = TYPES[rng.randrange(len(TYPES))]
        out.append(
            NewProduct(
                product_type=ptype, path=f"/data/bench/{ptype}/{i:08d}.tif", site=name,
                bands=(BANDS[rng.randrange(12)],), sensing_start=start, sensing_stop=start + timedelta(seconds=30),
                footprint_wkt=f"POLYGON(({x} {y},{x + 0.25} {y},{x + 0.25} {y + 0.25},{x} {y + 0.25},{x} {y}))",
                size=1000 + i, sha256=f"{i:064x}",
            )
        )
        if len(out) == batch:
            yield out
            out = []
    if out:
        yield out


def query_mix(seed: int) -> Iterator[dict[str, Any]]:
    """Endless random searches (as API query parameters)."""
    rng = random.Random(seed)
    sts = sites()
    while True:
        name, lon, lat = sts[rng.randrange(N_SITES)]
        start = T0 + timedelta(days=rng.uniform(0, DAYS - 90))
        kind = rng.randrange(3)
        if kind == 0:
            yield {"type": TYPES[rng.randrange(6)], "site": name, "start": start.isoformat(),
                   "stop": (start + timedelta(days=60)).isoformat(), "limit": 50}
        elif kind == 1:
            box = f"{lon - 0.2:.3f},{lat - 0.2:.3f},{lon + 0.3:.3f},{lat + 0.3:.3f}"
            yield {"type": TYPES[rng.randrange(6)], "bbox": box, "limit": 50}
        else:
            yield {"type": TYPES[rng.randrange(6)], "band": BANDS[rng.randrange(12)], "start": start.isoformat(),
                   "stop": (start + timedelta(days=90)).isoformat(), "limit": 50}


def to_query(p: dict[str, Any]) -> ProductQuery:
    """The same search as a ProductQuery (the in-process baseline)."""
    bbox = tuple(float(v) for v in p["bbox"].split(",")) if "bbox" in p else None
    return ProductQuery(
        product_type=p.get("type"), site=p.get("site"), band=p.get("band"),
        start=datetime.fromisoformat(p["start"]) if "start" in p else None,
        stop=datetime.fromisoformat(p["stop"]) if "stop" in p else None,
        bbox=bbox, limit=int(p["limit"]),  # type: ignore[arg-type]
    )


def pct(xs: list[float], q: float) -> float:
    """Percentile (nearest rank) in ms."""
    s = sorted(xs)
    return 1000.0 * s[min(len(s) - 1, int(q / 100.0 * len(s)))]


def load(clients: int, requests: int, call: Callable[[int, dict[str, Any]], int]) -> dict[str, float]:
    """Run ``clients`` threads × ``requests`` calls; latency percentiles (ms), throughput, matches per call."""
    latencies: list[float] = []
    matched: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(clients + 1)

    def worker(k: int) -> None:
        mix = query_mix(1000 + k)
        mine: list[float] = []
        found: list[int] = []
        barrier.wait()
        for _ in range(requests):
            params = next(mix)
            t = time.perf_counter()
            found.append(call(k, params))
            mine.append(time.perf_counter() - t)
        with lock:
            latencies.extend(mine)
            matched.extend(found)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    t0, c0 = time.perf_counter(), time.process_time()
    for t in threads:
        t.join()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"p50": pct(latencies, 50), "p95": pct(latencies, 95), "rps": len(latencies) / wall,
            "mean_matches": statistics.fmean(matched), "client_cpu": cpu / wall}


async def _async_load(port: int, path_of: Callable[[dict[str, Any]], str], headers: dict[str, str], clients: int,
                      requests: int) -> tuple[list[float], list[int]]:
    """``clients`` keep-alive connections on one event loop, each sending ``requests`` GETs one after another."""
    import asyncio

    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    latencies: list[float] = []
    matched: list[int] = []
    start = asyncio.Event()

    async def client(k: int) -> None:
        mix = query_mix(1000 + k)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        await start.wait()
        try:
            for _ in range(requests):
                request = f"GET {path_of(next(mix))} HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}\r\n".encode()
                t = time.perf_counter()
                writer.write(request)
                status = await reader.readline()
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                body = await reader.readexactly(length)
                latencies.append(time.perf_counter() - t)
                if not status.startswith(b"HTTP/1.1 200"):
                    raise RuntimeError(f"{status!r}: {body[:200]!r}")
                matched.append(len(json.loads(body)["features"]))
        finally:
            writer.close()

    async def main() -> None:
        tasks = [asyncio.create_task(client(k)) for k in range(clients)]
        await asyncio.sleep(0.2)  # every connection open before the clock starts
        start.set()
        await asyncio.gather(*tasks)

    await main()
    return latencies, matched


def load_async(port: int, path_of: Callable[[dict[str, Any]], str], headers: dict[str, str], clients: int,
               requests: int) -> dict[str, float]:
    """As :func:`load`, with a light load generator: one thread, asyncio streams, HTTP/1.1 keep-alive."""
    import asyncio

    t0, c0 = time.perf_counter(), time.process_time()
    latencies, matched = asyncio.run(_async_load(port, path_of, headers, clients, requests))
    wall, cpu = time.perf_counter() - t0 - 0.2, time.process_time() - c0
    return {"p50": pct(latencies, 50), "p95": pct(latencies, 95), "rps": len(latencies) / wall,
            "mean_matches": statistics.fmean(matched), "client_cpu": cpu / wall}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def serve(home: Path, url: str, port: int, workers: int, token: str) -> subprocess.Popen[bytes]:
    """``viq serve --workers W`` (job runner off) on ``home`` and ``url``; returns once every worker answers."""
    env = {**os.environ, "VIQ_HOME": str(home), "VIQ_DATABASE_URL": url}
    viq = str(Path(sys.executable).parent / "viq")
    log = (home / f"serve-{port}.log").open("ab")
    proc = subprocess.Popen([viq, "serve", "--port", str(port), "--runner", "none", "--workers", str(workers)],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    deadline = time.monotonic() + 180
    pids: set[int] = set()
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/api/session", headers={"Authorization": f"Bearer {token}"})
            resp = conn.getresponse()
            if resp.status == 200:
                pids.add(json.loads(resp.read())["worker_pid"])
            conn.close()
            if len(pids) == workers:
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    tail = (home / f"serve-{port}.log").read_text(errors="replace")[-3000:]
    raise RuntimeError(f"viq serve did not start ({len(pids)} of {workers} workers answered):\n{tail}")


def run_backend(name: str, url: str, args: argparse.Namespace, home: Path) -> dict[str, Any]:
    """Fill the catalog, then the direct baseline and the HTTP load; the numbers."""
    cat: Catalog = open_catalog(url)
    t = time.perf_counter()
    with cat.bulk_load() as loader:  # an archive import, as an operator would load one
        for batch in products(args.n):
            loader.add(batch)
    ingest = time.perf_counter() - t
    print(f"[{name}] {args.n} products loaded in {ingest:.1f} s", flush=True)
    shared = cast(Catalog, ThrottledCatalog(cat))  # as the server does: at most 8 calls in flight (PostGIS pool)
    direct = load(args.clients, args.requests, lambda _k, p: len(shared.search(to_query(p)).items))
    store = ApiStore(url)
    token, _ = store.create_token("bench", Role.VIEWER, created_by="bench_api")
    store.close()
    cat.close()
    api: dict[str, dict[str, float]] = {}
    for workers in args.workers:
        for fields, numbers in api_load(name, home, url, token, workers, args).items():
            api[f"{workers}/{fields}"] = numbers
    return {"backend": name, "n": args.n, "ingest_s": ingest, "direct": direct, "api": api}


def api_load(name: str, home: Path, url: str, token: str, workers: int,
             args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """``viq serve --workers W`` under load, once per ``--fields`` mode."""
    headers = {"Authorization": f"Bearer {token}"}
    port = free_port()
    proc = serve(home, url, port, workers, token)
    conns: dict[int, http.client.HTTPConnection] = {}

    def call(k: int, params: dict[str, Any], fields: str = "full") -> int:
        path = "/api/products?" + urlencode({**params, "fields": fields})
        conn = conns.get(k)
        try:
            if conn is None:
                raise ConnectionError
            conn.request("GET", path, headers=headers)
            resp = conn.getresponse()
        except (ConnectionError, http.client.RemoteDisconnected):
            # a connection idle past the server's keep-alive time was closed: reconnect, as browsers do
            if conn is not None:
                conn.close()
            conn = conns[k] = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            conn.request("GET", path, headers=headers)
            resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"HTTP {resp.status}: {body[:200]!r}")
        return len(json.loads(body)["features"])

    out: dict[str, dict[str, float]] = {}
    try:
        load(min(args.clients, 10), 5, call)  # warm-up: connections, caches, token cache
        for fields in args.fields:
            for client in args.client:
                if client == "threads":
                    numbers = load(args.clients, args.requests, functools.partial(call, fields=fields))
                else:
                    numbers = load_async(
                        port,
                        lambda p, f=fields: "/api/products?" + urlencode({**p, "fields": f}),
                        headers,
                        args.clients,
                        args.requests,
                    )
                out[f"{fields}/{client}"] = numbers
                print(f"[{name}] workers={workers} fields={fields} client={client}: {numbers}", flush=True)
    finally:
        for c in conns.values():
            c.close()
        proc.terminate()
        proc.wait(30)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000, help="Products in the catalog (default 100,000; 1,000,000 ok).")
    ap.add_argument("--clients", type=int, default=50, help="Concurrent clients (default 50).")
    ap.add_argument("--requests", type=int, default=40, help="Searches per client (default 40).")
    ap.add_argument("--backends", default="sqlite,postgis")
    ap.add_argument("--pg-url", default=os.environ.get("VIQ_TEST_POSTGIS_URL", ""))
    ap.add_argument("--workers", default="1,2", help="viq serve --workers counts to run (default 1,2).")
    ap.add_argument("--fields", default="full,lite", help="Search modes (default full,lite).")
    ap.add_argument("--client", default="async,threads",
                    help="Load generators, in this order (default async,threads): 'async' = one thread of asyncio "
                         "streams (little CPU taken from the server on a small machine), 'threads' = one "
                         "http.client thread per client (the earlier generator).")
    args = ap.parse_args()
    args.workers = [int(w) for w in args.workers.split(",")]
    args.fields = args.fields.split(",")
    args.client = args.client.split(",")
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        for backend in args.backends.split(","):
            home = Path(tmp) / backend
            home.mkdir()
            if backend == "sqlite":
                results.append(run_backend("sqlite", f"sqlite:///{home / 'catalog.sqlite'}", args, home))
                continue
            if not args.pg_url:
                print("[postgis] skipped: no --pg-url / VIQ_TEST_POSTGIS_URL")
                continue
            import psycopg2

            db = f"viq_bench_api_{uuid.uuid4().hex[:8]}"
            admin = psycopg2.connect(args.pg_url)
            admin.autocommit = True
            with admin.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{db}" TEMPLATE template1')
            try:
                results.append(run_backend("postgis", args.pg_url.rsplit("/", 1)[0] + "/" + db, args, home))
            finally:
                with admin.cursor() as cur:
                    cur.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
                admin.close()
    print()
    print(f"{args.clients} clients x {args.requests} searches (limit 50), loopback; load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} at the end")
    print("| backend | products | workers | fields | client | API p50 ms | API p95 ms | API req/s | client CPU (cores) "
          "| direct p50 ms | direct p95 ms | direct req/s | p95 API/direct | mean matches |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        d = r["direct"]
        for key, a in r["api"].items():
            workers, fields, client = key.split("/")
            print(f"| {r['backend']} | {r['n']:,} | {workers} | {fields} | {client} | {a['p50']:.1f} | "
                  f"{a['p95']:.1f} | {a['rps']:.0f} | {a['client_cpu']:.2f} | {d['p50']:.1f} | {d['p95']:.1f} | "
                  f"{d['rps']:.0f} | {a['p95'] / d['p95']:.1f}x | {a['mean_matches']:.1f} |")


if __name__ == "__main__":
    main()
