"""Benchmark: one full-width VENµS scene (5200 lines × 5200 pixels × 12 bands) with the simulator.

Runs the simulation and a plain-numpy baseline in separate child processes (so each peak RSS is its own),
threads pinned to 1. The baseline only draws the Gaussian noise for the same array, in the same line blocks,
with the same generator (float32, PCG64). Prints time, peak RSS and the ratio.

    uv run python benchmarks/bench_simulator.py [--lines 5200] [--pixels 5200] [--acquisition scene] [--cog]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "GDAL_NUM_THREADS"):
    os.environ[var] = "1"

CHILD_SIM = """
import json, resource, sys, time
from viq_proc_simulator import simulate
args = json.loads(sys.argv[1])
t = time.perf_counter()
run = simulate(args["out"], acquisition=args["acquisition"], lines=args["lines"], pixels=args["pixels"],
               products=("raw",), truth_gipps=True, seed=1, cog=args["cog"], compress=args["cog"])
dt = time.perf_counter() - t
print(json.dumps({"seconds": dt, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "files": sum(len(p.band_files) for p in run.products)}))
"""

CHILD_BASE = """
import json, resource, sys, time
import numpy as np
args = json.loads(sys.argv[1])
t = time.perf_counter()
total = 0.0
for band in range(12):
    for block in range((args["lines"] + 255) // 256):
        n = min(256, args["lines"] - block * 256)
        rng = np.random.default_rng([1, band + 1, block, 0xD11])
        total += float(rng.standard_normal((n, args["pixels"]), dtype=np.float32)[0, 0])
dt = time.perf_counter() - t
print(json.dumps({"seconds": dt, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _child(code: str, args: dict[str, object]) -> dict[str, float]:
    proc = subprocess.run([sys.executable, "-c", code, json.dumps(args)], check=True, capture_output=True, text=True,
                          env=os.environ.copy())
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=5200)
    parser.add_argument("--pixels", type=int, default=5200)
    parser.add_argument("--acquisition", default="scene")
    parser.add_argument("--cog", action="store_true", help="write the band files as deflate COGs")
    ns = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_sim_") as tmp:
        args = {"out": tmp, "lines": ns.lines, "pixels": ns.pixels, "acquisition": ns.acquisition, "cog": ns.cog}
        t0 = time.perf_counter()
        base = _child(CHILD_BASE, args)
        sim = _child(CHILD_SIM, args)
        wall = time.perf_counter() - t0
    mpix = ns.lines * ns.pixels * 12 / 1e6
    print(f"scene {ns.lines} x {ns.pixels} x 12 bands ({mpix:.0f} Mpx), acquisition {ns.acquisition}, 1 thread")
    print(f"baseline (noise draw only): {base['seconds']:7.2f} s  peak {base['peak_mb']:7.0f} MB")
    label = "simulator (raw COG + truth):" if ns.cog else "simulator (raw + truth):    "
    print(f"{label}{sim['seconds']:7.2f} s  peak {sim['peak_mb']:7.0f} MB")
    print(f"ratio simulator / baseline: {sim['seconds'] / base['seconds']:.1f}x  (wall {wall:.1f} s)")
    print(f"targets: <= 30 s {'OK' if sim['seconds'] <= 30 else 'MISSED'}, "
          f"<= 4096 MB {'OK' if sim['peak_mb'] <= 4096 else 'MISSED'}")


if __name__ == "__main__":
    main()
