"""The catalog benchmark at 100,000 products on both backends, as a code-path test (no timing assertion).

The 1 M / 10 M runs are documented commands (benchmarks/README.md); this keeps their code path alive: bulk ingest
with lineage, the five queries against the minimal floor table (same answers), the recursive GIPP lineage.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[3] / "benchmarks" / "bench_catalog.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_catalog", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench_catalog", module)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgis"])
def test_benchmark_100k(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """100 k products load; every query returns what the bare SQL on the floor table returns; lineage is complete."""
    bench = _bench()
    args = argparse.Namespace(n=100_000, batch=52_000, chunk=1_040_000, repeat=4)
    sites = bench.load_sites()
    if backend == "sqlite":
        cat = bench.SqliteCatalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
        floor = bench.SqliteFloor(tmp_path / "floor.sqlite")
    else:
        url = request.getfixturevalue("postgis_url")
        cat = bench.PostgisCatalog(url)
        floor = bench.PgFloor(url)
    try:
        res = bench.run_backend(backend, cat, floor, args, sites)
    finally:
        cat.close()
        floor.conn.close()
    n_acq = args.n // 13
    assert res["rows"] >= n_acq * 13
    limits = {"3 type, 1 month, world, first 1000": 1000}
    assert len(res["counts"]) == 5
    for label, (n_api, n_floor) in res["counts"].items():
        cap = limits.get(label)
        want = [min(n, cap) for n in n_floor] if cap else n_floor
        assert n_api == want, label
        assert sum(n_api) > 0, label
    _l50, _l95, edges, _c50, _c95, inputs = res["lineage"]
    assert edges > 1000 and inputs == edges  # a chain of GIPP versions over distinct MTF products
    assert res["ingest_rate"] > 0 and res["mb_per_million"] > 0
