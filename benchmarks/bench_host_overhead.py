"""Host overhead: N no-op jobs through the job service vs N bare spawns of the worker interpreter.

Measured: ``JobService.submit`` (read + XSD + layered validation + job-store rows) of N job orders, then
``run_until_done`` — per job: attempt rows and transitions, work dir, job order and settings written, the
local executor spawning ``viq-task`` (which reads and validates the order again, builds the run context,
runs the no-op processor inside ``rasterio.Env`` and writes ``result.json``), ICD log parsing, after-exit
checks. Baseline: N spawns of the same interpreter doing the same imports and nothing else
(``python -c "import viq_host.worker, rasterio, <this module>"``), with the same parallelism.
Threads pinned to 1 in both. Target: ratio ≤ 1.3.

    uv run python benchmarks/bench_host_overhead.py [--jobs 200] [--parallel 2]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS", "GDAL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import ClassVar  # noqa: E402

from pydantic import BaseModel  # noqa: E402

from viq_interfaces import Processor, ProcessorDeclaration, ProcessorResult, RunContext  # noqa: E402

HERE = Path(__file__).resolve().parent
MODULE = Path(__file__).stem


class BenchNoOp(Processor):
    """Does nothing; the worker's own cost is all that remains."""

    declaration: ClassVar[ProcessorDeclaration] = ProcessorDeclaration(
        name="bench-noop", version="01.00", description="No-op processor of the host-overhead benchmark."
    )

    def run(self, ctx: RunContext[BaseModel]) -> ProcessorResult:
        return ProcessorResult()


def _env() -> dict[str, str]:
    paths = [str(HERE), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths), "VIQ_EXTRA_PLUGINS": f"{MODULE}:BenchNoOp"}


def bare_spawns(n: int, parallel: int, workdir: Path) -> float:
    """Seconds to run ``n`` interpreters importing what the worker imports, ``parallel`` at a time."""
    code = f"import viq_host.worker, rasterio, {MODULE}"
    env = _env()
    running: list[subprocess.Popen[bytes]] = []
    started = 0
    t0 = time.perf_counter()
    while started < n or running:
        while started < n and len(running) < parallel:
            running.append(
                subprocess.Popen([sys.executable, "-c", code], cwd=workdir, env=env, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, start_new_session=True)
            )
            started += 1
        proc = running.pop(0)
        if proc.wait() != 0:
            raise RuntimeError("baseline interpreter failed")
    return time.perf_counter() - t0


class ServiceRun:
    """A job service over a fresh VIQ_HOME; :meth:`run` submits and runs a batch of no-op jobs."""

    def __init__(self, root: Path, parallel: int) -> None:
        os.environ.update({k: v for k, v in _env().items() if k in ("PYTHONPATH", "VIQ_EXTRA_PLUGINS")})
        from viq_host.config import load_settings
        from viq_host.service import JobService

        self.root = root
        settings = load_settings(home=root / "home", max_parallel=parallel, executor="local")
        settings.ensure_dirs()
        self.service = JobService(settings, poll_seconds=0.05)
        self.count = 0
        self.submit_s = 0.0
        self.worker_s: list[float] = []

    def run(self, n: int) -> float:
        """Seconds to submit and run ``n`` jobs (orders written beforehand, outside the timing)."""
        from viq_host.jobs.store import JobState
        from viq_host.testing.factories import make_job_order

        orders = [make_job_order(BenchNoOp, self.root / "orders" / f"o{self.count + i}.xml") for i in range(n)]
        self.count += n
        t0 = time.perf_counter()
        ids = [self.service.submit(path) for path in orders]
        self.submit_s += time.perf_counter() - t0
        records = self.service.run_until_done(ids)
        elapsed = time.perf_counter() - t0
        bad = [r for r in records.values() if r.state is not JobState.SUCCEEDED]
        if bad:
            raise RuntimeError(f"{len(bad)} jobs did not succeed, e.g. {bad[0].id}: {bad[0].reason}")
        for job_id in ids:
            (attempt,) = self.service.jobs.attempts(job_id)
            manifest = json.loads((Path(attempt.work_dir) / "result.json").read_text())
            self.worker_s.append(float(manifest["timing"]["total_s"]))
        return elapsed

    def close(self) -> None:
        self.service.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=4, help="Alternating blocks (evens out load drifts).")
    args = parser.parse_args()
    n, parallel, rounds = args.jobs, args.parallel, max(1, args.rounds)
    sizes = [n // rounds + (1 if i < n % rounds else 0) for i in range(rounds)]
    base_rounds: list[float] = []
    host_rounds: list[float] = []
    with tempfile.TemporaryDirectory(prefix="viq-bench-host-") as tmp:
        root = Path(tmp)
        bare_spawns(min(4, n), parallel, root)  # warm the file cache
        runner = ServiceRun(root, parallel)
        try:
            runner.run(min(2, n))  # warm the service (store, plugin imports)
            runner.worker_s.clear()
            runner.submit_s = 0.0
            for size in sizes:
                base_rounds.append(bare_spawns(size, parallel, root))
                host_rounds.append(runner.run(size))
        finally:
            runner.close()
    baseline, host = sum(base_rounds), sum(host_rounds)
    print(f"host overhead: {n} no-op jobs, {parallel} in parallel, {rounds} alternating rounds, threads pinned to 1")
    print(f"  bare spawns     : {baseline:8.2f} s  ({1000 * baseline / n:6.1f} ms/job)  rounds "
          + ", ".join(f"{r:.1f}" for r in base_rounds))
    print(f"  through service : {host:8.2f} s  ({1000 * host / n:6.1f} ms/job)  rounds "
          + ", ".join(f"{r:.1f}" for r in host_rounds))
    print(f"  of which submit (read + XSD + validation + store): {runner.submit_s:.2f} s")
    print(f"  worker run_task (after its module imports, incl. rasterio): median "
          f"{1000 * statistics.median(runner.worker_s):.1f} ms")
    ratio = host / baseline
    verdict = "met" if ratio <= 1.3 else "NOT met"
    print(f"  ratio service/bare: {ratio:.2f}  (target ≤ 1.30: {verdict})")


if __name__ == "__main__":
    main()
