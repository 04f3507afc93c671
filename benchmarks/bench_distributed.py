"""Throughput over 1, 2 and 4 execution hosts of the distributed topology (``scripts/services/topology.sh``).

    uv run python benchmarks/bench_distributed.py [--jobs 200] [--hosts 1,2,4] [--seconds 0]

Brings the topology up with as many execution hosts as the largest count (2 slots each), then, for each count
k, submits N short jobs through the host's ``DrmaaExecutor`` from the head host, restricted to the queue
instances of the first k hosts (``-q viq.q@exec1,…``), and waits for all of them. Each job runs ``sleep S``
(default 0: the job is only its Grid Engine life cycle). The baseline is the same N jobs on one host in the
same run; the ratio is throughput(k) / throughput(1). The hosts are network namespaces of one machine: they
share its kernel and CPUs, so extra hosts add Grid Engine slots, never CPU — say so next to any figure.
Leaves the topology with its default number of execution hosts.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]
TOPOLOGY = ROOT / "scripts" / "services" / "topology.sh"


def inner(jobs: int, hosts: int, seconds: float) -> dict[str, Any]:
    """On the head host: N jobs over the first ``hosts`` execution hosts; timings and where they ran."""
    from viq_host.config import Settings
    from viq_host.executors.base import TaskSpec
    from viq_host.executors.drmaa import DrmaaExecutor, qacct_records
    from viq_interfaces.declaration import Resources

    queue = ",".join(f"viq.q@exec{i}" for i in range(1, hosts + 1))
    work = Path(tempfile.mkdtemp(prefix="bench-dist-"))
    executor = DrmaaExecutor(Settings(home=work / "home", drmaa_queue=queue))
    try:
        resources = Resources(walltime=timedelta(minutes=5))
        ids = [uuid.uuid4().hex for _ in range(jobs)]
        command = ("/bin/sleep", f"{seconds:g}")
        start = time.monotonic()
        for attempt_id in ids:
            d = work / attempt_id
            executor.submit(TaskSpec(attempt_id, d / "order.xml", d, resources, d / "out.log", d / "err.log",
                                     command=command))
        submitted = time.monotonic() - start
        pending = set(ids)
        failures = 0
        while pending:
            for outcome in executor.wait_any(5.0):
                pending.discard(outcome.attempt_id)
                failures += outcome.exit_code != 0
        total = time.monotonic() - start
    finally:
        executor.close()
    time.sleep(1.5)  # accounting flush
    names = {f"viq-{a}" for a in ids}
    where = Counter(r.job_name and _host_of(r.job_number) for r in qacct_records("viq-*") if r.job_name in names)
    return {"hosts": hosts, "jobs": jobs, "submit_s": submitted, "total_s": total, "failures": failures,
            "per_host": dict(where)}


def _host_of(job_number: str) -> str:
    done = subprocess.run(["qacct", "-j", job_number], capture_output=True, text=True, check=False)
    for line in done.stdout.splitlines():
        if line.startswith("hostname"):
            return line.split()[1]
    return "?"


def topology(*args: str, hosts: int) -> None:
    env = {**os.environ, "VIQ_TOPO_EXEC_HOSTS": str(hosts)}
    subprocess.run([str(TOPOLOGY), *args], check=True, env=env, stdout=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--hosts", default="1,2,4", help="Execution-host counts, comma-separated (1..8).")
    parser.add_argument("--seconds", type=float, default=0.0, help="Each job's sleep.")
    parser.add_argument("--inner", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner:
        print(json.dumps(inner(args.jobs, args.inner, args.seconds)))
        return
    counts = sorted({int(x) for x in args.hosts.split(",")})
    topology("up", hosts=max(counts))
    env_text = subprocess.run([str(TOPOLOGY), "env"], capture_output=True, text=True, check=True,
                              env={**os.environ, "VIQ_TOPO_EXEC_HOSTS": str(max(counts))}).stdout
    env = dict(os.environ)
    for line in env_text.splitlines():
        if line.startswith("export "):
            for item in line[len("export "):].split():
                key, _, value = item.partition("=")
                env[key] = value
    results: list[dict[str, Any]] = []
    try:
        for k in counts:
            done = subprocess.run(
                ["ip", "netns", "exec", "viq-head", sys.executable, __file__, "--inner", str(k),
                 "--jobs", str(args.jobs), "--seconds", str(args.seconds)],
                env=env, capture_output=True, text=True, check=True,
            )
            results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    finally:
        topology("up", hosts=2)
    base = results[0]["jobs"] / results[0]["total_s"]
    print(f"{args.jobs} jobs (sleep {args.seconds:g} s), 2 slots per execution host, one shared kernel "
          f"({os.cpu_count()} CPUs for all hosts)")
    print("| hosts | slots | submit s | all done s | jobs/s | ratio vs 1 host | jobs per host | failed |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        rate = r["jobs"] / r["total_s"]
        per = ", ".join(f"{h} {n}" for h, n in sorted(r["per_host"].items()))
        print(f"| {r['hosts']} | {2 * r['hosts']} | {r['submit_s']:.2f} | {r['total_s']:.1f} | {rate:.2f} | "
              f"{rate / base:.2f} | {per} | {r['failures']} |")


if __name__ == "__main__":
    main()
