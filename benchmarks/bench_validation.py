"""Benchmark: full layered job-order validation vs bare xmlschema validation of the same files.

Generates 1,000 valid ``Job_Order`` files (2–3 inputs each, parameters, an explicit GIPP) under a temporary
data root, then times, in the same run and on the same compiled schema:

* baseline — ``xmlschema``'s ``XMLSchema.validate(path)`` on each file (parse + XSD, nothing else);
* full     — ``read_job_order`` (size limit, hardened lxml parse, DOCTYPE/entity refusal, XSD with
  positions, model) + ``validate_job_order`` (registry, ports, counts, types, pydantic parameters,
  GIPPs, data-root containment with symlink resolution, existence, readability).

Prints orders/s for both and the ratio full/baseline (target: ≤ 2). Best of ``--repeat`` rounds.

    uv run python benchmarks/bench_validation.py [--orders 1000] [--repeat 3]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import platform
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from viq_host.config import Settings
from viq_host.jobs import xsd
from viq_host.jobs.eegs import write_job_order
from viq_host.jobs.model import JobGipp, JobInput, JobOrder, JobOutput, JobParameter
from viq_host.jobs.reader import read_job_order
from viq_host.jobs.validate import validate_job_order
from viq_host.plugins import load_plugins
from viq_interfaces import (
    GippRequirement,
    InputPort,
    OutputPort,
    Processor,
    ProcessorDeclaration,
    ProcessorResult,
    RunContext,
    hookimpl,
)
from viq_interfaces.hookspecs import ProcessorRegistry

MAX_BYTES = 1_048_576


class BenchParams(BaseModel):
    """Parameters with ranges, as a real processor has."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    threshold: float = Field(default=3.0, ge=0.0, le=10.0, description="Clip threshold.")
    iterations: int = Field(default=5, ge=1, le=20, description="Iterations.")
    mode: Literal["mean", "median"] = Field(default="median", description="Combination.")


class BenchDark(Processor):
    """Benchmark processor (never run)."""

    declaration: ClassVar[ProcessorDeclaration] = ProcessorDeclaration(
        name="bench-dark",
        version="01.00",
        description="benchmark processor",
        inputs=(
            InputPort(name="dark", product_types=("VSC_L1DARK", "VSC_L0DARK"), min_count=2, max_count=3),
            InputPort(name="reference", product_types=("GIP_DARKCU",), min_count=0, max_count=1, mandatory=False),
        ),
        outputs=(OutputPort(name="candidate", product_type="GIP_DARKCU", format="XML"),),
        gipps=(GippRequirement(gipp_type="GIP_NOISMO"),),
    )
    Parameters: ClassVar[type[BaseModel]] = BenchParams

    def run(self, ctx: RunContext[BaseModel]) -> ProcessorResult:
        """Never called."""
        return ProcessorResult()


class _Plugin:
    @hookimpl
    def viq_add_processors(self, registry: ProcessorRegistry) -> None:
        registry.add(BenchDark)


def generate(root: Path, n: int, seed: int = 1) -> list[Path]:
    """``n`` valid job orders under ``root/orders`` referring to files under ``root/in`` and ``root/gipp``."""
    rng = random.Random(seed)
    (root / "in").mkdir(parents=True)
    (root / "gipp").mkdir()
    (root / "orders").mkdir()
    for k in range(200):
        (root / "in" / f"VE_TEST_VSC_L1DARK_{k:04d}.tif").write_bytes(b"II*\x00")
    for k in range(20):
        (root / "gipp" / f"VE_OPER_GIP_NOISMO_L_ALLSITES_{k:05d}_20260101_99991231.EEF").write_text("<g/>")
    paths = []
    for i in range(n):
        count = rng.choice((2, 3))
        names = tuple(f"../in/VE_TEST_VSC_L1DARK_{rng.randrange(200):04d}.tif" for _ in range(count))
        order = JobOrder(
            dialect="eegs",
            processor="bench-dark",
            version="01.00",
            task="bench-dark",
            parameters=(
                JobParameter(name="threshold", value=f"{rng.uniform(0, 10):.3f}"),
                JobParameter(name="iterations", value=str(rng.randint(1, 20))),
                JobParameter(name="mode", value=rng.choice(("mean", "median"))),
            ),
            inputs=(JobInput(port="dark", file_type="VSC_L1DARK", file_names=names),),
            outputs=(JobOutput(port="candidate", file_type="GIP_DARKCU", directory="out"),),
            gipps=(
                JobGipp(
                    gipp_type="GIP_NOISMO",
                    path=f"../gipp/VE_OPER_GIP_NOISMO_L_ALLSITES_{rng.randrange(20):05d}_20260101_99991231.EEF",
                ),
            ),
            cores=1,
        )
        path = root / "orders" / f"order_{i:05d}.xml"
        write_job_order(order, path)
        paths.append(path)
    return paths


def _best(fn: Callable[[], None], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the result lines for benchmarks/README.md."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    plugins = load_plugins([_Plugin()], entry_points_enabled=False)
    schema = xsd.schema(xsd.JOB_ORDER_XSD)  # compiled once, shared by both sides
    with tempfile.TemporaryDirectory(prefix="viq-bench-validation-") as tmp:
        root = Path(tmp) / "data"
        paths = generate(root, args.orders)
        settings = Settings(home=Path(tmp) / "home", data_roots=[root])

        def bare() -> None:
            for path in paths:
                schema.validate(str(path))

        def full() -> None:
            for path in paths:
                validate_job_order(read_job_order(path, max_bytes=MAX_BYTES), plugins, settings)

        bare()  # warm caches (file system, schema internals) for both sides
        full()
        t_bare = _best(bare, args.repeat)
        t_full = _best(full, args.repeat)

    n = len(paths)
    ratio = t_full / t_bare
    print(f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"orders: {n}, best of {args.repeat}")
    print(f"bare xmlschema validation : {n / t_bare:8.1f} orders/s ({t_bare * 1000 / n:.3f} ms/order)")
    print(f"full layered validation   : {n / t_full:8.1f} orders/s ({t_full * 1000 / n:.3f} ms/order)")
    print(f"ratio full/bare           : {ratio:.2f} (target <= 2.00) {'OK' if ratio <= 2.0 else 'ABOVE TARGET'}")
    return 0 if ratio <= 2.0 else 1


if __name__ == "__main__":
    sys.exit(main())
