"""``viq catalog ingest`` of N files: the file-by-file path against the bulk import, same files, same run.

The files are N copies of one simulator L1 product header (``.HDR``, the built-in Earth Explorer reader, type
detected), each with its own name and acquisition time, all naming the same band files; so every run reads, detects,
checks and hashes N real headers. Each timing is one ``viq catalog ingest`` process on a fresh catalog (a new SQLite
file, a new PostgreSQL database), start-up included:

- per file: ``--bulk-above N`` (N paths never exceed it): one ``Catalog.ingest`` transaction per file;
- bulk: ``--bulk-above 0``: everything read first, the new files loaded through one ``Catalog.bulk_load``;
- and again on the filled catalog (every file unchanged, nothing written), both ways;
- then, in this process, the parts: reading the N files, and the database side alone (one ``Catalog.ingest`` per
  product against one ``bulk_load``, on products already read).

Ratio = per-file time / bulk time; runs alternate, the median of ``--repeat`` is reported. Wrap it in
``flock /tmp/viq-bench.lock`` on a shared machine; the thread pools are pinned to one thread below.

    flock /tmp/viq-bench.lock uv run python benchmarks/bench_catalog_ingest.py [--n 5000] [--repeat 3]
        [--backends sqlite,postgis] [--pg-url URL]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS", "GDAL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from contextlib import AbstractContextManager, contextmanager  # noqa: E402
from datetime import datetime, timedelta  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
VIQ = Path(sys.executable).parent / "viq"


def make_headers(workdir: Path, n: int) -> list[Path]:
    """N header copies of one small simulated L1 product, each with its own name and acquisition time."""
    from viq_proc_simulator import simulate

    run = simulate(workdir, acquisition="scene", bands=("B3", "B4"), tdi=8, lines=32, pixels=32,
                   products=("l1",), site="SUDOUE-1", seed=3)  # fmt: skip
    (product,) = run.products
    template = product.header.read_text()
    stamp = re.search(r"<Acquisition_Date_Time>UTC=([^<]+)<", template)
    assert stamp is not None
    t0 = datetime.fromisoformat(stamp.group(1))
    stem = product.header.stem
    paths: list[Path] = []
    for k in range(n):
        when = (t0 + timedelta(hours=k)).isoformat()
        text = template.replace(f"UTC={stamp.group(1)}", f"UTC={when}").replace(
            f"<File_Name>{stem}<", f"<File_Name>{stem}_{k:06d}<"
        )
        path = workdir / f"{stem}_{k:06d}.HDR"  # beside the band files the header names (relative paths)
        path.write_text(text)
        paths.append(path)
    return paths


def run_ingest(url: str, paths: list[Path], bulk_above: int, env: dict[str, str]) -> float:
    """Seconds of one ``viq catalog ingest`` process; fails loudly when the command does."""
    args = [str(VIQ), "catalog", "ingest", *map(str, paths), "--bulk-above", str(bulk_above), "--url", url]
    t = time.perf_counter()
    done = subprocess.run(args, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - t
    if done.returncode != 0:
        raise SystemExit(f"viq catalog ingest failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    lines = done.stdout.count("\n")
    if lines != len(paths):
        raise SystemExit(f"viq catalog ingest printed {lines} lines for {len(paths)} paths")
    return elapsed


def rows_in(url: str) -> int:
    from viq_host.catalog import ProductQuery, ProductState, open_catalog

    cat = open_catalog(url)
    try:
        return cat.count(ProductQuery(states=tuple(ProductState)))
    finally:
        cat.close()


@contextmanager
def sqlite_catalog(workdir: Path) -> Iterator[str]:
    path = workdir / f"cat-{uuid.uuid4().hex[:8]}.sqlite"
    try:
        yield f"sqlite:///{path}"
    finally:
        for f in workdir.glob(path.name + "*"):
            f.unlink()


def postgis_factory(server_url: str) -> Callable[[Path], AbstractContextManager[str]]:
    import psycopg2

    @contextmanager
    def fresh(_workdir: Path) -> Iterator[str]:
        name = f"viq_bench_ingest_{uuid.uuid4().hex[:8]}"
        admin = psycopg2.connect(server_url)
        admin.autocommit = True
        try:
            with admin.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{name}" TEMPLATE template1')
            yield server_url.rsplit("/", 1)[0] + "/" + name
        finally:
            with admin.cursor() as cur:
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.close()

    return fresh


def bench_backend(
    label: str,
    fresh: Callable[[Path], AbstractContextManager[str]],
    workdir: Path,
    paths: list[Path],
    repeat: int,
    env: dict[str, str],
) -> None:
    n = len(paths)
    times: dict[str, list[float]] = {"per_file": [], "bulk": [], "per_file_again": [], "bulk_again": []}
    for r in range(repeat):
        order = ("per_file", "bulk") if r % 2 == 0 else ("bulk", "per_file")
        for way in order:
            with fresh(workdir) as url:
                bulk_above = n if way == "per_file" else 0
                times[way].append(run_ingest(url, paths, bulk_above, env))
                if rows_in(url) != n:
                    raise SystemExit(f"{label} {way}: expected {n} rows")
                times[way + "_again"].append(run_ingest(url, paths, bulk_above, env))
                if rows_in(url) != n:
                    raise SystemExit(f"{label} {way} again: rows changed")
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"== {label}: {n} files, median of {repeat}")
    for way in ("per_file", "bulk"):
        print(f"  {way:<9} new: {med[way]:7.2f} s ({n / med[way]:7.0f} files/s)   "
              f"unchanged again: {med[way + '_again']:7.2f} s ({n / med[way + '_again']:7.0f} files/s)")  # fmt: skip
    print(f"  ratio per-file / bulk: new {med['per_file'] / med['bulk']:.2f}, "
          f"unchanged {med['per_file_again'] / med['bulk_again']:.2f}")  # fmt: skip
    print(f"  all runs (s): { {k: [round(x, 2) for x in v] for k, v in times.items()} }", flush=True)


def bench_parts(label: str, fresh: Callable[[Path], AbstractContextManager[str]], workdir: Path,
                paths: list[Path]) -> None:  # fmt: skip
    """In one process, the parts the command is made of: reading every file (reader, checks, sha256), then the
    database side alone on the products already read: one ``Catalog.ingest`` per file against one ``bulk_load``."""
    import dataclasses

    from viq_host.catalog import open_catalog
    from viq_host.catalog.base import file_digest, validate_product
    from viq_host.catalog.ops import read_product
    from viq_host.plugins import load_plugins

    readers = load_plugins().product_readers
    t = time.perf_counter()
    products = []
    for path in paths:
        p = read_product(path, None, readers)
        validate_product(p)
        size, sha = file_digest(Path(p.path))
        products.append(dataclasses.replace(p, size=size, sha256=sha))
    reading = time.perf_counter() - t
    with fresh(workdir) as url:
        cat = open_catalog(url)
        t = time.perf_counter()
        for p in products:
            cat.ingest(p)
        per_file = time.perf_counter() - t
        cat.close()
    with fresh(workdir) as url:
        cat = open_catalog(url)
        t = time.perf_counter()
        with cat.bulk_load() as loader:
            for k in range(0, len(products), 5000):
                loader.add(products[k : k + 5000])
        bulk = time.perf_counter() - t
        cat.close()
    n = len(paths)
    print(f"  {label} in-process parts: reading + checks + sha256 {reading:.2f} s ({1e3 * reading / n:.2f} ms/file); "
          f"database alone: per file {per_file:.2f} s ({1e3 * per_file / n:.3f} ms/file), bulk_load {bulk:.2f} s "
          f"({1e3 * bulk / n:.3f} ms/file), ratio {per_file / bulk:.1f}", flush=True)  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=5000, help="Files per ingest.")
    ap.add_argument("--repeat", type=int, default=3, help="Runs per way (alternating).")
    ap.add_argument("--backends", default="sqlite,postgis")
    ap.add_argument("--pg-url", default=os.environ.get("VIQ_TEST_POSTGIS_URL"), help="PostGIS server URL.")
    args = ap.parse_args()
    print(f"load average at start: {os.getloadavg()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="viq-bench-ingest-") as tmp:
        workdir = Path(tmp)
        paths = make_headers(workdir / "products", args.n)
        env = {**os.environ, "VIQ_HOME": str(workdir / "home")}
        for backend in args.backends.split(","):
            if backend == "sqlite":
                bench_backend("SQLite", sqlite_catalog, workdir, paths, args.repeat, env)
                bench_parts("SQLite", sqlite_catalog, workdir, paths)
            elif backend == "postgis":
                url = (
                    args.pg_url
                    or subprocess.run(
                        [str(ROOT / "scripts/services/postgis.sh"), "url"], capture_output=True, text=True, check=True
                    ).stdout.strip()
                )
                bench_backend("PostGIS", postgis_factory(url), workdir, paths, args.repeat, env)
                bench_parts("PostGIS", postgis_factory(url), workdir, paths)
            else:
                raise SystemExit(f"unknown backend {backend!r}")
    print(f"load average at end: {os.getloadavg()}", flush=True)


if __name__ == "__main__":
    main()
