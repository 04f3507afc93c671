"""Throughput of the Grid Engine executor: N no-op jobs through the host's DrmaaExecutor vs a bare drmaa loop.

    eval "$(scripts/services/sge.sh env)"; uv run python benchmarks/bench_drmaa.py [--jobs 50]

Baselines measured in the same run: a bare ``drmaa`` ``runJob`` loop + ``wait`` for the same command
(``/bin/true``), and the local executor (subprocesses, ``max_parallel`` = queue slots). Also timed: the
reconciliation look-up of all N finished attempts by job name (one ``qstat`` + one ``qacct`` pass) as a restarted
host would do it. Threads pinned to 1.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from viq_host.config import Settings
from viq_host.executors.base import TaskSpec, TaskState
from viq_host.executors.drmaa import DrmaaExecutor, load_drmaa
from viq_host.executors.local import LocalExecutor
from viq_interfaces.declaration import Resources

COMMAND = ("/bin/true",)


def bare(n: int, work: Path) -> tuple[float, float]:
    """Submit n jobs with a plain drmaa session, then wait for all; (submit s, total s)."""
    drmaa = load_drmaa()
    session = drmaa.Session()
    session.initialize()
    try:
        jt = session.createJobTemplate()
        jt.remoteCommand = COMMAND[0]
        jt.workingDirectory = str(work)
        jt.outputPath = f":{work}/"
        jt.errorPath = f":{work}/"
        jt.jobName = "bench-bare"
        start = time.perf_counter()
        ids = [session.runJob(jt) for _ in range(n)]
        submitted = time.perf_counter() - start
        for _ in ids:
            session.wait(drmaa.Session.JOB_IDS_SESSION_ANY, drmaa.Session.TIMEOUT_WAIT_FOREVER)
        total = time.perf_counter() - start
        session.deleteJobTemplate(jt)
    finally:
        session.exit()
    return submitted, total


def specs(n: int, work: Path) -> list[TaskSpec]:
    """n task specs running the no-op command, each in its own work directory."""
    out: list[TaskSpec] = []
    for _ in range(n):
        aid = str(uuid.uuid4())
        d = work / aid
        out.append(
            TaskSpec(
                aid, d / "JobOrder.xml", d, Resources(walltime=timedelta(minutes=5)), d / "o", d / "e", command=COMMAND
            )
        )
    return out


def through(executor: DrmaaExecutor | LocalExecutor, tasks: list[TaskSpec]) -> tuple[float, float]:
    """Submit every task through an executor and collect every outcome; (submit s, total s)."""
    start = time.perf_counter()
    for spec in tasks:
        executor.submit(spec)
    submitted = time.perf_counter() - start
    left = {t.attempt_id for t in tasks}
    while left:
        for outcome in executor.wait_any(5.0):
            assert outcome.exit_code == 0, outcome
            left.discard(outcome.attempt_id)
    return submitted, time.perf_counter() - start


def slots() -> int:
    """Slots of the default queue (for the local baseline's parallelism)."""
    text = subprocess.run(["qconf", "-sq", "all.q"], capture_output=True, text=True, check=False).stdout
    for line in text.splitlines():
        if line.startswith("slots"):
            return int(line.split()[1].split(",")[0])
    return 2


def main() -> None:
    """Run the three measurements and print a table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=50)
    args = parser.parse_args()
    n = args.jobs
    with tempfile.TemporaryDirectory(prefix="bench-drmaa-") as tmp:
        root = Path(tmp)
        (root / "bare").mkdir()
        settings = Settings(home=root / "home", max_parallel=slots())
        b_sub, b_tot = bare(n, root / "bare")
        with DrmaaExecutor(settings) as ex:
            tasks = specs(n, root / "drmaa")
            e_sub, e_tot = through(ex, tasks)
            start = time.perf_counter()
            states = ex.lookup([t.attempt_id for t in tasks])
            outcomes = ex.recover_many([(t.attempt_id, "") for t in tasks])
            look = time.perf_counter() - start
            assert set(states.values()) == {TaskState.FINISHED} and len(outcomes) == n
        local = LocalExecutor(settings)
        l_sub, l_tot = through(local, specs(n, root / "local"))
        local.close()
    print(f"{n} jobs of {' '.join(COMMAND)}, queue slots = local max_parallel = {settings.max_parallel}")
    print("| | submit s | ms/job | all done s | jobs/s |")
    print("|---|---|---|---|---|")
    for name, sub, tot in (
        ("bare drmaa loop", b_sub, b_tot),
        ("DrmaaExecutor", e_sub, e_tot),
        ("LocalExecutor", l_sub, l_tot),
    ):
        print(f"| {name} | {sub:.3f} | {1000 * sub / n:.2f} | {tot:.2f} | {n / tot:.1f} |")
    print(f"| ratio executor/bare | {e_sub / b_sub:.2f} | | {e_tot / b_tot:.2f} | |")
    print(f"reconcile look-up of {n} finished attempts (qstat + qacct by name, outcomes): {look:.2f} s")


if __name__ == "__main__":
    main()
